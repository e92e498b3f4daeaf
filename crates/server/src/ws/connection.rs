//! The per-connection loop: read frames, dispatch, deliver, keep alive, and
//! write everything produced in one wake-up with a single flush.
//!
//! Close codes: 1001 on shutdown or idle (clients reconnect), 1013 when the
//! send queue overflowed or a write stalled (slow consumer; its messages stay
//! pending), 1009 for a frame over the hard cap, 1008 for a fragmented
//! message left incomplete too long, 1011 if the store fails while restoring.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Bytes, Message};
use tokio_tungstenite::WebSocketStream;

use super::handshake::Authenticated;
use crate::relay::Relay;
use crate::session::Session;

/// Most live notifications handled in one wake-up before the socket is written.
const DELIVERY_BURST: usize = 256;
/// Most incoming frames handled in one wake-up before the socket is written.
const FRAME_BURST: usize = 64;
/// Bytes of frames handled in one turn before the task yields, so that a
/// client sending large frames cannot hold a worker for long.
const BURST_BYTES: usize = 32 * 1024;

fn close(code: u16, reason: &str) -> CloseFrame {
    CloseFrame {
        code: CloseCode::from(code),
        reason: reason.to_owned().into(),
    }
}

pub async fn run<S>(
    ws: WebSocketStream<S>,
    relay: Arc<Relay>,
    client: Authenticated,
    conn_id: u64,
    open_message: super::fragments::OpenMessage,
    ip: std::net::IpAddr,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    crate::metrics::connection_opened();
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::channel(relay.config.limits.send_queue);
    let mut session = Session::new(relay.clone(), client.client_id.clone(), ip, conn_id, tx);
    tracing::debug!(project_id = ?client.project_id, "client connected");

    let ws_cfg = &relay.config.websocket;
    let idle_timeout = Duration::from_millis(ws_cfg.idle_timeout_ms);
    let write_stall = Duration::from_millis(ws_cfg.write_stall_ms);
    let fragment_timeout = Duration::from_millis(ws_cfg.fragment_timeout_ms);
    let ping_every = Duration::from_millis(ws_cfg.ping_interval_ms);
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_heard = Instant::now();
    let mut shutdown = ShutdownTurn::new(
        relay.shutdown.token.clone(),
        Duration::from_millis(relay.config.server.shutdown_spread_ms),
    );
    let kick = session.kick_token();
    let admin = relay.sockets.register(
        client.client_id.clone(),
        crate::sockets::SocketInfo {
            conn_id,
            remote: ip,
            since_ms: crate::now_ms(),
            user_agent: client.user_agent.clone(),
            unacked_pushes: 0,
            unacked_bytes: 0,
        },
    );

    let mut close_frame = match Box::pin(session.restore_subscriptions()).await {
        Ok(_) => None,
        Err(e) => {
            tracing::error!(error = %e, "restoring subscriptions failed");
            Some(close(1011, "internal error, reconnect"))
        }
    };

    'conn: while close_frame.is_none() {
        let (pushes, bytes) = session.unacked();
        admin.note_queue(pushes, bytes);
        if session.has_output() {
            // Boxed, like the timer below: only a writing socket needs room
            // for them, not every idle one.
            let write = Box::pin(async {
                for frame in session.drain_output() {
                    sink.feed(Message::text(frame)).await?;
                }
                sink.flush().await
            });
            // A client that stops reading blocks this write forever; the
            // hub's kick (its queue overflowed) and shutdown must still end it,
            // and so must a stall (replays fill the socket without going
            // through the hub's queue, so no kick fires).
            let written = tokio::select! {
                biased;
                result = write => result,
                _ = Box::pin(tokio::time::sleep(write_stall)) => {
                    tracing::debug!("write stalled; closing the socket");
                    crate::metrics::slow_consumer();
                    close_frame = Some(close(1013, "not reading, reconnect"));
                    continue;
                }
                _ = shutdown.turn() => {
                    close_frame = Some(close(1001, "server shutting down"));
                    continue;
                }
                _ = kick.cancelled() => {
                    close_frame = Some(close(1013, "send queue full, reconnect"));
                    continue;
                }
            };
            if written.is_err() {
                break;
            }
        }
        let window_full_since = session.window_full_since();
        let paused_until = session.paused_until();
        tokio::select! {
            biased;
            _ = shutdown.turn() => close_frame = Some(close(1001, "server shutting down")),
            code = admin.closed() => close_frame = Some(close(code, "closed by the operator")),
            _ = kick.cancelled() => close_frame = Some(close(1013, "send queue full, reconnect")),
            // Paused after a refusal for its rate: leave its frames in the
            // socket until the pause is over.
            _ = pause_over(paused_until), if paused_until.is_some() => {}
            frame = stream.next(), if paused_until.is_none() => {
                last_heard = Instant::now();
                let mut frame = frame;
                // Frames already read are handled together, so their replies
                // leave in one write instead of one system call each.
                let mut burst = 0;
                let mut burst_bytes = 0;
                loop {
                    if let Some(Ok(m)) = &frame {
                        burst_bytes += m.len();
                    }
                    match frame {
                        None => break 'conn,
                        // Boxed: the request handlers' state is large and short-lived, and
                        // every idle socket would otherwise carry room for it.
                        Some(Ok(Message::Text(text))) => Box::pin(session.handle_text(text.as_str())).await,
                        Some(Ok(Message::Binary(_))) => session.handle_binary(),
                        // Pings are answered by tungstenite on the next write; pongs only prove liveness.
                        Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                        // Keep reading: tungstenite replies and the stream then ends.
                        Some(Ok(Message::Close(_))) => {}
                        Some(Err(e)) => {
                            tracing::debug!(error = %e, "socket error");
                            match super::close_for_read_error(&e) {
                                Some(frame) => close_frame = Some(frame),
                                None => break 'conn,
                            }
                            break;
                        }
                    }
                    burst += 1;
                    if burst >= FRAME_BURST || session.paused_until().is_some() {
                        break;
                    }
                    if burst_bytes >= BURST_BYTES {
                        // Large frames cost parsing time: let the other
                        // sockets on this worker run before reading more.
                        tokio::task::yield_now().await;
                        break;
                    }
                    match stream.next().now_or_never() {
                        Some(next) => frame = next,
                        None => break,
                    }
                }
                Box::pin(session.flush_acks()).await;
            }
            Some(wake_up) = rx.recv() => {
                session.on_wake_up(wake_up);
                for _ in 1..DELIVERY_BURST {
                    match rx.try_recv() {
                        Ok(d) => session.on_wake_up(d),
                        Err(_) => break,
                    }
                }
            }
            Some(done) = session.next_commit(), if session.awaiting_commit() => {
                session.on_sync_done(done);
                // One commit answers many requests at once: send them together.
                while let Some(Some(done)) = session.next_commit().now_or_never() {
                    session.on_sync_done(done);
                }
            }
            _ = ping.tick() => {
                if last_heard.elapsed() >= idle_timeout {
                    close_frame = Some(close(1001, "idle timeout"));
                } else if open_message.open_for().is_some_and(|d| d >= fragment_timeout) {
                    crate::metrics::connection_rejected("fragment_timeout");
                    close_frame = Some(close(1008, "fragmented message not completed in time"));
                } else if sink.send(Message::Ping(Bytes::new())).await.is_err() {
                    break;
                }
                if session.touch_due() {
                    session.touch().await;
                }
            }
            // A client that stopped acking holds a full push window; free
            // its socket after the stall period, as for one that stopped reading.
            _ = window_stalled(window_full_since, write_stall) => {
                tracing::debug!("push window full for the stall period; closing the socket");
                crate::metrics::slow_consumer();
                close_frame = Some(close(1013, "not acknowledging, reconnect"));
            }
            _ = std::future::ready(()), if session.replay_queued() => {
                Box::pin(session.replay_step()).await;
            }
        }
    }
    session.unfollow_all();
    // Closing: no longer one of the client's open sockets.
    drop(admin);
    if let Some(frame) = close_frame {
        tracing::debug!(code = u16::from(frame.code), reason = %frame.reason, "closing connection");
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            if sink.send(Message::Close(Some(frame))).await.is_ok() {
                // Wait for the client's close so that it sees our code.
                while let Some(Ok(_)) = stream.next().await {}
            }
        })
        .await;
    }
    // Acks that arrived with the close still count.
    session.flush_acks().await;
    session.touch().await;
    crate::metrics::connection_closed();
    tracing::debug!("client disconnected");
}

/// Resolves `stall` after `full_since`; never when the window is open.
async fn window_stalled(full_since: Option<Instant>, stall: Duration) {
    match full_since {
        Some(since) => tokio::time::sleep_until((since + stall).into()).await,
        None => std::future::pending().await,
    }
}

/// Resolves when a reading pause ends.
async fn pause_over(until: Option<Instant>) {
    if let Some(until) = until {
        tokio::time::sleep_until(until.into()).await;
    }
}

/// When this socket closes on shutdown: at a random moment within
/// `server.shutdown_spread_ms` after the shutdown begins, so that clients
/// reconnect to the other nodes gradually instead of all at once. Until
/// then the socket is served as usual.
struct ShutdownTurn {
    token: tokio_util::sync::CancellationToken,
    spread: Duration,
    at: Option<tokio::time::Instant>,
}

impl ShutdownTurn {
    fn new(token: tokio_util::sync::CancellationToken, spread: Duration) -> ShutdownTurn {
        ShutdownTurn {
            token,
            spread,
            at: None,
        }
    }

    /// Resolves when it is this socket's turn to close (each call starts
    /// over, so it can sit in a `select!` that is entered many times).
    async fn turn(&mut self) {
        let at = match self.at {
            Some(at) => at,
            None => {
                self.token.cancelled().await;
                let delay = self.spread.mul_f64(rand::random::<f64>());
                *self.at.insert(tokio::time::Instant::now() + delay)
            }
        };
        tokio::time::sleep_until(at).await;
    }
}
