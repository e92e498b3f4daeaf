//! The mailbox contract (`relaybox_store::testing`) on the embedded store;
//! `relaybox-redis` runs the same cases on Redis.

use std::sync::Arc;

use relaybox_disk::{DiskConfig, DiskStore};
use relaybox_store::testing::run_every_case;
use relaybox_store::MailboxStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_case_on_the_disk_store() {
    run_every_case(|limit| async move {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = DiskConfig::new(dir.path());
        cfg.max_messages_per_topic = limit;
        let store: Arc<dyn MailboxStore> = DiskStore::open(cfg).unwrap();
        (store, dir)
    })
    .await;
}
