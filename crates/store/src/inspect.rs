//! What an operator needs beyond the gateway's hot path: a look at one
//! topic, the one repair (deleting a topic's messages), and walks over
//! everything stored, for `relaybox export`.
//!
//! These are a trait of their own, a supertrait of
//! [`MailboxStore`](crate::MailboxStore), so the gateway's contract stays
//! what the hot path calls while every backend still has to answer them.
//! Walks page with an opaque cursor string, because each backend pages
//! differently (sled keys, Redis `SCAN` cursors); a walk over a store that
//! changes meanwhile sees every item that existed for the whole walk at
//! least once.

use std::sync::Arc;

use crate::{Result, StoredMessage, TopicKey};

/// One topic's live (unexpired) messages, summed up.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TopicSummary {
    /// Live messages.
    pub messages: u64,
    /// Bytes of their bodies (the `message` field).
    pub bytes: u64,
    /// Publish time of the oldest and the newest live message.
    pub oldest_published_ms: Option<u64>,
    /// See `oldest_published_ms`.
    pub newest_published_ms: Option<u64>,
    /// When the first and the last live message expire.
    pub first_expiry_ms: Option<u64>,
    /// See `first_expiry_ms`.
    pub last_expiry_ms: Option<u64>,
    /// The newest seq the topic has had (0 if none).
    pub newest_seq: u64,
}

impl TopicSummary {
    /// The summary of `messages` (live ones of one topic, any order).
    pub fn of(messages: &[Arc<StoredMessage>]) -> TopicSummary {
        let mut s = TopicSummary::default();
        for m in messages {
            s.add(m);
        }
        s
    }

    /// Counts one more live message.
    pub fn add(&mut self, m: &StoredMessage) {
        let min = |a: Option<u64>, b: u64| Some(a.map_or(b, |a| a.min(b)));
        let max = |a: Option<u64>, b: u64| Some(a.map_or(b, |a| a.max(b)));
        self.messages += 1;
        self.bytes += m.message.len() as u64;
        self.oldest_published_ms = min(self.oldest_published_ms, m.published_at_ms);
        self.newest_published_ms = max(self.newest_published_ms, m.published_at_ms);
        self.first_expiry_ms = min(self.first_expiry_ms, m.expires_at_ms);
        self.last_expiry_ms = max(self.last_expiry_ms, m.expires_at_ms);
        self.newest_seq = self.newest_seq.max(m.seq);
    }
}

/// One `(client, topic)` subscription.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Subscription {
    /// The client id.
    pub client: String,
    /// The topic it follows.
    pub topic: TopicKey,
}

/// One page of a walk; `next` is `None` on the last page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<T> {
    /// This page's items (possibly none, even when more follow).
    pub items: Vec<T>,
    /// Where the next page starts.
    pub next: Option<String>,
}

/// The operator's side of a mailbox store.
#[async_trait::async_trait]
pub trait Inspect: Send + Sync {
    /// `topic`'s live messages at `now_ms`, summed up (the admin API looks
    /// at one topic at a time; a backend may read every record).
    async fn topic_summary(&self, topic: TopicKey, now_ms: u64) -> Result<TopicSummary>;

    /// Up to `max` clients subscribed to `topic`.
    async fn topic_subscribers(&self, topic: TopicKey, max: usize) -> Result<Vec<String>>;

    /// `client`'s delivery cursor in `topic`: every message at or below it
    /// is done for the client (0: nothing yet).
    async fn cursor(&self, client: &str, topic: TopicKey) -> Result<u64>;

    /// Deletes every message `topic` holds now, for every subscriber;
    /// returns how many. Durable once [`sync`](crate::MailboxStore::sync)
    /// returns: a restart does not bring them back. Later publishes to the
    /// topic are stored as usual.
    async fn delete_topic_messages(&self, topic: TopicKey) -> Result<u64>;

    /// One page of the topics holding messages.
    async fn topics_page(&self, cursor: Option<String>, max: usize) -> Result<Page<TopicKey>>;

    /// Up to `max` of `topic`'s live messages with seq above `after`,
    /// oldest first, whoever published them.
    async fn messages_after(
        &self,
        topic: TopicKey,
        after: u64,
        max: usize,
        now_ms: u64,
    ) -> Result<Vec<Arc<StoredMessage>>>;

    /// One page of every subscription of every client.
    async fn subscriptions_page(
        &self,
        cursor: Option<String>,
        max: usize,
    ) -> Result<Page<Subscription>>;
}
