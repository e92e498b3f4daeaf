//! The sticky mailbox: a wallet subscribes and goes away; while it is gone a
//! dapp publishes; the wallet comes back with the same key and receives
//! everything that was published meanwhile, oldest first.
//!
//! Run with: cargo run -p relaybox-client --example offline_mailbox -- ws://127.0.0.1:8080
//!
//! (Start a relay first, e.g. `cargo run -p relaybox -- serve`.)

use std::time::Duration;

use futures_util::StreamExt;
use relaybox_client::{connect, random_topic, ConnectOptions, Keypair};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ws://127.0.0.1:8080".to_owned());
    // The key is the wallet's identity, and so its mailbox: keep it.
    let wallet_key = Keypair::generate();
    let topic = random_topic();

    // 1. The wallet subscribes, then disconnects. The subscription is
    //    durable: it belongs to the wallet's client id, not to the socket.
    let wallet = connect(&url, wallet_key.clone(), ConnectOptions::default()).await?;
    drop(wallet.subscribe(topic).await?);
    wallet.close().await;
    println!("wallet subscribed to {topic} and went offline");

    // 2. The dapp publishes while the wallet is away.
    let dapp = connect(&url, Keypair::generate(), ConnectOptions::default()).await?;
    for i in 1..=3 {
        dapp.publish(
            topic,
            format!("queued #{i}"),
            Duration::from_secs(3600),
            1108,
            true,
        )
        .await?;
        println!("dapp published queued #{i}");
    }
    dapp.close().await;

    // 3. The wallet comes back with the same key. The relay pushes its
    //    mailbox as soon as the socket is up; the SDK holds those messages
    //    until the application subscribes again.
    let wallet = connect(&url, wallet_key, ConnectOptions::default()).await?;
    let mut messages = wallet.subscribe(topic).await?;
    println!("wallet is back");
    for _ in 0..3 {
        let message = tokio::time::timeout(Duration::from_secs(10), messages.next())
            .await?
            .ok_or("subscription ended")?;
        println!("wallet received {:?}", message.message);
    }

    messages.unsubscribe().await?;
    wallet.close().await;
    Ok(())
}
