//! Data types of the attestation store: requests as stored, what the gateway
//! hands in, listing pages and cursors, counters, and the error enum.

use std::fmt;

use crate::types::TopicKey;

/// Where a request stands. The first answer wins: `Pending` is the only
/// state that can change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// Waiting for the wallet.
    Pending,
    /// The wallet delivered a credential.
    Approved,
    /// The wallet refused (or failed), with an error string.
    Denied,
}

impl Status {
    /// The wire name: `"pending"`, `"approved"` or `"denied"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Denied => "denied",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "pending" => Some(Status::Pending),
            "approved" => Some(Status::Approved),
            "denied" => Some(Status::Denied),
            _ => None,
        }
    }

    /// The one-byte form backends store.
    pub fn to_byte(self) -> u8 {
        match self {
            Status::Pending => 0,
            Status::Approved => 1,
            Status::Denied => 2,
        }
    }

    /// Parses [`to_byte`](Self::to_byte)'s output.
    pub fn from_byte(b: u8) -> Option<Status> {
        match b {
            0 => Some(Status::Pending),
            1 => Some(Status::Approved),
            2 => Some(Status::Denied),
            _ => None,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A new request as the gateway hands it to
/// [`AttestationStore::create`](super::AttestationStore::create), already validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAttestation {
    /// The caller-chosen id (16–128 chars of `[A-Za-z0-9_-]`, checked by the gateway).
    pub request_id: String,
    /// The app asking, as sent.
    pub app_identity: String,
    /// The auth request, as JSON text, returned verbatim to the wallet.
    pub auth_request: String,
    /// Creation time in ms since the epoch.
    pub created_at_ms: u64,
    /// The request is live while `now_ms <= expires_at_ms`.
    pub expires_at_ms: u64,
    /// WalletConnect topic the request was also pushed to, if any.
    pub relay_topic: Option<TopicKey>,
    /// The wallet's did:key that may answer (when acks require a JWT).
    pub wallet_did: Option<String>,
    /// Identity of the request's content, defined by the caller: a re-create
    /// with the same id and fingerprint is idempotent, a different one a conflict.
    pub fingerprint: [u8; 32],
}

/// A request as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttestationRecord {
    /// The request's fields as created.
    pub request: NewAttestation,
    /// Current status.
    pub status: Status,
    /// The credential, once approved.
    pub credential: Option<String>,
    /// The error, once denied.
    pub error: Option<String>,
    /// When the answer arrived.
    pub answered_at_ms: Option<u64>,
}

impl AttestationRecord {
    /// A fresh pending record.
    pub fn pending(request: NewAttestation) -> Self {
        AttestationRecord {
            request,
            status: Status::Pending,
            credential: None,
            error: None,
            answered_at_ms: None,
        }
    }

    /// Expired once `now_ms` is past `expires_at_ms` (the seed's `now > expiresAt`).
    pub fn is_expired(&self, now_ms: u64) -> bool {
        now_ms > self.request.expires_at_ms
    }

    /// Whether a listing `q` at `now_ms` shows this record (every backend
    /// filters its index hits with this one rule).
    pub fn matches(&self, q: &ListQuery<'_>, now_ms: u64) -> bool {
        let wallet_ok = q
            .wallet_did
            .is_none_or(|w| self.request.wallet_did.as_deref() == Some(w));
        self.request.app_identity == q.app_identity
            && self.status == q.status
            && !self.is_expired(now_ms)
            && wallet_ok
    }
}

/// The wallet's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Approve with this credential.
    Approve {
        /// The credential (opaque to the relay).
        credential: String,
    },
    /// Deny with this error text.
    Deny {
        /// Why; the gateway defaults it to `"denied"`.
        error: String,
    },
}

/// Result of a create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Created {
    /// The stored record: the new one, or the existing one for an idempotent repeat.
    pub record: AttestationRecord,
    /// False when an identical live request already existed.
    pub new: bool,
}

/// A position in a listing: the last item's creation time and id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListCursor {
    /// `created_at_ms` of the last item returned.
    pub created_at_ms: u64,
    /// `request_id` of the last item returned.
    pub request_id: String,
}

impl ListCursor {
    /// The opaque wire form: hex of `created_at_ms` (big-endian) then the id.
    pub fn to_token(&self) -> String {
        let mut bytes = self.created_at_ms.to_be_bytes().to_vec();
        bytes.extend_from_slice(self.request_id.as_bytes());
        hex::encode(bytes)
    }

    /// Parses [`to_token`](Self::to_token)'s output; `None` if malformed.
    pub fn from_token(token: &str) -> Option<ListCursor> {
        if token.len() > 2 * (8 + 128) {
            return None;
        }
        let bytes = hex::decode(token).ok()?;
        if bytes.len() < 8 + 16 {
            return None;
        }
        let (ts, id) = bytes.split_at(8);
        let id = std::str::from_utf8(id).ok()?;
        if !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return None;
        }
        Some(ListCursor {
            created_at_ms: u64::from_be_bytes(ts.try_into().ok()?),
            request_id: id.to_owned(),
        })
    }
}

/// What to list.
#[derive(Clone, Debug)]
pub struct ListQuery<'a> {
    /// Requests of this app only.
    pub app_identity: &'a str,
    /// In this status only.
    pub status: Status,
    /// Only requests naming this wallet (`None`: any).
    pub wallet_did: Option<&'a str>,
    /// Continue after this item.
    pub after: Option<ListCursor>,
    /// At most this many items.
    pub limit: usize,
}

/// One page of a listing, oldest first. Expired requests are left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListPage {
    /// The items.
    pub records: Vec<AttestationRecord>,
    /// Where the next page starts; `None` when this is the last page.
    pub next: Option<ListCursor>,
}

/// Counts of stored requests by status (expired ones not yet swept included),
/// and of requests deleted by the sweeper since start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AttestStats {
    /// Stored pending requests.
    pub pending: u64,
    /// Stored approved requests.
    pub approved: u64,
    /// Stored denied requests.
    pub denied: u64,
    /// Requests the sweeper deleted since the store was opened.
    pub expired_swept: u64,
}

/// Everything that can go wrong in the attestation store.
#[derive(Debug, thiserror::Error)]
pub enum AttestError {
    /// The id exists (live) with different content.
    #[error("request_id already exists with different content")]
    Conflict,
    /// No such request (or it was swept).
    #[error("unknown request")]
    NotFound,
    /// The request is past its expiry.
    #[error("request expired")]
    Expired,
    /// The request was already answered; the first answer wins.
    #[error("request already {0}")]
    AlreadyAnswered(Status),
    /// The backend failed; the text is for the log only.
    #[error("storage error: {0}")]
    Storage(String),
    /// Flushing through the shared group commit failed (or the store is closed).
    #[error("durability error: {0}")]
    Sync(#[from] crate::Error),
    /// A stored record could not be decoded.
    #[error("corrupt attestation record: {0}")]
    Corrupt(String),
}

/// Shorthand for the attestation store's results.
pub type AttestResult<T> = std::result::Result<T, AttestError>;
