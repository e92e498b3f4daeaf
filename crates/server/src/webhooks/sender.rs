//! The sender: takes due events from the store's queue, signs each as the
//! relay and POSTs it (`{"eventAuth":[jwt]}`), with bounded concurrency in
//! total and per host. A 2xx or 4xx answer ends the event (a 4xx is the
//! service's refusal, which retrying would not change); a 5xx, a timeout
//! or a failed connection moves it later, with exponential backoff and
//! jitter, until `webhooks.retry_hours` after it was queued, when it is
//! dropped and counted. An event is removed from the queue only after its
//! answer, so a crash in between sends it again: services get at least
//! once, with the same `messageId`.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use hyper::body::Bytes;
use parking_lot::Mutex;
use relaybox_auth::watch::{sign_event, WatchEventClaims, WatchEventPayload, WatchType, ACT_EVENT};
use relaybox_store::{QueuedEvent, WatchStore};
use tokio::sync::Semaphore;

use super::target::{self, Target};
use crate::relay::Relay;

/// How often the queue is looked at when nothing wakes the sender.
const POLL: Duration = Duration::from_millis(500);
/// Events taken from the queue per look.
const BATCH: usize = 256;
/// An event's signature is valid this long after it is sent.
const EVENT_TTL_SECS: i64 = 3600;
/// The longest wait between two attempts.
const MAX_BACKOFF_MS: u64 = 3_600_000;

/// The wait before attempt `attempts + 1`: 1 s doubling, capped at an
/// hour, then 80-120 % of that.
pub fn backoff_ms(attempts: u32, jitter: f64) -> u64 {
    let base = 1000u64
        .saturating_mul(1u64 << attempts.min(22))
        .min(MAX_BACKOFF_MS);
    (base as f64 * (0.8 + 0.4 * jitter.clamp(0.0, 1.0))) as u64
}

/// Runs until shutdown.
pub async fn run(relay: Arc<Relay>) {
    let Some(store) = relay.webhooks.store().cloned() else {
        return;
    };
    let wake = relay.webhooks.wake();
    let token = relay.shutdown.token.clone();
    let cfg = relay.config.webhooks.clone();
    let total = Arc::new(Semaphore::new(cfg.concurrency));
    let hosts: Arc<DashMap<String, Arc<Semaphore>>> = Arc::default();
    let in_flight: Arc<Mutex<HashSet<u64>>> = Arc::default();
    loop {
        tokio::select! {
            _ = token.cancelled() => return,
            _ = wake.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
        // Take no more than can be sent now: a shared queue (Redis) hides
        // what it hands out from the other nodes for a while.
        let room = BATCH.min(total.available_permits());
        if room == 0 {
            continue;
        }
        let now = crate::now_ms();
        let due = match store.due(now, room).await {
            Ok(due) => due,
            Err(e) => {
                tracing::error!(error = %e, "reading the webhook queue failed");
                continue;
            }
        };
        crate::metrics::webhook_queue(
            store.queued(),
            due.first().map_or(0, |e| now.saturating_sub(e.queued_ms)),
        );
        for event in due {
            if !in_flight.lock().insert(event.id) {
                continue;
            }
            let Ok(permit) = total.clone().try_acquire_owned() else {
                in_flight.lock().remove(&event.id);
                break;
            };
            let host = Target::parse(&event.webhook_url)
                .map(|t| t.host)
                .unwrap_or_default();
            let per_host = hosts
                .entry(host)
                .or_insert_with(|| Arc::new(Semaphore::new(cfg.concurrency_per_host)))
                .clone();
            let (relay, store, in_flight) = (relay.clone(), store.clone(), in_flight.clone());
            relay.clone().shutdown.tracker.spawn(async move {
                let _permit = permit;
                if let Ok(_host) = per_host.acquire().await {
                    deliver(&relay, &*store, &event).await;
                }
                in_flight.lock().remove(&event.id);
            });
        }
    }
}

/// One attempt at one event, and what it leads to in the queue.
async fn deliver(relay: &Relay, store: &dyn WatchStore, event: &QueuedEvent) {
    let cfg = &relay.config.webhooks;
    let now = crate::now_ms();
    let outcome = attempt(relay, event).await;
    let result = match outcome {
        Ok(status) if status.is_success() || status.is_client_error() => {
            crate::metrics::webhook_sent(if status.is_success() {
                "ok"
            } else {
                "refused_4xx"
            });
            store.finish(event).await
        }
        failed => {
            let why = match failed {
                Ok(status) => format!("answered {status}"),
                Err(e) => e,
            };
            let give_up_at = event.queued_ms + cfg.retry_hours * 3_600_000;
            if now >= give_up_at {
                tracing::warn!(webhook = %event.webhook_url, %why, attempts = event.attempts + 1, "webhook event dropped after its retry period");
                crate::metrics::webhook_sent("dropped");
                store.finish(event).await
            } else {
                tracing::debug!(webhook = %event.webhook_url, %why, "webhook event will be retried");
                crate::metrics::webhook_sent("retried");
                let next = now + backoff_ms(event.attempts, rand::random::<f64>());
                store.retry(event, next.min(give_up_at)).await
            }
        }
    };
    if let Err(e) = result {
        tracing::error!(error = %e, "updating the webhook queue failed");
    }
}

async fn attempt(relay: &Relay, event: &QueuedEvent) -> Result<hyper::StatusCode, String> {
    let body: serde_json::Value =
        serde_json::from_str(&event.body).map_err(|e| format!("corrupt event: {e}"))?;
    let field = |k: &str| body[k].as_str().unwrap_or_default().to_owned();
    let typ: WatchType =
        serde_json::from_value(body["typ"].clone()).map_err(|e| format!("corrupt event: {e}"))?;
    let evt: WatchEventPayload =
        serde_json::from_value(body["evt"].clone()).map_err(|e| format!("corrupt event: {e}"))?;
    let iat = (crate::now_ms() / 1000) as i64;
    let claims = WatchEventClaims {
        act: ACT_EVENT.into(),
        iss: relay.identity.relay_id(),
        aud: field("aud"),
        sub: field("sub"),
        typ,
        whu: field("whu"),
        iat,
        exp: iat + EVENT_TTL_SECS,
        evt,
    };
    let jwt = sign_event(relay.identity.keypair(), &claims).map_err(|e| e.to_string())?;
    let payload = serde_json::json!({ "eventAuth": [jwt] }).to_string();
    let target = Target::parse(&event.webhook_url)?;
    let addrs = target
        .resolve(relay.config.webhooks.allow_private_targets)
        .await?;
    let timeout = Duration::from_millis(relay.config.webhooks.timeout_ms);
    target::post(&target, addrs[0], Bytes::from(payload), timeout).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_a_second_to_an_hour_with_jitter() {
        assert_eq!(backoff_ms(0, 0.5), 1000);
        assert_eq!(backoff_ms(3, 0.5), 8000);
        assert_eq!(backoff_ms(40, 0.5), MAX_BACKOFF_MS);
        assert_eq!(backoff_ms(0, 0.0), 800);
        assert_eq!(backoff_ms(0, 1.0), 1200);
    }
}
