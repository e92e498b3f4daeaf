//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use relaybox_disk::{DiskConfig, DiskStore};
use relaybox_store::{NewMessage, PendingPage, TopicKey};

pub const ALICE: &str = "did:key:z6MkAliceAliceAliceAliceAliceAliceAliceAliceAlice";
pub const BOB: &str = "did:key:z6MkBobBobBobBobBobBobBobBobBobBobBobBobBobBobBob";
pub const CAROL: &str = "did:key:z6MkCarolCarolCarolCarolCarolCarolCarolCarolCarol";

pub fn topic(n: u8) -> TopicKey {
    let mut t = [0xa5; 32];
    t[0] = n;
    TopicKey(t)
}

pub fn open(dir: &Path) -> Arc<DiskStore> {
    DiskStore::open(DiskConfig::new(dir)).unwrap()
}

pub fn open_with_limit(dir: &Path, max: usize) -> Arc<DiskStore> {
    let mut cfg = DiskConfig::new(dir);
    cfg.max_messages_per_topic = max;
    DiskStore::open(cfg).unwrap()
}

pub fn msg(topic: TopicKey, body: &str, publisher: &str, ttl_secs: u32, now_ms: u64) -> NewMessage {
    NewMessage {
        topic,
        message: body.into(),
        tag: 1108,
        ttl_secs,
        prompt: false,
        attestation: None,
        publisher: publisher.into(),
        published_at_ms: now_ms,
    }
}

pub fn seqs(page: &PendingPage) -> Vec<u64> {
    page.messages.iter().map(|m| m.seq).collect()
}
