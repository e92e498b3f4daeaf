//! Cluster mode, failures: a relay node killed with SIGKILL under publish
//! load, Redis killed with SIGKILL and restarted on the same AOF under
//! load, and Redis unreachable (StorageError, /ready 503, recovery by
//! itself). In every case each publish answered `true` is delivered
//! afterwards; duplicates are counted and allowed, losses fail.

mod cluster_support;
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cluster_support::*;
use common::*;
use relaybox_auth::Keypair;
use serde_json::{json, Value};

/// What the publishers saw.
#[derive(Default)]
struct Tally {
    acked: Vec<String>,
    /// Publishes answered -32603 StorageError.
    storage_errors: usize,
}

/// Publishes `tag-<n>` on `topic` through `url` until `stop`, reconnecting
/// when the relay goes away; records every message answered `true`.
async fn publisher(
    url: impl Fn() -> String,
    topic: String,
    tag: String,
    stop: Instant,
    tally: Arc<Mutex<Tally>>,
) {
    let kp = Keypair::generate();
    let mut n = 0;
    while Instant::now() < stop {
        let Ok(mut c) = TestClient::try_connect(&url(), &kp).await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        while Instant::now() < stop {
            let msg = format!("{tag}-{n:05}");
            n += 1;
            match c
                .try_request("irn_publish", publish_params(&topic, &msg, 3600))
                .await
            {
                Ok(Ok(Value::Bool(true))) => tally.lock().unwrap().acked.push(msg),
                Ok(Ok(other)) => panic!("publish answered {other}"),
                Ok(Err(e)) => {
                    assert_eq!(code_tag(&e).0, -32603, "only StorageError: {e}");
                    tally.lock().unwrap().storage_errors += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(_) => break, // the relay died under us
            }
        }
    }
}

/// Every acknowledged message must be among `received`.
fn check(acked: &[String], received: &[String]) {
    let mut counts: BTreeMap<&String, usize> = BTreeMap::new();
    for m in received {
        *counts.entry(m).or_default() += 1;
    }
    let missing: Vec<&String> = acked.iter().filter(|m| !counts.contains_key(m)).collect();
    let duplicates: usize = counts.values().map(|n| n - 1).sum();
    let acked_set: BTreeSet<&String> = acked.iter().collect();
    let unacked = counts.keys().filter(|m| !acked_set.contains(*m)).count();
    eprintln!(
        "{} acknowledged, {} received distinct ({duplicates} duplicates, {unacked} stored but not acknowledged)",
        acked.len(),
        counts.len()
    );
    assert!(!acked.is_empty(), "nothing was acknowledged");
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged messages lost: {missing:?}",
        missing.len(),
        acked.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_of_a_relay_node_under_load_loses_nothing_acknowledged() {
    if skip() {
        return;
    }
    let mut cl = Cluster::start().await;
    let topics: Vec<String> = (0..4).map(|_| topic()).collect();
    let reader = Keypair::generate();
    let mut sub = cl.b.client(&reader).await;
    sub.auto_ack = false;
    sub.request("irn_batchSubscribe", json!({ "topics": topics }))
        .await
        .unwrap();
    sub.close().await;

    let tally = Arc::new(Mutex::new(Tally::default()));
    for cycle in 0..3 {
        let stop = Instant::now() + Duration::from_millis(1200);
        let (url_a, url_b) = (cl.a.url(), cl.b.url());
        let tasks: Vec<_> = topics
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let url = if i % 2 == 0 {
                    url_a.clone()
                } else {
                    url_b.clone()
                };
                tokio::spawn(publisher(
                    move || url.clone(),
                    t.clone(),
                    format!("c{cycle}-p{i}"),
                    stop,
                    tally.clone(),
                ))
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(150 + 200 * cycle)).await;
        cl.a.kill9().await;
        for t in tasks {
            t.await.unwrap();
        }
        cl.a.restart().await;
    }
    let acked = tally.lock().unwrap().acked.clone();
    let mut reader_on_a = cl.a.client(&reader).await;
    check(&acked, &drain(&mut reader_on_a, &topics).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_of_redis_and_restart_on_its_aof_loses_nothing_acknowledged() {
    if skip() {
        return;
    }
    let mut cl = Cluster::start().await;
    let topics: Vec<String> = (0..4).map(|_| topic()).collect();
    let reader = Keypair::generate();
    // A subscriber that stays connected to B through the Redis crash.
    let mut live = cl.b.client(&reader).await;
    live.request("irn_batchSubscribe", json!({ "topics": topics }))
        .await
        .unwrap();

    let tally = Arc::new(Mutex::new(Tally::default()));
    let stop = Instant::now() + Duration::from_millis(3000);
    let (url_a, url_b) = (cl.a.url(), cl.b.url());
    let tasks: Vec<_> = topics
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let url = if i % 2 == 0 {
                url_a.clone()
            } else {
                url_b.clone()
            };
            tokio::spawn(publisher(
                move || url.clone(),
                t.clone(),
                format!("p{i}"),
                stop,
                tally.clone(),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(700)).await;
    cl.redis.kill9();
    tokio::time::sleep(Duration::from_millis(500)).await;
    cl.redis.restart();
    for t in tasks {
        t.await.unwrap();
    }
    let (acked, errors) = {
        let t = tally.lock().unwrap();
        (t.acked.clone(), t.storage_errors)
    };
    // Publishes either fail with StorageError (checked by the publishers) or
    // wait out the short outage while the connection reconnects.
    eprintln!("{errors} publishes answered StorageError while Redis was down");
    // The live subscriber got what it missed (it acks as it reads), and a
    // second client with the same identity drains the rest.
    let mut received: Vec<String> = live
        .drain_pushes(Duration::from_secs(2), Duration::from_secs(60))
        .await
        .iter()
        .map(message_of)
        .collect();
    live.close().await;
    let mut again = cl.a.client(&reader).await;
    received.extend(drain(&mut again, &topics).await);
    check(&acked, &received);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_fails_publishes_and_readiness_then_recovers() {
    if skip() {
        return;
    }
    let mut cl = Cluster::start().await;
    let t = topic();
    let mut sub = cl.b.new_client().await;
    sub.subscribe(&t).await;
    let mut publisher = cl.a.new_client().await;
    publisher.publish(&t, "before").await;
    assert_eq!(sub.expect_messages(1).await, vec!["before"]);
    assert_eq!((ready(&cl.a).await, ready(&cl.b).await), (200, 200));

    cl.redis.kill9();
    let err = publisher
        .request("irn_publish", publish_params(&t, "while down", 300))
        .await
        .expect_err("no false true while Redis is down");
    assert_eq!(code_tag(&err).0, -32603, "{err}");
    wait_ready(&cl.a, 503, WAIT).await;
    wait_ready(&cl.b, 503, WAIT).await;

    cl.redis.restart();
    wait_ready(&cl.a, 200, Duration::from_secs(20)).await;
    wait_ready(&cl.b, 200, Duration::from_secs(20)).await;
    // The same sockets work again: publish on A, live delivery on B.
    publisher.publish(&t, "after").await;
    assert_eq!(sub.expect_messages(1).await, vec!["after"]);
    sub.expect_no_push().await;
}
