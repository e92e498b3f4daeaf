//! One benchmark client socket: connect with a JWT, send relay requests
//! built by the proto crate, classify what arrives, and acknowledge pushes
//! the way real clients do (`{"id":<push id>,"jsonrpc":"2.0","result":true}`).

use std::time::Duration;

use anyhow::{anyhow, Context};
use futures_util::{FutureExt, SinkExt, StreamExt};
use relaybox_proto::{
    parse_incoming, result_frame, Incoming, Limits, Params, PublishParams, Request, RequestId,
    SubscribeParams, Topic,
};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Request as Handshake;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A connected client socket.
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Longest a connect plus upgrade may take before it counts as an error.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects and upgrades, with Nagle off. Errors carry a short kind tag
/// (see [`error_kind`]). `to` is a URL, or a [`Handshake`] made beforehand
/// with [`handshake`].
pub async fn connect(to: impl IntoClientRequest + Unpin) -> anyhow::Result<Ws> {
    let fut = tokio_tungstenite::connect_async_with_config(to, Some(client_config()), true);
    match tokio::time::timeout(CONNECT_TIMEOUT, fut).await {
        Ok(Ok((ws, _response))) => Ok(ws),
        Ok(Err(e)) => Err(anyhow!(error_kind(&e))).context(e.to_string()),
        Err(_) => Err(anyhow!("connect_timeout")),
    }
}

/// [`connect`] from the local address `source` when given (the relay's
/// per-IP limits then see each source as its own client address).
pub async fn connect_from(url: &str, source: Option<std::net::IpAddr>) -> anyhow::Result<Ws> {
    let Some(source) = source else {
        return connect(url).await;
    };
    let fut = async {
        let host = url.strip_prefix("ws://").unwrap_or(url);
        let host = &host[..host.find('/').unwrap_or(host.len())];
        let stream = tcp_from(host, Some(source))
            .await
            .map_err(|e| anyhow!(format!("io_{:?}", e.kind()).to_lowercase()))?;
        upgrade_plain(url, stream).await
    };
    tokio::time::timeout(CONNECT_TIMEOUT, fut)
        .await
        .map_err(|_| anyhow!("connect_timeout"))?
}

/// The WebSocket upgrade over a connected TCP stream, Nagle off.
async fn upgrade_plain(url: &str, stream: TcpStream) -> anyhow::Result<Ws> {
    let _ = stream.set_nodelay(true);
    let (ws, _response) = tokio_tungstenite::client_async_with_config(
        url,
        MaybeTlsStream::Plain(stream),
        Some(client_config()),
    )
    .await
    .map_err(|e| anyhow!(error_kind(&e)).context(e.to_string()))?;
    Ok(ws)
}

fn client_config() -> WebSocketConfig {
    // tungstenite zero-fills its whole read buffer on every read: the
    // 128 KiB default costs more than the frames, so keep it small.
    WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .max_message_size(Some(4 << 20))
        .max_frame_size(Some(4 << 20))
}

/// A TCP connection to `host` (`ip:port`), from `source` when given.
pub async fn tcp_from(host: &str, source: Option<std::net::IpAddr>) -> std::io::Result<TcpStream> {
    tcp_from_with(host, source, None).await
}

/// [`tcp_from`] with the socket's send buffer set to `sndbuf` bytes before
/// connecting (which also stops the kernel from growing it).
pub async fn tcp_from_with(
    host: &str,
    source: Option<std::net::IpAddr>,
    sndbuf: Option<u32>,
) -> std::io::Result<TcpStream> {
    if source.is_none() && sndbuf.is_none() {
        return TcpStream::connect(host).await;
    }
    let addr = tokio::net::lookup_host(host)
        .await?
        .next()
        .ok_or_else(|| std::io::Error::other("bad address"))?;
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    if let Some(bytes) = sndbuf {
        socket.set_send_buffer_size(bytes)?;
    }
    if let Some(source) = source {
        socket.bind(std::net::SocketAddr::new(source, 0))?;
    }
    socket.connect(addr).await
}

/// [`connect`] over a socket whose receive buffer is set to `rcvbuf` bytes
/// before connecting (so the TCP window stays small), from `source` when
/// given: a client that stops reading then backs the server up quickly.
pub async fn connect_small_buffer_from(
    url: &str,
    rcvbuf: u32,
    source: Option<std::net::IpAddr>,
) -> anyhow::Result<Ws> {
    let fut = async {
        let host = url.strip_prefix("ws://").unwrap_or(url);
        let host = &host[..host.find('/').unwrap_or(host.len())];
        let io = |e: std::io::Error| anyhow!(format!("io_{:?}", e.kind()).to_lowercase());
        let addr = tokio::net::lookup_host(host)
            .await
            .map_err(io)?
            .next()
            .ok_or_else(|| anyhow!("bad_url"))?;
        let socket = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()
        } else {
            tokio::net::TcpSocket::new_v6()
        }
        .map_err(io)?;
        socket.set_recv_buffer_size(rcvbuf).map_err(io)?;
        if let Some(source) = source {
            socket
                .bind(std::net::SocketAddr::new(source, 0))
                .map_err(io)?;
        }
        let stream = socket.connect(addr).await.map_err(io)?;
        upgrade_plain(url, stream).await
    };
    tokio::time::timeout(CONNECT_TIMEOUT, fut)
        .await
        .map_err(|_| anyhow!("connect_timeout"))?
}

/// The upgrade request for `url`, built ahead of time: URL parsed, headers
/// and the `Sec-WebSocket-Key` made, so that [`connect`] has only the
/// network part left. Good for one connection (the key must not repeat).
pub fn handshake(url: &str) -> anyhow::Result<Handshake> {
    url.into_client_request()
        .map_err(|e| anyhow!("bad_url").context(e.to_string()))
}

/// A short, stable tag for a WebSocket error, used as the error kind.
pub fn error_kind(e: &WsError) -> String {
    match e {
        WsError::Http(resp) => format!("http_{}", resp.status().as_u16()),
        WsError::Io(io) => format!("io_{:?}", io.kind()).to_lowercase(),
        WsError::ConnectionClosed | WsError::AlreadyClosed => "closed".into(),
        WsError::Protocol(_) => "ws_protocol".into(),
        WsError::Capacity(_) => "ws_capacity".into(),
        _ => "ws_other".into(),
    }
}

/// The first line of an `anyhow` error made by [`connect`]: its kind tag.
pub fn kind_of(e: &anyhow::Error) -> String {
    e.root_cause().to_string()
}

/// What one incoming frame means to the harness.
#[derive(Debug)]
pub enum Event {
    /// An `irn_subscription` push: its id (to ack) and the message.
    Push { id: RequestId, message: String },
    /// The answer to one of our requests; `Err` holds the error's data tag.
    Reply { id: u64, result: Result<(), String> },
    /// Close frame from the peer, with its code.
    Closed(u16),
    /// A text frame the proto crate refused (a push it refuses would go
    /// unacknowledged), with the refusal's error tag.
    Unreadable(String),
    /// Pings, pongs, anything else: nothing to do.
    Other,
}

/// Classifies one received message.
pub fn classify(msg: Message) -> Event {
    match msg {
        Message::Text(text) => match parse_incoming(text.as_str(), &Limits::default()) {
            Ok(Incoming::Request(Request {
                id,
                params: Params::Subscription(p),
            })) => Event::Push {
                id,
                message: p.data.message,
            },
            Ok(Incoming::Response(r)) => Event::Reply {
                id: r.id.value(),
                result: r
                    .result
                    .map(|_| ())
                    .map_err(|e| e.data.clone().unwrap_or_else(|| format!("code_{}", e.code))),
            },
            Ok(Incoming::Request(_)) => Event::Other,
            Err(rejected) => Event::Unreadable(
                rejected
                    .error
                    .data
                    .clone()
                    .unwrap_or_else(|| format!("code_{}", rejected.error.code)),
            ),
        },
        Message::Close(frame) => Event::Closed(frame.map_or(1005, |f| u16::from(f.code))),
        _ => Event::Other,
    }
}

/// The ack of a push.
pub fn ack_frame(id: &RequestId) -> Message {
    Message::text(result_frame(id, &true))
}

/// An `irn_subscribe` request.
pub fn subscribe_frame(id: u64, topic: Topic) -> Message {
    Message::text(
        Request::new(
            RequestId::Number(id),
            Params::Subscribe(SubscribeParams { topic }),
        )
        .to_json(),
    )
}

/// An `irn_publish` request.
pub fn publish_frame(id: u64, topic: Topic, message: String, ttl: u32) -> Message {
    let params = Params::Publish(PublishParams {
        topic,
        message,
        ttl,
        tag: 0,
        prompt: false,
        attestation: None,
    });
    Message::text(Request::new(RequestId::Number(id), params).to_json())
}

/// Sends `frame` and waits for the reply to `id`, acking any push that
/// arrives meanwhile (its message is returned so nothing is lost).
pub async fn call(ws: &mut Ws, id: u64, frame: Message) -> anyhow::Result<Vec<String>> {
    ws.send(frame).await.map_err(|e| anyhow!(error_kind(&e)))?;
    let mut early = Vec::new();
    let deadline = tokio::time::Instant::now() + CONNECT_TIMEOUT;
    loop {
        let next = tokio::time::timeout_at(deadline, ws.next())
            .await
            .map_err(|_| anyhow!("reply_timeout"))?;
        let msg = match next {
            Some(Ok(m)) => m,
            Some(Err(e)) => return Err(anyhow!(error_kind(&e))),
            None => return Err(anyhow!("closed")),
        };
        match classify(msg) {
            Event::Reply { id: got, result } if got == id => {
                return result.map(|()| early).map_err(|tag| anyhow!("rpc_{tag}"));
            }
            Event::Push { id, message } => {
                ws.send(ack_frame(&id))
                    .await
                    .map_err(|e| anyhow!(error_kind(&e)))?;
                early.push(message);
            }
            Event::Closed(code) => return Err(anyhow!("closed_{code}")),
            _ => {}
        }
    }
}

/// Takes every message already buffered without waiting (for batching
/// work before one flush).
pub fn ready_now(ws: &mut Ws) -> Option<Result<Message, WsError>> {
    ws.next().now_or_never().flatten()
}

/// Sends a close frame and waits briefly for the peer's, ignoring errors.
pub async fn close(mut ws: Ws) {
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        if ws.close(None).await.is_ok() {
            while let Some(Ok(_)) = ws.next().await {}
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOPIC: &str = "7f6e504bfad60b485450578e05678ed3e8e8c4751d3c6160be17160d63ec90f9";

    fn push(data: &str) -> Message {
        Message::text(format!(
            r#"{{"id":1763000000000000,"jsonrpc":"2.0","method":"irn_subscription","params":{{"id":"s","data":{data}}}}}"#
        ))
    }

    #[test]
    fn pushes_with_and_without_published_at_are_taken() {
        // The WalletConnect/relay TypeScript sample sends only topic and message.
        for data in [
            format!(r#"{{"topic":"{TOPIC}","message":"m1"}}"#),
            format!(r#"{{"topic":"{TOPIC}","message":"m1","publishedAt":null}}"#),
            format!(r#"{{"topic":"{TOPIC}","message":"m1","publishedAt":1763000000123,"tag":0}}"#),
        ] {
            match classify(push(&data)) {
                Event::Push { id, message } => {
                    assert_eq!(message, "m1");
                    assert_eq!(
                        ack_frame(&id).to_text().unwrap(),
                        r#"{"id":1763000000000000,"jsonrpc":"2.0","result":true}"#
                    );
                }
                other => panic!("{data}: {other:?}"),
            }
        }
    }

    #[test]
    fn refused_frames_are_unreadable_not_ignored() {
        let bad_topic = r#"{"topic":"xyz","message":"m1"}"#;
        assert!(matches!(classify(push(bad_topic)), Event::Unreadable(_)));
        assert!(matches!(
            classify(Message::text("not json")),
            Event::Unreadable(_)
        ));
        assert!(matches!(
            classify(Message::text(r#"{"id":5,"jsonrpc":"2.0","result":true}"#)),
            Event::Reply {
                id: 5,
                result: Ok(())
            }
        ));
    }
}
