//! The Grafana dashboard and the Prometheus alert rules in deploy/ name
//! only metrics a freshly started relay exposes in /metrics.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;

/// Every `relaybox_…` metric name in `text`, histogram suffixes removed.
fn names_in(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(at) = text[i..].find("relaybox_") {
        let start = i + at;
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_lowercase() || bytes[end] == b'_') {
            end += 1;
        }
        let mut name = &text[start..end];
        for suffix in ["_bucket", "_sum", "_count"] {
            name = name.strip_suffix(suffix).unwrap_or(name);
        }
        out.insert(name.to_owned());
        i = end;
    }
    out
}

#[tokio::test]
async fn dashboards_and_alerts_use_existing_metrics() {
    let relay = TestRelay::start().await;
    // One request of each kind the histograms need, an error (error
    // series appear with the first one), and a store tick.
    let mut c = relay.new_client().await;
    c.publish(&topic(), "m").await;
    let _ = c
        .request("irn_subscribe", serde_json::json!({ "topic": "x" }))
        .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, _, metrics) = http(relay.addr(), "GET", "/metrics").await;
    let exposed = names_in(&metrics);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy");
    for file in ["grafana/relaybox.json", "prometheus/alerts.yml"] {
        let text = std::fs::read_to_string(root.join(file)).expect(file);
        let used = names_in(&text);
        assert!(!used.is_empty(), "{file} names no metric");
        let missing: Vec<_> = used.difference(&exposed).collect();
        assert!(
            missing.is_empty(),
            "{file} uses metrics /metrics lacks: {missing:?}"
        );
    }
}
