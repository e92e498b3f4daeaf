//! The `abuse` part of a summary: the normal pairs unloaded (the baseline)
//! and under abuse, with the ratios of their latency; the relay's memory
//! before the abuse and its peak under it; the sockets the relay closed and
//! the upgrades it refused, by who and why; and what the hostile publishers
//! sent and were answered.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;

use crate::report::Latency;
use crate::rss::RssTrack;
use crate::run::Outcome;

/// What the normal pairs got in one run.
#[derive(Clone, Debug, Serialize)]
pub struct PairFigures {
    pub delivered_per_sec: f64,
    pub e2e_p50_us: Option<f64>,
    pub e2e_p99_us: Option<f64>,
    pub ack_p99_us: Option<f64>,
    /// Publishes acknowledged but never delivered.
    pub undelivered: u64,
}

/// The `abuse` section of a summary.
#[derive(Clone, Debug, Serialize)]
pub struct AbuseSummary {
    /// The pairs alone (absent with `--no-baseline`).
    pub baseline: Option<PairFigures>,
    pub under_abuse: PairFigures,
    /// Under abuse / baseline: `e2e_p50`, `e2e_p99`, `ack_p99` (goal: e2e p99 within 2).
    pub ratios: BTreeMap<String, f64>,
    /// The relay's VmRSS over the run (needs its pid).
    pub rss: Option<RssTrack>,
    /// Sockets the relay closed, as `<who> <close code | eof | reset | open>`;
    /// who is `pairs`, `nonreader` or `hostile`.
    pub closes: BTreeMap<String, u64>,
    /// Upgrades the relay refused, as `<who> http_<status>[_<code>]`.
    pub refusals: BTreeMap<String, u64>,
    /// Frames the hostile publishers sent, by kind.
    pub hostile_sent: BTreeMap<String, u64>,
    /// Replies they got: `ok`, an error's data tag, or `large` (skipped unread).
    pub hostile_replies: BTreeMap<String, u64>,
}

fn figures(
    o: &Outcome,
    latency: &BTreeMap<String, Latency>,
    prefix: &str,
    errors: &mut BTreeMap<String, u64>,
) -> PairFigures {
    let r = &o.result;
    let c = |k: &str| r.counter(&format!("{prefix}{k}"));
    let undelivered = c("publish_ok").saturating_sub(c("delivered"));
    if undelivered > 0 {
        errors.insert(format!("{prefix}undelivered"), undelivered);
    }
    let lat = |k: &str| latency.get(&format!("{prefix}{k}"));
    PairFigures {
        delivered_per_sec: c("delivered_window") as f64 / o.load.duration.max(1e-9),
        e2e_p50_us: lat("e2e").map(|l| l.p50_us),
        e2e_p99_us: lat("e2e").map(|l| l.p99_us),
        ack_p99_us: lat("ack").map(|l| l.p99_us),
        undelivered,
    }
}

/// Builds the section; adds the pairs' rates and latency ratios to
/// `figures` and their undelivered messages to `errors`.
pub fn summarize(
    o: &Outcome,
    latency: &BTreeMap<String, Latency>,
    figs: &mut BTreeMap<String, f64>,
    errors: &mut BTreeMap<String, u64>,
) -> AbuseSummary {
    let r = &o.result;
    let under_abuse = figures(o, latency, "", errors);
    let baseline = (!o.load.no_baseline).then(|| figures(o, latency, "baseline_", errors));
    figs.insert("delivered_per_sec".into(), under_abuse.delivered_per_sec);
    let acks = r.counter("publish_ok_window") as f64 / o.load.duration.max(1e-9);
    figs.insert("publish_acks_per_sec".into(), acks);
    let mut ratios = BTreeMap::new();
    if let Some(b) = &baseline {
        figs.insert("baseline_delivered_per_sec".into(), b.delivered_per_sec);
        let pairs = [
            ("e2e_p50", b.e2e_p50_us, under_abuse.e2e_p50_us),
            ("e2e_p99", b.e2e_p99_us, under_abuse.e2e_p99_us),
            ("ack_p99", b.ack_p99_us, under_abuse.ack_p99_us),
        ];
        for (name, base, loaded) in pairs {
            if let (Some(base), Some(loaded)) = (base, loaded) {
                if base > 0.0 {
                    ratios.insert(name.to_owned(), loaded / base);
                    figs.insert(format!("{name}_ratio"), loaded / base);
                }
            }
        }
    }
    let mut closes = BTreeMap::new();
    let mut refusals = BTreeMap::new();
    let mut hostile_sent = BTreeMap::new();
    let mut hostile_replies = BTreeMap::new();
    for (k, v) in &r.counters {
        let split = |rest: &str| rest.replacen('/', " ", 1);
        if let Some(rest) = k.strip_prefix("close/") {
            closes.insert(split(rest), *v);
        } else if let Some(rest) = k.strip_prefix("refused/") {
            refusals.insert(split(rest), *v);
        } else if let Some(kind) = k.strip_prefix("hostile_sent/") {
            hostile_sent.insert(kind.to_owned(), *v);
        } else if let Some(tag) = k.strip_prefix("hostile_reply/") {
            hostile_replies.insert(tag.to_owned(), *v);
        }
    }
    for (k, v) in &r.errors {
        // The pairs under abuse: `publisher_closed_1013`, `subscriber_closed`...
        if let Some(how) = ["publisher_closed", "subscriber_closed"]
            .iter()
            .find_map(|p| k.strip_prefix(p))
        {
            let how = how.strip_prefix('_').unwrap_or("eof");
            *closes.entry(format!("pairs {how}")).or_default() += v;
        }
        // Setup refusals: `setup_http_429`, `hostile_setup_http_503`...
        if let Some((who, tag)) = k.split_once("setup_") {
            if tag.starts_with("http_") && !who.starts_with("baseline") {
                let who = who.trim_end_matches('_');
                let who = if who.is_empty() { "pairs" } else { who };
                *refusals.entry(format!("{who} {tag}")).or_default() += v;
            }
        }
    }
    AbuseSummary {
        baseline,
        under_abuse,
        ratios,
        rss: o.rss,
        closes,
        refusals,
        hostile_sent,
        hostile_replies,
    }
}

fn us(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.0}"))
}

fn list(m: &BTreeMap<String, u64>) -> String {
    if m.is_empty() {
        return "none".into();
    }
    let items: Vec<String> = m.iter().map(|(k, v)| format!("{k}={v}")).collect();
    items.join(", ")
}

/// Appends the section to a run's table.
pub fn table(a: &AbuseSummary, o: &mut String) {
    let _ = writeln!(
        o,
        "  {:<24} {:>12} {:>12} {:>8}",
        "normal pairs", "baseline", "under abuse", "ratio"
    );
    let b = a.baseline.as_ref();
    let rows = [
        (
            "e2e p50 (us)",
            b.and_then(|b| b.e2e_p50_us),
            a.under_abuse.e2e_p50_us,
            "e2e_p50",
        ),
        (
            "e2e p99 (us)",
            b.and_then(|b| b.e2e_p99_us),
            a.under_abuse.e2e_p99_us,
            "e2e_p99",
        ),
        (
            "ack p99 (us)",
            b.and_then(|b| b.ack_p99_us),
            a.under_abuse.ack_p99_us,
            "ack_p99",
        ),
    ];
    for (name, base, loaded, key) in rows {
        let ratio = a.ratios.get(key).map_or("-".into(), |r| format!("{r:.2}"));
        let _ = writeln!(
            o,
            "    {name:<22} {:>12} {:>12} {ratio:>8}",
            us(base),
            us(loaded)
        );
    }
    let _ = writeln!(
        o,
        "    {:<22} {:>12} {:>12}",
        "delivered/s",
        b.map_or("-".into(), |b| format!("{:.0}", b.delivered_per_sec)),
        format!("{:.0}", a.under_abuse.delivered_per_sec)
    );
    match &a.rss {
        Some(m) => {
            let mib = |b: u64| b as f64 / 1_048_576.0;
            let _ = writeln!(
                o,
                "  relay VmRSS (MiB): start {:.1}, baseline peak {:.1}, before abuse {:.1}, abusers connected {:.1}, peak under abuse {:.1} ({:+.1}), end {:.1}; {} samples; alive at end: {}",
                mib(m.start),
                mib(m.baseline_peak),
                mib(m.before),
                mib(m.connected),
                mib(m.peak),
                mib(m.peak) - mib(m.before),
                mib(m.end),
                m.samples,
                if m.alive_at_end { "yes" } else { "NO" }
            );
            let _ = writeln!(
                o,
                "  kernel TCP buffers, machine-wide (MiB): before abuse {:.1}, peak under abuse {:.1}",
                mib(m.tcp_buffers_before),
                mib(m.tcp_buffers_peak)
            );
        }
        None => {
            let _ = writeln!(o, "  relay VmRSS: unknown (no server pid)");
        }
    }
    let _ = writeln!(o, "  closed by the relay: {}", list(&a.closes));
    let _ = writeln!(o, "  upgrades refused: {}", list(&a.refusals));
    let _ = writeln!(o, "  hostile frames sent: {}", list(&a.hostile_sent));
    let _ = writeln!(o, "  hostile replies: {}", list(&a.hostile_replies));
}
