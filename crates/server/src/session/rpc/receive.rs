//! `irn_batchReceive`: a client (typically a service that learned of its
//! messages from webhook events) says which messages it has received, by
//! the ids the events carried ([`relaybox_proto::message_id`]). Each id is
//! matched against what is pending for the caller on its topic, and the
//! matches are acknowledged: they are no longer pushed or fetched for it.
//! Ids that match nothing pending (already received, expired, unknown) are
//! ignored, as a repeated receipt must be harmless.

use std::collections::{BTreeMap, HashSet};

use relaybox_proto::{message_id, ErrorData, Receipt, Topic};

use super::dispatch::storage_error;
use crate::session::following::key_of;
use crate::session::Session;

impl Session {
    /// Acknowledges every receipted message still pending for the client;
    /// returns how many matched.
    pub(crate) async fn receive(&mut self, receipts: &[Receipt]) -> Result<usize, ErrorData> {
        let mut by_topic: BTreeMap<Topic, HashSet<u64>> = BTreeMap::new();
        for r in receipts {
            by_topic.entry(r.topic).or_default().insert(r.message_id);
        }
        let now = crate::now_ms();
        let page = self.relay.config.limits.fetch_page;
        let mut matched = 0;
        for (topic, mut ids) in by_topic {
            let key = key_of(&topic);
            let mut seqs = Vec::new();
            let mut received = Vec::new();
            let mut after = 0;
            // Page through what is pending until every id is found.
            while !ids.is_empty() {
                let got = self
                    .relay
                    .store
                    .pending(&self.client_id, key, after, page, now)
                    .await
                    .map_err(storage_error)?;
                for m in &got.messages {
                    if ids.remove(&message_id(&topic, m.seq)) {
                        seqs.push(m.seq);
                        received.push(m.clone());
                    }
                    after = after.max(m.seq);
                }
                if !got.has_more || got.messages.is_empty() {
                    break;
                }
            }
            if seqs.is_empty() {
                continue;
            }
            matched += seqs.len();
            crate::metrics::delivered("receipt", seqs.len() as u64);
            self.relay
                .store
                .ack(&self.client_id, key, &seqs, now)
                .await
                .map_err(storage_error)?;
            crate::webhooks::on_delivered(&self.relay, &self.client_id, &received).await;
        }
        Ok(matched)
    }
}
