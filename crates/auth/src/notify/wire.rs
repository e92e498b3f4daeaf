//! Converting [`NotifyClaims`] to and from the JWT payload object.
//!
//! Written by hand rather than derived so that reading reports the exact
//! claim at fault with the crate's own error variants, DIDs are parsed into
//! their typed forms, and the watch request's `app` is written as an
//! explicit `null` ("all apps") as the protocol describes.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use super::{NotifyAct, NotifyClaims};
use crate::did_pkh::DidPkh;
use crate::did_web::DidWeb;
use crate::jwt::Fields;
use crate::Result;

impl Serialize for NotifyClaims {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        /// Writes `key: value` only when the value is present.
        fn put<M: SerializeMap, T: Serialize>(
            map: &mut M,
            key: &str,
            value: &Option<T>,
        ) -> Result<(), M::Error> {
            match value {
                Some(v) => map.serialize_entry(key, v),
                None => Ok(()),
            }
        }

        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("act", self.act.as_str())?;
        map.serialize_entry("iss", &self.iss)?;
        map.serialize_entry("sub", &self.sub.to_string())?;
        put(&mut map, "aud", &self.aud)?;
        put(&mut map, "ksu", &self.ksu)?;
        match &self.app {
            Some(app) => map.serialize_entry("app", &app.to_string())?,
            None if self.act == NotifyAct::WatchSubscriptions => {
                map.serialize_entry("app", &Value::Null)?
            }
            None => {}
        }
        put(&mut map, "scp", &self.scp)?;
        put(&mut map, "sbs", &self.sbs)?;
        put(&mut map, "msg", &self.msg)?;
        put(&mut map, "lmt", &self.lmt)?;
        put(&mut map, "aft", &self.aft)?;
        put(&mut map, "urf", &self.urf)?;
        put(&mut map, "nfs", &self.nfs)?;
        put(&mut map, "mre", &self.mre)?;
        put(&mut map, "mur", &self.mur)?;
        put(&mut map, "all", &self.all)?;
        put(&mut map, "ids", &self.ids)?;
        map.serialize_entry("mjv", &self.mjv)?;
        put(&mut map, "sdk", &self.sdk)?;
        map.serialize_entry("iat", &self.iat)?;
        map.serialize_entry("exp", &self.exp)?;
        map.end()
    }
}

/// Reads the claims of an already signature-checked payload whose `act`
/// has been parsed as `act`. Checks types and DID syntax, not per-act rules.
pub(crate) fn from_payload(payload: &Map<String, Value>, act: NotifyAct) -> Result<NotifyClaims> {
    let f = Fields::new(payload);
    let own = |s: Option<&str>| s.map(str::to_owned);
    Ok(NotifyClaims {
        act,
        iss: f.req_str("iss")?.to_owned(),
        sub: DidPkh::parse(f.req_str("sub")?)?,
        aud: own(f.opt_str("aud")?),
        ksu: own(f.opt_str("ksu")?),
        app: f.opt_str("app")?.map(DidWeb::parse).transpose()?,
        scp: own(f.opt_str("scp")?),
        sbs: f.opt_typed("sbs", "an array of Notify Server subscriptions")?,
        msg: f.opt_typed("msg", "a Notify message object")?,
        mjv: f.req_str("mjv")?.to_owned(),
        sdk: own(f.opt_str("sdk")?),
        iat: f.req_i64("iat")?,
        exp: f.req_i64("exp")?,
        lmt: f.opt_typed("lmt", "a non-negative integer")?,
        aft: own(f.opt_str("aft")?),
        urf: f.opt_bool("urf")?,
        nfs: f.opt_typed("nfs", "an array of Notify messages")?,
        mre: f.opt_bool("mre")?,
        mur: f.opt_bool("mur")?,
        all: f.opt_bool("all")?,
        ids: f.opt_typed("ids", "an array of strings")?,
    })
}
