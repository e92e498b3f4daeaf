//! Connections: one type over standalone Redis (a reconnecting
//! `ConnectionManager`) and Redis Cluster (`ClusterConnection`), every
//! round trip bounded by the configured deadline and timed for metrics.

use std::future::Future;
use std::time::{Duration, Instant};

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{
    MultipleNodeRoutingInfo, Route, RoutingInfo, SingleNodeRoutingInfo, Slot, SlotAddr,
};
use redis::{Cmd, IntoConnectionInfo, Pipeline, ProtocolVersion, RedisFuture, Value};

use crate::config::RedisConfig;
use crate::error::{Error, Result};
use crate::metrics;

/// A multiplexed connection to standalone Redis or to a cluster. Cheap to
/// clone; clones share the underlying socket(s).
#[derive(Clone)]
pub(crate) enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

/// Where push messages (pub/sub) of a RESP3 connection go.
pub(crate) type PushTx = tokio::sync::mpsc::UnboundedSender<redis::PushInfo>;

impl Conn {
    /// Opens a connection for commands (RESP2), or with `push` a RESP3
    /// connection that forwards pub/sub pushes and resubscribes by itself
    /// after a reconnect.
    pub async fn open(cfg: &RedisConfig, push: Option<PushTx>) -> Result<Conn> {
        let timeout = cfg.timeout();
        if cfg.is_cluster() {
            let mut b = ClusterClientBuilder::new(cfg.cluster_nodes.clone())
                .connection_timeout(timeout)
                .response_timeout(timeout)
                .retries(2);
            if let Some(tx) = push {
                b = b.use_protocol(ProtocolVersion::RESP3).push_sender(tx);
            }
            let client = b.build()?;
            let conn = bounded(cfg, client.get_async_connection()).await?;
            return Ok(Conn::Cluster(conn));
        }
        let mut info = cfg.url.as_str().into_connection_info()?;
        let mut mc = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(3)
            .set_max_delay(Duration::from_millis(500));
        if let Some(tx) = push {
            let settings = info
                .redis_settings()
                .clone()
                .set_protocol(ProtocolVersion::RESP3);
            info = info.set_redis_settings(settings);
            mc = mc.set_push_sender(tx).set_automatic_resubscription();
        }
        let client = redis::Client::open(info)?;
        let conn = bounded(cfg, client.get_connection_manager_with_config(mc)).await?;
        Ok(Conn::Single(conn))
    }

    /// Runs `cmd` on the primary that owns `key`'s slot (any node in
    /// standalone mode): for key-less commands that must follow a write,
    /// such as WAIT.
    pub async fn on_owner_of(&mut self, key: &str, cmd: Cmd) -> redis::RedisResult<Value> {
        match self {
            Conn::Single(c) => cmd.query_async(c).await,
            Conn::Cluster(c) => {
                let route = Route::with_key(key, SlotAddr::Master);
                c.route_command(
                    cmd,
                    RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route)),
                )
                .await
            }
        }
    }

    /// Runs `cmd` on every primary; returns one reply per node.
    pub async fn on_all_primaries(&mut self, cmd: Cmd) -> redis::RedisResult<Vec<Value>> {
        match self {
            Conn::Single(c) => Ok(vec![cmd.query_async(c).await?]),
            Conn::Cluster(c) => {
                let routing = RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None));
                match c.route_command(cmd, routing).await? {
                    Value::Map(pairs) => Ok(pairs.into_iter().map(|(_, v)| v).collect()),
                    other => Ok(vec![other]),
                }
            }
        }
    }

    /// SUBSCRIBE (standalone) or SSUBSCRIBE (cluster) to `channels`.
    pub async fn subscribe(&mut self, channels: &[String]) -> redis::RedisResult<()> {
        match self {
            Conn::Single(c) => c.subscribe(channels).await,
            Conn::Cluster(c) => {
                for group in by_slot(channels) {
                    c.ssubscribe(group).await?;
                }
                Ok(())
            }
        }
    }

    /// UNSUBSCRIBE / SUNSUBSCRIBE.
    pub async fn unsubscribe(&mut self, channels: &[String]) -> redis::RedisResult<()> {
        match self {
            Conn::Single(c) => c.unsubscribe(channels).await,
            Conn::Cluster(c) => {
                for group in by_slot(channels) {
                    c.sunsubscribe(group).await?;
                }
                Ok(())
            }
        }
    }
}

/// Sharded (un)subscribe takes channels of one slot per command (else
/// CROSSSLOT): `channels` grouped by slot.
fn by_slot(channels: &[String]) -> Vec<Vec<&String>> {
    let mut groups: std::collections::HashMap<Slot, Vec<&String>> = Default::default();
    for c in channels {
        groups.entry(Slot::for_key(c)).or_default().push(c);
    }
    groups.into_values().collect()
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(cmd, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

/// Awaits `fut` within the configured deadline.
pub(crate) async fn bounded<T>(
    cfg: &RedisConfig,
    fut: impl Future<Output = redis::RedisResult<T>>,
) -> Result<T> {
    match tokio::time::timeout(cfg.timeout(), fut).await {
        Ok(r) => Ok(r?),
        Err(_) => Err(Error::Timeout(cfg.timeout_ms)),
    }
}

/// [`bounded`], recording the round trip under `op` (latency histogram,
/// error counter; script errors counted apart).
pub(crate) async fn timed<T>(
    cfg: &RedisConfig,
    op: &'static str,
    fut: impl Future<Output = redis::RedisResult<T>>,
) -> Result<T> {
    let started = Instant::now();
    let result = bounded(cfg, fut).await;
    metrics::round_trip(op, started.elapsed());
    if let Err(e) = &result {
        metrics::error(op, e);
    }
    result
}
