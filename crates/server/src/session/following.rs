//! What one socket follows ([`Following`]): which topics, what it has
//! pushed, replay of pending messages from the store, and acknowledgements.
//!
//! The store is the source of truth. Live notifications from the hub are only
//! trusted when they continue exactly where this connection left off
//! (`prev_seq <= last_seq`); any gap, and every (re)subscribe, replays from the
//! store. Replays run one page per loop turn so that a large mailbox never
//! sits whole in memory and incoming frames keep being served.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use relaybox_proto::{subscription_frame, subscription_id, SubscriptionData, Topic};
use relaybox_store::{StoredMessage, TopicKey};

use crate::hub::{Subscriber, WakeUp};
use crate::session::Session;

/// Most messages one replay step reads. A step is one unit of a socket's
/// work: small, so that a thousand sockets replaying at once (a reconnect
/// storm, a crowd subscribing to a busy topic) take turns with live
/// traffic instead of holding the workers for a page each.
const REPLAY_STEP: usize = 32;

/// What a connection knows about one topic it follows.
#[derive(Debug)]
pub struct TopicState {
    /// Newest sequence of the topic this connection has processed (pushed,
    /// or skipped as own, acked or expired). Live messages at or below it are
    /// already covered.
    pub(super) last_seq: u64,
    /// A replay is pending or running; live notifications wait for it,
    /// since the replay will read them from the store.
    pub(super) replaying: bool,
    /// The topic is in the replay queue.
    pub(super) queued: bool,
    /// Unregistered from the hub while the push window is full (live
    /// notifications would only be dropped); the next replay step
    /// registers it again before it reads the store.
    pub(super) detached: bool,
    /// `sha256(topic + client_id)`, computed once.
    pub(super) subscription_id: Arc<str>,
}

/// One socket's following bookkeeping: topics, replays, pushes in flight, acks.
#[derive(Debug, Default)]
pub struct Following {
    pub(super) topics: HashMap<TopicKey, TopicState>,
    pub(super) replay_queue: VecDeque<TopicKey>,
    /// Push rpc id -> what it carried, oldest first so the oldest is dropped
    /// when the map is full (that message simply stays pending in the store).
    pub(super) in_flight: BTreeMap<u64, InFlight>,
    /// Frame bytes of the pushes in `in_flight`: the flow-control window's use.
    pub(super) unacked_bytes: usize,
    /// Extra window earned by acks, on top of `limits.push_window_bytes`
    /// (see `Session::window`).
    pub(super) window_growth: usize,
    /// When the window last became full (cleared when it opens again).
    pub(super) window_full_since: Option<std::time::Instant>,
    /// Acks received in this loop turn, applied to the store in one go.
    pub(super) acks: Vec<(TopicKey, u64)>,
}

/// One push awaiting the client's ack.
#[derive(Debug)]
pub(super) struct InFlight {
    topic: TopicKey,
    seq: u64,
    bytes: usize,
}

impl Following {
    /// Forgets a push (acked, refused or dropped) and gives its bytes back
    /// to the window.
    fn settle(&mut self, push: &InFlight) {
        self.unacked_bytes = self.unacked_bytes.saturating_sub(push.bytes);
    }
}

pub fn topic_of(key: &TopicKey) -> Topic {
    Topic::from_bytes(key.0)
}

pub fn key_of(topic: &Topic) -> TopicKey {
    TopicKey(*topic.as_bytes())
}

impl Session {
    /// Starts following `topic` on this socket (idempotent). Live messages
    /// are held back until the next replay, which the caller queues once it
    /// has answered the request (result first, then the pushes).
    pub fn track(&mut self, key: TopicKey) {
        if !self.following.topics.contains_key(&key) {
            self.attach(key);
            let state = TopicState {
                last_seq: 0,
                replaying: false,
                queued: false,
                detached: false,
                subscription_id: subscription_id(&topic_of(&key), &self.client_id).into(),
            };
            self.following.topics.insert(key, state);
        }
        if let Some(state) = self.following.topics.get_mut(&key) {
            state.replaying = true;
        }
    }

    /// Registers this socket with the hub for `key`'s live notifications.
    fn attach(&self, key: TopicKey) {
        self.relay.hub.register(
            key,
            Subscriber {
                conn_id: self.conn_id,
                tx: self.tx.clone(),
                kick: self.kick.clone(),
            },
        );
    }

    /// Queues a replay of what is pending for `key` since this socket's position.
    pub fn queue_replay(&mut self, key: TopicKey) {
        if let Some(state) = self.following.topics.get_mut(&key) {
            state.replaying = true;
            if !state.queued {
                state.queued = true;
                self.following.replay_queue.push_back(key);
            }
        }
    }

    /// After a (re)subscribe: push everything the client has not acknowledged,
    /// including what this socket already pushed. A push can be lost without
    /// the socket failing (the JS client drops frames that arrive in the same
    /// read as the 101 response, before its listener exists), and clients
    /// resubscribe after every reconnect, so this is where such a push is
    /// retried. Clients drop the duplicates this can cause.
    pub fn replay_from_acked(&mut self, keys: Vec<TopicKey>) {
        for key in keys {
            if let Some(state) = self.following.topics.get_mut(&key) {
                state.last_seq = 0;
            }
            self.queue_replay(key);
        }
    }

    /// Stops following `topic` on this socket.
    pub fn unfollow(&mut self, key: &TopicKey) {
        if self.following.topics.remove(key).is_some() {
            self.relay.hub.unregister(key, self.conn_id);
            self.following.replay_queue.retain(|k| k != key);
        }
    }

    /// Unregisters every topic from the hub; called once when the socket ends.
    pub fn unfollow_all(&mut self) {
        for key in self.following.topics.keys() {
            self.relay.hub.unregister(key, self.conn_id);
        }
        self.following.topics.clear();
    }

    /// Handles one live notification from the hub.
    pub fn on_wake_up(&mut self, d: WakeUp) {
        let key = d.message.topic;
        let push = self.should_push(&d.message);
        let window_open = self.window_open();
        let Some(state) = self.following.topics.get_mut(&key) else {
            return;
        };
        let seq = d.message.seq;
        if state.replaying || seq <= state.last_seq {
            return;
        }
        if push && !window_open {
            // The client has too much unacknowledged: the store has the
            // message and a replay sends it once acks open the window. Until
            // then live notifications for the topic are of no use.
            if !state.detached {
                state.detached = true;
                self.relay.hub.unregister(&key, self.conn_id);
            }
            self.queue_replay(key);
            return;
        }
        if d.prev_seq > state.last_seq {
            // Something between what we sent and this message was not
            // announced to us: the store has it, so replay from it.
            self.queue_replay(key);
            return;
        }
        state.last_seq = seq;
        if push {
            let sub_id = state.subscription_id.clone();
            self.push(&sub_id, &d.message);
            crate::metrics::delivered("live", 1);
        }
    }

    fn should_push(&self, m: &StoredMessage) -> bool {
        *m.publisher != *self.client_id && m.expires_at_ms > crate::now_ms()
    }

    /// Serializes one `irn_subscription` push into the outbox and tracks it for its ack.
    fn push(&mut self, sub_id: &str, m: &Arc<StoredMessage>) {
        let id = self.relay.ids.next();
        let data = SubscriptionData {
            topic: topic_of(&m.topic),
            message: m.message.to_string(),
            published_at: m.published_at_ms,
            tag: m.tag,
            attestation: m.attestation.as_ref().map(|a| a.to_string()),
        };
        if self.relay.webhooks.watched(&self.client_id) {
            // A watched client's push is a `delivered` event (queued off
            // this socket's task: it is rare, and must not hold the loop).
            let (relay, client, m) = (self.relay.clone(), self.client_id.clone(), m.clone());
            self.relay.shutdown.tracker.spawn(async move {
                crate::webhooks::on_delivered(&relay, &client, &[m]).await;
            });
        }
        let frame = subscription_frame(id, sub_id, &data);
        let bytes = frame.len();
        self.outbox.push(frame);
        let following = &mut self.following;
        following.unacked_bytes += bytes;
        following.in_flight.insert(
            id,
            InFlight {
                topic: m.topic,
                seq: m.seq,
                bytes,
            },
        );
        while following.in_flight.len() > self.relay.config.limits.max_in_flight {
            if let Some((_, dropped)) = following.in_flight.pop_first() {
                following.settle(&dropped);
            }
        }
        if !self.window_open() && self.following.window_full_since.is_none() {
            self.following.window_full_since = Some(std::time::Instant::now());
        }
    }

    /// Pushes not yet acknowledged, and their frame bytes.
    pub fn unacked(&self) -> (usize, usize) {
        (self.following.in_flight.len(), self.following.unacked_bytes)
    }

    /// Whether the client's unacknowledged pushes leave room for another.
    pub fn window_open(&self) -> bool {
        self.following.unacked_bytes < self.window()
    }

    /// The push window: `limits.push_window_bytes` at first, growing by
    /// what the client acknowledges up to `limits.push_window_max_bytes`
    /// (as TCP's slow start does). A client that reads and acks quickly
    /// earns room for throughput; one that never acks holds the first
    /// window only.
    fn window(&self) -> usize {
        let limits = &self.relay.config.limits;
        (limits.push_window_bytes + self.following.window_growth)
            .min(limits.push_window_max_bytes.max(limits.push_window_bytes))
    }

    /// Since when the push window has been full, if it is (a client that
    /// stopped acking is closed after a while).
    pub fn window_full_since(&self) -> Option<std::time::Instant> {
        self.following.window_full_since
    }

    /// Runs one page of the oldest queued replay. Returns false when none is queued.
    pub async fn replay_step(&mut self) -> bool {
        let Some(key) = self.following.replay_queue.pop_front() else {
            return false;
        };
        let Some(state) = self.following.topics.get_mut(&key) else {
            return true;
        };
        state.queued = false;
        let after = state.last_seq;
        if std::mem::take(&mut state.detached) {
            // Before the store is read: whatever is published after the read
            // is then announced.
            self.attach(key);
        }
        let page_size = self.relay.config.limits.fetch_page.min(REPLAY_STEP);
        let page = match self
            .relay
            .store
            .pending(&self.client_id, key, after, page_size, crate::now_ms())
            .await
        {
            Ok(page) => page,
            Err(e) => {
                // Leave the topic replaying; the next subscribe or reconnect retries.
                tracing::error!(error = %e, "reading pending messages failed");
                return true;
            }
        };
        let Some(state) = self.following.topics.get_mut(&key) else {
            return true;
        };
        let sub_id = state.subscription_id.clone();
        // Push in order while the window has room; where it fills, the
        // topic goes back in the queue and continues from there.
        let mut last = after;
        let mut cut = false;
        let mut pushed = 0;
        for m in &page.messages {
            if m.seq <= after {
                continue;
            }
            if !self.window_open() {
                cut = true;
                break;
            }
            if self.should_push(m) {
                self.push(&sub_id, m);
                pushed += 1;
            }
            last = last.max(m.seq);
        }
        crate::metrics::delivered("replay", pushed);
        let Some(state) = self.following.topics.get_mut(&key) else {
            return true;
        };
        if cut || page.has_more {
            state.last_seq = last;
            state.queued = true;
            self.following.replay_queue.push_back(key);
        } else {
            state.last_seq = last.max(page.last_seq);
            state.replaying = false;
        }
        true
    }

    /// Records the client's `result` for a push.
    pub fn on_push_result(&mut self, id: u64, ok: bool) {
        let following = &mut self.following;
        if let Some(push) = following.in_flight.remove(&id) {
            following.settle(&push);
            if ok {
                following.acks.push((push.topic, push.seq));
                let max = self.relay.config.limits.push_window_max_bytes;
                following.window_growth = (following.window_growth + push.bytes).min(max);
            }
        }
        if self.window_open() {
            self.following.window_full_since = None;
        }
    }

    /// Applies the acks gathered this turn, one store call per topic.
    pub async fn flush_acks(&mut self) {
        if self.following.acks.is_empty() {
            return;
        }
        let mut acks = std::mem::take(&mut self.following.acks);
        acks.sort_unstable();
        let now = crate::now_ms();
        let mut i = 0;
        while i < acks.len() {
            let topic = acks[i].0;
            let mut seqs = Vec::new();
            while i < acks.len() && acks[i].0 == topic {
                seqs.push(acks[i].1);
                i += 1;
            }
            crate::metrics::acked(seqs.len() as u64);
            if let Err(e) = self
                .relay
                .store
                .ack(&self.client_id, topic, &seqs, now)
                .await
            {
                // A lost ack only means a redelivery, which clients tolerate.
                tracing::warn!(error = %e, "recording acks failed");
            }
        }
        acks.clear();
        self.following.acks = acks;
    }
}
