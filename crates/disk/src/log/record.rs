//! The on-disk form of one message: a framed, checksummed record.
//!
//! A segment file is nothing but records back to back. The frame lets the
//! start-up scan find where a crash cut the file short: a record whose
//! length runs past the end of the file, or whose CRC does not match, ends
//! the valid part of the segment, and everything from there on is
//! truncated. A zero length is never written, so the zeroes a file system
//! may leave after a crash are rejected too.
//!
//! ```text
//! frame:  u32 body_len | u32 crc32(body) | body            (little-endian)
//! body:   u8 version (1) | u8 flags (bit 0 prompt, bit 1 attestation)
//!         u64 seq | [32] topic | u32 tag | u64 published_at_ms
//!         u64 expires_at_ms | [32] sha256(message)
//!         u32 len + publisher | u32 len + attestation | u32 len + message
//! ```
//!
//! Decoding never panics: malformed input is an error naming the field.

use std::sync::Arc;

use relaybox_store::{StoredMessage, TopicKey};

/// Bytes before the body: length and checksum.
pub(crate) const FRAME_HEADER: usize = 8;
/// Largest body accepted when reading; far above any message the gateway
/// lets through, so a length beyond it can only be garbage.
pub(crate) const MAX_BODY: usize = 16 * 1024 * 1024;

const VERSION: u8 = 1;
const FLAG_PROMPT: u8 = 1;
const FLAG_ATTESTATION: u8 = 2;
/// Fixed part of the body before the three variable-length fields.
const FIXED: usize = 2 + 8 + 32 + 4 + 8 + 8 + 32;

/// Everything a record holds, borrowed for encoding.
pub(crate) struct RecordRef<'a> {
    pub seq: u64,
    pub topic: &'a TopicKey,
    pub tag: u32,
    pub prompt: bool,
    pub published_at_ms: u64,
    pub expires_at_ms: u64,
    pub hash: &'a [u8; 32],
    pub publisher: &'a str,
    pub attestation: Option<&'a str>,
    pub message: &'a str,
}

/// What the start-up scan needs from a record to index it, without
/// copying the message.
pub(crate) struct Summary {
    pub seq: u64,
    pub topic: TopicKey,
    pub expires_at_ms: u64,
    pub hash: [u8; 32],
    pub publisher_len: usize,
    pub publisher_at: usize,
}

/// Why a frame or body is unusable.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Invalid {
    /// The input ends inside the frame (a torn tail, or a short read).
    Truncated,
    /// Length zero or beyond [`MAX_BODY`].
    BadLength,
    /// The checksum does not match the body.
    Checksum,
    /// The body does not parse; the text says where.
    Body(&'static str),
}

/// Appends the framed record to `out`.
pub(crate) fn encode(r: &RecordRef<'_>, out: &mut Vec<u8>) {
    let att = r.attestation.unwrap_or("");
    let body_len = FIXED + 12 + r.publisher.len() + att.len() + r.message.len();
    let start = out.len();
    out.reserve(FRAME_HEADER + body_len);
    out.extend_from_slice(&(body_len as u32).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    let mut flags = 0;
    if r.prompt {
        flags |= FLAG_PROMPT;
    }
    if r.attestation.is_some() {
        flags |= FLAG_ATTESTATION;
    }
    out.push(VERSION);
    out.push(flags);
    out.extend_from_slice(&r.seq.to_le_bytes());
    out.extend_from_slice(&r.topic.0);
    out.extend_from_slice(&r.tag.to_le_bytes());
    out.extend_from_slice(&r.published_at_ms.to_le_bytes());
    out.extend_from_slice(&r.expires_at_ms.to_le_bytes());
    out.extend_from_slice(r.hash);
    for field in [r.publisher, att, r.message] {
        // The gateway bounds every field far below 4 GiB.
        out.extend_from_slice(&(field.len() as u32).to_le_bytes());
        out.extend_from_slice(field.as_bytes());
    }
    let crc = crc32fast::hash(&out[start + FRAME_HEADER..]);
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// Checks the frame at the start of `bytes`; returns the body and the
/// frame's total length.
pub(crate) fn frame(bytes: &[u8]) -> Result<(&[u8], usize), Invalid> {
    if bytes.len() < FRAME_HEADER {
        return Err(Invalid::Truncated);
    }
    let len = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
    if len == 0 || len > MAX_BODY {
        return Err(Invalid::BadLength);
    }
    let crc = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
    let body = bytes
        .get(FRAME_HEADER..FRAME_HEADER + len)
        .ok_or(Invalid::Truncated)?;
    if crc32fast::hash(body) != crc {
        return Err(Invalid::Checksum);
    }
    Ok((body, FRAME_HEADER + len))
}

/// Reads the body length from a frame header (for sized reads).
pub(crate) fn body_len(header: &[u8; FRAME_HEADER]) -> Result<usize, Invalid> {
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    if len == 0 || len > MAX_BODY {
        return Err(Invalid::BadLength);
    }
    Ok(len)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], Invalid> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or(Invalid::Body(what))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, Invalid> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8, what)?);
        Ok(u64::from_le_bytes(b))
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, Invalid> {
        let mut b = [0u8; 4];
        b.copy_from_slice(self.take(4, what)?);
        Ok(u32::from_le_bytes(b))
    }

    fn field(&mut self, what: &'static str) -> Result<&'a [u8], Invalid> {
        let len = self.u32(what)? as usize;
        self.take(len, what)
    }
}

struct Fixed {
    flags: u8,
    seq: u64,
    topic: TopicKey,
    tag: u32,
    published_at_ms: u64,
    expires_at_ms: u64,
    hash: [u8; 32],
}

fn fixed(r: &mut Reader<'_>) -> Result<Fixed, Invalid> {
    let head = r.take(2, "version")?;
    if head[0] != VERSION {
        return Err(Invalid::Body("unknown record version"));
    }
    let seq = r.u64("seq")?;
    let mut topic = [0u8; 32];
    topic.copy_from_slice(r.take(32, "topic")?);
    let tag = r.u32("tag")?;
    let published_at_ms = r.u64("published_at")?;
    let expires_at_ms = r.u64("expires_at")?;
    let mut hash = [0u8; 32];
    hash.copy_from_slice(r.take(32, "hash")?);
    Ok(Fixed {
        flags: head[1],
        seq,
        topic: TopicKey(topic),
        tag,
        published_at_ms,
        expires_at_ms,
        hash,
    })
}

/// The indexing view of a body.
pub(crate) fn summary(body: &[u8]) -> Result<Summary, Invalid> {
    let mut r = Reader { bytes: body, at: 0 };
    let f = fixed(&mut r)?;
    let publisher = r.field("publisher")?;
    let publisher_at = r.at - publisher.len();
    r.field("attestation")?;
    r.field("message")?;
    if r.at != body.len() {
        return Err(Invalid::Body("trailing bytes"));
    }
    Ok(Summary {
        seq: f.seq,
        topic: f.topic,
        expires_at_ms: f.expires_at_ms,
        hash: f.hash,
        publisher_len: publisher.len(),
        publisher_at,
    })
}

fn text(bytes: &[u8], what: &'static str) -> Result<Arc<str>, Invalid> {
    std::str::from_utf8(bytes)
        .map(Arc::from)
        .map_err(|_| Invalid::Body(what))
}

/// The full message of a body.
pub(crate) fn decode(body: &[u8]) -> Result<StoredMessage, Invalid> {
    let mut r = Reader { bytes: body, at: 0 };
    let f = fixed(&mut r)?;
    let publisher = text(r.field("publisher")?, "publisher is not UTF-8")?;
    let att = r.field("attestation")?;
    let message = text(r.field("message")?, "message is not UTF-8")?;
    if r.at != body.len() {
        return Err(Invalid::Body("trailing bytes"));
    }
    let attestation = if f.flags & FLAG_ATTESTATION != 0 {
        Some(text(att, "attestation is not UTF-8")?)
    } else {
        None
    };
    Ok(StoredMessage {
        seq: f.seq,
        topic: f.topic,
        message,
        tag: f.tag,
        prompt: f.flags & FLAG_PROMPT != 0,
        published_at_ms: f.published_at_ms,
        expires_at_ms: f.expires_at_ms,
        publisher,
        attestation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample(out: &mut Vec<u8>, att: Option<&str>) {
        encode(
            &RecordRef {
                seq: 42,
                topic: &TopicKey([3; 32]),
                tag: 1108,
                prompt: true,
                published_at_ms: 1_700_000_000_000,
                expires_at_ms: 1_700_000_300_000,
                hash: &[9; 32],
                publisher: "did:key:z6MkPublisher",
                attestation: att,
                message: "ciphertext",
            },
            out,
        );
    }

    #[test]
    fn round_trip() {
        for att in [None, Some(""), Some("jwt")] {
            let mut buf = Vec::new();
            sample(&mut buf, att);
            let (body, used) = frame(&buf).unwrap();
            assert_eq!(used, buf.len());
            let m = decode(body).unwrap();
            assert_eq!((m.seq, m.tag, m.prompt), (42, 1108, true));
            assert_eq!(&*m.message, "ciphertext");
            assert_eq!(m.attestation.as_deref(), att);
            let s = summary(body).unwrap();
            assert_eq!((s.seq, s.topic, s.hash), (42, TopicKey([3; 32]), [9; 32]));
            assert_eq!(
                &body[s.publisher_at..s.publisher_at + s.publisher_len],
                b"did:key:z6MkPublisher"
            );
        }
    }

    #[test]
    fn every_cut_and_every_flipped_byte_is_detected() {
        let mut buf = Vec::new();
        sample(&mut buf, Some("a"));
        for n in 0..buf.len() {
            assert!(frame(&buf[..n]).is_err(), "cut at {n}");
        }
        for i in 0..buf.len() {
            let mut bad = buf.clone();
            bad[i] ^= 0x40;
            assert!(frame(&bad).is_err(), "flip at {i}");
        }
        assert_eq!(frame(&[0; 64]), Err(Invalid::BadLength));
    }

    proptest! {
        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = frame(&bytes);
            let _ = summary(&bytes);
            let _ = decode(&bytes);
        }
    }
}
