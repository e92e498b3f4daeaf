use serde_json::json;

use super::*;

const NOW: u64 = 1_800_000_000;
const RELAY: &str = "wss://relay.example";

fn verifier() -> WatchVerifier<'static> {
    WatchVerifier {
        audiences: &|aud| aud == RELAY,
        now_secs: NOW,
        max_token_len: 4096,
    }
}

fn register_claims(kp: &Keypair) -> Value {
    json!({
        "act": ACT_REGISTER, "typ": "subscriber", "iss": kp.did_key(), "aud": RELAY,
        "sub": "https://notify.example", "whu": "https://notify.example/hook",
        "iat": NOW, "exp": NOW + 29 * 24 * 3600,
        "tag": [4000, 4002], "sts": ["accepted", "queued"],
    })
}

fn problem(r: Result<impl std::fmt::Debug>) -> WatchProblem {
    match r {
        Err(Error::Watch { problem, .. }) => problem,
        other => panic!("expected a watch refusal, got {other:?}"),
    }
}

#[test]
fn a_register_token_verifies_into_its_registration() {
    let kp = Keypair::generate();
    let token = jwt::sign_payload(&kp, &register_claims(&kp));
    let reg = verifier().register(&token).unwrap();
    assert_eq!(reg.client_id, kp.did_key());
    assert_eq!(reg.typ, WatchType::Subscriber);
    assert_eq!(reg.webhook_url, "https://notify.example/hook");
    assert_eq!(reg.tags, [4000, 4002]);
    assert_eq!(reg.statuses, [WatchStatus::Accepted, WatchStatus::Queued]);
    assert_eq!(reg.expires_at, (NOW + 29 * 24 * 3600) as i64);
}

#[test]
fn each_bad_claim_gets_its_tag() {
    let kp = Keypair::generate();
    let with = |key: &str, value: Value| {
        let mut claims = register_claims(&kp);
        claims[key] = value;
        jwt::sign_payload(&kp, &claims)
    };
    let v = verifier();
    assert_eq!(
        problem(v.register(&with("act", json!("irn_publish")))),
        WatchProblem::Action
    );
    assert_eq!(
        problem(v.register(&with("aud", json!("wss://other")))),
        WatchProblem::Jwt
    );
    assert_eq!(
        problem(v.register(&with("exp", json!(NOW - 1)))),
        WatchProblem::Ttl
    );
    assert_eq!(
        problem(v.register(&with("exp", json!(NOW + 31 * 24 * 3600)))),
        WatchProblem::Ttl
    );
    assert_eq!(
        problem(v.register(&with("sub", json!("notify")))),
        WatchProblem::ServiceUrl
    );
    let long = format!("https://h.example/{}", "a".repeat(250));
    assert_eq!(
        problem(v.register(&with("whu", json!(long)))),
        WatchProblem::WebhookUrl
    );
    assert_eq!(
        problem(v.register(&with("whu", json!("ftp://h/x")))),
        WatchProblem::WebhookUrl
    );
    assert_eq!(
        problem(v.register(&with("typ", json!("reader")))),
        WatchProblem::Jwt
    );
    assert_eq!(
        problem(v.register(&with("sts", json!(["read"])))),
        WatchProblem::Jwt
    );
    // Signed by someone else than `iss`.
    let other = Keypair::generate();
    let forged = jwt::sign_payload(&other, &register_claims(&kp));
    assert_eq!(problem(v.register(&forged)), WatchProblem::Jwt);
    assert_eq!(problem(v.register("garbage")), WatchProblem::Jwt);
}

#[test]
fn an_unregister_token_names_the_watch() {
    let kp = Keypair::generate();
    let mut claims = register_claims(&kp);
    claims["act"] = json!(ACT_UNREGISTER);
    let removal = verifier()
        .unregister(&jwt::sign_payload(&kp, &claims))
        .unwrap();
    assert_eq!(removal.service_url, "https://notify.example");
    assert_eq!(removal.webhook_url, "https://notify.example/hook");
    claims["act"] = json!(ACT_REGISTER);
    assert_eq!(
        problem(verifier().unregister(&jwt::sign_payload(&kp, &claims))),
        WatchProblem::Action
    );
}

#[test]
fn events_round_trip_and_are_bound_to_relay_and_service() {
    let relay = Keypair::generate();
    let claims = WatchEventClaims {
        act: ACT_EVENT.into(),
        iss: relay.did_key(),
        aud: "https://notify.example".into(),
        sub: "did:key:z6MkClient".into(),
        typ: WatchType::Subscriber,
        whu: "https://notify.example/hook".into(),
        iat: NOW as i64,
        exp: NOW as i64 + 300,
        evt: WatchEventPayload {
            message_id: 42,
            status: WatchStatus::Queued,
            topic: "ab".repeat(32),
            message: "m".into(),
            attestation: None,
            published_at: NOW * 1000,
            tag: 4002,
        },
    };
    let token = sign_event(&relay, &claims).unwrap();
    let back = verify_event(&token, &relay.did_key(), "https://notify.example", NOW).unwrap();
    assert_eq!(back, claims);
    let payload: Value = serde_json::to_value(&claims.evt).unwrap();
    assert_eq!(payload["messageId"], json!(42));
    assert_eq!(payload["publishedAt"], json!(NOW * 1000));
    assert!(payload.get("attestation").is_none());
    assert!(verify_event(
        &token,
        &Keypair::generate().did_key(),
        "https://notify.example",
        NOW
    )
    .is_err());
    assert!(verify_event(&token, &relay.did_key(), "https://other.example", NOW).is_err());
    assert!(verify_event(
        &token,
        &relay.did_key(),
        "https://notify.example",
        NOW + 1000
    )
    .is_err());
    let stranger = Keypair::generate();
    assert!(matches!(
        sign_event(&stranger, &claims),
        Err(Error::IssuerMismatch)
    ));
}

#[test]
fn urls_must_be_http_with_a_host() {
    for ok in [
        "https://a.example",
        "http://127.0.0.1:8080/hook?x=1",
        "https://u@h.example/p",
    ] {
        assert!(is_http_url(ok), "{ok}");
    }
    for bad in [
        "",
        "https://",
        "ftp://a",
        "https:///path",
        "https://a b",
        "notify.example",
        "http://:80/",
    ] {
        assert!(!is_http_url(bad), "{bad}");
    }
}
