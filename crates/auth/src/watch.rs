//! JWTs of relay webhooks: a client's `irn_watchRegister` and
//! `irn_watchUnregister` tokens, and the relay's `irn_watchEvent` tokens.
//!
//! A register token is signed by the watched client (its did:key is `iss`)
//! and names the relay (`aud`), the service (`sub`, a URL), the webhook the
//! events go to (`whu`, an http(s) URL of at most 256 characters), the kind
//! of watch (`typ`: the client's messages as `subscriber` or as
//! `publisher`), which tags and which statuses the service wants, and how
//! long the watch lasts (`exp`, at most 30 days ahead). An event token is
//! signed by the relay and carries one message and its status in `evt`.
//!
//! Every refusal is a [`Error::Watch`] whose [`WatchProblem`] is one of the
//! protocol's watch error tags, so the relay can answer it as is.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::jwt::{self, Fields};
use crate::{Error, Keypair, Result};

/// The longest a watch may be registered for.
pub const MAX_WATCH_TTL_SECS: i64 = 30 * 24 * 3600;
/// The longest webhook URL.
pub const MAX_WEBHOOK_URL_LEN: usize = 256;

/// `act` of a register token.
pub const ACT_REGISTER: &str = "irn_watchRegister";
/// `act` of an unregister token.
pub const ACT_UNREGISTER: &str = "irn_watchUnregister";
/// `act` of an event token.
pub const ACT_EVENT: &str = "irn_watchEvent";

/// Why a watch token was refused: the protocol's watch error tags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchProblem {
    /// `exp` is past, or more than 30 days ahead.
    Ttl,
    /// `sub` is not an http(s) URL.
    ServiceUrl,
    /// `whu` is not an http(s) URL, or too long.
    WebhookUrl,
    /// `act` is not the method's.
    Action,
    /// Anything else: structure, signature, audience, claim types.
    Jwt,
}

impl WatchProblem {
    /// The protocol's data tag.
    pub fn tag(self) -> &'static str {
        match self {
            WatchProblem::Ttl => "InvalidTtl",
            WatchProblem::ServiceUrl => "InvalidServiceUrl",
            WatchProblem::WebhookUrl => "InvalidWebhookUrl",
            WatchProblem::Action => "InvalidAction",
            WatchProblem::Jwt => "InvalidJwt",
        }
    }
}

fn refused(problem: WatchProblem, detail: impl Into<String>) -> Error {
    Error::Watch {
        problem,
        detail: detail.into(),
    }
}

/// Whose messages a watch is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WatchType {
    /// Messages stored for the client (it follows their topics).
    Subscriber,
    /// Messages the client publishes.
    Publisher,
}

/// What happened to a message, as an event reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WatchStatus {
    /// Stored by the relay.
    Accepted,
    /// Stored while the client had no socket: it waits in the mailbox.
    Queued,
    /// Pushed, fetched or receipted.
    Delivered,
}

/// A verified `irn_watchRegister` token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchRegistration {
    /// The watched client (the token's `iss`).
    pub client_id: String,
    /// Whose messages are watched.
    pub typ: WatchType,
    /// The service (`sub`): the `aud` of its events.
    pub service_url: String,
    /// Where events are POSTed (`whu`).
    pub webhook_url: String,
    /// Message tags the service wants (empty: all).
    pub tags: Vec<u32>,
    /// Statuses the service wants (empty: all).
    pub statuses: Vec<WatchStatus>,
    /// Unix seconds after which the watch is gone.
    pub expires_at: i64,
}

/// A verified `irn_watchUnregister` token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchRemoval {
    /// The watched client (`iss`).
    pub client_id: String,
    /// Whose messages were watched.
    pub typ: WatchType,
    /// The service (`sub`).
    pub service_url: String,
    /// The webhook (`whu`): with `service_url`, which watch to remove.
    pub webhook_url: String,
}

/// What the relay's checks of a client's watch token need.
pub struct WatchVerifier<'a> {
    /// The `aud` values that name this relay.
    pub audiences: &'a dyn Fn(&str) -> bool,
    /// The relay's clock, unix seconds.
    pub now_secs: u64,
    /// Longer tokens are refused before any parsing.
    pub max_token_len: usize,
}

impl WatchVerifier<'_> {
    /// Verifies an `irn_watchRegister` token.
    pub fn register(&self, token: &str) -> Result<WatchRegistration> {
        let payload = self.common(token, ACT_REGISTER)?;
        let f = Fields::new(&payload);
        let exp = f
            .req_i64("exp")
            .map_err(|e| refused(WatchProblem::Ttl, e.to_string()))?;
        let now = i64::try_from(self.now_secs).unwrap_or(i64::MAX);
        let leeway = jwt::DEFAULT_LEEWAY_SECS as i64;
        if exp <= now {
            return Err(refused(WatchProblem::Ttl, "exp is in the past"));
        }
        if exp > now.saturating_add(MAX_WATCH_TTL_SECS + leeway) {
            return Err(refused(WatchProblem::Ttl, "exp is more than 30 days ahead"));
        }
        let (typ, service_url, webhook_url) = common_claims(&payload)?;
        let tags: Vec<u32> = f
            .opt_typed("tag", "an array of u32")
            .map_err(jwt_problem)?
            .unwrap_or_default();
        let statuses: Vec<WatchStatus> = f
            .opt_typed("sts", "an array of accepted, queued, delivered")
            .map_err(jwt_problem)?
            .unwrap_or_default();
        Ok(WatchRegistration {
            client_id: f.req_str("iss").map_err(jwt_problem)?.to_owned(),
            typ,
            service_url,
            webhook_url,
            tags,
            statuses,
            expires_at: exp,
        })
    }

    /// Verifies an `irn_watchUnregister` token.
    pub fn unregister(&self, token: &str) -> Result<WatchRemoval> {
        let payload = self.common(token, ACT_UNREGISTER)?;
        let f = Fields::new(&payload);
        let exp = f.opt_i64("exp").map_err(jwt_problem)?;
        if let Some(exp) = exp {
            let now = i64::try_from(self.now_secs).unwrap_or(i64::MAX);
            if exp + (jwt::DEFAULT_LEEWAY_SECS as i64) < now {
                return Err(refused(WatchProblem::Ttl, "exp is in the past"));
            }
        }
        let (typ, service_url, webhook_url) = common_claims(&payload)?;
        Ok(WatchRemoval {
            client_id: f.req_str("iss").map_err(jwt_problem)?.to_owned(),
            typ,
            service_url,
            webhook_url,
        })
    }

    /// Signature, `act`, `aud` and `iat`: what every watch token needs.
    fn common(&self, token: &str, act: &str) -> Result<Map<String, Value>> {
        let (payload, _key) =
            jwt::verify_signature(token, self.max_token_len).map_err(jwt_problem)?;
        let f = Fields::new(&payload);
        let found = f
            .req_str("act")
            .map_err(|e| refused(WatchProblem::Action, e.to_string()))?;
        if found != act {
            return Err(refused(
                WatchProblem::Action,
                format!("act must be {act}, not {found}"),
            ));
        }
        let aud = f.req_str("aud").map_err(jwt_problem)?;
        if !(self.audiences)(aud) {
            return Err(refused(
                WatchProblem::Jwt,
                format!("aud {aud} is not this relay"),
            ));
        }
        let iat = f.req_i64("iat").map_err(jwt_problem)?;
        jwt::check_times(iat, None, self.now_secs, jwt::DEFAULT_LEEWAY_SECS, None)
            .map_err(jwt_problem)?;
        Ok(payload)
    }
}

fn jwt_problem(e: Error) -> Error {
    match e {
        Error::Watch { .. } => e,
        other => refused(WatchProblem::Jwt, other.to_string()),
    }
}

/// `typ`, `sub` and `whu`, checked.
fn common_claims(payload: &Map<String, Value>) -> Result<(WatchType, String, String)> {
    let f = Fields::new(payload);
    let typ: WatchType = f
        .opt_typed("typ", "subscriber or publisher")
        .map_err(jwt_problem)?
        .ok_or_else(|| refused(WatchProblem::Jwt, "typ is missing"))?;
    let sub = f
        .req_str("sub")
        .map_err(|e| refused(WatchProblem::ServiceUrl, e.to_string()))?;
    if !is_http_url(sub) {
        return Err(refused(
            WatchProblem::ServiceUrl,
            "sub must be an http(s) URL",
        ));
    }
    let whu = f
        .req_str("whu")
        .map_err(|e| refused(WatchProblem::WebhookUrl, e.to_string()))?;
    if whu.len() > MAX_WEBHOOK_URL_LEN {
        return Err(refused(
            WatchProblem::WebhookUrl,
            format!("whu is longer than {MAX_WEBHOOK_URL_LEN} characters"),
        ));
    }
    if !is_http_url(whu) {
        return Err(refused(
            WatchProblem::WebhookUrl,
            "whu must be an http(s) URL",
        ));
    }
    Ok((typ, sub.to_owned(), whu.to_owned()))
}

/// `http://` or `https://`, a non-empty host, and no whitespace or control
/// characters. (Whether the host may be called is the relay's decision.)
pub fn is_http_url(text: &str) -> bool {
    let Some(rest) = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
    else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    !host.is_empty()
        && !host.starts_with(':')
        && !text.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// The message an event is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WatchEventPayload {
    /// The relay's u64 id of the message (what receipts name).
    pub message_id: u64,
    /// What happened to it.
    pub status: WatchStatus,
    /// Its topic, 64 hex characters.
    pub topic: String,
    /// The message as published.
    pub message: String,
    /// The publisher's attestation, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation: Option<String>,
    /// Milliseconds since the epoch.
    pub published_at: u64,
    /// The publish's tag.
    pub tag: u32,
}

/// The claims of an `irn_watchEvent` token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchEventClaims {
    /// Always [`ACT_EVENT`].
    pub act: String,
    /// The relay id (the relay's did:key).
    pub iss: String,
    /// The service URL of the registration.
    pub aud: String,
    /// The watched client.
    pub sub: String,
    /// The registration's watch type.
    pub typ: WatchType,
    /// The registration's webhook URL.
    pub whu: String,
    /// Issued at, unix seconds.
    pub iat: i64,
    /// Expires at, unix seconds.
    pub exp: i64,
    /// The message and its status.
    pub evt: WatchEventPayload,
}

/// Signs an event as the relay; `claims.iss` must be the relay's did:key.
pub fn sign_event(relay: &Keypair, claims: &WatchEventClaims) -> Result<String> {
    if claims.iss != relay.did_key() || claims.act != ACT_EVENT {
        return Err(Error::IssuerMismatch);
    }
    Ok(jwt::sign_payload(relay, claims))
}

/// Verifies an event as a service does: signed by `relay_id`, for
/// `service_url`, not expired at `now_secs`.
pub fn verify_event(
    token: &str,
    relay_id: &str,
    service_url: &str,
    now_secs: u64,
) -> Result<WatchEventClaims> {
    let (payload, _key) = jwt::verify_signature(token, 64 * 1024).map_err(jwt_problem)?;
    let claims: WatchEventClaims = serde_json::from_value(Value::Object(payload))
        .map_err(|e| refused(WatchProblem::Jwt, e.to_string()))?;
    if claims.act != ACT_EVENT {
        return Err(refused(WatchProblem::Action, "not an irn_watchEvent"));
    }
    if claims.iss != relay_id {
        return Err(refused(WatchProblem::Jwt, "not signed by this relay"));
    }
    if claims.aud != service_url {
        return Err(refused(WatchProblem::Jwt, "not for this service"));
    }
    jwt::check_times(
        claims.iat,
        Some(claims.exp),
        now_secs,
        jwt::DEFAULT_LEEWAY_SECS,
        None,
    )
    .map_err(jwt_problem)?;
    Ok(claims)
}

#[cfg(test)]
mod tests;
