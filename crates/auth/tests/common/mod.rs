//! Helpers shared by the integration tests: the seed-001 test vector and a
//! token forger that signs arbitrary header/payload text.

#![allow(dead_code)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::Signer;
use relaybox_auth::Keypair;

pub const SEED_HEX: &str = "58e0254c211b858ef7896b00e3f36beeb13d568d47c6031c4218b87718061295";
pub const PUBLIC_HEX: &str = "884ab67f787b69e534bfdba8d5beb4e719700e90ac06317ed177d49e5a33be5a";
pub const ISS: &str = "did:key:z6MkodHZwneVRShtaLf8JKYkxpDGp1vGZnpGmdBpX8M2exxH";
pub const SUB: &str = "c479fe5dc464e771e78b193d239a65b58d278cad1c34bfb0b5716e5bb514928e";
pub const AUD: &str = "wss://relay.walletconnect.com";
pub const IAT: i64 = 1_656_910_097;
pub const EXP: i64 = 1_656_996_497;
pub const EXPECTED_JWT: &str = "eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJkaWQ6a2V5Ono2TWtvZEhad25lVlJTaHRhTGY4SktZa3hwREdwMXZHWm5wR21kQnBYOE0yZXh4SCIsInN1YiI6ImM0NzlmZTVkYzQ2NGU3NzFlNzhiMTkzZDIzOWE2NWI1OGQyNzhjYWQxYzM0YmZiMGI1NzE2ZTViYjUxNDkyOGUiLCJhdWQiOiJ3c3M6Ly9yZWxheS53YWxsZXRjb25uZWN0LmNvbSIsImlhdCI6MTY1NjkxMDA5NywiZXhwIjoxNjU2OTk2NDk3fQ.bAKl1swvwqqV_FgwvD4Bx3Yp987B9gTpZctyBviA-EkAuWc8iI8SyokOjkv9GJESgid4U8Tf2foCgrQp2qrxBA";

/// A moment inside the vector token's validity window.
pub const NOW: u64 = IAT as u64 + 100;

/// The header every well-formed token here uses.
pub const HEADER: &str = r#"{"alg":"EdDSA","typ":"JWT"}"#;

pub fn vector_keypair() -> Keypair {
    Keypair::from_seed_hex(SEED_HEX).unwrap()
}

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Signs `header.payload` (both given as JSON text) with `kp`.
pub fn forge(header: &str, payload: &str, kp: &Keypair) -> String {
    forge_raw(&b64(header), &b64(payload), kp)
}

/// Signs already-encoded segments exactly as given.
pub fn forge_raw(header_b64: &str, payload_b64: &str, kp: &Keypair) -> String {
    let signing_input = format!("{header_b64}.{payload_b64}");
    let sig = kp.signing_key().sign(signing_input.as_bytes());
    format!("{signing_input}.{}", b64(sig.to_bytes()))
}

/// The vector's payload with `iss` set to `kp`'s did:key.
pub fn payload_for(kp: &Keypair) -> String {
    format!(
        r#"{{"iss":"{}","sub":"{SUB}","aud":"{AUD}","iat":{IAT},"exp":{EXP}}}"#,
        kp.did_key()
    )
}
