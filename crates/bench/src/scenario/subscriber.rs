//! The receiving side of `pairs` and `fanout`: take pushes, measure latency
//! from the stamp inside each message, check per-stream order, and ack
//! every push; acks of one wake-up go out in one flush. A subscriber stops
//! once it has every message its publisher got acknowledged (learned after
//! the load through `expected`) or when the drain time is up.

use std::collections::HashMap;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::watch;

use super::publisher::Gate;
use super::rejoin::Rejoin;
use super::Timing;
use crate::clock;
use crate::conn::{self, Event, Ws};
use crate::payload;
use crate::stats::WorkerResult;

/// Per-stream order bookkeeping: the next expected sequence of each stream.
#[derive(Default)]
pub struct Order {
    next: HashMap<u32, u64>,
    /// After a reconnect a relay may push again what it pushed before the
    /// close (the ack was lost with the socket): counted as `redelivered`,
    /// not as an error.
    tolerate_duplicates: bool,
}

impl Order {
    /// Checks one message; counts `order_gap` or `order_duplicate` if it is
    /// not the next one of its stream. Returns false for a duplicate.
    pub fn check(&mut self, stream: u32, seq: u64, res: &mut WorkerResult) -> bool {
        let next = self.next.entry(stream).or_insert(0);
        if seq != *next && trace_order() {
            eprintln!("order: stream {stream} expected seq {} got {seq}", *next);
        }
        if seq == *next {
            *next += 1;
        } else if seq > *next {
            res.error("order_gap");
            *next = seq + 1;
        } else if self.tolerate_duplicates {
            res.count("redelivered", 1);
            return false;
        } else {
            res.error("order_duplicate");
            return false;
        }
        true
    }

    /// The sequence expected next on `stream`.
    pub fn next(&self, stream: u32) -> u64 {
        self.next.get(&stream).copied().unwrap_or(0)
    }
}

/// `RELAYBENCH_TRACE_ORDER=1` prints every order violation to stderr.
fn trace_order() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("RELAYBENCH_TRACE_ORDER").is_some())
}

/// What one subscriber does.
pub struct Plan {
    pub timing: Timing,
    pub gate: Option<Gate>,
    /// Set once the publishers are done: how many messages to expect in all.
    pub expected: watch::Receiver<Option<u64>>,
    /// `--reconnect`: how to come back after the server closes the socket.
    pub rejoin: Option<Rejoin>,
}

/// Receives until every expected message is in or the drain time is up.
pub async fn run(mut ws: Ws, mut plan: Plan, early: Vec<String>) -> WorkerResult {
    let mut res = WorkerResult::default();
    let mut order = Order::default();
    let t = plan.timing;
    for message in early {
        take(&message, &t, &mut order, &mut res, plan.gate.as_ref());
    }
    loop {
        let expected = *plan.expected.borrow();
        if expected.is_some_and(|n| res.counter("delivered") >= n) || clock::now_ns() >= t.drain_end
        {
            break;
        }
        let first = tokio::select! {
            m = ws.next() => m,
            _ = clock::sleep_until(t.drain_end) => continue,
            changed = plan.expected.changed() => {
                if changed.is_err() {
                    // The sender is gone without a count: wait out the drain time.
                    plan.expected = watch::channel(None).1;
                }
                continue;
            }
        };
        let mut next = first;
        let mut acks = 0usize;
        // Why the socket is gone, if it is.
        let mut lost: Option<String> = None;
        loop {
            match next {
                Some(Ok(m)) => match conn::classify(m) {
                    Event::Push { id, message } => {
                        take(&message, &t, &mut order, &mut res, plan.gate.as_ref());
                        if ws.feed(conn::ack_frame(&id)).await.is_err() {
                            lost = Some("ack_write".into());
                            break;
                        }
                        acks += 1;
                    }
                    Event::Closed(code) => {
                        lost = Some(format!("subscriber_closed_{code}"));
                        break;
                    }
                    Event::Unreadable(tag) => res.error(&format!("unreadable_{tag}")),
                    _ => {}
                },
                Some(Err(e)) => {
                    lost = Some(format!("subscriber_{}", conn::error_kind(&e)));
                    break;
                }
                None => {
                    lost = Some("subscriber_closed".into());
                    break;
                }
            }
            match conn::ready_now(&mut ws) {
                Some(m) => next = Some(m),
                None => break,
            }
        }
        if lost.is_none() && acks > 0 && ws.flush().await.is_err() {
            lost = Some("ack_write".into());
        }
        if let Some(why) = lost {
            let Some(rejoin) = &plan.rejoin else {
                res.error(&why);
                return res;
            };
            // A restart's close is expected with --reconnect: counted, not an error.
            res.count(&format!("lost_{why}"), 1);
            match rejoin.again(t.drain_end, &mut res).await {
                Some((fresh, early)) => {
                    ws = fresh;
                    order.tolerate_duplicates = true;
                    for message in early {
                        take(&message, &t, &mut order, &mut res, plan.gate.as_ref());
                    }
                    continue;
                }
                None => {
                    res.error("reconnect_gave_up");
                    return res;
                }
            }
        }
    }
    conn::close(ws).await;
    res
}

/// Accounts one received message; a duplicate counts only as such (not as
/// a delivery, and not in the latency).
fn take(message: &str, t: &Timing, order: &mut Order, res: &mut WorkerResult, gate: Option<&Gate>) {
    let now = clock::now_ns();
    let Some(stamp) = payload::decode(message) else {
        res.error("foreign_message");
        return;
    };
    if !order.check(stamp.stream, stamp.seq, res) {
        return;
    }
    res.count("delivered", 1);
    if t.in_window(now) {
        res.count("delivered_window", 1);
    }
    if t.in_window(stamp.sent_ns) {
        res.histo("e2e").record(now.saturating_sub(stamp.sent_ns));
    }
    if let Some(g) = gate {
        g.delivered(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_check_counts_gaps_and_duplicates() {
        let mut o = Order::default();
        let mut r = WorkerResult::default();
        let fresh: Vec<bool> = [0, 1, 3, 3, 4]
            .iter()
            .map(|s| o.check(9, *s, &mut r))
            .collect();
        assert_eq!(fresh, [true, true, true, false, true]);
        assert_eq!(r.errors.get("order_gap"), Some(&1));
        assert_eq!(r.errors.get("order_duplicate"), Some(&1));
        assert_eq!((o.next(9), o.next(8)), (5, 0));
    }
}
