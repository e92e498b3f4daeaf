//! Binary encoding of stored values.
//!
//! Hand-written and length-prefixed instead of JSON because every publish
//! encodes one record and every delivery decodes one; a fixed header also
//! lets the cursor walk read a message's expiry and publisher without
//! copying the (up to ~128 KiB) payload.
//!
//! Message record, version 1 (integers big-endian):
//!
//! ```text
//! 0      u8       version (1)
//! 1      u8       flags: bit 0 prompt, bit 1 attestation present
//! 2..6   u32      tag
//! 6..14  u64      published_at_ms
//! 14..22 u64      expires_at_ms
//! 22..54 [u8;32]  sha256(message), so deletes can find the dedup key
//! 54..   u32 len + publisher, u32 len + attestation, u32 len + message
//! ```
//!
//! Decoding never panics: malformed input yields [`Error::Corrupt`].

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::types::{StoredMessage, TopicKey};

const VERSION: u8 = 1;
const FLAG_PROMPT: u8 = 1;
const FLAG_ATTESTATION: u8 = 2;
const HEADER_LEN: usize = 54;

/// Fields of a message record besides the ones its key already holds.
pub(crate) struct RecordFields<'a> {
    pub tag: u32,
    pub prompt: bool,
    pub published_at_ms: u64,
    pub expires_at_ms: u64,
    pub hash: &'a [u8; 32],
    pub publisher: &'a str,
    pub attestation: Option<&'a str>,
    pub message: &'a str,
}

/// The cheap-to-read part of a record.
pub(crate) struct Header<'a> {
    pub expires_at_ms: u64,
    pub hash: [u8; 32],
    pub publisher: &'a [u8],
}

/// Encodes a message record.
pub(crate) fn encode_message(f: &RecordFields<'_>) -> Vec<u8> {
    let att = f.attestation.unwrap_or("");
    let mut out =
        Vec::with_capacity(HEADER_LEN + 12 + f.publisher.len() + att.len() + f.message.len());
    let mut flags = 0;
    if f.prompt {
        flags |= FLAG_PROMPT;
    }
    if f.attestation.is_some() {
        flags |= FLAG_ATTESTATION;
    }
    out.push(VERSION);
    out.push(flags);
    out.extend_from_slice(&f.tag.to_be_bytes());
    out.extend_from_slice(&f.published_at_ms.to_be_bytes());
    out.extend_from_slice(&f.expires_at_ms.to_be_bytes());
    out.extend_from_slice(f.hash);
    for field in [f.publisher, att, f.message] {
        // Lengths are bounded by the gateway's payload limit, far below 4 GiB.
        let len = u32::try_from(field.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(field.as_bytes());
    }
    out
}

/// Sequential reader over a record that reports truncation as corruption.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| Error::Corrupt("message record truncated".into()))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64> {
        let mut buf = [0u8; 8];
        buf.copy_from_slice(self.take(8)?);
        Ok(u64::from_be_bytes(buf))
    }

    fn field(&mut self) -> Result<&'a [u8]> {
        let len = self.u32()? as usize;
        self.take(len)
    }
}

fn text(bytes: &[u8], what: &str) -> Result<Arc<str>> {
    std::str::from_utf8(bytes)
        .map(Arc::from)
        .map_err(|_| Error::Corrupt(format!("{what} is not UTF-8")))
}

/// Reads version, flags, tag, timestamps and hash.
fn fixed(r: &mut Reader<'_>) -> Result<(u8, u32, u64, u64, [u8; 32])> {
    let head = r.take(2)?;
    if head[0] != VERSION {
        return Err(Error::Corrupt(format!(
            "unknown record version {}",
            head[0]
        )));
    }
    let flags = head[1];
    let tag = r.u32()?;
    let published = r.u64()?;
    let expires = r.u64()?;
    let mut hash = [0u8; 32];
    hash.copy_from_slice(r.take(32)?);
    Ok((flags, tag, published, expires, hash))
}

/// Reads only what the cursor walk and deletes need.
pub(crate) fn decode_header(bytes: &[u8]) -> Result<Header<'_>> {
    let mut r = Reader { bytes, at: 0 };
    let (_, _, _, expires_at_ms, hash) = fixed(&mut r)?;
    let publisher = r.field()?;
    Ok(Header {
        expires_at_ms,
        hash,
        publisher,
    })
}

/// Decodes a full record; `topic` and `seq` come from its key.
pub(crate) fn decode_message(topic: TopicKey, seq: u64, bytes: &[u8]) -> Result<StoredMessage> {
    let mut r = Reader { bytes, at: 0 };
    let (flags, tag, published_at_ms, expires_at_ms, _) = fixed(&mut r)?;
    let publisher = text(r.field()?, "publisher")?;
    let att = r.field()?;
    let message = text(r.field()?, "message")?;
    if r.at != bytes.len() {
        return Err(Error::Corrupt("trailing bytes after message record".into()));
    }
    let attestation = if flags & FLAG_ATTESTATION != 0 {
        Some(text(att, "attestation")?)
    } else {
        None
    };
    Ok(StoredMessage {
        seq,
        topic,
        message,
        tag,
        prompt: flags & FLAG_PROMPT != 0,
        published_at_ms,
        expires_at_ms,
        publisher,
        attestation,
    })
}

/// Per-topic bookkeeping kept in `t|topic` and cached in memory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct TopicMeta {
    /// Stored messages (expired but unswept ones included).
    pub count: u64,
    /// Seq of the newest append.
    pub last_seq: u64,
}

/// Encodes topic meta as two big-endian u64s.
pub(crate) fn encode_meta(m: TopicMeta) -> [u8; 16] {
    encode_pair(m.count, m.last_seq)
}

/// Decodes topic meta.
pub(crate) fn decode_meta(bytes: &[u8]) -> Result<TopicMeta> {
    let (count, last_seq) = decode_pair(bytes, "topic meta")?;
    Ok(TopicMeta { count, last_seq })
}

/// Value of a dedup entry: which seq holds the body, and until when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DedupEntry {
    pub seq: u64,
    pub expires_at_ms: u64,
}

/// Encodes a dedup entry.
pub(crate) fn encode_dedup(d: DedupEntry) -> [u8; 16] {
    encode_pair(d.seq, d.expires_at_ms)
}

/// Decodes a dedup entry.
pub(crate) fn decode_dedup(bytes: &[u8]) -> Result<DedupEntry> {
    let (seq, expires_at_ms) = decode_pair(bytes, "dedup entry")?;
    Ok(DedupEntry { seq, expires_at_ms })
}

/// Decodes a single big-endian u64 (cursor values).
pub(crate) fn decode_u64(bytes: &[u8], what: &str) -> Result<u64> {
    let arr: [u8; 8] = bytes
        .try_into()
        .map_err(|_| Error::Corrupt(format!("{what}: expected 8 bytes, got {}", bytes.len())))?;
    Ok(u64::from_be_bytes(arr))
}

fn encode_pair(a: u64, b: u64) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&a.to_be_bytes());
    out[8..].copy_from_slice(&b.to_be_bytes());
    out
}

fn decode_pair(bytes: &[u8], what: &str) -> Result<(u64, u64)> {
    if bytes.len() != 16 {
        return Err(Error::Corrupt(format!(
            "{what}: expected 16 bytes, got {}",
            bytes.len()
        )));
    }
    Ok((
        decode_u64(&bytes[..8], what)?,
        decode_u64(&bytes[8..], what)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fields<'a>(hash: &'a [u8; 32], att: Option<&'a str>) -> RecordFields<'a> {
        RecordFields {
            tag: 1108,
            prompt: true,
            published_at_ms: 1_700_000_000_000,
            expires_at_ms: 1_700_000_300_000,
            hash,
            publisher: "did:key:z6MkPublisher",
            attestation: att,
            message: "ciphertext",
        }
    }

    #[test]
    fn message_round_trip() {
        let hash = [9u8; 32];
        for att in [None, Some(""), Some("jwt")] {
            let bytes = encode_message(&fields(&hash, att));
            let m = decode_message(TopicKey([1; 32]), 5, &bytes).unwrap();
            assert_eq!(m.seq, 5);
            assert_eq!(&*m.message, "ciphertext");
            assert_eq!(m.tag, 1108);
            assert!(m.prompt);
            assert_eq!(m.attestation.as_deref(), att);
            let h = decode_header(&bytes).unwrap();
            assert_eq!(h.expires_at_ms, 1_700_000_300_000);
            assert_eq!(h.hash, hash);
            assert_eq!(h.publisher, b"did:key:z6MkPublisher");
        }
    }

    #[test]
    fn every_truncation_is_an_error() {
        let hash = [0u8; 32];
        let bytes = encode_message(&fields(&hash, Some("a")));
        for n in 0..bytes.len() {
            assert!(decode_message(TopicKey([0; 32]), 1, &bytes[..n]).is_err());
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode_message(TopicKey([0; 32]), 1, &longer).is_err());
    }

    #[test]
    fn small_values_round_trip() {
        let m = TopicMeta {
            count: 3,
            last_seq: 99,
        };
        assert_eq!(decode_meta(&encode_meta(m)).unwrap(), m);
        let d = DedupEntry {
            seq: 4,
            expires_at_ms: 8,
        };
        assert_eq!(decode_dedup(&encode_dedup(d)).unwrap(), d);
        assert!(decode_meta(&[1, 2, 3]).is_err());
        assert!(decode_u64(&[1], "cursor").is_err());
    }

    proptest! {
        #[test]
        fn decoding_garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode_message(TopicKey([0; 32]), 1, &bytes);
            let _ = decode_header(&bytes);
            let _ = decode_meta(&bytes);
            let _ = decode_dedup(&bytes);
        }
    }
}
