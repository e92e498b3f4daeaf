//! When each client was last seen, and the sweep of clients gone for good.
//!
//! A did:key costs nothing to make, so subscriptions and positions of
//! clients that never come back must not stay forever. A connect updates
//! the client's time in memory only; the store thread writes changed times
//! to sled (`l|client` and the time-ordered index `L|time|client`) with the
//! coalesced positions, and the sweep walks the index from the oldest time.

use std::collections::HashSet;

use relaybox_store::TopicKey;

use super::keys::{self, ClientHash};
use super::State;
use crate::error::{storage, DiskResult};

impl State {
    /// Records that the client was seen at `now_ms` (memory only).
    pub(crate) fn touch(&self, ch: ClientHash, now_ms: u64) {
        self.seen.insert(ch, now_ms);
    }

    /// Writes the last-seen times recorded since the previous call.
    pub(crate) fn flush_seen(&self) -> DiskResult<usize> {
        let changed: Vec<(ClientHash, u64)> =
            self.seen.iter().map(|e| (*e.key(), *e.value())).collect();
        for (ch, ms) in &changed {
            let key = keys::seen(ch);
            if let Some(old) = self.tree.get(key).map_err(storage)? {
                if let Ok(old) = <[u8; 8]>::try_from(&old[..]) {
                    let old = u64::from_be_bytes(old);
                    if old == *ms {
                        continue;
                    }
                    self.tree
                        .remove(keys::seen_index(old, ch))
                        .map_err(storage)?;
                }
            }
            self.tree
                .insert(keys::seen_index(*ms, ch), &[][..])
                .map_err(storage)?;
            self.tree
                .insert(key, &ms.to_be_bytes()[..])
                .map_err(storage)?;
        }
        for (ch, ms) in &changed {
            self.seen.remove_if(ch, |_, v| v == ms);
        }
        Ok(changed.len())
    }

    /// Clients with subscriptions but no last-seen record (stored by a
    /// version without it) count as seen now, so the sweep reaches them too.
    pub(crate) fn adopt_unseen_clients(&self, now_ms: u64) -> DiskResult<usize> {
        if self
            .tree
            .scan_prefix(keys::seen_all_prefix())
            .next()
            .is_some()
        {
            return Ok(0);
        }
        let mut clients = HashSet::new();
        for key in self.tree.scan_prefix(keys::sub_all_prefix()).keys() {
            if let Some(ch) = keys::sub_client(&key.map_err(storage)?) {
                clients.insert(ch);
            }
        }
        for ch in &clients {
            self.touch(*ch, now_ms);
        }
        Ok(clients.len())
    }

    /// Deletes subscriptions, positions and last-seen records of up to `max`
    /// clients last seen before `before_ms`; returns how many clients.
    pub(crate) fn sweep_idle(&self, before_ms: u64, max: usize) -> DiskResult<usize> {
        // Times still in memory are newer than what sled holds.
        self.flush_seen()?;
        let end = keys::seen_index(before_ms, &[0; 32]);
        let mut due = Vec::new();
        for key in self.tree.range(..end).keys() {
            let key = key.map_err(storage)?;
            if let Some(entry) = keys::parse_seen_index(&key) {
                due.push(entry);
            }
            if due.len() >= max {
                break;
            }
        }
        let mut swept = 0;
        for (ms, ch) in due {
            self.tree
                .remove(keys::seen_index(ms, &ch))
                .map_err(storage)?;
            let current = self.tree.get(keys::seen(&ch)).map_err(storage)?;
            if current.as_deref() != Some(&ms.to_be_bytes()[..]) || self.seen.contains_key(&ch) {
                continue; // seen again since: a stale index entry
            }
            self.forget_client(&ch)?;
            swept += 1;
        }
        Ok(swept)
    }

    /// Removes everything stored for one client.
    fn forget_client(&self, ch: &ClientHash) -> DiskResult<()> {
        // Read the topics before taking the count entry (the same map).
        let topics: Vec<TopicKey> = self.subscribed_topics(ch)?;
        self.positions.forget_client(ch);
        let mut count = self.sub_counts.entry(*ch).or_insert(0);
        let mut batch = sled::Batch::default();
        for topic in &topics {
            batch.remove(&keys::sub(ch, topic)[..]);
            batch.remove(&keys::sub_rev(topic, ch)[..]);
        }
        for key in self.tree.scan_prefix(keys::cursor_prefix(ch)).keys() {
            batch.remove(key.map_err(storage)?);
        }
        batch.remove(&keys::seen(ch)[..]);
        self.tree.apply_batch(batch).map_err(storage)?;
        self.subscriptions
            .fetch_sub(topics.len() as i64, std::sync::atomic::Ordering::Relaxed);
        *count = 0;
        drop(count);
        self.sub_counts.remove(ch);
        Ok(())
    }
}
