//! The cases: plain public async functions over `Arc<dyn MailboxStore>`. Times
//! are the caller's clock (small fake values), as the trait allows.

use crate::{Error, NewMessage, PendingPage, TopicKey};
use rand::RngCore;

pub use super::inspect_cases::*;
use super::Store;

pub(super) fn topic() -> TopicKey {
    let mut t = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut t);
    TopicKey(t)
}

/// Three fresh client ids.
pub(super) fn clients() -> (String, String, String) {
    let n = rand::random::<u64>();
    (
        format!("did:key:z6MkAlice{n}"),
        format!("did:key:z6MkBob{n}"),
        format!("did:key:z6MkCarol{n}"),
    )
}

fn msg(topic: TopicKey, body: &str, publisher: &str, ttl_secs: u32, now_ms: u64) -> NewMessage {
    NewMessage {
        topic,
        message: body.into(),
        tag: 1108,
        ttl_secs,
        prompt: false,
        attestation: None,
        publisher: publisher.into(),
        published_at_ms: now_ms,
    }
}

fn seqs(page: &PendingPage) -> Vec<u64> {
    page.messages.iter().map(|m| m.seq).collect()
}

pub(super) async fn put(
    s: &Store,
    t: TopicKey,
    body: &str,
    publisher: &str,
    ttl: u32,
    now: u64,
) -> u64 {
    s.append(msg(t, body, publisher, ttl, now))
        .await
        .unwrap()
        .message
        .seq
}

pub async fn seqs_increase_and_prev_seq_chains(s: Store) {
    let (a, b) = (topic(), topic());
    let (alice, ..) = clients();
    let a1 = s.append(msg(a, "1", &alice, 60, 0)).await.unwrap();
    let b1 = s.append(msg(b, "1", &alice, 60, 0)).await.unwrap();
    let a2 = s.append(msg(a, "2", &alice, 60, 0)).await.unwrap();
    assert!(a1.message.seq >= 1 && a1.message.seq < a2.message.seq);
    assert_eq!(
        (a1.prev_seq, b1.prev_seq, a2.prev_seq),
        (0, 0, a1.message.seq)
    );
    assert!(!a1.duplicate && !b1.duplicate && !a2.duplicate);
    assert!(a2.message.seq < 1 << 53, "seqs stay exact in JSON and Lua");
}

pub async fn fields_round_trip(s: Store) {
    let t = topic();
    let (alice, bob, _) = clients();
    let mut m = msg(t, "body", &alice, 300, 1_234);
    m.tag = 1100;
    m.prompt = true;
    m.attestation = Some("att.jwt".into());
    let appended = s.append(m).await.unwrap();
    let page = s.pending(&bob, t, 0, 10, 1_234).await.unwrap();
    let got = &page.messages[0];
    assert_eq!(**got, *appended.message);
    assert_eq!((got.tag, got.prompt), (1100, true));
    assert_eq!(got.attestation.as_deref(), Some("att.jwt"));
    assert_eq!((got.published_at_ms, got.expires_at_ms), (1_234, 301_234));
    assert_eq!(&*got.publisher, alice);
}

pub async fn duplicate_of_live_message_returns_existing(s: Store) {
    let t = topic();
    let (alice, bob, carol) = clients();
    let first = s.append(msg(t, "same", &alice, 60, 0)).await.unwrap();
    let other = s.append(msg(t, "other", &alice, 60, 0)).await.unwrap();
    let dup = s.append(msg(t, "same", &bob, 60, 10)).await.unwrap();
    assert!(dup.duplicate);
    assert_eq!(dup.message.seq, first.message.seq);
    assert_eq!(&*dup.message.publisher, alice);
    assert_eq!(dup.prev_seq, other.message.seq);
    let elsewhere = s.append(msg(topic(), "same", &bob, 60, 10)).await.unwrap();
    assert!(!elsewhere.duplicate);
    let page = s.pending(&carol, t, 0, 10, 10).await.unwrap();
    assert_eq!(seqs(&page), vec![first.message.seq, other.message.seq]);
}

pub async fn duplicate_of_expired_message_is_stored_again(s: Store) {
    let t = topic();
    let (alice, bob, _) = clients();
    let old = s.append(msg(t, "ping", &alice, 30, 0)).await.unwrap();
    let new = s.append(msg(t, "ping", &alice, 30, 30_000)).await.unwrap();
    assert!(!new.duplicate);
    assert!(new.message.seq > old.message.seq);
    assert_eq!(new.prev_seq, old.message.seq);
    let page = s.pending(&bob, t, 0, 10, 30_000).await.unwrap();
    assert_eq!(seqs(&page), vec![new.message.seq]);
}

/// Run with a limit of 3 live messages per topic.
pub async fn limit_rejects_then_frees_after_expiry(s: Store) {
    let t = topic();
    let (alice, bob, _) = clients();
    put(&s, t, "short", &alice, 10, 0).await;
    put(&s, t, "a", &alice, 60, 0).await;
    put(&s, t, "b", &alice, 60, 0).await;
    let full = s.append(msg(t, "c", &alice, 60, 1_000)).await;
    assert!(matches!(full, Err(Error::MailboxFull)), "{full:?}");
    // A duplicate of a stored message is not a new message.
    assert!(
        s.append(msg(t, "a", &bob, 60, 1_000))
            .await
            .unwrap()
            .duplicate
    );
    // Once "short" has expired there is room again.
    let d = s.append(msg(t, "c", &alice, 60, 10_000)).await.unwrap();
    assert!(!d.duplicate);
    let full = s.append(msg(t, "d", &alice, 60, 10_000)).await;
    assert!(matches!(full, Err(Error::MailboxFull)), "{full:?}");
    // Other topics are not affected.
    put(&s, topic(), "x", &alice, 60, 0).await;
}

pub async fn concurrent_appends_stay_ordered(s: Store) {
    let t = topic();
    let (alice, bob, _) = clients();
    let mut tasks = Vec::new();
    for task in 0..4 {
        let (s, alice) = (s.clone(), alice.clone());
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for i in 0..25 {
                let a = s
                    .append(msg(t, &format!("t{task}-{i}"), &alice, 60, 0))
                    .await
                    .unwrap();
                out.push((a.message.seq, a.prev_seq));
            }
            out
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all.sort_unstable();
    let mut prev = 0;
    for &(seq, prev_seq) in &all {
        assert_eq!(prev_seq, prev, "prev_seq chain broken at {seq}");
        prev = seq;
    }
    let page = s.pending(&bob, t, 0, 1000, 0).await.unwrap();
    let expected: Vec<u64> = all.iter().map(|(seq, _)| *seq).collect();
    assert_eq!(seqs(&page), expected);
    assert_eq!(page.last_seq, prev);
}

pub async fn pending_excludes_own_acked_and_expired(s: Store) {
    let t = topic();
    let (alice, bob, carol) = clients();
    let from_bob = put(&s, t, "hi", &bob, 60, 0).await;
    let own = put(&s, t, "mine", &alice, 60, 0).await;
    let short = put(&s, t, "ping", &bob, 30, 0).await;
    let acked = put(&s, t, "acked", &bob, 60, 0).await;
    let live = put(&s, t, "live", &carol, 60, 0).await;
    s.ack(&alice, t, &[acked], 1_000).await.unwrap();
    let page = s.pending(&alice, t, 0, 100, 1_000).await.unwrap();
    assert_eq!(seqs(&page), vec![from_bob, short, live]);
    assert_eq!(page.last_seq, live);
    assert!(!page.has_more);
    let page = s.pending(&alice, t, 0, 100, 30_000).await.unwrap();
    assert_eq!(
        seqs(&page),
        vec![from_bob, live],
        "expires_at == now is expired"
    );
    let page = s.pending(&bob, t, 0, 100, 1_000).await.unwrap();
    assert_eq!(seqs(&page), vec![own, live]);
    let page = s.pending(&carol, t, 0, 100, 1_000).await.unwrap();
    assert_eq!(seqs(&page), vec![from_bob, own, short, acked]);
    assert_eq!(page.last_seq, live, "last_seq counts own messages");
}

pub async fn pending_pages_without_changing_state(s: Store) {
    let t = topic();
    let (alice, bob, _) = clients();
    let mut all = Vec::new();
    for i in 0..5 {
        all.push(put(&s, t, &format!("m{i}"), &bob, 60, 0).await);
    }
    let page = s.pending(&alice, t, 0, 2, 0).await.unwrap();
    assert_eq!(seqs(&page), all[..2]);
    assert!(page.has_more);
    let page = s.pending(&alice, t, all[1], 2, 0).await.unwrap();
    assert_eq!(seqs(&page), all[2..4]);
    let page = s.pending(&alice, t, all[3], 2, 0).await.unwrap();
    assert_eq!(seqs(&page), all[4..]);
    assert!(!page.has_more);
    let page = s.pending(&alice, t, 0, 0, 0).await.unwrap();
    assert!(page.messages.is_empty() && page.has_more);
    assert_eq!(seqs(&s.pending(&alice, t, 0, 10, 0).await.unwrap()), all);
    let empty = s.pending(&alice, topic(), 0, 10, 0).await.unwrap();
    assert!(empty.messages.is_empty() && !empty.has_more && empty.last_seq == 0);
}

pub async fn out_of_order_acks_leave_only_the_gaps(s: Store) {
    let t = topic();
    let (alice, bob, _) = clients();
    let mut q = Vec::new();
    for i in 0..6 {
        q.push(put(&s, t, &format!("m{i}"), &bob, 60, 0).await);
    }
    let pending =
        |s: Store, a: String| async move { seqs(&s.pending(&a, t, 0, 10, 0).await.unwrap()) };
    s.ack(&alice, t, &[q[5], q[1], q[3]], 0).await.unwrap();
    assert_eq!(
        pending(s.clone(), alice.clone()).await,
        vec![q[0], q[2], q[4]]
    );
    s.ack(&alice, t, &[q[0]], 0).await.unwrap();
    assert_eq!(pending(s.clone(), alice.clone()).await, vec![q[2], q[4]]);
    s.ack(&alice, t, &[q[4], q[2], 12_345], 0).await.unwrap();
    assert!(pending(s.clone(), alice.clone()).await.is_empty());
    let late = put(&s, t, "late", &bob, 60, 0).await;
    assert_eq!(pending(s.clone(), alice.clone()).await, vec![late]);
}

pub async fn fetch_consumes_and_pages_until_empty(s: Store) {
    let t = topic();
    let (alice, bob, carol) = clients();
    let mut all = Vec::new();
    for i in 0..25 {
        all.push(put(&s, t, &format!("m{i}"), &bob, 60, 0).await);
    }
    let (mut got, mut rounds) = (Vec::new(), 0);
    loop {
        let page = s.fetch(&alice, t, 10, 0).await.unwrap();
        rounds += 1;
        got.extend(seqs(&page));
        if !page.has_more {
            break;
        }
        assert!(rounds < 10, "fetch never ends");
    }
    assert_eq!((rounds, got), (3, all));
    let again = s.fetch(&alice, t, 10, 0).await.unwrap();
    assert!(again.messages.is_empty() && !again.has_more);
    assert!(s
        .pending(&alice, t, 0, 10, 0)
        .await
        .unwrap()
        .messages
        .is_empty());
    let carol_sees = s.pending(&carol, t, 0, 100, 0).await.unwrap();
    assert_eq!(carol_sees.messages.len(), 25);
}

pub async fn store_before_subscribe(s: Store) {
    let t = topic();
    let (alice, bob, _) = clients();
    let proposal = put(&s, t, "proposal", &alice, 300, 0).await;
    assert!(s.subscribe(&bob, t, 10_000).await.unwrap());
    s.sync().await.unwrap();
    let page = s.pending(&bob, t, 0, 10, 1_000).await.unwrap();
    assert_eq!(seqs(&page), vec![proposal]);
}

pub async fn subscriptions_are_listed_counted_and_idempotent(s: Store) {
    let (t1, t2) = (topic(), topic());
    let (alice, bob, carol) = clients();
    assert!(s.subscribe(&alice, t2, 10_000).await.unwrap());
    assert!(s.subscribe(&alice, t1, 10_000).await.unwrap());
    assert!(!s.subscribe(&alice, t1, 10_000).await.unwrap());
    assert!(s.subscribe(&bob, t1, 10_000).await.unwrap());
    let mut expected = vec![t1, t2];
    expected.sort();
    assert_eq!(s.subscriptions(&alice).await.unwrap(), expected);
    assert_eq!(s.subscription_count(&alice).await.unwrap(), 2);
    assert_eq!(s.subscription_count(&carol).await.unwrap(), 0);
}

pub async fn unsubscribe_drops_subscription_and_delivery_state(s: Store) {
    let (t, t2) = (topic(), topic());
    let (alice, bob, _) = clients();
    s.subscribe(&alice, t, 10_000).await.unwrap();
    s.subscribe(&alice, t2, 10_000).await.unwrap();
    for i in 0..3 {
        put(&s, t, &format!("m{i}"), &bob, 60, 0).await;
    }
    assert_eq!(s.fetch(&alice, t, 10, 0).await.unwrap().messages.len(), 3);
    assert!(s.unsubscribe(&alice, t).await.unwrap());
    assert!(!s.unsubscribe(&alice, t).await.unwrap());
    assert_eq!(s.subscriptions(&alice).await.unwrap(), vec![t2]);
    s.subscribe(&alice, t, 10_000).await.unwrap();
    let page = s.pending(&alice, t, 0, 10, 0).await.unwrap();
    assert_eq!(page.messages.len(), 3, "a resubscribe starts from scratch");
}

/// The per-client subscription limit holds however many subscribes of one
/// client race (as from several sockets), and frees up on unsubscribe.
pub async fn subscription_limit_is_per_client_and_atomic(s: Store) {
    let (alice, bob, _) = clients();
    let topics: Vec<TopicKey> = (0..20).map(|_| topic()).collect();
    let tasks: Vec<_> = topics
        .iter()
        .map(|&t| {
            let (s, alice) = (s.clone(), alice.clone());
            tokio::spawn(async move { s.subscribe(&alice, t, 5).await })
        })
        .collect();
    let mut added = 0;
    let mut refused = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(true) => added += 1,
            Err(Error::SubscriptionLimit) => refused += 1,
            other => panic!("unexpected subscribe outcome {other:?}"),
        }
    }
    assert_eq!((added, refused), (5, 15));
    assert_eq!(s.subscription_count(&alice).await.unwrap(), 5);
    // Another client has its own count.
    assert!(s.subscribe(&bob, topics[0], 5).await.unwrap());
    // At the limit, a topic already followed is still fine.
    let followed = s.subscriptions(&alice).await.unwrap();
    assert!(!s.subscribe(&alice, followed[0], 5).await.unwrap());
    assert!(s.unsubscribe(&alice, followed[0]).await.unwrap());
    let fresh = topic();
    assert!(s.subscribe(&alice, fresh, 5).await.unwrap());
    assert!(matches!(
        s.subscribe(&alice, topic(), 5).await,
        Err(Error::SubscriptionLimit)
    ));
}

/// A batch subscribe stops at the limit with the topics before it kept,
/// and a batch unsubscribe frees them all.
pub async fn batch_subscribe_stops_at_the_limit(s: Store) {
    let (alice, _, _) = clients();
    let first = topic();
    assert!(s.subscribe(&alice, first, 4).await.unwrap());
    let batch: Vec<TopicKey> = (0..5).map(|_| topic()).collect();
    let mut with_known = vec![first];
    with_known.extend(&batch);
    let added = s.subscribe_many(&alice, &with_known, 4).await.unwrap();
    assert_eq!(
        added,
        vec![false, true, true, true],
        "stops at the 5th topic"
    );
    assert_eq!(s.subscription_count(&alice).await.unwrap(), 4);
    s.unsubscribe_many(&alice, &with_known).await.unwrap();
    assert_eq!(s.subscription_count(&alice).await.unwrap(), 0);
    assert!(s.subscriptions(&alice).await.unwrap().is_empty());
    assert_eq!(s.subscribe_many(&alice, &batch, 4).await.unwrap().len(), 4);
}

/// A page holds at most about 1 MiB of messages (the backends' default),
/// whatever the count limit, and paging on from it loses nothing.
pub async fn pages_are_bounded_in_bytes(s: Store) {
    let t = topic();
    let (alice, bob, _) = clients();
    let mut sent = Vec::new();
    for i in 0..5 {
        let body = format!("{i}{}", "x".repeat(400 * 1024));
        sent.push(put(&s, t, &body, &alice, 600, 1_000).await);
    }
    let mut seen = Vec::new();
    let mut after = 0;
    loop {
        let page = s.pending(&bob, t, after, 100, 1_000).await.unwrap();
        assert!(!page.messages.is_empty() || !page.has_more);
        assert!(
            page.messages.len() <= 3,
            "{} messages of 400 KiB",
            page.messages.len()
        );
        seen.extend(seqs(&page));
        match page.messages.last() {
            Some(m) if page.has_more => after = m.seq,
            _ => break,
        }
    }
    assert_eq!(seen, sent);
    // Fetch consumes page by page, never more than the bound at once.
    let first = s.fetch(&bob, t, 100, 1_000).await.unwrap();
    assert!(first.has_more && first.messages.len() <= 3);
    let mut fetched = seqs(&first);
    loop {
        let page = s.fetch(&bob, t, 100, 1_000).await.unwrap();
        fetched.extend(seqs(&page));
        if !page.has_more {
            break;
        }
    }
    assert_eq!(fetched, sent);
}
