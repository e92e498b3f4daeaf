//! A bare WebSocket client for the hostile publishers. The upgrade is made
//! by hand; frames are built once, masked with the all-zero key (valid: the
//! mask bit is what the protocol requires), and written as plain bytes, so a
//! 130 KiB frame costs no per-send masking or copying; and it can send what
//! a client library refuses to, such as a header announcing a frame larger
//! than the relay's cap. The reader skips payloads and looks only at close
//! frames and small text frames (the replies worth classifying).

use std::time::Duration;

use base64::Engine;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use crate::conn::CONNECT_TIMEOUT;

/// Text frames up to this size are handed to the caller; larger ones are skipped.
pub const SMALL: usize = 4096;

/// Why an upgrade did not give a socket.
#[derive(Debug)]
pub enum Refusal {
    /// The server answered with an HTTP status (and maybe a JSON `code`).
    Http { status: u16, code: Option<String> },
    /// No answer: a short error kind (`connect_timeout`, `io_...`).
    Failed(String),
}

impl Refusal {
    /// A short tag: `http_429_ip_limit`, `http_503`, `io_connectionrefused`...
    pub fn tag(&self) -> String {
        match self {
            Refusal::Http { status, code: None } => format!("http_{status}"),
            Refusal::Http {
                status,
                code: Some(c),
            } => format!("http_{status}_{c}"),
            Refusal::Failed(kind) => kind.clone(),
        }
    }
}

/// The hostile sockets' send buffer (SO_SNDBUF, doubled by the kernel).
/// An attacker's unsent bytes queue on the attacker's machine; here they
/// would queue in this machine's kernel, shared with the relay and the
/// normal clients, and left to autotuning (on loopback, megabytes per
/// socket) a thousand hostile sockets fill net.ipv4.tcp_mem: the kernel then
/// drops packets on every connection, the normal pairs' included, and the
/// run measures the generator's kernel memory, not the relay. Capped, a
/// hostile socket still fills the relay's receive window; it only waits
/// sooner when the relay stops reading it.
const ATTACKER_SNDBUF: u32 = 64 * 1024;

fn io_kind(e: &std::io::Error) -> String {
    format!("io_{:?}", e.kind()).to_lowercase()
}

/// Connects to `url` (`ws://host:port/path?query`) and upgrades. Returns the
/// two halves and the [`Reader`] primed with any bytes read past the answer.
pub async fn connect(
    url: &str,
    source: Option<std::net::IpAddr>,
) -> Result<(Reader, OwnedWriteHalf), Refusal> {
    match tokio::time::timeout(CONNECT_TIMEOUT, upgrade(url, source)).await {
        Ok(r) => r,
        Err(_) => Err(Refusal::Failed("connect_timeout".into())),
    }
}

async fn upgrade(
    url: &str,
    source: Option<std::net::IpAddr>,
) -> Result<(Reader, OwnedWriteHalf), Refusal> {
    let rest = url.strip_prefix("ws://").unwrap_or(url);
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let stream = crate::conn::tcp_from_with(host, source, Some(ATTACKER_SNDBUF))
        .await
        .map_err(|e| Refusal::Failed(io_kind(&e)))?;
    let _ = stream.set_nodelay(true);
    let (rd, mut wr) = stream.into_split();
    let key = base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 16]>());
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    wr.write_all(request.as_bytes())
        .await
        .map_err(|e| Refusal::Failed(io_kind(&e)))?;
    let mut reader = Reader::new(rd);
    let head_len = loop {
        if let Some(at) = find(reader.available(), b"\r\n\r\n") {
            break at + 4;
        }
        match reader.fill().await {
            Ok(0) => return Err(Refusal::Failed("closed".into())),
            Ok(_) => {}
            Err(e) => return Err(Refusal::Failed(io_kind(&e))),
        }
    };
    let head = String::from_utf8_lossy(&reader.available()[..head_len]).into_owned();
    reader.consume(head_len);
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    if status == 101 {
        return Ok((reader, wr));
    }
    // A refusal: read its (small) JSON body for the `code`, briefly.
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0)
        .min(reader.buf.len());
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while reader.available().len() < length {
            if !matches!(reader.fill().await, Ok(n) if n > 0) {
                break;
            }
        }
    })
    .await;
    let body = &reader.available()[..length.min(reader.available().len())];
    let code = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("code")?.as_str().map(str::to_owned));
    Err(Refusal::Http { status, code })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A final, masked (all-zero key) client frame with `opcode` and `payload`.
pub fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = header(opcode, payload.len() as u64);
    f.extend_from_slice(payload);
    f
}

/// The header alone of a final, masked frame announcing `len` payload bytes.
pub fn header(opcode: u8, len: u64) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + len.min(1 << 20) as usize);
    f.push(0x80 | (opcode & 0x0f));
    if len < 126 {
        f.push(0x80 | len as u8);
    } else if len <= u64::from(u16::MAX) {
        f.push(0x80 | 126);
        f.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        f.push(0x80 | 127);
        f.extend_from_slice(&len.to_be_bytes());
    }
    f.extend_from_slice(&[0, 0, 0, 0]);
    f
}

/// What the reader found.
#[derive(Debug, PartialEq, Eq)]
pub enum Seen {
    /// A text frame of at most [`SMALL`] bytes.
    Small(String),
    /// A larger data frame, skipped.
    Large,
    /// A close frame and its code (1005 when it carried none).
    Close(u16),
    /// The stream ended without a close frame.
    Eof,
    /// A read error, as a short kind.
    Error(String),
}

/// Reads server frames off one socket, skipping what it does not need.
pub struct Reader {
    rd: OwnedReadHalf,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
}

impl Reader {
    fn new(rd: OwnedReadHalf) -> Reader {
        Reader {
            rd,
            buf: vec![0; 64 * 1024].into_boxed_slice(),
            start: 0,
            end: 0,
        }
    }

    fn available(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Reads more bytes after the ones held (moved to the front first).
    async fn fill(&mut self) -> std::io::Result<usize> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let n = self.rd.read(&mut self.buf[self.end..]).await?;
        self.end += n;
        Ok(n)
    }

    /// Makes at least `n` (at most the buffer size) bytes available.
    async fn need(&mut self, n: usize) -> Result<(), Seen> {
        while self.end - self.start < n {
            match self.fill().await {
                Ok(0) => return Err(Seen::Eof),
                Ok(_) => {}
                Err(e) => return Err(Seen::Error(io_kind(&e))),
            }
        }
        Ok(())
    }

    /// Drops the next `n` bytes, reading them as needed.
    async fn skip(&mut self, mut n: u64) -> Result<(), Seen> {
        loop {
            let held = (self.end - self.start) as u64;
            if held >= n {
                self.consume(n as usize);
                return Ok(());
            }
            n -= held;
            self.consume(held as usize);
            self.need(1).await?;
        }
    }

    /// The next frame worth reporting (pings and pongs are passed over).
    pub async fn next(&mut self) -> Seen {
        match self.next_frame().await {
            Ok(seen) => seen,
            Err(seen) => seen,
        }
    }

    async fn next_frame(&mut self) -> Result<Seen, Seen> {
        loop {
            self.need(2).await?;
            let (b0, b1) = (self.buf[self.start], self.buf[self.start + 1]);
            let opcode = b0 & 0x0f;
            let ext = match b1 & 0x7f {
                126 => 2,
                127 => 8,
                _ => 0,
            };
            let mask = if b1 & 0x80 != 0 { 4 } else { 0 };
            self.need(2 + ext + mask).await?;
            let h = &self.buf[self.start + 2..self.start + 2 + ext];
            let len = match ext {
                2 => u64::from(u16::from_be_bytes([h[0], h[1]])),
                8 => u64::from_be_bytes(h.try_into().expect("8 bytes")),
                _ => u64::from(b1 & 0x7f),
            };
            self.consume(2 + ext + mask);
            match opcode {
                0x8 => {
                    let code = if len >= 2 {
                        self.need(2).await?;
                        let c = &self.buf[self.start..self.start + 2];
                        u16::from_be_bytes([c[0], c[1]])
                    } else {
                        1005
                    };
                    return Ok(Seen::Close(code));
                }
                0x0..=0x2 if len as usize <= SMALL && mask == 0 => {
                    self.need(len as usize).await?;
                    let text = &self.buf[self.start..self.start + len as usize];
                    let text = String::from_utf8_lossy(text).into_owned();
                    self.consume(len as usize);
                    return Ok(Seen::Small(text));
                }
                0x0..=0x2 => {
                    self.skip(len).await?;
                    return Ok(Seen::Large);
                }
                _ => self.skip(len).await?,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_encode_lengths() {
        assert_eq!(frame(0x1, b"hi"), [0x81, 0x82, 0, 0, 0, 0, b'h', b'i']);
        assert_eq!(header(0x2, 300)[..4], [0x82, 0x80 | 126, 1, 44]);
        let big = header(0x1, 2 << 20);
        assert_eq!(big.len(), 14);
        assert_eq!(big[1], 0x80 | 127);
        assert_eq!(u64::from_be_bytes(big[2..10].try_into().unwrap()), 2 << 20);
    }

    #[tokio::test]
    async fn reader_reports_small_large_and_close() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut out = Vec::new();
            out.extend_from_slice(&[0x89, 0]); // ping
            out.extend_from_slice(&[0x81, 5]);
            out.extend_from_slice(b"hello");
            let big = vec![b'x'; SMALL + 1];
            out.extend_from_slice(&[0x81, 126]);
            out.extend_from_slice(&(big.len() as u16).to_be_bytes());
            out.extend_from_slice(&big);
            out.extend_from_slice(&[0x88, 2, 0x03, 0xf5]); // close 1013
            s.write_all(&out).await.unwrap();
        });
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (rd, _wr) = stream.into_split();
        let mut r = Reader::new(rd);
        server.await.unwrap();
        assert_eq!(r.next().await, Seen::Small("hello".into()));
        assert_eq!(r.next().await, Seen::Large);
        assert_eq!(r.next().await, Seen::Close(1013));
        assert_eq!(r.next().await, Seen::Eof);
    }
}
