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

/// How much the store uses and when its messages expire (`GET
/// /admin/stats`). `None` where a backend cannot tell.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreUsage {
    /// Bytes the store's data takes (files, or Redis's used memory).
    pub bytes: Option<u64>,
    /// Room left: free space on the data directory's file system, or
    /// Redis's `maxmemory` minus its used memory.
    pub free_bytes: Option<u64>,
    /// The configured budget (`store.max_disk_mb`, Redis `maxmemory`).
    pub budget_bytes: Option<u64>,
    /// Live messages by when they expire.
    pub expiring: Option<ExpirySchedule>,
}

/// Live messages counted by when they expire, from now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExpirySchedule {
    /// Within the next hour.
    pub within_hour: u64,
    /// After that, within the next day.
    pub within_day: u64,
    /// After that, within the next week.
    pub within_week: u64,
    /// Later.
    pub later: u64,
}

impl ExpirySchedule {
    /// Counts `n` live messages expiring at `expires_at_ms` (none if that
    /// is not after `now_ms`).
    pub fn add(&mut self, expires_at_ms: u64, now_ms: u64, n: u64) {
        const HOUR: u64 = 3_600_000;
        let bucket = match expires_at_ms.saturating_sub(now_ms) {
            0 => return,
            d if d <= HOUR => &mut self.within_hour,
            d if d <= 24 * HOUR => &mut self.within_day,
            d if d <= 7 * 24 * HOUR => &mut self.within_week,
            _ => &mut self.later,
        };
        *bucket += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiries_fall_into_their_bucket() {
        let mut s = ExpirySchedule::default();
        let now = 1_000;
        for (at, n) in [
            (500, 1),
            (now, 1),
            (now + 1, 2),
            (now + 3_600_001, 3),
            (now + 86_400_001, 4),
            (now + 604_800_001, 5),
        ] {
            s.add(at, now, n);
        }
        assert_eq!(
            (s.within_hour, s.within_day, s.within_week, s.later),
            (2, 3, 4, 5)
        );
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

    /// The store's size, room and expiry schedule at `now_ms` (may walk
    /// every live message: an operator's call).
    async fn usage(&self, now_ms: u64) -> Result<StoreUsage>;
}
