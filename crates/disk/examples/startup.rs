//! Start-up time of the disk store with many stored messages: appends N
//! messages of 256 bytes over 10,000 topics (durably, in batches), closes,
//! drops the page cache when allowed (root), then times `DiskStore::open`,
//! which reads every live segment once to rebuild the in-memory index.
//! Prints the open time, the log size and the process's resident memory.
//!
//! Run with: cargo run --release -p relaybox-disk --example startup -- [N] [DIR]

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use relaybox_disk::{DiskConfig, DiskStore};
use relaybox_store::{MailboxStore, NewMessage, TopicKey};

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn topic(i: u64) -> TopicKey {
    let mut t = [0u8; 32];
    t[..8].copy_from_slice(&(i % 10_000).to_be_bytes());
    TopicKey(t)
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let n: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let dir = match args.next() {
        Some(d) => std::path::PathBuf::from(d),
        None => std::env::temp_dir().join(format!("relaybox-startup-{}", std::process::id())),
    };
    let mut cfg = DiskConfig::new(&dir);
    cfg.max_messages_per_topic = 1 << 30;
    cfg.min_free_bytes = 0;
    let store = DiskStore::open(cfg.clone()).unwrap();
    let publisher: Arc<str> = "did:key:z6MkStartupBenchPublisher".into();
    let filler = "x".repeat(240);
    let started = Instant::now();
    for i in 0..n {
        store
            .append(NewMessage {
                topic: topic(i),
                message: format!("{i:016}{filler}").into(),
                tag: 1108,
                ttl_secs: 86_400,
                prompt: false,
                attestation: None,
                publisher: publisher.clone(),
                published_at_ms: now_ms(),
            })
            .await
            .unwrap();
        if i % 10_000 == 9_999 {
            store.sync().await.unwrap();
        }
    }
    store.sync().await.unwrap();
    println!(
        "appended {n} messages in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let (segments, bytes) = store.log_usage();
    store.close().await.unwrap();
    drop(store);
    // Cold cache where we may (root): the figure then includes disk reads.
    let dropped = std::fs::write("/proc/sys/vm/drop_caches", "3").is_ok();
    let rss_before = rss_mib();
    let started = Instant::now();
    let store = DiskStore::open(cfg).unwrap();
    let elapsed = started.elapsed();
    let stats = store.stats();
    println!(
        "open: {:.2} s for {} messages in {} topics ({segments} segments, {:.0} MiB of log, page cache {}), RSS {:.0} -> {:.0} MiB",
        elapsed.as_secs_f64(),
        stats.messages,
        stats.topics,
        bytes as f64 / (1024.0 * 1024.0),
        if dropped { "dropped" } else { "warm" },
        rss_before,
        rss_mib(),
    );
    store.close().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
