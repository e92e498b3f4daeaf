//! `connect`: a connection storm. Each of N connectors opens a socket
//! (TCP connect, HTTP upgrade with the JWT, 101), records how long that
//! took, drops it and starts over, until the window ends.
//!
//! Tokens are signed before the storm from a small pool of identities, so
//! the generator spends its CPU on handshakes, not on Ed25519 signing.

use super::{merge_all, Ctx};
use crate::clock;
use crate::conn;
use crate::identity::Identity;
use crate::stats::WorkerResult;

/// Identities per connector; connections reuse them round-robin.
const IDS_PER_CONNECTOR: usize = 4;

pub async fn run(ctx: &Ctx<'_>) -> anyhow::Result<WorkerResult> {
    let spec = ctx.spec;
    let connectors = spec.share(spec.load.connections).len();
    let pool: Vec<Vec<String>> = (0..connectors)
        .map(|_| {
            (0..IDS_PER_CONNECTOR)
                .map(|_| Identity::new(&spec.url).url)
                .collect()
        })
        .collect();

    let timing = ctx.start_timed().await?;
    let mut tasks = Vec::new();
    for urls in pool {
        tasks.push(tokio::spawn(async move {
            let mut res = WorkerResult::default();
            let mut i = 0usize;
            loop {
                let started = clock::now_ns();
                if started >= timing.win_end {
                    break;
                }
                let url = &urls[i % urls.len()];
                i += 1;
                let counted = timing.in_window(started);
                match conn::connect(url).await {
                    Ok(ws) => {
                        let took = clock::now_ns().saturating_sub(started);
                        res.count("handshakes", 1);
                        if counted {
                            res.count("handshakes_window", 1);
                            res.histo("handshake").record(took);
                        }
                        drop(ws);
                    }
                    Err(e) => {
                        res.error(&conn::kind_of(&e));
                        // Do not spin on a refusing server.
                        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    }
                }
            }
            res
        }));
    }
    let mut parts = Vec::new();
    for t in tasks {
        parts.push(t.await?);
    }
    Ok(merge_all(parts))
}
