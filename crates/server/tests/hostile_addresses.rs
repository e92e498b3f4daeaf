//! Attack tests by client address: what many sockets or many fresh keys
//! from one IP can do, and the bound that holds (the per-IP socket cap,
//! handshake rate and request budget, and X-Forwarded-For only from trusted
//! proxies). Each test acts as several client IPs by binding its sockets to
//! distinct loopback addresses (127.0.0.x).

mod common;

use std::time::Duration;

use common::*;
use relaybox_auth::Keypair;
use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

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
    let started = std::time::Instant::now();
    let (mut served, mut limited) = (0u64, 0u64);
    for _ in 0..5 {
        let ws = upgrade_from(&relay, "127.0.0.11", &Keypair::generate())
            .await
            .unwrap();
        let mut c = TestClient::new(ws, &Keypair::generate());
        for _ in 0..4 {
            match c
                .request("irn_subscribe", json!({ "topic": topic() }))
                .await
            {
                Ok(_) => served += 1,
                Err(e) => {
                    assert_eq!(code_tag(&e), (3001, "TooManyRequests".into()));
                    limited += 1;
                }
            }
        }
    }
    // A refused socket is not read for a while, so later requests may find
    // tokens refilled: the bound is the burst plus the refill meanwhile.
    let refill = started.elapsed().as_secs() + 1;
    assert!(
        served <= 10 + refill,
        "20 requests from 5 keys on one address, budget 10 + 1/s: {served} served in {:?}",
        started.elapsed()
    );
    assert!(limited >= 1, "{served} served, none refused");
    let ws = upgrade_from(&relay, "127.0.0.12", &Keypair::generate())
        .await
        .unwrap();
    let mut other = TestClient::new(ws, &Keypair::generate());
    assert!(other
        .request("irn_subscribe", json!({ "topic": topic() }))
        .await
        .is_ok());
}
