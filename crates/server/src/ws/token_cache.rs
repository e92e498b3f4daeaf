//! Verified client tokens, remembered so a reconnect skips the signature.
//!
//! Clients reuse one auth JWT for its whole lifetime (the JS SDK keeps it a
//! day), and every reconnect would otherwise cost an Ed25519 verification,
//! the largest single cost of a reconnect storm. Only tokens that passed
//! every check are remembered, keyed by the SHA-256 of the whole token, so
//! nobody can plant an entry; the time window is checked again on every
//! hit. The map is bounded: when full it is simply emptied.

use std::sync::Arc;

use dashmap::DashMap;
use relaybox_auth::jwt::VerifyOptions;
use sha2::{Digest, Sha256};

struct Verified {
    client_id: Arc<str>,
    iat: i64,
    exp: Option<i64>,
}

/// Tokens that verified, by digest.
pub struct TokenCache {
    map: DashMap<[u8; 32], Verified>,
    max: usize,
}

impl TokenCache {
    pub fn new(max: usize) -> TokenCache {
        TokenCache {
            map: DashMap::new(),
            max,
        }
    }

    /// The client_id of a token that verified before and is still inside
    /// its time window.
    pub fn get(&self, token: &str, opts: &VerifyOptions, now_secs: u64) -> Option<Arc<str>> {
        let hit = self.map.get(&digest(token))?;
        let now = i128::from(now_secs);
        let leeway = i128::from(opts.leeway_secs);
        let expired = match hit.exp {
            Some(exp) => now > i128::from(exp) + leeway,
            None => now > i128::from(hit.iat) + i128::from(opts.max_age_secs) + leeway,
        };
        (!expired).then(|| hit.client_id.clone())
    }

    /// Remembers a token that passed every check.
    pub fn insert(&self, token: &str, client_id: Arc<str>, iat: i64, exp: Option<i64>) {
        if self.max == 0 {
            return;
        }
        if self.map.len() >= self.max {
            self.map.clear();
        }
        self.map.insert(
            digest(token),
            Verified {
                client_id,
                iat,
                exp,
            },
        );
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_respect_the_time_window_and_the_bound() {
        let opts = VerifyOptions {
            leeway_secs: 0,
            max_age_secs: 100,
            ..VerifyOptions::default()
        };
        let c = TokenCache::new(2);
        c.insert("a.b.c", "did:key:a".into(), 1000, Some(1060));
        assert_eq!(c.get("a.b.c", &opts, 1050).as_deref(), Some("did:key:a"));
        assert_eq!(c.get("a.b.c", &opts, 1061), None);
        assert_eq!(c.get("a.b.d", &opts, 1050), None);
        c.insert("x", "did:key:x".into(), 1000, None);
        assert!(c.get("x", &opts, 1100).is_some());
        assert!(c.get("x", &opts, 1101).is_none());
        c.insert("y", "did:key:y".into(), 1000, None);
        assert!(c.get("a.b.c", &opts, 1050).is_none(), "emptied when full");
    }
}
