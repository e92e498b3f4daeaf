//! Against a relay other than Relaybox, played by a bare WebSocket server:
//! the WalletConnect/relay TypeScript sample pushes `irn_subscription` with
//! only `topic` and `message` (no `publishedAt`), and such a push must still
//! reach the stream and be acknowledged.

use futures_util::{SinkExt, StreamExt};
use relaybox_client::{connect, random_topic, Keypair};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::common::{next, options, within};

const PUSH_ID: u64 = 1_763_000_000_000_001;

#[tokio::test]
async fn push_without_published_at_is_delivered_and_acked() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let topic = random_topic();
    let relay = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        // Reading answers the client's ping; the subscribe comes next.
        let subscribe = read_until(&mut ws, |v| v["method"] == "irn_subscribe").await;
        let sub_id = "ab".repeat(32);
        let answer = json!({"id": subscribe["id"], "jsonrpc": "2.0", "result": sub_id});
        let push = json!({
            "id": PUSH_ID,
            "jsonrpc": "2.0",
            "method": "irn_subscription",
            "params": {"id": sub_id, "data": {"topic": topic, "message": "hello"}},
        });
        for frame in [answer, push] {
            ws.send(WsMessage::text(frame.to_string())).await.unwrap();
        }
        read_until(&mut ws, |v| v["id"] == PUSH_ID).await
    });

    let client = within(connect(&url, Keypair::generate(), options()))
        .await
        .unwrap();
    let mut sub = within(client.subscribe(topic)).await.unwrap();
    let m = next(&mut sub).await;
    assert_eq!((m.topic, m.message.as_str()), (topic, "hello"));
    assert_eq!((m.published_at, m.tag), (0, 0));
    let ack = within(relay).await.unwrap();
    assert_eq!(
        ack,
        json!({"id": PUSH_ID, "jsonrpc": "2.0", "result": true})
    );
    client.close().await;
}

/// The first text frame from the client for which `pred` holds.
async fn read_until<S>(ws: &mut S, pred: impl Fn(&Value) -> bool) -> Value
where
    S: StreamExt<Item = Result<WsMessage, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        let frame = ws.next().await.expect("client open").expect("readable");
        if let WsMessage::Text(text) = frame {
            let v: Value = serde_json::from_str(text.as_str()).unwrap();
            if pred(&v) {
                return v;
            }
        }
    }
}
