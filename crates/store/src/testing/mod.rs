//! The mailbox contract suite, shared by every backend (feature `testing`).
//!
//! Each case is a plain async function over an `Arc<dyn MailboxStore>`
//! that uses fresh random topics and clients, so cases may share one
//! server. [`CASES`] is the one list of them, with the per-topic limit each
//! case needs from the store it is given; a backend's tests run them all
//! with [`run_every_case`].

pub mod cases;
pub mod inspect_cases;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::MailboxStore;

/// A store under test.
pub type Store = Arc<dyn MailboxStore>;
/// One case: takes a store, panics on a contract violation.
pub type Case = fn(Store) -> Pin<Box<dyn Future<Output = ()> + Send>>;

macro_rules! cases {
    ($($name:ident => $limit:expr),* $(,)?) => {
        /// Every case: its name, the `max_messages_per_topic` its store
        /// needs, and the case itself.
        pub const CASES: &[(&str, usize, Case)] = &[
            $((stringify!($name), $limit, |s| Box::pin(cases::$name(s)))),*
        ];
    };
}

cases!(
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
    subscription_limit_is_per_client_and_atomic => 10_000,
    batch_subscribe_stops_at_the_limit => 10_000,
    pages_are_bounded_in_bytes => 10_000,
    a_topic_is_summed_up_with_its_subscribers_and_cursors => 10_000,
    deleting_a_topics_messages_removes_them_for_everyone => 10_000,
    walks_visit_every_topic_message_and_subscription => 10_000,
    usage_counts_live_messages_by_expiry => 10_000,
);

/// Runs every case in turn, each on a store from `open(limit)`; the guard
/// `G` (a temporary directory, a server process) is dropped after its case.
/// The case's name is printed first, so a failure says which one it was.
pub async fn run_every_case<F, Fut, G>(mut open: F)
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = (Store, G)>,
{
    for (name, limit, case) in CASES {
        eprintln!("contract case {name}");
        let (store, guard) = open(*limit).await;
        case(store).await;
        drop(guard);
    }
}
