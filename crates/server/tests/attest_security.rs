//! Rate limiting and the optional authentication of the attestation endpoints.

mod attest_support;

use attest_support::*;
use relaybox_auth::Keypair;
use serde_json::json;

#[tokio::test]
async fn per_ip_rate_limit_answers_429_with_retry_after() {
    let relay = TestRelay::start(&[
        ("RELAYBOX_ATTEST_REQUESTS_PER_SEC", "1"),
        ("RELAYBOX_ATTEST_BURST", "3"),
    ])
    .await;
    let id = new_id();
    relay.create(&request_body(&id, "app")).await.assert_ok();
    relay.status(&id).await.assert_ok();
    relay.status(&new_id()).await.assert_error(404);
    let r = relay.status(&id).await;
    r.assert_error(429);
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "Retry-After {retry}");
    relay
        .ack(&json!({ "request_id": id }))
        .await
        .assert_error(429);
    // The relay's other routes are not limited by it.
    assert_eq!(relay.get("/health").await.status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(1100 * retry)).await;
    relay.status(&id).await.assert_ok();
    let m = relay.metrics().await;
    assert!(
        m.contains(r#"relaybox_attest_http_responses_total{route="rate_limited",code="429"} 2"#),
        "{m}"
    );
}

#[tokio::test]
async fn api_key_guards_creating_only() {
    let relay = TestRelay::start(&[("RELAYBOX_ATTEST_API_KEYS", "key-one, key-two")]).await;
    let id = new_id();
    let body = request_body(&id, "app");
    let r = relay.create(&body).await;
    r.assert_error(401);
    assert_eq!(r.headers["www-authenticate"], "Bearer");
    relay
        .post_with(PREFIX, &[("authorization", "Bearer key-three")], &body)
        .await
        .assert_error(401);
    relay
        .post_with(PREFIX, &[("authorization", "Basic key-one")], &body)
        .await
        .assert_error(401);
    relay
        .post_with(PREFIX, &[("authorization", "Bearer key-two")], &body)
        .await
        .assert_ok();
    relay.status(&id).await.assert_ok();
    relay
        .ack(&json!({ "request_id": id, "credential": "c" }))
        .await
        .assert_ok();
}

#[tokio::test]
async fn wallet_jwt_guards_acks_and_the_listing() {
    let relay = TestRelay::start(&[("RELAYBOX_ATTEST_REQUIRE_WALLET_JWT", "true")]).await;
    // Wallet tokens name the attestation endpoints' URL as audience.
    let aud = format!("http://{}/api/mwen/relay", relay.addr);
    let socket_aud = format!("http://{}", relay.addr);
    let (wallet, other) = (Keypair::generate(), Keypair::generate());
    let id = new_id();
    relay
        .create(&request_body(&id, "app"))
        .await
        .assert_error(400);
    let mut body = request_body(&id, "app");
    body["wallet_did"] = json!(wallet.did_key());
    relay.create(&body).await.assert_ok();
    let mut other_body = request_body(&new_id(), "app");
    other_body["wallet_did"] = json!(other.did_key());
    relay.create(&other_body).await.assert_ok();

    let ack_path = format!("{PREFIX}/ack");
    let ack = json!({ "request_id": id, "credential": "c" });
    let bearer = |t: String| format!("Bearer {t}");
    relay.post(&ack_path, &ack).await.assert_error(401);
    let garbage = bearer("not.a.jwt".into());
    relay
        .post_with(&ack_path, &[("authorization", &garbage)], &ack)
        .await
        .assert_error(401);
    let wrong_aud = bearer(jwt_for(&wallet, &id, "https://elsewhere.example"));
    // A socket token (the relay's own URL) is not an ack token.
    let socket_token = bearer(jwt_for(&wallet, &id, &socket_aud));
    relay
        .post_with(&ack_path, &[("authorization", &socket_token)], &ack)
        .await
        .assert_error(401);
    relay
        .post_with(&ack_path, &[("authorization", &wrong_aud)], &ack)
        .await
        .assert_error(401);
    let wrong_key = bearer(jwt_for(&other, &id, &aud));
    relay
        .post_with(&ack_path, &[("authorization", &wrong_key)], &ack)
        .await
        .assert_error(403);
    let wrong_sub = bearer(jwt_for(&wallet, &new_id(), &aud));
    relay
        .post_with(&ack_path, &[("authorization", &wrong_sub)], &ack)
        .await
        .assert_error(403);
    assert_eq!(relay.status(&id).await.json["status"], "pending");
    let good = bearer(jwt_for(&wallet, &id, &aud));
    relay
        .post_with(&ack_path, &[("authorization", &good)], &ack)
        .await
        .assert_ok();
    assert_eq!(relay.status(&id).await.json["credential"], "c");

    // The listing shows a wallet only its own pending requests.
    let list = format!("{PREFIX}?app_identity=app");
    relay.get(&list).await.assert_error(401);
    let token = bearer(jwt_for(&other, "listing", &aud));
    let r = send(relay.addr, "GET", &list, &[("authorization", &token)], None).await;
    let items = r.assert_ok()["requests"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["request_id"], other_body["request_id"]);
}
