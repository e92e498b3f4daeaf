//! A test-only echo endpoint (`/echo`, enabled by `server.test_echo_endpoint`)
//! built on the same hyper upgrade and tungstenite settings as the relay, so
//! that a WebSocket conformance suite exercises the relay's own socket layer.
//! It does no authentication and must never be enabled in production.

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::http::json_response;
use crate::relay::Relay;

/// Conformance suites send messages up to 16 MiB; the echo allows that much.
const ECHO_MAX_MESSAGE: usize = 20 * 1024 * 1024;

pub fn handle(mut req: Request<Incoming>, relay: Arc<Relay>) -> Response<Full<Bytes>> {
    let key = match super::handshake::upgrade_key(req.headers()) {
        Ok(key) => key.to_owned(),
        Err(problem) => {
            return json_response(
                StatusCode::BAD_REQUEST,
                serde_json::json!({ "error": problem }),
            )
        }
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    let config = super::socket_config(&relay.config)
        .max_message_size(Some(ECHO_MAX_MESSAGE))
        .max_frame_size(Some(ECHO_MAX_MESSAGE))
        .max_write_buffer_size(2 * ECHO_MAX_MESSAGE);
    let shutdown = relay.shutdown.token.clone();
    relay.shutdown.tracker.spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let mut ws =
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config))
                .await;
        let close_frame = loop {
            let msg = tokio::select! {
                _ = shutdown.cancelled() => break Some(CloseFrame {
                    code: CloseCode::Away,
                    reason: "server shutting down".into(),
                }),
                msg = ws.next() => msg,
            };
            match msg {
                Some(Ok(m @ (Message::Text(_) | Message::Binary(_)))) => {
                    if ws.send(m).await.is_err() {
                        return;
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => match super::close_for_read_error(&e) {
                    Some(frame) => break Some(frame),
                    None => return,
                },
                // The peer's close was answered by tungstenite.
                None => return,
            }
        };
        // As the relay does: send the code, then wait briefly for the peer's close.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), async {
            if ws.close(close_frame).await.is_ok() {
                while let Some(Ok(_)) = ws.next().await {}
            }
        })
        .await;
    });
    super::switching_protocols(&key)
}
