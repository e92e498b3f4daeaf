//! "Never lose a message it has acknowledged", tested with a real crash:
//! a child process appends from several tasks, prints each seq only after
//! `sync()` returned, and is killed with SIGKILL mid-stream. Every printed
//! seq must be readable after reopening. (A process kill loses sled's
//! in-process buffers but not the OS page cache, so this checks that `sync`
//! really writes out; power-loss durability rests on the fsync inside it.)

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{msg, open, topic, ALICE, BOB};
use relaybox_disk::{DiskConfig, DiskStore};
use relaybox_store::MailboxStore;

const CHILD_ENV: &str = "RELAYBOX_STORE_CRASH_CHILD_DIR";

/// The child role; a no-op when run as an ordinary test.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let cfg = DiskConfig::new(dir);
        let store = DiskStore::open(cfg).unwrap();
        let tasks: Vec<_> = (0..8)
            .map(|w| {
                let store = store.clone();
                tokio::spawn(async move {
                    for i in 0..1_000_000u64 {
                        let t = topic((i % 4) as u8);
                        let a = store
                            .append(msg(t, &format!("w{w}-{i}"), ALICE, 3_600, 0))
                            .await
                            .unwrap();
                        store.sync().await.unwrap();
                        println!("ACK {} {}", t.0[0], a.message.seq);
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synced_messages_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acked = Vec::new();
    let started = Instant::now();
    while acked.len() < 300 && started.elapsed() < Duration::from_secs(60) {
        let Some(Ok(line)) = lines.next() else { break };
        if let Some(rest) = line.strip_prefix("ACK ") {
            let mut parts = rest.split(' ');
            let t: u8 = parts.next().unwrap().parse().unwrap();
            let seq: u64 = parts.next().unwrap().parse().unwrap();
            acked.push((t, seq));
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // Lines already in the pipe were also acknowledged before the kill.
    for line in lines.map_while(|l| l.ok()) {
        if let Some(rest) = line.strip_prefix("ACK ") {
            let mut parts = rest.split(' ');
            if let (Some(Ok(t)), Some(Ok(seq))) = (
                parts.next().map(str::parse::<u8>),
                parts.next().map(str::parse::<u64>),
            ) {
                acked.push((t, seq));
            }
        }
    }
    assert!(
        acked.len() >= 100,
        "child acknowledged only {} messages",
        acked.len()
    );

    let store = open(dir.path());
    let mut max_seen = 0;
    for t in 0..4u8 {
        let page = store
            .pending(BOB, topic(t), 0, usize::MAX, 0)
            .await
            .unwrap();
        let stored: std::collections::HashSet<u64> = page.messages.iter().map(|m| m.seq).collect();
        for &(_, seq) in acked.iter().filter(|(at, _)| *at == t) {
            assert!(
                stored.contains(&seq),
                "acknowledged seq {seq} lost on topic {t}"
            );
        }
        max_seen = max_seen.max(page.last_seq);
    }
    // And the sequence does not repeat after the crash.
    let next = store
        .append(msg(topic(0), "after-crash", ALICE, 60, 0))
        .await
        .unwrap();
    assert!(next.message.seq > max_seen);
    println!("{} acknowledged messages all survived SIGKILL", acked.len());
}
