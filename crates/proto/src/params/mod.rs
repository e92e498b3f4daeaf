//! Typed params of every method, how they are decoded from a frame's
//! `params`, and how they are checked against [`Limits`].
//!
//! Decoding is by method name rather than by shape (an untagged enum would
//! guess, and several methods share a shape), and unknown fields are always
//! ignored because clients keep adding optional ones.

mod publish;
mod push;
mod session;
mod subscribe;
mod watch;

use serde::Serialize;

pub use publish::{BatchPublishParams, PublishParams};
pub use push::{BatchReceiveParams, Receipt, SubscriptionData, SubscriptionParams};
pub use session::{ApproveSessionParams, CreateTopicParams, ProposeSessionParams};
pub use subscribe::{
    BatchFetchMessagesParams, BatchSubscribeParams, BatchUnsubscribeParams, FetchMessagesParams,
    SubscribeParams, UnsubscribeParams,
};
pub use watch::{WatchRegisterParams, WatchUnregisterParams};

use crate::error::{ErrorData, ErrorKind};
use crate::limits::Limits;
use crate::method::Method;
use crate::topic::TOPIC_ERROR_PREFIX;

/// The params of a request, one variant per [`Method`].
///
/// Serializes as the bare params object (no method tag): the method goes in
/// the frame's `method` field, see [`crate::Request::to_json`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
#[allow(missing_docs)] // each variant is named after its method
pub enum Params {
    Publish(PublishParams),
    BatchPublish(BatchPublishParams),
    Subscribe(SubscribeParams),
    BatchSubscribe(BatchSubscribeParams),
    SubscribeBlocking(SubscribeParams),
    BatchSubscribeBlocking(BatchSubscribeParams),
    Unsubscribe(UnsubscribeParams),
    BatchUnsubscribe(BatchUnsubscribeParams),
    FetchMessages(FetchMessagesParams),
    BatchFetchMessages(BatchFetchMessagesParams),
    Subscription(SubscriptionParams),
    BatchReceive(BatchReceiveParams),
    WatchRegister(WatchRegisterParams),
    WatchUnregister(WatchUnregisterParams),
    CreateTopic(CreateTopicParams),
    ProposeSession(ProposeSessionParams),
    ApproveSession(ApproveSessionParams),
}

/// A params problem: the error kind plus a short human detail.
#[derive(Debug)]
pub(crate) struct Violation {
    pub(crate) kind: ErrorKind,
    pub(crate) detail: String,
}

impl Violation {
    fn new(kind: ErrorKind, detail: impl Into<String>) -> Self {
        Violation {
            kind,
            detail: detail.into(),
        }
    }
}

impl Params {
    /// What the request costs against a client's rate limit: one per item,
    /// so a batch of 500 costs as much as 500 single requests.
    pub fn cost(&self) -> u32 {
        let items = match self {
            Params::BatchPublish(p) => p.messages.len(),
            Params::BatchSubscribe(p) | Params::BatchSubscribeBlocking(p) => p.topics.len(),
            Params::BatchUnsubscribe(p) => p.subscriptions.len(),
            Params::BatchFetchMessages(p) => p.topics.len(),
            Params::BatchReceive(p) => p.receipts.len(),
            _ => 1,
        };
        u32::try_from(items.max(1)).unwrap_or(u32::MAX)
    }

    /// The method these params belong to.
    pub fn method(&self) -> Method {
        match self {
            Params::Publish(_) => Method::Publish,
            Params::BatchPublish(_) => Method::BatchPublish,
            Params::Subscribe(_) => Method::Subscribe,
            Params::BatchSubscribe(_) => Method::BatchSubscribe,
            Params::SubscribeBlocking(_) => Method::SubscribeBlocking,
            Params::BatchSubscribeBlocking(_) => Method::BatchSubscribeBlocking,
            Params::Unsubscribe(_) => Method::Unsubscribe,
            Params::BatchUnsubscribe(_) => Method::BatchUnsubscribe,
            Params::FetchMessages(_) => Method::FetchMessages,
            Params::BatchFetchMessages(_) => Method::BatchFetchMessages,
            Params::Subscription(_) => Method::Subscription,
            Params::BatchReceive(_) => Method::BatchReceive,
            Params::WatchRegister(_) => Method::WatchRegister,
            Params::WatchUnregister(_) => Method::WatchUnregister,
            Params::CreateTopic(_) => Method::CreateTopic,
            Params::ProposeSession(_) => Method::ProposeSession,
            Params::ApproveSession(_) => Method::ApproveSession,
        }
    }

    /// Decodes the JSON text of a `params` value for `method`.
    ///
    /// A bad topic anywhere in the params is reported as `InvalidTopic`, any
    /// other shape problem as `InvalidParams`.
    pub(crate) fn decode(method: Method, json: &str) -> Result<Params, Violation> {
        fn de<'a, T: serde::Deserialize<'a>>(json: &'a str) -> Result<T, Violation> {
            serde_json::from_str(json).map_err(|e| {
                let msg = e.to_string();
                let kind = if msg.starts_with(TOPIC_ERROR_PREFIX) {
                    ErrorKind::InvalidTopic
                } else {
                    ErrorKind::InvalidParams
                };
                Violation::new(kind, msg)
            })
        }
        Ok(match method {
            Method::Publish => Params::Publish(de(json)?),
            Method::BatchPublish => Params::BatchPublish(de(json)?),
            Method::Subscribe => Params::Subscribe(de(json)?),
            Method::BatchSubscribe => Params::BatchSubscribe(de(json)?),
            Method::SubscribeBlocking => Params::SubscribeBlocking(de(json)?),
            Method::BatchSubscribeBlocking => Params::BatchSubscribeBlocking(de(json)?),
            Method::Unsubscribe => Params::Unsubscribe(de(json)?),
            Method::BatchUnsubscribe => Params::BatchUnsubscribe(de(json)?),
            Method::FetchMessages => Params::FetchMessages(de(json)?),
            Method::BatchFetchMessages => Params::BatchFetchMessages(de(json)?),
            Method::Subscription => Params::Subscription(de(json)?),
            Method::BatchReceive => Params::BatchReceive(de(json)?),
            Method::WatchRegister => Params::WatchRegister(de(json)?),
            Method::WatchUnregister => Params::WatchUnregister(de(json)?),
            Method::CreateTopic => Params::CreateTopic(de(json)?),
            Method::ProposeSession => Params::ProposeSession(de(json)?),
            Method::ApproveSession => Params::ApproveSession(de(json)?),
        })
    }

    /// Checks batch sizes, TTLs, message sizes and non-empty `wc_*` messages.
    ///
    /// [`crate::parse_incoming`] already runs this; it is public so that the
    /// client SDK can refuse to send what the relay would reject.
    pub fn validate(&self, limits: &Limits) -> Result<(), ErrorData> {
        self.check(limits)
            .map_err(|v| v.kind.to_error_data(Some(&v.detail)))
    }

    pub(crate) fn check(&self, limits: &Limits) -> Result<(), Violation> {
        match self {
            Params::Publish(p) => check_publish(p, limits),
            Params::BatchPublish(p) => {
                check_batch(p.messages.len(), limits)?;
                p.messages.iter().try_for_each(|m| check_publish(m, limits))
            }
            Params::BatchSubscribe(p) | Params::BatchSubscribeBlocking(p) => {
                check_batch(p.topics.len(), limits)
            }
            Params::BatchUnsubscribe(p) => check_batch(p.subscriptions.len(), limits),
            Params::BatchFetchMessages(p) => check_batch(p.topics.len(), limits),
            Params::BatchReceive(p) => check_batch(p.receipts.len(), limits),
            Params::ProposeSession(p) => {
                check_attestation(p.attestation.as_deref(), limits)?;
                check_wc_message("sessionProposal", &p.session_proposal, limits)
            }
            Params::ApproveSession(p) => {
                check_wc_message(
                    "sessionProposalResponse",
                    &p.session_proposal_response,
                    limits,
                )?;
                check_wc_message(
                    "sessionSettlementRequest",
                    &p.session_settlement_request,
                    limits,
                )
            }
            // Pushes come from the relay, which bounded them on publish.
            Params::Subscription(_)
            | Params::Subscribe(_)
            | Params::SubscribeBlocking(_)
            | Params::Unsubscribe(_)
            | Params::FetchMessages(_)
            | Params::WatchRegister(_)
            | Params::WatchUnregister(_)
            | Params::CreateTopic(_) => Ok(()),
        }
    }
}

fn check_batch(len: usize, limits: &Limits) -> Result<(), Violation> {
    if len == 0 {
        Err(Violation::new(ErrorKind::BatchEmpty, "no items"))
    } else if len > limits.max_batch {
        Err(Violation::new(
            ErrorKind::BatchLimitExceeded,
            format!("{len} items, at most {} allowed", limits.max_batch),
        ))
    } else {
        Ok(())
    }
}

fn check_message_len(len: usize, limits: &Limits) -> Result<(), Violation> {
    if len > limits.max_message_len {
        Err(Violation::new(
            ErrorKind::PayloadSizeExceeded,
            format!(
                "message is {len} bytes, at most {} allowed",
                limits.max_message_len
            ),
        ))
    } else {
        Ok(())
    }
}

fn check_publish(p: &PublishParams, limits: &Limits) -> Result<(), Violation> {
    if p.ttl < limits.ttl_min {
        return Err(Violation::new(
            ErrorKind::TtlTooShort,
            format!("ttl {} is below {}", p.ttl, limits.ttl_min),
        ));
    }
    if p.ttl > limits.ttl_max {
        return Err(Violation::new(
            ErrorKind::TtlTooLong,
            format!("ttl {} is above {}", p.ttl, limits.ttl_max),
        ));
    }
    check_attestation(p.attestation.as_deref(), limits)?;
    check_message_len(p.message.len(), limits)
}

fn check_attestation(attestation: Option<&str>, limits: &Limits) -> Result<(), Violation> {
    match attestation {
        Some(a) if a.len() > limits.max_attestation_len => Err(Violation::new(
            ErrorKind::AttestationTooLarge,
            format!(
                "attestation is {} bytes, at most {} allowed",
                a.len(),
                limits.max_attestation_len
            ),
        )),
        _ => Ok(()),
    }
}

/// `wc_*` messages are published by the relay itself, so an empty one would
/// store a message no client can decrypt.
fn check_wc_message(field: &str, message: &str, limits: &Limits) -> Result<(), Violation> {
    if message.is_empty() {
        return Err(Violation::new(
            ErrorKind::InvalidParams,
            format!("{field} must not be empty"),
        ));
    }
    check_message_len(message.len(), limits)
}
