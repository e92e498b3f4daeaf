//! Frames this crate writes must parse back to the same values (the client
//! SDK writes with `Request::to_json`, the relay reads with `parse_incoming`).

mod common;

use common::*;
use relaybox_proto::*;

#[test]
fn every_request_round_trips() {
    let limits = Limits::default();
    for params in sample_params() {
        let req = Request::new(RequestId::String(1_795_405_159_459_027_456), params);
        match parse_incoming(&req.to_json(), &limits) {
            Ok(Incoming::Request(back)) => assert_eq!(back, req),
            other => panic!("{:?}: {other:?}", req.params.method()),
        }
    }
}

#[test]
fn subscription_push_parses_on_the_client() {
    let sub = subscription_id(&t1(), CLIENT);
    let frame = subscription_frame(1_763_000_000_000_000, &sub, &data());
    let Ok(Incoming::Request(req)) = parse_incoming(&frame, &Limits::default()) else {
        panic!("push did not parse: {frame}");
    };
    assert_eq!(req.id, RequestId::Number(1_763_000_000_000_000));
    assert_eq!(
        req.params,
        Params::Subscription(SubscriptionParams {
            id: sub,
            data: data()
        })
    );
}

#[test]
fn results_parse_as_responses() {
    let id = RequestId::String(1_795_405_159_459_027_456);
    let fetched = FetchMessagesResult {
        messages: vec![data()],
        has_more: false,
    };
    let resp = parse_response(&result_frame(&id, &fetched)).unwrap();
    assert_eq!(resp.id, id);
    let back: FetchMessagesResult = serde_json::from_value(resp.result.unwrap()).unwrap();
    assert_eq!(back, fetched);

    let err = ErrorKind::TtlTooLong.to_error_data(Some("detail"));
    let resp = parse_response(&error_frame(Some(&id), &err)).unwrap();
    assert_eq!(resp.result, Err(err.clone()));
    assert_eq!(
        ErrorKind::from_error_data(&resp.result.unwrap_err()),
        Some(ErrorKind::TtlTooLong)
    );
}

#[test]
fn parse_response_refuses_requests_and_garbage() {
    let req = Request::new(5, Params::Subscribe(SubscribeParams { topic: t1() }));
    assert!(matches!(
        parse_response(&req.to_json()),
        Err(Error::NotAResponse)
    ));
    match parse_response("nope") {
        Err(Error::Rejected(e)) => assert_eq!(e.data.as_deref(), Some("Serialization")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn response_to_json_round_trips() {
    for resp in [
        Response {
            id: RequestId::from_json("\"9007199254740993n\"").unwrap(),
            result: Ok(serde_json::json!({"a":[1,2,{"b":null}]})),
        },
        Response {
            id: RequestId::Number(0),
            result: Err(ErrorKind::Serialization.to_error_data(None)),
        },
    ] {
        assert_eq!(parse_response(&resp.to_json()).unwrap(), resp);
    }
}
