//! The relay's errors, typed by code and data tag.

use relaybox_client::{random_topic, Error, ErrorKind};
use std::time::Duration;

use crate::common::{client, within, TestRelay, TTL};

#[tokio::test]
async fn relay_errors_are_mapped_to_kinds() {
    let relay = TestRelay::start().await;
    let alice = client(&relay).await;
    let topic = random_topic();

    let err = within(alice.publish(topic, "short", Duration::from_secs(1), 0, false))
        .await
        .unwrap_err();
    match &err {
        Error::Relay { kind, data } => {
            assert_eq!(*kind, Some(ErrorKind::TtlTooShort));
            assert_eq!(data.code, -32000);
            assert_eq!(data.data.as_deref(), Some("TtlTooShort"));
        }
        other => panic!("expected a relay error, got {other:?}"),
    }
    assert!(!err.is_retriable());

    let err = within(alice.publish(topic, "long", Duration::from_secs(40 * 86_400), 0, false))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::TtlTooLong));

    // Over max_message_bytes (128 KiB) but under the frame cap (160 KiB).
    let err = within(alice.publish(topic, "x".repeat(140 * 1024), TTL, 0, false))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::PayloadSizeExceeded));

    // The client carries on after errors.
    within(alice.publish(topic, "fine", TTL, 0, false))
        .await
        .unwrap();
    assert!(matches!(
        within(alice.batch_subscribe(&[])).await,
        Err(Error::InvalidInput(_))
    ));
    relay.stop_owned().await;
}
