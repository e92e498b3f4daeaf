use super::*;
use hyper::header::HeaderValue;
use relaybox_auth::jwt::Claims;
use relaybox_auth::Keypair;
use std::collections::HashSet;

const NOW: u64 = 1_700_000_000;
const AUD: &str = "ws://127.0.0.1:9";

fn opts() -> VerifyOptions {
    VerifyOptions {
        audiences: Some(HashSet::from([AUD.to_string()])),
        ..VerifyOptions::default()
    }
}

fn token(kp: &Keypair, aud: &str, iat: i64) -> String {
    jwt::sign(
        kp,
        &Claims {
            iss: kp.did_key(),
            sub: "ab".repeat(32),
            aud: aud.into(),
            iat,
            exp: Some(iat + 86_400),
        },
    )
}

fn q(s: &str) -> Vec<(String, String)> {
    parse_query(s)
}

#[test]
fn query_token_is_accepted_and_client_id_is_iss() {
    let kp = Keypair::from_seed([7; 32]);
    let t = token(&kp, AUD, NOW as i64);
    let a = authenticate(
        &HeaderMap::new(),
        &q(&format!("auth={t}&projectId=p")),
        &opts(),
        &[],
        NOW,
        None,
    )
    .unwrap();
    assert_eq!(&*a.client_id, kp.did_key());
    assert_eq!(a.project_id.as_deref(), Some("p"));
}

#[test]
fn bearer_header_is_accepted_and_wins_over_query() {
    let kp = Keypair::from_seed([8; 32]);
    let mut h = HeaderMap::new();
    h.insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {}", token(&kp, AUD, NOW as i64))).unwrap(),
    );
    let a = authenticate(&h, &q("auth=garbage"), &opts(), &[], NOW, None).unwrap();
    assert_eq!(&*a.client_id, kp.did_key());
}

#[test]
fn rejections_carry_status_and_tag() {
    let kp = Keypair::from_seed([9; 32]);
    let missing = authenticate(&HeaderMap::new(), &q(""), &opts(), &[], NOW, None).unwrap_err();
    assert_eq!(
        (missing.status, missing.tag),
        (StatusCode::UNAUTHORIZED, "MissingJwt")
    );

    let wrong_aud = token(&kp, "wss://elsewhere.example", NOW as i64);
    let r = authenticate(
        &HeaderMap::new(),
        &q(&format!("auth={wrong_aud}")),
        &opts(),
        &[],
        NOW,
        None,
    )
    .unwrap_err();
    assert_eq!((r.status, r.tag), (StatusCode::FORBIDDEN, "InvalidJwt"));

    let expired = token(&kp, AUD, NOW as i64 - 3 * 86_400);
    let r = authenticate(
        &HeaderMap::new(),
        &q(&format!("auth={expired}")),
        &opts(),
        &[],
        NOW,
        None,
    )
    .unwrap_err();
    assert_eq!((r.status, r.tag), (StatusCode::UNAUTHORIZED, "InvalidJwt"));
    assert!(
        r.reason.contains(&format!("relay time {NOW}")),
        "the reason carries the relay's clock: {}",
        r.reason
    );
    let future = token(&kp, AUD, NOW as i64 + 3600);
    let r = authenticate(
        &HeaderMap::new(),
        &q(&format!("auth={future}")),
        &opts(),
        &[],
        NOW,
        None,
    )
    .unwrap_err();
    assert!(r.reason.contains("clock 3600s ahead"), "{}", r.reason);
    assert!(r.reason.len() <= 120, "fits a close frame: {}", r.reason);

    let projects = vec!["good".to_string()];
    let good = token(&kp, AUD, NOW as i64);
    let r = authenticate(
        &HeaderMap::new(),
        &q(&format!("auth={good}")),
        &opts(),
        &projects,
        NOW,
        None,
    )
    .unwrap_err();
    assert_eq!(r.tag, "ProjectIdNotSpecified");
    assert_eq!(r.reason, "Project ID is missing");
    let r = authenticate(
        &HeaderMap::new(),
        &q(&format!("auth={good}&projectId=bad")),
        &opts(),
        &projects,
        NOW,
        None,
    )
    .unwrap_err();
    assert_eq!(r.tag, "ProjectNotFound");
    assert!(authenticate(
        &HeaderMap::new(),
        &q(&format!("auth={good}&projectId=good")),
        &opts(),
        &projects,
        NOW,
        None,
    )
    .is_ok());
}

#[test]
fn close_event_flag() {
    assert!(wants_close_event(&q("useOnCloseEvent=true")));
    assert!(!wants_close_event(&q("useOnCloseEvent=false")));
}

#[test]
fn upgrade_headers() {
    let mut h = HeaderMap::new();
    assert!(upgrade_key(&h).is_err());
    h.insert(UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(CONNECTION, HeaderValue::from_static("keep-alive, Upgrade"));
    h.insert(SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
    assert_eq!(upgrade_key(&h), Err("missing Sec-WebSocket-Key"));
    h.insert(
        SEC_WEBSOCKET_KEY,
        HeaderValue::from_static("dGhlIHNhbXBsZSBub25jZQ=="),
    );
    assert_eq!(upgrade_key(&h), Ok("dGhlIHNhbXBsZSBub25jZQ=="));
    h.insert(SEC_WEBSOCKET_VERSION, HeaderValue::from_static("8"));
    assert!(upgrade_key(&h).is_err());
}
