//! JSON parsing that refuses duplicate object keys.
//!
//! `serde_json` quietly keeps the last of two equal keys. Other parsers keep
//! the first, so a token carrying `{"aud":"a","aud":"b"}` could mean
//! different things to the relay and to whatever else reads it. We parse
//! through a small seed-based visitor that rebuilds the
//! [`serde_json::Value`] tree and stops at the first repeated key, at any
//! nesting depth. serde_json's own recursion limit still applies.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::{Error, Result, Segment};

/// Parses `bytes` as a single JSON object with no repeated keys anywhere.
pub(crate) fn parse_object(bytes: &[u8], segment: Segment) -> Result<Map<String, Value>> {
    let duplicate = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = StrictSeed {
        duplicate: &duplicate,
    }
    .deserialize(&mut de)
    .and_then(|value| de.end().map(|()| value));
    match parsed {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Error::NotJsonObject { segment }),
        Err(_) => match duplicate.into_inner() {
            Some(key) => Err(Error::DuplicateKey { segment, key }),
            None => Err(Error::InvalidJson { segment }),
        },
    }
}

/// Deserializes any JSON value, recording the first duplicate key it meets
/// in `duplicate` (out of band, so it survives serde's error type).
#[derive(Clone, Copy)]
struct StrictSeed<'a> {
    duplicate: &'a RefCell<Option<String>>,
}

impl<'de> DeserializeSeed<'de> for StrictSeed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Value, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("non-finite number"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                *self.duplicate.borrow_mut() = Some(key);
                return Err(de::Error::custom("duplicate key"));
            }
            let value = map.next_value_seed(self)?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Segment = Segment::Header;

    #[test]
    fn parses_plain_objects_like_serde_json() {
        let text = br#"{"a":1,"b":[true,null,-2,3.5,"x",{"c":{}}],"d":18446744073709551615}"#;
        let ours = parse_object(text, S).unwrap();
        let theirs: Value = serde_json::from_slice(text).unwrap();
        assert_eq!(Value::Object(ours), theirs);
    }

    #[test]
    fn finds_duplicates_at_any_depth() {
        for (text, key) in [
            (r#"{"a":1,"a":2}"#, "a"),
            (r#"{"a":1,"b":{"c":1,"c":1}}"#, "c"),
            (r#"{"a":[{"x":0},{"y":0,"y":1}]}"#, "y"),
            (r#"{"\u0061":1,"a":2}"#, "a"),
        ] {
            assert_eq!(
                parse_object(text.as_bytes(), S),
                Err(Error::DuplicateKey {
                    segment: S,
                    key: key.to_owned()
                }),
                "{text}"
            );
        }
    }

    #[test]
    fn refuses_non_objects_and_garbage() {
        for text in ["[]", "1", "\"s\"", "null"] {
            assert_eq!(
                parse_object(text.as_bytes(), S),
                Err(Error::NotJsonObject { segment: S })
            );
        }
        for text in [
            &b""[..],
            b"{",
            b"{}x",
            b"{} {}",
            b"{'a':1}",
            b"\xff{}",
            b"{\"a\":\xff}",
        ] {
            assert_eq!(
                parse_object(text, S),
                Err(Error::InvalidJson { segment: S })
            );
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(
            parse_object(deep.as_bytes(), S),
            Err(Error::InvalidJson { segment: S })
        );
    }
}
