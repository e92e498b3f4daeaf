//! Ack coalescing: a delivered message must not cost its own script call.
//!
//! The gateway acks every push the client confirms, so with one ack script
//! per call acks cost as many Redis round trips (and, under `appendfsync
//! always`, as many fsync shares) as deliveries. Instead [`AckBuffer`]
//! gathers the seqs per (client, topic) in memory and a background task
//! flushes them every `ack_flush_ms`: one ack script call per pair with
//! everything that pair gathered in the interval.
//!
//! Acks are not durable by contract (a lost ack only causes a redelivery,
//! which clients tolerate), so buffering trades at most one interval of
//! acks on a node crash for far fewer round trips. What must not change is
//! what this node's readers see: `pending` and `fetch` pass the pair's
//! buffered seqs to the read script, which treats them as acked (and
//! `fetch`, which acks what it returns, records them in the same call).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use parking_lot::Mutex;
use relaybox_store::TopicKey;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::keys::TopicKeys;
use crate::mailbox::RedisStore;
use crate::scripts;

/// Most (client, topic) pairs buffered. Only reached when flushes keep
/// failing (Redis away); beyond it the oldest pair is dropped, which costs
/// that client redeliveries, not lost messages.
pub(crate) const MAX_BUFFERED_PAIRS: usize = 100_000;

/// Ack scripts a flush keeps in flight at once. The data connections are
/// multiplexed, so a few dozen outstanding calls share their round trips
/// without one flush hogging Redis.
const FLUSH_CONCURRENCY: usize = 32;

type Pair = (String, TopicKey);

/// One pair's buffered acks.
struct Entry {
    /// When the pair entered the buffer (its place in the eviction order).
    stamp: u64,
    /// Seqs waiting for the next flush.
    queued: BTreeSet<u64>,
    /// Seqs taken by a flush (or a fetch) whose script has not answered yet:
    /// readers must still skip them, and a failure puts them back.
    flushing: BTreeSet<u64>,
    /// The newest clock a caller passed (the script moves the cursor over
    /// messages expired by then).
    now_ms: u64,
}

#[derive(Default)]
struct State {
    pairs: HashMap<Pair, Entry>,
    /// stamp → pair, oldest first, for eviction at the cap.
    order: BTreeMap<u64, Pair>,
    next_stamp: u64,
}

impl State {
    fn remove(&mut self, pair: &Pair) {
        if let Some(e) = self.pairs.remove(pair) {
            self.order.remove(&e.stamp);
        }
    }
}

/// Seqs of one pair taken out of the queue for one script call.
pub(crate) struct Batch {
    pub client: String,
    pub topic: TopicKey,
    pub seqs: Vec<u64>,
    pub now_ms: u64,
    /// The entry the seqs came from: a settle that finds a newer entry for
    /// the pair (dropped by unsubscribe or eviction, then acked again)
    /// leaves it alone.
    stamp: u64,
}

/// The acks of this node not yet known to Redis, keyed by (client, topic),
/// and the task that flushes them.
pub(crate) struct AckBuffer {
    state: Mutex<State>,
    cap: usize,
    /// Ack script calls made by flushes (exposed for tests).
    calls: AtomicU64,
    /// Pairs dropped at the cap since the last flush logged them.
    dropped: AtomicU64,
    /// Whether the last flush failed (a warning is logged only on the change).
    failing: AtomicBool,
    task: Mutex<Option<(CancellationToken, JoinHandle<()>)>>,
}

impl AckBuffer {
    pub fn new() -> Self {
        Self::with_cap(MAX_BUFFERED_PAIRS)
    }

    pub fn with_cap(cap: usize) -> Self {
        AckBuffer {
            state: Mutex::new(State::default()),
            cap: cap.max(1),
            calls: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            failing: AtomicBool::new(false),
            task: Mutex::new(None),
        }
    }

    /// Buffers acks of `seqs` by `client` on `topic`.
    pub fn record(&self, client: &str, topic: TopicKey, seqs: &[u64], now_ms: u64) {
        if seqs.is_empty() {
            return;
        }
        let pair = (client.to_owned(), topic);
        let mut st = self.state.lock();
        if !st.pairs.contains_key(&pair) {
            while st.pairs.len() >= self.cap {
                let Some((_, oldest)) = st.order.pop_first() else {
                    break;
                };
                st.pairs.remove(&oldest);
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
            let stamp = st.next_stamp;
            st.next_stamp += 1;
            st.order.insert(stamp, pair.clone());
            st.pairs.insert(
                pair.clone(),
                Entry {
                    stamp,
                    queued: BTreeSet::new(),
                    flushing: BTreeSet::new(),
                    now_ms,
                },
            );
        }
        let e = st.pairs.get_mut(&pair).expect("inserted above");
        e.now_ms = e.now_ms.max(now_ms);
        for &s in seqs {
            if !e.flushing.contains(&s) {
                e.queued.insert(s);
            }
        }
    }

    /// Every pair's queued seqs, moved to "flushing" (readers still skip
    /// them until [`settle`](Self::settle)).
    pub fn take_all(&self) -> Vec<Batch> {
        let mut st = self.state.lock();
        st.pairs
            .iter_mut()
            .filter_map(|(pair, e)| take_entry(pair, e))
            .collect()
    }

    /// One pair's queued seqs, as [`take_all`](Self::take_all).
    pub fn take(&self, client: &str, topic: TopicKey) -> Option<Batch> {
        let pair = (client.to_owned(), topic);
        let mut st = self.state.lock();
        let e = st.pairs.get_mut(&pair)?;
        take_entry(&pair, e)
    }

    /// After a batch's script: `applied` (Redis has the acks, or they are
    /// given up) forgets its seqs, otherwise they wait for the next flush.
    pub fn settle(&self, batch: &Batch, applied: bool) {
        let pair = (batch.client.clone(), batch.topic);
        let mut st = self.state.lock();
        let Some(e) = st.pairs.get_mut(&pair) else {
            return;
        };
        if e.stamp != batch.stamp {
            return;
        }
        for s in &batch.seqs {
            if e.flushing.remove(s) && !applied {
                e.queued.insert(*s);
            }
        }
        if e.queued.is_empty() && e.flushing.is_empty() {
            st.remove(&pair);
        }
    }

    /// The pair's buffered seqs above `after` (queued or being flushed),
    /// which a read must treat as acked.
    pub fn hidden(&self, client: &str, topic: TopicKey, after: u64) -> Vec<u64> {
        let st = self.state.lock();
        if st.pairs.is_empty() {
            return Vec::new();
        }
        let Some(e) = st.pairs.get(&(client.to_owned(), topic)) else {
            return Vec::new();
        };
        let above = (std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded);
        let mut out: Vec<u64> = e.queued.range(above).copied().collect();
        out.extend(e.flushing.range(above));
        out
    }

    /// Drops the pair's buffered acks (unsubscribe resets its delivery
    /// state; flushing them later would recreate it).
    pub fn forget(&self, client: &str, topic: TopicKey) {
        self.state.lock().remove(&(client.to_owned(), topic));
    }

    /// Pairs with buffered acks.
    pub fn len(&self) -> usize {
        self.state.lock().pairs.len()
    }

    /// Ack script calls made by flushes so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }
}

fn take_entry(pair: &Pair, e: &mut Entry) -> Option<Batch> {
    if e.queued.is_empty() {
        return None;
    }
    let seqs: Vec<u64> = std::mem::take(&mut e.queued).into_iter().collect();
    e.flushing.extend(seqs.iter().copied());
    Some(Batch {
        client: pair.0.clone(),
        topic: pair.1,
        seqs,
        now_ms: e.now_ms,
        stamp: e.stamp,
    })
}

/// Starts the flusher of `store`'s buffer. It holds the store weakly, so a
/// store dropped without `close` does not live on in its task.
pub(crate) fn start(store: &Arc<RedisStore>) {
    let every = Duration::from_millis(store.cfg.ack_flush_ms.max(1));
    let stop = CancellationToken::new();
    let handle = tokio::spawn(run(Arc::downgrade(store), every, stop.clone()));
    if let Some((old, _)) = store.acks.task.lock().replace((stop, handle)) {
        old.cancel();
    }
}

async fn run(store: Weak<RedisStore>, every: Duration, stop: CancellationToken) {
    let mut tick = tokio::time::interval_at(Instant::now() + every, every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let Some(s) = store.upgrade() else { return };
        flush(&s).await;
    }
}

/// Stops the flusher (letting a flush in progress finish) and flushes what
/// is left; for `close`. What Redis did not take is logged and given up.
pub(crate) async fn stop(store: &RedisStore) {
    let task = store.acks.task.lock().take();
    if let Some((token, handle)) = task {
        token.cancel();
        let _ = handle.await;
    }
    if !flush(store).await {
        tracing::warn!(
            pairs = store.acks.len(),
            "closing with unflushed acks; those clients will get redeliveries"
        );
    }
}

/// One flush: one ack script call per buffered pair. Returns whether
/// everything taken reached Redis. Failed pairs stay for the next flush;
/// once Redis is unreachable the rest of the round is not attempted (each
/// call would only wait for its own timeout).
pub(crate) async fn flush(store: &RedisStore) -> bool {
    let buf = &store.acks;
    let dropped = buf.dropped.swap(0, Ordering::Relaxed);
    if dropped > 0 {
        tracing::warn!(
            pairs = dropped,
            cap = buf.cap,
            "ack buffer full: dropped the oldest buffered acks (those clients will get redeliveries)"
        );
    }
    let batches = buf.take_all();
    if batches.is_empty() {
        return true;
    }
    let away = AtomicBool::new(false);
    let away = &away;
    let outcomes: Vec<Option<Error>> = stream::iter(batches)
        .map(|b| async move {
            if away.load(Ordering::Relaxed) {
                buf.settle(&b, false);
                return None;
            }
            match apply(store, &b).await {
                Ok(()) => {
                    buf.settle(&b, true);
                    None
                }
                Err(e) => {
                    if unreachable(&e) {
                        away.store(true, Ordering::Relaxed);
                    }
                    let give_up = permanent(&e);
                    if give_up {
                        tracing::error!(error = %e, "acks rejected by redis; dropped (redeliveries follow)");
                    }
                    buf.settle(&b, give_up);
                    Some(e)
                }
            }
        })
        .buffer_unordered(FLUSH_CONCURRENCY)
        .collect()
        .await;
    let failed = outcomes.iter().flatten().count();
    let skipped = away.load(Ordering::Relaxed);
    let ok = failed == 0 && !skipped;
    if ok {
        if buf.failing.swap(false, Ordering::Relaxed) {
            tracing::info!("buffered acks reach redis again");
        }
    } else if !buf.failing.swap(true, Ordering::Relaxed) {
        let first = outcomes.into_iter().flatten().next();
        tracing::warn!(
            error = first.map(|e| e.to_string()).unwrap_or_default(),
            pairs = buf.len(),
            "flushing acks failed; kept for the next interval"
        );
    }
    ok
}

/// Runs the ack script for one batch.
async fn apply(store: &RedisStore, b: &Batch) -> Result<()> {
    let k = TopicKeys::new(&b.topic);
    let mut inv = scripts::get().ack.prepare_invoke();
    inv.key(&k.stream)
        .key(&k.expiry)
        .key(&k.cursors)
        .key(k.acks(&b.client))
        .arg(&b.client)
        .arg(b.now_ms);
    for s in &b.seqs {
        inv.arg(*s);
    }
    let mut conn = store.conn();
    store.acks.calls.fetch_add(1, Ordering::Relaxed);
    crate::metrics::ack_flush();
    store.eval("ack", &inv, &mut conn, true).await.map(|_| ())
}

/// Redis cannot be reached (the rest of a round would fail the same way).
fn unreachable(e: &Error) -> bool {
    match e {
        Error::Timeout(_) => true,
        Error::Redis(r) => {
            r.is_io_error() || r.is_connection_dropped() || r.is_connection_refusal()
        }
        _ => false,
    }
}

/// Retrying cannot help (a script or type error): the batch is given up
/// rather than retried every interval until the cap evicts it.
fn permanent(e: &Error) -> bool {
    match e {
        Error::Redis(r) => {
            !unreachable(e) && matches!(r.retry_method(), redis::RetryMethod::NoRetry)
        }
        Error::Reply(_) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: TopicKey = TopicKey([1; 32]);
    const U: TopicKey = TopicKey([2; 32]);

    #[test]
    fn records_dedup_and_hide_until_settled() {
        let b = AckBuffer::new();
        b.record("a", T, &[5, 3, 5], 10);
        b.record("a", T, &[7], 20);
        b.record("b", T, &[1], 10);
        assert_eq!(b.hidden("a", T, 0), vec![3, 5, 7]);
        assert_eq!(b.hidden("a", T, 4), vec![5, 7]);
        assert!(b.hidden("a", U, 0).is_empty());
        let mut all = b.take_all();
        all.sort_by(|x, y| x.client.cmp(&y.client));
        assert_eq!((all[0].seqs.clone(), all[0].now_ms), (vec![3, 5, 7], 20));
        // Being flushed: still hidden, not taken twice, not re-queued.
        assert_eq!(b.hidden("a", T, 0), vec![3, 5, 7]);
        b.record("a", T, &[5, 9], 20);
        assert_eq!(b.take("a", T).unwrap().seqs, vec![9]);
        b.settle(&all[0], true);
        assert_eq!(b.hidden("a", T, 0), vec![9]);
        b.settle(&all[1], false);
        assert_eq!(b.take("b", T).unwrap().seqs, vec![1]);
    }

    #[test]
    fn a_failed_batch_waits_for_the_next_flush() {
        let b = AckBuffer::new();
        b.record("a", T, &[1, 2], 0);
        let batch = b.take("a", T).unwrap();
        assert!(b.take("a", T).is_none());
        b.settle(&batch, false);
        assert_eq!(b.take("a", T).unwrap().seqs, vec![1, 2]);
    }

    #[test]
    fn settled_pairs_leave_the_buffer() {
        let b = AckBuffer::new();
        b.record("a", T, &[1], 0);
        let batch = b.take("a", T).unwrap();
        b.settle(&batch, true);
        assert_eq!(b.len(), 0);
        assert!(b.state.lock().order.is_empty());
    }

    #[test]
    fn forget_drops_the_pair_and_its_batch_in_flight() {
        let b = AckBuffer::new();
        b.record("a", T, &[1], 0);
        let old = b.take("a", T).unwrap();
        b.forget("a", T);
        assert!(b.hidden("a", T, 0).is_empty());
        b.record("a", T, &[2], 0);
        // The old batch fails after the reset: it must not come back.
        b.settle(&old, false);
        assert_eq!(b.take("a", T).unwrap().seqs, vec![2]);
    }

    #[test]
    fn the_cap_drops_the_oldest_pairs() {
        let b = AckBuffer::with_cap(2);
        b.record("a", T, &[1], 0);
        b.record("b", T, &[1], 0);
        b.record("a", T, &[2], 0);
        b.record("c", T, &[1], 0);
        assert!(b.hidden("a", T, 0).is_empty(), "a was the oldest pair");
        assert_eq!(b.hidden("b", T, 0), vec![1]);
        assert_eq!(b.hidden("c", T, 0), vec![1]);
        assert_eq!((b.len(), b.dropped.load(Ordering::Relaxed)), (2, 1));
    }
}
