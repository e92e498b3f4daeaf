//! A socket's request budget: its client's and its IP's token buckets, and
//! the reading pause that follows a refusal.
//!
//! A refused request is answered 3001 TooManyRequests; then the socket is
//! not read again until the bucket could pay for it, and at least for a
//! pause that doubles with every refusal in a row (100 ms up to 5 s; a
//! refusal more than 10 s after the last one starts again at 100 ms). A
//! client that ignores 3001 and keeps sending therefore waits in its own
//! TCP buffers: refusing costs the relay one reply per pause, not one per
//! frame, however fast the client floods. Pauses vary by ±25 % so that the
//! many sockets of one address, refused together, do not all come back at
//! the same instant.
//!
//! A frame whose size alone the buckets cannot pay is refused before it is
//! parsed: the relay spends nothing on a flood but reading it.

use std::time::{Duration, Instant};

use crate::ratelimit::ClientLimit;

/// The first pause after a refusal.
const MIN_PAUSE: Duration = Duration::from_millis(100);
/// The longest pause, however many refusals in a row.
const MAX_PAUSE: Duration = Duration::from_secs(5);
/// A refusal this long after the previous one counts as the first again.
const STRIKES_FORGOTTEN: Duration = Duration::from_secs(10);
/// A frame costs one token per this many bytes beyond its item count, so
/// large frames cost in proportion to the reading and parsing they need;
/// a fetch reply costs the same per byte it returns.
const BYTES_PER_TOKEN: usize = 4 * 1024;

/// The extra tokens a frame of `len` bytes costs for its size.
pub fn size_cost(len: usize) -> u32 {
    u32::try_from(len / BYTES_PER_TOKEN).unwrap_or(u32::MAX)
}

/// Owner of one socket's buckets and pause.
pub struct Budget {
    client: ClientLimit,
    ip: ClientLimit,
    /// Refusals in a row (see `STRIKES_FORGOTTEN`).
    strikes: u32,
    last_refusal: Option<Instant>,
    paused_until: Option<Instant>,
}

impl Budget {
    pub fn new(client: ClientLimit, ip: ClientLimit) -> Budget {
        Budget {
            client,
            ip,
            strikes: 0,
            last_refusal: None,
            paused_until: None,
        }
    }

    /// Takes `cost` tokens from the client's and the IP's buckets; false
    /// (and nothing taken from the IP) when the client's bucket is short.
    /// A refusal pauses reading (see the module doc).
    pub fn allow(&mut self, cost: u32) -> bool {
        if self.client.allow(cost) && self.ip.allow(cost) {
            return true;
        }
        self.refused(cost);
        false
    }

    /// Whether the buckets cannot pay even `cost` now (nothing is taken);
    /// a true answer counts as a refusal and pauses reading.
    pub fn refuse_early(&mut self, cost: u32) -> bool {
        let short = |l: &ClientLimit| !l.wait_for(cost).is_zero();
        if short(&self.client) || short(&self.ip) {
            self.refused(cost);
            return true;
        }
        false
    }

    fn refused(&mut self, cost: u32) {
        let now = Instant::now();
        if self
            .last_refusal
            .is_some_and(|t| now.duration_since(t) > STRIKES_FORGOTTEN)
        {
            self.strikes = 0;
        }
        self.last_refusal = Some(now);
        let refill = self.client.wait_for(cost).max(self.ip.wait_for(cost));
        let backoff = MIN_PAUSE.saturating_mul(1 << self.strikes.min(6));
        let pause = refill.max(backoff).min(MAX_PAUSE);
        // ±25 %, from the clock's low bits: cheap and different per socket.
        let spread = (now.elapsed().subsec_nanos() ^ nanos_now()) % 501;
        let pause = pause.mul_f64(0.75 + f64::from(spread) / 1000.0);
        self.paused_until = Some(now + pause);
        self.strikes = self.strikes.saturating_add(1);
    }

    /// Takes `cost` tokens for work already done (the bytes a fetch
    /// returned): the buckets may go into debt, which later requests repay.
    pub fn charge(&mut self, cost: u32) {
        if cost > 0 {
            self.client.charge(cost);
            self.ip.charge(cost);
        }
    }

    /// Until when the socket is not read, if it is paused now.
    pub fn paused_until(&self) -> Option<Instant> {
        self.paused_until.filter(|t| *t > Instant::now())
    }
}

fn nanos_now() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ratelimit::RateLimiter;

    #[test]
    fn refusals_pause_longer_in_a_row() {
        let clients = RateLimiter::new(1000, 10);
        let ips = RateLimiter::new(0, 0);
        let mut b = Budget::new(clients.attach("a".into()), ips.attach("ip".into()));
        assert!(b.allow(10));
        assert!(b.paused_until().is_none());
        assert!(!b.allow(10));
        let first = b.paused_until().expect("paused") - Instant::now();
        assert!(
            first <= MIN_PAUSE.mul_f64(1.25) && first > MIN_PAUSE / 2,
            "{first:?}"
        );
        assert!(b.refuse_early(10_000));
        let second = b.paused_until().expect("paused") - Instant::now();
        assert!(
            second > MIN_PAUSE.mul_f64(1.25) && second <= MAX_PAUSE.mul_f64(1.25),
            "{second:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
        assert!(!b.refuse_early(1), "20 ms refill one token at 1000/s");
        assert!(b.allow(1));
        b.charge(100);
        assert!(!b.allow(1), "a charge leaves the bucket in debt");
    }

    #[test]
    fn size_cost_counts_whole_blocks() {
        assert_eq!(size_cost(0), 0);
        assert_eq!(size_cost(BYTES_PER_TOKEN - 1), 0);
        assert_eq!(size_cost(129 * 1024), 32);
    }
}
