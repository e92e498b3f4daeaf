//! Subscriptions: `(client, topic)` pairs that persist until unsubscribe.
//!
//! Stored twice (`s|client|topic` to list a client's topics, `r|topic|client`
//! to list a topic's subscribers) in one sled batch so the two never
//! disagree. These are blocking calls: the store runs them off the async
//! workers.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use dashmap::mapref::one::RefMut;
use relaybox_store::TopicKey;

use super::keys::{self, ClientHash};
use super::State;
use crate::error::{storage, DiskResult};

fn wall_clock_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// One step of the walk over every subscription: `(client, topic)` pairs
/// and the sled key it stopped at (`None`: the walk is complete).
pub(crate) type WalkStep = (Vec<(String, TopicKey)>, Option<Vec<u8>>);

impl State {
    /// Adds the subscription unless the client already follows `max`
    /// topics; returns whether it is new (`None`: the limit is reached).
    /// Marks the state dirty, so the caller's following sync makes it
    /// durable. The client's count entry is held for the whole step, so
    /// concurrent subscribes of one client cannot pass the limit together.
    pub(crate) fn subscribe(
        &self,
        client: &str,
        ch: &ClientHash,
        topic: &TopicKey,
        max: usize,
    ) -> DiskResult<Option<bool>> {
        let mut count = self.sub_count_entry(ch)?;
        let sub = keys::sub(ch, topic);
        if self.tree.contains_key(sub).map_err(storage)? {
            self.positions.load(&(*ch, *topic))?.followed = true;
            return Ok(Some(false));
        }
        if *count >= max {
            return Ok(None);
        }
        let mut batch = sled::Batch::default();
        batch.insert(&sub[..], &[][..]);
        batch.insert(&keys::sub_rev(topic, ch)[..], client.as_bytes());
        self.tree.apply_batch(batch).map_err(storage)?;
        self.positions.load(&(*ch, *topic))?.followed = true;
        *count += 1;
        // A subscribing client is active, even one that never touched (HTTP).
        self.touch(*ch, wall_clock_ms());
        self.mark_dirty();
        self.subscriptions.fetch_add(1, Ordering::Relaxed);
        Ok(Some(true))
    }

    /// The client's subscription count entry (complete from start-up on, so
    /// a client without one follows nothing).
    fn sub_count_entry(&self, ch: &ClientHash) -> DiskResult<RefMut<'_, ClientHash, usize>> {
        Ok(self.sub_counts.entry(*ch).or_insert(0))
    }

    /// Removes the subscription and the pair's delivery position; returns
    /// whether the subscription existed.
    pub(crate) fn unsubscribe(&self, ch: &ClientHash, topic: &TopicKey) -> DiskResult<bool> {
        let mut count = self.sub_count_entry(ch)?;
        let sub = keys::sub(ch, topic);
        let existed = self.tree.contains_key(sub).map_err(storage)?;
        self.positions.forget(&(*ch, *topic))?;
        let mut batch = sled::Batch::default();
        batch.remove(&sub[..]);
        batch.remove(&keys::sub_rev(topic, ch)[..]);
        self.tree.apply_batch(batch).map_err(storage)?;
        self.mark_dirty();
        if existed {
            *count = count.saturating_sub(1);
            self.subscriptions.fetch_sub(1, Ordering::Relaxed);
        }
        drop(count);
        // Clients following nothing keep no entry.
        self.sub_counts.remove_if(ch, |_, n| *n == 0);
        Ok(existed)
    }

    /// The client's topics, in topic-byte order, with their positions
    /// loaded: the replay that follows a connect then needs no sled read.
    pub(crate) fn subscriptions(&self, ch: &ClientHash) -> DiskResult<Vec<TopicKey>> {
        let topics = self.subscribed_topics(ch)?;
        for topic in &topics {
            self.positions.load(&(*ch, *topic))?.followed = true;
        }
        Ok(topics)
    }

    /// The client's topics as sled has them.
    pub(crate) fn subscribed_topics(&self, ch: &ClientHash) -> DiskResult<Vec<TopicKey>> {
        let mut out = Vec::new();
        if !self.has_subscriptions(ch) {
            return Ok(out);
        }
        for key in self.tree.scan_prefix(keys::sub_prefix(ch)).keys() {
            let key = key.map_err(storage)?;
            match keys::sub_topic(&key) {
                Some(topic) => out.push(topic),
                None => {
                    tracing::error!(key = %hex::encode(&key), "skipping malformed subscription key")
                }
            }
        }
        Ok(out)
    }

    /// Whether the client follows any topic (memory only: every client
    /// with subscriptions is counted in `sub_counts` from start-up on).
    pub(crate) fn has_subscriptions(&self, ch: &ClientHash) -> bool {
        self.sub_counts.get(ch).is_some_and(|n| *n > 0)
    }

    /// Whether the client follows `topic` (a sled read).
    pub(crate) fn is_subscribed(&self, ch: &ClientHash, topic: &TopicKey) -> DiskResult<bool> {
        self.tree
            .contains_key(keys::sub(ch, topic))
            .map_err(storage)
    }

    /// How many topics the client follows.
    pub(crate) fn subscription_count(&self, ch: &ClientHash) -> DiskResult<usize> {
        Ok(self.sub_counts.get(ch).map_or(0, |n| *n))
    }

    /// Up to `max` client ids subscribed to `topic`.
    pub(crate) fn subscribers(&self, topic: &TopicKey, max: usize) -> DiskResult<Vec<Arc<str>>> {
        let mut out = Vec::new();
        for item in self.tree.scan_prefix(keys::sub_rev_prefix(topic)) {
            if out.len() >= max {
                break;
            }
            let (key, value) = item.map_err(storage)?;
            match std::str::from_utf8(&value) {
                Ok(client) => out.push(Arc::from(client)),
                Err(_) => {
                    tracing::error!(key = %hex::encode(&key), "skipping non-UTF-8 subscriber id")
                }
            }
        }
        Ok(out)
    }

    /// Up to `max` subscriptions `(client, topic)` in key order after the
    /// reverse-subscription key `after`, and the last key read (the walk's
    /// cursor; `None` once the walk is complete).
    pub(crate) fn subscription_walk(
        &self,
        after: Option<&[u8]>,
        max: usize,
    ) -> DiskResult<WalkStep> {
        use std::ops::Bound;
        let prefix = keys::sub_rev_all_prefix();
        let start = match after {
            Some(k) => Bound::Excluded(k.to_vec()),
            None => Bound::Included(prefix.to_vec()),
        };
        let mut out = Vec::new();
        let mut last = None;
        for item in self.tree.range::<Vec<u8>, _>((start, Bound::Unbounded)) {
            let (key, value) = item.map_err(storage)?;
            if !key.starts_with(&prefix) {
                return Ok((out, None));
            }
            if out.len() >= max {
                return Ok((out, last));
            }
            match (keys::sub_rev_topic(&key), std::str::from_utf8(&value)) {
                (Some(topic), Ok(client)) => out.push((client.to_owned(), topic)),
                _ => tracing::error!(key = %hex::encode(&key), "skipping a malformed subscription"),
            }
            last = Some(key.to_vec());
        }
        Ok((out, None))
    }
}
