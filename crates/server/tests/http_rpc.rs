//! `POST /rpc` and `GET /public-key` against the real binary: what a
//! service without a socket does.

mod common;

use std::net::SocketAddr;

use common::*;
use relaybox_auth::Keypair;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// POSTs `body` to `/rpc`, with a Bearer token when given; returns the
/// status and the body parsed as JSON.
async fn post_rpc(addr: SocketAddr, bearer: Option<&str>, body: &str) -> (u16, Value) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let auth = bearer.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let req = format!(
        "POST /rpc HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(WAIT, s.read_to_end(&mut buf))
        .await
        .expect("response in time")
        .expect("read response");
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("http head");
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(body).expect("a JSON body"))
}

fn request(id: u64, method: &str, params: Value) -> String {
    json!({ "id": id, "jsonrpc": "2.0", "method": method, "params": params }).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_and_fetch_over_http_reach_sockets() {
    let relay = TestRelay::start().await;
    let t = topic();
    let mut sub = relay.new_client().await;
    sub.subscribe(&t).await;

    let service = Keypair::generate();
    let jwt = token(&service, &relay.url());
    let (status, reply) = post_rpc(
        relay.addr(),
        Some(&jwt),
        &request(
            1_000_000_001,
            "irn_publish",
            publish_params(&t, "from http", 300),
        ),
    )
    .await;
    assert_eq!((status, &reply["result"]), (200, &json!(true)), "{reply}");
    assert_eq!(reply["id"], json!(1_000_000_001u64));
    assert_eq!(sub.expect_messages(1).await, ["from http"]);

    // A socket client's message, fetched over HTTP by another client.
    let mut publisher = relay.new_client().await;
    publisher.publish(&t, "for the service").await;
    let (status, reply) = post_rpc(
        relay.addr(),
        Some(&jwt),
        &request(2_000_000_001, "irn_fetchMessages", json!({ "topic": t })),
    )
    .await;
    assert_eq!(status, 200);
    let messages: Vec<&str> = reply["result"]["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        messages,
        ["for the service"],
        "its own publish is not fetched back"
    );

    // A subscription made over HTTP is durable: a later socket of the same
    // client receives what was published meanwhile.
    let t2 = topic();
    let (status, reply) = post_rpc(
        relay.addr(),
        Some(&jwt),
        &request(3_000_000_001, "irn_subscribe", json!({ "topic": t2 })),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    assert!(reply["result"].is_string(), "{reply}");
    publisher.publish(&t2, "kept for the service").await;
    let mut later = relay.client(&service).await;
    assert_eq!(later.expect_messages(1).await, ["kept for the service"]);
}

#[tokio::test]
async fn http_errors_are_json() {
    let relay = TestRelay::start().await;
    let body = request(
        1_000_000_001,
        "irn_fetchMessages",
        json!({ "topic": topic() }),
    );
    let (status, reply) = post_rpc(relay.addr(), None, &body).await;
    assert_eq!(status, 401, "{reply}");
    assert!(
        reply["error"].is_string() && reply["code"].is_string(),
        "{reply}"
    );

    let (status, reply) = post_rpc(relay.addr(), Some("not.a.jwt"), &body).await;
    assert!(status == 401 || status == 403, "{status} {reply}");

    let jwt = token(&Keypair::generate(), &relay.url());
    let (status, reply) = post_rpc(
        relay.addr(),
        Some(&jwt),
        &request(1_000_000_002, "irn_publish", json!({ "topic": "nope" })),
    )
    .await;
    assert_eq!(status, 200, "JSON-RPC errors travel in the body");
    assert_eq!(reply["error"]["code"], json!(-32600), "{reply}");

    let (status, reply) = post_rpc(relay.addr(), Some(&jwt), "{not json").await;
    assert_eq!(status, 200);
    assert_eq!(reply["id"], json!(0), "unparseable: id 0, as on a socket");

    let (status, _, body) = http(relay.addr(), "GET", "/rpc").await;
    assert_eq!(status, 405, "{body}");
}

#[tokio::test]
async fn the_public_key_is_kept_across_restarts_or_configured() {
    let mut relay = TestRelay::start().await;
    let (status, _, first) = http(relay.addr(), "GET", "/public-key").await;
    assert_eq!(status, 200);
    assert_eq!(first.len(), 64);
    assert!(first.chars().all(|c| c.is_ascii_hexdigit()), "{first}");
    relay.restart().await;
    let (_, _, again) = http(relay.addr(), "GET", "/public-key").await;
    assert_eq!(again, first, "the same key after a restart");

    let seed = Keypair::generate();
    let configured = TestRelay::with_env(&[("RELAYBOX_SERVER_RELAY_KEY", &seed.seed_hex())]).await;
    let (_, _, key) = http(configured.addr(), "GET", "/public-key").await;
    assert_eq!(key, hex::encode(seed.public_key().as_bytes()));
}
