//! Durable mailbox storage for Relaybox.
//!
//! A WalletConnect relay must hold every published message for its topic
//! until the TTL runs out, even when nobody is subscribed yet, and must never
//! lose a message after it has told the publisher "stored". This crate owns
//! that promise. It defines the [`MailboxStore`] trait the gateway is written
//! against, the types it exchanges, the single-node fan-out and, behind the
//! `testing` feature, the contract suite every backend runs. The backends
//! live in their own crates: `relaybox-disk` (embedded: a segment log and
//! sled) and `relaybox-redis` (cluster mode).
//!
//! The model, in short:
//! - every message gets a `seq` from one store-wide, strictly increasing
//!   sequence, and becomes visible per topic in `seq` order;
//! - messages are deduplicated per topic by `sha256(message)`;
//! - each `(client, topic)` pair has a delivery *cursor* plus individual acks
//!   above it, so "what is still pending for this client" is a range scan;
//! - writes are made visible immediately but durable only through
//!   [`MailboxStore::sync`], which batches many callers into one flush
//!   (group commit) so durability does not cost one fsync per publish.
//!
//! The [`fanout`] module holds the wake-up side of the contract: the
//! [`FanOut`] trait the gateway announces through, and [`LocalHub`], its
//! single-node implementation.
//!
//! The [`inspect`] module holds the operator's side, the [`Inspect`]
//! supertrait: a look at one topic, deleting a topic's messages, and the
//! walks `relaybox export` makes.
//!
//! The [`attest`] module holds the async-attestation relay's storage
//! contract, the [`AttestationStore`] trait.

pub mod attest;
mod error;
pub mod fanout;
pub mod inspect;
#[cfg(feature = "testing")]
pub mod testing;
mod types;
pub mod watch;

pub use attest::{
    Answer, AttestError, AttestResult, AttestStats, AttestationRecord, AttestationStore, Created,
    ListCursor, ListPage, ListQuery, NewAttestation, Status,
};
pub use error::{Error, Result};
pub use fanout::{FanOut, LocalHub, Subscriber, WakeUp};
pub use inspect::{ExpirySchedule, Inspect, Page, StoreUsage, Subscription, TopicSummary};
pub use watch::{QueuedEvent, Watch, WatchCache, WatchStore};

/// Default per-topic live-message limit.
pub const DEFAULT_MAX_MESSAGES_PER_TOPIC: usize = 10_000;
pub use types::{Appended, NewMessage, PendingPage, StoreStats, StoredMessage, TopicKey};

/// The storage contract the gateway relies on.
///
/// It is a trait so the embedded and the clustered backend are
/// interchangeable behind the gateway, and so gateway tests can swap in fakes.
///
/// `client` arguments are client ids (the `did:key` from the connection's
/// JWT). `now_ms` arguments are wall-clock milliseconds supplied by the
/// caller, which keeps expiry deterministic under test.
#[async_trait::async_trait]
pub trait MailboxStore: Inspect + Send + Sync + 'static {
    /// Appends and makes the message visible (ordered) but not necessarily
    /// durable: call [`sync`](Self::sync) before acknowledging the publish.
    ///
    /// A copy of a message that is still live in the topic is not stored
    /// again; the existing record comes back with `duplicate = true`.
    /// Fails with [`Error::MailboxFull`] when the topic already holds the
    /// configured maximum of live messages.
    async fn append(&self, msg: NewMessage) -> Result<Appended>;

    /// Returns once everything appended/subscribed before this call is
    /// durable (group commit: many concurrent callers share one flush).
    async fn sync(&self) -> Result<()>;

    /// Returns once every message appended before this call is durable;
    /// subscriptions and positions need not be. A publish reply waits for
    /// this only, so a backend that commits its message log apart from its
    /// other state keeps publishes clear of subscription writes.
    async fn sync_messages(&self) -> Result<()> {
        self.sync().await
    }

    /// Subscribes `client` to `topic`; returns whether it was newly added.
    /// Subscriptions persist until [`unsubscribe`](Self::unsubscribe).
    ///
    /// A client that already follows `max_subscriptions` other topics gets
    /// [`Error::SubscriptionLimit`]; the check and the insert are one atomic
    /// step per client, so concurrent sockets of one client cannot exceed it.
    async fn subscribe(
        &self,
        client: &str,
        topic: TopicKey,
        max_subscriptions: usize,
    ) -> Result<bool>;

    /// [`subscribe`](Self::subscribe) for each of `topics` in order, in
    /// one step where the backend can: returns whether each was new. At the
    /// first topic over the limit it stops, so the result is shorter than
    /// `topics` (the topics before it stay subscribed).
    async fn subscribe_many(
        &self,
        client: &str,
        topics: &[TopicKey],
        max_subscriptions: usize,
    ) -> Result<Vec<bool>> {
        let mut added = Vec::with_capacity(topics.len());
        for topic in topics {
            match self.subscribe(client, *topic, max_subscriptions).await {
                Ok(new) => added.push(new),
                Err(Error::SubscriptionLimit) => break,
                Err(e) => return Err(e),
            }
        }
        Ok(added)
    }

    /// Removes the subscription and also drops the `(client, topic)`
    /// delivery state; returns whether the subscription existed.
    async fn unsubscribe(&self, client: &str, topic: TopicKey) -> Result<bool>;

    /// [`unsubscribe`](Self::unsubscribe) for each of `topics`, in one step
    /// where the backend can.
    async fn unsubscribe_many(&self, client: &str, topics: &[TopicKey]) -> Result<()> {
        for topic in topics {
            self.unsubscribe(client, *topic).await?;
        }
        Ok(())
    }

    /// Every topic `client` is subscribed to, in topic-byte order.
    async fn subscriptions(&self, client: &str) -> Result<Vec<TopicKey>>;

    /// Whether `client` is subscribed to `topic`.
    async fn is_subscribed(&self, client: &str, topic: TopicKey) -> Result<bool> {
        Ok(self.subscriptions(client).await?.contains(&topic))
    }

    /// How many topics `client` is subscribed to (for per-client limits).
    async fn subscription_count(&self, client: &str) -> Result<usize>;

    /// Pending messages with seq > max(after, cursor), oldest first, at most
    /// `limit`. Does not change state.
    ///
    /// The page is a consistent snapshot: it covers exactly the messages up
    /// to [`PendingPage::last_seq`], so a later fan-out whose `prev_seq`
    /// equals that value proves nothing was missed in between.
    async fn pending(
        &self,
        client: &str,
        topic: TopicKey,
        after: u64,
        limit: usize,
        now_ms: u64,
    ) -> Result<PendingPage>;

    /// Marks `seqs` as delivered to `client` and advances its cursor.
    /// Unknown or already-passed seqs are ignored. Not durable by itself: a
    /// lost ack only causes a redelivery, which clients tolerate.
    async fn ack(&self, client: &str, topic: TopicKey, seqs: &[u64], now_ms: u64) -> Result<()>;

    /// Like `pending` from the cursor, and marks what it returns as acked
    /// (fetch consumes), so repeated fetches end.
    async fn fetch(
        &self,
        client: &str,
        topic: TopicKey,
        limit: usize,
        now_ms: u64,
    ) -> Result<PendingPage>;

    /// Deletes up to `max` expired messages (and their dedup/expiry index
    /// entries); returns how many.
    async fn sweep_expired(&self, now_ms: u64, max: usize) -> Result<usize>;

    /// Records that `client` was seen (connected) at `now_ms`, for
    /// [`sweep_idle_clients`](Self::sweep_idle_clients). Not durable by
    /// itself and cheap: callers may call it on every connect.
    async fn touch(&self, client: &str, now_ms: u64, idle_ms: u64) -> Result<()>;

    /// Deletes the subscriptions and delivery positions of up to `max`
    /// clients last seen before `seen_before_ms`; returns how many clients.
    /// A did:key costs nothing to make, so state nobody comes back for must
    /// not stay forever. (Redis expires such state by key TTL instead.)
    async fn sweep_idle_clients(&self, seen_before_ms: u64, max: usize) -> Result<usize>;

    /// Best-effort counters for metrics; never touches disk.
    fn stats(&self) -> StoreStats;

    /// Flush everything (shutdown). Later calls fail with [`Error::Closed`].
    async fn close(&self) -> Result<()>;

    /// Whether the store can serve requests right now (readiness). An
    /// embedded store is healthy while it is open; a networked one checks
    /// that its server answers. Must return within about a second.
    async fn health(&self) -> Result<()> {
        Ok(())
    }
}
