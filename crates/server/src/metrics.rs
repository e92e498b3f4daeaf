//! Metric names and the Prometheus recorder. Labels stay low-cardinality:
//! method names, error codes and outcomes, never topics or client ids.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder once (several in-process servers in tests share it).
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Suffix("_seconds".into()),
                    &[
                        0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025,
                        0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                    ],
                )
                .expect("static bucket list is not empty")
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (embedding); then ours just renders nothing.
            let _ = metrics::set_global_recorder(recorder);
            register_at_zero();
            handle
        })
        .clone()
}

/// The series dashboards and alerts (deploy/) rely on exist from the
/// start, at zero, rather than appearing with their first event: a rate or
/// an alert over a series that does not exist yet says nothing.
fn register_at_zero() {
    for name in [
        "relaybox_acks_total",
        "relaybox_slow_consumer_disconnects_total",
        "relaybox_storage_full_refusals_total",
        "relaybox_expired_messages_total",
        "relaybox_webhook_events_queued_total",
    ] {
        counter!(name).absolute(0);
    }
    counter!("relaybox_connections_total", "result" => "accepted").absolute(0);
    counter!("relaybox_publishes_total", "outcome" => "stored").absolute(0);
    counter!("relaybox_deliveries_total", "kind" => "live").absolute(0);
    counter!("relaybox_webhook_events_total", "outcome" => "ok").absolute(0);
    counter!("relaybox_webhook_events_total", "outcome" => "dropped").absolute(0);
    counter!("relaybox_http_rpc_total", "outcome" => "ok").absolute(0);
    for name in [
        "relaybox_connections",
        "relaybox_ready",
        "relaybox_webhook_queue_depth",
        "relaybox_webhook_queue_oldest_age_seconds",
    ] {
        gauge!(name).set(0.0);
    }
}

/// Whether the relay takes clients and its store answers (what `/ready`
/// says), for alerting.
pub fn ready(ready: bool) {
    gauge!("relaybox_ready").set(if ready { 1.0 } else { 0.0 });
}

pub fn connection_opened() {
    gauge!("relaybox_connections").increment(1.0);
    counter!("relaybox_connections_total", "result" => "accepted").increment(1);
}

pub fn connection_closed() {
    gauge!("relaybox_connections").decrement(1.0);
}

pub fn connection_rejected(reason: &'static str) {
    counter!("relaybox_connections_total", "result" => reason).increment(1);
}

/// One `POST /rpc`, by outcome (`ok`, `auth`, `bad_body`, `not_a_request`).
pub fn http_rpc(outcome: &'static str) {
    counter!("relaybox_http_rpc_total", "outcome" => outcome).increment(1);
}

/// A webhook registration change (`registered`, `unregistered`).
pub fn webhook_registration(change: &'static str) {
    counter!("relaybox_webhook_registrations_total", "change" => change).increment(1);
}

/// Webhook events queued.
pub fn webhook_events_queued(n: u64) {
    counter!("relaybox_webhook_events_queued_total").increment(n);
}

/// One webhook event attempt's outcome (`ok`, `refused_4xx`, `retried`,
/// `dropped`).
pub fn webhook_sent(outcome: &'static str) {
    counter!("relaybox_webhook_events_total", "outcome" => outcome).increment(1);
}

/// The webhook queue: events waiting, and how long the oldest due one has.
pub fn webhook_queue(depth: u64, oldest_age_ms: u64) {
    gauge!("relaybox_webhook_queue_depth").set(depth as f64);
    gauge!("relaybox_webhook_queue_oldest_age_seconds").set(oldest_age_ms as f64 / 1000.0);
}

pub fn published(duplicate: bool) {
    let outcome = if duplicate { "duplicate" } else { "stored" };
    counter!("relaybox_publishes_total", "outcome" => outcome).increment(1);
}

pub fn delivered(kind: &'static str, n: u64) {
    counter!("relaybox_deliveries_total", "kind" => kind).increment(n);
}

pub fn acked(n: u64) {
    counter!("relaybox_acks_total").increment(n);
}

pub fn rpc(method: &'static str, elapsed: Duration) {
    histogram!("relaybox_rpc_duration_seconds", "method" => method).record(elapsed.as_secs_f64());
}

pub fn rpc_error(code: i32) {
    counter!("relaybox_rpc_errors_total", "code" => code.to_string()).increment(1);
}

pub fn store_sync(elapsed: Duration) {
    histogram!("relaybox_store_sync_seconds").record(elapsed.as_secs_f64());
}

pub fn slow_consumer() {
    counter!("relaybox_slow_consumer_disconnects_total").increment(1);
}

/// A publish refused because the store's disk budget or reserve is reached.
pub fn storage_full() {
    counter!("relaybox_storage_full_refusals_total").increment(1);
}

/// Clients whose subscriptions and positions were deleted as idle.
pub fn idle_clients_swept(n: u64) {
    counter!("relaybox_idle_clients_swept_total").increment(n);
}

pub fn expired(n: u64) {
    counter!("relaybox_expired_messages_total").increment(n);
}

pub fn store_stats(messages: u64, topics: u64, subscriptions: u64, hub_topics: usize) {
    gauge!("relaybox_mailbox_messages").set(messages as f64);
    gauge!("relaybox_mailbox_topics").set(topics as f64);
    gauge!("relaybox_subscriptions").set(subscriptions as f64);
    gauge!("relaybox_hub_topics").set(hub_topics as f64);
}
