//! `mailbox`: M clients subscribe to a topic each and go offline; K
//! messages per topic are published while they are away (durable publishes
//! to offline subscribers: ack throughput and latency); then all clients
//! reconnect at once, re-subscribe as the JS SDK does, and the harness
//! times until every mailbox is drained, checking that each arrived in order.
//!
//! The drain clock covers only what coming back costs: the reconnect
//! (TCP connect and WebSocket upgrade), the re-subscription, and receiving
//! and acknowledging the messages. Everything else a client needs is made
//! before the publish phase starts: its JWT is signed when the client is
//! made, its upgrade request (URL parsed, headers, WebSocket key) and its
//! `irn_subscribe` frame are built, and its drain task is spawned, waiting
//! on a gate that opens at the drain barrier. `--concurrency` bounds the
//! connection attempts in flight, not the drains; every worker process
//! (`--processes`) brings back its own share of the clients. Sockets stay
//! open until every worker has drained, so closing them is not timed either.

use std::sync::{Arc, OnceLock};

use futures_util::{SinkExt, StreamExt};
use relaybox_proto::Topic;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::handshake::client::Request as Handshake;
use tokio_tungstenite::tungstenite::Message;

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

/// One client's way back, prepared before any clock runs.
struct Comeback {
    stream: u32,
    handshake: Handshake,
    subscribe: Message,
}

/// How one client's drain went. Its drain time goes into the worker's
/// histogram, not one of its own: a histogram is a 220 KiB array, and
/// making one per client (zeroed, then merged) cost the generator more
/// than receiving the messages.
struct Back {
    res: WorkerResult,
    /// When the last message arrived, if all did.
    drained_at: Option<u64>,
    /// The socket, still open.
    ws: Option<Ws>,
}

/// Opens at the drain barrier: `t0` is the drain's start, and the
/// semaphore hands out `--concurrency` connection attempts at a time.
struct Gate {
    t0: OnceLock<u64>,
    attempts: Semaphore,
}

pub async fn run(ctx: &Ctx<'_>) -> anyhow::Result<WorkerResult> {
    let spec = ctx.spec;
    let load = &spec.load;
    let base = spec.url.clone();
    // Signs one JWT per client, once: the reconnect reuses it.
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
        let mut ws = conn::connect(c.url.as_str()).await?;
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

    // The way back, ready and waiting for the drain barrier.
    let gate = Arc::new(Gate {
        t0: OnceLock::new(),
        attempts: Semaphore::new(0),
    });
    let timeout_ns = clock::secs_ns(load.drain.max(1.0) * 6.0);
    let k = load.messages as u64;
    let mut comebacks: Vec<JoinHandle<Back>> = Vec::with_capacity(clients.len());
    for c in &clients {
        let back = Comeback {
            stream: c.index as u32,
            handshake: conn::handshake(&c.url)?,
            subscribe: conn::subscribe_frame(FIRST_ID, c.topic),
        };
        comebacks.push(tokio::spawn(drain(back, gate.clone(), k, timeout_ns)));
    }

    let n_pub = spec
        .share(load.publishers.max(spec.count))
        .len()
        .max(1)
        .min(clients.len().max(1));
    let mut publishers = Vec::new();
    for _ in 0..n_pub {
        publishers.push(conn::connect(Identity::new(&base).url.as_str()).await?);
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
    let _ = gate.t0.set(t_drain);
    gate.attempts.add_permits(load.concurrency.max(1));
    let mut parts = Vec::with_capacity(comebacks.len());
    let mut sockets = Vec::with_capacity(comebacks.len());
    for t in comebacks {
        let back = t.await?;
        if let Some(at) = back.drained_at {
            res.histo("client_drain").record(at.saturating_sub(t_drain));
            res.value("drain_end_ns_max", at as f64);
        }
        parts.push(back.res);
        sockets.extend(back.ws);
    }
    parts.push(res);

    // Every worker's clients are back: the drain phase ends here.
    ctx.barrier("leave").await?;
    spawn_bounded(sockets, load.concurrency, conn::close).await;
    Ok(merge_all(parts))
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
                Event::Unreadable(tag) => res.error(&format!("unreadable_{tag}")),
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

/// Brings one client back once the gate opens, re-subscribes and reads its
/// mailbox: `k` messages, in order. The relay may push before it answers
/// the subscribe (Relaybox restores a client's subscriptions on connect), so
/// one loop takes pushes and the answer alike, and the acks of one wake-up
/// go out with one flush. After the answer the relay may push again what it
/// pushed before and has no ack for yet; those are acked and counted, as
/// SDKs drop them (see [`Inbox`]).
async fn drain(back: Comeback, gate: Arc<Gate>, k: u64, timeout_ns: u64) -> Back {
    let mut res = WorkerResult::default();
    let attempt = gate.attempts.acquire().await.expect("gate never closes");
    let t_drain = *gate.t0.get().expect("t0 is set before the gate opens");
    let connected = conn::connect(back.handshake).await;
    drop(attempt);
    let mut ws = match connected {
        Ok(ws) => ws,
        Err(e) => {
            res.error(&format!("reconnect_{}", conn::kind_of(&e)));
            return Back {
                res,
                drained_at: None,
                ws: None,
            };
        }
    };
    let mut inbox = Inbox {
        stream: back.stream,
        order: Order::default(),
        got: 0,
        full_at: (k == 0).then(clock::now_ns),
        repush_below: None,
    };
    let mut subscribed = false;
    if let Err(e) = ws.send(back.subscribe).await {
        res.error(&format!("resubscribe_{}", conn::error_kind(&e)));
        return Back {
            res,
            drained_at: None,
            ws: Some(ws),
        };
    }
    let timeout = clock::sleep_until(t_drain + timeout_ns);
    tokio::pin!(timeout);
    'reading: while inbox.got < k || !subscribed {
        let mut next = tokio::select! {
            m = ws.next() => m,
            () = &mut timeout => {
                if !subscribed {
                    res.error("resubscribe_timeout");
                }
                if inbox.got < k {
                    res.error("undrained");
                    res.count("undrained_messages", k - inbox.got);
                }
                break;
            }
        };
        let mut acks = 0usize;
        loop {
            match next {
                Some(Ok(m)) => match conn::classify(m) {
                    Event::Push { id, message } => {
                        inbox.take(&message, k, &mut res);
                        if ws.feed(conn::ack_frame(&id)).await.is_err() {
                            res.error("ack_write");
                            break 'reading;
                        }
                        acks += 1;
                    }
                    Event::Reply { id, result } if id == FIRST_ID => {
                        subscribed = true;
                        inbox.subscribed();
                        if let Err(tag) = result {
                            res.error(&format!("resubscribe_rpc_{tag}"));
                        }
                    }
                    Event::Closed(code) => {
                        res.error(&format!("closed_{code}"));
                        break 'reading;
                    }
                    Event::Unreadable(tag) => res.error(&format!("unreadable_{tag}")),
                    Event::Reply { .. } | Event::Other => {}
                },
                Some(Err(e)) => {
                    res.error(&format!("drain_{}", conn::error_kind(&e)));
                    break 'reading;
                }
                None => {
                    res.error("closed");
                    break 'reading;
                }
            }
            match conn::ready_now(&mut ws) {
                Some(m) => next = Some(m),
                None => break,
            }
        }
        if acks > 0 && ws.flush().await.is_err() {
            res.error("ack_write");
            break;
        }
    }
    res.count("drained", inbox.got);
    let drained = inbox.got >= k;
    if drained {
        res.count("clients_drained", 1);
    }
    Back {
        res,
        drained_at: inbox.full_at.filter(|_| drained),
        ws: Some(ws),
    }
}

/// What one client has taken from its mailbox.
///
/// A relay may answer a re-subscribe by pushing again everything not yet
/// acknowledged, including what it pushed on this socket before the answer
/// (Relaybox does, on purpose: a client may have lost those). Such a
/// message, one that came before the answer, is counted as
/// `repushed_after_resubscribe` rather than as an order error; any other
/// duplicate, gap or stranger is an error.
struct Inbox {
    stream: u32,
    order: Order,
    /// Distinct messages taken.
    got: u64,
    /// When the `k`-th message arrived.
    full_at: Option<u64>,
    /// Once the subscribe is answered: the sequence expected next at that
    /// moment; anything below it came before the answer.
    repush_below: Option<u64>,
}

impl Inbox {
    /// The relay answered the re-subscribe.
    fn subscribed(&mut self) {
        self.repush_below = Some(self.order.next(self.stream));
    }

    /// Takes one message: it must be this client's, next in order.
    fn take(&mut self, message: &str, k: u64, res: &mut WorkerResult) {
        let Some(s) = payload::decode(message) else {
            res.error("foreign_message");
            return;
        };
        if s.stream != self.stream {
            res.error("other_clients_message");
        } else if self.repush_below.is_some_and(|below| s.seq < below) {
            res.count("repushed_after_resubscribe", 1);
        } else if self.order.check(s.stream, s.seq, res) {
            self.got += 1;
            if self.got == k {
                self.full_at = Some(clock::now_ns());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(stream: u32, seq: u64) -> String {
        let stamp = Stamp {
            sent_ns: 1,
            seq,
            stream,
        };
        payload::encode(stamp, 64)
    }

    #[test]
    fn repushes_after_the_answer_are_counted_not_errors() {
        let mut res = WorkerResult::default();
        let mut inbox = Inbox {
            stream: 7,
            order: Order::default(),
            got: 0,
            full_at: None,
            repush_below: None,
        };
        for seq in [0, 1, 2] {
            inbox.take(&msg(7, seq), 5, &mut res);
        }
        inbox.subscribed();
        for seq in [0, 1, 2, 3, 4] {
            inbox.take(&msg(7, seq), 5, &mut res);
        }
        assert_eq!(inbox.got, 5);
        assert!(inbox.full_at.is_some());
        assert_eq!(res.counter("repushed_after_resubscribe"), 3);
        assert!(res.errors.is_empty(), "{:?}", res.errors);

        // A duplicate of what came after the answer is still an error, and
        // so is a message for another client.
        inbox.take(&msg(7, 4), 5, &mut res);
        inbox.take(&msg(8, 0), 5, &mut res);
        assert_eq!(inbox.got, 5);
        assert_eq!(res.errors.get("order_duplicate"), Some(&1));
        assert_eq!(res.errors.get("other_clients_message"), Some(&1));
    }
}
