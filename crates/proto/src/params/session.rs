//! Params of the `wc_*` relay methods, which let current JS clients pair:
//! the relay subscribes the caller and publishes on its behalf.

use serde::{Deserialize, Serialize};

use crate::topic::Topic;

/// `wc_createTopic` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateTopicParams {
    /// Topic to register (the caller is subscribed to it).
    pub topic: Topic,
}

/// `wc_proposeSession` params. JS also sends `ttl` (300), `correlationId`
/// and other TVF fields; they are ignored, since the relay publishes the
/// proposal with its own fixed tag and TTL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProposeSessionParams {
    /// Pairing topic; the caller gets subscribed to it.
    pub pairing_topic: Topic,
    /// The encrypted proposal, published to the pairing topic. Non-empty.
    pub session_proposal: String,
    /// Verify attestation, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation: Option<String>,
}

/// `wc_approveSession` params. The optional `approved*` lists,
/// `sessionProperties`, `scopedProperties` and TVF fields are ignored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApproveSessionParams {
    /// Pairing topic, where the proposal response goes.
    pub pairing_topic: Topic,
    /// New session topic; the caller gets subscribed to it.
    pub session_topic: Topic,
    /// Encrypted proposal response, published to the pairing topic.
    pub session_proposal_response: String,
    /// Encrypted settle request, published to the session topic.
    pub session_settlement_request: String,
}
