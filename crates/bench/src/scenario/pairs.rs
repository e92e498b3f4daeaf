//! `pairs`: N publisher/subscriber pairs, each pair on its own topic. The
//! publisher and subscriber of a pair are distinct clients (a relay never
//! echoes a message to its publisher) and live in the same worker.

use std::net::IpAddr;

use relaybox_proto::Topic;
use tokio::sync::watch;

use super::publisher::{self, Gate};
use super::rejoin::Rejoin;
use super::subscriber;
use super::{merge_all, spawn_bounded, Ctx, Timing};
use crate::conn::{self, Ws};
use crate::identity::{random_topic, Identity};
use crate::spec::{Load, WorkerSpec};
use crate::stats::WorkerResult;

/// A connected, subscribed socket and any pushes that came with the reply.
pub type Subscribed = (Ws, Vec<String>);

/// Connects as a fresh client and subscribes to `topic`.
pub async fn subscribe_new(
    url: String,
    topic: Topic,
    source: Option<IpAddr>,
) -> anyhow::Result<Subscribed> {
    subscribe_as(&Identity::new(&url).url, topic, source).await
}

/// Connects with `client_url` (a client's URL with its token) and
/// subscribes to `topic`.
async fn subscribe_as(
    client_url: &str,
    topic: Topic,
    source: Option<IpAddr>,
) -> anyhow::Result<Subscribed> {
    let mut ws = conn::connect_from(client_url, source).await?;
    let early = conn::call(
        &mut ws,
        publisher::FIRST_ID - 1,
        conn::subscribe_frame(publisher::FIRST_ID - 1, topic),
    )
    .await?;
    Ok((ws, early))
}

/// Connects as a fresh client, from `source` when given.
pub async fn connect_new(url: String, source: Option<IpAddr>) -> anyhow::Result<Ws> {
    conn::connect_from(&Identity::new(&url).url, source).await
}

/// One pair, connected and subscribed, waiting for the load.
pub struct Pair {
    index: usize,
    topic: Topic,
    sub: Subscribed,
    publ: Ws,
    /// How each side comes back after a close (used with `--reconnect`).
    sub_rejoin: Rejoin,
    pub_rejoin: Rejoin,
}

pub async fn run(ctx: &Ctx<'_>) -> anyhow::Result<WorkerResult> {
    let (pairs, mut res) = setup(ctx.spec).await;
    let timing = ctx.start_timed().await?;
    res.merge(&drive(pairs, &ctx.spec.load, timing).await?);
    Ok(res)
}

/// Connects this worker's share of the pairs; failures are counted as
/// `setup_<kind>` errors, the pairs made as the `pairs` counter.
pub async fn setup(spec: &WorkerSpec) -> (Vec<Pair>, WorkerResult) {
    setup_from(spec, |_| None).await
}

/// [`setup`], each pair's two sockets from `source(pair index)`.
pub async fn setup_from(
    spec: &WorkerSpec,
    source: fn(usize) -> Option<IpAddr>,
) -> (Vec<Pair>, WorkerResult) {
    let load = &spec.load;
    let mine: Vec<usize> = spec.share(load.connections).collect();
    let url = spec.url.clone();
    let set_up = spawn_bounded(mine, load.concurrency, |index| {
        let url = url.clone();
        async move {
            let topic = random_topic();
            let (sub_id, pub_id) = (Identity::new(&url), Identity::new(&url));
            let sub = subscribe_as(&sub_id.url, topic, source(index)).await?;
            let publ = conn::connect_from(&pub_id.url, source(index)).await?;
            anyhow::Ok(Pair {
                index,
                topic,
                sub,
                publ,
                sub_rejoin: Rejoin {
                    url: sub_id.url,
                    source: source(index),
                    topic: Some(topic),
                },
                pub_rejoin: Rejoin {
                    url: pub_id.url,
                    source: source(index),
                    topic: None,
                },
            })
        }
    })
    .await;
    let mut res = WorkerResult::default();
    let mut pairs = Vec::new();
    for p in set_up {
        match p {
            Ok(p) => pairs.push(p),
            Err(e) => res.error(&format!("setup_{}", conn::kind_of(&e))),
        }
    }
    res.count("pairs", pairs.len() as u64);
    (pairs, res)
}

/// Runs `pairs` from `timing.start`: publishes until the window ends, then
/// waits for the last acks and deliveries (at most until the drain ends).
pub async fn drive(pairs: Vec<Pair>, load: &Load, timing: Timing) -> anyhow::Result<WorkerResult> {
    let total = load.connections.max(1) as f64;
    let per_pub_rate = load.rate / total;
    let mut tasks = Vec::new();
    for p in pairs {
        let gate = (load.rate <= 0.0).then(|| Gate {
            fanout: 1,
            ..Gate::default()
        });
        let pub_plan = publisher::Plan {
            topic: p.topic,
            stream: p.index as u32,
            rate: per_pub_rate,
            window: load.window,
            phase: p.index as f64 / total,
            message_size: load.message_size,
            ttl: load.ttl,
            timing,
            gate: gate.clone(),
            rejoin: load.reconnect.then(|| p.pub_rejoin.clone()),
        };
        let (expected_tx, expected) = watch::channel(None);
        let sub_plan = subscriber::Plan {
            timing,
            gate,
            expected,
            rejoin: load.reconnect.then(|| p.sub_rejoin.clone()),
        };
        let (sub_ws, early) = p.sub;
        let sub = tokio::spawn(subscriber::run(sub_ws, sub_plan, early));
        let publ = p.publ;
        tasks.push(tokio::spawn(async move {
            let mut res = publisher::run(publ, pub_plan).await;
            let _ = expected_tx.send(Some(res.counter("publish_ok")));
            match sub.await {
                Ok(r) => res.merge(&r),
                Err(_) => res.error("subscriber_panicked"),
            }
            res
        }));
    }
    let mut parts = Vec::with_capacity(tasks.len());
    for t in tasks {
        parts.push(t.await?);
    }
    Ok(merge_all(parts))
}
