//! Shared support: a real relay started in-process on port 0 with a private
//! data dir, that can be stopped and started again on the same port and
//! data, and clients with test-friendly options.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use relaybox::{Config, RunningServer};
use relaybox_client::{
    connect, Client, ConnectOptions, Event, Events, Keypair, Message, ReconnectPolicy, Subscription,
};
use tempfile::TempDir;

/// Timeout for anything that should happen.
pub const WAIT: Duration = Duration::from_secs(10);
/// How long to listen when asserting that nothing arrives.
pub const QUIET: Duration = Duration::from_millis(500);
/// A TTL the relay accepts.
pub const TTL: Duration = Duration::from_secs(300);

/// A relay running in this process.
pub struct TestRelay {
    server: Option<RunningServer>,
    config: Config,
    pub addr: SocketAddr,
    _dir: TempDir,
}

impl TestRelay {
    pub async fn start() -> TestRelay {
        TestRelay::start_with(|_| {}).await
    }

    /// Starts a relay after `tweak` has adjusted the default config.
    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> TestRelay {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::default();
        config.server.listen = "127.0.0.1:0".into();
        config.server.data_dir = dir.path().join("data");
        config.server.shutdown_grace_ms = 2_000;
        config.server.shutdown_spread_ms = 0;
        tweak(&mut config);
        let server = relaybox::start(config.clone()).await.expect("relay starts");
        let addr = server.local_addr;
        // Later starts reuse the port the first one got.
        config.server.listen = addr.to_string();
        TestRelay {
            server: Some(server),
            config,
            addr,
            _dir: dir,
        }
    }

    /// `ws://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// Shuts the relay down (sockets close with 1001, the store is flushed).
    pub async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await.expect("clean shutdown");
        }
    }

    /// Shuts down for good at the end of a test.
    pub async fn stop_owned(mut self) {
        self.stop().await;
    }

    /// Starts it again on the same port and data dir.
    pub async fn restart(&mut self) {
        self.stop().await;
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match relaybox::start(self.config.clone()).await {
                Ok(server) => {
                    assert_eq!(server.local_addr, self.addr);
                    self.server = Some(server);
                    return;
                }
                // The store's lock or the port may take a moment to be released.
                Err(e) if tokio::time::Instant::now() < deadline => {
                    eprintln!("restart not yet possible: {e:#}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("relay did not restart: {e:#}"),
            }
        }
    }
}

/// Options for tests: quick reconnects and timeouts.
pub fn options() -> ConnectOptions {
    ConnectOptions {
        request_timeout: WAIT,
        connect_timeout: Duration::from_secs(5),
        reconnect: ReconnectPolicy {
            initial_delay: Duration::from_millis(50),
            max_delay: Duration::from_millis(500),
            ..ReconnectPolicy::default()
        },
        ..ConnectOptions::default()
    }
}

/// A client with a fresh key and [`options`].
pub async fn client(relay: &TestRelay) -> Client {
    client_as(relay, Keypair::generate(), options()).await
}

pub async fn client_as(relay: &TestRelay, key: Keypair, options: ConnectOptions) -> Client {
    within(connect(&relay.url(), key, options))
        .await
        .expect("client connects")
}

/// Awaits `fut`, failing the test after [`WAIT`].
pub async fn within<F: Future>(fut: F) -> F::Output {
    tokio::time::timeout(WAIT, fut)
        .await
        .expect("timed out waiting")
}

/// The next message of `sub`.
pub async fn next(sub: &mut Subscription) -> Message {
    within(sub.next_message()).await.expect("stream open")
}

/// Asserts that `sub` yields nothing for [`QUIET`].
pub async fn assert_quiet(sub: &mut Subscription) {
    if let Ok(m) = tokio::time::timeout(QUIET, sub.next_message()).await {
        panic!("expected no message, got {m:?}");
    }
}

/// Waits for the first event matching `pred`, returning it.
pub async fn wait_event(events: &mut Events, pred: impl Fn(&Event) -> bool) -> Event {
    within(async {
        loop {
            let event = events.recv().await.expect("event stream open");
            if pred(&event) {
                return event;
            }
        }
    })
    .await
}
