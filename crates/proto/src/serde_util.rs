//! Lenient field decoders. Real clients send optional fields as `null`,
//! arbitrary values where the spec says string, and ids as strings; a relay
//! that rejected those would break pairing, so these accept them on purpose.

use std::fmt;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, Deserialize, Deserializer, Visitor};

use crate::id::RequestId;

/// Missing or `null` → `T::default()`; JS may send `prompt`/`tag` as null.
pub(crate) fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A u64 sent as a number or numeric string (`message_id` in receipts),
/// decoded through the same exact path as request ids.
pub(crate) fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    RequestId::deserialize(d).map(|id| id.value())
}

/// String → itself, `null` → `None`, any other JSON value → its compact JSON
/// text. Used where the content is opaque to the relay (`irn_unsubscribe.id`,
/// which SDKs fill with anything, and `data` of a client's error object).
pub(crate) fn loose_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    d.deserialize_any(LooseString)
}

struct LooseString;

impl<'de> Visitor<'de> for LooseString {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(v))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Some(serde_json::Value::from(v).to_string()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        let v = serde_json::Value::deserialize(SeqAccessDeserializer::new(seq))?;
        Ok(Some(v.to_string()))
    }

    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let v = serde_json::Value::deserialize(MapAccessDeserializer::new(map))?;
        Ok(Some(v.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Probe {
        #[serde(default, deserialize_with = "loose_string")]
        s: Option<String>,
        #[serde(default, deserialize_with = "null_as_default")]
        b: bool,
        #[serde(default, deserialize_with = "lenient_u64")]
        n: u64,
    }

    fn probe(json: &str) -> Probe {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn loose_string_accepts_everything() {
        assert_eq!(probe(r#"{"s":"x"}"#).s.as_deref(), Some("x"));
        assert_eq!(probe(r#"{"s":12}"#).s.as_deref(), Some("12"));
        assert_eq!(probe(r#"{"s":-3}"#).s.as_deref(), Some("-3"));
        assert_eq!(probe(r#"{"s":1.5}"#).s.as_deref(), Some("1.5"));
        assert_eq!(probe(r#"{"s":false}"#).s.as_deref(), Some("false"));
        assert_eq!(probe(r#"{"s":[1,"a"]}"#).s.as_deref(), Some(r#"[1,"a"]"#));
        assert_eq!(
            probe(r#"{"s":{"k":null}}"#).s.as_deref(),
            Some(r#"{"k":null}"#)
        );
        assert_eq!(probe(r#"{"s":null}"#).s, None);
        assert_eq!(probe(r#"{}"#).s, None);
    }

    #[test]
    fn null_becomes_default() {
        assert!(!probe(r#"{"b":null}"#).b);
        assert!(probe(r#"{"b":true}"#).b);
    }

    #[test]
    fn lenient_u64_takes_numbers_and_strings() {
        assert_eq!(probe(r#"{"n":7}"#).n, 7);
        assert_eq!(probe(r#"{"n":"7"}"#).n, 7);
        assert!(serde_json::from_str::<Probe>(r#"{"n":-7}"#).is_err());
    }
}
