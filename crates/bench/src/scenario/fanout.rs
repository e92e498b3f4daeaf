//! `fanout`: one publisher (in worker 0), one topic shared by the whole run,
//! N subscribers spread over the workers. Throughput is deliveries per second.

use tokio::sync::watch;

use super::pairs::{connect_new, subscribe_new};
use super::publisher::{self, Gate};
use super::subscriber;
use super::{merge_all, spawn_bounded, Ctx};
use crate::conn;
use crate::stats::WorkerResult;

pub async fn run(ctx: &Ctx<'_>) -> anyhow::Result<WorkerResult> {
    let spec = ctx.spec;
    let load = &spec.load;
    let topic = spec.shared_topic("fanout");
    let url = spec.url.clone();
    let mine: Vec<usize> = spec.share(load.connections).collect();
    let subs = spawn_bounded(mine, load.concurrency, |_| {
        subscribe_new(url.clone(), topic, None)
    })
    .await;
    let mut res = WorkerResult::default();
    let mut sockets = Vec::new();
    for s in subs {
        match s {
            Ok(s) => sockets.push(s),
            Err(e) => res.error(&format!("setup_{}", conn::kind_of(&e))),
        }
    }
    res.count("subscribers", sockets.len() as u64);
    let publ = if spec.index == 0 {
        Some(connect_new(url.clone(), None).await?)
    } else {
        None
    };

    let timing = ctx.start_timed().await?;
    let gate = (load.rate <= 0.0 && !sockets.is_empty()).then(|| Gate {
        fanout: sockets.len() as u64,
        ..Gate::default()
    });
    let (expected_tx, expected) = watch::channel(None);
    let mut tasks = Vec::new();
    for (ws, early) in sockets {
        let plan = subscriber::Plan {
            timing,
            gate: gate.clone(),
            expected: expected.clone(),
            rejoin: None,
        };
        tasks.push(tokio::spawn(subscriber::run(ws, plan, early)));
    }
    if let Some(ws) = publ {
        let plan = publisher::Plan {
            topic,
            stream: 0,
            rate: load.rate,
            window: load.window,
            phase: 0.0,
            message_size: load.message_size,
            ttl: load.ttl,
            timing,
            gate,
            rejoin: None,
        };
        res.merge(&publisher::run(ws, plan).await);
    }
    // Every worker learns how many messages were acknowledged in all.
    let (_, total) = ctx
        .barrier_sum("published", res.counter("publish_ok"))
        .await?;
    let _ = expected_tx.send(Some(total));
    let mut parts = vec![res];
    for t in tasks {
        parts.push(t.await?);
    }
    Ok(merge_all(parts))
}
