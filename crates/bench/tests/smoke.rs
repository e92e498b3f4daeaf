//! Smoke test: every scenario runs for about a second against a relay
//! started in-process from the `relaybox` crate and against the ceiling
//! server, and must move messages without errors. No timing assertions:
//! these runs share the machine with everything else.

use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

struct Relay {
    url: String,
    _rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

/// One relay for the whole test binary, on port 0 with a temporary data dir.
fn relay() -> &'static Relay {
    static RELAY: OnceLock<Relay> = OnceLock::new();
    RELAY.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut config = relaybox::Config::default();
        config.server.listen = "127.0.0.1:0".into();
        config.server.data_dir = dir.path().join("data");
        config.rate_limit.requests_per_sec = 0;
        let server = rt.block_on(relaybox::start(config)).unwrap();
        let url = format!("ws://{}", server.local_addr);
        // Keep the server running for the life of the test process.
        std::mem::forget(server);
        Relay {
            url,
            _rt: rt,
            _dir: dir,
        }
    })
}

/// Runs the bench binary with `args` plus short timings and returns its JSON report.
fn bench(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_relaybox-bench"))
        .args(args)
        .args([
            "--json",
            "--duration",
            "1",
            "--warmup",
            "0.2",
            "--drain",
            "5",
        ])
        .output()
        .expect("running relaybox-bench");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "relaybox-bench {args:?} failed:\n{stderr}"
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "bad JSON ({e}):\n{}\n{stderr}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn against_relay(scenario: &str, extra: &[&str]) -> Value {
    let pid = std::process::id().to_string();
    let relay = relay();
    let mut args = vec![
        scenario,
        "--url",
        relay.url.as_str(),
        "--server-pid",
        pid.as_str(),
    ];
    args.extend_from_slice(extra);
    bench(&args)
}

fn against_ceiling(scenario: &str, extra: &[&str]) -> Value {
    let mut args = vec![scenario, "--target", "ceiling"];
    args.extend_from_slice(extra);
    bench(&args)
}

fn counter(report: &Value, name: &str) -> u64 {
    report["counters"][name].as_u64().unwrap_or(0)
}

fn assert_clean(report: &Value) {
    assert_eq!(
        report["error_total"].as_u64(),
        Some(0),
        "errors: {}",
        report["errors"]
    );
}

/// The server's storage writes per acknowledged publish (durable scenarios).
fn write_bytes_per_msg(report: &Value) -> f64 {
    report["figures"]["server_write_bytes_per_msg"]
        .as_f64()
        .unwrap_or_else(|| panic!("no server_write_bytes_per_msg: {report}"))
}

fn check_pairs(r: &Value) {
    assert_clean(r);
    assert!(write_bytes_per_msg(r) >= 0.0);
    assert!(counter(r, "delivered") > 0, "nothing delivered: {r}");
    assert_eq!(counter(r, "delivered"), counter(r, "publish_ok"));
    assert!(r["latency"]["e2e"]["count"].as_u64().unwrap_or(0) > 0);
}

fn check_fanout(r: &Value, subscribers: u64) {
    assert_clean(r);
    assert!(write_bytes_per_msg(r) >= 0.0);
    assert!(counter(r, "publish_ok") > 0, "nothing published: {r}");
    assert_eq!(
        counter(r, "delivered"),
        counter(r, "publish_ok") * subscribers
    );
}

fn check_mailbox(r: &Value, clients: u64, messages: u64) {
    assert_clean(r);
    assert!(write_bytes_per_msg(r) >= 0.0);
    assert_eq!(counter(r, "clients_drained"), clients, "{r}");
    assert_eq!(counter(r, "drained"), clients * messages);
}

fn check_connect(r: &Value) {
    assert_clean(r);
    assert!(counter(r, "handshakes") > 0, "{r}");
}

fn check_idle(r: &Value, n: u64) {
    assert_clean(r);
    assert_eq!(counter(r, "connected"), n, "{r}");
}

#[test]
fn pairs_relay() {
    let r = against_relay("pairs", &["-c", "4"]);
    check_pairs(&r);
    // A durable relay writes something for every message.
    assert!(write_bytes_per_msg(&r) > 0.0, "{r}");
}

#[test]
fn pairs_relay_open_loop() {
    check_pairs(&against_relay("pairs", &["-c", "4", "--rate", "400"]));
}

#[test]
fn pairs_ceiling_two_processes() {
    check_pairs(&against_ceiling("pairs", &["-c", "4", "--processes", "2"]));
}

#[test]
fn fanout_relay() {
    check_fanout(&against_relay("fanout", &["-c", "8", "--rate", "100"]), 8);
}

#[test]
fn fanout_ceiling() {
    check_fanout(&against_ceiling("fanout", &["-c", "8"]), 8);
}

#[test]
fn mailbox_relay() {
    check_mailbox(
        &against_relay(
            "mailbox",
            &["-c", "20", "--messages", "5", "--publishers", "4"],
        ),
        20,
        5,
    );
}

#[test]
fn mailbox_relay_two_processes() {
    check_mailbox(
        &against_relay(
            "mailbox",
            &[
                "-c",
                "20",
                "--messages",
                "5",
                "--publishers",
                "4",
                "--processes",
                "2",
            ],
        ),
        20,
        5,
    );
}

#[test]
fn mailbox_ceiling() {
    check_mailbox(
        &against_ceiling(
            "mailbox",
            &["-c", "20", "--messages", "5", "--publishers", "4"],
        ),
        20,
        5,
    );
}

#[test]
fn connect_relay() {
    check_connect(&against_relay("connect", &["-c", "2"]));
}

#[test]
fn connect_ceiling() {
    check_connect(&against_ceiling("connect", &["-c", "2"]));
}

#[test]
fn idle_relay() {
    let r = against_relay("idle", &["-c", "50", "--settle", "0.2"]);
    check_idle(&r, 50);
    assert!(r["memory"].is_object(), "server memory missing: {r}");
}

#[test]
fn idle_ceiling_two_processes() {
    check_idle(
        &against_ceiling("idle", &["-c", "50", "--settle", "0.2", "--processes", "2"]),
        50,
    );
}
