//! Turning Redis replies into store types: stream entries into
//! [`StoredMessage`]s, and the wake-up payload the publish script sends
//! (`lua/publish.lua`) into a [`WakeUp`].
//!
//! The wake-up payload is a header line of space-separated decimal fields,
//! `1 seq prev published_at expires_at tag prompt publisher_len att_len`
//! (`att_len` -1 = no attestation), a newline, then the publisher, the
//! attestation and the message, concatenated.

use std::sync::Arc;

use redis::Value;
use relaybox_store::{StoredMessage, TopicKey, WakeUp};

use crate::error::{bad_reply, Result};

/// A reply value as UTF-8 text.
pub(crate) fn text(v: &Value) -> Option<&str> {
    match v {
        Value::BulkString(b) => std::str::from_utf8(b).ok(),
        Value::SimpleString(s) => Some(s),
        _ => None,
    }
}

/// A reply value as an unsigned integer (integer or decimal text).
pub(crate) fn uint(v: &Value) -> Option<u64> {
    match v {
        Value::Int(i) => u64::try_from(*i).ok(),
        other => text(other)?.parse().ok(),
    }
}

/// A reply value as an array.
pub(crate) fn array(v: &Value) -> Option<&[Value]> {
    match v {
        Value::Array(a) => Some(a),
        Value::Set(a) => Some(a),
        _ => None,
    }
}

/// The seq of a stream id `0-<seq>`.
pub(crate) fn seq_of_id(id: &str) -> Option<u64> {
    id.strip_prefix("0-")?.parse().ok()
}

/// One stream entry (`[id, [field, value, ...]]`) as a stored message.
pub(crate) fn entry(topic: TopicKey, v: &Value) -> Result<StoredMessage> {
    let parts = array(v).ok_or_else(|| bad_reply("stream entry is not an array"))?;
    let [id, fields] = parts else {
        return Err(bad_reply("stream entry has no [id, fields]"));
    };
    let seq = text(id)
        .and_then(seq_of_id)
        .ok_or_else(|| bad_reply("stream entry id"))?;
    message(topic, seq, fields)
}

/// A flat `[field, value, ...]` list as the message with `seq`.
pub(crate) fn message(topic: TopicKey, seq: u64, fields: &Value) -> Result<StoredMessage> {
    let flat = array(fields).ok_or_else(|| bad_reply("entry fields are not an array"))?;
    let mut m = StoredMessage {
        seq,
        topic,
        message: Arc::from(""),
        tag: 0,
        prompt: false,
        published_at_ms: 0,
        expires_at_ms: 0,
        publisher: Arc::from(""),
        attestation: None,
    };
    for pair in flat.chunks(2) {
        let [k, v] = pair else { break };
        let (Some(k), Some(s)) = (text(k), text(v)) else {
            return Err(bad_reply("entry field is not text"));
        };
        let num = || {
            s.parse::<u64>()
                .map_err(|_| bad_reply(format!("field {k}")))
        };
        match k {
            "m" => m.message = Arc::from(s),
            "g" => m.tag = u32::try_from(num()?).map_err(|_| bad_reply("tag"))?,
            "p" => m.prompt = s == "1",
            "t" => m.published_at_ms = num()?,
            "x" => m.expires_at_ms = num()?,
            "f" => m.publisher = Arc::from(s),
            "a" => m.attestation = Some(Arc::from(s)),
            _ => {}
        }
    }
    Ok(m)
}

/// The wake-up payload as the delivery it announces.
pub(crate) fn wakeup(topic: TopicKey, payload: &[u8]) -> Option<WakeUp> {
    let nl = payload.iter().position(|b| *b == b'\n')?;
    let head = std::str::from_utf8(&payload[..nl]).ok()?;
    let body = &payload[nl + 1..];
    let f: Vec<&str> = head.split(' ').collect();
    let [ver, seq, prev, published, expires, tag, prompt, pub_len, att_len] = f[..] else {
        return None;
    };
    if ver != "1" {
        return None;
    }
    let pub_len: usize = pub_len.parse().ok()?;
    let att_len: i64 = att_len.parse().ok()?;
    let att_len = usize::try_from(att_len).ok();
    let att_end = pub_len.checked_add(att_len.unwrap_or(0))?;
    if body.len() < att_end {
        return None;
    }
    let utf8 = |b: &[u8]| std::str::from_utf8(b).ok().map(Arc::<str>::from);
    Some(WakeUp {
        message: Arc::new(StoredMessage {
            seq: seq.parse().ok()?,
            topic,
            message: utf8(&body[att_end..])?,
            tag: tag.parse().ok()?,
            prompt: prompt == "1",
            published_at_ms: published.parse().ok()?,
            expires_at_ms: expires.parse().ok()?,
            publisher: utf8(&body[..pub_len])?,
            attestation: match att_len {
                Some(_) => Some(utf8(&body[pub_len..att_end])?),
                None => None,
            },
        }),
        prev_seq: prev.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn wakeup_round_trip_with_and_without_attestation() {
        let t = TopicKey([1; 32]);
        let d = wakeup(t, b"1 9 4 100 200 1108 1 3 2\nabcxyhello world").unwrap();
        assert_eq!(d.prev_seq, 4);
        let m = &d.message;
        assert_eq!((m.seq, m.tag, m.prompt), (9, 1108, true));
        assert_eq!((m.published_at_ms, m.expires_at_ms), (100, 200));
        assert_eq!(&*m.publisher, "abc");
        assert_eq!(m.attestation.as_deref(), Some("xy"));
        assert_eq!(&*m.message, "hello world");
        let d = wakeup(t, b"1 9 4 100 200 1 0 3 -1\nabchi").unwrap();
        assert_eq!(d.message.attestation, None);
        assert_eq!(&*d.message.message, "hi");
        assert!(wakeup(t, b"1 9 4 100 200 1 0 30 -1\nabchi").is_none());
        assert!(wakeup(t, b"2 9 4 100 200 1 0 3 -1\nabchi").is_none());
        assert!(wakeup(t, b"no newline").is_none());
    }

    #[test]
    fn entry_fields_decode() {
        let t = TopicKey([2; 32]);
        let v = Value::Array(vec![
            bulk("0-1766000000000000"),
            Value::Array(
                [
                    "m", "msg", "g", "4400", "p", "0", "t", "5", "x", "6", "f", "did", "h", "ab",
                ]
                .iter()
                .map(|s| bulk(s))
                .collect(),
            ),
        ]);
        let m = entry(t, &v).unwrap();
        assert_eq!(m.seq, 1_766_000_000_000_000);
        assert_eq!((&*m.message, m.tag, &*m.publisher), ("msg", 4400, "did"));
        assert_eq!((m.published_at_ms, m.expires_at_ms), (5, 6));
        assert!(entry(t, &bulk("x")).is_err());
    }
}
