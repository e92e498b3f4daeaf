//! Purge markers: "every message of this topic up to seq N is deleted".
//!
//! The message log is append-only and rebuilt into the index at start, so
//! deleting a topic's messages (the admin repair) cannot erase records in
//! place: it removes them from the index and writes a marker here, which
//! the next start applies after the log scan. A marker is needed only
//! while a record it covers could still be live, so it carries the latest
//! expiry among them and the sweeper drops it after that.

use relaybox_store::TopicKey;

use super::keys;
use super::State;
use crate::error::{storage, DiskResult};

impl State {
    /// Records that `topic`'s messages up to `through_seq` are deleted,
    /// until `until_ms`; keeps the later of two markers. Marks the state
    /// dirty: durable with the caller's following sync.
    pub(crate) fn record_purge(
        &self,
        topic: &TopicKey,
        through_seq: u64,
        until_ms: u64,
    ) -> DiskResult<()> {
        let key = keys::purge(topic);
        let (old_through, old_until) = match self.tree.get(key).map_err(storage)? {
            Some(v) => decode(&v).unwrap_or((0, 0)),
            None => (0, 0),
        };
        let mut value = [0u8; 16];
        value[..8].copy_from_slice(&through_seq.max(old_through).to_be_bytes());
        value[8..].copy_from_slice(&until_ms.max(old_until).to_be_bytes());
        self.tree.insert(key, &value[..]).map_err(storage)?;
        self.mark_dirty();
        Ok(())
    }

    /// Every marker: `(topic, through_seq, until_ms)`.
    pub(crate) fn purges(&self) -> DiskResult<Vec<(TopicKey, u64, u64)>> {
        let mut out = Vec::new();
        for item in self.tree.scan_prefix(keys::purge_prefix()) {
            let (key, value) = item.map_err(storage)?;
            match (keys::purge_topic(&key), decode(&value)) {
                (Some(topic), Some((through, until))) => out.push((topic, through, until)),
                _ => tracing::error!(key = %hex::encode(&key), "skipping a malformed purge marker"),
            }
        }
        Ok(out)
    }

    /// Drops the markers whose messages have all expired by `now_ms`.
    pub(crate) fn sweep_purges(&self, now_ms: u64) -> DiskResult<usize> {
        let mut n = 0;
        for (topic, _, until) in self.purges()? {
            if until <= now_ms {
                self.tree.remove(keys::purge(&topic)).map_err(storage)?;
                n += 1;
            }
        }
        Ok(n)
    }
}

fn decode(v: &[u8]) -> Option<(u64, u64)> {
    let through = u64::from_be_bytes(v.get(..8)?.try_into().ok()?);
    let until = u64::from_be_bytes(v.get(8..16)?.try_into().ok()?);
    Some((through, until))
}
