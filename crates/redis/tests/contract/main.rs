//! The mailbox contract, run against every backend: the same semantic
//! tests against the embedded sled store, standalone Redis and a
//! three-primary Redis Cluster. A case gets a store and uses fresh random
//! topics and clients, so cases can share one Redis.
//!
//! Redis cases are skipped (with a message) only where `redis-server` is
//! not installed; CI installs it.

mod cases;

use std::sync::Arc;

use relaybox_redis::testing::{self, RedisCluster, RedisServer};
use relaybox_redis::{RedisBackend, RedisConfig};
use relaybox_store::{MailboxStore, SledConfig, SledStore};

/// Keeps a backend's server or directory alive for the test.
#[allow(dead_code)]
enum Guard {
    Dir(tempfile::TempDir),
    Redis(RedisServer),
}

fn skip() -> bool {
    if testing::available() {
        return false;
    }
    eprintln!("SKIPPED: redis-server is not installed (apt-get install redis-server)");
    true
}

async fn sled(limit: usize) -> (Arc<dyn MailboxStore>, Guard) {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = SledConfig::new(dir.path().join("db"));
    cfg.max_messages_per_topic = limit;
    (SledStore::open(cfg).unwrap(), Guard::Dir(dir))
}

async fn connect(mut cfg: RedisConfig, limit: usize) -> Arc<dyn MailboxStore> {
    cfg.max_messages_per_topic = limit;
    RedisBackend::connect(cfg).await.expect("connect").store
}

async fn redis(limit: usize) -> (Arc<dyn MailboxStore>, Guard) {
    let server = RedisServer::start();
    let store = connect(RedisConfig::standalone(server.url()), limit).await;
    (store, Guard::Redis(server))
}

macro_rules! contract {
    ($($name:ident => $limit:expr),* $(,)?) => {
        mod on_sled {
            $(
                #[tokio::test]
                async fn $name() {
                    let (store, _guard) = super::sled($limit).await;
                    super::cases::$name(store).await;
                }
            )*
        }
        mod on_redis {
            $(
                #[tokio::test]
                async fn $name() {
                    if super::skip() {
                        return;
                    }
                    let (store, _guard) = super::redis($limit).await;
                    super::cases::$name(store).await;
                }
            )*
        }

        /// Every case on one Redis Cluster (starting one takes seconds).
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn every_case_on_redis_cluster() {
            if skip() {
                return;
            }
            let cluster = tokio::task::spawn_blocking(|| RedisCluster::start(3)).await.unwrap();
            let mut cfg = RedisConfig::standalone("");
            cfg.cluster_nodes = cluster.urls();
            $(
                eprintln!("cluster case {}", stringify!($name));
                cases::$name(connect(cfg.clone(), $limit).await).await;
            )*
        }
    };
}

contract! {
    seqs_increase_and_prev_seq_chains => 10_000,
    fields_round_trip => 10_000,
    duplicate_of_live_message_returns_existing => 10_000,
    duplicate_of_expired_message_is_stored_again => 10_000,
    limit_rejects_then_frees_after_expiry => 3,
    concurrent_appends_stay_ordered => 10_000,
    pending_excludes_own_acked_and_expired => 10_000,
    pending_pages_without_changing_state => 10_000,
    out_of_order_acks_leave_only_the_gaps => 10_000,
    fetch_consumes_and_pages_until_empty => 10_000,
    store_before_subscribe => 10_000,
    subscriptions_are_listed_counted_and_idempotent => 10_000,
    unsubscribe_drops_subscription_and_delivery_state => 10_000,
}
