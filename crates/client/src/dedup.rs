//! Duplicate pushes on one socket.
//!
//! The relay pushes everything a client has not acknowledged after every
//! (re)subscribe, including what it already pushed on the same socket (a
//! push can be lost without the socket failing, and this is where the relay
//! retries it). So the same message can arrive twice: once from the replay
//! on connect and again after the re-subscription, or again after a
//! subscribe that raced with its acknowledgement. The relay stores a message
//! once per topic per content, so (topic, sha256(message)) names it, as it
//! does for the JS client, which drops duplicates the same way.
//!
//! Per socket, each message the client holds is either *pending* (buffered,
//! queued for a subscription, or taken and not yet acknowledged) or
//! *acknowledged*. A copy of a pending message is ignored (the original's
//! ack covers it); a copy of an acknowledged one is answered `true` at once
//! and not delivered. Acknowledged entries are forgotten after
//! [`ACKED_MEMORY`] or beyond [`ACKED_CAP`] entries: re-pushes follow within
//! milliseconds, and forgetting lets identical content published much later
//! through. Messages let go unacknowledged (queues full, a Subscription
//! dropped) are released, so that a later re-push is delivered.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use relaybox_proto::Topic;

/// A message's identity: its topic and the sha256 of its content.
pub(crate) type MessageKey = (Topic, [u8; 32]);

/// How long an acknowledged message's copies are recognised.
pub(crate) const ACKED_MEMORY: Duration = Duration::from_secs(60);
/// Most acknowledged messages remembered per socket.
pub(crate) const ACKED_CAP: usize = 16_384;

/// What to do with an incoming push.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// New: deliver it.
    Deliver,
    /// A copy of a message still held: ignore it.
    Ignore,
    /// A copy of an acknowledged message: answer `true`, do not deliver.
    AckAgain,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Pending,
    Acked,
}

/// The messages of the current socket.
#[derive(Debug, Default)]
pub(crate) struct Dedup {
    held: HashMap<MessageKey, State>,
    acked: VecDeque<(MessageKey, Instant)>,
}

impl Dedup {
    /// Classifies a push and, if new, records it as pending.
    pub(crate) fn on_push(&mut self, key: MessageKey) -> Verdict {
        self.expire(Instant::now());
        match self.held.get(&key) {
            None => {
                self.held.insert(key, State::Pending);
                Verdict::Deliver
            }
            Some(State::Pending) => Verdict::Ignore,
            Some(State::Acked) => Verdict::AckAgain,
        }
    }

    /// The message was acknowledged.
    pub(crate) fn on_ack(&mut self, key: MessageKey) {
        let now = Instant::now();
        if self.held.insert(key, State::Acked) != Some(State::Acked) {
            self.acked.push_back((key, now));
        }
        self.expire(now);
    }

    /// The message was let go unacknowledged: a later copy is new again.
    pub(crate) fn release(&mut self, key: &MessageKey) {
        if self.held.get(key) == Some(&State::Pending) {
            self.held.remove(key);
        }
    }

    /// Forgets everything (the socket is gone).
    pub(crate) fn clear(&mut self) {
        self.held.clear();
        self.acked.clear();
    }

    fn expire(&mut self, now: Instant) {
        while let Some((key, at)) = self.acked.front() {
            if self.acked.len() <= ACKED_CAP && now.duration_since(*at) < ACKED_MEMORY {
                break;
            }
            if self.held.get(key) == Some(&State::Acked) {
                self.held.remove(key);
            }
            self.acked.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> MessageKey {
        (Topic::from_bytes([1; 32]), [n; 32])
    }

    #[test]
    fn copies_are_ignored_or_acked_again() {
        let mut d = Dedup::default();
        assert_eq!(d.on_push(key(1)), Verdict::Deliver);
        assert_eq!(d.on_push(key(1)), Verdict::Ignore);
        d.on_ack(key(1));
        assert_eq!(d.on_push(key(1)), Verdict::AckAgain);
        assert_eq!(d.on_push(key(2)), Verdict::Deliver);
        d.release(&key(2));
        assert_eq!(d.on_push(key(2)), Verdict::Deliver, "released");
        d.release(&key(1));
        assert_eq!(d.on_push(key(1)), Verdict::AckAgain, "acked stays acked");
        d.clear();
        assert_eq!(d.on_push(key(1)), Verdict::Deliver);
    }

    #[test]
    fn acked_memory_is_bounded() {
        let mut d = Dedup::default();
        for i in 0..=ACKED_CAP {
            let k = (Topic::from_bytes([2; 32]), {
                let mut h = [0u8; 32];
                h[..8].copy_from_slice(&(i as u64).to_be_bytes());
                h
            });
            d.on_push(k);
            d.on_ack(k);
        }
        assert_eq!(d.acked.len(), ACKED_CAP);
        let first = (Topic::from_bytes([2; 32]), [0u8; 32]);
        assert_eq!(d.on_push(first), Verdict::Deliver, "oldest forgotten");
    }
}
