//! `relaybox export` and `relaybox import`: a snapshot of everything a
//! relay keeps, in one format for every backend, so that a node can be
//! backed up, restored, or moved from sled into cluster mode (Redis).
//!
//! The format (version 1) is gzip-compressed newline-delimited JSON; each
//! line is one object with a `kind`, in this order:
//!
//! 1. `header`: `format` = `"relaybox-export"`, `version`, `created_at_ms`,
//!    `backend` it was taken from;
//! 2. `identity`: `relay_key`, the seed of the key that signs webhook
//!    events (the file is therefore a secret: it is created 0600);
//! 3. `message`, for every live message, topic by topic in seq order:
//!    `topic`, `seq`, `message`, `tag`, `prompt`, `published_at_ms`,
//!    `expires_at_ms`, `publisher`, `attestation`;
//! 4. `subscription`, for every `(client, topic)`: `client`, `topic`, and
//!    `pending`, the seqs (of this file) still owed to the client; every
//!    other message of the topic counts as delivered to it;
//! 5. `attestation`, for every async-attestation request, with its answer;
//! 6. `watch`, for every webhook registration (the `Watch` fields);
//! 7. `end`, with the count of each kind: a file without it is truncated.
//!
//! Seqs are the source's; an import appends the messages in order, so the
//! target gives them its own seqs and keeps each topic's order, and maps
//! the `pending` lists onto them. Webhook event ids (derived from the seq)
//! therefore change. Queued, unsent webhook events are not exported: let
//! the queue drain (`relaybox_webhook_queue_depth` = 0) before a move.
//!
//! An export taken while the relay serves (`GET /admin/export`) visits
//! each topic once: a message stored after the walk passed its topic is
//! not in the file, and one delivered during the export may still be
//! listed as pending (it is then delivered again after a restore, which
//! clients tolerate). For a move, stop the source first.

pub mod cli;
mod read;
mod write;

pub use read::{import, read_identity, ImportReport};
pub use write::{export, http_stream, ExportReport};

use std::sync::Arc;

use relaybox_store::{AttestationStore, MailboxStore, Watch, WatchStore};
use serde::{Deserialize, Serialize};

/// The format's name in the header.
pub const FORMAT: &str = "relaybox-export";
/// The version this build writes and the newest it reads.
pub const VERSION: u32 = 1;

/// The stores an export reads or an import writes.
pub struct Stores {
    pub mailbox: Arc<dyn MailboxStore>,
    pub attest: Arc<dyn AttestationStore>,
    pub watches: Option<Arc<dyn WatchStore>>,
    /// The relay key's seed.
    pub relay_seed: [u8; 32],
    /// `"disk"` or `"redis"`.
    pub backend: &'static str,
}

/// One line of the file.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Line {
    Header {
        format: String,
        version: u32,
        created_at_ms: u64,
        backend: String,
    },
    Identity {
        relay_key: String,
    },
    Message {
        topic: String,
        seq: u64,
        message: String,
        tag: u32,
        prompt: bool,
        published_at_ms: u64,
        expires_at_ms: u64,
        publisher: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        attestation: Option<String>,
    },
    Subscription {
        client: String,
        topic: String,
        pending: Vec<u64>,
    },
    Attestation(AttestationLine),
    Watch(Watch),
    End {
        messages: u64,
        subscriptions: u64,
        attestations: u64,
        watches: u64,
    },
}

/// An attestation request and its answer.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct AttestationLine {
    pub request_id: String,
    pub app_identity: String,
    pub auth_request: String,
    pub created_at_ms: u64,
    pub expires_at_ms: u64,
    pub relay_topic: Option<String>,
    pub wallet_did: Option<String>,
    /// Hex of the 32-byte fingerprint.
    pub fingerprint: String,
    /// `pending`, `approved` or `denied`.
    pub status: String,
    pub credential: Option<String>,
    pub error: Option<String>,
    pub answered_at_ms: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_with_their_kind() {
        let line = Line::Subscription {
            client: "did:key:z6Mk".into(),
            topic: "ab".repeat(32),
            pending: vec![3, 5],
        };
        let text = serde_json::to_string(&line).unwrap();
        assert!(text.starts_with(r#"{"kind":"subscription""#), "{text}");
        assert_eq!(serde_json::from_str::<Line>(&text).unwrap(), line);
        let bad = serde_json::from_str::<Line>(r#"{"kind":"nope"}"#);
        assert!(bad.is_err());
    }
}
