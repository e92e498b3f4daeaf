//! Producing JWTs.
//!
//! The relay itself mostly verifies, but signing lives here too so that
//! tests, load generators and the Notify helpers build tokens exactly the
//! way real clients do, with the same fixed header bytes.

use ed25519_dalek::Signer;
use serde::Serialize;

use super::{base64url, Claims};
use crate::Keypair;

/// The one header we emit, in the JS client's key order.
const HEADER_JSON: &str = r#"{"alg":"EdDSA","typ":"JWT"}"#;

/// Signs relay client-auth claims. The header is exactly
/// `{"alg":"EdDSA","typ":"JWT"}`.
///
/// `claims.iss` is used as given; callers normally set it to
/// [`Keypair::did_key`], otherwise the token will not verify.
pub fn sign(keypair: &Keypair, claims: &Claims) -> String {
    sign_payload(keypair, claims)
}

/// Signs an arbitrary serializable payload with the standard header.
///
/// # Panics
///
/// If `payload` cannot be serialized as JSON (for example a map with
/// non-string keys). That is a programming error in the caller, not a
/// runtime condition, so it is not folded into a `Result`.
pub fn sign_payload<T: Serialize>(keypair: &Keypair, payload: &T) -> String {
    let payload = serde_json::to_vec(payload).expect("JWT payload must serialize to JSON");
    let mut token = base64url::encode(HEADER_JSON);
    token.push('.');
    token.push_str(&base64url::encode(payload));
    let signature = keypair.signing_key().sign(token.as_bytes());
    token.push('.');
    token.push_str(&base64url::encode(signature.to_bytes()));
    token
}
