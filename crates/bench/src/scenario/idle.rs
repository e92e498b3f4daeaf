//! `idle`: open N authenticated connections, keep them open and answering
//! pings, and let the parent read the server's memory once all are up.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use futures_util::StreamExt;
use tokio::sync::{watch, Semaphore};

use super::{merge_all, Ctx};
use crate::clock;
use crate::conn::{self, Event};
use crate::identity::Identity;
use crate::stats::WorkerResult;

pub async fn run(ctx: &Ctx<'_>) -> anyhow::Result<WorkerResult> {
    let spec = ctx.spec;
    let n = spec.share(spec.load.connections).len();
    let urls: Vec<String> = (0..n).map(|_| Identity::new(&spec.url).url).collect();
    let (stop_tx, stop_rx) = watch::channel(false);
    let open = Arc::new(AtomicI64::new(0));
    let sem = Arc::new(Semaphore::new(spec.load.concurrency.max(1)));
    let (up_tx, mut up_rx) = tokio::sync::mpsc::unbounded_channel::<()>();

    let start = ctx.barrier("start").await?;
    let mut holders = Vec::with_capacity(n);
    for url in urls {
        let mut stop = stop_rx.clone();
        let open = open.clone();
        let up = up_tx.clone();
        let sem = sem.clone();
        holders.push(tokio::spawn(async move {
            let mut res = WorkerResult::default();
            let permit = sem.acquire_owned().await.expect("semaphore never closed");
            let t0 = clock::now_ns();
            let ws = conn::connect(&url).await;
            drop(permit);
            let mut ws = match ws {
                Ok(ws) => ws,
                Err(e) => {
                    res.error(&conn::kind_of(&e));
                    let _ = up.send(());
                    return res;
                }
            };
            res.histo("handshake")
                .record(clock::now_ns().saturating_sub(t0));
            res.count("connected", 1);
            open.fetch_add(1, Ordering::Relaxed);
            let _ = up.send(());
            loop {
                tokio::select! {
                    _ = stop.changed() => return res,
                    m = ws.next() => match m {
                        Some(Ok(m)) => {
                            if let Event::Closed(code) = conn::classify(m) {
                                res.error(&format!("closed_by_server_{code}"));
                                break;
                            }
                        }
                        _ => {
                            res.error("closed_by_server");
                            break;
                        }
                    }
                }
            }
            open.fetch_sub(1, Ordering::Relaxed);
            res
        }));
    }
    drop(up_tx);
    // Wait until every connection attempt has finished.
    for _ in 0..n {
        if up_rx.recv().await.is_none() {
            break;
        }
    }
    let mut res = WorkerResult::default();
    res.value(
        "connect_secs_max",
        clock::now_ns().saturating_sub(start) as f64 / 1e9,
    );
    // The parent reads the server's memory at this barrier, then lets us go.
    ctx.barrier("connected").await?;
    res.count(
        "open_at_measure",
        open.load(Ordering::Relaxed).max(0) as u64,
    );
    let _ = stop_tx.send(true);
    let mut parts = vec![res];
    for h in holders {
        parts.push(h.await?);
    }
    Ok(merge_all(parts))
}
