//! [`TestClient`]: a relay client over tokio-tungstenite that buffers the
//! relay's pushes while it waits for replies.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use relaybox_auth::Keypair;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::{publish_params, token, QUIET, WAIT};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

// ---------------------------------------------------------------------------
// WebSocket client
// ---------------------------------------------------------------------------

/// Opens a WebSocket to `url` (which may carry a query), with an optional
/// `Authorization: Bearer` token.
pub async fn upgrade(url: &str, bearer: Option<&str>) -> Result<Ws, WsError> {
    let mut req = url.into_client_request()?;
    if let Some(t) = bearer {
        req.headers_mut().insert(
            "Authorization",
            HeaderValue::from_str(&format!("Bearer {t}")).unwrap(),
        );
    }
    let (ws, _resp) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(req))
        .await
        .map_err(|_| WsError::Io(std::io::Error::other("connect timed out")))??;
    Ok(ws)
}

/// An upgrade that must be refused with an HTTP error: its status and JSON body.
pub async fn refused(url: &str, bearer: Option<&str>) -> (u16, Value) {
    match upgrade(url, bearer).await {
        Ok(_) => panic!("upgrade to {url} unexpectedly succeeded"),
        Err(WsError::Http(resp)) => {
            let body = resp.body().clone().unwrap_or_default();
            let json = serde_json::from_slice(&body).unwrap_or_else(|_| {
                panic!("body is not JSON: {:?}", String::from_utf8_lossy(&body))
            });
            (resp.status().as_u16(), json)
        }
        Err(e) => panic!("expected an HTTP refusal, got {e}"),
    }
}

/// Reads until the server closes; returns its close frame's (code, reason),
/// or `None` if the stream ended without one. Panics after `WAIT`.
pub async fn read_until_close(ws: &mut Ws) -> Option<(u16, String)> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => panic!("server did not close the socket in time"),
            Ok(None) | Ok(Some(Err(_))) => return None,
            Ok(Some(Ok(Message::Close(frame)))) => {
                return frame.map(|f: CloseFrame| (u16::from(f.code), f.reason.to_string()));
            }
            Ok(Some(Ok(_))) => {}
        }
    }
}

/// A relay client that buffers the relay's pushes while it waits for replies.
pub struct TestClient {
    pub ws: Ws,
    pub did: String,
    /// Ack every `irn_subscription` as soon as it is read (the default).
    pub auto_ack: bool,
    pushes: VecDeque<Value>,
    next_id: u64,
    /// Ping frames seen from the relay.
    pub pings: usize,
    /// The relay's close frame, once seen.
    pub closed: Option<(u16, String)>,
}

impl TestClient {
    /// Connects with the token in `?auth=` (aud = `url`).
    pub async fn connect(url: &str, kp: &Keypair) -> TestClient {
        let full = format!("{url}/?auth={}", token(kp, url));
        let ws = upgrade(&full, None).await.expect("connect");
        TestClient::new(ws, kp)
    }

    /// Connects with the token in `Authorization: Bearer` (aud = `url`).
    pub async fn connect_bearer(url: &str, kp: &Keypair) -> TestClient {
        let ws = upgrade(url, Some(&token(kp, url))).await.expect("connect");
        TestClient::new(ws, kp)
    }

    /// Connects over a socket with a small, fixed receive buffer, so that a
    /// client that stops reading backs the relay up quickly.
    pub async fn connect_small_buffer(url: &str, kp: &Keypair) -> TestClient {
        let addr: SocketAddr = url
            .trim_start_matches("ws://")
            .parse()
            .expect("ws://ip:port");
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(16 * 1024).unwrap();
        let stream = socket.connect(addr).await.expect("tcp connect");
        let req = format!("{url}/?auth={}", token(kp, url));
        let (ws, _) = tokio_tungstenite::client_async(req, MaybeTlsStream::Plain(stream))
            .await
            .expect("upgrade");
        TestClient::new(ws, kp)
    }

    pub fn new(ws: Ws, kp: &Keypair) -> TestClient {
        TestClient {
            ws,
            did: kp.did_key(),
            auto_ack: true,
            pushes: VecDeque::new(),
            next_id: 1_700_000_000_000 + (rand::random::<u32>() as u64),
            pings: 0,
            closed: None,
        }
    }

    /// Sends a text frame as is.
    pub async fn raw_send(&mut self, text: &str) {
        self.ws
            .send(Message::text(text.to_owned()))
            .await
            .expect("send frame");
    }

    /// The next message of any kind, unprocessed; `None` on timeout or end.
    pub async fn raw_recv(&mut self, timeout: Duration) -> Option<Message> {
        match tokio::time::timeout(timeout, self.ws.next()).await {
            Ok(Some(Ok(m))) => Some(m),
            _ => None,
        }
    }

    /// Reads one message and files it: pushes go to the buffer (acked in
    /// auto-ack mode), anything else non-push is returned. `Err` when the
    /// socket ends or `deadline` passes.
    async fn read_one(&mut self, deadline: tokio::time::Instant) -> Result<Option<Value>, String> {
        let msg = match tokio::time::timeout_at(deadline, self.ws.next()).await {
            Err(_) => return Err("timeout".into()),
            Ok(None) => return Err("stream ended".into()),
            Ok(Some(Err(e))) => return Err(format!("socket error: {e}")),
            Ok(Some(Ok(m))) => m,
        };
        match msg {
            Message::Text(text) => {
                let v: Value = serde_json::from_str(text.as_str())
                    .unwrap_or_else(|e| panic!("relay sent invalid JSON ({e}): {text}"));
                if v["method"] == "irn_subscription" {
                    if self.auto_ack {
                        self.ack(&v["id"]).await;
                    }
                    self.pushes.push_back(v);
                    Ok(None)
                } else {
                    Ok(Some(v))
                }
            }
            Message::Ping(_) => {
                self.pings += 1;
                Ok(None)
            }
            Message::Close(frame) => {
                self.closed = Some(
                    frame
                        .map(|f| (u16::from(f.code), f.reason.to_string()))
                        .unwrap_or((1005, String::new())),
                );
                Err("closed by relay".into())
            }
            Message::Binary(_) => panic!("relay sent a binary frame"),
            _ => Ok(None),
        }
    }

    /// Reads until a non-push frame arrives (a response), buffering pushes.
    pub async fn recv_frame(&mut self, timeout: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match self.read_one(deadline).await {
                Ok(Some(v)) => return Some(v),
                Ok(None) => {}
                Err(_) => return None,
            }
        }
    }

    /// Reads until the response whose id equals `id` (as JSON) arrives.
    pub async fn response_to(&mut self, id: &Value) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match self.read_one(deadline).await {
                Ok(Some(v)) if v["id"] == *id => return v,
                Ok(Some(v)) => panic!("unexpected frame while waiting for {id}: {v}"),
                Ok(None) => {}
                Err(e) => panic!("no response to {id}: {e} (close: {:?})", self.closed),
            }
        }
    }

    fn fresh_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Sends a whole frame and returns the whole response frame.
    pub async fn call(&mut self, frame: Value) -> Value {
        self.raw_send(&frame.to_string()).await;
        self.response_to(&frame["id"]).await
    }

    /// Sends a request with a numeric id and returns `result` or `error`.
    pub async fn request(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        let id = self.fresh_id();
        let resp = self
            .call(json!({ "id": id, "jsonrpc": "2.0", "method": method, "params": params }))
            .await;
        assert_eq!(resp["jsonrpc"], "2.0", "{resp}");
        match (resp.get("result"), resp.get("error")) {
            (Some(r), None) => Ok(r.clone()),
            (None, Some(e)) => Err(e.clone()),
            _ => panic!("malformed response {resp}"),
        }
    }

    /// Like [`TestClient::request`], but a dead socket is an `Err` instead of
    /// a panic (for tests that kill the relay under load).
    pub async fn try_request(
        &mut self,
        method: &str,
        params: Value,
    ) -> Result<Result<Value, Value>, String> {
        let id = json!(self.fresh_id());
        let frame = json!({ "id": id, "jsonrpc": "2.0", "method": method, "params": params });
        self.ws
            .send(Message::text(frame.to_string()))
            .await
            .map_err(|e| e.to_string())?;
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(v) = self.read_one(deadline).await? {
                if v["id"] == id {
                    return Ok(match v.get("error") {
                        Some(e) => Err(e.clone()),
                        None => Ok(v["result"].clone()),
                    });
                }
            }
        }
    }

    /// Like [`TestClient::connect`], but failure is an `Err`.
    pub async fn try_connect(url: &str, kp: &Keypair) -> Result<TestClient, String> {
        let full = format!("{url}/?auth={}", token(kp, url));
        let ws = upgrade(&full, None).await.map_err(|e| e.to_string())?;
        Ok(TestClient::new(ws, kp))
    }

    /// Sends requests back to back without waiting, then collects the
    /// results in order.
    pub async fn pipeline(&mut self, requests: Vec<(&str, Value)>) -> Vec<Result<Value, Value>> {
        let mut ids = Vec::new();
        for (method, params) in requests {
            let id = self.fresh_id();
            let frame = json!({ "id": id, "jsonrpc": "2.0", "method": method, "params": params });
            self.ws
                .feed(Message::text(frame.to_string()))
                .await
                .expect("feed");
            ids.push(id);
        }
        self.ws.flush().await.expect("flush");
        // Replies may come in any order (errors go out at once, results
        // after the store's group commit): match them by id.
        let mut replies = std::collections::HashMap::new();
        let deadline = tokio::time::Instant::now() + WAIT;
        while replies.len() < ids.len() {
            match self.read_one(deadline).await {
                Ok(Some(v)) => {
                    let id = v["id"]
                        .as_u64()
                        .unwrap_or_else(|| panic!("reply without id: {v}"));
                    assert!(ids.contains(&id), "reply to an unknown id: {v}");
                    assert!(replies.insert(id, v).is_none(), "two replies to {id}");
                }
                Ok(None) => {}
                Err(e) => panic!("pipeline: {e} ({} of {} replies)", replies.len(), ids.len()),
            }
        }
        ids.iter()
            .map(|id| {
                let resp = &replies[id];
                match resp.get("error") {
                    Some(e) => Err(e.clone()),
                    None => Ok(resp["result"].clone()),
                }
            })
            .collect()
    }

    /// Sends `irn_publish`; panics unless the relay answers `true`.
    pub async fn publish(&mut self, topic: &str, message: &str) {
        let r = self
            .request("irn_publish", publish_params(topic, message, 300))
            .await;
        assert_eq!(r, Ok(json!(true)), "publish {message}");
    }

    /// Sends `irn_subscribe`; returns the subscription id.
    pub async fn subscribe(&mut self, topic: &str) -> String {
        let r = self
            .request("irn_subscribe", json!({ "topic": topic }))
            .await
            .expect("subscribe");
        r.as_str().expect("subscription id is a string").to_owned()
    }

    /// Acks a push with `result: true`, echoing `id` as given.
    pub async fn ack(&mut self, id: &Value) {
        let frame = json!({ "id": id, "jsonrpc": "2.0", "result": true });
        self.ws
            .send(Message::text(frame.to_string()))
            .await
            .expect("send ack");
    }

    /// The next `irn_subscription` frame (whole), or `None` after `timeout`.
    pub async fn next_push_frame(&mut self, timeout: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(p) = self.pushes.pop_front() {
                return Some(p);
            }
            match self.read_one(deadline).await {
                Ok(Some(v)) => panic!("unexpected frame while waiting for a push: {v}"),
                Ok(None) => {}
                Err(_) => return None,
            }
        }
    }

    /// The next push's params (`{id, data}`), or `None` after `timeout`.
    pub async fn next_push(&mut self, timeout: Duration) -> Option<Value> {
        self.next_push_frame(timeout)
            .await
            .map(|f| f["params"].clone())
    }

    /// Pushes until none arrives for `quiet`, giving up after `max` overall.
    pub async fn drain_pushes(&mut self, quiet: Duration, max: Duration) -> Vec<Value> {
        let end = Instant::now() + max;
        let mut out = Vec::new();
        while Instant::now() < end {
            match self.next_push(quiet).await {
                Some(p) => out.push(p),
                None => break,
            }
        }
        out
    }

    /// `n` pushes' messages, in order; panics if they do not come.
    pub async fn expect_messages(&mut self, n: usize) -> Vec<String> {
        let mut out = Vec::new();
        for i in 0..n {
            let p = self
                .next_push(WAIT)
                .await
                .unwrap_or_else(|| panic!("push {i} of {n} did not arrive (got {out:?})"));
            out.push(p["data"]["message"].as_str().unwrap().to_owned());
        }
        out
    }

    /// Asserts that no push arrives for `QUIET`.
    pub async fn expect_no_push(&mut self) {
        if let Some(p) = self.next_push(QUIET).await {
            panic!("unexpected push {p}");
        }
    }

    /// The relay's close (code, reason), reading until it comes.
    pub async fn expect_close(&mut self) -> Option<(u16, String)> {
        if self.closed.is_some() {
            return self.closed.clone();
        }
        read_until_close(&mut self.ws).await
    }

    /// Closing handshake: our close, then read until the relay's reply.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
        let _ = tokio::time::timeout(WAIT, async {
            while let Some(Ok(_)) = self.ws.next().await {}
        })
        .await;
    }
}
