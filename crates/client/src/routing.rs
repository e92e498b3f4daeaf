//! Which subscription gets a pushed message.
//!
//! Each topic has at most one route: the queue of the newest live
//! [`crate::Subscription`] that covers it. A push for a topic without one
//! (the relay pushes a client's whole mailbox as soon as it connects, before
//! the application has subscribed again) waits in a bounded buffer and goes
//! to the first Subscription made for its topic. Nothing here acknowledges:
//! a push that is dropped (buffer full, queue full) is simply never answered,
//! and the relay sends it again on the next connection.
//!
//! The buffer belongs to one socket: it is cleared when the socket drops,
//! because everything in it was unacknowledged and will be pushed again.

use std::collections::{HashMap, VecDeque};

use relaybox_proto::Topic;
use tokio::sync::mpsc;

use crate::dedup::MessageKey;
use crate::shared::Delivered;

/// What became of one push.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Routed {
    /// Queued for a subscription.
    Delivered,
    /// Held for a future subscription.
    Buffered,
    /// Not kept; it stays unacknowledged.
    Dropped,
}

/// Topic → subscription queue, plus the pushes nobody has claimed yet.
#[derive(Debug)]
pub(crate) struct Router {
    routes: HashMap<Topic, mpsc::Sender<Delivered>>,
    unrouted: HashMap<Topic, VecDeque<Delivered>>,
    unrouted_len: usize,
    unrouted_cap: usize,
}

impl Router {
    pub(crate) fn new(unrouted_cap: usize) -> Router {
        Router {
            routes: HashMap::new(),
            unrouted: HashMap::new(),
            unrouted_len: 0,
            unrouted_cap,
        }
    }

    /// Points `topics` at `tx` (replacing older routes) and hands over what
    /// was buffered for them, oldest first. Returns the keys of buffered
    /// messages that did not fit and were let go.
    pub(crate) fn add(
        &mut self,
        topics: &[Topic],
        tx: &mpsc::Sender<Delivered>,
    ) -> Vec<MessageKey> {
        let mut dropped = Vec::new();
        for topic in topics {
            self.routes.insert(*topic, tx.clone());
            if let Some(waiting) = self.unrouted.remove(topic) {
                self.unrouted_len -= waiting.len();
                for d in waiting {
                    if let Err(e) = tx.try_send(d) {
                        let d = match e {
                            mpsc::error::TrySendError::Full(d)
                            | mpsc::error::TrySendError::Closed(d) => d,
                        };
                        dropped.push(d.key);
                    }
                }
            }
        }
        dropped
    }

    /// Removes the routes of `topics` that still lead to `tx` (a subscribe
    /// that failed must not take over a route someone else set since).
    pub(crate) fn remove_if_same(&mut self, topics: &[Topic], tx: &mpsc::Sender<Delivered>) {
        for topic in topics {
            if self.routes.get(topic).is_some_and(|r| r.same_channel(tx)) {
                self.routes.remove(topic);
            }
        }
    }

    /// Ends local delivery of `topics` (after an unsubscribe). Returns the
    /// keys of the buffered messages let go.
    pub(crate) fn remove(&mut self, topics: &[Topic]) -> Vec<MessageKey> {
        let mut dropped = Vec::new();
        for topic in topics {
            self.routes.remove(topic);
            if let Some(waiting) = self.unrouted.remove(topic) {
                self.unrouted_len -= waiting.len();
                dropped.extend(waiting.iter().map(|d| d.key));
            }
        }
        dropped
    }

    /// Routes one push.
    pub(crate) fn route(&mut self, d: Delivered) -> Routed {
        let topic = d.data.topic;
        let d = match self.routes.get(&topic) {
            Some(tx) => match tx.try_send(d) {
                Ok(()) => return Routed::Delivered,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::warn!(%topic, "subscription queue full; message left for redelivery");
                    return Routed::Dropped;
                }
                Err(mpsc::error::TrySendError::Closed(d)) => {
                    // The Subscription was dropped: hold the push as unclaimed.
                    self.routes.remove(&topic);
                    d
                }
            },
            None => d,
        };
        if self.unrouted_len >= self.unrouted_cap {
            tracing::debug!(%topic, "unrouted buffer full; message left for redelivery");
            return Routed::Dropped;
        }
        self.unrouted_len += 1;
        self.unrouted.entry(topic).or_default().push_back(d);
        Routed::Buffered
    }

    /// Forgets the unclaimed pushes (their socket is gone).
    pub(crate) fn clear_unrouted(&mut self) {
        self.unrouted.clear();
        self.unrouted_len = 0;
    }

    /// Drops every route, ending every subscription stream.
    pub(crate) fn clear(&mut self) {
        self.routes.clear();
        self.clear_unrouted();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use relaybox_proto::{RequestId, SubscriptionData};

    fn push(topic: Topic, n: u64) -> Delivered {
        Delivered {
            generation: 1,
            push_id: RequestId::Number(n),
            key: (topic, [n as u8; 32]),
            data: SubscriptionData {
                topic,
                message: format!("m{n}"),
                published_at: n,
                tag: 0,
                attestation: None,
            },
        }
    }

    #[test]
    fn unclaimed_pushes_wait_for_their_subscription() {
        let (a, b) = (Topic::from_bytes([1; 32]), Topic::from_bytes([2; 32]));
        let mut router = Router::new(2);
        assert_eq!(router.route(push(a, 1)), Routed::Buffered);
        assert_eq!(router.route(push(b, 2)), Routed::Buffered);
        assert_eq!(router.route(push(a, 3)), Routed::Dropped, "bounded");

        let (tx, mut rx) = mpsc::channel(8);
        assert!(router.add(&[a], &tx).is_empty());
        assert_eq!(rx.try_recv().unwrap().data.message, "m1");
        assert!(rx.try_recv().is_err());
        assert_eq!(router.route(push(a, 4)), Routed::Delivered);
        assert_eq!(rx.try_recv().unwrap().data.message, "m4");
        // Room again for one more unclaimed push.
        assert_eq!(router.route(push(a, 5)), Routed::Delivered);
        assert_eq!(
            router.route(push(Topic::from_bytes([3; 32]), 6)),
            Routed::Buffered
        );
    }

    #[test]
    fn dropped_subscriptions_and_failed_subscribes() {
        let a = Topic::from_bytes([1; 32]);
        let mut router = Router::new(10);
        let (tx, rx) = mpsc::channel(1);
        router.add(&[a], &tx);
        assert_eq!(router.route(push(a, 1)), Routed::Delivered);
        assert_eq!(router.route(push(a, 2)), Routed::Dropped, "queue full");
        drop(rx);
        assert_eq!(router.route(push(a, 3)), Routed::Buffered);

        let (tx2, _rx2) = mpsc::channel(1);
        router.add(&[a], &tx2);
        router.remove_if_same(&[a], &tx);
        assert!(router.routes.contains_key(&a));
        router.remove_if_same(&[a], &tx2);
        assert!(!router.routes.contains_key(&a));
    }
}
