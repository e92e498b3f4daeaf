//! [`Inspect`] for [`RedisStore`]: a topic's stream read whole for its
//! summary, the purge script, and the export walks over `SCAN`.
//!
//! Redis keeps no topic -> subscribers index (a subscription lives in the
//! client's slot, so that the per-client limit is one atomic script), so
//! listing a topic's subscribers and walking every key scan the keyspace.
//! That is an operator's tool on standalone Redis; on a Redis Cluster
//! `SCAN` would have to visit every primary, which these calls refuse
//! with [`Error::Unsupported`] rather than answer partly.

use std::sync::Arc;

use redis::Value;
use relaybox_store::{
    Error, ExpirySchedule, Inspect, Page, Result, StoreUsage, StoredMessage, Subscription,
    TopicKey, TopicSummary,
};

use crate::codec::{self, array, text, uint};
use crate::error::bad_reply;
use crate::keys::{self, TopicKeys};
use crate::mailbox::RedisStore;
use crate::scripts;

/// Entries read per `XRANGE`.
const RANGE_BATCH: usize = 500;

impl RedisStore {
    fn refuse_on_cluster(&self, what: &str) -> Result<()> {
        if self.cfg.is_cluster() {
            return Err(Error::Unsupported(format!(
                "{what} scans the keyspace, which this relay does only on standalone Redis"
            )));
        }
        Ok(())
    }

    /// One `SCAN` step over keys matching `pattern`: the keys and the next
    /// cursor (`None` when the scan is complete).
    async fn scan(
        &self,
        cursor: Option<String>,
        pattern: &str,
        count: usize,
    ) -> Result<(Vec<String>, Option<String>)> {
        let from = cursor.unwrap_or_else(|| "0".into());
        if from.parse::<u64>().is_err() {
            return Err(Error::Unsupported(format!(
                "not a cursor of this store: {from:?}"
            )));
        }
        let mut cmd = redis::cmd("SCAN");
        cmd.arg(&from)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(count.max(10));
        let mut conn = self.conn();
        let reply: Value = self.query("scan", &cmd, &mut conn).await?;
        let parts = array(&reply).ok_or_else(|| bad_reply("SCAN"))?;
        let [next, found] = parts else {
            return Err(bad_reply("SCAN reply shape").into());
        };
        let next = text(next).ok_or_else(|| bad_reply("SCAN cursor"))?;
        let found = array(found).ok_or_else(|| bad_reply("SCAN keys"))?;
        let keys = found.iter().filter_map(|k| text(k).map(str::to_owned));
        let next = (next != "0").then(|| next.to_owned());
        Ok((keys.collect(), next))
    }

    /// `used_memory` and `maxmemory` from `INFO memory`.
    async fn memory(&self) -> Result<(Option<u64>, Option<u64>)> {
        let mut cmd = redis::cmd("INFO");
        cmd.arg("memory");
        let mut conn = self.conn();
        let text: String = self.query("inspect", &cmd, &mut conn).await?;
        let field = |name: &str| {
            text.lines().find_map(|l| {
                l.strip_prefix(name)?
                    .strip_prefix(':')?
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
        };
        Ok((field("used_memory"), field("maxmemory").filter(|m| *m > 0)))
    }

    /// Every topic's live messages by expiry (a keyspace walk).
    async fn schedule(&self, now_ms: u64) -> Result<ExpirySchedule> {
        const HOUR: u64 = 3_600_000;
        let bounds = [
            now_ms,
            now_ms + HOUR,
            now_ms + 24 * HOUR,
            now_ms + 7 * 24 * HOUR,
        ];
        let mut schedule = ExpirySchedule::default();
        let mut cursor = None;
        loop {
            let (found, next) = self.scan(cursor, "rb:{*}:e", 1_000).await?;
            let is_topic = |k: &&String| {
                let tag = k.strip_prefix("rb:{").and_then(|k| k.strip_suffix("}:e"));
                tag.and_then(TopicKey::from_hex).is_some()
            };
            for key in found.iter().filter(is_topic) {
                let mut pipe = redis::pipe();
                for w in bounds.windows(2) {
                    pipe.cmd("ZCOUNT")
                        .arg(key)
                        .arg(format!("({}", w[0]))
                        .arg(w[1]);
                }
                pipe.cmd("ZCOUNT")
                    .arg(key)
                    .arg(format!("({}", bounds[3]))
                    .arg("+inf");
                let mut conn = self.conn();
                let counts: Vec<u64> =
                    crate::conn::timed(&self.cfg, "inspect", pipe.query_async(&mut conn)).await?;
                if let [h, d, w, l] = counts[..] {
                    schedule.within_hour += h;
                    schedule.within_day += d;
                    schedule.within_week += w;
                    schedule.later += l;
                }
            }
            match next {
                Some(n) => cursor = Some(n),
                None => return Ok(schedule),
            }
        }
    }

    /// The client ids of subscription-set keys.
    fn clients_of(keys: &[String]) -> impl Iterator<Item = &str> {
        keys.iter()
            .filter_map(|k| k.strip_prefix("rb:{c:")?.strip_suffix("}:t"))
    }
}

#[async_trait::async_trait]
impl Inspect for RedisStore {
    async fn topic_summary(&self, topic: TopicKey, now_ms: u64) -> Result<TopicSummary> {
        let mut summary = TopicSummary::default();
        let mut after = 0;
        loop {
            let page = self
                .messages_after(topic, after, RANGE_BATCH, now_ms)
                .await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            page.iter().for_each(|m| summary.add(m));
        }
        let mut cmd = redis::cmd("HGET");
        cmd.arg(TopicKeys::new(&topic).meta).arg("n");
        let mut conn = self.conn();
        let newest: Option<u64> = self.query("inspect", &cmd, &mut conn).await?;
        summary.newest_seq = newest.unwrap_or(0);
        Ok(summary)
    }

    async fn topic_subscribers(&self, topic: TopicKey, max: usize) -> Result<Vec<String>> {
        self.refuse_on_cluster("listing a topic's subscribers")?;
        let (hex, mut out, mut cursor) = (topic.to_hex(), Vec::new(), None);
        loop {
            let (found, next) = self.scan(cursor, "rb:{c:*}:t", 1_000).await?;
            for client in Self::clients_of(&found) {
                if out.len() >= max {
                    return Ok(out);
                }
                let mut cmd = redis::cmd("SISMEMBER");
                cmd.arg(keys::subscriptions(client)).arg(&hex);
                let mut conn = self.conn();
                let member: bool = self.query("inspect", &cmd, &mut conn).await?;
                if member {
                    out.push(client.to_owned());
                }
            }
            match next {
                Some(n) => cursor = Some(n),
                None => return Ok(out),
            }
        }
    }

    async fn cursor(&self, client: &str, topic: TopicKey) -> Result<u64> {
        let mut cmd = redis::cmd("HGET");
        cmd.arg(TopicKeys::new(&topic).cursors).arg(client);
        let mut conn = self.conn();
        let cursor: Option<u64> = self.query("inspect", &cmd, &mut conn).await?;
        Ok(cursor.unwrap_or(0))
    }

    async fn delete_topic_messages(&self, topic: TopicKey) -> Result<u64> {
        let k = TopicKeys::new(&topic);
        let mut conn = self.write_conn();
        let mut inv = scripts::get().purge.prepare_invoke();
        inv.key(&k.stream).key(&k.expiry).key(&k.dedup);
        let reply = self.eval("purge", &inv, &mut conn, true).await?;
        let n = uint(&reply).ok_or_else(|| bad_reply("purge reply"))?;
        self.make_durable(&mut conn, &k.stream).await?;
        Ok(n)
    }

    async fn topics_page(&self, cursor: Option<String>, max: usize) -> Result<Page<TopicKey>> {
        self.refuse_on_cluster("walking every topic")?;
        let (found, next) = self.scan(cursor, "rb:{*}:s", max).await?;
        let items = found
            .iter()
            .filter_map(|k| TopicKey::from_hex(k.strip_prefix("rb:{")?.strip_suffix("}:s")?))
            .collect();
        Ok(Page { items, next })
    }

    async fn messages_after(
        &self,
        topic: TopicKey,
        after: u64,
        max: usize,
        now_ms: u64,
    ) -> Result<Vec<Arc<StoredMessage>>> {
        let k = TopicKeys::new(&topic);
        let (mut out, mut from) = (Vec::new(), after);
        while out.len() < max {
            let mut cmd = redis::cmd("XRANGE");
            cmd.arg(&k.stream)
                .arg(format!("(0-{from}"))
                .arg("+")
                .arg("COUNT")
                .arg(RANGE_BATCH);
            let mut conn = self.conn();
            let reply: Value = self.query("inspect", &cmd, &mut conn).await?;
            let entries = array(&reply).ok_or_else(|| bad_reply("XRANGE"))?;
            for e in entries {
                let m = codec::entry(topic, e)?;
                from = m.seq;
                if m.expires_at_ms > now_ms && out.len() < max {
                    out.push(Arc::new(m));
                }
            }
            if entries.len() < RANGE_BATCH {
                break;
            }
        }
        Ok(out)
    }

    async fn usage(&self, now_ms: u64) -> Result<StoreUsage> {
        if self.cfg.is_cluster() {
            // One node's INFO would say nothing about the others.
            return Ok(StoreUsage::default());
        }
        let (used, max) = self.memory().await?;
        Ok(StoreUsage {
            bytes: used,
            free_bytes: max.zip(used).map(|(m, u)| m.saturating_sub(u)),
            budget_bytes: max,
            expiring: Some(self.schedule(now_ms).await?),
        })
    }

    async fn subscriptions_page(
        &self,
        cursor: Option<String>,
        max: usize,
    ) -> Result<Page<Subscription>> {
        self.refuse_on_cluster("walking every subscription")?;
        let (found, next) = self.scan(cursor, "rb:{c:*}:t", max).await?;
        let mut items = Vec::new();
        for client in Self::clients_of(&found) {
            for topic in relaybox_store::MailboxStore::subscriptions(self, client).await? {
                items.push(Subscription {
                    client: client.to_owned(),
                    topic,
                });
            }
        }
        Ok(Page { items, next })
    }
}
