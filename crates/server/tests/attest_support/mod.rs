//! Support for the attestation integration tests (`tests/attest_*.rs`): the
//! real `relaybox` binary on a private data directory, one-shot HTTP/1.1
//! requests with hyper's client, and small helpers (ids, clock, JWTs).

#![allow(dead_code)]

#[path = "../common/mod.rs"]
mod common;

use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::HeaderMap;
use hyper::Request;
use hyper_util::rt::TokioIo;
use rand::RngCore;
use relaybox_auth::jwt::{self, Claims};
use relaybox_auth::Keypair;
use serde_json::{json, Value};
use tokio::net::TcpStream;

/// The default endpoint prefix.
pub const PREFIX: &str = "/api/mwen/relay";
/// Timeout for anything that should happen.
pub const WAIT: Duration = Duration::from_secs(10);

/// The relay binary as a child process: the shared launcher of
/// `tests/common`, plus the attestation-specific request helpers below.
pub struct TestRelay {
    inner: common::TestRelay,
    pub addr: SocketAddr,
}

impl TestRelay {
    /// Starts a relay with `RELAYBOX_*` overrides.
    pub async fn start(env: &[(&str, &str)]) -> TestRelay {
        let inner = common::TestRelay::with_env(env).await;
        let addr = inner.addr();
        TestRelay { inner, addr }
    }

    /// The relay's stderr so far.
    pub fn log(&self) -> String {
        self.inner.log()
    }

    /// SIGKILL and reap.
    pub async fn kill9(&mut self) {
        self.inner.kill9().await;
    }

    /// Kill -9, then start again on the same data directory (new port).
    pub async fn restart(&mut self) {
        self.inner.restart().await;
        self.addr = self.inner.addr();
    }

    pub async fn get(&self, path: &str) -> Reply {
        send(self.addr, "GET", path, &[], None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.post_with(path, &[], body).await
    }

    pub async fn post_with(&self, path: &str, headers: &[(&str, &str)], body: &Value) -> Reply {
        let mut h = vec![("content-type", "application/json")];
        h.extend_from_slice(headers);
        send(
            self.addr,
            "POST",
            path,
            &h,
            Some(body.to_string().into_bytes()),
        )
        .await
    }

    /// `POST {prefix}` with the given request.
    pub async fn create(&self, body: &Value) -> Reply {
        self.post(PREFIX, body).await
    }

    /// `POST {prefix}` with `Authorization: Bearer <key>`.
    pub async fn create_with_key(&self, body: &Value, key: &str) -> Reply {
        let auth = format!("Bearer {key}");
        self.post_with(PREFIX, &[("authorization", auth.as_str())], body)
            .await
    }

    /// `POST {prefix}/ack`.
    pub async fn ack(&self, body: &Value) -> Reply {
        self.post(&format!("{PREFIX}/ack"), body).await
    }

    /// `GET {prefix}/{id}`.
    pub async fn status(&self, id: &str) -> Reply {
        self.get(&format!("{PREFIX}/{id}")).await
    }

    /// The Prometheus text.
    pub async fn metrics(&self) -> String {
        String::from_utf8_lossy(&self.get("/metrics").await.raw).into_owned()
    }
}

/// A response: status, headers, the body as JSON (`Null` if it is not JSON) and raw.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub json: Value,
    pub raw: Bytes,
}

impl Reply {
    /// Asserts the status and that the body is `{"error": "<non-empty>"}`.
    #[track_caller]
    pub fn assert_error(&self, status: u16) -> &str {
        assert_eq!(self.status, status, "unexpected reply {self:?}");
        let msg = self.json["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error in {self:?}"));
        assert!(!msg.is_empty());
        assert_eq!(self.json.as_object().map(|o| o.len()), Some(1), "{self:?}");
        assert_eq!(
            self.headers
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/json")
        );
        msg
    }

    #[track_caller]
    pub fn assert_ok(&self) -> &Value {
        assert_eq!(self.status, 200, "unexpected reply {self:?}");
        &self.json
    }
}

/// One request on a fresh connection.
pub async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> Reply {
    let fut = async {
        let stream = TcpStream::connect(addr).await.expect("connect");
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("http handshake");
        tokio::spawn(conn);
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", addr.to_string());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .expect("request");
        let resp = sender.send_request(req).await.expect("send request");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let raw = resp.into_body().collect().await.expect("body").to_bytes();
        let json = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            json,
            raw,
        }
    };
    tokio::time::timeout(WAIT, fut)
        .await
        .unwrap_or_else(|_| panic!("{method} {path} timed out"))
}

/// A random request id with 128 bits of entropy (32 hex characters).
pub fn new_id() -> String {
    let mut b = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// A random 32-byte topic as 64 hex characters.
pub fn new_topic() -> String {
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// A typical create body.
pub fn request_body(id: &str, app: &str) -> Value {
    json!({
        "request_id": id,
        "app_identity": app,
        "auth_request": { "scopes": ["email", "age_over_18"], "nonce": id },
    })
}

/// A did:key JWT signed by `kp` with the given `sub` and `aud`.
pub fn jwt_for(kp: &Keypair, sub: &str, aud: &str) -> String {
    let iat = (now_ms() / 1000) as i64;
    jwt::sign(
        kp,
        &Claims {
            iss: kp.did_key(),
            sub: sub.to_owned(),
            aud: aud.to_owned(),
            iat,
            exp: Some(iat + 600),
        },
    )
}

/// Polls `check` every 50 ms until it returns true or `WAIT` passes.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
