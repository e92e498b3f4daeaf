//! Group commit and the store's other background work, on dedicated
//! threads so that no `fdatasync` or sled call blocks an async worker.
//!
//! There are two lanes, each a [`Committer`] with its own thread: the
//! message log ([`Lane::Messages`]) and the sled state ([`Lane::State`]).
//! A publish waits only for the log lane, so a burst of subscription
//! writes (whose sled flush can take a second on a busy disk) never holds
//! publish replies back.
//!
//! Every `sync()` caller queues a waiter. A lane's thread takes *all* queued
//! waiters, then makes durable everything its lane wrote so far and answers
//! them together: one `fdatasync` per segment serves every publish made
//! before it. A caller's writes finished before it queued, and the thread
//! takes the waiters before it looks at what is dirty, so the answer is
//! truthful.
//!
//! Between commits, at least every `tick`, the state lane writes dirty
//! delivery positions to sled and refreshes the space figures and gauges.
//! The threads hold only a weak reference to the store, so dropping the
//! store stops them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use relaybox_store::Error;
use tokio::sync::oneshot;

use crate::Inner;

type Waiter = oneshot::Sender<Result<(), Error>>;

/// How many `sync` calls were answered and how many commits that took.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CommitStats {
    /// `sync` calls answered.
    pub syncs: u64,
    /// Commits (one `fdatasync` per dirty file each) that answered them.
    pub commits: u64,
}

#[derive(Default)]
struct Counts {
    syncs: AtomicU64,
    commits: AtomicU64,
}

#[derive(Default)]
struct Queue {
    waiters: Vec<Waiter>,
    closing: bool,
    done: Option<oneshot::Sender<()>>,
}

/// What a committer makes durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lane {
    /// The message log's segments (and the seq reservation).
    Messages,
    /// sled: subscriptions, positions, attestation records; plus the
    /// periodic position writes and space figures.
    State,
}

impl Lane {
    fn thread_name(self) -> &'static str {
        match self {
            Lane::Messages => "relaybox-log",
            Lane::State => "relaybox-state",
        }
    }
}

/// The handle the store keeps for one lane: queue waiters, request the
/// final flush.
pub(crate) struct Committer {
    lane: Lane,
    queue: Arc<(Mutex<Queue>, Condvar)>,
    counts: Arc<Counts>,
}

impl Committer {
    /// A committer whose thread is not started yet.
    pub(crate) fn new(lane: Lane) -> Committer {
        Committer {
            lane,
            queue: Arc::default(),
            counts: Arc::default(),
        }
    }

    /// Starts the thread for `inner`; `tick` paces the state lane's
    /// background work.
    pub(crate) fn start(&self, inner: Weak<Inner>, tick: Duration) -> std::io::Result<()> {
        let (q, c, lane) = (self.queue.clone(), self.counts.clone(), self.lane);
        std::thread::Builder::new()
            .name(lane.thread_name().into())
            .spawn(move || run(inner, lane, q, c, tick))?;
        Ok(())
    }

    pub(crate) fn stats(&self) -> CommitStats {
        CommitStats {
            syncs: self.counts.syncs.load(Ordering::Relaxed),
            commits: self.counts.commits.load(Ordering::Relaxed),
        }
    }

    /// Resolves once everything written before the call is durable.
    pub(crate) async fn sync(&self) -> Result<(), Error> {
        let (tx, rx) = oneshot::channel();
        {
            let (lock, cv) = &*self.queue;
            let mut q = lock.lock();
            if q.closing {
                return Err(Error::Closed);
            }
            q.waiters.push(tx);
            cv.notify_one();
        }
        rx.await.map_err(|_| Error::Closed)?
    }

    /// Stops taking waiters; the thread answers the queued ones, flushes
    /// positions, makes everything durable and exits. Resolves then.
    pub(crate) async fn close(&self) {
        let (tx, rx) = oneshot::channel();
        {
            let (lock, cv) = &*self.queue;
            let mut q = lock.lock();
            if q.closing {
                return;
            }
            q.closing = true;
            q.done = Some(tx);
            cv.notify_one();
        }
        let _ = rx.await;
    }
}

fn run(
    inner: Weak<Inner>,
    lane: Lane,
    queue: Arc<(Mutex<Queue>, Condvar)>,
    counts: Arc<Counts>,
    tick: Duration,
) {
    let (lock, cv) = &*queue;
    let mut last_tick = Instant::now();
    loop {
        let (waiters, closing) = {
            let mut q = lock.lock();
            if q.waiters.is_empty() && !q.closing {
                match lane {
                    Lane::State => {
                        let left = tick.saturating_sub(last_tick.elapsed());
                        cv.wait_for(&mut q, left);
                    }
                    Lane::Messages => cv.wait(&mut q),
                }
            }
            (std::mem::take(&mut q.waiters), q.closing)
        };
        let Some(store) = inner.upgrade() else {
            for w in waiters {
                let _ = w.send(Err(Error::Closed));
            }
            return;
        };
        if !waiters.is_empty() {
            let result = match lane {
                Lane::Messages => store.commit_messages(),
                Lane::State => store.commit_state(),
            };
            counts.commits.fetch_add(1, Ordering::Relaxed);
            counts
                .syncs
                .fetch_add(waiters.len() as u64, Ordering::Relaxed);
            for w in waiters {
                // A waiter whose caller gave up is simply dropped.
                let _ = w.send(
                    result
                        .as_ref()
                        .map(|_| ())
                        .map_err(|e| Error::Storage(e.clone())),
                );
            }
        }
        if closing {
            match lane {
                Lane::Messages => {
                    let _ = store.commit_messages();
                }
                Lane::State => store.final_flush(),
            }
            let done = lock.lock().done.take();
            drop(store);
            if let Some(done) = done {
                let _ = done.send(());
            }
            return;
        }
        if lane == Lane::State && last_tick.elapsed() >= tick {
            last_tick = Instant::now();
            store.background_tick();
        }
    }
}
