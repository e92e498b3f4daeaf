//! A request that names a relay topic is also pushed through the WebSocket
//! relay: a subscribed wallet gets it at once, a later one from the mailbox.

mod attest_support;

use attest_support::*;
use futures_util::{SinkExt, StreamExt};
use relaybox_auth::Keypair;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(relay: &TestRelay) -> Ws {
    let url = format!("ws://{}", relay.addr);
    let token = jwt_for(&Keypair::generate(), &new_id(), &url);
    let (ws, _) = tokio::time::timeout(
        WAIT,
        tokio_tungstenite::connect_async(format!("{url}/?auth={token}")),
    )
    .await
    .expect("connect timed out")
    .expect("connect");
    ws
}

/// Reads frames until one satisfies `pick`.
async fn next_matching(ws: &mut Ws, pick: impl Fn(&Value) -> bool) -> Value {
    loop {
        let msg = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("timed out waiting for a frame")
            .expect("socket ended")
            .expect("socket error");
        if let Message::Text(text) = msg {
            let v: Value = serde_json::from_str(text.as_str()).unwrap();
            if pick(&v) {
                return v;
            }
        }
    }
}

async fn subscribe(ws: &mut Ws, topic: &str) {
    let req = json!({ "id": 1, "jsonrpc": "2.0", "method": "irn_subscribe", "params": { "topic": topic } });
    ws.send(Message::text(req.to_string())).await.unwrap();
    let reply = next_matching(ws, |v| v["id"] == 1).await;
    assert!(reply["result"].is_string(), "{reply}");
}

fn check_push(push: &Value, topic: &str, id: &str) {
    let data = &push["params"]["data"];
    assert_eq!(data["topic"], topic);
    assert_eq!(data["tag"], 4400);
    let msg: Value = serde_json::from_str(data["message"].as_str().unwrap()).unwrap();
    assert_eq!(msg["type"], "relaybox_attest_request");
    assert_eq!(msg["request_id"], id);
    assert_eq!(msg["app_identity"], "app");
    assert_eq!(msg["status"], "pending");
    assert_eq!(msg["auth_request"]["nonce"], id);
    assert!(msg["expires_at"].as_u64().unwrap() > now_ms());
}

#[tokio::test]
async fn request_naming_a_topic_reaches_the_wallet_at_once() {
    let relay = TestRelay::start(&[("RELAYBOX_ATTEST_API_KEYS", "app-key")]).await;
    let topic = new_topic();
    let mut wallet = connect(&relay).await;
    subscribe(&mut wallet, &topic).await;

    let id = new_id();
    let mut body = request_body(&id, "app");
    body["relay_topic"] = json!(topic.to_uppercase());
    relay.create_with_key(&body, "app-key").await.assert_ok();
    let push = next_matching(&mut wallet, |v| v["method"] == "irn_subscription").await;
    check_push(&push, &topic, &id);

    // A wallet that subscribes later finds it in the topic's mailbox.
    let mut late = connect(&relay).await;
    subscribe(&mut late, &topic).await;
    let push = next_matching(&mut late, |v| v["method"] == "irn_subscription").await;
    check_push(&push, &topic, &id);

    // Polling works unchanged, and an idempotent repeat pushes nothing new.
    relay.create_with_key(&body, "app-key").await.assert_ok();
    assert_eq!(relay.status(&id).await.json["status"], "pending");
    relay
        .ack(&json!({ "request_id": id, "credential": "c" }))
        .await
        .assert_ok();
    let m = relay.metrics().await;
    assert!(
        m.contains(r#"relaybox_attest_topic_pushes_total{outcome="pushed"} 1"#),
        "{m}"
    );
}

/// Without an API key anyone could make the relay write into any wallet's
/// topic: a request naming a relay_topic must be key-authenticated, and a
/// key bound to app identities creates requests only for those.
#[tokio::test]
async fn topic_push_needs_an_api_key_bound_to_the_app() {
    let open = TestRelay::start(&[]).await;
    let mut body = request_body(&new_id(), "https://app.example");
    body["relay_topic"] = json!(new_topic());
    let r = open.create(&body).await;
    assert!(r.assert_error(403).contains("API key"));
    // Without a topic, anonymous creation still works (the seed's flow).
    open.create(&request_body(&new_id(), "https://app.example"))
        .await
        .assert_ok();

    let keyed = TestRelay::start(&[(
        "RELAYBOX_ATTEST_API_KEYS",
        "bound-key https://app.example,free-key",
    )])
    .await;
    keyed.create_with_key(&body, "bound-key").await.assert_ok();
    let mut other = request_body(&new_id(), "https://evil.example");
    other["relay_topic"] = json!(new_topic());
    keyed
        .create_with_key(&other, "bound-key")
        .await
        .assert_error(403);
    keyed.create_with_key(&other, "free-key").await.assert_ok();
    keyed
        .create_with_key(&other, "wrong-key")
        .await
        .assert_error(401);
}
