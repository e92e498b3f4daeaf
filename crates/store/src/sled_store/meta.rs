//! Per-topic meta (stored-message count and newest seq), cached in memory.
//!
//! Every append needs the count (for the limit) and the previous seq (for
//! `prev_seq`), and every `pending` needs the newest seq; reading `t|topic`
//! from sled each time would be wasteful, so values are cached in a
//! `DashMap`. The cache is only filled and changed while holding the
//! topic's stripe lock, after the matching batch has been applied, so it
//! never runs ahead of what readers can see in the tree.

use super::codec::{self, TopicMeta};
use super::keys;
use super::SledStore;
use crate::error::Result;
use crate::types::TopicKey;

impl SledStore {
    /// The topic's meta, or `None` if it has no stored messages.
    /// The caller must hold the topic's stripe lock.
    pub(super) fn meta_locked(&self, topic: &TopicKey) -> Result<Option<TopicMeta>> {
        // Copy out so no map guard is held while the map is written below.
        let cached = self.meta.get(topic).map(|r| *r);
        if cached.is_some() {
            return Ok(cached);
        }
        let loaded = match self.tree.get(keys::topic_meta(topic))? {
            None => None,
            Some(bytes) => match codec::decode_meta(&bytes) {
                Ok(m) => Some(m),
                Err(e) => {
                    tracing::error!(topic = %topic, error = %e, "corrupt topic meta; rebuilding from messages");
                    self.rebuild_meta(topic)?
                }
            },
        };
        if let Some(m) = loaded {
            self.meta.insert(*topic, m);
        }
        Ok(loaded)
    }

    /// Stages the new meta in `batch` (removing it when the topic empties).
    /// Call [`commit_meta`](Self::commit_meta) once the batch is applied.
    pub(super) fn stage_meta(&self, batch: &mut sled::Batch, topic: &TopicKey, m: TopicMeta) {
        let key = keys::topic_meta(topic);
        if m.count == 0 {
            batch.remove(&key[..]);
        } else {
            batch.insert(&key[..], &codec::encode_meta(m)[..]);
        }
    }

    /// Writes a topic's meta record directly (the unbatched append path).
    pub(super) fn write_meta(&self, topic: &TopicKey, m: TopicMeta) -> Result<()> {
        let key = keys::topic_meta(topic);
        if m.count == 0 {
            self.tree.remove(&key[..])?;
        } else {
            self.tree.insert(&key[..], &codec::encode_meta(m)[..])?;
        }
        Ok(())
    }

    /// Mirrors an applied meta change into the cache and the counters.
    /// `before` is what [`meta_locked`](Self::meta_locked) returned.
    pub(super) fn commit_meta(&self, topic: &TopicKey, before: Option<TopicMeta>, m: TopicMeta) {
        let before_count = before.map_or(0, |b| b.count);
        self.counters
            .add_messages(m.count as i64 - before_count as i64);
        if m.count == 0 {
            self.meta.remove(topic);
            if before.is_some() {
                self.counters.add_topics(-1);
            }
        } else {
            self.meta.insert(*topic, m);
            if before.is_none() {
                self.counters.add_topics(1);
            }
        }
    }

    /// The topic's newest seq (0 if it holds nothing). Takes the topic lock
    /// only on a cache miss.
    pub(super) fn last_seq(&self, topic: &TopicKey) -> Result<u64> {
        if let Some(last) = self.meta.get(topic).map(|r| r.last_seq) {
            return Ok(last);
        }
        let _guard = self.topic_locks.topic(topic).lock();
        Ok(self.meta_locked(topic)?.map_or(0, |m| m.last_seq))
    }

    /// Recounts a topic from its message records after its meta was lost.
    pub(super) fn rebuild_meta(&self, topic: &TopicKey) -> Result<Option<TopicMeta>> {
        let mut m = TopicMeta::default();
        for item in self.tree.scan_prefix(keys::message_prefix(topic)) {
            let (key, _) = item?;
            if let Some(seq) = keys::message_seq(&key, topic) {
                m.count += 1;
                m.last_seq = m.last_seq.max(seq);
            }
        }
        Ok((m.count > 0).then_some(m))
    }
}
