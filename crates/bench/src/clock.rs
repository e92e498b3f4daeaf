//! One clock for every process of a run: `CLOCK_MONOTONIC` in nanoseconds.
//!
//! Timestamps travel inside messages from a publisher to subscribers that
//! may live in other worker processes, so the harness cannot use
//! `Instant` (opaque, per process). `CLOCK_MONOTONIC` is system-wide on
//! Linux and never steps, unlike the wall clock.

use std::time::Duration;

/// Nanoseconds on the system-wide monotonic clock.
pub fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    unsafe {
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts);
    }
    (ts.tv_sec as u64) * 1_000_000_000 + ts.tv_nsec as u64
}

/// The tokio instant at which the monotonic clock reads `ns`.
pub fn instant_at(ns: u64) -> tokio::time::Instant {
    let now_i = tokio::time::Instant::now();
    let now = now_ns();
    if ns >= now {
        now_i + Duration::from_nanos(ns - now)
    } else {
        now_i
            .checked_sub(Duration::from_nanos(now - ns))
            .unwrap_or(now_i)
    }
}

/// Sleeps until the monotonic clock reads `ns` (returns at once if past).
pub async fn sleep_until(ns: u64) {
    tokio::time::sleep_until(instant_at(ns)).await;
}

/// Seconds as nanoseconds.
pub fn secs_ns(secs: f64) -> u64 {
    (secs.max(0.0) * 1e9) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_moves_forward() {
        let a = now_ns();
        std::thread::sleep(Duration::from_millis(2));
        assert!(now_ns() >= a + 2_000_000);
        assert_eq!(secs_ns(1.5), 1_500_000_000);
    }
}
