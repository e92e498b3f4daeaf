//! [`RedisStore`]: the [`MailboxStore`] on Redis. Each operation is one
//! Lua script (or one plain command) on the topic's slot, so it is atomic
//! and every node sees the same order; see `lua/*.lua` for the semantics.
//! Client acks are the exception: they are buffered and flushed in batches
//! (`acks`), and this node's reads skip what is buffered.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use redis::{ScriptInvocation, Value};
use relaybox_store::{
    Appended, MailboxStore, NewMessage, PendingPage, StoreStats, StoredMessage, TopicKey,
};
use sha2::{Digest, Sha256};

use crate::acks::AckBuffer;
use crate::codec::{self, array, text, uint};
use crate::config::RedisConfig;
use crate::conn::{timed, Conn};
use crate::error::{bad_reply, Error, Result};
use crate::health::Health;
use crate::keys::{self, TopicKeys};
use crate::scripts;

/// Extra lifetime of a topic's keys beyond its newest message's TTL, so
/// that clock skew between relay nodes and Redis cannot drop a live message.
pub const KEY_GRACE_MS: u64 = 120_000;

/// Multiplexed connections for ordinary commands, used in turn. Redis reads
/// at most 16 KiB from one connection per event-loop pass and, under
/// `appendfsync always`, fsyncs once per pass: spreading a node's commands
/// over a few connections lets more of them share each fsync.
const DATA_CONNECTIONS: usize = 4;

/// Connections used for writes that WAIT: WAIT blocks its connection, so
/// they are kept apart from the shared one and spread over a few.
const WAIT_CONNECTIONS: usize = 4;

/// The Redis-backed mailbox store. Cheap operations, and no local state
/// beyond acks awaiting their flush: any number of nodes can share one
/// Redis (or cluster).
pub struct RedisStore {
    pub(crate) cfg: RedisConfig,
    conns: Vec<Conn>,
    durable: Vec<Conn>,
    next: AtomicUsize,
    publish_cmd: &'static str,
    pub(crate) health: Arc<Health>,
    closed: AtomicBool,
    pub(crate) acks: AckBuffer,
}

impl RedisStore {
    pub(crate) async fn open(cfg: RedisConfig, health: Arc<Health>) -> Result<RedisStore> {
        let mut conns = Vec::new();
        for _ in 0..DATA_CONNECTIONS {
            conns.push(Conn::open(&cfg, None).await?);
        }
        let mut durable = Vec::new();
        if cfg.waits() {
            for _ in 0..WAIT_CONNECTIONS {
                durable.push(Conn::open(&cfg, None).await?);
            }
        }
        let publish_cmd = if cfg.is_cluster() {
            "SPUBLISH"
        } else {
            "PUBLISH"
        };
        Ok(RedisStore {
            cfg,
            conns,
            durable,
            next: AtomicUsize::new(0),
            publish_cmd,
            health,
            closed: AtomicBool::new(false),
            acks: AckBuffer::new(),
        })
    }

    /// Ack script calls the ack flusher has made (for tests: many acks of
    /// one (client, topic) within an interval cost one call).
    pub fn ack_script_calls(&self) -> u64 {
        self.acks.calls()
    }

    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            Err(Error::Closed)
        } else {
            Ok(())
        }
    }

    /// Every data connection (the fan-out pings them, so that a connection
    /// Redis dropped reconnects before a request finds it dead).
    pub(crate) fn data_conns(&self) -> Vec<Conn> {
        self.conns.clone()
    }

    /// The next data connection.
    pub(crate) fn conn(&self) -> Conn {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.conns.len();
        self.conns[i].clone()
    }

    /// Runs a script on `conn`; when `retry` and the connection turned out
    /// to be dead (Redis restarted since its last use), once more on the
    /// same, now reconnecting, connection. Only for operations that are
    /// safe to repeat (publish deduplicates, reads, acks, set changes).
    pub(crate) async fn eval(
        &self,
        op: &'static str,
        inv: &ScriptInvocation<'_>,
        conn: &mut Conn,
        retry: bool,
    ) -> Result<Value> {
        match timed(&self.cfg, op, inv.invoke_async(conn)).await {
            Err(Error::Redis(e)) if retry && stale(&e) => {
                timed(&self.cfg, op, inv.invoke_async(conn)).await
            }
            other => other,
        }
    }

    /// [`eval`](Self::eval) for a plain command.
    pub(crate) async fn query<T: redis::FromRedisValue>(
        &self,
        op: &'static str,
        cmd: &redis::Cmd,
        conn: &mut Conn,
    ) -> Result<T> {
        match timed(&self.cfg, op, cmd.query_async(conn)).await {
            Err(Error::Redis(e)) if stale(&e) => timed(&self.cfg, op, cmd.query_async(conn)).await,
            other => other,
        }
    }

    /// The connection for an acknowledged write: a WAIT connection when
    /// waiting is configured, else a data connection.
    pub(crate) fn write_conn(&self) -> Conn {
        if self.durable.is_empty() {
            return self.conn();
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.durable.len();
        self.durable[i].clone()
    }

    /// After a write on `conn` to `key`'s slot: WAIT / WAITAOF when
    /// configured, failing unless enough replicas confirm in time.
    pub(crate) async fn make_durable(&self, conn: &mut Conn, key: &str) -> Result<()> {
        if !self.cfg.waits() {
            return Ok(());
        }
        let n = self.cfg.wait_replicas;
        let ms = self.cfg.wait_timeout_ms;
        let mut cmd = redis::cmd(if self.cfg.wait_aof { "WAITAOF" } else { "WAIT" });
        if self.cfg.wait_aof {
            cmd.arg(1);
        }
        cmd.arg(n).arg(ms);
        let deadline = Duration::from_millis(self.cfg.timeout_ms + ms);
        let started = std::time::Instant::now();
        let reply = tokio::time::timeout(deadline, conn.on_owner_of(key, cmd))
            .await
            .map_err(|_| Error::Timeout(self.cfg.timeout_ms + ms))??;
        crate::metrics::round_trip("wait", started.elapsed());
        let (local, replicas) = match &reply {
            Value::Array(a) if a.len() == 2 => (uint(&a[0]), uint(&a[1])),
            other => (Some(1), uint(other)),
        };
        match (local, replicas) {
            (Some(l), Some(r)) if l >= 1 && r >= u64::from(n) => Ok(()),
            _ => Err(Error::Durability(format!(
                "{reply:?} after {ms} ms, wanted {n} replica(s)"
            ))),
        }
    }

    async fn run_read(
        &self,
        client: &str,
        topic: TopicKey,
        after: u64,
        limit: usize,
        now_ms: u64,
        consume: bool,
    ) -> Result<PendingPage> {
        self.check_open()?;
        // A fetch acks in its own script: it takes the pair's buffered acks
        // along, so the flusher neither repeats nor races them.
        let batch = if consume {
            self.acks.take(client, topic)
        } else {
            None
        };
        let buffered = self.acks.hidden(client, topic, after);
        let k = TopicKeys::new(&topic);
        let mut inv = scripts::get().read.prepare_invoke();
        inv.key(&k.stream)
            .key(&k.expiry)
            .key(&k.meta)
            .key(&k.cursors)
            .key(k.acks(client))
            .arg(client)
            .arg(after)
            .arg(limit)
            .arg(now_ms)
            .arg(if consume { "1" } else { "0" })
            .arg(self.cfg.max_page_bytes);
        for s in &buffered {
            inv.arg(*s);
        }
        let mut conn = self.conn();
        let op = if consume { "fetch" } else { "pending" };
        let reply = self.eval(op, &inv, &mut conn, true).await;
        if let Some(b) = &batch {
            self.acks.settle(b, reply.is_ok());
        }
        let reply = reply?;
        let items = array(&reply).ok_or_else(|| bad_reply("read reply"))?;
        let (Some(last), Some(more)) = (items.first().and_then(uint), items.get(1).and_then(uint))
        else {
            return Err(bad_reply("read reply header"));
        };
        let mut messages = Vec::with_capacity(items.len().saturating_sub(2));
        for e in &items[2..] {
            messages.push(Arc::new(codec::entry(topic, e)?));
        }
        Ok(PendingPage {
            messages,
            last_seq: last,
            has_more: more == 1,
        })
    }

    async fn append_inner(&self, msg: NewMessage) -> relaybox_store::Result<Appended> {
        self.check_open()?;
        let sha = hex::encode(Sha256::digest(msg.message.as_bytes()));
        let k = TopicKeys::new(&msg.topic);
        let ttl_ms = u64::from(msg.ttl_secs) * 1000;
        let mut inv = scripts::get().publish.prepare_invoke();
        inv.key(&k.stream)
            .key(&k.expiry)
            .key(&k.dedup)
            .key(&k.meta)
            .key(&k.cursors)
            .arg(&sha)
            .arg(msg.published_at_ms)
            .arg(ttl_ms)
            .arg(msg.tag)
            .arg(if msg.prompt { "1" } else { "0" })
            .arg(&*msg.publisher)
            .arg(if msg.attestation.is_some() { "1" } else { "0" })
            .arg(msg.attestation.as_deref().unwrap_or(""))
            .arg(&*msg.message)
            .arg(self.cfg.max_messages_per_topic)
            .arg(&k.channel)
            .arg(self.publish_cmd)
            .arg(KEY_GRACE_MS);
        let mut conn = self.write_conn();
        let reply = self.eval("publish", &inv, &mut conn, true).await?;
        let items = array(&reply).ok_or_else(|| bad_reply("publish reply"))?;
        let num = |i: usize| {
            items
                .get(i)
                .and_then(uint)
                .ok_or_else(|| bad_reply("publish"))
        };
        let appended = match num(0)? {
            0 => Appended {
                message: Arc::new(StoredMessage {
                    seq: num(2)?,
                    topic: msg.topic,
                    expires_at_ms: msg.published_at_ms + ttl_ms,
                    published_at_ms: msg.published_at_ms,
                    message: msg.message,
                    tag: msg.tag,
                    prompt: msg.prompt,
                    publisher: msg.publisher,
                    attestation: msg.attestation,
                }),
                prev_seq: num(1)?,
                duplicate: false,
            },
            1 => {
                let fields = items.get(3).ok_or_else(|| bad_reply("duplicate fields"))?;
                Appended {
                    message: Arc::new(codec::message(msg.topic, num(2)?, fields)?),
                    prev_seq: num(1)?,
                    duplicate: true,
                }
            }
            2 => return Err(relaybox_store::Error::MailboxFull),
            other => return Err(bad_reply(format!("publish code {other}")).into()),
        };
        // Also for a duplicate: the first copy's WAIT may have failed.
        self.make_durable(&mut conn, &k.stream).await?;
        Ok(appended)
    }
}

/// A connection error that a reconnect may cure.
fn stale(e: &redis::RedisError) -> bool {
    e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal()
}

#[async_trait::async_trait]
impl MailboxStore for RedisStore {
    async fn append(&self, msg: NewMessage) -> relaybox_store::Result<Appended> {
        self.append_inner(msg).await
    }

    /// A write is acknowledged by Redis only once it is in the AOF and
    /// fsynced (`appendfsync always`, checked at start-up), and WAIT runs
    /// inside each write when configured: nothing is left to do here.
    async fn sync(&self) -> relaybox_store::Result<()> {
        Ok(self.check_open()?)
    }

    async fn subscribe(
        &self,
        client: &str,
        topic: TopicKey,
        max_subscriptions: usize,
    ) -> relaybox_store::Result<bool> {
        self.check_open()?;
        let key = keys::subscriptions(client);
        let mut conn = self.write_conn();
        let mut inv = scripts::get().subscribe.prepare_invoke();
        inv.key(&key).arg(topic.to_hex()).arg(max_subscriptions);
        let added = self.eval("subscribe", &inv, &mut conn, true).await?;
        match added {
            redis::Value::Int(-1) => Err(relaybox_store::Error::SubscriptionLimit),
            redis::Value::Int(n) => {
                self.make_durable(&mut conn, &key).await?;
                Ok(n == 1)
            }
            other => Err(relaybox_store::Error::Backend(format!(
                "subscribe script returned {other:?}"
            ))),
        }
    }

    async fn unsubscribe(&self, client: &str, topic: TopicKey) -> relaybox_store::Result<bool> {
        self.check_open()?;
        self.acks.forget(client, topic);
        let k = TopicKeys::new(&topic);
        let mut conn = self.write_conn();
        let mut inv = scripts::get().forget.prepare_invoke();
        inv.key(&k.cursors).key(k.acks(client)).arg(client);
        self.eval("unsubscribe", &inv, &mut conn, true).await?;
        let key = keys::subscriptions(client);
        let mut cmd = redis::cmd("SREM");
        cmd.arg(&key).arg(topic.to_hex());
        let removed: u64 = self.query("unsubscribe", &cmd, &mut conn).await?;
        self.make_durable(&mut conn, &key).await?;
        Ok(removed == 1)
    }

    async fn subscriptions(&self, client: &str) -> relaybox_store::Result<Vec<TopicKey>> {
        self.check_open()?;
        let mut cmd = redis::cmd("SMEMBERS");
        cmd.arg(keys::subscriptions(client));
        let mut conn = self.conn();
        let reply: Value = self.query("subscriptions", &cmd, &mut conn).await?;
        let mut topics: Vec<TopicKey> = array(&reply)
            .ok_or_else(|| bad_reply("SMEMBERS"))?
            .iter()
            .filter_map(|v| {
                let t = text(v).and_then(TopicKey::from_hex);
                if t.is_none() {
                    tracing::error!("skipping malformed topic in a subscription set");
                }
                t
            })
            .collect();
        topics.sort_unstable();
        Ok(topics)
    }

    async fn subscription_count(&self, client: &str) -> relaybox_store::Result<usize> {
        self.check_open()?;
        let mut cmd = redis::cmd("SCARD");
        cmd.arg(keys::subscriptions(client));
        let mut conn = self.conn();
        let n: usize = self.query("subscriptions", &cmd, &mut conn).await?;
        Ok(n)
    }

    async fn pending(
        &self,
        client: &str,
        topic: TopicKey,
        after: u64,
        limit: usize,
        now_ms: u64,
    ) -> relaybox_store::Result<PendingPage> {
        let page = self
            .run_read(client, topic, after, limit, now_ms, false)
            .await;
        if page.is_err() {
            self.health.read_failed(topic);
        }
        Ok(page?)
    }

    /// Buffers the acks; the flusher writes them within `ack_flush_ms`
    /// (see `acks`). Reads on this node skip them at once.
    async fn ack(
        &self,
        client: &str,
        topic: TopicKey,
        seqs: &[u64],
        now_ms: u64,
    ) -> relaybox_store::Result<()> {
        self.check_open()?;
        self.acks.record(client, topic, seqs, now_ms);
        Ok(())
    }

    async fn fetch(
        &self,
        client: &str,
        topic: TopicKey,
        limit: usize,
        now_ms: u64,
    ) -> relaybox_store::Result<PendingPage> {
        Ok(self.run_read(client, topic, 0, limit, now_ms, true).await?)
    }

    /// Expiry needs no sweeper here: scripts delete expired messages of the
    /// topics they touch and every topic key expires with its newest message.
    async fn sweep_expired(&self, _now_ms: u64, _max: usize) -> relaybox_store::Result<usize> {
        Ok(self.check_open().map(|_| 0)?)
    }

    /// The client's subscription set expires `idle_ms` after its last
    /// touch (Redis deletes it; there is no sweep). Delivery positions live
    /// in the topics' keys, which expire with their messages.
    async fn touch(&self, client: &str, _now_ms: u64, idle_ms: u64) -> relaybox_store::Result<()> {
        self.check_open()?;
        let mut cmd = redis::cmd("PEXPIRE");
        cmd.arg(keys::subscriptions(client)).arg(idle_ms);
        let mut conn = self.conn();
        let _: i64 = self.query("touch", &cmd, &mut conn).await?;
        Ok(())
    }

    async fn sweep_idle_clients(
        &self,
        _seen_before_ms: u64,
        _max: usize,
    ) -> relaybox_store::Result<usize> {
        Ok(self.check_open().map(|_| 0)?)
    }

    /// Not tracked: the counts are the whole cluster's, which no node can
    /// know without scanning; Redis's own INFO keyspace has them.
    fn stats(&self) -> StoreStats {
        StoreStats::default()
    }

    /// Refuses new calls, flushes the buffered acks (a failure is logged:
    /// lost acks only cause redeliveries), then stops the background tasks.
    async fn close(&self) -> relaybox_store::Result<()> {
        self.closed.store(true, Ordering::Release);
        crate::acks::stop(self).await;
        self.health.closed.cancel();
        Ok(())
    }

    /// Redis answers a PING in time, and this node's pub/sub connection
    /// (its live delivery) is up.
    async fn health(&self) -> relaybox_store::Result<()> {
        self.check_open()?;
        let mut conn = self.conn();
        let ping = redis::cmd("PING");
        let limit = Duration::from_millis(self.cfg.timeout_ms.min(1000));
        match tokio::time::timeout(limit, ping.query_async::<Value>(&mut conn)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(Error::from(e).into()),
            Err(_) => return Err(Error::Timeout(limit.as_millis() as u64).into()),
        }
        if !self.health.pubsub_up() {
            return Err(Error::Reply("the pub/sub connection is down".into()).into());
        }
        Ok(())
    }
}
