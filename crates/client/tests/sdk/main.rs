//! Integration tests of the client SDK against the real relay, started
//! in-process on port 0 (see `common`). One binary, so the relay links once.

mod common;
mod connect;
mod delivery;
mod errors;
mod foreign_relay;
mod mailbox;
mod reconnect;
mod sessions;
