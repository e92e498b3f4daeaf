//! Named bad tokens, each refused with its own specific error variant.
//!
//! Every case goes through the full `jwt::verify` with the production
//! defaults plus an audience allow-list, at a time inside the vector's
//! validity window, so the only defect is the one the test name states.

mod common;

use common::*;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use relaybox_auth::jwt::{self, VerifyOptions};
use relaybox_auth::{did_key, Error, Keypair, Segment};

/// Verifies `token` as the relay would and returns the error.
fn refuse(token: &str) -> Error {
    let opts = VerifyOptions::with_audiences([AUD]);
    match jwt::verify(token, &opts, NOW) {
        Ok(v) => panic!("token was accepted: {:?}", v.claims),
        Err(e) => {
            // Every reason tag is stable snake_case.
            assert!(e
                .reason()
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_'));
            e
        }
    }
}

/// Defines one `#[test]` per bad token.
macro_rules! bad_token {
    ($($name:ident: $token:expr => $expected:pat $(if $guard:expr)?,)*) => {$(
        #[test]
        fn $name() {
            let token: String = $token;
            let err = refuse(&token);
            assert!(
                matches!(err, $expected $(if $guard)?),
                "{}: got {err:?}",
                stringify!($name)
            );
        }
    )*};
}

fn kp() -> Keypair {
    vector_keypair()
}

/// The vector's segments.
fn parts() -> (String, String, String) {
    let mut it = EXPECTED_JWT.split('.').map(str::to_owned);
    (it.next().unwrap(), it.next().unwrap(), it.next().unwrap())
}

/// A correctly signed token with the given payload JSON.
fn with_payload(payload: &str) -> String {
    forge(HEADER, payload, &kp())
}

/// A correctly signed token with the given header JSON.
fn with_header(header: &str) -> String {
    forge(header, &payload_for(&kp()), &kp())
}

/// A payload with the vector's claims but the given `iss`.
fn payload_with_iss(iss: &str) -> String {
    format!(r#"{{"iss":"{iss}","sub":"{SUB}","aud":"{AUD}","iat":{IAT},"exp":{EXP}}}"#)
}

/// `did:key:z` + base58 of arbitrary bytes.
fn did_key_of(bytes: &[u8]) -> String {
    format!("did:key:z{}", bs58::encode(bytes).into_string())
}

/// Replaces the signature segment with the given raw bytes.
fn with_signature_bytes(sig: &[u8]) -> String {
    let (h, p, _) = parts();
    format!("{h}.{p}.{}", b64(sig))
}

/// The vector's signature with `L` (the group order) added to `S`.
fn non_canonical_s() -> String {
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let (_, _, s) = parts();
    let mut sig = base64::Engine::decode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        s.as_bytes(),
    )
    .unwrap();
    let mut carry = 0u16;
    for (byte, l) in sig[32..].iter_mut().zip(L) {
        let sum = u16::from(*byte) + u16::from(l) + carry;
        *byte = sum as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0, "S + L fits in 256 bits");
    with_signature_bytes(&sig)
}

/// A token "signed" by the identity point with `R` = identity, `S` = 0,
/// which the lax verification equation accepts for every message.
fn identity_key_token() -> String {
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let key = VerifyingKey::from_bytes(&identity).expect("identity decompresses");
    let header_b64 = b64(HEADER);
    let payload_b64 = b64(payload_with_iss(&did_key::encode(&key)));
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(&identity);
    // Sanity: only strict verification stands between this and acceptance.
    let signing_input = format!("{header_b64}.{payload_b64}");
    assert!(key
        .verify(signing_input.as_bytes(), &Signature::from_bytes(&sig))
        .is_ok());
    format!("{signing_input}.{}", b64(sig))
}

bad_token! {
    alg_none: with_header(r#"{"alg":"none","typ":"JWT"}"#)
        => Error::UnsupportedAlg { found: Some(ref a) } if a == "none",
    alg_hs256: with_header(r#"{"alg":"HS256","typ":"JWT"}"#)
        => Error::UnsupportedAlg { found: Some(ref a) } if a == "HS256",
    alg_missing: with_header(r#"{"typ":"JWT"}"#)
        => Error::UnsupportedAlg { found: None },
    alg_lowercase: with_header(r#"{"alg":"eddsa","typ":"JWT"}"#)
        => Error::UnsupportedAlg { .. },
    typ_missing: with_header(r#"{"alg":"EdDSA"}"#)
        => Error::UnsupportedTyp { found: None },
    typ_wrong: with_header(r#"{"alg":"EdDSA","typ":"JWS"}"#)
        => Error::UnsupportedTyp { found: Some(ref t) } if t == "JWS",
    crit_header: with_header(r#"{"alg":"EdDSA","typ":"JWT","crit":["b64"],"b64":false}"#)
        => Error::UnsupportedHeader { ref name } if name == "crit",
    two_segments: { let (h, p, _) = parts(); format!("{h}.{p}") }
        => Error::SegmentCount { found: 2 },
    four_segments: format!("{EXPECTED_JWT}.{}", parts().2)
        => Error::SegmentCount { found: 4 },
    one_segment: parts().0
        => Error::SegmentCount { found: 1 },
    empty_string: String::new()
        => Error::SegmentCount { found: 1 },
    empty_header_segment: { let (_, p, s) = parts(); format!(".{p}.{s}") }
        => Error::EmptySegment { segment: Segment::Header },
    empty_payload_segment: { let (h, _, s) = parts(); format!("{h}..{s}") }
        => Error::EmptySegment { segment: Segment::Payload },
    empty_signature_segment: { let (h, p, _) = parts(); format!("{h}.{p}.") }
        => Error::EmptySegment { segment: Segment::Signature },
    only_dots: "..".to_owned()
        => Error::EmptySegment { segment: Segment::Header },
    bad_base64url_char: { let (h, p, s) = parts(); format!("{h}.{}*.{s}", &p[..p.len() - 1]) }
        => Error::Base64InvalidChar { segment: Segment::Payload },
    whitespace_in_token: { let (h, p, s) = parts(); format!("{h}.{p}.{s} ") }
        => Error::Base64InvalidChar { segment: Segment::Signature },
    padded_base64: { let (h, p, s) = parts(); format!("{h}=.{p}.{s}") }
        => Error::Base64Padding { segment: Segment::Header },
    standard_alphabet_base64: EXPECTED_JWT.replace('_', "/")
        => Error::Base64StandardAlphabet { segment: Segment::Signature },
    non_canonical_trailing_bits: {
        // The signature's last character carries 2 data bits and 4 zero
        // bits; "BA" -> "BB" sets a padding bit without changing the bytes.
        let t = EXPECTED_JWT.strip_suffix("BA").unwrap();
        format!("{t}BB")
    } => Error::Base64NonCanonical { segment: Segment::Signature },
    impossible_base64_length: { let (h, p, s) = parts(); format!("{h}.{p}.{s}AAA") }
        => Error::Base64Length { segment: Segment::Signature },
    header_not_json: forge_raw(&b64("alg=EdDSA"), &b64(payload_for(&kp())), &kp())
        => Error::InvalidJson { segment: Segment::Header },
    payload_not_json: with_payload("{iss: nope}")
        => Error::InvalidJson { segment: Segment::Payload },
    payload_not_utf8: forge_raw(&b64(HEADER), &b64(b"{\"iss\":\"\xff\"}"), &kp())
        => Error::InvalidJson { segment: Segment::Payload },
    payload_json_array: with_payload(&format!("[{}]", payload_for(&kp())))
        => Error::NotJsonObject { segment: Segment::Payload },
    header_json_string: with_header(r#""EdDSA""#)
        => Error::NotJsonObject { segment: Segment::Header },
    duplicate_key_in_header: with_header(r#"{"alg":"none","alg":"EdDSA","typ":"JWT"}"#)
        => Error::DuplicateKey { segment: Segment::Header, ref key } if key == "alg",
    duplicate_key_in_payload: with_payload(&format!(
        r#"{{"iss":"{ISS}","sub":"{SUB}","aud":"evil","aud":"{AUD}","iat":{IAT},"exp":{EXP}}}"#
    )) => Error::DuplicateKey { segment: Segment::Payload, ref key } if key == "aud",
    iss_not_a_did_key: with_payload(&payload_with_iss("did:pkh:eip155:1:0xab16a96d359ec26a11e2c2b3d8f8b8942d5bfcdb"))
        => Error::DidKeyMethod,
    iss_missing: with_payload(&format!(r#"{{"sub":"{SUB}","aud":"{AUD}","iat":{IAT},"exp":{EXP}}}"#))
        => Error::MissingClaim("iss"),
    iss_not_a_string: with_payload(&format!(r#"{{"iss":42,"sub":"{SUB}","aud":"{AUD}","iat":{IAT},"exp":{EXP}}}"#))
        => Error::InvalidClaimType { claim: "iss", .. },
    did_key_wrong_multibase: with_payload(&payload_with_iss(&ISS.replacen(":z", ":f", 1)))
        => Error::DidKeyMultibase,
    did_key_bad_base58: with_payload(&payload_with_iss("did:key:z6MkodHZwneVRShtaLf8JKYkxpDGp1vGZnpGmdBpX8M2ex0O"))
        => Error::DidKeyBase58,
    did_key_wrong_codec: {
        let mut bytes = vec![0xe7, 0x01];
        bytes.extend_from_slice(kp().public_key().as_bytes());
        with_payload(&payload_with_iss(&did_key_of(&bytes)))
    } => Error::DidKeyCodec,
    did_key_wrong_length: {
        let mut bytes = vec![0xed, 0x01];
        bytes.extend_from_slice(&kp().public_key().as_bytes()[..31]);
        with_payload(&payload_with_iss(&did_key_of(&bytes)))
    } => Error::DidKeyLength { len: 31 },
    did_key_not_a_curve_point: {
        let mut bytes = vec![0xed, 0x01, 2];
        bytes.extend_from_slice(&[0; 31]);
        with_payload(&payload_with_iss(&did_key_of(&bytes)))
    } => Error::DidKeyPoint,
    signature_by_another_key: forge(HEADER, &payload_for(&kp()), &Keypair::from_seed([7; 32]))
        => Error::BadSignature,
    payload_modified_after_signing: {
        let (h, _, s) = parts();
        let p = b64(payload_for(&kp()).replace(AUD, "wss://relay.walletconnect.org"));
        format!("{h}.{p}.{s}")
    } => Error::BadSignature,
    header_reordered_after_signing: {
        let (_, p, s) = parts();
        format!("{}.{p}.{s}", b64(r#"{"typ":"JWT","alg":"EdDSA"}"#))
    } => Error::BadSignature,
    signature_wrong_length: with_signature_bytes(&[0x55; 63])
        => Error::SignatureLength { len: 63 },
    signature_too_long: with_signature_bytes(&[0x55; 65])
        => Error::SignatureLength { len: 65 },
    expired_beyond_leeway: with_payload(&format!(
        r#"{{"iss":"{ISS}","sub":"{SUB}","aud":"{AUD}","iat":{},"exp":{}}}"#,
        NOW - 1000, NOW - 121
    )) => Error::Expired { .. },
    iat_in_future_beyond_leeway: with_payload(&format!(
        r#"{{"iss":"{ISS}","sub":"{SUB}","aud":"{AUD}","iat":{},"exp":{}}}"#,
        NOW + 121, NOW + 1000
    )) => Error::NotYetValid { .. },
    no_exp_and_too_old: with_payload(&format!(
        r#"{{"iss":"{ISS}","sub":"{SUB}","aud":"{AUD}","iat":{}}}"#,
        NOW - 86_400 * 7 - 121
    )) => Error::TooOld { .. },
    wrong_aud: with_payload(&payload_for(&kp()).replace(AUD, "wss://evil.example"))
        => Error::AudienceNotAllowed { ref aud } if aud == "wss://evil.example",
    token_of_100_kb: format!("{}.{}.{}", "a".repeat(50_000), "b".repeat(50_000), "c".repeat(400))
        => Error::TokenTooLong { len: 100_402, max: 4096 },
    identity_point_key_trivial_signature: identity_key_token()
        => Error::BadSignature,
    non_canonical_signature_s: non_canonical_s()
        => Error::BadSignature,
    exp_as_string: with_payload(&format!(
        r#"{{"iss":"{ISS}","sub":"{SUB}","aud":"{AUD}","iat":{IAT},"exp":"{EXP}"}}"#
    )) => Error::InvalidClaimType { claim: "exp", .. },
    iat_as_float: with_payload(&format!(
        r#"{{"iss":"{ISS}","sub":"{SUB}","aud":"{AUD}","iat":{IAT}.5,"exp":{EXP}}}"#
    )) => Error::InvalidClaimType { claim: "iat", .. },
    iat_missing: with_payload(&format!(r#"{{"iss":"{ISS}","sub":"{SUB}","aud":"{AUD}","exp":{EXP}}}"#))
        => Error::MissingClaim("iat"),
    sub_missing: with_payload(&format!(r#"{{"iss":"{ISS}","aud":"{AUD}","iat":{IAT},"exp":{EXP}}}"#))
        => Error::MissingClaim("sub"),
    aud_missing: with_payload(&format!(r#"{{"iss":"{ISS}","sub":"{SUB}","iat":{IAT},"exp":{EXP}}}"#))
        => Error::MissingClaim("aud"),
    aud_as_array: with_payload(&format!(
        r#"{{"iss":"{ISS}","sub":"{SUB}","aud":["{AUD}"],"iat":{IAT},"exp":{EXP}}}"#
    )) => Error::InvalidClaimType { claim: "aud", .. },
}

/// `exp` ten years ahead is refused: the lifetime (`exp - iat`) is bounded
/// by the maximum token age whatever `exp` says.
#[test]
fn lifetime_longer_than_max_age() {
    let kp = relaybox_auth::Keypair::from_seed([9; 32]);
    let now = 1_700_000_000i64;
    let claims = relaybox_auth::jwt::Claims {
        iss: kp.did_key(),
        sub: "s".into(),
        aud: "wss://relay.example".into(),
        iat: now,
        exp: Some(now + 10 * 365 * 86_400),
    };
    let token = relaybox_auth::jwt::sign(&kp, &claims);
    let opts = relaybox_auth::jwt::VerifyOptions::default();
    match relaybox_auth::jwt::verify(&token, &opts, now as u64) {
        Err(relaybox_auth::Error::LifetimeTooLong { exp, .. }) => {
            assert_eq!(exp, now + 10 * 365 * 86_400)
        }
        other => panic!("expected LifetimeTooLong, got {other:?}"),
    }
    let ok = relaybox_auth::jwt::Claims {
        exp: Some(now + 86_400),
        ..claims
    };
    assert!(
        relaybox_auth::jwt::verify(&relaybox_auth::jwt::sign(&kp, &ok), &opts, now as u64).is_ok()
    );
}
