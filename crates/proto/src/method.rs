//! JSON-RPC method names.
//!
//! The Rust client and older relays still speak `iridium_*`, so every `irn_*`
//! name has that alias on input; the relay always writes the `irn_` name.

use std::fmt;

/// A relay method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)] // each variant is named after its wire method
pub enum Method {
    Publish,
    BatchPublish,
    Subscribe,
    BatchSubscribe,
    SubscribeBlocking,
    BatchSubscribeBlocking,
    Unsubscribe,
    BatchUnsubscribe,
    FetchMessages,
    BatchFetchMessages,
    Subscription,
    BatchReceive,
    WatchRegister,
    WatchUnregister,
    CreateTopic,
    ProposeSession,
    ApproveSession,
}

impl Method {
    /// Every method, in protocol-table order.
    pub const ALL: [Method; 17] = [
        Method::Publish,
        Method::BatchPublish,
        Method::Subscribe,
        Method::BatchSubscribe,
        Method::SubscribeBlocking,
        Method::BatchSubscribeBlocking,
        Method::Unsubscribe,
        Method::BatchUnsubscribe,
        Method::FetchMessages,
        Method::BatchFetchMessages,
        Method::Subscription,
        Method::BatchReceive,
        Method::WatchRegister,
        Method::WatchUnregister,
        Method::CreateTopic,
        Method::ProposeSession,
        Method::ApproveSession,
    ];

    /// The canonical wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Method::Publish => "irn_publish",
            Method::BatchPublish => "irn_batchPublish",
            Method::Subscribe => "irn_subscribe",
            Method::BatchSubscribe => "irn_batchSubscribe",
            Method::SubscribeBlocking => "irn_subscribeBlocking",
            Method::BatchSubscribeBlocking => "irn_batchSubscribeBlocking",
            Method::Unsubscribe => "irn_unsubscribe",
            Method::BatchUnsubscribe => "irn_batchUnsubscribe",
            Method::FetchMessages => "irn_fetchMessages",
            Method::BatchFetchMessages => "irn_batchFetchMessages",
            Method::Subscription => "irn_subscription",
            Method::BatchReceive => "irn_batchReceive",
            Method::WatchRegister => "irn_watchRegister",
            Method::WatchUnregister => "irn_watchUnregister",
            Method::CreateTopic => "wc_createTopic",
            Method::ProposeSession => "wc_proposeSession",
            Method::ApproveSession => "wc_approveSession",
        }
    }

    /// Parses a wire name: the canonical name, or `iridium_` + the part after
    /// `irn_`. Case-sensitive, as the clients are.
    pub fn parse(name: &str) -> Option<Method> {
        if let Some(rest) = name.strip_prefix("iridium_") {
            return Method::ALL
                .into_iter()
                .find(|m| m.as_str().strip_prefix("irn_") == Some(rest));
        }
        Method::ALL.into_iter().find(|m| m.as_str() == name)
    }

    /// Whether the params carry a list bounded by `Limits::max_batch`.
    pub fn is_batch(&self) -> bool {
        matches!(
            self,
            Method::BatchPublish
                | Method::BatchSubscribe
                | Method::BatchSubscribeBlocking
                | Method::BatchUnsubscribe
                | Method::BatchFetchMessages
                | Method::BatchReceive
        )
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_names_round_trip() {
        for m in Method::ALL {
            assert_eq!(Method::parse(m.as_str()), Some(m));
        }
    }

    #[test]
    fn iridium_aliases() {
        assert_eq!(Method::parse("iridium_publish"), Some(Method::Publish));
        assert_eq!(
            Method::parse("iridium_batchFetchMessages"),
            Some(Method::BatchFetchMessages)
        );
        assert_eq!(
            Method::parse("iridium_subscription"),
            Some(Method::Subscription)
        );
        // wc_ methods have no iridium_ alias.
        assert_eq!(Method::parse("iridium_createTopic"), None);
    }

    #[test]
    fn unknown_names() {
        for bad in [
            "",
            "irn_",
            "iridium_",
            "IRN_PUBLISH",
            "irn_publish ",
            "waku_publish",
        ] {
            assert_eq!(Method::parse(bad), None, "{bad}");
        }
    }
}
