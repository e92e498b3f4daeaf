//! [`RedisWatchStore`]: webhook registrations and the event queue in Redis,
//! shared by every node. All keys share the `{rbwh}` hash tag (one cluster
//! slot: this traffic is small) so that each change is one atomic script.
//!
//! - `rb:{rbwh}:w:<client>`: HASH `service \n webhook` -> registration JSON;
//!   `rb:{rbwh}:clients`: SET of clients with registrations.
//! - `rb:{rbwh}:ev`: HASH event id -> JSON; `rb:{rbwh}:due`: ZSET of ids by
//!   the time they are due; `rb:{rbwh}:seq`: the id counter.
//!
//! Taking due events moves them a lease ahead (`LEASE_MS`), so one node
//! sends an event while the others skip it; a node that dies mid-send
//! leaves it to be taken again when the lease ends.
//!
//! Each node keeps the registrations in memory (every publish asks), read
//! again from Redis every `REFRESH` and updated at once by its own
//! changes: a registration made on another node is in force here within
//! that period.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use redis::{Script, Value};
use relaybox_store::{QueuedEvent, Watch, WatchCache, WatchStore};

use crate::codec::{array, text, uint};
use crate::error::{bad_reply, Error, Result};
use crate::mailbox::RedisStore;

const CLIENTS: &str = "rb:{rbwh}:clients";
const EVENTS: &str = "rb:{rbwh}:ev";
const DUE: &str = "rb:{rbwh}:due";
const SEQ: &str = "rb:{rbwh}:seq";
/// How long a taken event is hidden from the other nodes.
const LEASE_MS: u64 = 60_000;
/// How often the registrations are read again.
const REFRESH: Duration = Duration::from_secs(1);

fn watches_key(client: &str) -> String {
    format!("rb:{{rbwh}}:w:{client}")
}

fn field(service: &str, webhook: &str) -> String {
    format!("{service}\n{webhook}")
}

const PUT: &str = r"
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0
   and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[4])
return 1";

const REMOVE: &str = r"
local n = redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('HLEN', KEYS[1]) == 0 then
  redis.call('SREM', KEYS[2], ARGV[2])
end
return n";

const TAKE: &str = r"
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, id in ipairs(ids) do
  local body = redis.call('HGET', KEYS[2], id)
  if body then
    redis.call('ZADD', KEYS[1], ARGV[3], id)
    table.insert(out, body)
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out";

/// The Redis webhook store; shares the mailbox store's connections.
pub struct RedisWatchStore {
    store: Arc<RedisStore>,
    cache: WatchCache,
    queued: AtomicU64,
}

/// Runs a pipeline on `conn`, timed like every other call (no retry: the
/// queue's writes are not all safe to repeat blindly).
async fn run_pipe(
    store: &RedisStore,
    op: &'static str,
    pipe: &redis::Pipeline,
    conn: &mut crate::conn::Conn,
) -> Result<Value> {
    crate::conn::timed(&store.cfg, op, pipe.query_async(conn)).await
}

impl RedisWatchStore {
    pub(crate) async fn new(store: Arc<RedisStore>) -> Result<Arc<RedisWatchStore>> {
        let s = Arc::new(RedisWatchStore {
            store,
            cache: WatchCache::default(),
            queued: AtomicU64::new(0),
        });
        s.refresh().await?;
        tokio::spawn(refresh_loop(Arc::downgrade(&s)));
        Ok(s)
    }

    /// Reads every registration and the queue's size again.
    async fn refresh(&self) -> Result<()> {
        let mut conn = self.store.conn();
        let mut members = redis::cmd("SMEMBERS");
        members.arg(CLIENTS);
        let clients: Vec<String> = self
            .store
            .query("watch_clients", &members, &mut conn)
            .await?;
        let mut fresh: Vec<(String, Vec<Watch>)> = Vec::with_capacity(clients.len());
        for client in clients {
            let mut all = redis::cmd("HVALS");
            all.arg(watches_key(&client));
            let values: Vec<String> = self.store.query("watch_get", &all, &mut conn).await?;
            let watches = values
                .iter()
                .filter_map(|v| serde_json::from_str::<Watch>(v).ok())
                .collect::<Vec<_>>();
            fresh.push((client, watches));
        }
        self.cache.replace_all(fresh);
        let mut len = redis::cmd("ZCARD");
        len.arg(DUE);
        let n: u64 = self.store.query("watch_queue_len", &len, &mut conn).await?;
        self.queued.store(n, Ordering::Relaxed);
        Ok(())
    }

    async fn write(
        &self,
        op: &'static str,
        script: &str,
        keys: &[&str],
        args: &[String],
    ) -> Result<Value> {
        let script = Script::new(script);
        let mut inv = script.prepare_invoke();
        for k in keys {
            inv.key(*k);
        }
        for a in args {
            inv.arg(a);
        }
        let mut conn = self.store.write_conn();
        let v = self.store.eval(op, &inv, &mut conn, true).await?;
        self.store.make_durable(&mut conn, keys[0]).await?;
        Ok(v)
    }
}

async fn refresh_loop(store: Weak<RedisWatchStore>) {
    let mut tick = tokio::time::interval(REFRESH);
    loop {
        tick.tick().await;
        let Some(s) = store.upgrade() else { return };
        if s.store.health.closed.is_cancelled() {
            return;
        }
        if let Err(e) = s.refresh().await {
            tracing::warn!(error = %e, "reading webhook registrations failed");
        }
    }
}

fn decode(v: &Value) -> Result<QueuedEvent> {
    let t = text(v).ok_or_else(|| bad_reply("webhook event"))?;
    serde_json::from_str(t).map_err(|e| bad_reply(format!("webhook event: {e}")))
}

#[async_trait::async_trait]
impl WatchStore for RedisWatchStore {
    async fn put_watch(&self, watch: Watch, max_per_client: usize) -> relaybox_store::Result<()> {
        let key = watches_key(&watch.client_id);
        let json = serde_json::to_string(&watch).map_err(|e| Error::Reply(e.to_string()))?;
        let args = [
            field(&watch.service_url, &watch.webhook_url),
            json,
            max_per_client.to_string(),
            watch.client_id.clone(),
        ];
        let v = self
            .write("watch_put", PUT, &[&key, CLIENTS], &args)
            .await?;
        if uint(&v) != Some(1) {
            return Err(relaybox_store::Error::WatchLimit);
        }
        self.cache.put(watch);
        Ok(())
    }

    async fn remove_watch(
        &self,
        client_id: &str,
        service_url: &str,
        webhook_url: &str,
    ) -> relaybox_store::Result<bool> {
        let key = watches_key(client_id);
        let args = [field(service_url, webhook_url), client_id.to_owned()];
        let v = self
            .write("watch_remove", REMOVE, &[&key, CLIENTS], &args)
            .await?;
        self.cache.remove(client_id, service_url, webhook_url);
        Ok(uint(&v) == Some(1))
    }

    fn cache(&self) -> &WatchCache {
        &self.cache
    }

    async fn enqueue(&self, events: Vec<QueuedEvent>) -> relaybox_store::Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut conn = self.store.write_conn();
        let mut incr = redis::cmd("INCRBY");
        incr.arg(SEQ).arg(events.len());
        let last: u64 = self.store.query("watch_seq", &incr, &mut conn).await?;
        let first = last + 1 - events.len() as u64;
        let n = events.len() as u64;
        let mut pipe = redis::pipe();
        pipe.atomic();
        for (i, mut event) in events.into_iter().enumerate() {
            event.id = first + i as u64;
            let json = serde_json::to_string(&event).map_err(|e| Error::Reply(e.to_string()))?;
            pipe.cmd("HSET")
                .arg(EVENTS)
                .arg(event.id)
                .arg(json)
                .ignore();
            pipe.cmd("ZADD")
                .arg(DUE)
                .arg(event.due_ms)
                .arg(event.id)
                .ignore();
        }
        let _: Value = run_pipe(&self.store, "watch_enqueue", &pipe, &mut conn).await?;
        self.store.make_durable(&mut conn, EVENTS).await?;
        self.queued.fetch_add(n, Ordering::Relaxed);
        Ok(())
    }

    async fn due(&self, now_ms: u64, max: usize) -> relaybox_store::Result<Vec<QueuedEvent>> {
        let args = [
            now_ms.to_string(),
            max.to_string(),
            (now_ms + LEASE_MS).to_string(),
        ];
        let v = self
            .write("watch_take", TAKE, &[DUE, EVENTS], &args)
            .await?;
        let items = array(&v).ok_or_else(|| bad_reply("taken events"))?;
        Ok(items.iter().map(decode).collect::<Result<Vec<_>>>()?)
    }

    async fn finish(&self, event: &QueuedEvent) -> relaybox_store::Result<()> {
        let mut conn = self.store.conn();
        let mut pipe = redis::pipe();
        pipe.atomic();
        pipe.cmd("ZREM").arg(DUE).arg(event.id).ignore();
        pipe.cmd("HDEL").arg(EVENTS).arg(event.id).ignore();
        let _: Value = run_pipe(&self.store, "watch_finish", &pipe, &mut conn).await?;
        Ok(())
    }

    async fn retry(&self, event: &QueuedEvent, due_ms: u64) -> relaybox_store::Result<()> {
        let mut next = event.clone();
        next.due_ms = due_ms;
        next.attempts += 1;
        let json = serde_json::to_string(&next).map_err(|e| Error::Reply(e.to_string()))?;
        let mut conn = self.store.conn();
        let mut pipe = redis::pipe();
        pipe.atomic();
        pipe.cmd("HSET").arg(EVENTS).arg(next.id).arg(json).ignore();
        pipe.cmd("ZADD").arg(DUE).arg(due_ms).arg(next.id).ignore();
        let _: Value = run_pipe(&self.store, "watch_retry", &pipe, &mut conn).await?;
        Ok(())
    }

    fn queued(&self) -> u64 {
        self.queued.load(Ordering::Relaxed)
    }

    async fn sweep_watches(&self, now_secs: i64) -> relaybox_store::Result<usize> {
        let expired = self.cache.expired(now_secs);
        for w in &expired {
            self.remove_watch(&w.client_id, &w.service_url, &w.webhook_url)
                .await?;
        }
        Ok(expired.len())
    }

    async fn sync(&self) -> relaybox_store::Result<()> {
        // Every write above waited for its durability already.
        Ok(())
    }
}
