//! One open socket: the connection task's inner loop.
//!
//! Right after the upgrade the client pings; the first frame back (the
//! pong, or anything else but a close) *confirms* the socket: the relay
//! accepted the credentials, since with `useOnCloseEvent` a refusal arrives
//! as a close 3000 instead. Only then does the client report
//! [`Event::Connected`], subscribe its topics again and write the requests
//! queued meanwhile.
//!
//! The loop serves, in priority order: acks (so that an ack is written
//! before a close the application asks for right after taking a message),
//! frames from the relay, commands, and housekeeping (keepalive pings, the
//! silence check, abandoned requests). Frames produced in one turn are
//! written together with one flush.

use std::time::Instant;

use futures_util::{SinkExt, StreamExt};
use relaybox_proto::{
    error_frame, message_hash, parse_incoming, result_frame, BatchSubscribeParams, ErrorKind,
    Incoming, Limits, Params, Request, Response, Topic,
};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Bytes, Message as WsMessage};

use crate::dedup::Verdict;
use crate::error::Error;
use crate::events::Event;
use crate::handshake::Socket;
use crate::requests::{self, chunks, Waiter};
use crate::routing::Routed;
use crate::shared::{Command, Delivered, Effect, Feedback};
use crate::task::{SocketEnd, Task};

/// Close code with which the relay refuses credentials.
const CLOSE_AUTH: u16 = 3000;

/// Per-socket bookkeeping.
struct Conn {
    generation: u64,
    confirmed: bool,
    opened: Instant,
    last_heard: Instant,
    last_ping: Instant,
    /// The close frame: the relay's once received, or ours once sent.
    close: Option<(u16, String)>,
    /// Frames to write at the end of this turn.
    out: Vec<String>,
}

impl Task {
    /// Runs one socket until it ends, then cleans up after it.
    pub(crate) async fn connected(&mut self, mut ws: Socket) -> SocketEnd {
        self.generation += 1;
        let now = Instant::now();
        let mut conn = Conn {
            generation: self.generation,
            confirmed: false,
            opened: now,
            last_heard: now,
            last_ping: now,
            close: None,
            out: Vec::new(),
        };
        let end = match ws.send(WsMessage::Ping(Bytes::new())).await {
            Ok(()) => self.serve(&mut ws, &mut conn).await,
            Err(e) => lost(&conn, crate::handshake::map_ws_error(e)),
        };
        self.teardown(&conn, &end);
        end
    }

    async fn serve(&mut self, ws: &mut Socket, conn: &mut Conn) -> SocketEnd {
        let options = self.dialer.options().clone();
        loop {
            tokio::select! {
                biased;
                Some(feedback) = self.acks.recv() => self.on_feedback(conn, feedback),
                frame = ws.next() => match frame {
                    None => return self.ended(conn),
                    Some(Err(e)) => {
                        if conn.close.is_some() {
                            return self.ended(conn);
                        }
                        return lost(conn, crate::handshake::map_ws_error(e));
                    }
                    Some(Ok(message)) => {
                        conn.last_heard = Instant::now();
                        if let WsMessage::Close(frame) = message {
                            conn.close = Some(frame.map_or((1005, String::new()), |f| {
                                (u16::from(f.code), f.reason.to_string())
                            }));
                        } else {
                            if !conn.confirmed {
                                self.confirm(conn);
                            }
                            if let WsMessage::Text(text) = message {
                                self.on_text(conn, text.as_str());
                            }
                        }
                    }
                },
                command = self.commands.recv() => match command {
                    None => {
                        close(ws, conn, "client dropped").await;
                        return SocketEnd::Stop;
                    }
                    Some(Command::Close(done)) => {
                        self.close_waiters.push(done);
                        let _ = self.flush(ws, conn).await;
                        close(ws, conn, "client closed").await;
                        return SocketEnd::Stop;
                    }
                    Some(Command::Reconnect(done)) => {
                        self.reconnect_waiters.push(done);
                        let _ = self.flush(ws, conn).await;
                        close(ws, conn, "reconnecting").await;
                        return lost(conn, Error::Disconnected);
                    }
                    Some(Command::Request(out)) => {
                        self.enqueue(out);
                        if conn.confirmed {
                            self.write_queued(conn);
                        }
                    }
                },
                _ = self.housekeeping.tick() => {
                    self.sweep();
                    if conn.confirmed {
                        self.retry_resubscribe(conn);
                    }
                    if !conn.confirmed && conn.opened.elapsed() > options.connect_timeout {
                        return lost(conn, Error::Timeout);
                    }
                    if conn.last_heard.elapsed() > options.keepalive * 3 {
                        tracing::debug!("relay silent; dropping the socket");
                        return lost(conn, Error::Timeout);
                    }
                    if conn.last_ping.elapsed() >= options.keepalive {
                        conn.last_ping = Instant::now();
                        if let Err(e) = ws.send(WsMessage::Ping(Bytes::new())).await {
                            return lost(conn, crate::handshake::map_ws_error(e));
                        }
                    }
                }
            }
            if let Err(e) = self.flush(ws, conn).await {
                return lost(conn, e);
            }
        }
    }

    /// The relay answered: the socket is live.
    fn confirm(&mut self, conn: &mut Conn) {
        conn.confirmed = true;
        self.shared.set_live(Some(conn.generation));
        self.shared.events.emit(Event::Connected);
        if let Some(first) = self.first.take() {
            let _ = first.send(Ok(()));
        }
        for waiter in self.reconnect_waiters.drain(..) {
            let _ = waiter.send(Ok(()));
        }
        self.retry.clear();
        if !self.topics.is_empty() {
            let topics: Vec<_> = self.topics.iter().copied().collect();
            let sent = self.send_resubscribe(conn, topics.clone());
            self.resubscribing = (sent, topics.len());
        }
        self.write_queued(conn);
    }

    /// Writes `irn_batchSubscribe` chunks for `topics`; returns how many.
    fn send_resubscribe(&mut self, conn: &mut Conn, topics: Vec<Topic>) -> usize {
        let mut sent = 0;
        for chunk in chunks(&topics) {
            let waiter = Waiter::Resubscribe(chunk.clone());
            let params = Params::BatchSubscribe(BatchSubscribeParams { topics: chunk });
            let frame = self.pending.start_with(params, waiter, Effect::None, None);
            conn.out.push(frame);
            sent += 1;
        }
        sent
    }

    /// Sends again the re-subscription chunks the relay refused for now,
    /// once their pause is over (topics unsubscribed meanwhile left out).
    fn retry_resubscribe(&mut self, conn: &mut Conn) {
        let Some((topics, failed)) = self.retry.take_due(Instant::now()) else {
            return;
        };
        let topics: Vec<Topic> = topics
            .into_iter()
            .filter(|t| self.topics.contains(t))
            .collect();
        let sent = self.send_resubscribe(conn, topics);
        self.resubscribing.0 = self.resubscribing.0 + sent - failed;
        if sent == 0 {
            self.maybe_resubscribed();
        }
    }

    /// Emits [`Event::Resubscribed`] once no chunk is outstanding.
    fn maybe_resubscribed(&mut self) {
        let (chunks_left, topics) = self.resubscribing;
        if chunks_left == 0 && topics > 0 {
            self.resubscribing = (0, 0);
            self.shared.events.emit(Event::Resubscribed { topics });
        }
    }

    /// Moves every queued request (whose caller still waits) onto the socket.
    fn write_queued(&mut self, conn: &mut Conn) {
        while let Some(out) = self.queue.pop_front() {
            if !out.reply.is_closed() {
                let frame = self.pending.start(out);
                conn.out.push(frame);
            }
        }
    }

    fn on_text(&mut self, conn: &mut Conn, text: &str) {
        match parse_incoming(text, &Limits::default()) {
            Ok(Incoming::Response(response)) => self.on_response(response),
            Ok(Incoming::Request(request)) => self.on_request(conn, request),
            Err(rejected) => {
                let id = rejected.id.as_ref().map(|id| id.value());
                match id.and_then(|id| self.pending.finish(id)) {
                    Some(p) => {
                        if let Waiter::Caller(tx) = p.waiter {
                            let _ = tx.send(Err(Error::Protocol(rejected.error.to_string())));
                        }
                    }
                    None => {
                        tracing::warn!(error = %rejected.error, "unreadable frame from the relay")
                    }
                }
            }
        }
    }

    fn on_feedback(&mut self, conn: &mut Conn, feedback: Feedback) {
        match feedback {
            Feedback::Ack {
                generation,
                push_id,
                key,
            } if conn.confirmed && generation == conn.generation => {
                conn.out.push(result_frame(&push_id, &true));
                self.dedup.on_ack(key);
            }
            Feedback::Release { generation, keys } if generation == conn.generation => {
                for key in &keys {
                    self.dedup.release(key);
                }
            }
            // From an earlier socket: the relay will push those again.
            _ => {}
        }
    }

    fn on_request(&mut self, conn: &mut Conn, request: Request) {
        match request.params {
            Params::Subscription(push) => {
                let key = (push.data.topic, message_hash(&push.data.message));
                match self.dedup.on_push(key) {
                    Verdict::Deliver => {
                        let routed = self.router.route(Delivered {
                            generation: conn.generation,
                            push_id: request.id,
                            key,
                            data: push.data,
                        });
                        if routed == Routed::Dropped {
                            self.dedup.release(&key);
                        }
                    }
                    Verdict::Ignore => {}
                    Verdict::AckAgain => conn.out.push(result_frame(&request.id, &true)),
                }
            }
            other => {
                let error = ErrorKind::InvalidMethod.to_error_data(Some(&format!(
                    "{} is not served by a client",
                    other.method()
                )));
                conn.out.push(error_frame(Some(&request.id), &error));
            }
        }
    }

    fn on_response(&mut self, response: Response) {
        let Some(p) = self.pending.finish(response.id.value()) else {
            tracing::debug!(id = %response.id, "answer to no pending request");
            return;
        };
        let result = requests::answer(response.result);
        match p.waiter {
            Waiter::Caller(tx) => {
                match &result {
                    Ok(_) => self.apply(p.effect),
                    Err(_) => {
                        if let Some(route) = &p.route {
                            self.router.remove_if_same(&route.topics, &route.tx);
                        }
                    }
                }
                let _ = tx.send(result);
            }
            Waiter::Resubscribe(topics) => match result {
                Ok(_) => {
                    self.resubscribing.0 = self.resubscribing.0.saturating_sub(1);
                    self.maybe_resubscribed();
                }
                // Rate limited or the relay's storage in trouble: again
                // after a pause (the chunk stays outstanding meanwhile).
                Err(e) if e.is_retriable() => {
                    tracing::debug!(topics = topics.len(), error = %e, "re-subscription refused for now; retrying");
                    self.retry.add(topics);
                }
                Err(e) => {
                    tracing::warn!(topics = topics.len(), error = %e, "re-subscription failed")
                }
            },
        }
    }

    /// Writes this turn's frames with one flush.
    async fn flush(&mut self, ws: &mut Socket, conn: &mut Conn) -> Result<(), Error> {
        if conn.out.is_empty() {
            return Ok(());
        }
        for frame in conn.out.drain(..) {
            ws.feed(WsMessage::text(frame))
                .await
                .map_err(crate::handshake::map_ws_error)?;
        }
        ws.flush().await.map_err(crate::handshake::map_ws_error)
    }

    /// The relay closed the socket (or the stream ended).
    fn ended(&self, conn: &Conn) -> SocketEnd {
        match &conn.close {
            Some((CLOSE_AUTH, reason)) => SocketEnd::Auth(reason.clone()),
            _ => lost(conn, Error::Disconnected),
        }
    }

    /// After a socket: nothing from it is valid any more.
    fn teardown(&mut self, conn: &Conn, end: &SocketEnd) {
        self.shared.set_live(None);
        self.router.clear_unrouted();
        self.dedup.clear();
        self.resubscribing = (0, 0);
        self.retry.clear();
        let error = match end {
            SocketEnd::Stop => Error::Closed,
            SocketEnd::Auth(reason) => Error::Auth {
                reason: reason.clone(),
            },
            SocketEnd::Lost { .. } => Error::Disconnected,
        };
        self.pending.fail_all(&error);
        let (code, reason) = match (&conn.close, end) {
            (Some((code, reason)), _) => (Some(*code), reason.clone()),
            (None, SocketEnd::Lost { error, .. }) => match error {
                Error::Disconnected => (None, "connection lost".to_owned()),
                other => (None, other.to_string()),
            },
            (None, _) => (None, "closed".to_owned()),
        };
        self.shared
            .events
            .emit(Event::Disconnected { code, reason });
    }
}

fn lost(conn: &Conn, error: Error) -> SocketEnd {
    SocketEnd::Lost {
        confirmed: conn.confirmed,
        error,
    }
}

/// Closes with 1000 and waits (briefly) for the relay's close, so that
/// everything written before is processed by the relay first.
async fn close(ws: &mut Socket, conn: &mut Conn, reason: &str) {
    conn.close = Some((1000, reason.to_owned()));
    let frame = CloseFrame {
        code: CloseCode::Normal,
        reason: reason.to_owned().into(),
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), async {
        if ws.close(Some(frame)).await.is_ok() {
            while let Some(Ok(_)) = ws.next().await {}
        }
    })
    .await;
}

/// Re-subscription chunks the relay refused for now (rate limit, storage
/// trouble), waiting to be sent again: after 1 s, then twice as long each
/// round, at most 30 s. A new socket subscribes everything anyway and
/// clears it.
#[derive(Debug, Default)]
pub(crate) struct ResubscribeRetry {
    topics: Vec<Topic>,
    /// Refused chunks these topics came in (still counted as outstanding).
    chunks: usize,
    due: Option<Instant>,
    /// Rounds already sent again.
    round: u32,
}

impl ResubscribeRetry {
    fn add(&mut self, topics: Vec<Topic>) {
        self.topics.extend(topics);
        self.chunks += 1;
        let pause = std::time::Duration::from_secs(1u64 << self.round.min(5))
            .min(std::time::Duration::from_secs(30));
        self.due.get_or_insert(Instant::now() + pause);
    }

    /// The topics and refused chunks to send again, if their time has come.
    fn take_due(&mut self, now: Instant) -> Option<(Vec<Topic>, usize)> {
        if self.due.is_none_or(|d| d > now) {
            return None;
        }
        self.due = None;
        self.round += 1;
        Some((
            std::mem::take(&mut self.topics),
            std::mem::take(&mut self.chunks),
        ))
    }

    fn clear(&mut self) {
        *self = ResubscribeRetry::default();
    }
}
