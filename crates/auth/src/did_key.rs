//! `did:key` identifiers for Ed25519 public keys.
//!
//! WalletConnect uses the did:key form of a client's public key as its
//! client id and as the JWT `iss`. The encoding is
//! `did:key:z` + base58btc(0xed 0x01 ‖ key), where `z` is the multibase tag
//! for base58btc and 0xed 0x01 is the varint multicodec for `ed25519-pub`.
//! Decoding reports each way this can be wrong separately, because "not a
//! did:key at all" and "a did:key for some other curve" call for different
//! messages to a client developer.

use ed25519_dalek::VerifyingKey;

use crate::{Error, Result};

/// Everything before the multibase body.
const PREFIX: &str = "did:key:";
/// Multibase tag for base58btc.
const MULTIBASE_BASE58BTC: char = 'z';
/// Unsigned-varint multicodec for an Ed25519 public key (0xed).
const ED25519_CODEC: [u8; 2] = [0xed, 0x01];
/// An Ed25519 public key is 32 bytes.
const KEY_LEN: usize = 32;
/// Longest body worth handing to the base58 decoder. A valid body is 48
/// characters; anything far longer is rejected by length afterwards anyway,
/// so cap the (quadratic) base58 work on hostile input.
const MAX_BODY_CHARS: usize = 128;

/// Encodes a public key as `did:key:z6Mk...`.
pub fn encode(key: &VerifyingKey) -> String {
    let mut bytes = Vec::with_capacity(ED25519_CODEC.len() + KEY_LEN);
    bytes.extend_from_slice(&ED25519_CODEC);
    bytes.extend_from_slice(key.as_bytes());
    let mut out = String::with_capacity(PREFIX.len() + 1 + 48);
    out.push_str(PREFIX);
    out.push(MULTIBASE_BASE58BTC);
    out.push_str(&bs58::encode(bytes).into_string());
    out
}

/// Decodes a `did:key` back into an Ed25519 public key.
///
/// Errors, in the order they are checked: [`Error::DidKeyMethod`] (not
/// `did:key:`), [`Error::DidKeyMultibase`] (not `z`), [`Error::DidKeyBase58`],
/// [`Error::DidKeyCodec`] (not 0xed01), [`Error::DidKeyLength`] and
/// [`Error::DidKeyPoint`] (bytes that are not a curve point). Small-order
/// ("weak") points are accepted here because they are valid encodings; they
/// are refused where it matters, by strict signature verification.
pub fn decode(did: &str) -> Result<VerifyingKey> {
    let multibase = did.strip_prefix(PREFIX).ok_or(Error::DidKeyMethod)?;
    let body = multibase
        .strip_prefix(MULTIBASE_BASE58BTC)
        .ok_or(Error::DidKeyMultibase)?;
    if body.is_empty() {
        return Err(Error::DidKeyBase58);
    }
    if body.len() > MAX_BODY_CHARS {
        // Far too long for a 32-byte key. Skip the quadratic base58 decode
        // but keep the error truthful: bad characters are a base58 problem,
        // otherwise it is a length problem (with the length estimated).
        return Err(if body.bytes().all(is_base58_char) {
            Error::DidKeyLength {
                len: (body.len() * 41 / 56).saturating_sub(ED25519_CODEC.len()),
            }
        } else {
            Error::DidKeyBase58
        });
    }
    let bytes = bs58::decode(body)
        .into_vec()
        .map_err(|_| Error::DidKeyBase58)?;
    let key = bytes
        .strip_prefix(&ED25519_CODEC)
        .ok_or(Error::DidKeyCodec)?;
    let key: [u8; KEY_LEN] = key
        .try_into()
        .map_err(|_| Error::DidKeyLength { len: key.len() })?;
    VerifyingKey::from_bytes(&key).map_err(|_| Error::DidKeyPoint)
}

/// Whether `c` is in the Bitcoin base58 alphabet.
fn is_base58_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() && !matches!(c, b'0' | b'O' | b'I' | b'l')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Keypair;

    const VECTOR_DID: &str = "did:key:z6MkodHZwneVRShtaLf8JKYkxpDGp1vGZnpGmdBpX8M2exxH";

    fn did_from_bytes(bytes: &[u8]) -> String {
        format!("did:key:z{}", bs58::encode(bytes).into_string())
    }

    #[test]
    fn round_trips() {
        for _ in 0..16 {
            let kp = Keypair::generate();
            let did = encode(&kp.public_key());
            assert!(did.starts_with("did:key:z6Mk"));
            assert_eq!(decode(&did).unwrap(), kp.public_key());
        }
    }

    #[test]
    fn decodes_test_vector() {
        let key = decode(VECTOR_DID).unwrap();
        assert_eq!(
            hex::encode(key.as_bytes()),
            "884ab67f787b69e534bfdba8d5beb4e719700e90ac06317ed177d49e5a33be5a"
        );
    }

    #[test]
    fn wrong_method() {
        for did in [
            "",
            "did:pkh:z6Mk",
            "DID:key:z6Mk",
            "key:z6Mk",
            "did:keyz6Mk",
        ] {
            assert_eq!(decode(did).unwrap_err(), Error::DidKeyMethod, "{did}");
        }
    }

    #[test]
    fn wrong_multibase() {
        let body = &VECTOR_DID["did:key:z".len()..];
        assert_eq!(
            decode(&format!("did:key:f{body}")).unwrap_err(),
            Error::DidKeyMultibase
        );
        assert_eq!(decode("did:key:").unwrap_err(), Error::DidKeyMultibase);
    }

    #[test]
    fn bad_base58() {
        for did in [
            "did:key:z",
            "did:key:z0OIl",
            "did:key:z6Mk+/",
            "did:key:z6Mké",
        ] {
            assert_eq!(decode(did).unwrap_err(), Error::DidKeyBase58, "{did}");
        }
        let long_bad = format!("did:key:z{}", "0".repeat(10_000));
        assert_eq!(decode(&long_bad).unwrap_err(), Error::DidKeyBase58);
    }

    #[test]
    fn wrong_codec() {
        // secp256k1-pub multicodec is 0xe7 0x01.
        let mut bytes = vec![0xe7, 0x01];
        bytes.extend_from_slice(&[7u8; 32]);
        assert_eq!(
            decode(&did_from_bytes(&bytes)).unwrap_err(),
            Error::DidKeyCodec
        );
        assert_eq!(
            decode(&did_from_bytes(&[0xed])).unwrap_err(),
            Error::DidKeyCodec
        );
    }

    #[test]
    fn wrong_length() {
        let kp = Keypair::generate();
        let mut bytes = vec![0xed, 0x01];
        bytes.extend_from_slice(kp.public_key().as_bytes());
        bytes.push(0);
        assert_eq!(
            decode(&did_from_bytes(&bytes)).unwrap_err(),
            Error::DidKeyLength { len: 33 }
        );
        assert_eq!(
            decode(&did_from_bytes(&bytes[..20])).unwrap_err(),
            Error::DidKeyLength { len: 18 }
        );
        let huge = format!("did:key:z{}", "2".repeat(10_000));
        assert!(matches!(
            decode(&huge).unwrap_err(),
            Error::DidKeyLength { .. }
        ));
    }

    #[test]
    fn undecompressible_point() {
        // y = 2 is not the y-coordinate of any point on edwards25519.
        let mut bytes = vec![0xed, 0x01, 2];
        bytes.extend_from_slice(&[0u8; 31]);
        assert_eq!(
            decode(&did_from_bytes(&bytes)).unwrap_err(),
            Error::DidKeyPoint
        );
    }
}
