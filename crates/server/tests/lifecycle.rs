//! Shutdown and restarts: SIGTERM closes clients with 1001 and exits 0, and
//! subscriptions and acknowledged messages survive both a graceful restart
//! and a kill -9.

mod common;

use std::time::Duration;

use common::*;
use relaybox_auth::Keypair;
use serde_json::json;

#[tokio::test]
async fn sigterm_closes_clients_with_1001_exits_0_and_keeps_data() {
    let mut relay = TestRelay::start().await;
    let t = topic();
    let kp = Keypair::generate();
    let mut sub = relay.client(&kp).await;
    sub.subscribe(&t).await;
    sub.close().await;
    let mut publisher = relay.new_client().await;
    publisher.publish(&t, "before-shutdown-1").await;
    publisher.publish(&t, "before-shutdown-2").await;

    let mut connected = relay.new_client().await;
    relay.sigterm();
    let (code, reason) = connected.expect_close().await.expect("a close frame");
    assert_eq!(code, 1001, "{reason}");
    let (code, _) = publisher.expect_close().await.expect("a close frame");
    assert_eq!(code, 1001);
    let status = relay.wait_exit(Duration::from_secs(10)).await;
    assert!(
        status.success(),
        "exit status {status:?}; log:\n{}",
        relay.log()
    );

    relay.restart().await;
    let mut sub = relay.client(&kp).await;
    assert_eq!(
        sub.expect_messages(2).await,
        ["before-shutdown-1", "before-shutdown-2"]
    );
    sub.expect_no_push().await;
}

#[tokio::test]
async fn graceful_restart_keeps_subscriptions_messages_and_acks() {
    let mut relay = TestRelay::start().await;
    let (t1, t2) = (topic(), topic());
    let kp = Keypair::generate();
    let mut sub = relay.client(&kp).await;
    sub.request("irn_batchSubscribe", json!({ "topics": [t1, t2] }))
        .await
        .unwrap();
    let mut publisher = relay.new_client().await;
    publisher.publish(&t1, "delivered-before").await;
    assert_eq!(sub.expect_messages(1).await, ["delivered-before"]);
    sub.close().await;
    publisher.publish(&t1, "queued-1").await;
    publisher.publish(&t2, "queued-2").await;

    let status = relay.terminate().await;
    assert!(status.success(), "{status:?}");
    relay.restart().await;

    // Subscriptions came back without a subscribe; the acked message did not.
    let mut sub = relay.client(&kp).await;
    let mut got = sub.expect_messages(2).await;
    got.sort();
    assert_eq!(got, ["queued-1", "queued-2"]);
    sub.expect_no_push().await;

    let mut publisher = relay.new_client().await;
    publisher.publish(&t2, "after-restart").await;
    assert_eq!(sub.expect_messages(1).await, ["after-restart"]);
}

#[tokio::test]
async fn kill9_keeps_subscriptions_and_acknowledged_messages() {
    let mut relay = TestRelay::start().await;
    let t = topic();
    let kp = Keypair::generate();
    let mut sub = relay.client(&kp).await;
    sub.subscribe(&t).await;
    // Subscribed while connected, and the relay dies right after the reply.
    let kp_live = Keypair::generate();
    let mut live = relay.client(&kp_live).await;
    live.subscribe(&t).await;
    sub.close().await;

    let mut publisher = relay.new_client().await;
    for m in ["k1", "k2", "k3"] {
        publisher.publish(&t, m).await;
    }
    assert_eq!(live.expect_messages(3).await, ["k1", "k2", "k3"]);
    relay.kill9().await;
    relay.restart().await;

    let mut sub = relay.client(&kp).await;
    assert_eq!(sub.expect_messages(3).await, ["k1", "k2", "k3"]);
    sub.expect_no_push().await;

    // The live subscriber's acks were not synced: a redelivery is allowed,
    // but its subscription must have survived.
    let mut live = relay.client(&kp_live).await;
    let redelivered = live
        .drain_pushes(QUIET, Duration::from_secs(10))
        .await
        .len();
    assert!(redelivered <= 3);
    let mut publisher = relay.new_client().await;
    publisher.publish(&t, "k4").await;
    let after = live
        .drain_pushes(Duration::from_secs(1), Duration::from_secs(10))
        .await;
    let msgs: Vec<_> = after.iter().map(|p| p["data"]["message"].clone()).collect();
    assert_eq!(msgs, [json!("k4")]);
    assert_eq!(sub.expect_messages(1).await, ["k4"]);
}

#[tokio::test]
async fn readiness_and_health_after_restart() {
    let mut relay = TestRelay::start().await;
    relay.kill9().await;
    relay.restart().await;
    let (status, _, _) = http(relay.addr(), "GET", "/ready").await;
    assert_eq!(status, 200);
    let (status, _, _) = http(relay.addr(), "GET", "/health").await;
    assert_eq!(status, 200);
}

/// On SIGTERM the sockets are closed over `server.shutdown_spread_ms`, not
/// all at once, so that clients reconnect to the other nodes gradually.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_spreads_the_closes() {
    let mut relay = TestRelay::with_env(&[("RELAYBOX_SERVER_SHUTDOWN_SPREAD_MS", "2000")]).await;
    let mut clients = Vec::new();
    for _ in 0..12 {
        clients.push(relay.new_client().await);
    }
    let started = std::time::Instant::now();
    relay.sigterm();
    let closes: Vec<_> = clients
        .into_iter()
        .map(|mut c| {
            tokio::spawn(async move {
                let (code, _) = c.expect_close().await.expect("a close frame");
                (code, started.elapsed())
            })
        })
        .collect();
    let mut times = Vec::new();
    for c in closes {
        let (code, at) = c.await.unwrap();
        assert_eq!(code, 1001);
        times.push(at);
    }
    times.sort();
    let (first, last) = (times[0], times[times.len() - 1]);
    // Before the grace period ends (the relay gives up waiting then); not
    // a timing figure: a busy machine only delays each close.
    assert!(
        last < Duration::from_millis(10_000),
        "all closed before the grace period: {times:?}"
    );
    assert!(
        last - first > Duration::from_millis(500),
        "12 closes spread over 2 s, not at once: {times:?}"
    );
    let status = relay.wait_exit(Duration::from_secs(10)).await;
    assert!(status.success(), "{status:?}");
}

/// A fresh, empty data directory is a normal start: nothing about an
/// unclean previous run, and no warning at all (warnings are for operators
/// to act on); neither on the clean restart after it.
#[tokio::test]
async fn a_fresh_data_dir_and_a_clean_restart_log_no_warning() {
    let mut relay = TestRelay::start().await;
    let t = topic();
    let mut c = relay.new_client().await;
    c.subscribe(&t).await;
    c.publish(&t, "hello").await;
    c.close().await;
    relay.sigterm();
    assert!(relay.wait_exit(WAIT).await.success());
    relay.restart().await;
    let mut c = relay.new_client().await;
    c.subscribe(&t).await;
    c.close().await;
    relay.sigterm();
    relay.wait_exit(WAIT).await;
    let log = relay.log();
    assert!(
        !log.contains("WARN") && !log.contains("ERROR") && !log.contains("cleanly"),
        "{log}"
    );
}
