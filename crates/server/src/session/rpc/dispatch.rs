//! Routes each request to its handler and sends the reply: at once for reads,
//! after group commit for anything that must survive a crash.

use std::time::Instant;

use relaybox_proto::{
    error_frame, parse_incoming, result_frame, ErrorData, ErrorKind, Incoming, Params, Request,
};

use crate::session::{size_cost, Durable, Session};

/// How a handler wants its result sent.
pub enum Reply {
    /// Send this result frame now.
    Now(String),
    /// Send this result frame once the store is durable. Topics the request
    /// subscribed to are replayed after it (see `Session::subscribed`).
    AfterSync(String),
    /// Send this result frame once the messages appended so far are
    /// durable (publishes: they wrote nothing else).
    AfterMessagesSync(String),
}

impl Session {
    /// Handles one text frame from the client.
    pub async fn handle_text(&mut self, text: &str) {
        let size_cost = size_cost(text.len());
        // A large frame the budget cannot pay is not even parsed. Small ones
        // (acks among them, which must get through) are cheap to parse.
        if size_cost > 0 && self.refuse_early(1 + size_cost) {
            // Not parsed, so the id is unknown: answered as for an
            // unreadable request.
            let error = ErrorKind::TooManyRequests.to_error_data(None);
            crate::metrics::rpc_error(error.code);
            self.outbox.push(error_frame(None, &error));
            return;
        }
        match parse_incoming(text, &self.relay.limits) {
            Err(rejected) => {
                // Rejected frames cost a token too: flooding garbage is not free.
                let error = if self.allow(1 + size_cost) {
                    rejected.error
                } else {
                    ErrorKind::TooManyRequests.to_error_data(None)
                };
                crate::metrics::rpc_error(error.code);
                self.outbox.push(error_frame(rejected.id.as_ref(), &error));
            }
            Ok(Incoming::Response(response)) => {
                self.on_push_result(response.id.value(), response.result.is_ok());
            }
            Ok(Incoming::Request(request)) => self.handle_request(request, size_cost).await,
        }
    }

    /// Handles a binary frame: the protocol is JSON text only.
    pub fn handle_binary(&mut self) {
        let err = if self.allow(1) {
            ErrorKind::Serialization.to_error_data(Some("binary frames are not supported"))
        } else {
            ErrorKind::TooManyRequests.to_error_data(None)
        };
        crate::metrics::rpc_error(err.code);
        self.outbox.push(error_frame(None, &err));
    }

    /// Handles one request; `size_cost` is what its frame costs for its size
    /// on top of its item count.
    pub async fn handle_request(&mut self, request: Request, size_cost: u32) {
        let started = Instant::now();
        let method = request.params.method();
        let id = request.id;
        let outcome = if self.allow(request.params.cost().saturating_add(size_cost)) {
            self.dispatch(&id, request.params).await
        } else {
            Err(ErrorKind::TooManyRequests.to_error_data(None))
        };
        // Every topic this request subscribed to is replayed once the reply
        // is out, whatever the outcome: a tracked topic holds live messages
        // back until its replay has run.
        let subscribed = std::mem::take(&mut self.subscribed);
        match outcome {
            Ok(Reply::AfterSync(frame)) => {
                self.reply_after_sync(id, frame, subscribed, Durable::All)
            }
            Ok(Reply::AfterMessagesSync(frame)) => {
                self.reply_after_sync(id, frame, subscribed, Durable::Messages)
            }
            Ok(Reply::Now(frame)) => {
                self.outbox.push(frame);
                self.replay_from_acked(subscribed);
            }
            Err(err) => {
                crate::metrics::rpc_error(err.code);
                self.outbox.push(error_frame(Some(&id), &err));
                self.replay_from_acked(subscribed);
            }
        }
        crate::metrics::rpc(method.as_str(), started.elapsed());
    }

    async fn dispatch(
        &mut self,
        id: &relaybox_proto::RequestId,
        params: Params,
    ) -> Result<Reply, ErrorData> {
        let ok = |value: &serde_json::Value| result_frame(id, value);
        let yes = serde_json::Value::Bool(true);
        match params {
            Params::Publish(p) => {
                let events = self.publish(p).await?;
                Ok(after_publish(events, ok(&yes)))
            }
            Params::BatchPublish(b) => {
                let mut events = false;
                for p in b.messages {
                    events |= self.publish(p).await?;
                }
                Ok(after_publish(events, ok(&yes)))
            }
            Params::Subscribe(s) | Params::SubscribeBlocking(s) => {
                let sub_id = self.subscribe(&s.topic).await?;
                Ok(Reply::AfterSync(ok(&serde_json::Value::String(sub_id))))
            }
            Params::BatchSubscribe(b) => {
                let ids = self.batch_subscribe(&b.topics).await?;
                Ok(Reply::AfterSync(ok(&serde_json::json!(ids))))
            }
            Params::BatchSubscribeBlocking(b) => {
                let ids = self.batch_subscribe(&b.topics).await?;
                let items: Vec<_> = ids
                    .into_iter()
                    .map(|id| serde_json::json!({ "id": id }))
                    .collect();
                Ok(Reply::AfterSync(ok(&serde_json::Value::Array(items))))
            }
            Params::Unsubscribe(u) => {
                self.unsubscribe(&u.topic).await?;
                Ok(Reply::AfterSync(ok(&yes)))
            }
            Params::BatchUnsubscribe(b) => {
                let topics: Vec<_> = b.subscriptions.iter().map(|u| u.topic).collect();
                self.batch_unsubscribe(&topics).await?;
                Ok(Reply::AfterSync(ok(&yes)))
            }
            Params::FetchMessages(f) => {
                let result = self.fetch(std::slice::from_ref(&f.topic)).await?;
                Ok(Reply::Now(result_frame(id, &result)))
            }
            Params::BatchFetchMessages(b) => {
                let result = self.fetch(&b.topics).await?;
                Ok(Reply::Now(result_frame(id, &result)))
            }
            Params::BatchReceive(r) => {
                self.receive(&r.receipts).await?;
                Ok(Reply::Now(ok(&yes)))
            }
            Params::CreateTopic(t) => {
                self.subscribe(&t.topic)
                    .await
                    .map_err(|e| super::publish::as_kind(ErrorKind::CreateTopicFailed, e))?;
                Ok(Reply::AfterSync(ok(&yes)))
            }
            Params::ProposeSession(p) => {
                self.propose_session(p).await?;
                Ok(Reply::AfterSync(ok(&yes)))
            }
            Params::ApproveSession(a) => {
                self.approve_session(a).await?;
                Ok(Reply::AfterSync(ok(&yes)))
            }
            Params::Subscription(_) => Err(ErrorKind::InvalidMethod
                .to_error_data(Some("irn_subscription is sent by the relay, not to it"))),
            Params::WatchRegister(w) => {
                let relay_id = crate::webhooks::register(&self.relay, &w.register_auth).await?;
                Ok(Reply::AfterSync(ok(
                    &serde_json::json!({ "relayId": relay_id }),
                )))
            }
            Params::WatchUnregister(w) => {
                crate::webhooks::unregister(&self.relay, &w.unregister_auth).await?;
                Ok(Reply::AfterSync(ok(&yes)))
            }
        }
    }
}

/// Maps a store failure to its protocol error; internal details stay in the log.
/// A publish's reply waits for the messages' commit, and for the state's
/// too when it queued webhook events.
fn after_publish(events_queued: bool, frame: String) -> Reply {
    if events_queued {
        Reply::AfterSync(frame)
    } else {
        Reply::AfterMessagesSync(frame)
    }
}

pub fn storage_error(e: relaybox_store::Error) -> ErrorData {
    match e {
        relaybox_store::Error::MailboxFull => ErrorKind::MailboxLimitExceeded.to_error_data(None),
        relaybox_store::Error::SubscriptionLimit => {
            ErrorKind::SubscriberLimitExceeded.to_error_data(None)
        }
        relaybox_store::Error::StorageFull => {
            crate::metrics::storage_full();
            ErrorKind::StorageFull.to_error_data(None)
        }
        other => {
            tracing::error!(error = %other, "store operation failed");
            ErrorKind::StorageError.to_error_data(None)
        }
    }
}
