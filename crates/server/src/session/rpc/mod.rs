//! Relay JSON-RPC: turning one parsed request into store and hub operations
//! and a reply. Parsing and validation live in the proto crate.

mod dispatch;
mod publish;
mod receive;
mod subscribe;

pub use dispatch::Reply;
