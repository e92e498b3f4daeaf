//! [`RedisAttestationStore`]: the async-attestation requests in Redis, so
//! any node answers for any request. All keys share the `{rbatt}` hash tag
//! (one cluster slot: this traffic is small) so that create, answer and
//! sweep are single atomic scripts over the record and its indexes.
//!
//! A record is a HASH: `app`, `app_sha`, `auth`, `created`, `expires`,
//! `fp` (hex), `status`, and when present `topic`, `wallet`, `credential`,
//! `error`, `answered`. Indexes: a ZSET per (app, status) scored by
//! `created` (equal scores order by id, as the listing's cursor needs) and
//! a ZSET of ids scored by `expires`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use redis::Value;
use relaybox_store::{
    Answer, AttestError, AttestStats, AttestationRecord, AttestationStore, Created, ListCursor,
    ListPage, ListQuery, NewAttestation, Status, TopicKey,
};
use sha2::{Digest, Sha256};

use crate::codec::{array, text, uint};
use crate::error::{bad_reply, Result};
use crate::keys::attest as k;
use crate::mailbox::RedisStore;
use crate::scripts;

/// Ids read per listing round trip.
const LIST_CHUNK: usize = 200;

/// The Redis-backed attestation store; shares the mailbox store's connections.
pub struct RedisAttestationStore {
    store: Arc<RedisStore>,
    counts: Mutex<AttestStats>,
    swept: AtomicU64,
}

fn app_sha(app: &str) -> String {
    hex::encode(Sha256::digest(app.as_bytes()))
}

/// The record's HASH fields.
fn fields(r: &NewAttestation) -> Vec<(&'static str, String)> {
    let mut f = vec![
        ("app", r.app_identity.clone()),
        ("app_sha", app_sha(&r.app_identity)),
        ("auth", r.auth_request.clone()),
        ("created", r.created_at_ms.to_string()),
        ("expires", r.expires_at_ms.to_string()),
        ("fp", hex::encode(r.fingerprint)),
        ("status", "pending".into()),
    ];
    if let Some(t) = &r.relay_topic {
        f.push(("topic", t.to_hex()));
    }
    if let Some(w) = &r.wallet_did {
        f.push(("wallet", w.clone()));
    }
    f
}

/// A record from its HGETALL reply; `id` is the request id.
fn decode(id: &str, v: &Value) -> Result<Option<AttestationRecord>> {
    let mut m: HashMap<&str, &str> = HashMap::new();
    match v {
        Value::Map(kv) => {
            for (key, val) in kv {
                if let (Some(key), Some(val)) = (text(key), text(val)) {
                    m.insert(key, val);
                }
            }
        }
        other => {
            let flat = array(other).ok_or_else(|| bad_reply("attestation record"))?;
            for kv in flat.chunks(2) {
                if let [key, val] = kv {
                    if let (Some(key), Some(val)) = (text(key), text(val)) {
                        m.insert(key, val);
                    }
                }
            }
        }
    }
    if m.is_empty() {
        return Ok(None);
    }
    let need = |f: &str| {
        m.get(f)
            .copied()
            .ok_or_else(|| bad_reply(format!("record {id} lacks {f}")))
    };
    let num = |f: &str| -> Result<u64> { need(f)?.parse().map_err(|_| bad_reply(f)) };
    let mut fingerprint = [0u8; 32];
    hex::decode_to_slice(need("fp")?, &mut fingerprint).map_err(|_| bad_reply("fp"))?;
    let status = Status::parse(need("status")?).ok_or_else(|| bad_reply("status"))?;
    Ok(Some(AttestationRecord {
        request: NewAttestation {
            request_id: id.to_owned(),
            app_identity: need("app")?.to_owned(),
            auth_request: need("auth")?.to_owned(),
            created_at_ms: num("created")?,
            expires_at_ms: num("expires")?,
            relay_topic: m.get("topic").and_then(|t| TopicKey::from_hex(t)),
            wallet_did: m.get("wallet").map(|w| w.to_string()),
            fingerprint,
        },
        status,
        credential: m.get("credential").map(|c| c.to_string()),
        error: m.get("error").map(|e| e.to_string()),
        answered_at_ms: m.get("answered").and_then(|a| a.parse().ok()),
    }))
}

impl RedisAttestationStore {
    pub(crate) fn new(store: Arc<RedisStore>) -> Arc<RedisAttestationStore> {
        let s = Arc::new(RedisAttestationStore {
            store,
            counts: Mutex::new(AttestStats::default()),
            swept: AtomicU64::new(0),
        });
        tokio::spawn(refresh_counts(Arc::downgrade(&s)));
        s
    }

    async fn get_inner(&self, id: &str) -> Result<Option<AttestationRecord>> {
        let mut cmd = redis::cmd("HGETALL");
        cmd.arg(k::record(id));
        let mut conn = self.store.conn();
        let v: Value = self.store.query("attest_get", &cmd, &mut conn).await?;
        decode(id, &v)
    }

    /// Reads the status counters shared by every node.
    async fn load_counts(&self) -> Result<()> {
        let mut cmd = redis::cmd("HGETALL");
        cmd.arg(k::COUNTS);
        let mut conn = self.store.conn();
        let v: Value = self.store.query("attest_stats", &cmd, &mut conn).await?;
        let mut c = AttestStats::default();
        let mut set = |key: &str, n: u64| match key {
            "pending" => c.pending = n,
            "approved" => c.approved = n,
            "denied" => c.denied = n,
            _ => {}
        };
        match &v {
            Value::Map(kv) => kv.iter().for_each(|(a, b)| {
                if let (Some(a), Some(b)) = (text(a), uint(b)) {
                    set(a, b)
                }
            }),
            other => {
                for kv in array(other).unwrap_or_default().chunks(2) {
                    if let [a, b] = kv {
                        if let (Some(a), Some(b)) = (text(a), uint(b)) {
                            set(a, b)
                        }
                    }
                }
            }
        }
        *self.counts.lock() = c;
        Ok(())
    }
}

async fn refresh_counts(store: std::sync::Weak<RedisAttestationStore>) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tick.tick().await;
        let Some(s) = store.upgrade() else { return };
        if s.store.health.closed.is_cancelled() {
            return;
        }
        let _ = s.load_counts().await;
    }
}

#[async_trait::async_trait]
impl AttestationStore for RedisAttestationStore {
    async fn create(&self, request: NewAttestation, now_ms: u64) -> Result<Created, AttestError> {
        let id = request.request_id.clone();
        let mut inv = scripts::get().att_create.prepare_invoke();
        inv.key(k::record(&id))
            .key(k::EXPIRY)
            .key(k::COUNTS)
            .arg(&id)
            .arg(now_ms);
        for (name, value) in fields(&request) {
            inv.arg(name).arg(value);
        }
        let mut conn = self.store.write_conn();
        // A repeat is idempotent (same fingerprint), so a retry is safe.
        let v = self
            .store
            .eval("attest_create", &inv, &mut conn, true)
            .await?;
        let items = array(&v).ok_or_else(|| bad_reply("create reply"))?;
        let created = match items.first().and_then(|c| match c {
            Value::Int(i) => Some(*i),
            _ => None,
        }) {
            Some(1) => Created {
                record: AttestationRecord::pending(request),
                new: true,
            },
            Some(0) => {
                let old = items.get(1).ok_or_else(|| bad_reply("create"))?;
                let record = decode(&id, old)?.ok_or_else(|| bad_reply("create"))?;
                Created { record, new: false }
            }
            Some(-1) => return Err(AttestError::Conflict),
            _ => return Err(bad_reply(format!("create reply {v:?}")).into()),
        };
        // An idempotent repeat may race the first create's WAIT: wait too.
        self.store.make_durable(&mut conn, k::EXPIRY).await?;
        Ok(created)
    }

    async fn ids_page(
        &self,
        cursor: Option<String>,
        max: usize,
    ) -> Result<relaybox_store::Page<String>, AttestError> {
        // Every request is in the expiry index, one key in one slot: ZSCAN
        // walks it on a cluster too.
        let from = cursor.unwrap_or_else(|| "0".into());
        if from.parse::<u64>().is_err() {
            return Err(AttestError::Sync(relaybox_store::Error::Unsupported(
                format!("not a cursor of this store: {from:?}"),
            )));
        }
        let mut cmd = redis::cmd("ZSCAN");
        cmd.arg(k::EXPIRY).arg(&from).arg("COUNT").arg(max.max(10));
        let mut conn = self.store.conn();
        let reply: Value = self.store.query("attest_walk", &cmd, &mut conn).await?;
        let parts = array(&reply).ok_or_else(|| bad_reply("ZSCAN"))?;
        let [next, found] = parts else {
            return Err(bad_reply("ZSCAN reply shape").into());
        };
        let next = crate::codec::text(next).ok_or_else(|| bad_reply("ZSCAN cursor"))?;
        let found = array(found).ok_or_else(|| bad_reply("ZSCAN members"))?;
        // Members and scores alternate.
        let items = found
            .chunks(2)
            .filter_map(|pair| crate::codec::text(&pair[0]).map(str::to_owned))
            .collect();
        Ok(relaybox_store::Page {
            items,
            next: (next != "0").then(|| next.to_owned()),
        })
    }

    async fn get(&self, request_id: &str) -> Result<Option<AttestationRecord>, AttestError> {
        Ok(self.get_inner(request_id).await?)
    }

    async fn answer(
        &self,
        request_id: &str,
        answer: Answer,
        now_ms: u64,
    ) -> Result<AttestationRecord, AttestError> {
        let (status, field, value) = match answer {
            Answer::Approve { credential } => ("approved", "credential", credential),
            Answer::Deny { error } => ("denied", "error", error),
        };
        let mut inv = scripts::get().att_answer.prepare_invoke();
        inv.key(k::record(request_id))
            .key(k::COUNTS)
            .arg(request_id)
            .arg(now_ms)
            .arg(status)
            .arg(field)
            .arg(value);
        let mut conn = self.store.write_conn();
        // Not retried: a repeat of an answer that went through is refused.
        let v = self
            .store
            .eval("attest_answer", &inv, &mut conn, false)
            .await?;
        let items = array(&v).ok_or_else(|| bad_reply("answer reply"))?;
        let code = match items.first() {
            Some(Value::Int(i)) => *i,
            _ => return Err(bad_reply("answer code").into()),
        };
        match code {
            1 => {
                let rec = items
                    .get(1)
                    .map(|r| decode(request_id, r))
                    .transpose()?
                    .flatten();
                let rec = rec.ok_or_else(|| bad_reply("answered record"))?;
                self.store.make_durable(&mut conn, k::COUNTS).await?;
                Ok(rec)
            }
            -2 => Err(AttestError::NotFound),
            -3 => Err(AttestError::Expired),
            -4 => {
                let s = items.get(1).and_then(text).and_then(Status::parse);
                Err(AttestError::AlreadyAnswered(s.unwrap_or(Status::Approved)))
            }
            other => Err(bad_reply(format!("answer code {other}")).into()),
        }
    }

    async fn list(&self, q: ListQuery<'_>, now_ms: u64) -> Result<ListPage, AttestError> {
        let key = k::by_app(&app_sha(q.app_identity), q.status.as_str());
        let min = q
            .after
            .as_ref()
            .map_or("-inf".to_owned(), |c| c.created_at_ms.to_string());
        let mut page = ListPage::default();
        let mut offset = 0;
        'scan: loop {
            let mut cmd = redis::cmd("ZRANGEBYSCORE");
            cmd.arg(&key)
                .arg(&min)
                .arg("+inf")
                .arg("WITHSCORES")
                .arg("LIMIT")
                .arg(offset)
                .arg(LIST_CHUNK);
            let mut conn = self.store.conn();
            let v: Value = self.store.query("attest_list", &cmd, &mut conn).await?;
            let flat = array(&v).ok_or_else(|| bad_reply("ZRANGEBYSCORE"))?;
            let ids: Vec<(String, u64)> = flat
                .chunks(2)
                .filter_map(|kv| match kv {
                    [id, score] => Some((
                        text(id)?.to_owned(),
                        text(score)?.parse::<f64>().ok()? as u64,
                    )),
                    _ => None,
                })
                .collect();
            offset += ids.len();
            let done = ids.len() < LIST_CHUNK;
            for (id, created) in ids {
                if let Some(c) = &q.after {
                    let key = (created, id.as_bytes());
                    if key <= (c.created_at_ms, c.request_id.as_bytes()) {
                        continue;
                    }
                }
                let Some(rec) = self.get_inner(&id).await? else {
                    continue;
                };
                if !rec.matches(&q, now_ms) {
                    continue;
                }
                if page.records.len() == q.limit {
                    page.next = page.records.last().map(|r| ListCursor {
                        created_at_ms: r.request.created_at_ms,
                        request_id: r.request.request_id.clone(),
                    });
                    break 'scan;
                }
                page.records.push(rec);
            }
            if done {
                break;
            }
        }
        Ok(page)
    }

    async fn sweep_expired(&self, now_ms: u64, max: usize) -> Result<usize, AttestError> {
        let mut inv = scripts::get().att_sweep.prepare_invoke();
        inv.key(k::EXPIRY).key(k::COUNTS).arg(now_ms).arg(max);
        let mut conn = self.store.conn();
        let n = self
            .store
            .eval("attest_sweep", &inv, &mut conn, true)
            .await?;
        let n = uint(&n).ok_or_else(|| bad_reply("sweep reply"))?;
        self.swept.fetch_add(n, Ordering::Relaxed);
        Ok(n as usize)
    }

    fn stats(&self) -> AttestStats {
        let mut s = *self.counts.lock();
        s.expired_swept = self.swept.load(Ordering::Relaxed);
        s
    }
}
