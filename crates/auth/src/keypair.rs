//! The client's long-lived Ed25519 identity key.
//!
//! A thin wrapper over [`SigningKey`] so that the rest of the relay (and its
//! tests) can create, persist and present identities without touching
//! ed25519-dalek directly, and so the seed is the one persisted form.

use ed25519_dalek::{SigningKey, VerifyingKey};

use crate::{did_key, Error, Result};

/// An Ed25519 signing key together with the conveniences the relay needs.
///
/// `Debug` deliberately prints only the public did:key so that a key can
/// never leak into logs by accident.
#[derive(Clone)]
pub struct Keypair {
    signing: SigningKey,
}

impl Keypair {
    /// Builds the keypair from a 32-byte seed (the Ed25519 secret key).
    pub fn from_seed(seed: [u8; 32]) -> Keypair {
        Keypair {
            signing: SigningKey::from_bytes(&seed),
        }
    }

    /// Builds the keypair from a seed written as 64 hexadecimal characters,
    /// the form used in config files and in the WalletConnect test vectors.
    pub fn from_seed_hex(hex: &str) -> Result<Keypair> {
        let bytes = hex.as_bytes();
        if bytes.len() != 64 {
            return Err(Error::InvalidSeedHex);
        }
        let mut seed = [0u8; 32];
        for (out, pair) in seed.iter_mut().zip(bytes.chunks_exact(2)) {
            let hi = hex_value(pair[0]).ok_or(Error::InvalidSeedHex)?;
            let lo = hex_value(pair[1]).ok_or(Error::InvalidSeedHex)?;
            *out = (hi << 4) | lo;
        }
        Ok(Keypair::from_seed(seed))
    }

    /// Creates a fresh keypair from operating-system randomness.
    ///
    /// This is the one place the crate touches the outside world; reading
    /// the OS entropy pool is not IO a caller needs to schedule or mock.
    pub fn generate() -> Keypair {
        Keypair {
            signing: SigningKey::generate(&mut rand::rngs::OsRng),
        }
    }

    /// The 32-byte seed, for persisting.
    pub fn seed(&self) -> [u8; 32] {
        self.signing.to_bytes()
    }

    /// The seed as 64 lowercase hexadecimal characters, for persisting.
    pub fn seed_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(64);
        for byte in self.signing.to_bytes() {
            out.push(char::from(DIGITS[usize::from(byte >> 4)]));
            out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
        }
        out
    }

    /// The public half of the key.
    pub fn public_key(&self) -> VerifyingKey {
        self.signing.verifying_key()
    }

    /// The public key as a `did:key:z6Mk...` identifier: the client id.
    pub fn did_key(&self) -> String {
        did_key::encode(&self.public_key())
    }

    /// The underlying signing key, for callers that need raw signatures.
    pub fn signing_key(&self) -> &SigningKey {
        &self.signing
    }
}

impl std::fmt::Debug for Keypair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keypair")
            .field("did_key", &self.did_key())
            .finish_non_exhaustive()
    }
}

/// Value of one ASCII hex digit, either case.
fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = "58e0254c211b858ef7896b00e3f36beeb13d568d47c6031c4218b87718061295";

    #[test]
    fn seed_vector_gives_expected_public_key() {
        let kp = Keypair::from_seed_hex(SEED).unwrap();
        assert_eq!(
            hex::encode(kp.public_key().as_bytes()),
            "884ab67f787b69e534bfdba8d5beb4e719700e90ac06317ed177d49e5a33be5a"
        );
        assert_eq!(
            kp.did_key(),
            "did:key:z6MkodHZwneVRShtaLf8JKYkxpDGp1vGZnpGmdBpX8M2exxH"
        );
    }

    #[test]
    fn seed_hex_round_trips_and_accepts_upper_case() {
        let kp = Keypair::from_seed_hex(&SEED.to_uppercase()).unwrap();
        assert_eq!(kp.seed_hex(), SEED);
    }

    #[test]
    fn bad_seed_hex_is_rejected() {
        for bad in [
            "",
            "00",
            &SEED[..63],
            &format!("{SEED}00"),
            &SEED.replace('5', "g"),
        ] {
            assert_eq!(
                Keypair::from_seed_hex(bad).unwrap_err(),
                Error::InvalidSeedHex
            );
        }
        // Multi-byte characters must not cause a slicing panic.
        let weird = "é".repeat(32);
        assert_eq!(weird.len(), 64);
        assert_eq!(
            Keypair::from_seed_hex(&weird).unwrap_err(),
            Error::InvalidSeedHex
        );
    }

    #[test]
    fn generated_keys_differ_and_debug_hides_secret() {
        let a = Keypair::generate();
        let b = Keypair::generate();
        assert_ne!(a.seed_hex(), b.seed_hex());
        let shown = format!("{a:?}");
        assert!(!shown.contains(&a.seed_hex()));
        assert!(shown.contains(&a.did_key()));
    }
}
