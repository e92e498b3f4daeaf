//! Subscriptions (owned by the client_id, persisted in the store) and fetch.

use relaybox_proto::{subscription_id, ErrorData, FetchMessagesResult, SubscriptionData, Topic};

use super::dispatch::storage_error;
use crate::session::following::{key_of, topic_of};
use crate::session::Session;

impl Session {
    /// Subscribes the client to `topic` and starts following it on this socket.
    /// The store enforces the per-client limit over all the client's sockets.
    pub(crate) async fn subscribe(&mut self, topic: &Topic) -> Result<String, ErrorData> {
        let key = key_of(topic);
        let max = self.relay.config.limits.max_subscriptions_per_client;
        self.relay
            .store
            .subscribe(&self.client_id, key, max)
            .await
            .map_err(storage_error)?;
        self.track(key);
        self.subscribed.push(key);
        Ok(subscription_id(topic, &self.client_id))
    }

    pub(crate) async fn batch_subscribe(
        &mut self,
        topics: &[Topic],
    ) -> Result<Vec<String>, ErrorData> {
        let keys: Vec<_> = topics.iter().map(key_of).collect();
        let max = self.relay.config.limits.max_subscriptions_per_client;
        let added = self
            .relay
            .store
            .subscribe_many(&self.client_id, &keys, max)
            .await
            .map_err(storage_error)?;
        let mut ids = Vec::with_capacity(added.len());
        for (topic, key) in topics.iter().zip(keys).take(added.len()) {
            self.track(key);
            self.subscribed.push(key);
            ids.push(subscription_id(topic, &self.client_id));
        }
        if added.len() < topics.len() {
            return Err(storage_error(relaybox_store::Error::SubscriptionLimit));
        }
        Ok(ids)
    }

    pub(crate) async fn unsubscribe(&mut self, topic: &Topic) -> Result<(), ErrorData> {
        let key = key_of(topic);
        self.unfollow(&key);
        self.relay
            .store
            .unsubscribe(&self.client_id, key)
            .await
            .map_err(storage_error)?;
        Ok(())
    }

    pub(crate) async fn batch_unsubscribe(&mut self, topics: &[Topic]) -> Result<(), ErrorData> {
        let keys: Vec<_> = topics.iter().map(key_of).collect();
        for key in &keys {
            self.unfollow(key);
        }
        self.relay
            .store
            .unsubscribe_many(&self.client_id, &keys)
            .await
            .map_err(storage_error)
    }

    /// Returns up to one page of what the client has neither acknowledged nor
    /// published, across `topics`, and counts it as acknowledged: clients
    /// repeat a fetch while `hasMore` is true, so a fetch must consume.
    pub(crate) async fn fetch(
        &mut self,
        topics: &[Topic],
    ) -> Result<FetchMessagesResult, ErrorData> {
        let page = self.relay.config.limits.fetch_page;
        let page_bytes = self.relay.config.limits.page_bytes;
        let now = crate::now_ms();
        let mut messages: Vec<SubscriptionData> = Vec::new();
        let mut bytes = 0usize;
        let mut has_more = false;
        for topic in topics {
            let room = page - messages.len();
            // Bounded in bytes too: one reply must not make the relay hold
            // hundreds of large messages at once.
            if room == 0 || bytes >= page_bytes {
                has_more = true;
                break;
            }
            let got = self
                .relay
                .store
                .fetch(&self.client_id, key_of(topic), room, now)
                .await
                .map_err(storage_error)?;
            has_more |= got.has_more;
            crate::webhooks::on_delivered(&self.relay, &self.client_id, &got.messages).await;
            bytes += got
                .messages
                .iter()
                .map(|m| m.message.len() + m.attestation.as_ref().map_or(0, |a| a.len()))
                .sum::<usize>();
            messages.extend(got.messages.iter().map(|m| SubscriptionData {
                topic: topic_of(&m.topic),
                message: m.message.to_string(),
                published_at: m.published_at_ms,
                tag: m.tag,
                attestation: m.attestation.as_ref().map(|a| a.to_string()),
            }));
        }
        crate::metrics::delivered("fetch", messages.len() as u64);
        // What the reply carries is paid for like what a request carries.
        self.charge(crate::session::size_cost(bytes));
        Ok(FetchMessagesResult { messages, has_more })
    }
}
