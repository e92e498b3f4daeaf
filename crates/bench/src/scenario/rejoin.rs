//! `--reconnect`: what a real client does when the relay closes its socket
//! (a node restarting behind a load balancer): connect again as the same
//! client, subscribe again, and carry on. Without the flag a closed socket
//! ends its worker, as before.

use std::net::IpAddr;
use std::time::Duration;

use relaybox_proto::Topic;

use super::publisher::FIRST_ID;
use crate::clock;
use crate::conn::{self, Ws};
use crate::stats::WorkerResult;

/// Pause between attempts, so that a node that is gone is not hammered.
const RETRY: Duration = Duration::from_millis(200);

/// How to come back: the same client (its URL carries its token), from the
/// same source address, and the topic to subscribe to again, if any.
#[derive(Clone, Debug)]
pub struct Rejoin {
    pub url: String,
    pub source: Option<IpAddr>,
    pub topic: Option<Topic>,
}

impl Rejoin {
    /// Connects (and subscribes) again, retrying until `deadline_ns`;
    /// returns the socket and the pushes that came with the subscribe
    /// reply. Counts `reconnects`, and each failed attempt by its kind.
    pub async fn again(
        &self,
        deadline_ns: u64,
        res: &mut WorkerResult,
    ) -> Option<(Ws, Vec<String>)> {
        while clock::now_ns() < deadline_ns {
            match self.once().await {
                Ok(joined) => {
                    res.count("reconnects", 1);
                    return Some(joined);
                }
                Err(e) => {
                    res.count(&format!("reconnect_failed_{}", conn::kind_of(&e)), 1);
                    tokio::time::sleep(RETRY).await;
                }
            }
        }
        None
    }

    async fn once(&self) -> anyhow::Result<(Ws, Vec<String>)> {
        let mut ws = conn::connect_from(&self.url, self.source).await?;
        let early = match self.topic {
            Some(topic) => {
                let id = FIRST_ID - 2;
                conn::call(&mut ws, id, conn::subscribe_frame(id, topic)).await?
            }
            None => Vec::new(),
        };
        Ok((ws, early))
    }
}
