//! Relay webhooks: services register (`irn_watchRegister`) to be told what
//! happens to a client's messages, and the relay POSTs them signed events.
//!
//! [`Webhooks`] owns the registrations' store and the wake-up of the
//! sender. Events are built here and queued in the store: `accepted` or
//! `queued` (no socket of the client is open) when a message is stored
//! for a watched subscriber or published by a watched publisher, before the
//! publish is acknowledged; `delivered` when a message is pushed, fetched or
//! receipted. [`sender`] sends them; [`target`] is the HTTP side.

pub mod sender;
pub mod target;

use std::sync::Arc;

use relaybox_auth::watch::{WatchProblem, WatchVerifier};
use relaybox_proto::{message_id, ErrorData, ErrorKind, Topic};
use relaybox_store::{QueuedEvent, StoredMessage, Watch, WatchStore};
use serde_json::json;
use tokio::sync::Notify;

use crate::relay::Relay;

/// Owner of the webhook store and of the sender's wake-up.
pub struct Webhooks {
    store: Option<Arc<dyn WatchStore>>,
    wake: Arc<Notify>,
}

fn watch_error(problem: WatchProblem, detail: &str) -> ErrorData {
    let kind = match problem {
        WatchProblem::Ttl => ErrorKind::WatchInvalidTtl,
        WatchProblem::ServiceUrl => ErrorKind::WatchInvalidServiceUrl,
        WatchProblem::WebhookUrl => ErrorKind::WatchInvalidWebhookUrl,
        WatchProblem::Action => ErrorKind::WatchInvalidAction,
        WatchProblem::Jwt => ErrorKind::WatchInvalidJwt,
    };
    kind.to_error_data(Some(detail))
}

fn store_error(e: relaybox_store::Error) -> ErrorData {
    match e {
        relaybox_store::Error::WatchLimit => ErrorKind::HandlerUnknown.to_error_data(Some(
            "this client has the most webhook registrations it may",
        )),
        other => {
            tracing::error!(error = %other, "webhook store failed");
            ErrorKind::StorageError.to_error_data(None)
        }
    }
}

impl Webhooks {
    pub fn new(store: Option<Arc<dyn WatchStore>>) -> Webhooks {
        Webhooks {
            store,
            wake: Arc::new(Notify::new()),
        }
    }

    /// Whether `client` has any registration (memory only).
    pub fn watched(&self, client: &str) -> bool {
        self.store
            .as_ref()
            .is_some_and(|s| s.cache().is_watched(client))
    }

    pub(crate) fn store(&self) -> Option<&Arc<dyn WatchStore>> {
        self.store.as_ref()
    }

    pub(crate) fn wake(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    fn enabled(&self) -> Result<&Arc<dyn WatchStore>, ErrorData> {
        self.store.as_ref().ok_or_else(|| {
            ErrorKind::InvalidMethod.to_error_data(Some("webhooks are not available on this relay"))
        })
    }
}

/// Runs `check` with this relay's watch-token verifier (its audiences, its
/// clock) and turns a refusal into the protocol's watch error.
fn verify<T>(
    relay: &Relay,
    check: impl FnOnce(&WatchVerifier<'_>) -> relaybox_auth::Result<T>,
) -> Result<T, ErrorData> {
    let audiences = |aud: &str| {
        relay
            .verify
            .audiences
            .as_ref()
            .is_none_or(|s| s.contains(aud))
    };
    let verifier = WatchVerifier {
        audiences: &audiences,
        now_secs: crate::now_ms() / 1000,
        max_token_len: relay.config.auth.max_token_bytes,
    };
    check(&verifier).map_err(|e| match e {
        relaybox_auth::Error::Watch { problem, detail } => watch_error(problem, &detail),
        other => watch_error(WatchProblem::Jwt, &other.to_string()),
    })
}

/// `irn_watchRegister`: verifies the token, checks the webhook target and
/// stores the registration; returns the relay id. Durable once the caller's
/// group commit returns.
pub async fn register(relay: &Relay, token: &str) -> Result<String, ErrorData> {
    let store = relay.webhooks.enabled()?;
    let reg = verify(relay, |v| v.register(token))?;
    let target = target::Target::parse(&reg.webhook_url)
        .map_err(|e| watch_error(WatchProblem::WebhookUrl, &e))?;
    target
        .check_literal(relay.config.webhooks.allow_private_targets)
        .map_err(|e| watch_error(WatchProblem::WebhookUrl, &e))?;
    let watch = Watch {
        client_id: reg.client_id,
        typ: serde_json::to_value(reg.typ)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        service_url: reg.service_url,
        webhook_url: reg.webhook_url,
        tags: reg.tags,
        statuses: reg
            .statuses
            .iter()
            .filter_map(|s| serde_json::to_value(s).ok()?.as_str().map(str::to_owned))
            .collect(),
        expires_at: reg.expires_at,
    };
    store
        .put_watch(watch, relay.config.webhooks.max_per_client)
        .await
        .map_err(store_error)?;
    crate::metrics::webhook_registration("registered");
    Ok(relay.identity.relay_id())
}

/// `irn_watchUnregister`: removes the named registration (no error if it
/// was already gone).
pub async fn unregister(relay: &Relay, token: &str) -> Result<(), ErrorData> {
    let store = relay.webhooks.enabled()?;
    let removal = verify(relay, |v| v.unregister(token))?;
    store
        .remove_watch(
            &removal.client_id,
            &removal.service_url,
            &removal.webhook_url,
        )
        .await
        .map_err(store_error)?;
    crate::metrics::webhook_registration("unregistered");
    Ok(())
}

/// One event for `watch` about `m`.
fn event(watch: &Watch, m: &StoredMessage, status: &str, now_ms: u64) -> QueuedEvent {
    let topic = Topic::from_bytes(m.topic.0);
    let mut evt = json!({
        "messageId": message_id(&topic, m.seq),
        "status": status,
        "topic": topic.to_string(),
        "message": &*m.message,
        "publishedAt": m.published_at_ms,
        "tag": m.tag,
    });
    if let Some(a) = &m.attestation {
        evt["attestation"] = json!(&**a);
    }
    let body = json!({
        "aud": watch.service_url,
        "sub": watch.client_id,
        "typ": watch.typ,
        "whu": watch.webhook_url,
        "evt": evt,
    });
    QueuedEvent {
        id: 0,
        due_ms: now_ms,
        queued_ms: now_ms,
        attempts: 0,
        webhook_url: watch.webhook_url.clone(),
        body: body.to_string(),
    }
}

/// Queues the events of a freshly stored message; returns whether any was
/// queued (the publish must then wait for the state's commit too).
pub async fn on_published(relay: &Relay, m: &StoredMessage) -> relaybox_store::Result<bool> {
    let Some(store) = relay.webhooks.store() else {
        return Ok(false);
    };
    let now = crate::now_ms();
    let secs = (now / 1000) as i64;
    let mut events = Vec::new();
    for w in store.cache().watches(&m.publisher) {
        if w.typ == "publisher" && w.wants(m.tag, "accepted", secs) {
            events.push(event(&w, m, "accepted", now));
        }
    }
    for client in store.cache().watched_clients("subscriber") {
        if *client == *m.publisher {
            continue;
        }
        let follows = relay.store.is_subscribed(&client, m.topic).await?;
        if !follows {
            continue;
        }
        let status = if relay.admission.sockets_of(&client) > 0 {
            "accepted"
        } else {
            "queued"
        };
        for w in store.cache().watches(&client) {
            if w.typ == "subscriber" && w.wants(m.tag, status, secs) {
                events.push(event(&w, m, status, now));
            }
        }
    }
    if events.is_empty() {
        return Ok(false);
    }
    let n = events.len() as u64;
    store.enqueue(events).await?;
    crate::metrics::webhook_events_queued(n);
    relay.webhooks.wake.notify_one();
    Ok(true)
}

/// Queues `delivered` events for messages pushed, fetched or receipted by
/// `client`. Best effort: a failure is logged, the delivery stands.
pub async fn on_delivered(relay: &Relay, client: &str, messages: &[Arc<StoredMessage>]) {
    let Some(store) = relay.webhooks.store() else {
        return;
    };
    let watches: Vec<Watch> = store
        .cache()
        .watches(client)
        .into_iter()
        .filter(|w| w.typ == "subscriber")
        .collect();
    if watches.is_empty() {
        return;
    }
    let now = crate::now_ms();
    let secs = (now / 1000) as i64;
    let events: Vec<QueuedEvent> = messages
        .iter()
        .flat_map(|m| {
            watches
                .iter()
                .filter(|w| w.wants(m.tag, "delivered", secs))
                .map(move |w| event(w, m, "delivered", now))
        })
        .collect();
    if events.is_empty() {
        return;
    }
    let n = events.len() as u64;
    match store.enqueue(events).await {
        Ok(()) => {
            crate::metrics::webhook_events_queued(n);
            relay.webhooks.wake.notify_one();
        }
        Err(e) => tracing::error!(error = %e, "queueing delivered events failed"),
    }
}
