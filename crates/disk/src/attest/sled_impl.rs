//! [`SledAttestationStore`]: the attestation store in three sled trees of
//! the mailbox database (records, the per-app index, the expiry index).
//!
//! Every change touches all three trees in one multi-tree sled transaction,
//! so an index never points at a missing record or the other way round.
//! Changes to one request id are also serialised by a striped lock, so that
//! many concurrent answers queue up instead of retrying conflicting
//! transactions; the transaction still decides who wins.

use std::hash::{Hash, Hasher};
use std::ops::Bound;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use sled::transaction::{ConflictableTransactionError as Txe, TransactionError};
use sled::Transactional;

use relaybox_store::{
    Answer, AttestError, AttestResult, AttestStats, AttestationRecord, AttestationStore, Created,
    ListCursor, ListPage, ListQuery, NewAttestation, Status,
};

use super::codec::{self, app_key, expiry_key};
use crate::DiskStore;

/// sled errors stay inside this crate: the trait's error gets their text.
#[derive(Debug)]
enum AttErr {
    Att(AttestError),
    Sled(sled::Error),
}

impl From<AttestError> for AttErr {
    fn from(e: AttestError) -> Self {
        AttErr::Att(e)
    }
}

impl From<sled::Error> for AttErr {
    fn from(e: sled::Error) -> Self {
        AttErr::Sled(e)
    }
}

impl From<AttErr> for AttestError {
    fn from(e: AttErr) -> Self {
        match e {
            AttErr::Att(e) => e,
            AttErr::Sled(e) => AttestError::Storage(e.to_string()),
        }
    }
}

type Res<T> = Result<T, AttErr>;

/// Tree of records, keyed by request id.
pub const ATTEST_TREE: &str = "attest_requests";
/// Tree of `sha256(app) | status | created_at | id` index keys.
pub const ATTEST_BY_APP_TREE: &str = "attest_by_app";
/// Tree of `expires_at | id` index keys.
pub const ATTEST_EXPIRY_TREE: &str = "attest_expiry";

const STRIPES: usize = 256;
/// Index entries carry everything in their keys.
const EMPTY: &[u8] = &[];

/// The sled-backed [`AttestationStore`]. Its sled calls run on tokio's
/// blocking pool, never on an async worker.
pub struct SledAttestationStore {
    trees: Arc<Trees>,
    /// Supplies durability: its group commit flushes the whole database.
    mailbox: Arc<DiskStore>,
}

/// The three trees and what guards and counts them.
struct Trees {
    records: sled::Tree,
    by_app: sled::Tree,
    expiry: sled::Tree,
    locks: Box<[Mutex<()>]>,
    pending: AtomicI64,
    approved: AtomicI64,
    denied: AtomicI64,
    swept: AtomicI64,
}

impl SledAttestationStore {
    /// Opens the attestation trees in `mailbox`'s database and counts what
    /// is stored. Writes are made durable through `mailbox`'s group commit.
    pub fn open(mailbox: &Arc<DiskStore>) -> AttestResult<Arc<SledAttestationStore>> {
        Self::open_inner(mailbox).map_err(AttestError::from)
    }

    fn open_inner(mailbox: &Arc<DiskStore>) -> Res<Arc<SledAttestationStore>> {
        Ok(Arc::new(SledAttestationStore {
            trees: Arc::new(Trees::open(mailbox.db())?),
            mailbox: mailbox.clone(),
        }))
    }

    /// Entries in the per-app and expiry indexes.
    #[cfg(test)]
    pub(super) fn index_lens(&self) -> (usize, usize) {
        (self.trees.by_app.len(), self.trees.expiry.len())
    }

    async fn sync(&self) -> AttestResult<()> {
        self.mailbox.sync_state().await.map_err(AttestError::Sync)
    }

    /// Runs `f` on the trees on tokio's blocking pool.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Trees) -> Res<T> + Send + 'static,
    ) -> AttestResult<T> {
        let trees = self.trees.clone();
        tokio::task::spawn_blocking(move || f(&trees))
            .await
            .map_err(|e| AttestError::Storage(format!("attestation task failed: {e}")))?
            .map_err(AttestError::from)
    }
}

impl Trees {
    fn open(db: &sled::Db) -> Res<Trees> {
        let store = Trees {
            records: db.open_tree(ATTEST_TREE)?,
            by_app: db.open_tree(ATTEST_BY_APP_TREE)?,
            expiry: db.open_tree(ATTEST_EXPIRY_TREE)?,
            locks: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            pending: AtomicI64::new(0),
            approved: AtomicI64::new(0),
            denied: AtomicI64::new(0),
            swept: AtomicI64::new(0),
        };
        for item in store.records.iter() {
            let (key, value) = item?;
            match codec::decode(&value) {
                Ok(rec) => store.count(rec.status, 1),
                Err(e) => tracing::error!(key = %String::from_utf8_lossy(&key), error = %e,
                    "skipping corrupt attestation record in stats scan"),
            }
        }
        Ok(store)
    }

    fn lock(&self, request_id: &str) -> &Mutex<()> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        request_id.hash(&mut h);
        &self.locks[(h.finish() % STRIPES as u64) as usize]
    }

    fn count(&self, status: Status, delta: i64) {
        let counter = match status {
            Status::Pending => &self.pending,
            Status::Approved => &self.approved,
            Status::Denied => &self.denied,
        };
        counter.fetch_add(delta, Ordering::Relaxed);
    }

    /// The create transaction; returns the outcome and the status of an
    /// expired record it replaced.
    fn create_locked(
        &self,
        request: &NewAttestation,
        now_ms: u64,
    ) -> Res<(Created, Option<Status>)> {
        let fresh = AttestationRecord::pending(request.clone());
        let encoded = codec::encode(&fresh);
        let id = request.request_id.as_bytes();
        let result = (&self.records, &self.by_app, &self.expiry).transaction(|(r, a, e)| {
            let mut replaced = None;
            if let Some(old) = r.get(id)? {
                let old = codec::decode(&old).map_err(Txe::Abort)?;
                if !old.is_expired(now_ms) {
                    if old.request.fingerprint == request.fingerprint {
                        let created = Created {
                            record: old,
                            new: false,
                        };
                        return Ok((created, None));
                    }
                    return Err(Txe::Abort(AttestError::Conflict));
                }
                a.remove(app_key(&old.request, old.status))?;
                e.remove(expiry_key(&old.request))?;
                replaced = Some(old.status);
            }
            r.insert(id, encoded.as_slice())?;
            a.insert(app_key(request, Status::Pending), EMPTY)?;
            e.insert(expiry_key(request), EMPTY)?;
            let created = Created {
                record: fresh.clone(),
                new: true,
            };
            Ok((created, replaced))
        });
        let (created, replaced) = unwrap_txn(result)?;
        if created.new {
            self.count(Status::Pending, 1);
        }
        if let Some(old) = replaced {
            self.count(old, -1);
        }
        Ok((created, replaced))
    }

    fn answer_locked(
        &self,
        request_id: &str,
        answer: &Answer,
        now_ms: u64,
    ) -> Res<AttestationRecord> {
        let result = (&self.records, &self.by_app).transaction(|(r, a)| {
            let Some(bytes) = r.get(request_id.as_bytes())? else {
                return Err(Txe::Abort(AttestError::NotFound));
            };
            let mut rec = codec::decode(&bytes).map_err(Txe::Abort)?;
            if rec.is_expired(now_ms) {
                return Err(Txe::Abort(AttestError::Expired));
            }
            if rec.status != Status::Pending {
                return Err(Txe::Abort(AttestError::AlreadyAnswered(rec.status)));
            }
            match answer {
                Answer::Approve { credential } => {
                    rec.status = Status::Approved;
                    rec.credential = Some(credential.clone());
                }
                Answer::Deny { error } => {
                    rec.status = Status::Denied;
                    rec.error = Some(error.clone());
                }
            }
            rec.answered_at_ms = Some(now_ms);
            r.insert(request_id.as_bytes(), codec::encode(&rec))?;
            a.remove(app_key(&rec.request, Status::Pending))?;
            a.insert(app_key(&rec.request, rec.status), EMPTY)?;
            Ok(rec)
        });
        let rec = unwrap_txn(result)?;
        self.count(Status::Pending, -1);
        self.count(rec.status, 1);
        Ok(rec)
    }

    /// Deletes the request behind one expiry key if it is (still) expired.
    fn sweep_one(&self, key: &[u8], now_ms: u64) -> Res<bool> {
        let Some((expires_at, id)) = codec::split_expiry_key(key) else {
            self.expiry.remove(key)?;
            return Ok(false);
        };
        let _guard = self.lock(&String::from_utf8_lossy(id)).lock();
        let result = (&self.records, &self.by_app, &self.expiry).transaction(|(r, a, e)| {
            e.remove(key)?;
            let Some(bytes) = r.get(id)? else {
                return Ok(None);
            };
            let rec = codec::decode(&bytes).map_err(Txe::Abort)?;
            if rec.request.expires_at_ms != expires_at || !rec.is_expired(now_ms) {
                // A newer record under the same id owns its own expiry key.
                return Ok(None);
            }
            r.remove(id)?;
            a.remove(app_key(&rec.request, rec.status))?;
            Ok(Some(rec.status))
        });
        match unwrap_txn(result) {
            Ok(Some(status)) => {
                self.count(status, -1);
                self.swept.fetch_add(1, Ordering::Relaxed);
                Ok(true)
            }
            Ok(None) => Ok(false),
            Err(AttErr::Att(AttestError::Corrupt(what))) => {
                // Unreadable record: drop it so it cannot wedge the sweeper.
                tracing::error!(error = %what, "deleting corrupt expired attestation record");
                self.records.remove(id)?;
                self.expiry.remove(key)?;
                Ok(true)
            }
            Err(e) => Err(e),
        }
    }
}

fn unwrap_txn<T>(r: Result<T, TransactionError<AttestError>>) -> Res<T> {
    r.map_err(|e| match e {
        TransactionError::Abort(e) => AttErr::Att(e),
        TransactionError::Storage(e) => AttErr::Sled(e),
    })
}

impl Trees {
    fn get_blocking(&self, request_id: &str) -> Res<Option<AttestationRecord>> {
        match self.records.get(request_id.as_bytes())? {
            Some(bytes) => Ok(Some(codec::decode(&bytes)?)),
            None => Ok(None),
        }
    }

    fn list_blocking(&self, q: ListQuery<'_>, now_ms: u64) -> Res<ListPage> {
        let prefix = codec::app_prefix(q.app_identity, q.status);
        let start = match &q.after {
            Some(c) => {
                let mut k = prefix.clone();
                k.extend_from_slice(&c.created_at_ms.to_be_bytes());
                k.extend_from_slice(c.request_id.as_bytes());
                Bound::Excluded(k)
            }
            None => Bound::Included(prefix.clone()),
        };
        let mut page = ListPage::default();
        let mut more = false;
        for item in self.by_app.range((start, Bound::Unbounded)) {
            let (key, _) = item?;
            if !key.starts_with(&prefix) {
                break;
            }
            let Some(id) = codec::id_of_app_key(&key) else {
                continue;
            };
            let Some(bytes) = self.records.get(id)? else {
                continue;
            };
            let rec = codec::decode(&bytes)?;
            if !rec.matches(&q, now_ms) {
                continue;
            }
            if page.records.len() == q.limit {
                more = true;
                break;
            }
            page.records.push(rec);
        }
        if more {
            page.next = page.records.last().map(|r| ListCursor {
                created_at_ms: r.request.created_at_ms,
                request_id: r.request.request_id.clone(),
            });
        }
        Ok(page)
    }

    fn sweep_blocking(&self, now_ms: u64, max: usize) -> Res<usize> {
        let mut keys = Vec::new();
        for item in self
            .expiry
            .range(..now_ms.to_be_bytes().as_slice())
            .take(max)
        {
            keys.push(item?.0);
        }
        let mut deleted = 0;
        for key in keys {
            if self.sweep_one(&key, now_ms)? {
                deleted += 1;
            }
        }
        Ok(deleted)
    }
}

#[async_trait::async_trait]
impl AttestationStore for SledAttestationStore {
    async fn create(&self, request: NewAttestation, now_ms: u64) -> AttestResult<Created> {
        let (created, _) = self
            .blocking(move |t| {
                let _guard = t.lock(&request.request_id).lock();
                t.create_locked(&request, now_ms)
            })
            .await?;
        // An idempotent repeat may race the first create's flush: wait for one too.
        self.sync().await?;
        Ok(created)
    }

    async fn get(&self, request_id: &str) -> AttestResult<Option<AttestationRecord>> {
        let id = request_id.to_owned();
        self.blocking(move |t| t.get_blocking(&id)).await
    }

    async fn answer(
        &self,
        request_id: &str,
        answer: Answer,
        now_ms: u64,
    ) -> AttestResult<AttestationRecord> {
        let id = request_id.to_owned();
        let rec = self
            .blocking(move |t| {
                let _guard = t.lock(&id).lock();
                t.answer_locked(&id, &answer, now_ms)
            })
            .await?;
        self.sync().await?;
        Ok(rec)
    }

    async fn list(&self, q: ListQuery<'_>, now_ms: u64) -> AttestResult<ListPage> {
        let (app, wallet) = (q.app_identity.to_owned(), q.wallet_did.map(str::to_owned));
        let (status, after, limit) = (q.status, q.after, q.limit);
        self.blocking(move |t| {
            let q = ListQuery {
                app_identity: &app,
                status,
                wallet_did: wallet.as_deref(),
                after,
                limit,
            };
            t.list_blocking(q, now_ms)
        })
        .await
    }

    async fn sweep_expired(&self, now_ms: u64, max: usize) -> AttestResult<usize> {
        self.blocking(move |t| t.sweep_blocking(now_ms, max)).await
    }

    async fn ids_page(
        &self,
        cursor: Option<String>,
        max: usize,
    ) -> AttestResult<relaybox_store::Page<String>> {
        self.blocking(move |t| {
            let start = match &cursor {
                Some(id) => Bound::Excluded(id.as_bytes().to_vec()),
                None => Bound::Unbounded,
            };
            let mut items = Vec::new();
            for item in t.records.range::<Vec<u8>, _>((start, Bound::Unbounded)) {
                let (key, _) = item?;
                if items.len() >= max.max(1) {
                    let next = items.last().cloned();
                    return Ok(relaybox_store::Page { items, next });
                }
                match String::from_utf8(key.to_vec()) {
                    Ok(id) => items.push(id),
                    Err(_) => tracing::error!("skipping a non-UTF-8 attestation id"),
                }
            }
            Ok(relaybox_store::Page { items, next: None })
        })
        .await
    }

    fn stats(&self) -> AttestStats {
        let get = |c: &AtomicI64| c.load(Ordering::Relaxed).max(0) as u64;
        let t = &self.trees;
        AttestStats {
            pending: get(&t.pending),
            approved: get(&t.approved),
            denied: get(&t.denied),
            expired_swept: get(&t.swept),
        }
    }
}
