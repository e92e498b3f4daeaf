//! Wire types, validation and error codes of the WalletConnect v2 relay
//! JSON-RPC protocol, as spoken by the official JS and Rust clients.
//!
//! This crate is deliberately *pure*: no IO, no async runtime, no global
//! state beyond the atomic id generator. The server, the client SDK, the load
//! harness and the fuzz targets all share it, so a frame that one of them
//! writes is exactly the frame another one parses.
//!
//! Entry points:
//! - [`parse_incoming`] turns one text frame into a typed [`Request`] or
//!   [`Response`], or into a [`RejectedFrame`] that already carries the wire
//!   error (code, `"Category: text"` message, data tag) to send back.
//! - [`result_frame`], [`error_frame`] and [`subscription_frame`] write
//!   outgoing frames straight into a `String`, without `serde_json::Value`
//!   trees, because they sit on the relay's hot path.
//! - [`RequestId`] keeps ids exactly as the client spelled them (JS sends
//!   19-digit strings that `f64` would corrupt).
//!
//! ```
//! use relaybox_proto::{parse_incoming, result_frame, subscription_id, Incoming, Limits, Params};
//!
//! let frame = r#"{"id":"1795405159459027456","jsonrpc":"2.0","method":"irn_subscribe",
//!     "params":{"topic":"7f6e504bfad60b485450578e05678ed3e8e8c4751d3c6160be17160d63ec90f9"}}"#;
//! let answer = match parse_incoming(frame, &Limits::default()) {
//!     Ok(Incoming::Request(req)) => match &req.params {
//!         Params::Subscribe(p) => result_frame(&req.id, &subscription_id(&p.topic, "did:key:z6Mk…")),
//!         _ => unreachable!(),
//!     },
//!     Ok(Incoming::Response(_)) => unreachable!(),
//!     Err(rejected) => rejected.to_json(),
//! };
//! // The id comes back exactly as sent: a string, not a rounded number.
//! assert!(answer.starts_with(r#"{"id":"1795405159459027456","jsonrpc":"2.0","result":""#));
//!
//! let rejected = parse_incoming("not json", &Limits::default()).unwrap_err();
//! assert!(rejected.to_json().starts_with(r#"{"id":0,"#));
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod error;
pub mod frame;
pub mod id;
pub mod ids;
pub mod limits;
pub mod method;
pub mod params;
pub mod result;
mod serde_util;
pub mod topic;

pub use error::{AuthTag, ErrorData, ErrorKind};
pub use frame::{
    error_frame, parse_incoming, parse_response, result_frame, subscription_frame, Incoming,
    RejectedFrame, Request, Response,
};
pub use id::RequestId;
pub use ids::{IdGenerator, MAX_SERVER_ID, MIN_SERVER_ID};
pub use limits::Limits;
pub use method::Method;
pub use params::{
    ApproveSessionParams, BatchFetchMessagesParams, BatchPublishParams, BatchReceiveParams,
    BatchSubscribeParams, BatchUnsubscribeParams, CreateTopicParams, FetchMessagesParams, Params,
    ProposeSessionParams, PublishParams, Receipt, SubscribeParams, SubscriptionData,
    SubscriptionParams, UnsubscribeParams, WatchRegisterParams, WatchUnregisterParams,
};
pub use result::{FetchMessagesResult, FetchedMessage, SubscriptionResult, WatchRegisterResult};
pub use topic::{message_hash, message_id, subscription_id, Topic};

/// Everything that can go wrong when this crate parses or decodes a value.
///
/// Frame-level problems that must be *answered* on the wire are not reported
/// through this type but through [`RejectedFrame`], which already holds the
/// [`ErrorData`] the peer expects; `Error` is for callers that decode values
/// themselves (a topic from a URL, a response in the client SDK).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The text is not 64 hex characters encoding 32 bytes.
    #[error("invalid topic: {0}")]
    InvalidTopic(&'static str),
    /// A JSON-RPC id that is not a u64 number or numeric string.
    #[error("invalid request id: {0}")]
    InvalidRequestId(&'static str),
    /// [`parse_response`] was given a request frame.
    #[error("expected a response frame, got a request")]
    NotAResponse,
    /// The frame could not be parsed; the payload is what a relay would have
    /// answered, so a client can log the same code and tag.
    #[error("rejected frame: {0}")]
    Rejected(ErrorData),
    /// Plain JSON (de)serialization failure.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}

/// Result alias used across the crate; the error defaults to [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
