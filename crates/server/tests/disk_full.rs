//! A full disk is refused before it happens, reported, and recovered from.
//!
//! The relay's data directory is a 64 MiB tmpfs that a "ballast" file
//! half fills. Publishes of 512 KiB are acknowledged until the free-space
//! reserve is reached; then they get `-32000 StorageFull` (never a `true`
//! that was not stored, never a dead store), `/ready` answers 503, and
//! every acknowledged message can still be fetched. Once the ballast is
//! deleted the relay is ready again by itself and takes publishes, and
//! after a `kill -9` everything acknowledged is still there.
//!
//! Mounting needs root (CI runs as root); elsewhere the test is skipped
//! with the reason printed.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

/// A tmpfs mounted for the test, unmounted on drop.
struct Mount {
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Mount {
    fn tmpfs(size_mb: u64) -> Result<Mount, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mb}m"), "tmpfs"])
            .arg(dir.path())
            .output()
            .map_err(|e| format!("running mount: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
        }
        Ok(Mount {
            path: dir.path().to_path_buf(),
            _dir: dir,
        })
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.path)
            .status();
    }
}

fn ballast(path: &Path, mb: usize) {
    std::fs::write(path, vec![0x5au8; mb * 1024 * 1024]).unwrap();
}

async fn ready(relay: &TestRelay) -> u16 {
    http(relay.addr(), "GET", "/ready").await.0
}

/// Fetches every message of `topic` as a fresh client; returns the bodies.
async fn fetch_all(relay: &TestRelay, topic: &str) -> Vec<String> {
    let mut c = relay.new_client().await;
    let mut out = Vec::new();
    loop {
        let page = c
            .request("irn_fetchMessages", json!({ "topic": topic }))
            .await
            .expect("fetch");
        for m in page["messages"].as_array().unwrap() {
            out.push(m["message"].as_str().unwrap().to_owned());
        }
        if page["hasMore"] != json!(true) {
            return out;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_refused_reported_and_recovered() {
    let mount = match Mount::tmpfs(64) {
        Ok(m) => m,
        Err(why) => {
            eprintln!("SKIPPED: cannot mount a small tmpfs here ({why})");
            return;
        }
    };
    let ballast_file = mount.path.join("ballast");
    ballast(&ballast_file, 24);
    let mut relay = TestRelay::builder()
        .data_dir(mount.path.join("data"))
        .env("RELAYBOX_STORE_MIN_FREE_MB", "8")
        .env("RELAYBOX_STORE_SEGMENT_MB", "4")
        .env("RELAYBOX_LIMITS_MAX_MESSAGE_BYTES", "1048576")
        .env("RELAYBOX_LIMITS_MAX_FRAME_BYTES", "2097152")
        .env("RELAYBOX_LIMITS_PAGE_BYTES", "4194304")
        // Half-megabyte publishes back to back: not what this test is about.
        .env("RELAYBOX_RATE_LIMIT_REQUESTS_PER_SEC", "0")
        .env("RELAYBOX_RATE_LIMIT_REQUESTS_PER_SEC_PER_IP", "0")
        .start()
        .await;
    assert_eq!(ready(&relay).await, 200);

    let t = topic();
    let mut publisher = relay.new_client().await;
    let mut acked = Vec::new();
    let refusal = loop {
        let body = format!("{:06}{}", acked.len(), "x".repeat(512 * 1024));
        match publisher
            .request("irn_publish", publish_params(&t, &body, 3_600))
            .await
        {
            Ok(v) => {
                assert_eq!(v, json!(true));
                acked.push(body);
                assert!(
                    acked.len() < 200,
                    "never refused: the disk limit does not hold"
                );
            }
            Err(e) => break e,
        }
    };
    assert_eq!(code_tag(&refusal), (-32000, "StorageFull".to_string()));
    assert!(
        acked.len() >= 20,
        "refused too early: {} accepted",
        acked.len()
    );
    assert_eq!(ready(&relay).await, 503, "not ready while full");
    // Small writes that replies depend on still work: the reserve protects sled.
    publisher.subscribe(&topic()).await;
    assert_eq!(
        fetch_all(&relay, &t).await,
        acked,
        "acknowledged messages survive"
    );

    // Space returns: ready again by itself, publishes accepted.
    std::fs::remove_file(&ballast_file).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while ready(&relay).await != 200 {
        assert!(
            Instant::now() < deadline,
            "still not ready after space returned"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let body = format!("{:06}{}", acked.len(), "y".repeat(1024));
    publisher.publish(&t, &body).await;
    acked.push(body);
    publisher.close().await;

    relay.restart().await;
    assert_eq!(
        fetch_all(&relay, &t).await,
        acked,
        "nothing acknowledged lost"
    );
    relay.kill9().await;
    drop(mount);
}
