//! The admin API and `relaybox admin` against the real binary: its auth,
//! that the public port does not serve it, and every call on known state.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use relaybox_auth::Keypair;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TOKEN: &str = "an-admin-token-for-tests";

/// A free loopback port for the admin listener (bound, read, released).
async fn free_port() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

async fn call(addr: SocketAddr, method: &str, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}Content-Length: 0\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(WAIT, s.read_to_end(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_api_inspects_and_kicks_clients() {
    let port = free_port().await;
    let admin_listen = format!("127.0.0.1:{port}");
    let relay = TestRelay::with_env(&[
        ("RELAYBOX_SERVER_ADMIN_LISTEN", &admin_listen),
        ("RELAYBOX_SERVER_ADMIN_TOKEN", TOKEN),
    ])
    .await;
    let admin: SocketAddr = admin_listen.parse().unwrap();

    // Auth: no token, a wrong token; and the public port does not know it.
    assert_eq!(call(admin, "GET", "/admin/stats", None).await.0, 401);
    assert_eq!(
        call(admin, "GET", "/admin/stats", Some("wrong-token-0000000"))
            .await
            .0,
        401
    );
    assert_eq!(
        call(relay.addr(), "GET", "/admin/stats", Some(TOKEN))
            .await
            .0,
        404
    );

    // Known state: a client following two topics, three messages pending
    // on one, one socket open.
    let kp = Keypair::generate();
    let (t1, t2) = (topic(), topic());
    let mut c = relay.client(&kp).await;
    c.subscribe(&t1).await;
    c.subscribe(&t2).await;
    c.close().await;
    let mut p = relay.new_client().await;
    for m in ["a", "b", "c"] {
        p.publish(&t1, m).await;
    }
    let mut c = relay.client(&kp).await;
    c.auto_ack = false;
    let did = kp.did_key();

    let (status, view) = call(admin, "GET", &format!("/admin/clients/{did}"), Some(TOKEN)).await;
    assert_eq!(status, 200, "{view}");
    let subs = view["subscriptions"].as_array().unwrap();
    assert_eq!(subs.len(), 2);
    let of = |t: &str| subs.iter().find(|s| s["topic"] == t).unwrap().clone();
    assert_eq!(of(&t1)["pending"], 3);
    assert!(of(&t1)["oldest_pending_age_secs"].as_u64().is_some());
    assert_eq!(of(&t1)["cursor"], 0);
    assert_eq!(of(&t2)["pending"], 0);
    // The socket (registered once its loop starts: wait for it) and its
    // queue: the three pushes it has not acknowledged.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (_, view) = call(admin, "GET", &format!("/admin/clients/{did}"), Some(TOKEN)).await;
        if view["sockets"][0]["unacked_pushes"] == 3 {
            assert_eq!(view["sockets"].as_array().unwrap().len(), 1, "{view}");
            assert!(view["sockets"][0]["unacked_bytes"].as_u64().unwrap() > 0);
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{view}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let (status, stats) = call(admin, "GET", "/admin/stats", Some(TOKEN)).await;
    assert_eq!(status, 200);
    assert!(stats["messages"].as_u64().unwrap() >= 3, "{stats}");
    assert_eq!(stats["ready"], true);
    assert!(stats["store_bytes"].as_u64().unwrap() > 0, "{stats}");
    assert!(stats["free_bytes"].as_u64().unwrap() > 0, "{stats}");
    // The three messages were published with a 300 s TTL.
    assert_eq!(stats["messages_expiring"]["within_hour"], 3, "{stats}");
    assert_eq!(stats["messages_expiring"]["later"], 0, "{stats}");

    // The CLI says the same.
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_relaybox"))
        .args([
            "admin",
            "--url",
            &format!("http://{admin_listen}"),
            "--token",
            TOKEN,
            "client",
            &did,
        ])
        .env_remove("RELAYBOX_SERVER_ADMIN_TOKEN")
        .output()
        .await
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        table.contains("2 subscription(s)") && table.contains(&t1),
        "{table}"
    );
    assert!(table.contains("1 open socket(s)"), "{table}");

    // Kick: the socket is closed with the code asked for.
    let (status, kicked) = call(
        admin,
        "POST",
        &format!("/admin/clients/{did}/kick?code=4010"),
        Some(TOKEN),
    )
    .await;
    assert_eq!((status, kicked["closed"].as_u64()), (200, Some(1)));
    let (code, _) = c.expect_close().await.expect("closed");
    assert_eq!(code, 4010);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (_, view) = call(admin, "GET", &format!("/admin/clients/{did}"), Some(TOKEN)).await;
    assert_eq!(view["sockets"].as_array().unwrap().len(), 0);
    assert_eq!(
        call(
            admin,
            "POST",
            &format!("/admin/clients/{did}/kick?code=1000"),
            Some(TOKEN)
        )
        .await
        .0,
        400
    );

    // Drop: the client's sockets close and its subscriptions are gone; the
    // messages stay for the topic's other subscribers.
    let mut other = relay.new_client().await;
    other.subscribe(&t1).await;
    let mut c = relay.client(&kp).await;
    let (status, dropped) = call(
        admin,
        "DELETE",
        &format!("/admin/clients/{did}"),
        Some(TOKEN),
    )
    .await;
    assert_eq!(status, 200, "{dropped}");
    assert_eq!(dropped["unsubscribed"], 2);
    let (code, _) = c.expect_close().await.expect("closed");
    assert_eq!(code, 4010);
    let (_, view) = call(admin, "GET", &format!("/admin/clients/{did}"), Some(TOKEN)).await;
    assert_eq!(view["subscriptions"].as_array().unwrap().len(), 0, "{view}");
    assert_eq!(other.expect_messages(3).await, ["a", "b", "c"]);
}

#[tokio::test]
async fn without_a_token_the_admin_api_refuses() {
    let port = free_port().await;
    let admin_listen = format!("127.0.0.1:{port}");
    let _relay = TestRelay::with_env(&[("RELAYBOX_SERVER_ADMIN_LISTEN", &admin_listen)]).await;
    let (status, body) = call(
        admin_listen.parse().unwrap(),
        "GET",
        "/admin/stats",
        Some("x"),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(body["error"].as_str().unwrap().contains("admin_token"));
}

/// `relaybox admin …` against `admin_listen`; returns stdout.
async fn cli(admin_listen: &str, args: &[&str]) -> String {
    let url = format!("http://{admin_listen}");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_relaybox"))
        .args(["admin", "--url", &url, "--token", TOKEN])
        .args(args)
        .env_remove("RELAYBOX_SERVER_ADMIN_TOKEN")
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_api_shows_a_topic_and_deletes_its_messages() {
    let port = free_port().await;
    let admin_listen = format!("127.0.0.1:{port}");
    let mut relay = TestRelay::with_env(&[
        ("RELAYBOX_SERVER_ADMIN_LISTEN", &admin_listen),
        ("RELAYBOX_SERVER_ADMIN_TOKEN", TOKEN),
    ])
    .await;
    let admin: SocketAddr = admin_listen.parse().unwrap();
    let (alice, bob) = (Keypair::generate(), Keypair::generate());
    let t = topic();
    for kp in [&alice, &bob] {
        let mut c = relay.client(kp).await;
        c.subscribe(&t).await;
        c.close().await;
    }
    let mut p = relay.new_client().await;
    for m in ["a", "bb", "ccc"] {
        p.publish(&t, m).await;
    }
    p.close().await;
    // Alice reads (and acknowledges) everything; Bob is away.
    let mut a = relay.client(&alice).await;
    assert_eq!(a.expect_messages(3).await, ["a", "bb", "ccc"]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    a.close().await;

    let (status, view) = call(admin, "GET", &format!("/admin/topics/{t}"), Some(TOKEN)).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(
        (view["messages"].as_u64(), view["bytes"].as_u64()),
        (Some(3), Some(6))
    );
    assert!(
        view["last_expiry_in_secs"].as_u64().unwrap() > 200,
        "{view}"
    );
    assert!(view["oldest_age_secs"].as_u64().is_some(), "{view}");
    let subs = view["subscribers"].as_array().unwrap();
    assert_eq!(subs.len(), 2, "{view}");
    let of = |kp: &Keypair| {
        subs.iter()
            .find(|s| s["client_id"] == kp.did_key())
            .unwrap()
            .clone()
    };
    assert_eq!(of(&alice)["pending"], 0);
    assert_eq!(of(&alice)["cursor"], view["newest_seq"], "{view}");
    assert_eq!(
        (of(&bob)["pending"].as_u64(), of(&bob)["cursor"].as_u64()),
        (Some(3), Some(0))
    );
    let table = cli(&admin_listen, &["topic", &t]).await;
    assert!(
        table.contains("3 live message(s), 6 bytes") && table.contains("2 subscriber(s)"),
        "{table}"
    );
    let bad = call(admin, "GET", "/admin/topics/not-a-topic", Some(TOKEN)).await;
    assert_eq!(bad.0, 400, "{}", bad.1);

    // Delete: gone for Bob, and still gone after a restart.
    let out = cli(&admin_listen, &["delete-topic-messages", &t]).await;
    assert!(out.contains("deleted") && out.contains('3'), "{out}");
    let (_, view) = call(admin, "GET", &format!("/admin/topics/{t}"), Some(TOKEN)).await;
    assert_eq!(view["messages"], 0, "{view}");
    relay.restart().await;
    let mut b = relay.client(&bob).await;
    b.expect_no_push().await;
    // The topic works as before: a new message reaches Bob.
    let mut p = relay.new_client().await;
    p.publish(&t, "after").await;
    assert_eq!(b.expect_messages(1).await, ["after"]);
}
