//! `abuse`: issue 10's combined load check. N normal publisher/subscriber
//! pairs (the `pairs` scenario, open loop at `--rate`) run twice: first
//! alone (the baseline; skipped with `--no-baseline`), then under abuse by
//! `--nonreaders` sockets that subscribe to a busy victim topic and never
//! read ([`victims`]) and `--hostile` publishers that send malformed,
//! oversized and batch requests and fetches ([`hostile`]). Each run uses
//! fresh pairs; the baseline's measurements carry a `baseline_` prefix.
//!
//! Barriers: `baseline` (its window is `baseline_window`), then `abusers`
//! (the parent notes the relay's memory before the abusers connect), then
//! `start` once everything is connected.

mod hostile;
mod raw;
mod victims;

use std::sync::Arc;

use super::{pairs, Ctx};
use crate::stats::WorkerResult;

pub async fn run(ctx: &Ctx<'_>) -> anyhow::Result<WorkerResult> {
    let spec = ctx.spec;
    let load = &spec.load;
    let mut res = WorkerResult::default();
    if !load.no_baseline {
        let (pairs, setup) = pairs::setup_from(spec, normal_source).await;
        let timing = ctx.start_timed_as("baseline", "baseline_window").await?;
        let mut baseline = pairs::drive(pairs, load, timing).await?;
        baseline.merge(&setup);
        res.merge(&prefixed(&baseline, "baseline_"));
    }

    ctx.barrier("abusers").await?;
    let (pairs, setup) = pairs::setup_from(spec, normal_source).await;
    res.merge(&setup);
    let topics = victims::topics(spec);
    let (helpers, setup) = victims::setup_helpers(spec, &topics).await;
    res.merge(&setup);
    let (nonreaders, setup) = victims::connect_nonreaders(spec).await;
    res.merge(&setup);
    let (hostiles, setup) = hostile::connect_all(spec).await;
    res.merge(&setup);
    let frames = Arc::new(hostile::Frames::new(&topics, load.ttl, load.hostile_batch));
    let interval_ns = load.hostile_interval_ms.max(1.0) * 1e6;

    let timing = ctx.start_timed().await?;
    let mut victim_tasks = Vec::new();
    for (i, ws) in helpers.into_iter().enumerate() {
        let task = victims::feed(ws, topics[i], i, load.clone(), timing);
        victim_tasks.push(tokio::spawn(task));
    }
    let mut tasks = Vec::new();
    for (i, ws) in nonreaders {
        let topic = topics[i % topics.len()];
        tasks.push(tokio::spawn(victims::hold(ws, topic, timing)));
    }
    for h in hostiles {
        let task = hostile::run(h, frames.clone(), interval_ns, timing);
        tasks.push(tokio::spawn(task));
    }
    res.merge(&pairs::drive(pairs, load, timing).await?);
    for t in victim_tasks {
        res.merge(&prefixed(&t.await?, "victim_"));
    }
    for t in tasks {
        res.merge(&t.await?);
    }
    Ok(res)
}

/// `r` with `prefix` before the name of every histogram, counter, error and value.
fn prefixed(r: &WorkerResult, prefix: &str) -> WorkerResult {
    let key = |k: &String| format!("{prefix}{k}");
    WorkerResult {
        histos: r.histos.iter().map(|(k, v)| (key(k), v.clone())).collect(),
        counters: r.counters.iter().map(|(k, v)| (key(k), *v)).collect(),
        errors: r.errors.iter().map(|(k, v)| (key(k), *v)).collect(),
        values: r.values.iter().map(|(k, v)| (key(k), *v)).collect(),
        cpu_secs: r.cpu_secs.clone(),
        threads: r.threads,
    }
}

/// Abusers connect from their own loopback addresses (`127.0.<net>.1-8`,
/// 125 or fewer sockets each), so the relay's per-IP limits (sockets,
/// request budget) apply to them as to Internet clients, while the normal
/// pairs on 127.0.0.1 keep their own budget.
pub(crate) const HOSTILE_NET: u8 = 2;
/// The normal pairs stand for as many users: each pair connects from its
/// own address (`127.0.1.<n>`, 250 of them), as the users of a public relay
/// would, so one address's request budget is one pair's.
pub(crate) const NORMAL_NET: u8 = 1;
/// The helpers that publish on the victim topics, one address each.
pub(crate) const HELPER_NET: u8 = 4;
pub(crate) const NONREADER_NET: u8 = 3;

pub(crate) fn abuser_source(index: usize, net: u8) -> Option<std::net::IpAddr> {
    Some(std::net::IpAddr::V4(std::net::Ipv4Addr::new(
        127,
        0,
        net,
        1 + (index % 8) as u8,
    )))
}

fn normal_source(pair: usize) -> Option<std::net::IpAddr> {
    Some(std::net::IpAddr::V4(std::net::Ipv4Addr::new(
        127,
        0,
        NORMAL_NET,
        1 + (pair % 250) as u8,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_renames_everything() {
        let mut r = WorkerResult::default();
        r.count("delivered", 3);
        r.error("order_gap");
        r.histo("e2e").record(1_000);
        r.value("end_ns_max", 1.0);
        let p = prefixed(&r, "baseline_");
        assert_eq!(p.counter("baseline_delivered"), 3);
        assert_eq!(p.errors["baseline_order_gap"], 1);
        assert_eq!(p.histos["baseline_e2e"].len(), 1);
        assert!(p.values.contains_key("baseline_end_ns_max"));
        assert_eq!(p.counter("delivered"), 0);
    }
}
