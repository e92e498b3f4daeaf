//! Subscriptions as streams: [`Subscription`] yields [`Message`]s, and the
//! acknowledgement of each is tied to the consumer taking it
//! ([`AckMode::OnTake`]) or to an explicit [`Message::ack`]
//! ([`AckMode::Manual`]).
//!
//! A message waiting in a subscription's queue belongs to the socket it
//! arrived on. If that socket has dropped by the time the consumer gets to
//! it, the message is skipped: it was not acknowledged, so the relay pushes
//! it again on the new socket, and yielding both copies would only make
//! duplicates. The consumer therefore sees every message, in publish order
//! per topic, at least once.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::Stream;
use relaybox_proto::{RequestId, Topic};
use tokio::sync::mpsc;

use crate::client::Client;
use crate::dedup::MessageKey;
use crate::error::{Error, Result};
use crate::options::AckMode;
use crate::shared::{Delivered, Feedback, Shared};

/// One message received on a subscription.
#[derive(Clone)]
pub struct Message {
    /// The topic it was published to.
    pub topic: Topic,
    /// The message as published (for WalletConnect: base64 of the envelope).
    pub message: String,
    /// Publish time, Unix milliseconds, set by the relay; 0 when the relay
    /// sent none (the WalletConnect TypeScript relay sample leaves it out).
    pub published_at: u64,
    /// The publisher's tag (1100 = session proposal, ...).
    pub tag: u32,
    /// Verify attestation JWT, if the publisher sent one.
    pub attestation: Option<String>,
    ack: Option<AckHandle>,
}

/// What [`Message::ack`] needs: the push it answers and the socket it came on.
#[derive(Clone)]
struct AckHandle {
    generation: u64,
    push_id: RequestId,
    key: MessageKey,
    acks: mpsc::UnboundedSender<Feedback>,
    shared: Arc<Shared>,
}

impl Message {
    /// Acknowledges the message, so the relay will not deliver it again.
    ///
    /// Only needed in [`AckMode::Manual`]; in [`AckMode::OnTake`] the
    /// message was acknowledged when the stream yielded it, and this does
    /// nothing. Fails with [`Error::Disconnected`] if the socket the message
    /// came on has dropped (the relay will then deliver it again) and with
    /// [`Error::Closed`] if the client has stopped. Acking twice is harmless.
    pub fn ack(&self) -> Result<()> {
        let Some(handle) = &self.ack else {
            return Ok(());
        };
        if handle.shared.live_generation() != handle.generation {
            return Err(Error::Disconnected);
        }
        handle
            .acks
            .send(Feedback::Ack {
                generation: handle.generation,
                push_id: handle.push_id.clone(),
                key: handle.key,
            })
            .map_err(|_| Error::Closed)
    }

    /// Whether [`Message::ack`] still has something to do (manual mode).
    pub fn needs_ack(&self) -> bool {
        self.ack.is_some()
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("topic", &self.topic)
            .field("message", &self.message)
            .field("published_at", &self.published_at)
            .field("tag", &self.tag)
            .field("attestation", &self.attestation)
            .field("needs_ack", &self.needs_ack())
            .finish()
    }
}

/// A stream of the messages published to one or more topics.
///
/// Made by [`Client::subscribe`], [`Client::batch_subscribe`] and the
/// session helpers. The stream ends when its topics are unsubscribed, when a
/// newer Subscription takes over all of its topics, or when the client stops.
///
/// Dropping a Subscription only stops local delivery: the relay keeps the
/// subscription (it is durable, tied to the client id) and keeps its
/// messages until they are acknowledged or expire. Use
/// [`Subscription::unsubscribe`] to end it at the relay.
pub struct Subscription {
    topics: Vec<Topic>,
    ids: Vec<String>,
    rx: mpsc::Receiver<Delivered>,
    client: Client,
}

impl Subscription {
    pub(crate) fn new(
        topics: Vec<Topic>,
        ids: Vec<String>,
        rx: mpsc::Receiver<Delivered>,
        client: Client,
    ) -> Subscription {
        Subscription {
            topics,
            ids,
            rx,
            client,
        }
    }

    /// The topics this stream carries.
    pub fn topics(&self) -> &[Topic] {
        &self.topics
    }

    /// The relay's subscription ids, one per topic, in the same order.
    pub fn ids(&self) -> &[String] {
        &self.ids
    }

    /// Unsubscribes every topic of this stream at the relay (in
    /// `irn_batchUnsubscribe` chunks of 500) and ends the stream.
    pub async fn unsubscribe(self) -> Result<()> {
        self.client.batch_unsubscribe(&self.topics).await
    }

    /// The next message; `None` when the stream has ended. The same as
    /// `StreamExt::next`.
    pub async fn next_message(&mut self) -> Option<Message> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    fn take(&self, d: Delivered) -> Message {
        let shared = &self.client.shared;
        let ack = match shared.ack_mode {
            AckMode::OnTake => {
                // The consumer has it now: answer the relay.
                let _ = self.client.acks.send(Feedback::Ack {
                    generation: d.generation,
                    push_id: d.push_id,
                    key: d.key,
                });
                None
            }
            AckMode::Manual => Some(AckHandle {
                generation: d.generation,
                push_id: d.push_id,
                key: d.key,
                acks: self.client.acks.clone(),
                shared: shared.clone(),
            }),
        };
        Message {
            topic: d.data.topic,
            message: d.data.message,
            published_at: d.data.published_at,
            tag: d.data.tag,
            attestation: d.data.attestation,
            ack,
        }
    }
}

impl Stream for Subscription {
    type Item = Message;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Message>> {
        loop {
            match self.rx.poll_recv(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Ready(Some(d)) => {
                    if d.generation != self.client.shared.live_generation() {
                        // Its socket is gone; the relay will push it again.
                        continue;
                    }
                    let message = self.take(d);
                    return Poll::Ready(Some(message));
                }
            }
        }
    }
}

impl Drop for Subscription {
    /// Messages still queued were never taken: tell the task, so that the
    /// relay's next push of them (after a subscribe) is delivered again.
    fn drop(&mut self) {
        self.rx.close();
        let live = self.client.shared.live_generation();
        let mut keys = Vec::new();
        while let Ok(d) = self.rx.try_recv() {
            if d.generation == live {
                keys.push(d.key);
            }
        }
        if !keys.is_empty() {
            let _ = self.client.acks.send(Feedback::Release {
                generation: live,
                keys,
            });
        }
    }
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("topics", &self.topics.len())
            .finish_non_exhaustive()
    }
}
