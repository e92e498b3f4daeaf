//! Identity and authentication primitives for the Relaybox WalletConnect v2 relay.
//!
//! WalletConnect clients prove who they are with an Ed25519 key: the public
//! key, written as a `did:key`, is the client id that owns a mailbox, and a
//! short EdDSA JWT signed with it is presented when the WebSocket opens. The
//! Notify protocol layers more JWTs on top, naming accounts as `did:pkh` and
//! apps as `did:web`. This crate implements exactly those pieces.
//!
//! The crate is deliberately pure: it performs no IO, spawns nothing and never
//! reads the clock during verification (callers pass `now` in unix seconds).
//! That keeps every decision reproducible in tests and fuzzing, and lets the
//! server decide where time comes from. The only source of entropy used is
//! [`Keypair::generate`], which asks the operating system for a seed.
//!
//! Verification is strict on purpose: a relay that accepts sloppy encodings
//! lets one token have many spellings, which defeats caching, deduplication
//! and audit. See [`jwt`] for the exact rules.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod did_key;
pub mod did_pkh;
pub mod did_web;
mod error;
pub mod jwt;
mod keypair;
pub mod notify;
pub mod watch;

pub use ed25519_dalek::{SigningKey, VerifyingKey};
pub use error::{Error, Segment};
pub use keypair::Keypair;

/// The crate's result type; the error defaults to [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
