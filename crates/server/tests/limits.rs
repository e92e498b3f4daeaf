//! Resource limits (mailbox size, subscriptions, rate, frame size, send
//! queue) and liveness (pings, idle timeout).

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::*;
use futures_util::SinkExt;
use relaybox_auth::Keypair;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn mailbox_limit_refuses_instead_of_dropping() {
    let relay = TestRelay::with_env(&[("RELAYBOX_LIMITS_MAX_MESSAGES_PER_TOPIC", "3")]).await;
    let mut c = relay.new_client().await;
    let t = topic();
    for m in ["1", "2", "3"] {
        c.publish(&t, m).await;
    }
    let err = c
        .request("irn_publish", publish_params(&t, "4", 300))
        .await
        .expect_err("fourth message must be refused");
    assert_eq!(code_tag(&err), (-32000, "MailboxLimitExceeded".into()));
    assert!(err["message"]
        .as_str()
        .unwrap()
        .starts_with("Request handler error: "));

    // Other topics are unaffected, and nothing stored was dropped.
    c.publish(&topic(), "elsewhere").await;
    let mut sub = relay.new_client().await;
    sub.subscribe(&t).await;
    assert_eq!(sub.expect_messages(3).await, ["1", "2", "3"]);
    sub.expect_no_push().await;
}

#[tokio::test]
async fn subscription_limit_per_client() {
    let relay = TestRelay::with_env(&[("RELAYBOX_LIMITS_MAX_SUBSCRIPTIONS_PER_CLIENT", "2")]).await;
    let kp = Keypair::generate();
    let mut c = relay.client(&kp).await;
    let (t1, t2, t3, t4) = (topic(), topic(), topic(), topic());
    c.subscribe(&t1).await;
    c.subscribe(&t2).await;
    let err = c
        .request("irn_subscribe", json!({ "topic": t3 }))
        .await
        .expect_err("third subscription");
    assert_eq!(code_tag(&err), (-32000, "SubscriberLimitExceeded".into()));
    let err = c
        .request("irn_batchSubscribe", json!({ "topics": [t3, t4] }))
        .await
        .expect_err("batch over the limit");
    assert_eq!(code_tag(&err), (-32000, "SubscriberLimitExceeded".into()));
    // Subscribing again to a topic one already has is not a new subscription.
    assert_eq!(c.subscribe(&t1).await, sub_id(&t1, &kp.did_key()));

    // The limit counts persisted subscriptions, also after a reconnect.
    c.close().await;
    let mut c = relay.client(&kp).await;
    let err = c
        .request("irn_subscribe", json!({ "topic": t3 }))
        .await
        .expect_err("still two subscriptions after reconnect");
    assert_eq!(code_tag(&err), (-32000, "SubscriberLimitExceeded".into()));
    let r = c
        .request("irn_unsubscribe", json!({ "topic": t1, "id": "x" }))
        .await;
    assert_eq!(r, Ok(json!(true)));
    c.subscribe(&t3).await;
}

#[tokio::test]
async fn rate_limit_answers_3001() {
    let relay = TestRelay::with_env(&[
        ("RELAYBOX_RATE_LIMIT_REQUESTS_PER_SEC", "5"),
        ("RELAYBOX_RATE_LIMIT_BURST", "5"),
        ("RELAYBOX_LIMITS_MAX_BATCH", "5"),
    ])
    .await;
    let kp = Keypair::generate();
    let mut c = relay.client(&kp).await;
    let requests = (0..20)
        .map(|_| ("irn_subscribe", json!({ "topic": topic() })))
        .collect();
    let results = c.pipeline(requests).await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let limited: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(ok >= 5, "the burst is allowed: {results:?}");
    assert!(
        limited.len() >= 5,
        "beyond the burst is refused: {results:?}"
    );
    for err in &limited {
        assert_eq!(code_tag(err), (3001, "TooManyRequests".into()));
        assert!(
            err["message"]
                .as_str()
                .unwrap()
                .starts_with("Too many requests"),
            "{err}"
        );
    }

    // The bucket is per client: a second socket of the same key shares it.
    let mut same = relay.client(&kp).await;
    let r = same
        .request("irn_subscribe", json!({ "topic": topic() }))
        .await;
    if let Err(e) = &r {
        assert_eq!(code_tag(e), (3001, "TooManyRequests".into()));
    }
    // It refills.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let r = c
        .request("irn_subscribe", json!({ "topic": topic() }))
        .await;
    assert!(r.is_ok(), "{r:?}");
}

#[tokio::test]
async fn oversized_frame_closes_with_1009() {
    let relay = TestRelay::with_env(&[
        ("RELAYBOX_LIMITS_MAX_MESSAGE_BYTES", "32768"),
        ("RELAYBOX_LIMITS_MAX_FRAME_BYTES", "65536"),
    ])
    .await;
    let mut c = relay.new_client().await;
    // Within the frame cap but over the message cap: an error reply.
    let err = c
        .request(
            "irn_publish",
            publish_params(&topic(), &"x".repeat(40_000), 300),
        )
        .await
        .expect_err("message over max");
    assert_eq!(code_tag(&err), (-32600, "PayloadSizeExceeded".into()));
    // Over the frame cap: the socket is closed.
    let big = json!({ "id": 1, "jsonrpc": "2.0", "method": "irn_publish",
        "params": publish_params(&topic(), &"x".repeat(100_000), 300) });
    c.ws.send(Message::text(big.to_string())).await.unwrap();
    let (code, _) = c.expect_close().await.expect("close frame");
    assert_eq!(code, 1009);
}

#[tokio::test]
async fn slow_consumer_is_disconnected_and_loses_nothing() {
    const N: usize = 80;
    // A consumer that stops reading stops acking too: either its full push
    // window or its stuck writes close it after the stall period.
    let relay = TestRelay::with_env(&[
        ("RELAYBOX_LIMITS_SEND_QUEUE", "4"),
        ("RELAYBOX_WEBSOCKET_WRITE_STALL_MS", "2000"),
        ("RELAYBOX_RATE_LIMIT_REQUESTS_PER_SEC", "0"),
        ("RELAYBOX_RATE_LIMIT_REQUESTS_PER_SEC_PER_IP", "0"),
    ])
    .await;
    let t = topic();
    let kp = Keypair::generate();
    let mut slow = TestClient::connect_small_buffer(&relay.url(), &kp).await;
    slow.subscribe(&t).await;
    // From here on `slow` does not read its socket.

    let mut publisher = relay.new_client().await;
    let filler = "z".repeat(100_000);
    let all: Vec<String> = (0..N).map(|i| format!("{i:04}-{filler}")).collect();
    // One at a time, so that the relay keeps up with its queue until the
    // socket itself is full: then it is stuck writing when the queue overflows.
    for m in &all {
        publisher.publish(&t, m).await;
    }

    // The relay drops the consumer even though it never reads again.
    let deadline = Instant::now() + WAIT;
    loop {
        let kicked = metric(relay.addr(), "relaybox_slow_consumer_disconnects_total").await;
        let conns = metric(relay.addr(), "relaybox_connections").await;
        if kicked >= Some(1.0) && conns == Some(1.0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "slow consumer still connected (kicks {kicked:?}, connections {conns:?})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // It reads what had reached it, then finds the socket closed.
    let mut got = BTreeSet::new();
    while let Some(p) = slow.next_push(Duration::from_secs(3)).await {
        got.insert(p["data"]["message"].as_str().unwrap()[..4].to_owned());
    }
    let first = got.len();
    assert!(
        first < N,
        "the slow consumer cannot have received everything live"
    );
    if let Some((code, _)) = &slow.closed {
        assert_eq!(*code, 1013);
    }

    // After reconnecting, it receives everything that was left.
    let mut again = TestClient::connect(&relay.url(), &kp).await;
    for p in again
        .drain_pushes(Duration::from_secs(2), Duration::from_secs(60))
        .await
    {
        got.insert(p["data"]["message"].as_str().unwrap()[..4].to_owned());
    }
    let missing: Vec<_> = (0..N)
        .map(|i| format!("{i:04}"))
        .filter(|k| !got.contains(k))
        .collect();
    assert!(
        missing.is_empty(),
        "lost {missing:?} ({first} before the kick)"
    );
}

#[tokio::test]
async fn reading_clients_stay_and_silent_ones_are_closed() {
    let relay = TestRelay::with_env(&[
        ("RELAYBOX_WEBSOCKET_PING_INTERVAL_MS", "500"),
        ("RELAYBOX_WEBSOCKET_IDLE_TIMEOUT_MS", "1500"),
    ])
    .await;
    let mut reader = relay.new_client().await;
    let mut silent = relay.new_client().await;

    // The reader reads (and so answers pings) for 3.5 s without sending anything.
    let end = Instant::now() + Duration::from_millis(3500);
    while Instant::now() < end {
        if let Some(f) = reader.recv_frame(Duration::from_millis(200)).await {
            panic!("unexpected frame {f}");
        }
        assert!(
            reader.closed.is_none(),
            "reader was closed: {:?}",
            reader.closed
        );
    }
    assert!(reader.pings >= 3, "saw {} pings", reader.pings);
    reader.publish(&topic(), "still connected").await;

    // The silent one never read, so never answered a ping: it was closed.
    // (No close frame at all means the relay gave up on the handshake: also closed.)
    if let Some((code, reason)) = silent.expect_close().await {
        assert_eq!(code, 1001, "{reason}");
    }
}
