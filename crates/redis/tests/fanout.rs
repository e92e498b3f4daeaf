//! Cross-node fan-out at the store level: two backends ("nodes") on one
//! Redis, wake-ups through pub/sub, resyncs on subscription and after a
//! Redis restart, and health while Redis is away.

use std::sync::Arc;
use std::time::Duration;

use rand::RngCore;
use relaybox_redis::testing::{self, RedisServer};
use relaybox_redis::{RedisBackend, RedisConfig};
use relaybox_store::{FanOut, MailboxStore, NewMessage, Subscriber, TopicKey, WakeUp};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(10);

fn topic() -> TopicKey {
    let mut t = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut t);
    TopicKey(t)
}

fn msg(topic: TopicKey, body: &str) -> NewMessage {
    NewMessage {
        topic,
        message: body.into(),
        tag: 1108,
        ttl_secs: 300,
        prompt: false,
        attestation: None,
        publisher: "did:key:z6MkPublisher".into(),
        published_at_ms: relaybox_now(),
    }
}

fn relaybox_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

async fn node(url: &str) -> RedisBackend {
    let mut cfg = RedisConfig::standalone(url);
    cfg.timeout_ms = 500;
    RedisBackend::connect(cfg).await.expect("connect")
}

fn follow(
    fanout: &Arc<relaybox_redis::RedisFanOut>,
    t: TopicKey,
    conn_id: u64,
) -> mpsc::Receiver<WakeUp> {
    let (tx, rx) = mpsc::channel(64);
    fanout.register(
        t,
        Subscriber {
            conn_id,
            tx,
            kick: CancellationToken::new(),
        },
    );
    rx
}

/// The next delivery that carries a message (resyncs are counted).
async fn next_message(rx: &mut mpsc::Receiver<WakeUp>, resyncs: &mut usize) -> WakeUp {
    loop {
        let d = tokio::time::timeout(WAIT, rx.recv())
            .await
            .expect("a delivery in time")
            .expect("channel open");
        if d.is_resync() {
            *resyncs += 1;
        } else {
            return d;
        }
    }
}

/// Waits for a resync signal, skipping messages.
async fn next_resync(rx: &mut mpsc::Receiver<WakeUp>) {
    loop {
        let d = tokio::time::timeout(WAIT, rx.recv())
            .await
            .expect("a resync in time")
            .expect("channel open");
        if d.is_resync() {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_on_one_node_wakes_the_other_in_order() {
    if !testing::available() {
        eprintln!("SKIPPED: redis-server is not installed");
        return;
    }
    let redis = RedisServer::start();
    let (a, b) = (node(&redis.url()).await, node(&redis.url()).await);
    let t = topic();
    let mut on_b = follow(&b.fanout, t, 1);
    let mut on_a = follow(&a.fanout, t, 2);
    // The subscription's confirmation makes the follower re-read the store.
    next_resync(&mut on_b).await;
    next_resync(&mut on_a).await;
    assert_eq!((a.fanout.topics(), b.fanout.topics()), (1, 1));

    let mut prev = 0;
    let mut resyncs = 0;
    for i in 0..20 {
        let appended = a.store.append(msg(t, &format!("m{i}"))).await.unwrap();
        a.fanout.announce(&appended);
        for rx in [&mut on_b, &mut on_a] {
            let d = next_message(rx, &mut resyncs).await;
            assert_eq!(d.message.seq, appended.message.seq);
            assert_eq!(d.prev_seq, prev, "wake-ups chain");
            assert_eq!(&*d.message.message, format!("m{i}"));
        }
        prev = appended.message.seq;
    }
    assert_eq!(resyncs, 0);
    // A duplicate publishes nothing.
    let dup = b.store.append(msg(t, "m3")).await.unwrap();
    assert!(dup.duplicate);
    assert!(
        tokio::time::timeout(Duration::from_millis(300), on_b.recv())
            .await
            .is_err()
    );

    // Unregistering the last follower unsubscribes: nothing more arrives.
    b.fanout.unregister(&t, 1);
    assert_eq!(b.fanout.topics(), 0);
    a.store.append(msg(t, "after")).await.unwrap();
    assert!(next_message(&mut on_a, &mut resyncs).await.message.seq > prev);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restart_fails_writes_then_resyncs_followers() {
    if !testing::available() {
        eprintln!("SKIPPED: redis-server is not installed");
        return;
    }
    let mut redis = RedisServer::start();
    let (a, b) = (node(&redis.url()).await, node(&redis.url()).await);
    let t = topic();
    let mut on_b = follow(&b.fanout, t, 1);
    next_resync(&mut on_b).await;
    let before = a.store.append(msg(t, "before")).await.unwrap();
    let mut resyncs = 0;
    assert_eq!(
        next_message(&mut on_b, &mut resyncs).await.message.seq,
        before.message.seq
    );

    // A connection whose replay fails while Redis is away is restarted
    // (kicked) once Redis answers again.
    let kick = CancellationToken::new();
    let (tx, _kept) = mpsc::channel(64);
    b.fanout.register(
        t,
        Subscriber {
            conn_id: 2,
            tx,
            kick: kick.clone(),
        },
    );

    redis.kill9();
    let read = b
        .store
        .pending("did:key:z6MkReader", t, 0, 10, relaybox_now())
        .await;
    assert!(read.is_err(), "a read while Redis is down fails");
    let failed = a.store.append(msg(t, "while down")).await;
    assert!(
        matches!(failed, Err(relaybox_store::Error::Backend(_))),
        "a publish while Redis is down must fail: {failed:?}"
    );
    assert!(a.store.health().await.is_err(), "unhealthy while down");

    redis.restart();
    // The AOF brought the message back, and the follower is told to re-read.
    next_resync(&mut on_b).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while a.store.health().await.is_err() || b.store.health().await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never healthy again"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::timeout(WAIT, kick.cancelled())
        .await
        .expect("the connection whose replay failed is restarted");
    let page = b
        .store
        .pending("did:key:z6MkReader", t, 0, 10, relaybox_now())
        .await
        .unwrap();
    assert_eq!(page.messages.len(), 1, "the acknowledged message survived");
    let after = a.store.append(msg(t, "after")).await.unwrap();
    assert!(after.message.seq > before.message.seq);
    assert_eq!(
        next_message(&mut on_b, &mut resyncs).await.message.seq,
        after.message.seq
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cluster_wakes_followers_of_topics_in_many_slots() {
    if !testing::available() {
        eprintln!("SKIPPED: redis-server is not installed");
        return;
    }
    let cluster = tokio::task::spawn_blocking(|| relaybox_redis::testing::RedisCluster::start(3))
        .await
        .unwrap();
    let mut cfg = RedisConfig::standalone("");
    cfg.cluster_nodes = cluster.urls();
    let a = RedisBackend::connect(cfg.clone()).await.unwrap();
    let b = RedisBackend::connect(cfg).await.unwrap();
    // Registered at once, so the node subscribes them in one batch.
    let topics: Vec<TopicKey> = (0..20).map(|_| topic()).collect();
    let mut rxs: Vec<_> = topics
        .iter()
        .enumerate()
        .map(|(i, t)| follow(&b.fanout, *t, i as u64))
        .collect();
    for rx in &mut rxs {
        next_resync(rx).await;
    }
    let mut resyncs = 0;
    for (t, rx) in topics.iter().zip(&mut rxs) {
        let appended = a.store.append(msg(*t, "hello")).await.unwrap();
        let d = next_message(rx, &mut resyncs).await;
        assert_eq!(d.message.seq, appended.message.seq);
    }
}
