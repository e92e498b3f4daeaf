//! "Answered only after fsync", proven by syscall order: the relay runs
//! under `strace -f -y` and the test checks, in the trace, that
//! - the reply to `irn_subscribe` is written after an `fdatasync` of sled's
//!   log file that follows the previous reply (or start-up);
//! - the reply to `irn_publish` (256 B and 100 KiB) is written after the
//!   `fdatasync` of the segment file the message went to, and after the
//!   `fsync` of the log directory that made the new file's name durable.
//!
//! Each publish uses a TTL no other message uses, so its segment file is
//! created by it alone and its sync cannot be an earlier commit's.
//! Skipped with a message where strace is missing (the test command
//! installs it).

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use relaybox_auth::Keypair;
use serde_json::{json, Value};

/// One syscall from the trace: where it starts and where it completes.
#[derive(Debug)]
struct Call {
    name: String,
    start: usize,
    end: usize,
    text: String,
}

/// Parses `strace -f` output, joining `<unfinished ...>` / `resumed` pairs.
fn parse(trace: &str) -> Vec<Call> {
    let mut calls: Vec<Call> = Vec::new();
    let mut open: std::collections::HashMap<String, usize> = Default::default();
    for (i, line) in trace.lines().enumerate() {
        let (pid, rest) = line.split_once(' ').unwrap_or(("", line));
        let rest = rest.trim_start();
        if let Some(resumed) = rest.strip_prefix("<... ") {
            if let Some(&at) = open.get(pid) {
                calls[at].end = i;
                calls[at].text.push_str(resumed);
                open.remove(pid);
            }
            continue;
        }
        let Some(paren) = rest.find('(') else {
            continue;
        };
        let name = rest[..paren].to_string();
        calls.push(Call {
            name,
            start: i,
            end: i,
            text: rest.to_string(),
        });
        if rest.ends_with("<unfinished ...>") {
            open.insert(pid.to_string(), calls.len() - 1);
        }
    }
    calls
}

fn is_write(c: &Call) -> bool {
    matches!(c.name.as_str(), "write" | "writev" | "sendto" | "sendmsg")
}

/// The first socket write whose text contains `needle` (a reply frame).
fn reply<'a>(calls: &'a [Call], needle: &str) -> &'a Call {
    calls
        .iter()
        .find(|c| is_write(c) && c.text.contains("socket:") && c.text.contains(needle))
        .unwrap_or_else(|| {
            panic!(
                "no reply containing {needle} in the trace:\n{}",
                calls
                    .iter()
                    .filter(|c| is_write(c))
                    .map(|c| c.text.as_str())
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        })
}

/// Asserts a successful `name` call on a file whose path contains `path`
/// completed after line `after` and before line `before`.
fn synced_between(calls: &[Call], name: &str, path: &str, after: usize, before: usize) {
    let ok = calls.iter().any(|c| {
        c.name == name
            && c.text.contains(path)
            && c.text.trim_end().ends_with("= 0")
            && c.start > after
            && c.end < before
    });
    assert!(
        ok,
        "no successful {name} on *{path}* between trace lines {after} and {before}"
    );
}

fn strace_available() -> bool {
    std::process::Command::new("strace")
        .arg("-V")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

async fn publish_with_id(c: &mut TestClient, id: u64, topic: &str, message: &str, ttl: u32) {
    let frame = json!({
        "id": id, "jsonrpc": "2.0", "method": "irn_publish",
        "params": publish_params(topic, message, ttl),
    });
    let reply: Value = c.call(frame).await;
    assert_eq!(reply["result"], json!(true), "{reply}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_are_written_after_fdatasync() {
    if !strace_available() {
        eprintln!("SKIPPED: strace is not installed (the test command installs it with apt-get)");
        return;
    }
    let trace_dir = tempfile::tempdir().unwrap();
    let trace_file = trace_dir.path().join("trace");
    let trace_arg = trace_file.to_str().unwrap().to_string();
    let mut relay = TestRelay::builder()
        .wrapper(&[
            "strace",
            "-f",
            "-y",
            "-s",
            "256",
            "-e",
            "trace=fdatasync,fsync,write,writev,sendto,sendmsg",
            "-o",
            &trace_arg,
        ])
        .start()
        .await;

    let kp = Keypair::generate();
    let mut c = relay.client(&kp).await;
    let t = topic();
    let sub = c
        .call(json!({"id": 7_100_000_001u64, "jsonrpc": "2.0", "method": "irn_subscribe", "params": {"topic": t}}))
        .await;
    assert!(sub["result"].is_string(), "{sub}");
    publish_with_id(&mut c, 7_100_000_002, &topic(), "small message", 4_321).await;
    let big = "b".repeat(100 * 1024);
    publish_with_id(&mut c, 7_100_000_003, &topic(), &big, 54_321).await;
    c.close().await;
    stop_traced(&mut relay).await;

    let trace = std::fs::read_to_string(&trace_file).unwrap();
    let calls = parse(&trace);
    let started = calls
        .iter()
        .find(|c| is_write(c) && c.text.contains("RELAYBOX_LISTEN="))
        .expect("start-up line in the trace")
        .end;
    let r_sub = reply(&calls, "7100000001").start;
    let r_small = reply(&calls, "7100000002").start;
    let r_big = reply(&calls, "7100000003").start;
    assert!(started < r_sub && r_sub < r_small && r_small < r_big);

    synced_between(&calls, "fdatasync", "relay.sled/db>", started, r_sub);
    let small_seg = segment_of(relay.data_dir().join("log").as_path(), 4_321);
    let big_seg = segment_of(relay.data_dir().join("log").as_path(), 54_321);
    synced_between(&calls, "fdatasync", &small_seg, r_sub, r_small);
    synced_between(&calls, "fsync", "/log>", r_sub, r_small);
    synced_between(&calls, "fdatasync", &big_seg, r_small, r_big);
}

/// The file name of the segment holding the message with `ttl_secs`: each
/// test message has its own TTL, hence its own bucket and file.
fn segment_of(log_dir: &Path, ttl_secs: u64) -> String {
    let mut names: Vec<(u64, String)> = std::fs::read_dir(log_dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            let end = name.strip_suffix(".seg")?.split_once('-')?.1;
            Some((u64::from_str_radix(end, 16).ok()?, name))
        })
        .collect();
    names.sort();
    // Bucket ends grow with the TTL: the small TTL's file ends first.
    let idx = if ttl_secs < 10_000 {
        0
    } else {
        names.len() - 1
    };
    assert_eq!(names.len(), 2, "expected two segments: {names:?}");
    names[idx].1.clone()
}

/// SIGTERM to the traced relay (strace's child), then wait for strace.
async fn stop_traced(relay: &mut TestRelay) {
    let strace = relay.pid();
    let children = std::fs::read_to_string(format!("/proc/{strace}/task/{strace}/children"))
        .unwrap_or_default();
    for pid in children.split_whitespace() {
        if let Ok(pid) = pid.parse::<i32>() {
            // SAFETY: kill(2) on the relay process strace started for this test.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
    }
    relay.wait_exit(Duration::from_secs(20)).await;
}
