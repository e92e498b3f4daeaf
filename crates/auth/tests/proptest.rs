//! Property tests: signing round-trips, any single-character change breaks
//! a token, and no input makes the parsers panic.

mod common;

use proptest::prelude::*;
use relaybox_auth::did_pkh::DidPkh;
use relaybox_auth::did_web::DidWeb;
use relaybox_auth::jwt::{self, Claims, VerifyOptions};
use relaybox_auth::{did_key, notify, Keypair};

/// Claims for `kp` with arbitrary sub/aud and times around `iat`.
fn claims_strategy() -> impl Strategy<Value = ([u8; 32], String, String, i64, Option<u32>)> {
    (
        any::<[u8; 32]>(),
        "\\PC{0,40}",
        "(wss?|https?)://[a-z0-9.:-]{1,30}",
        0i64..4_000_000_000,
        proptest::option::of(0u32..604_800),
    )
}

fn make(seed: [u8; 32], sub: String, aud: String, iat: i64, ttl: Option<u32>) -> (Keypair, Claims) {
    let kp = Keypair::from_seed(seed);
    let claims = Claims {
        iss: kp.did_key(),
        sub,
        aud,
        iat,
        exp: ttl.map(|t| iat + i64::from(t)),
    };
    (kp, claims)
}

/// Characters to substitute: the base64url alphabet, the separator, the
/// characters the decoder must refuse, and a multi-byte one.
const SUBSTITUTES: &[char] = &[
    'A',
    'Z',
    'a',
    'z',
    '0',
    '9',
    '-',
    '_',
    '.',
    '=',
    '+',
    '/',
    ' ',
    '\n',
    '\0',
    'é',
    '\u{10348}',
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn sign_then_verify_round_trips((seed, sub, aud, iat, ttl) in claims_strategy()) {
        let (kp, claims) = make(seed, sub, aud, iat, ttl);
        let token = jwt::sign(&kp, &claims);
        let opts = VerifyOptions {
            max_token_len: 16 * 1024,
            audiences: Some([claims.aud.clone()].into_iter().collect()),
            ..VerifyOptions::default()
        };
        let verified = jwt::verify(&token, &opts, iat as u64).unwrap();
        prop_assert_eq!(&verified.claims, &claims);
        prop_assert_eq!(verified.key, kp.public_key());
        prop_assert_eq!(did_key::decode(&claims.iss).unwrap(), kp.public_key());
    }

    #[test]
    fn changing_any_character_breaks_the_token(
        (seed, sub, aud, iat, ttl) in claims_strategy(),
        pos in any::<prop::sample::Index>(),
        sub_char in prop::sample::select(SUBSTITUTES),
    ) {
        let (kp, claims) = make(seed, sub, aud, iat, ttl);
        let token = jwt::sign(&kp, &claims);
        let opts = VerifyOptions { max_token_len: 16 * 1024, ..VerifyOptions::default() };
        let chars: Vec<char> = token.chars().collect();
        let i = pos.index(chars.len());
        prop_assume!(chars[i] != sub_char);
        let mut changed = chars.clone();
        changed[i] = sub_char;
        let changed: String = changed.into_iter().collect();
        prop_assert!(jwt::verify(&changed, &opts, iat as u64).is_err());
    }

    #[test]
    fn flipping_any_bit_breaks_the_token(
        (seed, sub, aud, iat, ttl) in claims_strategy(),
        pos in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let (kp, claims) = make(seed, sub, aud, iat, ttl);
        let mut bytes = jwt::sign(&kp, &claims).into_bytes();
        let i = pos.index(bytes.len());
        bytes[i] ^= 1 << bit;
        // Tokens arrive as text; a flip that breaks UTF-8 never reaches us.
        if let Ok(changed) = String::from_utf8(bytes) {
            let opts = VerifyOptions { max_token_len: 16 * 1024, ..VerifyOptions::default() };
            prop_assert!(jwt::verify(&changed, &opts, iat as u64).is_err());
        }
    }

    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,300}", now in any::<u64>()) {
        let _ = jwt::verify(&s, &VerifyOptions::default(), now);
        let _ = did_key::decode(&s);
        let _ = DidPkh::parse(&s);
        let _ = DidWeb::parse(&s);
        let _ = notify::verify(&s, notify::NotifyAct::Message, now, 4096);
    }

    #[test]
    fn token_shaped_garbage_never_panics(
        h in "[A-Za-z0-9_=+/-]{0,60}",
        p in "[A-Za-z0-9_=+/-]{0,200}",
        s in "[A-Za-z0-9_=+/-]{0,100}",
        now in any::<u64>(),
    ) {
        let token = format!("{h}.{p}.{s}");
        prop_assert!(jwt::verify(&token, &VerifyOptions::default(), now).is_err());
    }

    #[test]
    fn arbitrary_did_key_bodies_never_panic(body in "[1-9A-HJ-NP-Za-km-z]{0,200}") {
        let _ = did_key::decode(&format!("did:key:z{body}"));
    }

    #[test]
    fn did_pkh_round_trips(
        ns in "[-a-z0-9]{3,8}",
        reference in "[-_a-zA-Z0-9]{1,32}",
        address in "[-.%a-zA-Z0-9]{1,128}",
    ) {
        prop_assume!(ns != "eip155");
        let text = format!("did:pkh:{ns}:{reference}:{address}");
        let did = DidPkh::parse(&text).unwrap();
        prop_assert_eq!(did.to_string(), text);
    }

    #[test]
    fn did_web_round_trips(
        labels in prop::collection::vec("[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", 1..5),
        port in proptest::option::of(1u16..),
        path in prop::collection::vec("[a-zA-Z0-9._~-]{1,8}", 0..3),
    ) {
        prop_assume!(path.iter().all(|s| s != "." && s != ".."));
        let mut text = format!("did:web:{}", labels.join("."));
        if let Some(port) = port {
            text.push_str(&format!("%3A{port}"));
        }
        for seg in &path {
            text.push(':');
            text.push_str(seg);
        }
        let did = DidWeb::parse(&text).unwrap();
        prop_assert_eq!(did.port(), port);
        prop_assert_eq!(&did.path, &path);
        prop_assert_eq!(did.to_string(), text);
    }
}
