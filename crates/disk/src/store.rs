//! [`MailboxStore`] for [`DiskStore`]: which operations run inline and
//! which off the async workers.
//!
//! Inline: appends (memory only, unless a segment file must be created),
//! acks of positions already cached, pending reads whose position is cached
//! and whose records are in memory or the page cache (`RWF_NOWAIT`),
//! re-subscribes the cache knows about, `stats`. Everything that may call
//! sled or wait for the disk goes through `spawn_blocking`; `sync` waits
//! for the store thread.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use relaybox_store::{
    Appended, Error, MailboxStore, NewMessage, PendingPage, Result, StoreStats, TopicKey,
};

use crate::ops::{blocking, Placed};
use crate::state::{client_hash, PairKey};
use crate::{DiskStore, Inner};

/// Topics of a batch written in one turn (see `Inner::subscription_writes`):
/// small enough that other clients' turns come often.
const WRITE_CHUNK: usize = 50;

#[async_trait::async_trait]
impl MailboxStore for DiskStore {
    async fn append(&self, msg: NewMessage) -> Result<Appended> {
        let inner = &self.inner;
        inner.check_open()?;
        let prepared = inner.prepare(msg)?;
        let seg = match inner.active_segment(prepared.bucket_end) {
            Some(seg) => seg,
            None => {
                let i = inner.clone();
                let end = prepared.bucket_end;
                blocking(move || i.open_segment(end)).await?
            }
        };
        match inner.place(prepared, &seg)? {
            Placed::New(appended) => Ok(appended),
            Placed::Duplicate { loc, prev_seq } => {
                let i = inner.clone();
                let existing = blocking(move || i.read(&loc)).await?;
                Ok(Appended {
                    message: Arc::new(existing),
                    prev_seq,
                    duplicate: true,
                })
            }
        }
    }

    async fn sync(&self) -> Result<()> {
        self.inner.check_open()?;
        let i = &self.inner;
        tokio::try_join!(i.log_lane.sync(), i.state_lane.sync())?;
        Ok(())
    }

    async fn sync_messages(&self) -> Result<()> {
        self.inner.check_open()?;
        self.inner.log_lane.sync().await
    }

    async fn subscribe(
        &self,
        client: &str,
        topic: TopicKey,
        max_subscriptions: usize,
    ) -> Result<bool> {
        self.inner.check_open()?;
        // Re-subscribing to a topic the cache knows the client follows (as
        // clients do after every reconnect) needs no sled call.
        if self.inner.known_follower(client, topic) {
            return Ok(false);
        }
        let _turn = self.inner.subscription_write_turn().await?;
        let (i, client) = (self.inner.clone(), client.to_owned());
        blocking(move || {
            i.state
                .subscribe(&client, &client_hash(&client), &topic, max_subscriptions)?
                .ok_or(Error::SubscriptionLimit)
        })
        .await
    }

    async fn subscribe_many(
        &self,
        client: &str,
        topics: &[TopicKey],
        max_subscriptions: usize,
    ) -> Result<Vec<bool>> {
        self.inner.check_open()?;
        let mut added = Vec::with_capacity(topics.len());
        for chunk in topics.chunks(WRITE_CHUNK) {
            if chunk.iter().all(|t| self.inner.known_follower(client, *t)) {
                added.extend(std::iter::repeat_n(false, chunk.len()));
                continue;
            }
            let _turn = self.inner.subscription_write_turn().await?;
            let (i, client, chunk) = (self.inner.clone(), client.to_owned(), chunk.to_vec());
            let (done, full) = blocking(move || {
                let ch = client_hash(&client);
                let mut done = Vec::with_capacity(chunk.len());
                for topic in &chunk {
                    match i.state.subscribe(&client, &ch, topic, max_subscriptions)? {
                        Some(new) => done.push(new),
                        None => return Ok((done, true)),
                    }
                }
                Ok((done, false))
            })
            .await?;
            added.extend(done);
            if full {
                break;
            }
        }
        Ok(added)
    }

    async fn unsubscribe(&self, client: &str, topic: TopicKey) -> Result<bool> {
        self.inner.check_open()?;
        let _turn = self.inner.subscription_write_turn().await?;
        let (i, ch) = (self.inner.clone(), client_hash(client));
        blocking(move || Ok(i.state.unsubscribe(&ch, &topic)?)).await
    }

    async fn unsubscribe_many(&self, client: &str, topics: &[TopicKey]) -> Result<()> {
        self.inner.check_open()?;
        for chunk in topics.chunks(WRITE_CHUNK) {
            let _turn = self.inner.subscription_write_turn().await?;
            let (i, ch, chunk) = (self.inner.clone(), client_hash(client), chunk.to_vec());
            blocking(move || {
                for topic in &chunk {
                    i.state.unsubscribe(&ch, topic)?;
                }
                Ok(())
            })
            .await?;
        }
        Ok(())
    }

    async fn subscriptions(&self, client: &str) -> Result<Vec<TopicKey>> {
        self.inner.check_open()?;
        let (i, ch) = (self.inner.clone(), client_hash(client));
        // Most connects are of clients that follow nothing: no sled read.
        if !i.state.has_subscriptions(&ch) {
            return Ok(Vec::new());
        }
        blocking(move || Ok(i.state.subscriptions(&ch)?)).await
    }

    async fn is_subscribed(&self, client: &str, topic: TopicKey) -> Result<bool> {
        self.inner.check_open()?;
        if self.inner.known_follower(client, topic) {
            return Ok(true);
        }
        let (i, ch) = (self.inner.clone(), client_hash(client));
        if !i.state.has_subscriptions(&ch) {
            return Ok(false);
        }
        blocking(move || Ok(i.state.is_subscribed(&ch, &topic)?)).await
    }

    async fn subscription_count(&self, client: &str) -> Result<usize> {
        self.inner.check_open()?;
        Ok(self.inner.state.subscription_count(&client_hash(client))?)
    }

    async fn pending(
        &self,
        client: &str,
        topic: TopicKey,
        after: u64,
        limit: usize,
        now_ms: u64,
    ) -> Result<PendingPage> {
        self.inner.check_open()?;
        if let Some(page) = self
            .inner
            .pending_nowait(client, topic, after, limit, now_ms)
        {
            return page;
        }
        let (i, client) = (self.inner.clone(), client.to_owned());
        blocking(move || i.pending(&client, topic, after, limit, now_ms)).await
    }

    async fn ack(&self, client: &str, topic: TopicKey, seqs: &[u64], now_ms: u64) -> Result<()> {
        let inner = &self.inner;
        inner.check_open()?;
        let key: PairKey = (client_hash(client), topic);
        let positions = inner.state.positions();
        if let Some(mut pos) = positions.cached(&key) {
            if inner.ack_into(&mut pos, client, &topic, seqs, now_ms) {
                positions.queue_write(key, &mut pos);
            }
            return Ok(());
        }
        let (i, client, seqs) = (inner.clone(), client.to_owned(), seqs.to_vec());
        blocking(move || i.ack_loading(&client, topic, &seqs, now_ms)).await
    }

    async fn fetch(
        &self,
        client: &str,
        topic: TopicKey,
        limit: usize,
        now_ms: u64,
    ) -> Result<PendingPage> {
        self.inner.check_open()?;
        let (i, client) = (self.inner.clone(), client.to_owned());
        blocking(move || i.fetch(&client, topic, limit, now_ms)).await
    }

    async fn sweep_expired(&self, now_ms: u64, max: usize) -> Result<usize> {
        self.inner.check_open()?;
        let i = self.inner.clone();
        blocking(move || i.sweep(now_ms, max)).await
    }

    async fn touch(&self, client: &str, now_ms: u64, _idle_ms: u64) -> Result<()> {
        self.inner.check_open()?;
        self.inner.state.touch(client_hash(client), now_ms);
        Ok(())
    }

    async fn sweep_idle_clients(&self, seen_before_ms: u64, max: usize) -> Result<usize> {
        self.inner.check_open()?;
        let i = self.inner.clone();
        blocking(move || Ok(i.state.sweep_idle(seen_before_ms, max)?)).await
    }

    fn stats(&self) -> StoreStats {
        let i = &self.inner;
        StoreStats {
            messages: i.messages.load(Ordering::Relaxed).max(0) as u64,
            topics: i.topics.len() as u64,
            subscriptions: i.state.subscription_total(),
        }
    }

    async fn close(&self) -> Result<()> {
        // Refuse new work first; the store thread then answers queued
        // syncs, writes positions and makes everything durable.
        self.inner.closed.store(true, Ordering::Release);
        self.inner.log_lane.close().await;
        self.inner.state_lane.close().await;
        Ok(())
    }

    async fn health(&self) -> Result<()> {
        self.inner.check_open()?;
        self.inner.space.health(self.inner.log.used_bytes())
    }
}

/// Sets the store's gauges (called by the store thread each tick).
pub(crate) fn publish_gauges(i: &Inner) {
    metrics::gauge!("relaybox_store_log_bytes").set(i.log.used_bytes() as f64);
    metrics::gauge!("relaybox_store_state_bytes").set(i.space.state_bytes() as f64);
    metrics::gauge!("relaybox_store_free_bytes").set(i.space.free() as f64);
    metrics::gauge!("relaybox_store_segments").set(i.log.segment_count() as f64);
    metrics::gauge!("relaybox_store_unsynced_bytes").set(i.log.buffered_bytes() as f64);
    metrics::gauge!("relaybox_store_cached_positions")
        .set(i.state.positions().cached_count() as f64);
    // The limits too, so that alerts can compare (0: no budget).
    metrics::gauge!("relaybox_store_budget_bytes").set(i.cfg.max_disk_bytes as f64);
    metrics::gauge!("relaybox_store_min_free_bytes").set(i.cfg.min_free_bytes as f64);
}
