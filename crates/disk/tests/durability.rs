//! Persistence across reopen, group commit, and close.

mod common;

use common::*;
use relaybox_disk::{DiskConfig, DiskStore};
use relaybox_store::{Error, MailboxStore};

#[tokio::test]
async fn state_survives_close_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let t = topic(1);
    let (before, max_seq) = {
        let store = open(dir.path());
        let mut s = Vec::new();
        for i in 0..5 {
            s.push(
                store
                    .append(msg(t, &format!("m{i}"), BOB, 600, 0))
                    .await
                    .unwrap()
                    .message
                    .seq,
            );
        }
        store.subscribe(ALICE, t, 10_000).await.unwrap();
        store.subscribe(ALICE, topic(2), 10_000).await.unwrap();
        store.ack(ALICE, t, &[s[0], s[1], s[3]], 0).await.unwrap();
        store.sync().await.unwrap();
        let page = store.pending(ALICE, t, 0, 100, 0).await.unwrap();
        assert_eq!(seqs(&page), vec![s[2], s[4]]);
        store.close().await.unwrap();
        (store.stats(), s[4])
    };

    let store = open(dir.path());
    assert_eq!(store.stats(), before);
    assert_eq!(store.subscriptions(ALICE).await.unwrap(), vec![t, topic(2)]);
    let page = store.pending(ALICE, t, 0, 100, 0).await.unwrap();
    assert_eq!(page.messages.len(), 2);
    assert_eq!(page.last_seq, max_seq);
    assert_eq!(&*page.messages[0].message, "m2");
    // Dedup survives too, and new seqs continue above the old ones.
    assert!(
        store
            .append(msg(t, "m0", BOB, 600, 0))
            .await
            .unwrap()
            .duplicate
    );
    let next = store.append(msg(t, "m5", BOB, 600, 0)).await.unwrap();
    assert!(next.message.seq > max_seq);
    assert_eq!(next.prev_seq, max_seq);
    store.close().await.unwrap();
}

#[tokio::test]
async fn seqs_keep_increasing_over_many_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let mut last = 0;
    for round in 0..4 {
        let store = open(dir.path());
        for i in 0..3 {
            let body = format!("r{round}-{i}");
            let seq = store
                .append(msg(topic(1), &body, BOB, 60, 0))
                .await
                .unwrap()
                .message
                .seq;
            assert!(seq > last, "seq {seq} after {last} in round {round}");
            last = seq;
        }
        store.close().await.unwrap();
    }
}

#[tokio::test]
async fn closed_store_refuses_work() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.append(msg(topic(1), "x", BOB, 60, 0)).await.unwrap();
    store.close().await.unwrap();
    store.close().await.unwrap();
    assert!(matches!(store.sync().await, Err(Error::Closed)));
    assert!(matches!(
        store.append(msg(topic(1), "y", BOB, 60, 0)).await,
        Err(Error::Closed)
    ));
    assert!(matches!(
        store.subscribe(ALICE, topic(1), 10_000).await,
        Err(Error::Closed)
    ));
    assert!(matches!(
        store.pending(ALICE, topic(1), 0, 1, 0).await,
        Err(Error::Closed)
    ));
}

/// 200 tasks each append and then wait for durability. All must succeed,
/// and group commit should serve them with far fewer flushes.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_syncs_share_flushes() {
    let dir = tempfile::tempdir().unwrap();
    let store = DiskStore::open(DiskConfig::new(dir.path())).unwrap();
    const TASKS: usize = 200;
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(TASKS));
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let (store, barrier) = (store.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let t = topic((i % 50) as u8);
                store
                    .append(msg(t, &format!("m{i}"), BOB, 60, 0))
                    .await
                    .unwrap();
                store.sync().await.unwrap();
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let stats = store.commit_stats();
    assert_eq!(stats.syncs, TASKS as u64);
    assert!(stats.commits >= 1);
    println!(
        "group commit: {} syncs served by {} flushes ({:.1} syncs per flush)",
        stats.syncs,
        stats.commits,
        stats.syncs as f64 / stats.commits as f64
    );
    store.close().await.unwrap();
    drop(store);
    // Everything synced is there after reopening.
    let store = open(dir.path());
    assert_eq!(store.stats().messages, TASKS as u64);
}
