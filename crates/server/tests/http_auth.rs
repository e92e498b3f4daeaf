//! The HTTP routes and the WebSocket handshake: who may connect, how a
//! refusal looks with and without `useOnCloseEvent`, and which `aud` forms
//! the relay accepts.

mod common;

use common::*;
use relaybox_auth::Keypair;
use serde_json::{json, Value};

#[tokio::test]
async fn health_ready_metrics_and_plain_http() {
    let relay = TestRelay::start().await;
    let addr = relay.addr();

    let (status, head, body) = http(addr, "GET", "/health").await;
    assert_eq!(status, 200, "{head}");
    let _: Value = serde_json::from_str(&body).expect("health body is JSON");

    let (status, _, body) = http(addr, "GET", "/ready").await;
    assert_eq!(status, 200);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["ready"], true);

    // Some traffic so that the counters exist.
    let mut c = relay.new_client().await;
    c.publish(&topic(), "hello").await;
    let (status, head, body) = http(addr, "GET", "/metrics").await;
    assert_eq!(status, 200);
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain"),
        "{head}"
    );
    assert!(body.contains("relaybox_connections"), "{body}");
    assert!(body.contains("relaybox_publishes_total"), "{body}");

    // A plain GET on the WebSocket endpoint asks for an upgrade, in JSON.
    let (status, head, body) = http(addr, "GET", "/").await;
    assert_eq!(status, 426, "{head}");
    assert!(
        head.to_ascii_lowercase().contains("application/json"),
        "{head}"
    );
    let v: Value = serde_json::from_str(&body).expect("426 body is JSON");
    assert!(v["error"].is_string(), "{v}");

    let (status, _, body) = http(addr, "POST", "/health").await;
    assert_eq!(status, 405);
    let _: Value = serde_json::from_str(&body).expect("405 body is JSON");
}

#[tokio::test]
async fn client_id_is_the_jwt_issuer_by_query_and_by_header() {
    let relay = TestRelay::start().await;
    let t = topic();

    let kp = Keypair::generate();
    let mut by_query = TestClient::connect(&relay.url(), &kp).await;
    let id = by_query.subscribe(&t).await;
    assert_eq!(id, sub_id(&t, &kp.did_key()));
    assert_eq!(id.len(), 64);

    let kp2 = Keypair::generate();
    let mut by_header = TestClient::connect_bearer(&relay.url(), &kp2).await;
    let id2 = by_header.subscribe(&t).await;
    assert_eq!(id2, sub_id(&t, &kp2.did_key()));

    // Same key on another socket = same client: same subscription id.
    let mut again = TestClient::connect_bearer(&relay.url(), &kp).await;
    assert_eq!(again.subscribe(&t).await, id);
}

#[tokio::test]
async fn token_without_exp_is_accepted() {
    let relay = TestRelay::start().await;
    let kp = Keypair::generate();
    let t = token_at(&kp, &relay.url(), now_secs(), None);
    let ws = upgrade(&format!("{}/?auth={t}", relay.url()), None)
        .await
        .expect("token without exp");
    let mut c = TestClient::new(ws, &kp);
    c.publish(&topic(), "m").await;
}

/// The four bad-token cases: (query suffix or bearer, expected status, expected tag).
fn bad_tokens(url: &str) -> Vec<(&'static str, Option<String>, u16)> {
    let kp = Keypair::generate();
    let now = now_secs();
    vec![
        ("missing", None, 401),
        ("wrong aud", Some(token(&kp, "ws://127.0.0.1:1")), 403),
        (
            "expired",
            Some(token_at(&kp, url, now - 7200, Some(now - 3600))),
            401,
        ),
        ("garbage", Some("not.a.jwt".to_owned()), 403),
    ]
}

#[tokio::test]
async fn bad_tokens_are_refused_with_http_errors() {
    let relay = TestRelay::start().await;
    let url = relay.url();
    for (case, tok, status) in bad_tokens(&url) {
        let full = match &tok {
            Some(t) => format!("{url}/?auth={t}"),
            None => format!("{url}/"),
        };
        let (got, body) = refused(&full, None).await;
        assert_eq!(got, status, "{case}: {body}");
        assert!(body["error"].is_string(), "{case}: {body}");
        if case == "missing" {
            assert_eq!(body["code"], "MissingJwt", "{body}");
        } else {
            assert_eq!(body["code"], "InvalidJwt", "{case}: {body}");
        }
        // The same token as a bearer header is refused the same way.
        if let Some(t) = &tok {
            let (got, _) = refused(&url, Some(t)).await;
            assert_eq!(got, status, "{case} (bearer)");
        }
    }
}

#[tokio::test]
async fn bad_tokens_with_use_on_close_event_get_close_3000() {
    let relay = TestRelay::start().await;
    let url = relay.url();
    for (case, tok, _) in bad_tokens(&url) {
        let full = match &tok {
            Some(t) => format!("{url}/?auth={t}&useOnCloseEvent=true"),
            None => format!("{url}/?useOnCloseEvent=true"),
        };
        let mut ws = upgrade(&full, None)
            .await
            .unwrap_or_else(|e| panic!("{case}: upgrade should succeed, got {e}"));
        let (code, reason) = read_until_close(&mut ws)
            .await
            .unwrap_or_else(|| panic!("{case}: no close frame"));
        assert_eq!(code, 3000, "{case}");
        assert!(!reason.is_empty(), "{case}: close reason should say why");
    }
}

#[tokio::test]
async fn project_id_policy() {
    let relay = TestRelay::with_env(&[("RELAYBOX_AUTH_PROJECT_IDS", "a,b")]).await;
    let url = relay.url();
    let kp = Keypair::generate();
    let tok = token(&kp, &url);

    // Missing projectId, with the close event: upgrade, then 3000 and the reason JS shows.
    let mut ws = upgrade(&format!("{url}/?auth={tok}&useOnCloseEvent=true"), None)
        .await
        .expect("upgrade");
    let (code, reason) = read_until_close(&mut ws).await.expect("close frame");
    assert_eq!(code, 3000);
    assert_eq!(reason, "Project ID is missing");

    // Without it: HTTP 401.
    let (status, body) = refused(&format!("{url}/?auth={tok}"), None).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["code"], "ProjectIdNotSpecified");

    // An unknown project.
    let (status, body) = refused(&format!("{url}/?auth={tok}&projectId=zzz"), None).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["code"], "ProjectNotFound");

    // A listed one works, with the query JS sends.
    let full = format!(
        "{url}/?auth={tok}&projectId=b&ua=wc-2%2Fjs-2.25.0%2Flinux%2Fnode&useOnCloseEvent=true"
    );
    let ws = upgrade(&full, None).await.expect("listed project");
    let mut c = TestClient::new(ws, &kp);
    let t = topic();
    assert_eq!(c.subscribe(&t).await, sub_id(&t, &kp.did_key()));
}

#[tokio::test]
async fn audience_forms_of_the_listen_address_are_accepted() {
    let relay = TestRelay::start().await;
    let port = relay.port();
    let base = relay.url();
    for aud in [
        format!("ws://127.0.0.1:{port}"),
        format!("ws://localhost:{port}/"),
        format!("http://127.0.0.1:{port}"),
        format!("wss://localhost:{port}"),
    ] {
        let kp = Keypair::generate();
        let ws = upgrade(&format!("{base}/?auth={}", token(&kp, &aud)), None)
            .await
            .unwrap_or_else(|e| panic!("aud {aud} refused: {e}"));
        let mut c = TestClient::new(ws, &kp);
        let r = c
            .request("irn_subscribe", json!({ "topic": topic() }))
            .await;
        assert!(r.is_ok(), "aud {aud}: {r:?}");
    }
    for aud in [
        format!("ws://127.0.0.1:{}", port.wrapping_add(1)),
        "wss://relay.walletconnect.com".to_owned(),
    ] {
        let kp = Keypair::generate();
        let (status, _) = refused(&format!("{base}/?auth={}", token(&kp, &aud)), None).await;
        assert_eq!(status, 403, "aud {aud}");
    }
}
