//! The storage contract of relay webhooks: registrations (which client's
//! messages a service watches, and where its events go) and the durable
//! queue of events waiting to be sent.
//!
//! Types here are plain data: the gateway checks the tokens (relaybox-auth)
//! and signs the events; the store only keeps what it is given. An event's
//! `body` is the JSON the gateway will sign, opaque to the store.

use serde::{Deserialize, Serialize};

use crate::Result;

/// One registration: the same `(client_id, service_url, webhook_url)`
/// replaces an earlier one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watch {
    /// The watched client.
    pub client_id: String,
    /// `subscriber` or `publisher` (as the token said).
    pub typ: String,
    /// The service: the `aud` of its events.
    pub service_url: String,
    /// Where its events are POSTed.
    pub webhook_url: String,
    /// Message tags wanted (empty: all).
    pub tags: Vec<u32>,
    /// Statuses wanted (`accepted`, `queued`, `delivered`; empty: all).
    pub statuses: Vec<String>,
    /// Unix seconds after which the registration is gone.
    pub expires_at: i64,
}

impl Watch {
    /// Whether an event with `tag` and `status` is wanted at `now_secs`
    /// (an expired registration wants nothing, swept or not).
    pub fn wants(&self, tag: u32, status: &str, now_secs: i64) -> bool {
        self.expires_at > now_secs
            && (self.tags.is_empty() || self.tags.contains(&tag))
            && (self.statuses.is_empty() || self.statuses.iter().any(|s| s == status))
    }
}

/// One event waiting to be sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedEvent {
    /// Unique in the queue (the store assigns it on enqueue).
    pub id: u64,
    /// When to try next, ms since the epoch.
    pub due_ms: u64,
    /// When it was first queued: events are given up a while after.
    pub queued_ms: u64,
    /// Attempts so far.
    pub attempts: u32,
    /// Where to send it.
    pub webhook_url: String,
    /// The event claims to sign, as JSON.
    pub body: String,
}

/// Registrations and the event queue of one backend.
#[async_trait::async_trait]
pub trait WatchStore: Send + Sync + 'static {
    /// Stores `watch`, replacing the client's registration for the same
    /// service and webhook; refused with [`crate::Error::WatchLimit`] when
    /// the client already has `max_per_client` other registrations.
    async fn put_watch(&self, watch: Watch, max_per_client: usize) -> Result<()>;

    /// Removes a registration; returns whether it existed.
    async fn remove_watch(
        &self,
        client_id: &str,
        service_url: &str,
        webhook_url: &str,
    ) -> Result<bool>;

    /// The client's live registrations (memory only: called on every
    /// publish and delivery).
    fn watches(&self, client_id: &str) -> Vec<Watch>;

    /// Every client with at least one registration of type `typ`.
    fn watched_clients(&self, typ: &str) -> Vec<String>;

    /// Queues events; durable once [`sync`](Self::sync) returns.
    async fn enqueue(&self, events: Vec<QueuedEvent>) -> Result<()>;

    /// Up to `max` events due by `now_ms`, oldest due first. They stay
    /// queued until [`finish`](Self::finish) or [`retry`](Self::retry).
    async fn due(&self, now_ms: u64, max: usize) -> Result<Vec<QueuedEvent>>;

    /// Removes a sent (or abandoned) event.
    async fn finish(&self, event: &QueuedEvent) -> Result<()>;

    /// Moves an event to `due_ms` with one more attempt counted.
    async fn retry(&self, event: &QueuedEvent, due_ms: u64) -> Result<()>;

    /// Events queued (for metrics).
    fn queued(&self) -> u64;

    /// Drops registrations expired by `now_secs`; returns how many.
    async fn sweep_watches(&self, now_secs: i64) -> Result<usize>;

    /// Makes every earlier write durable.
    async fn sync(&self) -> Result<()>;
}
