//! Key layout of the `mailbox` tree.
//!
//! Every record kind lives in the same sled tree, told apart by a one-byte
//! prefix, because sled batches are only atomic within one tree: a publish
//! writes a message, its dedup entry, its expiry index entry and the topic
//! meta in one batch. All integers are big-endian and every key has a fixed
//! size, so byte order equals numeric order and range scans come out sorted.
//!
//! | kind | key | value |
//! |---|---|---|
//! | message | `m` topic seq | message record (see `codec`) |
//! | dedup | `d` topic sha256(message) | seq, expires_at |
//! | expiry index | `x` expires_at topic seq | empty |
//! | topic meta | `t` topic | live count, last seq |
//! | subscription | `s` client_hash topic | empty |
//! | reverse subscription | `r` topic client_hash | client id |
//! | cursor | `k` client_hash topic | seq |
//! | out-of-order ack | `a` client_hash topic seq | empty |

use sha2::{Digest, Sha256};

use crate::types::TopicKey;

/// sha256 of a client id: keys stay fixed-size whatever the id length.
pub(crate) type ClientHash = [u8; 32];

const MESSAGE: u8 = b'm';
const DEDUP: u8 = b'd';
const EXPIRY: u8 = b'x';
const TOPIC_META: u8 = b't';
const SUB: u8 = b's';
const SUB_REV: u8 = b'r';
const CURSOR: u8 = b'k';
const ACK: u8 = b'a';

/// Hashes a client id for use in keys.
pub(crate) fn client_hash(client: &str) -> ClientHash {
    Sha256::digest(client.as_bytes()).into()
}

/// Concatenates a prefix byte and parts into a fixed-size key.
fn build<const N: usize>(prefix: u8, parts: &[&[u8]]) -> [u8; N] {
    let mut out = [0u8; N];
    out[0] = prefix;
    let mut at = 1;
    for part in parts {
        out[at..at + part.len()].copy_from_slice(part);
        at += part.len();
    }
    debug_assert_eq!(at, N, "key parts do not fill the key");
    out
}

fn be(v: u64) -> [u8; 8] {
    v.to_be_bytes()
}

fn read_u64(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

fn read_topic(bytes: &[u8]) -> Option<TopicKey> {
    Some(TopicKey(bytes.try_into().ok()?))
}

/// `m|topic|seq`.
pub(crate) fn message(topic: &TopicKey, seq: u64) -> [u8; 41] {
    build(MESSAGE, &[&topic.0, &be(seq)])
}

/// `m|topic`: prefix of all of one topic's messages.
pub(crate) fn message_prefix(topic: &TopicKey) -> [u8; 33] {
    build(MESSAGE, &[&topic.0])
}

/// `m`: prefix of every message.
pub(crate) fn message_prefix_all() -> [u8; 1] {
    [MESSAGE]
}

/// Topic and seq of any message key.
pub(crate) fn parse_message(key: &[u8]) -> Option<(TopicKey, u64)> {
    if key.len() != 41 || key[0] != MESSAGE {
        return None;
    }
    Some((read_topic(&key[1..33])?, read_u64(&key[33..])?))
}

/// Topic of a `t|topic` key.
pub(crate) fn parse_topic_meta(key: &[u8]) -> Option<TopicKey> {
    if key.len() != 33 || key[0] != TOPIC_META {
        return None;
    }
    read_topic(&key[1..])
}

/// Seq of a message key, checking that it belongs to `topic`.
pub(crate) fn message_seq(key: &[u8], topic: &TopicKey) -> Option<u64> {
    if key.len() != 41 || key[0] != MESSAGE || key[1..33] != topic.0 {
        return None;
    }
    read_u64(&key[33..])
}

/// `d|topic|sha256`.
pub(crate) fn dedup(topic: &TopicKey, hash: &[u8; 32]) -> [u8; 65] {
    build(DEDUP, &[&topic.0, hash])
}

/// `x|expires|topic|seq`.
pub(crate) fn expiry(expires_at_ms: u64, topic: &TopicKey, seq: u64) -> [u8; 49] {
    build(EXPIRY, &[&be(expires_at_ms), &topic.0, &be(seq)])
}

/// Lowest possible expiry key.
pub(crate) fn expiry_start() -> [u8; 1] {
    [EXPIRY]
}

/// Exclusive upper bound covering every expiry key with `expires <= now`.
pub(crate) fn expiry_end(now_ms: u64) -> [u8; 49] {
    build(EXPIRY, &[&be(now_ms.saturating_add(1)), &[0; 32], &be(0)])
}

/// Splits an expiry key into `(expires_at_ms, topic, seq)`.
pub(crate) fn parse_expiry(key: &[u8]) -> Option<(u64, TopicKey, u64)> {
    if key.len() != 49 || key[0] != EXPIRY {
        return None;
    }
    Some((
        read_u64(&key[1..9])?,
        read_topic(&key[9..41])?,
        read_u64(&key[41..])?,
    ))
}

/// `t|topic`.
pub(crate) fn topic_meta(topic: &TopicKey) -> [u8; 33] {
    build(TOPIC_META, &[&topic.0])
}

/// Prefix of every topic meta key (for the startup stats scan).
pub(crate) fn topic_meta_prefix() -> [u8; 1] {
    [TOPIC_META]
}

/// `s|client|topic`.
pub(crate) fn sub(client: &ClientHash, topic: &TopicKey) -> [u8; 65] {
    build(SUB, &[client, &topic.0])
}

/// Prefix of one client's subscriptions.
pub(crate) fn sub_prefix(client: &ClientHash) -> [u8; 33] {
    build(SUB, &[client])
}

/// Prefix of every subscription key (for the startup stats scan).
pub(crate) fn sub_all_prefix() -> [u8; 1] {
    [SUB]
}

/// Topic part of a subscription key.
pub(crate) fn sub_topic(key: &[u8]) -> Option<TopicKey> {
    if key.len() != 65 || key[0] != SUB {
        return None;
    }
    read_topic(&key[33..])
}

/// `r|topic|client`.
pub(crate) fn sub_rev(topic: &TopicKey, client: &ClientHash) -> [u8; 65] {
    build(SUB_REV, &[&topic.0, client])
}

/// Prefix of one topic's reverse subscriptions.
pub(crate) fn sub_rev_prefix(topic: &TopicKey) -> [u8; 33] {
    build(SUB_REV, &[&topic.0])
}

/// `k|client|topic`.
pub(crate) fn cursor(client: &ClientHash, topic: &TopicKey) -> [u8; 65] {
    build(CURSOR, &[client, &topic.0])
}

/// `a|client|topic|seq`.
pub(crate) fn ack(client: &ClientHash, topic: &TopicKey, seq: u64) -> [u8; 73] {
    build(ACK, &[client, &topic.0, &be(seq)])
}

/// `a|client|topic`: prefix of one pair's out-of-order acks.
pub(crate) fn ack_prefix(client: &ClientHash, topic: &TopicKey) -> [u8; 65] {
    build(ACK, &[client, &topic.0])
}

/// Seq part of an ack key.
pub(crate) fn ack_seq(key: &[u8]) -> Option<u64> {
    if key.len() != 73 || key[0] != ACK {
        return None;
    }
    read_u64(&key[65..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_keys_sort_by_seq_and_round_trip() {
        let t = TopicKey([7; 32]);
        assert!(message(&t, 255) < message(&t, 256));
        assert!(message(&t, u64::MAX) < message(&TopicKey([8; 32]), 0));
        assert_eq!(message_seq(&message(&t, 42), &t), Some(42));
        assert_eq!(message_seq(&message(&t, 42), &TopicKey([8; 32])), None);
        assert_eq!(message_seq(b"m", &t), None);
    }

    #[test]
    fn expiry_keys_parse_and_bound() {
        let t = TopicKey([1; 32]);
        let k = expiry(1_000, &t, 9);
        assert_eq!(parse_expiry(&k), Some((1_000, t, 9)));
        assert!(k[..] < expiry_end(1_000)[..]);
        assert!(k[..] >= expiry_end(999)[..]);
        assert!(expiry_start()[..] < k[..]);
        assert_eq!(parse_expiry(&k[..48]), None);
    }

    #[test]
    fn client_keys_round_trip() {
        let c = client_hash("did:key:z6Mk");
        let t = TopicKey([3; 32]);
        assert_eq!(sub_topic(&sub(&c, &t)), Some(t));
        assert!(sub(&c, &t).starts_with(&sub_prefix(&c)));
        assert!(sub_rev(&t, &c).starts_with(&sub_rev_prefix(&t)));
        assert_eq!(ack_seq(&ack(&c, &t, 77)), Some(77));
        assert_eq!(ack_seq(&cursor(&c, &t)), None);
    }
}
