//! The admin calls about one client: its view, kick, and dropping its state.

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Response, StatusCode};
use relaybox_proto::Topic;
use serde_json::json;

use super::{position, store_unavailable};
use crate::http::json_response;
use crate::relay::Relay;

pub(super) fn kick(relay: &Relay, client: &str, code: &str) -> Response<Full<Bytes>> {
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

pub(super) async fn drop_state(relay: &Relay, client: &str) -> Response<Full<Bytes>> {
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

pub(super) async fn view(relay: &Relay, client: &str) -> Response<Full<Bytes>> {
    let topics = match relay.store.subscriptions(client).await {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "admin: reading subscriptions failed");
            return store_unavailable();
        }
    };
    let now = crate::now_ms();
    let mut subscriptions = Vec::with_capacity(topics.len());
    for key in topics {
        let pending = match position(relay, client, key, now).await {
            Ok(p) => p,
            Err(resp) => return resp,
        };
        subscriptions.push(json!({
            "topic": Topic::from_bytes(key.0).to_string(),
            "cursor": pending.cursor,
            "pending": pending.count,
            "pending_capped": pending.capped,
            "oldest_pending_age_secs": pending.oldest_ms.map(|o| now.saturating_sub(o) / 1000),
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
