//! Validation limits, chosen by the caller (the relay's config) rather than
//! hard-coded, because the protocol publishes no exact numbers for them.

/// Bounds checked by [`crate::parse_incoming`] and [`crate::Params::validate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Smallest accepted publish TTL in seconds. Must stay at or below 30:
    /// pairing pings are published with ttl 30.
    pub ttl_min: u32,
    /// Largest accepted publish TTL in seconds (30 days: what Notify uses).
    pub ttl_max: u32,
    /// Most items in one batch request (the clients chunk at 500).
    pub max_batch: usize,
    /// Longest accepted message, in bytes of the decoded JSON string.
    /// Production relays reject around 96 KiB; 128 KiB leaves headroom.
    pub max_message_len: usize,
    /// Longest accepted `attestation` (a Verify JWT, normally under 1 KiB),
    /// in bytes. It is stored with every message, so it needs its own bound.
    pub max_attestation_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            ttl_min: 10,
            ttl_max: 2_592_000,
            max_batch: 500,
            max_message_len: 131_072,
            max_attestation_len: 4096,
        }
    }
}
