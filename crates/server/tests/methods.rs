//! Every relay method with its exact result shape, including the `wc_*`
//! session methods current JS clients need to pair.

mod common;

use common::*;
use relaybox_auth::Keypair;
use serde_json::{json, Value};

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[tokio::test]
async fn publish_and_subscription_management_results() {
    let relay = TestRelay::start().await;
    let kp = Keypair::generate();
    let mut c = relay.client(&kp).await;
    let (t1, t2, t3) = (topic(), topic(), topic());

    assert_eq!(
        c.request("irn_publish", publish_params(&t1, "m", 300))
            .await,
        Ok(json!(true))
    );
    // Optional fields may be absent or null; unknown ones (TVF) are ignored.
    let loose = json!({
        "topic": t1, "message": "m2", "ttl": 300, "tag": null, "attestation": null,
        "correlationId": 42, "chainId": "eip155:1", "rpcMethods": ["eth_sign"],
        "tvf": { "txHashes": ["0x1"] }
    });
    assert_eq!(c.request("irn_publish", loose).await, Ok(json!(true)));
    let minimal = json!({ "topic": t1, "message": "m3", "ttl": 300 });
    assert_eq!(c.request("irn_publish", minimal).await, Ok(json!(true)));

    let id = c
        .request("irn_subscribe", json!({ "topic": t1 }))
        .await
        .unwrap();
    assert_eq!(id, json!(sub_id(&t1, &kp.did_key())));

    let ids = c
        .request("irn_batchSubscribe", json!({ "topics": [t2, t3, t1] }))
        .await
        .unwrap();
    assert_eq!(
        ids,
        json!([
            sub_id(&t2, &kp.did_key()),
            sub_id(&t3, &kp.did_key()),
            sub_id(&t1, &kp.did_key())
        ])
    );

    // Any `id` is tolerated: SDKs send arbitrary values.
    for bogus in [json!("whatever"), json!(17), json!(null)] {
        let r = c
            .request("irn_unsubscribe", json!({ "topic": t1, "id": bogus }))
            .await;
        assert_eq!(r, Ok(json!(true)), "unsubscribe with id {bogus}");
    }
    let r = c
        .request(
            "irn_batchUnsubscribe",
            json!({ "subscriptions": [
                { "topic": t2, "id": sub_id(&t2, &kp.did_key()) },
                { "topic": t3, "id": "x" }
            ] }),
        )
        .await;
    assert_eq!(r, Ok(json!(true)));

    // Unsubscribed topics deliver nothing.
    let mut other = relay.new_client().await;
    other.publish(&t2, "after unsubscribe").await;
    other.publish(&t1, "after unsubscribe").await;
    c.expect_no_push().await;
}

#[tokio::test]
async fn push_frame_shape() {
    let relay = TestRelay::start().await;
    let kp = Keypair::generate();
    let mut sub = relay.client(&kp).await;
    let t = topic();
    sub.subscribe(&t).await;

    let mut publisher = relay.new_client().await;
    let before = now_ms();
    let params = json!({
        "topic": t, "message": "payload", "ttl": 300, "tag": 1108, "prompt": true,
        "attestation": "eyJhdHRlc3QiOjF9"
    });
    assert_eq!(
        publisher.request("irn_publish", params).await,
        Ok(json!(true))
    );

    let frame = sub.next_push_frame(WAIT).await.expect("push");
    assert_eq!(frame["jsonrpc"], "2.0");
    assert_eq!(frame["method"], "irn_subscription");
    assert!(frame["id"].is_u64(), "{frame}");
    let p = &frame["params"];
    assert_eq!(p["id"], json!(sub_id(&t, &kp.did_key())));
    let d = &p["data"];
    assert_eq!(d["topic"], json!(t));
    assert_eq!(d["message"], "payload");
    assert_eq!(d["tag"], 1108);
    assert_eq!(d["attestation"], "eyJhdHRlc3QiOjF9");
    let at = d["publishedAt"].as_u64().expect("publishedAt in ms");
    assert!(
        at + 1000 >= before && at <= now_ms() + 1000,
        "{at} vs {before}"
    );
}

#[tokio::test]
async fn fetch_messages_results() {
    let relay = TestRelay::start().await;
    let mut publisher = relay.new_client().await;
    let (t1, t2) = (topic(), topic());
    let before = now_ms();
    publisher.publish(&t1, "one").await;
    publisher.publish(&t2, "two").await;
    let with_att =
        json!({ "topic": t2, "message": "three", "ttl": 300, "tag": 7, "attestation": "att" });
    assert_eq!(
        publisher.request("irn_publish", with_att).await,
        Ok(json!(true))
    );

    let mut reader = relay.new_client().await;
    let r = reader
        .request("irn_fetchMessages", json!({ "topic": t1 }))
        .await
        .unwrap();
    assert_eq!(r["hasMore"], false, "{r}");
    let msgs = r["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0]["topic"], json!(t1));
    assert_eq!(msgs[0]["message"], "one");
    assert_eq!(msgs[0]["tag"], 1108);
    assert!(msgs[0]["publishedAt"].as_u64().unwrap() + 1000 >= before);
    assert!(msgs[0].get("attestation").is_none() || msgs[0]["attestation"].is_null());

    let r = reader
        .request("irn_batchFetchMessages", json!({ "topics": [t1, t2] }))
        .await
        .unwrap();
    assert_eq!(r["hasMore"], false);
    let got: Vec<(Value, Value, Value)> = r["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["topic"].clone(), m["message"].clone(), m["tag"].clone()))
        .collect();
    // t1's message was consumed by the first fetch.
    assert_eq!(
        got,
        vec![
            (json!(t2), json!("two"), json!(1108)),
            (json!(t2), json!("three"), json!(7))
        ]
    );
    assert_eq!(r["messages"][1]["attestation"], "att");
}

#[tokio::test]
async fn batch_receive_accepts_both_receipt_spellings() {
    let relay = TestRelay::start().await;
    let mut c = relay.new_client().await;
    let t = topic();
    c.publish(&t, "m").await;
    let r = c
        .request(
            "irn_batchReceive",
            json!({ "receipts": [
                { "topic": t, "message_id": 1 },
                { "topic": t, "messageId": "2" }
            ] }),
        )
        .await;
    assert_eq!(r, Ok(json!(true)));
    let r = c
        .request(
            "iridium_batchReceive",
            json!({ "receipts": [{ "topic": t, "messageId": 3 }] }),
        )
        .await;
    assert_eq!(r, Ok(json!(true)));
}

#[tokio::test]
async fn create_topic_subscribes_the_caller() {
    let relay = TestRelay::start().await;
    let kp = Keypair::generate();
    let mut c = relay.client(&kp).await;
    let t = topic();
    assert_eq!(
        c.request("wc_createTopic", json!({ "topic": t })).await,
        Ok(json!(true))
    );
    let mut other = relay.new_client().await;
    other.publish(&t, "hi").await;
    let p = c.next_push(WAIT).await.expect("push after wc_createTopic");
    assert_eq!(p["id"], json!(sub_id(&t, &kp.did_key())));
    assert_eq!(p["data"]["message"], "hi");
}

#[tokio::test]
async fn propose_and_approve_session_pairing_flow() {
    let relay = TestRelay::start().await;
    let dapp_kp = Keypair::generate();
    let wallet_kp = Keypair::generate();
    let (pairing, session) = (topic(), topic());

    // The dapp proposes before the wallet has even connected (as JS 2.25 does).
    let mut dapp = relay.client(&dapp_kp).await;
    let r = dapp
        .request(
            "wc_proposeSession",
            json!({
                "pairingTopic": pairing, "sessionProposal": "proposal-ciphertext",
                "ttl": 300, "correlationId": 1_795_405_159_459_027_456u64, "attestation": null
            }),
        )
        .await;
    assert_eq!(r, Ok(json!(true)));
    dapp.expect_no_push().await; // no echo of its own proposal

    // The wallet subscribes later and finds the proposal waiting.
    let mut wallet = relay.client(&wallet_kp).await;
    wallet.subscribe(&pairing).await;
    let p = wallet.next_push(WAIT).await.expect("proposal");
    assert_eq!(p["id"], json!(sub_id(&pairing, &wallet_kp.did_key())));
    assert_eq!(p["data"]["topic"], json!(pairing));
    assert_eq!(p["data"]["message"], "proposal-ciphertext");
    assert_eq!(p["data"]["tag"], 1100);

    // The wallet approves: answer on the pairing topic, settle on the session topic.
    let r = wallet
        .request(
            "wc_approveSession",
            json!({
                "pairingTopic": pairing, "sessionTopic": session,
                "sessionProposalResponse": "response-ciphertext",
                "sessionSettlementRequest": "settle-ciphertext",
                "approvedChains": ["eip155:1"], "approvedMethods": ["personal_sign"],
                "approvedEvents": [], "approvedAccounts": ["eip155:1:0xabc"],
                "sessionProperties": {}, "scopedProperties": {}, "correlationId": 5
            }),
        )
        .await;
    assert_eq!(r, Ok(json!(true)));

    // The dapp was subscribed to the pairing topic by wc_proposeSession.
    let p = dapp.next_push(WAIT).await.expect("proposal response");
    assert_eq!(p["id"], json!(sub_id(&pairing, &dapp_kp.did_key())));
    assert_eq!(p["data"]["message"], "response-ciphertext");
    assert_eq!(p["data"]["tag"], 1101);

    // Only then does it subscribe to the session topic; the settle request waits there.
    dapp.subscribe(&session).await;
    let p = dapp.next_push(WAIT).await.expect("settle request");
    assert_eq!(p["data"]["topic"], json!(session));
    assert_eq!(p["data"]["message"], "settle-ciphertext");
    assert_eq!(p["data"]["tag"], 1102);

    // The wallet was subscribed to the session topic by wc_approveSession
    // (it never subscribes itself) and gets the dapp's requests.
    dapp.publish(&session, "session-request").await;
    let p = wallet.next_push(WAIT).await.expect("session request");
    assert_eq!(p["id"], json!(sub_id(&session, &wallet_kp.did_key())));
    assert_eq!(p["data"]["message"], "session-request");
    wallet.expect_no_push().await;

    // Empty wc_* messages are refused.
    let r = dapp
        .request(
            "wc_proposeSession",
            json!({ "pairingTopic": topic(), "sessionProposal": "" }),
        )
        .await;
    assert_eq!(code_tag(&r.unwrap_err()), (-32600, "InvalidParams".into()));
}

#[tokio::test]
async fn blocking_subscribe_variants() {
    let relay = TestRelay::start().await;
    let kp = Keypair::generate();
    let mut c = relay.client(&kp).await;
    let (t1, t2) = (topic(), topic());
    let r = c
        .request("irn_subscribeBlocking", json!({ "topic": t1 }))
        .await;
    assert_eq!(r, Ok(json!(sub_id(&t1, &kp.did_key()))));
    let r = c
        .request("irn_batchSubscribeBlocking", json!({ "topics": [t2, t1] }))
        .await;
    assert_eq!(
        r,
        Ok(json!([
            { "id": sub_id(&t2, &kp.did_key()) },
            { "id": sub_id(&t1, &kp.did_key()) }
        ]))
    );
    let mut other = relay.new_client().await;
    other.publish(&t2, "x").await;
    assert_eq!(c.expect_messages(1).await, ["x"]);
}

#[tokio::test]
async fn batch_publish_stores_every_message_in_order() {
    let relay = TestRelay::start().await;
    let mut sub = relay.new_client().await;
    let (t1, t2) = (topic(), topic());
    sub.request("irn_batchSubscribe", json!({ "topics": [t1, t2] }))
        .await
        .unwrap();
    let mut publisher = relay.new_client().await;
    let r = publisher
        .request(
            "irn_batchPublish",
            json!({ "messages": [
                publish_params(&t1, "a", 300),
                publish_params(&t1, "b", 300),
                publish_params(&t2, "c", 300)
            ] }),
        )
        .await;
    assert_eq!(r, Ok(json!(true)));
    let mut got = sub.expect_messages(3).await;
    let a = got.iter().position(|m| m == "a").unwrap();
    let b = got.iter().position(|m| m == "b").unwrap();
    assert!(a < b, "per-topic order: {got:?}");
    got.sort();
    assert_eq!(got, ["a", "b", "c"]);
}

#[tokio::test]
async fn iridium_aliases() {
    let relay = TestRelay::start().await;
    let kp = Keypair::generate();
    let mut c = relay.client(&kp).await;
    let (t1, t2) = (topic(), topic());
    let r = c.request("iridium_subscribe", json!({ "topic": t1 })).await;
    assert_eq!(r, Ok(json!(sub_id(&t1, &kp.did_key()))));
    let r = c
        .request("iridium_batchSubscribe", json!({ "topics": [t2] }))
        .await;
    assert_eq!(r, Ok(json!([sub_id(&t2, &kp.did_key())])));

    let mut other = relay.new_client().await;
    let r = other
        .request("iridium_publish", publish_params(&t1, "via iridium", 300))
        .await;
    assert_eq!(r, Ok(json!(true)));
    assert_eq!(c.expect_messages(1).await, ["via iridium"]);

    other.publish(&t2, "queued").await;
    let mut reader = relay.new_client().await;
    let r = reader
        .request("iridium_fetchMessages", json!({ "topic": t2 }))
        .await
        .unwrap();
    assert_eq!(r["messages"][0]["message"], "queued");
    let r = c
        .request("iridium_unsubscribe", json!({ "topic": t1, "id": "x" }))
        .await;
    assert_eq!(r, Ok(json!(true)));
}

#[tokio::test]
async fn garbage_watch_tokens_are_invalid_jwts() {
    let relay = TestRelay::start().await;
    let mut c = relay.new_client().await;
    let err = c
        .request("irn_watchRegister", json!({ "registerAuth": "a.b.c" }))
        .await
        .expect_err("irn_watchRegister must fail");
    assert_eq!(code_tag(&err), (-32000, "InvalidJwt".into()));
    let err = c
        .request("irn_watchUnregister", json!({ "unregisterAuth": "a.b.c" }))
        .await
        .expect_err("irn_watchUnregister must fail");
    assert_eq!(code_tag(&err), (-32000, "InvalidJwt".into()));
    // The connection is still fine.
    c.publish(&topic(), "still here").await;
}

/// A receipt names a message by the id webhook events carry: the matched
/// message is no longer fetched or pushed for the caller; another client's
/// copy, and the caller's other messages, stay.
#[tokio::test]
async fn a_receipt_clears_the_named_message_for_the_caller_only() {
    let relay = TestRelay::start().await;
    let t = topic();
    let parsed = relaybox_proto::Topic::parse(&t).unwrap();
    let mut alice = relay.new_client().await;
    let mut bob = relay.new_client().await;
    let mut carol = relay.new_client().await;
    bob.subscribe(&t).await;
    bob.close().await;
    carol.subscribe(&t).await;
    carol.close().await;
    for m in ["one", "two", "three"] {
        alice.publish(&t, m).await;
    }
    // A fresh store numbers its first messages 1, 2, 3.
    let id_of_two = relaybox_proto::message_id(&parsed, 2);
    let mut bob = relay.new_client().await;
    let r = bob
        .request(
            "irn_batchReceive",
            json!({ "receipts": [{ "topic": t, "messageId": id_of_two }] }),
        )
        .await;
    assert_eq!(r, Ok(json!(true)));
    let fetched = |v: serde_json::Value| -> Vec<String> {
        v["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["message"].as_str().unwrap().to_owned())
            .collect()
    };
    let page = bob
        .request("irn_fetchMessages", json!({ "topic": t }))
        .await
        .unwrap();
    assert_eq!(fetched(page), ["one", "three"]);
    let mut carol = relay.new_client().await;
    let page = carol
        .request("irn_fetchMessages", json!({ "topic": t }))
        .await
        .unwrap();
    assert_eq!(fetched(page), ["one", "two", "three"]);
}

/// The `wc_*` methods fail with their own tags, which the Rust client
/// parses for them, whatever the underlying cause.
#[tokio::test]
async fn wc_methods_fail_with_their_own_tags() {
    let relay = TestRelay::with_env(&[
        ("RELAYBOX_LIMITS_MAX_SUBSCRIPTIONS_PER_CLIENT", "1"),
        ("RELAYBOX_LIMITS_MAX_MESSAGES_PER_TOPIC", "1"),
    ])
    .await;
    let mut c = relay.new_client().await;
    c.subscribe(&topic()).await;
    let err = c
        .request("wc_createTopic", json!({ "topic": topic() }))
        .await
        .expect_err("over the subscription limit");
    assert_eq!(code_tag(&err), (-32000, "CreateTopicFailed".into()));
    let propose = |pairing: &str| json!({ "pairingTopic": pairing, "sessionProposal": "p", "attestation": null });
    let err = c
        .request("wc_proposeSession", propose(&topic()))
        .await
        .expect_err("over the subscription limit");
    assert_eq!(code_tag(&err), (-32000, "SubscribeFailed".into()));

    // A full pairing topic: the proposal cannot be stored.
    let mut other = relay.new_client().await;
    let pairing = topic();
    other.publish(&pairing, "fills the topic").await;
    let mut fresh = relay.new_client().await;
    let err = fresh
        .request("wc_proposeSession", propose(&pairing))
        .await
        .expect_err("topic full");
    assert_eq!(code_tag(&err), (-32000, "PublishFailed".into()));
}
