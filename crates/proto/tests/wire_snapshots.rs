//! Snapshot tests that pin the exact wire text of every frame the crate
//! writes. A failing snapshot here means a wire-format change: review it
//! against the protocol notes before accepting it.

mod common;

use common::*;
use relaybox_proto::*;

#[test]
fn every_method_has_a_sample() {
    let methods: Vec<Method> = sample_params().iter().map(Params::method).collect();
    assert_eq!(methods, Method::ALL.to_vec());
}

#[test]
fn request_per_method() {
    for (i, params) in sample_params().into_iter().enumerate() {
        let method = params.method();
        // JS-style string id for client requests, numeric for the push.
        let id = if method == Method::Subscription {
            RequestId::Number(1_763_000_000_000_000 + i as u64)
        } else {
            RequestId::String(1_795_405_159_459_027_456 + i as u64)
        };
        let json = Request::new(id, params).to_json();
        insta::assert_snapshot!(format!("request_{}", method.as_str()), json);
    }
}

#[test]
fn results() {
    let id = RequestId::String(1_795_405_159_459_027_456);
    let sub = subscription_id(&t1(), CLIENT);
    insta::assert_snapshot!("result_true", result_frame(&id, &true));
    insta::assert_snapshot!("result_subscribe", result_frame(&id, &sub));
    insta::assert_snapshot!(
        "result_batch_subscribe",
        result_frame(&id, &[sub.clone(), subscription_id(&t2(), CLIENT)])
    );
    insta::assert_snapshot!(
        "result_batch_subscribe_blocking",
        result_frame(
            &id,
            &[
                SubscriptionResult::Id { id: sub },
                SubscriptionResult::Error {
                    error: ErrorKind::SubscriberLimitExceeded.to_error_data(None),
                },
            ]
        )
    );
    let without_attestation = SubscriptionData {
        attestation: None,
        tag: 0,
        ..data()
    };
    insta::assert_snapshot!(
        "result_fetch_messages",
        result_frame(
            &id,
            &FetchMessagesResult {
                messages: vec![data(), without_attestation],
                has_more: true,
            }
        )
    );
    insta::assert_snapshot!(
        "result_fetch_messages_empty",
        result_frame(
            &RequestId::Number(42),
            &FetchMessagesResult {
                messages: vec![],
                has_more: false,
            }
        )
    );
    insta::assert_snapshot!(
        "result_watch_register",
        result_frame(
            &id,
            &WatchRegisterResult {
                relay_id: "did:key:z6MkodHZwneVRShtaLf8JKYkxpDGp1vGZnpGmdBpX8M2exxH".into(),
            }
        )
    );
}

#[test]
fn error_data_of_every_kind() {
    let lines: Vec<String> = ErrorKind::ALL
        .iter()
        .map(|k| serde_json::to_string(&k.to_error_data(None)).unwrap())
        .collect();
    insta::assert_snapshot!("error_data_all_kinds", lines.join("\n"));
}

#[test]
fn error_frames() {
    let id = RequestId::String(1_795_405_159_459_027_456);
    insta::assert_snapshot!(
        "error_frame_with_detail",
        error_frame(
            Some(&id),
            &ErrorKind::TtlTooShort.to_error_data(Some("ttl 5 is below 10"))
        )
    );
}

#[test]
fn subscription_push() {
    insta::assert_snapshot!(
        "subscription_push",
        subscription_frame(
            1_763_000_000_000_000,
            &subscription_id(&t1(), CLIENT),
            &data()
        )
    );
    let plain = SubscriptionData {
        attestation: None,
        ..data()
    };
    insta::assert_snapshot!(
        "subscription_push_no_attestation",
        subscription_frame(
            1_763_000_000_000_001,
            &subscription_id(&t1(), CLIENT),
            &plain
        )
    );
}

#[test]
fn unparseable_frame_is_answered_with_id_zero() {
    let rejected = parse_incoming("{not json", &Limits::default()).unwrap_err();
    assert_eq!(rejected.id, None);
    insta::assert_snapshot!("reject_unparseable_id_zero", rejected.to_json());
    let rejected = parse_incoming("[1,2,3]", &Limits::default()).unwrap_err();
    insta::assert_snapshot!("reject_not_object_id_zero", rejected.to_json());
}

#[test]
fn client_ack_of_a_push() {
    let ack = Response {
        id: RequestId::Number(1_763_000_000_000_000),
        result: Ok(serde_json::Value::Bool(true)),
    };
    insta::assert_snapshot!("response_ack", ack.to_json());
}
