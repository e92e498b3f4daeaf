//! Appending messages: dedup, the per-topic limit, seq allocation.
//!
//! The whole append runs under the topic's stripe lock: the seq is taken
//! from sled's crash-safe id generator and the records are inserted before
//! the lock is released, so within a topic seqs become visible strictly in
//! order and a reader can never see seq N+k while N is still missing.

use std::collections::BTreeSet;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::codec::{self, DedupEntry, RecordFields, TopicMeta};
use super::keys;
use super::SledStore;
use crate::error::{Error, Result};
use crate::types::{Appended, NewMessage, StoredMessage, TopicKey};

/// What the dedup index says about a message body.
enum Dedup {
    /// Not stored (or the entry was unusable): store it.
    Absent,
    /// Stored and still live: do not store again.
    Live(StoredMessage),
    /// Stored but expired and not yet swept: replace it.
    Expired(u64),
}

impl SledStore {
    pub(super) fn append_blocking(&self, msg: NewMessage) -> Result<Appended> {
        let hash: [u8; 32] = Sha256::digest(msg.message.as_bytes()).into();
        let now = msg.published_at_ms;
        let expires_at_ms = now.saturating_add(u64::from(msg.ttl_secs).saturating_mul(1000));
        let topic = msg.topic;

        let _guard = self.topic_locks.topic(&topic).lock();
        let before = self.meta_locked(&topic)?;
        let meta = before.unwrap_or_default();

        let mut doomed = BTreeSet::new();
        match self.dedup_lookup(&topic, &hash, now)? {
            Dedup::Live(existing) => {
                return Ok(Appended {
                    message: Arc::new(existing),
                    prev_seq: meta.last_seq,
                    duplicate: true,
                });
            }
            Dedup::Expired(seq) => {
                doomed.insert(seq);
            }
            Dedup::Absent => {}
        }
        if meta.count.saturating_sub(doomed.len() as u64) >= self.max_per_topic {
            // Expired messages still count until the sweeper runs; purge
            // them here so the limit really is a limit on *live* messages.
            self.collect_expired(&topic, now, &mut doomed)?;
            if meta.count.saturating_sub(doomed.len() as u64) >= self.max_per_topic {
                return Err(Error::MailboxFull);
            }
        }

        // sled ids start at 0; seqs start at 1 so 0 can mean "none".
        let seq = self.db.generate_id()?.saturating_add(1);
        let record = codec::encode_message(&RecordFields {
            tag: msg.tag,
            prompt: msg.prompt,
            published_at_ms: now,
            expires_at_ms,
            hash: &hash,
            publisher: &msg.publisher,
            attestation: msg.attestation.as_deref(),
            message: &msg.message,
        });
        let dedup = codec::encode_dedup(DedupEntry { seq, expires_at_ms });
        let mut after = TopicMeta {
            count: meta.count + 1,
            last_seq: seq,
        };
        if doomed.is_empty() {
            // The common case writes its records one by one: in sled 0.34
            // every apply_batch seals an IO buffer, which made appends about
            // 13x slower and wrote 3x the bytes. The order (message, dedup,
            // expiry, meta) is chosen so that every prefix a crash can leave
            // is one that `recovery` completes at the next open.
            self.tree.insert(&keys::message(&topic, seq)[..], record)?;
            self.tree
                .insert(&keys::dedup(&topic, &hash)[..], &dedup[..])?;
            self.tree
                .insert(&keys::expiry(expires_at_ms, &topic, seq)[..], &[][..])?;
            self.write_meta(&topic, after)?;
        } else {
            // Rare (replacing expired copies): one atomic batch.
            let mut batch = sled::Batch::default();
            let mut removed = 0u64;
            for &old in &doomed {
                if self.stage_delete(&mut batch, &topic, old)? {
                    removed += 1;
                }
            }
            after.count = meta.count.saturating_sub(removed) + 1;
            batch.insert(&keys::message(&topic, seq)[..], record);
            // Inserted after any staged delete of the same key, so it wins.
            batch.insert(&keys::dedup(&topic, &hash)[..], &dedup[..]);
            batch.insert(&keys::expiry(expires_at_ms, &topic, seq)[..], &[][..]);
            self.stage_meta(&mut batch, &topic, after);
            self.tree.apply_batch(batch)?;
        }
        self.commit_meta(&topic, before, after);

        Ok(Appended {
            message: Arc::new(StoredMessage {
                seq,
                topic,
                message: msg.message,
                tag: msg.tag,
                prompt: msg.prompt,
                published_at_ms: now,
                expires_at_ms,
                publisher: msg.publisher,
                attestation: msg.attestation,
            }),
            prev_seq: meta.last_seq,
            duplicate: false,
        })
    }

    fn dedup_lookup(&self, topic: &TopicKey, hash: &[u8; 32], now: u64) -> Result<Dedup> {
        let Some(bytes) = self.tree.get(keys::dedup(topic, hash))? else {
            return Ok(Dedup::Absent);
        };
        let entry = match codec::decode_dedup(&bytes) {
            Ok(entry) => entry,
            Err(e) => {
                // Overwritten by this append; the worst case is one extra copy.
                tracing::error!(topic = %topic, error = %e, "corrupt dedup entry");
                return Ok(Dedup::Absent);
            }
        };
        if entry.expires_at_ms <= now {
            return Ok(Dedup::Expired(entry.seq));
        }
        let Some(record) = self.tree.get(keys::message(topic, entry.seq))? else {
            tracing::warn!(topic = %topic, seq = entry.seq, "dedup entry points at a missing message");
            return Ok(Dedup::Absent);
        };
        match codec::decode_message(*topic, entry.seq, &record) {
            Ok(m) => Ok(Dedup::Live(m)),
            Err(e) => {
                tracing::error!(topic = %topic, seq = entry.seq, error = %e, "corrupt message behind dedup entry; storing a fresh copy");
                Ok(Dedup::Absent)
            }
        }
    }

    /// Adds the seqs of the topic's expired messages to `out`.
    fn collect_expired(&self, topic: &TopicKey, now: u64, out: &mut BTreeSet<u64>) -> Result<()> {
        for item in self.tree.scan_prefix(keys::message_prefix(topic)) {
            let (key, value) = item?;
            let Some(seq) = keys::message_seq(&key, topic) else {
                continue;
            };
            match codec::decode_header(&value) {
                Ok(h) if h.expires_at_ms <= now => {
                    out.insert(seq);
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(topic = %topic, seq, error = %e, "skipping corrupt message record")
                }
            }
        }
        Ok(())
    }
}
