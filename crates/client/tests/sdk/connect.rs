//! Connecting: the JWT by query and by header, and auth refusals.

use futures_util::StreamExt;
use relaybox_client::{connect, random_topic, Error, Event, Keypair};

use crate::common::{client_as, options, within, TestRelay, TTL};

#[tokio::test]
async fn connects_by_query_and_by_header() {
    let relay = TestRelay::start().await;
    let key = Keypair::generate();
    let by_query = client_as(&relay, key.clone(), options()).await;
    assert_eq!(by_query.client_id(), key.did_key());
    assert!(by_query.is_connected());
    let by_header = client_as(
        &relay,
        Keypair::generate(),
        options()
            .with_auth_header()
            .with_project_id("p1")
            .with_user_agent("wc-2/rust-test/linux"),
    )
    .await;
    assert!(by_header.is_connected());

    // Both are authenticated for real: a message goes from one to the other.
    let topic = random_topic();
    let mut sub = within(by_header.subscribe(topic)).await.unwrap();
    within(by_query.publish(topic, "via header", TTL, 7, false))
        .await
        .unwrap();
    let m = within(sub.next()).await.unwrap();
    assert_eq!((m.message.as_str(), m.tag), ("via header", 7));

    by_query.close().await;
    by_header.close().await;
    relay.stop_owned().await;
}

#[tokio::test]
async fn wrong_audience_is_an_auth_error_on_close_3000() {
    let relay = TestRelay::start().await;
    // useOnCloseEvent=true (the default): upgrade, then close 3000.
    let err = within(connect(
        &relay.url(),
        Keypair::generate(),
        options().with_audience("wss://relay.walletconnect.com"),
    ))
    .await
    .unwrap_err();
    match &err {
        Error::Auth { reason } => assert!(reason.contains("Invalid JWT"), "{reason}"),
        other => panic!("expected Auth, got {other:?}"),
    }
    assert!(!err.is_retriable());

    // Without it: HTTP 403 on the upgrade, reported the same way.
    let mut opts = options().with_audience("wss://relay.walletconnect.com");
    opts.use_on_close_event = false;
    let err = within(connect(&relay.url(), Keypair::generate(), opts))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Auth { .. }), "{err:?}");
    relay.stop_owned().await;
}

#[tokio::test]
async fn close_ends_streams_and_later_calls_fail_closed() {
    let relay = TestRelay::start().await;
    let client = client_as(&relay, Keypair::generate(), options()).await;
    let mut events = client.events();
    let mut sub = within(client.subscribe(random_topic())).await.unwrap();
    within(client.close()).await;
    assert!(!client.is_connected());
    assert!(within(sub.next()).await.is_none(), "subscription ends");
    let disconnected = within(events.next()).await.unwrap();
    assert!(
        matches!(disconnected, Event::Disconnected { .. }),
        "{disconnected:?}"
    );
    assert!(within(events.next()).await.is_none(), "events end");
    let err = within(client.publish(random_topic(), "x", TTL, 0, false))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Closed), "{err:?}");
    relay.stop_owned().await;
}

#[tokio::test]
async fn unreachable_relay_fails_fast() {
    // Bind and drop a port so nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = within(connect(
        &format!("ws://127.0.0.1:{port}"),
        Keypair::generate(),
        options(),
    ))
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Io(_)), "{err:?}");
    assert!(err.is_retriable());
}
