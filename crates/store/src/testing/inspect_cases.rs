//! Contract cases of [`Inspect`](crate::Inspect): the operator's look at a
//! topic, deleting its messages, and the export walks.

use std::collections::BTreeSet;

use crate::{Error, Subscription};

use super::cases::{clients, put, topic};
use super::Store;

pub async fn a_topic_is_summed_up_with_its_subscribers_and_cursors(s: Store) {
    let t = topic();
    let (alice, bob, carol) = clients();
    s.subscribe(&alice, t, 10_000).await.unwrap();
    s.subscribe(&bob, t, 10_000).await.unwrap();
    let first = put(&s, t, "first", &carol, 60, 1_000).await;
    put(&s, t, "gone", &carol, 1, 2_000).await;
    let last = put(&s, t, "third!", &carol, 120, 3_000).await;
    s.sync().await.unwrap();

    let sum = s.topic_summary(t, 5_000).await.unwrap();
    assert_eq!(sum.messages, 2, "the expired message is not counted");
    assert_eq!(sum.bytes, ("first".len() + "third!".len()) as u64);
    assert_eq!(sum.oldest_published_ms, Some(1_000));
    assert_eq!(sum.newest_published_ms, Some(3_000));
    assert_eq!(sum.first_expiry_ms, Some(61_000));
    assert_eq!(sum.last_expiry_ms, Some(123_000));
    assert_eq!(sum.newest_seq, last);
    assert_eq!(s.topic_summary(topic(), 0).await.unwrap().messages, 0);

    match s.topic_subscribers(t, 10).await {
        Ok(subs) => {
            let got: BTreeSet<String> = subs.into_iter().collect();
            assert_eq!(got, BTreeSet::from([alice.clone(), bob.clone()]));
            assert_eq!(s.topic_subscribers(t, 1).await.unwrap().len(), 1);
        }
        Err(Error::Unsupported(_)) => {}
        Err(e) => panic!("topic_subscribers: {e}"),
    }

    assert_eq!(s.cursor(&alice, t).await.unwrap(), 0);
    s.ack(&alice, t, &[first], 5_000).await.unwrap();
    s.sync().await.unwrap();
    // A backend may buffer acks; the cursor it reports is never ahead.
    let cursor = s.cursor(&alice, t).await.unwrap();
    assert!(cursor == 0 || cursor >= first, "cursor {cursor}");
}

pub async fn deleting_a_topics_messages_removes_them_for_everyone(s: Store) {
    let (t, other) = (topic(), topic());
    let (alice, bob, carol) = clients();
    s.subscribe(&alice, t, 10_000).await.unwrap();
    s.subscribe(&bob, t, 10_000).await.unwrap();
    put(&s, t, "a", &carol, 60, 0).await;
    put(&s, t, "b", &carol, 60, 0).await;
    put(&s, other, "kept", &carol, 60, 0).await;
    assert_eq!(s.delete_topic_messages(t).await.unwrap(), 2);
    s.sync().await.unwrap();
    for who in [&alice, &bob] {
        assert!(s
            .pending(who, t, 0, 10, 0)
            .await
            .unwrap()
            .messages
            .is_empty());
    }
    assert_eq!(s.topic_summary(t, 0).await.unwrap().messages, 0);
    assert_eq!(s.topic_summary(other, 0).await.unwrap().messages, 1);
    assert_eq!(s.delete_topic_messages(t).await.unwrap(), 0);
    // The topic takes publishes again; a body seen before is new again.
    let again = put(&s, t, "a", &carol, 60, 0).await;
    let page = s.pending(&alice, t, 0, 10, 0).await.unwrap();
    assert_eq!(
        page.messages.iter().map(|m| m.seq).collect::<Vec<_>>(),
        vec![again]
    );
    assert_eq!(
        s.subscriptions(&alice).await.unwrap(),
        vec![t],
        "subscriptions stay"
    );
}

pub async fn walks_visit_every_topic_message_and_subscription(s: Store) {
    let (t1, t2) = (topic(), topic());
    let (alice, bob, _) = clients();
    let mut seqs = Vec::new();
    for i in 0..5 {
        seqs.push(put(&s, t1, &format!("m{i}"), &bob, 60, 0).await);
    }
    put(&s, t2, "x", &bob, 60, 0).await;
    s.subscribe(&alice, t1, 10_000).await.unwrap();
    s.subscribe(&alice, t2, 10_000).await.unwrap();
    s.subscribe(&bob, t1, 10_000).await.unwrap();
    s.sync().await.unwrap();

    // Messages: in seq order, page by page.
    let (mut got, mut after) = (Vec::new(), 0);
    loop {
        let page = s.messages_after(t1, after, 2, 0).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.seq;
        got.extend(page.iter().map(|m| m.seq));
    }
    assert_eq!(got, seqs);
    assert_eq!(s.messages_after(t1, 0, 10, 61_000).await.unwrap().len(), 0);

    // Topics and subscriptions: every one of ours, however small the pages.
    let mut topics = BTreeSet::new();
    let mut cursor = None;
    loop {
        let page = match s.topics_page(cursor, 1).await {
            Err(Error::Unsupported(_)) => return,
            other => other.unwrap(),
        };
        topics.extend(page.items);
        match page.next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    assert!(topics.contains(&t1) && topics.contains(&t2), "{topics:?}");
    let mut subs = BTreeSet::new();
    let mut cursor = None;
    loop {
        let page = s.subscriptions_page(cursor, 1).await.unwrap();
        subs.extend(page.items);
        match page.next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    let sub = |client: &str, topic| Subscription {
        client: client.to_owned(),
        topic,
    };
    for want in [sub(&alice, t1), sub(&alice, t2), sub(&bob, t1)] {
        assert!(subs.contains(&want), "{want:?} not walked");
    }
}

pub async fn usage_counts_live_messages_by_expiry(s: Store) {
    let t = topic();
    let (_, bob, _) = clients();
    let now = 1_000_000;
    put(&s, t, "soon", &bob, 600, now).await;
    put(&s, t, "in days", &bob, 3 * 86_400, now).await;
    put(&s, t, "gone", &bob, 10, now - 20_000).await;
    s.sync().await.unwrap();
    let usage = s.usage(now).await.unwrap();
    // A Redis Cluster cannot tell (one node's INFO is not the cluster's).
    let Some(e) = usage.expiring else { return };
    // Other cases' messages may share the store: at least ours.
    assert!(e.within_hour >= 1 && e.within_week >= 1, "{e:?}");
    assert!(usage.bytes.is_some_and(|b| b > 0), "{usage:?}");
}
