//! Appending: seqs, dedup, per-topic limit, ordering under concurrency.

mod common;

use std::sync::Arc;

use common::*;
use relaybox_disk::{DiskConfig, DiskError, DiskStore};
use relaybox_store::{Error, MailboxStore};

#[tokio::test]
async fn seqs_increase_and_prev_seq_chains_per_topic() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let (a, b) = (topic(1), topic(2));
    let a1 = store.append(msg(a, "a1", ALICE, 60, 0)).await.unwrap();
    let b1 = store.append(msg(b, "b1", ALICE, 60, 0)).await.unwrap();
    let a2 = store.append(msg(a, "a2", ALICE, 60, 0)).await.unwrap();
    assert!(a1.message.seq >= 1);
    assert!(a1.message.seq < b1.message.seq && b1.message.seq < a2.message.seq);
    assert_eq!(
        (a1.prev_seq, b1.prev_seq, a2.prev_seq),
        (0, 0, a1.message.seq)
    );
    assert!(!a1.duplicate && !b1.duplicate && !a2.duplicate);
    let s = store.stats();
    assert_eq!((s.messages, s.topics), (3, 2));
}

#[tokio::test]
async fn fields_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut m = msg(topic(1), "payload", ALICE, 300, 1_234);
    m.tag = 1100;
    m.prompt = true;
    m.attestation = Some("att.jwt".into());
    let appended = store.append(m).await.unwrap();
    let page = store.pending(BOB, topic(1), 0, 10, 2_000).await.unwrap();
    let got = &page.messages[0];
    assert_eq!(**got, *appended.message);
    assert_eq!(got.tag, 1100);
    assert!(got.prompt);
    assert_eq!(got.attestation.as_deref(), Some("att.jwt"));
    assert_eq!(got.published_at_ms, 1_234);
    assert_eq!(got.expires_at_ms, 1_234 + 300_000);
    assert_eq!(&*got.publisher, ALICE);
}

#[tokio::test]
async fn duplicate_of_live_message_returns_existing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let first = store
        .append(msg(topic(1), "same", ALICE, 60, 0))
        .await
        .unwrap();
    let other = store
        .append(msg(topic(1), "other", ALICE, 60, 0))
        .await
        .unwrap();
    // Same body from someone else, later: still the stored copy.
    let dup = store
        .append(msg(topic(1), "same", BOB, 60, 10))
        .await
        .unwrap();
    assert!(dup.duplicate);
    assert_eq!(dup.message.seq, first.message.seq);
    assert_eq!(&*dup.message.publisher, ALICE);
    assert_eq!(dup.prev_seq, other.message.seq);
    // Dedup is per topic.
    let elsewhere = store
        .append(msg(topic(2), "same", ALICE, 60, 0))
        .await
        .unwrap();
    assert!(!elsewhere.duplicate);
    assert_eq!(store.stats().messages, 3);
    let page = store.pending(CAROL, topic(1), 0, 10, 20).await.unwrap();
    assert_eq!(seqs(&page), vec![first.message.seq, other.message.seq]);
}

#[tokio::test]
async fn duplicate_of_expired_message_is_stored_again() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let old = store
        .append(msg(topic(1), "ping", ALICE, 1, 0))
        .await
        .unwrap();
    let new = store
        .append(msg(topic(1), "ping", ALICE, 30, 1_000))
        .await
        .unwrap();
    assert!(!new.duplicate);
    assert!(new.message.seq > old.message.seq);
    assert_eq!(new.prev_seq, old.message.seq);
    // The expired copy was replaced, not kept alongside.
    assert_eq!(store.stats().messages, 1);
    let page = store.pending(BOB, topic(1), 0, 10, 1_000).await.unwrap();
    assert_eq!(seqs(&page), vec![new.message.seq]);
    assert_eq!(store.sweep_expired(u64::MAX - 1, 10).await.unwrap(), 1);
    assert_eq!(store.stats().messages, 0);
}

#[tokio::test]
async fn limit_rejects_then_frees_after_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_with_limit(dir.path(), 3);
    let t = topic(1);
    store.append(msg(t, "short", ALICE, 1, 0)).await.unwrap();
    store.append(msg(t, "b", ALICE, 60, 0)).await.unwrap();
    store.append(msg(t, "c", ALICE, 60, 0)).await.unwrap();
    assert!(matches!(
        store.append(msg(t, "d", ALICE, 60, 0)).await,
        Err(Error::MailboxFull)
    ));
    // A duplicate is still answered while full: nothing new is stored.
    assert!(
        store
            .append(msg(t, "b", ALICE, 60, 0))
            .await
            .unwrap()
            .duplicate
    );
    // Other topics are unaffected.
    store
        .append(msg(topic(2), "d", ALICE, 60, 0))
        .await
        .unwrap();
    // Once "short" has expired the append purges it instead of failing,
    // without waiting for the sweeper.
    let d = store.append(msg(t, "d", ALICE, 60, 1_500)).await.unwrap();
    assert!(!d.duplicate);
    assert_eq!(store.stats().messages, 4);
    assert!(matches!(
        store.append(msg(t, "e", ALICE, 60, 1_500)).await,
        Err(Error::MailboxFull)
    ));
}

#[test]
fn open_checks_config() {
    let dir = tempfile::tempdir().unwrap();
    for bad in [
        DiskConfig {
            max_messages_per_topic: 0,
            ..DiskConfig::new(dir.path())
        },
        DiskConfig {
            segment_bytes: 10,
            ..DiskConfig::new(dir.path())
        },
        DiskConfig {
            ack_flush_ms: 0,
            ..DiskConfig::new(dir.path())
        },
    ] {
        assert!(matches!(
            DiskStore::open(bad),
            Err(DiskError::InvalidConfig(_))
        ));
    }
}

/// Many tasks append to one topic while a reader polls `pending`. Every
/// page must be exactly the appended seqs up to its `last_seq` (no gaps,
/// nothing newer seen before something older), and the `prev_seq` values
/// must chain through the topic's seqs in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_appends_to_one_topic_stay_ordered() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let t = topic(9);
    const TASKS: usize = 16;
    const PER_TASK: usize = 60;

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (store, stop) = (store.clone(), stop.clone());
        tokio::spawn(async move {
            let mut pages = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let page = store.pending(CAROL, t, 0, usize::MAX, 0).await.unwrap();
                pages.push((page.last_seq, seqs(&page)));
                tokio::task::yield_now().await;
            }
            pages
        })
    };
    let writers: Vec<_> = (0..TASKS)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut out = Vec::new();
                for i in 0..PER_TASK {
                    let body = format!("w{w}-{i}");
                    let a = store.append(msg(t, &body, ALICE, 600, 0)).await.unwrap();
                    out.push((a.message.seq, a.prev_seq));
                }
                out
            })
        })
        .collect();
    let mut appended = Vec::new();
    for w in writers {
        appended.extend(w.await.unwrap());
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let pages = reader.await.unwrap();

    appended.sort_unstable();
    let all: Vec<u64> = appended.iter().map(|&(s, _)| s).collect();
    assert_eq!(all.len(), TASKS * PER_TASK);
    let mut prev = 0;
    for &(seq, prev_seq) in &appended {
        assert_eq!(prev_seq, prev, "prev_seq chain broken at {seq}");
        prev = seq;
    }
    let final_page = store.pending(CAROL, t, 0, usize::MAX, 0).await.unwrap();
    assert_eq!(seqs(&final_page), all);
    for (last_seq, seen) in &pages {
        let expected: Vec<u64> = all.iter().copied().filter(|s| s <= last_seq).collect();
        assert_eq!(
            seen, &expected,
            "page at last_seq {last_seq} is not a prefix"
        );
    }
    println!("reader observed {} pages during the appends", pages.len());
}
