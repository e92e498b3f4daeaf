//! Relay configuration: one [`Config`] loaded from the file, then `RELAYBOX_*`
//! environment variables, then command-line flags, and validated before any
//! port is bound so that a bad value stops start-up with a clear message.

mod dev;
mod env;
mod validate;
mod webhooks;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use dev::DevMode;
pub use webhooks::WebhooksConfig;

/// Every tunable of the relay. Field names are the keys of `config/relaybox.toml`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub auth: AuthConfig,
    pub limits: LimitsConfig,
    pub rate_limit: RateLimitConfig,
    pub websocket: WebSocketConfig,
    pub store: StoreConfig,
    pub log: LogConfig,
    pub attest: AttestConfig,
    pub webhooks: WebhooksConfig,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub listen: String,
    pub admin_listen: String,
    pub public_urls: Vec<String>,
    pub data_dir: PathBuf,
    pub handshake_timeout_ms: u64,
    pub max_header_bytes: usize,
    pub shutdown_grace_ms: u64,
    pub shutdown_spread_ms: u64,
    pub test_echo_endpoint: bool,
    pub metrics_admin_only: bool,
    pub trusted_proxies: Vec<String>,
    pub relay_key: String,
    pub admin_token: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    pub audiences: Vec<String>,
    pub accept_listen_audiences: bool,
    pub any_audience: bool,
    pub leeway_secs: u64,
    pub max_token_bytes: usize,
    pub max_token_age_secs: u64,
    pub project_ids: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    pub ttl_min_secs: u32,
    pub ttl_max_secs: u32,
    pub max_message_bytes: usize,
    pub max_attestation_bytes: usize,
    pub max_frame_bytes: usize,
    pub max_batch: usize,
    pub max_subscriptions_per_client: usize,
    pub max_messages_per_topic: usize,
    pub send_queue: usize,
    pub max_in_flight: usize,
    pub push_window_bytes: usize,
    pub push_window_max_bytes: usize,
    pub fetch_page: usize,
    pub page_bytes: usize,
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    pub max_connections_per_client: usize,
    pub handshakes_per_ip_per_sec: u32,
    pub handshake_burst_per_ip: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    pub requests_per_sec: u32,
    pub burst: u32,
    pub requests_per_sec_per_ip: u32,
    pub burst_per_ip: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct WebSocketConfig {
    pub ping_interval_ms: u64,
    pub idle_timeout_ms: u64,
    pub read_buffer_bytes: usize,
    pub write_buffer_bytes: usize,
    pub write_stall_ms: u64,
    pub fragment_timeout_ms: u64,
    pub send_buffer_bytes: usize,
    pub recv_buffer_bytes: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    pub backend: StoreBackend,
    pub cache_capacity_mb: u64,
    pub max_disk_mb: u64,
    pub min_free_mb: u64,
    pub segment_mb: u64,
    pub sweep_interval_ms: u64,
    pub sweep_batch: usize,
    pub redis_url: String,
    pub redis_cluster_nodes: Vec<String>,
    pub redis_require_fsync: bool,
    pub redis_wait_replicas: u32,
    pub redis_wait_aof: bool,
    pub redis_wait_timeout_ms: u64,
    pub redis_timeout_ms: u64,
    pub ack_flush_ms: u64,
    pub client_idle_secs: u64,
}

/// Where mailboxes live: the embedded store in the data directory (one
/// node; "sled", its name before the message log, still reads) or Redis
/// (several nodes sharing state; see the README's cluster mode).
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StoreBackend {
    #[serde(alias = "sled")]
    Disk,
    Redis,
}

impl StoreBackend {
    /// `"disk"` or `"redis"`, as in the config file.
    pub fn name(self) -> &'static str {
        match self {
            StoreBackend::Disk => "disk",
            StoreBackend::Redis => "redis",
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub format: LogFormat,
    pub level: String,
}

/// The async-attestation relay's HTTP endpoints (seed 000); see `crate::attest`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AttestConfig {
    pub enabled: bool,
    pub prefix: String,
    pub default_expiry_ms: u64,
    pub max_expiry_ms: u64,
    pub max_body_bytes: usize,
    pub max_app_identity_chars: usize,
    pub max_credential_bytes: usize,
    pub max_error_bytes: usize,
    pub requests_per_sec: u32,
    pub burst: u32,
    pub api_keys: Vec<String>,
    pub require_wallet_jwt: bool,
    pub sweep_interval_ms: u64,
    pub sweep_batch: usize,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:8080".into(),
            admin_listen: String::new(),
            public_urls: Vec::new(),
            data_dir: PathBuf::from("./data"),
            handshake_timeout_ms: 10_000,
            max_header_bytes: 16 * 1024,
            shutdown_grace_ms: 10_000,
            shutdown_spread_ms: 5_000,
            test_echo_endpoint: false,
            metrics_admin_only: false,
            trusted_proxies: Vec::new(),
            relay_key: String::new(),
            admin_token: String::new(),
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            audiences: Vec::new(),
            accept_listen_audiences: true,
            any_audience: false,
            leeway_secs: 120,
            max_token_bytes: 4096,
            max_token_age_secs: 7 * 86_400,
            project_ids: Vec::new(),
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            ttl_min_secs: 10,
            ttl_max_secs: 2_592_000,
            max_message_bytes: 128 * 1024,
            max_attestation_bytes: 4096,
            max_frame_bytes: 160 * 1024,
            max_batch: 500,
            max_subscriptions_per_client: 10_000,
            max_messages_per_topic: 10_000,
            send_queue: 1024,
            max_in_flight: 4096,
            push_window_bytes: 64 * 1024,
            push_window_max_bytes: 1024 * 1024,
            fetch_page: 500,
            page_bytes: 136 * 1024,
            max_connections: 50_000,
            max_connections_per_ip: 500,
            max_connections_per_client: 16,
            handshakes_per_ip_per_sec: 20,
            handshake_burst_per_ip: 200,
        }
    }
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            requests_per_sec: 200,
            burst: 1000,
            requests_per_sec_per_ip: 1000,
            burst_per_ip: 1000,
        }
    }
}

impl Default for WebSocketConfig {
    fn default() -> Self {
        WebSocketConfig {
            ping_interval_ms: 20_000,
            idle_timeout_ms: 60_000,
            read_buffer_bytes: 1536,
            write_buffer_bytes: 16 * 1024,
            write_stall_ms: 10_000,
            fragment_timeout_ms: 10_000,
            send_buffer_bytes: 131_072,
            recv_buffer_bytes: 65_536,
        }
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            backend: StoreBackend::Disk,
            cache_capacity_mb: 64,
            max_disk_mb: 0,
            min_free_mb: 256,
            segment_mb: 64,
            sweep_interval_ms: 1000,
            sweep_batch: 10_000,
            redis_url: "redis://127.0.0.1:6379".into(),
            redis_cluster_nodes: Vec::new(),
            redis_require_fsync: true,
            redis_wait_replicas: 0,
            redis_wait_aof: false,
            redis_wait_timeout_ms: 1000,
            redis_timeout_ms: relaybox_redis::DEFAULT_TIMEOUT_MS,
            ack_flush_ms: relaybox_redis::DEFAULT_ACK_FLUSH_MS,
            client_idle_secs: 2_592_000,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Text,
            level: "info".into(),
        }
    }
}

impl Default for AttestConfig {
    fn default() -> Self {
        AttestConfig {
            enabled: true,
            prefix: "/api/mwen/relay".into(),
            default_expiry_ms: 24 * 3_600_000,
            max_expiry_ms: 7 * 24 * 3_600_000,
            max_body_bytes: 64 * 1024,
            max_app_identity_chars: 512,
            max_credential_bytes: 48 * 1024,
            max_error_bytes: 1024,
            requests_per_sec: 10,
            burst: 100,
            api_keys: Vec::new(),
            require_wallet_jwt: false,
            sweep_interval_ms: 10_000,
            sweep_batch: 1000,
        }
    }
}

/// Values given on the command line; they win over the file and the environment.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub public_urls: Vec<String>,
}

/// A configuration problem, reported before anything starts.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// File (if given), then `RELAYBOX_*` environment, then flags. Does not validate.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Config, ConfigError> {
        let vars: Vec<(String, String)> = std::env::vars().collect();
        Self::load_from(file, &vars, overrides)
    }

    /// [`Config::load`] with the environment passed in, so tests need not mutate process state.
    pub fn load_from(
        file: Option<&Path>,
        vars: &[(String, String)],
        overrides: &Overrides,
    ) -> Result<Config, ConfigError> {
        let mut tree = toml::Value::try_from(Config::default())
            .map_err(|e| ConfigError::Invalid(format!("defaults do not serialize: {e}")))?;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_owned(),
                source,
            })?;
            let parsed: toml::Value = toml::from_str(&text).map_err(|e| ConfigError::Parse {
                path: path.to_owned(),
                message: e.to_string(),
            })?;
            // Deserializing the file alone first gives precise unknown-key errors.
            Config::deserialize(parsed.clone()).map_err(|e| ConfigError::Parse {
                path: path.to_owned(),
                message: e.to_string(),
            })?;
            env::merge(&mut tree, parsed);
        }
        env::apply_env(&mut tree, vars)?;
        let mut config = Config::deserialize(tree).map_err(|e| ConfigError::Env {
            var: "RELAYBOX_*".into(),
            message: e.to_string(),
        })?;
        if let Some(listen) = &overrides.listen {
            config.server.listen = listen.clone();
        }
        if let Some(dir) = &overrides.data_dir {
            config.server.data_dir = dir.clone();
        }
        if !overrides.public_urls.is_empty() {
            config.server.public_urls = overrides.public_urls.clone();
        }
        Ok(config)
    }

    /// The embedded store's settings (used when `store.backend = "disk"`).
    pub fn disk_config(&self) -> relaybox_disk::DiskConfig {
        const MIB: u64 = 1024 * 1024;
        let s = &self.store;
        let mut cfg = relaybox_disk::DiskConfig::new(&self.server.data_dir);
        cfg.cache_capacity_bytes = s.cache_capacity_mb * MIB;
        cfg.max_messages_per_topic = self.limits.max_messages_per_topic;
        cfg.segment_bytes = s.segment_mb * MIB;
        cfg.max_disk_bytes = s.max_disk_mb * MIB;
        cfg.min_free_bytes = s.min_free_mb * MIB;
        cfg.ack_flush_ms = s.ack_flush_ms;
        cfg.max_page_bytes = self.limits.page_bytes;
        cfg
    }

    /// The Redis backend's settings (used when `store.backend = "redis"`).
    pub fn redis_config(&self) -> relaybox_redis::RedisConfig {
        let s = &self.store;
        let mut cfg = relaybox_redis::RedisConfig::standalone(s.redis_url.clone());
        cfg.cluster_nodes = s.redis_cluster_nodes.clone();
        cfg.max_messages_per_topic = self.limits.max_messages_per_topic;
        cfg.require_fsync = s.redis_require_fsync;
        cfg.wait_replicas = s.redis_wait_replicas;
        cfg.wait_aof = s.redis_wait_aof;
        cfg.wait_timeout_ms = s.redis_wait_timeout_ms;
        cfg.timeout_ms = s.redis_timeout_ms;
        cfg.ack_flush_ms = s.ack_flush_ms;
        cfg.max_page_bytes = self.limits.page_bytes;
        cfg
    }

    pub fn listen_addr(&self) -> Result<SocketAddr, std::net::AddrParseError> {
        self.server.listen.parse()
    }

    pub fn handshake_timeout(&self) -> Duration {
        Duration::from_millis(self.server.handshake_timeout_ms)
    }
}

#[cfg(test)]
mod tests;
