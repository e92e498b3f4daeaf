//! Runs one scenario against one target: starts the workers (tasks in this
//! process, or copies of this binary with `--processes`), drives their
//! barriers, samples the server's CPU per phase and, for `idle` and
//! `abuse`, its memory.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use anyhow::bail;
use serde::Serialize;

use crate::clock;
use crate::coord::{Link, ToParent};
use crate::phases::{Phases, Span};
use crate::progress::Progress;
use crate::rss::{RssSampler, RssTrack};
use crate::spec::{Load, Scenario, WorkerSpec};
use crate::stats::WorkerResult;
use crate::sys::{self, Memory};
use crate::target::Target;

/// Lead time between releasing a barrier and the agreed start.
const GO_LEAD_NS: u64 = 50_000_000;

/// Server memory around the `idle` measurement.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct MemoryProbe {
    pub before: Memory,
    pub after: Memory,
}

/// Everything one run produced, before it is summarised.
pub struct Outcome {
    pub scenario: Scenario,
    pub target: String,
    pub url: String,
    pub load: Load,
    pub result: WorkerResult,
    /// Server CPU and wall time per phase.
    pub server: BTreeMap<String, Span>,
    pub memory: Option<MemoryProbe>,
    /// `abuse`: the server's VmRSS over the run.
    pub rss: Option<RssTrack>,
    pub server_pid: Option<u32>,
}

/// Runs `scenario` with `load` against `target`.
pub async fn run(scenario: Scenario, load: &Load, target: &Target) -> anyhow::Result<Outcome> {
    let count = load.processes.max(1);
    let seed: u64 = rand::random();
    let mut links = Vec::with_capacity(count);
    for index in 0..count {
        let spec = WorkerSpec {
            scenario,
            load: load.clone(),
            url: target.url.clone(),
            index,
            count,
            seed,
        };
        if count == 1 {
            let (link, coord) = Link::local();
            tokio::spawn(async move {
                if let Err(e) = crate::scenario::run_worker(spec, coord).await {
                    eprintln!("worker failed: {e:#}");
                }
            });
            links.push(link);
        } else {
            let child = tokio::process::Command::new(std::env::current_exe()?)
                .args(["worker", "--spec", &serde_json::to_string(&spec)?])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .kill_on_drop(true)
                .spawn()?;
            links.push(Link::process(child)?);
        }
    }

    let server = Phases::of_pid(target.pid);
    let rss = target
        .pid
        .filter(|_| scenario == Scenario::Abuse)
        .map(RssSampler::start);
    let mut memory_before = None;
    let mut memory = None;
    let mut progress = Progress::spinner(&format!("{} setup", scenario.name()));
    let mut results = Vec::new();
    loop {
        let mut barrier: Option<String> = None;
        let mut sum = 0u64;
        for link in links.iter_mut() {
            match link.recv().await? {
                ToParent::Barrier(name, value) => {
                    sum += value;
                    if barrier.as_ref().is_some_and(|b| *b != name) {
                        bail!("workers disagree on the barrier ({barrier:?} vs {name})");
                    }
                    barrier = Some(name);
                }
                ToParent::Done(r) => results.push(*r),
            }
        }
        let Some(name) = barrier else { break };
        if !results.is_empty() {
            bail!("some workers finished while others wait at {name}");
        }
        server.end();
        progress.finish();
        match name.as_str() {
            "start" if scenario == Scenario::Idle => {
                memory_before = target.pid.and_then(sys::proc_memory);
            }
            "connected" => {
                tokio::time::sleep(Duration::from_secs_f64(load.settle)).await;
                let after = target.pid.and_then(sys::proc_memory);
                if let (Some(before), Some(after)) = (memory_before, after) {
                    memory = Some(MemoryProbe { before, after });
                }
            }
            "abusers" => rss.iter().for_each(RssSampler::mark_before),
            "start" if scenario == Scenario::Abuse => {
                rss.iter().for_each(RssSampler::mark_connected)
            }
            _ => {}
        }
        let go = clock::now_ns() + GO_LEAD_NS;
        for link in links.iter_mut() {
            link.go(go, sum).await?;
        }
        clock::sleep_until(go).await;
        server.start(&name);
        progress = if let Some(window) = scenario.window_of(&name) {
            let win = go + clock::secs_ns(load.warmup);
            server.spawn_window(window, win, win + clock::secs_ns(load.duration));
            if let Some(cmd) = load.at_window_start.clone() {
                tokio::spawn(run_at(win, cmd));
            }
            let label = if name == "start" {
                scenario.name().to_owned()
            } else {
                name.clone()
            };
            Progress::timed(&label, load.warmup + load.duration)
        } else {
            Progress::spinner(&format!("{} {name}", scenario.name()))
        };
    }
    server.end();
    progress.finish();
    let rss = rss.map(RssSampler::finish);
    for link in links {
        link.finish().await;
    }
    if results.len() != count {
        bail!("{} of {count} workers reported", results.len());
    }
    let mut result = WorkerResult::default();
    for r in &results {
        result.merge(r);
    }
    Ok(Outcome {
        scenario,
        target: target.kind.to_owned(),
        url: target.url.clone(),
        load: load.clone(),
        result,
        server: server.spans(),
        memory,
        rss,
        server_pid: target.pid,
    })
}

/// `--at-window-start`: runs `cmd` at `ns` on the shared clock.
async fn run_at(ns: u64, cmd: String) {
    clock::sleep_until(ns).await;
    let status = tokio::process::Command::new("sh")
        .args(["-c", &cmd])
        .stdin(Stdio::null())
        .status()
        .await;
    match status {
        Ok(s) => eprintln!("--at-window-start: {cmd:?} exited with {s}"),
        Err(e) => eprintln!("--at-window-start: {cmd:?} could not run: {e}"),
    }
}

impl Scenario {
    /// Scenarios that run for --warmup + --duration.
    pub fn is_timed(self) -> bool {
        matches!(
            self,
            Scenario::Pairs | Scenario::Fanout | Scenario::Connect | Scenario::Abuse
        )
    }

    /// The measured window that barrier `barrier` opens, if any: `window`
    /// at `start`, and for `abuse` also `baseline_window` at `baseline`.
    pub fn window_of(self, barrier: &str) -> Option<&'static str> {
        match barrier {
            "start" if self.is_timed() => Some("window"),
            "baseline" if self == Scenario::Abuse => Some("baseline_window"),
            _ => None,
        }
    }
}
