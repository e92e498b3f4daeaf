//! Connection events: [`Event`] and the [`Events`] stream that
//! [`crate::Client::events`] hands out.
//!
//! Every listener gets its own bounded queue; a listener that stops reading
//! loses events beyond [`EVENT_QUEUE`] rather than slowing the connection
//! down. The stream ends when the client stops for good.

use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::Stream;
use tokio::sync::mpsc;

/// Events kept per listener before new ones are dropped.
pub const EVENT_QUEUE: usize = 256;

/// Something that happened to the connection.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A socket is open and the relay answered on it (so it accepted the
    /// credentials). Sent for the first connection and every reconnection.
    Connected,
    /// The socket is gone. `code` and `reason` are the relay's close frame
    /// if it sent one, or the client's own (1000, "reconnecting" / "client
    /// closed"); otherwise `code` is `None` and `reason` describes the failure.
    Disconnected {
        /// Close code (1001: relay shutting down, 3000: auth refused...).
        code: Option<u16>,
        /// Close reason or error text.
        reason: String,
    },
    /// Attempt `attempt` (from 1) starts after `delay`.
    Reconnecting {
        /// Failed attempts so far, plus one.
        attempt: u32,
        /// Backoff before this attempt.
        delay: Duration,
    },
    /// After a reconnection, every topic this client subscribed to has been
    /// subscribed again (in `irn_batchSubscribe` chunks of 500; chunks the
    /// relay refused for now, e.g. for its rate limit, after their retry).
    Resubscribed {
        /// How many topics.
        topics: usize,
    },
}

/// The listeners of one client.
#[derive(Debug, Default)]
pub(crate) struct EventHub {
    listeners: Mutex<Vec<mpsc::Sender<Event>>>,
}

impl EventHub {
    pub(crate) fn listen(&self) -> Events {
        let (tx, rx) = mpsc::channel(EVENT_QUEUE);
        self.lock().push(tx);
        Events { rx }
    }

    pub(crate) fn emit(&self, event: Event) {
        tracing::debug!(?event, "client event");
        self.lock().retain(|tx| match tx.try_send(event.clone()) {
            Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => true,
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        });
    }

    /// Ends every stream: the client has stopped.
    pub(crate) fn close(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<mpsc::Sender<Event>>> {
        self.listeners.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A stream of [`Event`]s, from the moment it was created.
#[derive(Debug)]
pub struct Events {
    rx: mpsc::Receiver<Event>,
}

impl Events {
    /// The next event; `None` once the client has stopped.
    pub async fn recv(&mut self) -> Option<Event> {
        self.rx.recv().await
    }
}

impl Stream for Events {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.rx.poll_recv(cx)
    }
}
