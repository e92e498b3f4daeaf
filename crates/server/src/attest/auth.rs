//! Optional authentication of the attestation endpoints.
//!
//! - Creating a request may require an API key (`attest.api_keys`), sent as
//!   `Authorization: Bearer <key>`; keys are compared through their SHA-256
//!   digests so the comparison time does not depend on the key.
//! - Acks (and the listing) may require a wallet JWT
//!   (`attest.require_wallet_jwt`): an EdDSA did:key token, verified by the
//!   auth crate with the relay's audience and clock rules, whose `iss` is
//!   the `wallet_did` the request names and, for acks, whose `sub` is the
//!   request id, so a token answers exactly one request.

use hyper::header::AUTHORIZATION;
use hyper::{HeaderMap, StatusCode};
use relaybox_auth::jwt::{self, VerifiedToken};
use relaybox_store::AttestationRecord;
use sha2::{Digest, Sha256};

use super::error::ApiError;
use crate::relay::Relay;

/// The token of an `Authorization: Bearer` header, if there is one.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// What an API key allows: creating requests for any app, or only for the
/// app identities listed after the key in `attest.api_keys`
/// (`"<key> <app> <app>..."`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyGrant {
    apps: Option<Vec<String>>,
}

impl KeyGrant {
    /// Whether requests for `app_identity` may be created with this key.
    pub fn allows(&self, app_identity: &str) -> bool {
        self.apps
            .as_ref()
            .is_none_or(|apps| apps.iter().any(|a| a == app_identity))
    }
}

/// Splits an `attest.api_keys` entry into its key and its app binding.
fn parse_entry(entry: &str) -> (&str, KeyGrant) {
    let mut parts = entry.split_whitespace();
    let key = parts.next().unwrap_or("");
    let apps: Vec<String> = parts.map(str::to_owned).collect();
    let grant = KeyGrant {
        apps: (!apps.is_empty()).then_some(apps),
    };
    (key, grant)
}

/// The grant of the request's API key: `Ok(None)` when no keys are
/// configured (anyone may create, but not push to a topic), 401 when keys
/// are configured and none of them was sent.
pub fn check_api_key(headers: &HeaderMap, keys: &[String]) -> Result<Option<KeyGrant>, ApiError> {
    if keys.is_empty() {
        return Ok(None);
    }
    let Some(given) = bearer(headers) else {
        return Err(ApiError::unauthorized(
            "creating a request needs Authorization: Bearer <API key>",
        ));
    };
    let given = Sha256::digest(given.as_bytes());
    // Check every key, without stopping early, in constant time per key.
    let mut matched = None;
    for entry in keys {
        let (key, grant) = parse_entry(entry);
        let want = Sha256::digest(key.as_bytes());
        let diff = want
            .iter()
            .zip(given.iter())
            .fold(0u8, |d, (a, b)| d | (a ^ b));
        if diff == 0 && matched.is_none() {
            matched = Some(grant);
        }
    }
    match matched {
        Some(grant) => Ok(Some(grant)),
        None => Err(ApiError::unauthorized("invalid API key")),
    }
}

/// Verifies the request's bearer JWT (signature, time window, audience).
pub fn wallet_token(headers: &HeaderMap, relay: &Relay) -> Result<VerifiedToken, ApiError> {
    let Some(token) = bearer(headers) else {
        return Err(ApiError::unauthorized(
            "this endpoint needs Authorization: Bearer <wallet did:key JWT>",
        ));
    };
    let now_secs = crate::now_ms() / 1000;
    jwt::verify(token, &relay.attest_verify, now_secs)
        .map_err(|e| ApiError::unauthorized(format!("invalid wallet JWT: {}", e.reason())))
}

/// Checks that the ack's JWT comes from the wallet the request names and is
/// bound to this request.
pub fn check_ack_token(
    headers: &HeaderMap,
    relay: &Relay,
    record: &AttestationRecord,
) -> Result<(), ApiError> {
    let token = wallet_token(headers, relay)?;
    let forbidden = |m: &'static str| ApiError::new(StatusCode::FORBIDDEN, m);
    let Some(wallet) = record.request.wallet_did.as_deref() else {
        return Err(forbidden(
            "the request names no wallet_did, so no wallet may answer it",
        ));
    };
    if token.claims.iss != wallet {
        return Err(forbidden(
            "the JWT is not from the wallet the request names",
        ));
    }
    if token.claims.sub != record.request.request_id {
        return Err(forbidden("the JWT's sub must be the request_id"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn with_auth(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn api_keys() {
        let keys = vec!["k1".to_string(), "secret-2".to_string()];
        assert!(check_api_key(&HeaderMap::new(), &[]).is_ok());
        assert!(check_api_key(&HeaderMap::new(), &keys).is_err());
        assert!(check_api_key(&with_auth("Bearer secret-2"), &keys).is_ok());
        assert!(check_api_key(&with_auth("bearer k1"), &keys).is_ok());
        assert!(check_api_key(&with_auth("Bearer k2"), &keys).is_err());
        assert!(check_api_key(&with_auth("Basic k1"), &keys).is_err());
        assert_eq!(bearer(&with_auth("Bearer ")), None);
    }
}
