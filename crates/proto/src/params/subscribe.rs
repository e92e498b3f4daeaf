//! Params of the subscription-management and mailbox-fetch methods.

use serde::{Deserialize, Serialize};

use crate::serde_util::loose_string;
use crate::topic::Topic;

/// `irn_subscribe` and `irn_subscribeBlocking` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscribeParams {
    /// Topic to subscribe to.
    pub topic: Topic,
}

/// `irn_batchSubscribe` and `irn_batchSubscribeBlocking` params. JS sends
/// this with every known topic on each (re)connect, in chunks of 500.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchSubscribeParams {
    /// Topics, answered in the same order.
    pub topics: Vec<Topic>,
}

/// `irn_unsubscribe` params; also one item of `irn_batchUnsubscribe`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnsubscribeParams {
    /// Topic to leave.
    pub topic: Topic,
    /// The subscription id the client believes it has. Not validated: SDKs
    /// are known to send arbitrary values, and the relay identifies the
    /// subscription by (client, topic) anyway. A non-string value is kept as
    /// its JSON text.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "loose_string"
    )]
    pub id: Option<String>,
}

/// `irn_batchUnsubscribe` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchUnsubscribeParams {
    /// Subscriptions to end.
    pub subscriptions: Vec<UnsubscribeParams>,
}

/// `irn_fetchMessages` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchMessagesParams {
    /// Topic whose pending messages to fetch.
    pub topic: Topic,
}

/// `irn_batchFetchMessages` params (JS 2.17 sends it once per connect).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchFetchMessagesParams {
    /// Topics whose pending messages to fetch.
    pub topics: Vec<Topic>,
}
