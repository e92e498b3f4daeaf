//! Turning an HTTP request into a WebSocket: validate, authenticate, answer
//! 101 and hand the upgraded stream to the connection loop on a tracked task.
//!
//! Clients that asked for `useOnCloseEvent=true` get auth failures as an
//! upgrade followed by close 3000 and a reason (the JS client then stops for
//! good); everyone else gets an HTTP 401/403 with a JSON body.

use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};
use tokio_tungstenite::WebSocketStream;
use tracing::Instrument;

use super::handshake::{self, Rejection};
use crate::admission::Refusal;
use crate::http::json_response;
use crate::relay::Relay;

/// Close code for an authentication failure (the JS client does not retry it).
const CLOSE_AUTH: u16 = 3000;

pub fn handle(
    mut req: Request<Incoming>,
    relay: Arc<Relay>,
    peer: SocketAddr,
) -> Response<Full<Bytes>> {
    if !relay.readiness.get() {
        crate::metrics::connection_rejected("shutting_down");
        return json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({ "error": "relay is shutting down" }),
        );
    }
    let key = match handshake::upgrade_key(req.headers()) {
        Ok(key) => key.to_owned(),
        Err(problem) => {
            crate::metrics::connection_rejected("bad_upgrade");
            return json_response(
                StatusCode::BAD_REQUEST,
                serde_json::json!({ "error": problem }),
            );
        }
    };
    let ip = crate::admission::client_ip(peer.ip(), req.headers(), &relay.trusted_proxies);
    let mut ticket = match relay.admission.admit_ip(ip) {
        Ok(ticket) => ticket,
        Err(refusal) => return refused(refusal),
    };
    let query = handshake::parse_query(req.uri().query().unwrap_or(""));
    let auth = handshake::authenticate_client(&relay, req.headers(), &query);
    if let Err(rejection) = &auth {
        crate::metrics::connection_rejected("auth");
        tracing::debug!(reason = %rejection.reason, "handshake rejected");
        if !handshake::wants_close_event(&query) {
            return json_response(
                rejection.status,
                serde_json::json!({ "error": rejection.reason, "code": rejection.tag }),
            );
        }
    }
    if let Ok(client) = &auth {
        if let Err(refusal) = relay.admission.admit_client(&mut ticket, &client.client_id) {
            return refused(refusal);
        }
    }
    let on_upgrade = hyper::upgrade::on(&mut req);
    let config = super::socket_config(&relay.config);
    let task_relay = relay.clone();
    relay.shutdown.tracker.spawn(async move {
        // The socket's connection slots, held until it ends.
        let _ticket = ticket;
        let upgraded = match on_upgrade.await {
            Ok(u) => u,
            Err(e) => {
                tracing::debug!(error = %e, "upgrade failed");
                return;
            }
        };
        let (io, open_message) = super::fragments::FrameWatch::new(TokioIo::new(upgraded));
        let ws = WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await;
        match auth {
            Ok(client) => {
                let conn_id = task_relay.next_conn_id();
                let span = tracing::info_span!("conn", conn_id, client_id = %client.client_id);
                super::connection::run(ws, task_relay, client, conn_id, open_message, ip)
                    .instrument(span)
                    .await;
            }
            Err(rejection) => close_with_auth_error(ws, rejection).await,
        }
    });
    super::switching_protocols(&key)
}

fn refused(refusal: Refusal) -> Response<Full<Bytes>> {
    crate::metrics::connection_rejected(refusal.reason);
    tracing::debug!(reason = refusal.reason, "socket refused");
    json_response(
        refusal.status,
        serde_json::json!({ "error": refusal.message, "code": refusal.reason }),
    )
}

async fn close_with_auth_error<S>(mut ws: WebSocketStream<S>, rejection: Rejection)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use futures_util::StreamExt;
    let mut reason = rejection.reason;
    reason.truncate(120);
    let frame = CloseFrame {
        code: CloseCode::from(CLOSE_AUTH),
        reason: reason.into(),
    };
    let _ = ws.close(Some(frame)).await;
    // Let the client's close reply arrive so the TCP close is clean.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), async {
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
}
