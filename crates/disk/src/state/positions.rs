//! Delivery positions: for each `(client, topic)` a cursor ("every seq at
//! or below it is done") and the seqs acknowledged above it.
//!
//! Acks arrive once per delivered message, so they must cost almost
//! nothing: they change the position in memory and mark it dirty, and a
//! flusher writes each dirty position to sled once per interval, whatever
//! the number of acks it absorbed. Losing the last interval in a crash only
//! moves positions back, which means redeliveries, which clients drop.
//! Positions are loaded from sled on first use and stay cached.

use std::collections::{BTreeSet, HashSet};

use dashmap::mapref::one::RefMut;
use dashmap::DashMap;
use parking_lot::Mutex;
use relaybox_store::TopicKey;

use super::keys::{self, ClientHash};
use crate::error::{storage, DiskResult};
use crate::index::Done;

/// A `(client, topic)` pair.
pub(crate) type PairKey = (ClientHash, TopicKey);

/// One pair's position.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Position {
    pub cursor: u64,
    pub acked: BTreeSet<u64>,
    /// The client is known to follow the topic (set when the subscription
    /// was read or written; not stored: lost with the cache entry, which
    /// then falls back to sled).
    pub followed: bool,
    /// The pair is in the dirty set already (not stored), so the many acks
    /// of one flush interval take the set's lock once, not once each.
    pub queued: bool,
}

impl Done for Position {
    fn cursor(&self) -> u64 {
        self.cursor
    }

    fn is_acked(&self, seq: u64) -> bool {
        seq <= self.cursor || self.acked.contains(&seq)
    }
}

impl Position {
    /// Moves the cursor to `to` and forgets the acks it passed.
    pub(crate) fn move_cursor(&mut self, to: u64) {
        if to > self.cursor {
            self.cursor = to;
            self.acked = self.acked.split_off(&(to + 1));
        }
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 * (1 + self.acked.len()));
        out.extend_from_slice(&self.cursor.to_be_bytes());
        for seq in &self.acked {
            out.extend_from_slice(&seq.to_be_bytes());
        }
        out
    }

    /// Decodes a stored position; an unreadable one restarts at 0, which
    /// can only cause redeliveries, never loss.
    fn decode(bytes: &[u8]) -> Position {
        if bytes.len() < 8 || !bytes.len().is_multiple_of(8) {
            tracing::error!(
                len = bytes.len(),
                "corrupt delivery position; restarting from 0"
            );
            return Position::default();
        }
        let mut words = bytes
            .chunks_exact(8)
            .map(|c| u64::from_be_bytes(c.try_into().unwrap_or([0; 8])));
        let cursor = words.next().unwrap_or(0);
        Position {
            cursor,
            acked: words.filter(|&s| s > cursor).collect(),
            followed: false,
            queued: false,
        }
    }
}

/// Owner of every cached position and of their persistence.
pub(crate) struct Positions {
    tree: sled::Tree,
    map: DashMap<PairKey, Position>,
    dirty: Mutex<HashSet<PairKey>>,
    /// Held while positions are written or deleted in sled, so a flush can
    /// never write back a position that `forget` just removed.
    persist: Mutex<()>,
}

impl Positions {
    pub(crate) fn new(tree: sled::Tree) -> Self {
        Self {
            tree,
            map: DashMap::new(),
            dirty: Mutex::new(HashSet::new()),
            persist: Mutex::new(()),
        }
    }

    /// The cached position, if loaded (never touches sled).
    pub(crate) fn cached(&self, key: &PairKey) -> Option<RefMut<'_, PairKey, Position>> {
        self.map.get_mut(key)
    }

    /// The position, loaded from sled if not cached (a blocking read).
    pub(crate) fn load(&self, key: &PairKey) -> DiskResult<RefMut<'_, PairKey, Position>> {
        if let Some(p) = self.map.get_mut(key) {
            return Ok(p);
        }
        let stored = self
            .tree
            .get(keys::cursor(&key.0, &key.1))
            .map_err(storage)?;
        let pos = stored.map(|b| Position::decode(&b)).unwrap_or_default();
        Ok(self.map.entry(*key).or_insert(pos))
    }

    /// Records that `key` changed and must be written by the next flush.
    pub(crate) fn mark_dirty(&self, key: PairKey) {
        self.dirty.lock().insert(key);
    }

    /// [`mark_dirty`](Self::mark_dirty) for a position the caller holds:
    /// only the first change since the last flush touches the dirty set.
    pub(crate) fn queue_write(&self, key: PairKey, pos: &mut Position) {
        if !pos.queued {
            pos.queued = true;
            self.mark_dirty(key);
        }
    }

    /// Drops the pair's position from memory and sled.
    pub(crate) fn forget(&self, key: &PairKey) -> DiskResult<()> {
        let _persist = self.persist.lock();
        self.map.remove(key);
        self.dirty.lock().remove(key);
        self.tree
            .remove(keys::cursor(&key.0, &key.1))
            .map_err(storage)?;
        Ok(())
    }

    /// Drops every cached position of one client (its state is being
    /// deleted from sled by the caller).
    pub(crate) fn forget_client(&self, ch: &ClientHash) {
        let _persist = self.persist.lock();
        self.map.retain(|k, _| k.0 != *ch);
        self.dirty.lock().retain(|k| k.0 != *ch);
    }

    /// Writes every dirty position to sled (not synced: see the module
    /// doc); returns how many. Failed ones stay dirty. Positions on topics
    /// the client does not follow stay in memory only: acks and fetches on
    /// arbitrary topics must not create lasting state.
    pub(crate) fn flush(&self) -> DiskResult<usize> {
        let pending: Vec<PairKey> = self.dirty.lock().drain().collect();
        if pending.is_empty() {
            return Ok(0);
        }
        let _persist = self.persist.lock();
        let mut written = 0;
        for (i, key) in pending.iter().enumerate() {
            // Read and unqueue under the entry's lock: a change after this
            // queues the pair again, one before it is in this value.
            let Some(value) = self.map.get_mut(key).map(|mut p| {
                p.queued = false;
                p.encode()
            }) else {
                continue;
            };
            match self.tree.contains_key(keys::sub(&key.0, &key.1)) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    self.dirty.lock().extend(pending[i..].iter().copied());
                    return Err(storage(e));
                }
            }
            if let Err(e) = self.tree.insert(keys::cursor(&key.0, &key.1), value) {
                self.dirty.lock().extend(pending[i..].iter().copied());
                return Err(storage(e));
            }
            written += 1;
        }
        Ok(written)
    }

    /// Drops clean cached positions once more than `keep` are cached (they
    /// are reloaded from sled when needed again).
    pub(crate) fn evict_clean(&self, keep: usize) {
        if self.map.len() <= keep {
            return;
        }
        let dirty = self.dirty.lock().clone();
        let _persist = self.persist.lock();
        let mut excess = self.map.len() - keep;
        self.map.retain(|k, _| {
            if excess == 0 || dirty.contains(k) {
                return true;
            }
            excess -= 1;
            false
        });
    }

    /// Positions cached in memory.
    pub(crate) fn cached_count(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_round_trips_and_garbage_restarts_at_zero() {
        let p = Position {
            cursor: 7,
            acked: [9, 12].into_iter().collect(),
            followed: false,
            queued: false,
        };
        assert_eq!(Position::decode(&p.encode()), p);
        // The 8-byte form written by earlier versions is a bare cursor.
        assert_eq!(Position::decode(&7u64.to_be_bytes()).cursor, 7);
        assert_eq!(Position::decode(&[1, 2, 3]), Position::default());
    }

    #[test]
    fn moving_the_cursor_forgets_passed_acks() {
        let mut p = Position {
            cursor: 1,
            acked: [3, 5, 8].into_iter().collect(),
            followed: true,
            queued: false,
        };
        p.move_cursor(5);
        assert_eq!(p.acked, [8].into_iter().collect());
        assert!(p.is_acked(4) && p.is_acked(8) && !p.is_acked(6));
    }

    #[test]
    fn flush_writes_once_and_forget_is_final() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        let tree = db.open_tree("t").unwrap();
        let pos = Positions::new(tree.clone());
        let key = ([1; 32], TopicKey([2; 32]));
        // Not subscribed: the position lives in memory only.
        pos.load(&key).unwrap().move_cursor(1);
        pos.mark_dirty(key);
        assert_eq!(pos.flush().unwrap(), 0);
        tree.insert(keys::sub(&key.0, &key.1), &[][..]).unwrap();
        for seq in 1..=100 {
            pos.load(&key).unwrap().move_cursor(seq);
            pos.mark_dirty(key);
        }
        assert_eq!(pos.flush().unwrap(), 1);
        assert_eq!(pos.flush().unwrap(), 0);
        let fresh = Positions::new(tree.clone());
        assert_eq!(fresh.load(&key).unwrap().cursor, 100);
        pos.mark_dirty(key);
        pos.forget(&key).unwrap();
        assert_eq!(pos.flush().unwrap(), 0);
        assert_eq!(Positions::new(tree).load(&key).unwrap().cursor, 0);
    }
}
