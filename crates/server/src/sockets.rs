//! The open sockets, for operators: which client, from where, since when,
//! with which user agent; and the admin's kick. Each socket registers when
//! its loop starts and is removed when it ends ([`Registered`] does both).

use std::net::IpAddr;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::Arc;

use dashmap::DashMap;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

/// What an operator sees of one socket.
#[derive(Clone, Debug, Serialize)]
pub struct SocketInfo {
    pub conn_id: u64,
    pub remote: IpAddr,
    /// Unix ms when the socket opened.
    pub since_ms: u64,
    /// The client's `ua` query parameter, if it sent one.
    pub user_agent: Option<String>,
    /// Pushes sent and not yet acknowledged (its queue at the client).
    pub unacked_pushes: u64,
    /// Their frame bytes: how full its push window is.
    pub unacked_bytes: u64,
}

struct Entry {
    client: Arc<str>,
    info: SocketInfo,
    close: CancellationToken,
    code: Arc<AtomicU16>,
    queue: Arc<[AtomicU64; 2]>,
}

/// Owner of the registry.
#[derive(Default)]
pub struct Sockets {
    map: DashMap<u64, Entry>,
}

/// A socket's place in the registry: the admin's close request, removed on drop.
pub struct Registered {
    sockets: Arc<Sockets>,
    conn_id: u64,
    close: CancellationToken,
    code: Arc<AtomicU16>,
    queue: Arc<[AtomicU64; 2]>,
}

impl Registered {
    /// Notes the socket's unacknowledged pushes and their bytes (the loop
    /// calls it each turn; two relaxed stores).
    pub fn note_queue(&self, pushes: usize, bytes: usize) {
        self.queue[0].store(pushes as u64, Ordering::Relaxed);
        self.queue[1].store(bytes as u64, Ordering::Relaxed);
    }

    /// Resolves when an operator closes this socket; returns the close code.
    pub async fn closed(&self) -> u16 {
        self.close.cancelled().await;
        self.code.load(Ordering::Acquire)
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.sockets.map.remove(&self.conn_id);
    }
}

impl Sockets {
    pub fn register(self: &Arc<Self>, client: Arc<str>, info: SocketInfo) -> Registered {
        let close = CancellationToken::new();
        let code = Arc::new(AtomicU16::new(1001));
        let queue = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
        let conn_id = info.conn_id;
        self.map.insert(
            conn_id,
            Entry {
                client,
                info,
                close: close.clone(),
                code: code.clone(),
                queue: queue.clone(),
            },
        );
        Registered {
            sockets: self.clone(),
            conn_id,
            close,
            code,
            queue,
        }
    }

    /// The client's open sockets on this node.
    pub fn of_client(&self, client: &str) -> Vec<SocketInfo> {
        let mut out: Vec<SocketInfo> = self
            .map
            .iter()
            .filter(|e| &*e.client == client)
            .map(|e| SocketInfo {
                unacked_pushes: e.queue[0].load(Ordering::Relaxed),
                unacked_bytes: e.queue[1].load(Ordering::Relaxed),
                ..e.info.clone()
            })
            .collect();
        out.sort_by_key(|s| s.conn_id);
        out
    }

    /// Closes the client's sockets with `code`; returns how many.
    pub fn kick(&self, client: &str, code: u16) -> usize {
        let mut n = 0;
        for e in self.map.iter().filter(|e| &*e.client == client) {
            e.code.store(code, Ordering::Release);
            e.close.cancel();
            n += 1;
        }
        n
    }

    pub fn count(&self) -> usize {
        self.map.len()
    }
}
