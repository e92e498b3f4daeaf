//! Attack tests: what a hostile client would do, against the real binary,
//! and the bound that must hold. (Limits a polite client meets are in
//! limits.rs.)

mod common;

use std::time::Duration;

use common::*;
use relaybox_auth::Keypair;
use serde_json::json;

/// Reconnecting, batching and sending garbage buy no extra requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_holds_across_reconnects_batches_and_garbage() {
    let relay = TestRelay::with_env(&[
        ("RELAYBOX_RATE_LIMIT_REQUESTS_PER_SEC", "1"),
        ("RELAYBOX_RATE_LIMIT_BURST", "10"),
        ("RELAYBOX_LIMITS_MAX_BATCH", "10"),
    ])
    .await;
    let kp = Keypair::generate();
    let limited = |r: &Result<serde_json::Value, serde_json::Value>| matches!(r, Err(e) if code_tag(e) == (3001, "TooManyRequests".into()));

    // A batch of 8 costs 8 of the 10 tokens.
    let mut c = relay.client(&kp).await;
    let topics: Vec<String> = (0..8).map(|_| topic()).collect();
    let r = c
        .request("irn_batchSubscribe", json!({ "topics": topics }))
        .await;
    assert!(r.is_ok(), "{r:?}");
    // Garbage costs too: two invalid frames take the last two tokens.
    c.raw_send("not json").await;
    c.raw_send(r#"{"id":1,"jsonrpc":"2.0","method":"irn_nope","params":{}}"#)
        .await;
    for _ in 0..2 {
        let e = c
            .recv_frame(WAIT)
            .await
            .expect("an error frame per bad frame");
        assert_eq!(e["error"]["code"], json!(-32600), "{e}");
    }
    let r = c
        .request("irn_subscribe", json!({ "topic": topic() }))
        .await;
    assert!(limited(&r), "the bucket is empty: {r:?}");

    // A new socket of the same key, after the old one is gone, finds the
    // same empty bucket (it outlives the socket until it has refilled).
    c.close().await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut again = relay.client(&kp).await;
    let r = again
        .request("irn_subscribe", json!({ "topic": topic() }))
        .await;
    assert!(
        limited(&r),
        "reconnecting must not refill the bucket: {r:?}"
    );
    // Another identity has its own bucket.
    let mut other = relay.new_client().await;
    let r = other
        .request("irn_subscribe", json!({ "topic": topic() }))
        .await;
    assert!(r.is_ok(), "{r:?}");
}

/// Several sockets of one key subscribing at once cannot store more than
/// the per-client limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_limit_holds_over_concurrent_sockets() {
    let relay = TestRelay::with_env(&[
        ("RELAYBOX_LIMITS_MAX_SUBSCRIPTIONS_PER_CLIENT", "10"),
        ("RELAYBOX_RATE_LIMIT_REQUESTS_PER_SEC", "0"),
    ])
    .await;
    let kp = Keypair::generate();
    let mut sockets = Vec::new();
    for _ in 0..4 {
        sockets.push(relay.client(&kp).await);
    }
    let tasks: Vec<_> = sockets
        .into_iter()
        .map(|mut c| {
            tokio::spawn(async move {
                let mut ok = 0;
                for _ in 0..8 {
                    match c
                        .request("irn_subscribe", json!({ "topic": topic() }))
                        .await
                    {
                        Ok(_) => ok += 1,
                        Err(e) => {
                            assert_eq!(code_tag(&e), (-32000, "SubscriberLimitExceeded".into()))
                        }
                    }
                }
                c.close().await;
                ok
            })
        })
        .collect();
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    assert_eq!(total, 10, "exactly the limit was stored over 4 sockets");
    // A later connect follows exactly those 10 (and nothing more is stored).
    let mut c = relay.client(&kp).await;
    let err = c
        .request("irn_subscribe", json!({ "topic": topic() }))
        .await
        .expect_err("over the limit");
    assert_eq!(code_tag(&err), (-32000, "SubscriberLimitExceeded".into()));
}

/// With `server.metrics_admin_only`, the Internet-facing port does not
/// serve /metrics; the admin listener does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_can_be_kept_off_the_public_port() {
    let admin_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let admin = format!("127.0.0.1:{admin_port}");
    let relay = TestRelay::with_env(&[
        ("RELAYBOX_SERVER_ADMIN_LISTEN", admin.as_str()),
        ("RELAYBOX_SERVER_METRICS_ADMIN_ONLY", "true"),
    ])
    .await;
    let (status, _, body) = http(relay.addr(), "GET", "/metrics").await;
    assert_eq!(status, 404);
    assert!(body.starts_with('{'), "a JSON error body: {body}");
    let (status, _, body) = http(admin.parse().unwrap(), "GET", "/metrics").await;
    assert_eq!(status, 200);
    assert!(body.contains("relaybox_"), "{body}");
    assert_eq!(http(relay.addr(), "GET", "/health").await.0, 200);
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// Eight fresh keys follow and fetch a topic holding 25 MiB of large
/// messages and never read their sockets. Replay and fetch pages are bounded
/// in bytes and a socket's queue by its page, so the relay's memory grows by
/// a bounded amount (stated: under 64 MiB), not by 8 x 25 MiB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_and_replay_by_non_readers_cannot_exhaust_memory() {
    let relay = TestRelay::with_env(&[("RELAYBOX_RATE_LIMIT_REQUESTS_PER_SEC", "0")]).await;
    let t = topic();
    let mut publisher = relay.new_client().await;
    let body = "m".repeat(120 * 1024);
    for i in 0..200 {
        publisher.publish(&t, &format!("{i:04}{body}")).await;
    }
    publisher.close().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = rss_kib(relay.pid());

    let mut attackers = Vec::new();
    for _ in 0..8 {
        let mut c = TestClient::connect_small_buffer(&relay.url(), &Keypair::generate()).await;
        // Subscribe (a replay of everything starts) and ask for fetches on
        // top, then never read again.
        let sub =
            json!({"id": 1, "jsonrpc": "2.0", "method": "irn_subscribe", "params": {"topic": t}});
        c.raw_send(&sub.to_string()).await;
        for id in 2..40 {
            let fetch = json!({"id": id, "jsonrpc": "2.0", "method": "irn_fetchMessages", "params": {"topic": t}});
            c.raw_send(&fetch.to_string()).await;
        }
        attackers.push(c);
    }
    let mut peak = before;
    for _ in 0..30 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        peak = peak.max(rss_kib(relay.pid()));
    }
    let growth_mib = (peak.saturating_sub(before)) / 1024;
    eprintln!("relay RSS {before} KiB before, {peak} KiB peak: +{growth_mib} MiB");
    assert!(growth_mib < 64, "RSS grew by {growth_mib} MiB");
    // A well-behaved client is still served meanwhile.
    let mut good = relay.new_client().await;
    let t2 = topic();
    good.subscribe(&t2).await;
    let mut p = relay.new_client().await;
    p.publish(&t2, "still served").await;
    assert_eq!(good.expect_messages(1).await, ["still served"]);
    drop(attackers);
}

/// A client_id that is gone longer than `store.client_idle_secs` loses its
/// subscriptions and positions; one that stays connected keeps them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_client_state_is_swept() {
    let relay = TestRelay::with_env(&[
        ("RELAYBOX_STORE_CLIENT_IDLE_SECS", "2"),
        ("RELAYBOX_LIMITS_MAX_SUBSCRIPTIONS_PER_CLIENT", "2"),
        ("RELAYBOX_WEBSOCKET_PING_INTERVAL_MS", "500"),
        ("RELAYBOX_WEBSOCKET_IDLE_TIMEOUT_MS", "5000"),
    ])
    .await;
    let (gone, stays) = (Keypair::generate(), Keypair::generate());
    let mut c = relay.client(&gone).await;
    c.subscribe(&topic()).await;
    c.subscribe(&topic()).await;
    c.close().await;
    let mut s = relay.client(&stays).await;
    let kept = topic();
    s.subscribe(&kept).await;
    s.subscribe(&topic()).await;

    tokio::time::sleep(Duration::from_millis(4500)).await;
    // The departed client starts over: two new subscriptions fit its limit.
    let mut back = relay.client(&gone).await;
    back.subscribe(&topic()).await;
    back.subscribe(&topic()).await;
    assert!(
        metric(relay.addr(), "relaybox_idle_clients_swept_total")
            .await
            .unwrap_or(0.0)
            >= 1.0
    );
    // The connected one kept its subscriptions (it is still at its limit).
    let err = s
        .request("irn_subscribe", json!({ "topic": topic() }))
        .await
        .expect_err("still at the limit");
    assert_eq!(code_tag(&err), (-32000, "SubscriberLimitExceeded".into()));
}
