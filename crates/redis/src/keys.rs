//! Key names. Every key of a topic carries the topic as hash tag
//! (`rb:{<64 hex>}:…`), so a topic lives in one Redis Cluster slot and its
//! scripts never cross slots; the wake-up channel `rb:{<topic>}` shares the
//! slot too, which sharded pub/sub (SPUBLISH from a script) requires.
//! A client's subscription set is tagged by the client id instead.

use relaybox_store::TopicKey;

/// The keys of one topic.
pub(crate) struct TopicKeys {
    /// STREAM of messages, entry id `0-<seq>`.
    pub stream: String,
    /// ZSET seq -> expires_at_ms, to find expired entries.
    pub expiry: String,
    /// HASH sha256(message) -> seq, the dedup index.
    pub dedup: String,
    /// HASH with `n` = the newest seq.
    pub meta: String,
    /// HASH client_id -> cursor seq.
    pub cursors: String,
    /// The pub/sub channel.
    pub channel: String,
    tag: String,
}

impl TopicKeys {
    pub fn new(topic: &TopicKey) -> Self {
        let tag = format!("rb:{{{}}}", topic.to_hex());
        TopicKeys {
            stream: format!("{tag}:s"),
            expiry: format!("{tag}:e"),
            dedup: format!("{tag}:d"),
            meta: format!("{tag}:m"),
            cursors: format!("{tag}:c"),
            channel: tag.clone(),
            tag,
        }
    }

    /// SET of seqs `client` acked above its cursor.
    pub fn acks(&self, client: &str) -> String {
        format!("{}:a:{client}", self.tag)
    }
}

/// The topic a channel name belongs to.
pub(crate) fn topic_of_channel(channel: &[u8]) -> Option<TopicKey> {
    let s = std::str::from_utf8(channel).ok()?;
    let hex = s.strip_prefix("rb:{")?.strip_suffix('}')?;
    TopicKey::from_hex(hex)
}

/// SET of topics (hex) `client` is subscribed to.
pub(crate) fn subscriptions(client: &str) -> String {
    format!("rb:{{c:{client}}}:t")
}

/// Attestation keys: all in the `{rbatt}` slot (see `lua/att_common.lua`).
pub(crate) mod attest {
    pub const EXPIRY: &str = "rb:{rbatt}:x";
    pub const COUNTS: &str = "rb:{rbatt}:n";

    pub fn record(id: &str) -> String {
        format!("rb:{{rbatt}}:r:{id}")
    }

    pub fn by_app(app_sha: &str, status: &str) -> String {
        format!("rb:{{rbatt}}:app:{app_sha}:{status}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_keys_share_one_slot() {
        let t = TopicKey([0x5a; 32]);
        let k = TopicKeys::new(&t);
        let slot = |s: &str| redis::cluster_routing::Slot::for_key(s);
        let all = [
            &k.stream,
            &k.expiry,
            &k.dedup,
            &k.meta,
            &k.cursors,
            &k.channel,
            &k.acks("did:key:z6Mkabc"),
        ];
        for key in all {
            assert_eq!(slot(key), slot(&k.stream), "{key}");
        }
        assert_eq!(topic_of_channel(k.channel.as_bytes()), Some(t));
        assert_eq!(topic_of_channel(b"rb:{zz}"), None);
        assert_eq!(
            slot(&attest::record("abc")),
            slot(attest::EXPIRY),
            "attestation keys share a slot"
        );
    }
}
