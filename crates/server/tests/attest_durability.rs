//! Attestation requests are durable and consistent: they survive kill -9,
//! expire and are swept, and exactly one of many concurrent acks wins.

mod attest_support;

use std::time::Duration;

use attest_support::*;
use serde_json::json;

#[tokio::test]
async fn acknowledged_creates_and_acks_survive_kill_9() {
    let mut relay = TestRelay::start(&[]).await;
    let (approved, denied, pending) = (new_id(), new_id(), new_id());
    for id in [&approved, &denied, &pending] {
        relay.create(&request_body(id, "app")).await.assert_ok();
    }
    relay
        .ack(&json!({ "request_id": approved, "credential": "cred-1" }))
        .await
        .assert_ok();
    relay
        .ack(&json!({ "request_id": denied, "error": "nope" }))
        .await
        .assert_ok();
    // Straight after the replies: no graceful shutdown, no background flush.
    relay.restart().await;

    let r = relay.status(&approved).await;
    assert_eq!(
        (r.json["status"].as_str(), r.json["credential"].as_str()),
        (Some("approved"), Some("cred-1"))
    );
    let r = relay.status(&denied).await;
    assert_eq!(
        (r.json["status"].as_str(), r.json["error"].as_str()),
        (Some("denied"), Some("nope"))
    );
    let r = relay.status(&pending).await;
    assert_eq!(r.json["status"], "pending");
    assert_eq!(r.json["auth_request"]["nonce"], pending.as_str());
    // Indexes and counters came back too.
    let listed = relay.get(&format!("{PREFIX}?app_identity=app")).await;
    let ids: Vec<_> = listed.json["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["request_id"].clone())
        .collect();
    assert_eq!(ids, vec![json!(pending)]);
    relay
        .ack(&json!({ "request_id": approved, "credential": "x" }))
        .await
        .assert_error(409);
    let m = relay.metrics().await;
    assert!(
        m.contains(r#"relaybox_attest_requests{status="approved"} 1"#),
        "{m}"
    );
}

#[tokio::test]
async fn expired_requests_are_swept() {
    let relay = TestRelay::start(&[("RELAYBOX_ATTEST_SWEEP_INTERVAL_MS", "100")]).await;
    let (short, long) = (new_id(), new_id());
    let mut b = request_body(&short, "app");
    b["expires_at"] = json!(now_ms() + 700);
    relay.create(&b).await.assert_ok();
    relay.create(&request_body(&long, "app")).await.assert_ok();
    assert_eq!(relay.status(&short).await.status, 200);
    // Expired: 410 until the sweeper deletes it, then 404 (unknown).
    eventually("the sweeper to delete the expired request", || async {
        let s = relay.status(&short).await.status;
        assert!(s == 200 || s == 410 || s == 404, "status {s}");
        s == 404
    })
    .await;
    assert_eq!(relay.status(&long).await.status, 200);
    eventually("the expired metric", || async {
        relay
            .metrics()
            .await
            .lines()
            .any(|l| l == "relaybox_attest_expired_total 1")
    })
    .await;
    let m = relay.metrics().await;
    assert!(
        m.contains(r#"relaybox_attest_requests{status="pending"} 1"#),
        "{m}"
    );
    // The id is free again once its request is gone.
    let mut b = request_body(&short, "another-app");
    b["expires_at"] = json!(now_ms() + 60_000);
    relay.create(&b).await.assert_ok();
}

#[tokio::test]
async fn of_100_concurrent_acks_exactly_one_wins() {
    let relay = TestRelay::start(&[("RELAYBOX_ATTEST_BURST", "1000")]).await;
    let id = new_id();
    relay.create(&request_body(&id, "app")).await.assert_ok();
    let addr = relay.addr;
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let id = id.clone();
            tokio::spawn(async move {
                let body = if i % 2 == 0 {
                    json!({ "request_id": id, "credential": format!("cred-{i}") })
                } else {
                    json!({ "request_id": id, "error": format!("err-{i}") })
                };
                let r = send(
                    addr,
                    "POST",
                    &format!("{PREFIX}/ack"),
                    &[("content-type", "application/json")],
                    Some(body.to_string().into_bytes()),
                )
                .await;
                (i, r.status)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for t in tasks {
        let (i, status) = t.await.unwrap();
        match status {
            200 => winners.push(i),
            409 => {}
            s => panic!("ack {i} answered {s}"),
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    let w = winners[0];
    let r = relay.status(&id).await;
    if w % 2 == 0 {
        assert_eq!(r.json["status"], "approved");
        assert_eq!(r.json["credential"], format!("cred-{w}"));
    } else {
        assert_eq!(r.json["status"], "denied");
        assert_eq!(r.json["error"], format!("err-{w}"));
    }
    tokio::time::sleep(Duration::from_millis(10)).await;
}
