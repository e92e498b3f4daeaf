//! Delivery: pending, ack, fetch, subscriptions.

mod common;

use common::*;
use relaybox_store::MailboxStore;

#[tokio::test]
async fn pending_excludes_own_acked_and_expired() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let t = topic(1);
    let from_bob = store
        .append(msg(t, "hi", BOB, 60, 0))
        .await
        .unwrap()
        .message
        .seq;
    let own = store
        .append(msg(t, "mine", ALICE, 60, 0))
        .await
        .unwrap()
        .message
        .seq;
    let short = store
        .append(msg(t, "ping", BOB, 30, 0))
        .await
        .unwrap()
        .message
        .seq;
    let acked = store
        .append(msg(t, "acked", BOB, 60, 0))
        .await
        .unwrap()
        .message
        .seq;
    let live = store
        .append(msg(t, "live", CAROL, 60, 0))
        .await
        .unwrap()
        .message
        .seq;
    store.ack(ALICE, t, &[acked], 1_000).await.unwrap();

    let page = store.pending(ALICE, t, 0, 100, 1_000).await.unwrap();
    assert_eq!(seqs(&page), vec![from_bob, short, live]);
    assert_eq!(page.last_seq, live);
    assert!(!page.has_more);
    // 30 s later "ping" has expired (expires_at == now counts as expired).
    let page = store.pending(ALICE, t, 0, 100, 30_000).await.unwrap();
    assert_eq!(seqs(&page), vec![from_bob, live]);
    // Bob sees Alice's and Carol's but none of his own.
    let page = store.pending(BOB, t, 0, 100, 1_000).await.unwrap();
    assert_eq!(seqs(&page), vec![own, live]);
    // Carol's state is separate from Alice's ack.
    let page = store.pending(CAROL, t, 0, 100, 1_000).await.unwrap();
    assert_eq!(seqs(&page), vec![from_bob, own, short, acked]);
    // `last_seq` counts own messages too.
    let page = store.pending(CAROL, t, 0, 100, 1_000).await.unwrap();
    assert_eq!(page.last_seq, live);
    assert!(!seqs(&page).contains(&live));
}

#[tokio::test]
async fn pending_pages_with_after_and_limit_without_changing_state() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let t = topic(1);
    let mut all = Vec::new();
    for i in 0..5 {
        all.push(
            store
                .append(msg(t, &format!("m{i}"), BOB, 60, 0))
                .await
                .unwrap()
                .message
                .seq,
        );
    }
    let page = store.pending(ALICE, t, 0, 2, 0).await.unwrap();
    assert_eq!(seqs(&page), all[..2]);
    assert!(page.has_more);
    let page = store.pending(ALICE, t, all[1], 2, 0).await.unwrap();
    assert_eq!(seqs(&page), all[2..4]);
    assert!(page.has_more);
    let page = store.pending(ALICE, t, all[3], 2, 0).await.unwrap();
    assert_eq!(seqs(&page), all[4..]);
    assert!(!page.has_more);
    let page = store.pending(ALICE, t, 0, 0, 0).await.unwrap();
    assert!(page.messages.is_empty() && page.has_more);
    // Nothing was consumed.
    assert_eq!(seqs(&store.pending(ALICE, t, 0, 10, 0).await.unwrap()), all);
    // An unknown topic is simply empty.
    let empty = store.pending(ALICE, topic(7), 0, 10, 0).await.unwrap();
    assert!(empty.messages.is_empty() && !empty.has_more && empty.last_seq == 0);
}

#[tokio::test]
async fn out_of_order_acks_leave_only_the_gaps_pending() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let t = topic(1);
    let mut s = Vec::new();
    for i in 0..6 {
        s.push(
            store
                .append(msg(t, &format!("m{i}"), BOB, 60, 0))
                .await
                .unwrap()
                .message
                .seq,
        );
    }
    store.ack(ALICE, t, &[s[5], s[1], s[3]], 0).await.unwrap();
    assert_eq!(
        seqs(&store.pending(ALICE, t, 0, 10, 0).await.unwrap()),
        vec![s[0], s[2], s[4]]
    );
    store.ack(ALICE, t, &[s[0]], 0).await.unwrap();
    assert_eq!(
        seqs(&store.pending(ALICE, t, 0, 10, 0).await.unwrap()),
        vec![s[2], s[4]]
    );
    store.ack(ALICE, t, &[s[4], s[2]], 0).await.unwrap();
    assert!(store
        .pending(ALICE, t, 0, 10, 0)
        .await
        .unwrap()
        .messages
        .is_empty());
    // New messages after a fully acked prefix are pending.
    let late = store
        .append(msg(t, "late", BOB, 60, 0))
        .await
        .unwrap()
        .message
        .seq;
    assert_eq!(
        seqs(&store.pending(ALICE, t, 0, 10, 0).await.unwrap()),
        vec![late]
    );
}

#[tokio::test]
async fn fetch_consumes_and_pages_until_empty() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let t = topic(1);
    let mut all = Vec::new();
    for i in 0..25 {
        all.push(
            store
                .append(msg(t, &format!("m{i}"), BOB, 60, 0))
                .await
                .unwrap()
                .message
                .seq,
        );
    }
    let mut got = Vec::new();
    let mut rounds = 0;
    loop {
        let page = store.fetch(ALICE, t, 10, 0).await.unwrap();
        rounds += 1;
        got.extend(seqs(&page));
        if !page.has_more {
            break;
        }
        assert!(rounds < 10, "fetch never ends");
    }
    assert_eq!(rounds, 3);
    assert_eq!(got, all);
    let again = store.fetch(ALICE, t, 10, 0).await.unwrap();
    assert!(again.messages.is_empty() && !again.has_more);
    assert!(store
        .pending(ALICE, t, 0, 10, 0)
        .await
        .unwrap()
        .messages
        .is_empty());
    // Bob's and Carol's views are untouched by Alice's fetches.
    assert_eq!(
        store
            .pending(CAROL, t, 0, 100, 0)
            .await
            .unwrap()
            .messages
            .len(),
        25
    );
}

#[tokio::test]
async fn store_before_subscribe_delivers_on_subscribe() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let t = topic(3);
    // The dapp publishes the proposal before the wallet exists.
    let proposal = store
        .append(msg(t, "proposal", ALICE, 300, 0))
        .await
        .unwrap();
    assert!(store.subscribe(BOB, t, 10_000).await.unwrap());
    let page = store.pending(BOB, t, 0, 10, 1_000).await.unwrap();
    assert_eq!(seqs(&page), vec![proposal.message.seq]);
}

#[tokio::test]
async fn subscriptions_are_listed_counted_and_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    assert!(store.subscribe(ALICE, topic(2), 10_000).await.unwrap());
    assert!(store.subscribe(ALICE, topic(1), 10_000).await.unwrap());
    assert!(!store.subscribe(ALICE, topic(1), 10_000).await.unwrap());
    assert!(store.subscribe(BOB, topic(1), 10_000).await.unwrap());
    assert_eq!(
        store.subscriptions(ALICE).await.unwrap(),
        vec![topic(1), topic(2)]
    );
    assert_eq!(store.subscription_count(ALICE).await.unwrap(), 2);
    assert_eq!(store.subscription_count(CAROL).await.unwrap(), 0);
    let mut subs: Vec<String> = store
        .subscribers(topic(1))
        .await
        .unwrap()
        .iter()
        .map(|s| s.to_string())
        .collect();
    subs.sort();
    assert_eq!(subs, vec![ALICE.to_string(), BOB.to_string()]);
    assert_eq!(store.stats().subscriptions, 3);
}

#[tokio::test]
async fn unsubscribe_drops_subscription_and_delivery_state() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let t = topic(1);
    store.subscribe(ALICE, t, 10_000).await.unwrap();
    store.subscribe(ALICE, topic(2), 10_000).await.unwrap();
    for i in 0..3 {
        store
            .append(msg(t, &format!("m{i}"), BOB, 60, 0))
            .await
            .unwrap();
    }
    assert_eq!(
        store.fetch(ALICE, t, 10, 0).await.unwrap().messages.len(),
        3
    );
    assert!(store.unsubscribe(ALICE, t).await.unwrap());
    assert!(!store.unsubscribe(ALICE, t).await.unwrap());
    assert_eq!(store.subscriptions(ALICE).await.unwrap(), vec![topic(2)]);
    assert_eq!(store.stats().subscriptions, 1);
    // Delivery state is gone: a resubscribe starts from scratch.
    store.subscribe(ALICE, t, 10_000).await.unwrap();
    assert_eq!(
        store
            .pending(ALICE, t, 0, 10, 0)
            .await
            .unwrap()
            .messages
            .len(),
        3
    );
}
