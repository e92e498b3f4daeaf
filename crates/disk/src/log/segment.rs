//! One segment file and the bytes of it that are not yet durable.
//!
//! Appends never touch the file: they add the framed record to `pending`
//! in memory. The committer thread later writes `pending` to the file and
//! `fdatasync`s it. Until that sync succeeds the written bytes are also
//! kept in `unsynced`: after a failed `fdatasync` Linux may drop the dirty
//! pages while reporting them clean, so the only safe recovery is to cut
//! the file back to what is known durable and write those bytes again.
//! Reads of recent records are served from memory, older ones with `pread`.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

/// A segment's file name: creation number, then the time by which every
/// record in it has expired (both hex, so names sort by creation).
pub(crate) fn file_name(id: u64, end_ms: u64) -> String {
    format!("{id:016x}-{end_ms:016x}.seg")
}

/// Parses [`file_name`]'s output.
pub(crate) fn parse_name(name: &str) -> Option<(u64, u64)> {
    let stem = name.strip_suffix(".seg")?;
    let (id, end) = stem.split_once('-')?;
    if id.len() != 16 || end.len() != 16 {
        return None;
    }
    Some((
        u64::from_str_radix(id, 16).ok()?,
        u64::from_str_radix(end, 16).ok()?,
    ))
}

#[derive(Default)]
struct Tail {
    /// `[0, synced)` is covered by a successful `fdatasync`.
    synced: u64,
    /// `[0, written)` is in the file.
    written: u64,
    /// A copy of `[synced, written)`, kept until it is durable.
    unsynced: Vec<u8>,
    /// `[written, written + pending.len())`, not yet written.
    pending: Vec<u8>,
    /// Whether this segment is in the log's list of segments to commit.
    queued: bool,
}

impl Tail {
    fn end(&self) -> u64 {
        self.written + self.pending.len() as u64
    }

    /// Copies `[off, off + len)` from memory if it lies at or after `synced`.
    fn copy(&self, off: u64, len: usize) -> Option<Vec<u8>> {
        let start = usize::try_from(off.checked_sub(self.synced)?).ok()?;
        let end = start.checked_add(len)?;
        let split = self.unsynced.len();
        if end > split + self.pending.len() {
            return None;
        }
        let mut out = Vec::with_capacity(len);
        if start < split {
            out.extend_from_slice(&self.unsynced[start..end.min(split)]);
        }
        if end > split {
            out.extend_from_slice(&self.pending[start.max(split) - split..end - split]);
        }
        Some(out)
    }
}

/// A segment: an append-only file of records that all expire by `end_ms`.
pub(crate) struct Segment {
    id: u64,
    end_ms: u64,
    path: PathBuf,
    file: File,
    tail: Mutex<Tail>,
}

impl Segment {
    /// Creates a new, empty segment file (the directory entry is made
    /// durable by the next commit).
    pub(crate) fn create(dir: &Path, id: u64, end_ms: u64) -> io::Result<Arc<Segment>> {
        let path = dir.join(file_name(id, end_ms));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        Ok(Arc::new(Segment {
            id,
            end_ms,
            path,
            file,
            tail: Mutex::new(Tail::default()),
        }))
    }

    /// Wraps a file found at start-up whose first `len` bytes are valid and
    /// durable (the scan truncated and synced anything after them).
    pub(crate) fn existing(path: PathBuf, file: File, id: u64, end_ms: u64, len: u64) -> Self {
        Segment {
            id,
            end_ms,
            path,
            file,
            tail: Mutex::new(Tail {
                synced: len,
                written: len,
                ..Tail::default()
            }),
        }
    }

    /// Sets the valid, durable length after the start-up scan cut a torn tail.
    pub(crate) fn set_durable_len(&self, len: u64) {
        let mut tail = self.tail.lock();
        tail.synced = len;
        tail.written = len;
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    pub(crate) fn end_ms(&self) -> u64 {
        self.end_ms
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Logical size: written plus pending bytes.
    pub(crate) fn len(&self) -> u64 {
        self.tail.lock().end()
    }

    /// Appends the bytes `encode` pushes; returns their offset and length,
    /// and whether the segment must be queued for the next commit (the
    /// first pending bytes since the last one).
    pub(crate) fn append(&self, encode: impl FnOnce(&mut Vec<u8>)) -> (u64, u32, bool) {
        let mut tail = self.tail.lock();
        let off = tail.end();
        let before = tail.pending.len();
        encode(&mut tail.pending);
        let len = (tail.pending.len() - before) as u32;
        let queue = !tail.queued;
        tail.queued = true;
        (off, len, queue)
    }

    /// Reads `len` bytes at `off`, from memory when they are not yet
    /// durable, else from the file.
    pub(crate) fn read(&self, off: u64, len: u32) -> io::Result<Vec<u8>> {
        let len = len as usize;
        {
            let tail = self.tail.lock();
            if off + len as u64 > tail.end() {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "record beyond the segment's end",
                ));
            }
            if off >= tail.synced {
                if let Some(bytes) = tail.copy(off, len) {
                    return Ok(bytes);
                }
            }
        }
        let mut buf = vec![0u8; len];
        match self.file.read_exact_at(&mut buf, off) {
            Ok(()) => Ok(buf),
            // A failed sync cut the file back meanwhile: the bytes are in memory again.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                self.tail.lock().copy(off, len).ok_or(e)
            }
            Err(e) => Err(e),
        }
    }

    /// Like [`read`](Self::read), but never waits for the disk: the bytes
    /// come from memory or from the page cache (`preadv2` with
    /// `RWF_NOWAIT`); `None` when they would have to be read from the
    /// device, so the caller can go to a blocking thread instead.
    pub(crate) fn read_nowait(&self, off: u64, len: u32) -> Option<io::Result<Vec<u8>>> {
        use std::os::fd::AsRawFd;
        let len = len as usize;
        {
            let tail = self.tail.lock();
            if off + len as u64 > tail.end() {
                return Some(Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "record beyond the segment's end",
                )));
            }
            if off >= tail.synced {
                if let Some(bytes) = tail.copy(off, len) {
                    return Some(Ok(bytes));
                }
            }
        }
        let mut buf = vec![0u8; len];
        let iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: len,
        };
        let off = libc::off_t::try_from(off).ok()?;
        // SAFETY: one iovec over `buf`, which lives across the call and is
        // `len` bytes long; the fd is this segment's open file.
        let n = unsafe { libc::preadv2(self.file.as_raw_fd(), &iov, 1, off, libc::RWF_NOWAIT) };
        // Short, would-block or unsupported: let the blocking path do it.
        (n == len as isize).then_some(Ok(buf))
    }

    /// Commit, step one: writes pending bytes to the file. Returns the
    /// length the following [`sync_to`](Self::sync_to) must cover, or
    /// `None` if nothing is waiting to be made durable.
    ///
    /// On a write error the file is cut back to what was written before
    /// and the bytes stay pending, so the next commit tries again.
    pub(crate) fn write_pending(&self) -> io::Result<Option<u64>> {
        let mut tail = self.tail.lock();
        tail.queued = false;
        if !tail.pending.is_empty() {
            let at = tail.written;
            if let Err(e) = self.file.write_all_at(&tail.pending, at) {
                let _ = self.file.set_len(at);
                tail.queued = true;
                return Err(e);
            }
            let chunk = std::mem::take(&mut tail.pending);
            tail.written += chunk.len() as u64;
            if tail.unsynced.is_empty() {
                tail.unsynced = chunk;
            } else {
                tail.unsynced.extend_from_slice(&chunk);
            }
        }
        Ok((tail.written > tail.synced).then_some(tail.written))
    }

    /// Commit, step two: `fdatasync`, then forgets the in-memory copy of
    /// what it covered. On failure the file is cut back to the last durable
    /// length and the unsynced bytes become pending again.
    pub(crate) fn sync_to(&self, target: u64) -> io::Result<()> {
        match self.file.sync_data() {
            Ok(()) => {
                let mut tail = self.tail.lock();
                let n = (target - tail.synced) as usize;
                tail.unsynced.drain(..n);
                tail.synced = target;
                Ok(())
            }
            Err(e) => {
                let mut tail = self.tail.lock();
                let _ = self.file.set_len(tail.synced);
                tail.written = tail.synced;
                let mut again = std::mem::take(&mut tail.unsynced);
                again.extend_from_slice(&tail.pending);
                tail.pending = again;
                tail.queued = true;
                Err(e)
            }
        }
    }

    /// Bytes held in memory for this segment (pending and unsynced).
    pub(crate) fn buffered(&self) -> usize {
        let tail = self.tail.lock();
        tail.pending.len() + tail.unsynced.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let n = file_name(7, 1_700_000_000_000);
        assert_eq!(parse_name(&n), Some((7, 1_700_000_000_000)));
        assert_eq!(parse_name("x.seg"), None);
        assert_eq!(parse_name("0000000000000007-zz.seg"), None);
    }

    #[test]
    fn reads_come_from_memory_then_file() {
        let dir = tempfile::tempdir().unwrap();
        let seg = Segment::create(dir.path(), 1, 10).unwrap();
        let (a, la, first) = seg.append(|b| b.extend_from_slice(b"hello"));
        let (b, lb, again) = seg.append(|b| b.extend_from_slice(b"world!"));
        assert!(first && !again);
        assert_eq!((a, la, b, lb), (0, 5, 5, 6));
        assert_eq!(seg.read(5, 6).unwrap(), b"world!");
        let target = seg.write_pending().unwrap().unwrap();
        assert_eq!(target, 11);
        assert_eq!(seg.read(0, 5).unwrap(), b"hello");
        seg.sync_to(target).unwrap();
        assert_eq!(seg.buffered(), 0);
        assert_eq!(seg.read(3, 5).unwrap(), b"lowor");
        assert!(seg.read(8, 5).is_err());
        assert_eq!(seg.write_pending().unwrap(), None);
        let (c, _, queue) = seg.append(|b| b.extend_from_slice(b"!"));
        assert!(queue);
        assert_eq!((c, seg.len()), (11, 12));
        assert_eq!(std::fs::read(seg.path()).unwrap(), b"helloworld!");
    }
}
