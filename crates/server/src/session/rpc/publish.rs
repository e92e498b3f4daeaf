//! Publishing: irn_publish and the two session methods that current JS
//! clients need to pair (wc_proposeSession, wc_approveSession), which store
//! messages on the caller's behalf with fixed tags and a 300-s TTL.

use std::sync::Arc;

use relaybox_proto::{
    ApproveSessionParams, ErrorData, ErrorKind, ProposeSessionParams, PublishParams, Topic,
};
use relaybox_store::NewMessage;

use super::dispatch::storage_error;
use crate::session::following::key_of;
use crate::session::Session;

/// Tags and TTL the relay uses for the messages of wc_proposeSession / wc_approveSession.
const TAG_PROPOSE: u32 = 1100;
const TAG_PROPOSE_RESPONSE: u32 = 1101;
const TAG_SETTLE: u32 = 1102;
const SESSION_TTL: u32 = 300;

impl Session {
    /// Returns whether webhook events were queued (see
    /// [`crate::relay::Stored::events_queued`]).
    pub(crate) async fn publish(&mut self, p: PublishParams) -> Result<bool, ErrorData> {
        self.store_message(&p.topic, p.message, p.ttl, p.tag, p.prompt, p.attestation)
            .await
    }

    /// Appends one message and wakes local subscribers. Durability comes from
    /// the caller's `reply_after_sync`.
    pub(crate) async fn store_message(
        &mut self,
        topic: &Topic,
        message: String,
        ttl_secs: u32,
        tag: u32,
        prompt: bool,
        attestation: Option<String>,
    ) -> Result<bool, ErrorData> {
        let msg = NewMessage {
            topic: key_of(topic),
            message: Arc::from(message),
            tag,
            ttl_secs,
            prompt,
            attestation: attestation.map(Arc::from),
            publisher: self.client_id.clone(),
            published_at_ms: crate::now_ms(),
        };
        let stored = self
            .relay
            .store_and_wake(msg)
            .await
            .map_err(storage_error)?;
        Ok(stored.events_queued)
    }

    /// The dapp proposes: it follows the pairing topic and the proposal waits
    /// there for the wallet, which may not have connected yet.
    pub(crate) async fn propose_session(
        &mut self,
        p: ProposeSessionParams,
    ) -> Result<(), ErrorData> {
        self.subscribe(&p.pairing_topic)
            .await
            .map_err(|e| as_kind(ErrorKind::SubscribeFailed, e))?;
        self.store_message(
            &p.pairing_topic,
            p.session_proposal,
            SESSION_TTL,
            TAG_PROPOSE,
            true,
            p.attestation,
        )
        .await
        .map(|_| ())
        .map_err(|e| as_kind(ErrorKind::PublishFailed, e))
    }

    /// The wallet approves: it follows the session topic, answers on the
    /// pairing topic and leaves the settle request on the session topic for
    /// the dapp, which subscribes only after it has read the answer.
    pub(crate) async fn approve_session(
        &mut self,
        a: ApproveSessionParams,
    ) -> Result<(), ErrorData> {
        self.subscribe(&a.session_topic)
            .await
            .map_err(|e| as_kind(ErrorKind::SubscribeFailed, e))?;
        self.store_message(
            &a.pairing_topic,
            a.session_proposal_response,
            SESSION_TTL,
            TAG_PROPOSE_RESPONSE,
            false,
            None,
        )
        .await
        .map_err(|e| as_kind(ErrorKind::PublishFailed, e))?;
        self.store_message(
            &a.session_topic,
            a.session_settlement_request,
            SESSION_TTL,
            TAG_SETTLE,
            false,
            None,
        )
        .await
        .map(|_| ())
        .map_err(|e| as_kind(ErrorKind::PublishFailed, e))
    }
}

/// The `wc_*` methods answer with their own tags (the Rust client parses
/// only those for them); the underlying error's text stays as the detail.
pub(crate) fn as_kind(kind: ErrorKind, cause: ErrorData) -> ErrorData {
    kind.to_error_data(Some(&cause.message))
}
