//! Typed access to claims in a decoded JWT payload, and the time checks.
//!
//! Shared by the relay-auth [`verify`](super::verify) and the Notify
//! verifier so that both report a wrong type, a missing claim and an
//! out-of-window timestamp with the same variants. A JSON `null` counts as
//! absent, which is how the reference Rust implementation (serde `Option`)
//! reads it.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::{Error, Result};

/// Read-only, typed view over a payload object.
#[derive(Clone, Copy)]
pub(crate) struct Fields<'a> {
    map: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    /// Wraps a payload object.
    pub(crate) fn new(map: &'a Map<String, Value>) -> Self {
        Fields { map }
    }

    /// The claim's value, with `null` treated as absent.
    fn get(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    /// An optional string claim.
    pub(crate) fn opt_str(&self, name: &'static str) -> Result<Option<&'a str>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(Error::InvalidClaimType {
                claim: name,
                expected: "a string",
            }),
        }
    }

    /// A required string claim.
    pub(crate) fn req_str(&self, name: &'static str) -> Result<&'a str> {
        self.opt_str(name)?.ok_or(Error::MissingClaim(name))
    }

    /// An optional integer claim (no fractions, no strings, within i64).
    pub(crate) fn opt_i64(&self, name: &'static str) -> Result<Option<i64>> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v.as_i64().map(Some).ok_or(Error::InvalidClaimType {
                claim: name,
                expected: "an integer",
            }),
        }
    }

    /// A required integer claim.
    pub(crate) fn req_i64(&self, name: &'static str) -> Result<i64> {
        self.opt_i64(name)?.ok_or(Error::MissingClaim(name))
    }

    /// An optional boolean claim.
    pub(crate) fn opt_bool(&self, name: &'static str) -> Result<Option<bool>> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v.as_bool().map(Some).ok_or(Error::InvalidClaimType {
                claim: name,
                expected: "a boolean",
            }),
        }
    }

    /// An optional claim of a structured type, decoded with serde.
    pub(crate) fn opt_typed<T: DeserializeOwned>(
        &self,
        name: &'static str,
        expected: &'static str,
    ) -> Result<Option<T>> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => T::deserialize(v)
                .map(Some)
                .map_err(|_| Error::InvalidClaimType {
                    claim: name,
                    expected,
                }),
        }
    }
}

/// Checks `iat`/`exp` against the caller's clock.
///
/// - expired if `now > exp + leeway`;
/// - not yet valid if `iat > now + leeway`;
/// - with no `exp` and `max_age` given: too old if `now > iat + max_age + leeway`;
/// - with `exp` and `max_age` given: too long-lived if `exp - iat > max_age + leeway`.
///
/// Arithmetic is done in `i128` so no claim value can overflow it.
pub(crate) fn check_times(
    iat: i64,
    exp: Option<i64>,
    now: u64,
    leeway: u64,
    max_age: Option<u64>,
) -> Result<()> {
    let now_w = i128::from(now);
    let leeway_w = i128::from(leeway);
    if let Some(exp) = exp {
        if now_w > i128::from(exp) + leeway_w {
            return Err(Error::Expired { exp, now });
        }
    }
    if i128::from(iat) > now_w + leeway_w {
        return Err(Error::NotYetValid { iat, now });
    }
    match (exp, max_age) {
        (None, Some(max_age)) if now_w > i128::from(iat) + i128::from(max_age) + leeway_w => {
            return Err(Error::TooOld { iat, now });
        }
        (Some(exp), Some(max))
            if i128::from(exp) - i128::from(iat) > i128::from(max) + leeway_w =>
        {
            return Err(Error::LifetimeTooLong { iat, exp, max });
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn typed_access() {
        let m = obj(json!({
            "s": "x", "i": 5, "neg": -5, "f": 1.5, "fi": 2.0, "big": u64::MAX,
            "b": true, "n": null, "si": "5"
        }));
        let f = Fields::new(&m);
        assert_eq!(f.req_str("s"), Ok("x"));
        assert_eq!(f.opt_str("missing"), Ok(None));
        assert_eq!(f.opt_str("n"), Ok(None));
        assert_eq!(f.req_str("n"), Err(Error::MissingClaim("n")));
        assert!(matches!(
            f.req_str("i"),
            Err(Error::InvalidClaimType { claim: "i", .. })
        ));
        assert_eq!(f.req_i64("i"), Ok(5));
        assert_eq!(f.req_i64("neg"), Ok(-5));
        for bad in ["f", "fi", "big", "si", "s", "b"] {
            assert!(
                matches!(f.req_i64(bad), Err(Error::InvalidClaimType { .. })),
                "{bad}"
            );
        }
        assert_eq!(f.opt_bool("b"), Ok(Some(true)));
        assert!(f.opt_bool("i").is_err());
        assert_eq!(f.opt_typed::<Vec<u8>>("missing", "bytes"), Ok(None));
        assert!(f.opt_typed::<Vec<u8>>("s", "bytes").is_err());
    }

    #[test]
    fn time_windows() {
        assert_eq!(check_times(100, Some(200), 320, 120, None), Ok(()));
        assert!(matches!(
            check_times(100, Some(200), 321, 120, None),
            Err(Error::Expired { .. })
        ));
        assert_eq!(check_times(220, Some(900), 100, 120, None), Ok(()));
        assert!(matches!(
            check_times(221, Some(900), 100, 120, None),
            Err(Error::NotYetValid { .. })
        ));
        assert_eq!(
            check_times(100, None, 100 + 1000 + 120, 120, Some(1000)),
            Ok(())
        );
        assert!(matches!(
            check_times(100, None, 100 + 1000 + 121, 120, Some(1000)),
            Err(Error::TooOld { .. })
        ));
        assert_eq!(check_times(100, None, u64::MAX, 0, None), Ok(()));
        assert!(check_times(i64::MIN, Some(i64::MAX), u64::MAX, u64::MAX, Some(u64::MAX)).is_ok());
        assert!(check_times(i64::MAX, Some(i64::MIN), 0, u64::MAX, None).is_ok());
    }
}
