//! Completing what a crash interrupted.
//!
//! Appends and acks write their keys one by one (a sled 0.34 batch costs an
//! IO-buffer seal each time), so a crash can leave a prefix of an append:
//! a message record without its dedup entry, expiry index entry or updated
//! topic meta. sled recovers a prefix of its log, so nothing later than the
//! crash point survives, and those are the only torn states. After an
//! unclean stop, `recover` re-derives the index entries and the topic meta
//! from the message records. A clean `close` leaves a marker so the scan is
//! skipped; the marker is removed at open, before any new write, so a later
//! crash always finds it gone.

use std::collections::HashMap;

use super::codec::{self, DedupEntry, TopicMeta};
use super::keys;
use super::SledStore;
use crate::error::Result;
use crate::types::TopicKey;

/// Outside every record prefix of `keys`.
const CLEAN_SHUTDOWN: &[u8] = b"~clean-shutdown";

/// What `recover` found and fixed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    /// The previous run closed cleanly; nothing was scanned.
    pub clean: bool,
    pub messages_scanned: u64,
    pub index_entries_restored: u64,
    pub topics_recounted: u64,
}

impl SledStore {
    /// Marks a clean shutdown; called by `close` before its final flush.
    pub(super) fn mark_clean(&self) -> Result<()> {
        self.tree.insert(CLEAN_SHUTDOWN, &[][..])?;
        Ok(())
    }

    /// Runs at open, before anything else touches the tree.
    pub(super) fn recover(tree: &sled::Tree) -> Result<Recovery> {
        if tree.remove(CLEAN_SHUTDOWN)?.is_some() {
            return Ok(Recovery {
                clean: true,
                ..Recovery::default()
            });
        }
        let mut report = Recovery::default();
        let mut topics: HashMap<TopicKey, TopicMeta> = HashMap::new();
        for item in tree.scan_prefix(keys::message_prefix_all()) {
            let (key, value) = item?;
            let Some((topic, seq)) = keys::parse_message(&key) else {
                continue;
            };
            report.messages_scanned += 1;
            let meta = topics.entry(topic).or_default();
            meta.count += 1;
            meta.last_seq = meta.last_seq.max(seq);
            let Ok(h) = codec::decode_header(&value) else {
                continue;
            };
            let expiry = keys::expiry(h.expires_at_ms, &topic, seq);
            if !tree.contains_key(expiry)? {
                tree.insert(&expiry[..], &[][..])?;
                report.index_entries_restored += 1;
            }
            let dedup_key = keys::dedup(&topic, &h.hash);
            let points_here = match tree.get(dedup_key)? {
                Some(bytes) => codec::decode_dedup(&bytes).is_ok_and(|d| d.seq >= seq),
                None => false,
            };
            if !points_here {
                let entry = codec::encode_dedup(DedupEntry {
                    seq,
                    expires_at_ms: h.expires_at_ms,
                });
                tree.insert(&dedup_key[..], &entry[..])?;
                report.index_entries_restored += 1;
            }
        }
        // Topic meta: recount every topic with messages, drop the others.
        for item in tree.scan_prefix(keys::topic_meta_prefix()) {
            let (key, value) = item?;
            let Some(topic) = keys::parse_topic_meta(&key) else {
                continue;
            };
            let stored = codec::decode_meta(&value).ok();
            match topics.remove(&topic) {
                Some(actual) if stored == Some(actual) => {}
                Some(actual) => {
                    tree.insert(&key, &codec::encode_meta(actual)[..])?;
                    report.topics_recounted += 1;
                }
                None => {
                    tree.remove(&key)?;
                    report.topics_recounted += 1;
                }
            }
        }
        for (topic, actual) in topics {
            tree.insert(
                &keys::topic_meta(&topic)[..],
                &codec::encode_meta(actual)[..],
            )?;
            report.topics_recounted += 1;
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::{MailboxStore, NewMessage, SledConfig};

    const T: TopicKey = TopicKey([9; 32]);

    fn msg(body: &str, ttl_secs: u32) -> NewMessage {
        NewMessage {
            topic: T,
            message: body.into(),
            tag: 1,
            ttl_secs,
            prompt: false,
            attestation: None,
            publisher: "did:key:z6MkPublisher".into(),
            published_at_ms: 1_000,
        }
    }

    /// Simulates a crash after the message record of an append was written
    /// but before its dedup, expiry and meta writes, then reopens.
    #[tokio::test]
    async fn a_torn_append_is_completed_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let torn_seq;
        {
            let store = SledStore::open(SledConfig::new(&path)).unwrap();
            store.append(msg("first", 60)).await.unwrap();
            let a = store.append(msg("torn", 60)).await.unwrap();
            torn_seq = a.message.seq;
            let hash: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(b"torn").into();
            store.tree.remove(keys::dedup(&T, &hash)).unwrap();
            store
                .tree
                .remove(keys::expiry(a.message.expires_at_ms, &T, torn_seq))
                .unwrap();
            // Meta as it was before the torn append.
            let before = TopicMeta {
                count: 1,
                last_seq: torn_seq - 1,
            };
            store
                .tree
                .insert(keys::topic_meta(&T), &codec::encode_meta(before)[..])
                .unwrap();
            store.db.flush().unwrap();
            // No close(): an unclean stop.
            drop(store);
        }
        let store = reopen(&path).await;
        let page = store
            .pending("did:key:z6MkReader", T, 0, 10, 2_000)
            .await
            .unwrap();
        let seqs: Vec<u64> = page.messages.iter().map(|m| m.seq).collect();
        assert_eq!(page.last_seq, torn_seq, "meta recounted");
        assert_eq!(seqs.len(), 2);
        assert_eq!(seqs[1], torn_seq);
        let dup = store.append(msg("torn", 60)).await.unwrap();
        assert!(dup.duplicate, "dedup entry restored");
        assert_eq!(
            store.sweep_expired(1_000 + 61_000, 100).await.unwrap(),
            2,
            "expiry entries restored"
        );
        store.close().await.unwrap();
    }

    #[tokio::test]
    async fn a_clean_close_skips_the_scan_and_the_next_crash_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let store = SledStore::open(SledConfig::new(&path)).unwrap();
        store.append(msg("a", 60)).await.unwrap();
        store.close().await.unwrap();
        drop(store);
        let db = sled::open(&path).unwrap();
        let tree = db.open_tree(crate::MAILBOX_TREE).unwrap();
        assert!(SledStore::recover(&tree).unwrap().clean);
        // The marker is consumed: a crash after this open is scanned.
        let again = SledStore::recover(&tree).unwrap();
        assert!(!again.clean);
        assert_eq!(again.messages_scanned, 1);
        assert_eq!(again.index_entries_restored, 0);
    }

    async fn reopen(path: &std::path::Path) -> Arc<SledStore> {
        // sled releases its file lock when the last handle drops; the
        // committer task may still hold one for a moment.
        for _ in 0..100 {
            match SledStore::open(SledConfig::new(path)) {
                Ok(s) => return s,
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            }
        }
        panic!("could not reopen the store");
    }
}
