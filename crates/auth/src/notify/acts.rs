//! The Notify `act` values and what each one implies.
//!
//! Each Notify RPC message carries a JWT whose `act` claim names its
//! purpose. Knowing the act fixes the RPC method, the relay tag and TTL the
//! message travels with (the JWT's lifetime must equal that TTL), and which
//! optional claims must be present. Keeping all of that in one table makes
//! the builder and the verifier agree by construction.

use std::fmt;

use crate::{Error, Result};

/// Thirty days, the longest Notify TTL.
const DAYS_30: u64 = 2_592_000;
/// Five minutes, the TTL of short-lived Notify messages.
const MINUTES_5: u64 = 300;

/// A claim that some acts require beyond the shared ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Needs {
    Ksu,
    Aud,
    App,
    Scp,
    Sbs,
    Msg,
    Lmt,
    Urf,
    Nfs,
    Mre,
    Mur,
    All,
}

impl Needs {
    /// The claim's name in the JWT.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Needs::Ksu => "ksu",
            Needs::Aud => "aud",
            Needs::App => "app",
            Needs::Scp => "scp",
            Needs::Sbs => "sbs",
            Needs::Msg => "msg",
            Needs::Lmt => "lmt",
            Needs::Urf => "urf",
            Needs::Nfs => "nfs",
            Needs::Mre => "mre",
            Needs::Mur => "mur",
            Needs::All => "all",
        }
    }
}

/// Every request and response action of the Notify protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NotifyAct {
    /// `notify_watch_subscriptions` (client → Notify Server).
    WatchSubscriptions,
    /// `notify_watch_subscriptions_response`.
    WatchSubscriptionsResponse,
    /// `notify_subscriptions_changed` (Notify Server → client).
    SubscriptionsChanged,
    /// `notify_subscriptions_changed_response`.
    SubscriptionsChangedResponse,
    /// `notify_subscription` (client subscribes to an app).
    Subscribe,
    /// `notify_subscription_response`.
    SubscribeResponse,
    /// `notify_message` (a notification, Notify Server → client).
    Message,
    /// `notify_message_response`.
    MessageResponse,
    /// `notify_delete` (client unsubscribes).
    Delete,
    /// `notify_delete_response`.
    DeleteResponse,
    /// `notify_update` (client changes its scopes).
    Update,
    /// `notify_update_response`.
    UpdateResponse,
    /// `notify_get_notifications` (paged history).
    GetNotifications,
    /// `notify_get_notifications_response`.
    GetNotificationsResponse,
    /// `notify_mark_notifications_as_read`.
    MarkNotificationsAsRead,
    /// `notify_read_notifications_response` (the spec's name, not `..._as_read_response`).
    MarkNotificationsAsReadResponse,
}

impl NotifyAct {
    /// All acts, requests and responses interleaved.
    pub const ALL: [NotifyAct; 16] = [
        NotifyAct::WatchSubscriptions,
        NotifyAct::WatchSubscriptionsResponse,
        NotifyAct::SubscriptionsChanged,
        NotifyAct::SubscriptionsChangedResponse,
        NotifyAct::Subscribe,
        NotifyAct::SubscribeResponse,
        NotifyAct::Message,
        NotifyAct::MessageResponse,
        NotifyAct::Delete,
        NotifyAct::DeleteResponse,
        NotifyAct::Update,
        NotifyAct::UpdateResponse,
        NotifyAct::GetNotifications,
        NotifyAct::GetNotificationsResponse,
        NotifyAct::MarkNotificationsAsRead,
        NotifyAct::MarkNotificationsAsReadResponse,
    ];

    /// The `act` claim value.
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyAct::WatchSubscriptions => "notify_watch_subscriptions",
            NotifyAct::WatchSubscriptionsResponse => "notify_watch_subscriptions_response",
            NotifyAct::SubscriptionsChanged => "notify_subscriptions_changed",
            NotifyAct::SubscriptionsChangedResponse => "notify_subscriptions_changed_response",
            NotifyAct::Subscribe => "notify_subscription",
            NotifyAct::SubscribeResponse => "notify_subscription_response",
            NotifyAct::Message => "notify_message",
            NotifyAct::MessageResponse => "notify_message_response",
            NotifyAct::Delete => "notify_delete",
            NotifyAct::DeleteResponse => "notify_delete_response",
            NotifyAct::Update => "notify_update",
            NotifyAct::UpdateResponse => "notify_update_response",
            NotifyAct::GetNotifications => "notify_get_notifications",
            NotifyAct::GetNotificationsResponse => "notify_get_notifications_response",
            NotifyAct::MarkNotificationsAsRead => "notify_mark_notifications_as_read",
            NotifyAct::MarkNotificationsAsReadResponse => "notify_read_notifications_response",
        }
    }

    /// Parses an `act` claim value.
    pub fn parse(act: &str) -> Result<Self> {
        NotifyAct::ALL
            .into_iter()
            .find(|a| a.as_str() == act)
            .ok_or_else(|| Error::UnknownNotifyAct(act.chars().take(64).collect()))
    }

    /// The JSON-RPC method the JWT travels in (shared by request and response).
    pub fn method(self) -> &'static str {
        match self.request() {
            NotifyAct::WatchSubscriptions => "wc_notifyWatchSubscriptions",
            NotifyAct::SubscriptionsChanged => "wc_notifySubscriptionsChanged",
            NotifyAct::Subscribe => "wc_notifySubscribe",
            NotifyAct::Message => "wc_notifyMessage",
            NotifyAct::Delete => "wc_notifyDelete",
            NotifyAct::Update => "wc_notifyUpdate",
            NotifyAct::GetNotifications => "wc_notifyGetNotifications",
            _ => "wc_notifyMarkNotificationsAsRead",
        }
    }

    /// The relay publish tag for this message.
    pub fn tag(self) -> u32 {
        let request_tag = match self.request() {
            NotifyAct::Subscribe => 4000,
            NotifyAct::Message => 4002,
            NotifyAct::Delete => 4004,
            NotifyAct::Update => 4008,
            NotifyAct::WatchSubscriptions => 4010,
            NotifyAct::SubscriptionsChanged => 4012,
            NotifyAct::GetNotifications => 4014,
            _ => 4016,
        };
        request_tag + u32::from(self.is_response())
    }

    /// The relay TTL for this message, which is also the JWT lifetime
    /// (`exp - iat`).
    pub fn ttl_secs(self) -> u64 {
        match self {
            NotifyAct::SubscribeResponse
            | NotifyAct::Message
            | NotifyAct::MessageResponse
            | NotifyAct::Delete
            | NotifyAct::DeleteResponse
            | NotifyAct::UpdateResponse => DAYS_30,
            _ => MINUTES_5,
        }
    }

    /// Whether this is the response half of an exchange.
    pub fn is_response(self) -> bool {
        NotifyAct::ALL
            .iter()
            .position(|a| *a == self)
            .is_some_and(|i| i % 2 == 1)
    }

    /// The request act of this exchange (itself for requests).
    pub fn request(self) -> NotifyAct {
        self.pair().0
    }

    /// The response act of this exchange (itself for responses).
    pub fn response(self) -> NotifyAct {
        self.pair().1
    }

    /// (request, response) of this act's exchange.
    fn pair(self) -> (NotifyAct, NotifyAct) {
        let i = NotifyAct::ALL
            .iter()
            .position(|a| *a == self)
            .unwrap_or_default()
            & !1;
        (NotifyAct::ALL[i], NotifyAct::ALL[i + 1])
    }

    /// Claims this act requires beyond `act`, `iss`, `sub`, `iat`, `exp`, `mjv`.
    pub(crate) fn required(self) -> &'static [Needs] {
        use Needs::*;
        match self {
            NotifyAct::WatchSubscriptions => &[Ksu, Aud],
            NotifyAct::WatchSubscriptionsResponse => &[Aud, Sbs],
            NotifyAct::SubscriptionsChanged => &[Aud, Sbs],
            NotifyAct::SubscriptionsChangedResponse => &[Ksu, Aud],
            NotifyAct::Subscribe => &[Ksu, Aud, Scp, App],
            NotifyAct::SubscribeResponse => &[Aud, App, Sbs],
            NotifyAct::Message => &[App, Msg],
            NotifyAct::MessageResponse => &[Ksu, Aud, App],
            NotifyAct::Delete => &[Ksu, Aud, App],
            NotifyAct::DeleteResponse => &[Aud, App, Sbs],
            NotifyAct::Update => &[Ksu, Aud, App, Scp],
            NotifyAct::UpdateResponse => &[Aud, App, Sbs],
            NotifyAct::GetNotifications => &[Ksu, Aud, App, Lmt, Urf],
            NotifyAct::GetNotificationsResponse => &[Aud, Nfs, Mre, Mur],
            NotifyAct::MarkNotificationsAsRead => &[Ksu, Aud, App, All],
            NotifyAct::MarkNotificationsAsReadResponse => &[Aud],
        }
    }
}

impl fmt::Display for NotifyAct {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for NotifyAct {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        NotifyAct::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for act in NotifyAct::ALL {
            assert!(seen.insert(act.as_str()));
            assert_eq!(NotifyAct::parse(act.as_str()), Ok(act));
            assert_eq!(act.to_string().parse::<NotifyAct>(), Ok(act));
        }
        assert_eq!(
            NotifyAct::parse("notify_mark_notifications_as_read_response"),
            Err(Error::UnknownNotifyAct(
                "notify_mark_notifications_as_read_response".into()
            ))
        );
        assert!(NotifyAct::parse("client_auth").is_err());
    }

    #[test]
    fn responses_are_request_plus_suffix_except_mark_read() {
        for act in NotifyAct::ALL.into_iter().filter(|a| !a.is_response()) {
            let res = act.response();
            assert!(res.is_response());
            assert_eq!(res.request(), act);
            assert_eq!(act.method(), res.method());
            assert_eq!(res.tag(), act.tag() + 1);
            if act != NotifyAct::MarkNotificationsAsRead {
                assert_eq!(res.as_str(), format!("{}_response", act.as_str()));
            }
        }
    }

    #[test]
    fn table_matches_protocol() {
        use NotifyAct::*;
        let table = [
            (
                WatchSubscriptions,
                "wc_notifyWatchSubscriptions",
                4010,
                300,
                300,
            ),
            (
                SubscriptionsChanged,
                "wc_notifySubscriptionsChanged",
                4012,
                300,
                300,
            ),
            (Subscribe, "wc_notifySubscribe", 4000, 300, DAYS_30),
            (Message, "wc_notifyMessage", 4002, DAYS_30, DAYS_30),
            (Delete, "wc_notifyDelete", 4004, DAYS_30, DAYS_30),
            (Update, "wc_notifyUpdate", 4008, 300, DAYS_30),
            (
                GetNotifications,
                "wc_notifyGetNotifications",
                4014,
                300,
                300,
            ),
            (
                MarkNotificationsAsRead,
                "wc_notifyMarkNotificationsAsRead",
                4016,
                300,
                300,
            ),
        ];
        for (req, method, tag, req_ttl, res_ttl) in table {
            assert_eq!(req.method(), method);
            assert_eq!(req.tag(), tag);
            assert_eq!(req.response().tag(), tag + 1);
            assert_eq!(req.ttl_secs(), req_ttl, "{req}");
            assert_eq!(req.response().ttl_secs(), res_ttl, "{req}");
        }
        assert_eq!(SubscribeResponse.ttl_secs(), 2_592_000);
        assert_eq!(
            MarkNotificationsAsReadResponse.as_str(),
            "notify_read_notifications_response"
        );
    }
}
