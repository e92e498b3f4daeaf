//! The Relaybox server: a WalletConnect v2 relay that authenticates clients by
//! did:key JWT, speaks the relay JSON-RPC over WebSocket and keeps a sticky
//! mailbox per client in a durable store.
//!
//! The binary (`main.rs`) only parses the command line; everything it runs
//! lives here so that integration tests and the benchmark harness can start
//! the same server in-process.

pub mod admin;
pub mod admin_cli;
pub mod admission;
pub mod attest;
pub mod cli;
pub mod config;
pub mod export;
pub mod http;
pub mod hub;
pub mod identity;
pub mod metrics;
pub mod notify_cli;
pub mod query;
pub mod ratelimit;
pub mod relay;
pub mod rpc_http;
pub mod server;
pub mod session;
pub mod shutdown;
pub mod sockets;
pub mod sweeper;
pub mod telemetry;
pub mod webhooks;
pub mod ws;

pub use config::Config;
pub use server::{start, RunningServer};

/// Milliseconds since the Unix epoch; the relay's one clock for TTLs and `publishedAt`.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
