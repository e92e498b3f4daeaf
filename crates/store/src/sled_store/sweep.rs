//! Deleting expired messages.
//!
//! The expiry index (`x|expires|topic|seq`) is ordered by expiry time, so
//! the sweeper reads only what is due instead of scanning every topic. Each
//! message is removed together with its dedup and index entries and the
//! topic meta in one batch under the topic lock, so counts never drift from
//! the records. Delivery state is not touched: acks for deleted seqs are
//! cleaned up when a cursor passes them.

use super::codec::{self, TopicMeta};
use super::keys;
use super::SledStore;
use crate::error::Result;
use crate::types::TopicKey;

impl SledStore {
    pub(super) fn sweep_blocking(&self, now_ms: u64, max: usize) -> Result<usize> {
        if max == 0 {
            return Ok(0);
        }
        // Collect first so no iterator is open while we write.
        let start = keys::expiry_start();
        let end = keys::expiry_end(now_ms);
        let mut due = Vec::with_capacity(max.min(1024));
        for item in self.tree.range(&start[..]..&end[..]) {
            let (key, _) = item?;
            due.push(key);
            if due.len() >= max {
                break;
            }
        }
        let mut deleted = 0;
        for key in due {
            let Some((_, topic, seq)) = keys::parse_expiry(&key) else {
                tracing::error!(key = %hex::encode(&key), "removing malformed expiry index key");
                self.tree.remove(&key)?;
                continue;
            };
            if self.delete_indexed(&key, &topic, seq)? {
                deleted += 1;
            }
        }
        if deleted > 0 {
            tracing::debug!(deleted, "swept expired messages");
        }
        Ok(deleted)
    }

    /// Deletes one message found through its index key; false if the
    /// message was already gone (the stale index key is removed anyway).
    fn delete_indexed(&self, index_key: &[u8], topic: &TopicKey, seq: u64) -> Result<bool> {
        let _guard = self.topic_locks.topic(topic).lock();
        let mut batch = sled::Batch::default();
        batch.remove(index_key);
        let existed = self.stage_delete(&mut batch, topic, seq)?;
        if !existed {
            self.tree.apply_batch(batch)?;
            return Ok(false);
        }
        let before = self.meta_locked(topic)?;
        let m = before.unwrap_or_default();
        let after = TopicMeta {
            count: m.count.saturating_sub(1),
            last_seq: m.last_seq,
        };
        self.stage_meta(&mut batch, topic, after);
        self.tree.apply_batch(batch)?;
        self.commit_meta(topic, before, after);
        Ok(true)
    }

    /// Stages removal of a message and its dedup and expiry entries.
    /// Returns whether the message existed. Caller holds the topic lock
    /// and adjusts the topic meta.
    pub(super) fn stage_delete(
        &self,
        batch: &mut sled::Batch,
        topic: &TopicKey,
        seq: u64,
    ) -> Result<bool> {
        let key = keys::message(topic, seq);
        let Some(record) = self.tree.get(key)? else {
            return Ok(false);
        };
        batch.remove(&key[..]);
        match codec::decode_header(&record) {
            Ok(h) => {
                batch.remove(&keys::expiry(h.expires_at_ms, topic, seq)[..]);
                let dedup_key = keys::dedup(topic, &h.hash);
                if let Some(bytes) = self.tree.get(dedup_key)? {
                    // Only drop the entry if it still points at this copy.
                    if codec::decode_dedup(&bytes).map_or(true, |d| d.seq == seq) {
                        batch.remove(&dedup_key[..]);
                    }
                }
            }
            // Its index entry is left behind and removed by a later sweep.
            Err(e) => {
                tracing::error!(topic = %topic, seq, error = %e, "deleting corrupt message record")
            }
        }
        Ok(true)
    }
}
