//! Publish, subscription streams, acknowledgement modes, fetch and batches.

use relaybox_client::proto::BatchSubscribeParams;
use relaybox_client::{random_topic, AckMode, Error, ErrorKind, Keypair, Params, Receipt, Topic};

use crate::common::{assert_quiet, client, client_as, next, options, within, TestRelay, TTL};

#[tokio::test]
async fn published_messages_arrive_on_the_stream_in_order() {
    let relay = TestRelay::start().await;
    let (alice, bob) = (client(&relay).await, client(&relay).await);
    let topic = random_topic();
    let mut sub = within(bob.subscribe(topic)).await.unwrap();
    assert_eq!(sub.topics(), [topic]);
    assert_eq!(sub.ids()[0].len(), 64);

    for (i, tag) in [(1, 1108), (2, 1109), (3, 0)] {
        within(alice.publish(topic, format!("m{i}"), TTL, tag, i == 1))
            .await
            .unwrap();
    }
    for (i, tag) in [(1, 1108), (2, 1109), (3, 0)] {
        let m = next(&mut sub).await;
        assert_eq!(m.topic, topic);
        assert_eq!(m.message, format!("m{i}"));
        assert_eq!(m.tag, tag);
        assert!(m.published_at > 1_600_000_000_000);
        assert_eq!(m.attestation, None);
        assert!(!m.needs_ack(), "acked on take");
    }
    // Never echoed to the publisher, and nothing more for bob.
    assert_quiet(&mut sub).await;
    relay.stop_owned().await;
}

#[tokio::test]
async fn a_taken_message_is_acked_and_not_redelivered() {
    let relay = TestRelay::start().await;
    let alice = client(&relay).await;
    let bob = client(&relay).await;
    let topic = random_topic();
    let mut sub = within(bob.subscribe(topic)).await.unwrap();
    within(alice.publish(topic, "once", TTL, 0, false))
        .await
        .unwrap();
    assert_eq!(next(&mut sub).await.message, "once");

    within(bob.reconnect()).await.unwrap();
    within(alice.publish(topic, "twice", TTL, 0, false))
        .await
        .unwrap();
    assert_eq!(next(&mut sub).await.message, "twice", "'once' was acked");
    assert_quiet(&mut sub).await;
    relay.stop_owned().await;
}

#[tokio::test]
async fn manual_ack_redelivers_what_was_not_acked() {
    let relay = TestRelay::start().await;
    let alice = client(&relay).await;
    let bob = client_as(
        &relay,
        Keypair::generate(),
        options().with_ack_mode(AckMode::Manual),
    )
    .await;
    let topic = random_topic();
    let mut sub = within(bob.subscribe(topic)).await.unwrap();
    within(alice.publish(topic, "first", TTL, 0, false))
        .await
        .unwrap();
    let first = next(&mut sub).await;
    assert!(first.needs_ack());
    assert_eq!(first.message, "first");

    // Not acked: it comes again on the next socket, and the old copy's ack
    // is refused because its socket is gone.
    within(bob.reconnect()).await.unwrap();
    assert!(matches!(first.ack(), Err(Error::Disconnected)));
    let again = next(&mut sub).await;
    assert_eq!(again.message, "first");
    again.ack().unwrap();

    within(bob.reconnect()).await.unwrap();
    within(alice.publish(topic, "second", TTL, 0, false))
        .await
        .unwrap();
    let second = next(&mut sub).await;
    assert_eq!(second.message, "second", "'first' was acked");
    second.ack().unwrap();
    assert_quiet(&mut sub).await;
    relay.stop_owned().await;
}

#[tokio::test]
async fn fetch_pages_follow_has_more() {
    let relay = TestRelay::start_with(|c| c.limits.fetch_page = 10).await;
    let alice = client(&relay).await;
    let bob = client(&relay).await;
    let (t1, t2) = (random_topic(), random_topic());
    for i in 0..25 {
        within(alice.publish(t1, format!("a{i}"), TTL, 0, false))
            .await
            .unwrap();
    }
    for i in 0..12 {
        within(alice.publish(t2, format!("b{i}"), TTL, 0, false))
            .await
            .unwrap();
    }

    let page = within(bob.fetch(t1)).await.unwrap();
    assert_eq!(page.messages.len(), 10);
    assert!(page.has_more);
    // The rest of t1: 15 more over two pages, oldest first.
    let rest = within(bob.fetch_all(t1)).await.unwrap();
    let texts: Vec<_> = rest.iter().map(|m| m.message.clone()).collect();
    let expected: Vec<_> = (10..25).map(|i| format!("a{i}")).collect();
    assert_eq!(texts, expected);
    assert!(
        within(bob.fetch_all(t1)).await.unwrap().is_empty(),
        "fetch consumes"
    );

    // Batch fetch across topics, also paged.
    for i in 0..5 {
        within(alice.publish(t1, format!("c{i}"), TTL, 0, false))
            .await
            .unwrap();
    }
    let all = within(bob.batch_fetch(&[t1, t2])).await.unwrap();
    assert_eq!(all.len(), 17);
    assert_eq!(all.iter().filter(|m| m.topic == t2).count(), 12);
    relay.stop_owned().await;
}

#[tokio::test]
async fn batch_subscribe_beyond_500_topics_is_chunked() {
    // Thousands of topics at once are beyond the default request bursts.
    let relay = TestRelay::start_with(|c| {
        c.rate_limit.burst = 10_000;
        c.rate_limit.burst_per_ip = 10_000;
    })
    .await;
    let alice = client(&relay).await;
    let bob = client(&relay).await;
    let topics: Vec<Topic> = (0..1201).map(|_| random_topic()).collect();
    let mut sub = within(bob.batch_subscribe(&topics)).await.unwrap();
    assert_eq!(sub.topics().len(), 1201);
    assert_eq!(sub.ids().len(), 1201);
    // A single irn_batchSubscribe of that size is refused by the relay.
    let raw = Params::BatchSubscribe(BatchSubscribeParams {
        topics: topics.clone(),
    });
    let err = within(bob.request(raw)).await.unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::BatchLimitExceeded));

    for topic in [topics[0], topics[700], topics[1200]] {
        within(alice.publish(topic, topic.to_hex(), TTL, 0, false))
            .await
            .unwrap();
        let m = next(&mut sub).await;
        assert_eq!((m.topic, m.message), (topic, topic.to_hex()));
    }

    // Batch unsubscribe, chunked too; the stream ends.
    within(bob.batch_unsubscribe(&topics)).await.unwrap();
    assert!(within(sub.next_message()).await.is_none());
    relay.stop_owned().await;
}

#[tokio::test]
async fn receipts_are_accepted_and_empty_batches_refused() {
    let relay = TestRelay::start().await;
    let alice = client(&relay).await;
    let bob = client(&relay).await;
    let topic = random_topic();
    within(alice.publish(topic, "r", TTL, 0, false))
        .await
        .unwrap();
    within(bob.batch_receive(&[Receipt {
        topic,
        message_id: 1,
    }]))
    .await
    .unwrap();
    let err = within(bob.batch_receive(&[])).await.unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)));
    relay.stop_owned().await;
}
