//! Start-up: one sequential read of every live segment.
//!
//! Each valid record is handed to the caller to be indexed. The first
//! invalid frame (cut short, zero or absurd length, checksum mismatch) ends
//! the segment's valid part: the file is truncated there and synced, so a
//! torn write from a crash is never served and never confuses a later
//! append. Expiry is not decided here: records are indexed whatever their
//! age, and the sweep (which runs on the caller's clock) drops them.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read};
use std::path::Path;
use std::sync::Arc;

use super::record::{self, Invalid, Summary, FRAME_HEADER};
use super::segment::{self, Segment};

/// What the scan found, for the start-up log line.
#[derive(Debug, Default, Clone, Copy)]
pub struct ScanReport {
    /// Segments kept.
    pub segments: usize,
    /// Records read (expired ones included).
    pub records: u64,
    /// Bytes of segments kept.
    pub bytes: u64,
    /// Segments whose tail was cut off.
    pub truncated_segments: usize,
    /// Bytes cut off.
    pub truncated_bytes: u64,
}

/// Reads the segments in `dir`; `index` gets each record's summary, the
/// record's body (for the publisher bytes), its segment, offset and length.
pub(crate) fn scan(
    dir: &Path,
    mut index: impl FnMut(&Summary, &[u8], &Arc<Segment>, u64, u32),
) -> io::Result<(Vec<Arc<Segment>>, ScanReport)> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        match segment::parse_name(name) {
            Some((id, end_ms)) => found.push((id, end_ms, entry.path())),
            None if name.ends_with(".seg") => {
                tracing::warn!(file = name, "ignoring a file with a malformed segment name")
            }
            None => {}
        }
    }
    found.sort_unstable_by_key(|(id, _, _)| *id);

    let mut report = ScanReport::default();
    let mut segments = Vec::with_capacity(found.len());
    for (id, end_ms, path) in found {
        let file = OpenOptions::new().read(true).write(true).open(&path)?;
        let size = file.metadata()?.len();
        let seg = Arc::new(Segment::existing(
            path.clone(),
            file.try_clone()?,
            id,
            end_ms,
            size,
        ));
        let valid = read_records(&file, size, |summary, body, off, len| {
            report.records += 1;
            index(summary, body, &seg, off, len);
        })?;
        if valid < size {
            tracing::warn!(
                segment = %path.display(),
                valid,
                size,
                "segment ends in an incomplete or corrupt record; truncating it"
            );
            file.set_len(valid)?;
            file.sync_all()?;
            report.truncated_segments += 1;
            report.truncated_bytes += size - valid;
        }
        seg.set_durable_len(valid);
        report.segments += 1;
        report.bytes += valid;
        segments.push(seg);
    }
    if report.truncated_segments > 0 {
        File::open(dir)?.sync_all()?;
    }
    Ok((segments, report))
}

/// Calls `each` for every valid record from the start of `file`; returns
/// the length of the valid prefix.
fn read_records(
    file: &File,
    size: u64,
    mut each: impl FnMut(&Summary, &[u8], u64, u32),
) -> io::Result<u64> {
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut at = 0u64;
    let mut frame = Vec::new();
    loop {
        let mut header = [0u8; FRAME_HEADER];
        if size - at < FRAME_HEADER as u64 {
            return Ok(at);
        }
        reader.read_exact(&mut header)?;
        let body_len = match record::body_len(&header) {
            Ok(n) => n,
            Err(_) => return Ok(at),
        };
        let total = (FRAME_HEADER + body_len) as u64;
        if size - at < total {
            return Ok(at);
        }
        frame.clear();
        frame.extend_from_slice(&header);
        frame.resize(FRAME_HEADER + body_len, 0);
        reader.read_exact(&mut frame[FRAME_HEADER..])?;
        let body = match record::frame(&frame) {
            Ok((body, _)) => body,
            Err(Invalid::Checksum | Invalid::BadLength | Invalid::Truncated) => return Ok(at),
            Err(Invalid::Body(_)) => return Ok(at),
        };
        match record::summary(body) {
            Ok(summary) => each(&summary, body, at, total as u32),
            // A checksummed body that does not parse was written by a
            // different version: stop here rather than guess.
            Err(_) => return Ok(at),
        }
        at += total;
    }
}
