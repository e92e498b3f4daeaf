//! What the API handles and the connection task share: the messages that
//! travel between them ([`Command`], [`Ack`], [`Delivered`]) and the little
//! state both read ([`Shared`]: the live socket's generation, whether it is
//! connected, the error that stopped the client, the event listeners).
//!
//! Handles never touch the socket: they send a command over an mpsc channel
//! and wait on a oneshot. Acks ([`Feedback`]) use a separate unbounded channel so that
//! taking a message from a stream is a plain synchronous call.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use relaybox_proto::{Params, RequestId, SubscriptionData, Topic};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use crate::dedup::MessageKey;
use crate::error::{Error, Result};
use crate::events::EventHub;
use crate::options::AckMode;

/// A push as it waits in a subscription's queue.
#[derive(Debug)]
pub(crate) struct Delivered {
    /// Generation of the socket it arrived on.
    pub(crate) generation: u64,
    /// The relay's request id, echoed in the ack.
    pub(crate) push_id: RequestId,
    /// (topic, sha256 of the message), for duplicate detection.
    pub(crate) key: MessageKey,
    pub(crate) data: SubscriptionData,
}

/// What subscriptions and messages tell the task about pushes; valid only
/// on socket `generation`.
#[derive(Debug)]
pub(crate) enum Feedback {
    /// Answer push `push_id` (message `key`) with `true`.
    Ack {
        generation: u64,
        push_id: RequestId,
        key: MessageKey,
    },
    /// These messages were let go unacknowledged (a Subscription dropped
    /// with messages still queued).
    Release {
        generation: u64,
        keys: Vec<MessageKey>,
    },
}

/// Bookkeeping to apply when a request succeeds.
#[derive(Debug, Default)]
pub(crate) enum Effect {
    #[default]
    None,
    /// Remember these topics for re-subscription after a reconnect.
    Subscribed(Vec<Topic>),
    /// Forget these topics and end their local delivery.
    Unsubscribed(Vec<Topic>),
}

/// Local delivery to set up before a request goes out, so that pushes that
/// follow its answer are not missed.
#[derive(Debug)]
pub(crate) struct Route {
    pub(crate) topics: Vec<Topic>,
    pub(crate) tx: mpsc::Sender<Delivered>,
}

/// One request for the relay.
#[derive(Debug)]
pub(crate) struct Outgoing {
    pub(crate) params: Params,
    pub(crate) reply: oneshot::Sender<Result<Value>>,
    pub(crate) effect: Effect,
    pub(crate) route: Option<Route>,
}

/// What a handle asks the connection task to do.
#[derive(Debug)]
pub(crate) enum Command {
    Request(Outgoing),
    /// Drop the socket (closing it with 1000) and connect again now;
    /// answered once the relay has answered on the new socket.
    Reconnect(oneshot::Sender<Result<()>>),
    /// Close with 1000 and stop for good.
    Close(oneshot::Sender<()>),
}

/// State shared by every handle and the task.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) client_id: String,
    pub(crate) ack_mode: AckMode,
    pub(crate) request_timeout: std::time::Duration,
    pub(crate) subscription_buffer: usize,
    /// Generation of the socket the relay has answered on, 0 while none.
    live_generation: AtomicU64,
    connected: AtomicBool,
    /// Why the client stopped, once it has.
    stopped: Mutex<Option<Error>>,
    pub(crate) events: EventHub,
}

impl Shared {
    pub(crate) fn new(
        client_id: String,
        ack_mode: AckMode,
        request_timeout: std::time::Duration,
        subscription_buffer: usize,
    ) -> Shared {
        Shared {
            client_id,
            ack_mode,
            request_timeout,
            subscription_buffer: subscription_buffer.max(1),
            live_generation: AtomicU64::new(0),
            connected: AtomicBool::new(false),
            stopped: Mutex::new(None),
            events: EventHub::default(),
        }
    }

    pub(crate) fn live_generation(&self) -> u64 {
        self.live_generation.load(Ordering::Acquire)
    }

    pub(crate) fn set_live(&self, generation: Option<u64>) {
        self.live_generation
            .store(generation.unwrap_or(0), Ordering::Release);
        self.connected
            .store(generation.is_some(), Ordering::Release);
    }

    pub(crate) fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }

    /// Records why the client stopped (the first reason wins).
    pub(crate) fn stop(&self, error: Error) {
        let mut stopped = self.stopped.lock().unwrap_or_else(|e| e.into_inner());
        stopped.get_or_insert(error);
    }

    /// The error calls get once the task is gone: why it stopped, else `Closed`.
    pub(crate) fn stopped_error(&self) -> Error {
        self.stopped
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .unwrap_or(Error::Closed)
    }
}
