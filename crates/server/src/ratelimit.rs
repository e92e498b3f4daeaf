//! Per-client token buckets. A client_id may hold several sockets; they share
//! one bucket so that opening more connections does not buy more requests.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

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
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

struct Entry {
    bucket: Mutex<TokenBucket>,
    connections: AtomicUsize,
}

/// The buckets of every connected client; an entry lives while its client has a socket.
pub struct RateLimiter {
    rate: u32,
    burst: u32,
    clients: DashMap<Arc<str>, Arc<Entry>>,
}

/// A connection's handle on its client's bucket; dropping it releases the entry.
pub struct ClientLimit {
    limiter: Arc<RateLimiter>,
    client: Arc<str>,
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
        ClientLimit {
            limiter: self.clone(),
            client,
            entry,
        }
    }

    pub fn tracked_clients(&self) -> usize {
        self.clients.len()
    }
}

impl ClientLimit {
    /// True if the request may proceed.
    pub fn allow(&self) -> bool {
        match &self.entry {
            None => true,
            Some(entry) => entry.bucket.lock().try_take(Instant::now()),
        }
    }
}

impl Drop for ClientLimit {
    fn drop(&mut self) {
        if let Some(entry) = self.entry.take() {
            if entry.connections.fetch_sub(1, Ordering::AcqRel) == 1 {
                self.limiter.clients.remove_if(&self.client, |_, e| {
                    e.connections.load(Ordering::Acquire) == 0
                });
            }
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
    fn connections_of_one_client_share_a_bucket_and_release_it() {
        let limiter = RateLimiter::new(1, 2);
        let a = limiter.attach("did:key:a".into());
        let b = limiter.attach("did:key:a".into());
        assert!(a.allow());
        assert!(b.allow());
        assert!(!a.allow() && !b.allow());
        drop(a);
        assert_eq!(limiter.tracked_clients(), 1);
        drop(b);
        assert_eq!(limiter.tracked_clients(), 0);
    }

    #[test]
    fn zero_rate_disables() {
        let limiter = RateLimiter::new(0, 0);
        let a = limiter.attach("x".into());
        assert!((0..10_000).all(|_| a.allow()));
    }
}
