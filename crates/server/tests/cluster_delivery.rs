//! Cluster mode, delivery: two relay processes on one Redis behave like one
//! relay. Publish on A is delivered on B (not echoed), a client that moves
//! from A to B gets exactly its unacknowledged messages in order, late
//! subscribers, fetch paging, TTL, dedup across nodes, the mailbox limit,
//! and the same on a three-primary Redis Cluster.

mod cluster_support;
mod common;

use std::time::Duration;

use cluster_support::*;
use common::*;
use relaybox_auth::Keypair;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_on_a_is_delivered_on_b_and_not_echoed() {
    if skip() {
        return;
    }
    let cl = Cluster::start().await;
    let t = topic();
    let mut sub = cl.b.new_client().await;
    sub.subscribe(&t).await;
    let mut publisher = cl.a.new_client().await;
    publisher.subscribe(&t).await;
    let sent: Vec<String> = (0..10).map(|i| format!("m{i}")).collect();
    for m in &sent {
        publisher.publish(&t, m).await;
    }
    assert_eq!(
        sub.expect_messages(10).await,
        sent,
        "in order on the other node"
    );
    publisher.expect_no_push().await;
    // And the other way round, to a subscriber on the same node as the publisher.
    let mut local = cl.b.new_client().await;
    local.subscribe(&t).await;
    let mut other = cl.b.new_client().await;
    other.publish(&t, "from b").await;
    assert_eq!(sub.expect_messages(1).await, vec!["from b"]);
    assert_eq!(local.expect_messages(11).await.last().unwrap(), "from b");
    assert_eq!(publisher.expect_messages(1).await, vec!["from b"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_moving_from_a_to_b_gets_exactly_its_unacked_messages() {
    if skip() {
        return;
    }
    let cl = Cluster::start().await;
    let t = topic();
    let kp = Keypair::generate();
    let mut c = cl.a.client(&kp).await;
    c.auto_ack = false;
    c.subscribe(&t).await;
    let mut publisher = cl.b.new_client().await;
    for i in 0..6 {
        publisher.publish(&t, &format!("m{i}")).await;
    }
    let mut ids = Vec::new();
    for i in 0..6 {
        let frame = c.next_push_frame(WAIT).await.expect("push on A");
        assert_eq!(message_of(&frame["params"]), format!("m{i}"));
        ids.push(frame["id"].clone());
    }
    // Ack m0, m1 and m3 (out of order), then make sure A has stored them:
    // the subscribe reply proves A has read the acks, and A writes buffered
    // acks to Redis every store.ack_flush_ms (100 ms).
    for i in [3, 0, 1] {
        c.ack(&ids[i]).await;
    }
    c.subscribe(&topic()).await;
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    c.close().await;
    publisher.publish(&t, "m6").await;

    // Sticky: on B, without subscribing again.
    let mut moved = cl.b.client(&kp).await;
    assert_eq!(moved.expect_messages(4).await, vec!["m2", "m4", "m5", "m6"]);
    moved.expect_no_push().await;
    // What B pushed (and auto-acked) is not pushed again on A.
    moved.close().await;
    let mut back = cl.a.client(&kp).await;
    back.subscribe(&topic()).await;
    back.expect_no_push().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_subscriber_fetch_paging_ttl_and_dedup_across_nodes() {
    if skip() {
        return;
    }
    let cl = Cluster::with_env(&[
        ("RELAYBOX_LIMITS_FETCH_PAGE", "5"),
        ("RELAYBOX_LIMITS_TTL_MIN_SECS", "1"),
    ])
    .await;
    let (t, short) = (topic(), topic());
    let mut publisher = cl.a.new_client().await;
    for i in 0..12 {
        publisher.publish(&t, &format!("m{i:02}")).await;
    }
    // The same message through the other node is stored once.
    let mut again = cl.b.new_client().await;
    again.publish(&t, "m03").await;
    let r = again
        .request("irn_publish", publish_params(&short, "gone soon", 1))
        .await;
    assert_eq!(r, Ok(json!(true)));
    again.publish(&short, "stays").await;

    // Fetch on B pages through what A stored, and ends.
    let mut reader = cl.b.new_client().await;
    let mut pages = Vec::new();
    loop {
        let r = reader
            .request("irn_fetchMessages", json!({ "topic": t }))
            .await
            .unwrap();
        let msgs: Vec<String> = r["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["message"].as_str().unwrap().to_owned())
            .collect();
        pages.push(msgs);
        if r["hasMore"] != true {
            break;
        }
        assert!(pages.len() < 10, "fetch never ends");
    }
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![5, 5, 2]);
    let all: Vec<String> = pages.concat();
    assert_eq!(all, (0..12).map(|i| format!("m{i:02}")).collect::<Vec<_>>());

    // A late subscriber on A gets the stored messages; the expired one is gone.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut late = cl.a.new_client().await;
    late.subscribe(&short).await;
    assert_eq!(late.expect_messages(1).await, vec!["stays"]);
    late.expect_no_push().await;
    late.subscribe(&t).await;
    assert_eq!(late.expect_messages(12).await.len(), 12);
    late.expect_no_push().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mailbox_limit_holds_across_nodes() {
    if skip() {
        return;
    }
    let cl = Cluster::with_env(&[("RELAYBOX_LIMITS_MAX_MESSAGES_PER_TOPIC", "3")]).await;
    let t = topic();
    let mut a = cl.a.new_client().await;
    let mut b = cl.b.new_client().await;
    a.publish(&t, "1").await;
    b.publish(&t, "2").await;
    a.publish(&t, "3").await;
    let err = b
        .request("irn_publish", publish_params(&t, "4", 300))
        .await
        .unwrap_err();
    assert_eq!(code_tag(&err).0, -32000, "{err}");
    assert!(
        err["message"].as_str().unwrap().contains("Mailbox"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_relays_on_a_redis_cluster() {
    if skip() {
        return;
    }
    let redis = tokio::task::spawn_blocking(|| RedisCluster::start(3))
        .await
        .unwrap();
    let nodes = redis.urls().join(",");
    let extra = [("RELAYBOX_STORE_REDIS_CLUSTER_NODES", nodes.as_str())];
    let a = node("redis://unused", &extra).await;
    let b = node("redis://unused", &extra).await;
    // Topics spread over the three primaries' slots.
    let topics: Vec<String> = (0..6).map(|_| topic()).collect();
    let mut sub = b.new_client().await;
    sub.request("irn_batchSubscribe", json!({ "topics": topics }))
        .await
        .unwrap();
    let mut publisher = a.new_client().await;
    for (i, t) in topics.iter().enumerate() {
        publisher.publish(t, &format!("m{i}")).await;
    }
    let mut got = sub.expect_messages(6).await;
    got.sort();
    assert_eq!(got, (0..6).map(|i| format!("m{i}")).collect::<Vec<_>>());
    assert_eq!(ready(&a).await, 200);
}
