//! Topic push: a request that names a `relay_topic` is also published into
//! that WalletConnect topic's mailbox, exactly as `irn_publish` stores a
//! message, so a wallet connected to the relay gets it at once instead of at
//! its next poll. Best effort: the request is already stored and the
//! polling flow works regardless, so a failed push is logged, not returned.

use std::sync::Arc;

use relaybox_store::{AttestationRecord, NewMessage, Status};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::relay::Relay;

/// Tag of pushed attestation requests, so wallets can tell them apart.
pub const TAG: u32 = 4400;
/// The `publisher` client id recorded for pushes (never a real did:key).
pub const PUBLISHER: &str = "relaybox:attest";

/// The pushed message: the request as the listing shows it, plus a type.
#[derive(Serialize)]
struct Pushed<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    request_id: &'a str,
    app_identity: &'a str,
    auth_request: &'a RawValue,
    expires_at: u64,
    status: &'static str,
}

/// The message text pushed for `record`, or `None` if its auth_request is not JSON.
pub fn message(record: &AttestationRecord) -> Option<String> {
    let r = &record.request;
    let auth_request: Box<RawValue> = RawValue::from_string(r.auth_request.clone()).ok()?;
    serde_json::to_string(&Pushed {
        kind: "relaybox_attest_request",
        request_id: &r.request_id,
        app_identity: &r.app_identity,
        auth_request: &auth_request,
        expires_at: r.expires_at_ms,
        status: Status::Pending.as_str(),
    })
    .ok()
}

/// Publishes a new pending request to its relay topic, flushed before return.
pub async fn push(relay: &Relay, record: &AttestationRecord, now_ms: u64) {
    let Some(topic) = record.request.relay_topic else {
        return;
    };
    debug_assert_eq!(record.status, Status::Pending);
    let Some(text) = message(record) else {
        tracing::error!("stored auth_request is not JSON; not pushing");
        return;
    };
    // The message lives as long as the request, within the relay's TTL bounds.
    let remaining_secs = record
        .request
        .expires_at_ms
        .saturating_sub(now_ms)
        .div_ceil(1000);
    let ttl_secs = u32::try_from(remaining_secs)
        .unwrap_or(u32::MAX)
        .clamp(relay.limits.ttl_min, relay.limits.ttl_max);
    let msg = NewMessage {
        topic,
        message: Arc::from(text),
        tag: TAG,
        ttl_secs,
        prompt: true,
        attestation: None,
        publisher: Arc::from(PUBLISHER),
        published_at_ms: now_ms,
    };
    let outcome = match relay.store_and_wake(msg).await {
        Ok(stored) => match if stored.events_queued {
            relay.store.sync().await
        } else {
            relay.store.sync_messages().await
        } {
            Ok(()) => "pushed",
            Err(e) => {
                tracing::error!(error = %e, "flushing an attestation push failed");
                "error"
            }
        },
        Err(e) => {
            tracing::warn!(error = %e, %topic, "attestation push to relay topic failed");
            "error"
        }
    };
    super::metrics::pushed(outcome);
}
