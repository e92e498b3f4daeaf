//! Crash safety: a relay that is killed with SIGKILL at random moments under
//! publishing load never loses a message it acknowledged with `true`.
//!
//! Each cycle starts the relay on the same data dir, lets several publishers
//! publish numbered messages (recording every one the relay acknowledged),
//! and kills the relay 50–400 ms in. At the end a subscriber that subscribed
//! before the first cycle drains its mailbox: every acknowledged message
//! must be there. Duplicates are counted and allowed.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use rand::Rng;
use relaybox_auth::Keypair;
use serde_json::{json, Value};

const CYCLES: usize = 24;
const PUBLISHERS: usize = 4;

/// Publishes `p<publisher>-c<cycle>-<n>` until the relay goes away; every
/// message answered `true` goes into `acked` before the next is sent.
async fn publish_until_killed(
    url: String,
    kp: Keypair,
    topic: String,
    publisher: usize,
    cycle: usize,
    acked: Arc<Mutex<Vec<String>>>,
) {
    let Ok(mut c) = TestClient::try_connect(&url, &kp).await else {
        return;
    };
    for n in 0.. {
        let msg = format!("p{publisher}-c{cycle:02}-{n:05}");
        match c
            .try_request("irn_publish", publish_params(&topic, &msg, 3600))
            .await
        {
            Ok(Ok(Value::Bool(true))) => acked.lock().unwrap().push(msg),
            Ok(Ok(other)) => panic!("publish answered {other}"),
            Ok(Err(e)) => panic!("publish refused: {e}"),
            Err(_) => return, // the relay died under us
        }
    }
}

fn message_of(p: &Value) -> String {
    p["data"]["message"].as_str().expect("message").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_messages_survive_repeated_kill9() {
    let started = Instant::now();
    // Publishers send as fast as acks come back: the rate limits are not
    // what this test is about.
    let mut relay = TestRelay::with_env(&[
        ("RELAYBOX_RATE_LIMIT_REQUESTS_PER_SEC", "0"),
        ("RELAYBOX_RATE_LIMIT_REQUESTS_PER_SEC_PER_IP", "0"),
    ])
    .await;
    let topics: Vec<String> = (0..PUBLISHERS).map(|_| topic()).collect();
    let publishers: Vec<Keypair> = (0..PUBLISHERS).map(|_| Keypair::generate()).collect();

    let sub_kp = Keypair::generate();
    let mut sub = relay.client(&sub_kp).await;
    sub.request("irn_batchSubscribe", json!({ "topics": topics }))
        .await
        .expect("subscribe before the first cycle");
    sub.close().await;

    let acked = Arc::new(Mutex::new(Vec::new()));
    let mut per_cycle = Vec::new();
    for cycle in 0..CYCLES {
        if cycle > 0 {
            relay.restart().await;
        }
        let before = acked.lock().unwrap().len();
        let tasks: Vec<_> = (0..PUBLISHERS)
            .map(|i| {
                tokio::spawn(publish_until_killed(
                    relay.url(),
                    publishers[i].clone(),
                    topics[i].clone(),
                    i,
                    cycle,
                    acked.clone(),
                ))
            })
            .collect();
        let delay = rand::thread_rng().gen_range(50..=400);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        relay.kill9().await;
        for t in tasks {
            t.await.expect("publisher task");
        }
        per_cycle.push(acked.lock().unwrap().len() - before);
    }
    relay.restart().await;
    let acked: Vec<String> = acked.lock().unwrap().clone();
    eprintln!(
        "{CYCLES} cycles, {} acknowledged messages per cycle {per_cycle:?}",
        acked.len()
    );
    assert!(
        !acked.is_empty(),
        "no publish was ever acknowledged; log:\n{}",
        relay.log()
    );

    // Drain: pushes (the mailbox is sticky, no subscribe needed), then fetch
    // for anything left.
    let mut received: BTreeMap<String, usize> = BTreeMap::new();
    let mut sub = relay.client(&sub_kp).await;
    for p in sub
        .drain_pushes(Duration::from_secs(2), Duration::from_secs(40))
        .await
    {
        *received.entry(message_of(&p)).or_default() += 1;
    }
    loop {
        let r = sub
            .request("irn_batchFetchMessages", json!({ "topics": topics }))
            .await
            .expect("fetch");
        for m in r["messages"].as_array().unwrap() {
            *received
                .entry(m["message"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
        if r["hasMore"] != true {
            break;
        }
    }

    let acked_set: BTreeSet<&String> = acked.iter().collect();
    assert_eq!(
        acked_set.len(),
        acked.len(),
        "publishers never repeat a message"
    );
    let missing: Vec<&String> = acked
        .iter()
        .filter(|m| !received.contains_key(*m))
        .collect();
    let duplicates: usize = received.values().map(|n| n - 1).sum();
    let unacked_extra = received.keys().filter(|m| !acked_set.contains(m)).count();
    eprintln!(
        "received {} distinct ({duplicates} duplicates, {unacked_extra} stored but never acknowledged) in {:?}",
        received.len(),
        started.elapsed()
    );
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged messages lost: {missing:?}",
        missing.len(),
        acked.len()
    );
}
