//! Fuzz target: arbitrary bytes into the token and DID decoders.
//!
//! Everything a client controls before authentication flows through
//! `jwt::verify` and `did_key::decode`, so they must never panic, hang or
//! allocate without bound, whatever the input. Non-UTF-8 input is also fed
//! through a lossy conversion so the decoders still see its shape.

#![no_main]

use libfuzzer_sys::fuzz_target;
use relaybox_auth::{did_key, jwt, notify};

fuzz_target!(|data: &[u8]| {
    let lossy;
    let text = match std::str::from_utf8(data) {
        Ok(text) => text,
        Err(_) => {
            lossy = String::from_utf8_lossy(data);
            &lossy
        }
    };
    // The clock value is taken from the input too, so time checks get
    // exercised at the edges (0, u64::MAX) as well as in the middle.
    let now = data
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .map_or(1_656_910_097, u64::from_le_bytes);

    let opts = jwt::VerifyOptions::default();
    if let Ok(verified) = jwt::verify(text, &opts, now) {
        // Anything accepted must carry an issuer that decodes to its key.
        assert_eq!(
            did_key::decode(&verified.claims.iss).ok(),
            Some(verified.key)
        );
    }
    let _ = jwt::verify_signature(text, usize::MAX);
    let _ = did_key::decode(text);
    let _ = notify::verify(text, notify::NotifyAct::Message, now, 4096);
});
