//! A webhook receiver for the tests: a loopback HTTP server that records
//! every POSTed event (verified with the relay's key from `GET /public-key`)
//! and answers a status the test sets.

#![allow(dead_code)] // each test binary uses a part of it

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use relaybox_auth::watch::{verify_event, WatchEventClaims};
use relaybox_auth::Keypair;
use serde_json::{json, Value};
use tokio::net::TcpListener;

/// The service URL every test registers.
pub const SERVICE: &str = "https://service.example";

/// The receiver: raw event tokens in arrival order.
pub struct Receiver {
    pub addr: SocketAddr,
    tokens: Arc<Mutex<Vec<String>>>,
    /// Status answered to each POST; counts the POSTs answered with it.
    status: Arc<AtomicU16>,
    pub posts: Arc<AtomicUsize>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let tokens: Arc<Mutex<Vec<String>>> = Arc::default();
        let status = Arc::new(AtomicU16::new(200));
        let posts = Arc::new(AtomicUsize::new(0));
        let (t, s, p) = (tokens.clone(), status.clone(), posts.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (t, s, p) = (t.clone(), s.clone(), p.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let (t, s, p) = (t.clone(), s.clone(), p.clone());
                        async move {
                            let body = req.into_body().collect().await?.to_bytes();
                            p.fetch_add(1, Ordering::SeqCst);
                            let code = s.load(Ordering::SeqCst);
                            if code == 200 {
                                let v: Value = serde_json::from_slice(&body).unwrap();
                                let auth = v["eventAuth"].as_array().unwrap();
                                assert_eq!(auth.len(), 1, "exactly one event per POST");
                                t.lock().unwrap().push(auth[0].as_str().unwrap().to_owned());
                            }
                            Ok::<_, hyper::Error>(
                                Response::builder()
                                    .status(StatusCode::from_u16(code).unwrap())
                                    .body(Full::new(Bytes::new()))
                                    .unwrap(),
                            )
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Receiver {
            addr,
            tokens,
            status,
            posts,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn answer(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    /// Every accepted event so far, verified as a service would: signed by
    /// `relay_id`, for [`SERVICE`], current.
    pub fn events(&self, relay_id: &str) -> Vec<WatchEventClaims> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        self.tokens
            .lock()
            .unwrap()
            .iter()
            .map(|t| verify_event(t, relay_id, SERVICE, now).expect("a valid event"))
            .collect()
    }

    /// Waits until at least `n` events arrived; returns them all.
    pub async fn wait_for(
        &self,
        relay_id: &str,
        n: usize,
        within: Duration,
    ) -> Vec<WatchEventClaims> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let got = self.events(relay_id);
            if got.len() >= n || tokio::time::Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A register (or unregister) token signed by `client`, with `overrides`
/// applied to the claims.
pub fn watch_token(client: &Keypair, aud: &str, whu: &str, typ: &str, overrides: Value) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut claims = json!({
        "act": "irn_watchRegister", "typ": typ, "iss": client.did_key(), "aud": aud,
        "sub": SERVICE, "whu": whu, "iat": now, "exp": now + 7 * 24 * 3600,
        "tag": [], "sts": ["accepted", "queued", "delivered"],
    });
    for (k, v) in overrides.as_object().unwrap() {
        claims[k] = v.clone();
    }
    relaybox_auth::jwt::sign_payload(client, &claims)
}
