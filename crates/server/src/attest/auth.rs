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

/// 401 unless `keys` is empty or the request carries one of them.
pub fn check_api_key(headers: &HeaderMap, keys: &[String]) -> Result<(), ApiError> {
    if keys.is_empty() {
        return Ok(());
    }
    let Some(given) = bearer(headers) else {
        return Err(ApiError::unauthorized(
            "creating a request needs Authorization: Bearer <API key>",
        ));
    };
    let given = Sha256::digest(given.as_bytes());
    // Check every key, without stopping early, in constant time per key.
    let matched = keys.iter().fold(false, |found, key| {
        let want = Sha256::digest(key.as_bytes());
        let diff = want
            .iter()
            .zip(given.iter())
            .fold(0u8, |d, (a, b)| d | (a ^ b));
        found | (diff == 0)
    });
    if matched {
        Ok(())
    } else {
        Err(ApiError::unauthorized("invalid API key"))
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
    jwt::verify(token, &relay.verify, now_secs)
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
