//! `[webhooks]`: relay webhooks (`irn_watchRegister`) and the delivery of
//! their events.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct WebhooksConfig {
    /// Let webhook URLs point at loopback, private, link-local and other
    /// non-public addresses (for a relay and its services on one private
    /// network, or tests). Off: a client cannot make the relay call inside.
    pub allow_private_targets: bool,
    /// Registrations per client_id.
    pub max_per_client: usize,
    /// One event POST may take this long (connect, TLS, answer).
    pub timeout_ms: u64,
    /// An event that keeps failing (5xx, no connection) is retried with
    /// exponential backoff for this long, then dropped (and counted).
    pub retry_hours: u64,
    /// Event POSTs in flight, all webhooks together.
    pub concurrency: usize,
    /// Event POSTs in flight to one host.
    pub concurrency_per_host: usize,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        WebhooksConfig {
            allow_private_targets: false,
            max_per_client: 64,
            timeout_ms: 10_000,
            retry_hours: 24,
            concurrency: 32,
            concurrency_per_host: 4,
        }
    }
}
