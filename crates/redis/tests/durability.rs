//! What "acknowledged" means on Redis: start-up refuses a server whose
//! replies are not fsynced (unless told otherwise), and with
//! `wait_replicas` a publish is acknowledged only once a replica has it.

use std::time::Duration;

use relaybox_redis::testing::{self, RedisServer};
use relaybox_redis::{Error, RedisBackend, RedisConfig};
use relaybox_store::{MailboxStore, NewMessage, TopicKey};

fn skip() -> bool {
    if testing::available() {
        return false;
    }
    eprintln!("SKIPPED: redis-server is not installed");
    true
}

fn msg(body: &str) -> NewMessage {
    NewMessage {
        topic: TopicKey([7; 32]),
        message: body.into(),
        tag: 1,
        ttl_secs: 60,
        prompt: false,
        attestation: None,
        publisher: "did:key:z6MkP".into(),
        published_at_ms: 0,
    }
}

#[tokio::test]
async fn startup_refuses_redis_that_does_not_fsync_each_write() {
    if skip() {
        return;
    }
    let redis = RedisServer::start_with(&["--appendfsync", "everysec"]);
    let cfg = RedisConfig::standalone(redis.url());
    match RedisBackend::connect(cfg.clone()).await {
        Err(Error::NotDurable(m)) => assert!(m.contains("appendfsync"), "{m}"),
        Err(e) => panic!("wrong error {e}"),
        Ok(_) => panic!("connected to a Redis that does not fsync each write"),
    }
    let mut lax = cfg;
    lax.require_fsync = false;
    let b = RedisBackend::connect(lax)
        .await
        .expect("allowed when not required");
    b.store.append(msg("ok")).await.unwrap();

    let no_aof = RedisServer::start_with(&["--appendonly", "no"]);
    let refused = RedisBackend::connect(RedisConfig::standalone(no_aof.url())).await;
    assert!(matches!(refused, Err(Error::NotDurable(_))));
}

#[tokio::test]
async fn unreachable_redis_fails_start_up() {
    let cfg = RedisConfig::standalone(format!("redis://127.0.0.1:{}", testing::free_port()));
    assert!(RedisBackend::connect(cfg).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_replicas_acknowledges_only_what_a_replica_has() {
    if skip() {
        return;
    }
    let primary = RedisServer::start();
    let port = primary.port().to_string();
    let mut replica = RedisServer::start_with(&["--replicaof", "127.0.0.1", &port]);
    // Wait for the replica to be in sync.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !primary
        .cli("INFO replication")
        .contains("connected_slaves:1")
        || !replica
            .cli("INFO replication")
            .contains("master_link_status:up")
    {
        assert!(std::time::Instant::now() < deadline, "replica never synced");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut cfg = RedisConfig::standalone(primary.url());
    cfg.wait_replicas = 1;
    cfg.wait_timeout_ms = 300;
    let b = RedisBackend::connect(cfg).await.unwrap();
    b.store
        .append(msg("replicated"))
        .await
        .expect("a replica has it");
    assert!(b
        .store
        .subscribe("did:key:z6MkS", TopicKey([7; 32]), 10_000)
        .await
        .unwrap());

    replica.kill9();
    let failed = b.store.append(msg("primary only")).await;
    assert!(
        matches!(failed, Err(relaybox_store::Error::Backend(ref m)) if m.contains("durability")),
        "{failed:?}"
    );
}
