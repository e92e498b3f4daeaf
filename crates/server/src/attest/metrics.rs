//! Metrics of the attestation relay. Labels are fixed small sets (route,
//! status code, outcome), never request ids or app identities.

use metrics::{counter, gauge};
use relaybox_store::AttestStats;

/// Stored requests by status (expired ones not yet swept included).
pub fn stats(s: AttestStats) {
    gauge!("relaybox_attest_requests", "status" => "pending").set(s.pending as f64);
    gauge!("relaybox_attest_requests", "status" => "approved").set(s.approved as f64);
    gauge!("relaybox_attest_requests", "status" => "denied").set(s.denied as f64);
}

/// Requests deleted by one sweep.
pub fn expired(n: u64) {
    counter!("relaybox_attest_expired_total").increment(n);
}

/// One answered HTTP request.
pub fn response(route: &'static str, status: u16) {
    counter!("relaybox_attest_http_responses_total", "route" => route, "code" => status.to_string())
        .increment(1);
}

/// One topic push attempt (`pushed` or `error`).
pub fn pushed(outcome: &'static str) {
    counter!("relaybox_attest_topic_pushes_total", "outcome" => outcome).increment(1);
}
