//! Shared fixtures: one sample request per method, built from fixed values
//! so that snapshots stay stable.
#![allow(dead_code)] // each test binary uses a different subset

pub mod rules;

use relaybox_proto::*;

pub const T1: &str = "7f6e504bfad60b485450578e05678ed3e8e8c4751d3c6160be17160d63ec90f9";
pub const T2: &str = "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf";
pub const CLIENT: &str = "did:key:z6MkodHZwneVRShtaLf8JKYkxpDGp1vGZnpGmdBpX8M2exxH";

pub fn t1() -> Topic {
    Topic::parse(T1).unwrap()
}

pub fn t2() -> Topic {
    Topic::parse(T2).unwrap()
}

pub fn publish() -> PublishParams {
    PublishParams {
        topic: t1(),
        message: "AGVuY3J5cHRlZA==".into(),
        ttl: 300,
        tag: 1108,
        prompt: true,
        attestation: None,
    }
}

pub fn data() -> SubscriptionData {
    SubscriptionData {
        topic: t1(),
        message: "AGVuY3J5cHRlZA==".into(),
        published_at: 1_763_000_000_123,
        tag: 1100,
        attestation: Some("eyJhbGciOiJFUzI1NiJ9.e30.sig".into()),
    }
}

/// One params value per method, in `Method::ALL` order.
pub fn sample_params() -> Vec<Params> {
    vec![
        Params::Publish(publish()),
        Params::BatchPublish(BatchPublishParams {
            messages: vec![
                publish(),
                PublishParams {
                    topic: t2(),
                    tag: 0,
                    prompt: false,
                    attestation: Some("att".into()),
                    ..publish()
                },
            ],
        }),
        Params::Subscribe(SubscribeParams { topic: t1() }),
        Params::BatchSubscribe(BatchSubscribeParams {
            topics: vec![t1(), t2()],
        }),
        Params::SubscribeBlocking(SubscribeParams { topic: t1() }),
        Params::BatchSubscribeBlocking(BatchSubscribeParams {
            topics: vec![t1(), t2()],
        }),
        Params::Unsubscribe(UnsubscribeParams {
            topic: t1(),
            id: Some(subscription_id(&t1(), CLIENT)),
        }),
        Params::BatchUnsubscribe(BatchUnsubscribeParams {
            subscriptions: vec![
                UnsubscribeParams {
                    topic: t1(),
                    id: Some("anything".into()),
                },
                UnsubscribeParams {
                    topic: t2(),
                    id: None,
                },
            ],
        }),
        Params::FetchMessages(FetchMessagesParams { topic: t1() }),
        Params::BatchFetchMessages(BatchFetchMessagesParams {
            topics: vec![t1(), t2()],
        }),
        Params::Subscription(SubscriptionParams {
            id: subscription_id(&t1(), CLIENT),
            data: data(),
        }),
        Params::BatchReceive(BatchReceiveParams {
            receipts: vec![Receipt {
                topic: t1(),
                message_id: 1_763_000_000_123_456,
            }],
        }),
        Params::WatchRegister(WatchRegisterParams {
            register_auth: "header.claims.signature".into(),
        }),
        Params::WatchUnregister(WatchUnregisterParams {
            unregister_auth: "header.claims.signature".into(),
        }),
        Params::CreateTopic(CreateTopicParams { topic: t1() }),
        Params::ProposeSession(ProposeSessionParams {
            pairing_topic: t1(),
            session_proposal: "cHJvcG9zYWw=".into(),
            attestation: None,
        }),
        Params::ApproveSession(ApproveSessionParams {
            pairing_topic: t1(),
            session_topic: t2(),
            session_proposal_response: "cmVzcG9uc2U=".into(),
            session_settlement_request: "c2V0dGxl".into(),
        }),
    ]
}
