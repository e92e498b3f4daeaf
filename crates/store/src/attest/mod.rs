//! Durable storage for the async-attestation relay (seed 000): requests an
//! app leaves for a user's wallet, the wallet's answer, and the indexes the
//! gateway needs to list an app's requests and to sweep expired ones.
//!
//! The gateway reaches it only through [`AttestationStore`]; the embedded
//! implementation lives in `relaybox-disk` (sled trees beside the mailbox
//! state, sharing its group commit), the clustered one in `relaybox-redis`.
//!
//! The rules that make it better than the seed's in-memory map:
//! - the first answer wins: an answer to a request that is no longer pending
//!   fails with [`AttestError::AlreadyAnswered`], so a credential is never
//!   overwritten, also under concurrent answers;
//! - re-creating an identical live request is idempotent, a different one
//!   with the same id is an [`AttestError::Conflict`];
//! - `create` and `answer` return only once the change is on disk.

mod types;

pub use types::{
    Answer, AttestError, AttestResult, AttestStats, AttestationRecord, Created, ListCursor,
    ListPage, ListQuery, NewAttestation, Status,
};

/// The storage contract of the attestation relay.
///
/// `now_ms` arguments are wall-clock milliseconds supplied by the caller, so
/// expiry is deterministic under test. A request is expired once
/// `now_ms > expires_at_ms`; expired requests behave as gone for `create`
/// (the id may be reused) and `list`, while `get` still returns them until
/// the sweeper deletes them, so the gateway can answer 410.
#[async_trait::async_trait]
pub trait AttestationStore: Send + Sync + 'static {
    /// Stores a new pending request and returns once it is durable.
    ///
    /// If a live request with the same id exists, the same `fingerprint`
    /// returns it (`new = false`) and a different one fails with
    /// [`AttestError::Conflict`]. An expired one is replaced.
    async fn create(&self, request: NewAttestation, now_ms: u64) -> AttestResult<Created>;

    /// The stored request, expired or not; `None` if unknown or swept.
    async fn get(&self, request_id: &str) -> AttestResult<Option<AttestationRecord>>;

    /// Records the wallet's answer if the request is still pending, and
    /// returns the updated record once it is durable. Fails with
    /// [`AttestError::NotFound`], [`AttestError::Expired`] or
    /// [`AttestError::AlreadyAnswered`]; exactly one of many concurrent
    /// answers succeeds.
    async fn answer(
        &self,
        request_id: &str,
        answer: Answer,
        now_ms: u64,
    ) -> AttestResult<AttestationRecord>;

    /// One page of an app's live requests in one status, oldest first.
    async fn list(&self, query: ListQuery<'_>, now_ms: u64) -> AttestResult<ListPage>;

    /// Deletes up to `max` expired requests with their index entries;
    /// returns how many. Not flushed: a lost deletion is simply redone.
    async fn sweep_expired(&self, now_ms: u64, max: usize) -> AttestResult<usize>;

    /// One page of the ids of every stored request, expired or not (the
    /// export walk); `cursor` is the previous page's `next`.
    async fn ids_page(
        &self,
        cursor: Option<String>,
        max: usize,
    ) -> AttestResult<crate::Page<String>>;

    /// Best-effort counters for metrics; never touches disk.
    fn stats(&self) -> AttestStats;
}
