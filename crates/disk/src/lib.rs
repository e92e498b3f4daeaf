//! Relaybox's embedded store: [`DiskStore`], the single-node
//! [`MailboxStore`](relaybox_store::MailboxStore), and
//! [`SledAttestationStore`] beside it.
//!
//! Two kinds of data, two structures:
//! - **message bodies**, the hot path, keyed by topic and dying by TTL, go
//!   to an append-only log of checksummed records in segment files grouped
//!   by expiry (`log`), indexed per topic in memory (`index`) and rebuilt
//!   at start by one sequential read;
//! - **the sticky mailbox state**, keyed by client_id (subscriptions,
//!   delivery positions) and the attestation requests, stays in sled
//!   (`state`, `attest`), with acks coalesced in memory (`state::positions`).
//!
//! One background thread (`commit`) does group commit: a publish, subscribe
//! or session method is answered only after `fdatasync` covers every byte it
//! depends on. `space` refuses appends before the disk fills.

mod attest;
mod commit;
mod error;
mod index;
mod inspect;
mod log;
mod ops;
mod space;
mod state;
mod store;
mod watch;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64};
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use relaybox_store::TopicKey;

pub use attest::{SledAttestationStore, ATTEST_BY_APP_TREE, ATTEST_EXPIRY_TREE, ATTEST_TREE};
pub use commit::CommitStats;
pub use error::{DiskError, DiskResult};
pub use log::ScanReport;
pub use state::MAILBOX_TREE;
pub use watch::{SledWatchStore, EVENT_TREE, WATCH_TREE};

use commit::{Committer, Lane};
use index::{ClientHasher, TopicIndex};
use log::MessageLog;
use space::Space;
use state::State;

/// Default sled page-cache size: 64 MiB.
pub const DEFAULT_CACHE_CAPACITY_BYTES: u64 = 64 * 1024 * 1024;
/// Default size at which a segment file is closed for appends: 64 MiB.
pub const DEFAULT_SEGMENT_BYTES: u64 = 64 * 1024 * 1024;
/// Default free space kept on the data directory's file system: 256 MiB.
pub const DEFAULT_MIN_FREE_BYTES: u64 = 256 * 1024 * 1024;

/// Settings for [`DiskStore::open`].
#[derive(Clone, Debug)]
pub struct DiskConfig {
    /// Data directory: the log goes to `log/`, sled to `relay.sled/` (the
    /// path earlier versions used, so their subscriptions carry over).
    pub dir: PathBuf,
    /// sled page-cache size in bytes.
    pub cache_capacity_bytes: u64,
    /// Appends beyond this many live messages in one topic fail with
    /// `MailboxFull`.
    pub max_messages_per_topic: usize,
    /// A segment takes appends until it holds this many bytes.
    pub segment_bytes: u64,
    /// Bytes the store's files may use (log and sled); 0 = no budget.
    pub max_disk_bytes: u64,
    /// Free space to keep on the file system; appends are refused below it.
    pub min_free_bytes: u64,
    /// How often coalesced delivery positions are written to sled, and the
    /// period of the other background work.
    pub ack_flush_ms: u64,
    /// Most bytes of records one `pending`/`fetch` page holds (at least one
    /// record is always returned).
    pub max_page_bytes: usize,
    /// Delivery positions kept in memory beyond which clean ones are dropped.
    pub max_cached_positions: usize,
}

impl DiskConfig {
    /// A config with the defaults and the given data directory.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            cache_capacity_bytes: DEFAULT_CACHE_CAPACITY_BYTES,
            max_messages_per_topic: relaybox_store::DEFAULT_MAX_MESSAGES_PER_TOPIC,
            segment_bytes: DEFAULT_SEGMENT_BYTES,
            max_disk_bytes: 0,
            min_free_bytes: DEFAULT_MIN_FREE_BYTES,
            ack_flush_ms: 100,
            max_page_bytes: 1024 * 1024,
            max_cached_positions: 200_000,
        }
    }

    fn validate(&self) -> DiskResult<()> {
        let bad = |s: &str| Err(DiskError::InvalidConfig(s.into()));
        if self.max_messages_per_topic == 0 {
            return bad("max_messages_per_topic must be > 0");
        }
        if self.segment_bytes < 4096 || self.segment_bytes > u32::MAX as u64 {
            return bad("segment_bytes must be between 4096 and 4294967295");
        }
        if self.ack_flush_ms == 0 {
            return bad("ack_flush_ms must be > 0");
        }
        if self.max_page_bytes == 0 {
            return bad("max_page_bytes must be > 0");
        }
        Ok(())
    }
}

/// The embedded, single-node mailbox store.
pub struct DiskStore {
    inner: Arc<Inner>,
}

/// Everything the store owns; shared with the background thread (weakly)
/// and with `spawn_blocking` closures.
pub(crate) struct Inner {
    cfg: DiskConfig,
    log: MessageLog,
    topics: DashMap<TopicKey, TopicIndex>,
    state: State,
    hasher: ClientHasher,
    space: Space,
    /// Group commit of the message log (publishes wait for this one).
    log_lane: Committer,
    /// Group commit of sled, plus the periodic position writes.
    state_lane: Committer,
    closed: AtomicBool,
    /// One subscription write (a chunk of a batch) runs at a time: sled
    /// writes are CPU-heavy, and many clients' batches at once would take
    /// every core from the async workers.
    subscription_writes: tokio::sync::Semaphore,
    messages: AtomicI64,
}

impl DiskStore {
    /// Opens (or creates) the store: scans the log once to rebuild the
    /// in-memory index, opens sled, starts the background thread.
    pub fn open(cfg: DiskConfig) -> DiskResult<Arc<DiskStore>> {
        cfg.validate()?;
        std::fs::create_dir_all(&cfg.dir)?;
        let started = std::time::Instant::now();
        let hasher = ClientHasher::new();
        let topics: DashMap<TopicKey, TopicIndex> = DashMap::new();
        let mut messages = 0i64;
        let (log, report) = MessageLog::open(
            &cfg.dir.join("log"),
            cfg.segment_bytes,
            |summary, body, loc| {
                let publisher =
                    &body[summary.publisher_at..summary.publisher_at + summary.publisher_len];
                let entry = index::Entry {
                    expires_at_ms: summary.expires_at_ms,
                    publisher: hasher.hash(publisher),
                    hash: summary.hash,
                    loc,
                };
                topics
                    .entry(summary.topic)
                    .or_default()
                    .insert(summary.seq, entry);
                messages += 1;
            },
        )?;
        let state = State::open(&cfg.dir.join("relay.sled"), cfg.cache_capacity_bytes)?;
        // Messages an operator deleted are still in the log until their
        // segment expires: the purge markers drop them again.
        messages -= inspect::apply_purges(&state, &topics)? as i64;
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let adopted = state.adopt_unseen_clients(now_ms)?;
        if adopted > 0 {
            tracing::info!(
                clients = adopted,
                "clients without a last-seen time count as seen now"
            );
        }
        let space = Space::new(&cfg.dir, cfg.max_disk_bytes, cfg.min_free_bytes);
        tracing::info!(
            dir = %cfg.dir.display(),
            segments = report.segments,
            records = report.records,
            live_messages = messages,
            topics = topics.len(),
            truncated_segments = report.truncated_segments,
            truncated_bytes = report.truncated_bytes,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "mailbox store opened"
        );
        let tick = Duration::from_millis(cfg.ack_flush_ms);
        let inner = Arc::new(Inner {
            log_lane: Committer::new(Lane::Messages),
            state_lane: Committer::new(Lane::State),
            cfg,
            log,
            topics,
            state,
            hasher,
            space,
            closed: AtomicBool::new(false),
            subscription_writes: tokio::sync::Semaphore::new(1),
            messages: AtomicI64::new(messages),
        });
        inner.log_lane.start(Arc::downgrade(&inner), tick)?;
        inner.state_lane.start(Arc::downgrade(&inner), tick)?;
        Ok(Arc::new(DiskStore { inner }))
    }

    /// Client ids subscribed to `topic` (for webhook features).
    pub async fn subscribers(&self, topic: TopicKey) -> relaybox_store::Result<Vec<Arc<str>>> {
        let inner = self.inner.clone();
        ops::blocking(move || Ok(inner.state.subscribers(&topic, usize::MAX)?)).await
    }

    /// Makes every write to the sled database durable (for features that
    /// keep their own trees there, such as the attestation store).
    pub async fn sync_state(&self) -> relaybox_store::Result<()> {
        self.inner.check_open()?;
        self.inner.state.mark_dirty();
        self.inner.state_lane.sync().await
    }

    /// Notes a write to the sled database that a reply will depend on, so
    /// that the next [`MailboxStore::sync`](relaybox_store::MailboxStore::sync)
    /// makes it durable (for features that keep their own trees).
    pub fn note_state_write(&self) {
        self.inner.state.mark_dirty();
    }

    /// The sled database, for features that keep their own trees.
    pub(crate) fn db(&self) -> &sled::Db {
        self.inner.state.db()
    }

    /// How many syncs of the message log were answered by how many
    /// commits.
    pub fn commit_stats(&self) -> CommitStats {
        self.inner.log_lane.stats()
    }

    /// Live segment files and log bytes (for tests and operators).
    pub fn log_usage(&self) -> (usize, u64) {
        (self.inner.log.segment_count(), self.inner.log.used_bytes())
    }
}
