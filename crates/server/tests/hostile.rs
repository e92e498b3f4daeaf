//! Attack tests: what a hostile client would do, against the real binary,
//! and the bound that must hold. (Limits a polite client meets are in
//! limits.rs; attacks by client address in hostile_addresses.rs.)

mod common;

use std::time::Duration;

use common::*;
use relaybox_auth::Keypair;
use serde_json::json;

/// A relay that grants one request a second per client (burst 10).
async fn slow_relay() -> TestRelay {
    TestRelay::with_env(&[
        ("RELAYBOX_RATE_LIMIT_REQUESTS_PER_SEC", "1"),
        ("RELAYBOX_RATE_LIMIT_BURST", "10"),
        ("RELAYBOX_LIMITS_MAX_BATCH", "10"),
    ])
    .await
}

/// Reconnecting, batching and sending garbage buy no extra requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_holds_across_reconnects_batches_and_garbage() {
    let relay = slow_relay().await;
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
    // Two tokens: more than the second or so since the bucket emptied refilled.
    let r = again
        .request(
            "irn_batchSubscribe",
            json!({ "topics": [topic(), topic()] }),
        )
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
    // Something to count first: a fresh relay may have emitted nothing yet.
    relay.new_client().await.close().await;
    let (status, _, body) = http(admin.parse().unwrap(), "GET", "/metrics").await;
    assert_eq!(status, 200);
    assert!(body.contains("relaybox_connections"), "{body}");
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
    // Without request budgets (which would slow the attack down): what is
    // tested here is the byte bounds alone.
    let relay = TestRelay::with_env(&[
        ("RELAYBOX_RATE_LIMIT_REQUESTS_PER_SEC", "0"),
        ("RELAYBOX_RATE_LIMIT_REQUESTS_PER_SEC_PER_IP", "0"),
    ])
    .await;
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

/// A client that opens a fragmented message (FIN = 0) and then only
/// answers pings is closed with 1008 within the fragment timeout (plus a
/// ping interval), instead of pinning the buffer forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incomplete_fragmented_message_is_closed_in_time() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let relay = TestRelay::with_env(&[
        ("RELAYBOX_WEBSOCKET_PING_INTERVAL_MS", "300"),
        ("RELAYBOX_WEBSOCKET_IDLE_TIMEOUT_MS", "20000"),
        ("RELAYBOX_WEBSOCKET_FRAGMENT_TIMEOUT_MS", "1000"),
    ])
    .await;
    let url = relay.url();
    let mut s = tokio::net::TcpStream::connect(relay.addr()).await.unwrap();
    let req = format!(
        "GET /?auth={} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        token(&Keypair::generate(), &url),
        relay.addr()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        s.read_exact(&mut b).await.unwrap();
        head.push(b[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    // First fragment of a text message, masked (mask 0: payload as is).
    let mut first = vec![0x01, 0x80 | 5, 0, 0, 0, 0];
    first.extend_from_slice(b"{\"id\"");
    s.write_all(&first).await.unwrap();
    let started = std::time::Instant::now();
    let close_code = loop {
        let mut h = [0u8; 2];
        match tokio::time::timeout(Duration::from_secs(10), s.read_exact(&mut h)).await {
            Ok(Ok(_)) => {}
            other => panic!("no close from the relay: {other:?}"),
        }
        let len = (h[1] & 0x7f) as usize;
        assert!(len < 126);
        let mut payload = vec![0u8; len];
        s.read_exact(&mut payload).await.unwrap();
        match h[0] & 0x0f {
            // Ping: answer with a masked pong carrying the same payload.
            0x9 => {
                let mut pong = vec![0x8a, 0x80 | len as u8, 0, 0, 0, 0];
                pong.extend_from_slice(&payload);
                s.write_all(&pong).await.unwrap();
            }
            0x8 => break u16::from_be_bytes([payload[0], payload[1]]),
            _ => {}
        }
    };
    assert_eq!(close_code, 1008);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "closed after {took:?}");
}

/// Tokens without a real lifetime, or made for another action, do not
/// open a socket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_lived_and_foreign_act_tokens_are_refused() {
    let relay = TestRelay::start().await;
    let url = relay.url();
    let kp = Keypair::generate();
    let now = now_secs();
    // exp ten years ahead: the lifetime is bounded whatever exp says.
    let forever = token_at(&kp, &url, now, Some(now + 10 * 365 * 86_400));
    let (status, body) = refused(&format!("{url}/?auth={forever}"), None).await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("lifetime_too_long"),
        "{body}"
    );
    // A token carrying an `act` (say, one signed for Notify) is not client auth.
    let notify_like = relaybox_auth::jwt::sign_payload(
        &kp,
        &json!({"iss": kp.did_key(), "sub": "s", "aud": url, "iat": now, "exp": now + 3600, "act": "notify_message"}),
    );
    let (status, body) = refused(&format!("{url}/?auth={notify_like}"), None).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("act_not_allowed"),
        "{body}"
    );
    // A normal one-day token works.
    relay.client(&kp).await;
}

/// A fetch over several full topics makes the largest frame the relay
/// sends (two pages of messages plus their JSON); it must go out whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_largest_fetch_reply_is_sent_whole() {
    let relay = TestRelay::with_env(&[("RELAYBOX_RATE_LIMIT_REQUESTS_PER_SEC", "0")]).await;
    let mut publisher = relay.new_client().await;
    let topics: Vec<String> = (0..3).map(|_| topic()).collect();
    let body = "q".repeat(120 * 1024);
    for t in &topics {
        for i in 0..3 {
            publisher.publish(t, &format!("{i}{body}")).await;
        }
    }
    let mut reader = relay.new_client().await;
    let mut got = 0;
    loop {
        let page = reader
            .request("irn_batchFetchMessages", json!({ "topics": topics }))
            .await
            .expect("the reply arrives; the socket is not dropped");
        got += page["messages"].as_array().unwrap().len();
        if page["hasMore"] != json!(true) {
            break;
        }
    }
    assert_eq!(got, 9);
}

/// A client that reads but never acks gets one push window of messages
/// (64 KiB by default), not the whole mailbox: the relay holds nothing
/// more for it. As it acks, the rest follows, in order and complete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_stop_at_the_window_until_acked() {
    const N: usize = 40;
    let relay = TestRelay::with_env(&[("RELAYBOX_RATE_LIMIT_REQUESTS_PER_SEC", "0")]).await;
    let t = topic();
    let mut sub = relay.new_client().await;
    sub.auto_ack = false;
    sub.subscribe(&t).await;
    let mut publisher = relay.new_client().await;
    let filler = "w".repeat(10 * 1024);
    for i in 0..N {
        publisher.publish(&t, &format!("{i:03}{filler}")).await;
    }
    let mut unacked = Vec::new();
    while let Some(frame) = sub.next_push_frame(Duration::from_millis(500)).await {
        unacked.push(frame);
    }
    let window = unacked.len();
    assert!(
        (6..=8).contains(&window),
        "64 KiB of 10 KiB pushes is 7 (one more may fit): got {window}"
    );
    let mut got: Vec<String> = Vec::new();
    while got.len() < N {
        assert!(!unacked.is_empty(), "stalled after {} messages", got.len());
        for frame in unacked.drain(..) {
            got.push(frame["params"]["data"]["message"].as_str().unwrap()[..3].to_owned());
            sub.ack(&frame["id"]).await;
        }
        while let Some(frame) = sub.next_push_frame(Duration::from_millis(500)).await {
            unacked.push(frame);
        }
    }
    let expected: Vec<String> = (0..N).map(|i| format!("{i:03}")).collect();
    assert_eq!(got, expected, "every message once, in order");
}

/// A client that ignores 3001 and keeps flooding is not read until its
/// bucket refills: the relay answers a few frames per pause, not every
/// frame it is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_past_the_limit_is_left_unread() {
    let relay = slow_relay().await;
    let mut c = relay.new_client().await;
    for id in 1..=200 {
        let req = json!({"id": id, "jsonrpc": "2.0", "method": "irn_subscribe", "params": {"topic": topic()}});
        c.raw_send(&req.to_string()).await;
    }
    let started = std::time::Instant::now();
    let (mut ok, mut limited) = (0u64, 0u64);
    while let Some(frame) = c.recv_frame(Duration::from_millis(1500)).await {
        match frame["error"]["code"].as_i64() {
            Some(3001) => limited += 1,
            Some(other) => panic!("unexpected error {other}: {frame}"),
            None => ok += 1,
        }
    }
    // Answers are bounded by time (the burst, the refill, one refusal per
    // pause), not by the 200 frames sent.
    let secs = started.elapsed().as_secs() + 1;
    assert!(ok >= 10 && ok <= 10 + secs, "{ok} served in {secs} s");
    assert!(
        limited >= 1 && limited <= 2 * secs,
        "{limited} refusals in {secs} s: the socket must be left unread between them"
    );
    assert!(ok + limited < 100, "most of the flood was never read");
}
