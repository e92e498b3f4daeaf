//! [`LocalHub`]: the single-node fan-out, a sharded map from topic to the
//! local connections that follow it.

use dashmap::DashMap;
use tokio::sync::mpsc;

use super::{FanOut, Subscriber, WakeUp};
use crate::types::{Appended, TopicKey};

/// The single-node hub: a sharded map from topic to local subscribers.
#[derive(Default)]
pub struct LocalHub {
    topics: DashMap<TopicKey, Vec<Subscriber>>,
}

impl LocalHub {
    pub fn new() -> Self {
        Self::default()
    }

    /// Hands `wake_up` to every local subscriber of `topic` without
    /// waiting; a subscriber whose queue is full is kicked (disconnected),
    /// and its messages stay pending in the store.
    pub fn wake(&self, topic: &TopicKey, wake_up: &WakeUp) {
        let Some(subs) = self.topics.get(topic) else {
            return;
        };
        for sub in subs.iter() {
            match sub.tx.try_send(wake_up.clone()) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    if !sub.kick.is_cancelled() {
                        metrics::counter!("relaybox_slow_consumer_disconnects_total").increment(1);
                        sub.kick.cancel();
                    }
                }
                // The connection is closing; it unregisters itself.
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        }
    }

    /// Disconnects every local subscriber of `topic` (they reconnect and
    /// resume from the store); returns how many were kicked.
    pub fn kick(&self, topic: &TopicKey) -> usize {
        let Some(subs) = self.topics.get(topic) else {
            return 0;
        };
        for sub in subs.iter() {
            sub.kick.cancel();
        }
        subs.len()
    }

    /// Whether any local connection follows `topic`.
    pub fn has(&self, topic: &TopicKey) -> bool {
        self.topics.contains_key(topic)
    }

    /// Every topic with at least one local subscriber.
    pub fn topic_keys(&self) -> Vec<TopicKey> {
        self.topics.iter().map(|e| *e.key()).collect()
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
        let wake_up = WakeUp {
            message: appended.message.clone(),
            prev_seq: appended.prev_seq,
        };
        self.wake(&appended.message.topic, &wake_up);
    }

    fn topics(&self) -> usize {
        self.topics.len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::types::StoredMessage;

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

    #[test]
    fn resync_is_above_every_position_and_kick_reaches_all() {
        let d = super::super::WakeUp::resync(TopicKey([3; 32]));
        assert!(d.is_resync());
        assert_eq!(d.message.seq, u64::MAX);
        assert!(!WakeUp {
            message: d.message.clone(),
            prev_seq: 7
        }
        .is_resync());
        let hub = LocalHub::new();
        let kick = CancellationToken::new();
        let (tx, _rx) = mpsc::channel(1);
        hub.register(
            TopicKey([3; 32]),
            Subscriber {
                conn_id: 9,
                tx,
                kick: kick.clone(),
            },
        );
        assert!(hub.has(&TopicKey([3; 32])));
        assert_eq!(hub.kick(&TopicKey([3; 32])), 1);
        assert!(kick.is_cancelled());
        assert_eq!(hub.topic_keys(), vec![TopicKey([3; 32])]);
    }
}
