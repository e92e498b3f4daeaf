//! Striped mutexes.
//!
//! Per-topic ordering needs "allocate seq, then insert" to be atomic per
//! topic, and cursor updates need read-modify-write per `(client, topic)`.
//! A fixed array of mutexes chosen by hash gives that without a global lock
//! and without a map of locks that would grow with the number of topics;
//! two keys sharing a stripe only contend, they never see wrong results.

use parking_lot::Mutex;

use super::keys::ClientHash;
use crate::types::TopicKey;

const STRIPES: usize = 1024;

/// A fixed set of mutexes addressed by key hash.
pub(crate) struct Stripes {
    locks: Box<[Mutex<()>]>,
}

impl Stripes {
    pub(crate) fn new() -> Self {
        Self {
            locks: (0..STRIPES).map(|_| Mutex::new(())).collect(),
        }
    }

    /// The stripe guarding `topic`'s append order and meta.
    pub(crate) fn topic(&self, topic: &TopicKey) -> &Mutex<()> {
        self.pick(fold(&topic.0))
    }

    /// The stripe guarding one client's delivery state on one topic.
    pub(crate) fn pair(&self, client: &ClientHash, topic: &TopicKey) -> &Mutex<()> {
        self.pick(fold(client) ^ fold(&topic.0).rotate_left(17))
    }

    fn pick(&self, h: u64) -> &Mutex<()> {
        // splitmix64 finaliser: every input bit affects the stripe index,
        // so structured (non-random) topics still spread out.
        let mut z = h;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        &self.locks[(z % self.locks.len() as u64) as usize]
    }
}

fn fold(bytes: &[u8; 32]) -> u64 {
    bytes.chunks_exact(8).fold(0u64, |acc, c| {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        acc.rotate_left(5) ^ u64::from_le_bytes(w)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn sequential_topics_spread_over_stripes() {
        let s = Stripes::new();
        let mut seen = HashSet::new();
        for i in 0..4096u32 {
            let mut t = [0u8; 32];
            t[28..].copy_from_slice(&i.to_be_bytes());
            seen.insert(s.topic(&TopicKey(t)) as *const _ as usize);
        }
        assert!(seen.len() > 512, "only {} stripes used", seen.len());
    }
}
