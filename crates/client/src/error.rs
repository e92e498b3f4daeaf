//! The SDK's one error type, [`Error`], and its [`Result`] alias.
//!
//! Relay errors keep the wire object ([`ErrorData`]) and add its typed
//! reading ([`ErrorKind`]), found the way the official Rust client does it:
//! by the pair (`code`, `data` tag), never by the human message. Everything
//! else is about the connection: it was refused ([`Error::Auth`],
//! [`Error::Http`]), it dropped while a request was on the wire
//! ([`Error::Disconnected`]), an answer took too long ([`Error::Timeout`]),
//! or the client was closed ([`Error::Closed`]).

use std::sync::Arc;

use relaybox_proto::{ErrorData, ErrorKind};

/// Everything a client call can fail with.
///
/// Cheap to clone (the IO error sits behind an `Arc`), so one failure can be
/// handed to every request it affects.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The relay answered with a JSON-RPC error. `kind` is `None` for a
    /// (code, tag) pair this SDK does not know (a newer relay's, say).
    #[error("relay error: {data}")]
    Relay {
        /// The typed error, from the code and the data tag.
        kind: Option<ErrorKind>,
        /// The error object exactly as the relay sent it.
        data: ErrorData,
    },
    /// The relay refused the credentials: a close with code 3000 (the
    /// `useOnCloseEvent` path) or an HTTP 401/403 on the upgrade. The client
    /// stops for good after this, as the official clients do: retrying the
    /// same key and audience cannot succeed.
    #[error("authentication refused by the relay: {reason}")]
    Auth {
        /// The close reason or the HTTP body, as the relay gave it.
        reason: String,
    },
    /// The relay refused the WebSocket upgrade with another HTTP status
    /// (503 while it shuts down, for instance). Retried while reconnecting.
    #[error("relay refused the upgrade with HTTP {status}: {body}")]
    Http {
        /// The HTTP status code.
        status: u16,
        /// The response body, if any (the relay sends a short JSON object).
        body: String,
    },
    /// The client has stopped: it was closed, or it gave up reconnecting
    /// ([`crate::ReconnectPolicy`]); nothing more will be sent.
    #[error("client closed")]
    Closed,
    /// No answer within the request timeout (or the connect timeout).
    #[error("timed out")]
    Timeout,
    /// The socket dropped after the request was written and before its
    /// answer came. The relay may or may not have carried it out; every
    /// relay method is safe to repeat (publish is deduplicated per topic,
    /// subscribe and unsubscribe are idempotent), except that a lost fetch
    /// answer loses that page, since a fetch consumes.
    #[error("connection lost before the relay answered; the request may be retried")]
    Disconnected,
    /// A socket-level failure (connect refused, reset, TLS missing...).
    #[error("io: {0}")]
    Io(Arc<std::io::Error>),
    /// The relay URL cannot be used (bad syntax, or `wss://`, which needs
    /// TLS this build does not include: put a TLS-terminating proxy in front,
    /// or connect to the relay's plain `ws://` port).
    #[error("invalid relay url: {0}")]
    InvalidUrl(String),
    /// An argument the relay would refuse anyway (an empty batch, say).
    #[error("invalid argument: {0}")]
    InvalidInput(String),
    /// The relay's answer did not have the expected shape.
    #[error("unexpected answer from the relay: {0}")]
    Protocol(String),
}

/// Result alias used across the SDK.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A relay error from its wire object, typed by (code, data tag).
    pub fn relay(data: ErrorData) -> Error {
        Error::Relay {
            kind: ErrorKind::from_error_data(&data),
            data,
        }
    }

    /// The typed relay error, if this is one the SDK knows.
    pub fn kind(&self) -> Option<ErrorKind> {
        match self {
            Error::Relay { kind, .. } => *kind,
            _ => None,
        }
    }

    /// Whether the same call may succeed if simply made again (after a
    /// pause): lost connections, timeouts, rate limiting, relay-side storage
    /// trouble and 5xx refusals. Auth failures, bad arguments and the
    /// relay's validation errors are not.
    pub fn is_retriable(&self) -> bool {
        match self {
            Error::Disconnected | Error::Timeout | Error::Io(_) => true,
            Error::Http { status, .. } => *status >= 500 || *status == 429,
            Error::Relay { kind, .. } => matches!(
                kind,
                Some(
                    ErrorKind::TooManyRequests
                        | ErrorKind::StorageError
                        | ErrorKind::InternalUnknown
                        | ErrorKind::MailboxLimitExceeded
                )
            ),
            _ => false,
        }
    }

    pub(crate) fn io(e: std::io::Error) -> Error {
        Error::Io(Arc::new(e))
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::io(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_errors_are_typed_by_code_and_tag() {
        let data = ErrorKind::TtlTooShort.to_error_data(Some("ttl 1 is below 10"));
        let err = Error::relay(data.clone());
        assert_eq!(err.kind(), Some(ErrorKind::TtlTooShort));
        assert!(!err.is_retriable());
        assert!(err.to_string().contains("TtlTooShort"));

        let unknown = ErrorData {
            code: -32099,
            message: "Something: new".into(),
            data: Some("Brand new".into()),
        };
        assert_eq!(Error::relay(unknown).kind(), None);
    }

    #[test]
    fn retriable_errors() {
        assert!(Error::Disconnected.is_retriable());
        assert!(Error::relay(ErrorKind::TooManyRequests.to_error_data(None)).is_retriable());
        assert!(!Error::Auth { reason: "x".into() }.is_retriable());
        assert!(Error::Http {
            status: 503,
            body: String::new()
        }
        .is_retriable());
        assert!(!Error::Closed.is_retriable());
    }
}
