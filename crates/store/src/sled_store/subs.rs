//! Subscriptions: `(client, topic)` pairs that persist until unsubscribe.
//!
//! Stored twice (`s|client|topic` to list a client's topics, `r|topic|client`
//! to list a topic's subscribers) in one batch so the two never disagree.
//! Changes take the pair's stripe lock, shared with delivery, so an
//! unsubscribe cannot interleave with an ack that would resurrect the state
//! it just dropped.

use std::sync::Arc;

use super::keys;
use super::SledStore;
use crate::error::Result;
use crate::types::TopicKey;

impl SledStore {
    pub(super) fn subscribe_blocking(&self, client: &str, topic: TopicKey) -> Result<bool> {
        let ch = keys::client_hash(client);
        let _guard = self.pair_locks.pair(&ch, &topic).lock();
        let sub = keys::sub(&ch, &topic);
        if self.tree.contains_key(sub)? {
            return Ok(false);
        }
        let mut batch = sled::Batch::default();
        batch.insert(&sub[..], &[][..]);
        batch.insert(&keys::sub_rev(&topic, &ch)[..], client.as_bytes());
        self.tree.apply_batch(batch)?;
        self.counters.add_subscriptions(1);
        Ok(true)
    }

    pub(super) fn unsubscribe_blocking(&self, client: &str, topic: TopicKey) -> Result<bool> {
        let ch = keys::client_hash(client);
        let _guard = self.pair_locks.pair(&ch, &topic).lock();
        let sub = keys::sub(&ch, &topic);
        let existed = self.tree.contains_key(sub)?;
        let mut batch = sled::Batch::default();
        batch.remove(&sub[..]);
        batch.remove(&keys::sub_rev(&topic, &ch)[..]);
        // Delivery state goes too, whether or not the subscription existed.
        batch.remove(&keys::cursor(&ch, &topic)[..]);
        for item in self.tree.scan_prefix(keys::ack_prefix(&ch, &topic)) {
            let (key, _) = item?;
            batch.remove(key);
        }
        self.tree.apply_batch(batch)?;
        if existed {
            self.counters.add_subscriptions(-1);
        }
        Ok(existed)
    }

    pub(super) fn subscriptions_blocking(&self, client: &str) -> Result<Vec<TopicKey>> {
        let ch = keys::client_hash(client);
        let mut out = Vec::new();
        for key in self.tree.scan_prefix(keys::sub_prefix(&ch)).keys() {
            let key = key?;
            match keys::sub_topic(&key) {
                Some(topic) => out.push(topic),
                None => {
                    tracing::error!(key = %hex::encode(&key), "skipping malformed subscription key")
                }
            }
        }
        Ok(out)
    }

    pub(super) fn subscription_count_blocking(&self, client: &str) -> Result<usize> {
        let ch = keys::client_hash(client);
        let mut n = 0;
        for key in self.tree.scan_prefix(keys::sub_prefix(&ch)).keys() {
            key?;
            n += 1;
        }
        Ok(n)
    }

    pub(super) fn subscribers_blocking(&self, topic: TopicKey) -> Result<Vec<Arc<str>>> {
        let mut out = Vec::new();
        for item in self.tree.scan_prefix(keys::sub_rev_prefix(&topic)) {
            let (key, value) = item?;
            match std::str::from_utf8(&value) {
                Ok(client) => out.push(Arc::from(client)),
                Err(_) => {
                    tracing::error!(key = %hex::encode(&key), "skipping non-UTF-8 subscriber id")
                }
            }
        }
        Ok(out)
    }
}
