//! Notify JWTs: every act round-trips, and each rule of the claim table
//! and the verifier is enforced with its own error.

mod common;

use common::{b64, forge_raw, HEADER};
use relaybox_auth::did_pkh::DidPkh;
use relaybox_auth::did_web::DidWeb;
use relaybox_auth::notify::{
    self, NotifyAct, NotifyClaims, NotifyClaimsBuilder, NotifyMessage, NotifyServerSubscription,
};
use relaybox_auth::{jwt, Error, Keypair};
use serde_json::{json, Value};

const IAT: i64 = 1_700_000_000;
const NOW: u64 = IAT as u64 + 10;
const MAX: usize = 16 * 1024;
const ACCOUNT: &str = "did:pkh:eip155:1:0xAb5801a7D398351b8bE11C439e05C5B3259aeC9B";

fn signer() -> Keypair {
    Keypair::from_seed([3; 32])
}

fn peer() -> Keypair {
    Keypair::from_seed([4; 32])
}

fn app() -> DidWeb {
    DidWeb::parse("did:web:app.example.com").unwrap()
}

fn subscription() -> NotifyServerSubscription {
    NotifyServerSubscription {
        app_domain: "app.example.com".into(),
        app_authentication_key: peer().did_key(),
        sym_key: "11".repeat(32),
        account: "eip155:1:0xAb5801a7D398351b8bE11C439e05C5B3259aeC9B".into(),
        scope: vec!["alerts".into(), "promotional".into()],
        expiry: 1_702_592_000,
        unread_notification_count: 2,
    }
}

fn message() -> NotifyMessage {
    NotifyMessage {
        id: "7f7d1c0e-0000-4000-8000-000000000001".into(),
        sent_at: IAT * 1000,
        kind: "alerts".into(),
        title: "Hello".into(),
        body: "World".into(),
        icon: Some("https://app.example.com/icon.png".into()),
        url: None,
        is_read: false,
    }
}

fn start(act: NotifyAct) -> NotifyClaimsBuilder {
    NotifyClaims::builder(
        act,
        signer().did_key(),
        DidPkh::parse(ACCOUNT).unwrap(),
        IAT,
    )
}

/// A builder with exactly the claims `act` requires.
fn minimal(act: NotifyAct) -> NotifyClaimsBuilder {
    use NotifyAct::*;
    let aud = peer().did_key();
    let ksu = "https://keys.walletconnect.com";
    let b = start(act);
    match act {
        WatchSubscriptions | SubscriptionsChangedResponse => b.ksu(ksu).aud(aud),
        WatchSubscriptionsResponse | SubscriptionsChanged => b.aud(aud).sbs(vec![subscription()]),
        Subscribe | Update => b.ksu(ksu).aud(aud).app(app()).scp("alerts promotional"),
        SubscribeResponse | DeleteResponse | UpdateResponse => {
            b.aud(aud).app(app()).sbs(vec![subscription()])
        }
        Message => b.app(app()).msg(message()),
        MessageResponse | Delete => b.ksu(ksu).aud(aud).app(app()),
        GetNotifications => b.ksu(ksu).aud(aud).app(app()).lmt(50u64).urf(true),
        GetNotificationsResponse => b.aud(aud).nfs(vec![message()]).mre(false).mur(false),
        MarkNotificationsAsRead => b.ksu(ksu).aud(aud).app(app()).all(true),
        MarkNotificationsAsReadResponse => b.aud(aud),
    }
}

/// Signs a raw payload (bypassing the builder's checks) with `signer()`.
fn sign_raw(payload: &Value) -> String {
    forge_raw(&b64(HEADER), &b64(payload.to_string()), &signer())
}

/// The JSON payload `minimal(act)` would produce, for tampering.
fn payload_of(act: NotifyAct) -> serde_json::Map<String, Value> {
    match serde_json::to_value(minimal(act).build().unwrap()).unwrap() {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

#[test]
fn every_act_round_trips() {
    for act in NotifyAct::ALL {
        let claims = minimal(act).sdk("rust-1.0").build().unwrap();
        assert_eq!(claims.exp - claims.iat, act.ttl_secs() as i64, "{act}");
        let token = notify::sign(&signer(), &claims).unwrap();
        let back = notify::verify(&token, act, NOW, MAX).unwrap();
        assert_eq!(back, claims, "{act}");
        // The payload carries the act string and the did:pkh verbatim.
        let (payload, key) = jwt::verify_signature(&token, MAX).unwrap();
        assert_eq!(payload["act"], act.as_str());
        assert_eq!(payload["sub"], ACCOUNT);
        assert_eq!(payload["mjv"], "1");
        assert_eq!(key, signer().public_key());
    }
}

#[test]
fn every_required_claim_is_enforced_by_builder_and_verifier() {
    for act in NotifyAct::ALL {
        let full = payload_of(act);
        for claim in [
            "ksu", "aud", "app", "scp", "sbs", "msg", "lmt", "urf", "nfs", "mre", "mur", "all",
        ] {
            if !full.contains_key(claim) || (claim == "app" && full[claim].is_null()) {
                continue;
            }
            let mut without = full.clone();
            without.remove(claim);
            let err =
                notify::verify(&sign_raw(&Value::Object(without)), act, NOW, MAX).unwrap_err();
            assert_eq!(err, Error::MissingClaim(claim), "{act} without {claim}");
        }
    }
    assert_eq!(
        start(NotifyAct::Subscribe)
            .ksu("k")
            .aud("a")
            .app(app())
            .build()
            .unwrap_err(),
        Error::MissingClaim("scp")
    );
    assert_eq!(
        start(NotifyAct::Message).app(app()).build().unwrap_err(),
        Error::MissingClaim("msg")
    );
    assert_eq!(
        start(NotifyAct::WatchSubscriptionsResponse)
            .aud("a")
            .build()
            .unwrap_err(),
        Error::MissingClaim("sbs")
    );
    assert_eq!(
        start(NotifyAct::Delete)
            .aud("a")
            .app(app())
            .build()
            .unwrap_err(),
        Error::MissingClaim("ksu")
    );
}

#[test]
fn shared_claims_are_required() {
    let act = NotifyAct::Delete;
    for claim in ["act", "iss", "sub", "mjv", "iat", "exp"] {
        let mut p = payload_of(act);
        p.remove(claim);
        let err = notify::verify(&sign_raw(&Value::Object(p)), act, NOW, MAX).unwrap_err();
        assert_eq!(err, Error::MissingClaim(claim), "{claim}");
    }
    assert_eq!(
        minimal(act).mjv("").build().unwrap_err(),
        Error::MissingClaim("mjv")
    );
}

#[test]
fn watch_without_app_means_all_apps() {
    let claims = minimal(NotifyAct::WatchSubscriptions).build().unwrap();
    assert_eq!(claims.app, None);
    let token = notify::sign(&signer(), &claims).unwrap();
    let (payload, _) = jwt::verify_signature(&token, MAX).unwrap();
    assert_eq!(payload.get("app"), Some(&Value::Null));
    assert_eq!(
        notify::verify(&token, NotifyAct::WatchSubscriptions, NOW, MAX).unwrap(),
        claims
    );
    let scoped = minimal(NotifyAct::WatchSubscriptions)
        .app(app())
        .build()
        .unwrap();
    let token = notify::sign(&signer(), &scoped).unwrap();
    let back = notify::verify(&token, NotifyAct::WatchSubscriptions, NOW, MAX).unwrap();
    assert_eq!(back.app, Some(app()));
}

#[test]
fn act_must_match_and_be_known() {
    let token = notify::sign(&signer(), &minimal(NotifyAct::Subscribe).build().unwrap()).unwrap();
    assert_eq!(
        notify::verify(&token, NotifyAct::Update, NOW, MAX).unwrap_err(),
        Error::NotifyActMismatch {
            expected: "notify_update",
            found: "notify_subscription".into()
        }
    );
    let mut p = payload_of(NotifyAct::Subscribe);
    p.insert("act".into(), json!("notify_subscribe"));
    assert_eq!(
        notify::verify(
            &sign_raw(&Value::Object(p.clone())),
            NotifyAct::Subscribe,
            NOW,
            MAX
        )
        .unwrap_err(),
        Error::UnknownNotifyAct("notify_subscribe".into())
    );
    p.insert("act".into(), json!(4000));
    assert!(matches!(
        notify::verify(&sign_raw(&Value::Object(p)), NotifyAct::Subscribe, NOW, MAX),
        Err(Error::InvalidClaimType { claim: "act", .. })
    ));
    // A relay client-auth token has no act at all.
    assert_eq!(
        notify::verify(common::EXPECTED_JWT, NotifyAct::Subscribe, NOW, MAX).unwrap_err(),
        Error::MissingClaim("act")
    );
}

#[test]
fn expired_tokens_have_their_own_error() {
    let act = NotifyAct::Subscribe;
    let token = notify::sign(&signer(), &minimal(act).build().unwrap()).unwrap();
    let exp = IAT + 300;
    assert!(notify::verify(&token, act, (exp + 120) as u64, MAX).is_ok());
    let err = notify::verify(&token, act, (exp + 121) as u64, MAX).unwrap_err();
    assert_eq!(
        err,
        Error::Expired {
            exp,
            now: (exp + 121) as u64
        }
    );
    assert_eq!(err.reason(), "expired");
    assert!(matches!(
        notify::verify(&token, act, (IAT - 121) as u64, MAX),
        Err(Error::NotYetValid { .. })
    ));
    // Thirty-day acts live thirty days.
    let token = notify::sign(&signer(), &minimal(NotifyAct::Message).build().unwrap()).unwrap();
    assert!(notify::verify(&token, NotifyAct::Message, IAT as u64 + 2_592_000, MAX).is_ok());
}

#[test]
fn sub_must_be_did_pkh_and_app_did_web() {
    let act = NotifyAct::Delete;
    let cases = [
        (
            "sub",
            json!("did:key:z6MkodHZwneVRShtaLf8JKYkxpDGp1vGZnpGmdBpX8M2exxH"),
            Error::DidPkhMethod,
        ),
        (
            "sub",
            json!("did:pkh:eip155:1:0x1234"),
            Error::DidPkhEip155Address,
        ),
        ("app", json!("https://app.example.com"), Error::DidWebMethod),
        (
            "app",
            json!("did:web:app..example.com"),
            Error::DidWebDomain,
        ),
    ];
    for (claim, value, expected) in cases {
        let mut p = payload_of(act);
        p.insert(claim.into(), value);
        assert_eq!(
            notify::verify(&sign_raw(&Value::Object(p)), act, NOW, MAX).unwrap_err(),
            expected
        );
    }
}

#[test]
fn sdk_is_at_most_16_characters() {
    let act = NotifyAct::MessageResponse;
    assert!(minimal(act).sdk("é".repeat(16)).build().is_ok());
    assert_eq!(
        minimal(act).sdk("x".repeat(17)).build().unwrap_err(),
        Error::SdkTooLong { len: 17 }
    );
    let mut p = payload_of(act);
    p.insert("sdk".into(), json!("y".repeat(40)));
    assert_eq!(
        notify::verify(&sign_raw(&Value::Object(p)), act, NOW, MAX).unwrap_err(),
        Error::SdkTooLong { len: 40 }
    );
}

#[test]
fn claim_types_are_checked() {
    let cases = [
        (NotifyAct::Subscribe, "scp", json!(["alerts"])),
        (
            NotifyAct::SubscribeResponse,
            "sbs",
            json!([{"appDomain": 1}]),
        ),
        (NotifyAct::Message, "msg", json!("hello")),
        (NotifyAct::GetNotifications, "lmt", json!(-1)),
        (NotifyAct::GetNotifications, "urf", json!("true")),
        (NotifyAct::MarkNotificationsAsRead, "ids", json!([1, 2])),
        (NotifyAct::Delete, "exp", json!("1700000000")),
        (NotifyAct::Delete, "mjv", json!(1)),
    ];
    for (act, claim, value) in cases {
        let mut p = payload_of(act);
        p.insert(claim.into(), value);
        let err = notify::verify(&sign_raw(&Value::Object(p)), act, NOW, MAX).unwrap_err();
        assert!(
            matches!(err, Error::InvalidClaimType { claim: c, .. } if c == claim),
            "{act} {claim}: {err:?}"
        );
    }
}

#[test]
fn get_and_mark_read_limits() {
    assert!(matches!(
        minimal(NotifyAct::GetNotifications).lmt(51u64).build(),
        Err(Error::InvalidClaimValue { claim: "lmt", .. })
    ));
    let mark = || {
        start(NotifyAct::MarkNotificationsAsRead)
            .ksu("k")
            .aud("a")
            .app(app())
    };
    assert!(mark().all(false).ids(vec!["a".to_owned()]).build().is_ok());
    assert_eq!(
        mark().all(false).build().unwrap_err(),
        Error::MissingClaim("ids")
    );
    assert!(matches!(
        mark().all(true).ids(vec!["a".to_owned()]).build(),
        Err(Error::InvalidClaimValue { claim: "ids", .. })
    ));
    assert!(matches!(
        mark().all(false).ids(vec![String::new(); 1001]).build(),
        Err(Error::InvalidClaimValue { claim: "ids", .. })
    ));
    let page = minimal(NotifyAct::GetNotifications)
        .aft("some-id")
        .build()
        .unwrap();
    let token = notify::sign(&signer(), &page).unwrap();
    let back = notify::verify(&token, NotifyAct::GetNotifications, NOW, MAX).unwrap();
    assert_eq!(back.aft.as_deref(), Some("some-id"));
}

#[test]
fn lenient_structured_values() {
    // Older spec revisions: "unreadCount", null icon/url, no is_read.
    let mut p = payload_of(NotifyAct::Message);
    p.insert(
        "msg".into(),
        json!({"id":"1","sent_at":5,"type":"t","title":"a","body":"b","icon":null,"url":"","extra":1}),
    );
    let back = notify::verify(&sign_raw(&Value::Object(p)), NotifyAct::Message, NOW, MAX).unwrap();
    let msg = back.msg.unwrap();
    assert_eq!(
        (msg.icon, msg.url.as_deref(), msg.is_read),
        (None, Some(""), false)
    );

    let mut p = payload_of(NotifyAct::SubscriptionsChanged);
    let mut sub = serde_json::to_value(subscription()).unwrap();
    let obj = sub.as_object_mut().unwrap();
    obj.remove("unreadNotificationCount");
    obj.insert("unreadCount".into(), json!(9));
    p.insert("sbs".into(), json!([sub]));
    let back = notify::verify(
        &sign_raw(&Value::Object(p)),
        NotifyAct::SubscriptionsChanged,
        NOW,
        MAX,
    )
    .unwrap();
    assert_eq!(back.sbs.unwrap()[0].unread_notification_count, 9);
}

#[test]
fn signing_checks_issuer_and_claims() {
    let claims = minimal(NotifyAct::Delete).build().unwrap();
    assert_eq!(
        notify::sign(&peer(), &claims).unwrap_err(),
        Error::IssuerMismatch
    );
    let mut broken = claims.clone();
    broken.ksu = None;
    assert_eq!(
        notify::sign(&signer(), &broken).unwrap_err(),
        Error::MissingClaim("ksu")
    );
}

#[test]
fn signature_layer_errors_pass_through() {
    let token = notify::sign(&signer(), &minimal(NotifyAct::Delete).build().unwrap()).unwrap();
    assert!(matches!(
        notify::verify(&token, NotifyAct::Delete, NOW, 100),
        Err(Error::TokenTooLong { max: 100, .. })
    ));
    let mut tampered = token.clone();
    tampered.replace_range(10..11, if &token[10..11] == "A" { "B" } else { "A" });
    assert!(notify::verify(&tampered, NotifyAct::Delete, NOW, MAX).is_err());
}
