//! White-box tests of the delivery bookkeeping: cursor movement, ack-key
//! cleanup and corrupt-record handling, which the public API can only
//! observe indirectly.

use std::sync::Arc;

use super::{keys, SledConfig, SledStore};
use crate::{MailboxStore, NewMessage, TopicKey};

const T: TopicKey = TopicKey([5; 32]);
const PUBLISHER: &str = "did:key:z6MkPublisher";
const CLIENT: &str = "did:key:z6MkClient";

fn open(dir: &tempfile::TempDir) -> Arc<SledStore> {
    SledStore::open(SledConfig::new(dir.path())).unwrap()
}

fn msg(body: &str, publisher: &str, ttl_secs: u32) -> NewMessage {
    NewMessage {
        topic: T,
        message: body.into(),
        tag: 1,
        ttl_secs,
        prompt: false,
        attestation: None,
        publisher: publisher.into(),
        published_at_ms: 1_000,
    }
}

async fn append_n(store: &SledStore, n: usize) -> Vec<u64> {
    let mut seqs = Vec::new();
    for i in 0..n {
        let a = store
            .append(msg(&format!("m{i}"), PUBLISHER, 60))
            .await
            .unwrap();
        seqs.push(a.message.seq);
    }
    seqs
}

fn state(store: &SledStore) -> (u64, Vec<u64>) {
    let ch = keys::client_hash(CLIENT);
    let cursor = store.cursor(&ch, &T).unwrap();
    let acks = store.acks_above(&ch, &T, 0).unwrap().into_iter().collect();
    (cursor, acks)
}

#[tokio::test]
async fn out_of_order_acks_then_cursor_catches_up() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let s = append_n(&store, 5).await;
    store.ack(CLIENT, T, &[s[2], s[4]], 2_000).await.unwrap();
    assert_eq!(state(&store), (0, vec![s[2], s[4]]));
    store.ack(CLIENT, T, &[s[0]], 2_000).await.unwrap();
    assert_eq!(state(&store), (s[0], vec![s[2], s[4]]));
    store.ack(CLIENT, T, &[s[1]], 2_000).await.unwrap();
    assert_eq!(state(&store), (s[2], vec![s[4]]));
    store.ack(CLIENT, T, &[s[3]], 2_000).await.unwrap();
    assert_eq!(state(&store), (s[4], vec![]));
    // Re-acking below the cursor and acking unknown seqs changes nothing.
    store
        .ack(CLIENT, T, &[s[1], s[4] + 1_000], 2_000)
        .await
        .unwrap();
    assert_eq!(state(&store), (s[4], vec![]));
}

#[tokio::test]
async fn cursor_passes_own_and_expired_messages() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let a = store
        .append(msg("other", PUBLISHER, 60))
        .await
        .unwrap()
        .message
        .seq;
    let own = store
        .append(msg("own", CLIENT, 60))
        .await
        .unwrap()
        .message
        .seq;
    let short = store
        .append(msg("short", PUBLISHER, 1))
        .await
        .unwrap()
        .message
        .seq;
    let live = store
        .append(msg("live", PUBLISHER, 60))
        .await
        .unwrap()
        .message
        .seq;
    assert!(a < own && own < short && short < live);
    // At t=5s "short" has expired: acking `a` passes own and expired.
    store.ack(CLIENT, T, &[a], 5_000).await.unwrap();
    assert_eq!(state(&store), (short, vec![]));
    let page = store.pending(CLIENT, T, 0, 10, 5_000).await.unwrap();
    assert_eq!(
        page.messages.iter().map(|m| m.seq).collect::<Vec<_>>(),
        vec![live]
    );
}

#[tokio::test]
async fn orphan_acks_of_swept_messages_are_dropped_when_passed() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let first = store
        .append(msg("first", PUBLISHER, 60))
        .await
        .unwrap()
        .message
        .seq;
    let doomed = store
        .append(msg("doomed", PUBLISHER, 2))
        .await
        .unwrap()
        .message
        .seq;
    let last = store
        .append(msg("last", PUBLISHER, 60))
        .await
        .unwrap()
        .message
        .seq;
    store.ack(CLIENT, T, &[doomed], 1_500).await.unwrap();
    assert_eq!(state(&store), (0, vec![doomed]));
    assert_eq!(store.sweep_expired(10_000, 100).await.unwrap(), 1);
    assert_eq!(
        state(&store),
        (0, vec![doomed]),
        "sweep leaves delivery state alone"
    );
    store.ack(CLIENT, T, &[last], 10_000).await.unwrap();
    assert_eq!(state(&store), (0, vec![doomed, last]));
    store.ack(CLIENT, T, &[first], 10_000).await.unwrap();
    assert_eq!(state(&store), (last, vec![]));
}

#[tokio::test]
async fn unsubscribe_removes_cursor_and_ack_keys() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let s = append_n(&store, 3).await;
    assert!(store.subscribe(CLIENT, T).await.unwrap());
    store.ack(CLIENT, T, &[s[0], s[2]], 2_000).await.unwrap();
    assert_eq!(state(&store), (s[0], vec![s[2]]));
    assert!(store.unsubscribe(CLIENT, T).await.unwrap());
    assert_eq!(state(&store), (0, vec![]));
    assert_eq!(store.subscribers(T).unwrap().len(), 0);
}

#[tokio::test]
async fn corrupt_records_are_skipped_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let s = append_n(&store, 3).await;
    store
        .tree
        .insert(keys::message(&T, s[1]), &b"\x01garbage"[..])
        .unwrap();
    let page = store.pending(CLIENT, T, 0, 10, 2_000).await.unwrap();
    assert_eq!(
        page.messages.iter().map(|m| m.seq).collect::<Vec<_>>(),
        vec![s[0], s[2]]
    );
    // Fetch with limit 1 must not promise the corrupt one via has_more.
    let f1 = store.fetch(CLIENT, T, 1, 2_000).await.unwrap();
    assert!(f1.has_more);
    let f2 = store.fetch(CLIENT, T, 1, 2_000).await.unwrap();
    assert_eq!(f2.messages[0].seq, s[2]);
    assert!(!f2.has_more);
    // The cursor walks past the undecodable record.
    assert_eq!(state(&store), (s[2], vec![]));
    // A corrupt cursor restarts from 0 instead of failing.
    let ch = keys::client_hash(CLIENT);
    store
        .tree
        .insert(keys::cursor(&ch, &T), &b"xx"[..])
        .unwrap();
    assert_eq!(
        store
            .pending(CLIENT, T, 0, 10, 2_000)
            .await
            .unwrap()
            .messages
            .len(),
        2
    );
}

#[tokio::test]
async fn corrupt_topic_meta_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let s = append_n(&store, 3).await;
    store.meta.clear();
    store
        .tree
        .insert(keys::topic_meta(&T), &b"bad"[..])
        .unwrap();
    let next = store.append(msg("again", PUBLISHER, 60)).await.unwrap();
    assert_eq!(next.prev_seq, s[2]);
    let page = store.pending(CLIENT, T, 0, 10, 2_000).await.unwrap();
    assert_eq!(page.messages.len(), 4);
    assert_eq!(page.last_seq, next.message.seq);
}
