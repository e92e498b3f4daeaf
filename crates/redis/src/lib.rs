//! Cluster mode for Relaybox: the mailbox store, the attestation store and
//! the fan-out on Redis (or Valkey), so that several `relaybox serve` nodes
//! behind a load balancer share sticky subscriptions, pending messages and
//! acks, and a publish on one node wakes subscribers on every other.
//!
//! Redis is the source of truth and pub/sub only a wake-up:
//! - [`RedisStore`] implements `MailboxStore` with one Lua script per
//!   operation on the topic's keys, which share the topic as hash tag (one
//!   cluster slot): publish (dedup by sha256, the mailbox limit, expiry,
//!   seq allocation, store, PUBLISH), read pending (a snapshot up to the
//!   topic's newest seq), ack (cursor plus out-of-order acks) and fetch;
//!   client acks are buffered per (client, topic) and flushed every
//!   `ack_flush_ms`, one ack script per pair (see `acks`);
//! - [`RedisFanOut`] implements `FanOut`: it subscribes the channels of the
//!   topics local connections follow and turns wake-ups into deliveries,
//!   and makes connections re-read the store whenever a wake-up may have
//!   been missed;
//! - [`RedisAttestationStore`] implements `AttestationStore`.
//!
//! A write is acknowledged when Redis replies, which under `appendonly yes`
//! with `appendfsync always` means it is fsynced on the primary (checked
//! at start-up, see [`RedisConfig::require_fsync`]); WAIT / WAITAOF can be
//! added per write.

#![forbid(unsafe_code)]

mod acks;
mod attest;
mod codec;
mod config;
mod conn;
mod error;
mod fanout;
mod health;
mod inspect;
mod keys;
mod mailbox;
mod metrics;
mod scripts;
pub mod testing;
mod watch;

use std::sync::Arc;

pub use attest::RedisAttestationStore;
pub use config::{RedisConfig, DEFAULT_ACK_FLUSH_MS, DEFAULT_TIMEOUT_MS};
pub use error::{Error, Result};
pub use fanout::RedisFanOut;
pub use mailbox::{RedisStore, KEY_GRACE_MS};
pub use watch::RedisWatchStore;

/// The three halves of the backend, sharing connections and health.
pub struct RedisBackend {
    pub store: Arc<RedisStore>,
    pub watch: Arc<watch::RedisWatchStore>,
    pub attest: Arc<RedisAttestationStore>,
    pub fanout: Arc<RedisFanOut>,
}

impl RedisBackend {
    /// Connects (failing if Redis does not answer), checks persistence,
    /// loads the scripts and starts the pub/sub task. Must run inside a
    /// tokio runtime; background tasks stop when the store is closed.
    pub async fn connect(cfg: RedisConfig) -> Result<RedisBackend> {
        cfg.validate()?;
        let health = Arc::new(health::Health::new());
        let store = Arc::new(mailbox::RedisStore::open(cfg.clone(), health.clone()).await?);
        let mut conn = store.conn();
        health::check_persistence(&cfg, &mut conn).await?;
        let fanout = RedisFanOut::start(&cfg, health, store.data_conns()).await?;
        acks::start(&store);
        let attest = RedisAttestationStore::new(store.clone());
        let watch = watch::RedisWatchStore::new(store.clone()).await?;
        tracing::info!(
            cluster = cfg.is_cluster(),
            wait_replicas = cfg.wait_replicas,
            wait_aof = cfg.wait_aof,
            "redis backend connected"
        );
        Ok(RedisBackend {
            store,
            watch,
            attest,
            fanout: Arc::new(fanout),
        })
    }

    /// The relay's signing seed, shared by every node: the first node to
    /// ask stores `candidate` (`SET NX`), and every node then uses what is
    /// stored, so all sign as the same relay.
    pub async fn shared_relay_seed(&self, candidate: [u8; 32]) -> Result<[u8; 32]> {
        const KEY: &str = "rb:relay-key";
        let mut conn = self.store.conn();
        let mut set = redis::cmd("SET");
        set.arg(KEY).arg(hex::encode(candidate)).arg("NX");
        conn.on_owner_of(KEY, set).await?;
        let mut get = redis::cmd("GET");
        get.arg(KEY);
        let stored = conn.on_owner_of(KEY, get).await?;
        let text: String =
            redis::from_redis_value(stored).map_err(|e| Error::Reply(format!("{KEY}: {e}")))?;
        let bytes =
            hex::decode(text.trim()).map_err(|e| Error::Reply(format!("{KEY} is not hex: {e}")))?;
        bytes
            .try_into()
            .map_err(|_| Error::Reply(format!("{KEY} is not a 32-byte seed")))
    }
}
