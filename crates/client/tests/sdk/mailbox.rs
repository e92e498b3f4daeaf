//! The sticky mailbox seen through the SDK: subscribe, go away, come back.

use relaybox_client::{random_topic, Keypair};

use crate::common::{assert_quiet, client, client_as, next, options, within, TestRelay, TTL};

#[tokio::test]
async fn messages_published_while_offline_arrive_on_return() {
    let relay = TestRelay::start().await;
    let alice = client(&relay).await;
    let bob_key = Keypair::generate();
    let topic = random_topic();

    let bob = client_as(&relay, bob_key.clone(), options()).await;
    drop(within(bob.subscribe(topic)).await.unwrap());
    bob.close().await;

    for i in 0..3 {
        within(alice.publish(topic, format!("while away {i}"), TTL, 0, false))
            .await
            .unwrap();
    }

    // Same key, new client: the relay pushes the mailbox as soon as the
    // socket is up, before the application subscribes again; the SDK holds
    // those pushes for the Subscription.
    let bob = client_as(&relay, bob_key, options()).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let mut sub = within(bob.subscribe(topic)).await.unwrap();
    for i in 0..3 {
        assert_eq!(next(&mut sub).await.message, format!("while away {i}"));
    }
    assert_quiet(&mut sub).await;
    relay.stop_owned().await;
}
