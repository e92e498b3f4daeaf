//! Support for the cluster-mode tests: a `redis-server` child process (from
//! `relaybox_redis::testing`: a temporary directory, AOF with
//! `appendfsync always`) and relay processes started with
//! `store.backend = "redis"` through the existing [`TestRelay`].
//!
//! Tests skip with a message only when `redis-server` is not installed;
//! `tests/run-all.sh` installs it, so CI runs them.

#![allow(dead_code, unused_imports)]

use std::time::Duration;

use relaybox_redis::testing;
pub use relaybox_redis::testing::{RedisCluster, RedisServer};
use serde_json::{json, Value};

use crate::common::*;

/// True (after printing why) when `redis-server` is missing.
pub fn skip() -> bool {
    if testing::available() {
        return false;
    }
    eprintln!("SKIPPED: redis-server is not installed (tests/run-all.sh installs it)");
    true
}

/// Environment of a relay node on the Redis at `url`, plus `extra`.
pub fn node_env(url: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env = vec![
        ("RELAYBOX_STORE_BACKEND".to_owned(), "redis".to_owned()),
        ("RELAYBOX_STORE_REDIS_URL".to_owned(), url.to_owned()),
        (
            "RELAYBOX_STORE_REDIS_TIMEOUT_MS".to_owned(),
            "1000".to_owned(),
        ),
    ];
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    env
}

/// A relay node on the Redis at `url`.
pub async fn node(url: &str, extra: &[(&str, &str)]) -> TestRelay {
    let env = node_env(url, extra);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    TestRelay::with_env(&env).await
}

/// One Redis and two relay nodes on it.
pub struct Cluster {
    pub redis: RedisServer,
    pub a: TestRelay,
    pub b: TestRelay,
}

impl Cluster {
    pub async fn start() -> Cluster {
        Self::with_env(&[]).await
    }

    pub async fn with_env(extra: &[(&str, &str)]) -> Cluster {
        let redis = RedisServer::start();
        let a = node(&redis.url(), extra).await;
        let b = node(&redis.url(), extra).await;
        Cluster { redis, a, b }
    }
}

/// `GET /ready`'s status.
pub async fn ready(relay: &TestRelay) -> u16 {
    http(relay.addr(), "GET", "/ready").await.0
}

/// Polls `/ready` until it answers `status`; panics after `max`.
pub async fn wait_ready(relay: &TestRelay, status: u16, max: Duration) {
    let deadline = tokio::time::Instant::now() + max;
    while ready(relay).await != status {
        assert!(
            tokio::time::Instant::now() < deadline,
            "/ready never answered {status}; log:\n{}",
            relay.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The message of a push's params.
pub fn message_of(p: &Value) -> String {
    p["data"]["message"].as_str().expect("message").to_owned()
}

/// Everything still pending for `c` on `topics`: pushes until quiet, then
/// fetches until `hasMore` is false, then pushes again (a push that arrives
/// while a fetch reply is awaited is buffered, and acked, by the client).
/// Returns messages in arrival order.
pub async fn drain(c: &mut TestClient, topics: &[String]) -> Vec<String> {
    let mut out: Vec<String> = c
        .drain_pushes(Duration::from_secs(2), Duration::from_secs(60))
        .await
        .iter()
        .map(message_of)
        .collect();
    fetch_all(c, topics, &mut out).await;
    out.extend(
        c.drain_pushes(Duration::from_secs(1), Duration::from_secs(30))
            .await
            .iter()
            .map(message_of),
    );
    out
}

async fn fetch_all(c: &mut TestClient, topics: &[String], out: &mut Vec<String>) {
    loop {
        let r = c
            .request("irn_batchFetchMessages", json!({ "topics": topics }))
            .await
            .expect("fetch");
        for m in r["messages"].as_array().unwrap() {
            out.push(m["message"].as_str().unwrap().to_owned());
        }
        if r["hasMore"] != true {
            break;
        }
    }
}
