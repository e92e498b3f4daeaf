//! Smoke test: every scenario runs for about a second against a relay
//! started in-process from the `relaybox` crate and against the ceiling
//! server, and must move messages without errors (`abuse`, which runs
//! against the relay's real limits, for a few seconds, with errors allowed).
//! No timing assertions: these runs share the machine with everything else.

use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

struct Relay {
    url: String,
    _rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

/// One relay for the whole test binary, on port 0 with a temporary data
/// dir, configured like the one the harness spawns (target.rs `RELAY_ENV`):
/// no rate limit, no per-IP caps (every socket comes from 127.0.0.1).
fn relay() -> &'static Relay {
    static RELAY: OnceLock<Relay> = OnceLock::new();
    RELAY.get_or_init(|| {
        start_relay(|config| {
            config.rate_limit.requests_per_sec = 0;
            config.rate_limit.requests_per_sec_per_ip = 0;
            config.limits.max_connections = 0;
            config.limits.max_messages_per_topic = 10_000_000;
        })
    })
}

/// A relay for `abuse`, like target.rs `ABUSE_RELAY_ENV`: the real
/// defaults (rate limit included) but for the per-IP caps.
fn abuse_relay() -> &'static Relay {
    static RELAY: OnceLock<Relay> = OnceLock::new();
    RELAY.get_or_init(|| start_relay(|_| {}))
}

fn start_relay(configure: impl FnOnce(&mut relaybox::Config)) -> Relay {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = relaybox::Config::default();
    config.server.listen = "127.0.0.1:0".into();
    config.server.data_dir = dir.path().join("data");
    config.limits.max_connections_per_ip = 0;
    config.limits.handshakes_per_ip_per_sec = 0;
    configure(&mut config);
    let server = rt.block_on(relaybox::start(config)).unwrap();
    let url = format!("ws://{}", server.local_addr);
    // Keep the server running for the life of the test process.
    std::mem::forget(server);
    Relay {
        url,
        _rt: rt,
        _dir: dir,
    }
}

/// Runs the bench binary with `args` plus short timings and returns its JSON report.
fn bench(args: &[&str]) -> Value {
    bench_timed(
        args,
        &["--duration", "1", "--warmup", "0.2", "--drain", "5"],
    )
}

/// Runs the bench binary with `args` and `timings`; returns its JSON report.
fn bench_timed(args: &[&str], timings: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_relaybox-bench"))
        .args(args)
        .arg("--json")
        .args(timings)
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

#[test]
fn abuse_relay_small() {
    let pid = std::process::id().to_string();
    let relay = abuse_relay();
    #[rustfmt::skip]
    let args = [
        "abuse", "--url", relay.url.as_str(), "--server-pid", pid.as_str(),
        "-c", "10", "--rate", "200", "--nonreaders", "50", "--hostile", "50",
        "--victim-backlog", "20",
    ];
    let r = bench_timed(
        &args,
        &["--duration", "3", "--warmup", "0.5", "--drain", "3"],
    );
    // The normal pairs delivered, unloaded and under abuse.
    for prefix in ["baseline_", ""] {
        let delivered = counter(&r, &format!("{prefix}delivered"));
        assert!(delivered > 0, "{prefix}: nothing delivered: {r}");
        let e2e = &r["latency"][format!("{prefix}e2e")];
        assert!(e2e["count"].as_u64().unwrap_or(0) > 0, "{prefix}: {r}");
    }
    assert_eq!(counter(&r, "pairs"), 10, "{r}");
    assert_eq!(counter(&r, "nonreaders"), 50, "{r}");
    assert_eq!(counter(&r, "hostiles"), 50, "{r}");
    let a = &r["abuse"];
    for kind in [
        "malformed",
        "oversized_message",
        "batch",
        "oversized_attestation",
        "fetch",
    ] {
        let sent = a["hostile_sent"][kind].as_u64().unwrap_or(0);
        assert!(sent > 0, "no {kind} frames sent: {a}");
    }
    // The relay refused what is over its limits.
    let replies = &a["hostile_replies"];
    for tag in ["PayloadSizeExceeded", "AttestationTooLarge"] {
        assert!(replies[tag].as_u64().unwrap_or(0) > 0, "no {tag}: {a}");
    }
    // The RSS figures: before the load, the peak under it, and alive at the end.
    let rss = &a["rss"];
    let before = rss["before"].as_u64().unwrap_or(0);
    assert!(before > 0, "no RSS before the load: {a}");
    assert!(rss["peak"].as_u64().unwrap_or(0) >= before, "{a}");
    assert!(rss["samples"].as_u64().unwrap_or(0) > 10, "{a}");
    assert_eq!(rss["alive_at_end"], Value::Bool(true), "{a}");
    assert!(a["ratios"]["e2e_p99"].as_f64().is_some(), "{a}");
    // Every non-reader was looked at after the load.
    let closes: u64 = a["closes"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.starts_with("nonreader "))
        .map(|(_, v)| v.as_u64().unwrap())
        .sum();
    assert_eq!(closes, 50, "{a}");
}
