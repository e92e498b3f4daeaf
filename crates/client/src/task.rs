//! The connection task's life: dial, run the socket (see `socket.rs`), and
//! after a loss wait out the backoff and dial again, until the client is
//! closed, every handle is dropped, or the relay refuses the credentials.
//!
//! While no socket is up, requests are queued (each within its caller's
//! timeout) and written in order once the next socket is confirmed, after
//! the re-subscription. The first connection is the exception: if it fails,
//! [`crate::connect`] reports the error and the task ends.

use std::collections::{BTreeSet, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use relaybox_proto::Topic;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Interval, MissedTickBehavior};

use crate::backoff;
use crate::dedup::Dedup;
use crate::error::{Error, Result};
use crate::events::Event;
use crate::handshake::Dialer;
use crate::requests::PendingMap;
use crate::routing::Router;
use crate::shared::{Command, Effect, Feedback, Outgoing, Shared};

/// How often queued and pending requests are checked for abandoned callers,
/// and the socket for keepalive.
const HOUSEKEEPING: Duration = Duration::from_millis(250);

/// How a socket ended.
#[derive(Debug)]
pub(crate) enum SocketEnd {
    /// Closed on purpose (`close`, or every handle dropped).
    Stop,
    /// The relay refused the credentials (close 3000 or HTTP 401/403).
    Auth(String),
    /// Lost; `confirmed` says whether the relay had answered on it.
    Lost { confirmed: bool, error: Error },
}

/// What happened while waiting without a socket.
enum Offline<T> {
    Done(T),
    /// `Reconnect` was asked for: stop waiting.
    Interrupted,
    /// Close, or every handle dropped.
    Stop,
}

/// The state the connection task owns.
pub(crate) struct Task {
    pub(crate) dialer: Arc<Dialer>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) commands: mpsc::Receiver<Command>,
    pub(crate) acks: mpsc::UnboundedReceiver<Feedback>,
    pub(crate) router: Router,
    /// Messages of the current socket, to drop the relay's repeated pushes.
    pub(crate) dedup: Dedup,
    pub(crate) pending: PendingMap,
    /// Requests not yet written, oldest first.
    pub(crate) queue: VecDeque<Outgoing>,
    /// Topics to subscribe again after a reconnect.
    pub(crate) topics: BTreeSet<Topic>,
    /// Sockets opened so far; the current one's generation.
    pub(crate) generation: u64,
    pub(crate) housekeeping: Interval,
    /// Outstanding re-subscription chunks, and how many topics they cover.
    pub(crate) resubscribing: (usize, usize),
    /// Refused re-subscription chunks waiting to be sent again.
    pub(crate) retry: crate::socket::ResubscribeRetry,
    pub(crate) first: Option<oneshot::Sender<Result<()>>>,
    pub(crate) reconnect_waiters: Vec<oneshot::Sender<Result<()>>>,
    pub(crate) close_waiters: Vec<oneshot::Sender<()>>,
}

impl Task {
    pub(crate) fn new(
        dialer: Dialer,
        shared: Arc<Shared>,
        commands: mpsc::Receiver<Command>,
        acks: mpsc::UnboundedReceiver<Feedback>,
        first: oneshot::Sender<Result<()>>,
    ) -> Task {
        let mut housekeeping = tokio::time::interval(HOUSEKEEPING);
        housekeeping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let router = Router::new(dialer.options().unrouted_buffer);
        Task {
            dialer: Arc::new(dialer),
            shared,
            commands,
            acks,
            router,
            dedup: Dedup::default(),
            pending: PendingMap::default(),
            queue: VecDeque::new(),
            topics: BTreeSet::new(),
            generation: 0,
            housekeeping,
            resubscribing: (0, 0),
            retry: Default::default(),
            first: Some(first),
            reconnect_waiters: Vec::new(),
            close_waiters: Vec::new(),
        }
    }

    /// Runs until the client stops.
    pub(crate) async fn run(mut self) {
        let policy = self.dialer.options().reconnect.clone();
        let mut attempt: u32 = 0;
        let stopped = loop {
            let dialer = self.dialer.clone();
            let end = match self.offline(dialer.dial(), false).await {
                Offline::Stop => break None,
                Offline::Interrupted => continue,
                Offline::Done(Ok(socket)) => self.connected(socket).await,
                Offline::Done(Err(Error::Auth { reason })) => SocketEnd::Auth(reason),
                Offline::Done(Err(error)) => SocketEnd::Lost {
                    confirmed: false,
                    error,
                },
            };
            let error = match end {
                SocketEnd::Stop => break None,
                SocketEnd::Auth(reason) => break Some(Error::Auth { reason }),
                SocketEnd::Lost { confirmed, error } => {
                    if confirmed {
                        attempt = 0;
                    }
                    error
                }
            };
            if self.first.is_some() || !policy.enabled {
                // The first connection fails fast; and without reconnection
                // any loss is the end.
                break Some(error);
            }
            attempt = attempt.saturating_add(1);
            if policy.max_attempts.is_some_and(|max| attempt > max) {
                break Some(error);
            }
            let delay = backoff::next_delay(&policy, attempt);
            tracing::debug!(attempt, ?delay, %error, "reconnecting");
            self.shared
                .events
                .emit(Event::Reconnecting { attempt, delay });
            if let Offline::Stop = self.offline(tokio::time::sleep(delay), true).await {
                break None;
            }
        };
        self.finish(stopped.unwrap_or(Error::Closed));
    }

    /// Waits for `fut` while serving commands: requests are queued,
    /// `Reconnect` interrupts if `interruptible`, `Close` stops.
    async fn offline<F: Future>(&mut self, fut: F, interruptible: bool) -> Offline<F::Output> {
        tokio::pin!(fut);
        loop {
            tokio::select! {
                out = &mut fut => return Offline::Done(out),
                command = self.commands.recv() => match command {
                    None => return Offline::Stop,
                    Some(Command::Close(done)) => {
                        self.close_waiters.push(done);
                        return Offline::Stop;
                    }
                    Some(Command::Reconnect(done)) => {
                        self.reconnect_waiters.push(done);
                        if interruptible {
                            return Offline::Interrupted;
                        }
                    }
                    Some(Command::Request(out)) => self.enqueue(out),
                },
                // Acks of an earlier socket: the relay will push those again.
                Some(_) = self.acks.recv() => {}
                _ = self.housekeeping.tick() => self.sweep(),
            }
        }
    }

    /// Sets up the request's route now, so pushes are caught, and queues it.
    pub(crate) fn enqueue(&mut self, out: Outgoing) {
        if let Some(route) = &out.route {
            for key in self.router.add(&route.topics, &route.tx) {
                self.dedup.release(&key);
            }
        }
        self.queue.push_back(out);
    }

    /// Forgets requests whose callers gave up.
    pub(crate) fn sweep(&mut self) {
        self.queue.retain(|out| !out.reply.is_closed());
        self.pending.sweep();
    }

    /// Applies a successful request's bookkeeping.
    pub(crate) fn apply(&mut self, effect: Effect) {
        match effect {
            Effect::None => {}
            Effect::Subscribed(topics) => self.topics.extend(topics),
            Effect::Unsubscribed(topics) => {
                for topic in &topics {
                    self.topics.remove(topic);
                }
                for key in self.router.remove(&topics) {
                    self.dedup.release(&key);
                }
            }
        }
    }

    /// The client has stopped because of `cause`: tell everyone still
    /// waiting. [`crate::connect`] gets the cause itself; later calls get
    /// [`Error::Auth`] if that was the cause, else [`Error::Closed`].
    fn finish(mut self, cause: Error) {
        tracing::debug!(%cause, "client stopped");
        if let Some(first) = self.first.take() {
            let _ = first.send(Err(cause.clone()));
        }
        let error = match cause {
            Error::Auth { .. } => cause,
            _ => Error::Closed,
        };
        self.shared.stop(error.clone());
        self.shared.set_live(None);
        let error = self.shared.stopped_error();
        self.pending.fail_all(&error);
        self.commands.close();
        while let Ok(command) = self.commands.try_recv() {
            match command {
                Command::Request(out) => self.queue.push_back(out),
                Command::Reconnect(done) => self.reconnect_waiters.push(done),
                Command::Close(done) => self.close_waiters.push(done),
            }
        }
        for out in self.queue.drain(..) {
            let _ = out.reply.send(Err(error.clone()));
        }
        for waiter in self.reconnect_waiters.drain(..) {
            let _ = waiter.send(Err(error.clone()));
        }
        self.router.clear();
        self.shared.events.close();
        for done in self.close_waiters.drain(..) {
            let _ = done.send(());
        }
    }
}
