//! Clients gone for good lose their state; clients seen since keep it.

mod common;

use common::{msg, open, topic, ALICE, BOB, CAROL};
use relaybox_store::MailboxStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_clients_lose_subscriptions_and_positions_others_keep_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    for c in [ALICE, BOB] {
        store.subscribe(c, topic(1), 10_000).await.unwrap();
        store.subscribe(c, topic(2), 10_000).await.unwrap();
        // (A subscribe counts as seen, on the wall clock; this test's clock
        // is small fake values, so set the time explicitly afterwards.)
        store.touch(c, 1_000, 0).await.unwrap();
    }
    let m = store
        .append(msg(topic(1), "x", CAROL, 600, 1_000))
        .await
        .unwrap();
    store
        .ack(ALICE, topic(1), &[m.message.seq], 1_000)
        .await
        .unwrap();
    // Bob comes back later; Alice does not.
    store.touch(BOB, 50_000, 0).await.unwrap();
    assert_eq!(store.sweep_idle_clients(10_000, 100).await.unwrap(), 1);
    assert_eq!(store.subscription_count(ALICE).await.unwrap(), 0);
    assert_eq!(store.subscriptions(BOB).await.unwrap().len(), 2);
    // Alice's position went too: the message is pending for her again if
    // she ever subscribes anew (as for any new subscriber).
    let page = store.pending(ALICE, topic(1), 0, 10, 2_000).await.unwrap();
    assert_eq!(page.messages.len(), 1);
    // Nothing left to sweep; the swept client's limit count starts over.
    assert_eq!(store.sweep_idle_clients(10_000, 100).await.unwrap(), 0);
    assert!(store.subscribe(ALICE, topic(3), 1).await.unwrap());

    // Last-seen times survive a restart; Alice's new subscription counts as
    // seen now.
    store.close().await.unwrap();
    drop(store);
    let store = open(dir.path());
    assert_eq!(store.sweep_idle_clients(40_000, 100).await.unwrap(), 0);
    assert_eq!(store.subscriptions(BOB).await.unwrap().len(), 2);
    assert_eq!(store.sweep_idle_clients(60_000, 100).await.unwrap(), 1);
    assert_eq!(store.subscription_count(BOB).await.unwrap(), 0);
    assert_eq!(store.subscription_count(ALICE).await.unwrap(), 1);
}
