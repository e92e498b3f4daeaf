//! The per-client mailbox state in sled: subscriptions and delivery
//! positions, keyed by client_id (see `keys`), plus making sled's writes
//! truly durable.
//!
//! sled's `flush` ends in `sync_file_range`, which does not flush the
//! disk's write cache or file metadata, and sled writes large values to
//! blob files it never syncs. [`State::make_durable`] therefore follows the
//! flush with `fdatasync` of sled's log file and `fsync` of new blob files
//! and of their directory: only then may a reply that depends on the write
//! go out.

mod idle;
mod keys;
mod positions;
mod purges;
mod subs;

use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use dashmap::DashMap;
use parking_lot::Mutex;

use crate::error::{storage, DiskResult};
pub(crate) use keys::{client_hash, ClientHash};
pub(crate) use positions::{PairKey, Position, Positions};

/// Name of the sled tree holding subscriptions and positions.
pub const MAILBOX_TREE: &str = "mailbox";

/// Owner of the sled database and the mailbox tree.
pub(crate) struct State {
    db: sled::Db,
    tree: sled::Tree,
    path: PathBuf,
    positions: Positions,
    /// A write a reply depends on happened since the last durable flush.
    dirty: AtomicBool,
    subscriptions: AtomicI64,
    /// Subscriptions per client, cached once counted (the per-client limit).
    sub_counts: DashMap<ClientHash, usize>,
    /// Last-seen times not yet written to sled (see `idle`).
    seen: DashMap<ClientHash, u64>,
    /// Blob files already synced (sled never rewrites a blob in place).
    synced_blobs: Mutex<HashSet<PathBuf>>,
}

impl State {
    /// Opens (or creates) the database at `path`.
    pub(crate) fn open(path: &Path, cache_capacity_bytes: u64) -> DiskResult<State> {
        let cfg = sled::Config::new()
            .path(path)
            .cache_capacity(cache_capacity_bytes)
            .mode(sled::Mode::HighThroughput);
        let db = open_with_retry(&cfg)?;
        let tree = db.open_tree(MAILBOX_TREE).map_err(storage)?;
        // Every client's subscription count, once: the per-client limit and
        // "does this client follow anything" never need a scan afterwards.
        let mut subscriptions = 0i64;
        let sub_counts: DashMap<ClientHash, usize> = DashMap::new();
        for key in tree.scan_prefix(keys::sub_all_prefix()).keys() {
            let key = key.map_err(storage)?;
            if let Some(ch) = keys::sub_client(&key) {
                *sub_counts.entry(ch).or_insert(0) += 1;
            }
            subscriptions += 1;
        }
        Ok(State {
            positions: Positions::new(tree.clone()),
            db,
            tree,
            path: path.to_path_buf(),
            dirty: AtomicBool::new(false),
            subscriptions: AtomicI64::new(subscriptions),
            sub_counts,
            seen: DashMap::new(),
            synced_blobs: Mutex::new(HashSet::new()),
        })
    }

    /// The database, for features that keep their own trees.
    pub(crate) fn db(&self) -> &sled::Db {
        &self.db
    }

    pub(crate) fn positions(&self) -> &Positions {
        &self.positions
    }

    /// Notes that a write which a pending reply depends on was made; the
    /// next commit makes it durable.
    pub(crate) fn mark_dirty(&self) {
        self.dirty.store(true, Ordering::Release);
    }

    /// If anything was marked dirty: sled flush, then `fdatasync` of its
    /// files (see the module doc).
    pub(crate) fn make_durable_if_dirty(&self) -> DiskResult<()> {
        if !self.dirty.swap(false, Ordering::AcqRel) {
            return Ok(());
        }
        self.make_durable().inspect_err(|_| self.mark_dirty())
    }

    /// sled flush, then `fdatasync` of its log file and new blob files.
    pub(crate) fn make_durable(&self) -> DiskResult<()> {
        self.db.flush().map_err(storage)?;
        File::open(self.path.join("db"))
            .and_then(|f| f.sync_data())
            .map_err(storage)?;
        let blobs = self.path.join("blobs");
        let Ok(entries) = std::fs::read_dir(&blobs) else {
            return Ok(());
        };
        let mut synced = self.synced_blobs.lock();
        let mut new = false;
        for entry in entries {
            let path = entry.map_err(storage)?.path();
            if synced.contains(&path) {
                continue;
            }
            match File::open(&path).and_then(|f| f.sync_data()) {
                Ok(()) => {}
                // sled deletes blobs of overwritten values concurrently.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(storage(e)),
            }
            synced.insert(path);
            new = true;
        }
        if new {
            File::open(&blobs)
                .and_then(|d| d.sync_all())
                .map_err(storage)?;
        }
        synced.retain(|p| p.exists());
        Ok(())
    }

    /// Subscriptions stored (all clients).
    pub(crate) fn subscription_total(&self) -> u64 {
        self.subscriptions.load(Ordering::Relaxed).max(0) as u64
    }
}

/// Opens sled, waiting up to two seconds for its file lock: sled's IO
/// threads release the lock a moment after the last handle of a previous
/// open (in this process, or a relay that is just exiting) is dropped.
fn open_with_retry(cfg: &sled::Config) -> DiskResult<sled::Db> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        match cfg.open() {
            // sled reports it as ErrorKind::Other with this text.
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock")
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other.map_err(storage),
        }
    }
}
