//! The message log: message bodies in append-only segment files.
//!
//! Messages are keyed by topic and die by TTL, so a log grouped by expiry
//! suits them better than a B-tree: every record goes to the segment of its
//! *expiry bucket* (a time window whose width grows with the TTL, about a
//! sixteenth of it), and a bucket's files are deleted whole once the window
//! has passed. There is no per-message delete and no compaction; a message
//! outlives its TTL on disk by at most one bucket width, never in answers.
//!
//! Durability is the committer's job ([`MessageLog::commit`]): it writes
//! every segment with pending bytes, `fdatasync`s each, and syncs the
//! directory when a segment was created since the last commit.

mod record;
mod scan;
mod segment;
mod seq;

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use relaybox_store::StoredMessage;

pub(crate) use record::{RecordRef, Summary};
pub use scan::ScanReport;
pub(crate) use segment::Segment;

/// Narrowest bucket (about 8 s) and widest (about 4.7 h), in ms.
const MIN_BUCKET_MS: u64 = 1 << 13;
const MAX_BUCKET_MS: u64 = 1 << 24;

/// Where one record lives.
#[derive(Clone)]
pub(crate) struct Location {
    pub seg: Arc<Segment>,
    pub off: u64,
    pub len: u32,
}

/// A record could not be read back.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadError {
    #[error("reading a segment: {0}")]
    Io(#[from] io::Error),
    #[error("record in segment {seg} at {off} is invalid: {why}")]
    Invalid { seg: u64, off: u64, why: String },
}

/// The end of the expiry bucket a message with this expiry and TTL goes to.
pub(crate) fn bucket_end(expires_at_ms: u64, ttl_ms: u64) -> u64 {
    let width = (ttl_ms / 16)
        .max(1)
        .next_power_of_two()
        .clamp(MIN_BUCKET_MS, MAX_BUCKET_MS);
    (expires_at_ms / width + 1).saturating_mul(width)
}

/// Owner of the segment files.
pub(crate) struct MessageLog {
    dir: PathBuf,
    segment_bytes: u64,
    next_id: AtomicU64,
    /// Every live segment, by creation number.
    segments: Mutex<BTreeMap<u64, Arc<Segment>>>,
    /// Bucket end -> the segment taking that bucket's appends.
    active: Mutex<HashMap<u64, Arc<Segment>>>,
    /// Segments with bytes the next commit must make durable.
    dirty: Mutex<Vec<Arc<Segment>>>,
    /// A segment file was created or the last directory sync failed.
    dir_dirty: AtomicBool,
    seq: seq::SeqAlloc,
    /// Bytes in live segments, pending ones included.
    used: AtomicU64,
}

impl MessageLog {
    /// Opens `dir` (created if missing), scanning every segment once;
    /// `index` receives each record (expired ones too: the sweep, on the
    /// caller's clock, drops them).
    pub(crate) fn open(
        dir: &Path,
        segment_bytes: u64,
        mut index: impl FnMut(&Summary, &[u8], Location),
    ) -> io::Result<(MessageLog, ScanReport)> {
        std::fs::create_dir_all(dir)?;
        if let Some(parent) = dir.parent() {
            // The log directory's own entry must survive a power cut.
            File::open(parent)?.sync_all()?;
        }
        let mut newest = 0u64;
        let (segments, report) = scan::scan(dir, |summary, body, seg, off, len| {
            newest = newest.max(summary.seq);
            let loc = Location {
                seg: seg.clone(),
                off,
                len,
            };
            index(summary, body, loc);
        })?;
        let next_id = segments.last().map_or(1, |s| s.id() + 1);
        let used = report.bytes;
        let log = MessageLog {
            dir: dir.to_path_buf(),
            segment_bytes,
            next_id: AtomicU64::new(next_id),
            segments: Mutex::new(segments.into_iter().map(|s| (s.id(), s)).collect()),
            active: Mutex::new(HashMap::new()),
            dirty: Mutex::new(Vec::new()),
            dir_dirty: AtomicBool::new(false),
            seq: seq::SeqAlloc::open(dir, newest)?,
            used: AtomicU64::new(used),
        };
        Ok((log, report))
    }

    /// The next message seq.
    pub(crate) fn next_seq(&self) -> io::Result<u64> {
        self.seq.next()
    }

    /// The segment taking appends for `bucket_end`, if one with room is open.
    pub(crate) fn active(&self, bucket_end: u64) -> Option<Arc<Segment>> {
        let active = self.active.lock();
        let seg = active.get(&bucket_end)?;
        (seg.len() < self.segment_bytes).then(|| seg.clone())
    }

    /// Creates the bucket's next segment (a file system call: run it off
    /// the async workers). Returns the current one if another caller was faster.
    pub(crate) fn open_segment(&self, bucket_end: u64) -> io::Result<Arc<Segment>> {
        let mut active = self.active.lock();
        if let Some(seg) = active.get(&bucket_end) {
            if seg.len() < self.segment_bytes {
                return Ok(seg.clone());
            }
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let seg = Segment::create(&self.dir, id, bucket_end)?;
        self.dir_dirty.store(true, Ordering::Release);
        self.segments.lock().insert(id, seg.clone());
        active.insert(bucket_end, seg.clone());
        Ok(seg)
    }

    /// Appends a record to `seg` (memory only; durable after the next commit).
    pub(crate) fn append(&self, seg: &Arc<Segment>, r: &RecordRef<'_>) -> Location {
        let (off, len, queue) = seg.append(|buf| record::encode(r, buf));
        if queue {
            self.dirty.lock().push(seg.clone());
        }
        self.used.fetch_add(u64::from(len), Ordering::Relaxed);
        Location {
            seg: seg.clone(),
            off,
            len,
        }
    }

    /// Reads a record back.
    pub(crate) fn read(&self, loc: &Location) -> Result<StoredMessage, ReadError> {
        let bytes = loc.seg.read(loc.off, loc.len)?;
        Self::decode(loc, &bytes)
    }

    /// Reads a record back if that needs no disk access (memory or page
    /// cache); `None` otherwise.
    pub(crate) fn read_nowait(&self, loc: &Location) -> Option<Result<StoredMessage, ReadError>> {
        Some(match loc.seg.read_nowait(loc.off, loc.len)? {
            Ok(bytes) => Self::decode(loc, &bytes),
            Err(e) => Err(e.into()),
        })
    }

    fn decode(loc: &Location, bytes: &[u8]) -> Result<StoredMessage, ReadError> {
        let invalid = |why: String| ReadError::Invalid {
            seg: loc.seg.id(),
            off: loc.off,
            why,
        };
        let (body, _) = record::frame(bytes).map_err(|e| invalid(format!("{e:?}")))?;
        record::decode(body).map_err(|e| invalid(format!("{e:?}")))
    }

    /// Makes every append made before this call durable: writes and
    /// `fdatasync`s each dirty segment, then the directory if a segment was
    /// created. A failed segment stays queued with its bytes for the next try.
    pub(crate) fn commit(&self) -> io::Result<()> {
        let dirty = std::mem::take(&mut *self.dirty.lock());
        let mut first_err = None;
        let mut synced = Vec::with_capacity(dirty.len());
        for seg in dirty {
            match seg.write_pending() {
                Ok(Some(target)) => synced.push((seg, target)),
                Ok(None) => {}
                Err(e) => {
                    first_err.get_or_insert(e);
                    self.dirty.lock().push(seg);
                }
            }
        }
        for (seg, target) in synced {
            if let Err(e) = seg.sync_to(target) {
                first_err.get_or_insert(e);
                self.dirty.lock().push(seg);
            }
        }
        if self.dir_dirty.swap(false, Ordering::AcqRel) {
            if let Err(e) = File::open(&self.dir).and_then(|d| d.sync_all()) {
                self.dir_dirty.store(true, Ordering::Release);
                first_err.get_or_insert(e);
            }
        }
        if let Err(e) = self.seq.top_up() {
            first_err.get_or_insert(e);
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Deletes every segment whose bucket has ended by `now_ms`; returns how
    /// many. Readers still holding one keep reading its open file.
    pub(crate) fn drop_expired(&self, now_ms: u64) -> io::Result<usize> {
        let doomed: Vec<Arc<Segment>> = {
            let mut segments = self.segments.lock();
            let ids: Vec<u64> = segments
                .values()
                .filter(|s| s.end_ms() <= now_ms)
                .map(|s| s.id())
                .collect();
            ids.iter().filter_map(|id| segments.remove(id)).collect()
        };
        if doomed.is_empty() {
            return Ok(0);
        }
        self.active.lock().retain(|end, _| *end > now_ms);
        for seg in &doomed {
            self.used.fetch_sub(seg.len(), Ordering::Relaxed);
            if let Err(e) = std::fs::remove_file(seg.path()) {
                if e.kind() != io::ErrorKind::NotFound {
                    return Err(e);
                }
            }
        }
        Ok(doomed.len())
    }

    /// Bytes in live segments (pending ones included).
    pub(crate) fn used_bytes(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// Number of live segment files.
    pub(crate) fn segment_count(&self) -> usize {
        self.segments.lock().len()
    }

    /// Bytes held in memory because they are not yet durable.
    pub(crate) fn buffered_bytes(&self) -> usize {
        self.segments.lock().values().map(|s| s.buffered()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_grow_with_the_ttl_and_cover_the_expiry() {
        for ttl_s in [10u64, 30, 300, 3600, 86_400, 2_592_000] {
            let ttl = ttl_s * 1000;
            let exp = 1_700_000_000_123 + ttl;
            let end = bucket_end(exp, ttl);
            assert!(end > exp);
            assert!(end - exp <= (ttl / 8).clamp(MIN_BUCKET_MS, MAX_BUCKET_MS));
        }
        // Messages published close together with one TTL share a bucket.
        assert_eq!(
            bucket_end(1_000_000_300_000, 300_000),
            bucket_end(1_000_000_301_000, 300_000)
        );
    }
}
