//! The state every connection shares: configuration, the store and hub behind
//! their traits, the auth policy and the id generator. Built once at start-up.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use relaybox_auth::jwt::VerifyOptions;
use relaybox_proto::{IdGenerator, Limits};
use relaybox_store::{AttestationStore, MailboxStore};

use crate::admission::{Admission, TrustedProxies};
use crate::config::Config;
use crate::hub::FanOut;
use crate::ratelimit::RateLimiter;
use crate::shutdown::{Readiness, Shutdown};

/// What [`Relay::store_and_wake`] did.
pub struct Stored {
    pub appended: relaybox_store::Appended,
    /// Webhook events were queued for it: the reply must also wait for the
    /// state's commit, or an acknowledged message could lose its event.
    pub events_queued: bool,
}

/// Shared, immutable-after-start relay state.
pub struct Relay {
    pub config: Config,
    pub store: Arc<dyn MailboxStore>,
    pub hub: Arc<dyn FanOut>,
    pub verify: VerifyOptions,
    /// Wallet JWTs of the attestation endpoints: their own audience (the
    /// endpoints' URL), so a socket token cannot ack and an ack token cannot
    /// open a socket.
    pub attest_verify: VerifyOptions,
    pub limits: Limits,
    pub ids: IdGenerator,
    pub rate_limiter: Arc<RateLimiter>,
    /// The same buckets keyed by client IP (IPv6 /64): all client_ids of one
    /// address share one budget.
    pub ip_rate_limiter: Arc<RateLimiter>,
    pub readiness: Readiness,
    pub shutdown: Shutdown,
    pub metrics: PrometheusHandle,
    pub local_addr: SocketAddr,
    pub attest: crate::attest::Attest,
    pub admission: Arc<Admission>,
    /// Client tokens that verified, so reconnects skip the signature check.
    pub token_cache: crate::ws::token_cache::TokenCache,
    pub trusted_proxies: TrustedProxies,
    /// The relay's signing key (its relayId).
    pub identity: crate::identity::RelayIdentity,
    /// Webhook registrations and the event queue's sender wake-up.
    pub webhooks: crate::webhooks::Webhooks,
    /// The open sockets (admin inspection and kick).
    pub sockets: Arc<crate::sockets::Sockets>,
    next_conn_id: AtomicU64,
}

impl Relay {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: Config,
        store: Arc<dyn MailboxStore>,
        hub: Arc<dyn FanOut>,
        audiences: HashSet<String>,
        metrics: PrometheusHandle,
        local_addr: SocketAddr,
        shutdown: Shutdown,
        attest: Arc<dyn AttestationStore>,
        identity: crate::identity::RelayIdentity,
        webhooks: crate::webhooks::Webhooks,
    ) -> Self {
        let attest_audiences = audiences
            .iter()
            .filter(|a| a.starts_with("http://") || a.starts_with("https://"))
            .map(|a| format!("{}{}", a.trim_end_matches('/'), config.attest.prefix))
            .collect();
        let verify = VerifyOptions {
            leeway_secs: config.auth.leeway_secs,
            max_token_len: config.auth.max_token_bytes,
            max_age_secs: config.auth.max_token_age_secs,
            // `auth.any_audience` (set by --dev only): any `aud` passes.
            audiences: (!config.auth.any_audience).then_some(audiences),
        };
        let attest_verify = VerifyOptions {
            audiences: (!config.auth.any_audience).then_some(attest_audiences),
            ..verify.clone()
        };
        let limits = Limits {
            ttl_min: config.limits.ttl_min_secs,
            ttl_max: config.limits.ttl_max_secs,
            max_batch: config.limits.max_batch,
            max_message_len: config.limits.max_message_bytes,
            max_attestation_len: config.limits.max_attestation_bytes,
        };
        let rate_limiter =
            RateLimiter::new(config.rate_limit.requests_per_sec, config.rate_limit.burst);
        let ip_rate_limiter = RateLimiter::new(
            config.rate_limit.requests_per_sec_per_ip,
            config.rate_limit.burst_per_ip,
        );
        let attest = crate::attest::Attest::new(attest, &config.attest);
        let admission = Admission::new(&config.limits);
        // Validated with the rest of the config before start-up.
        let trusted_proxies =
            TrustedProxies::parse(&config.server.trusted_proxies).unwrap_or_default();
        Relay {
            token_cache: crate::ws::token_cache::TokenCache::new(100_000),
            admission,
            trusted_proxies,
            config,
            store,
            hub,
            verify,
            attest_verify,
            limits,
            ids: IdGenerator::new(),
            rate_limiter,
            ip_rate_limiter,
            readiness: Readiness::default(),
            shutdown,
            metrics,
            local_addr,
            attest,
            identity,
            webhooks,
            sockets: Arc::default(),
            next_conn_id: AtomicU64::new(1),
        }
    }

    /// The one place a message enters a mailbox: append it to the store
    /// and wake the local sockets that follow its topic (a duplicate wakes
    /// nobody). Not durable yet: the caller syncs before it acknowledges.
    pub async fn store_and_wake(
        &self,
        msg: relaybox_store::NewMessage,
    ) -> relaybox_store::Result<Stored> {
        let appended = self.store.append(msg).await?;
        crate::metrics::published(appended.duplicate);
        let mut events_queued = false;
        if !appended.duplicate {
            self.hub.announce(&appended);
            events_queued = crate::webhooks::on_published(self, &appended.message).await?;
        }
        Ok(Stored {
            appended,
            events_queued,
        })
    }

    pub fn next_conn_id(&self) -> u64 {
        self.next_conn_id.fetch_add(1, Ordering::Relaxed)
    }
}
