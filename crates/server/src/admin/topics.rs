//! The admin calls about one topic: what it holds and who follows it, and
//! deleting its messages.

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Response, StatusCode};
use relaybox_store::{Error, TopicKey};
use serde_json::json;

use super::{position, store_unavailable};
use crate::http::json_response;
use crate::relay::Relay;

/// Subscribers listed per topic at most.
const MAX_SUBSCRIBERS: usize = 1_000;

fn bad_topic() -> Response<Full<Bytes>> {
    json_response(
        StatusCode::BAD_REQUEST,
        json!({ "error": "a topic is 64 hex characters" }),
    )
}

pub(super) async fn view(relay: &Relay, topic: &str) -> Response<Full<Bytes>> {
    let Some(key) = TopicKey::from_hex(topic) else {
        return bad_topic();
    };
    let now = crate::now_ms();
    let summary = match relay.store.topic_summary(key, now).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "admin: reading a topic failed");
            return store_unavailable();
        }
    };
    let (subscribers, note) = match relay
        .store
        .topic_subscribers(key, MAX_SUBSCRIBERS + 1)
        .await
    {
        Ok(s) => (s, None),
        Err(Error::Unsupported(why)) => (Vec::new(), Some(why)),
        Err(e) => {
            tracing::error!(error = %e, "admin: listing a topic's subscribers failed");
            return store_unavailable();
        }
    };
    let capped = subscribers.len() > MAX_SUBSCRIBERS;
    let mut listed = Vec::with_capacity(subscribers.len().min(MAX_SUBSCRIBERS));
    for client in subscribers.iter().take(MAX_SUBSCRIBERS) {
        let pending = match position(relay, client, key, now).await {
            Ok(p) => p,
            Err(resp) => return resp,
        };
        listed.push(json!({
            "client_id": client,
            "cursor": pending.cursor,
            "pending": pending.count,
            "pending_capped": pending.capped,
        }));
    }
    let age = |ms: Option<u64>| ms.map(|t| now.saturating_sub(t) / 1000);
    let in_secs = |ms: Option<u64>| ms.map(|t| t.saturating_sub(now) / 1000);
    json_response(
        StatusCode::OK,
        json!({
            "topic": key.to_hex(),
            "messages": summary.messages,
            "bytes": summary.bytes,
            "newest_seq": summary.newest_seq,
            "oldest_age_secs": age(summary.oldest_published_ms),
            "newest_age_secs": age(summary.newest_published_ms),
            "first_expiry_in_secs": in_secs(summary.first_expiry_ms),
            "last_expiry_in_secs": in_secs(summary.last_expiry_ms),
            "subscribers": listed,
            "subscribers_capped": capped,
            "subscribers_note": note,
        }),
    )
}

pub(super) async fn delete_messages(relay: &Relay, topic: &str) -> Response<Full<Bytes>> {
    let Some(key) = TopicKey::from_hex(topic) else {
        return bad_topic();
    };
    let deleted = match relay.store.delete_topic_messages(key).await {
        Ok(n) => n,
        Err(e) => {
            tracing::error!(error = %e, "admin: deleting a topic's messages failed");
            return store_unavailable();
        }
    };
    // The answer says "deleted" only once a restart cannot bring them back.
    if let Err(e) = relay.store.sync().await {
        tracing::error!(error = %e, "admin: committing a topic's deletion failed");
        return store_unavailable();
    }
    tracing::info!(topic = %key, deleted, "admin deleted a topic's messages");
    json_response(StatusCode::OK, json!({ "deleted": deleted }))
}
