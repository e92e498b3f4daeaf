//! Attack test on kernel memory: a client flooding a socket the relay has
//! stopped reading (after a refusal) must not make the relay's kernel hold
//! more than a bounded receive buffer for it.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;

/// The relay-side receive queue of every established connection to `port`
/// (bytes, from /proc/net/tcp and tcp6).
fn relay_rx_queues(port: u16) -> Vec<u64> {
    let mut out = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let local_port = f[1]
                .rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            // 01 = ESTABLISHED; tx_queue:rx_queue in hex.
            if local_port == Some(port) && f[3] == "01" {
                let rx = f[4].split(':').nth(1).unwrap();
                out.push(u64::from_str_radix(rx, 16).unwrap());
            }
        }
    }
    out
}

/// A client that keeps sending while its socket is left unread (paused
/// after a refusal) fills only a bounded kernel receive buffer on the
/// relay: a thousand such clients must not push the machine into TCP
/// memory pressure. (Receive autotuning grows a buffer only with what the
/// relay reads, so on Linux this holds even without
/// `websocket.recv_buffer_bytes`; the cap keeps it for a client that first
/// earned a large window. The test states the bound either way.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_flood_fills_only_a_bounded_receive_buffer() {
    let relay = TestRelay::with_env(&[
        ("RELAYBOX_RATE_LIMIT_REQUESTS_PER_SEC", "1"),
        ("RELAYBOX_RATE_LIMIT_BURST", "10"),
        ("RELAYBOX_LIMITS_MAX_BATCH", "10"),
    ])
    .await;
    let mut c = relay.new_client().await;
    let big = "x".repeat(16 * 1024);
    let frame = json!({"id": 1, "jsonrpc": "2.0", "method": "irn_publish",
        "params": {"topic": topic(), "message": big, "ttl": 300, "tag": 1}})
    .to_string();
    // Send 8 MiB, or until the relay's window closes and sending blocks.
    let _ = tokio::time::timeout(Duration::from_secs(3), async {
        for _ in 0..512 {
            c.raw_send(&frame).await;
        }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let queued = relay_rx_queues(relay.port());
    assert!(!queued.is_empty(), "the connection is in /proc/net/tcp");
    let most = *queued.iter().max().unwrap();
    // 64 KiB set, doubled by the kernel, plus its per-packet slack.
    assert!(
        most <= 256 * 1024,
        "{most} bytes wait in the relay's receive queue"
    );
}
