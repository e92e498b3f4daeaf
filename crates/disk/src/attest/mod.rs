//! The async-attestation relay's requests in sled trees beside the mailbox
//! state ([`SledAttestationStore`]), made durable through the store's group
//! commit so one flush covers both kinds of writes.

mod codec;
mod sled_impl;
#[cfg(test)]
mod tests;

pub use sled_impl::{SledAttestationStore, ATTEST_BY_APP_TREE, ATTEST_EXPIRY_TREE, ATTEST_TREE};
