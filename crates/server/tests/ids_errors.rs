//! Request ids in every spelling clients use, and the exact error answers
//! (code, message category, data tag) for malformed or out-of-range requests.

mod common;

use common::*;
use relaybox_auth::Keypair;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

const MAX_JS_SAFE: u64 = (1 << 53) - 1;

fn req(id: Value, method: &str, params: Value) -> Value {
    json!({ "id": id, "jsonrpc": "2.0", "method": method, "params": params })
}

#[tokio::test]
async fn ids_are_echoed_in_their_own_spelling() {
    let relay = TestRelay::start().await;
    let mut c = relay.new_client().await;
    let t = topic();

    // JS sends 19-digit strings; they must come back as the same string.
    let resp = c
        .call(req(
            json!("1795405159459027456"),
            "irn_subscribe",
            json!({ "topic": t }),
        ))
        .await;
    assert_eq!(resp["id"], json!("1795405159459027456"), "{resp}");
    assert!(resp["result"].is_string());

    // The raw text too: no re-encoding through a float.
    c.raw_send(
        &req(
            json!("1795405159459027457"),
            "irn_publish",
            publish_params(&t, "a", 300),
        )
        .to_string(),
    )
    .await;
    match c.raw_recv(WAIT).await {
        Some(Message::Text(text)) => assert!(
            text.as_str().starts_with(r#"{"id":"1795405159459027457","#),
            "{text}"
        ),
        other => panic!("expected a text reply, got {other:?}"),
    }

    // Numbers come back as numbers, exactly, even beyond 2^53.
    for n in [1_700_000_000_123u64, 9_007_199_254_740_993, 42] {
        let resp = c
            .call(req(
                json!(n),
                "irn_publish",
                publish_params(&t, &format!("n{n}"), 300),
            ))
            .await;
        assert_eq!(resp["id"].as_u64(), Some(n), "{resp}");
        assert_eq!(resp["result"], true);
    }

    // Error replies echo the id too.
    let resp = c
        .call(req(
            json!("1795405159459027458"),
            "irn_subscribe",
            json!({ "topic": "zz" }),
        ))
        .await;
    assert_eq!(resp["id"], json!("1795405159459027458"));
    assert_eq!(code_tag(&resp["error"]), (-32600, "InvalidTopic".into()));
}

#[tokio::test]
async fn push_ids_are_js_safe_numbers() {
    let relay = TestRelay::start().await;
    let mut sub = relay.new_client().await;
    let t = topic();
    sub.subscribe(&t).await;
    let mut publisher = relay.new_client().await;
    for i in 0..5 {
        publisher.publish(&t, &format!("m{i}")).await;
    }
    let mut last = 0;
    for _ in 0..5 {
        let frame = sub.next_push_frame(WAIT).await.expect("push");
        let id = frame["id"].as_u64().expect("numeric push id");
        assert!((1_000_000_000..=MAX_JS_SAFE).contains(&id), "{id}");
        assert!(id > last, "push ids increase");
        last = id;
    }
}

#[tokio::test]
async fn acks_in_any_spelling_count_and_unacked_pushes_come_back() {
    let relay = TestRelay::start().await;
    let kp = Keypair::generate();
    let mut sub = relay.client(&kp).await;
    sub.auto_ack = false;
    let t = topic();
    sub.subscribe(&t).await;
    let mut publisher = relay.new_client().await;
    for m in ["num", "bigint", "string", "unacked"] {
        publisher.publish(&t, m).await;
    }
    let mut ids = Vec::new();
    for _ in 0..4 {
        let f = sub.next_push_frame(WAIT).await.expect("push");
        ids.push(f["id"].as_u64().unwrap());
    }
    sub.ack(&json!(ids[0])).await;
    sub.ack(&json!(format!("{}n", ids[1]))).await;
    sub.ack(&json!(ids[2].to_string())).await;
    sub.close().await;

    let mut again = relay.client(&kp).await;
    assert_eq!(again.expect_messages(1).await, ["unacked"]);
    again.expect_no_push().await;
}

#[tokio::test]
async fn invalid_json_is_answered_with_id_zero_and_the_socket_stays_usable() {
    let relay = TestRelay::start().await;
    let mut c = relay.new_client().await;
    for bad in [
        "{not json",
        "[1,2,3]",
        "\"just a string\"",
        "{\"jsonrpc\":\"2.0\"}",
    ] {
        c.raw_send(bad).await;
        let resp = c.recv_frame(WAIT).await.expect("an answer");
        assert_eq!(resp["id"], 0, "{bad}: {resp}");
        assert_eq!(resp["jsonrpc"], "2.0");
        let (code, _) = code_tag(&resp["error"]);
        assert_eq!(code, -32600, "{bad}: {resp}");
        assert!(resp["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid payload: "));
    }
    c.raw_send("{not json").await;
    let resp = c.recv_frame(WAIT).await.unwrap();
    assert_eq!(resp["error"]["data"], "Serialization");

    // An unreadable id is answered with 0 as well.
    let resp_frame = json!({ "id": -5, "jsonrpc": "2.0", "method": "irn_subscribe", "params": { "topic": topic() } });
    c.raw_send(&resp_frame.to_string()).await;
    let resp = c.recv_frame(WAIT).await.unwrap();
    assert_eq!(resp["id"], 0);
    assert_eq!(
        code_tag(&resp["error"]),
        (-32600, "InvalidRequestId".into())
    );

    // Still usable.
    let t = topic();
    c.publish(&t, "after garbage").await;
    assert!(c.subscribe(&t).await.len() == 64);
}

#[tokio::test]
async fn payload_errors_have_exact_codes_and_tags() {
    let relay = TestRelay::start().await;
    let mut c = relay.new_client().await;
    let t = topic();

    let mut check = async |frame: Value, code: i64, tag: &str| {
        let resp = c.call(frame.clone()).await;
        let err = resp
            .get("error")
            .unwrap_or_else(|| panic!("{frame} should fail: {resp}"));
        assert_eq!(code_tag(err), (code, tag.to_owned()), "{frame}");
        let prefix = match code {
            -32600 => "Invalid payload: ",
            -32000 => "Request handler error: ",
            _ => "",
        };
        assert!(
            err["message"].as_str().unwrap().starts_with(prefix),
            "{err}"
        );
    };

    let v1 =
        json!({ "id": 11, "jsonrpc": "1.0", "method": "irn_subscribe", "params": { "topic": t } });
    check(v1, -32600, "InvalidJsonRpcVersion").await;
    let nov = json!({ "id": 12, "method": "irn_subscribe", "params": { "topic": t } });
    check(nov, -32600, "InvalidJsonRpcVersion").await;

    for bad in [
        json!("xyz"),
        json!(&t[..63]),
        json!(format!("{}zz", &t[..62])),
        json!(5),
        json!(null),
    ] {
        check(
            req(json!(13), "irn_subscribe", json!({ "topic": bad })),
            -32600,
            "InvalidTopic",
        )
        .await;
    }
    check(
        req(json!(14), "irn_publish", publish_params("nothex", "m", 300)),
        -32600,
        "InvalidTopic",
    )
    .await;

    check(
        req(json!(15), "irn_doesNotExist", json!({})),
        -32600,
        "InvalidMethod",
    )
    .await;
    let push =
        json!({ "id": "x", "data": { "topic": t, "message": "m", "publishedAt": 1, "tag": 0 } });
    check(
        req(json!(16), "irn_subscription", push),
        -32600,
        "InvalidMethod",
    )
    .await;
    check(
        json!({ "id": 17, "jsonrpc": "2.0", "method": "irn_subscribe" }),
        -32600,
        "InvalidParams",
    )
    .await;
    check(
        req(json!(18), "irn_publish", json!({ "topic": t, "ttl": 300 })),
        -32600,
        "InvalidParams",
    )
    .await;
    check(
        req(json!(0), "irn_subscribe", json!({ "topic": t })),
        -32600,
        "InvalidRequestId",
    )
    .await;

    // TTL bounds (defaults: 10 s .. 30 days).
    check(
        req(json!(20), "irn_publish", publish_params(&t, "m", 9)),
        -32000,
        "TtlTooShort",
    )
    .await;
    check(
        req(json!(21), "irn_publish", publish_params(&t, "m", 2_592_001)),
        -32000,
        "TtlTooLong",
    )
    .await;

    // Message size (default max 131072 bytes).
    let big = "x".repeat(131_073);
    check(
        req(json!(22), "irn_publish", publish_params(&t, &big, 300)),
        -32600,
        "PayloadSizeExceeded",
    )
    .await;

    // Batches: 1..=500.
    for (method, key) in [
        ("irn_batchSubscribe", "topics"),
        ("irn_batchFetchMessages", "topics"),
        ("irn_batchUnsubscribe", "subscriptions"),
        ("irn_batchReceive", "receipts"),
        ("irn_batchPublish", "messages"),
    ] {
        check(
            req(json!(23), method, json!({ key: [] })),
            -32600,
            "BatchEmpty",
        )
        .await;
    }
    let many: Vec<String> = (0..501).map(|_| topic()).collect();
    check(
        req(json!(24), "irn_batchSubscribe", json!({ "topics": many })),
        -32600,
        "BatchLimitExceeded",
    )
    .await;
    check(
        req(
            json!(25),
            "irn_batchFetchMessages",
            json!({ "topics": many }),
        ),
        -32600,
        "BatchLimitExceeded",
    )
    .await;

    // The edges themselves are fine.
    let ok = c.request("irn_publish", publish_params(&t, "m", 10)).await;
    assert_eq!(ok, Ok(json!(true)));
    let ok = c
        .request("irn_publish", publish_params(&t, "m2", 2_592_000))
        .await;
    assert_eq!(ok, Ok(json!(true)));
    let ok = c
        .request("irn_publish", publish_params(&t, &"y".repeat(131_072), 300))
        .await;
    assert_eq!(ok, Ok(json!(true)));
    let ids = c
        .request("irn_batchSubscribe", json!({ "topics": many[..500] }))
        .await
        .expect("500 topics");
    assert_eq!(ids.as_array().unwrap().len(), 500);
}

#[tokio::test]
async fn binary_frames_are_refused_without_closing() {
    let relay = TestRelay::start().await;
    let mut c = relay.new_client().await;
    let frame = req(json!(5), "irn_subscribe", json!({ "topic": topic() }));
    use futures_util::SinkExt;
    c.ws.send(Message::binary(frame.to_string().into_bytes()))
        .await
        .unwrap();
    let resp = c.recv_frame(WAIT).await.expect("answer to a binary frame");
    assert_eq!(resp["id"], 0);
    assert_eq!(code_tag(&resp["error"]), (-32600, "Serialization".into()));
    c.publish(&topic(), "still open").await;
}
