//! `parse_incoming` rules about the frame itself: JSON shape, id, version,
//! method, and responses. Each asserts the exact code, data tag and echoed id.

mod common;

use common::rules::*;
use common::T1;
use relaybox_proto::*;

// --- not JSON / not an object --------------------------------------------

#[test]
fn not_json_is_serialization_with_id_zero() {
    for frame in ["", "{", "hello", r#"{"id":1,}"#, "\u{0}"] {
        rej(frame, -32600, "Serialization", None);
    }
}

#[test]
fn not_an_object_is_serialization_with_id_zero() {
    for frame in ["[]", "[1]", "1", r#""text""#, "null", "true"] {
        rej(frame, -32600, "Serialization", None);
    }
}

#[test]
fn duplicate_members_are_serialization() {
    rej(
        r#"{"id":1,"id":2,"jsonrpc":"2.0","method":"irn_subscribe","params":{}}"#,
        -32600,
        "Serialization",
        None,
    );
}

#[test]
fn neither_method_nor_result_is_serialization_keeping_id() {
    rej(
        r#"{"id":5,"jsonrpc":"2.0"}"#,
        -32600,
        "Serialization",
        Some("5"),
    );
    rej(r#"{"jsonrpc":"2.0"}"#, -32600, "Serialization", None);
}

// --- jsonrpc version -----------------------------------------------------

#[test]
fn version_must_be_exactly_2_0() {
    let params = format!(r#"{{"topic":"{T1}"}}"#);
    for version in [r#""1.0""#, r#""2""#, "2.0", "2", "null", r#""2.0 ""#] {
        let frame = format!(
            r#"{{"id":{ID},"jsonrpc":{version},"method":"irn_subscribe","params":{params}}}"#
        );
        rej(&frame, -32600, "InvalidJsonRpcVersion", Some(ID));
    }
    let missing = format!(r#"{{"id":7,"method":"irn_subscribe","params":{params}}}"#);
    rej(&missing, -32600, "InvalidJsonRpcVersion", Some("7"));
    let response = r#"{"id":7,"jsonrpc":"1.0","result":true}"#;
    rej(response, -32600, "InvalidJsonRpcVersion", Some("7"));
}

// --- ids -------------------------------------------------------------------

#[test]
fn missing_or_malformed_id_is_invalid_request_id_with_id_zero() {
    let params = format!(r#"{{"topic":"{T1}"}}"#);
    let missing = format!(r#"{{"jsonrpc":"2.0","method":"irn_subscribe","params":{params}}}"#);
    rej(&missing, -32600, "InvalidRequestId", None);
    for id in [
        "null",
        "1.5",
        "1.0",
        "1e9",
        "-1",
        "18446744073709551616",
        r#""abc""#,
        r#""""#,
        r#""-5""#,
        r#""18446744073709551616""#,
        "true",
        "{}",
        "[1]",
    ] {
        let frame =
            format!(r#"{{"id":{id},"jsonrpc":"2.0","method":"irn_subscribe","params":{params}}}"#);
        rej(&frame, -32600, "InvalidRequestId", None);
    }
}

#[test]
fn request_id_zero_is_invalid() {
    let params = format!(r#"{{"topic":"{T1}"}}"#);
    let frame = format!(r#"{{"id":0,"jsonrpc":"2.0","method":"irn_subscribe","params":{params}}}"#);
    rej(&frame, -32600, "InvalidRequestId", Some("0"));
}

#[test]
fn small_ids_are_accepted_on_incoming_requests() {
    let params = format!(r#"{{"topic":"{T1}"}}"#);
    let frame = format!(r#"{{"id":1,"jsonrpc":"2.0","method":"irn_subscribe","params":{params}}}"#);
    assert_eq!(ok(&frame).id, RequestId::Number(1));
}

#[test]
fn ids_keep_their_spelling() {
    let params = format!(r#"{{"topic":"{T1}"}}"#);
    for (id, expected) in [
        (ID, RequestId::String(1_795_405_159_459_027_456)),
        (
            "1795405159459027456",
            RequestId::Number(1_795_405_159_459_027_456),
        ),
        ("18446744073709551615", RequestId::Number(u64::MAX)),
    ] {
        let frame =
            format!(r#"{{"id":{id},"jsonrpc":"2.0","method":"irn_subscribe","params":{params}}}"#);
        let r = ok(&frame);
        assert_eq!(r.id, expected);
        assert!(result_frame(&r.id, &true).starts_with(&format!(r#"{{"id":{id},"#)));
    }
}

// --- method ----------------------------------------------------------------

#[test]
fn unknown_method_is_invalid_method_keeping_id() {
    rej(&req("irn_nope", "{}"), -32600, "InvalidMethod", Some(ID));
    rej(&req("IRN_PUBLISH", "{}"), -32600, "InvalidMethod", Some(ID));
    let numeric = format!(r#"{{"id":{ID},"jsonrpc":"2.0","method":5,"params":{{}}}}"#);
    rej(&numeric, -32600, "InvalidMethod", Some(ID));
    let null = format!(r#"{{"id":{ID},"jsonrpc":"2.0","method":null,"params":{{}}}}"#);
    rej(&null, -32600, "InvalidMethod", Some(ID));
}

#[test]
fn iridium_aliases_parse() {
    let r = ok(&req("iridium_subscribe", &format!(r#"{{"topic":"{T1}"}}"#)));
    assert_eq!(r.params.method(), Method::Subscribe);
}

// --- responses ---------------------------------------------------------------------

#[test]
fn result_without_method_is_a_response() {
    let frame = r#"{"id":"1763000000000000n","jsonrpc":"2.0","result":true}"#;
    let Ok(Incoming::Response(r)) = parse_incoming(frame, &Limits::default()) else {
        panic!()
    };
    assert_eq!(r.id.value(), 1_763_000_000_000_000);
    assert_eq!(r.id.to_json(), r#""1763000000000000n""#);
    assert_eq!(r.result, Ok(serde_json::Value::Bool(true)));
}

#[test]
fn response_result_may_be_any_json() {
    for value in ["null", "0", "\"s\"", "[1,{\"a\":2}]", "{\"x\":[]}", "false"] {
        let frame = format!(r#"{{"id":0,"jsonrpc":"2.0","result":{value}}}"#);
        let Ok(Incoming::Response(r)) = parse_incoming(&frame, &Limits::default()) else {
            panic!("{frame}")
        };
        let expected: serde_json::Value = serde_json::from_str(value).unwrap();
        assert_eq!(r.result, Ok(expected));
    }
}

#[test]
fn error_without_method_is_a_response() {
    let frame = r#"{"id":12,"jsonrpc":"2.0","error":{"code":-32000,"message":"Request handler error: TTL too short","data":"TtlTooShort"}}"#;
    let Ok(Incoming::Response(r)) = parse_incoming(frame, &Limits::default()) else {
        panic!()
    };
    let err = r.result.unwrap_err();
    assert_eq!(
        ErrorKind::from_error_data(&err),
        Some(ErrorKind::TtlTooShort)
    );
}

#[test]
fn malformed_responses() {
    rej(
        r#"{"jsonrpc":"2.0","result":true}"#,
        -32600,
        "InvalidRequestId",
        None,
    );
    rej(
        r#"{"id":1.5,"jsonrpc":"2.0","result":true}"#,
        -32600,
        "InvalidRequestId",
        None,
    );
    rej(
        r#"{"id":3,"jsonrpc":"2.0","result":true,"error":{"code":1,"message":"x"}}"#,
        -32600,
        "Serialization",
        Some("3"),
    );
    rej(
        r#"{"id":3,"jsonrpc":"2.0","error":"oops"}"#,
        -32600,
        "Serialization",
        Some("3"),
    );
}

#[test]
fn detail_is_clipped() {
    let huge = "x".repeat(100_000);
    let frame = req(
        "irn_publish",
        &format!(r#"{{"topic":"{T1}","message":5,"ttl":"{huge}"}}"#),
    );
    let r = parse_incoming(&frame, &Limits::default()).unwrap_err();
    assert_eq!(r.error.data.as_deref(), Some("InvalidParams"));
    assert!(r.error.message.len() < 300, "{}", r.error.message.len());
}
