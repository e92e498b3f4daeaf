//! Background expiry for attestation requests: deletes expired requests in
//! bounded batches, refreshes the status gauges, and prunes idle per-IP
//! rate-limit buckets. Reads also check expiry (410), so a slow sweep never
//! serves an expired request.

use std::sync::Arc;
use std::time::Duration;

use super::metrics;
use crate::relay::Relay;

/// Runs until shutdown.
pub async fn run(relay: Arc<Relay>) {
    let cfg = &relay.config.attest;
    let mut tick = tokio::time::interval(Duration::from_millis(cfg.sweep_interval_ms));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let store = relay.attest.store.clone();
    loop {
        tokio::select! {
            _ = relay.shutdown.token.cancelled() => return,
            _ = tick.tick() => {}
        }
        loop {
            match store.sweep_expired(crate::now_ms(), cfg.sweep_batch).await {
                Ok(n) => {
                    if n > 0 {
                        metrics::expired(n as u64);
                        tracing::debug!(deleted = n, "swept expired attestation requests");
                    }
                    if n < cfg.sweep_batch {
                        break;
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "attestation expiry sweep failed");
                    break;
                }
            }
            tokio::task::yield_now().await;
        }
        metrics::stats(store.stats());
        relay.attest.limiter.prune();
    }
}
