//! The in-memory index of one topic's live messages.
//!
//! Built at start-up from the log and kept by the appends, it answers
//! everything the hot paths ask without touching disk: the next pending
//! seqs for a client, whether a body is a duplicate, whether the topic is
//! full, which seqs have expired. Bodies stay in the log; an entry holds
//! only where its record is.
//!
//! Publishers are kept as a 64-bit keyed hash of their client id: equal ids
//! always match, and the per-process random key keeps anyone from choosing
//! an id whose hash collides with another client's.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{BuildHasher, Hasher};

use crate::log::Location;

/// One stored message as the index sees it.
pub(crate) struct Entry {
    pub expires_at_ms: u64,
    pub publisher: u64,
    pub hash: [u8; 32],
    pub loc: Location,
}

/// Hashes client ids for publisher comparisons.
#[derive(Clone)]
pub(crate) struct ClientHasher(std::collections::hash_map::RandomState);

impl ClientHasher {
    pub(crate) fn new() -> Self {
        Self(std::collections::hash_map::RandomState::new())
    }

    pub(crate) fn hash(&self, client: &[u8]) -> u64 {
        let mut h = self.0.build_hasher();
        h.write(client);
        h.finish()
    }
}

/// A message a reader should look at: its seq and record.
pub(crate) struct Due {
    pub seq: u64,
    pub loc: Location,
}

/// How far a client is in a topic: everything at or below `cursor` is done,
/// and so is every seq in `acked` above it.
pub(crate) trait Done {
    fn cursor(&self) -> u64;
    fn is_acked(&self, seq: u64) -> bool;
}

/// One topic's live (and expired but not yet purged) messages.
#[derive(Default)]
pub(crate) struct TopicIndex {
    entries: BTreeMap<u64, Entry>,
    by_expiry: BTreeSet<(u64, u64)>,
    dedup: HashMap<[u8; 32], u64>,
    last_seq: u64,
}

impl TopicIndex {
    /// Seq of the newest append ever indexed here (0 if none).
    pub(crate) fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Messages held, expired ones not yet purged included.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds a message. A duplicate body replaces the older entry in the
    /// dedup map only (start-up may meet an expired copy and its successor).
    pub(crate) fn insert(&mut self, seq: u64, entry: Entry) {
        self.by_expiry.insert((entry.expires_at_ms, seq));
        match self.dedup.get(&entry.hash) {
            Some(&old) if old > seq => {}
            _ => {
                self.dedup.insert(entry.hash, seq);
            }
        }
        self.entries.insert(seq, entry);
        self.last_seq = self.last_seq.max(seq);
    }

    /// The live entry holding the same body, if any.
    pub(crate) fn live_duplicate(&self, hash: &[u8; 32], now_ms: u64) -> Option<(u64, &Entry)> {
        let seq = *self.dedup.get(hash)?;
        let entry = self.entries.get(&seq)?;
        (entry.expires_at_ms > now_ms).then_some((seq, entry))
    }

    /// Drops an expired copy of this body, which a new copy replaces;
    /// returns whether there was one.
    pub(crate) fn drop_expired_copy(&mut self, hash: &[u8; 32], now_ms: u64) -> bool {
        let Some(&seq) = self.dedup.get(hash) else {
            return false;
        };
        match self.entries.get(&seq) {
            Some(e) if e.expires_at_ms <= now_ms => {
                self.by_expiry.remove(&(e.expires_at_ms, seq));
                self.entries.remove(&seq);
                self.dedup.remove(hash);
                true
            }
            _ => false,
        }
    }

    /// `(expires_at_ms, seq)` of every entry expired by `now_ms`, oldest
    /// expiry first (costs only what it yields).
    pub(crate) fn expired(&self, now_ms: u64) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.by_expiry.range(..=(now_ms, u64::MAX)).copied()
    }

    /// Removes one entry; returns whether it was there.
    pub(crate) fn remove(&mut self, seq: u64) -> bool {
        let Some(entry) = self.entries.remove(&seq) else {
            return false;
        };
        self.by_expiry.remove(&(entry.expires_at_ms, seq));
        if self.dedup.get(&entry.hash) == Some(&seq) {
            self.dedup.remove(&entry.hash);
        }
        true
    }

    /// Drops every entry that has expired by `now_ms`; returns how many.
    /// Costs only what it drops: the expiry order is indexed.
    pub(crate) fn purge_expired(&mut self, now_ms: u64) -> usize {
        let mut n = 0;
        while let Some(&(expires, seq)) = self.by_expiry.first() {
            if expires > now_ms {
                break;
            }
            self.by_expiry.pop_first();
            if let Some(entry) = self.entries.remove(&seq) {
                if self.dedup.get(&entry.hash) == Some(&seq) {
                    self.dedup.remove(&entry.hash);
                }
                n += 1;
            }
        }
        n
    }

    /// Up to `limit` messages (and at most `max_bytes` of records, but
    /// always at least one) that are pending for a client: above
    /// `max(after, cursor)`, not acked, not its own, not expired, up to
    /// `last_seq`. Returns them and whether more are pending.
    pub(crate) fn pending(
        &self,
        done: &impl Done,
        client: u64,
        after: u64,
        limit: usize,
        max_bytes: usize,
        now_ms: u64,
    ) -> (Vec<Due>, bool) {
        let from = after.max(done.cursor()).saturating_add(1);
        let mut out = Vec::new();
        let mut bytes = 0usize;
        for (&seq, e) in self.entries.range(from..) {
            if done.is_acked(seq) || e.publisher == client || e.expires_at_ms <= now_ms {
                continue;
            }
            if out.len() >= limit || (!out.is_empty() && bytes + e.loc.len as usize > max_bytes) {
                return (out, true);
            }
            bytes += e.loc.len as usize;
            out.push(Due {
                seq,
                loc: e.loc.clone(),
            });
        }
        (out, false)
    }

    /// Up to `max` live messages above `after`, whoever published them
    /// (the operator's walks).
    pub(crate) fn live_after(&self, after: u64, max: usize, now_ms: u64) -> Vec<Due> {
        self.entries
            .range(after.saturating_add(1)..)
            .filter(|(_, e)| e.expires_at_ms > now_ms)
            .take(max)
            .map(|(&seq, e)| Due {
                seq,
                loc: e.loc.clone(),
            })
            .collect()
    }

    /// Adds this topic's live messages to `schedule` by expiry.
    pub(crate) fn count_expiries(
        &self,
        schedule: &mut relaybox_store::ExpirySchedule,
        now_ms: u64,
    ) {
        for &(expires, _) in self.by_expiry.range((now_ms.saturating_add(1), 0)..) {
            schedule.add(expires, now_ms, 1);
        }
    }

    /// Removes every entry at or below `through`; returns how many, and
    /// the latest expiry among them (0 if none).
    pub(crate) fn remove_through(&mut self, through: u64) -> (usize, u64) {
        let seqs: Vec<u64> = self.entries.range(..=through).map(|(&s, _)| s).collect();
        let mut until = 0;
        for seq in &seqs {
            if let Some(e) = self.entries.get(seq) {
                until = until.max(e.expires_at_ms);
            }
            self.remove(*seq);
        }
        (seqs.len(), until)
    }

    /// Whether `seq` is a message here (acks of anything else are ignored).
    pub(crate) fn contains(&self, seq: u64) -> bool {
        self.entries.contains_key(&seq)
    }

    /// How far a cursor at `cursor` can move: over every following message
    /// that `done` says is done, or that is the client's own or expired.
    pub(crate) fn advance(
        &self,
        cursor: u64,
        done: impl Fn(u64) -> bool,
        client: u64,
        now_ms: u64,
    ) -> u64 {
        let mut to = cursor;
        for (&seq, e) in self.entries.range(cursor.saturating_add(1)..) {
            if done(seq) || e.publisher == client || e.expires_at_ms <= now_ms {
                to = seq;
            } else {
                break;
            }
        }
        to
    }
}
