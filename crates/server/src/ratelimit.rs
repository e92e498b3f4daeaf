//! Per-client token buckets. A client_id may hold several sockets; they share
//! one bucket so that opening more connections does not buy more requests,
//! and the bucket outlives the client's last socket until it has refilled
//! ([`RateLimiter::prune`]), so reconnecting does not buy a fresh one.
//! A request costs one token per item (a batch of 500 costs 500), and so
//! does every frame the relay has to reject.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use parking_lot::Mutex;

/// A classic token bucket: `rate` tokens per second up to `burst`.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn new(rate: u32, burst: u32, now: Instant) -> Self {
        TokenBucket {
            rate: rate as f64,
            burst: burst as f64,
            tokens: burst as f64,
            last: now,
        }
    }

    /// Takes one token if there is one.
    pub fn try_take(&mut self, now: Instant) -> bool {
        self.try_take_n(1, now)
    }

    /// Takes `n` tokens if there are that many.
    pub fn try_take_n(&mut self, n: u32, now: Instant) -> bool {
        self.refill(now);
        if self.tokens >= f64::from(n) {
            self.tokens -= f64::from(n);
            true
        } else {
            false
        }
    }

    /// Takes `n` tokens whatever the bucket holds, down to a debt of one
    /// burst (work that was already done).
    pub fn charge(&mut self, n: u32, now: Instant) {
        self.refill(now);
        self.tokens = (self.tokens - f64::from(n)).max(-self.burst);
    }

    /// How long until the bucket holds `n` tokens (or is full, if `n` is
    /// more than it holds).
    pub fn wait_for(&mut self, n: u32, now: Instant) -> Duration {
        self.refill(now);
        let missing = f64::from(n).min(self.burst) - self.tokens;
        if missing <= 0.0 || self.rate <= 0.0 {
            return Duration::ZERO;
        }
        Duration::from_secs_f64(missing / self.rate)
    }

    /// Whether the bucket is full again (forgetting it then loses nothing).
    pub fn is_full(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= self.burst
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
    }
}

struct Entry {
    bucket: Mutex<TokenBucket>,
    connections: AtomicUsize,
}

/// The buckets of every client with a socket, or whose bucket has not yet
/// refilled since its last socket closed.
pub struct RateLimiter {
    rate: u32,
    burst: u32,
    clients: DashMap<Arc<str>, Arc<Entry>>,
}

/// A connection's handle on its client's bucket; dropping it releases the entry.
pub struct ClientLimit {
    entry: Option<Arc<Entry>>,
}

impl RateLimiter {
    /// `rate == 0` disables limiting.
    pub fn new(rate: u32, burst: u32) -> Arc<Self> {
        Arc::new(RateLimiter {
            rate,
            burst,
            clients: DashMap::new(),
        })
    }

    pub fn attach(self: &Arc<Self>, client: Arc<str>) -> ClientLimit {
        let entry = (self.rate > 0).then(|| {
            let entry = self
                .clients
                .entry(client.clone())
                .or_insert_with(|| {
                    Arc::new(Entry {
                        bucket: Mutex::new(TokenBucket::new(self.rate, self.burst, Instant::now())),
                        connections: AtomicUsize::new(0),
                    })
                })
                .clone();
            entry.connections.fetch_add(1, Ordering::AcqRel);
            entry
        });
        ClientLimit { entry }
    }

    pub fn tracked_clients(&self) -> usize {
        self.clients.len()
    }

    /// Forgets the buckets of clients without sockets that have refilled
    /// (run periodically by the sweeper).
    pub fn prune(&self) {
        let now = Instant::now();
        self.clients.retain(|_, e| {
            e.connections.load(Ordering::Acquire) > 0 || !e.bucket.lock().is_full(now)
        });
    }
}

impl ClientLimit {
    /// True if a request costing `cost` tokens may proceed.
    pub fn allow(&self, cost: u32) -> bool {
        match &self.entry {
            None => true,
            Some(entry) => entry.bucket.lock().try_take_n(cost, Instant::now()),
        }
    }
}

impl ClientLimit {
    /// Takes `cost` tokens for work already done (see [`TokenBucket::charge`]).
    pub fn charge(&self, cost: u32) {
        if let Some(entry) = &self.entry {
            entry.bucket.lock().charge(cost, Instant::now());
        }
    }

    /// How long until this socket's share of the refill could pay for a
    /// request costing `cost`: the bucket's wait times the sockets that
    /// share it, since they all wait for the same tokens (zero when
    /// unlimited or when the bucket can pay now).
    pub fn wait_for(&self, cost: u32) -> Duration {
        match &self.entry {
            None => Duration::ZERO,
            Some(entry) => {
                let sharing = entry.connections.load(Ordering::Acquire).max(1);
                let wait = entry.bucket.lock().wait_for(cost, Instant::now());
                wait.saturating_mul(u32::try_from(sharing).unwrap_or(u32::MAX))
            }
        }
    }
}

impl Drop for ClientLimit {
    fn drop(&mut self) {
        // The entry stays (with its tokens) until `prune` finds it refilled.
        if let Some(entry) = self.entry.take() {
            entry.connections.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bucket_refills_at_rate_up_to_burst() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10, 3, t0);
        assert!(b.try_take(t0) && b.try_take(t0) && b.try_take(t0));
        assert!(!b.try_take(t0));
        assert!(b.try_take(t0 + Duration::from_millis(100)));
        assert!(!b.try_take(t0 + Duration::from_millis(100)));
        let later = t0 + Duration::from_secs(60);
        assert_eq!((0..10).filter(|_| b.try_take(later)).count(), 3);
    }

    #[test]
    fn connections_of_one_client_share_a_bucket_that_outlives_them() {
        let limiter = RateLimiter::new(100, 2);
        let a = limiter.attach("did:key:a".into());
        let b = limiter.attach("did:key:a".into());
        assert!(a.allow(1));
        assert!(b.allow(1));
        assert!(!a.allow(1) && !b.allow(1));
        drop(a);
        drop(b);
        // Reconnecting finds the same empty bucket.
        limiter.prune();
        assert_eq!(limiter.tracked_clients(), 1);
        let again = limiter.attach("did:key:a".into());
        assert!(!again.allow(1));
        drop(again);
        // Once refilled it is forgotten.
        std::thread::sleep(Duration::from_millis(60));
        limiter.prune();
        assert_eq!(limiter.tracked_clients(), 0);
    }

    #[test]
    fn a_request_costs_its_item_count() {
        let limiter = RateLimiter::new(1, 10);
        let a = limiter.attach("did:key:b".into());
        assert!(a.allow(8));
        assert!(!a.allow(3));
        assert!(a.allow(2));
    }

    #[test]
    fn zero_rate_disables() {
        let limiter = RateLimiter::new(0, 0);
        let a = limiter.attach("x".into());
        assert!((0..10_000).all(|_| a.allow(500)));
    }
}
