//! Delivery-side params: the relay's `irn_subscription` push and the
//! `irn_batchReceive` receipts that clear a mailbox.

use serde::{Deserialize, Serialize};

use crate::serde_util::{lenient_u64, null_as_default};
use crate::topic::Topic;

/// One delivered message, as pushed in `irn_subscription` and returned by
/// `irn_fetchMessages`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionData {
    /// Topic the message was published to.
    pub topic: Topic,
    /// The message as published.
    pub message: String,
    /// Publish time, Unix milliseconds (JS sorts fetched batches by it).
    /// Always written; 0 on parse when the sender left it out or sent
    /// `null`, as the WalletConnect TypeScript relay sample does (its pushes
    /// carry only `topic` and `message`).
    #[serde(rename = "publishedAt", default, deserialize_with = "null_as_default")]
    pub published_at: u64,
    /// The publisher's tag. Always written; defaults to 0 on parse because
    /// the Rust relay leaves it out when it is 0.
    #[serde(default, deserialize_with = "null_as_default")]
    pub tag: u32,
    /// Verify attestation, omitted when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation: Option<String>,
}

/// `irn_subscription` params (relay → client).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionParams {
    /// The subscription id returned by `irn_subscribe`.
    pub id: String,
    /// The message.
    pub data: SubscriptionData,
}

/// One `irn_batchReceive` receipt.
///
/// The spec names the id `messageId` but the Rust client sends `message_id`;
/// both are accepted, and `message_id` is written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// Topic of the received message.
    pub topic: Topic,
    /// The u64 message id from the webhook event (number or numeric string).
    #[serde(alias = "messageId", deserialize_with = "lenient_u64")]
    pub message_id: u64,
}

/// `irn_batchReceive` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchReceiveParams {
    /// Messages the caller has received and wants cleared.
    pub receipts: Vec<Receipt>,
}
