//! `POST /rpc`: the relay JSON-RPC over HTTP, for clients that hold no
//! socket (services behind wallets and dapps: Notify-style servers, push
//! servers, dapp backends). One request per POST, authenticated as a
//! socket is (`Authorization: Bearer` or `?auth=`, the projectId policy),
//! answered with the frame a socket would get, after the same group
//! commit, with the same errors and the same request budgets (the client's
//! and its IP's buckets are shared with its sockets).
//!
//! Each request runs in a throwaway [`Session`]: nothing is pushed over
//! HTTP. A subscription made here is durable like any other; its messages
//! wait in the mailbox for a fetch, a receipt or a socket.

use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::CONTENT_TYPE;
use hyper::{Request, Response, StatusCode};
use tokio::sync::mpsc;

use crate::http::json_response;
use crate::relay::Relay;
use crate::session::Session;
use crate::ws::handshake;

pub async fn handle(
    req: Request<Incoming>,
    relay: Arc<Relay>,
    peer: SocketAddr,
) -> Response<Full<Bytes>> {
    if !relay.readiness.get() {
        return json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({ "error": "relay is shutting down" }),
        );
    }
    let ip = crate::admission::client_ip(peer.ip(), req.headers(), &relay.trusted_proxies);
    let query = handshake::parse_query(req.uri().query().unwrap_or(""));
    let client = match handshake::authenticate_client(&relay, req.headers(), &query) {
        Ok(client) => client,
        Err(rejection) => {
            crate::metrics::http_rpc("auth");
            return json_response(
                rejection.status,
                serde_json::json!({ "error": rejection.reason, "code": rejection.tag }),
            );
        }
    };
    let limit = relay.config.limits.max_frame_bytes;
    let body = match Limited::new(req.into_body(), limit).collect().await {
        Ok(body) => body.to_bytes(),
        Err(e) => {
            let too_large = e
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some();
            crate::metrics::http_rpc("bad_body");
            return if too_large {
                json_response(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    serde_json::json!({ "error": format!("the body exceeds {limit} bytes") }),
                )
            } else {
                json_response(
                    StatusCode::BAD_REQUEST,
                    serde_json::json!({ "error": "the request body could not be read" }),
                )
            };
        }
    };
    let Ok(text) = std::str::from_utf8(&body) else {
        crate::metrics::http_rpc("bad_body");
        return json_response(
            StatusCode::BAD_REQUEST,
            serde_json::json!({ "error": "the body is not UTF-8 JSON" }),
        );
    };
    match run(&relay, client.client_id, ip, text).await {
        Some(frame) => {
            crate::metrics::http_rpc("ok");
            Response::builder()
                .status(StatusCode::OK)
                .header(CONTENT_TYPE, "application/json")
                .body(Full::new(Bytes::from(frame)))
                .expect("static response parts are valid")
        }
        None => {
            crate::metrics::http_rpc("not_a_request");
            json_response(
                StatusCode::BAD_REQUEST,
                serde_json::json!({ "error": "expected one JSON-RPC request" }),
            )
        }
    }
}

/// Runs `text` in a throwaway session; returns the reply frame, once what
/// it depends on is durable (`None` when `text` was not a request).
async fn run(
    relay: &Arc<Relay>,
    client_id: Arc<str>,
    ip: std::net::IpAddr,
    text: &str,
) -> Option<String> {
    // Nothing is pushed over HTTP: the hub's wake-ups go nowhere.
    let (tx, _wake_ups) = mpsc::channel(1);
    let conn_id = relay.next_conn_id();
    let mut session = Session::new(relay.clone(), client_id, ip, conn_id, tx);
    session.touch().await;
    Box::pin(session.handle_text(text)).await;
    while session.awaiting_commit() {
        match session.next_commit().await {
            Some(done) => session.on_sync_done(done),
            None => break,
        }
    }
    session.unfollow_all();
    let reply = session.drain_output().next();
    reply
}
