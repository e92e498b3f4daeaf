//! Disk space: a budget for the store's files and a free-space reserve.
//!
//! A full disk must be refused before it happens: sled keeps a
//! process-wide error after one failed write, and a half-written segment
//! would fail the publish anyway. So appends are admitted only while the
//! store's files stay under the budget and the file system keeps more than
//! the reserve free; past either, publishes get [`Error::StorageFull`] and
//! readiness turns 503. Both clear by themselves once expiry deletes
//! segments or an operator frees space. Free space comes from `statvfs`,
//! refreshed by the background thread and lowered by every admitted append
//! in between, so a burst cannot overrun the reserve between two looks.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};

use relaybox_store::Error;

use crate::commit::Lane;

/// Owner of the space figures and the write-failure flag.
pub(crate) struct Space {
    dir: PathBuf,
    budget: u64,
    reserve: u64,
    free: AtomicU64,
    /// Bytes of sled's files, refreshed with `free`.
    state_bytes: AtomicU64,
    /// One bit per commit lane whose last commit failed: the store cannot
    /// write right now.
    failing: AtomicU8,
    /// Size of the last refused append (0: none since the last admitted
    /// one). Readiness stays 503 until that much fits again, so a relay
    /// that refuses publishes is not reported ready.
    refused: AtomicU64,
}

impl Space {
    /// `budget` 0 means no budget; `reserve` is the free space to keep.
    pub(crate) fn new(dir: &Path, budget: u64, reserve: u64) -> Space {
        let space = Space {
            dir: dir.to_path_buf(),
            budget,
            reserve,
            free: AtomicU64::new(u64::MAX),
            state_bytes: AtomicU64::new(0),
            failing: AtomicU8::new(0),
            refused: AtomicU64::new(0),
        };
        space.refresh(0);
        space
    }

    /// Re-reads the file system's free space (a system call: background
    /// thread only) and records sled's current size.
    pub(crate) fn refresh(&self, state_bytes: u64) {
        self.state_bytes.store(state_bytes, Ordering::Relaxed);
        match free_bytes(&self.dir) {
            Some(free) => self.free.store(free, Ordering::Relaxed),
            None => tracing::warn!(dir = %self.dir.display(), "statvfs failed; free space unknown"),
        }
    }

    /// Whether `add` more bytes fit under the budget and above the reserve.
    fn fits(&self, log_bytes: u64, add: u64) -> bool {
        let used = log_bytes + self.state_bytes.load(Ordering::Relaxed);
        let under_budget = self.budget == 0 || used + add <= self.budget;
        under_budget && self.free.load(Ordering::Relaxed) >= self.reserve.saturating_add(add)
    }

    /// Admits `add` more bytes of log on top of `log_bytes`, or refuses.
    pub(crate) fn admit(&self, log_bytes: u64, add: u64) -> Result<(), Error> {
        if !self.fits(log_bytes, add) {
            self.refused.store(add, Ordering::Relaxed);
            return Err(Error::StorageFull);
        }
        self.refused.store(0, Ordering::Relaxed);
        // Count it against the free space until the next statvfs.
        let _ = self
            .free
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |f| {
                Some(f.saturating_sub(add))
            });
        Ok(())
    }

    /// Whether the store can take writes (readiness).
    pub(crate) fn health(&self, log_bytes: u64) -> Result<(), Error> {
        if self.failing.load(Ordering::Relaxed) != 0 {
            return Err(Error::Storage("the last commit to disk failed".into()));
        }
        let refused = self.refused.load(Ordering::Relaxed);
        if !self.fits(log_bytes, refused.max(1)) {
            return Err(Error::StorageFull);
        }
        if refused > 0 {
            // What was refused fits again.
            self.refused.store(0, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Records whether `lane`'s last commit succeeded.
    pub(crate) fn set_failing(&self, lane: Lane, failing: bool) {
        let bit = match lane {
            Lane::Messages => 1,
            Lane::State => 2,
        };
        if failing {
            self.failing.fetch_or(bit, Ordering::Relaxed);
        } else {
            self.failing.fetch_and(!bit, Ordering::Relaxed);
        }
    }

    /// Free bytes on the store's file system, as last seen.
    pub(crate) fn free(&self) -> u64 {
        self.free.load(Ordering::Relaxed)
    }

    /// Bytes of sled's files, as last seen.
    pub(crate) fn state_bytes(&self) -> u64 {
        self.state_bytes.load(Ordering::Relaxed)
    }
}

/// Bytes available to unprivileged writers on `dir`'s file system.
fn free_bytes(dir: &Path) -> Option<u64> {
    let c = CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: `c` is a valid NUL-terminated path and `st` a zeroed out-parameter
    // that statvfs fills in; nothing is retained after the call.
    let st = unsafe {
        let mut st: libc::statvfs = std::mem::zeroed();
        if libc::statvfs(c.as_ptr(), &mut st) != 0 {
            return None;
        }
        st
    };
    Some((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_and_reserve_refuse_then_clear() {
        let dir = tempfile::tempdir().unwrap();
        let s = Space::new(dir.path(), 1000, 0);
        assert!(s.admit(900, 100).is_ok());
        assert!(matches!(s.admit(950, 100), Err(Error::StorageFull)));
        // Not ready while what was refused does not fit.
        assert!(s.health(950).is_err());
        assert!(s.health(1000).is_err());
        assert!(s.health(10).is_ok());
        assert!(
            s.health(950).is_ok(),
            "cleared once the refused size fitted"
        );
        let huge = Space::new(dir.path(), 0, u64::MAX / 2);
        assert!(matches!(huge.admit(0, 1), Err(Error::StorageFull)));
        s.set_failing(Lane::State, true);
        s.set_failing(Lane::Messages, true);
        s.set_failing(Lane::Messages, false);
        assert!(s.health(10).is_err(), "one failing lane is enough");
        s.set_failing(Lane::State, false);
        assert!(s.health(10).is_ok());
        assert!(s.free() > 0);
    }
}
