//! EdDSA JWTs as WalletConnect clients use them to authenticate to a relay.
//!
//! A client signs `{"alg":"EdDSA","typ":"JWT"}` plus claims
//! `{iss, sub, aud, iat, exp}` with its Ed25519 key, where `iss` is the
//! key's `did:key`: the token carries its own verification key, and the
//! relay trusts it as "whoever holds this key", which is all a client id is.
//!
//! Verification rules, chosen for one unambiguous reading per token:
//!
//! - The length cap applies before any decoding, so huge inputs cost nothing.
//! - Exactly three non-empty segments of canonical, unpadded base64url.
//! - Header and payload are JSON objects without duplicate keys (at any depth).
//! - Header `alg` is exactly `"EdDSA"` and `typ` exactly `"JWT"`, in any key
//!   order. A `crit` parameter is refused, since we implement no extensions
//!   and RFC 7515 says unknown critical ones must fail. Other header
//!   parameters (`kid`, `jwk`, ...) are ignored: the key always comes from
//!   `iss`, never from the header.
//! - The signature is 64 bytes and passes `verify_strict` (canonical `S`,
//!   no small-order key or `R`) over the ASCII `header.payload` text.
//! - Time and audience are checked only by [`verify`], against the caller's
//!   clock, with a leeway for clock skew.

mod base64url;
mod encode;
mod fields;
mod json;
mod verify;

use std::collections::HashSet;

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

pub use encode::{sign, sign_payload};
pub use verify::{verify, verify_signature};

pub(crate) use fields::{check_times, Fields};

/// Default clock-skew allowance, matching the reference relay.
pub const DEFAULT_LEEWAY_SECS: u64 = 120;
/// Default cap on token length in bytes.
pub const DEFAULT_MAX_TOKEN_LEN: usize = 4096;
/// Default maximum age of a token that has no `exp`: one week.
pub const DEFAULT_MAX_AGE_SECS: u64 = 86_400 * 7;

/// The claims of a relay client-auth token.
///
/// Field order is the wire order the official JS client uses, which is what
/// makes the published test vector reproducible byte for byte.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer: the client's `did:key`, which is also its client id.
    pub iss: String,
    /// Subject: a random per-install identifier chosen by the client.
    pub sub: String,
    /// Audience: the relay URL the client thinks it is talking to.
    pub aud: String,
    /// Issued-at, unix seconds.
    pub iat: i64,
    /// Expiry, unix seconds. Optional because some clients omit it; such
    /// tokens are instead bounded by [`VerifyOptions::max_age_secs`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
}

/// Policy knobs for [`verify`].
#[derive(Clone, Debug)]
pub struct VerifyOptions {
    /// Seconds of clock skew tolerated on `exp`, `iat` and the max age.
    pub leeway_secs: u64,
    /// Tokens longer than this many bytes are refused before decoding.
    pub max_token_len: usize,
    /// When `exp` is absent, `iat` may be at most this many seconds old.
    pub max_age_secs: u64,
    /// Accepted `aud` values; `None` accepts any audience.
    pub audiences: Option<HashSet<String>>,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            leeway_secs: DEFAULT_LEEWAY_SECS,
            max_token_len: DEFAULT_MAX_TOKEN_LEN,
            max_age_secs: DEFAULT_MAX_AGE_SECS,
            audiences: None,
        }
    }
}

impl VerifyOptions {
    /// Default options restricted to the given audiences.
    pub fn with_audiences<I, S>(audiences: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        VerifyOptions {
            audiences: Some(audiences.into_iter().map(Into::into).collect()),
            ..VerifyOptions::default()
        }
    }
}

/// A token that passed [`verify`]: its claims and the issuer's key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedToken {
    /// The verified claims.
    pub claims: Claims,
    /// The public key decoded from `iss`, which produced the signature.
    pub key: VerifyingKey,
    /// The `act` claim, if the token has one. Client-auth tokens have none;
    /// a token made for another action (a Notify `act`) must not be taken
    /// as one, so callers check it.
    pub act: Option<String>,
}
