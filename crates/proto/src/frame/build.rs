//! Outgoing frames, serialized from borrowed structs in one pass. Field
//! order is fixed by the structs: `id`, `jsonrpc`, then the payload.

use serde::Serialize;

use crate::error::{ErrorData, ErrorKind};
use crate::id::RequestId;
use crate::method::Method;
use crate::params::SubscriptionData;

pub(crate) const JSONRPC_VERSION: &str = "2.0";

/// Room for the frame's fixed parts around variable-length payloads.
const FRAME_OVERHEAD: usize = 192;

/// Serializes into a buffer of `capacity` bytes (grown if needed). `None`
/// only if a `Serialize` impl fails, which none of this crate's types do.
pub(crate) fn encode<T: Serialize + ?Sized>(value: &T, capacity: usize) -> Option<String> {
    let mut buf = Vec::with_capacity(capacity);
    serde_json::to_writer(&mut buf, value).ok()?;
    // serde_json writes UTF-8 only, so this never takes the error branch.
    String::from_utf8(buf).ok()
}

/// `{"id":…,"jsonrpc":"2.0","result":…}`.
///
/// Should `result` fail to serialize (a map with non-string keys, say), the
/// peer gets an `InternalSerialization` error for the same id instead, so a
/// request is always answered.
pub fn result_frame<T: Serialize + ?Sized>(id: &RequestId, result: &T) -> String {
    #[derive(Serialize)]
    struct Frame<'a, T: ?Sized> {
        id: &'a RequestId,
        jsonrpc: &'static str,
        result: &'a T,
    }
    let frame = Frame {
        id,
        jsonrpc: JSONRPC_VERSION,
        result,
    };
    encode(&frame, FRAME_OVERHEAD).unwrap_or_else(|| {
        error_frame(
            Some(id),
            &ErrorKind::InternalSerialization.to_error_data(None),
        )
    })
}

/// `{"id":…,"jsonrpc":"2.0","error":{…}}`, with id 0 when there is no id to
/// echo (the frame could not be read).
pub fn error_frame(id: Option<&RequestId>, error: &ErrorData) -> String {
    #[derive(Serialize)]
    struct Frame<'a> {
        id: &'a RequestId,
        jsonrpc: &'static str,
        error: &'a ErrorData,
    }
    let zero = RequestId::Number(0);
    let frame = Frame {
        id: id.unwrap_or(&zero),
        jsonrpc: JSONRPC_VERSION,
        error,
    };
    let capacity = FRAME_OVERHEAD + error.message.len();
    // Unreachable fallback: ErrorData and RequestId always serialize.
    encode(&frame, capacity).unwrap_or_default()
}

/// The relay's push of one message to one subscriber:
/// `{"id":<id>,"jsonrpc":"2.0","method":"irn_subscription","params":{"id":"<subscription id>","data":{…}}}`.
///
/// `id` should come from [`crate::IdGenerator`], so that it is a plain JSON
/// number the JS client can hold exactly.
pub fn subscription_frame(id: u64, subscription_id: &str, data: &SubscriptionData) -> String {
    #[derive(Serialize)]
    struct Params<'a> {
        id: &'a str,
        data: &'a SubscriptionData,
    }
    #[derive(Serialize)]
    struct Frame<'a> {
        id: u64,
        jsonrpc: &'static str,
        method: &'static str,
        params: Params<'a>,
    }
    let frame = Frame {
        id,
        jsonrpc: JSONRPC_VERSION,
        method: Method::Subscription.as_str(),
        params: Params {
            id: subscription_id,
            data,
        },
    };
    let capacity = FRAME_OVERHEAD
        + subscription_id.len()
        + data.message.len()
        + data.attestation.as_ref().map_or(0, String::len);
    // Unreachable fallback: every field is a string, integer or topic.
    encode(&frame, capacity).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn result_frame_keeps_id_spelling() {
        assert_eq!(
            result_frame(&RequestId::String(1_795_405_159_459_027_456), &true),
            r#"{"id":"1795405159459027456","jsonrpc":"2.0","result":true}"#
        );
        assert_eq!(
            result_frame(&RequestId::Number(7), "abc"),
            r#"{"id":7,"jsonrpc":"2.0","result":"abc"}"#
        );
    }

    #[test]
    fn unserializable_result_becomes_internal_error() {
        let mut bad = BTreeMap::new();
        bad.insert(vec![1u8], 1u8);
        let frame = result_frame(&RequestId::Number(3), &bad);
        assert!(frame.starts_with(r#"{"id":3,"jsonrpc":"2.0","error":{"code":-32603"#));
        assert!(frame.contains(r#""data":"Serialization""#));
    }

    #[test]
    fn error_frame_without_id_uses_zero() {
        let e = ErrorKind::Serialization.to_error_data(None);
        assert!(error_frame(None, &e).starts_with(r#"{"id":0,"jsonrpc":"2.0","error":"#));
    }
}
