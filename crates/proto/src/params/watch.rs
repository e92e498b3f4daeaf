//! Params of the webhook registration methods. The JWTs are verified by the
//! auth crate; here they are opaque strings.

use serde::{Deserialize, Serialize};

/// `irn_watchRegister` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchRegisterParams {
    /// JWT signed by the watched client (`act: irn_watchRegister`).
    #[serde(rename = "registerAuth")]
    pub register_auth: String,
}

/// `irn_watchUnregister` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchUnregisterParams {
    /// JWT signed by the watched client (`act: irn_watchUnregister`).
    #[serde(rename = "unregisterAuth")]
    pub unregister_auth: String,
}
