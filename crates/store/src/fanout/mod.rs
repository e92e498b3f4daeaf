//! Cross-connection fan-out: who, on this node, wants messages of a topic.
//!
//! Fan-out is only a wake-up path. The store is the source of truth: every
//! notification carries the topic's previous sequence number so that a
//! connection that sees a gap re-reads the store instead of trusting the
//! notifications. The trait lives in the store crate (not in the gateway) so
//! that a backend crate can implement storage and fan-out together, e.g. the
//! Redis backend whose pub/sub wakes every node.
//!
//! [`LocalHub`] is the single-node implementation, and also the local
//! dispatcher a multi-node implementation delivers through.

mod local;

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::types::{Appended, StoredMessage, TopicKey};

pub use local::LocalHub;

/// A wake-up of a connection that follows a topic: one stored message (or
/// a resync). Only a wake-up: the store stays the source of truth.
#[derive(Clone, Debug)]
pub struct WakeUp {
    pub message: Arc<StoredMessage>,
    /// Sequence of the topic's previous message when this one was appended.
    pub prev_seq: u64,
}

impl WakeUp {
    /// A notification that carries no message but forces the receiving
    /// connection to re-read `topic` from the store.
    ///
    /// Its `prev_seq` (and `seq`) are `u64::MAX`, above any position a
    /// connection can hold, so the gateway's gap check (`prev_seq >
    /// last_seq` queues a replay) fires and the message itself is never
    /// pushed. A fan-out sends it when it may have missed notifications:
    /// after its connection to the broker dropped, or when a broker
    /// subscription was confirmed after the connection's replay had read.
    pub fn resync(topic: TopicKey) -> WakeUp {
        WakeUp {
            message: Arc::new(StoredMessage {
                seq: u64::MAX,
                topic,
                message: Arc::from(""),
                tag: 0,
                prompt: false,
                published_at_ms: 0,
                expires_at_ms: 0,
                publisher: Arc::from(""),
                attestation: None,
            }),
            prev_seq: u64::MAX,
        }
    }

    /// Whether this is a [`resync`](Self::resync) signal rather than a message.
    pub fn is_resync(&self) -> bool {
        self.prev_seq == u64::MAX
    }
}

/// A connection's entry in the hub.
#[derive(Clone, Debug)]
pub struct Subscriber {
    pub conn_id: u64,
    pub tx: mpsc::Sender<WakeUp>,
    /// Cancelled by the hub when the connection's queue is full: a consumer too
    /// slow to read is disconnected, and its messages stay pending in the store.
    pub kick: CancellationToken,
}

/// Fan-out behind a trait so that a multi-node backend can replace it without
/// touching the gateway.
pub trait FanOut: Send + Sync + 'static {
    fn register(&self, topic: TopicKey, subscriber: Subscriber);
    fn unregister(&self, topic: &TopicKey, conn_id: u64);
    /// Announces a freshly appended (non-duplicate) message.
    fn announce(&self, appended: &Appended);
    /// Number of topics with at least one local subscriber (for metrics).
    fn topics(&self) -> usize;
}
