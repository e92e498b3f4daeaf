//! The server under test: the relay binary or the ceiling, spawned on port
//! 0 with a temporary data directory, or an external server given by URL.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

use crate::spec::Scenario;

/// Environment the harness gives a relay it spawns for the throughput and
/// latency scenarios (all but `abuse`): no rate limit and no per-IP
/// connection or handshake caps (one process on one address simulates
/// thousands of clients), room for high per-topic rates, and quiet logs.
pub const RELAY_ENV: &[(&str, &str)] = &[
    ("RELAYBOX_RATE_LIMIT_REQUESTS_PER_SEC", "0"),
    ("RELAYBOX_RATE_LIMIT_REQUESTS_PER_SEC_PER_IP", "0"),
    ("RELAYBOX_LIMITS_MAX_CONNECTIONS_PER_IP", "0"),
    ("RELAYBOX_LIMITS_HANDSHAKES_PER_IP_PER_SEC", "0"),
    ("RELAYBOX_LIMITS_MAX_CONNECTIONS", "0"),
    ("RELAYBOX_LIMITS_MAX_MESSAGES_PER_TOPIC", "10000000"),
    ("RELAYBOX_LOG_LEVEL", "warn"),
];

/// Environment for `abuse`, whose point is to show that the relay's limits
/// hold: its real defaults stay (rate limit per client_id, messages per
/// topic, send queue and write stall, message, attestation, batch and frame
/// caps, sockets in total and per client_id). Only the per-IP socket cap and
/// the per-IP handshake rate are lifted, because every socket of the
/// generator comes from 127.0.0.1 while it stands for thousands of clients.
pub const ABUSE_RELAY_ENV: &[(&str, &str)] = &[
    // Abusers come from 16 loopback addresses of their own (see
    // scenario::abuse), so the per-IP socket cap and request budget stay
    // as shipped; only the handshake rate is lifted, since the set-up
    // opens each address's 125 sockets at once.
    ("RELAYBOX_LIMITS_HANDSHAKES_PER_IP_PER_SEC", "0"),
    ("RELAYBOX_LOG_LEVEL", "warn"),
];

/// The environment a spawned relay gets for `scenario` (before --relay-env).
pub fn relay_env(scenario: Scenario) -> &'static [(&'static str, &'static str)] {
    match scenario {
        Scenario::Abuse => ABUSE_RELAY_ENV,
        Scenario::Pairs
        | Scenario::Fanout
        | Scenario::Mailbox
        | Scenario::Connect
        | Scenario::Idle => RELAY_ENV,
    }
}

/// A server to benchmark.
pub struct Target {
    /// `relay`, `ceiling` or `url`.
    pub kind: &'static str,
    /// Base URL, e.g. `ws://127.0.0.1:41234`.
    pub url: String,
    /// Its pid, when known (CPU and memory come from /proc).
    pub pid: Option<u32>,
    child: Option<Child>,
    _stdout: Option<Lines<BufReader<ChildStdout>>>,
    dir: Option<tempfile::TempDir>,
    log: Option<PathBuf>,
}

impl Target {
    /// A server someone else runs.
    pub fn external(url: &str, pid: Option<u32>) -> Target {
        Target {
            kind: "url",
            url: url.trim_end_matches('/').to_owned(),
            pid,
            child: None,
            _stdout: None,
            dir: None,
            log: None,
        }
    }

    /// Spawns `relaybox serve` on 127.0.0.1:0 with a fresh data directory and
    /// the environment of [`relay_env`] for `scenario`, then `extra_env`.
    pub async fn spawn_relay(
        bin: &Path,
        scenario: Scenario,
        extra_env: &[String],
        cpus: Option<&[usize]>,
    ) -> anyhow::Result<Target> {
        if !bin.exists() {
            bail!(
                "relay binary {} not found: build it with `cargo build --release -p relaybox` or pass --relay-bin",
                bin.display()
            );
        }
        let dir = tempfile::Builder::new()
            .prefix("relaybox-bench-")
            .tempdir()?;
        let log = dir.path().join("relay.log");
        let mut cmd = Command::new(bin);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path().join("data"))
            .stderr(std::fs::File::create(&log)?);
        for (k, v) in relay_env(scenario) {
            cmd.env(k, v);
        }
        for kv in extra_env {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| anyhow!("--relay-env {kv:?} is not KEY=VALUE"))?;
            cmd.env(k, v);
        }
        if let Some(cpus) = cpus {
            crate::cpus::pin_child(&mut cmd, cpus);
        }
        let mut t = spawn(cmd, "relay", "RELAYBOX_LISTEN=").await.map_err(|e| {
            let tail = std::fs::read_to_string(&log).unwrap_or_default();
            e.context(format!("relay log:\n{tail}"))
        })?;
        t.dir = Some(dir);
        t.log = Some(log);
        Ok(t)
    }

    /// Spawns this binary's `ceiling-server` on 127.0.0.1:0.
    pub async fn spawn_ceiling(cpus: Option<&[usize]>) -> anyhow::Result<Target> {
        let exe = std::env::current_exe()?;
        let mut cmd = Command::new(exe);
        cmd.args(["ceiling-server", "--listen", "127.0.0.1:0"])
            .stderr(Stdio::inherit());
        if let Some(cpus) = cpus {
            crate::cpus::pin_child(&mut cmd, cpus);
        }
        spawn(cmd, "ceiling", "CEILING_LISTEN=").await
    }

    /// Stops a spawned server (SIGTERM, then SIGKILL after 15 s) and
    /// removes its data directory. External servers are left alone.
    pub async fn stop(mut self) {
        if let Some(mut child) = self.child.take() {
            if let Some(pid) = child.id() {
                // SAFETY: signalling our own child by pid.
                unsafe {
                    libc::kill(pid as libc::pid_t, libc::SIGTERM);
                }
            }
            if tokio::time::timeout(Duration::from_secs(15), child.wait())
                .await
                .is_err()
            {
                let _ = child.kill().await;
            }
        }
        if let (Some(log), true) = (&self.log, std::env::var_os("RELAYBENCH_KEEP_LOG").is_some()) {
            eprintln!(
                "relay log: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        drop(self.dir.take());
    }
}

async fn spawn(mut cmd: Command, kind: &'static str, prefix: &str) -> anyhow::Result<Target> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .with_context(|| format!("spawning the {kind}"))?;
    let stdout = child.stdout.take().context("stdout not piped")?;
    let mut lines = BufReader::new(stdout).lines();
    let addr = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await? {
            if let Some(addr) = line.strip_prefix(prefix) {
                return anyhow::Ok(addr.trim().to_owned());
            }
        }
        bail!("the {kind} exited before printing {prefix}<addr>")
    })
    .await
    .map_err(|_| anyhow!("the {kind} did not print {prefix}<addr> within 60 s"))??;
    Ok(Target {
        kind,
        url: format!("ws://{addr}"),
        pid: child.id(),
        child: Some(child),
        _stdout: Some(lines),
        dir: None,
        log: None,
    })
}
