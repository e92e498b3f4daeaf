//! JWTs of the WalletConnect Notify protocol.
//!
//! Every Notify RPC carries an `auth` JWT whose `act` claim states the
//! message's purpose, whose `sub` is the account (`did:pkh`) and whose `app`
//! is the dapp (`did:web`). The signature layer is the same as relay auth
//! ([`crate::jwt::verify_signature`]); on top of it this module checks the
//! act, the claims each act requires, the DID syntaxes and the time window.
//!
//! Expired tokens are reported as [`Error::Expired`] and nothing else, since
//! the protocol says a receiver must silently ignore them (the relay TTL and
//! the JWT lifetime race); every other failure is a real error. `exp` is
//! not required to equal `iat` + TTL on input, because senders compute
//! their clocks independently; tokens built here always satisfy it.

mod acts;
mod claims;
mod types;
mod wire;

pub use acts::NotifyAct;
pub use claims::{NotifyClaims, NotifyClaimsBuilder, DEFAULT_MJV, MAX_IDS, MAX_LMT, MAX_SDK_LEN};
pub use types::{NotifyMessage, NotifyServerSubscription};

use crate::jwt::{self, check_times, Fields};
use crate::{Error, Keypair, Result};

/// Clock-skew allowance for Notify tokens, the same as for relay auth.
pub const LEEWAY_SECS: u64 = jwt::DEFAULT_LEEWAY_SECS;

/// Reads the claims of an `act` token from a JSON object (a token's
/// payload, or the claims a tool was given), checking claim types and DID
/// syntax; [`NotifyClaims::validate`] then checks the act's rules.
pub fn claims_from_json(
    payload: &serde_json::Map<String, serde_json::Value>,
    act: NotifyAct,
) -> Result<NotifyClaims> {
    wire::from_payload(payload, act)
}

/// Validates `claims` and signs them.
///
/// Fails with [`Error::IssuerMismatch`] when `claims.iss` is not the
/// keypair's did:key (such a token could never verify), or with the
/// validation error when the act's required claims are missing.
pub fn sign(keypair: &Keypair, claims: &NotifyClaims) -> Result<String> {
    if claims.iss != keypair.did_key() {
        return Err(Error::IssuerMismatch);
    }
    claims.validate()?;
    Ok(jwt::sign_payload(keypair, claims))
}

/// Verifies a Notify JWT expected to carry act `expected`, at time
/// `now_secs`, refusing tokens longer than `max_len` bytes.
///
/// Checks in order: signature layer, `act` (unknown, or not `expected`),
/// claim types and DID syntax (`sub` did:pkh, `app` did:web), per-act
/// required claims and limits (`mjv`, `sdk` ≤ 16, ...), then time.
pub fn verify(
    token: &str,
    expected: NotifyAct,
    now_secs: u64,
    max_len: usize,
) -> Result<NotifyClaims> {
    let (payload, _key) = jwt::verify_signature(token, max_len)?;
    let act = NotifyAct::parse(Fields::new(&payload).req_str("act")?)?;
    if act != expected {
        return Err(Error::NotifyActMismatch {
            expected: expected.as_str(),
            found: act.as_str().to_owned(),
        });
    }
    let claims = wire::from_payload(&payload, act)?;
    claims.validate()?;
    check_times(claims.iat, Some(claims.exp), now_secs, LEEWAY_SECS, None)?;
    Ok(claims)
}
