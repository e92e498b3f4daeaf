//! Precise wake-ups for the open-loop publishers.
//!
//! tokio's timer has a resolution of one millisecond, so a message
//! scheduled at `t` would leave up to 1 ms late; since open-loop latency is
//! measured from the scheduled time, that lateness would show up as ~0.5 ms
//! of latency that the server never caused. So the last stretch of every
//! wait is handed to one pacer thread per process, which sleeps with a
//! 1-ns timer slack and fires each waiter at its deadline.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Mutex, OnceLock};
use std::thread::Thread;
use std::time::Duration;

use tokio::sync::oneshot;

use crate::clock;

/// Waits longer than this go to tokio's timer first.
const COARSE_NS: u64 = 2_000_000;

struct Waiter {
    at: u64,
    id: u64,
    tx: oneshot::Sender<()>,
}

impl PartialEq for Waiter {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.id) == (other.at, other.id)
    }
}
impl Eq for Waiter {}
impl PartialOrd for Waiter {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Waiter {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.id).cmp(&(other.at, other.id))
    }
}

struct Pacer {
    queue: Mutex<(BinaryHeap<Reverse<Waiter>>, u64)>,
    thread: Thread,
}

fn pacer() -> &'static Pacer {
    static PACER: OnceLock<Pacer> = OnceLock::new();
    PACER.get_or_init(|| {
        let handle = std::thread::Builder::new()
            .name("relaybox-bench-pacer".into())
            .spawn(run)
            .expect("spawning the pacer thread");
        Pacer {
            queue: Mutex::new((BinaryHeap::new(), 0)),
            thread: handle.thread().clone(),
        }
    })
}

fn run() {
    // SAFETY: prctl on the calling thread with a plain integer argument.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
    }
    loop {
        let wait = {
            let p = pacer();
            let mut q = p.queue.lock().expect("pacer lock");
            let now = clock::now_ns();
            while q.0.peek().is_some_and(|w| w.0.at <= now) {
                if let Some(Reverse(w)) = q.0.pop() {
                    let _ = w.tx.send(());
                }
            }
            q.0.peek().map(|w| w.0.at - now)
        };
        match wait {
            Some(ns) => std::thread::park_timeout(Duration::from_nanos(ns)),
            None => std::thread::park(),
        }
    }
}

/// Sleeps until the monotonic clock reads `ns`, to within some microseconds.
pub async fn sleep_until(ns: u64) {
    let now = clock::now_ns();
    if ns <= now {
        return;
    }
    if ns - now > COARSE_NS {
        clock::sleep_until(ns - COARSE_NS).await;
    }
    let (tx, rx) = oneshot::channel();
    let p = pacer();
    let earliest = {
        let mut q = p.queue.lock().expect("pacer lock");
        q.1 += 1;
        let id = q.1;
        let earliest = q.0.peek().is_none_or(|w| ns < w.0.at);
        q.0.push(Reverse(Waiter { at: ns, id, tx }));
        earliest
    };
    if earliest {
        p.thread.unpark();
    }
    let _ = rx.await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn wakes_close_to_the_deadline_and_in_order() {
        let base = clock::now_ns();
        let mut late = Vec::new();
        for i in 1..=20u64 {
            let at = base + i * 300_000;
            sleep_until(at).await;
            late.push(clock::now_ns().wrapping_sub(at));
        }
        // Never early (lateness is a performance figure, measured by the
        // benchmarks, not asserted here: a busy test machine delays wakes).
        assert!(
            late.iter().all(|&l| l < u64::MAX / 2),
            "woke before the deadline"
        );
        let t = clock::now_ns();
        let (a, b) = tokio::join!(sleep_until(t + 3_000_000), sleep_until(t + 1_000_000));
        let _ = (a, b);
        assert!(clock::now_ns() >= t + 3_000_000);
    }
}
