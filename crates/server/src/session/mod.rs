//! One authenticated client connection's state, independent of the socket:
//! dispatch and delivery write frames into `outbox`, and the connection loop
//! (ws/connection.rs) writes the outbox to the socket once per wake-up.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use futures_util::stream::FuturesUnordered;
use futures_util::StreamExt;
use relaybox_proto::{error_frame, ErrorKind, RequestId};
use relaybox_store::TopicKey;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

mod budget;
pub mod following;
pub mod rpc;

pub use budget::size_cost;
use budget::Budget;

use crate::hub::WakeUp;
use crate::relay::Relay;
use following::Following;

/// What a reply waits to be durable for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durable {
    /// Everything the store wrote so far (subscriptions, positions, messages).
    All,
    /// The messages appended so far.
    Messages,
}

/// A reply whose frame may only be sent once the store has made the request durable.
pub struct SyncDone {
    id: RequestId,
    frame: String,
    replay: Vec<TopicKey>,
    result: relaybox_store::Result<()>,
}

pub type SyncFuture = Pin<Box<dyn Future<Output = SyncDone> + Send>>;

pub struct Session {
    relay: Arc<Relay>,
    client_id: Arc<str>,
    conn_id: u64,
    /// Frames waiting to be written, in order.
    outbox: Vec<String>,
    following: Following,
    /// Replies waiting for group commit.
    after_sync: FuturesUnordered<SyncFuture>,
    /// Sender half handed to the hub for this connection.
    tx: mpsc::Sender<WakeUp>,
    /// Cancelled by the hub when `tx` overflows.
    kick: CancellationToken,
    /// The client's and its IP's request budget.
    budget: Budget,
    /// Topics the request being handled subscribed to; replayed after its reply.
    subscribed: Vec<TopicKey>,
    /// When the client's last-seen time was last recorded.
    touched_at: Instant,
}

impl Session {
    pub fn new(
        relay: Arc<Relay>,
        client_id: Arc<str>,
        ip: std::net::IpAddr,
        conn_id: u64,
        tx: mpsc::Sender<WakeUp>,
    ) -> Self {
        let limit = relay.rate_limiter.attach(client_id.clone());
        let ip_key: Arc<str> = crate::admission::limit_key(ip).to_string().into();
        let ip_limit = relay.ip_rate_limiter.attach(ip_key);
        Session {
            relay,
            client_id,
            conn_id,
            outbox: Vec::new(),
            following: Following::default(),
            after_sync: FuturesUnordered::new(),
            tx,
            kick: CancellationToken::new(),
            budget: Budget::new(limit, ip_limit),
            subscribed: Vec::new(),
            touched_at: Instant::now(),
        }
    }

    /// Follows every topic the client subscribed to in earlier sessions: the
    /// sticky mailbox is pushed without the client asking.
    pub async fn restore_subscriptions(&mut self) -> relaybox_store::Result<usize> {
        self.touch().await;
        let topics = self.relay.store.subscriptions(&self.client_id).await?;
        let n = topics.len();
        for key in topics {
            self.track(key);
            self.queue_replay(key);
        }
        Ok(n)
    }

    /// Cancelled when the hub finds this socket's queue full.
    pub fn kick_token(&self) -> CancellationToken {
        self.kick.clone()
    }

    /// Whether frames are waiting to be written.
    pub fn has_output(&self) -> bool {
        !self.outbox.is_empty()
    }

    /// The frames to write, in order (the socket loop writes them all).
    pub fn drain_output(&mut self) -> std::vec::Drain<'_, String> {
        self.outbox.drain(..)
    }

    /// Whether replies are waiting for a group commit.
    pub fn awaiting_commit(&self) -> bool {
        !self.after_sync.is_empty()
    }

    /// The next reply whose commit completed.
    pub fn next_commit(&mut self) -> impl Future<Output = Option<SyncDone>> + '_ {
        self.after_sync.next()
    }

    /// Whether a replay page is waiting to run and the push window has
    /// room for it.
    pub fn replay_queued(&self) -> bool {
        !self.following.replay_queue.is_empty() && self.window_open()
    }

    /// Takes `cost` tokens from the client's and its IP's buckets (see
    /// [`Budget::allow`]).
    pub(crate) fn allow(&mut self, cost: u32) -> bool {
        self.budget.allow(cost)
    }

    /// Whether the budget cannot pay even `cost` now (see
    /// [`Budget::refuse_early`]).
    pub(crate) fn refuse_early(&mut self, cost: u32) -> bool {
        self.budget.refuse_early(cost)
    }

    /// Takes `cost` tokens for work already done (see [`Budget::charge`]).
    pub(crate) fn charge(&mut self, cost: u32) {
        self.budget.charge(cost);
    }

    /// Until when this socket is not read (it was refused for its rate).
    pub fn paused_until(&self) -> Option<Instant> {
        self.budget.paused_until()
    }

    /// Whether a long-lived connection should record its client as seen
    /// again (a quarter of the idle period has passed since the last time).
    pub fn touch_due(&self) -> bool {
        let idle = std::time::Duration::from_secs(self.relay.config.store.client_idle_secs);
        self.touched_at.elapsed() >= idle / 4
    }

    /// Records that this client is around, so its state is not swept as idle.
    pub fn touch(&mut self) -> impl Future<Output = ()> + Send + 'static {
        self.touched_at = Instant::now();
        let (relay, client) = (self.relay.clone(), self.client_id.clone());
        async move {
            let idle_ms = relay.config.store.client_idle_secs * 1000;
            if let Err(e) = relay.store.touch(&client, crate::now_ms(), idle_ms).await {
                tracing::warn!(error = %e, "recording the client's last-seen time failed");
            }
        }
    }

    /// Queues `frame` to be sent once what `durable` names is durable, then
    /// replays `replay`.
    pub fn reply_after_sync(
        &mut self,
        id: RequestId,
        frame: String,
        replay: Vec<TopicKey>,
        durable: Durable,
    ) {
        let store = self.relay.store.clone();
        self.after_sync.push(Box::pin(async move {
            let started = Instant::now();
            // Let the subscribers this request woke run first: waking the
            // store thread for the commit costs a system call, and their
            // pushes should not wait for it.
            tokio::task::yield_now().await;
            let result = match durable {
                Durable::All => store.sync().await,
                Durable::Messages => store.sync_messages().await,
            };
            crate::metrics::store_sync(started.elapsed());
            SyncDone {
                id,
                frame,
                replay,
                result,
            }
        }));
    }

    /// Sends a finished group-commit reply and starts the replays it unlocks.
    pub fn on_sync_done(&mut self, done: SyncDone) {
        match done.result {
            Ok(()) => self.outbox.push(done.frame),
            Err(e) => {
                tracing::error!(error = %e, "store sync failed");
                let err = ErrorKind::StorageError.to_error_data(None);
                crate::metrics::rpc_error(err.code);
                self.outbox.push(error_frame(Some(&done.id), &err));
            }
        }
        self.replay_from_acked(done.replay);
    }
}
