//! The scenarios as run by one worker, plus what they share: the barrier
//! context, timing of the measured window, and a bounded parallel spawner.

mod abuse;
mod connect;
mod fanout;
mod idle;
mod mailbox;
mod pairs;
mod publisher;
mod rejoin;
mod subscriber;

use std::future::Future;
use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::clock;
use crate::coord::Coord;
use crate::phases::Phases;
use crate::spec::{Scenario, WorkerSpec};
use crate::stats::WorkerResult;

/// A worker's view of the run: its spec, the barriers and its CPU phases.
pub struct Ctx<'a> {
    pub spec: &'a WorkerSpec,
    coord: &'a Coord,
    phases: Phases,
}

/// When load starts, when measuring starts and stops, and when to give up
/// waiting for stragglers, in monotonic ns.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    pub start: u64,
    pub win_start: u64,
    pub win_end: u64,
    pub drain_end: u64,
}

impl Timing {
    /// True if `ns` lies in the measured window.
    pub fn in_window(&self, ns: u64) -> bool {
        ns >= self.win_start && ns < self.win_end
    }
}

impl Ctx<'_> {
    /// Waits for every worker at `name`, then until the agreed start time.
    pub async fn barrier(&self, name: &str) -> anyhow::Result<u64> {
        Ok(self.barrier_sum(name, 0).await?.0)
    }

    /// [`Ctx::barrier`] that also adds up `value` over all workers.
    pub async fn barrier_sum(&self, name: &str, value: u64) -> anyhow::Result<(u64, u64)> {
        self.phases.end();
        let (start, sum) = self.coord.barrier(name, value).await?;
        clock::sleep_until(start).await;
        self.phases.start(name);
        Ok((start, sum))
    }

    /// The `start` barrier of a duration scenario; also records the window's CPU.
    pub async fn start_timed(&self) -> anyhow::Result<Timing> {
        self.start_timed_as("start", "window").await
    }

    /// A timed phase that begins at barrier `barrier` and whose measured
    /// seconds are recorded as phase `window` (see [`Scenario::window_of`]).
    pub async fn start_timed_as(
        &self,
        barrier: &str,
        window: &'static str,
    ) -> anyhow::Result<Timing> {
        let start = self.barrier(barrier).await?;
        let load = &self.spec.load;
        let win_start = start + clock::secs_ns(load.warmup);
        let win_end = win_start + clock::secs_ns(load.duration);
        self.phases.spawn_window(window, win_start, win_end);
        Ok(Timing {
            start,
            win_start,
            win_end,
            drain_end: win_end + clock::secs_ns(load.drain),
        })
    }
}

/// Runs one worker's share of the scenario and reports to the parent.
pub async fn run_worker(spec: WorkerSpec, coord: Coord) -> anyhow::Result<()> {
    let ctx = Ctx {
        spec: &spec,
        coord: &coord,
        phases: Phases::own(),
    };
    let mut result = match spec.scenario {
        Scenario::Pairs => pairs::run(&ctx).await?,
        Scenario::Fanout => fanout::run(&ctx).await?,
        Scenario::Mailbox => mailbox::run(&ctx).await?,
        Scenario::Connect => connect::run(&ctx).await?,
        Scenario::Idle => idle::run(&ctx).await?,
        Scenario::Abuse => abuse::run(&ctx).await?,
    };
    ctx.phases.end();
    result.cpu_secs = ctx
        .phases
        .spans()
        .into_iter()
        .map(|(k, s)| (k, s.cpu_secs))
        .collect();
    result.threads = spec.load.threads_per_process();
    coord.done(result).await
}

/// Runs `f(i)` for every `i` in `items` on spawned tasks, at most `limit` at a
/// time, and returns the outputs in input order.
pub async fn spawn_bounded<T, F, Fut>(items: Vec<T>, limit: usize, f: F) -> Vec<Fut::Output>
where
    T: Send + 'static,
    F: Fn(T) -> Fut,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    let sem = Arc::new(Semaphore::new(limit.max(1)));
    let mut handles = Vec::with_capacity(items.len());
    for item in items {
        let permit = sem
            .clone()
            .acquire_owned()
            .await
            .expect("semaphore never closed");
        let fut = f(item);
        handles.push(tokio::spawn(async move {
            let out = fut.await;
            drop(permit);
            out
        }));
    }
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.expect("benchmark task panicked"));
    }
    out
}

/// Merges per-task results into one.
pub fn merge_all(parts: impl IntoIterator<Item = WorkerResult>) -> WorkerResult {
    let mut total = WorkerResult::default();
    for p in parts {
        total.merge(&p);
    }
    total
}
