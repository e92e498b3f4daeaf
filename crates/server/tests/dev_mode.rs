//! `relaybox serve --dev` against the real binary: it refuses a public
//! address, accepts any audience, and deletes its data on exit.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::*;
use relaybox_auth::Keypair;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Command;

fn dev(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_relaybox"));
    cmd.arg("serve").arg("--dev").args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("RELAYBOX_") {
            cmd.env_remove(k);
        }
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

#[tokio::test]
async fn dev_mode_refuses_a_public_listen_address() {
    let mut child = dev(&["--listen", "0.0.0.0:0"]).spawn().unwrap();
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("exits")
        .unwrap();
    assert!(!status.success());
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .await
        .unwrap();
    assert!(err.contains("--dev-public"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_mode_takes_any_audience_and_leaves_nothing_behind() {
    let mut child = dev(&["--listen", "127.0.0.1:0"]).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("starts")
        .unwrap()
        .expect("a listen line");
    let addr: std::net::SocketAddr = line
        .strip_prefix("RELAYBOX_LISTEN=")
        .unwrap()
        .parse()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut banner = Vec::new();
    while let Ok(Ok(Some(l))) =
        tokio::time::timeout(Duration::from_millis(500), stderr.next_line()).await
    {
        banner.push(l);
    }
    let banner = banner.join("\n");
    assert!(banner.contains("FOR DEVELOPMENT AND CI ONLY"), "{banner}");
    let data_dir = banner
        .lines()
        .find_map(|l| l.trim().strip_prefix("data in "))
        .and_then(|l| l.strip_suffix(" (deleted on exit)"))
        .expect("the banner names the data directory")
        .to_owned();
    assert!(std::path::Path::new(&data_dir).is_dir());

    // A token for some other relay's URL is accepted.
    let kp = Keypair::generate();
    let url = format!(
        "ws://{addr}/?auth={}",
        token(&kp, "wss://relay.walletconnect.com")
    );
    let (ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("accepted");
    let mut c = TestClient::new(ws, &kp);
    c.publish(&topic(), "hello from CI").await;

    // SIGTERM: the process exits and its data directory is gone.
    unsafe { libc::kill(child.id().unwrap() as i32, libc::SIGTERM) };
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("exits")
        .unwrap();
    assert!(status.success(), "{status:?}");
    assert!(
        !std::path::Path::new(&data_dir).exists(),
        "{data_dir} left behind"
    );
}
