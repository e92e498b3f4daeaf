//! Two clients on one relay: one subscribes to a topic, the other publishes
//! three messages to it, and the subscriber prints them as they arrive.
//!
//! Run with: cargo run -p relaybox-client --example publish_subscribe -- ws://127.0.0.1:8080
//!
//! (Start a relay first, e.g. `cargo run -p relaybox -- serve`.)

use std::time::Duration;

use futures_util::StreamExt;
use relaybox_client::{connect, random_topic, ConnectOptions, Event, Keypair};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ws://127.0.0.1:8080".to_owned());

    let wallet = connect(&url, Keypair::generate(), ConnectOptions::default()).await?;
    let dapp = connect(&url, Keypair::generate(), ConnectOptions::default()).await?;
    println!("wallet {}\ndapp   {}", wallet.client_id(), dapp.client_id());

    // Report connection trouble in the background.
    let mut events = wallet.events();
    tokio::spawn(async move {
        while let Some(event) = events.next().await {
            if event != Event::Connected {
                eprintln!("wallet: {event:?}");
            }
        }
    });

    let topic = random_topic();
    let mut messages = wallet.subscribe(topic).await?;
    println!("subscribed to {topic}");

    for i in 1..=3 {
        // tag 1108 = wc_sessionRequest; ttl 300 s; prompt = push hint.
        dapp.publish(
            topic,
            format!("request #{i}"),
            Duration::from_secs(300),
            1108,
            true,
        )
        .await?;
        println!("published request #{i} (the relay has it on disk)");
    }

    for _ in 0..3 {
        // Taking the message from the stream acknowledges it to the relay.
        let message = tokio::time::timeout(Duration::from_secs(10), messages.next())
            .await?
            .ok_or("subscription ended")?;
        println!(
            "received {:?} (tag {}, published at {} ms)",
            message.message, message.tag, message.published_at
        );
    }

    messages.unsubscribe().await?;
    wallet.close().await;
    dapp.close().await;
    Ok(())
}
