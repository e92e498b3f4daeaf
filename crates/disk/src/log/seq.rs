//! The store-wide message sequence and its durable high-water mark.
//!
//! Delivery positions in sled point at seqs, and they must never again see
//! a seq they already passed, even after every segment has expired and been
//! deleted. So seqs are handed out from blocks whose upper end is first
//! written to the file `seq` (written to a temporary file, `fdatasync`ed and
//! renamed, then the directory is synced): after a restart numbering
//! continues above both the newest record found and the reserved mark.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

/// Seqs reserved per write of the mark.
const BLOCK: u64 = 1 << 20;

/// Hands out strictly increasing seqs, starting at 1.
pub(crate) struct SeqAlloc {
    next: AtomicU64,
    reserved: AtomicU64,
    path: PathBuf,
    write: Mutex<()>,
}

impl SeqAlloc {
    /// Continues above `newest_in_log` and the stored mark.
    pub(crate) fn open(dir: &Path, newest_in_log: u64) -> io::Result<SeqAlloc> {
        let path = dir.join("seq");
        let mark = match fs::read_to_string(&path) {
            Ok(text) => text.trim().parse::<u64>().map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: not a number", path.display()),
                )
            })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
            Err(e) => return Err(e),
        };
        let next = mark.max(newest_in_log) + 1;
        let alloc = SeqAlloc {
            next: AtomicU64::new(next),
            reserved: AtomicU64::new(0),
            path,
            write: Mutex::new(()),
        };
        alloc.reserve(next + BLOCK)?;
        Ok(alloc)
    }

    /// The next seq. Blocks on a file write once per [`BLOCK`] seqs when
    /// the committer has not extended the reservation in time.
    pub(crate) fn next(&self) -> io::Result<u64> {
        let seq = self.next.fetch_add(1, Ordering::Relaxed);
        if seq >= self.reserved.load(Ordering::Acquire) {
            self.reserve(seq + BLOCK)?;
        }
        Ok(seq)
    }

    /// Extends the reservation early when less than half a block is left
    /// (called by the committer, off the publish path).
    pub(crate) fn top_up(&self) -> io::Result<()> {
        let next = self.next.load(Ordering::Relaxed);
        if self.reserved.load(Ordering::Acquire) < next + BLOCK / 2 {
            self.reserve(next + BLOCK)?;
        }
        Ok(())
    }

    fn reserve(&self, upto: u64) -> io::Result<()> {
        let _guard = self.write.lock();
        if self.reserved.load(Ordering::Acquire) > upto.saturating_sub(BLOCK / 2) {
            return Ok(());
        }
        let tmp = self.path.with_extension("tmp");
        let mut f = File::create(&tmp)?;
        f.write_all(upto.to_string().as_bytes())?;
        f.sync_data()?;
        fs::rename(&tmp, &self.path)?;
        if let Some(dir) = self.path.parent() {
            File::open(dir)?.sync_all()?;
        }
        self.reserved.store(upto, Ordering::Release);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbering_continues_above_the_mark_after_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let a = SeqAlloc::open(dir.path(), 0).unwrap();
        assert_eq!(a.next().unwrap(), 1);
        assert_eq!(a.next().unwrap(), 2);
        drop(a);
        // No record survived (all expired): still above everything handed out.
        let b = SeqAlloc::open(dir.path(), 0).unwrap();
        assert!(b.next().unwrap() > 2);
        let c = SeqAlloc::open(dir.path(), 10 * BLOCK).unwrap();
        assert_eq!(c.next().unwrap(), 10 * BLOCK + 1);
    }

    #[test]
    fn crossing_a_block_extends_the_mark() {
        let dir = tempfile::tempdir().unwrap();
        let a = SeqAlloc::open(dir.path(), 0).unwrap();
        a.next.store(BLOCK + 5, Ordering::Relaxed);
        assert_eq!(a.next().unwrap(), BLOCK + 5);
        let mark: u64 = fs::read_to_string(dir.path().join("seq"))
            .unwrap()
            .parse()
            .unwrap();
        assert!(mark > BLOCK + 5);
    }
}
