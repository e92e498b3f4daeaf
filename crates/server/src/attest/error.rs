//! The attestation endpoints' error type: a status, a message for the JSON
//! body `{"error": "..."}`, and the few headers some statuses need.

use std::borrow::Cow;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{HeaderName, HeaderValue, ALLOW, RETRY_AFTER, WWW_AUTHENTICATE};
use hyper::{Response, StatusCode};
use relaybox_store::AttestError;

use crate::http::json_response;

/// An error answer. Internal failures are logged where they happen and
/// reach the client only as a generic 500 message.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: Cow<'static, str>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<Cow<'static, str>>) -> Self {
        ApiError {
            status,
            message: message.into(),
            headers: Vec::new(),
        }
    }

    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "Not found")
    }

    pub fn expired() -> Self {
        Self::new(StatusCode::GONE, "Request expired")
    }

    pub fn method_not_allowed(allow: &'static str) -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
            .with(ALLOW, HeaderValue::from_static(allow))
    }

    /// 401 with a Bearer challenge.
    pub fn unauthorized(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
            .with(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
    }

    pub fn too_many(retry_after_secs: u64) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "too many requests")
            .with(RETRY_AFTER, HeaderValue::from(retry_after_secs.max(1)))
    }

    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    }

    pub fn with(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    pub fn into_response(self) -> Response<Full<Bytes>> {
        let mut resp = json_response(self.status, serde_json::json!({ "error": self.message }));
        resp.headers_mut().extend(self.headers);
        resp
    }
}

impl From<AttestError> for ApiError {
    fn from(e: AttestError) -> Self {
        match e {
            AttestError::NotFound => ApiError::not_found(),
            AttestError::Expired => ApiError::expired(),
            AttestError::Conflict => ApiError::new(
                StatusCode::CONFLICT,
                "request_id already exists with different content",
            ),
            AttestError::AlreadyAnswered(status) => ApiError::new(
                StatusCode::CONFLICT,
                format!("request already answered ({status}); the first answer wins"),
            ),
            other => {
                tracing::error!(error = %other, "attestation store failed");
                ApiError::internal()
            }
        }
    }
}
