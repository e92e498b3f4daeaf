//! Generator for the ids of requests the relay itself sends
//! (`irn_subscription` pushes).
//!
//! Clients match the relay's ids against their acks, and the JS client turns
//! any unquoted number above 2^53 into a BigInt (and then acks with a `"…n"`
//! string). Keeping every id in [`MIN_SERVER_ID`, `MAX_SERVER_ID`] means JS
//! sees a plain number and the Rust client's `>= 10^9` rule holds.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Smallest id the relay creates: the Rust client rejects ids below 10^9.
pub const MIN_SERVER_ID: u64 = 1_000_000_000;
/// Largest id the relay creates: 2^53 - 1, the largest integer that a
/// JavaScript number holds exactly.
pub const MAX_SERVER_ID: u64 = (1 << 53) - 1;

/// Bits of the id below the millisecond timestamp: up to 256 ids per
/// millisecond before the generator runs ahead of the clock (which is fine:
/// it only has to be increasing, not exact).
const COUNTER_BITS: u32 = 8;

/// Thread-safe source of strictly increasing ids, `(unix_ms << 8) | counter`.
///
/// The timestamp part makes ids from a restarted relay start above those of
/// its previous run (acks of old pushes never match new ones); the atomic
/// `last` value makes them strictly increasing even when the clock stalls or
/// steps back. About 4.6e14 today, far inside the JS-safe range.
#[derive(Debug, Default)]
pub struct IdGenerator {
    last: AtomicU64,
}

impl IdGenerator {
    /// A generator with no history; the first id follows the clock.
    pub fn new() -> Self {
        Self::default()
    }

    /// Next id, timed by the system clock.
    pub fn next(&self) -> u64 {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        self.next_at(now_ms)
    }

    /// Next id for a clock reading of `unix_ms` milliseconds (lets tests and
    /// simulations drive the clock).
    ///
    /// Always within [`MIN_SERVER_ID`, `MAX_SERVER_ID`] and greater than the
    /// previous id of this generator. Should the range ever be exhausted (a
    /// clock some thousand years ahead), the generator ignores the clock and
    /// counts on from [`MIN_SERVER_ID`] again rather than repeating one id.
    pub fn next_at(&self, unix_ms: u64) -> u64 {
        let from_clock = unix_ms
            .checked_shl(COUNTER_BITS)
            .filter(|v| v >> COUNTER_BITS == unix_ms)
            .unwrap_or(u64::MAX);
        let mut last = self.last.load(Ordering::Relaxed);
        loop {
            let candidate = successor(last, from_clock);
            match self.last.compare_exchange_weak(
                last,
                candidate,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return candidate,
                Err(actual) => last = actual,
            }
        }
    }
}

/// The id that follows `last` given the clock-derived `from_clock`.
fn successor(last: u64, from_clock: u64) -> u64 {
    let counted = last.saturating_add(1);
    let candidate = counted.max(from_clock).max(MIN_SERVER_ID);
    if candidate <= MAX_SERVER_ID {
        candidate
    } else if (MIN_SERVER_ID..=MAX_SERVER_ID).contains(&counted) {
        // The clock is beyond the range but the counter is not: keep counting.
        counted
    } else {
        // Exhausted: wrap around rather than repeat.
        MIN_SERVER_ID
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn ids_follow_the_clock() {
        let g = IdGenerator::new();
        let now = 1_763_000_000_000u64;
        assert_eq!(g.next_at(now), now << 8);
        assert_eq!(g.next_at(now), (now << 8) + 1);
        assert_eq!(g.next_at(now + 1), (now + 1) << 8);
    }

    #[test]
    fn strictly_increasing_when_clock_steps_back() {
        let g = IdGenerator::new();
        let a = g.next_at(2_000_000_000_000);
        let b = g.next_at(1_000_000_000_000);
        let c = g.next_at(0);
        assert!(a < b && b < c);
    }

    #[test]
    fn range_with_real_clock() {
        let g = IdGenerator::new();
        let mut prev = 0;
        for _ in 0..10_000 {
            let id = g.next();
            assert!((MIN_SERVER_ID..=MAX_SERVER_ID).contains(&id));
            assert!(id > prev);
            prev = id;
        }
    }

    #[test]
    fn tiny_clock_is_lifted_to_minimum() {
        let g = IdGenerator::new();
        assert_eq!(g.next_at(0), MIN_SERVER_ID);
        assert_eq!(g.next_at(1), MIN_SERVER_ID + 1);
    }

    #[test]
    fn far_future_clock_stays_in_range() {
        let g = IdGenerator::new();
        let first = g.next_at(u64::MAX);
        assert!((MIN_SERVER_ID..=MAX_SERVER_ID).contains(&first));
        let second = g.next_at(u64::MAX / 2);
        assert!((MIN_SERVER_ID..=MAX_SERVER_ID).contains(&second));
        assert_ne!(first, second);
    }

    #[test]
    fn exhausted_range_wraps_instead_of_repeating() {
        let g = IdGenerator {
            last: AtomicU64::new(MAX_SERVER_ID - 1),
        };
        assert_eq!(g.next_at(0), MAX_SERVER_ID);
        assert_eq!(g.next_at(0), MIN_SERVER_ID);
        assert_eq!(g.next_at(0), MIN_SERVER_ID + 1);
    }

    #[test]
    fn concurrent_ids_are_unique() {
        let g = Arc::new(IdGenerator::new());
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let g = Arc::clone(&g);
                std::thread::spawn(move || (0..2_000).map(|_| g.next()).collect::<Vec<_>>())
            })
            .collect();
        let mut all: Vec<u64> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n);
    }
}
