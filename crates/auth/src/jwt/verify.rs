//! Checking JWTs: first the signature layer, then claims, time and audience.
//!
//! [`verify_signature`] is the part every token needs and is reused by the
//! Notify verifier; [`verify`] adds the relay client-auth claim rules.

use ed25519_dalek::{Signature, VerifyingKey};
use serde_json::{Map, Value};

use super::{base64url, check_times, json, Claims, Fields, VerifiedToken, VerifyOptions};
use crate::{did_key, Error, Result, Segment};

/// The only accepted `alg`.
const ALG: &str = "EdDSA";
/// The only accepted `typ`.
const TYP: &str = "JWT";

/// Verifies a relay client-auth token: signature, claim types, time window
/// and audience, using `now_secs` (unix seconds) as the current time.
pub fn verify(token: &str, opts: &VerifyOptions, now_secs: u64) -> Result<VerifiedToken> {
    let (payload, key) = verify_signature(token, opts.max_token_len)?;
    let fields = Fields::new(&payload);
    let claims = Claims {
        iss: fields.req_str("iss")?.to_owned(),
        sub: fields.req_str("sub")?.to_owned(),
        aud: fields.req_str("aud")?.to_owned(),
        iat: fields.req_i64("iat")?,
        exp: fields.opt_i64("exp")?,
    };
    check_times(
        claims.iat,
        claims.exp,
        now_secs,
        opts.leeway_secs,
        Some(opts.max_age_secs),
    )?;
    if let Some(allowed) = &opts.audiences {
        if !allowed.contains(&claims.aud) {
            return Err(Error::AudienceNotAllowed { aud: claims.aud });
        }
    }
    let act = fields.opt_str("act")?.map(str::to_owned);
    Ok(VerifiedToken { claims, key, act })
}

/// Checks everything about a token except its time window and audience:
/// length cap, structure, header, base64url, JSON, duplicate keys, `iss`
/// as a did:key, and the strict Ed25519 signature.
///
/// Returns the payload object and the issuer key. Claims other than `iss`
/// are not interpreted, so callers with their own claim sets can use it.
pub fn verify_signature(
    token: &str,
    max_token_len: usize,
) -> Result<(Map<String, Value>, VerifyingKey)> {
    if token.len() > max_token_len {
        return Err(Error::TokenTooLong {
            len: token.len(),
            max: max_token_len,
        });
    }
    let found = token.split('.').count();
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(sig_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Error::SegmentCount { found });
    };
    for (text, segment) in [
        (header_b64, Segment::Header),
        (payload_b64, Segment::Payload),
        (sig_b64, Segment::Signature),
    ] {
        if text.is_empty() {
            return Err(Error::EmptySegment { segment });
        }
    }

    let header = json::parse_object(
        &base64url::decode(header_b64, Segment::Header)?,
        Segment::Header,
    )?;
    check_header(&header)?;

    let payload = json::parse_object(
        &base64url::decode(payload_b64, Segment::Payload)?,
        Segment::Payload,
    )?;

    let sig_bytes = base64url::decode(sig_b64, Segment::Signature)?;
    let sig_bytes: [u8; Signature::BYTE_SIZE] =
        sig_bytes
            .as_slice()
            .try_into()
            .map_err(|_| Error::SignatureLength {
                len: sig_bytes.len(),
            })?;
    let signature = Signature::from_bytes(&sig_bytes);

    let iss = Fields::new(&payload).req_str("iss")?;
    let key = did_key::decode(iss)?;

    // The signed message is the encoded text as received, not a re-encoding.
    let signed_len = header_b64.len() + 1 + payload_b64.len();
    key.verify_strict(&token.as_bytes()[..signed_len], &signature)
        .map_err(|_| Error::BadSignature)?;
    Ok((payload, key))
}

/// Enforces the header rules described in the module docs.
fn check_header(header: &Map<String, Value>) -> Result<()> {
    if header.contains_key("crit") {
        return Err(Error::UnsupportedHeader {
            name: "crit".to_owned(),
        });
    }
    match header.get("alg") {
        Some(Value::String(alg)) if alg == ALG => {}
        other => {
            return Err(Error::UnsupportedAlg {
                found: other.map(describe),
            })
        }
    }
    match header.get("typ") {
        Some(Value::String(typ)) if typ == TYP => Ok(()),
        other => Err(Error::UnsupportedTyp {
            found: other.map(describe),
        }),
    }
}

/// A short human form of a header value for error messages: strings bare,
/// anything else as (truncated) JSON.
fn describe(value: &Value) -> String {
    const MAX: usize = 32;
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    text.chars().take(MAX).collect()
}
