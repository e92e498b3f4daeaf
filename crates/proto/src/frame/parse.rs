//! Parsing of incoming frames.
//!
//! The frame is first split into borrowed raw fields (no copies, and no
//! field can fail the split because of its type), so that the id can be
//! recovered and echoed whatever else is wrong. Then, in order: the id, the
//! `jsonrpc` version, the method, the params for that method, and the limits.
//! The first failure decides the answer.

use std::borrow::Cow;

use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use super::{Incoming, RejectedFrame, Request, Response};
use crate::error::{ErrorData, ErrorKind};
use crate::id::RequestId;
use crate::limits::Limits;
use crate::method::Method;
use crate::params::Params;
use crate::{Error, Result};

/// Longest human detail copied into an error message: serde messages can
/// quote the offending input, which may be a whole 128 KiB message.
const MAX_DETAIL_LEN: usize = 160;

/// The top-level object, every member kept as raw JSON text. A member that
/// is present — even as `null` — is `Some`, because `"result": null` is a
/// valid response.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(default, borrow, deserialize_with = "present")]
    id: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    jsonrpc: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    method: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    params: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    result: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    error: Option<&'a RawValue>,
}

fn present<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<&'de RawValue>, D::Error> {
    <&'de RawValue>::deserialize(d).map(Some)
}

/// Parses one text frame from a peer.
///
/// A frame with a `method` is a request; one with `result` or `error` and no
/// `method` is a response (its id may be `0` or a re-spelled `"…n"`, and its
/// result any JSON value). Requests are checked against `limits`. See the
/// module docs for the order of checks; the error kinds are:
///
/// - not JSON, not an object, or neither request nor response:
///   `Serialization` (id kept only if it was readable);
/// - missing or malformed id, or request id 0: `InvalidRequestId`;
/// - `jsonrpc` not exactly `"2.0"`: `InvalidJsonRpcVersion`;
/// - unknown method: `InvalidMethod`;
/// - bad params: `InvalidParams`, or `InvalidTopic` for a bad topic;
/// - limits: `TtlTooShort`, `TtlTooLong`, `PayloadSizeExceeded`,
///   `BatchEmpty`, `BatchLimitExceeded`, and `InvalidParams` for an empty
///   `wc_*` message.
///
/// Ids of incoming requests are *not* held to the relay's own `>= 10^9`
/// rule: the JS client is fine with small ids and so is the relay.
pub fn parse_incoming(text: &str, limits: &Limits) -> std::result::Result<Incoming, RejectedFrame> {
    let env = envelope(text)?;
    if let Some(method) = env.method {
        parse_request(&env, method, limits).map(Incoming::Request)
    } else if env.result.is_some() || env.error.is_some() {
        parse_response_envelope(&env).map(Incoming::Response)
    } else {
        let id = env.id.and_then(|raw| RequestId::from_json(raw.get()).ok());
        Err(reject(
            id,
            ErrorKind::Serialization,
            "frame has neither method nor result/error",
        ))
    }
}

/// Parses a frame that must be a response (the client SDK's view of the
/// relay's answers). A request frame gives [`Error::NotAResponse`]; a
/// malformed one gives [`Error::Rejected`] with the same error object
/// [`parse_incoming`] would produce.
pub fn parse_response(text: &str) -> Result<Response> {
    let env = envelope(text).map_err(|r| Error::Rejected(r.error))?;
    if env.method.is_some() {
        return Err(Error::NotAResponse);
    }
    parse_response_envelope(&env).map_err(|r| Error::Rejected(r.error))
}

fn envelope(text: &str) -> std::result::Result<Envelope<'_>, RejectedFrame> {
    // serde's derived struct decoding would also take a JSON array,
    // positionally: only an object is a frame.
    if !text.trim_start().starts_with('{') {
        return Err(reject(
            None,
            ErrorKind::Serialization,
            "frame must be a JSON object",
        ));
    }
    serde_json::from_str(text).map_err(|e| reject(None, ErrorKind::Serialization, &e.to_string()))
}

fn parse_request(
    env: &Envelope<'_>,
    method: &RawValue,
    limits: &Limits,
) -> std::result::Result<Request, RejectedFrame> {
    let id = frame_id(env)?;
    if id.value() == 0 {
        return Err(reject(
            Some(id),
            ErrorKind::InvalidRequestId,
            "request id must be at least 1",
        ));
    }
    check_version(env, &id)?;
    let name = json_str(method).ok_or_else(|| {
        reject(
            Some(id.clone()),
            ErrorKind::InvalidMethod,
            "method must be a string",
        )
    })?;
    let method = Method::parse(&name).ok_or_else(|| {
        reject(
            Some(id.clone()),
            ErrorKind::InvalidMethod,
            &format!("unknown method {name:?}"),
        )
    })?;
    let Some(raw_params) = env.params else {
        return Err(reject(Some(id), ErrorKind::InvalidParams, "missing params"));
    };
    if !raw_params.get().starts_with('{') {
        // By-position params are valid JSON-RPC but no client uses them, and
        // serde would map them onto struct fields by order.
        return Err(reject(
            Some(id),
            ErrorKind::InvalidParams,
            "params must be an object",
        ));
    }
    let params = Params::decode(method, raw_params.get())
        .and_then(|p| p.check(limits).map(|()| p))
        .map_err(|v| reject(Some(id.clone()), v.kind, &v.detail))?;
    Ok(Request { id, params })
}

fn parse_response_envelope(env: &Envelope<'_>) -> std::result::Result<Response, RejectedFrame> {
    let id = frame_id(env)?;
    check_version(env, &id)?;
    let result = match (env.result, env.error) {
        (Some(result), None) => Ok(serde_json::from_str(result.get())
            .map_err(|e| reject(Some(id.clone()), ErrorKind::Serialization, &e.to_string()))?),
        (None, Some(error)) => Err(serde_json::from_str::<ErrorData>(error.get())
            .map_err(|e| reject(Some(id.clone()), ErrorKind::Serialization, &e.to_string()))?),
        _ => {
            return Err(reject(
                Some(id),
                ErrorKind::Serialization,
                "a response needs exactly one of result and error",
            ))
        }
    };
    Ok(Response { id, result })
}

/// The frame's id: a u64 as a number or numeric string, else
/// `InvalidRequestId` answered with id 0.
fn frame_id(env: &Envelope<'_>) -> std::result::Result<RequestId, RejectedFrame> {
    let raw = env
        .id
        .ok_or_else(|| reject(None, ErrorKind::InvalidRequestId, "missing id"))?;
    RequestId::from_json(raw.get())
        .map_err(|e| reject(None, ErrorKind::InvalidRequestId, &e.to_string()))
}

fn check_version(env: &Envelope<'_>, id: &RequestId) -> std::result::Result<(), RejectedFrame> {
    match env.jsonrpc.and_then(json_str) {
        Some(v) if v == "2.0" => Ok(()),
        _ => Err(reject(
            Some(id.clone()),
            ErrorKind::InvalidJsonRpcVersion,
            "jsonrpc must be \"2.0\"",
        )),
    }
}

/// The value of a raw JSON string, borrowed unless it contains escapes;
/// `None` if the raw value is not a string.
fn json_str(raw: &RawValue) -> Option<Cow<'_, str>> {
    let text = raw.get();
    if !text.starts_with('"') {
        return None;
    }
    match serde_json::from_str::<&str>(text) {
        Ok(s) => Some(Cow::Borrowed(s)),
        Err(_) => serde_json::from_str::<String>(text).ok().map(Cow::Owned),
    }
}

fn reject(id: Option<RequestId>, kind: ErrorKind, detail: &str) -> RejectedFrame {
    RejectedFrame::new(id, kind, Some(clip(detail, MAX_DETAIL_LEN)))
}

/// The longest prefix of `s` of at most `max` bytes that ends on a char
/// boundary.
fn clip(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_respects_char_boundaries() {
        assert_eq!(clip("abc", 10), "abc");
        assert_eq!(clip("ééé", 3), "é");
        assert_eq!(clip("ééé", 4), "éé");
    }

    #[test]
    fn json_str_handles_escapes_and_non_strings() {
        let raw = |s: &str| serde_json::from_str::<Box<RawValue>>(s).unwrap();
        assert_eq!(json_str(&raw(r#""2.0""#)).as_deref(), Some("2.0"));
        assert_eq!(json_str(&raw(r#""2\u002e0""#)).as_deref(), Some("2.0"));
        assert_eq!(json_str(&raw("2.0")), None);
        assert_eq!(json_str(&raw("null")), None);
    }

    #[test]
    fn null_result_is_still_a_response() {
        let r = parse_response(r#"{"id":5,"jsonrpc":"2.0","result":null}"#).unwrap();
        assert_eq!(r.result, Ok(serde_json::Value::Null));
    }
}
