//! State shared by the store and the fan-out of one node: whether the
//! pub/sub connection is up, which topics a connection failed to re-read
//! (those connections are restarted once Redis answers again), and the
//! close signal. Also the start-up check of Redis's persistence settings.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;
use redis::Value;
use relaybox_store::TopicKey;
use tokio_util::sync::CancellationToken;

use crate::codec::text;
use crate::config::RedisConfig;
use crate::conn::{bounded, Conn};
use crate::error::{Error, Result};

/// Most failed reads remembered; beyond it the oldest are simply dropped.
const MAX_FAILED_READS: usize = 100_000;

/// Health shared between the store and the fan-out.
pub(crate) struct Health {
    pubsub_up: AtomicBool,
    failed_reads: Mutex<HashSet<TopicKey>>,
    /// Cancelled by `MailboxStore::close`: background tasks stop.
    pub closed: CancellationToken,
}

impl Health {
    pub fn new() -> Self {
        Health {
            pubsub_up: AtomicBool::new(true),
            failed_reads: Mutex::new(HashSet::new()),
            closed: CancellationToken::new(),
        }
    }

    pub fn set_pubsub_up(&self, up: bool) {
        if self.pubsub_up.swap(up, Ordering::AcqRel) != up {
            crate::metrics::pubsub_up(up);
            if up {
                tracing::info!("redis pub/sub connection is back");
            } else {
                tracing::warn!("redis pub/sub connection lost; live delivery paused");
            }
        }
    }

    pub fn pubsub_up(&self) -> bool {
        self.pubsub_up.load(Ordering::Acquire)
    }

    /// A connection could not re-read `topic`: the gateway leaves such a
    /// topic waiting for a replay that will not come by itself.
    pub fn read_failed(&self, topic: TopicKey) {
        let mut set = self.failed_reads.lock();
        if set.len() < MAX_FAILED_READS {
            set.insert(topic);
        }
    }

    pub fn take_failed_reads(&self) -> Vec<TopicKey> {
        self.failed_reads.lock().drain().collect()
    }
}

/// Every `name value` pair found anywhere in a CONFIG GET reply (an array
/// or map per node, possibly nested per node in cluster mode).
fn pairs(v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Array(items) => {
            if items.len() % 2 == 0 && items.iter().all(|i| text(i).is_some()) {
                for kv in items.chunks(2) {
                    if let (Some(k), Some(val)) = (text(&kv[0]), text(&kv[1])) {
                        out.push((k.to_owned(), val.to_owned()));
                    }
                }
                return;
            }
            for item in items {
                pairs(item, out);
            }
        }
        Value::Map(kv) => {
            for (k, val) in kv {
                match (text(k), text(val)) {
                    (Some(k), Some(val)) => out.push((k.to_owned(), val.to_owned())),
                    _ => pairs(val, out),
                }
            }
        }
        _ => {}
    }
}

/// Checks that every primary persists each write before it replies:
/// `appendonly yes` with `appendfsync always` (or WAITAOF configured).
/// Also warns when `maxmemory-policy` would let Redis evict messages.
/// With `require_fsync` a weaker setting (or a server that hides its
/// config) is an error, else a warning.
pub(crate) async fn check_persistence(cfg: &RedisConfig, conn: &mut Conn) -> Result<()> {
    let mut cmd = redis::cmd("CONFIG");
    cmd.arg("GET").arg("append*");
    let mut eviction = redis::cmd("CONFIG");
    eviction.arg("GET").arg("maxmemory-policy");
    if let Ok(nodes) = bounded(cfg, conn.on_all_primaries(eviction)).await {
        for node in &nodes {
            let mut kv = Vec::new();
            pairs(node, &mut kv);
            if let Some((_, policy)) = kv
                .iter()
                .find(|(k, v)| k == "maxmemory-policy" && v != "noeviction")
            {
                tracing::warn!(
                    policy = %policy,
                    "redis maxmemory-policy is not noeviction: when memory runs out Redis may delete stored messages; set maxmemory-policy noeviction (publishes then fail instead)"
                );
            }
        }
    }
    let problem = match bounded(cfg, conn.on_all_primaries(cmd)).await {
        Err(e) => Some(format!("cannot read the persistence settings ({e})")),
        Ok(nodes) => nodes.iter().find_map(|node| {
            let mut kv = Vec::new();
            pairs(node, &mut kv);
            let get = |name: &str| {
                kv.iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.as_str())
                    .unwrap_or("?")
            };
            let (aof, fsync) = (get("appendonly"), get("appendfsync"));
            if aof != "yes" {
                Some(format!("appendonly is {aof:?}, not \"yes\""))
            } else if fsync != "always" && !cfg.wait_aof {
                Some(format!(
                    "appendfsync is {fsync:?}: a reply is not yet on disk (set appendfsync always, or store.redis_wait_aof)"
                ))
            } else {
                None
            }
        }),
    };
    match problem {
        None => Ok(()),
        Some(p) if cfg.require_fsync => Err(Error::NotDurable(format!(
            "{p}; acknowledged messages could be lost (set store.redis_require_fsync = false to run anyway)"
        ))),
        Some(p) => {
            tracing::warn!("redis persistence: {p}; acknowledged messages may be lost in a Redis crash");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn config_pairs_are_found_in_arrays_and_maps() {
        let mut out = Vec::new();
        pairs(
            &Value::Array(vec![
                bulk("appendonly"),
                bulk("yes"),
                bulk("appendfsync"),
                bulk("always"),
            ]),
            &mut out,
        );
        pairs(
            &Value::Map(vec![(bulk("appendfsync"), bulk("everysec"))]),
            &mut out,
        );
        assert!(out.contains(&("appendonly".into(), "yes".into())));
        assert!(out.contains(&("appendfsync".into(), "always".into())));
        assert!(out.contains(&("appendfsync".into(), "everysec".into())));
    }
}
