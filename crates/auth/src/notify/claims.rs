//! The typed Notify claim set, its builder and its per-act rules.
//!
//! One struct covers every act: the shared claims are plain fields, the
//! act-specific ones are `Option`s. [`NotifyClaims::validate`] is the single
//! statement of which options each act requires, used when building,
//! signing and verifying, so a token this crate emits always passes its own
//! verifier.

use super::acts::Needs;
use super::{NotifyAct, NotifyMessage, NotifyServerSubscription};
use crate::did_pkh::DidPkh;
use crate::did_web::DidWeb;
use crate::{Error, Result};

/// Longest allowed `sdk` claim, in characters.
pub const MAX_SDK_LEN: usize = 16;
/// Largest page size a client may ask for (`lmt`).
pub const MAX_LMT: u64 = 50;
/// Most notification ids one mark-as-read request may name (`ids`).
pub const MAX_IDS: usize = 1000;
/// The API major version this crate writes by default.
pub const DEFAULT_MJV: &str = "1";

/// The claims of any Notify JWT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotifyClaims {
    /// What the token is for.
    pub act: NotifyAct,
    /// Signer's did:key.
    pub iss: String,
    /// The account the message concerns.
    pub sub: DidPkh,
    /// Intended verifier's did:key.
    pub aud: Option<String>,
    /// Keys Server URL for identity-key lookup.
    pub ksu: Option<String>,
    /// The app; `None` on a watch request means "all apps".
    pub app: Option<DidWeb>,
    /// Space-separated notification types.
    pub scp: Option<String>,
    /// Subscriptions, on responses and change notices.
    pub sbs: Option<Vec<NotifyServerSubscription>>,
    /// The notification, on wc_notifyMessage.
    pub msg: Option<NotifyMessage>,
    /// API major version, e.g. `"1"`.
    pub mjv: String,
    /// Optional SDK identifier, at most 16 characters.
    pub sdk: Option<String>,
    /// Issued at, unix seconds.
    pub iat: i64,
    /// Expires at, unix seconds (`iat` + the act's TTL when built here).
    pub exp: i64,
    /// Page size (get notifications), at most 50.
    pub lmt: Option<u64>,
    /// Return notifications after this id (get notifications).
    pub aft: Option<String>,
    /// Unread first (get notifications).
    pub urf: Option<bool>,
    /// Notifications page (get notifications response).
    pub nfs: Option<Vec<NotifyMessage>>,
    /// More pages follow (get notifications response).
    pub mre: Option<bool>,
    /// More unread on later pages (get notifications response).
    pub mur: Option<bool>,
    /// Mark all as read (mark-read request).
    pub all: Option<bool>,
    /// Ids to mark read when `all` is false, at most 1000.
    pub ids: Option<Vec<String>>,
}

impl NotifyClaims {
    /// Starts claims for `act`, signed by `iss` (a did:key), about account
    /// `sub`, issued at `iat`. `mjv` defaults to `"1"`; `exp` is set by
    /// [`NotifyClaimsBuilder::build`] from the act's TTL.
    pub fn builder(
        act: NotifyAct,
        iss: impl Into<String>,
        sub: DidPkh,
        iat: i64,
    ) -> NotifyClaimsBuilder {
        NotifyClaimsBuilder {
            claims: NotifyClaims {
                act,
                iss: iss.into(),
                sub,
                aud: None,
                ksu: None,
                app: None,
                scp: None,
                sbs: None,
                msg: None,
                mjv: DEFAULT_MJV.to_owned(),
                sdk: None,
                iat,
                exp: iat,
                lmt: None,
                aft: None,
                urf: None,
                nfs: None,
                mre: None,
                mur: None,
                all: None,
                ids: None,
            },
        }
    }

    /// Checks the act-independent limits and that every claim the act
    /// requires is present. Does not look at time.
    pub fn validate(&self) -> Result<()> {
        if self.mjv.is_empty() {
            return Err(Error::MissingClaim("mjv"));
        }
        if let Some(sdk) = &self.sdk {
            let len = sdk.chars().count();
            if len > MAX_SDK_LEN {
                return Err(Error::SdkTooLong { len });
            }
        }
        for need in self.act.required() {
            if !self.has(*need) {
                return Err(Error::MissingClaim(need.name()));
            }
        }
        if self.lmt.is_some_and(|lmt| lmt > MAX_LMT) {
            return Err(Error::InvalidClaimValue {
                claim: "lmt",
                detail: "at most 50",
            });
        }
        if self.ids.as_ref().is_some_and(|ids| ids.len() > MAX_IDS) {
            return Err(Error::InvalidClaimValue {
                claim: "ids",
                detail: "at most 1000 ids",
            });
        }
        if self.act == NotifyAct::MarkNotificationsAsRead {
            match (self.all, &self.ids) {
                (Some(true), Some(_)) => {
                    return Err(Error::InvalidClaimValue {
                        claim: "ids",
                        detail: "must not be set when all is true",
                    })
                }
                (Some(false), None) => return Err(Error::MissingClaim("ids")),
                _ => {}
            }
        }
        Ok(())
    }

    /// Whether an act-specific claim is present.
    fn has(&self, need: Needs) -> bool {
        match need {
            Needs::Ksu => self.ksu.is_some(),
            Needs::Aud => self.aud.is_some(),
            Needs::App => self.app.is_some(),
            Needs::Scp => self.scp.is_some(),
            Needs::Sbs => self.sbs.is_some(),
            Needs::Msg => self.msg.is_some(),
            Needs::Lmt => self.lmt.is_some(),
            Needs::Urf => self.urf.is_some(),
            Needs::Nfs => self.nfs.is_some(),
            Needs::Mre => self.mre.is_some(),
            Needs::Mur => self.mur.is_some(),
            Needs::All => self.all.is_some(),
        }
    }
}

/// Fluent construction of [`NotifyClaims`]; see [`NotifyClaims::builder`].
#[derive(Clone, Debug)]
#[must_use = "call .build() to get the claims"]
pub struct NotifyClaimsBuilder {
    claims: NotifyClaims,
}

/// Generates one setter per optional claim.
macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $ty:ty;)*) => {$(
        $(#[$doc])*
        pub fn $name(mut self, value: impl Into<$ty>) -> Self {
            self.claims.$name = Some(value.into());
            self
        }
    )*};
}

impl NotifyClaimsBuilder {
    setters! {
        /// Sets `aud`, the intended verifier's did:key.
        aud: String;
        /// Sets `ksu`, the Keys Server URL.
        ksu: String;
        /// Sets `app`, the app's did:web.
        app: DidWeb;
        /// Sets `scp`, space-separated notification types.
        scp: String;
        /// Sets `sbs`, the subscriptions list.
        sbs: Vec<NotifyServerSubscription>;
        /// Sets `msg`, the notification.
        msg: NotifyMessage;
        /// Sets `sdk`, at most 16 characters.
        sdk: String;
        /// Sets `lmt`, the page size (at most 50).
        lmt: u64;
        /// Sets `aft`, the id to page after.
        aft: String;
        /// Sets `urf`, unread first.
        urf: bool;
        /// Sets `nfs`, a page of notifications.
        nfs: Vec<NotifyMessage>;
        /// Sets `mre`, more pages follow.
        mre: bool;
        /// Sets `mur`, more unread follow.
        mur: bool;
        /// Sets `all`, mark everything read.
        all: bool;
        /// Sets `ids`, the notifications to mark read.
        ids: Vec<String>;
    }

    /// Overrides the API major version (default `"1"`).
    pub fn mjv(mut self, mjv: impl Into<String>) -> Self {
        self.claims.mjv = mjv.into();
        self
    }

    /// Sets `exp = iat + act.ttl_secs()` and validates the claim set.
    pub fn build(mut self) -> Result<NotifyClaims> {
        let ttl = i64::try_from(self.claims.act.ttl_secs()).unwrap_or(i64::MAX);
        self.claims.exp = self.claims.iat.saturating_add(ttl);
        self.claims.validate()?;
        Ok(self.claims)
    }
}
