//! Key layout of the `mailbox` sled tree, which holds the per-client state.
//!
//! All integers are big-endian and every key has a fixed size, so byte
//! order is numeric order and prefix scans come out sorted. The layout of
//! these kinds is the one earlier versions used, so their subscriptions and
//! cursors carry over.
//!
//! | kind | key | value |
//! |---|---|---|
//! | subscription | `s` client_hash topic | empty |
//! | reverse subscription | `r` topic client_hash | client id |
//! | delivery position | `k` client_hash topic | cursor, then acked seqs above it |
//! | last seen | `l` client_hash | ms since the epoch |
//! | last-seen index | `L` ms client_hash | empty |
//! | purge marker | `P` topic | deleted through seq, marker needed until ms |

use relaybox_store::TopicKey;
use sha2::{Digest, Sha256};

/// sha256 of a client id: keys stay fixed-size whatever the id length.
pub(crate) type ClientHash = [u8; 32];

const SUB: u8 = b's';
const SUB_REV: u8 = b'r';
const CURSOR: u8 = b'k';
const SEEN: u8 = b'l';
const SEEN_INDEX: u8 = b'L';
const PURGE: u8 = b'P';

/// Hashes a client id for use in keys.
pub(crate) fn client_hash(client: &str) -> ClientHash {
    Sha256::digest(client.as_bytes()).into()
}

fn key65(prefix: u8, a: &[u8; 32], b: &[u8; 32]) -> [u8; 65] {
    let mut out = [0u8; 65];
    out[0] = prefix;
    out[1..33].copy_from_slice(a);
    out[33..].copy_from_slice(b);
    out
}

fn key33(prefix: u8, a: &[u8; 32]) -> [u8; 33] {
    let mut out = [0u8; 33];
    out[0] = prefix;
    out[1..].copy_from_slice(a);
    out
}

/// `s|client|topic`.
pub(crate) fn sub(client: &ClientHash, topic: &TopicKey) -> [u8; 65] {
    key65(SUB, client, &topic.0)
}

/// Prefix of one client's subscriptions.
pub(crate) fn sub_prefix(client: &ClientHash) -> [u8; 33] {
    key33(SUB, client)
}

/// Prefix of every subscription (for the start-up count).
pub(crate) fn sub_all_prefix() -> [u8; 1] {
    [SUB]
}

/// Topic part of a subscription key.
pub(crate) fn sub_topic(key: &[u8]) -> Option<TopicKey> {
    if key.len() != 65 || key[0] != SUB {
        return None;
    }
    Some(TopicKey(key[33..].try_into().ok()?))
}

/// `r|topic|client`.
pub(crate) fn sub_rev(topic: &TopicKey, client: &ClientHash) -> [u8; 65] {
    key65(SUB_REV, &topic.0, client)
}

/// Prefix of one topic's reverse subscriptions.
pub(crate) fn sub_rev_prefix(topic: &TopicKey) -> [u8; 33] {
    key33(SUB_REV, &topic.0)
}

/// `k|client|topic`.
pub(crate) fn cursor(client: &ClientHash, topic: &TopicKey) -> [u8; 65] {
    key65(CURSOR, client, &topic.0)
}

/// Prefix of one client's delivery positions.
pub(crate) fn cursor_prefix(client: &ClientHash) -> [u8; 33] {
    key33(CURSOR, client)
}

/// `l|client`.
pub(crate) fn seen(client: &ClientHash) -> [u8; 33] {
    key33(SEEN, client)
}

/// Prefix of every last-seen record (the start-up check).
pub(crate) fn seen_all_prefix() -> [u8; 1] {
    [SEEN]
}

/// `L|ms|client`: the last-seen index, in time order.
pub(crate) fn seen_index(ms: u64, client: &ClientHash) -> [u8; 41] {
    let mut out = [0u8; 41];
    out[0] = SEEN_INDEX;
    out[1..9].copy_from_slice(&ms.to_be_bytes());
    out[9..].copy_from_slice(client);
    out
}

/// Splits a last-seen index key into `(ms, client)`.
pub(crate) fn parse_seen_index(key: &[u8]) -> Option<(u64, ClientHash)> {
    if key.len() != 41 || key[0] != SEEN_INDEX {
        return None;
    }
    Some((
        u64::from_be_bytes(key[1..9].try_into().ok()?),
        key[9..].try_into().ok()?,
    ))
}

/// `P|topic`.
pub(crate) fn purge(topic: &TopicKey) -> [u8; 33] {
    key33(PURGE, &topic.0)
}

/// Prefix of every purge marker.
pub(crate) fn purge_prefix() -> [u8; 1] {
    [PURGE]
}

/// Topic of a purge marker key.
pub(crate) fn purge_topic(key: &[u8]) -> Option<TopicKey> {
    if key.len() != 33 || key[0] != PURGE {
        return None;
    }
    Some(TopicKey(key[1..].try_into().ok()?))
}

/// Prefix of every reverse subscription (the export walk).
pub(crate) fn sub_rev_all_prefix() -> [u8; 1] {
    [SUB_REV]
}

/// Topic part of a reverse subscription key.
pub(crate) fn sub_rev_topic(key: &[u8]) -> Option<TopicKey> {
    if key.len() != 65 || key[0] != SUB_REV {
        return None;
    }
    Some(TopicKey(key[1..33].try_into().ok()?))
}

/// Client part of a subscription key.
pub(crate) fn sub_client(key: &[u8]) -> Option<ClientHash> {
    if key.len() != 65 || key[0] != SUB {
        return None;
    }
    key[1..33].try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscription_keys_sort_by_client_then_topic() {
        let c = client_hash("did:key:z6MkA");
        let a = sub(&c, &TopicKey([1; 32]));
        let b = sub(&c, &TopicKey([2; 32]));
        assert!(a < b);
        assert!(a.starts_with(&sub_prefix(&c)));
        assert_eq!(sub_topic(&b), Some(TopicKey([2; 32])));
        assert_eq!(sub_topic(&cursor(&c, &TopicKey([2; 32]))), None);
        assert_eq!(sub_client(&b), Some(c));
        assert!(seen_index(1, &c) < seen_index(256, &[0; 32]));
        assert_eq!(parse_seen_index(&seen_index(77, &c)), Some((77, c)));
    }
}
