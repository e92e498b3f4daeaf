//! The storage contract of relay webhooks: registrations (which client's
//! messages a service watches, and where its events go) and the durable
//! queue of events waiting to be sent.
//!
//! Types here are plain data: the gateway checks the tokens (relaybox-auth)
//! and signs the events; the store only keeps what it is given. An event's
//! `body` is the JSON the gateway will sign, opaque to the store.

use serde::{Deserialize, Serialize};

use crate::Result;

/// One registration: the same `(client_id, service_url, webhook_url)`
/// replaces an earlier one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watch {
    /// The watched client.
    pub client_id: String,
    /// `subscriber` or `publisher` (as the token said).
    pub typ: String,
    /// The service: the `aud` of its events.
    pub service_url: String,
    /// Where its events are POSTed.
    pub webhook_url: String,
    /// Message tags wanted (empty: all).
    pub tags: Vec<u32>,
    /// Statuses wanted (`accepted`, `queued`, `delivered`; empty: all).
    pub statuses: Vec<String>,
    /// Unix seconds after which the registration is gone.
    pub expires_at: i64,
}

impl Watch {
    /// The same service and webhook (a registration that replaces this one).
    pub fn same_target(&self, other: &Watch) -> bool {
        self.service_url == other.service_url && self.webhook_url == other.webhook_url
    }

    /// Whether an event with `tag` and `status` is wanted at `now_secs`
    /// (an expired registration wants nothing, swept or not).
    pub fn wants(&self, tag: u32, status: &str, now_secs: i64) -> bool {
        self.expires_at > now_secs
            && (self.tags.is_empty() || self.tags.contains(&tag))
            && (self.statuses.is_empty() || self.statuses.iter().any(|s| s == status))
    }
}

/// One event waiting to be sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedEvent {
    /// Unique in the queue (the store assigns it on enqueue).
    pub id: u64,
    /// When to try next, ms since the epoch.
    pub due_ms: u64,
    /// When it was first queued: events are given up a while after.
    pub queued_ms: u64,
    /// Attempts so far.
    pub attempts: u32,
    /// Where to send it.
    pub webhook_url: String,
    /// The event claims to sign, as JSON.
    pub body: String,
}

/// Registrations and the event queue of one backend.
#[async_trait::async_trait]
pub trait WatchStore: Send + Sync + 'static {
    /// Stores `watch`, replacing the client's registration for the same
    /// service and webhook; refused with [`crate::Error::WatchLimit`] when
    /// the client already has `max_per_client` other registrations.
    async fn put_watch(&self, watch: Watch, max_per_client: usize) -> Result<()>;

    /// Removes a registration; returns whether it existed.
    async fn remove_watch(
        &self,
        client_id: &str,
        service_url: &str,
        webhook_url: &str,
    ) -> Result<bool>;

    /// The registrations in memory (every publish and push asks them).
    fn cache(&self) -> &WatchCache;

    /// Queues events; durable once [`sync`](Self::sync) returns.
    async fn enqueue(&self, events: Vec<QueuedEvent>) -> Result<()>;

    /// Up to `max` events due by `now_ms`, oldest due first. They stay
    /// queued until [`finish`](Self::finish) or [`retry`](Self::retry).
    async fn due(&self, now_ms: u64, max: usize) -> Result<Vec<QueuedEvent>>;

    /// Removes a sent (or abandoned) event.
    async fn finish(&self, event: &QueuedEvent) -> Result<()>;

    /// Moves an event to `due_ms` with one more attempt counted.
    async fn retry(&self, event: &QueuedEvent, due_ms: u64) -> Result<()>;

    /// Events queued (for metrics).
    fn queued(&self) -> u64;

    /// Drops registrations expired by `now_secs`; returns how many.
    async fn sweep_watches(&self, now_secs: i64) -> Result<usize>;

    /// Makes every earlier write durable.
    async fn sync(&self) -> Result<()>;
}

/// The registrations a node keeps in memory, by client: every publish and
/// push asks whether its client is watched, so the answer must not need a
/// store round trip. Both backends keep theirs in one of these.
#[derive(Default)]
pub struct WatchCache {
    by_client: dashmap::DashMap<String, Vec<Watch>>,
    /// Clients with at least one registration: lets the hot path skip the
    /// map entirely while nothing is watched (the common case).
    clients: std::sync::atomic::AtomicUsize,
}

impl WatchCache {
    /// Adds `watch`, replacing the client's one for the same service and
    /// webhook.
    pub fn put(&self, watch: Watch) {
        let mut entry = self
            .by_client
            .entry(watch.client_id.clone())
            .or_insert_with(|| {
                self.clients
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Vec::new()
            });
        entry.retain(|w| !w.same_target(&watch));
        entry.push(watch);
    }

    /// Removes one registration.
    pub fn remove(&self, client_id: &str, service_url: &str, webhook_url: &str) {
        if let Some(mut entry) = self.by_client.get_mut(client_id) {
            entry.retain(|w| !(w.service_url == service_url && w.webhook_url == webhook_url));
        }
        if self
            .by_client
            .remove_if(client_id, |_, v| v.is_empty())
            .is_some()
        {
            self.clients
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Every registration, by client id then webhook (the export).
    pub fn all(&self) -> Vec<Watch> {
        let mut out: Vec<Watch> = self
            .by_client
            .iter()
            .flat_map(|e| e.value().clone())
            .collect();
        out.sort_by(|a, b| {
            (&a.client_id, &a.service_url, &a.webhook_url).cmp(&(
                &b.client_id,
                &b.service_url,
                &b.webhook_url,
            ))
        });
        out
    }

    /// Replaces everything (a backend that re-reads its registrations).
    pub fn replace_all(&self, all: Vec<(String, Vec<Watch>)>) {
        self.by_client
            .retain(|client, _| all.iter().any(|(c, _)| c == client));
        for (client, watches) in all {
            if watches.is_empty() {
                self.by_client.remove(&client);
            } else {
                self.by_client.insert(client, watches);
            }
        }
        self.clients
            .store(self.by_client.len(), std::sync::atomic::Ordering::Relaxed);
    }

    /// How many registrations `client` has, and whether one more with this
    /// target would be a replacement.
    pub fn count(&self, watch: &Watch) -> (usize, bool) {
        self.by_client
            .get(&watch.client_id)
            .map_or((0, false), |ws| {
                (ws.len(), ws.iter().any(|w| w.same_target(watch)))
            })
    }

    pub fn watches(&self, client_id: &str) -> Vec<Watch> {
        if self.clients.load(std::sync::atomic::Ordering::Relaxed) == 0 {
            return Vec::new();
        }
        self.by_client
            .get(client_id)
            .map(|w| w.clone())
            .unwrap_or_default()
    }

    pub fn is_watched(&self, client_id: &str) -> bool {
        self.clients.load(std::sync::atomic::Ordering::Relaxed) > 0
            && self.by_client.contains_key(client_id)
    }

    pub fn watched_clients(&self, typ: &str) -> Vec<String> {
        if self.clients.load(std::sync::atomic::Ordering::Relaxed) == 0 {
            return Vec::new();
        }
        self.by_client
            .iter()
            .filter(|e| e.value().iter().any(|w| w.typ == typ))
            .map(|e| e.key().clone())
            .collect()
    }

    /// Registrations expired by `now_secs`.
    pub fn expired(&self, now_secs: i64) -> Vec<Watch> {
        self.by_client
            .iter()
            .flat_map(|e| e.value().clone())
            .filter(|w| w.expires_at <= now_secs)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watch(client: &str, hook: &str, typ: &str, expires_at: i64) -> Watch {
        Watch {
            client_id: client.into(),
            typ: typ.into(),
            service_url: "https://s.example".into(),
            webhook_url: hook.into(),
            tags: vec![],
            statuses: vec![],
            expires_at,
        }
    }

    #[test]
    fn the_cache_replaces_removes_and_answers_by_client_and_type() {
        let c = WatchCache::default();
        assert!(!c.is_watched("a") && c.watched_clients("subscriber").is_empty());
        c.put(watch("a", "https://h/1", "subscriber", 10));
        c.put(watch("a", "https://h/1", "publisher", 20));
        c.put(watch("b", "https://h/2", "subscriber", 5));
        assert_eq!(c.watches("a").len(), 1, "same target replaces");
        assert_eq!(c.watches("a")[0].typ, "publisher");
        assert_eq!(c.watched_clients("subscriber"), ["b"]);
        assert_eq!(c.count(&watch("a", "https://h/1", "x", 0)), (1, true));
        assert_eq!(c.count(&watch("a", "https://h/9", "x", 0)), (1, false));
        assert_eq!(c.expired(6).len(), 1);
        c.remove("b", "https://s.example", "https://h/2");
        assert!(!c.is_watched("b") && c.is_watched("a"));
        c.replace_all(vec![(
            "z".into(),
            vec![watch("z", "https://h/3", "subscriber", 9)],
        )]);
        assert!(!c.is_watched("a") && c.is_watched("z"));
    }
}
