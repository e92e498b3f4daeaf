//! Plain data types exchanged between the gateway and the store.
//!
//! They are defined here rather than borrowed from `relaybox-proto` so the
//! storage layer has no dependency on the wire format; the gateway converts
//! at the boundary. Message bodies are `Arc<str>` because one stored message
//! fans out to many connections and should be shared, not copied.

use std::fmt;
use std::sync::Arc;

/// A 32-byte WalletConnect topic (64 hex chars on the wire).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicKey(pub [u8; 32]);

impl TopicKey {
    /// Parses the 64-hex-digit wire form (either case); `None` if malformed.
    pub fn from_hex(s: &str) -> Option<Self> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).ok()?;
        Some(Self(out))
    }

    /// The lower-case hex wire form.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The raw bytes, as used in storage keys.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for TopicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// A publish as the gateway hands it to [`MailboxStore::append`](crate::MailboxStore::append).
#[derive(Clone, Debug)]
pub struct NewMessage {
    /// Destination topic.
    pub topic: TopicKey,
    /// The opaque (encrypted, base64) payload; also the dedup identity.
    pub message: Arc<str>,
    /// The publishing RPC's tag; stored and returned verbatim.
    pub tag: u32,
    /// Time to live; the message expires at `published_at_ms + ttl_secs * 1000`.
    pub ttl_secs: u32,
    /// Push hint; stored and returned verbatim.
    pub prompt: bool,
    /// Optional Verify attestation JWT.
    pub attestation: Option<Arc<str>>,
    /// The publisher's client id, kept so the message is never echoed back.
    pub publisher: Arc<str>,
    /// Publish time, also used as "now" for expiry checks during the append.
    pub published_at_ms: u64,
}

/// A message as stored, with its assigned sequence number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredMessage {
    /// Store-wide, strictly increasing; orders messages within a topic.
    pub seq: u64,
    /// The topic it was published to.
    pub topic: TopicKey,
    /// The payload.
    pub message: Arc<str>,
    /// Tag from the publish.
    pub tag: u32,
    /// Push hint from the publish.
    pub prompt: bool,
    /// Publish time in ms since the epoch.
    pub published_at_ms: u64,
    /// The message is pending only while `expires_at_ms > now_ms`.
    pub expires_at_ms: u64,
    /// Publisher's client id.
    pub publisher: Arc<str>,
    /// Verify attestation, if any.
    pub attestation: Option<Arc<str>>,
}

/// Result of an append.
#[derive(Clone, Debug)]
pub struct Appended {
    /// The stored record (for a duplicate: the record already stored).
    pub message: Arc<StoredMessage>,
    /// Seq of the topic's previous append (0 if none known), so fan-out can
    /// detect that a live push would skip something. For a duplicate it is
    /// the topic's newest seq, since nothing new was appended.
    pub prev_seq: u64,
    /// True when an identical live message was already stored.
    pub duplicate: bool,
}

/// One page of pending messages for a client.
#[derive(Clone, Debug, Default)]
pub struct PendingPage {
    /// Oldest first.
    pub messages: Vec<Arc<StoredMessage>>,
    /// The topic's newest seq at read time (own/expired included; 0 if
    /// none). The page covers exactly the messages up to this seq.
    pub last_seq: u64,
    /// More pending messages up to `last_seq` exist beyond this page.
    pub has_more: bool,
}

/// Best-effort counters for metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Stored messages, including expired ones not yet swept.
    pub messages: u64,
    /// Topics holding at least one stored message.
    pub topics: u64,
    /// `(client, topic)` subscriptions.
    pub subscriptions: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_hex_round_trip() {
        let t = TopicKey([0xab; 32]);
        assert_eq!(TopicKey::from_hex(&t.to_hex()), Some(t));
        assert_eq!(TopicKey::from_hex(&t.to_hex().to_uppercase()), Some(t));
        assert_eq!(TopicKey::from_hex("abc"), None);
        assert_eq!(TopicKey::from_hex(&"zz".repeat(32)), None);
        assert_eq!(t.to_string().len(), 64);
    }
}
