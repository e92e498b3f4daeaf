//! Relay webhooks against the real binary: registration, the events of an
//! offline and an online subscriber, receipts, publisher watches,
//! unregister, expiry, refused tokens, retries and a crash.

mod common;
mod webhook_support;

use std::time::Duration;

use common::*;
use relaybox_auth::Keypair;
use serde_json::{json, Value};
use webhook_support::*;

const EVENTS_WAIT: Duration = Duration::from_secs(10);

async fn relay_id(relay: &TestRelay) -> String {
    let (status, _, key) = http(relay.addr(), "GET", "/public-key").await;
    assert_eq!(status, 200);
    let bytes: [u8; 32] = hex::decode(key.trim()).unwrap().try_into().unwrap();
    relaybox_auth::did_key::encode(&relaybox_auth::VerifyingKey::from_bytes(&bytes).unwrap())
}

async fn register(c: &mut TestClient, token: &str) -> Result<Value, Value> {
    c.request("irn_watchRegister", json!({ "registerAuth": token }))
        .await
}

/// Waits until an event with `message` and `status` arrived; returns all.
async fn wait_for_event(
    hooks: &Receiver,
    rid: &str,
    message: &str,
    status: &str,
) -> Vec<relaybox_auth::watch::WatchEventClaims> {
    let deadline = tokio::time::Instant::now() + EVENTS_WAIT;
    loop {
        let got = hooks.events(rid);
        let want = (message.to_owned(), status.to_owned());
        if statuses(&got).contains(&want) || tokio::time::Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn statuses(events: &[relaybox_auth::watch::WatchEventClaims]) -> Vec<(String, String)> {
    events
        .iter()
        .map(|e| {
            let status = serde_json::to_value(e.evt.status).unwrap();
            (e.evt.message.clone(), status.as_str().unwrap().to_owned())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watched_subscriber_gets_queued_accepted_and_delivered_events() {
    let relay = TestRelay::with_env(&[("RELAYBOX_WEBHOOKS_ALLOW_PRIVATE_TARGETS", "true")]).await;
    let rid = relay_id(&relay).await;
    let hooks = Receiver::start().await;
    let t = topic();
    let watched = Keypair::generate();
    let mut w = relay.client(&watched).await;
    w.subscribe(&t).await;
    w.close().await;

    // Any socket may carry the registration: the JWT is the watched client's.
    let mut service = relay.new_client().await;
    let token = watch_token(
        &watched,
        &relay.url(),
        &hooks.url("/hook"),
        "subscriber",
        json!({}),
    );
    let answer = register(&mut service, &token).await.expect("registered");
    assert_eq!(answer, json!({ "relayId": rid }));

    let mut publisher = relay.new_client().await;
    publisher.publish(&t, "while away").await;
    let got = hooks.wait_for(&rid, 1, EVENTS_WAIT).await;
    assert_eq!(statuses(&got), [("while away".into(), "queued".into())]);
    let e = &got[0];
    assert_eq!(e.sub, watched.did_key());
    assert_eq!(e.aud, SERVICE);
    assert_eq!(e.whu, hooks.url("/hook"));
    assert_eq!(e.evt.topic, t);
    assert!(e.evt.published_at > 0 && e.evt.message_id > 0);

    // Back online: the queued message is pushed (delivered), and a new one
    // is accepted and delivered.
    let mut w = relay.client(&watched).await;
    assert_eq!(w.expect_messages(1).await, ["while away"]);
    publisher.publish(&t, "while here").await;
    assert_eq!(w.expect_messages(1).await, ["while here"]);
    let got = hooks.wait_for(&rid, 4, EVENTS_WAIT).await;
    // At least once: a push the relay repeats (as it may after a
    // reconnect) reports `delivered` again, with the same messageId.
    let mut seen = statuses(&got);
    seen.sort();
    seen.dedup();
    assert_eq!(
        seen,
        [
            ("while away".into(), "delivered".into()),
            ("while away".into(), "queued".into()),
            ("while here".into(), "accepted".into()),
            ("while here".into(), "delivered".into()),
        ]
    );
    let ids: Vec<u64> = got
        .iter()
        .filter(|e| e.evt.message == "while away")
        .map(|e| e.evt.message_id)
        .collect();
    assert_eq!(ids[0], ids[1], "one message, one id, whatever the status");

    // A receipt with the event's id clears the message for the client and
    // reports it delivered.
    w.close().await;
    publisher.publish(&t, "for the receipt").await;
    let got = wait_for_event(&hooks, &rid, "for the receipt", "queued").await;
    let queued = got
        .iter()
        .find(|e| e.evt.message == "for the receipt")
        .expect("queued event");
    let mut again = relay.client(&watched).await;
    again.auto_ack = false;
    let r = again
        .request(
            "irn_batchReceive",
            json!({ "receipts": [{ "topic": t, "messageId": queued.evt.message_id }] }),
        )
        .await;
    assert_eq!(r, Ok(json!(true)));
    let got = wait_for_event(&hooks, &rid, "for the receipt", "delivered").await;
    assert!(statuses(&got).contains(&("for the receipt".into(), "delivered".into())));

    // Unregistered: no more events.
    let un = watch_token(
        &watched,
        &relay.url(),
        &hooks.url("/hook"),
        "subscriber",
        json!({ "act": "irn_watchUnregister" }),
    );
    assert_eq!(
        service
            .request("irn_watchUnregister", json!({ "unregisterAuth": un }))
            .await,
        Ok(json!(true))
    );
    publisher.publish(&t, "after unregister").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        hooks
            .events(&rid)
            .iter()
            .all(|e| e.evt.message != "after unregister"),
        "no event after unregister"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watched_publisher_gets_accepted_events_and_expired_watches_stop() {
    let relay = TestRelay::with_env(&[("RELAYBOX_WEBHOOKS_ALLOW_PRIVATE_TARGETS", "true")]).await;
    let rid = relay_id(&relay).await;
    let hooks = Receiver::start().await;
    let publisher_kp = Keypair::generate();
    let mut p = relay.client(&publisher_kp).await;
    let now = now_secs();
    let token = watch_token(
        &publisher_kp,
        &relay.url(),
        &hooks.url("/p"),
        "publisher",
        json!({ "exp": now + 3, "tag": [1108] }),
    );
    register(&mut p, &token).await.expect("registered");
    let t = topic();
    p.request(
        "irn_publish",
        json!({ "topic": t, "message": "tagged", "ttl": 300, "tag": 1108 }),
    )
    .await
    .unwrap();
    p.request(
        "irn_publish",
        json!({ "topic": t, "message": "other tag", "ttl": 300, "tag": 1 }),
    )
    .await
    .unwrap();
    let got = hooks.wait_for(&rid, 1, EVENTS_WAIT).await;
    assert_eq!(statuses(&got), [("tagged".into(), "accepted".into())]);
    assert_eq!(got[0].evt.tag, 1108);

    // The registration ends with its JWT.
    tokio::time::sleep(Duration::from_secs(4)).await;
    p.request(
        "irn_publish",
        json!({ "topic": t, "message": "late", "ttl": 300, "tag": 1108 }),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        hooks.events(&rid).len(),
        1,
        "an expired watch sends nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_register_tokens_get_their_errors() {
    let relay = TestRelay::with_env(&[("RELAYBOX_WEBHOOKS_MAX_PER_CLIENT", "3")]).await;
    let mut c = relay.new_client().await;
    let kp = Keypair::generate();
    let aud = relay.url();
    let public_hook = "https://hooks.example.com/h";
    let now = now_secs();
    let cases = [
        (json!({ "act": "irn_publish" }), "InvalidAction"),
        (json!({ "aud": "wss://another.relay" }), "InvalidJwt"),
        (json!({ "exp": now - 10 }), "InvalidTtl"),
        (json!({ "exp": now + 31 * 24 * 3600 }), "InvalidTtl"),
        (
            json!({ "whu": format!("https://h.example/{}", "x".repeat(250)) }),
            "InvalidWebhookUrl",
        ),
        (
            json!({ "whu": "http://127.0.0.1:9/h" }),
            "InvalidWebhookUrl",
        ),
        (json!({ "whu": "http://10.0.0.1/h" }), "InvalidWebhookUrl"),
        (json!({ "sub": "not a url" }), "InvalidServiceUrl"),
    ];
    for (overrides, tag) in cases {
        let token = watch_token(&kp, &aud, public_hook, "subscriber", overrides.clone());
        let err = register(&mut c, &token).await.expect_err(tag);
        assert_eq!(code_tag(&err), (-32000, tag.into()), "{overrides}");
    }
    // The limit per client, here 3; the same (sub, whu) replaces.
    for i in 0..3 {
        let hook = format!("https://hooks.example.com/{i}");
        let token = watch_token(&kp, &aud, &hook, "subscriber", json!({}));
        register(&mut c, &token).await.expect("within the limit");
    }
    let same = watch_token(
        &kp,
        &aud,
        "https://hooks.example.com/0",
        "publisher",
        json!({}),
    );
    register(&mut c, &same)
        .await
        .expect("a replacement is not one more");
    let fourth = watch_token(
        &kp,
        &aud,
        "https://hooks.example.com/3",
        "subscriber",
        json!({}),
    );
    let err = register(&mut c, &fourth).await.expect_err("over the limit");
    assert_eq!(err["code"], json!(-32000), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_webhooks_are_retried_and_events_survive_a_crash() {
    let mut relay =
        TestRelay::with_env(&[("RELAYBOX_WEBHOOKS_ALLOW_PRIVATE_TARGETS", "true")]).await;
    let rid = relay_id(&relay).await;
    let hooks = Receiver::start().await;
    hooks.answer(503);
    let watched = Keypair::generate();
    let t = topic();
    let mut w = relay.client(&watched).await;
    w.subscribe(&t).await;
    let token = watch_token(
        &watched,
        &relay.url(),
        &hooks.url("/h"),
        "subscriber",
        json!({ "sts": ["queued"] }),
    );
    register(&mut w, &token).await.expect("registered");
    w.close().await;
    let mut publisher = relay.new_client().await;
    publisher.publish(&t, "one").await;
    // The service fails for a while: the event is retried.
    let deadline = tokio::time::Instant::now() + EVENTS_WAIT;
    while hooks.posts.load(std::sync::atomic::Ordering::SeqCst) < 2 {
        assert!(tokio::time::Instant::now() < deadline, "no retry");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Acknowledged, then the relay dies before the service took the event.
    publisher.publish(&t, "two").await;
    relay.kill9().await;
    hooks.answer(200);
    relay.restart().await;
    let got = hooks.wait_for(&rid, 2, Duration::from_secs(20)).await;
    let mut seen = statuses(&got);
    seen.sort();
    seen.dedup();
    assert_eq!(
        seen,
        [
            ("one".into(), "queued".into()),
            ("two".into(), "queued".into())
        ],
        "every event arrives after the failures and the crash"
    );
    // Resent events keep their message id.
    let mut by_message = std::collections::HashMap::new();
    for e in &got {
        let id = by_message
            .entry(e.evt.message.clone())
            .or_insert(e.evt.message_id);
        assert_eq!(*id, e.evt.message_id);
    }
}
