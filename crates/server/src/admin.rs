//! The admin API, served only on `server.admin_listen` and only with the
//! bearer token `server.admin_token` (without one configured, every call is
//! refused): what an operator needs when a wallet says it never got a
//! message.
//!
//! - `GET /admin/clients/<client_id>`: its subscriptions, for each topic
//!   how many messages are pending and how old the oldest is, and its open
//!   sockets on this node (remote address, since, user agent);
//! - `POST /admin/clients/<client_id>/kick?code=4010|1001`: closes them;
//! - `DELETE /admin/clients/<client_id>`: closes them (4010) and deletes
//!   the client's subscriptions and delivery positions (its messages stay
//!   for the topics' other subscribers);
//! - `GET /admin/stats`: the store's figures, sockets, free space.

use std::sync::Arc;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::AUTHORIZATION;
use hyper::{Method, Request, Response, StatusCode};
use relaybox_proto::Topic;
use serde_json::json;

use crate::http::json_response;
use crate::relay::Relay;

/// Pending messages counted per topic at most (a page at a time).
const MAX_COUNTED: usize = 10_000;

pub async fn handle(req: Request<Incoming>, relay: Arc<Relay>) -> Response<Full<Bytes>> {
    let token = &relay.config.server.admin_token;
    if token.is_empty() {
        return json_response(
            StatusCode::FORBIDDEN,
            json!({ "error": "the admin API is off: set server.admin_token" }),
        );
    }
    let given = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !same(given.as_bytes(), token.as_bytes()) {
        return json_response(
            StatusCode::UNAUTHORIZED,
            json!({ "error": "missing or wrong admin token" }),
        );
    }
    let path = req.uri().path().to_owned();
    let query = crate::query::parse_query(req.uri().query().unwrap_or(""));
    let parts: Vec<&str> = path.trim_start_matches("/admin/").split('/').collect();
    match (req.method(), parts.as_slice()) {
        (&Method::GET, ["stats"]) => stats(&relay).await,
        (&Method::GET, ["clients", client]) => client_view(&relay, client).await,
        (&Method::POST, ["clients", client, "kick"]) => {
            let code = crate::query::query_get(&query, "code").unwrap_or("4010");
            match code.parse::<u16>() {
                Ok(code @ (1001 | 4010)) => {
                    let closed = relay.sockets.kick(client, code);
                    json_response(StatusCode::OK, json!({ "closed": closed, "code": code }))
                }
                _ => json_response(
                    StatusCode::BAD_REQUEST,
                    json!({ "error": "code must be 4010 or 1001" }),
                ),
            }
        }
        (&Method::DELETE, ["clients", client]) => drop_client(&relay, client).await,
        _ => json_response(
            StatusCode::NOT_FOUND,
            json!({ "error": "no such admin call" }),
        ),
    }
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
    json_response(
        StatusCode::OK,
        json!({
            "messages": s.messages,
            "topics": s.topics,
            "subscriptions": s.subscriptions,
            "sockets": relay.sockets.count(),
            "store_healthy": healthy,
            "ready": relay.readiness.get() && healthy,
            "webhook_events_queued": relay.webhooks.store().map_or(0, |w| w.queued()),
        }),
    )
}

async fn drop_client(relay: &Relay, client: &str) -> Response<Full<Bytes>> {
    let closed = relay.sockets.kick(client, 4010);
    let topics = match relay.store.subscriptions(client).await {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "admin: reading subscriptions failed");
            return store_unavailable();
        }
    };
    if let Err(e) = relay.store.unsubscribe_many(client, &topics).await {
        tracing::error!(error = %e, "admin: deleting a client's state failed");
        return store_unavailable();
    }
    if let Err(e) = relay.store.sync().await {
        tracing::error!(error = %e, "admin: committing a client's deletion failed");
    }
    tracing::info!(
        client,
        topics = topics.len(),
        sockets = closed,
        "admin dropped a client's state"
    );
    json_response(
        StatusCode::OK,
        json!({ "closed": closed, "unsubscribed": topics.len() }),
    )
}

async fn client_view(relay: &Relay, client: &str) -> Response<Full<Bytes>> {
    let topics = match relay.store.subscriptions(client).await {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "admin: reading subscriptions failed");
            return store_unavailable();
        }
    };
    let now = crate::now_ms();
    let page = relay.config.limits.fetch_page;
    let mut subscriptions = Vec::with_capacity(topics.len());
    for key in topics {
        let (mut pending, mut oldest, mut after, mut capped) = (0usize, None::<u64>, 0u64, false);
        loop {
            match relay.store.pending(client, key, after, page, now).await {
                Ok(got) => {
                    for m in &got.messages {
                        pending += 1;
                        oldest =
                            Some(oldest.map_or(m.published_at_ms, |o| o.min(m.published_at_ms)));
                        after = after.max(m.seq);
                    }
                    if pending >= MAX_COUNTED {
                        capped = got.has_more;
                        break;
                    }
                    if !got.has_more || got.messages.is_empty() {
                        break;
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "admin: reading pending messages failed");
                    break;
                }
            }
        }
        subscriptions.push(json!({
            "topic": Topic::from_bytes(key.0).to_string(),
            "pending": pending,
            "pending_capped": capped,
            "oldest_pending_age_secs": oldest.map(|o| now.saturating_sub(o) / 1000),
        }));
    }
    json_response(
        StatusCode::OK,
        json!({
            "client_id": client,
            "subscriptions": subscriptions,
            "sockets": relay.sockets.of_client(client),
        }),
    )
}
