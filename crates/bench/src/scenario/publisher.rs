//! The publishing side of `pairs` and `fanout`: open loop at a fixed rate
//! (each message stamped with its *scheduled* time, so a stalled server
//! cannot hide latency: coordinated-omission correction) or closed loop,
//! bounded by unacknowledged publishes and undelivered messages.
//!
//! Open loop also records `send_lag`: how late a round of publishes was
//! handed to the kernel, from the scheduled time of its last message. It
//! holds the generator's own lateness (its threads waiting for a CPU, its
//! runtime busy with other tasks) as well as any back-pressure from the
//! server, so a high `send_lag` beside an idle server says that the `e2e`
//! figure measures the generator rather than the server.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use relaybox_proto::Topic;
use tokio::sync::Notify;

use super::rejoin::Rejoin;
use super::Timing;
use crate::clock;
use crate::conn::{self, Event, Ws};
use crate::payload::{self, Stamp};
use crate::stats::WorkerResult;

/// First request id of a connection; ids above 10^9 like real clients use.
pub const FIRST_ID: u64 = 1_000_000_000;

/// Lets a closed-loop publisher run ahead of its subscribers by at most a
/// window of deliveries.
#[derive(Clone, Default)]
pub struct Gate {
    /// Deliveries counted by the local subscribers of this stream.
    pub delivered: Arc<AtomicU64>,
    /// Woken by subscribers as deliveries arrive.
    pub progress: Arc<Notify>,
    /// Local subscribers per published message.
    pub fanout: u64,
}

impl Gate {
    /// A subscriber took `n` messages.
    pub fn delivered(&self, n: u64) {
        self.delivered.fetch_add(n, Ordering::Relaxed);
        self.progress.notify_one();
    }

    fn open(&self, published: u64, window: u64) -> bool {
        let due = published.saturating_mul(self.fanout);
        due.saturating_sub(self.delivered.load(Ordering::Relaxed))
            < window.saturating_mul(self.fanout.max(1))
    }
}

/// What one publisher does.
pub struct Plan {
    pub topic: Topic,
    pub stream: u32,
    /// Publishes per second for this publisher; 0 = closed loop.
    pub rate: f64,
    /// Closed loop: most unacknowledged publishes.
    pub window: usize,
    /// Open loop: this publisher's first slot, as a fraction of its interval.
    pub phase: f64,
    pub message_size: usize,
    pub ttl: u32,
    pub timing: Timing,
    pub gate: Option<Gate>,
    /// `--reconnect`: how to come back after the server closes the socket.
    pub rejoin: Option<Rejoin>,
}

/// Publishes until the window ends, then waits for the last acks.
pub async fn run(mut ws: Ws, plan: Plan) -> WorkerResult {
    let mut res = WorkerResult::default();
    let t = plan.timing;
    let interval = if plan.rate > 0.0 {
        1e9 / plan.rate
    } else {
        0.0
    };
    let mut next_slot = t.start as f64 + interval * plan.phase;
    let mut seq = 0u64;
    let mut next_id = FIRST_ID;
    let mut pending: HashMap<u64, Stamp> = HashMap::new();
    let window = plan.window.max(1);

    'run: loop {
        let now = clock::now_ns();
        let sending = now < t.win_end;
        if !sending && (pending.is_empty() || now >= t.drain_end) {
            break;
        }
        if sending {
            let mut wrote = false;
            // Scheduled time of the last message of this round (open loop).
            let mut last_slot = None;
            loop {
                let stamp_ns = if interval > 0.0 {
                    if next_slot > now as f64 || next_slot >= t.win_end as f64 {
                        break;
                    }
                    let s = next_slot as u64;
                    next_slot += interval;
                    s
                } else {
                    let gate_open = plan
                        .gate
                        .as_ref()
                        .is_none_or(|g| g.open(seq, window as u64));
                    if pending.len() >= window || !gate_open {
                        break;
                    }
                    clock::now_ns()
                };
                let stamp = Stamp {
                    sent_ns: stamp_ns,
                    seq,
                    stream: plan.stream,
                };
                let frame = conn::publish_frame(
                    next_id,
                    plan.topic,
                    payload::encode(stamp, plan.message_size),
                    plan.ttl,
                );
                if let Err(e) = ws.feed(frame).await {
                    let why = format!("publish_{}", conn::error_kind(&e));
                    match come_back(&plan, &mut pending, &mut next_id, why, &mut res).await {
                        Some(fresh) => {
                            ws = fresh;
                            continue 'run;
                        }
                        None => return res,
                    }
                }
                pending.insert(next_id, stamp);
                if interval > 0.0 {
                    last_slot = Some(stamp.sent_ns);
                }
                next_id += 1;
                seq += 1;
                res.count("published", 1);
                wrote = true;
            }
            let flushed = !wrote || ws.flush().await.is_ok();
            if let Some(slot) = last_slot.filter(|s| flushed && t.in_window(*s)) {
                res.histo("send_lag")
                    .record(clock::now_ns().saturating_sub(slot));
            }
            if !flushed {
                let why = "publish_write".to_owned();
                match come_back(&plan, &mut pending, &mut next_id, why, &mut res).await {
                    Some(fresh) => {
                        ws = fresh;
                        continue 'run;
                    }
                    None => return res,
                }
            }
        }
        let wake_at = if !sending {
            t.drain_end
        } else if interval > 0.0 {
            (next_slot as u64).min(t.win_end)
        } else {
            t.win_end
        };
        let gate_wait = async {
            match (&plan.gate, interval > 0.0 || pending.len() >= window) {
                (Some(g), false) => g.progress.notified().await,
                _ => std::future::pending().await,
            }
        };
        let lost = tokio::select! {
            msg = ws.next() => match msg {
                Some(Ok(m)) => {
                    let mut closed = handle(conn::classify(m), &mut pending, &t, &mut res);
                    while let Some(Ok(m)) = conn::ready_now(&mut ws) {
                        closed = closed.or(handle(conn::classify(m), &mut pending, &t, &mut res));
                    }
                    closed
                }
                Some(Err(e)) => Some(format!("publisher_{}", conn::error_kind(&e))),
                None => Some("publisher_closed".to_owned()),
            },
            _ = pace(wake_at, interval > 0.0 && sending) => None,
            _ = gate_wait => None,
        };
        if let Some(why) = lost {
            match come_back(&plan, &mut pending, &mut next_id, why, &mut res).await {
                Some(fresh) => ws = fresh,
                None => return res,
            }
        }
    }
    if !pending.is_empty() {
        res.count("publish_unanswered", pending.len() as u64);
        res.error("publish_unanswered");
    }
    conn::close(ws).await;
    res
}

/// Open loop: wake exactly at the next slot; otherwise tokio's timer will do.
async fn pace(ns: u64, precise: bool) {
    if precise {
        crate::pacer::sleep_until(ns).await
    } else {
        clock::sleep_until(ns).await
    }
}

/// After the socket is lost (`why`): without `--reconnect` the error ends
/// the publisher (`None`); with it, the same client connects again and
/// sends the publishes still unanswered once more, as a real client does
/// (the relay may have stored them already: it deduplicates by body).
async fn come_back(
    plan: &Plan,
    pending: &mut HashMap<u64, Stamp>,
    next_id: &mut u64,
    why: String,
    res: &mut WorkerResult,
) -> Option<Ws> {
    let Some(rejoin) = &plan.rejoin else {
        res.error(&why);
        return None;
    };
    res.count(&format!("lost_{why}"), 1);
    res.count("publish_unanswered_at_close", pending.len() as u64);
    let mut again: Vec<Stamp> = pending.drain().map(|(_, stamp)| stamp).collect();
    again.sort_by_key(|s| s.seq);
    loop {
        let Some((mut ws, _)) = rejoin.again(plan.timing.drain_end, res).await else {
            res.error("reconnect_gave_up");
            return None;
        };
        let mut sent = true;
        for stamp in &again {
            let frame = conn::publish_frame(
                *next_id,
                plan.topic,
                payload::encode(*stamp, plan.message_size),
                plan.ttl,
            );
            if ws.feed(frame).await.is_err() {
                sent = false;
                break;
            }
            pending.insert(*next_id, *stamp);
            *next_id += 1;
        }
        if sent && ws.flush().await.is_ok() {
            res.count("republished", again.len() as u64);
            return Some(ws);
        }
        res.count("lost_publish_write", 1);
        pending.clear();
    }
}

/// Accounts one event; returns why the socket is gone on a close frame.
fn handle(
    event: Event,
    pending: &mut HashMap<u64, Stamp>,
    t: &Timing,
    res: &mut WorkerResult,
) -> Option<String> {
    match event {
        Event::Reply { id, result } => {
            // A reply to nothing we are waiting for (or a duplicate) is ignored.
            let stamp_ns = pending.remove(&id)?.sent_ns;
            match result {
                Ok(()) => {
                    let now = clock::now_ns();
                    res.count("publish_ok", 1);
                    if t.in_window(stamp_ns) {
                        res.histo("ack").record(now.saturating_sub(stamp_ns));
                    }
                    if t.in_window(now) {
                        res.count("publish_ok_window", 1);
                    }
                }
                Err(tag) => res.error(&format!("publish_{tag}")),
            }
        }
        Event::Closed(code) => return Some(format!("publisher_closed_{code}")),
        Event::Unreadable(tag) => res.error(&format!("unreadable_{tag}")),
        Event::Push { .. } | Event::Other => {}
    }
    None
}
