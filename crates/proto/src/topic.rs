//! Topics (32-byte ids, 64 hex characters on the wire) and the two hashes the
//! relay derives from the wire: subscription ids and message ids.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::{Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// Prefix of the serde error a bad topic produces. Frame parsing looks for it
/// to answer `InvalidTopic` instead of `InvalidParams`; it must stay equal to
/// the start of [`Error::InvalidTopic`]'s message.
pub(crate) const TOPIC_ERROR_PREFIX: &str = "invalid topic";

/// A 32-byte topic. Clients send either hex case (the Rust client does not
/// enforce one), so parsing accepts both; the relay always writes lowercase,
/// which is also what the JS client hashes into subscription ids.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Topic([u8; 32]);

impl Topic {
    /// Parses 64 hex characters, upper or lower case.
    pub fn parse(s: &str) -> Result<Topic> {
        if s.len() != 64 {
            return Err(Error::InvalidTopic("expected 64 hex characters"));
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(s, &mut bytes).map_err(|_| Error::InvalidTopic("not a hex string"))?;
        Ok(Topic(bytes))
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Wraps 32 raw bytes (e.g. a sha256 digest, which is how clients derive
    /// topics from keys).
    pub fn from_bytes(bytes: [u8; 32]) -> Topic {
        Topic(bytes)
    }

    /// Lowercase hex, the canonical wire form.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 64];
        // Cannot fail: the buffer is exactly twice the input length.
        hex::encode_to_slice(self.0, &mut buf).map_err(|_| fmt::Error)?;
        f.write_str(std::str::from_utf8(&buf).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Topic({self})")
    }
}

impl FromStr for Topic {
    type Err = Error;
    fn from_str(s: &str) -> Result<Topic> {
        Topic::parse(s)
    }
}

impl Serialize for Topic {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Topic {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        // `deserialize_any` so that a number, null or object in a topic field
        // also reaches our visitor and yields the topic error, not serde's
        // generic "invalid type" (which would map to InvalidParams).
        d.deserialize_any(TopicVisitor)
    }
}

struct TopicVisitor;

impl TopicVisitor {
    fn wrong_type<E: de::Error>() -> E {
        E::custom(Error::InvalidTopic("expected a hex string"))
    }
}

impl<'de> Visitor<'de> for TopicVisitor {
    type Value = Topic;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a 64-character hex topic")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Topic, E> {
        Topic::parse(v).map_err(E::custom)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> std::result::Result<Topic, E> {
        Err(Self::wrong_type())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> std::result::Result<Topic, E> {
        Err(Self::wrong_type())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> std::result::Result<Topic, E> {
        Err(Self::wrong_type())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> std::result::Result<Topic, E> {
        Err(Self::wrong_type())
    }

    fn visit_unit<E: de::Error>(self) -> std::result::Result<Topic, E> {
        Err(Self::wrong_type())
    }

    fn visit_none<E: de::Error>(self) -> std::result::Result<Topic, E> {
        Err(Self::wrong_type())
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> std::result::Result<Topic, A::Error> {
        Err(Self::wrong_type())
    }

    fn visit_map<A: de::MapAccess<'de>>(self, _: A) -> std::result::Result<Topic, A::Error> {
        Err(Self::wrong_type())
    }
}

/// The subscription id the JS client computes for itself:
/// `sha256_hex(lowercase_topic_hex + client_id)`, where `client_id` is the
/// client's `did:key:…`. Returning the same value from `irn_subscribe` keeps
/// the client's and the relay's bookkeeping in agreement, and it is the
/// 64-hex shape the Rust client expects.
pub fn subscription_id(topic: &Topic, client_id: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(topic.to_string().as_bytes());
    hasher.update(client_id.as_bytes());
    hex::encode(hasher.finalize())
}

/// The u64 id of one stored message, as webhook events and
/// `irn_batchReceive` carry it: the first bytes of `sha256(topic ‖ seq)`
/// (`seq` big-endian), cut to 53 bits so that JavaScript services read it
/// as an exact number, and never 0. Every node computes the same id from
/// what the store keeps, so it is stable across retries and nodes, and it
/// differs between messages of one topic (which is all a receipt, naming
/// its topic, needs) and, but for a 2⁻⁵³ chance, between topics.
pub fn message_id(topic: &Topic, seq: u64) -> u64 {
    let mut hasher = Sha256::new();
    hasher.update(topic.as_bytes());
    hasher.update(seq.to_be_bytes());
    let digest = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(first) & ((1 << 53) - 1)).max(1)
}

/// sha256 of the message text: the message id used for deduplication, the
/// same hash JS keeps for every message it has seen.
pub fn message_hash(message: &str) -> [u8; 32] {
    Sha256::digest(message.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "7f6e504bfad60b485450578e05678ed3e8e8c4751d3c6160be17160d63ec90f9";

    #[test]
    fn parses_and_prints_lowercase() {
        let t = Topic::parse(T).unwrap();
        assert_eq!(t.to_hex(), T);
        assert_eq!(t.to_string(), T);
        assert_eq!(format!("{t:?}"), format!("Topic({T})"));
        assert_eq!(T.parse::<Topic>().unwrap(), t);
    }

    #[test]
    fn message_ids_are_stable_distinct_and_js_safe() {
        let t = Topic::parse(T).unwrap();
        let u = Topic::from_bytes([1; 32]);
        assert_eq!(message_id(&t, 7), message_id(&t, 7));
        let ids: std::collections::HashSet<u64> = (0..10_000).map(|s| message_id(&t, s)).collect();
        assert_eq!(ids.len(), 10_000, "no two messages of a topic share an id");
        assert_ne!(
            message_id(&t, 7),
            message_id(&u, 7),
            "the topic is part of it"
        );
        assert!(ids.iter().all(|&id| id > 0 && id < 1 << 53));
        // Pinned (computed independently with Python's hashlib): every node
        // and every release must compute the same id.
        assert_eq!(message_id(&t, 1), 4_624_565_398_375_252);
    }

    #[test]
    fn accepts_uppercase() {
        let upper = T.to_uppercase();
        assert_eq!(Topic::parse(&upper).unwrap(), Topic::parse(T).unwrap());
        assert_eq!(Topic::parse(&upper).unwrap().to_string(), T);
    }

    #[test]
    fn rejects_bad_lengths_and_chars() {
        assert!(Topic::parse("").is_err());
        assert!(Topic::parse(&T[..62]).is_err());
        assert!(Topic::parse(&format!("{T}00")).is_err());
        assert!(Topic::parse(&format!("{}zz", &T[..62])).is_err());
        // 64 bytes but multi-byte characters must not panic.
        assert!(Topic::parse(&"é".repeat(32)).is_err());
    }

    #[test]
    fn bytes_round_trip() {
        let t = Topic::from_bytes([0xab; 32]);
        assert_eq!(t.as_bytes(), &[0xab; 32]);
        assert_eq!(t.to_hex(), "ab".repeat(32));
    }

    #[test]
    fn serde_uses_hex_string() {
        let t = Topic::parse(&T.to_uppercase()).unwrap();
        assert_eq!(serde_json::to_string(&t).unwrap(), format!("\"{T}\""));
        let back: Topic = serde_json::from_str(&format!("\"{T}\"")).unwrap();
        assert_eq!(back, t);
    }

    #[test]
    fn serde_errors_carry_the_topic_prefix() {
        for bad in ["5", "null", "{}", "[]", "true", "\"abc\""] {
            let err = serde_json::from_str::<Topic>(bad).unwrap_err().to_string();
            assert!(err.starts_with(TOPIC_ERROR_PREFIX), "{bad}: {err}");
        }
        assert!(Error::InvalidTopic("x")
            .to_string()
            .starts_with(TOPIC_ERROR_PREFIX));
    }

    #[test]
    fn subscription_id_hashes_lowercase_topic_and_client() {
        let t = Topic::parse(&T.to_uppercase()).unwrap();
        let client = "did:key:z6MkodHZwneVRShtaLf8JKYkxpDGp1vGZnpGmdBpX8M2exxH";
        let expected = hex::encode(Sha256::digest(format!("{T}{client}").as_bytes()));
        assert_eq!(subscription_id(&t, client), expected);
        assert_eq!(expected.len(), 64);
    }

    #[test]
    fn message_hash_is_sha256() {
        // sha256("abc"), a well-known test vector.
        assert_eq!(
            hex::encode(message_hash("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
