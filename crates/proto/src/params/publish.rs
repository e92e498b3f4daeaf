//! Params of the methods that store a message: `irn_publish` and
//! `irn_batchPublish`.

use serde::{Deserialize, Serialize};

use crate::serde_util::null_as_default;
use crate::topic::Topic;

/// `irn_publish` params.
///
/// Anything else the client sends (the TVF fields `correlationId`, `chainId`,
/// `rpcMethods`, `txHashes`, `contractAddresses`, flat or nested under `tvf`)
/// is ignored on parse and not written back: the relay does not use it, and
/// rejecting unknown fields would break every current JS client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishParams {
    /// Destination topic.
    pub topic: Topic,
    /// The (encrypted, base64) message, opaque to the relay.
    pub message: String,
    /// Seconds the relay keeps the message for offline subscribers.
    pub ttl: u32,
    /// Producing RPC; used for metrics and webhook filters. Defaults to 0.
    #[serde(default, deserialize_with = "null_as_default")]
    pub tag: u32,
    /// Push-notification hint. Defaults to false.
    #[serde(default, deserialize_with = "null_as_default")]
    pub prompt: bool,
    /// Verify attestation JWT; `null` and absent both mean none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation: Option<String>,
}

/// `irn_batchPublish` params (in the spec; no current client sends it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchPublishParams {
    /// One entry per message, each validated like `irn_publish`.
    pub messages: Vec<PublishParams>,
}
