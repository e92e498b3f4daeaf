//! The async-attestation relay (seed 000) on the relay's HTTP port.
//!
//! An app leaves a credential request for a user's wallet (`POST {prefix}`),
//! the wallet's extension finds it (`GET {prefix}?app_identity=...`, or a
//! push on a relay topic), reads it (`GET {prefix}/{id}`) and answers
//! (`POST {prefix}/ack`); the app polls `GET {prefix}/{id}` for the result.
//! Requests live in the sled database behind [`AttestationStore`] and every
//! create and answer is flushed before the reply.
//!
//! Modules: `handlers` (the endpoints), `input` (content type, body cap,
//! JSON fields, queries), `auth` (API keys, wallet JWTs), `admission::IpLimiter` (per-IP
//! token buckets), `push` (topic push), `sweeper` (expiry), `metrics`,
//! `error` (JSON error bodies).

mod auth;
mod error;
mod handlers;
mod input;
mod metrics;
mod push;
pub mod sweeper;

use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response};
use relaybox_store::AttestationStore;

pub use crate::admission::IpLimiter;
use crate::config::AttestConfig;
use crate::relay::Relay;
pub use error::ApiError;
pub use push::{message as push_message, PUBLISHER as PUSH_PUBLISHER, TAG as PUSH_TAG};

/// The attestation relay's shared state, held by [`Relay`].
pub struct Attest {
    pub store: Arc<dyn AttestationStore>,
    pub limiter: IpLimiter,
}

impl Attest {
    pub fn new(store: Arc<dyn AttestationStore>, cfg: &AttestConfig) -> Self {
        Attest {
            store,
            limiter: IpLimiter::new(cfg.requests_per_sec, cfg.burst),
        }
    }
}

/// Paths the relay answers itself, which the prefix may not shadow.
const RESERVED: &[&str] = &["/health", "/ready", "/metrics", "/echo"];

/// Checks the `[attest]` section; the message names the key.
pub fn validate_config(cfg: &AttestConfig) -> Result<(), String> {
    let p = cfg.prefix.as_str();
    let path_ok = p.len() >= 2
        && p.starts_with('/')
        && !p.ends_with('/')
        && !p.contains("//")
        && p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/-_.~".contains(&b));
    if !path_ok {
        return Err(format!(
            "attest.prefix = {p:?} must be a path like /api/mwen/relay (leading /, no trailing /, no query)"
        ));
    }
    if RESERVED
        .iter()
        .any(|r| p == *r || p.strip_prefix(r).is_some_and(|rest| rest.starts_with('/')))
    {
        return Err(format!("attest.prefix = {p:?} collides with a relay route"));
    }
    if cfg.default_expiry_ms == 0 || cfg.max_expiry_ms < cfg.default_expiry_ms {
        return Err("attest.default_expiry_ms must be > 0 and <= attest.max_expiry_ms".into());
    }
    if cfg.max_body_bytes < 1024 {
        return Err("attest.max_body_bytes must be at least 1024".into());
    }
    for (name, v) in [
        ("max_app_identity_chars", cfg.max_app_identity_chars),
        ("max_credential_bytes", cfg.max_credential_bytes),
        ("max_error_bytes", cfg.max_error_bytes),
        ("sweep_batch", cfg.sweep_batch),
    ] {
        if v == 0 {
            return Err(format!("attest.{name} must be > 0"));
        }
    }
    if cfg.requests_per_sec > 0 && cfg.burst == 0 {
        return Err("attest.burst must be > 0 when attest.requests_per_sec is set".into());
    }
    if cfg.sweep_interval_ms == 0 {
        return Err("attest.sweep_interval_ms must be > 0".into());
    }
    if cfg
        .api_keys
        .iter()
        .any(|k| k.split_whitespace().next().is_none())
    {
        return Err(
            "attest.api_keys entries must be \"<key>\" or \"<key> <app_identity>...\"".into(),
        );
    }
    Ok(())
}

/// True if `path` belongs to the attestation endpoints.
pub fn routes(relay: &Relay, path: &str) -> bool {
    let cfg = &relay.config.attest;
    cfg.enabled
        && path
            .strip_prefix(cfg.prefix.as_str())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Serves one attestation request; every error is a JSON `{"error": ...}` body.
pub async fn handle(
    req: Request<Incoming>,
    relay: Arc<Relay>,
    peer: SocketAddr,
) -> Response<Full<Bytes>> {
    let (route, result) = dispatch(req, &relay, peer).await;
    let resp = result.unwrap_or_else(ApiError::into_response);
    metrics::response(route, resp.status().as_u16());
    resp
}

async fn dispatch(
    req: Request<Incoming>,
    relay: &Relay,
    peer: SocketAddr,
) -> (&'static str, Result<Response<Full<Bytes>>, ApiError>) {
    let ip = crate::admission::client_ip(peer.ip(), req.headers(), &relay.trusted_proxies);
    if let Err(wait) = relay.attest.limiter.check(ip) {
        return ("rate_limited", Err(ApiError::too_many(wait)));
    }
    let path = req.uri().path();
    let rest = path.get(relay.config.attest.prefix.len()..).unwrap_or("");
    let sub = rest.strip_prefix('/').map(str::to_owned);
    let method = req.method().clone();
    match (sub.as_deref(), method) {
        (None, Method::POST) => ("create", handlers::create(req, relay).await),
        (None, Method::GET) => ("list", handlers::list(req, relay).await),
        (None, _) => ("create", Err(ApiError::method_not_allowed("GET, POST"))),
        (Some("ack"), Method::POST) => ("ack", handlers::ack(req, relay).await),
        (Some("ack"), _) => ("ack", Err(ApiError::method_not_allowed("POST"))),
        (Some(id), method) if !id.is_empty() && !id.contains('/') => {
            if method == Method::GET {
                ("get", handlers::get(relay, id).await)
            } else {
                ("get", Err(ApiError::method_not_allowed("GET")))
            }
        }
        _ => ("other", Err(ApiError::not_found())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_validation() {
        assert!(validate_config(&AttestConfig::default()).is_ok());
        let cases: [fn(&mut AttestConfig); 9] = [
            |c| c.prefix = "api".into(),
            |c| c.prefix = "/api/".into(),
            |c| c.prefix = "/".into(),
            |c| c.prefix = "/metrics/x".into(),
            |c| c.prefix = "/a?b".into(),
            |c| c.max_expiry_ms = 1,
            |c| c.max_body_bytes = 10,
            |c| c.burst = 0,
            |c| c.api_keys = vec![String::new()],
        ];
        for (i, mutate) in cases.iter().enumerate() {
            let mut c = AttestConfig::default();
            mutate(&mut c);
            assert!(validate_config(&c).is_err(), "case {i} should fail");
        }
    }
}
