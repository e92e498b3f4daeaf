//! The body of every benchmark message: when it was (scheduled to be) sent,
//! which stream it belongs to and its place in that stream, padded to the
//! requested size.
//!
//! Layout: 16 hex digits of send time (monotonic ns), 16 of sequence, 8 of
//! stream id, then filler characters. Hex keeps the message a plain JSON
//! string with no escapes, like the base64 envelopes real clients send, and
//! the (time, sequence, stream) triple keeps every message unique, which
//! matters because relays deduplicate identical messages on a topic.

/// Length of the fixed header.
pub const HEADER_LEN: usize = 40;

/// What a message carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// Scheduled (open loop) or actual (closed loop) send time, monotonic ns.
    pub sent_ns: u64,
    /// Position in the stream, from 0.
    pub seq: u64,
    /// The stream: one publisher on one topic.
    pub stream: u32,
}

/// Builds a message of `size` bytes (at least the header).
pub fn encode(stamp: Stamp, size: usize) -> String {
    let mut s = format!(
        "{:016x}{:016x}{:08x}",
        stamp.sent_ns, stamp.seq, stamp.stream
    );
    const FILL: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let mut pad = size.saturating_sub(HEADER_LEN);
    s.reserve(pad);
    while pad > 0 {
        let n = pad.min(FILL.len());
        s.push_str(&FILL[..n]);
        pad -= n;
    }
    s
}

/// Reads the stamp back; `None` for a message the harness did not write.
pub fn decode(message: &str) -> Option<Stamp> {
    let head = message.get(..HEADER_LEN)?;
    Some(Stamp {
        sent_ns: u64::from_str_radix(&head[..16], 16).ok()?,
        seq: u64::from_str_radix(&head[16..32], 16).ok()?,
        stream: u32::from_str_radix(&head[32..40], 16).ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_size() {
        let st = Stamp {
            sent_ns: 123_456_789_012,
            seq: 42,
            stream: 7,
        };
        let m = encode(st, 256);
        assert_eq!(m.len(), 256);
        assert_eq!(decode(&m), Some(st));
        assert_eq!(encode(st, 10).len(), HEADER_LEN);
        assert_eq!(decode("hello"), None);
    }
}
