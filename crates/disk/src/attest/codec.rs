//! Binary encoding of attestation records and index keys.
//!
//! Record, version 1 (integers big-endian):
//!
//! ```text
//! 0       u8       version (1)
//! 1       u8       status (0 pending, 1 approved, 2 denied)
//! 2       u8       flags: bit 0 relay_topic, 1 wallet_did, 2 credential,
//!                  3 error, 4 answered_at
//! 3..11   u64      created_at_ms
//! 11..19  u64      expires_at_ms
//! 19..27  u64      answered_at_ms (0 when absent)
//! 27..59  [u8;32]  fingerprint
//! 59..91  [u8;32]  relay topic (zeros when absent)
//! 91..    u32 len + bytes each: request_id, app_identity, auth_request,
//!         wallet_did, credential, error (empty when absent)
//! ```
//!
//! Index keys: `by_app` is `sha256(app_identity) | status | created_at_ms |
//! request_id`, `expiry` is `expires_at_ms | request_id`; both have empty
//! values. Decoding never panics: malformed input is [`AttestError::Corrupt`].

use sha2::{Digest, Sha256};

use relaybox_store::{
    AttestError, AttestResult, AttestationRecord, NewAttestation, Status, TopicKey,
};

const VERSION: u8 = 1;
const F_TOPIC: u8 = 1;
const F_WALLET: u8 = 2;
const F_CREDENTIAL: u8 = 4;
const F_ERROR: u8 = 8;
const F_ANSWERED: u8 = 16;
const HEADER_LEN: usize = 91;

/// Encodes a record.
pub(crate) fn encode(rec: &AttestationRecord) -> Vec<u8> {
    let r = &rec.request;
    let mut flags = 0;
    for (present, bit) in [
        (r.relay_topic.is_some(), F_TOPIC),
        (r.wallet_did.is_some(), F_WALLET),
        (rec.credential.is_some(), F_CREDENTIAL),
        (rec.error.is_some(), F_ERROR),
        (rec.answered_at_ms.is_some(), F_ANSWERED),
    ] {
        if present {
            flags |= bit;
        }
    }
    let texts = [
        r.request_id.as_str(),
        r.app_identity.as_str(),
        r.auth_request.as_str(),
        r.wallet_did.as_deref().unwrap_or(""),
        rec.credential.as_deref().unwrap_or(""),
        rec.error.as_deref().unwrap_or(""),
    ];
    let mut out = Vec::with_capacity(HEADER_LEN + texts.iter().map(|t| 4 + t.len()).sum::<usize>());
    out.extend_from_slice(&[VERSION, rec.status.to_byte(), flags]);
    out.extend_from_slice(&r.created_at_ms.to_be_bytes());
    out.extend_from_slice(&r.expires_at_ms.to_be_bytes());
    out.extend_from_slice(&rec.answered_at_ms.unwrap_or(0).to_be_bytes());
    out.extend_from_slice(&r.fingerprint);
    out.extend_from_slice(&r.relay_topic.map(|t| t.0).unwrap_or([0; 32]));
    for t in texts {
        // Lengths are bounded by the gateway's body cap, far below 4 GiB.
        let len = u32::try_from(t.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(t.as_bytes());
    }
    out
}

/// Decodes a record.
pub(crate) fn decode(bytes: &[u8]) -> AttestResult<AttestationRecord> {
    let mut r = Reader { bytes, at: 0 };
    let head = r.take(3)?;
    if head[0] != VERSION {
        return Err(corrupt(format!("unknown record version {}", head[0])));
    }
    let status = Status::from_byte(head[1]).ok_or_else(|| corrupt("unknown status".into()))?;
    let flags = head[2];
    let created_at_ms = r.u64()?;
    let expires_at_ms = r.u64()?;
    let answered_at_ms = r.u64()?;
    let fingerprint = r.array()?;
    let topic = r.array()?;
    let mut texts = Vec::with_capacity(6);
    for _ in 0..6 {
        let len = r.u32()? as usize;
        let raw = r.take(len)?;
        let s = std::str::from_utf8(raw).map_err(|_| corrupt("text is not UTF-8".into()))?;
        texts.push(s.to_owned());
    }
    if r.at != bytes.len() {
        return Err(corrupt("trailing bytes after record".into()));
    }
    let mut texts = texts.into_iter();
    let mut next = || texts.next().unwrap_or_default();
    let (request_id, app_identity, auth_request) = (next(), next(), next());
    let (wallet, credential, error) = (next(), next(), next());
    let has = |bit: u8| flags & bit != 0;
    Ok(AttestationRecord {
        request: NewAttestation {
            request_id,
            app_identity,
            auth_request,
            created_at_ms,
            expires_at_ms,
            relay_topic: has(F_TOPIC).then_some(TopicKey(topic)),
            wallet_did: has(F_WALLET).then_some(wallet),
            fingerprint,
        },
        status,
        credential: has(F_CREDENTIAL).then_some(credential),
        error: has(F_ERROR).then_some(error),
        answered_at_ms: has(F_ANSWERED).then_some(answered_at_ms),
    })
}

fn corrupt(what: String) -> AttestError {
    AttestError::Corrupt(what)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> AttestResult<&'a [u8]> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| corrupt("record truncated".into()))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn u32(&mut self) -> AttestResult<u32> {
        let mut b = [0u8; 4];
        b.copy_from_slice(self.take(4)?);
        Ok(u32::from_be_bytes(b))
    }

    fn u64(&mut self) -> AttestResult<u64> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(u64::from_be_bytes(b))
    }

    fn array(&mut self) -> AttestResult<[u8; 32]> {
        let mut b = [0u8; 32];
        b.copy_from_slice(self.take(32)?);
        Ok(b)
    }
}

/// `sha256(app_identity)`: the fixed-size app part of `by_app` keys.
pub(crate) fn app_hash(app_identity: &str) -> [u8; 32] {
    Sha256::digest(app_identity.as_bytes()).into()
}

/// The `by_app` prefix of one app and status.
pub(crate) fn app_prefix(app_identity: &str, status: Status) -> Vec<u8> {
    let mut k = Vec::with_capacity(33 + 8 + 128);
    k.extend_from_slice(&app_hash(app_identity));
    k.push(status.to_byte());
    k
}

/// The `by_app` key of a record in a given status.
pub(crate) fn app_key(r: &NewAttestation, status: Status) -> Vec<u8> {
    let mut k = app_prefix(&r.app_identity, status);
    k.extend_from_slice(&r.created_at_ms.to_be_bytes());
    k.extend_from_slice(r.request_id.as_bytes());
    k
}

/// The `expiry` key of a record.
pub(crate) fn expiry_key(r: &NewAttestation) -> Vec<u8> {
    let mut k = Vec::with_capacity(8 + r.request_id.len());
    k.extend_from_slice(&r.expires_at_ms.to_be_bytes());
    k.extend_from_slice(r.request_id.as_bytes());
    k
}

/// Splits an `expiry` key into `(expires_at_ms, request_id)`.
pub(crate) fn split_expiry_key(key: &[u8]) -> Option<(u64, &[u8])> {
    if key.len() < 8 {
        return None;
    }
    let (ts, id) = key.split_at(8);
    Some((u64::from_be_bytes(ts.try_into().ok()?), id))
}

/// The request id at the end of a `by_app` key.
pub(crate) fn id_of_app_key(key: &[u8]) -> Option<&[u8]> {
    key.get(33 + 8..)
}
