//! Best-effort counters behind [`MailboxStore::stats`](crate::MailboxStore::stats).
//!
//! Metrics must not cost a disk scan per scrape, so the counts are kept in
//! atomics, seeded by one scan at open and adjusted by every write path.
//! They are signed internally so a transient race can never wrap around.

use std::sync::atomic::{AtomicI64, Ordering};

use super::{codec, keys};
use crate::error::Result;
use crate::types::StoreStats;

/// Live counters.
pub(crate) struct Counters {
    messages: AtomicI64,
    topics: AtomicI64,
    subscriptions: AtomicI64,
}

impl Counters {
    /// Seeds the counters from what is on disk.
    pub(crate) fn scan(tree: &sled::Tree) -> Result<Self> {
        let (mut messages, mut topics, mut subscriptions) = (0i64, 0i64, 0i64);
        for item in tree.scan_prefix(keys::topic_meta_prefix()) {
            let (key, value) = item?;
            match codec::decode_meta(&value) {
                Ok(m) => {
                    messages = messages.saturating_add(i64::try_from(m.count).unwrap_or(i64::MAX));
                    topics += 1;
                }
                Err(e) => {
                    tracing::error!(key = %hex::encode(&key), error = %e, "skipping corrupt topic meta in stats scan")
                }
            }
        }
        for item in tree.scan_prefix(keys::sub_all_prefix()) {
            item?;
            subscriptions += 1;
        }
        Ok(Self {
            messages: AtomicI64::new(messages),
            topics: AtomicI64::new(topics),
            subscriptions: AtomicI64::new(subscriptions),
        })
    }

    pub(crate) fn add_messages(&self, delta: i64) {
        self.messages.fetch_add(delta, Ordering::Relaxed);
    }

    pub(crate) fn add_topics(&self, delta: i64) {
        self.topics.fetch_add(delta, Ordering::Relaxed);
    }

    pub(crate) fn add_subscriptions(&self, delta: i64) {
        self.subscriptions.fetch_add(delta, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> StoreStats {
        let get = |a: &AtomicI64| u64::try_from(a.load(Ordering::Relaxed)).unwrap_or(0);
        StoreStats {
            messages: get(&self.messages),
            topics: get(&self.topics),
            subscriptions: get(&self.subscriptions),
        }
    }
}
