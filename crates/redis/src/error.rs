//! The crate's single error type, and its mapping onto the store crate's
//! errors (the gateway only ever sees those: `StorageError` on the wire).

use relaybox_store::AttestError;

/// Everything that can go wrong talking to Redis.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A command failed: connection refused or lost, a server error, or a
    /// script error. Retrying later may succeed.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// Redis did not answer within the configured time.
    #[error("redis did not answer within {0} ms")]
    Timeout(u64),
    /// A reply did not have the expected shape (a bug, or foreign keys).
    #[error("unexpected reply from redis: {0}")]
    Reply(String),
    /// The write is on the primary but the configured WAIT / WAITAOF was
    /// not satisfied in time, so it is not acknowledged as durable.
    #[error("durability not reached: {0}")]
    Durability(String),
    /// The server's persistence settings do not give the durability this
    /// relay promises (see `RedisConfig::require_fsync`).
    #[error("redis persistence is not durable: {0}")]
    NotDurable(String),
    /// A configuration value is unusable.
    #[error("invalid redis configuration: {0}")]
    Config(String),
    /// The store has been closed.
    #[error("store is closed")]
    Closed,
}

/// Shorthand used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Error> for relaybox_store::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Closed => relaybox_store::Error::Closed,
            other => relaybox_store::Error::Backend(other.to_string()),
        }
    }
}

impl From<Error> for AttestError {
    fn from(e: Error) -> Self {
        AttestError::Sync(e.into())
    }
}

/// Builds a [`Error::Reply`] from anything printable.
pub(crate) fn bad_reply(what: impl std::fmt::Display) -> Error {
    Error::Reply(what.to_string())
}
