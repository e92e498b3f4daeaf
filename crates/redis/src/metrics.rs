//! The backend's metrics. Labels stay low-cardinality: operation and script
//! names and fixed reasons, never topics or client ids.

use std::time::Duration;

use metrics::{counter, histogram};

use crate::error::Error;

/// One Redis round trip (command or script) and how long it took.
pub(crate) fn round_trip(op: &'static str, elapsed: Duration) {
    histogram!("relaybox_redis_roundtrip_seconds", "op" => op).record(elapsed.as_secs_f64());
}

/// A failed round trip; script failures (a Lua error) also count apart.
pub(crate) fn error(op: &'static str, e: &Error) {
    let kind = match e {
        Error::Timeout(_) => "timeout",
        Error::Redis(r) if r.is_io_error() || r.is_connection_dropped() => "connection",
        Error::Redis(r) if matches!(r.kind(), redis::ErrorKind::Server(_)) => {
            counter!("relaybox_redis_script_errors_total", "op" => op).increment(1);
            "server"
        }
        _ => "other",
    };
    counter!("relaybox_redis_errors_total", "op" => op, "kind" => kind).increment(1);
}

/// One ack script call made by the ack flusher (each carries every seq a
/// (client, topic) pair acked in the interval).
pub(crate) fn ack_flush() {
    counter!("relaybox_redis_ack_flushes_total").increment(1);
}

/// A wake-up whose `prev_seq` did not continue the previous one this node
/// saw for the topic (the connections re-read the store).
pub(crate) fn gap() {
    counter!("relaybox_redis_wakeup_gaps_total").increment(1);
}

/// Connections told to re-read topics from the store, by reason
/// (`disconnect`, `subscribed`, `failed_read`).
pub(crate) fn resync(reason: &'static str, topics: u64) {
    counter!("relaybox_redis_resyncs_total", "reason" => reason).increment(topics);
}

/// Wake-ups received from Redis pub/sub.
pub(crate) fn wakeup() {
    counter!("relaybox_redis_wakeups_total").increment(1);
}

/// Whether this node's pub/sub connection is up (1) or down (0).
pub(crate) fn pubsub_up(up: bool) {
    metrics::gauge!("relaybox_redis_pubsub_connected").set(if up { 1.0 } else { 0.0 });
}
