//! The seed-001 relay-auth test vector, reproduced byte for byte.

mod common;

use common::*;
use relaybox_auth::jwt::{self, Claims, VerifyOptions};
use relaybox_auth::{did_key, Error};

fn vector_claims() -> Claims {
    Claims {
        iss: ISS.to_owned(),
        sub: SUB.to_owned(),
        aud: AUD.to_owned(),
        iat: IAT,
        exp: Some(EXP),
    }
}

#[test]
fn keypair_matches_vector() {
    let kp = vector_keypair();
    assert_eq!(hex::encode(kp.public_key().as_bytes()), PUBLIC_HEX);
    assert_eq!(kp.did_key(), ISS);
    assert_eq!(did_key::decode(ISS).unwrap(), kp.public_key());
    assert_eq!(kp.seed_hex(), SEED_HEX);
}

#[test]
fn sign_reproduces_vector_byte_for_byte() {
    assert_eq!(EXP, IAT + 86_400);
    let token = jwt::sign(&vector_keypair(), &vector_claims());
    assert_eq!(token, EXPECTED_JWT);
}

#[test]
fn vector_verifies_inside_window() {
    let opts = VerifyOptions::with_audiences([AUD, "ws://127.0.0.1:18555"]);
    for now in [IAT, IAT + 1, (IAT + EXP) / 2, EXP, EXP + 120] {
        let verified = jwt::verify(EXPECTED_JWT, &opts, now as u64).unwrap();
        assert_eq!(verified.claims, vector_claims());
        assert_eq!(verified.key, vector_keypair().public_key());
    }
    // Leeway on the early side too.
    assert!(jwt::verify(EXPECTED_JWT, &opts, (IAT - 120) as u64).is_ok());
}

#[test]
fn vector_expires_after_exp_plus_leeway() {
    let err = jwt::verify(EXPECTED_JWT, &VerifyOptions::default(), (EXP + 121) as u64).unwrap_err();
    assert!(matches!(err, Error::Expired { exp: EXP, .. }), "{err:?}");
    assert_eq!(err.reason(), "expired");
}

#[test]
fn vector_not_yet_valid_before_iat_minus_leeway() {
    let err = jwt::verify(EXPECTED_JWT, &VerifyOptions::default(), (IAT - 121) as u64).unwrap_err();
    assert!(
        matches!(err, Error::NotYetValid { iat: IAT, .. }),
        "{err:?}"
    );
    assert_eq!(err.reason(), "not_yet_valid");
}

#[test]
fn verify_signature_returns_payload_and_key() {
    let (payload, key) = jwt::verify_signature(EXPECTED_JWT, 4096).unwrap();
    assert_eq!(payload["iss"], ISS);
    assert_eq!(payload["exp"], EXP);
    assert_eq!(key, vector_keypair().public_key());
    // Time is not checked at this layer: far in the future is fine.
    assert!(jwt::verify_signature(EXPECTED_JWT, EXPECTED_JWT.len()).is_ok());
}

#[test]
fn header_key_order_and_extra_parameters_are_accepted() {
    let kp = vector_keypair();
    for header in [
        r#"{"typ":"JWT","alg":"EdDSA"}"#,
        r#"{"alg":"EdDSA","typ":"JWT","kid":"whatever"}"#,
    ] {
        let token = forge(header, &payload_for(&kp), &kp);
        assert!(
            jwt::verify(&token, &VerifyOptions::default(), NOW).is_ok(),
            "{header}"
        );
    }
}

#[test]
fn exp_may_be_absent_or_null() {
    let kp = vector_keypair();
    let opts = VerifyOptions::default();
    for payload in [
        format!(r#"{{"iss":"{ISS}","sub":"{SUB}","aud":"{AUD}","iat":{IAT}}}"#),
        format!(r#"{{"iss":"{ISS}","sub":"{SUB}","aud":"{AUD}","iat":{IAT},"exp":null}}"#),
    ] {
        let token = forge(HEADER, &payload, &kp);
        let verified = jwt::verify(&token, &opts, NOW).unwrap();
        assert_eq!(verified.claims.exp, None);
        // ... bounded by max_age instead.
        let limit = IAT as u64 + opts.max_age_secs + opts.leeway_secs;
        assert!(jwt::verify(&token, &opts, limit).is_ok());
        assert!(matches!(
            jwt::verify(&token, &opts, limit + 1),
            Err(Error::TooOld { .. })
        ));
    }
}

#[test]
fn signing_without_exp_omits_it() {
    let kp = vector_keypair();
    let claims = Claims {
        exp: None,
        ..vector_claims()
    };
    let token = jwt::sign(&kp, &claims);
    let (payload, _) = jwt::verify_signature(&token, 4096).unwrap();
    assert!(!payload.contains_key("exp"));
    assert_eq!(
        jwt::verify(&token, &VerifyOptions::default(), NOW)
            .unwrap()
            .claims,
        claims
    );
}

#[test]
fn extra_payload_claims_are_ignored() {
    let kp = vector_keypair();
    let payload = format!(
        r#"{{"iss":"{ISS}","sub":"{SUB}","aud":"{AUD}","iat":{IAT},"exp":{EXP},"act":"client_auth"}}"#
    );
    let token = forge(HEADER, &payload, &kp);
    assert!(jwt::verify(&token, &VerifyOptions::default(), NOW).is_ok());
}

#[test]
fn length_cap_is_inclusive() {
    let len = EXPECTED_JWT.len();
    assert!(jwt::verify_signature(EXPECTED_JWT, len).is_ok());
    assert_eq!(
        jwt::verify_signature(EXPECTED_JWT, len - 1).unwrap_err(),
        Error::TokenTooLong { len, max: len - 1 }
    );
}
