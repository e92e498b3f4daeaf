//! Cross-connection fan-out: who, on this node, wants messages of a topic.
//!
//! The hub is only a wake-up path. The store is the source of truth: every
//! notification carries the topic's previous sequence number so that a
//! connection that sees a gap re-reads the store instead of trusting the
//! notifications (the same contract a Redis pub/sub backend will honour).

use std::sync::Arc;

use dashmap::DashMap;
use relaybox_store::{Appended, StoredMessage, TopicKey};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// One stored message announced to a connection.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub message: Arc<StoredMessage>,
    /// Sequence of the topic's previous message when this one was appended.
    pub prev_seq: u64,
}

/// A connection's entry in the hub.
#[derive(Clone, Debug)]
pub struct Subscriber {
    pub conn_id: u64,
    pub tx: mpsc::Sender<Delivery>,
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

/// The single-node hub: a sharded map from topic to local subscribers.
#[derive(Default)]
pub struct LocalHub {
    topics: DashMap<TopicKey, Vec<Subscriber>>,
}

impl LocalHub {
    pub fn new() -> Self {
        Self::default()
    }
}

impl FanOut for LocalHub {
    fn register(&self, topic: TopicKey, subscriber: Subscriber) {
        let mut entry = self.topics.entry(topic).or_default();
        if !entry.iter().any(|s| s.conn_id == subscriber.conn_id) {
            entry.push(subscriber);
        }
    }

    fn unregister(&self, topic: &TopicKey, conn_id: u64) {
        self.topics.remove_if_mut(topic, |_, subs| {
            subs.retain(|s| s.conn_id != conn_id);
            subs.is_empty()
        });
    }

    fn announce(&self, appended: &Appended) {
        let Some(subs) = self.topics.get(&appended.message.topic) else {
            return;
        };
        for sub in subs.iter() {
            let delivery = Delivery {
                message: appended.message.clone(),
                prev_seq: appended.prev_seq,
            };
            match sub.tx.try_send(delivery) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    if !sub.kick.is_cancelled() {
                        crate::metrics::slow_consumer();
                        sub.kick.cancel();
                    }
                }
                // The connection is closing; it unregisters itself.
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        }
    }

    fn topics(&self) -> usize {
        self.topics.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn appended(topic: u8, seq: u64, prev: u64) -> Appended {
        Appended {
            message: Arc::new(StoredMessage {
                seq,
                topic: TopicKey([topic; 32]),
                message: "m".into(),
                tag: 0,
                prompt: false,
                published_at_ms: 0,
                expires_at_ms: u64::MAX,
                publisher: "did:key:x".into(),
                attestation: None,
            }),
            prev_seq: prev,
            duplicate: false,
        }
    }

    #[test]
    fn announces_only_to_topic_subscribers_and_kicks_full_queues() {
        let hub = LocalHub::new();
        let (tx1, mut rx1) = mpsc::channel(1);
        let (tx2, mut rx2) = mpsc::channel(8);
        let kick1 = CancellationToken::new();
        hub.register(
            TopicKey([1; 32]),
            Subscriber {
                conn_id: 1,
                tx: tx1,
                kick: kick1.clone(),
            },
        );
        hub.register(
            TopicKey([2; 32]),
            Subscriber {
                conn_id: 2,
                tx: tx2,
                kick: CancellationToken::new(),
            },
        );
        hub.announce(&appended(1, 10, 0));
        hub.announce(&appended(1, 11, 10));
        assert_eq!(rx1.try_recv().unwrap().message.seq, 10);
        assert!(
            kick1.is_cancelled(),
            "second message overflowed a queue of one"
        );
        assert!(rx2.try_recv().is_err());
        hub.unregister(&TopicKey([1; 32]), 1);
        assert_eq!(hub.topics(), 1);
    }
}
