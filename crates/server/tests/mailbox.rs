//! Mailbox semantics: sticky subscriptions, storage before any subscriber,
//! fetch that consumes, deduplication, order, no echo, redelivery of what
//! was not acknowledged, and TTL expiry.

mod common;

use common::*;
use relaybox_auth::Keypair;
use serde_json::{json, Value};

fn messages(fetch_result: &Value) -> Vec<String> {
    fetch_result["messages"]
        .as_array()
        .expect("messages array")
        .iter()
        .map(|m| m["message"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn mailbox_is_sticky_across_reconnect_without_resubscribing() {
    let relay = TestRelay::start().await;
    let kp = Keypair::generate();
    let t = topic();
    let mut a = relay.client(&kp).await;
    a.subscribe(&t).await;
    a.close().await;

    let mut b = relay.new_client().await;
    for m in ["one", "two", "three"] {
        b.publish(&t, m).await;
    }

    // Same key, no request at all: the relay pushes what is waiting.
    let mut a = relay.client(&kp).await;
    assert_eq!(a.expect_messages(3).await, ["one", "two", "three"]);
    let push_sub = a.next_push(QUIET).await;
    assert!(push_sub.is_none(), "nothing more: {push_sub:?}");

    // Live delivery works on the restored subscription too.
    b.publish(&t, "four").await;
    assert_eq!(a.expect_messages(1).await, ["four"]);
}

#[tokio::test]
async fn messages_are_stored_before_anyone_subscribes() {
    let relay = TestRelay::start().await;
    let t = topic();
    let mut publisher = relay.new_client().await;
    publisher.publish(&t, "early-1").await;
    publisher.publish(&t, "early-2").await;

    let kp = Keypair::generate();
    let mut late = relay.client(&kp).await;
    let id = late.subscribe(&t).await;
    let p = late.next_push(WAIT).await.expect("stored message");
    assert_eq!(p["id"], json!(id));
    assert_eq!(p["data"]["message"], "early-1");
    assert_eq!(late.expect_messages(1).await, ["early-2"]);

    // A second, independent subscriber gets its own copy.
    let mut other = relay.new_client().await;
    other.subscribe(&t).await;
    assert_eq!(other.expect_messages(2).await, ["early-1", "early-2"]);
}

#[tokio::test]
async fn fetch_consumes_and_pages() {
    let relay = TestRelay::with_env(&[("RELAYBOX_LIMITS_FETCH_PAGE", "2")]).await;
    let t = topic();
    let mut publisher = relay.new_client().await;
    for i in 1..=5 {
        publisher.publish(&t, &format!("m{i}")).await;
    }

    let kp = Keypair::generate();
    let mut reader = relay.client(&kp).await;
    let mut pages = Vec::new();
    for _ in 0..3 {
        let r = reader
            .request("irn_fetchMessages", json!({ "topic": t }))
            .await
            .unwrap();
        pages.push((messages(&r), r["hasMore"].as_bool().unwrap()));
    }
    assert_eq!(
        pages,
        vec![
            (vec!["m1".to_owned(), "m2".to_owned()], true),
            (vec!["m3".to_owned(), "m4".to_owned()], true),
            (vec!["m5".to_owned()], false),
        ]
    );
    let r = reader
        .request("irn_fetchMessages", json!({ "topic": t }))
        .await
        .unwrap();
    assert_eq!(r, json!({ "messages": [], "hasMore": false }));

    // Fetched counts as delivered: subscribing later pushes nothing old.
    reader.subscribe(&t).await;
    reader.expect_no_push().await;
    reader.close().await;
    let mut again = relay.client(&kp).await;
    again.expect_no_push().await;

    // Batch fetch pages across topics with the same page size.
    let (t1, t2) = (topic(), topic());
    publisher.publish(&t1, "a1").await;
    publisher.publish(&t1, "a2").await;
    publisher.publish(&t2, "b1").await;
    let mut seen = Vec::new();
    for _ in 0..5 {
        let r = again
            .request("irn_batchFetchMessages", json!({ "topics": [t1, t2] }))
            .await
            .unwrap();
        seen.extend(messages(&r));
        if r["hasMore"] == false {
            break;
        }
        assert!(messages(&r).len() <= 2);
    }
    assert_eq!(seen, ["a1", "a2", "b1"]);
}

#[tokio::test]
async fn duplicates_are_delivered_once() {
    let relay = TestRelay::start().await;
    let t = topic();
    let kp = Keypair::generate();
    let mut sub = relay.client(&kp).await;
    sub.subscribe(&t).await;
    let mut publisher = relay.new_client().await;
    publisher.publish(&t, "same").await;
    publisher.publish(&t, "same").await;
    assert_eq!(sub.expect_messages(1).await, ["same"]);
    sub.expect_no_push().await;

    // The same while the subscriber is away.
    sub.close().await;
    publisher.publish(&t, "again").await;
    publisher.publish(&t, "again").await;
    let mut other = relay.new_client().await;
    other.publish(&t, "again").await; // another publisher, same bytes
    let mut sub = relay.client(&kp).await;
    assert_eq!(sub.expect_messages(1).await, ["again"]);
    sub.expect_no_push().await;
}

#[tokio::test]
async fn per_topic_order_holds_for_200_messages() {
    let relay = TestRelay::start().await;
    let t = topic();
    let mut live = relay.new_client().await;
    live.subscribe(&t).await;

    let mut publisher = relay.new_client().await;
    let expected: Vec<String> = (0..200).map(|i| format!("msg-{i:03}")).collect();
    let requests = expected
        .iter()
        .map(|m| ("irn_publish", publish_params(&t, m, 300)))
        .collect();
    for r in publisher.pipeline(requests).await {
        assert_eq!(r, Ok(json!(true)));
    }
    assert_eq!(live.expect_messages(200).await, expected);

    // A late subscriber gets the stored ones in the same order.
    let mut late = relay.new_client().await;
    late.subscribe(&t).await;
    assert_eq!(late.expect_messages(200).await, expected);
    late.expect_no_push().await;
}

#[tokio::test]
async fn publishers_never_get_their_own_messages() {
    let relay = TestRelay::start().await;
    let t = topic();
    let kp = Keypair::generate();
    let mut me = relay.client(&kp).await;
    me.subscribe(&t).await;
    me.publish(&t, "mine").await;
    me.expect_no_push().await;

    let mut other = relay.new_client().await;
    other.subscribe(&t).await;
    assert_eq!(other.expect_messages(1).await, ["mine"]);

    // Not after a reconnect either, nor through fetch.
    me.close().await;
    let mut me = relay.client(&kp).await;
    me.expect_no_push().await;
    let r = me
        .request("irn_fetchMessages", json!({ "topic": t }))
        .await
        .unwrap();
    assert_eq!(messages(&r), Vec::<String>::new());

    // But what others publish still arrives.
    other.publish(&t, "theirs").await;
    assert_eq!(me.expect_messages(1).await, ["theirs"]);
}

#[tokio::test]
async fn unacknowledged_pushes_are_redelivered_after_reconnect() {
    let relay = TestRelay::start().await;
    let t = topic();
    let kp = Keypair::generate();
    let mut sub = relay.client(&kp).await;
    sub.auto_ack = false;
    sub.subscribe(&t).await;
    let mut publisher = relay.new_client().await;
    for m in ["a", "b", "c"] {
        publisher.publish(&t, m).await;
    }
    let mut frames = Vec::new();
    for _ in 0..3 {
        frames.push(sub.next_push_frame(WAIT).await.expect("push"));
    }
    sub.ack(&frames[1]["id"]).await;
    // An error reply is not an ack.
    let nack = json!({ "id": frames[2]["id"], "jsonrpc": "2.0", "error": { "code": -1, "message": "no" } });
    sub.raw_send(&nack.to_string()).await;
    sub.close().await;

    let mut sub = relay.client(&kp).await;
    assert_eq!(sub.expect_messages(2).await, ["a", "c"]);
    sub.expect_no_push().await;
    // Those were auto-acked: a third connection gets nothing.
    sub.close().await;
    let mut sub = relay.client(&kp).await;
    sub.expect_no_push().await;
}

#[tokio::test]
async fn unsubscribe_ends_the_sticky_subscription() {
    let relay = TestRelay::start().await;
    let t = topic();
    let kp = Keypair::generate();
    let mut a = relay.client(&kp).await;
    let id = a.subscribe(&t).await;
    let r = a
        .request("irn_unsubscribe", json!({ "topic": t, "id": id }))
        .await;
    assert_eq!(r, Ok(json!(true)));
    a.close().await;
    let mut b = relay.new_client().await;
    b.publish(&t, "nobody home").await;
    let mut a = relay.client(&kp).await;
    a.expect_no_push().await;
}

#[tokio::test]
async fn expired_messages_are_never_delivered() {
    let relay = TestRelay::with_env(&[
        ("RELAYBOX_LIMITS_TTL_MIN_SECS", "1"),
        ("RELAYBOX_STORE_SWEEP_INTERVAL_MS", "200"),
    ])
    .await;
    let t = topic();
    let kp = Keypair::generate();
    let mut offline = relay.client(&kp).await;
    offline.subscribe(&t).await;
    offline.close().await;

    let mut publisher = relay.new_client().await;
    let r = publisher
        .request("irn_publish", publish_params(&t, "short-lived", 1))
        .await;
    assert_eq!(r, Ok(json!(true)));
    publisher.publish(&t, "long-lived").await;
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;

    let mut fresh = relay.new_client().await;
    fresh.subscribe(&t).await;
    assert_eq!(fresh.expect_messages(1).await, ["long-lived"]);
    fresh.expect_no_push().await;

    let mut fetcher = relay.new_client().await;
    let r = fetcher
        .request("irn_fetchMessages", json!({ "topic": t }))
        .await
        .unwrap();
    assert_eq!(messages(&r), ["long-lived"]);

    let mut offline = relay.client(&kp).await;
    assert_eq!(offline.expect_messages(1).await, ["long-lived"]);
    offline.expect_no_push().await;

    // A topic whose only message expired is empty.
    let t2 = topic();
    let r = publisher
        .request("irn_publish", publish_params(&t2, "gone", 1))
        .await;
    assert_eq!(r, Ok(json!(true)));
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let r = fetcher
        .request("irn_fetchMessages", json!({ "topic": t2 }))
        .await
        .unwrap();
    assert_eq!(r, json!({ "messages": [], "hasMore": false }));
    let mut sub = relay.new_client().await;
    sub.subscribe(&t2).await;
    sub.expect_no_push().await;
}
