//! Per-client delivery state: pending, ack, fetch.
//!
//! For each `(client, topic)` the store keeps a cursor `c` ("every seq <= c
//! is done for this client") and, above it, one key per out-of-order ack.
//! A message is pending when it lies above the cursor, is not acked, was
//! not published by the client and has not expired. Because seqs only grow,
//! a new message always lands above every cursor, and a new pair starts at
//! 0, which is what makes "store before subscribe" work.
//!
//! Changes run under the pair's stripe lock so concurrent acks cannot move
//! a cursor backwards. Ack batches are not flushed: a lost ack only means a
//! redelivery, which clients deduplicate.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::codec;
use super::keys::{self, ClientHash};
use super::SledStore;
use crate::error::Result;
use crate::types::{PendingPage, TopicKey};

impl SledStore {
    pub(super) fn pending_blocking(
        &self,
        client: &str,
        topic: TopicKey,
        after: u64,
        limit: usize,
        now_ms: u64,
    ) -> Result<PendingPage> {
        let ch = keys::client_hash(client);
        let _guard = self.pair_locks.pair(&ch, &topic).lock();
        self.pending_locked(client, &ch, &topic, after, limit, now_ms)
    }

    pub(super) fn ack_blocking(
        &self,
        client: &str,
        topic: TopicKey,
        seqs: &[u64],
        now_ms: u64,
    ) -> Result<()> {
        let ch = keys::client_hash(client);
        let _guard = self.pair_locks.pair(&ch, &topic).lock();
        self.ack_locked(client, &ch, &topic, seqs, now_ms)
    }

    pub(super) fn fetch_blocking(
        &self,
        client: &str,
        topic: TopicKey,
        limit: usize,
        now_ms: u64,
    ) -> Result<PendingPage> {
        let ch = keys::client_hash(client);
        let _guard = self.pair_locks.pair(&ch, &topic).lock();
        let page = self.pending_locked(client, &ch, &topic, 0, limit, now_ms)?;
        let seqs: Vec<u64> = page.messages.iter().map(|m| m.seq).collect();
        self.ack_locked(client, &ch, &topic, &seqs, now_ms)?;
        Ok(page)
    }

    /// The pair's cursor; an unreadable one counts as 0, which can only
    /// cause redelivery, never loss.
    pub(super) fn cursor(&self, ch: &ClientHash, topic: &TopicKey) -> Result<u64> {
        let Some(bytes) = self.tree.get(keys::cursor(ch, topic))? else {
            return Ok(0);
        };
        Ok(codec::decode_u64(&bytes, "cursor").unwrap_or_else(|e| {
            tracing::error!(topic = %topic, error = %e, "corrupt cursor; restarting from 0");
            0
        }))
    }

    /// Seqs individually acked above `above` (white-box tests only; the
    /// hot paths walk acks lazily with [`AckWalk`]).
    #[cfg(test)]
    pub(super) fn acks_above(
        &self,
        ch: &ClientHash,
        topic: &TopicKey,
        above: u64,
    ) -> Result<BTreeSet<u64>> {
        let mut out = BTreeSet::new();
        let Some(from) = above.checked_add(1) else {
            return Ok(out);
        };
        let mut walk = AckWalk::new(&self.tree, ch, topic, from)?;
        while let Some(seq) = walk.head {
            out.insert(seq);
            walk.advance()?;
        }
        Ok(out)
    }

    /// Pending page as a snapshot up to the topic's newest seq.
    fn pending_locked(
        &self,
        client: &str,
        ch: &ClientHash,
        topic: &TopicKey,
        after: u64,
        limit: usize,
        now_ms: u64,
    ) -> Result<PendingPage> {
        // Read the newest seq first: everything up to it is already visible
        // (appends publish meta after their batch), so bounding the scan by
        // it yields an exact snapshot the gateway can chain `prev_seq` onto.
        let last_seq = self.last_seq(topic)?;
        let mut page = PendingPage {
            messages: Vec::new(),
            last_seq,
            has_more: false,
        };
        let from = after.max(self.cursor(ch, topic)?).saturating_add(1);
        if from > last_seq {
            return Ok(page);
        }
        let mut acked = AckWalk::new(&self.tree, ch, topic, from)?;
        let start = keys::message(topic, from);
        let end = keys::message(topic, last_seq);
        for item in self.tree.range(&start[..]..=&end[..]) {
            let (key, value) = item?;
            let Some(seq) = keys::message_seq(&key, topic) else {
                continue;
            };
            if acked.contains(seq)? {
                continue;
            }
            match codec::decode_header(&value) {
                Ok(h) if h.publisher == client.as_bytes() || h.expires_at_ms <= now_ms => continue,
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(topic = %topic, seq, error = %e, "skipping corrupt message record");
                    continue;
                }
            }
            // Decode fully before counting it, so `has_more` never promises
            // a message that cannot be delivered (clients loop on it).
            let message = match codec::decode_message(*topic, seq, &value) {
                Ok(m) => m,
                Err(e) => {
                    tracing::error!(topic = %topic, seq, error = %e, "skipping corrupt message record");
                    continue;
                }
            };
            if page.messages.len() >= limit {
                page.has_more = true;
                break;
            }
            page.messages.push(Arc::new(message));
        }
        Ok(page)
    }

    /// Records acks, then moves the cursor over every consecutive stored
    /// message that is acked, own or expired, dropping the ack keys (and
    /// orphans of swept messages) it passes.
    fn ack_locked(
        &self,
        client: &str,
        ch: &ClientHash,
        topic: &TopicKey,
        seqs: &[u64],
        now_ms: u64,
    ) -> Result<()> {
        let cursor = self.cursor(ch, topic)?;
        let mut fresh = BTreeSet::new();
        for &seq in seqs {
            if seq <= cursor || fresh.contains(&seq) {
                continue;
            }
            // Acks for seqs that hold no message would only be garbage.
            if !self.tree.contains_key(keys::ack(ch, topic, seq))?
                && self.tree.contains_key(keys::message(topic, seq))?
            {
                fresh.insert(seq);
            }
        }
        if fresh.is_empty() {
            return Ok(());
        }

        // Walk messages and stored acks side by side from the cursor; the
        // walk stops at the first message still owed, so its cost is what
        // it passes, not the number of acks stored above it.
        let Some(from) = cursor.checked_add(1) else {
            return Ok(());
        };
        let mut stored_acks = AckWalk::new(&self.tree, ch, topic, from)?;
        let mut new_cursor = cursor;
        let start = keys::message(topic, from);
        let end = keys::message(topic, u64::MAX);
        for item in self.tree.range(&start[..]..=&end[..]) {
            let (key, value) = item?;
            let Some(seq) = keys::message_seq(&key, topic) else {
                break;
            };
            let done = fresh.contains(&seq)
                || stored_acks.contains(seq)?
                || match codec::decode_header(&value) {
                    Ok(h) => h.publisher == client.as_bytes() || h.expires_at_ms <= now_ms,
                    // Undeliverable anyway; do not let it pin the cursor.
                    Err(_) => true,
                };
            if !done {
                break;
            }
            new_cursor = seq;
        }

        // Single writes, not a batch (a sled 0.34 batch seals an IO buffer
        // each time). Cursor first: a crash that keeps it but not the
        // removals below leaves ack keys at or under the cursor, which every
        // reader ignores and the next advance deletes.
        if new_cursor > cursor {
            self.tree
                .insert(&keys::cursor(ch, topic)[..], &new_cursor.to_be_bytes()[..])?;
            // Stored acks the cursor passed, including orphans of swept
            // messages, are now implied by the cursor.
            let first = keys::ack(ch, topic, from);
            let last = keys::ack(ch, topic, new_cursor);
            let passed: Vec<_> = self
                .tree
                .range(&first[..]..=&last[..])
                .keys()
                .collect::<std::result::Result<_, _>>()?;
            for key in passed {
                self.tree.remove(key)?;
            }
        }
        for &seq in fresh.range(new_cursor.saturating_add(1)..) {
            self.tree.insert(&keys::ack(ch, topic, seq)[..], &[][..])?;
        }
        Ok(())
    }
}

/// Lazily walks one pair's stored ack keys in seq order, answering
/// "is this seq acked?" for increasing seqs without loading them all.
struct AckWalk {
    iter: sled::Iter,
    /// The smallest stored ack not yet passed.
    head: Option<u64>,
}

impl AckWalk {
    fn new(tree: &sled::Tree, ch: &ClientHash, topic: &TopicKey, from: u64) -> Result<Self> {
        let start = keys::ack(ch, topic, from);
        let end = keys::ack(ch, topic, u64::MAX);
        let mut walk = Self {
            iter: tree.range(&start[..]..=&end[..]),
            head: None,
        };
        walk.advance()?;
        Ok(walk)
    }

    fn advance(&mut self) -> Result<()> {
        self.head = None;
        for item in self.iter.by_ref() {
            let (key, _) = item?;
            if let Some(seq) = keys::ack_seq(&key) {
                self.head = Some(seq);
                break;
            }
        }
        Ok(())
    }

    /// Whether `seq` is acked; calls must come with increasing `seq`.
    fn contains(&mut self, seq: u64) -> Result<bool> {
        while let Some(head) = self.head {
            if head >= seq {
                return Ok(head == seq);
            }
            self.advance()?;
        }
        Ok(false)
    }
}
