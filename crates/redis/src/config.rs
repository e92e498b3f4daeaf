//! Settings of the Redis backend, filled in by the server from its
//! `[store]` section.

use std::time::Duration;

use crate::error::{Error, Result};

/// Default per-command deadline.
pub const DEFAULT_TIMEOUT_MS: u64 = 2000;

/// Default interval between ack flushes.
pub const DEFAULT_ACK_FLUSH_MS: u64 = 100;

/// Where Redis is and what "durable" means.
#[derive(Clone, Debug)]
pub struct RedisConfig {
    /// Standalone server URL (`redis://host:port/db`, `rediss://…`,
    /// `redis+unix:///path/to/sock`). Ignored when `cluster_nodes` is set.
    pub url: String,
    /// Redis Cluster seed nodes (`redis://host:port`); non-empty selects
    /// cluster mode.
    pub cluster_nodes: Vec<String>,
    /// Live messages per topic before publishes fail with `MailboxFull`.
    pub max_messages_per_topic: usize,
    /// Refuse to start unless every primary runs `appendonly yes` with
    /// `appendfsync always` (so a reply means fsynced). When false, a
    /// weaker setting is only logged as a warning.
    pub require_fsync: bool,
    /// After each acknowledged write, wait until this many replicas have it
    /// (`WAIT`, or `WAITAOF 1 n` with `wait_aof`). 0 = do not wait.
    pub wait_replicas: u32,
    /// Use `WAITAOF` (Redis >= 7.2): the local AOF and `wait_replicas`
    /// replicas' AOFs are fsynced before the reply.
    pub wait_aof: bool,
    /// How long a WAIT / WAITAOF may take before the write counts as failed.
    pub wait_timeout_ms: u64,
    /// Deadline for every Redis round trip; past it the request fails
    /// (`StorageError`) instead of hanging while Redis is unreachable.
    pub timeout_ms: u64,
    /// How often buffered client acks are written to Redis (one ack script
    /// per (client, topic) with everything acked in the interval). Acks are
    /// not durable anyway: a node crash loses at most this interval of
    /// them, which only causes redeliveries.
    pub ack_flush_ms: u64,
    /// Most bytes of messages one pending/fetch page holds (past its first
    /// message), so one request cannot make the node hold hundreds of
    /// large messages.
    pub max_page_bytes: usize,
}

impl RedisConfig {
    /// A standalone config with the defaults.
    pub fn standalone(url: impl Into<String>) -> Self {
        RedisConfig {
            url: url.into(),
            cluster_nodes: Vec::new(),
            max_messages_per_topic: relaybox_store::DEFAULT_MAX_MESSAGES_PER_TOPIC,
            require_fsync: true,
            wait_replicas: 0,
            wait_aof: false,
            wait_timeout_ms: 1000,
            timeout_ms: DEFAULT_TIMEOUT_MS,
            ack_flush_ms: DEFAULT_ACK_FLUSH_MS,
            max_page_bytes: 1024 * 1024,
        }
    }

    /// Whether this is Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        !self.cluster_nodes.is_empty()
    }

    pub(crate) fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// Checks the values (URLs are checked for their form only).
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::Config(m.into()));
        if self.is_cluster() {
            for n in &self.cluster_nodes {
                if redis::IntoConnectionInfo::into_connection_info(n.as_str()).is_err() {
                    return Err(Error::Config(format!(
                        "cluster node {n:?} is not a redis:// URL"
                    )));
                }
            }
        } else if redis::IntoConnectionInfo::into_connection_info(self.url.as_str()).is_err() {
            return Err(Error::Config(format!(
                "{:?} is not a redis://, rediss:// or redis+unix:// URL",
                self.url
            )));
        }
        if self.max_messages_per_topic == 0 {
            return bad("max_messages_per_topic must be > 0");
        }
        if self.timeout_ms == 0 {
            return bad("timeout_ms must be > 0");
        }
        if self.ack_flush_ms == 0 {
            return bad("ack_flush_ms must be > 0");
        }
        if self.wait_aof && self.wait_replicas == 0 && self.wait_timeout_ms == 0 {
            return bad("wait_timeout_ms must be > 0 with wait_aof");
        }
        if (self.wait_replicas > 0 || self.wait_aof) && self.wait_timeout_ms == 0 {
            return bad("wait_timeout_ms must be > 0 when waiting for replicas");
        }
        Ok(())
    }

    /// Whether writes wait (WAIT / WAITAOF) before they are acknowledged.
    pub(crate) fn waits(&self) -> bool {
        self.wait_replicas > 0 || self.wait_aof
    }
}
