//! Turns a run's raw measurements into a summary: throughput, latency
//! percentiles, errors by kind, generator and server CPU with saturation
//! warnings, and server memory per connection for `idle`.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::run::Outcome;
use crate::spec::{Load, Scenario};
use crate::stats::Histo;

/// Percentiles of one histogram, in microseconds.
#[derive(Clone, Debug, Serialize)]
pub struct Latency {
    pub count: u64,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub max_us: f64,
    pub mean_us: f64,
}

impl Latency {
    fn of(h: &Histo) -> Latency {
        let us = |ns: u64| ns as f64 / 1000.0;
        Latency {
            count: h.len(),
            p50_us: us(h.quantile(0.5)),
            p90_us: us(h.quantile(0.9)),
            p99_us: us(h.quantile(0.99)),
            p999_us: us(h.quantile(0.999)),
            max_us: us(h.max()),
            mean_us: h.mean() / 1000.0,
        }
    }
}

/// CPU use in one phase, in percent of one core.
#[derive(Clone, Debug, Serialize)]
pub struct Cpu {
    pub phase: String,
    pub wall_secs: f64,
    pub generator_pct: f64,
    pub server_pct: Option<f64>,
    /// MiB per second the server wrote to storage.
    pub server_write_mib_per_sec: Option<f64>,
    pub generator_threads: usize,
}

/// Server memory per idle connection.
#[derive(Clone, Debug, Serialize)]
pub struct MemoryPerConn {
    pub connections: u64,
    pub rss_anon_before: u64,
    pub rss_anon_after: u64,
    pub rss_before: u64,
    pub rss_after: u64,
    pub rss_anon_per_conn_bytes: f64,
    pub rss_per_conn_bytes: f64,
}

/// The summary of one run.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub scenario: Scenario,
    pub target: String,
    pub url: String,
    pub load: Load,
    /// Rates and times; keys name their unit (`_per_sec`, `_secs`).
    pub figures: BTreeMap<String, f64>,
    pub latency: BTreeMap<String, Latency>,
    pub counters: BTreeMap<String, u64>,
    pub errors: BTreeMap<String, u64>,
    pub error_total: u64,
    pub cpu: Vec<Cpu>,
    pub memory: Option<MemoryPerConn>,
    pub warnings: Vec<String>,
    #[serde(skip)]
    pub histos: BTreeMap<String, Histo>,
}

/// Builds the summary of `o`.
pub fn summarize(o: Outcome) -> Summary {
    let r = &o.result;
    let load = &o.load;
    let mut figures = BTreeMap::new();
    let mut errors = r.errors.clone();
    let c = |k: &str| r.counter(k) as f64;
    let dur = load.duration.max(1e-9);
    match o.scenario {
        Scenario::Pairs | Scenario::Fanout => {
            let key = if o.scenario == Scenario::Pairs {
                "delivered_per_sec"
            } else {
                "deliveries_per_sec"
            };
            figures.insert(key.into(), c("delivered_window") / dur);
            figures.insert("publish_acks_per_sec".into(), c("publish_ok_window") / dur);
            let fan = if o.scenario == Scenario::Fanout {
                r.counter("subscribers")
            } else {
                1
            };
            let expected = r.counter("publish_ok") * fan;
            let missing = expected.saturating_sub(r.counter("delivered"));
            if missing > 0 {
                errors.insert("undelivered".into(), missing);
            }
        }
        Scenario::Connect => {
            figures.insert("handshakes_per_sec".into(), c("handshakes_window") / dur);
        }
        Scenario::Mailbox => {
            let v = |k: &str| r.values.get(k).copied();
            if let (Some(s), Some(e)) = (v("publish_start_ns_min"), v("publish_end_ns_max")) {
                let secs = (e - s).max(1.0) / 1e9;
                figures.insert("publish_secs".into(), secs);
                figures.insert("publish_acks_per_sec".into(), c("publish_ok") / secs);
            }
            if let (Some(s), Some(e)) = (v("drain_start_ns_min"), v("drain_end_ns_max")) {
                let secs = (e - s).max(1.0) / 1e9;
                figures.insert("drain_secs".into(), secs);
                figures.insert("drain_msgs_per_sec".into(), c("drained") / secs);
            }
            let clients = load.connections as u64;
            let short = clients.saturating_sub(r.counter("clients_drained"));
            if short > 0 {
                errors.insert("clients_not_drained".into(), short);
            }
        }
        Scenario::Idle => {
            if let Some(v) = r.values.get("connect_secs_max") {
                figures.insert("connect_secs".into(), *v);
                figures.insert("connects_per_sec".into(), c("connected") / v.max(1e-9));
            }
        }
    }
    let memory = o.memory.map(|m| {
        let n = r.counter("open_at_measure").max(1);
        let per = |a: u64, b: u64| (b as f64 - a as f64) / n as f64;
        MemoryPerConn {
            connections: r.counter("open_at_measure"),
            rss_anon_before: m.before.rss_anon,
            rss_anon_after: m.after.rss_anon,
            rss_before: m.before.rss,
            rss_after: m.after.rss,
            rss_anon_per_conn_bytes: per(m.before.rss_anon, m.after.rss_anon),
            rss_per_conn_bytes: per(m.before.rss, m.after.rss),
        }
    });
    let cpu = cpu_rows(&o);
    let warnings = warnings(&cpu, o.server_pid.is_some());
    Summary {
        scenario: o.scenario,
        target: o.target.clone(),
        url: o.url.clone(),
        load: o.load.clone(),
        figures,
        latency: r
            .histos
            .iter()
            .filter(|(_, h)| h.len() > 0)
            .map(|(k, h)| (k.clone(), Latency::of(h)))
            .collect(),
        counters: r.counters.clone(),
        error_total: errors.values().sum(),
        errors,
        cpu,
        memory,
        warnings,
        histos: r.histos.clone(),
    }
}

/// The phases whose CPU is reported, per scenario.
fn reported_phases(s: Scenario) -> &'static [&'static str] {
    match s {
        Scenario::Pairs | Scenario::Fanout | Scenario::Connect => &["window"],
        Scenario::Mailbox => &["publish", "drain"],
        Scenario::Idle => &["start"],
    }
}

fn cpu_rows(o: &Outcome) -> Vec<Cpu> {
    let threads = o.result.threads;
    reported_phases(o.scenario)
        .iter()
        .filter_map(|phase| {
            let span = o.server.get(*phase)?;
            let gen = o.result.cpu_secs.get(*phase).copied().unwrap_or(0.0);
            let wall = span.wall_secs.max(1e-9);
            Some(Cpu {
                phase: (*phase).to_owned(),
                wall_secs: span.wall_secs,
                generator_pct: 100.0 * gen / wall,
                server_pct: o.server_pid.map(|_| span.percent()),
                server_write_mib_per_sec: o
                    .server_pid
                    .map(|_| span.write_bytes as f64 / 1_048_576.0 / wall),
                generator_threads: threads,
            })
        })
        .collect()
}

fn warnings(cpu: &[Cpu], have_server: bool) -> Vec<String> {
    let cores = crate::sys::cpus() as f64;
    let mut w = Vec::new();
    for row in cpu {
        let capacity = 100.0 * (row.generator_threads as f64).min(cores).max(1.0);
        if row.generator_pct >= 0.9 * capacity {
            w.push(format!(
                "generator saturated in phase {}: {:.0}% of {:.0}% available; the figure measures the client as much as the server",
                row.phase, row.generator_pct, capacity
            ));
        }
        if let Some(s) = row.server_pct {
            if row.generator_pct + s >= 0.9 * 100.0 * cores {
                w.push(format!(
                    "machine CPU saturated in phase {}: generator {:.0}% + server {:.0}% of {:.0}% ({} cores shared)",
                    row.phase, row.generator_pct, s, 100.0 * cores, cores
                ));
            } else if row.generator_pct > s {
                w.push(format!(
                    "generator used more CPU than the server in phase {} ({:.0}% vs {:.0}%)",
                    row.phase, row.generator_pct, s
                ));
            }
        }
    }
    if !have_server {
        w.push("server pid unknown: no server CPU or memory (pass --server-pid)".into());
    }
    w
}
