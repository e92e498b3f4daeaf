//! The mailbox contract (`relaybox_store::testing`), run against standalone
//! Redis and a three-primary Redis Cluster; the embedded backend runs the
//! same cases in `relaybox-disk`. Cases use fresh random topics and clients,
//! so they share one Redis.
//!
//! Skipped (with a message) only where `redis-server` is not installed; CI
//! installs it.

use std::sync::Arc;

use relaybox_redis::testing::{self, RedisCluster};
use relaybox_redis::{RedisBackend, RedisConfig};
use relaybox_store::testing::run_every_case;
use relaybox_store::MailboxStore;

fn skip() -> bool {
    if testing::available() {
        return false;
    }
    eprintln!("SKIPPED: redis-server is not installed (apt-get install redis-server)");
    true
}

async fn connect(mut cfg: RedisConfig, limit: usize) -> Arc<dyn MailboxStore> {
    cfg.max_messages_per_topic = limit;
    RedisBackend::connect(cfg).await.expect("connect").store
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_case_on_standalone_redis() {
    if skip() {
        return;
    }
    let server = testing::RedisServer::start();
    let url = server.url();
    run_every_case(|limit| {
        let cfg = RedisConfig::standalone(url.clone());
        async move { (connect(cfg, limit).await, ()) }
    })
    .await;
}

/// Starting a cluster takes seconds, so every case shares one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_case_on_redis_cluster() {
    if skip() {
        return;
    }
    let cluster = tokio::task::spawn_blocking(|| RedisCluster::start(3))
        .await
        .unwrap();
    let mut cfg = RedisConfig::standalone("");
    cfg.cluster_nodes = cluster.urls();
    run_every_case(|limit| {
        let cfg = cfg.clone();
        async move { (connect(cfg, limit).await, ()) }
    })
    .await;
}
