//! The crate's error type, and its translation into the store contract's.
//!
//! sled and I/O errors stay inside this crate: at the [`MailboxStore`]
//! boundary they become [`relaybox_store::Error::Storage`] with the text
//! for the log, so no backend type leaks through the trait.
//!
//! [`MailboxStore`]: relaybox_store::MailboxStore

/// Everything that can go wrong inside the disk store.
#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    /// sled failed (I/O, or its own corruption checks).
    #[error("sled: {0}")]
    Sled(#[from] sled::Error),
    /// A file operation of the log failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// A stored record could not be read back.
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// A configuration value is unusable.
    #[error("invalid store configuration: {0}")]
    InvalidConfig(String),
}

/// Shorthand inside the crate.
pub type DiskResult<T> = std::result::Result<T, DiskError>;

/// Wraps a sled or I/O error (for `map_err`).
pub(crate) fn storage(e: impl Into<DiskError>) -> DiskError {
    e.into()
}

impl From<DiskError> for relaybox_store::Error {
    fn from(e: DiskError) -> Self {
        match e {
            DiskError::InvalidConfig(s) => relaybox_store::Error::InvalidConfig(s),
            DiskError::Corrupt(s) => relaybox_store::Error::Corrupt(s),
            other => relaybox_store::Error::Storage(other.to_string()),
        }
    }
}
