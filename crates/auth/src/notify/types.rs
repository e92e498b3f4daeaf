//! Structured Notify claim values: subscriptions (`sbs`) and notifications
//! (`msg`, `nfs`).
//!
//! They are typed so a verified token hands callers real fields rather than
//! loose JSON, but read leniently where the published spec revisions
//! disagree (the unread counter's name, `icon`/`url` being null or empty,
//! `is_read` being absent from older notifications). Unknown fields are
//! ignored for forward compatibility.

use serde::{Deserialize, Serialize};

/// One entry of `sbs`: a subscription as the Notify Server reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotifyServerSubscription {
    /// The app's domain, e.g. `app.example.com`.
    pub app_domain: String,
    /// The app's authentication key as a did:key.
    pub app_authentication_key: String,
    /// Hex symmetric key of the subscription's notify topic.
    pub sym_key: String,
    /// CAIP-10 account the subscription belongs to.
    pub account: String,
    /// Notification types enabled for this subscription.
    pub scope: Vec<String>,
    /// Expiry, unix seconds.
    pub expiry: u64,
    /// Unread notifications; `unreadCount` in one spec revision, absent in older ones.
    #[serde(default, alias = "unreadCount")]
    pub unread_notification_count: u64,
}

/// A notification, as carried in `msg` (wc_notifyMessage) and in `nfs`
/// (wc_notifyGetNotifications responses).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyMessage {
    /// Notification id.
    pub id: String,
    /// When it was sent, unix milliseconds.
    pub sent_at: i64,
    /// Notification type, matching one of the subscription's scopes.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short title.
    pub title: String,
    /// Longer body.
    pub body: String,
    /// Icon URL; `None`/empty means "use the app's icon".
    #[serde(default)]
    pub icon: Option<String>,
    /// Call-to-action URL; `None`/empty means no link.
    #[serde(default)]
    pub url: Option<String>,
    /// Whether the user has read it.
    #[serde(default)]
    pub is_read: bool,
}
