//! Background expiry: deletes messages past their TTL so storage stays bounded.
//! Delivery paths also check expiry, so a slow sweep never delivers a dead message.

use std::sync::Arc;
use std::time::Duration;

use crate::relay::Relay;

/// Deletes the state of clients not seen for `store.client_idle_secs`.
async fn sweep_idle_clients(relay: &Relay, batch: usize) {
    let idle_ms = relay.config.store.client_idle_secs * 1000;
    let before = crate::now_ms().saturating_sub(idle_ms);
    match relay.store.sweep_idle_clients(before, batch).await {
        Ok(0) => {}
        Ok(n) => {
            crate::metrics::idle_clients_swept(n as u64);
            tracing::debug!(clients = n, "swept idle clients' state");
        }
        Err(e) => tracing::error!(error = %e, "idle-client sweep failed"),
    }
}

/// Runs until shutdown; each tick deletes expired messages in bounded batches.
pub async fn run(relay: Arc<Relay>) {
    let mut tick =
        tokio::time::interval(Duration::from_millis(relay.config.store.sweep_interval_ms));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let batch = relay.config.store.sweep_batch;
    loop {
        tokio::select! {
            _ = relay.shutdown.token.cancelled() => return,
            _ = tick.tick() => {}
        }
        loop {
            match relay.store.sweep_expired(crate::now_ms(), batch).await {
                Ok(n) => {
                    if n > 0 {
                        crate::metrics::expired(n as u64);
                        tracing::debug!(deleted = n, "swept expired messages");
                    }
                    if n < batch {
                        break;
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "expiry sweep failed");
                    break;
                }
            }
            tokio::task::yield_now().await;
        }
        relay.rate_limiter.prune();
        relay.ip_rate_limiter.prune();
        relay.admission.prune();
        sweep_idle_clients(&relay, batch).await;
        if let Some(watches) = relay.webhooks.store() {
            // Registrations end with their JWT.
            match watches.sweep_watches((crate::now_ms() / 1000) as i64).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(removed = n, "expired webhook registrations"),
                Err(e) => tracing::error!(error = %e, "sweeping webhook registrations failed"),
            }
        }
        let store_ok = relay.store.health().await.is_ok();
        crate::metrics::ready(relay.readiness.get() && store_ok);
        let stats = relay.store.stats();
        crate::metrics::store_stats(
            stats.messages,
            stats.topics,
            stats.subscriptions,
            relay.hub.topics(),
        );
    }
}
