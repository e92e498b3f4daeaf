//! The crate's single error type.
//!
//! The gateway maps these onto JSON-RPC errors, so the variants are the
//! distinctions it needs to make (client-visible "mailbox full" versus an
//! internal storage failure), not a mirror of every internal failure mode.

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The topic already holds `max_messages_per_topic` live messages; the
    /// gateway answers `MailboxLimitExceeded`.
    #[error("mailbox full: the topic holds the maximum number of live messages")]
    MailboxFull,
    /// The client already follows the most topics it may
    /// (`max_subscriptions_per_client`, counted over all its sockets); the
    /// gateway answers `SubscriberLimitExceeded`.
    #[error("subscription limit reached for this client")]
    SubscriptionLimit,
    /// The store cannot take more data: its disk budget is used up or the
    /// disk's free space is below the configured reserve. The gateway
    /// answers `-32000` with the data tag `StorageFull`; it clears by
    /// itself once expiry (or an operator) frees space.
    #[error("storage full: the disk budget or free-space reserve is reached")]
    StorageFull,
    /// The embedded backend failed (I/O, or its database's own checks);
    /// the text is for the log only.
    #[error("storage error: {0}")]
    Storage(String),
    /// A networked backend (Redis) failed or could not be reached; the
    /// gateway answers `StorageError`. The string is for the log only.
    #[error("backend error: {0}")]
    Backend(String),
    /// A record could not be decoded; the string says which one.
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// The client already has the most webhook registrations it may.
    #[error("webhook registration limit reached for this client")]
    WatchLimit,
    /// The backend cannot do this in its current setup (the text says
    /// what and why); nothing was changed.
    #[error("not supported: {0}")]
    Unsupported(String),
    /// The store has been closed (or its commit task is gone).
    #[error("store is closed")]
    Closed,
    /// A configuration value is unusable.
    #[error("invalid store configuration: {0}")]
    InvalidConfig(String),
}

/// Shorthand used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
