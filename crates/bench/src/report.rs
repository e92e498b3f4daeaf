//! Turns a run's raw measurements into a summary: throughput, latency
//! percentiles, errors by kind, generator and server CPU with saturation
//! warnings, server memory per connection for `idle`, and the `abuse`
//! section (see `abuse_report`).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::abuse_report::{self, AbuseSummary};
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
    /// Bytes the server wrote to storage in the phase.
    pub server_write_bytes: Option<u64>,
    /// Connection attempts the kernel dropped at a full listen queue in the
    /// phase (machine-wide `ListenOverflows`).
    pub listen_overflows: Option<u64>,
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
    /// `abuse`: baseline vs under abuse, relay memory, closes.
    pub abuse: Option<AbuseSummary>,
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
    let latency: BTreeMap<String, Latency> = r
        .histos
        .iter()
        .filter(|(_, h)| h.len() > 0)
        .map(|(k, h)| (k.clone(), Latency::of(h)))
        .collect();
    let mut abuse = None;
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
        Scenario::Abuse => {
            abuse = Some(abuse_report::summarize(
                &o,
                &latency,
                &mut figures,
                &mut errors,
            ));
        }
        Scenario::Idle => {
            if let Some(v) = r.values.get("connect_secs_max") {
                figures.insert("connect_secs".into(), *v);
                figures.insert("connects_per_sec".into(), c("connected") / v.max(1e-9));
            }
        }
    }
    if let Some(per_msg) = server_write_bytes_per_msg(&o) {
        figures.insert("server_write_bytes_per_msg".into(), per_msg);
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
    let mut warnings = warnings(&cpu, o.server_pid.is_some());
    if o.rss.is_some_and(|m| !m.alive_at_end) {
        warnings.push("the server was not alive at the end of the run: it crashed".into());
    }
    Summary {
        scenario: o.scenario,
        target: o.target.clone(),
        url: o.url.clone(),
        load: o.load.clone(),
        figures,
        latency,
        counters: r.counters.clone(),
        error_total: errors.values().sum(),
        errors,
        cpu,
        memory,
        abuse,
        warnings,
        histos: r.histos.clone(),
    }
}

/// The server's storage writes per acknowledged publish, for the durable
/// scenarios: `write_bytes` of `/proc/<pid>/io` over the measured window
/// (mailbox: the publish phase) divided by the publishes acknowledged in it.
fn server_write_bytes_per_msg(o: &Outcome) -> Option<f64> {
    o.server_pid?;
    let (phase, acked) = match o.scenario {
        Scenario::Pairs | Scenario::Fanout => ("window", o.result.counter("publish_ok_window")),
        Scenario::Mailbox => ("publish", o.result.counter("publish_ok")),
        Scenario::Connect | Scenario::Idle | Scenario::Abuse => return None,
    };
    let bytes = o.server.get(phase)?.write_bytes?;
    (acked > 0).then(|| bytes as f64 / acked as f64)
}

/// The phases whose CPU is reported, per scenario.
fn reported_phases(s: Scenario) -> &'static [&'static str] {
    match s {
        Scenario::Pairs | Scenario::Fanout | Scenario::Connect => &["window"],
        Scenario::Mailbox => &["publish", "drain"],
        Scenario::Idle => &["start"],
        Scenario::Abuse => &["baseline_window", "window"],
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
                    .and(span.write_bytes)
                    .map(|b| b as f64 / 1_048_576.0 / wall),
                server_write_bytes: o.server_pid.and(span.write_bytes),
                listen_overflows: span.listen_overflows,
                generator_threads: threads,
            })
        })
        .collect()
}

fn warnings(cpu: &[Cpu], have_server: bool) -> Vec<String> {
    let cores = crate::sys::cpus() as f64;
    let mut w = Vec::new();
    for row in cpu {
        if let Some(n) = row.listen_overflows.filter(|n| *n > 0) {
            w.push(format!(
                "{n} connection attempts overflowed a listen queue in phase {} (TcpExt ListenOverflows, machine-wide): each waited about 1 s for its SYN to be resent, and that second is in the figures; keep --concurrency below the server's accept backlog (Send-Q of `ss -ltn`)",
                row.phase
            ));
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phases::Span;
    use clap::Parser;

    fn load() -> Load {
        match crate::spec::Cli::parse_from(["relaybox-bench", "pairs", "-d", "2"]).command {
            crate::spec::Command::Pairs(a) => a.load,
            _ => unreachable!(),
        }
    }

    fn outcome(scenario: Scenario, phase: &str, write_bytes: Option<u64>) -> Outcome {
        let mut result = crate::stats::WorkerResult::default();
        result.count("publish_ok", 500);
        result.count("publish_ok_window", 400);
        let span = Span {
            wall_secs: 2.0,
            cpu_secs: 1.0,
            write_bytes,
            listen_overflows: Some(0),
        };
        Outcome {
            scenario,
            target: "relay".into(),
            url: "ws://127.0.0.1:1".into(),
            load: load(),
            result,
            server: [(phase.to_owned(), span)].into_iter().collect(),
            memory: None,
            rss: None,
            server_pid: Some(1),
        }
    }

    fn per_msg(o: Outcome) -> Option<f64> {
        summarize(o)
            .figures
            .get("server_write_bytes_per_msg")
            .copied()
    }

    #[test]
    fn write_bytes_per_acknowledged_publish() {
        // Pairs and fanout: the window's bytes over the window's acks.
        let pairs = outcome(Scenario::Pairs, "window", Some(409_600));
        assert_eq!(per_msg(pairs), Some(1024.0));
        let fanout = outcome(Scenario::Fanout, "window", Some(4_000));
        assert_eq!(per_msg(fanout), Some(10.0));
        // Mailbox: the publish phase's bytes over every acked publish.
        let mailbox = outcome(Scenario::Mailbox, "publish", Some(1_000_000));
        assert_eq!(per_msg(mailbox), Some(2000.0));
    }

    #[test]
    fn listen_overflows_are_warned_about() {
        let quiet = summarize(outcome(Scenario::Pairs, "window", Some(1)));
        assert!(!quiet.warnings.iter().any(|w| w.contains("listen queue")));
        let mut o = outcome(Scenario::Pairs, "window", Some(1));
        o.server.get_mut("window").unwrap().listen_overflows = Some(7);
        let s = summarize(o);
        assert!(s
            .warnings
            .iter()
            .any(|w| w.starts_with("7 connection attempts")));
        assert_eq!(s.cpu[0].listen_overflows, Some(7));
    }

    #[test]
    fn no_write_figure_without_data() {
        assert_eq!(per_msg(outcome(Scenario::Pairs, "window", None)), None);
        assert_eq!(per_msg(outcome(Scenario::Connect, "window", Some(9))), None);
        let mut unknown_pid = outcome(Scenario::Pairs, "window", Some(9));
        unknown_pid.server_pid = None;
        assert_eq!(per_msg(unknown_pid), None);
        let mut nothing_acked = outcome(Scenario::Pairs, "window", Some(9));
        nothing_acked.result.counters.clear();
        assert_eq!(per_msg(nothing_acked), None);
    }
}
