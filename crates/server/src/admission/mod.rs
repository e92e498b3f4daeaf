//! Who may open a socket: connection caps and handshake rates.
//!
//! A did:key costs nothing, so limits per client_id alone do not hold; the
//! relay also caps sockets per client IP (IPv6 by /64), handshakes per
//! second per IP, sockets per client_id and sockets in total. A socket holds
//! a [`Ticket`] for its lifetime; dropping it gives the slots back.
//! Behind a proxy the client IP comes from `X-Forwarded-For`, but only when
//! the peer is one of `server.trusted_proxies` (`client_ip`).
//!
//! Every refusal is an HTTP status with a JSON body (429 for a per-IP or
//! per-client cap or rate, 503 for the total) and a
//! `relaybox_connections_total{result}` count.

mod client_ip;
mod iplimit;

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use dashmap::DashMap;
use hyper::StatusCode;

pub use client_ip::{client_ip, TrustedProxies};
pub use iplimit::{key as limit_key, IpLimiter};

use crate::config::LimitsConfig;

/// Why a socket was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    /// Metric label and JSON `code`.
    pub reason: &'static str,
    pub message: &'static str,
}

impl Refusal {
    fn new(status: StatusCode, reason: &'static str, message: &'static str) -> Self {
        Refusal {
            status,
            reason,
            message,
        }
    }
}

/// Counts of open sockets, and the handshake rate per IP.
pub struct Admission {
    max_total: usize,
    max_per_ip: usize,
    max_per_client: usize,
    total: AtomicUsize,
    per_ip: DashMap<IpAddr, usize>,
    per_client: DashMap<Arc<str>, usize>,
    handshakes: IpLimiter,
}

/// One socket's slots; dropping it releases them.
pub struct Ticket {
    admission: Arc<Admission>,
    ip: IpAddr,
    client: Option<Arc<str>>,
}

impl Admission {
    /// A limit of 0 means none.
    pub fn new(limits: &LimitsConfig) -> Arc<Admission> {
        Arc::new(Admission {
            max_total: limits.max_connections,
            max_per_ip: limits.max_connections_per_ip,
            max_per_client: limits.max_connections_per_client,
            total: AtomicUsize::new(0),
            per_ip: DashMap::new(),
            per_client: DashMap::new(),
            handshakes: IpLimiter::new(
                limits.handshakes_per_ip_per_sec,
                limits.handshake_burst_per_ip,
            ),
        })
    }

    /// Admits a handshake from `ip` (before authentication): its rate, the
    /// per-IP cap and the total. The ticket holds the IP's and the total's slot.
    pub fn admit_ip(self: &Arc<Self>, ip: IpAddr) -> Result<Ticket, Refusal> {
        if self.handshakes.check(ip).is_err() {
            return Err(Refusal::new(
                StatusCode::TOO_MANY_REQUESTS,
                "ip_handshake_rate",
                "too many handshakes from this address, retry later",
            ));
        }
        let ip = iplimit::key(ip);
        {
            let mut n = self.per_ip.entry(ip).or_insert(0);
            if self.max_per_ip > 0 && *n >= self.max_per_ip {
                return Err(Refusal::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "ip_limit",
                    "too many connections from this address",
                ));
            }
            *n += 1;
        }
        let total = self.total.fetch_add(1, Ordering::AcqRel);
        let ticket = Ticket {
            admission: self.clone(),
            ip,
            client: None,
        };
        if self.max_total > 0 && total >= self.max_total {
            return Err(Refusal::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "total_limit",
                "the relay is at its connection limit, retry later or elsewhere",
            ));
        }
        Ok(ticket)
    }

    /// Sockets `client` has open on this node.
    pub fn sockets_of(&self, client: &str) -> usize {
        self.per_client.get(client).map_or(0, |n| *n)
    }

    /// Adds the authenticated client's slot to `ticket` (per-client cap).
    pub fn admit_client(&self, ticket: &mut Ticket, client: &Arc<str>) -> Result<(), Refusal> {
        let mut n = self.per_client.entry(client.clone()).or_insert(0);
        if self.max_per_client > 0 && *n >= self.max_per_client {
            return Err(Refusal::new(
                StatusCode::TOO_MANY_REQUESTS,
                "client_limit",
                "too many connections for this client_id",
            ));
        }
        *n += 1;
        ticket.client = Some(client.clone());
        Ok(())
    }

    /// Forgets handshake buckets that have refilled (run by the sweeper).
    pub fn prune(&self) {
        self.handshakes.prune();
    }

    /// Sockets open now.
    pub fn open(&self) -> usize {
        self.total.load(Ordering::Acquire)
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let a = &self.admission;
        a.total.fetch_sub(1, Ordering::AcqRel);
        a.per_ip.remove_if_mut(&self.ip, |_, n| {
            *n -= 1;
            *n == 0
        });
        if let Some(client) = &self.client {
            a.per_client.remove_if_mut(client, |_, n| {
                *n -= 1;
                *n == 0
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(total: usize, per_ip: usize, per_client: usize) -> LimitsConfig {
        LimitsConfig {
            max_connections: total,
            max_connections_per_ip: per_ip,
            max_connections_per_client: per_client,
            handshakes_per_ip_per_sec: 0,
            ..LimitsConfig::default()
        }
    }

    #[test]
    fn caps_hold_and_tickets_give_slots_back() {
        let a = Admission::new(&limits(3, 2, 1));
        let ip1: IpAddr = "10.0.0.1".parse().unwrap();
        let ip2: IpAddr = "10.0.0.2".parse().unwrap();
        let t1 = a.admit_ip(ip1).unwrap();
        let mut t2 = a.admit_ip(ip1).unwrap();
        assert_eq!(a.admit_ip(ip1).err().unwrap().reason, "ip_limit");
        let t3 = a.admit_ip(ip2).unwrap();
        assert_eq!(a.admit_ip(ip2).err().unwrap().reason, "total_limit");
        let client: Arc<str> = "did:key:z".into();
        let mut t4 = {
            drop(t3);
            a.admit_ip(ip2).unwrap()
        };
        a.admit_client(&mut t2, &client).unwrap();
        assert_eq!(
            a.admit_client(&mut t4, &client).unwrap_err().reason,
            "client_limit"
        );
        drop(t2);
        a.admit_client(&mut t4, &client).unwrap();
        drop((t1, t4));
        assert_eq!(a.open(), 0);
        assert!(a.per_ip.is_empty() && a.per_client.is_empty());
    }

    #[test]
    fn ipv6_counts_per_64_and_zero_means_no_limit() {
        let a = Admission::new(&limits(0, 1, 0));
        let _t = a.admit_ip("2001:db8::1".parse().unwrap()).unwrap();
        assert!(a.admit_ip("2001:db8::2".parse().unwrap()).is_err());
        assert!(a.admit_ip("2001:db8:0:1::1".parse().unwrap()).is_ok());
        let open = Admission::new(&limits(0, 0, 0));
        let many: Vec<_> = (0..100)
            .map(|_| open.admit_ip("10.0.0.1".parse().unwrap()).unwrap())
            .collect();
        assert_eq!(open.open(), 100);
        drop(many);
    }
}
