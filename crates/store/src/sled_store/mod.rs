//! The sled backend: [`SledStore`].
//!
//! Everything lives in one tree (see `keys`). Appends and acks write their
//! keys one by one, in an order whose crash prefixes `recovery` completes;
//! rarer multi-key changes use one atomic `apply_batch`. By file:
//! `publish` (append + dedup + limits), `meta` (cached per-topic counters),
//! `delivery` (pending / ack / fetch), `subs` (subscriptions),
//! `sweep` (expiry), `commit` (group-commit flushing), `stats` (counters),
//! `recovery` (completing appends a crash cut short).
//!
//! sled calls are synchronous and fast for the small operations done here,
//! so the async trait methods run them inline; the only slow operation,
//! fsync, goes through the committer task.

mod codec;
mod commit;
mod delivery;
mod keys;
mod locks;
mod meta;
mod publish;
mod recovery;
mod stats;
mod subs;
mod sweep;

#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use dashmap::DashMap;

use crate::error::{Error, Result};
use crate::types::{Appended, NewMessage, PendingPage, StoreStats, TopicKey};
use crate::MailboxStore;
pub use commit::CommitStats;

use codec::TopicMeta;
use commit::Committer;
use locks::Stripes;
use stats::Counters;

/// Name of the sled tree holding all mailbox records. Other features open
/// their own trees in the same [`sled::Db`] and must not use this name.
pub const MAILBOX_TREE: &str = "mailbox";
/// Default sled page-cache size: 64 MiB.
pub const DEFAULT_CACHE_CAPACITY_BYTES: u64 = 64 * 1024 * 1024;
/// Default per-topic live-message limit.
pub const DEFAULT_MAX_MESSAGES_PER_TOPIC: usize = 10_000;

/// Settings for [`SledStore::open`].
#[derive(Clone, Debug)]
pub struct SledConfig {
    /// Database directory (created if missing).
    pub path: PathBuf,
    /// sled page-cache size in bytes.
    pub cache_capacity_bytes: u64,
    /// Appends beyond this many stored messages in one topic fail with
    /// [`Error::MailboxFull`] (after expired ones are purged).
    pub max_messages_per_topic: usize,
    /// sled's background flush period; `None` keeps sled's default. Only
    /// bounds how much un-synced data a crash can lose; acknowledged data is
    /// covered by [`MailboxStore::sync`] regardless.
    pub flush_every_ms: Option<u64>,
}

impl SledConfig {
    /// A config with the defaults and the given path.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            cache_capacity_bytes: DEFAULT_CACHE_CAPACITY_BYTES,
            max_messages_per_topic: DEFAULT_MAX_MESSAGES_PER_TOPIC,
            flush_every_ms: None,
        }
    }
}

/// The embedded, single-node [`MailboxStore`].
pub struct SledStore {
    db: sled::Db,
    tree: sled::Tree,
    max_per_topic: u64,
    /// Serialises appends, sweeps and meta loads per topic.
    topic_locks: Stripes,
    /// Serialises delivery-state changes per `(client, topic)`.
    pair_locks: Stripes,
    /// Cached `t|topic` values of topics that have stored messages.
    meta: DashMap<TopicKey, TopicMeta>,
    counters: Counters,
    committer: Committer,
    closed: AtomicBool,
}

impl SledStore {
    /// Opens (or creates) the database and spawns the group-commit task.
    ///
    /// Must be called inside a tokio runtime. Scans topic meta and
    /// subscriptions once to seed [`stats`](MailboxStore::stats).
    pub fn open(cfg: SledConfig) -> Result<Arc<SledStore>> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| Error::NoRuntime)?;
        if cfg.max_messages_per_topic == 0 {
            return Err(Error::InvalidConfig(
                "max_messages_per_topic must be > 0".into(),
            ));
        }
        let mut sled_cfg = sled::Config::new()
            .path(&cfg.path)
            .cache_capacity(cfg.cache_capacity_bytes)
            // LowSpace (the default) rewrites segments eagerly to save disk;
            // the mailbox is write-heavy and short-lived, so favour throughput.
            .mode(sled::Mode::HighThroughput);
        if let Some(ms) = cfg.flush_every_ms {
            if ms == 0 {
                return Err(Error::InvalidConfig("flush_every_ms must be > 0".into()));
            }
            sled_cfg = sled_cfg.flush_every_ms(Some(ms));
        }
        let db = open_with_retry(&sled_cfg)?;
        let tree = db.open_tree(MAILBOX_TREE)?;
        let recovery = Self::recover(&tree)?;
        if !recovery.clean {
            tracing::info!(
                ?recovery,
                "previous run did not close cleanly; indexes checked"
            );
        }
        let counters = Counters::scan(&tree)?;
        let committer = Committer::spawn(&runtime, db.clone());
        tracing::info!(path = %cfg.path.display(), recovered = db.was_recovered(), "mailbox store opened");
        Ok(Arc::new(SledStore {
            db,
            tree,
            max_per_topic: cfg.max_messages_per_topic as u64,
            topic_locks: Stripes::new(),
            pair_locks: Stripes::new(),
            meta: DashMap::new(),
            counters,
            committer,
            closed: AtomicBool::new(false),
        }))
    }

    /// The underlying database, for features that keep their own trees.
    pub fn db(&self) -> &sled::Db {
        &self.db
    }

    /// How many `sync` calls have been served and how many flushes that took.
    pub fn commit_stats(&self) -> CommitStats {
        self.committer.stats()
    }

    /// Client ids subscribed to `topic` (not part of [`MailboxStore`]:
    /// offered for webhook/queued-event features).
    pub fn subscribers(&self, topic: TopicKey) -> Result<Vec<Arc<str>>> {
        self.check_open()?;
        self.subscribers_blocking(topic)
    }

    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            Err(Error::Closed)
        } else {
            Ok(())
        }
    }
}

#[async_trait::async_trait]
impl MailboxStore for SledStore {
    async fn append(&self, msg: NewMessage) -> Result<Appended> {
        self.check_open()?;
        self.append_blocking(msg)
    }

    async fn sync(&self) -> Result<()> {
        self.check_open()?;
        self.committer.sync().await
    }

    async fn subscribe(&self, client: &str, topic: TopicKey) -> Result<bool> {
        self.check_open()?;
        self.subscribe_blocking(client, topic)
    }

    async fn unsubscribe(&self, client: &str, topic: TopicKey) -> Result<bool> {
        self.check_open()?;
        self.unsubscribe_blocking(client, topic)
    }

    async fn subscriptions(&self, client: &str) -> Result<Vec<TopicKey>> {
        self.check_open()?;
        self.subscriptions_blocking(client)
    }

    async fn subscription_count(&self, client: &str) -> Result<usize> {
        self.check_open()?;
        self.subscription_count_blocking(client)
    }

    async fn pending(
        &self,
        client: &str,
        topic: TopicKey,
        after: u64,
        limit: usize,
        now_ms: u64,
    ) -> Result<PendingPage> {
        self.check_open()?;
        self.pending_blocking(client, topic, after, limit, now_ms)
    }

    async fn ack(&self, client: &str, topic: TopicKey, seqs: &[u64], now_ms: u64) -> Result<()> {
        self.check_open()?;
        self.ack_blocking(client, topic, seqs, now_ms)
    }

    async fn fetch(
        &self,
        client: &str,
        topic: TopicKey,
        limit: usize,
        now_ms: u64,
    ) -> Result<PendingPage> {
        self.check_open()?;
        self.fetch_blocking(client, topic, limit, now_ms)
    }

    async fn sweep_expired(&self, now_ms: u64, max: usize) -> Result<usize> {
        self.check_open()?;
        self.sweep_blocking(now_ms, max)
    }

    fn stats(&self) -> StoreStats {
        self.counters.snapshot()
    }

    async fn close(&self) -> Result<()> {
        // Refuse new work first, then let queued syncs finish, then make
        // sure whatever was written before the flag flipped is on disk.
        self.closed.store(true, Ordering::Release);
        self.committer.shutdown().await;
        self.mark_clean()?;
        self.db.flush_async().await?;
        Ok(())
    }
}

/// Opens sled, waiting up to two seconds for its file lock: sled's IO
/// threads release the lock a moment after the last handle of a previous
/// open (in this process, or a relay that is just exiting) is dropped.
fn open_with_retry(cfg: &sled::Config) -> Result<sled::Db> {
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
            other => return Ok(other?),
        }
    }
}
