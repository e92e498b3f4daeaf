//! JSON-RPC request ids that survive a round trip byte for byte.
//!
//! The official JS client sends ids as 19-digit JSON *strings* and matches
//! replies by comparing them, so an id must come back in the very spelling it
//! arrived in. Going through `f64` (what a naive `serde_json::Value` number
//! or JavaScript does above 2^53) silently changes the digits, so numbers are
//! only ever read through serde_json's exact `u64` path and strings are read
//! as text. JS also turns large unquoted numbers into BigInts and then acks
//! with ids like `"123n"`; those are accepted and echoed verbatim.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::{Serialize, Serializer};

use crate::{Error, Result};

/// Longest numeric-string id accepted. u64::MAX has 20 digits; the margin
/// leaves room for leading zeros and the BigInt `n` suffix while keeping a
/// hostile client from making the relay store and echo a huge "id".
const MAX_ID_TEXT_LEN: usize = 40;

/// A JSON-RPC id: a u64 sent either as a JSON number or as a numeric string.
///
/// Representation, chosen so that serializing gives back exactly the text
/// that was parsed:
/// - [`RequestId::Number`]: a JSON number, e.g. `123`.
/// - [`RequestId::String`]: a JSON string holding the canonical decimal
///   spelling of the value (no sign, no leading zeros), e.g. `"123"`.
/// - [`RequestId::Verbatim`]: any other accepted string spelling, kept as
///   sent: a BigInt suffix (`"123n"`) or leading zeros (`"0123"`).
///
/// Equality and hashing are on the representation, so `Number(5)` and
/// `String(5)` differ; code that pairs a reply with its request (where the
/// client may have changed the spelling) should compare [`RequestId::value`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RequestId {
    /// Sent as a JSON number.
    Number(u64),
    /// Sent as a JSON string in canonical decimal form.
    String(u64),
    /// Sent as a JSON string in a non-canonical form; `text` is echoed as is.
    Verbatim {
        /// The numeric value (the digits without the `n` suffix).
        value: u64,
        /// The original string, without the JSON quotes.
        text: Box<str>,
    },
}

impl RequestId {
    /// The numeric value, whatever the spelling.
    pub fn value(&self) -> u64 {
        match self {
            RequestId::Number(v) | RequestId::String(v) => *v,
            RequestId::Verbatim { value, .. } => *value,
        }
    }

    /// Parses the string form of an id (the text between the JSON quotes).
    ///
    /// Accepts ASCII digits with an optional single trailing `n`, whose value
    /// fits a u64. The canonical spelling becomes [`RequestId::String`];
    /// anything else that passes becomes [`RequestId::Verbatim`].
    pub fn from_string_form(text: &str) -> Result<RequestId> {
        if text.len() > MAX_ID_TEXT_LEN {
            return Err(Error::InvalidRequestId("numeric string too long"));
        }
        let (digits, bigint) = match text.strip_suffix('n') {
            Some(d) => (d, true),
            None => (text, false),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::InvalidRequestId("string is not a decimal integer"));
        }
        let value: u64 = digits
            .parse()
            .map_err(|_| Error::InvalidRequestId("value does not fit in u64"))?;
        let canonical = !bigint && (digits == "0" || !digits.starts_with('0'));
        Ok(if canonical {
            RequestId::String(value)
        } else {
            RequestId::Verbatim {
                value,
                text: text.into(),
            }
        })
    }

    /// Parses an id from its JSON text (`123`, `"123"`, `"123n"`).
    pub fn from_json(json: &str) -> Result<RequestId> {
        Ok(serde_json::from_str(json)?)
    }

    /// The id as JSON text, exactly as it will appear in a frame.
    pub fn to_json(&self) -> String {
        match self {
            RequestId::Number(v) => v.to_string(),
            RequestId::String(v) => format!("\"{v}\""),
            // The text is digits plus an optional `n`: nothing to escape.
            RequestId::Verbatim { text, .. } => format!("\"{text}\""),
        }
    }
}

impl From<u64> for RequestId {
    /// Ids the relay creates itself are plain JSON numbers.
    fn from(v: u64) -> Self {
        RequestId::Number(v)
    }
}

impl fmt::Display for RequestId {
    /// Shows the id as the client spelled it, without JSON quotes (for logs).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestId::Number(v) | RequestId::String(v) => write!(f, "{v}"),
            RequestId::Verbatim { text, .. } => f.write_str(text),
        }
    }
}

impl Serialize for RequestId {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            RequestId::Number(v) => s.serialize_u64(*v),
            RequestId::String(v) => s.collect_str(v),
            RequestId::Verbatim { text, .. } => s.serialize_str(text),
        }
    }
}

impl<'de> Deserialize<'de> for RequestId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(IdVisitor)
    }
}

/// Accepts only serde_json's exact integer path and strings: floats, numbers
/// beyond u64 (which serde_json hands over as `f64`) and negatives fail, so
/// no accepted id ever passes through floating point.
struct IdVisitor;

impl<'de> Visitor<'de> for IdVisitor {
    type Value = RequestId;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a u64 as a JSON number or numeric string")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<RequestId, E> {
        Ok(RequestId::Number(v))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> std::result::Result<RequestId, E> {
        Err(E::custom("request id must not be negative"))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> std::result::Result<RequestId, E> {
        Err(E::custom("request id must be an integer within u64"))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<RequestId, E> {
        RequestId::from_string_form(v).map_err(E::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(json: &str) -> String {
        serde_json::to_string(&RequestId::from_json(json).unwrap()).unwrap()
    }

    #[test]
    fn nineteen_digit_strings_echo_exactly() {
        let json = "\"1795405159459027456\"";
        let id = RequestId::from_json(json).unwrap();
        assert_eq!(id, RequestId::String(1_795_405_159_459_027_456));
        assert_eq!(round_trip(json), json);
        assert_eq!(id.to_json(), json);
    }

    #[test]
    fn numbers_echo_as_numbers() {
        assert_eq!(round_trip("1700000000000"), "1700000000000");
        assert_eq!(round_trip("0"), "0");
        assert_eq!(RequestId::from_json("42").unwrap(), RequestId::Number(42));
    }

    #[test]
    fn u64_max_both_forms() {
        let n = u64::MAX.to_string();
        assert_eq!(
            RequestId::from_json(&n).unwrap(),
            RequestId::Number(u64::MAX)
        );
        assert_eq!(round_trip(&n), n);
        let s = format!("\"{}\"", u64::MAX);
        assert_eq!(
            RequestId::from_json(&s).unwrap(),
            RequestId::String(u64::MAX)
        );
        assert_eq!(round_trip(&s), s);
    }

    #[test]
    fn beyond_u64_rejected() {
        assert!(RequestId::from_json("18446744073709551616").is_err());
        assert!(RequestId::from_json("\"18446744073709551616\"").is_err());
        assert!(RequestId::from_json("1e30").is_err());
    }

    #[test]
    fn floats_and_negatives_rejected() {
        for bad in [
            "1.0", "1.5", "1e3", "-1", "-0", "\"-1\"", "\"1.0\"", "\"1e3\"", "\"+1\"",
        ] {
            assert!(RequestId::from_json(bad).is_err(), "{bad} must be rejected");
        }
    }

    #[test]
    fn other_json_types_rejected() {
        for bad in [
            "null", "true", "[]", "{}", "\"\"", "\" 1\"", "\"1 \"", "\"n\"", "\"1nn\"",
        ] {
            assert!(RequestId::from_json(bad).is_err(), "{bad} must be rejected");
        }
    }

    #[test]
    fn bigint_suffix_is_kept_verbatim() {
        let json = "\"9007199254740993n\"";
        let id = RequestId::from_json(json).unwrap();
        assert_eq!(id.value(), 9_007_199_254_740_993);
        assert!(matches!(id, RequestId::Verbatim { .. }));
        assert_eq!(round_trip(json), json);
        assert_eq!(id.to_string(), "9007199254740993n");
    }

    #[test]
    fn leading_zeros_are_kept_verbatim() {
        let json = "\"007\"";
        let id = RequestId::from_json(json).unwrap();
        assert_eq!(id.value(), 7);
        assert_eq!(round_trip(json), json);
        assert_eq!(
            RequestId::from_json("\"0\"").unwrap(),
            RequestId::String(0),
            "a lone zero is canonical"
        );
    }

    #[test]
    fn escaped_digits_decode_to_canonical_string() {
        // JSON escapes are undone by the parser; the echo is the same JSON
        // string value, written plainly.
        let id = RequestId::from_json("\"\\u0031\\u0032\"").unwrap();
        assert_eq!(id, RequestId::String(12));
    }

    #[test]
    fn overlong_strings_rejected() {
        let long = format!("\"{}1\"", "0".repeat(MAX_ID_TEXT_LEN));
        assert!(RequestId::from_json(&long).is_err());
    }

    #[test]
    fn value_and_display() {
        assert_eq!(RequestId::Number(3).value(), 3);
        assert_eq!(RequestId::String(4).to_string(), "4");
        assert_eq!(RequestId::from(9), RequestId::Number(9));
    }
}
