//! `mailbox`: M clients subscribe to a topic each and go offline; K
//! messages per topic are published while they are away (durable publishes
//! to offline subscribers: ack throughput and latency); then all clients
//! reconnect at once, re-subscribe as the JS SDK does, and the harness
//! times until every mailbox is drained, checking that each arrived in order.

use futures_util::{SinkExt, StreamExt};
use relaybox_proto::Topic;

use super::publisher::FIRST_ID;
use super::subscriber::Order;
use super::{merge_all, spawn_bounded, Ctx};
use crate::clock;
use crate::conn::{self, Event, Ws};
use crate::identity::{random_topic, Identity};
use crate::payload::{self, Stamp};
use crate::stats::WorkerResult;

#[derive(Clone)]
struct Client {
    index: usize,
    url: String,
    topic: Topic,
}

pub async fn run(ctx: &Ctx<'_>) -> anyhow::Result<WorkerResult> {
    let spec = ctx.spec;
    let load = &spec.load;
    let base = spec.url.clone();
    let clients: Vec<Client> = spec
        .share(load.connections)
        .map(|index| Client {
            index,
            url: Identity::new(&base).url,
            topic: random_topic(),
        })
        .collect();
    let mut res = WorkerResult::default();

    // Phase 1: subscribe, then go offline.
    let subscribed = spawn_bounded(clients.clone(), load.concurrency, |c| async move {
        let mut ws = conn::connect(&c.url).await?;
        conn::call(&mut ws, FIRST_ID, conn::subscribe_frame(FIRST_ID, c.topic)).await?;
        conn::close(ws).await;
        anyhow::Ok(())
    })
    .await;
    for r in subscribed {
        if let Err(e) = r {
            res.error(&format!("subscribe_{}", conn::kind_of(&e)));
        }
    }
    let n_pub = spec
        .share(load.publishers.max(spec.count))
        .len()
        .max(1)
        .min(clients.len().max(1));
    let mut publishers = Vec::new();
    for _ in 0..n_pub {
        publishers.push(conn::connect(&Identity::new(&base).url).await?);
    }

    // Phase 2: fill the mailboxes.
    let t_pub = ctx.barrier("publish").await?;
    res.value("publish_start_ns_min", t_pub as f64);
    let mut tasks = Vec::new();
    for (p, ws) in publishers.into_iter().enumerate() {
        let mine: Vec<Client> = clients.iter().skip(p).step_by(n_pub).cloned().collect();
        let (k, size, ttl, window) = (load.messages, load.message_size, load.ttl, load.window);
        tasks.push(tokio::spawn(fill(ws, mine, k, size, ttl, window)));
    }
    for t in tasks {
        res.merge(&t.await?);
    }

    // Phase 3: everyone comes back.
    let t_drain = ctx.barrier("drain").await?;
    res.value("drain_start_ns_min", t_drain as f64);
    let deadline = t_drain + clock::secs_ns(load.drain.max(1.0) * 6.0);
    let k = load.messages as u64;
    let drained = spawn_bounded(clients, load.concurrency, move |c| {
        drain(c, k, t_drain, deadline)
    })
    .await;
    Ok(merge_all(std::iter::once(res).chain(drained)))
}

/// Publishes `k` messages to each client's topic, round by round, with at
/// most `window` unacknowledged.
async fn fill(
    mut ws: Ws,
    clients: Vec<Client>,
    k: usize,
    size: usize,
    ttl: u32,
    window: usize,
) -> WorkerResult {
    let mut res = WorkerResult::default();
    let mut pending = std::collections::HashMap::new();
    let mut id = FIRST_ID;
    let total = k * clients.len();
    let mut done = 0usize;
    loop {
        while done < total && pending.len() < window.max(1) {
            // Round by round, so each topic's messages go out in order.
            let (seq, c) = (
                (done / clients.len()) as u64,
                &clients[done % clients.len()],
            );
            done += 1;
            let now = clock::now_ns();
            let stamp = Stamp {
                sent_ns: now,
                seq,
                stream: c.index as u32,
            };
            let frame = conn::publish_frame(id, c.topic, payload::encode(stamp, size), ttl);
            if ws.feed(frame).await.is_err() {
                res.error("publish_write");
                return res;
            }
            pending.insert(id, now);
            id += 1;
            res.count("published", 1);
        }
        if ws.flush().await.is_err() {
            res.error("publish_write");
            return res;
        }
        if done >= total && pending.is_empty() {
            break;
        }
        let msg = tokio::time::timeout(conn::CONNECT_TIMEOUT, ws.next()).await;
        match msg {
            Ok(Some(Ok(m))) => match conn::classify(m) {
                Event::Reply { id, result } => {
                    if let Some(sent) = pending.remove(&id) {
                        match result {
                            Ok(()) => {
                                res.count("publish_ok", 1);
                                res.histo("ack")
                                    .record(clock::now_ns().saturating_sub(sent));
                            }
                            Err(tag) => res.error(&format!("publish_{tag}")),
                        }
                    }
                }
                Event::Closed(code) => {
                    res.error(&format!("publisher_closed_{code}"));
                    return res;
                }
                _ => {}
            },
            Ok(_) => {
                res.error("publisher_closed");
                return res;
            }
            Err(_) => {
                res.error("publish_timeout");
                return res;
            }
        }
    }
    res.value("publish_end_ns_max", clock::now_ns() as f64);
    conn::close(ws).await;
    res
}

/// Reconnects one client and reads its mailbox: `k` messages, in order.
async fn drain(c: Client, k: u64, t_drain: u64, deadline: u64) -> WorkerResult {
    let mut res = WorkerResult::default();
    let mut order = Order::default();
    let mut got = 0u64;
    let mut ws = match conn::connect(&c.url).await {
        Ok(ws) => ws,
        Err(e) => {
            res.error(&format!("reconnect_{}", conn::kind_of(&e)));
            return res;
        }
    };
    let take = |message: &str, order: &mut Order, got: &mut u64, res: &mut WorkerResult| {
        match payload::decode(message) {
            Some(s) => {
                order.check(s.stream, s.seq, res);
                *got += 1;
            }
            None => res.error("foreign_message"),
        }
    };
    match conn::call(&mut ws, FIRST_ID, conn::subscribe_frame(FIRST_ID, c.topic)).await {
        Ok(early) => early
            .iter()
            .for_each(|m| take(m, &mut order, &mut got, &mut res)),
        Err(e) => {
            res.error(&format!("resubscribe_{}", conn::kind_of(&e)));
            return res;
        }
    }
    while got < k {
        let next = tokio::select! {
            m = ws.next() => m,
            _ = clock::sleep_until(deadline) => {
                res.error("undrained");
                res.count("undrained_messages", k - got);
                break;
            }
        };
        match next {
            Some(Ok(m)) => match conn::classify(m) {
                Event::Push { id, message } => {
                    take(&message, &mut order, &mut got, &mut res);
                    if ws.send(conn::ack_frame(&id)).await.is_err() {
                        res.error("ack_write");
                        break;
                    }
                }
                Event::Closed(code) => {
                    res.error(&format!("closed_{code}"));
                    break;
                }
                _ => {}
            },
            _ => {
                res.error("closed");
                break;
            }
        }
    }
    let now = clock::now_ns();
    res.count("drained", got);
    if got >= k {
        res.count("clients_drained", 1);
        res.value("drain_end_ns_max", now as f64);
        res.histo("client_drain")
            .record(now.saturating_sub(t_drain));
    }
    conn::close(ws).await;
    res
}
