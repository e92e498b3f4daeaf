//! The WebSocket gateway: audience policy, handshake and auth, the upgrade,
//! the per-connection loop, and a test-only echo endpoint for conformance runs.

pub mod audience;
pub mod connection;
pub mod echo;
pub mod fragments;
pub mod handshake;
pub mod token_cache;
pub mod upgrade;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{CONNECTION, SEC_WEBSOCKET_ACCEPT, UPGRADE};
use hyper::{Response, StatusCode};
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};

/// The close frame to send after reading from a socket failed (RFC 6455
/// 7.4.1): 1009 for a message over the cap, 1002 for a protocol violation,
/// 1007 for text that is not UTF-8. `None` for I/O errors and a connection
/// that is already closed, where nothing more can be sent.
pub fn close_for_read_error(err: &WsError) -> Option<CloseFrame> {
    let (code, reason) = match err {
        WsError::Capacity(CapacityError::MessageTooLong { .. }) => (1009, "message too big"),
        WsError::Protocol(_) => (1002, "protocol error"),
        WsError::Utf8(_) => (1007, "invalid UTF-8"),
        _ => return None,
    };
    Some(CloseFrame {
        code: CloseCode::from(code),
        reason: reason.into(),
    })
}

/// The `101 Switching Protocols` answer to a validated upgrade request.
pub fn switching_protocols(key: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(UPGRADE, "websocket")
        .header(CONNECTION, "Upgrade")
        .header(SEC_WEBSOCKET_ACCEPT, derive_accept_key(key.as_bytes()))
        .body(Full::new(Bytes::new()))
        .expect("static response parts are valid")
}

/// Socket settings shared by the relay and the echo endpoint: small buffers
/// so that idle connections stay cheap, and a hard frame cap.
pub fn socket_config(config: &crate::Config) -> WebSocketConfig {
    let max = config.limits.max_frame_bytes;
    WebSocketConfig::default()
        .read_buffer_size(config.websocket.read_buffer_bytes)
        .write_buffer_size(config.websocket.write_buffer_bytes)
        // Frames are queued only after the previous ones were written out
        // (the connection loop waits), so the buffer holds at most the
        // write-buffer size plus one frame; this caps what a stalled socket
        // can make us hold. The largest frame the relay sends is a fetch
        // reply: up to two pages of messages (one topic's page on top of
        // `page_bytes` already gathered) plus their JSON, or an echo of a
        // client-sized frame.
        .max_write_buffer_size(
            config.websocket.write_buffer_bytes
                + max.max(2 * config.limits.page_bytes + 256 * 1024),
        )
        .max_message_size(Some(max))
        .max_frame_size(Some(max))
}
