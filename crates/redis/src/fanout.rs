//! [`RedisFanOut`]: fan-out across nodes through Redis pub/sub.
//!
//! Pub/sub is only a wake-up. The publish script PUBLISHes (SPUBLISH in a
//! cluster) each stored message on its topic's channel; every node
//! subscribes to the channels of the topics its connections follow
//! (refcounted through the local hub) and hands each wake-up to those
//! connections, which push it only if its `prev_seq` continues where they
//! are and otherwise re-read the store. So `announce` does nothing: the
//! node's own connections are woken by the same pub/sub path, in the order
//! Redis ran the scripts.
//!
//! What pub/sub cannot promise is covered by resyncs (a notification that
//! makes a connection re-read the store, see `WakeUp::resync`):
//! - a channel subscription is confirmed: messages stored after the
//!   connection's replay read but before the subscription took effect were
//!   not announced to it;
//! - the pub/sub connection dropped: every channel is subscribed again,
//!   and each confirmation triggers the resync;
//! - a connection failed to re-read a topic (Redis was away): the gateway
//!   leaves that topic waiting, so once Redis answers again the connections
//!   following it are closed (1013) and resume from the store on reconnect.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use parking_lot::Mutex;
use redis::{PushInfo, PushKind, Value};
use relaybox_store::{Appended, FanOut, LocalHub, Subscriber, TopicKey, WakeUp};
use tokio::sync::{mpsc, Notify};

use crate::codec;
use crate::config::RedisConfig;
use crate::conn::{bounded, Conn};
use crate::error::Result;
use crate::health::Health;
use crate::keys::{self, TopicKeys};
use crate::metrics;

/// Channels per SUBSCRIBE command.
const SUBSCRIBE_CHUNK: usize = 500;
/// How often the pub/sub connection is pinged and failed work retried.
const TICK: Duration = Duration::from_millis(500);

/// Cross-node fan-out over Redis pub/sub.
pub struct RedisFanOut {
    inner: Arc<Inner>,
}

struct Inner {
    local: LocalHub,
    /// Topics whose channel subscription may have to change.
    dirty: Mutex<HashSet<TopicKey>>,
    wake: Notify,
    /// Newest seq this node saw announced per topic (gap detection).
    last_seen: DashMap<TopicKey, u64>,
    health: Arc<Health>,
}

impl RedisFanOut {
    /// Opens the pub/sub connection and starts the task that owns it. The
    /// task ends when the store is closed.
    pub(crate) async fn start(
        cfg: &RedisConfig,
        health: Arc<Health>,
        data: Vec<Conn>,
    ) -> Result<RedisFanOut> {
        let (tx, rx) = mpsc::unbounded_channel();
        let conn = Conn::open(cfg, Some(tx)).await?;
        let inner = Arc::new(Inner {
            local: LocalHub::new(),
            dirty: Mutex::new(HashSet::new()),
            wake: Notify::new(),
            last_seen: DashMap::new(),
            health,
        });
        metrics::pubsub_up(true);
        let task = Task {
            inner: inner.clone(),
            cfg: cfg.clone(),
            conn,
            data,
            active: HashSet::new(),
        };
        tokio::spawn(task.run(rx));
        Ok(RedisFanOut { inner })
    }

    fn touch(&self, topic: TopicKey) {
        self.inner.dirty.lock().insert(topic);
        self.inner.wake.notify_one();
    }
}

impl FanOut for RedisFanOut {
    fn register(&self, topic: TopicKey, subscriber: Subscriber) {
        let first = !self.inner.local.has(&topic);
        self.inner.local.register(topic, subscriber);
        if first {
            self.touch(topic);
        }
    }

    fn unregister(&self, topic: &TopicKey, conn_id: u64) {
        self.inner.local.unregister(topic, conn_id);
        if !self.inner.local.has(topic) {
            self.touch(*topic);
        }
    }

    /// Nothing to do: the publish script already woke every node.
    fn announce(&self, _appended: &Appended) {}

    fn topics(&self) -> usize {
        self.inner.local.topics()
    }
}

/// The task that owns the pub/sub connection.
struct Task {
    inner: Arc<Inner>,
    cfg: RedisConfig,
    conn: Conn,
    /// The store's connections: pinged every tick (a connection Redis
    /// dropped reconnects before a request finds it dead), and checked
    /// before connections whose replay failed are restarted.
    data: Vec<Conn>,
    /// Channels subscribed (or being subscribed) on `conn`.
    active: HashSet<TopicKey>,
}

impl Task {
    async fn run(mut self, mut pushes: mpsc::UnboundedReceiver<PushInfo>) {
        let closed = self.inner.health.closed.clone();
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                _ = closed.cancelled() => break,
                push = pushes.recv() => match push {
                    Some(p) => self.on_push(p),
                    None => break,
                },
                _ = self.inner.wake.notified() => self.sync_channels().await,
                _ = tick.tick() => self.on_tick().await,
            }
        }
        tracing::debug!("redis fan-out task stopped");
    }

    fn on_push(&mut self, push: PushInfo) {
        let channel_topic = || push.data.first().and_then(channel_of);
        match push.kind {
            PushKind::Message | PushKind::SMessage => {
                let (Some(topic), Some(Value::BulkString(payload))) =
                    (channel_topic(), push.data.get(1))
                else {
                    return;
                };
                let Some(d) = codec::wakeup(topic, payload) else {
                    tracing::error!(%topic, "undecodable wake-up; re-reading the topic");
                    self.inner.local.wake(&topic, &WakeUp::resync(topic));
                    return;
                };
                metrics::wakeup();
                if !self.inner.local.has(&topic) {
                    return; // unsubscribed meanwhile
                }
                let seq = d.message.seq;
                let mut last = self.inner.last_seen.entry(topic).or_insert(0);
                if *last != 0 && d.prev_seq != *last && seq > *last {
                    // The connections notice too (prev_seq) and re-read.
                    metrics::gap();
                }
                *last = (*last).max(seq);
                drop(last);
                self.inner.local.wake(&topic, &d);
            }
            PushKind::Subscribe | PushKind::SSubscribe => {
                self.inner.health.set_pubsub_up(true);
                if let Some(topic) = channel_topic() {
                    metrics::resync("subscribed", 1);
                    self.inner.local.wake(&topic, &WakeUp::resync(topic));
                }
            }
            PushKind::Disconnection => {
                // Anything published from now until the channels are
                // subscribed again is read from the store on confirmation.
                self.inner.health.set_pubsub_up(false);
                metrics::resync("disconnect", self.active.len() as u64);
                let mut dirty = self.inner.dirty.lock();
                dirty.extend(self.active.drain());
                dirty.extend(self.inner.local.topic_keys());
                self.inner.last_seen.clear();
            }
            _ => {}
        }
    }

    /// Subscribes the channels of topics that gained local followers and
    /// unsubscribes those that lost them; failures stay dirty for the tick.
    async fn sync_channels(&mut self) {
        let dirty: Vec<TopicKey> = self.inner.dirty.lock().drain().collect();
        let (mut sub, mut unsub) = (Vec::new(), Vec::new());
        for t in dirty {
            let want = self.inner.local.has(&t);
            if want && !self.active.contains(&t) {
                sub.push(t);
            } else if !want && self.active.contains(&t) {
                unsub.push(t);
            }
        }
        for chunk in sub.chunks(SUBSCRIBE_CHUNK) {
            let channels: Vec<String> = chunk.iter().map(|t| TopicKeys::new(t).channel).collect();
            match bounded(&self.cfg, self.conn.subscribe(&channels)).await {
                Ok(()) => self.active.extend(chunk.iter().copied()),
                Err(e) => {
                    tracing::warn!(error = %e, topics = chunk.len(), "redis subscribe failed; retrying");
                    self.inner.dirty.lock().extend(chunk.iter().copied());
                }
            }
        }
        for chunk in unsub.chunks(SUBSCRIBE_CHUNK) {
            let channels: Vec<String> = chunk.iter().map(|t| TopicKeys::new(t).channel).collect();
            match bounded(&self.cfg, self.conn.unsubscribe(&channels)).await {
                Ok(()) => {
                    for t in chunk {
                        self.active.remove(t);
                        self.inner.last_seen.remove(t);
                    }
                }
                Err(_) => self.inner.dirty.lock().extend(chunk.iter().copied()),
            }
        }
    }

    async fn on_tick(&mut self) {
        // A PING also makes a connection that gave up reconnecting try again.
        let ping = bounded(
            &self.cfg,
            redis::cmd("PING").query_async::<Value>(&mut self.conn),
        )
        .await;
        if ping.is_ok() {
            self.inner.health.set_pubsub_up(true);
            if !self.inner.dirty.lock().is_empty() {
                self.sync_channels().await;
            }
        }
        let mut data_ok = true;
        for conn in &mut self.data {
            let pong = bounded(&self.cfg, redis::cmd("PING").query_async::<Value>(conn)).await;
            data_ok &= pong.is_ok();
        }
        let failed = self.inner.health.take_failed_reads();
        if failed.is_empty() {
            return;
        }
        if !data_ok {
            for t in failed {
                self.inner.health.read_failed(t);
            }
            return;
        }
        let mut kicked = 0;
        for t in &failed {
            kicked += self.inner.local.kick(t);
        }
        metrics::resync("failed_read", failed.len() as u64);
        tracing::info!(
            topics = failed.len(),
            connections = kicked,
            "redis answers again; restarting connections whose replay failed"
        );
    }
}

fn channel_of(v: &Value) -> Option<TopicKey> {
    match v {
        Value::BulkString(b) => keys::topic_of_channel(b),
        Value::SimpleString(s) => keys::topic_of_channel(s.as_bytes()),
        _ => None,
    }
}
