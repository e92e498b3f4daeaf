//! Cross-connection fan-out: who, on this node, wants messages of a topic.
//!
//! The [`FanOut`] trait, [`WakeUp`], [`Subscriber`] and the single-node
//! [`LocalHub`] live in the store crate (`relaybox_store::fanout`) so that a
//! storage backend crate can implement fan-out too (the Redis backend wakes
//! every node through pub/sub). They are re-exported here so the gateway
//! keeps naming them `crate::hub::*`.
//!
//! The hub is only a wake-up path. The store is the source of truth: every
//! notification carries the topic's previous sequence number so that a
//! connection that sees a gap re-reads the store instead of trusting the
//! notifications.

pub use relaybox_store::fanout::{FanOut, LocalHub, Subscriber, WakeUp};
