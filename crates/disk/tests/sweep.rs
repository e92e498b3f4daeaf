//! Expiry sweeping.

mod common;

use common::*;
use relaybox_store::MailboxStore;

#[tokio::test]
async fn sweep_deletes_only_expired_and_keeps_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let (t1, t2) = (topic(1), topic(2));
    let mut keep = Vec::new();
    for i in 0..10u32 {
        // Alternate short (10 s) and long (1 h) TTLs across two topics.
        let ttl = if i % 2 == 0 { 10 } else { 3_600 };
        let t = if i % 3 == 0 { t2 } else { t1 };
        let a = store
            .append(msg(t, &format!("m{i}"), BOB, ttl, 0))
            .await
            .unwrap();
        if ttl > 10 && t == t1 {
            keep.push(a.message.seq);
        }
    }
    assert_eq!(store.sweep_expired(9_999, 100).await.unwrap(), 0);
    assert_eq!(store.sweep_expired(10_000, 100).await.unwrap(), 5);
    assert_eq!(store.sweep_expired(10_000, 100).await.unwrap(), 0);
    assert_eq!(store.stats().messages, 5);
    // Even a reader that pretends time stood still no longer sees them.
    let page = store.pending(ALICE, t1, 0, 100, 0).await.unwrap();
    assert_eq!(seqs(&page), keep);
    let last = store.append(msg(t1, "new", BOB, 60, 10_000)).await.unwrap();
    let page = store.pending(ALICE, t1, 0, 100, 10_000).await.unwrap();
    assert_eq!(*seqs(&page).last().unwrap(), last.message.seq);
}

#[tokio::test]
async fn sweep_respects_max_and_empties_topics() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let t = topic(4);
    for i in 0..10 {
        store
            .append(msg(t, &format!("m{i}"), BOB, 1, 0))
            .await
            .unwrap();
    }
    assert_eq!(store.stats().topics, 1);
    assert_eq!(store.sweep_expired(5_000, 3).await.unwrap(), 3);
    assert_eq!(store.sweep_expired(5_000, 0).await.unwrap(), 0);
    assert_eq!(store.stats().messages, 7);
    assert_eq!(store.sweep_expired(5_000, 100).await.unwrap(), 7);
    let s = store.stats();
    assert_eq!((s.messages, s.topics), (0, 0));
    // An emptied topic forgets its last seq; the same bodies are new again.
    let page = store.pending(ALICE, t, 0, 10, 5_000).await.unwrap();
    assert_eq!(page.last_seq, 0);
    let again = store.append(msg(t, "m0", BOB, 60, 5_000)).await.unwrap();
    assert!(!again.duplicate);
    assert_eq!(again.prev_seq, 0);
}

/// An operator's deletion of a topic's messages holds across a restart
/// (the records are still in the log: a purge marker drops them again), and
/// the marker goes once everything it covers has expired.
#[tokio::test]
async fn deleted_topic_messages_stay_deleted_after_a_restart() {
    use relaybox_store::Inspect;
    let dir = tempfile::tempdir().unwrap();
    let t = topic(7);
    let kept;
    {
        let store = open(dir.path());
        for i in 0..3 {
            store
                .append(msg(t, &format!("m{i}"), BOB, 60, 0))
                .await
                .unwrap();
        }
        assert_eq!(store.delete_topic_messages(t).await.unwrap(), 3);
        kept = store.append(msg(t, "after", BOB, 600, 0)).await.unwrap();
        store.sync().await.unwrap();
        store.close().await.unwrap();
    }
    let store = open(dir.path());
    let page = store.pending(ALICE, t, 0, 10, 1_000).await.unwrap();
    assert_eq!(seqs(&page), vec![kept.message.seq]);
    assert_eq!(store.stats().messages, 1);
    // Past the deleted messages' expiry the sweeper drops the marker; the
    // message published after the deletion stays.
    store.sweep_expired(60_001, 100).await.unwrap();
    store.sync().await.unwrap();
    store.close().await.unwrap();
    drop(store);
    let store = open(dir.path());
    let page = store.pending(ALICE, t, 0, 10, 60_001).await.unwrap();
    assert_eq!(seqs(&page), vec![kept.message.seq]);
}
