//! `parse_incoming` rules about params: shape, topics, TTL, message size,
//! `wc_*` messages, batch sizes, and the fields real clients add that must be
//! tolerated. Each asserts the exact code, data tag and echoed id.

mod common;

use common::rules::*;
use common::*;
use relaybox_proto::*;

// --- params ----------------------------------------------------------------

#[test]
fn missing_or_malformed_params_are_invalid_params() {
    let no_params = format!(r#"{{"id":{ID},"jsonrpc":"2.0","method":"irn_subscribe"}}"#);
    rej(&no_params, -32600, "InvalidParams", Some(ID));
    let positional = format!(r#"["{T1}"]"#);
    for params in [
        "null",
        "[]",
        "5",
        r#""x""#,
        "{}",
        r#"{"topics":[]}"#,
        &positional,
    ] {
        rej(
            &req("irn_subscribe", params),
            -32600,
            "InvalidParams",
            Some(ID),
        );
    }
    // Wrong types for non-topic fields.
    let bad_ttl = format!(r#"{{"topic":"{T1}","message":"m","ttl":"300"}}"#);
    rej(
        &req("irn_publish", &bad_ttl),
        -32600,
        "InvalidParams",
        Some(ID),
    );
    let neg_ttl = format!(r#"{{"topic":"{T1}","message":"m","ttl":-1}}"#);
    rej(
        &req("irn_publish", &neg_ttl),
        -32600,
        "InvalidParams",
        Some(ID),
    );
    let no_ttl = format!(r#"{{"topic":"{T1}","message":"m"}}"#);
    rej(
        &req("irn_publish", &no_ttl),
        -32600,
        "InvalidParams",
        Some(ID),
    );
    let no_msg = format!(r#"{{"topic":"{T1}","ttl":300}}"#);
    rej(
        &req("irn_publish", &no_msg),
        -32600,
        "InvalidParams",
        Some(ID),
    );
    rej(
        &req("irn_watchRegister", "{}"),
        -32600,
        "InvalidParams",
        Some(ID),
    );
}

#[test]
fn bad_topic_is_invalid_topic_in_every_method() {
    let bad_values = [
        r#""abc""#,
        r#""zz""#,
        "5",
        "null",
        "{}",
        &format!(r#""{T1}00""#),
    ];
    for bad in bad_values {
        let cases = [
            (
                "irn_publish",
                format!(r#"{{"topic":{bad},"message":"m","ttl":300}}"#),
            ),
            (
                "irn_batchPublish",
                format!(r#"{{"messages":[{{"topic":{bad},"message":"m","ttl":300}}]}}"#),
            ),
            ("irn_subscribe", format!(r#"{{"topic":{bad}}}"#)),
            (
                "irn_batchSubscribe",
                format!(r#"{{"topics":["{T1}",{bad}]}}"#),
            ),
            ("irn_subscribeBlocking", format!(r#"{{"topic":{bad}}}"#)),
            (
                "irn_batchSubscribeBlocking",
                format!(r#"{{"topics":[{bad}]}}"#),
            ),
            ("irn_unsubscribe", format!(r#"{{"topic":{bad},"id":"x"}}"#)),
            (
                "irn_batchUnsubscribe",
                format!(r#"{{"subscriptions":[{{"topic":{bad}}}]}}"#),
            ),
            ("irn_fetchMessages", format!(r#"{{"topic":{bad}}}"#)),
            ("irn_batchFetchMessages", format!(r#"{{"topics":[{bad}]}}"#)),
            (
                "irn_subscription",
                format!(
                    r#"{{"id":"s","data":{{"topic":{bad},"message":"m","publishedAt":1,"tag":0}}}}"#
                ),
            ),
            (
                "irn_batchReceive",
                format!(r#"{{"receipts":[{{"topic":{bad},"message_id":1}}]}}"#),
            ),
            ("wc_createTopic", format!(r#"{{"topic":{bad}}}"#)),
            (
                "wc_proposeSession",
                format!(r#"{{"pairingTopic":{bad},"sessionProposal":"p"}}"#),
            ),
            (
                "wc_approveSession",
                format!(
                    r#"{{"pairingTopic":"{T1}","sessionTopic":{bad},"sessionProposalResponse":"r","sessionSettlementRequest":"s"}}"#
                ),
            ),
        ];
        for (method, params) in cases {
            rej(&req(method, &params), -32600, "InvalidTopic", Some(ID));
        }
    }
}

#[test]
fn uppercase_topics_are_accepted() {
    let params = format!(r#"{{"topic":"{}"}}"#, T1.to_uppercase());
    let r = ok(&req("irn_subscribe", &params));
    assert_eq!(r.params, Params::Subscribe(SubscribeParams { topic: t1() }));
}

// --- TTL ---------------------------------------------------------------------

#[test]
fn ttl_below_minimum_is_ttl_too_short() {
    let limits = Limits::default();
    let frame = req(
        "irn_publish",
        &publish_json(u64::from(limits.ttl_min) - 1, "m"),
    );
    rej(&frame, -32000, "TtlTooShort", Some(ID));
    rej(
        &req("irn_publish", &publish_json(0, "m")),
        -32000,
        "TtlTooShort",
        Some(ID),
    );
    ok(&req(
        "irn_publish",
        &publish_json(limits.ttl_min.into(), "m"),
    ));
    ok(&req("irn_publish", &publish_json(30, "m"))); // pairing ping TTL
}

#[test]
fn ttl_above_maximum_is_ttl_too_long() {
    let limits = Limits::default();
    let frame = req(
        "irn_publish",
        &publish_json(u64::from(limits.ttl_max) + 1, "m"),
    );
    rej(&frame, -32000, "TtlTooLong", Some(ID));
    ok(&req(
        "irn_publish",
        &publish_json(limits.ttl_max.into(), "m"),
    ));
}

#[test]
fn ttl_is_checked_per_batch_item() {
    let good = publish_json(300, "m");
    let short = format!(r#"{{"messages":[{good},{}]}}"#, publish_json(1, "m"));
    rej(
        &req("irn_batchPublish", &short),
        -32000,
        "TtlTooShort",
        Some(ID),
    );
    let long = format!(
        r#"{{"messages":[{},{good}]}}"#,
        publish_json(9_999_999, "m")
    );
    rej(
        &req("irn_batchPublish", &long),
        -32000,
        "TtlTooLong",
        Some(ID),
    );
}

#[test]
fn ttl_limits_come_from_the_caller() {
    let limits = Limits {
        ttl_min: 300,
        ttl_max: 600,
        ..Limits::default()
    };
    let short = req("irn_publish", &publish_json(299, "m"));
    rejected(&short, &limits, -32000, "TtlTooShort", Some(ID));
    let long = req("irn_publish", &publish_json(601, "m"));
    rejected(&long, &limits, -32000, "TtlTooLong", Some(ID));
    ok_with(&req("irn_publish", &publish_json(450, "m")), &limits);
}

// --- message size --------------------------------------------------------------

#[test]
fn message_longer_than_limit_is_payload_size_exceeded() {
    let limits = Limits {
        max_message_len: 8,
        max_attestation_len: 6,
        ..Limits::default()
    };
    ok_with(&req("irn_publish", &publish_json(300, "12345678")), &limits);
    let long = req("irn_publish", &publish_json(300, "123456789"));
    rejected(&long, &limits, -32600, "PayloadSizeExceeded", Some(ID));
    let batch = format!(r#"{{"messages":[{}]}}"#, publish_json(300, "123456789"));
    rejected(
        &req("irn_batchPublish", &batch),
        &limits,
        -32600,
        "PayloadSizeExceeded",
        Some(ID),
    );
    let propose = format!(r#"{{"pairingTopic":"{T1}","sessionProposal":"123456789"}}"#);
    rejected(
        &req("wc_proposeSession", &propose),
        &limits,
        -32600,
        "PayloadSizeExceeded",
        Some(ID),
    );
    let approve = format!(
        r#"{{"pairingTopic":"{T1}","sessionTopic":"{T2}","sessionProposalResponse":"r","sessionSettlementRequest":"123456789"}}"#
    );
    rejected(
        &req("wc_approveSession", &approve),
        &limits,
        -32600,
        "PayloadSizeExceeded",
        Some(ID),
    );
}

#[test]
fn attestation_longer_than_limit_is_attestation_too_large() {
    let limits = Limits {
        max_attestation_len: 6,
        ..Limits::default()
    };
    let publish = |att: &str| {
        format!(r#"{{"topic":"{T1}","message":"m","ttl":300,"tag":1,"attestation":"{att}"}}"#)
    };
    ok_with(&req("irn_publish", &publish("123456")), &limits);
    let long = req("irn_publish", &publish("1234567"));
    rejected(&long, &limits, -32600, "AttestationTooLarge", Some(ID));
    let batch = format!(r#"{{"messages":[{}]}}"#, publish("1234567"));
    rejected(
        &req("irn_batchPublish", &batch),
        &limits,
        -32600,
        "AttestationTooLarge",
        Some(ID),
    );
    let propose =
        format!(r#"{{"pairingTopic":"{T1}","sessionProposal":"p","attestation":"1234567"}}"#);
    rejected(
        &req("wc_proposeSession", &propose),
        &limits,
        -32600,
        "AttestationTooLarge",
        Some(ID),
    );
    assert_eq!(Limits::default().max_attestation_len, 4096);
}

#[test]
fn default_message_limit_is_128_kib() {
    let at = "a".repeat(131_072);
    ok(&req("irn_publish", &publish_json(300, &at)));
    let over = "a".repeat(131_073);
    rej(
        &req("irn_publish", &publish_json(300, &over)),
        -32600,
        "PayloadSizeExceeded",
        Some(ID),
    );
}

// --- wc_* empty messages -------------------------------------------------------

#[test]
fn empty_wc_messages_are_invalid_params() {
    let propose = format!(r#"{{"pairingTopic":"{T1}","sessionProposal":""}}"#);
    rej(
        &req("wc_proposeSession", &propose),
        -32600,
        "InvalidParams",
        Some(ID),
    );
    for (resp, settle) in [("", "s"), ("r", "")] {
        let approve = format!(
            r#"{{"pairingTopic":"{T1}","sessionTopic":"{T2}","sessionProposalResponse":"{resp}","sessionSettlementRequest":"{settle}"}}"#
        );
        rej(
            &req("wc_approveSession", &approve),
            -32600,
            "InvalidParams",
            Some(ID),
        );
    }
    // irn_publish has no such rule.
    ok(&req("irn_publish", &publish_json(300, "")));
}

// --- batches ---------------------------------------------------------------------

fn batch_cases(n: usize) -> Vec<(&'static str, String)> {
    let topics = vec![format!(r#""{T1}""#); n].join(",");
    let subs = vec![format!(r#"{{"topic":"{T1}","id":"x"}}"#); n].join(",");
    let receipts = vec![format!(r#"{{"topic":"{T1}","message_id":1}}"#); n].join(",");
    let messages = vec![publish_json(300, "m"); n].join(",");
    vec![
        (
            "irn_batchPublish",
            format!(r#"{{"messages":[{messages}]}}"#),
        ),
        ("irn_batchSubscribe", format!(r#"{{"topics":[{topics}]}}"#)),
        (
            "irn_batchSubscribeBlocking",
            format!(r#"{{"topics":[{topics}]}}"#),
        ),
        (
            "irn_batchUnsubscribe",
            format!(r#"{{"subscriptions":[{subs}]}}"#),
        ),
        (
            "irn_batchFetchMessages",
            format!(r#"{{"topics":[{topics}]}}"#),
        ),
        (
            "irn_batchReceive",
            format!(r#"{{"receipts":[{receipts}]}}"#),
        ),
    ]
}

#[test]
fn empty_batch_is_batch_empty() {
    for (method, params) in batch_cases(0) {
        rej(&req(method, &params), -32600, "BatchEmpty", Some(ID));
    }
}

#[test]
fn oversized_batch_is_batch_limit_exceeded() {
    let limits = Limits::default();
    for (method, params) in batch_cases(limits.max_batch) {
        ok(&req(method, &params));
    }
    for (method, params) in batch_cases(limits.max_batch + 1) {
        rej(
            &req(method, &params),
            -32600,
            "BatchLimitExceeded",
            Some(ID),
        );
    }
}

// --- tolerance -------------------------------------------------------------------

#[test]
fn publish_ignores_tvf_and_defaults_optionals() {
    let params = format!(
        r#"{{"topic":"{T1}","message":"m","ttl":900,"correlationId":12,"chainId":"eip155:1","rpcMethods":["eth_sendTransaction"],"txHashes":[],"contractAddresses":["0x0"],"tvf":{{"correlationId":1}}}}"#
    );
    let r = ok(&req("irn_publish", &params));
    let Params::Publish(p) = &r.params else {
        panic!()
    };
    assert_eq!(
        (p.tag, p.prompt, p.attestation.as_deref()),
        (0, false, None)
    );
    assert!(!r.to_json().contains("correlationId"));
    let nulls = format!(
        r#"{{"topic":"{T1}","message":"m","ttl":900,"tag":null,"prompt":null,"attestation":null}}"#
    );
    ok(&req("irn_publish", &nulls));
}

#[test]
fn unsubscribe_id_is_arbitrary() {
    for id in [r#""x""#, "5", "null", r#"{"a":1}"#] {
        let params = format!(r#"{{"topic":"{T1}","id":{id}}}"#);
        ok(&req("irn_unsubscribe", &params));
    }
    ok(&req("irn_unsubscribe", &format!(r#"{{"topic":"{T1}"}}"#)));
}

#[test]
fn receipts_accept_both_spellings() {
    for key in ["message_id", "messageId"] {
        let params = format!(r#"{{"receipts":[{{"topic":"{T1}","{key}":77}}]}}"#);
        let r = ok(&req("irn_batchReceive", &params));
        let Params::BatchReceive(p) = r.params else {
            panic!()
        };
        assert_eq!(p.receipts[0].message_id, 77);
    }
}

#[test]
fn wc_methods_ignore_extra_fields() {
    let propose = format!(
        r#"{{"pairingTopic":"{T1}","sessionProposal":"p","ttl":300,"correlationId":5,"tvf":{{}}}}"#
    );
    ok(&req("wc_proposeSession", &propose));
    let approve = format!(
        r#"{{"pairingTopic":"{T1}","sessionTopic":"{T2}","sessionProposalResponse":"r","sessionSettlementRequest":"s","approvedChains":["eip155:1"],"approvedMethods":[],"approvedEvents":[],"approvedAccounts":[],"sessionProperties":{{}},"scopedProperties":{{}},"correlationId":9}}"#
    );
    ok(&req("wc_approveSession", &approve));
}

#[test]
fn push_without_tag_defaults_to_zero() {
    let params = format!(
        r#"{{"id":"sub","data":{{"topic":"{T1}","message":"m","publishedAt":1763000000123}}}}"#
    );
    let r = ok(&req("irn_subscription", &params));
    let Params::Subscription(p) = r.params else {
        panic!()
    };
    assert_eq!((p.data.tag, p.data.attestation), (0, None));
}

#[test]
fn push_without_published_at_defaults_to_zero() {
    // The WalletConnect/relay TypeScript sample pushes only topic and message.
    for data in [
        format!(r#"{{"topic":"{T1}","message":"m"}}"#),
        format!(r#"{{"topic":"{T1}","message":"m","publishedAt":null}}"#),
    ] {
        let params = format!(r#"{{"id":"sub","data":{data}}}"#);
        let r = ok(&req("irn_subscription", &params));
        let Params::Subscription(p) = r.params else {
            panic!()
        };
        assert_eq!(
            (p.data.message.as_str(), p.data.published_at, p.data.tag),
            ("m", 0, 0)
        );
    }
}
