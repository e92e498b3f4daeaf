//! Requests in flight: ids, the pending map that pairs each answer with its
//! waiter, and the typed reading of results.
//!
//! Ids come from proto's [`IdGenerator`] (`(unix_ms << 8) | counter`, within
//! [10^9, 2^53)), are written as JSON numbers, and answers are matched by
//! numeric value, whatever spelling the relay echoes.
//!
//! When the socket drops, every request already written fails with
//! [`Error::Disconnected`]; requests not yet written wait (within their
//! timeout) for the next connection. See the crate docs for why.

use std::collections::HashMap;

use relaybox_proto::{ErrorData, FetchMessagesResult, IdGenerator, Params, Request, Topic};
use serde_json::Value;
use tokio::sync::oneshot;

use crate::error::{Error, Result};
use crate::shared::{Effect, Outgoing, Route};

/// Most items per batch request: the relay's limit, and what the JS SDK uses.
pub const BATCH_CHUNK: usize = 500;

/// Who waits for an answer.
#[derive(Debug)]
pub(crate) enum Waiter {
    /// A handle's call.
    Caller(oneshot::Sender<Result<Value>>),
    /// The task's own re-subscription after a reconnect: this chunk's topics.
    Resubscribe(Vec<Topic>),
}

/// One written request.
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) waiter: Waiter,
    pub(crate) effect: Effect,
    /// Topics routed for this request, to undo if it fails.
    pub(crate) route: Option<Route>,
}

impl Pending {
    fn abandoned(&self) -> bool {
        matches!(&self.waiter, Waiter::Caller(tx) if tx.is_closed())
    }
}

/// Requests written on the current socket, by id.
#[derive(Debug, Default)]
pub(crate) struct PendingMap {
    ids: IdGenerator,
    map: HashMap<u64, Pending>,
}

impl PendingMap {
    /// Registers `out` and returns its frame.
    pub(crate) fn start(&mut self, out: Outgoing) -> String {
        self.start_with(out.params, Waiter::Caller(out.reply), out.effect, out.route)
    }

    pub(crate) fn start_with(
        &mut self,
        params: Params,
        waiter: Waiter,
        effect: Effect,
        route: Option<Route>,
    ) -> String {
        let id = self.ids.next();
        let frame = Request::new(id, params).to_json();
        self.map.insert(
            id,
            Pending {
                waiter,
                effect,
                route,
            },
        );
        frame
    }

    /// Takes the request answered by id `id`.
    pub(crate) fn finish(&mut self, id: u64) -> Option<Pending> {
        self.map.remove(&id)
    }

    /// Fails every request with `error` (the socket is gone).
    pub(crate) fn fail_all(&mut self, error: &Error) {
        for (_, p) in self.map.drain() {
            if let Waiter::Caller(tx) = p.waiter {
                let _ = tx.send(Err(error.clone()));
            }
        }
    }

    /// Forgets requests whose caller has given up (timed out or dropped).
    pub(crate) fn sweep(&mut self) {
        self.map.retain(|_, p| !p.abandoned());
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

/// Splits `items` into batch-sized chunks (at least one item each).
pub(crate) fn chunks<T: Clone>(items: &[T]) -> impl Iterator<Item = Vec<T>> + '_ {
    items.chunks(BATCH_CHUNK).map(<[T]>::to_vec)
}

/// The result of an answer frame, with relay errors typed.
pub(crate) fn answer(result: std::result::Result<Value, ErrorData>) -> Result<Value> {
    result.map_err(Error::relay)
}

/// Reads a `true` acknowledgement.
pub(crate) fn expect_true(value: Value) -> Result<()> {
    match value {
        Value::Bool(true) => Ok(()),
        other => Err(Error::Protocol(format!("expected true, got {other}"))),
    }
}

/// Reads a subscription id.
pub(crate) fn expect_string(value: Value) -> Result<String> {
    match value {
        Value::String(s) => Ok(s),
        other => Err(Error::Protocol(format!(
            "expected a subscription id, got {other}"
        ))),
    }
}

/// Reads the `irn_batchSubscribe` answer: one id per topic. A relay that
/// answers `true` (some do) gets the ids the JS SDK would compute.
pub(crate) fn expect_ids(value: Value, topics: &[Topic], client_id: &str) -> Result<Vec<String>> {
    match value {
        Value::Array(items) if items.len() == topics.len() => items
            .into_iter()
            .map(expect_string)
            .collect::<Result<Vec<_>>>(),
        Value::Bool(true) => Ok(topics
            .iter()
            .map(|t| relaybox_proto::subscription_id(t, client_id))
            .collect()),
        other => Err(Error::Protocol(format!(
            "expected {} subscription ids, got {other}",
            topics.len()
        ))),
    }
}

/// Reads a fetch answer.
pub(crate) fn expect_fetch(value: Value) -> Result<FetchMessagesResult> {
    serde_json::from_value(value).map_err(|e| Error::Protocol(format!("fetch result: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn chunking() {
        let items: Vec<u32> = (0..1201).collect();
        let sizes: Vec<usize> = chunks(&items).map(|c| c.len()).collect();
        assert_eq!(sizes, [500, 500, 201]);
        assert_eq!(chunks::<u32>(&[]).count(), 0);
    }

    #[test]
    fn typed_answers() {
        assert!(expect_true(json!(true)).is_ok());
        assert!(matches!(expect_true(json!(false)), Err(Error::Protocol(_))));
        let t = Topic::from_bytes([9; 32]);
        assert_eq!(
            expect_ids(json!(["a"]), &[t], "did:key:z").unwrap(),
            ["a".to_string()]
        );
        assert_eq!(expect_ids(json!(true), &[t], "did:key:z").unwrap().len(), 1);
        assert!(expect_ids(json!(["a", "b"]), &[t], "did:key:z").is_err());
        let fetched = expect_fetch(json!({"messages": [], "hasMore": true})).unwrap();
        assert!(fetched.has_more);
    }

    #[test]
    fn written_requests_fail_when_the_socket_drops() {
        let mut map = PendingMap::default();
        let (tx, mut rx) = oneshot::channel();
        let frame = map.start_with(
            Params::FetchMessages(relaybox_proto::FetchMessagesParams {
                topic: Topic::from_bytes([1; 32]),
            }),
            Waiter::Caller(tx),
            Effect::None,
            None,
        );
        assert!(frame.contains(r#""method":"irn_fetchMessages""#));
        assert_eq!(map.len(), 1);
        map.fail_all(&Error::Disconnected);
        assert!(matches!(rx.try_recv(), Ok(Err(Error::Disconnected))));
        assert_eq!(map.len(), 0);
    }
}
