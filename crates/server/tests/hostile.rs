//! Attack tests: what a hostile client would do, against the real binary,
//! and the bound that must hold. (Limits a polite client meets are in
//! limits.rs.)

mod common;

use std::time::Duration;

use common::*;
use relaybox_auth::Keypair;
use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

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

/// A WebSocket upgrade from a chosen loopback source address (127.0.0.x),
/// so one test can act as several client IPs.
async fn upgrade_from(
    relay: &TestRelay,
    source: &str,
    kp: &Keypair,
) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    let stream = socket.connect(relay.addr()).await.unwrap();
    let url = relay.url();
    let req = format!("{url}/?auth={}", token(kp, &url));
    tokio_tungstenite::client_async(req, tokio_tungstenite::MaybeTlsStream::Plain(stream))
        .await
        .map(|(ws, _)| ws)
}

fn http_refusal(r: Result<Ws, tokio_tungstenite::tungstenite::Error>) -> (u16, serde_json::Value) {
    match r {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            let body = resp.body().clone().unwrap_or_default();
            (
                resp.status().as_u16(),
                serde_json::from_slice(&body).expect("JSON body"),
            )
        }
        Ok(_) => panic!("the socket was accepted"),
        Err(e) => panic!("expected an HTTP refusal, got {e}"),
    }
}

/// One address cannot hold more sockets than its cap, nor one client_id
/// more than its own, nor hammer handshakes; a client elsewhere still gets in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_caps_per_ip_and_client_refuse_with_json() {
    let relay = TestRelay::with_env(&[
        ("RELAYBOX_LIMITS_MAX_CONNECTIONS_PER_IP", "5"),
        ("RELAYBOX_LIMITS_MAX_CONNECTIONS_PER_CLIENT", "2"),
        ("RELAYBOX_LIMITS_HANDSHAKES_PER_IP_PER_SEC", "0"),
    ])
    .await;
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(
            upgrade_from(&relay, "127.0.0.2", &Keypair::generate())
                .await
                .unwrap(),
        );
    }
    let (status, body) =
        http_refusal(upgrade_from(&relay, "127.0.0.2", &Keypair::generate()).await);
    assert_eq!(
        (status, body["code"].as_str()),
        (429, Some("ip_limit")),
        "{body}"
    );
    // A well-behaved client from another address still connects.
    let mut good = upgrade_from(&relay, "127.0.0.3", &Keypair::generate())
        .await
        .unwrap();
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The slot came back.
    held.push(
        upgrade_from(&relay, "127.0.0.2", &Keypair::generate())
            .await
            .unwrap(),
    );

    // Per client_id, whatever the address.
    let kp = Keypair::generate();
    let _a = upgrade_from(&relay, "127.0.0.4", &kp).await.unwrap();
    let _b = upgrade_from(&relay, "127.0.0.5", &kp).await.unwrap();
    let (status, body) = http_refusal(upgrade_from(&relay, "127.0.0.6", &kp).await);
    assert_eq!(
        (status, body["code"].as_str()),
        (429, Some("client_limit")),
        "{body}"
    );
    assert!(
        metric_labeled(
            relay.addr(),
            "relaybox_connections_total",
            "result=\"ip_limit\""
        )
        .await
            >= 1.0
    );
    let _ = futures_util::SinkExt::close(&mut good).await;
}

/// Handshakes per second per IP are capped (a did:key is free to make, so
/// each handshake costs the relay a signature check).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshake_rate_per_ip_is_capped() {
    let relay = TestRelay::with_env(&[
        ("RELAYBOX_LIMITS_HANDSHAKES_PER_IP_PER_SEC", "1"),
        ("RELAYBOX_LIMITS_HANDSHAKE_BURST_PER_IP", "5"),
    ])
    .await;
    let mut refused = 0;
    for _ in 0..10 {
        match upgrade_from(&relay, "127.0.0.7", &Keypair::generate()).await {
            Ok(ws) => drop(ws),
            Err(e) => {
                let (status, body) = http_refusal(Err(e));
                assert_eq!(
                    (status, body["code"].as_str()),
                    (429, Some("ip_handshake_rate"))
                );
                refused += 1;
            }
        }
    }
    assert!(refused >= 4, "only {refused} of 10 refused");
    // Another address is not affected.
    upgrade_from(&relay, "127.0.0.8", &Keypair::generate())
        .await
        .unwrap();
}

/// Behind a trusted proxy the X-Forwarded-For address is the client's; from
/// anyone else the header is ignored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_for_counts_only_from_trusted_proxies() {
    let relay = TestRelay::with_env(&[
        ("RELAYBOX_SERVER_TRUSTED_PROXIES", "127.0.0.9"),
        ("RELAYBOX_LIMITS_MAX_CONNECTIONS_PER_IP", "1"),
        ("RELAYBOX_LIMITS_HANDSHAKES_PER_IP_PER_SEC", "0"),
    ])
    .await;
    let via = |source: &'static str, xff: &'static str| {
        let relay_addr = relay.addr();
        let url = relay.url();
        async move {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
            let stream = socket.connect(relay_addr).await.unwrap();
            let kp = Keypair::generate();
            let mut req = format!("{url}/?auth={}", token(&kp, &url))
                .into_client_request()
                .unwrap();
            req.headers_mut()
                .insert("x-forwarded-for", xff.parse().unwrap());
            tokio_tungstenite::client_async(req, tokio_tungstenite::MaybeTlsStream::Plain(stream))
                .await
                .map(|(ws, _)| ws)
        }
    };
    // Two clients behind the trusted proxy: different addresses, both fit.
    let _a = via("127.0.0.9", "198.51.100.1").await.unwrap();
    let _b = via("127.0.0.9", "198.51.100.2").await.unwrap();
    let (status, _) = http_refusal(via("127.0.0.9", "198.51.100.1").await);
    assert_eq!(status, 429);
    // An untrusted peer cannot borrow other addresses with the header.
    let _c = via("127.0.0.10", "198.51.100.3").await.unwrap();
    let (status, _) = http_refusal(via("127.0.0.10", "198.51.100.4").await);
    assert_eq!(status, 429);
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

/// Fresh did:keys cost nothing, so all the client_ids of one address share
/// a request budget too; another address has its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_keys_on_one_address_share_a_request_budget() {
    let relay = TestRelay::with_env(&[
        ("RELAYBOX_RATE_LIMIT_REQUESTS_PER_SEC_PER_IP", "1"),
        ("RELAYBOX_RATE_LIMIT_BURST_PER_IP", "10"),
        ("RELAYBOX_LIMITS_MAX_BATCH", "10"),
        ("RELAYBOX_LIMITS_HANDSHAKES_PER_IP_PER_SEC", "0"),
    ])
    .await;
    let mut limited = 0;
    for _ in 0..5 {
        let ws = upgrade_from(&relay, "127.0.0.11", &Keypair::generate())
            .await
            .unwrap();
        let mut c = TestClient::new(ws, &Keypair::generate());
        for _ in 0..4 {
            if let Err(e) = c
                .request("irn_subscribe", json!({ "topic": topic() }))
                .await
            {
                assert_eq!(code_tag(&e), (3001, "TooManyRequests".into()));
                limited += 1;
            }
        }
    }
    assert_eq!(
        limited, 10,
        "20 requests from 5 keys on one address, budget 10"
    );
    let ws = upgrade_from(&relay, "127.0.0.12", &Keypair::generate())
        .await
        .unwrap();
    let mut other = TestClient::new(ws, &Keypair::generate());
    assert!(other
        .request("irn_subscribe", json!({ "topic": topic() }))
        .await
        .is_ok());
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
