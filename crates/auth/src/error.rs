//! The crate's single error type.
//!
//! Every distinct reason a token or identifier can be refused gets its own
//! variant, so that callers can react precisely (an expired token is routine,
//! a forged one is not) and so that logs and metrics can carry a stable,
//! low-cardinality tag via [`Error::reason`].

use std::fmt;

/// Which of the three JWT segments a decoding problem was found in.
///
/// Carried by the segment-level errors so that a log line says where the
/// token was broken without echoing the (possibly huge) token itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Segment {
    /// The first segment, the JOSE header.
    Header,
    /// The second segment, the claims.
    Payload,
    /// The third segment, the Ed25519 signature.
    Signature,
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Segment::Header => "header",
            Segment::Payload => "payload",
            Segment::Signature => "signature",
        })
    }
}

/// Everything that can go wrong in this crate.
///
/// Marked `#[non_exhaustive]` so that new refusal reasons can be added
/// without breaking callers that match on it. Values are cheap to clone and
/// comparable, which keeps tests and retry logic simple.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ----- keys -----
    /// A seed was not exactly 64 hexadecimal characters.
    #[error("seed must be 64 hex characters")]
    InvalidSeedHex,

    // ----- did:key -----
    /// The identifier does not start with `did:key:`.
    #[error("not a did:key identifier")]
    DidKeyMethod,
    /// The multibase prefix is not `z` (base58btc).
    #[error("did:key multibase prefix must be 'z' (base58btc)")]
    DidKeyMultibase,
    /// The multibase body is not valid base58btc.
    #[error("did:key body is not valid base58btc")]
    DidKeyBase58,
    /// The multicodec prefix is not 0xed 0x01 (Ed25519 public key).
    #[error("did:key multicodec is not ed25519-pub (0xed01)")]
    DidKeyCodec,
    /// The key after the multicodec prefix is not 32 bytes.
    #[error("did:key public key must be 32 bytes, got {len}")]
    DidKeyLength {
        /// The number of key bytes found (estimated for absurdly long input,
        /// which is not decoded at all).
        len: usize,
    },
    /// The 32 bytes do not decode to a point on the Edwards curve.
    #[error("did:key public key is not a valid Ed25519 point")]
    DidKeyPoint,

    // ----- did:pkh -----
    /// The identifier does not start with `did:pkh:`.
    #[error("not a did:pkh identifier")]
    DidPkhMethod,
    /// The identifier does not have exactly namespace, reference and address.
    #[error("did:pkh must be did:pkh:<namespace>:<reference>:<address>")]
    DidPkhFormat,
    /// The CAIP-2 namespace is not `[-a-z0-9]{3,8}`.
    #[error("did:pkh namespace is invalid")]
    DidPkhNamespace,
    /// The CAIP-2 reference is not `[-_a-zA-Z0-9]{1,32}` (or, for eip155, not a chain id).
    #[error("did:pkh chain reference is invalid")]
    DidPkhReference,
    /// The CAIP-10 address is not `[-.%a-zA-Z0-9]{1,128}`.
    #[error("did:pkh account address is invalid")]
    DidPkhAddress,
    /// An eip155 address is not `0x` followed by 40 hexadecimal digits.
    #[error("did:pkh eip155 address must be 0x followed by 40 hex digits")]
    DidPkhEip155Address,

    // ----- did:web -----
    /// The identifier does not start with `did:web:`.
    #[error("not a did:web identifier")]
    DidWebMethod,
    /// The domain part is not a valid host name.
    #[error("did:web domain is not a valid host name")]
    DidWebDomain,
    /// The `%3A` port suffix is not a number in 1..=65535.
    #[error("did:web port is invalid")]
    DidWebPort,
    /// A path segment is empty or contains characters outside the allowed set.
    #[error("did:web path segment is invalid")]
    DidWebPath,

    // ----- JWT structure -----
    /// The token exceeds the configured length cap (checked before decoding).
    #[error("token is {len} bytes, more than the {max} allowed")]
    TokenTooLong {
        /// Length of the token in bytes.
        len: usize,
        /// The cap in force.
        max: usize,
    },
    /// The token does not have exactly three `.`-separated segments.
    #[error("token must have 3 segments, found {found}")]
    SegmentCount {
        /// The number of segments found.
        found: usize,
    },
    /// One of the segments is empty.
    #[error("{segment} segment is empty")]
    EmptySegment {
        /// The empty segment.
        segment: Segment,
    },
    /// A segment contains `=` padding, which JWTs forbid.
    #[error("{segment} segment is padded base64")]
    Base64Padding {
        /// The offending segment.
        segment: Segment,
    },
    /// A segment uses `+` or `/` from the standard base64 alphabet.
    #[error("{segment} segment uses the standard base64 alphabet")]
    Base64StandardAlphabet {
        /// The offending segment.
        segment: Segment,
    },
    /// A segment contains a character outside the base64url alphabet.
    #[error("{segment} segment contains a non-base64url character")]
    Base64InvalidChar {
        /// The offending segment.
        segment: Segment,
    },
    /// A segment's length cannot be produced by unpadded base64url.
    #[error("{segment} segment has an impossible base64url length")]
    Base64Length {
        /// The offending segment.
        segment: Segment,
    },
    /// A segment's last character has unused bits set (non-canonical encoding).
    #[error("{segment} segment is non-canonical base64url")]
    Base64NonCanonical {
        /// The offending segment.
        segment: Segment,
    },
    /// A segment decoded to bytes that are not valid JSON (or not UTF-8).
    #[error("{segment} is not valid JSON")]
    InvalidJson {
        /// The offending segment.
        segment: Segment,
    },
    /// A segment is valid JSON but not a JSON object.
    #[error("{segment} is not a JSON object")]
    NotJsonObject {
        /// The offending segment.
        segment: Segment,
    },
    /// A JSON object in a segment repeats a key.
    #[error("{segment} repeats the key {key:?}")]
    DuplicateKey {
        /// The offending segment.
        segment: Segment,
        /// The repeated key.
        key: String,
    },
    /// The header `alg` is missing or is not `EdDSA`.
    #[error("unsupported alg {found:?}, only EdDSA is accepted")]
    UnsupportedAlg {
        /// The `alg` value, if present (non-strings are shown as JSON).
        found: Option<String>,
    },
    /// The header `typ` is missing or is not `JWT`.
    #[error("unsupported typ {found:?}, only JWT is accepted")]
    UnsupportedTyp {
        /// The `typ` value, if present (non-strings are shown as JSON).
        found: Option<String>,
    },
    /// The header names a critical extension (`crit`), which we never understand.
    #[error("header parameter {name:?} is not supported")]
    UnsupportedHeader {
        /// The header parameter name.
        name: String,
    },
    /// The signature segment does not decode to 64 bytes.
    #[error("signature must be 64 bytes, got {len}")]
    SignatureLength {
        /// The decoded length.
        len: usize,
    },
    /// The Ed25519 signature does not verify (strictly) under the issuer key.
    #[error("signature does not verify")]
    BadSignature,

    // ----- claims -----
    /// A required claim is absent.
    #[error("missing claim {0:?}")]
    MissingClaim(&'static str),
    /// A claim has the wrong JSON type (for example a string `exp`).
    #[error("claim {claim:?} must be {expected}")]
    InvalidClaimType {
        /// The claim name.
        claim: &'static str,
        /// What was expected, for humans.
        expected: &'static str,
    },
    /// A claim has the right type but a value outside what the protocol allows.
    #[error("claim {claim:?} is invalid: {detail}")]
    InvalidClaimValue {
        /// The claim name.
        claim: &'static str,
        /// Why it was refused.
        detail: &'static str,
    },
    /// `now` is past `exp` plus leeway.
    #[error("token expired at {exp}, now {now}")]
    Expired {
        /// The `exp` claim.
        exp: i64,
        /// The caller's clock.
        now: u64,
    },
    /// `iat` is after `now` plus leeway.
    #[error("token issued in the future ({iat}), now {now}")]
    NotYetValid {
        /// The `iat` claim.
        iat: i64,
        /// The caller's clock.
        now: u64,
    },
    /// The token has no `exp` and its `iat` is older than the allowed age.
    #[error("token without exp issued at {iat} is too old, now {now}")]
    TooOld {
        /// The `iat` claim.
        iat: i64,
        /// The caller's clock.
        now: u64,
    },
    /// `exp - iat` is longer than the allowed token age, whatever `exp`
    /// says: a token good for years would outlive any key rotation.
    #[error("token lifetime {iat}..{exp} exceeds {max} seconds")]
    LifetimeTooLong {
        /// The `iat` claim.
        iat: i64,
        /// The `exp` claim.
        exp: i64,
        /// The longest lifetime accepted.
        max: u64,
    },
    /// `aud` is not among the accepted audiences.
    #[error("audience {aud:?} is not accepted")]
    AudienceNotAllowed {
        /// The `aud` claim.
        aud: String,
    },

    // ----- Notify -----
    /// The `act` claim is not a known Notify action.
    #[error("unknown notify act {0:?}")]
    UnknownNotifyAct(String),
    /// The `act` claim is a known action, but not the one expected here.
    #[error("notify act {found:?} where {expected:?} was expected")]
    NotifyActMismatch {
        /// The act the caller expected.
        expected: &'static str,
        /// The act found in the token.
        found: String,
    },
    /// The `sdk` claim is longer than 16 characters.
    #[error("sdk claim is {len} characters, at most 16 allowed")]
    SdkTooLong {
        /// The length in characters.
        len: usize,
    },
    /// The claims' `iss` is not the did:key of the key asked to sign them.
    #[error("iss does not match the signing key")]
    IssuerMismatch,
    /// A webhook token was refused, with the protocol's watch error.
    #[error("watch token refused ({}): {detail}", problem.tag())]
    Watch {
        /// Which of the protocol's watch errors it is.
        problem: crate::watch::WatchProblem,
        /// What exactly was wrong.
        detail: String,
    },
}

impl Error {
    /// A short, stable, snake_case tag for this error's variant.
    ///
    /// Meant for metrics labels, structured logs and WebSocket close reasons,
    /// where the free-form `Display` text (which may embed attacker-chosen
    /// values) would be unsafe or would explode cardinality. The tags are part
    /// of the public contract: do not rename them.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::InvalidSeedHex => "invalid_seed_hex",
            Error::DidKeyMethod => "did_key_wrong_method",
            Error::DidKeyMultibase => "did_key_wrong_multibase",
            Error::DidKeyBase58 => "did_key_bad_base58",
            Error::DidKeyCodec => "did_key_wrong_codec",
            Error::DidKeyLength { .. } => "did_key_wrong_length",
            Error::DidKeyPoint => "did_key_invalid_point",
            Error::DidPkhMethod => "did_pkh_wrong_method",
            Error::DidPkhFormat => "did_pkh_bad_format",
            Error::DidPkhNamespace => "did_pkh_bad_namespace",
            Error::DidPkhReference => "did_pkh_bad_reference",
            Error::DidPkhAddress => "did_pkh_bad_address",
            Error::DidPkhEip155Address => "did_pkh_bad_eip155_address",
            Error::DidWebMethod => "did_web_wrong_method",
            Error::DidWebDomain => "did_web_bad_domain",
            Error::DidWebPort => "did_web_bad_port",
            Error::DidWebPath => "did_web_bad_path",
            Error::TokenTooLong { .. } => "token_too_long",
            Error::SegmentCount { .. } => "bad_segment_count",
            Error::EmptySegment { .. } => "empty_segment",
            Error::Base64Padding { .. } => "base64_padding",
            Error::Base64StandardAlphabet { .. } => "base64_standard_alphabet",
            Error::Base64InvalidChar { .. } => "base64_invalid_char",
            Error::Base64Length { .. } => "base64_bad_length",
            Error::Base64NonCanonical { .. } => "base64_non_canonical",
            Error::InvalidJson { .. } => "invalid_json",
            Error::NotJsonObject { .. } => "not_json_object",
            Error::DuplicateKey { .. } => "duplicate_json_key",
            Error::UnsupportedAlg { .. } => "unsupported_alg",
            Error::UnsupportedTyp { .. } => "unsupported_typ",
            Error::UnsupportedHeader { .. } => "unsupported_header",
            Error::SignatureLength { .. } => "bad_signature_length",
            Error::BadSignature => "bad_signature",
            Error::MissingClaim(_) => "missing_claim",
            Error::InvalidClaimType { .. } => "invalid_claim_type",
            Error::InvalidClaimValue { .. } => "invalid_claim_value",
            Error::Expired { .. } => "expired",
            Error::NotYetValid { .. } => "not_yet_valid",
            Error::TooOld { .. } => "too_old",
            Error::LifetimeTooLong { .. } => "lifetime_too_long",
            Error::AudienceNotAllowed { .. } => "audience_not_allowed",
            Error::UnknownNotifyAct(_) => "unknown_notify_act",
            Error::NotifyActMismatch { .. } => "notify_act_mismatch",
            Error::SdkTooLong { .. } => "sdk_too_long",
            Error::IssuerMismatch => "issuer_mismatch",
            Error::Watch { .. } => "watch_refused",
        }
    }
}
