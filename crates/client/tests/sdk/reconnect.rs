//! Automatic reconnection across a relay restart on the same port and data.

use relaybox_client::{random_topic, Error, Event, Keypair, Topic};

use crate::common::{client, client_as, next, options, wait_event, within, TestRelay, TTL};

#[tokio::test]
async fn reconnects_after_a_restart_resubscribes_and_carries_on() {
    let mut relay = TestRelay::start().await;
    let alice = client(&relay).await;
    let bob = client(&relay).await;
    let mut events = bob.events();
    // More than one chunk to subscribe again.
    let topics: Vec<Topic> = (0..600).map(|_| random_topic()).collect();
    let mut sub = within(bob.batch_subscribe(&topics)).await.unwrap();

    relay.stop().await;
    let down = wait_event(&mut events, |e| matches!(e, Event::Disconnected { .. })).await;
    assert_eq!(
        down,
        Event::Disconnected {
            code: Some(1001),
            reason: "server shutting down".into()
        }
    );
    let retry = wait_event(&mut events, |e| matches!(e, Event::Reconnecting { .. })).await;
    assert!(
        matches!(retry, Event::Reconnecting { attempt: 1, .. }),
        "{retry:?}"
    );
    assert!(!bob.is_connected());

    // A publish made while the relay is down waits for the connection.
    let queued = {
        let bob = bob.clone();
        let topic = random_topic();
        tokio::spawn(async move { bob.publish(topic, "queued", TTL, 0, false).await })
    };

    relay.restart().await;
    wait_event(&mut events, |e| *e == Event::Connected).await;
    let resubscribed = wait_event(&mut events, |e| matches!(e, Event::Resubscribed { .. })).await;
    assert_eq!(resubscribed, Event::Resubscribed { topics: 600 });
    within(queued)
        .await
        .unwrap()
        .expect("queued publish answered");

    // Alice reconnected too; the same Subscription stream carries on.
    for topic in [topics[0], topics[599]] {
        within(alice.publish(topic, "after restart", TTL, 0, false))
            .await
            .unwrap();
        let m = next(&mut sub).await;
        assert_eq!((m.topic, m.message.as_str()), (topic, "after restart"));
    }
    relay.stop_owned().await;
}

#[tokio::test]
async fn without_reconnection_a_lost_connection_stops_the_client() {
    let mut relay = TestRelay::start().await;
    let mut opts = options();
    opts.reconnect.enabled = false;
    let bob = client_as(&relay, Keypair::generate(), opts).await;
    let mut events = bob.events();
    let mut sub = within(bob.subscribe(random_topic())).await.unwrap();

    relay.stop().await;
    assert!(within(sub.next_message()).await.is_none(), "stream ends");
    wait_event(&mut events, |e| matches!(e, Event::Disconnected { .. })).await;
    assert!(within(events.recv()).await.is_none(), "no reconnecting");
    let err = within(bob.publish(random_topic(), "x", TTL, 0, false))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Closed), "{err:?}");
}

/// A relay that rate-limits the re-subscription after a reconnect (3001 for
/// the chunk past its burst) gets the refused chunk again after a pause,
/// and the client reports every topic re-subscribed.
#[tokio::test]
async fn a_rate_limited_resubscription_is_sent_again() {
    let relay = TestRelay::start_with(|c| {
        c.rate_limit.requests_per_sec = 300;
        c.rate_limit.burst = 600;
        c.rate_limit.requests_per_sec_per_ip = 0;
    })
    .await;
    let bob = client(&relay).await;
    let mut events = bob.events();
    let topics: Vec<Topic> = (0..1000).map(|_| random_topic()).collect();
    // 500 topics cost 500 of the 600 tokens: two calls, a refill apart.
    within(bob.batch_subscribe(&topics[..500])).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    within(bob.batch_subscribe(&topics[500..])).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;

    // Two chunks of 500 again: the second is refused, then sent again.
    within(bob.reconnect()).await.unwrap();
    let resubscribed = wait_event(&mut events, |e| matches!(e, Event::Resubscribed { .. })).await;
    assert_eq!(resubscribed, Event::Resubscribed { topics: 1000 });
    relay.stop_owned().await;
}
