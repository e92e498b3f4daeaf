//! [`TestRelay`]: the `relaybox` binary as a child process.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use relaybox_auth::Keypair;
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::TestClient;

// ---------------------------------------------------------------------------
// The relay process
// ---------------------------------------------------------------------------

/// The `relaybox` binary running as a child process on a private data dir.
pub struct TestRelay {
    child: Option<Child>,
    dir: TempDir,
    env: Vec<(String, String)>,
    /// A command the relay runs under (e.g. strace), argv before the binary.
    wrapper: Vec<String>,
    /// Data directory other than `<temp dir>/data` (e.g. a small mount).
    data_dir: Option<PathBuf>,
    addr: SocketAddr,
    starts: u32,
}

/// Options for a relay that needs more than environment overrides.
#[derive(Default)]
pub struct RelayBuilder {
    env: Vec<(String, String)>,
    wrapper: Vec<String>,
    data_dir: Option<PathBuf>,
}

impl RelayBuilder {
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Runs the relay as `argv... relaybox serve ...`.
    pub fn wrapper(mut self, argv: &[&str]) -> Self {
        self.wrapper = argv.iter().map(|s| s.to_string()).collect();
        self
    }

    pub fn data_dir(mut self, dir: PathBuf) -> Self {
        self.data_dir = Some(dir);
        self
    }

    pub async fn start(self) -> TestRelay {
        let mut relay = TestRelay {
            child: None,
            dir: tempfile::tempdir().expect("temp dir"),
            env: self.env,
            wrapper: self.wrapper,
            data_dir: self.data_dir,
            addr: "127.0.0.1:0".parse().unwrap(),
            starts: 0,
        };
        relay.launch().await;
        relay
    }
}

impl TestRelay {
    /// Starts a relay with default settings.
    pub async fn start() -> TestRelay {
        TestRelay::with_env(&[]).await
    }

    /// Starts a relay with extra `RELAYBOX_*` environment overrides.
    pub async fn with_env(env: &[(&str, &str)]) -> TestRelay {
        env.iter()
            .fold(TestRelay::builder(), |b, (k, v)| b.env(k, v))
            .start()
            .await
    }

    pub fn builder() -> RelayBuilder {
        RelayBuilder::default()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(|| self.dir.path().join("data"))
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("relay.log")
    }

    /// The relay's stderr so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    async fn launch(&mut self) {
        assert!(self.child.is_none(), "relay already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("open relay log");
        let bin = env!("CARGO_BIN_EXE_relaybox");
        let mut cmd = match self.wrapper.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        cmd.arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(self.data_dir());
        // Only this test's overrides: nothing leaks in from the caller's shell.
        for (k, _) in std::env::vars() {
            if k.starts_with("RELAYBOX_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("RUST_LOG", "warn")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("spawn relaybox");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("relay did not start in 30 s; log:\n{}", self.log()))
            .expect("read relay stdout");
        let Some(line) = line else {
            let status = child.wait().await;
            panic!(
                "relay exited before listening ({status:?}); log:\n{}",
                self.log()
            );
        };
        let addr = line
            .strip_prefix("RELAYBOX_LISTEN=")
            .unwrap_or_else(|| panic!("unexpected first stdout line {line:?}"));
        self.addr = addr.parse().expect("listen address");
        // Keep the pipe open so that the relay never writes into a closed one.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        self.child = Some(child);
        self.starts += 1;
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `ws://127.0.0.1:PORT`, also the JWT audience tests use.
    pub fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    pub fn pid(&self) -> u32 {
        self.child
            .as_ref()
            .and_then(|c| c.id())
            .expect("relay running")
    }

    /// SIGKILL, and reap.
    pub async fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
    }

    /// Sends SIGTERM without waiting.
    pub fn sigterm(&self) {
        let pid = self.pid() as libc::pid_t;
        // SAFETY: plain kill(2) on our own child's pid, which is not yet reaped.
        let rc = unsafe { libc::kill(pid, libc::SIGTERM) };
        assert_eq!(rc, 0, "kill(SIGTERM) failed");
    }

    /// Waits for the relay to exit; panics (and kills it) after `timeout`.
    pub async fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let mut child = self.child.take().expect("relay running");
        match tokio::time::timeout(timeout, child.wait()).await {
            Ok(status) => status.expect("wait for relay"),
            Err(_) => {
                let _ = child.start_kill();
                panic!(
                    "relay still running after {timeout:?}; log:\n{}",
                    self.log()
                );
            }
        }
    }

    /// SIGTERM; returns the exit status (panics if it takes over 10 s).
    pub async fn terminate(&mut self) -> ExitStatus {
        self.sigterm();
        self.wait_exit(Duration::from_secs(10)).await
    }

    /// Starts the relay again on the same data dir (killing it first if it
    /// still runs). The port changes.
    pub async fn restart(&mut self) {
        self.kill9().await;
        self.launch().await;
    }

    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// A client connected with `kp`, token in the query.
    pub async fn client(&self, kp: &Keypair) -> TestClient {
        TestClient::connect(&self.url(), kp).await
    }

    /// A client with a fresh identity.
    pub async fn new_client(&self) -> TestClient {
        self.client(&Keypair::generate()).await
    }
}
