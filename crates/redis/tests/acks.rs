//! Ack coalescing: acks are buffered per (client, topic) and flushed in one
//! script call per pair and interval; this node's reads skip them at once;
//! `close` flushes them; a flush that finds Redis away keeps them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::RngCore;
use relaybox_redis::testing::{self, RedisServer};
use relaybox_redis::{RedisBackend, RedisConfig, RedisStore};
use relaybox_store::{MailboxStore, NewMessage, PendingPage, TopicKey};

const WAIT: Duration = Duration::from_secs(10);

fn skip() -> bool {
    if testing::available() {
        return false;
    }
    eprintln!("SKIPPED: redis-server is not installed");
    true
}

fn topic() -> TopicKey {
    let mut t = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut t);
    TopicKey(t)
}

fn msg(topic: TopicKey, body: String) -> NewMessage {
    NewMessage {
        topic,
        message: body.into(),
        tag: 1108,
        ttl_secs: 300,
        prompt: false,
        attestation: None,
        publisher: "did:key:z6MkPublisher".into(),
        published_at_ms: 0,
    }
}

async fn node(url: &str, ack_flush_ms: u64) -> Arc<RedisStore> {
    let mut cfg = RedisConfig::standalone(url);
    cfg.ack_flush_ms = ack_flush_ms;
    cfg.timeout_ms = 500;
    RedisBackend::connect(cfg).await.expect("connect").store
}

/// Publishes `n` messages on `t`, a few at a time; returns their seqs in order.
async fn publish(s: &Arc<RedisStore>, t: TopicKey, n: usize) -> Vec<u64> {
    let mut seqs = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(50) {
        let tasks: Vec<_> = chunk
            .iter()
            .map(|i| {
                let s = s.clone();
                let body = format!("m{i}");
                tokio::spawn(async move { s.append(msg(t, body)).await.unwrap().message.seq })
            })
            .collect();
        for task in tasks {
            seqs.push(task.await.unwrap());
        }
    }
    seqs.sort_unstable();
    seqs
}

fn seqs(page: &PendingPage) -> Vec<u64> {
    page.messages.iter().map(|m| m.seq).collect()
}

async fn pending(s: &Arc<RedisStore>, client: &str, t: TopicKey) -> Vec<u64> {
    seqs(&s.pending(client, t, 0, 10_000, 0).await.unwrap())
}

/// Polls until `client`'s pending list on `s` equals `want`.
async fn until_pending(s: &Arc<RedisStore>, client: &str, t: TopicKey, want: &[u64]) {
    let deadline = Instant::now() + WAIT;
    loop {
        let got = pending(s, client, t).await;
        if got == want {
            return;
        }
        assert!(Instant::now() < deadline, "pending stayed {got:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_acks_in_one_interval_are_one_script_call() {
    if skip() {
        return;
    }
    let redis = RedisServer::start();
    let t = topic();
    let alice = "did:key:z6MkAlice";
    let other = node(&redis.url(), 100).await;
    let all = publish(&other, t, 1_000).await;
    // A fresh node: its first flush is one full interval after it connected,
    // far more than 1,000 ack() calls take.
    let interval = 1_500;
    let acker = node(&redis.url(), interval).await;
    let started = Instant::now();
    for s in &all {
        acker.ack(alice, t, &[*s], 0).await.unwrap();
    }
    let mine = pending(&acker, alice, t).await;
    assert!(
        started.elapsed() < Duration::from_millis(interval / 2),
        "acking took {:?}, too close to the interval",
        started.elapsed()
    );
    assert!(mine.is_empty(), "this node skips buffered acks: {mine:?}");
    assert_eq!(acker.ack_script_calls(), 0, "ack() does not call Redis");
    assert_eq!(
        pending(&other, alice, t).await,
        all,
        "not flushed yet, so another node still sees them"
    );
    until_pending(&other, alice, t, &[]).await;
    tokio::time::sleep(Duration::from_millis(interval + 500)).await;
    assert_eq!(acker.ack_script_calls(), 1);
}

#[tokio::test]
async fn reads_skip_buffered_acks_and_keep_paging_right() {
    if skip() {
        return;
    }
    let redis = RedisServer::start();
    let t = topic();
    let alice = "did:key:z6MkAlice";
    let s = node(&redis.url(), 60_000).await;
    let q = publish(&s, t, 8).await;
    s.ack(alice, t, &[q[0], q[1], q[3], q[6]], 0).await.unwrap();
    assert_eq!(pending(&s, alice, t).await, vec![q[2], q[4], q[5], q[7]]);

    // Pages of two: buffered acks neither fill a page nor end it early.
    let page = s.pending(alice, t, 0, 2, 0).await.unwrap();
    assert_eq!((seqs(&page), page.has_more), (vec![q[2], q[4]], true));
    let page = s.pending(alice, t, q[4], 2, 0).await.unwrap();
    assert_eq!((seqs(&page), page.has_more), (vec![q[5], q[7]], false));
    assert_eq!(page.last_seq, q[7]);
    let page = s.pending(alice, t, q[5], 1, 0).await.unwrap();
    assert_eq!((seqs(&page), page.has_more), (vec![q[7]], false));
    s.ack(alice, t, &[q[7]], 0).await.unwrap();
    let page = s.pending(alice, t, q[5], 1, 0).await.unwrap();
    assert!(page.messages.is_empty() && !page.has_more);
    assert_eq!(
        page.last_seq, q[7],
        "the snapshot still covers the acked message"
    );

    // fetch returns only what is not acked, and records the buffered acks
    // in its own script: nothing is left for the flusher.
    let page = s.fetch(alice, t, 2, 0).await.unwrap();
    assert_eq!((seqs(&page), page.has_more), (vec![q[2], q[4]], true));
    let fresh = node(&redis.url(), 60_000).await;
    assert_eq!(pending(&fresh, alice, t).await, vec![q[5]]);
    let page = s.fetch(alice, t, 10, 0).await.unwrap();
    assert_eq!((seqs(&page), page.has_more), (vec![q[5]], false));
    assert!(pending(&fresh, alice, t).await.is_empty());
    s.close().await.unwrap();
    assert_eq!(
        s.ack_script_calls(),
        0,
        "fetch took the buffered acks along"
    );
}

#[tokio::test]
async fn close_flushes_and_unsubscribe_drops_buffered_acks() {
    if skip() {
        return;
    }
    let redis = RedisServer::start();
    let (t, t2) = (topic(), topic());
    let (alice, bob) = ("did:key:z6MkAlice", "did:key:z6MkBob");
    let s = node(&redis.url(), 60_000).await;
    let q = publish(&s, t, 3).await;
    let q2 = publish(&s, t2, 2).await;
    s.subscribe(bob, t2, 10_000).await.unwrap();
    s.ack(alice, t, &[q[0], q[1]], 0).await.unwrap();
    s.ack(bob, t2, &[q2[0]], 0).await.unwrap();
    assert_eq!(pending(&s, bob, t2).await, vec![q2[1]]);
    s.unsubscribe(bob, t2).await.unwrap();
    assert_eq!(
        pending(&s, bob, t2).await,
        q2,
        "unsubscribe forgot the acks"
    );

    s.close().await.unwrap();
    assert_eq!(s.ack_script_calls(), 1, "only alice's pair was left");
    assert!(s.ack(alice, t, &[q[2]], 0).await.is_err(), "closed");
    let fresh = node(&redis.url(), 60_000).await;
    assert_eq!(pending(&fresh, alice, t).await, vec![q[2]], "cursor moved");
    assert_eq!(pending(&fresh, bob, t2).await, q2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_flush_keeps_the_acks_for_the_next_interval() {
    if skip() {
        return;
    }
    let mut redis = RedisServer::start();
    let t = topic();
    let alice = "did:key:z6MkAlice";
    let s = node(&redis.url(), 100).await;
    let q = publish(&s, t, 3).await;
    redis.kill9();
    s.ack(alice, t, &[q[0], q[2]], 0).await.unwrap();
    // Let several flushes fail against the dead server.
    let deadline = Instant::now() + WAIT;
    while s.ack_script_calls() < 2 {
        assert!(Instant::now() < deadline, "the flusher made no attempts");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    redis.restart();
    let fresh = node(&redis.url(), 100).await;
    until_pending(&fresh, alice, t, &[q[1]]).await;
    assert_eq!(pending(&s, alice, t).await, vec![q[1]]);
}
