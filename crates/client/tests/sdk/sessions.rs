//! The wc_proposeSession / wc_approveSession helpers: a whole pairing.

use relaybox_client::{random_topic, ApproveSessionParams};

use crate::common::{client, next, within, TestRelay};

#[tokio::test]
async fn propose_and_approve_a_session() {
    let relay = TestRelay::start().await;
    let dapp = client(&relay).await;
    let wallet = client(&relay).await;
    let (pairing, session) = (random_topic(), random_topic());

    // The dapp proposes before the wallet has subscribed to anything.
    let mut dapp_pairing = within(dapp.propose_session(pairing, "proposal", None))
        .await
        .unwrap();
    assert_eq!(dapp_pairing.topics(), [pairing]);

    let mut wallet_pairing = within(wallet.subscribe(pairing)).await.unwrap();
    let proposal = next(&mut wallet_pairing).await;
    assert_eq!(
        (proposal.message.as_str(), proposal.tag),
        ("proposal", 1100)
    );

    let mut wallet_session = within(wallet.approve_session(ApproveSessionParams {
        pairing_topic: pairing,
        session_topic: session,
        session_proposal_response: "response".into(),
        session_settlement_request: "settle".into(),
    }))
    .await
    .unwrap();
    assert_eq!(wallet_session.topics(), [session]);

    // The dapp hears the answer on the pairing topic it was subscribed to.
    let response = next(&mut dapp_pairing).await;
    assert_eq!(
        (response.message.as_str(), response.tag),
        ("response", 1101)
    );

    // It subscribes to the session topic only now; the settle request waits.
    let mut dapp_session = within(dapp.subscribe(session)).await.unwrap();
    let settle = next(&mut dapp_session).await;
    assert_eq!((settle.message.as_str(), settle.tag), ("settle", 1102));

    // And the session is live both ways.
    within(dapp.publish(session, "request", crate::common::TTL, 1108, true))
        .await
        .unwrap();
    assert_eq!(next(&mut wallet_session).await.message, "request");
    relay.stop_owned().await;
}
