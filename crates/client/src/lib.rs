//! Rust client SDK for WalletConnect v2 relays: Relaybox, and any relay that
//! speaks the same JSON-RPC.
//!
//! ```no_run
//! use std::time::Duration;
//! use futures_util::StreamExt;
//! use relaybox_client::{connect, random_topic, ConnectOptions, Keypair};
//!
//! # async fn run() -> relaybox_client::Result<()> {
//! let wallet = connect("ws://127.0.0.1:8080", Keypair::generate(), ConnectOptions::default()).await?;
//! let dapp = connect("ws://127.0.0.1:8080", Keypair::generate(), ConnectOptions::default()).await?;
//!
//! let topic = random_topic();
//! let mut messages = wallet.subscribe(topic).await?;
//! dapp.publish(topic, "hello", Duration::from_secs(300), 1108, true).await?;
//! let message = messages.next().await.expect("stream open");
//! assert_eq!(message.message, "hello");
//! # Ok(()) }
//! ```
//!
//! # What it does
//!
//! - [`connect`] signs the client-auth JWT with the [`Keypair`] (`aud` = the
//!   URL, unless [`ConnectOptions::audience`] says otherwise) and sends it as
//!   `?auth=` or as `Authorization: Bearer` ([`AuthMode`]), with the
//!   `projectId`, `ua` and `useOnCloseEvent=true` query parameters.
//! - One task owns the socket; [`Client`] handles are cheap clones that talk
//!   to it over channels. It pings, notices a silent relay, and reconnects
//!   with exponential backoff and jitter ([`ReconnectPolicy`]). After a
//!   reconnect it subscribes every topic again (`irn_batchSubscribe` in
//!   chunks of 500; a chunk the relay refuses for now, such as 3001 for its
//!   rate limit, is sent again after 1 s, doubling to 30 s) and carries on.
//!   [`Client::events`] reports
//!   [`Event::Connected`], [`Event::Disconnected`], [`Event::Reconnecting`]
//!   and [`Event::Resubscribed`].
//! - A [`Subscription`] is a `Stream` of [`Message`]s. Acknowledgement
//!   follows [`AckMode`]: when the stream yields the message (the default),
//!   or when the application calls [`Message::ack`].
//! - [`Client::publish`] resolves when the relay has answered `true` (it does
//!   once the message is durable); fetch, batch fetch (following `hasMore`),
//!   batch subscribe/unsubscribe, receipts and the `wc_proposeSession` /
//!   `wc_approveSession` helpers are there too. Every frame is built and
//!   parsed by `relaybox-proto`, the same code the relay uses.
//! - Errors are one enum, [`Error`]; the relay's errors are typed by code
//!   and data tag into [`ErrorKind`].
//!
//! # Delivery guarantees and the choices behind them
//!
//! - **At least once, in order per topic.** The relay keeps every message
//!   until this client id acknowledges it. A message taken from a
//!   subscription is acknowledged on the socket it came on; if that socket
//!   drops first, the relay pushes it again on the next one. Within one
//!   socket the SDK drops the relay's repeated pushes of a message it already
//!   holds (the relay re-pushes everything unacknowledged after each
//!   subscribe), recognising a message by topic and sha256 of its content as
//!   the JS SDK does; across sockets a message whose ack was lost with the
//!   socket can come twice.
//! - **Pushes for topics without a live `Subscription`** (the relay pushes a
//!   client's whole mailbox as soon as it connects) are held in a bounded
//!   buffer ([`ConnectOptions::unrouted_buffer`]) and handed to the first
//!   Subscription made for their topic. They are *not* acknowledged until a
//!   consumer takes them; past the bound, and when the socket drops, they are
//!   let go unacknowledged and the relay delivers them on a later
//!   connection. Nothing is acknowledged that no consumer has seen.
//! - **Requests in flight when the socket drops fail** with
//!   [`Error::Disconnected`], which is retriable ([`Error::is_retriable`]);
//!   the SDK does not resend them by itself, because it cannot know whether
//!   the relay carried them out and one of them (fetch) consumes. Publish,
//!   subscribe and unsubscribe are safe to repeat: the relay deduplicates a
//!   message per topic and subscriptions are idempotent. Requests made while
//!   no socket is up are queued and written once the relay has accepted the
//!   next socket (within [`ConnectOptions::request_timeout`]).
//! - **Auth refusals stop the client.** A close 3000 (or an HTTP 401/403 on
//!   the upgrade) means the relay rejects this key or audience; the client
//!   reports [`Error::Auth`] and does not reconnect, as the official clients
//!   do. Any other close (1001 shutdown, 1013 overload...) is reconnected.
//!
//! Only `ws://` is supported: TLS is not built in. Run a TLS-terminating
//! proxy next to the application, or talk to the relay's plain port.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod backoff;
mod client;
mod dedup;
mod error;
mod events;
mod handshake;
mod options;
mod requests;
mod routing;
mod shared;
mod socket;
mod subscription;
mod task;

pub use client::{connect, Client};
pub use error::{Error, Result};
pub use events::{Event, Events, EVENT_QUEUE};
pub use options::{default_user_agent, AckMode, AuthMode, ConnectOptions, ReconnectPolicy};
pub use requests::BATCH_CHUNK;
pub use subscription::{Message, Subscription};

pub use relaybox_auth as auth;
pub use relaybox_auth::Keypair;
pub use relaybox_proto as proto;
pub use relaybox_proto::{
    ApproveSessionParams, ErrorData, ErrorKind, FetchMessagesResult, FetchedMessage, Params,
    PublishParams, Receipt, Topic,
};

/// A fresh random topic (32 random bytes), for pairing and tests.
pub fn random_topic() -> Topic {
    Topic::from_bytes(rand::random())
}
