//! Result payloads that are more than a bare `true`, a string or a string
//! list. Those simple ones are written with [`crate::result_frame`] directly:
//! `irn_publish`/`irn_unsubscribe`/… → `true`, `irn_subscribe` → the
//! subscription id, `irn_batchSubscribe` → the ids in topic order (JS 2.17
//! insists on an array).

use serde::{Deserialize, Serialize};

use crate::error::ErrorData;
use crate::params::SubscriptionData;

/// A fetched message has the same fields as a pushed one.
pub type FetchedMessage = SubscriptionData;

/// `irn_fetchMessages` / `irn_batchFetchMessages` result.
///
/// Rust clients repeat the same fetch while `hasMore` is true, so whatever
/// is returned here must count as delivered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchMessagesResult {
    /// Pending messages, oldest first.
    pub messages: Vec<SubscriptionData>,
    /// Whether more are pending beyond this page.
    #[serde(rename = "hasMore")]
    pub has_more: bool,
}

/// `irn_watchRegister` result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchRegisterResult {
    /// The relay's `did:key`, the `iss` of its webhook event JWTs.
    #[serde(rename = "relayId")]
    pub relay_id: String,
}

/// One item of the `irn_batchSubscribeBlocking` result: `{"id":…}` on
/// success or `{"error":{…}}` for that topic alone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SubscriptionResult {
    /// Subscribed; the subscription id.
    Id {
        /// Subscription id.
        id: String,
    },
    /// This topic failed.
    Error {
        /// Why.
        error: ErrorData,
    },
}
