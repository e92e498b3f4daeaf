//! Durable append throughput of the disk store: N tasks each append a
//! 256-byte message to one of 100 topics and wait for `sync()` (as a publish
//! does before it is answered), optionally acking it too, for 5 seconds.
//! Prints messages/s, group-commit flushes and bytes written per message.
//!
//! Run with: cargo run --release -p relaybox-disk --example append_sync -- [TASKS] [ack]

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use relaybox_disk::{DiskConfig, DiskStore};
use relaybox_store::{MailboxStore, NewMessage, TopicKey};

const SECONDS: u64 = 5;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Bytes this process has caused to be written to storage (/proc/self/io).
fn write_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("write_bytes:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let tasks: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(3200);
    let ack = args.next().as_deref() == Some("ack");
    let dir = tempfile::tempdir().expect("temp dir");
    let store = DiskStore::open(DiskConfig::new(dir.path().join("db"))).expect("open store");
    let end = Instant::now() + Duration::from_secs(SECONDS);
    let written_before = write_bytes();
    let mut handles = Vec::new();
    for t in 0..tasks {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            let topic = TopicKey([(t % 100) as u8; 32]);
            let mut n = 0u64;
            while Instant::now() < end {
                let msg = NewMessage {
                    topic,
                    message: Arc::from(format!("{t:06}-{n:010}-{}", "x".repeat(239))),
                    tag: 1,
                    ttl_secs: 300,
                    prompt: false,
                    attestation: None,
                    publisher: Arc::from("did:key:z6MkPublisher"),
                    published_at_ms: now_ms(),
                };
                let appended = store.append(msg).await.expect("append");
                store.sync().await.expect("sync");
                if ack {
                    let seq = [appended.message.seq];
                    store
                        .ack("did:key:z6MkReader", topic, &seq, now_ms())
                        .await
                        .expect("ack");
                }
                n += 1;
            }
            n
        }));
    }
    let mut total = 0;
    for h in handles {
        total += h.await.expect("task");
    }
    let written = write_bytes() - written_before;
    let stats = store.commit_stats();
    println!(
        "tasks {tasks}, ack {ack}: {} msgs/s durable, {} commits for {} syncs, {} bytes written per message",
        total / SECONDS,
        stats.commits,
        stats.syncs,
        written / total.max(1)
    );
    store.close().await.expect("close");
}
