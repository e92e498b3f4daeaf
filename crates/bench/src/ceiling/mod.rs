//! The ceiling: a minimal WebSocket forward server on the relay's stack
//! (tokio, tungstenite, the proto crate's parser and frame builders) with no
//! auth, no storage and no delivery tracking. It understands just enough
//! (`irn_subscribe`, `irn_unsubscribe`, `irn_publish`, pushes of
//! `irn_subscription`, in-memory queues for offline subscribers) to run
//! every scenario, so relay/ceiling shows what the relay's features cost.
//!
//! A client's id is the `iss` of the `auth` JWT, read without checking the
//! signature; without a token each socket is its own client.

mod hub;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use relaybox_proto::{
    error_frame, parse_incoming, result_frame, subscription_frame, subscription_id, ErrorKind,
    Incoming, Limits, Params, SubscriptionData, Topic,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Notify};
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use hub::{Hub, Online};

/// Per-socket send queue, as the relay's default `limits.send_queue`.
const SEND_QUEUE: usize = 1024;
/// Most queued frames written per wake-up before the socket is flushed.
const BURST: usize = 256;

struct Shared {
    hub: Hub,
    next_conn: AtomicU64,
    next_push: AtomicU64,
    limits: Limits,
}

/// Runs the ceiling until SIGINT or SIGTERM, printing `CEILING_LISTEN=<addr>` once bound.
pub fn serve_blocking(listen: &str, threads: usize) -> anyhow::Result<()> {
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if threads > 0 {
        rt.worker_threads(threads);
    }
    rt.enable_all().build()?.block_on(async {
        let (addr, task) = start(listen).await?;
        println!("CEILING_LISTEN={addr}");
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        task.abort();
        Ok(())
    })
}

/// Binds and serves in the background; returns the bound address.
pub async fn start(listen: &str) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    // The same deep backlog as the relay, so reconnect storms compare fairly.
    let addr: std::net::SocketAddr = listen.parse()?;
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    let listener: TcpListener = socket.listen(4096)?;
    let addr = listener.local_addr()?;
    let shared = Arc::new(Shared {
        hub: Hub::default(),
        next_conn: AtomicU64::new(1),
        next_push: AtomicU64::new(relaybox_proto::MIN_SERVER_ID),
        limits: Limits::default(),
    });
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(connection(stream, shared.clone()));
        }
    });
    Ok((addr, task))
}

/// The `iss` claim of the `auth` query parameter, unverified.
fn client_from_query(query: &str) -> Option<String> {
    let token = query.split('&').find_map(|kv| kv.strip_prefix("auth="))?;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    v.get("iss")?.as_str().map(str::to_owned)
}

// The handshake callback's error type is tungstenite's, not ours.
#[allow(clippy::result_large_err)]
async fn connection(stream: TcpStream, shared: Arc<Shared>) {
    let conn_id = shared.next_conn.fetch_add(1, Ordering::Relaxed);
    let mut client = None;
    let callback = |req: &Request, resp: Response| {
        client = req.uri().query().and_then(client_from_query);
        Ok(resp)
    };
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(16 * 1024);
    let Ok(mut ws) =
        tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(config)).await
    else {
        return;
    };
    let client: Arc<str> = client
        .unwrap_or_else(|| format!("anonymous-{conn_id}"))
        .into();
    let (tx, mut rx) = mpsc::channel::<Utf8Bytes>(SEND_QUEUE);
    let kick = Arc::new(Notify::new());
    let mut topics: Vec<Topic> = Vec::new();
    let mut out: Vec<Utf8Bytes> = Vec::new();
    let mut close = None;
    while close.is_none() {
        if !out.is_empty() {
            let mut failed = false;
            for f in out.drain(..) {
                failed |= ws.feed(Message::Text(f)).await.is_err();
            }
            if failed || ws.flush().await.is_err() {
                break;
            }
        }
        tokio::select! {
            biased;
            _ = kick.notified() => close = Some(1013),
            m = ws.next() => match m {
                Some(Ok(Message::Text(text))) => {
                    let online = Online { conn_id, tx: tx.clone(), kick: kick.clone() };
                    handle(&shared, &client, text.as_str(), online, &mut topics, &mut out);
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
            Some(frame) = rx.recv() => {
                out.push(frame);
                while out.len() < BURST {
                    match rx.try_recv() {
                        Ok(f) => out.push(f),
                        Err(_) => break,
                    }
                }
            }
        }
    }
    for t in &topics {
        shared.hub.offline(t, conn_id);
    }
    if let Some(code) = close {
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: "send queue full".into(),
        };
        let _ = ws.send(Message::Close(Some(frame))).await;
    }
}

fn handle(
    shared: &Shared,
    client: &Arc<str>,
    text: &str,
    online: Online,
    topics: &mut Vec<Topic>,
    out: &mut Vec<Utf8Bytes>,
) {
    let req = match parse_incoming(text, &shared.limits) {
        Ok(Incoming::Request(req)) => req,
        Ok(Incoming::Response(_)) => return,
        Err(rejected) => {
            out.push(rejected.to_json().into());
            return;
        }
    };
    match req.params {
        Params::Publish(p) => {
            let data = SubscriptionData {
                topic: p.topic,
                message: p.message,
                published_at: now_ms(),
                tag: p.tag,
                attestation: p.attestation,
            };
            let push_id = shared.next_push.fetch_add(1, Ordering::Relaxed);
            let frame: Utf8Bytes = subscription_frame(push_id, &p.topic.to_hex(), &data).into();
            // Slow consumers are kicked inside, as the relay does.
            shared.hub.publish(&p.topic, client, &frame);
            out.push(result_frame(&req.id, &true).into());
        }
        Params::Subscribe(p) | Params::SubscribeBlocking(p) => {
            let queued = shared.hub.subscribe(p.topic, client, online);
            if !topics.contains(&p.topic) {
                topics.push(p.topic);
            }
            out.push(result_frame(&req.id, &subscription_id(&p.topic, client)).into());
            out.extend(queued);
        }
        Params::BatchSubscribe(b) | Params::BatchSubscribeBlocking(b) => {
            let mut ids = Vec::new();
            let mut queued = Vec::new();
            for t in b.topics {
                queued.extend(shared.hub.subscribe(t, client, online.clone()));
                if !topics.contains(&t) {
                    topics.push(t);
                }
                ids.push(subscription_id(&t, client));
            }
            out.push(result_frame(&req.id, &ids).into());
            out.extend(queued);
        }
        Params::Unsubscribe(u) => {
            shared.hub.unsubscribe(&u.topic, client);
            topics.retain(|t| *t != u.topic);
            out.push(result_frame(&req.id, &true).into());
        }
        _ => {
            let err = ErrorKind::InvalidMethod.to_error_data(Some("not supported by the ceiling"));
            out.push(error_frame(Some(&req.id), &err).into());
        }
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_id_comes_from_the_token() {
        let id = crate::identity::Identity::new("ws://127.0.0.1:1");
        let query = id.url.split_once('?').unwrap().1;
        assert_eq!(
            client_from_query(query).as_deref(),
            Some(id.client_id.as_str())
        );
        assert_eq!(client_from_query("x=1"), None);
    }
}
