//! `relaybox export` and `relaybox import` against the real binary: a relay
//! with known state (messages, a partly acknowledged subscriber, an offline
//! one, attestation requests, the relay key) is exported, imported into a
//! fresh sled store and into Redis, and every client then receives exactly
//! what it receives from a copy of the original: the same pushes, byte for
//! byte, in the same order. Plus the online export over the admin API.

mod cluster_support;
mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use cluster_support::{skip, RedisServer};
use common::*;
use relaybox_auth::Keypair;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "an-admin-token-for-tests";
const ATTEST: &str = "/api/mwen/relay";

/// Runs `relaybox <args>` with only `env` as its RELAYBOX_* settings;
/// returns stdout, panicking with stderr on failure.
fn tool(args: &[&str], env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_relaybox"));
    for (k, _) in std::env::vars() {
        if k.starts_with("RELAYBOX_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd
        .args(args)
        .envs(env.iter().copied())
        .env("RUST_LOG", "warn")
        .output()
        .expect("run relaybox");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "relaybox {args:?} failed: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

/// `relaybox <args>` that must fail; returns its stderr.
fn tool_fails(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_relaybox"))
        .args(args)
        .output()
        .expect("run relaybox");
    assert!(!out.status.success(), "relaybox {args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

async fn post(addr: SocketAddr, path: &str, body: &Value) -> u16 {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let body = body.to_string();
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf);
    text.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// What each client receives on connecting: every push's `data`, as the
/// relay wrote it, in arrival order per topic; plus the relay key and the
/// attestation requests' states.
async fn observe(relay: &TestRelay, clients: &[&Keypair], requests: &[&str]) -> Vec<String> {
    let mut seen = Vec::new();
    for kp in clients {
        let mut c = relay.client(kp).await;
        let pushes = c.drain_pushes(Duration::from_millis(800), WAIT).await;
        let mut by_topic: Vec<(String, String)> = pushes
            .iter()
            .map(|p| (p["data"]["topic"].to_string(), p["data"].to_string()))
            .collect();
        // Order within a topic is the relay's promise; across topics not.
        by_topic.sort_by(|a, b| a.0.cmp(&b.0));
        seen.push(format!("{} pushes {}", kp.did_key(), by_topic.len()));
        seen.extend(by_topic.into_iter().map(|(_, data)| data));
        c.close().await;
    }
    let (_, _, key) = http(relay.addr(), "GET", "/public-key").await;
    seen.push(format!("relay key {key}"));
    for id in requests {
        let (status, _, body) = http(relay.addr(), "GET", &format!("{ATTEST}/{id}")).await;
        seen.push(format!("attestation {id} {status} {body}"));
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_then_import_into_sled_and_redis_delivers_the_same() {
    let port = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap().port()
    };
    let admin = format!("127.0.0.1:{port}");
    let mut source = TestRelay::with_env(&[
        ("RELAYBOX_SERVER_ADMIN_LISTEN", &admin),
        ("RELAYBOX_SERVER_ADMIN_TOKEN", TOKEN),
    ])
    .await;

    // Known state: Alice follows two topics and has acknowledged the first
    // three messages of one; Bob follows one and never read.
    let (alice, bob) = (Keypair::generate(), Keypair::generate());
    let (t1, t2) = (topic(), topic());
    let mut a = source.client(&alice).await;
    a.subscribe(&t1).await;
    a.subscribe(&t2).await;
    a.close().await;
    let mut b = source.client(&bob).await;
    b.subscribe(&t1).await;
    b.close().await;
    let mut p = source.new_client().await;
    for i in 0..5 {
        p.publish(&t1, &format!("one-{i}")).await;
    }
    for i in 0..3 {
        p.publish(&t2, &format!("two-{i}")).await;
    }
    p.close().await;
    let mut a = source.client(&alice).await;
    a.auto_ack = false;
    let (mut acked, mut seen) = (0, 0);
    while seen < 8 {
        let push = a.next_push_frame(WAIT).await.expect("all eight pushes");
        seen += 1;
        if push["params"]["data"]["topic"] == json!(t1) && acked < 3 {
            a.ack(&push["id"]).await;
            acked += 1;
        }
    }
    assert_eq!(acked, 3);
    // The acks are written with the next position flush.
    tokio::time::sleep(Duration::from_millis(300)).await;
    a.close().await;
    // Two attestation requests, one answered.
    let (r1, r2) = ("export-test-request-0001", "export-test-request-0002");
    for id in [r1, r2] {
        let body = json!({ "request_id": id, "app_identity": "https://app.example", "auth_request": { "n": id } });
        assert_eq!(
            post(source.addr(), ATTEST, &body).await,
            200,
            "{}",
            source.log()
        );
    }
    let ack = json!({ "request_id": r2, "credential": "eyJ.cred.sig" });
    assert_eq!(
        post(source.addr(), &format!("{ATTEST}/ack"), &ack).await,
        200
    );
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Online: the admin API streams a whole export while the relay serves.
    let dir = tempfile::tempdir().unwrap();
    let online = dir.path().join("online.ndjson.gz");
    let url = format!("http://{admin}");
    tool(
        &[
            "export",
            "--url",
            &url,
            "--token",
            TOKEN,
            "--out",
            online.to_str().unwrap(),
        ],
        &[],
    );
    let wrong = tool_fails(&[
        "export",
        "--url",
        &url,
        "--token",
        "wrong-token-000000",
        "--out",
        "/dev/null",
    ]);
    assert!(wrong.contains("401"), "{wrong}");

    // Offline, from the stopped relay's data dir; a copy of which shows
    // what the clients are owed.
    source.sigterm();
    source.wait_exit(WAIT).await;
    let file = dir.path().join("relay.ndjson.gz");
    let src_dir = source.data_dir();
    let out = tool(
        &[
            "export",
            "--data-dir",
            src_dir.to_str().unwrap(),
            "--out",
            file.to_str().unwrap(),
        ],
        &[],
    );
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["report"]["messages"], 8, "{out}");
    assert_eq!(report["report"]["subscriptions"], 3, "{out}");
    assert_eq!(report["report"]["attestations"], 2, "{out}");
    let mode = std::fs::metadata(&file).unwrap().permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600
    );
    assert!(!PathBuf::from(format!("{}.partial", file.display())).exists());

    let copy = dir.path().join("copy");
    copy_dir(&src_dir, &copy);
    let original = TestRelay::builder().data_dir(copy).start().await;
    let expected = observe(&original, &[&alice, &bob], &[r1, r2]).await;
    // Alice: t1 past her three acks, all of t2; Bob: all of t1.
    let mut messages: Vec<String> = expected
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|d| d["message"].as_str().unwrap().to_owned())
        .collect();
    messages.sort();
    let mut want = [
        "one-3", "one-4", "two-0", "two-1", "two-2", "one-0", "one-1", "one-2", "one-3", "one-4",
    ];
    want.sort();
    assert_eq!(messages, want, "{expected:?}");
    drop(original);

    // sled -> sled, from both files.
    for (name, f) in [("offline", &file), ("online", &online)] {
        let target = dir.path().join(format!("sled-{name}"));
        let out = tool(
            &[
                "import",
                f.to_str().unwrap(),
                "--data-dir",
                target.to_str().unwrap(),
            ],
            &[],
        );
        assert!(out.contains("\"over_limit\":0"), "{out}");
        let relay = TestRelay::builder().data_dir(target).start().await;
        assert_eq!(
            observe(&relay, &[&alice, &bob], &[r1, r2]).await,
            expected,
            "sled import ({name})"
        );
    }

    // sled -> Redis: the documented move into cluster mode.
    if skip() {
        return;
    }
    let redis = RedisServer::start();
    let redis_url = redis.url();
    let env = [
        ("RELAYBOX_STORE_BACKEND", "redis"),
        ("RELAYBOX_STORE_REDIS_URL", redis_url.as_str()),
    ];
    let out = tool(&["import", file.to_str().unwrap()], &env);
    assert!(out.contains("imported"), "{out}");
    // Importing again changes nothing (every message is a duplicate).
    let again = tool(&["import", file.to_str().unwrap()], &env);
    assert!(
        again.contains("\"duplicates\":8") && again.contains("\"messages\":0"),
        "{again}"
    );
    let node = cluster_support::node(&redis_url, &[]).await;
    assert_eq!(
        observe(&node, &[&alice, &bob], &[r1, r2]).await,
        expected,
        "redis import"
    );

    // And back: an export from Redis holds the same.
    let back = dir.path().join("from-redis.ndjson.gz");
    tool(&["export", "--out", back.to_str().unwrap()], &env);
    let target = dir.path().join("sled-from-redis");
    tool(
        &[
            "import",
            back.to_str().unwrap(),
            "--data-dir",
            target.to_str().unwrap(),
        ],
        &[],
    );
}

#[tokio::test]
async fn a_truncated_or_foreign_file_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("x.ndjson.gz");
    tool(
        &[
            "export",
            "--data-dir",
            data.to_str().unwrap(),
            "--out",
            file.to_str().unwrap(),
        ],
        &[],
    );
    // Cut the end line off (uncompressed, so the cut is exact).
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&file).unwrap())
        .read_to_string_sync(&mut text);
    let cut = text.trim_end().rsplit_once('\n').unwrap().0.to_owned();
    let truncated = dir.path().join("cut.ndjson");
    std::fs::write(&truncated, cut + "\n").unwrap();
    let target = dir.path().join("target");
    let err = tool_fails(&[
        "import",
        truncated.to_str().unwrap(),
        "--data-dir",
        target.to_str().unwrap(),
    ]);
    assert!(err.contains("truncated"), "{err}");
    let foreign = dir.path().join("foreign.ndjson");
    std::fs::write(&foreign, "{\"hello\":1}\n").unwrap();
    let err = tool_fails(&[
        "import",
        foreign.to_str().unwrap(),
        "--data-dir",
        target.to_str().unwrap(),
    ]);
    assert!(err.contains("not an export line"), "{err}");
    assert!(!target.join("relay.key").exists(), "nothing was written");
}

trait ReadAll {
    fn read_to_string_sync(self, out: &mut String);
}

impl<R: std::io::Read> ReadAll for R {
    fn read_to_string_sync(mut self, out: &mut String) {
        std::io::Read::read_to_string(&mut self, out).unwrap();
    }
}
