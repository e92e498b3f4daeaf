//! Start-up and the accept loops: validate, open the store (sled, or Redis in
//! cluster mode), bind, serve HTTP/1
//! with upgrades on every accepted socket, and shut down in order.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use relaybox_disk::{DiskStore, SledAttestationStore};
use relaybox_store::{AttestationStore, MailboxStore, WatchStore};
use tokio::net::TcpListener;

use crate::config::{Config, StoreBackend};
use crate::hub::{FanOut, LocalHub};
use crate::identity::RelayIdentity;
use crate::relay::Relay;
use crate::shutdown::Shutdown;

/// A started relay. Dropping it does not stop it; call [`RunningServer::shutdown`].
pub struct RunningServer {
    pub local_addr: SocketAddr,
    pub admin_addr: Option<SocketAddr>,
    relay: Arc<Relay>,
}

/// Validates `config`, opens the store, binds and starts serving.
pub async fn start(config: Config) -> anyhow::Result<RunningServer> {
    config.validate()?;
    let (store, attest, hub, identity, watches) = open_backend(&config, rand::random()).await?;

    let listener = bind_listener(config.listen_addr()?)
        .with_context(|| format!("binding {}", config.server.listen))?;
    let local_addr = listener.local_addr()?;
    let admin = if config.server.admin_listen.is_empty() {
        None
    } else {
        let l = TcpListener::bind(&config.server.admin_listen)
            .await
            .with_context(|| format!("binding admin listener {}", config.server.admin_listen))?;
        Some(l)
    };
    let admin_addr = admin.as_ref().map(|l| l.local_addr()).transpose()?;

    let audiences = crate::ws::audience::accepted_audiences(&config, local_addr);
    tracing::debug!(?audiences, "accepted JWT audiences");
    let relay = Arc::new(Relay::new(
        config,
        store,
        hub,
        audiences,
        crate::metrics::install(),
        local_addr,
        Shutdown::new(),
        attest,
        identity,
        crate::webhooks::Webhooks::new(watches),
    ));
    let tracker = &relay.shutdown.tracker;
    tracker.spawn(crate::sweeper::run(relay.clone()));
    tracker.spawn(crate::attest::sweeper::run(relay.clone()));
    tracker.spawn(crate::webhooks::sender::run(relay.clone()));
    tracker.spawn(accept_loop(listener, relay.clone(), false));
    if let Some(admin) = admin {
        tracker.spawn(accept_loop(admin, relay.clone(), true));
    }
    relay.readiness.set(true);
    tracing::info!(%local_addr, ?admin_addr, "relay listening");
    Ok(RunningServer {
        local_addr,
        admin_addr,
        relay,
    })
}

impl RunningServer {
    pub fn relay(&self) -> &Arc<Relay> {
        &self.relay
    }

    /// Readiness off, stop accepting, close sockets with 1001, wait up to the
    /// grace period for tasks, then flush the store.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let relay = self.relay;
        relay.readiness.set(false);
        relay.shutdown.token.cancel();
        relay.shutdown.tracker.close();
        let grace = Duration::from_millis(relay.config.server.shutdown_grace_ms);
        if tokio::time::timeout(grace, relay.shutdown.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                remaining = relay.shutdown.tracker.len(),
                "grace period over; abandoning remaining tasks"
            );
        }
        relay.store.close().await.context("flushing the store")?;
        tracing::info!("relay stopped");
        Ok(())
    }
}

/// Accept backlog: a reconnect storm (a restart, a network blip) brings
/// thousands of SYNs at once; tokio's default of 1024 or the OS's 128 would
/// drop some and make those clients wait a second for the retransmission.
const BACKLOG: u32 = 4096;

/// Binds the public listener with a deep accept backlog.
fn bind_listener(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// The mailbox store, attestation store, fan-out and relay identity of the
/// configured backend. `fresh_seed` becomes the relay key where none is
/// kept yet (a random one for a new relay, the imported one for an import).
pub(crate) async fn open_backend(
    config: &Config,
    fresh_seed: [u8; 32],
) -> anyhow::Result<(
    Arc<dyn MailboxStore>,
    Arc<dyn AttestationStore>,
    Arc<dyn FanOut>,
    RelayIdentity,
    Option<Arc<dyn WatchStore>>,
)> {
    let configured = (!config.server.relay_key.is_empty())
        .then(|| crate::identity::parse_seed(&config.server.relay_key))
        .transpose()
        .context("server.relay_key")?;
    if config.store.backend == StoreBackend::Redis {
        let backend = relaybox_redis::RedisBackend::connect(config.redis_config())
            .await
            .context("connecting to redis (store.backend = \"redis\")")?;
        let seed = match configured {
            Some(seed) => seed,
            None => backend
                .shared_relay_seed(fresh_seed)
                .await
                .context("reading the relay key from redis")?,
        };
        let identity = RelayIdentity::from_seed(seed);
        let watches: Arc<dyn WatchStore> = backend.watch;
        return Ok((
            backend.store,
            backend.attest,
            backend.fanout,
            identity,
            Some(watches),
        ));
    }
    let data_dir = &config.server.data_dir;
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating data dir {}", data_dir.display()))?;
    let seed = match configured {
        Some(seed) => seed,
        None => crate::identity::seed_in_file(&data_dir.join("relay.key"), fresh_seed)?,
    };
    let store = DiskStore::open(config.disk_config())
        .with_context(|| format!("opening store in {}", data_dir.display()))?;
    let attest = SledAttestationStore::open(&store).context("opening the attestation store")?;
    let identity = RelayIdentity::from_seed(seed);
    let watches: Arc<dyn WatchStore> =
        relaybox_disk::SledWatchStore::open(&store).context("opening the webhook store")?;
    Ok((
        store,
        attest,
        Arc::new(LocalHub::new()),
        identity,
        Some(watches),
    ))
}

async fn accept_loop(listener: TcpListener, relay: Arc<Relay>, admin_only: bool) {
    let token = relay.shutdown.token.clone();
    loop {
        let (stream, peer) = tokio::select! {
            _ = token.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let ws_cfg = &relay.config.websocket;
        if ws_cfg.send_buffer_bytes > 0 {
            // Bounds what the kernel holds for a client that stops reading.
            let _ = socket2::SockRef::from(&stream).set_send_buffer_size(ws_cfg.send_buffer_bytes);
        }
        if ws_cfg.recv_buffer_bytes > 0 {
            // Bounds what the kernel holds of a client's frames while its
            // socket is left unread (paused after a refusal).
            let _ = socket2::SockRef::from(&stream).set_recv_buffer_size(ws_cfg.recv_buffer_bytes);
        }
        let relay = relay.clone();
        let token = token.clone();
        let tracker = relay.shutdown.tracker.clone();
        tracker.spawn(async move {
            let cfg = &relay.config.server;
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_millis(cfg.handshake_timeout_ms))
                .max_buf_size(cfg.max_header_bytes);
            let service_relay = relay.clone();
            let service = service_fn(move |req| {
                crate::http::handle(req, service_relay.clone(), admin_only, peer)
            });
            let conn = builder
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            tokio::pin!(conn);
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(%peer, error = %e, "http connection ended with an error");
                    }
                }
                _ = token.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(Duration::from_secs(1), conn).await;
                }
            }
        });
    }
}
