//! [`Inspect`] for [`DiskStore`]: the operator's look at a topic, the
//! deletion of a topic's messages (a purge marker in sled, see
//! `state::purges`), and the export walks. Everything that reads records or
//! sled runs off the async workers.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use relaybox_store::{
    Error, ExpirySchedule, Inspect, Page, Result, StoreUsage, StoredMessage, Subscription,
    TopicKey, TopicSummary,
};

use crate::ops::blocking;
use crate::state::client_hash;
use crate::{DiskStore, Inner};

impl Inner {
    /// Up to `max` live records of `topic` above `after` (blocking reads).
    fn live_after(
        &self,
        topic: TopicKey,
        after: u64,
        max: usize,
        now_ms: u64,
    ) -> Result<Vec<Arc<StoredMessage>>> {
        let due = match self.topics.get(&topic) {
            Some(index) => index.live_after(after, max, now_ms),
            None => return Ok(Vec::new()),
        };
        due.iter()
            .map(|d| self.read(&d.loc).map(Arc::new))
            .collect()
    }

    /// Removes every message `topic` holds and records the purge.
    fn delete_topic(&self, topic: TopicKey) -> Result<u64> {
        let (removed, through, until) = {
            let Some(mut index) = self.topics.get_mut(&topic) else {
                return Ok(0);
            };
            let through = index.last_seq();
            let (removed, until) = index.remove_through(through);
            (removed, through, until)
        };
        self.topics.remove_if(&topic, |_, index| index.is_empty());
        self.messages.fetch_sub(removed as i64, Ordering::Relaxed);
        if removed > 0 {
            self.state.record_purge(&topic, through, until)?;
        }
        Ok(removed as u64)
    }
}

/// Applies the purge markers to an index just rebuilt from the log;
/// returns how many messages they removed.
pub(crate) fn apply_purges(
    state: &crate::state::State,
    topics: &dashmap::DashMap<TopicKey, crate::index::TopicIndex>,
) -> crate::DiskResult<usize> {
    let mut removed = 0;
    for (topic, through, _) in state.purges()? {
        if let Some(mut index) = topics.get_mut(&topic) {
            removed += index.remove_through(through).0;
        }
        topics.remove_if(&topic, |_, index| index.is_empty());
    }
    Ok(removed)
}

#[async_trait::async_trait]
impl Inspect for DiskStore {
    async fn topic_summary(&self, topic: TopicKey, now_ms: u64) -> Result<TopicSummary> {
        self.inner.check_open()?;
        let i = self.inner.clone();
        blocking(move || {
            let mut summary = TopicSummary::default();
            let mut after = 0;
            loop {
                let page = i.live_after(topic, after, 1_000, now_ms)?;
                let Some(last) = page.last() else { break };
                after = last.seq;
                page.iter().for_each(|m| summary.add(m));
            }
            summary.newest_seq = i.topics.get(&topic).map_or(0, |x| x.last_seq());
            Ok(summary)
        })
        .await
    }

    async fn topic_subscribers(&self, topic: TopicKey, max: usize) -> Result<Vec<String>> {
        self.inner.check_open()?;
        let i = self.inner.clone();
        blocking(move || {
            let subs = i.state.subscribers(&topic, max)?;
            Ok(subs.iter().map(|c| c.to_string()).collect())
        })
        .await
    }

    async fn cursor(&self, client: &str, topic: TopicKey) -> Result<u64> {
        self.inner.check_open()?;
        let (i, key) = (self.inner.clone(), (client_hash(client), topic));
        blocking(move || Ok(i.state.positions().load(&key)?.cursor)).await
    }

    async fn delete_topic_messages(&self, topic: TopicKey) -> Result<u64> {
        self.inner.check_open()?;
        let i = self.inner.clone();
        blocking(move || i.delete_topic(topic)).await
    }

    async fn topics_page(&self, cursor: Option<String>, max: usize) -> Result<Page<TopicKey>> {
        self.inner.check_open()?;
        let after = match cursor.as_deref() {
            Some(c) => Some(TopicKey::from_hex(c).ok_or_else(|| bad_cursor(c))?),
            None => None,
        };
        let mut topics: Vec<TopicKey> = self
            .inner
            .topics
            .iter()
            .map(|e| *e.key())
            .filter(|t| after.is_none_or(|a| *t > a))
            .collect();
        topics.sort_unstable();
        let more = topics.len() > max;
        topics.truncate(max);
        let next = if more {
            topics.last().map(|t| t.to_hex())
        } else {
            None
        };
        Ok(Page {
            items: topics,
            next,
        })
    }

    async fn messages_after(
        &self,
        topic: TopicKey,
        after: u64,
        max: usize,
        now_ms: u64,
    ) -> Result<Vec<Arc<StoredMessage>>> {
        self.inner.check_open()?;
        let i = self.inner.clone();
        blocking(move || i.live_after(topic, after, max, now_ms)).await
    }

    async fn usage(&self, now_ms: u64) -> Result<StoreUsage> {
        self.inner.check_open()?;
        let i = self.inner.clone();
        blocking(move || Ok(i.usage_now(now_ms))).await
    }

    async fn subscriptions_page(
        &self,
        cursor: Option<String>,
        max: usize,
    ) -> Result<Page<Subscription>> {
        self.inner.check_open()?;
        let after = match cursor.as_deref() {
            Some(c) => Some(hex::decode(c).map_err(|_| bad_cursor(c))?),
            None => None,
        };
        let i = self.inner.clone();
        blocking(move || {
            let (items, last) = i.state.subscription_walk(after.as_deref(), max.max(1))?;
            Ok(Page {
                items: items
                    .into_iter()
                    .map(|(client, topic)| Subscription { client, topic })
                    .collect(),
                next: last.map(hex::encode),
            })
        })
        .await
    }
}

impl Inner {
    /// Walks every topic's expiry index (memory only, but long: it runs
    /// off the async workers).
    fn usage_now(&self, now_ms: u64) -> StoreUsage {
        let i = self;
        let mut schedule = ExpirySchedule::default();
        for index in i.topics.iter() {
            index.count_expiries(&mut schedule, now_ms);
        }
        StoreUsage {
            bytes: Some(i.log.used_bytes() + i.space.state_bytes()),
            free_bytes: Some(i.space.free()),
            budget_bytes: (i.cfg.max_disk_bytes > 0).then_some(i.cfg.max_disk_bytes),
            expiring: Some(schedule),
        }
    }
}

fn bad_cursor(c: &str) -> Error {
    Error::Unsupported(format!("not a cursor of this store: {c:?}"))
}
