//! Group commit.
//!
//! An fsync costs milliseconds; doing one per publish would cap the relay
//! at a few hundred publishes per second. Instead every `sync()` caller
//! queues a oneshot and a single committer task repeatedly takes *all*
//! queued waiters, runs one `flush_async`, and answers them together.
//!
//! Correctness rests on one sled property: a flush makes durable every
//! write that completed before the flush started. A caller's writes
//! finished before it queued, and its waiter is only drained by a flush
//! that starts after that, so the answer it gets is truthful.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::error::{Error, Result};

type Waiter = oneshot::Sender<Result<()>>;

/// Upper bound of waiters answered per flush; the rest go in the next one.
const MAX_BATCH: usize = 65_536;

/// Counts of sync calls and the flushes that served them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CommitStats {
    /// `sync` calls answered.
    pub syncs: u64,
    /// Flushes performed for them.
    pub flushes: u64,
}

#[derive(Default)]
struct Shared {
    syncs: AtomicU64,
    flushes: AtomicU64,
}

/// Handle to the committer task.
pub(crate) struct Committer {
    tx: Mutex<Option<mpsc::UnboundedSender<Waiter>>>,
    task: Mutex<Option<JoinHandle<()>>>,
    shared: Arc<Shared>,
}

impl Committer {
    /// Spawns the committer on `runtime`; it owns a clone of `db`.
    pub(crate) fn spawn(runtime: &tokio::runtime::Handle, db: sled::Db) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared::default());
        let task = runtime.spawn(run(db, rx, shared.clone()));
        Self {
            tx: Mutex::new(Some(tx)),
            task: Mutex::new(Some(task)),
            shared,
        }
    }

    /// Waits until everything written before this call is durable.
    pub(crate) async fn sync(&self) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        {
            let guard = self.tx.lock();
            let sender = guard.as_ref().ok_or(Error::Closed)?;
            sender.send(tx).map_err(|_| Error::Closed)?;
        }
        rx.await.map_err(|_| Error::Closed)?
    }

    /// Stops accepting syncs, lets queued ones finish, and waits for the
    /// task to exit so its database handle is released.
    pub(crate) async fn shutdown(&self) {
        drop(self.tx.lock().take());
        let task = self.task.lock().take();
        if let Some(task) = task {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "group-commit task failed");
            }
        }
    }

    pub(crate) fn stats(&self) -> CommitStats {
        CommitStats {
            syncs: self.shared.syncs.load(Ordering::Relaxed),
            flushes: self.shared.flushes.load(Ordering::Relaxed),
        }
    }
}

async fn run(db: sled::Db, mut rx: mpsc::UnboundedReceiver<Waiter>, shared: Arc<Shared>) {
    let mut waiters = Vec::new();
    // `recv_many` waits for at least one waiter, then takes all queued ones.
    while rx.recv_many(&mut waiters, MAX_BATCH).await > 0 {
        let result = db.flush_async().await;
        shared.flushes.fetch_add(1, Ordering::Relaxed);
        shared
            .syncs
            .fetch_add(waiters.len() as u64, Ordering::Relaxed);
        if let Err(e) = &result {
            tracing::error!(error = %e, waiters = waiters.len(), "group-commit flush failed");
        }
        for waiter in waiters.drain(..) {
            // A waiter whose caller gave up is simply dropped.
            let _ = waiter.send(result.clone().map(drop).map_err(Error::from));
        }
    }
    tracing::debug!("group-commit task stopped");
}
