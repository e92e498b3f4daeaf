//! The ceiling's only state: who follows which topic, and an in-memory
//! queue per (client, topic) while that client is offline. Nothing is
//! written to disk and nothing survives the process.

use std::collections::VecDeque;
use std::sync::Arc;

use dashmap::DashMap;
use relaybox_proto::Topic;
use tokio::sync::{mpsc, Notify};
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// Frames queued for one offline member, at most (the relay's default
/// per-topic limit), beyond which the oldest are dropped.
const MAX_QUEUED: usize = 10_000;

/// A live socket of a member.
#[derive(Clone)]
pub struct Online {
    pub conn_id: u64,
    pub tx: mpsc::Sender<Utf8Bytes>,
    /// Woken when `tx` is full: the socket closes itself with 1013.
    pub kick: Arc<Notify>,
}

struct Member {
    client: Arc<str>,
    online: Option<Online>,
    queue: VecDeque<Utf8Bytes>,
}

/// Topic → members.
#[derive(Default)]
pub struct Hub {
    topics: DashMap<Topic, Vec<Member>>,
}

/// What happened to one publish.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Fanned {
    pub sent: usize,
    pub queued: usize,
    /// Live members whose send queue was full (they are kicked).
    pub overflowed: usize,
}

impl Hub {
    /// Adds `client` to `topic` with socket `online`; returns the frames
    /// queued for it while it was away, oldest first.
    pub fn subscribe(&self, topic: Topic, client: &Arc<str>, online: Online) -> Vec<Utf8Bytes> {
        let mut members = self.topics.entry(topic).or_default();
        if let Some(m) = members.iter_mut().find(|m| m.client == *client) {
            m.online = Some(online);
            return m.queue.drain(..).collect();
        }
        members.push(Member {
            client: client.clone(),
            online: Some(online),
            queue: VecDeque::new(),
        });
        Vec::new()
    }

    /// Removes `client` from `topic` entirely.
    pub fn unsubscribe(&self, topic: &Topic, client: &str) {
        self.topics.remove_if_mut(topic, |_, members| {
            members.retain(|m| &*m.client != client);
            members.is_empty()
        });
    }

    /// Socket `conn_id` went away: its member keeps its subscription and
    /// queues from now on.
    pub fn offline(&self, topic: &Topic, conn_id: u64) {
        if let Some(mut members) = self.topics.get_mut(topic) {
            for m in members.iter_mut() {
                if m.online.as_ref().is_some_and(|o| o.conn_id == conn_id) {
                    m.online = None;
                }
            }
        }
    }

    /// Forwards `frame` to every member but the publisher.
    pub fn publish(&self, topic: &Topic, publisher: &str, frame: &Utf8Bytes) -> Fanned {
        let mut out = Fanned::default();
        let Some(mut members) = self.topics.get_mut(topic) else {
            return out;
        };
        for m in members.iter_mut() {
            if &*m.client == publisher {
                continue;
            }
            match &m.online {
                Some(o) => match o.tx.try_send(frame.clone()) {
                    Ok(()) => out.sent += 1,
                    Err(_) => {
                        o.kick.notify_one();
                        out.overflowed += 1;
                    }
                },
                None => {
                    if m.queue.len() >= MAX_QUEUED {
                        m.queue.pop_front();
                    }
                    m.queue.push_back(frame.clone());
                    out.queued += 1;
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offline_members_queue_and_get_it_back() {
        let hub = Hub::default();
        let topic = Topic::from_bytes([1; 32]);
        let (tx, mut rx) = mpsc::channel(8);
        let kick = Arc::new(Notify::new());
        let on = |conn_id| Online {
            conn_id,
            tx: tx.clone(),
            kick: kick.clone(),
        };
        let a: Arc<str> = "a".into();
        let b: Arc<str> = "b".into();
        assert!(hub.subscribe(topic, &a, on(1)).is_empty());
        hub.subscribe(topic, &b, on(2));
        let f: Utf8Bytes = "x".into();
        assert_eq!(hub.publish(&topic, "b", &f).sent, 1);
        assert_eq!(rx.try_recv().unwrap().as_str(), "x");
        hub.offline(&topic, 1);
        assert_eq!(hub.publish(&topic, "b", &f).queued, 1);
        assert_eq!(hub.subscribe(topic, &a, on(3)).len(), 1);
        hub.unsubscribe(&topic, "a");
        assert_eq!(hub.publish(&topic, "b", &f), Fanned::default());
    }
}
