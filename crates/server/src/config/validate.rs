//! [`Config::validate`]: every value that could make the relay misbehave
//! later is refused at start-up, before any port is bound, with a message
//! naming the key.

use std::net::SocketAddr;

use super::{Config, ConfigError, StoreBackend};

impl Config {
    /// Checks every value that could make the relay misbehave later rather than fail now.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        if self.listen_addr().is_err() {
            return bad(format!(
                "server.listen = {:?} is not a socket address such as 127.0.0.1:8080",
                self.server.listen
            ));
        }
        if !self.server.admin_listen.is_empty()
            && self.server.admin_listen.parse::<SocketAddr>().is_err()
        {
            return bad(format!(
                "server.admin_listen = {:?} is not a socket address (leave empty to serve admin routes on the main port)",
                self.server.admin_listen
            ));
        }
        for url in &self.server.public_urls {
            if crate::ws::audience::parse_origin(url).is_none() {
                return bad(format!(
                    "server.public_urls entry {url:?} must be a ws://, wss://, http:// or https:// URL with a host"
                ));
            }
        }
        if self.server.data_dir.as_os_str().is_empty() {
            return bad("server.data_dir must not be empty".into());
        }
        if self.server.handshake_timeout_ms == 0 {
            return bad("server.handshake_timeout_ms must be > 0".into());
        }
        if self.server.max_header_bytes < 8192 {
            return bad("server.max_header_bytes must be at least 8192".into());
        }
        let l = &self.limits;
        if l.ttl_min_secs == 0 || l.ttl_min_secs > 30 {
            return bad(
                "limits.ttl_min_secs must be between 1 and 30 (clients publish pings with ttl 30)"
                    .into(),
            );
        }
        if self.server.shutdown_spread_ms >= self.server.shutdown_grace_ms {
            return bad("server.shutdown_spread_ms must be below server.shutdown_grace_ms".into());
        }
        if !self.server.admin_token.is_empty() {
            if self.server.admin_listen.is_empty() {
                return bad("server.admin_token needs server.admin_listen (the admin API is served there only)".into());
            }
            if self.server.admin_token.len() < 16 {
                return bad("server.admin_token must be at least 16 characters".into());
            }
        }
        if !self.server.relay_key.is_empty() {
            if let Err(e) = crate::identity::parse_seed(&self.server.relay_key) {
                return bad(format!("server.relay_key: {e}"));
            }
        }
        let w = &self.webhooks;
        if w.max_per_client == 0 || w.concurrency == 0 || w.concurrency_per_host == 0 {
            return bad(
                "webhooks.max_per_client, concurrency and concurrency_per_host must be > 0".into(),
            );
        }
        if w.timeout_ms == 0 || w.retry_hours == 0 {
            return bad("webhooks.timeout_ms and retry_hours must be > 0".into());
        }
        if l.push_window_max_bytes < l.push_window_bytes {
            return bad(
                "limits.push_window_max_bytes must be at least limits.push_window_bytes".into(),
            );
        }
        if l.ttl_max_secs < l.ttl_min_secs {
            return bad("limits.ttl_max_secs must be >= limits.ttl_min_secs".into());
        }
        if l.page_bytes < l.max_message_bytes + l.max_attestation_bytes + 1024 {
            return bad("limits.page_bytes must hold at least one message (max_message_bytes + max_attestation_bytes + 1024)".into());
        }
        if l.max_message_bytes == 0 || l.max_frame_bytes < l.max_message_bytes + 1024 {
            return bad("limits.max_frame_bytes must exceed limits.max_message_bytes by at least 1024 (JSON envelope)".into());
        }
        if l.max_batch == 0 || l.max_batch > 10_000 {
            return bad("limits.max_batch must be between 1 and 10000".into());
        }
        for (name, v) in [
            (
                "max_subscriptions_per_client",
                l.max_subscriptions_per_client,
            ),
            ("max_messages_per_topic", l.max_messages_per_topic),
            ("send_queue", l.send_queue),
            ("max_in_flight", l.max_in_flight),
            ("push_window_bytes", l.push_window_bytes),
            ("fetch_page", l.fetch_page),
        ] {
            if v == 0 {
                return bad(format!("limits.{name} must be > 0"));
            }
        }
        if self.rate_limit.requests_per_sec_per_ip > 0
            && (self.rate_limit.burst_per_ip as usize) < self.limits.max_batch
        {
            return bad("rate_limit.burst_per_ip must be at least limits.max_batch when rate_limit.requests_per_sec_per_ip is set".into());
        }
        if self.rate_limit.requests_per_sec > 0
            && (self.rate_limit.burst as usize) < self.limits.max_batch
        {
            return bad(
                "rate_limit.burst must be at least limits.max_batch when rate_limit.requests_per_sec is set (a batch costs one token per item)".into(),
            );
        }
        let w = &self.websocket;
        if w.ping_interval_ms == 0 || w.idle_timeout_ms <= w.ping_interval_ms {
            return bad(
                "websocket.idle_timeout_ms must be greater than websocket.ping_interval_ms (> 0)"
                    .into(),
            );
        }
        if w.ping_interval_ms > 25_000 {
            return bad("websocket.ping_interval_ms must be <= 25000: Node clients drop a socket after 35 s of silence".into());
        }
        if w.write_stall_ms == 0 || w.fragment_timeout_ms == 0 {
            return bad(
                "websocket.write_stall_ms and websocket.fragment_timeout_ms must be > 0".into(),
            );
        }
        if w.read_buffer_bytes < 256 {
            return bad("websocket.read_buffer_bytes must be at least 256".into());
        }
        if self.store.sweep_interval_ms == 0 || self.store.sweep_batch == 0 {
            return bad("store.sweep_interval_ms and store.sweep_batch must be > 0".into());
        }
        crate::admission::TrustedProxies::parse(&self.server.trusted_proxies)
            .map_err(|e| ConfigError::Invalid(format!("server.trusted_proxies: {e}")))?;
        if self.limits.handshakes_per_ip_per_sec > 0 && self.limits.handshake_burst_per_ip == 0 {
            return bad("limits.handshake_burst_per_ip must be > 0 when limits.handshakes_per_ip_per_sec is set".into());
        }
        if self.server.metrics_admin_only && self.server.admin_listen.is_empty() {
            return bad(
                "server.metrics_admin_only needs server.admin_listen (else /metrics is nowhere)"
                    .into(),
            );
        }
        if self.store.client_idle_secs == 0 {
            return bad("store.client_idle_secs must be > 0".into());
        }
        if self.store.ack_flush_ms == 0 {
            return bad("store.ack_flush_ms must be > 0".into());
        }
        if !(1..=4096).contains(&self.store.segment_mb) {
            return bad("store.segment_mb must be between 1 and 4096".into());
        }
        if self.store.backend == StoreBackend::Redis {
            self.redis_config()
                .validate()
                .map_err(|e| ConfigError::Invalid(format!("store.redis_*: {e}")))?;
        }
        crate::attest::validate_config(&self.attest).map_err(ConfigError::Invalid)?;
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            return bad(format!(
                "log.level = {:?} is not a valid filter",
                self.log.level
            ));
        }
        Ok(())
    }
}
