//! Printing: a readable table per run, a side-by-side table with
//! relay/ceiling ratios for `--compare`, and the same as JSON.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;

use crate::report::Summary;

/// Both runs of `--compare` and their ratios (relay / ceiling).
#[derive(Debug, Serialize)]
pub struct Comparison {
    pub relay: Summary,
    pub ceiling: Summary,
    pub ratios: BTreeMap<String, f64>,
}

impl Comparison {
    /// Pairs up the two summaries.
    pub fn new(relay: Summary, ceiling: Summary) -> Comparison {
        let mut ratios = BTreeMap::new();
        for (k, r) in &relay.figures {
            if let Some(c) = ceiling.figures.get(k).filter(|c| **c > 0.0) {
                ratios.insert(k.clone(), r / c);
            }
        }
        for (k, r) in &relay.latency {
            if let Some(c) = ceiling.latency.get(k) {
                for (q, rv, cv) in [("p50", r.p50_us, c.p50_us), ("p99", r.p99_us, c.p99_us)] {
                    if cv > 0.0 {
                        ratios.insert(format!("{k}_{q}"), rv / cv);
                    }
                }
            }
        }
        if let (Some(r), Some(c)) = (&relay.memory, &ceiling.memory) {
            if c.rss_anon_per_conn_bytes > 0.0 {
                ratios.insert(
                    "rss_anon_per_conn".into(),
                    r.rss_anon_per_conn_bytes / c.rss_anon_per_conn_bytes,
                );
            }
        }
        Comparison {
            relay,
            ceiling,
            ratios,
        }
    }
}

fn num(v: f64) -> String {
    if v.abs() >= 100.0 {
        let s = format!("{:.0}", v);
        let (sign, digits) = s.strip_prefix('-').map_or(("", s.as_str()), |d| ("-", d));
        let mut out = String::new();
        for (i, ch) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(ch);
        }
        format!("{sign}{out}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Describes the load of a run in one line.
pub fn describe(s: &Summary) -> String {
    let l = &s.load;
    let mode = if l.rate > 0.0 {
        format!("open loop {} msg/s", num(l.rate))
    } else {
        format!("closed loop, window {}", l.window)
    };
    match s.scenario {
        crate::spec::Scenario::Pairs => format!(
            "{} pairs, {mode}, {} B, {}s + {}s warm-up",
            l.connections, l.message_size, l.duration, l.warmup
        ),
        crate::spec::Scenario::Fanout => format!(
            "1 -> {} subscribers, {mode}, {} B, {}s + {}s warm-up",
            l.connections, l.message_size, l.duration, l.warmup
        ),
        crate::spec::Scenario::Mailbox => format!(
            "{} offline clients x {} messages, {} publishers, {} B",
            l.connections, l.messages, l.publishers, l.message_size
        ),
        crate::spec::Scenario::Connect => format!(
            "{} concurrent connectors, {}s + {}s warm-up",
            l.connections, l.duration, l.warmup
        ),
        crate::spec::Scenario::Idle => format!("{} idle connections", l.connections),
        crate::spec::Scenario::Abuse => format!(
            "{} pairs, {mode}, {} B, {}s + {}s warm-up{}; {} non-readers; {} hostile publishers, a frame every {} ms, {} batches; {} victim topics, {} msg/s, {} B, backlog {}",
            l.connections,
            l.message_size,
            l.duration,
            l.warmup,
            if l.no_baseline { "" } else { ", after the same unloaded" },
            l.nonreaders,
            l.hostile,
            l.hostile_interval_ms,
            l.hostile_batch.name(),
            l.victim_topics.max(1),
            l.victim_rate,
            l.victim_message_size,
            l.victim_backlog
        ),
    }
}

/// The table of one run.
pub fn table(s: &Summary) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "{} against {} ({})", s.scenario.name(), s.target, s.url);
    let _ = writeln!(
        o,
        "  load: {}; {} process(es)",
        describe(s),
        s.load.processes
    );
    for (k, v) in &s.figures {
        let _ = writeln!(o, "  {k:<28} {:>14}", num(*v));
    }
    if let Some(m) = &s.memory {
        let _ = writeln!(o, "  server memory over {} connections:", m.connections);
        let _ = writeln!(
            o,
            "    RssAnon {} -> {} KiB: {:.0} B/conn;  VmRSS {} -> {} KiB: {:.0} B/conn",
            m.rss_anon_before / 1024,
            m.rss_anon_after / 1024,
            m.rss_anon_per_conn_bytes,
            m.rss_before / 1024,
            m.rss_after / 1024,
            m.rss_per_conn_bytes
        );
    }
    if let Some(a) = &s.abuse {
        crate::abuse_report::table(a, &mut o);
    }
    if !s.latency.is_empty() {
        let _ = writeln!(
            o,
            "  {:<14} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "latency (us)", "count", "p50", "p90", "p99", "p99.9", "max"
        );
        for (k, l) in &s.latency {
            let _ = writeln!(
                o,
                "  {k:<14} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
                l.count,
                num(l.p50_us),
                num(l.p90_us),
                num(l.p99_us),
                num(l.p999_us),
                num(l.max_us)
            );
        }
    }
    for c in &s.cpu {
        let server = c
            .server_pct
            .map_or("n/a".to_owned(), |p| format!("{p:.0}%"));
        let disk = c.server_write_mib_per_sec.map_or(String::new(), |w| {
            format!(", server disk writes {w:.1} MiB/s")
        });
        let _ = writeln!(
            o,
            "  CPU {:<8} {:.1}s: generator {:.0}% ({} threads), server {server}{disk}",
            c.phase, c.wall_secs, c.generator_pct, c.generator_threads
        );
    }
    // --reconnect: the sockets the server closed and what coming back cost.
    let rejoin: Vec<String> = s
        .counters
        .iter()
        .filter(|(k, _)| {
            k.starts_with("reconnect")
                || k.starts_with("lost_")
                || ["redelivered", "republished", "publish_unanswered_at_close"]
                    .contains(&k.as_str())
        })
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if !rejoin.is_empty() {
        let _ = writeln!(o, "  reconnect: {}", rejoin.join(", "));
    }
    if s.errors.is_empty() {
        let _ = writeln!(o, "  errors: none");
    } else {
        let list: Vec<String> = s.errors.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(o, "  errors ({}): {}", s.error_total, list.join(", "));
    }
    for w in &s.warnings {
        let _ = writeln!(o, "  WARNING: {w}");
    }
    o
}

/// The side-by-side table of a comparison.
pub fn compare_table(c: &Comparison) -> String {
    let mut o = table(&c.relay);
    o.push('\n');
    o.push_str(&table(&c.ceiling));
    let _ = writeln!(
        o,
        "\n{:<32} {:>14} {:>14} {:>10}",
        "relay vs ceiling", "relay", "ceiling", "ratio"
    );
    let row = |o: &mut String, k: &str, r: f64, cv: f64| {
        let ratio = if cv > 0.0 {
            format!("{:.2}", r / cv)
        } else {
            "-".into()
        };
        let _ = writeln!(o, "{k:<32} {:>14} {:>14} {ratio:>10}", num(r), num(cv));
    };
    for (k, r) in &c.relay.figures {
        if let Some(cv) = c.ceiling.figures.get(k) {
            row(&mut o, k, *r, *cv);
        }
    }
    for (k, r) in &c.relay.latency {
        if let Some(cl) = c.ceiling.latency.get(k) {
            row(&mut o, &format!("{k} p50 (us)"), r.p50_us, cl.p50_us);
            row(&mut o, &format!("{k} p99 (us)"), r.p99_us, cl.p99_us);
        }
    }
    if let (Some(r), Some(cm)) = (&c.relay.memory, &c.ceiling.memory) {
        row(
            &mut o,
            "RssAnon per conn (B)",
            r.rss_anon_per_conn_bytes,
            cm.rss_anon_per_conn_bytes,
        );
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped() {
        assert_eq!(num(1234567.4), "1,234,567");
        assert_eq!(num(150.0), "150");
        assert_eq!(num(12.34), "12.3");
        assert_eq!(num(1.234), "1.23");
        assert_eq!(num(-1234.0), "-1,234");
    }
}
