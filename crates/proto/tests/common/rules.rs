//! Helpers for the `parse_incoming` rule tests: frame builders and an
//! assertion on the exact code, data tag and echoed id of a rejection.

use relaybox_proto::*;

use super::T1;

pub const ID: &str = r#""1795405159459027456""#;

pub fn req(method: &str, params: &str) -> String {
    format!(r#"{{"id":{ID},"jsonrpc":"2.0","method":"{method}","params":{params}}}"#)
}

pub fn ok(frame: &str) -> Request {
    ok_with(frame, &Limits::default())
}

pub fn ok_with(frame: &str, limits: &Limits) -> Request {
    match parse_incoming(frame, limits) {
        Ok(Incoming::Request(r)) => r,
        other => panic!("{frame}: {other:?}"),
    }
}

/// Asserts a rejection with `code`/`tag`, echoing `id` (JSON text) or id 0.
pub fn rejected(frame: &str, limits: &Limits, code: i32, tag: &str, id: Option<&str>) {
    let r = parse_incoming(frame, limits).expect_err(frame);
    assert_eq!(r.error.code, code, "{frame}: {r:?}");
    assert_eq!(r.error.data.as_deref(), Some(tag), "{frame}: {r:?}");
    assert_eq!(
        r.id.as_ref().map(RequestId::to_json).as_deref(),
        id,
        "{frame}"
    );
    let answer = r.to_json();
    let expected_prefix = format!(r#"{{"id":{},"jsonrpc":"2.0","error":"#, id.unwrap_or("0"));
    assert!(answer.starts_with(&expected_prefix), "{answer}");
    assert!(r.kind().is_some());
}

pub fn rej(frame: &str, code: i32, tag: &str, id: Option<&str>) {
    rejected(frame, &Limits::default(), code, tag, id)
}

pub fn publish_json(ttl: u64, message: &str) -> String {
    format!(r#"{{"topic":"{T1}","message":"{message}","ttl":{ttl},"tag":1108}}"#)
}
