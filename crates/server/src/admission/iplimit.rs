//! Per-client-IP token buckets: handshakes per second per IP, and the
//! attestation endpoints' request rate.
//!
//! IPv6 clients are keyed by their /64, since one host usually owns a whole
//! /64 and could otherwise rotate addresses to get fresh buckets. Idle
//! entries (whose bucket would be full again) are pruned by the sweeper.

use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

use dashmap::DashMap;

use crate::ratelimit::TokenBucket;

struct Slot {
    bucket: TokenBucket,
    last: Instant,
}

/// Token buckets keyed by client IP; `rate == 0` disables limiting.
pub struct IpLimiter {
    rate: u32,
    burst: u32,
    slots: DashMap<IpAddr, Slot>,
}

impl IpLimiter {
    pub fn new(rate: u32, burst: u32) -> Self {
        IpLimiter {
            rate,
            burst,
            slots: DashMap::new(),
        }
    }

    /// Takes a token for `ip`, or returns the seconds to wait (for Retry-After).
    pub fn check(&self, ip: IpAddr) -> Result<(), u64> {
        self.check_at(ip, Instant::now())
    }

    fn check_at(&self, ip: IpAddr, now: Instant) -> Result<(), u64> {
        if self.rate == 0 {
            return Ok(());
        }
        let mut slot = self.slots.entry(key(ip)).or_insert_with(|| Slot {
            bucket: TokenBucket::new(self.rate, self.burst, now),
            last: now,
        });
        slot.last = now;
        if slot.bucket.try_take(now) {
            Ok(())
        } else {
            // Below one token, one whole token arrives within 1/rate seconds.
            Err((1.0 / f64::from(self.rate)).ceil().max(1.0) as u64)
        }
    }

    /// Forgets clients idle long enough for their bucket to be full again.
    pub fn prune(&self) {
        self.prune_at(Instant::now());
    }

    fn prune_at(&self, now: Instant) {
        if self.rate == 0 {
            return;
        }
        let refill = Duration::from_secs_f64(f64::from(self.burst) / f64::from(self.rate))
            + Duration::from_secs(1);
        self.slots
            .retain(|_, s| now.saturating_duration_since(s.last) < refill);
    }

    pub fn tracked(&self) -> usize {
        self.slots.len()
    }
}

/// The address a limit counts: IPv4 as is, IPv6 by its /64.
pub fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(bits))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_ip_and_prunes_idle_clients() {
        let l = IpLimiter::new(2, 3);
        let t0 = Instant::now();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        assert!((0..3).all(|_| l.check_at(a, t0).is_ok()));
        assert_eq!(l.check_at(a, t0), Err(1));
        assert!(l.check_at(b, t0).is_ok());
        assert!(l.check_at(a, t0 + Duration::from_millis(500)).is_ok());
        l.prune_at(t0 + Duration::from_secs(1));
        assert_eq!(l.tracked(), 2);
        l.prune_at(t0 + Duration::from_secs(10));
        assert_eq!(l.tracked(), 0);
    }

    #[test]
    fn ipv6_shares_a_bucket_per_64_and_zero_rate_disables() {
        let l = IpLimiter::new(1, 1);
        let t0 = Instant::now();
        assert!(l.check_at("2001:db8::1".parse().unwrap(), t0).is_ok());
        assert!(l.check_at("2001:db8::2".parse().unwrap(), t0).is_err());
        assert!(l.check_at("2001:db9::1".parse().unwrap(), t0).is_ok());
        let off = IpLimiter::new(0, 0);
        assert!((0..1000).all(|_| off.check_at("10.0.0.1".parse().unwrap(), t0).is_ok()));
    }
}
