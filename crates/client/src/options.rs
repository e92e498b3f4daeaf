//! What [`crate::connect`] can be told: how to authenticate, how to
//! acknowledge, how patiently to wait and to reconnect, and how much to
//! buffer.
//!
//! Every field is public and has a default, so options are written as
//! `ConnectOptions { project_id: Some(..), ..Default::default() }` or with
//! the `with_*` helpers.

use std::time::Duration;

/// Where the client-auth JWT travels in the WebSocket upgrade.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AuthMode {
    /// `?auth=<jwt>` in the URL, as the JS SDK (and any browser) sends it.
    #[default]
    Query,
    /// An `Authorization: Bearer <jwt>` header, as native clients may.
    Header,
}

/// When a pushed message counts as received by the relay.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AckMode {
    /// The relay is answered `true` when the [`crate::Subscription`] stream
    /// yields the message to the consumer. A message the consumer never
    /// takes is never acknowledged and comes again on the next connection.
    #[default]
    OnTake,
    /// Nothing is acknowledged until [`crate::Message::ack`] is called, so a
    /// message whose processing did not finish comes again on the next
    /// connection.
    Manual,
}

/// Exponential backoff with jitter between reconnect attempts.
///
/// Attempt `n` (from 1) waits `min(max_delay, initial_delay * multiplier^(n-1))`,
/// less a random share of up to `jitter` of it, so that many clients dropped
/// together do not return together.
#[derive(Clone, Debug, PartialEq)]
pub struct ReconnectPolicy {
    /// Reconnect at all after a connection is lost. With `false` the client
    /// stops at the first drop: requests on the wire fail with
    /// [`crate::Error::Disconnected`], later ones with [`crate::Error::Closed`].
    pub enabled: bool,
    /// Delay before the first attempt (the JS SDK waits about 100 ms).
    pub initial_delay: Duration,
    /// Upper bound of the delay.
    pub max_delay: Duration,
    /// Growth factor per failed attempt.
    pub multiplier: f64,
    /// Fraction (0..=1) of each delay that is randomised away.
    pub jitter: f64,
    /// Give up after this many failed attempts in a row (the client then
    /// stops, as with `enabled: false`); `None` = never.
    pub max_attempts: Option<u32>,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        ReconnectPolicy {
            enabled: true,
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(30),
            multiplier: 2.0,
            jitter: 0.5,
            max_attempts: None,
        }
    }
}

/// Options of [`crate::connect`].
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    /// `projectId` query parameter; omitted when `None`.
    pub project_id: Option<String>,
    /// `ua` query parameter (`wc-2/<sdk>-<version>/<os>[/<id>]`); `None`
    /// leaves it out. Defaults to this SDK's own.
    pub user_agent: Option<String>,
    /// The JWT's `aud`. `None` (the default) uses the relay URL as given,
    /// without its query, as the JS SDK does.
    pub audience: Option<String>,
    /// Where the JWT goes.
    pub auth: AuthMode,
    /// Send `useOnCloseEvent=true`, which asks the relay to report auth
    /// failures as close code 3000 after the upgrade instead of HTTP 401.
    /// Either way the client reports [`crate::Error::Auth`].
    pub use_on_close_event: bool,
    /// Lifetime of each JWT (`exp - iat`). A fresh token is signed for
    /// every connection attempt.
    pub jwt_ttl: Duration,
    /// How pushed messages are acknowledged.
    pub ack_mode: AckMode,
    /// Longest wait for the relay's answer to a request, including time
    /// spent waiting for a connection.
    pub request_timeout: Duration,
    /// Longest wait for a connection attempt: TCP, the upgrade, and the
    /// first sign of life from the relay.
    pub connect_timeout: Duration,
    /// The client pings this often; a connection that has been silent for
    /// three times as long is dropped and re-established.
    pub keepalive: Duration,
    /// Reconnection after a lost connection.
    pub reconnect: ReconnectPolicy,
    /// Messages a [`crate::Subscription`] holds before the consumer takes
    /// them. Pushes beyond it are left unacknowledged (the relay sends them
    /// again on the next connection).
    pub subscription_buffer: usize,
    /// Pushes kept, in total, for topics that have no live
    /// [`crate::Subscription`] yet (the relay pushes a client's mailbox as
    /// soon as it connects, before the application subscribes again). They
    /// go to the first Subscription made for their topic; past the bound
    /// they are left unacknowledged for the next connection.
    pub unrouted_buffer: usize,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            project_id: None,
            user_agent: Some(default_user_agent()),
            audience: None,
            auth: AuthMode::Query,
            use_on_close_event: true,
            jwt_ttl: Duration::from_secs(86_400),
            ack_mode: AckMode::OnTake,
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            keepalive: Duration::from_secs(20),
            reconnect: ReconnectPolicy::default(),
            subscription_buffer: 10_000,
            unrouted_buffer: 10_000,
        }
    }
}

impl ConnectOptions {
    /// Sets the `projectId`.
    pub fn with_project_id(mut self, project_id: impl Into<String>) -> Self {
        self.project_id = Some(project_id.into());
        self
    }

    /// Sets the user agent (`ua`).
    pub fn with_user_agent(mut self, ua: impl Into<String>) -> Self {
        self.user_agent = Some(ua.into());
        self
    }

    /// Sets the JWT audience instead of the URL.
    pub fn with_audience(mut self, aud: impl Into<String>) -> Self {
        self.audience = Some(aud.into());
        self
    }

    /// Sends the JWT as `Authorization: Bearer` instead of `?auth=`.
    pub fn with_auth_header(mut self) -> Self {
        self.auth = AuthMode::Header;
        self
    }

    /// Sets the acknowledgement mode.
    pub fn with_ack_mode(mut self, mode: AckMode) -> Self {
        self.ack_mode = mode;
        self
    }

    /// Sets the request timeout.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets the reconnect policy.
    pub fn with_reconnect(mut self, policy: ReconnectPolicy) -> Self {
        self.reconnect = policy;
        self
    }
}

/// `wc-2/rust-<version>/<os>/relaybox-client`, in the shape the spec's
/// user-agent parser expects.
pub fn default_user_agent() -> String {
    format!(
        "wc-2/rust-{}/{}/relaybox-client",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS
    )
}
