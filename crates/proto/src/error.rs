//! Error objects on the wire: the codes, `"Category: text"` messages and data
//! tags the official clients understand.
//!
//! The Rust client turns an error response back into a typed error by the
//! pair (`code`, `data`), and reports anything it does not know as an invalid
//! error response. So the pair is the contract and must never drift; the text
//! after the category prefix is for humans and may carry detail.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::serde_util::loose_string;

/// A JSON-RPC error object: `{"code":…,"message":…,"data":…}`.
///
/// `data` is the variant tag for the relay's own errors. Errors sent by
/// clients may carry any JSON there; a non-string value is kept as its JSON
/// text so that parsing a client's error reply never fails on it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorData {
    /// JSON-RPC error code.
    pub code: i32,
    /// Human-readable message, `"<Category>: <text>"` for relay errors.
    pub message: String,
    /// The machine-readable tag (see [`ErrorKind::tag`]); omitted when `None`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "loose_string"
    )]
    pub data: Option<String>,
}

impl fmt::Display for ErrorData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (code {}", self.message, self.code)?;
        if let Some(tag) = &self.data {
            write!(f, ", {tag}")?;
        }
        f.write_str(")")
    }
}

impl std::error::Error for ErrorData {}

/// Why authentication failed (code 3000).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)] // each variant is named after its wire tag
pub enum AuthTag {
    ProjectNotFound,
    ProjectIdNotSpecified,
    ProjectInactive,
    OriginNotAllowed,
    InvalidJwt,
    MissingJwt,
    CountryBlocked,
}

impl AuthTag {
    /// Every auth tag, in table order.
    pub const ALL: [AuthTag; 7] = [
        AuthTag::ProjectNotFound,
        AuthTag::ProjectIdNotSpecified,
        AuthTag::ProjectInactive,
        AuthTag::OriginNotAllowed,
        AuthTag::InvalidJwt,
        AuthTag::MissingJwt,
        AuthTag::CountryBlocked,
    ];

    /// (data tag, human text).
    fn parts(self) -> (&'static str, &'static str) {
        match self {
            AuthTag::ProjectNotFound => ("ProjectNotFound", "Unknown project"),
            AuthTag::ProjectIdNotSpecified => ("ProjectIdNotSpecified", "Project ID is missing"),
            AuthTag::ProjectInactive => ("ProjectInactive", "Project is not active"),
            AuthTag::OriginNotAllowed => ("OriginNotAllowed", "Origin is not allowed"),
            AuthTag::InvalidJwt => ("InvalidJwt", "Invalid JWT"),
            AuthTag::MissingJwt => ("MissingJwt", "JWT is missing"),
            AuthTag::CountryBlocked => ("CountryBlocked", "Country is blocked"),
        }
    }
}

/// One variant per (code, data tag) pair the relay can send.
///
/// Tags that appear under two codes get distinct variants: `InvalidJwt`
/// (auth vs. watch), `Serialization` (payload vs. internal) and `Unknown`
/// (handler vs. internal).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// 3000: authentication failed.
    Auth(AuthTag),
    /// 3001: rate limited.
    TooManyRequests,
    /// -32600: method name not known.
    InvalidMethod,
    /// -32600: params missing, of the wrong shape, or out of range.
    InvalidParams,
    /// -32600: a message is longer than the relay accepts.
    PayloadSizeExceeded,
    /// -32600: a publish's `attestation` is longer than the relay allows
    /// (Relaybox's own tag: the field is stored with every message).
    AttestationTooLarge,
    /// -32600: a topic is not 64 hex characters.
    InvalidTopic,
    /// -32600: a subscription id is malformed.
    InvalidSubscriptionId,
    /// -32600: the id is missing or not a u64.
    InvalidRequestId,
    /// -32600: `jsonrpc` is not `"2.0"`.
    InvalidJsonRpcVersion,
    /// -32600: a batch has more items than allowed.
    BatchLimitExceeded,
    /// -32600: a batch has no items.
    BatchEmpty,
    /// -32600: the frame is not valid JSON-RPC.
    Serialization,
    /// -32000: TTL below the minimum.
    TtlTooShort,
    /// -32000: TTL above the maximum.
    TtlTooLong,
    /// -32000: the recipient's mailbox is full.
    MailboxLimitExceeded,
    /// -32000: the relay's disk budget or free-space reserve is reached;
    /// retry later (Relaybox's own tag, not in the public relay's table).
    StorageFull,
    /// -32000: the topic has too many subscribers.
    SubscriberLimitExceeded,
    /// -32000: watch registration with a bad TTL.
    WatchInvalidTtl,
    /// -32000: watch registration with a bad service URL.
    WatchInvalidServiceUrl,
    /// -32000: watch registration with a bad webhook URL.
    WatchInvalidWebhookUrl,
    /// -32000: watch JWT with the wrong `act`.
    WatchInvalidAction,
    /// -32000: watch JWT that does not verify.
    WatchInvalidJwt,
    /// -32000: `wc_*` could not create the topic.
    CreateTopicFailed,
    /// -32000: `wc_*` could not subscribe the caller.
    SubscribeFailed,
    /// -32000: `wc_*` could not publish.
    PublishFailed,
    /// -32000: any other handler failure.
    HandlerUnknown,
    /// -32603: the store failed.
    StorageError,
    /// -32603: the relay failed to serialize its own data.
    InternalSerialization,
    /// -32603: any other internal failure.
    InternalUnknown,
}

const CODE_AUTH: i32 = 3000;
const CODE_RATE: i32 = 3001;
const CODE_PAYLOAD: i32 = -32600;
const CODE_HANDLER: i32 = -32000;
const CODE_INTERNAL: i32 = -32603;

/// Category prefix by code; 3001 has none (its whole message is the text).
fn prefix(code: i32) -> &'static str {
    match code {
        CODE_AUTH => "Auth error: ",
        CODE_PAYLOAD => "Invalid payload: ",
        CODE_HANDLER => "Request handler error: ",
        CODE_INTERNAL => "Internal error: ",
        _ => "",
    }
}

impl ErrorKind {
    /// Every kind, auth tags expanded (for tests and documentation).
    pub const ALL: [ErrorKind; 36] = [
        ErrorKind::Auth(AuthTag::ProjectNotFound),
        ErrorKind::Auth(AuthTag::ProjectIdNotSpecified),
        ErrorKind::Auth(AuthTag::ProjectInactive),
        ErrorKind::Auth(AuthTag::OriginNotAllowed),
        ErrorKind::Auth(AuthTag::InvalidJwt),
        ErrorKind::Auth(AuthTag::MissingJwt),
        ErrorKind::Auth(AuthTag::CountryBlocked),
        ErrorKind::TooManyRequests,
        ErrorKind::InvalidMethod,
        ErrorKind::InvalidParams,
        ErrorKind::PayloadSizeExceeded,
        ErrorKind::AttestationTooLarge,
        ErrorKind::InvalidTopic,
        ErrorKind::InvalidSubscriptionId,
        ErrorKind::InvalidRequestId,
        ErrorKind::InvalidJsonRpcVersion,
        ErrorKind::BatchLimitExceeded,
        ErrorKind::BatchEmpty,
        ErrorKind::Serialization,
        ErrorKind::TtlTooShort,
        ErrorKind::TtlTooLong,
        ErrorKind::MailboxLimitExceeded,
        ErrorKind::StorageFull,
        ErrorKind::SubscriberLimitExceeded,
        ErrorKind::WatchInvalidTtl,
        ErrorKind::WatchInvalidServiceUrl,
        ErrorKind::WatchInvalidWebhookUrl,
        ErrorKind::WatchInvalidAction,
        ErrorKind::WatchInvalidJwt,
        ErrorKind::CreateTopicFailed,
        ErrorKind::SubscribeFailed,
        ErrorKind::PublishFailed,
        ErrorKind::HandlerUnknown,
        ErrorKind::StorageError,
        ErrorKind::InternalSerialization,
        ErrorKind::InternalUnknown,
    ];

    /// (code, data tag, human text): the single table everything else reads.
    fn parts(self) -> (i32, &'static str, &'static str) {
        use ErrorKind::*;
        match self {
            Auth(tag) => {
                let (t, text) = tag.parts();
                (CODE_AUTH, t, text)
            }
            TooManyRequests => (CODE_RATE, "TooManyRequests", "Too many requests"),
            InvalidMethod => (CODE_PAYLOAD, "InvalidMethod", "Unknown method"),
            InvalidParams => (CODE_PAYLOAD, "InvalidParams", "Invalid params"),
            PayloadSizeExceeded => (CODE_PAYLOAD, "PayloadSizeExceeded", "Message too large"),
            AttestationTooLarge => (CODE_PAYLOAD, "AttestationTooLarge", "Attestation too large"),
            InvalidTopic => (CODE_PAYLOAD, "InvalidTopic", "Topic decoding failed"),
            InvalidSubscriptionId => (
                CODE_PAYLOAD,
                "InvalidSubscriptionId",
                "Malformed subscription ID",
            ),
            InvalidRequestId => (CODE_PAYLOAD, "InvalidRequestId", "Malformed request ID"),
            InvalidJsonRpcVersion => (
                CODE_PAYLOAD,
                "InvalidJsonRpcVersion",
                "Unsupported JSON-RPC version",
            ),
            BatchLimitExceeded => (CODE_PAYLOAD, "BatchLimitExceeded", "Batch too large"),
            BatchEmpty => (CODE_PAYLOAD, "BatchEmpty", "Batch is empty"),
            Serialization => (CODE_PAYLOAD, "Serialization", "Malformed JSON-RPC frame"),
            TtlTooShort => (CODE_HANDLER, "TtlTooShort", "TTL too short"),
            TtlTooLong => (CODE_HANDLER, "TtlTooLong", "TTL too long"),
            MailboxLimitExceeded => (CODE_HANDLER, "MailboxLimitExceeded", "Mailbox is full"),
            StorageFull => (
                CODE_HANDLER,
                "StorageFull",
                "Relay storage is full, retry later",
            ),
            SubscriberLimitExceeded => (
                CODE_HANDLER,
                "SubscriberLimitExceeded",
                "Too many subscribers",
            ),
            WatchInvalidTtl => (CODE_HANDLER, "InvalidTtl", "Watch TTL out of range"),
            WatchInvalidServiceUrl => (
                CODE_HANDLER,
                "InvalidServiceUrl",
                "Watch service URL rejected",
            ),
            WatchInvalidWebhookUrl => (
                CODE_HANDLER,
                "InvalidWebhookUrl",
                "Watch webhook URL rejected",
            ),
            WatchInvalidAction => (CODE_HANDLER, "InvalidAction", "Watch JWT has the wrong act"),
            WatchInvalidJwt => (CODE_HANDLER, "InvalidJwt", "Watch JWT rejected"),
            CreateTopicFailed => (CODE_HANDLER, "CreateTopicFailed", "Could not create topic"),
            SubscribeFailed => (CODE_HANDLER, "SubscribeFailed", "Could not subscribe"),
            PublishFailed => (CODE_HANDLER, "PublishFailed", "Could not publish"),
            HandlerUnknown => (CODE_HANDLER, "Unknown", "Unexpected failure"),
            StorageError => (CODE_INTERNAL, "StorageError", "Storage failure"),
            InternalSerialization => (CODE_INTERNAL, "Serialization", "Could not encode reply"),
            InternalUnknown => (CODE_INTERNAL, "Unknown", "Unexpected failure"),
        }
    }

    /// The JSON-RPC error code.
    pub fn code(&self) -> i32 {
        self.parts().0
    }

    /// The `data` tag that, together with the code, identifies the error.
    pub fn tag(&self) -> &'static str {
        self.parts().1
    }

    /// The message without detail: `"<Category>: <text>"`.
    pub fn message(&self) -> String {
        let (code, _, text) = self.parts();
        format!("{}{text}", prefix(code))
    }

    /// The wire error object. `detail` (if any) is appended to the message
    /// after `": "`; the code and tag never change, so clients that parse by
    /// them are unaffected.
    pub fn to_error_data(&self, detail: Option<&str>) -> ErrorData {
        let mut message = self.message();
        if let Some(detail) = detail.filter(|d| !d.is_empty()) {
            message.push_str(": ");
            message.push_str(detail);
        }
        ErrorData {
            code: self.code(),
            message,
            data: Some(self.tag().to_owned()),
        }
    }

    /// The kind an error object stands for, by (code, tag); `None` for pairs
    /// the relay never sends (a client's own error, or a newer relay's).
    pub fn from_error_data(data: &ErrorData) -> Option<ErrorKind> {
        let tag = data.data.as_deref()?;
        ErrorKind::ALL
            .iter()
            .copied()
            .find(|k| k.code() == data.code && k.tag() == tag)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn documented_examples() {
        let ttl = serde_json::to_string(&ErrorKind::TtlTooShort.to_error_data(None)).unwrap();
        assert_eq!(
            ttl,
            r#"{"code":-32000,"message":"Request handler error: TTL too short","data":"TtlTooShort"}"#
        );
        let topic = serde_json::to_string(&ErrorKind::InvalidTopic.to_error_data(None)).unwrap();
        assert_eq!(
            topic,
            r#"{"code":-32600,"message":"Invalid payload: Topic decoding failed","data":"InvalidTopic"}"#
        );
        let rate = serde_json::to_string(&ErrorKind::TooManyRequests.to_error_data(None)).unwrap();
        assert_eq!(
            rate,
            r#"{"code":3001,"message":"Too many requests","data":"TooManyRequests"}"#
        );
    }

    #[test]
    fn every_kind_round_trips_through_error_data() {
        let mut pairs = HashSet::new();
        for kind in ErrorKind::ALL {
            let data = kind.to_error_data(Some("detail"));
            assert_eq!(ErrorKind::from_error_data(&data), Some(kind));
            assert!(
                pairs.insert((kind.code(), kind.tag())),
                "duplicate {kind:?}"
            );
            assert!(data.message.ends_with(": detail"));
        }
    }

    #[test]
    fn auth_tags_are_all_listed() {
        for tag in AuthTag::ALL {
            assert!(ErrorKind::ALL.contains(&ErrorKind::Auth(tag)));
        }
    }

    #[test]
    fn same_tag_under_other_code_is_another_kind() {
        let internal = ErrorData {
            code: -32603,
            message: String::new(),
            data: Some("Serialization".into()),
        };
        assert_eq!(
            ErrorKind::from_error_data(&internal),
            Some(ErrorKind::InternalSerialization)
        );
        let unknown = ErrorData {
            code: 1,
            message: String::new(),
            data: Some("Serialization".into()),
        };
        assert_eq!(ErrorKind::from_error_data(&unknown), None);
    }

    #[test]
    fn error_data_accepts_any_data_value() {
        let e: ErrorData =
            serde_json::from_str(r#"{"code":5000,"message":"x","data":{"a":[1]}}"#).unwrap();
        assert_eq!(e.data.as_deref(), Some(r#"{"a":[1]}"#));
        let e: ErrorData = serde_json::from_str(r#"{"code":5000,"message":"x"}"#).unwrap();
        assert_eq!(e.data, None);
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"code":5000,"message":"x"}"#
        );
        let e: ErrorData =
            serde_json::from_str(r#"{"code":5000,"message":"x","data":null}"#).unwrap();
        assert_eq!(e.data, None);
    }
}
