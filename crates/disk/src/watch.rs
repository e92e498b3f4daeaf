//! [`SledWatchStore`]: webhook registrations and the event queue in two
//! sled trees of the mailbox database, made durable by its group commit.
//!
//! Registrations are also cached in memory by client, since every publish
//! and delivery asks whether its client is watched. Queue keys are
//! `due_ms | id` (big-endian), so the due events are a prefix scan. sled
//! calls run on the blocking pool, as everywhere in this crate. Registrations
//! and queued events mark the state dirty, so the group commit that answers
//! the request (or the publish) makes them durable; finishing or moving an
//! event does not (a crash then only sends it again).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use relaybox_store::{Error, QueuedEvent, Result, Watch, WatchCache, WatchStore};

use crate::ops::blocking;
use crate::DiskStore;

/// Tree of registrations: `client_id 0 service_url 0 webhook_url` -> JSON.
pub const WATCH_TREE: &str = "webhook_watches";
/// Tree of queued events: `due_ms | id` -> JSON.
pub const EVENT_TREE: &str = "webhook_events";

/// The sled webhook store.
pub struct SledWatchStore {
    watches: sled::Tree,
    events: sled::Tree,
    cache: WatchCache,
    /// Held while a registration changes.
    changing: tokio::sync::Mutex<()>,
    next_id: AtomicU64,
    queued: AtomicU64,
    mailbox: Arc<DiskStore>,
}

fn storage(e: impl std::fmt::Display) -> Error {
    Error::Storage(e.to_string())
}

fn watch_key(client: &str, service: &str, webhook: &str) -> Vec<u8> {
    [
        client.as_bytes(),
        &[0],
        service.as_bytes(),
        &[0],
        webhook.as_bytes(),
    ]
    .concat()
}

fn event_key(due_ms: u64, id: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&due_ms.to_be_bytes());
    k[8..].copy_from_slice(&id.to_be_bytes());
    k
}

impl SledWatchStore {
    /// Opens the trees in `mailbox`'s database and loads the registrations.
    pub fn open(mailbox: &Arc<DiskStore>) -> Result<Arc<SledWatchStore>> {
        let db = mailbox.db();
        let watches = db.open_tree(WATCH_TREE).map_err(storage)?;
        let events = db.open_tree(EVENT_TREE).map_err(storage)?;
        let cache = WatchCache::default();
        for item in watches.iter() {
            let (_, value) = item.map_err(storage)?;
            let watch: Watch = serde_json::from_slice(&value)
                .map_err(|e| Error::Corrupt(format!("webhook registration: {e}")))?;
            cache.put(watch);
        }
        let mut last_id = 0;
        let mut queued = 0;
        for key in events.iter().keys() {
            let key = key.map_err(storage)?;
            if key.len() == 16 {
                let mut id = [0u8; 8];
                id.copy_from_slice(&key[8..]);
                last_id = last_id.max(u64::from_be_bytes(id));
            }
            queued += 1;
        }
        Ok(Arc::new(SledWatchStore {
            watches,
            events,
            cache,
            changing: tokio::sync::Mutex::new(()),
            next_id: AtomicU64::new(last_id + 1),
            queued: AtomicU64::new(queued),
            mailbox: mailbox.clone(),
        }))
    }

    fn decode_event(value: &[u8]) -> Result<QueuedEvent> {
        serde_json::from_slice(value).map_err(|e| Error::Corrupt(format!("webhook event: {e}")))
    }
}

#[async_trait::async_trait]
impl WatchStore for SledWatchStore {
    async fn put_watch(&self, watch: Watch, max_per_client: usize) -> Result<()> {
        let key = watch_key(&watch.client_id, &watch.service_url, &watch.webhook_url);
        let value = serde_json::to_vec(&watch).map_err(storage)?;
        // Registrations change one at a time (they are rare), so the limit
        // holds without holding a cache lock across the write.
        let _one = self.changing.lock().await;
        let (count, replaces) = self.cache.count(&watch);
        if !replaces && count >= max_per_client {
            return Err(Error::WatchLimit);
        }
        let tree = self.watches.clone();
        blocking(move || tree.insert(key, value).map_err(storage)).await?;
        self.mailbox.note_state_write();
        self.cache.put(watch);
        Ok(())
    }

    async fn remove_watch(
        &self,
        client_id: &str,
        service_url: &str,
        webhook_url: &str,
    ) -> Result<bool> {
        let _one = self.changing.lock().await;
        let key = watch_key(client_id, service_url, webhook_url);
        let tree = self.watches.clone();
        let existed = blocking(move || tree.remove(key).map_err(storage))
            .await?
            .is_some();
        self.mailbox.note_state_write();
        self.cache.remove(client_id, service_url, webhook_url);
        Ok(existed)
    }

    fn cache(&self) -> &WatchCache {
        &self.cache
    }

    async fn enqueue(&self, events: Vec<QueuedEvent>) -> Result<()> {
        let mut batch = sled::Batch::default();
        let n = events.len() as u64;
        for mut event in events {
            event.id = self.next_id.fetch_add(1, Ordering::Relaxed);
            let value = serde_json::to_vec(&event).map_err(storage)?;
            batch.insert(&event_key(event.due_ms, event.id)[..], value);
        }
        let tree = self.events.clone();
        blocking(move || tree.apply_batch(batch).map_err(storage)).await?;
        // The publish these events report is acknowledged only after the
        // next commit of the state: it must include them.
        self.mailbox.note_state_write();
        self.queued.fetch_add(n, Ordering::Relaxed);
        Ok(())
    }

    async fn due(&self, now_ms: u64, max: usize) -> Result<Vec<QueuedEvent>> {
        let tree = self.events.clone();
        blocking(move || {
            let mut out = Vec::new();
            for item in tree.range(..event_key(now_ms.saturating_add(1), 0)) {
                let (_, value) = item.map_err(storage)?;
                out.push(Self::decode_event(&value)?);
                if out.len() >= max {
                    break;
                }
            }
            Ok(out)
        })
        .await
    }

    async fn finish(&self, event: &QueuedEvent) -> Result<()> {
        let (tree, key) = (self.events.clone(), event_key(event.due_ms, event.id));
        if blocking(move || tree.remove(key).map_err(storage))
            .await?
            .is_some()
        {
            self.queued.fetch_sub(1, Ordering::Relaxed);
        }
        Ok(())
    }

    async fn retry(&self, event: &QueuedEvent, due_ms: u64) -> Result<()> {
        let mut next = event.clone();
        next.due_ms = due_ms;
        next.attempts += 1;
        let mut batch = sled::Batch::default();
        batch.remove(&event_key(event.due_ms, event.id)[..]);
        batch.insert(
            &event_key(next.due_ms, next.id)[..],
            serde_json::to_vec(&next).map_err(storage)?,
        );
        let tree = self.events.clone();
        blocking(move || tree.apply_batch(batch).map_err(storage)).await
    }

    fn queued(&self) -> u64 {
        self.queued.load(Ordering::Relaxed)
    }

    async fn sweep_watches(&self, now_secs: i64) -> Result<usize> {
        let expired = self.cache.expired(now_secs);
        for w in &expired {
            self.remove_watch(&w.client_id, &w.service_url, &w.webhook_url)
                .await?;
        }
        Ok(expired.len())
    }

    async fn sync(&self) -> Result<()> {
        self.mailbox.sync_state().await
    }
}
