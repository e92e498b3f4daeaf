//! Reading and checking input: the JSON content type, the capped body, the
//! body's top-level fields (kept as raw JSON so `auth_request` is returned
//! byte for byte), query strings, and request ids.

use std::collections::BTreeMap;
use std::time::Duration;

use http_body_util::{BodyExt, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{HeaderMap, Request, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use super::error::ApiError;

/// Shortest and longest accepted request id.
pub const ID_MIN: usize = 16;
pub const ID_MAX: usize = 128;

/// True for 16 to 128 characters of `[A-Za-z0-9_-]`.
pub fn valid_request_id(id: &str) -> bool {
    (ID_MIN..=ID_MAX).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

pub fn invalid_request_id() -> ApiError {
    ApiError::bad_request("request_id must be 16 to 128 characters of A-Z, a-z, 0-9, _ and -")
}

/// 415 unless the media type is `application/json` (parameters allowed).
pub fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let essence = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    match essence.as_deref() {
        Some("application/json") => Ok(()),
        _ => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/json",
        )),
    }
}

/// Reads the whole body: 413 beyond `max` bytes, 408 if it does not arrive in `timeout`.
pub async fn read_body(
    req: Request<Incoming>,
    max: usize,
    timeout: Duration,
) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body exceeds {max} bytes"),
        )
    };
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    let body = Limited::new(req.into_body(), max);
    match tokio::time::timeout(timeout, body.collect()).await {
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request body not received in time",
        )),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Ok(Err(e)) => Err(ApiError::bad_request(format!(
            "could not read the request body: {e}"
        ))),
    }
}

/// A body's top-level members, each as raw JSON.
pub struct Fields<'a> {
    map: BTreeMap<String, &'a RawValue>,
}

impl<'a> Fields<'a> {
    /// Parses a JSON object (400 otherwise). Duplicate keys: the last wins.
    pub fn parse(body: &'a [u8]) -> Result<Fields<'a>, ApiError> {
        serde_json::from_slice(body)
            .map(|map| Fields { map })
            .map_err(|e| ApiError::bad_request(format!("body must be a JSON object: {e}")))
    }

    /// The member's raw JSON unless it is missing or `null`.
    pub fn raw(&self, key: &str) -> Option<&'a RawValue> {
        self.map.get(key).copied().filter(|r| r.get() != "null")
    }

    fn typed<T: DeserializeOwned>(&self, key: &str, what: &str) -> Result<Option<T>, ApiError> {
        self.raw(key)
            .map(|raw| serde_json::from_str(raw.get()))
            .transpose()
            .map_err(|_| ApiError::bad_request(format!("{key} must be {what}")))
    }

    /// A string member; missing or `null` is `None`.
    pub fn string(&self, key: &str) -> Result<Option<String>, ApiError> {
        self.typed(key, "a string")
    }

    /// A non-negative integer member; missing or `null` is `None`.
    pub fn integer(&self, key: &str) -> Result<Option<u64>, ApiError> {
        self.typed(key, "a non-negative integer (milliseconds since the epoch)")
    }
}

/// The request's query pairs, percent-decoded (see [`crate::query`]).
pub fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    crate::query::parse_query(query.unwrap_or(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids() {
        assert!(valid_request_id("abcdefghijklmnop"));
        assert!(valid_request_id(&"A_-9".repeat(32)));
        assert!(!valid_request_id("short"));
        assert!(!valid_request_id(&"a".repeat(129)));
        assert!(!valid_request_id("abcdefghijklmno/"));
        assert!(!valid_request_id("abcdefghijklmnoé"));
    }

    #[test]
    fn query_decoding() {
        let q = query_pairs(Some(
            "app_identity=https%3A%2F%2Fa.example+x&status=pending&bad=%zz%4",
        ));
        assert_eq!(q[0], ("app_identity".into(), "https://a.example x".into()));
        assert_eq!(q[1], ("status".into(), "pending".into()));
        assert_eq!(q[2], ("bad".into(), "%zz%4".into()));
        assert!(query_pairs(None).is_empty());
    }

    #[test]
    fn fields_keep_raw_json_and_check_types() {
        let body = br#"{"a": { "x" : 1 }, "b": null, "c": "s", "n": -1}"#;
        let f = Fields::parse(body).unwrap();
        assert_eq!(f.raw("a").unwrap().get(), r#"{ "x" : 1 }"#);
        assert!(f.raw("b").is_none());
        assert_eq!(f.string("c").unwrap().as_deref(), Some("s"));
        assert!(f.integer("n").is_err());
        assert!(f.string("a").is_err());
        assert!(Fields::parse(b"[1]").is_err());
        assert!(Fields::parse(b"{").is_err());
    }
}
