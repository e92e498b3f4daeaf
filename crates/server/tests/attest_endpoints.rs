//! The attestation endpoints against the real binary: the seed's flow, every
//! status code, idempotency, the listing and the metrics.

mod attest_support;

use attest_support::*;
use serde_json::json;

#[tokio::test]
async fn seed_flow_create_poll_ack_result() {
    let relay = TestRelay::start(&[]).await;
    let id = new_id();
    // auth_request comes back byte for byte, whitespace and key order included.
    let body = format!(
        r#"{{"request_id":"{id}","app_identity":"https://app.example","auth_request":{{ "z": 1, "a" : [true, null] }}}}"#
    );
    let r = send(
        relay.addr,
        "POST",
        PREFIX,
        &[("content-type", "application/json; charset=utf-8")],
        Some(body.into_bytes()),
    )
    .await;
    assert_eq!(
        r.assert_ok(),
        &json!({ "request_id": id, "status": "pending" })
    );

    let r = relay.status(&id).await;
    assert_eq!(r.status, 200);
    let text = String::from_utf8(r.raw.to_vec()).unwrap();
    assert!(
        text.contains(r#""auth_request":{ "z": 1, "a" : [true, null] }"#),
        "{text}"
    );
    assert_eq!(r.json["status"], "pending");
    assert_eq!(r.json["request_id"], id.as_str());
    assert!(r.json.get("credential").is_none() && r.json.get("error").is_none());

    let r = relay
        .ack(&json!({ "request_id": id, "credential": "eyJ.cred.sig" }))
        .await;
    assert_eq!(r.assert_ok(), &json!({ "ok": true }));
    let r = relay.status(&id).await;
    assert_eq!(r.json["status"], "approved");
    assert_eq!(r.json["credential"], "eyJ.cred.sig");
    assert!(r.json.get("error").is_none());

    // The first answer wins; the credential is never overwritten.
    relay
        .ack(&json!({ "request_id": id, "credential": "other" }))
        .await
        .assert_error(409);
    relay
        .ack(&json!({ "request_id": id, "error": "no" }))
        .await
        .assert_error(409);
    assert_eq!(relay.status(&id).await.json["credential"], "eyJ.cred.sig");
}

#[tokio::test]
async fn acks_without_credential_deny() {
    let relay = TestRelay::start(&[]).await;
    let (a, b, c) = (new_id(), new_id(), new_id());
    for id in [&a, &b, &c] {
        relay.create(&request_body(id, "app")).await.assert_ok();
    }
    relay.ack(&json!({ "request_id": a })).await.assert_ok();
    relay
        .ack(&json!({ "request_id": b, "error": "user_rejected" }))
        .await
        .assert_ok();
    // As in the seed, an empty credential is no credential.
    relay
        .ack(&json!({ "request_id": c, "credential": "" }))
        .await
        .assert_ok();
    for (id, error) in [(&a, "denied"), (&b, "user_rejected"), (&c, "denied")] {
        let r = relay.status(id).await;
        assert_eq!(r.json["status"], "denied");
        assert_eq!(r.json["error"], error);
        assert!(r.json.get("credential").is_none());
    }
}

#[tokio::test]
async fn create_is_idempotent_and_conflicts_on_other_content() {
    let relay = TestRelay::start(&[]).await;
    let id = new_id();
    let expires = now_ms() + 3_600_000;
    let mut body = request_body(&id, "app");
    body["expires_at"] = json!(expires);
    body["extra_field"] = json!("ignored");
    relay.create(&body).await.assert_ok();
    relay.create(&body).await.assert_ok();
    // Same content with other key order and spacing is the same request.
    let reordered = format!(
        r#"{{ "expires_at": {expires}, "auth_request": {{"nonce":"{id}", "scopes":["email","age_over_18"]}}, "app_identity":"app", "request_id":"{id}" }}"#
    );
    let r = send(
        relay.addr,
        "POST",
        PREFIX,
        &[("content-type", "application/json")],
        Some(reordered.into_bytes()),
    )
    .await;
    assert_eq!(r.assert_ok()["status"], "pending");
    // Once answered, a repeat reports the current status.
    relay
        .ack(&json!({ "request_id": id, "credential": "c" }))
        .await
        .assert_ok();
    assert_eq!(relay.create(&body).await.assert_ok()["status"], "approved");
    for change in [
        json!({ "app_identity": "other" }),
        json!({ "auth_request": { "scopes": ["email"] } }),
        json!({ "expires_at": expires + 1 }),
    ] {
        let mut b = body.clone();
        for (k, v) in change.as_object().unwrap() {
            b[k] = v.clone();
        }
        relay.create(&b).await.assert_error(409);
    }
}

#[tokio::test]
async fn invalid_creates_are_400() {
    let relay = TestRelay::start(&[]).await;
    let id = new_id();
    let base = request_body(&id, "app");
    let with = |k: &str, v: serde_json::Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    let cases = [
        json!({ "app_identity": "app", "auth_request": {} }),
        json!({ "request_id": id, "auth_request": {} }),
        json!({ "request_id": id, "app_identity": "app" }),
        with("auth_request", json!(null)),
        with("request_id", json!("too-short")),
        with("request_id", json!("x".repeat(129))),
        with("request_id", json!("has a space in it ....")),
        with("request_id", json!(12345678901234567u64)),
        with("app_identity", json!("a".repeat(513))),
        with("app_identity", json!(["app"])),
        with("expires_at", json!(now_ms() - 1)),
        with("expires_at", json!("tomorrow")),
        with("expires_at", json!(-5)),
        with("expires_at", json!(1.5)),
        with("relay_topic", json!("abc")),
        with("wallet_did", json!("did:key:nope")),
        json!([base.clone()]),
        json!("text"),
    ];
    for body in cases {
        relay.create(&body).await.assert_error(400);
    }
    let broken = send(
        relay.addr,
        "POST",
        PREFIX,
        &[("content-type", "application/json")],
        Some(b"{\"request_id\":".to_vec()),
    )
    .await;
    broken.assert_error(400);
    // 512 characters (multi-byte) is fine, and nothing above was stored.
    relay
        .create(&with("app_identity", json!("é".repeat(512))))
        .await
        .assert_ok();
    let r = relay.get(&format!("{PREFIX}?app_identity=app")).await;
    assert_eq!(r.assert_ok()["requests"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn expiry_defaults_caps_and_410() {
    let relay = TestRelay::start(&[("RELAYBOX_ATTEST_SWEEP_INTERVAL_MS", "3600000")]).await;
    let (short, far, default) = (new_id(), new_id(), new_id());
    let mut b = request_body(&short, "app");
    b["expires_at"] = json!(now_ms() + 400);
    relay.create(&b).await.assert_ok();
    let mut b = request_body(&far, "app");
    b["expires_at"] = json!(now_ms() + 365 * 86_400_000);
    relay.create(&b).await.assert_ok();
    relay
        .create(&request_body(&default, "app"))
        .await
        .assert_ok();
    let listed = relay
        .get(&format!("{PREFIX}?app_identity=app&limit=10"))
        .await;
    let t = now_ms();
    for item in listed.json["requests"].as_array().unwrap() {
        let exp = item["expires_at"].as_u64().unwrap();
        if item["request_id"] == far.as_str() {
            assert!(exp <= t + 7 * 86_400_000 && exp > t + 7 * 86_400_000 - 60_000);
        } else if item["request_id"] == default.as_str() {
            assert!(exp <= t + 86_400_000 && exp > t + 86_400_000 - 60_000);
        }
    }
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    relay.status(&short).await.assert_error(410);
    relay
        .ack(&json!({ "request_id": short, "credential": "c" }))
        .await
        .assert_error(410);
}

#[tokio::test]
async fn unknown_ids_wrong_methods_media_types_and_sizes() {
    let relay = TestRelay::start(&[]).await;
    let id = new_id();
    relay.status(&id).await.assert_error(404);
    relay
        .ack(&json!({ "request_id": id, "credential": "c" }))
        .await
        .assert_error(404);
    relay
        .ack(&json!({ "credential": "c" }))
        .await
        .assert_error(400);
    relay
        .ack(&json!({ "request_id": "bad id" }))
        .await
        .assert_error(400);
    relay.status("short").await.assert_error(400);
    relay
        .get(&format!("{PREFIX}/{id}/extra"))
        .await
        .assert_error(404);
    relay.get(&format!("{PREFIX}/")).await.assert_error(404);
    for (method, path, allow) in [
        ("PUT", PREFIX.to_string(), "GET, POST"),
        ("DELETE", format!("{PREFIX}/{id}"), "GET"),
        ("GET", format!("{PREFIX}/ack"), "POST"),
    ] {
        let r = send(relay.addr, method, &path, &[], None).await;
        r.assert_error(405);
        assert_eq!(r.headers["allow"], allow);
    }
    let body = request_body(&id, "app").to_string().into_bytes();
    for ct in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let headers: Vec<(&str, &str)> = ct.map(|c| ("content-type", c)).into_iter().collect();
        send(relay.addr, "POST", PREFIX, &headers, Some(body.clone()))
            .await
            .assert_error(415);
    }
    let huge =
        json!({ "request_id": id, "app_identity": "app", "auth_request": "x".repeat(64 * 1024) });
    relay.create(&huge).await.assert_error(413);
    relay.create(&request_body(&id, "app")).await.assert_ok();
    let big = json!({ "request_id": id, "credential": "c".repeat(49_153) });
    relay.ack(&big).await.assert_error(400);
    let big = json!({ "request_id": id, "error": "e".repeat(1025) });
    relay.ack(&big).await.assert_error(400);
    assert_eq!(relay.status(&id).await.json["status"], "pending");
    // Other routes are untouched.
    assert_eq!(relay.get("/health").await.status, 200);
}

#[tokio::test]
async fn listing_pages_through_an_apps_pending_requests() {
    let relay = TestRelay::start(&[]).await;
    let app = "https://app.example/é?x=1&y";
    let mut ids = Vec::new();
    for _ in 0..5 {
        let id = new_id();
        relay.create(&request_body(&id, app)).await.assert_ok();
        ids.push(id);
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    relay
        .create(&request_body(&new_id(), "other-app"))
        .await
        .assert_ok();
    relay
        .ack(&json!({ "request_id": ids[1], "credential": "c" }))
        .await
        .assert_ok();
    let expected: Vec<&String> = ids
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 1)
        .map(|(_, id)| id)
        .collect();

    let encoded = "https%3A%2F%2Fapp.example%2F%C3%A9%3Fx%3D1%26y";
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..5 {
        let mut path = format!("{PREFIX}?app_identity={encoded}&status=pending&limit=2");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let r = relay.get(&path).await;
        let page = r.assert_ok();
        for item in page["requests"].as_array().unwrap() {
            assert_eq!(item["app_identity"], app);
            assert_eq!(item["status"], "pending");
            assert_eq!(item["auth_request"]["nonce"], item["request_id"]);
            seen.push(item["request_id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.iter().collect::<Vec<_>>(), expected);

    for bad in [
        PREFIX.to_string(),
        format!("{PREFIX}?status=pending"),
        format!("{PREFIX}?app_identity=a&status=approved"),
        format!("{PREFIX}?app_identity=a&limit=0"),
        format!("{PREFIX}?app_identity=a&limit=101"),
        format!("{PREFIX}?app_identity=a&cursor=zz"),
    ] {
        relay.get(&bad).await.assert_error(400);
    }
}

#[tokio::test]
async fn metrics_count_requests_by_status() {
    let relay = TestRelay::start(&[]).await;
    let (a, b, c) = (new_id(), new_id(), new_id());
    for id in [&a, &b, &c] {
        relay.create(&request_body(id, "app")).await.assert_ok();
    }
    relay
        .ack(&json!({ "request_id": a, "credential": "c" }))
        .await
        .assert_ok();
    relay.ack(&json!({ "request_id": b })).await.assert_ok();
    let m = relay.metrics().await;
    for line in [
        r#"relaybox_attest_requests{status="pending"} 1"#,
        r#"relaybox_attest_requests{status="approved"} 1"#,
        r#"relaybox_attest_requests{status="denied"} 1"#,
        r#"relaybox_attest_http_responses_total{route="create",code="200"} 3"#,
    ] {
        assert!(m.lines().any(|l| l == line), "missing {line} in\n{m}");
    }
}
