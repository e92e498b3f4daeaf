//! Watching for messages left incomplete on purpose.
//!
//! tungstenite bounds a fragmented message's size, but not how long it may
//! stay open: a client that sends a first fragment (FIN = 0) and then only
//! answers pings would pin that buffer for as long as it likes. This reader
//! parses the frame headers of what the client sends, as it passes, and
//! records since when a fragmented data message has been open; the
//! connection loop closes the socket when that lasts too long.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Shared view of the watcher's finding.
#[derive(Clone)]
pub struct OpenMessage {
    /// Milliseconds since `epoch` when the open fragmented message began,
    /// plus one (0: none is open).
    since: Arc<AtomicU64>,
    epoch: Instant,
}

impl OpenMessage {
    /// How long a fragmented message has been open, if one is.
    pub fn open_for(&self) -> Option<std::time::Duration> {
        match self.since.load(Ordering::Relaxed) {
            0 => None,
            at => {
                let now = self.epoch.elapsed().as_millis() as u64 + 1;
                Some(std::time::Duration::from_millis(now.saturating_sub(at)))
            }
        }
    }
}

/// Incremental parser of client frame headers.
#[derive(Default)]
struct Parser {
    head: [u8; 14],
    have: usize,
    /// Payload bytes still to skip.
    skip: u64,
    /// A data message was started without FIN and not yet finished.
    open: bool,
}

impl Parser {
    /// Feeds bytes read from the client; returns the new `open` state
    /// whenever a frame header completes.
    fn feed(&mut self, mut bytes: &[u8], mut on_change: impl FnMut(bool)) {
        while !bytes.is_empty() {
            if self.skip > 0 {
                let n = (self.skip.min(bytes.len() as u64)) as usize;
                self.skip -= n as u64;
                bytes = &bytes[n..];
                continue;
            }
            self.head[self.have] = bytes[0];
            self.have += 1;
            bytes = &bytes[1..];
            if self.have < 2 || self.have < self.header_len() {
                continue;
            }
            let (fin, opcode) = (self.head[0] & 0x80 != 0, self.head[0] & 0x0f);
            self.skip = self.payload_len();
            self.have = 0;
            let was = self.open;
            match opcode {
                // Text or binary: starts a message, complete if FIN.
                1 | 2 => self.open = !fin,
                // Continuation: FIN completes the open message.
                0 if fin => self.open = false,
                _ => {}
            }
            if was != self.open {
                on_change(self.open);
            }
        }
    }

    fn header_len(&self) -> usize {
        let masked = if self.head[1] & 0x80 != 0 { 4 } else { 0 };
        let ext = match self.head[1] & 0x7f {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        2 + ext + masked
    }

    fn payload_len(&self) -> u64 {
        match self.head[1] & 0x7f {
            126 => u64::from(u16::from_be_bytes([self.head[2], self.head[3]])),
            127 => u64::from_be_bytes(self.head[2..10].try_into().unwrap_or([0; 8])),
            n => u64::from(n),
        }
    }
}

/// An I/O stream whose reads are watched for open fragmented messages.
pub struct FrameWatch<S> {
    inner: S,
    parser: Parser,
    state: OpenMessage,
}

impl<S> FrameWatch<S> {
    pub fn new(inner: S) -> (FrameWatch<S>, OpenMessage) {
        let state = OpenMessage {
            since: Arc::new(AtomicU64::new(0)),
            epoch: Instant::now(),
        };
        let watch = FrameWatch {
            inner,
            parser: Parser::default(),
            state: state.clone(),
        };
        (watch, state)
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for FrameWatch<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &result {
            let this = &mut *self;
            let state = &this.state;
            this.parser.feed(&buf.filled()[before..], |open| {
                let at = if open {
                    state.epoch.elapsed().as_millis() as u64 + 1
                } else {
                    0
                };
                state.since.store(at, Ordering::Relaxed);
            });
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for FrameWatch<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A masked client frame.
    fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![if fin { 0x80 } else { 0 } | opcode];
        match payload.len() {
            n if n < 126 => out.push(0x80 | n as u8),
            n if n < 65536 => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(0x80 | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(&[1, 2, 3, 4]);
        out.extend_from_slice(payload);
        out
    }

    fn states(stream: &[u8], chunk: usize) -> Vec<bool> {
        let mut p = Parser::default();
        let mut seen = Vec::new();
        for c in stream.chunks(chunk) {
            p.feed(c, |open| seen.push(open));
        }
        seen
    }

    #[test]
    fn open_fragmented_messages_are_seen_across_any_chunking() {
        let mut s = Vec::new();
        s.extend(frame(true, 1, b"whole"));
        s.extend(frame(false, 1, &[b'a'; 300]));
        s.extend(frame(true, 9, b"ping in between"));
        s.extend(frame(false, 0, &[b'b'; 70_000]));
        s.extend(frame(true, 0, b"end"));
        s.extend(frame(false, 2, b"left open"));
        for chunk in [1, 3, 7, 64, 4096, s.len()] {
            assert_eq!(states(&s, chunk), [true, false, true], "chunk {chunk}");
        }
    }
}
