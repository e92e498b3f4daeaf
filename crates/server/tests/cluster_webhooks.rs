//! Cluster mode, webhooks: two relay processes on one Redis sign as one
//! relay, and an event is sent once whichever node takes it.

mod cluster_support;
mod common;
mod webhook_support;

use std::time::Duration;

use cluster_support::*;
use common::*;
use relaybox_auth::Keypair;
use serde_json::json;
use webhook_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_on_a_publish_on_b_one_event() {
    if skip() {
        return;
    }
    let cl = Cluster::with_env(&[("RELAYBOX_WEBHOOKS_ALLOW_PRIVATE_TARGETS", "true")]).await;
    let (_, _, key_a) = http(cl.a.addr(), "GET", "/public-key").await;
    let (_, _, key_b) = http(cl.b.addr(), "GET", "/public-key").await;
    assert_eq!(key_a, key_b, "every node signs as the same relay");
    let bytes: [u8; 32] = hex::decode(key_a.trim()).unwrap().try_into().unwrap();
    let rid =
        relaybox_auth::did_key::encode(&relaybox_auth::VerifyingKey::from_bytes(&bytes).unwrap());

    let hooks = Receiver::start().await;
    let watched = Keypair::generate();
    let t = topic();
    let mut w = cl.a.client(&watched).await;
    w.subscribe(&t).await;
    let token = watch_token(
        &watched,
        &cl.a.url(),
        &hooks.url("/h"),
        "subscriber",
        json!({ "sts": ["queued"] }),
    );
    let answer = w
        .request("irn_watchRegister", json!({ "registerAuth": token }))
        .await
        .expect("registered on A");
    assert_eq!(answer, json!({ "relayId": rid }));
    w.close().await;
    // B learns of the registration within its refresh period.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut publisher = cl.b.new_client().await;
    publisher.publish(&t, "via b").await;
    let got = hooks.wait_for(&rid, 1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].evt.message, "via b");
    // Both nodes' senders look at the queue: still exactly one event.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(hooks.events(&rid).len(), 1, "sent once");
}
