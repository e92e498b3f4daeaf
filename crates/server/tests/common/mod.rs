//! Shared support for the relay's integration tests: a [`TestRelay`] that runs
//! the real `relaybox` binary on a private data directory (relay.rs), a
//! [`TestClient`] that speaks the relay JSON-RPC over a real WebSocket
//! (client.rs), and small helpers (tokens, topics, raw HTTP).
//!
//! Every test starts its own relay on port 0, so tests never share state and
//! can run in parallel.

#![allow(dead_code)]

mod client;
mod relay;

pub use client::*;
// Some test binaries start the relay themselves (dev_mode.rs).
#[allow(unused_imports)]
pub use relay::*;

use std::net::SocketAddr;
use std::time::Duration;

use rand::RngCore;
use relaybox_auth::jwt::{self, Claims};
use relaybox_auth::Keypair;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Timeout for things that should happen (start-up, replies, pushes).
pub const WAIT: Duration = Duration::from_secs(10);
/// How long to listen when asserting that nothing arrives.
pub const QUIET: Duration = Duration::from_millis(600);

// ---------------------------------------------------------------------------
// Identity, topics, hashes
// ---------------------------------------------------------------------------

pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A client-auth JWT as the JS client makes it.
pub fn token(kp: &Keypair, aud: &str) -> String {
    let iat = now_secs();
    token_at(kp, aud, iat, Some(iat + 3600))
}

pub fn token_at(kp: &Keypair, aud: &str, iat: i64, exp: Option<i64>) -> String {
    let mut sub = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut sub);
    jwt::sign(
        kp,
        &Claims {
            iss: kp.did_key(),
            sub: hex::encode(sub),
            aud: aud.to_owned(),
            iat,
            exp,
        },
    )
}

/// A random topic, 64 lowercase hex characters.
pub fn topic() -> String {
    let mut t = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut t);
    hex::encode(t)
}

/// `sha256_hex(topic + client_id)`, the subscription id JS computes itself.
pub fn sub_id(topic: &str, did: &str) -> String {
    let mut h = Sha256::new();
    h.update(topic.as_bytes());
    h.update(did.as_bytes());
    hex::encode(h.finalize())
}

pub fn publish_params(topic: &str, message: &str, ttl: u32) -> Value {
    json!({ "topic": topic, "message": message, "ttl": ttl, "tag": 1108, "prompt": false })
}

/// `(code, data)` of a JSON-RPC error object.
pub fn code_tag(err: &Value) -> (i64, String) {
    (
        err["code"]
            .as_i64()
            .unwrap_or_else(|| panic!("no code in {err}")),
        err["data"].as_str().unwrap_or("").to_owned(),
    )
}

// ---------------------------------------------------------------------------
// Plain HTTP
// ---------------------------------------------------------------------------

/// One HTTP/1.1 request with `Connection: close`; returns (status, headers, body).
pub async fn http(addr: SocketAddr, method: &str, path: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(WAIT, s.read_to_end(&mut buf))
        .await
        .expect("http response in time")
        .expect("read http response");
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("http head");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    (status, head.to_owned(), body.to_owned())
}

/// The value of an unlabelled metric in the relay's `/metrics` text.
pub async fn metric(addr: SocketAddr, name: &str) -> Option<f64> {
    let (_, _, body) = http(addr, "GET", "/metrics").await;
    body.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == name).then(|| v.trim().parse().ok()).flatten()
    })
}

/// The value of a labelled metric (`name{...label...}`), 0 if absent.
pub async fn metric_labeled(addr: SocketAddr, name: &str, label: &str) -> f64 {
    let (_, _, body) = http(addr, "GET", "/metrics").await;
    body.lines()
        .filter(|l| l.starts_with(name) && l.contains(label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}
