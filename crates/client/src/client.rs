//! [`Client`], the cheap-to-clone handle applications call, and
//! [`connect`], which starts the connection task behind it.
//!
//! Every method turns into a [`Command`] for the task (a bounded mpsc
//! channel) and waits for the answer on a oneshot, within the request
//! timeout. Batch methods split their input into chunks of 500, the relay's
//! batch limit.

use std::sync::Arc;
use std::time::Duration;

use relaybox_auth::Keypair;
use relaybox_proto::{
    subscription_id, ApproveSessionParams, BatchFetchMessagesParams, BatchReceiveParams,
    BatchSubscribeParams, BatchUnsubscribeParams, FetchMessagesParams, FetchMessagesResult,
    FetchedMessage, Params, ProposeSessionParams, PublishParams, Receipt, SubscribeParams, Topic,
    UnsubscribeParams,
};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use crate::error::{Error, Result};
use crate::events::Events;
use crate::handshake::Dialer;
use crate::options::ConnectOptions;
use crate::requests::{self, chunks};
use crate::shared::{Command, Effect, Feedback, Outgoing, Route, Shared};
use crate::subscription::Subscription;
use crate::task::Task;

/// Commands that may wait for the task before callers are slowed down.
const COMMAND_QUEUE: usize = 1024;

/// Connects to the relay at `url` (`ws://host:port`) as `keypair`.
///
/// Resolves once the relay has accepted the connection (it answered on the
/// socket), or fails: [`Error::Auth`] if it refused the credentials,
/// [`Error::Io`]/[`Error::Http`]/[`Error::Timeout`] if it could not be
/// reached. Only this first connection fails fast; once connected, the
/// client reconnects by itself (see [`ConnectOptions::reconnect`]).
///
/// Must be called within a Tokio runtime: it spawns the connection task.
pub async fn connect(url: &str, keypair: Keypair, options: ConnectOptions) -> Result<Client> {
    let dialer = Dialer::new(url, keypair, options)?;
    let opts = dialer.options();
    let shared = Arc::new(Shared::new(
        dialer.client_id(),
        opts.ack_mode,
        opts.request_timeout,
        opts.subscription_buffer,
    ));
    let (commands, command_rx) = mpsc::channel(COMMAND_QUEUE);
    let (acks, ack_rx) = mpsc::unbounded_channel();
    let (first_tx, first_rx) = oneshot::channel();
    let task = Task::new(dialer, shared.clone(), command_rx, ack_rx, first_tx);
    tokio::spawn(task.run());
    let client = Client {
        shared,
        commands,
        acks,
    };
    match first_rx.await {
        Ok(Ok(())) => Ok(client),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(client.shared.stopped_error()),
    }
}

/// A handle to one relay connection. Clones share the connection.
///
/// The connection stays up while any clone (or any [`Subscription`]) is
/// alive, or until [`Client::close`].
#[derive(Clone, Debug)]
pub struct Client {
    pub(crate) shared: Arc<Shared>,
    pub(crate) commands: mpsc::Sender<Command>,
    pub(crate) acks: mpsc::UnboundedSender<Feedback>,
}

impl Client {
    /// This client's id: the `did:key` of its key, which owns its mailbox.
    pub fn client_id(&self) -> &str {
        &self.shared.client_id
    }

    /// Whether a socket is up and the relay has answered on it.
    pub fn is_connected(&self) -> bool {
        self.shared.is_connected()
    }

    /// A stream of connection events from now on.
    pub fn events(&self) -> Events {
        self.shared.events.listen()
    }

    /// Publishes `message` to `topic`, kept by the relay for `ttl` (whole
    /// seconds) for subscribers that are offline. Resolves when the relay has
    /// answered `true`, which it does only once the message is on disk.
    pub async fn publish(
        &self,
        topic: Topic,
        message: impl Into<String>,
        ttl: Duration,
        tag: u32,
        prompt: bool,
    ) -> Result<()> {
        self.publish_with(PublishParams {
            topic,
            message: message.into(),
            ttl: u32::try_from(ttl.as_secs()).unwrap_or(u32::MAX),
            tag,
            prompt,
            attestation: None,
        })
        .await
    }

    /// [`Client::publish`] with every field of `irn_publish` (attestation).
    pub async fn publish_with(&self, params: PublishParams) -> Result<()> {
        requests::expect_true(self.request(Params::Publish(params)).await?)
    }

    /// Subscribes to `topic` and returns the stream of its messages,
    /// starting with whatever the relay holds for this client.
    pub async fn subscribe(&self, topic: Topic) -> Result<Subscription> {
        let (tx, rx) = self.subscription_queue();
        let value = self
            .call(
                Params::Subscribe(SubscribeParams { topic }),
                Effect::Subscribed(vec![topic]),
                Some(Route {
                    topics: vec![topic],
                    tx,
                }),
            )
            .await?;
        let id = requests::expect_string(value)?;
        Ok(Subscription::new(vec![topic], vec![id], rx, self.clone()))
    }

    /// Subscribes to every topic of `topics` (`irn_batchSubscribe`, in
    /// chunks of 500) and returns one stream for all of them. If a chunk
    /// fails, the chunks before it stay subscribed.
    pub async fn batch_subscribe(&self, topics: &[Topic]) -> Result<Subscription> {
        non_empty(topics)?;
        let (tx, rx) = self.subscription_queue();
        let mut ids = Vec::with_capacity(topics.len());
        for chunk in chunks(topics) {
            let value = self
                .call(
                    Params::BatchSubscribe(BatchSubscribeParams {
                        topics: chunk.clone(),
                    }),
                    Effect::Subscribed(chunk.clone()),
                    Some(Route {
                        topics: chunk.clone(),
                        tx: tx.clone(),
                    }),
                )
                .await?;
            ids.extend(requests::expect_ids(value, &chunk, self.client_id())?);
        }
        Ok(Subscription::new(topics.to_vec(), ids, rx, self.clone()))
    }

    /// Ends the subscription to `topic` at the relay; its stream ends.
    pub async fn unsubscribe(&self, topic: Topic) -> Result<()> {
        let params = Params::Unsubscribe(UnsubscribeParams {
            topic,
            id: Some(subscription_id(&topic, self.client_id())),
        });
        let value = self
            .call(params, Effect::Unsubscribed(vec![topic]), None)
            .await?;
        requests::expect_true(value)
    }

    /// [`Client::unsubscribe`] for many topics (`irn_batchUnsubscribe`, in
    /// chunks of 500).
    pub async fn batch_unsubscribe(&self, topics: &[Topic]) -> Result<()> {
        non_empty(topics)?;
        for chunk in chunks(topics) {
            let subscriptions = chunk
                .iter()
                .map(|topic| UnsubscribeParams {
                    topic: *topic,
                    id: Some(subscription_id(topic, self.client_id())),
                })
                .collect();
            let params = Params::BatchUnsubscribe(BatchUnsubscribeParams { subscriptions });
            let value = self.call(params, Effect::Unsubscribed(chunk), None).await?;
            requests::expect_true(value)?;
        }
        Ok(())
    }

    /// One page of what the relay holds for this client on `topic`
    /// (`irn_fetchMessages`). The relay counts what it returns as delivered.
    pub async fn fetch(&self, topic: Topic) -> Result<FetchMessagesResult> {
        let value = self
            .request(Params::FetchMessages(FetchMessagesParams { topic }))
            .await?;
        requests::expect_fetch(value)
    }

    /// Fetches `topic` page after page while the relay says `hasMore`.
    pub async fn fetch_all(&self, topic: Topic) -> Result<Vec<FetchedMessage>> {
        let mut all = Vec::new();
        loop {
            let page = self.fetch(topic).await?;
            // An empty page that promises more would loop forever.
            let more = page.has_more && !page.messages.is_empty();
            all.extend(page.messages);
            if !more {
                return Ok(all);
            }
        }
    }

    /// Fetches every topic of `topics` (`irn_batchFetchMessages`, in chunks
    /// of 500), repeating each chunk while the relay says `hasMore`.
    pub async fn batch_fetch(&self, topics: &[Topic]) -> Result<Vec<FetchedMessage>> {
        non_empty(topics)?;
        let mut all = Vec::new();
        for chunk in chunks(topics) {
            loop {
                let params = Params::BatchFetchMessages(BatchFetchMessagesParams {
                    topics: chunk.clone(),
                });
                let page = requests::expect_fetch(self.request(params).await?)?;
                let more = page.has_more && !page.messages.is_empty();
                all.extend(page.messages);
                if !more {
                    break;
                }
            }
        }
        Ok(all)
    }

    /// Tells the relay these messages were received, clearing them from the
    /// mailbox (`irn_batchReceive`, in chunks of 500).
    pub async fn batch_receive(&self, receipts: &[Receipt]) -> Result<()> {
        non_empty(receipts)?;
        for chunk in chunks(receipts) {
            let params = Params::BatchReceive(BatchReceiveParams { receipts: chunk });
            requests::expect_true(self.request(params).await?)?;
        }
        Ok(())
    }

    /// `wc_proposeSession`: the relay subscribes this client to
    /// `pairing_topic` and publishes `session_proposal` there (tag 1100,
    /// TTL 300 s) for the wallet. Returns the stream of the pairing topic,
    /// where the wallet's answer (tag 1101) arrives.
    pub async fn propose_session(
        &self,
        pairing_topic: Topic,
        session_proposal: impl Into<String>,
        attestation: Option<String>,
    ) -> Result<Subscription> {
        let params = Params::ProposeSession(ProposeSessionParams {
            pairing_topic,
            session_proposal: session_proposal.into(),
            attestation,
        });
        self.implicit_subscribe(params, pairing_topic).await
    }

    /// `wc_approveSession`: the relay subscribes this client to the session
    /// topic, publishes the proposal response to the pairing topic (tag
    /// 1101) and the settle request to the session topic (tag 1102), both
    /// with TTL 300 s. Returns the stream of the session topic.
    pub async fn approve_session(&self, params: ApproveSessionParams) -> Result<Subscription> {
        let session_topic = params.session_topic;
        self.implicit_subscribe(Params::ApproveSession(params), session_topic)
            .await
    }

    /// Sends any request and returns the relay's raw `result`.
    pub async fn request(&self, params: Params) -> Result<Value> {
        self.call(params, Effect::None, None).await
    }

    /// Drops the current socket (close 1000) and connects again at once,
    /// resolving when the relay has answered on the new socket. Messages
    /// that were pushed but not acknowledged come again.
    pub async fn reconnect(&self) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Reconnect(tx)).await?;
        self.wait(rx).await
    }

    /// Closes the socket (close 1000) and stops the client: requests fail
    /// with [`Error::Closed`], subscription and event streams end. Safe to
    /// call more than once.
    pub async fn close(&self) {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Close(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }

    async fn implicit_subscribe(&self, params: Params, topic: Topic) -> Result<Subscription> {
        let (tx, rx) = self.subscription_queue();
        let route = Route {
            topics: vec![topic],
            tx,
        };
        let value = self
            .call(params, Effect::Subscribed(vec![topic]), Some(route))
            .await?;
        requests::expect_true(value)?;
        let id = subscription_id(&topic, self.client_id());
        Ok(Subscription::new(vec![topic], vec![id], rx, self.clone()))
    }

    fn subscription_queue(
        &self,
    ) -> (
        mpsc::Sender<crate::shared::Delivered>,
        mpsc::Receiver<crate::shared::Delivered>,
    ) {
        mpsc::channel(self.shared.subscription_buffer)
    }

    async fn call(&self, params: Params, effect: Effect, route: Option<Route>) -> Result<Value> {
        let (reply, rx) = oneshot::channel();
        let deadline = tokio::time::Instant::now() + self.shared.request_timeout;
        let command = Command::Request(Outgoing {
            params,
            reply,
            effect,
            route,
        });
        match tokio::time::timeout_at(deadline, self.commands.send(command)).await {
            Err(_) => return Err(Error::Timeout),
            Ok(Err(_)) => return Err(self.shared.stopped_error()),
            Ok(Ok(())) => {}
        }
        match tokio::time::timeout_at(deadline, rx).await {
            Err(_) => Err(Error::Timeout),
            Ok(Err(_)) => Err(self.shared.stopped_error()),
            Ok(Ok(result)) => result,
        }
    }

    async fn send(&self, command: Command) -> Result<()> {
        self.commands
            .send(command)
            .await
            .map_err(|_| self.shared.stopped_error())
    }

    async fn wait(&self, rx: oneshot::Receiver<Result<()>>) -> Result<()> {
        match tokio::time::timeout(self.shared.request_timeout, rx).await {
            Err(_) => Err(Error::Timeout),
            Ok(Err(_)) => Err(self.shared.stopped_error()),
            Ok(Ok(result)) => result,
        }
    }
}

fn non_empty<T>(items: &[T]) -> Result<()> {
    if items.is_empty() {
        Err(Error::InvalidInput(
            "a batch needs at least one item".into(),
        ))
    } else {
        Ok(())
    }
}
