//! Handshake checks and client authentication, as pure functions over the
//! request's headers and query so they can be tested without a socket.
//!
//! The token comes from `Authorization: Bearer` (native clients) or `?auth=`
//! (browsers cannot set headers); client_id is the JWT's `iss`.

use std::sync::Arc;

use hyper::header::{
    HeaderMap, AUTHORIZATION, CONNECTION, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION, UPGRADE,
};
use hyper::StatusCode;
use relaybox_auth::jwt::{self, VerifyOptions};

pub use crate::query::parse_query;
use crate::query::query_get;

/// An authenticated client.
#[derive(Clone, Debug)]
pub struct Authenticated {
    pub client_id: Arc<str>,
    pub project_id: Option<String>,
    /// The `ua` query parameter (SDK and platform), for operators.
    pub user_agent: Option<String>,
}

/// Why a handshake was refused, in the three forms clients see: an HTTP
/// status, the protocol's auth data tag and a human reason (also the close reason).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub status: StatusCode,
    pub tag: &'static str,
    pub reason: String,
}

impl Rejection {
    fn new(status: StatusCode, tag: &'static str, reason: impl Into<String>) -> Self {
        Rejection {
            status,
            tag,
            reason: reason.into(),
        }
    }
}

/// True if the client asked for auth failures as close code 3000 rather than HTTP errors.
pub fn wants_close_event(query: &[(String, String)]) -> bool {
    query_get(query, "useOnCloseEvent") == Some("true")
}

/// Validates the upgrade headers (RFC 6455 §4.2.1) and returns the client's key.
pub fn upgrade_key(headers: &HeaderMap) -> Result<&str, &'static str> {
    let has_token = |name, token: &str| {
        headers.get_all(name).iter().any(|v| {
            v.to_str()
                .map(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
                .unwrap_or(false)
        })
    };
    if !has_token(UPGRADE, "websocket") {
        return Err("missing Upgrade: websocket");
    }
    if !has_token(CONNECTION, "upgrade") {
        return Err("missing Connection: upgrade");
    }
    if headers.get(SEC_WEBSOCKET_VERSION).map(|v| v.as_bytes()) != Some(b"13") {
        return Err("Sec-WebSocket-Version must be 13");
    }
    let key = headers
        .get(SEC_WEBSOCKET_KEY)
        .and_then(|v| v.to_str().ok())
        .ok_or("missing Sec-WebSocket-Key")?;
    if key.len() != 24 {
        return Err("malformed Sec-WebSocket-Key");
    }
    Ok(key)
}

/// True if the request asks for a WebSocket upgrade at all.
pub fn is_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get(UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("websocket"))
}

/// [`authenticate`] with the relay's own settings, clock and token cache:
/// what a socket upgrade and `POST /rpc` both ask.
pub fn authenticate_client(
    relay: &crate::relay::Relay,
    headers: &HeaderMap,
    query: &[(String, String)],
) -> Result<Authenticated, Rejection> {
    authenticate(
        headers,
        query,
        &relay.verify,
        &relay.config.auth.project_ids,
        crate::now_ms() / 1000,
        Some(&relay.token_cache),
    )
}

/// Authenticates a handshake: project policy, then the JWT (from `cache`
/// when the same token verified before).
pub fn authenticate(
    headers: &HeaderMap,
    query: &[(String, String)],
    opts: &VerifyOptions,
    project_ids: &[String],
    now_secs: u64,
    cache: Option<&super::token_cache::TokenCache>,
) -> Result<Authenticated, Rejection> {
    let project_id = query_get(query, "projectId").filter(|p| !p.is_empty());
    if !project_ids.is_empty() {
        match project_id {
            None => {
                return Err(Rejection::new(
                    StatusCode::UNAUTHORIZED,
                    "ProjectIdNotSpecified",
                    "Project ID is missing",
                ))
            }
            Some(p) if !project_ids.iter().any(|allowed| allowed == p) => {
                return Err(Rejection::new(
                    StatusCode::UNAUTHORIZED,
                    "ProjectNotFound",
                    "Project not found",
                ))
            }
            Some(_) => {}
        }
    }
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
    let token = bearer
        .or_else(|| query_get(query, "auth"))
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Rejection::new(StatusCode::UNAUTHORIZED, "MissingJwt", "Missing JWT"))?;
    if let Some(client_id) = cache.and_then(|c| c.get(token, opts, now_secs)) {
        return Ok(Authenticated {
            client_id,
            project_id: project_id.map(str::to_owned),
            user_agent: user_agent(query),
        });
    }
    match jwt::verify(token, opts, now_secs) {
        // A token made for another action (a Notify act, say) signed by the
        // same key is not a client-auth token.
        Ok(verified) if verified.act.is_some() => Err(Rejection::new(
            StatusCode::FORBIDDEN,
            "InvalidJwt",
            "Invalid JWT: act_not_allowed (a client-auth token has no act)",
        )),
        Ok(verified) => {
            let client_id: Arc<str> = verified.claims.iss.into();
            if let Some(c) = cache {
                c.insert(
                    token,
                    client_id.clone(),
                    verified.claims.iat,
                    verified.claims.exp,
                );
            }
            Ok(Authenticated {
                client_id,
                project_id: project_id.map(str::to_owned),
                user_agent: user_agent(query),
            })
        }
        Err(e) => {
            let time_problem = matches!(
                e,
                relaybox_auth::Error::Expired { .. }
                    | relaybox_auth::Error::NotYetValid { .. }
                    | relaybox_auth::Error::TooOld { .. }
                    | relaybox_auth::Error::LifetimeTooLong { .. }
            );
            let status = if time_problem {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::FORBIDDEN
            };
            // A wallet with a skewed clock cannot tell why it is refused
            // unless the reason says what time the relay thinks it is.
            let reason = match e {
                relaybox_auth::Error::Expired { exp, .. } => format!(
                    "Invalid JWT: expired (exp {exp}, relay time {now_secs})"
                ),
                relaybox_auth::Error::NotYetValid { iat, .. } => format!(
                    "Invalid JWT: not_yet_valid (iat {iat}, relay time {now_secs}: clock {}s ahead)",
                    iat - now_secs as i64
                ),
                other => format!("Invalid JWT: {}", other.reason()),
            };
            Err(Rejection::new(status, "InvalidJwt", reason))
        }
    }
}

/// The `ua` parameter, cut to 128 characters (it is only shown).
fn user_agent(query: &[(String, String)]) -> Option<String> {
    query_get(query, "ua").map(|ua| ua.chars().take(128).collect())
}

#[cfg(test)]
mod tests;
