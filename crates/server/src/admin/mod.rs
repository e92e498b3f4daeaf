//! The admin API, served only on `server.admin_listen` and only with the
//! bearer token `server.admin_token` (without one configured, every call is
//! refused): what an operator needs when a wallet says it never got a
//! message.
//!
//! - `GET /admin/clients/<client_id>`: its subscriptions, for each topic
//!   its cursor, how many messages are pending and how old the oldest is,
//!   and its open sockets on this node (remote address, since, user agent,
//!   unacknowledged pushes);
//! - `POST /admin/clients/<client_id>/kick?code=4010|1001`: closes them;
//! - `DELETE /admin/clients/<client_id>`: closes them (4010) and deletes
//!   the client's subscriptions and delivery positions (its messages stay
//!   for the topics' other subscribers);
//! - `GET /admin/topics/<topic>`: its live messages (count, bytes,
//!   oldest/newest, expiry) and its subscribers with their positions;
//! - `DELETE /admin/topics/<topic>/messages`: deletes its messages for
//!   every subscriber;
//! - `GET /admin/export`: the snapshot `relaybox export` writes, streamed;
//! - `GET /admin/stats`: the store's figures (messages, topics,
//!   subscriptions, bytes used, free space and budget, live messages by
//!   when they expire), sockets, readiness.

mod clients;
mod topics;

use std::sync::Arc;

use http_body_util::combinators::BoxBody;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::AUTHORIZATION;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::json;

use crate::http::{boxed, json_response};
use crate::relay::Relay;

/// Pending messages counted per (client, topic) at most (a page at a time).
const MAX_COUNTED: usize = 10_000;

/// The body of an admin answer: JSON, or the export's stream.
pub type AdminBody = BoxBody<Bytes, std::io::Error>;

pub async fn handle(req: Request<Incoming>, relay: Arc<Relay>) -> Response<AdminBody> {
    let token = &relay.config.server.admin_token;
    if token.is_empty() {
        return boxed(json_response(
            StatusCode::FORBIDDEN,
            json!({ "error": "the admin API is off: set server.admin_token" }),
        ));
    }
    let given = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !same(given.as_bytes(), token.as_bytes()) {
        return boxed(json_response(
            StatusCode::UNAUTHORIZED,
            json!({ "error": "missing or wrong admin token" }),
        ));
    }
    let path = req.uri().path().to_owned();
    let query = crate::query::parse_query(req.uri().query().unwrap_or(""));
    let parts: Vec<&str> = path.trim_start_matches("/admin/").split('/').collect();
    if let (&Method::GET, ["export"]) = (req.method(), parts.as_slice()) {
        return crate::export::http_stream(relay);
    }
    boxed(match (req.method(), parts.as_slice()) {
        (&Method::GET, ["stats"]) => stats(&relay).await,
        (&Method::GET, ["clients", client]) => clients::view(&relay, client).await,
        (&Method::POST, ["clients", client, "kick"]) => {
            let code = crate::query::query_get(&query, "code").unwrap_or("4010");
            clients::kick(&relay, client, code)
        }
        (&Method::DELETE, ["clients", client]) => clients::drop_state(&relay, client).await,
        (&Method::GET, ["topics", topic]) => topics::view(&relay, topic).await,
        (&Method::DELETE, ["topics", topic, "messages"]) => {
            topics::delete_messages(&relay, topic).await
        }
        _ => json_response(
            StatusCode::NOT_FOUND,
            json!({ "error": "no such admin call" }),
        ),
    })
}

fn store_unavailable() -> Response<Full<Bytes>> {
    json_response(
        StatusCode::SERVICE_UNAVAILABLE,
        json!({ "error": "the store did not answer" }),
    )
}

/// Constant-time comparison (the token is a secret).
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn stats(relay: &Relay) -> Response<Full<Bytes>> {
    let s = relay.store.stats();
    let healthy = relay.store.health().await.is_ok();
    let usage = match relay.store.usage(crate::now_ms()).await {
        Ok(u) => u,
        Err(e) => {
            tracing::error!(error = %e, "admin: reading the store's usage failed");
            return store_unavailable();
        }
    };
    let expiring = usage.expiring.map(|e| {
        json!({
            "within_hour": e.within_hour,
            "within_day": e.within_day,
            "within_week": e.within_week,
            "later": e.later,
        })
    });
    json_response(
        StatusCode::OK,
        json!({
            "messages": s.messages,
            "topics": s.topics,
            "subscriptions": s.subscriptions,
            "store_bytes": usage.bytes,
            "free_bytes": usage.free_bytes,
            "budget_bytes": usage.budget_bytes,
            "messages_expiring": expiring,
            "sockets": relay.sockets.count(),
            "store_healthy": healthy,
            "ready": relay.readiness.get() && healthy,
            "webhook_events_queued": relay.webhooks.store().map_or(0, |w| w.queued()),
        }),
    )
}

/// Where `client` stands in `topic`: its cursor, how many messages are
/// pending (at most [`MAX_COUNTED`]; `capped` when more are), and the
/// oldest pending one's publish time.
pub(super) struct Position {
    pub cursor: u64,
    pub count: usize,
    pub capped: bool,
    pub oldest_ms: Option<u64>,
}

/// [`Position`] of `client` in `topic`; a store error is logged and
/// becomes the 503 answer.
pub(super) async fn position(
    relay: &Relay,
    client: &str,
    topic: relaybox_store::TopicKey,
    now: u64,
) -> Result<Position, Response<Full<Bytes>>> {
    match tokio::try_join!(
        count_pending(relay, client, topic, now),
        relay.store.cursor(client, topic)
    ) {
        Ok((mut position, cursor)) => {
            position.cursor = cursor;
            Ok(position)
        }
        Err(e) => {
            tracing::error!(error = %e, "admin: reading a client's position failed");
            Err(store_unavailable())
        }
    }
}

async fn count_pending(
    relay: &Relay,
    client: &str,
    topic: relaybox_store::TopicKey,
    now: u64,
) -> relaybox_store::Result<Position> {
    let page = relay.config.limits.fetch_page;
    let mut out = Position {
        cursor: 0,
        count: 0,
        capped: false,
        oldest_ms: None,
    };
    let mut after = 0u64;
    loop {
        let got = relay.store.pending(client, topic, after, page, now).await?;
        for m in &got.messages {
            out.count += 1;
            out.oldest_ms = Some(
                out.oldest_ms
                    .map_or(m.published_at_ms, |o| o.min(m.published_at_ms)),
            );
            after = after.max(m.seq);
        }
        if out.count >= MAX_COUNTED {
            out.capped = got.has_more;
            return Ok(out);
        }
        if !got.has_more || got.messages.is_empty() {
            return Ok(out);
        }
    }
}
