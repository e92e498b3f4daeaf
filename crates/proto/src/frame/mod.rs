//! Whole JSON-RPC frames: parsing what arrives on a socket and writing what
//! leaves it.
//!
//! Parsing ([`parse_incoming`]) never fails without saying what to answer:
//! a [`RejectedFrame`] holds the id to echo (or none, meaning id 0, which is
//! how a relay answers a frame it could not read) and the wire error.
//! Building ([`result_frame`], [`error_frame`], [`subscription_frame`])
//! serializes borrowed frame structs straight into a string, so the hot path
//! allocates the output once and never builds a `serde_json::Value`.

mod build;
mod parse;

use serde::Serialize;

pub use build::{error_frame, result_frame, subscription_frame};
pub use parse::{parse_incoming, parse_response};

use crate::error::{ErrorData, ErrorKind};
use crate::id::RequestId;
use crate::params::Params;

/// A request, in either direction (client → relay, or the relay's
/// `irn_subscription` push as the client SDK sees it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The id, kept in its original spelling.
    pub id: RequestId,
    /// Typed params; the method follows from the variant.
    pub params: Params,
}

impl Request {
    /// A request with the given id and params.
    pub fn new(id: impl Into<RequestId>, params: Params) -> Self {
        Request {
            id: id.into(),
            params,
        }
    }

    /// The frame text:
    /// `{"id":…,"jsonrpc":"2.0","method":"irn_…","params":{…}}`, with the
    /// canonical method name.
    pub fn to_json(&self) -> String {
        #[derive(Serialize)]
        struct Frame<'a> {
            id: &'a RequestId,
            jsonrpc: &'static str,
            method: &'static str,
            params: &'a Params,
        }
        build::encode(
            &Frame {
                id: &self.id,
                jsonrpc: build::JSONRPC_VERSION,
                method: self.params.method().as_str(),
                params: &self.params,
            },
            256,
        )
        // Unreachable: params hold only strings, integers, bools and topics,
        // whose serialization cannot fail.
        .unwrap_or_default()
    }
}

/// A response: the peer's answer to one of our requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The id as the peer echoed it (possibly re-spelled, e.g. `"…n"`:
    /// match it against pending requests by [`RequestId::value`]).
    pub id: RequestId,
    /// `result` (any JSON value) or `error`.
    pub result: Result<serde_json::Value, ErrorData>,
}

impl Response {
    /// The frame text, `{"id":…,"jsonrpc":"2.0","result":…}` or `…"error":…}`.
    pub fn to_json(&self) -> String {
        match &self.result {
            Ok(value) => result_frame(&self.id, value),
            Err(error) => error_frame(Some(&self.id), error),
        }
    }
}

/// One parsed incoming frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Incoming {
    /// It has a `method`.
    Request(Request),
    /// It has `result` or `error` and no `method`.
    Response(Response),
}

/// A frame that cannot be processed, with the answer it deserves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RejectedFrame {
    /// The id to echo; `None` when the frame had no usable id, in which case
    /// the answer carries id 0.
    pub id: Option<RequestId>,
    /// The error object to send.
    pub error: ErrorData,
}

impl RejectedFrame {
    /// Builds a rejection of `kind`, with optional human detail.
    pub fn new(id: Option<RequestId>, kind: ErrorKind, detail: Option<&str>) -> Self {
        RejectedFrame {
            id,
            error: kind.to_error_data(detail),
        }
    }

    /// The error kind (always `Some` for rejections made by this crate).
    pub fn kind(&self) -> Option<ErrorKind> {
        ErrorKind::from_error_data(&self.error)
    }

    /// The error frame to send back.
    pub fn to_json(&self) -> String {
        error_frame(self.id.as_ref(), &self.error)
    }
}
