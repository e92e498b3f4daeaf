//! Client identities: an Ed25519 key per simulated client and the relay
//! auth JWT that goes with it, built with the shared auth crate exactly as
//! the JS SDK builds it (`aud` = the ws:// URL the client connects to).

use std::time::{SystemTime, UNIX_EPOCH};

use relaybox_auth::{jwt, Keypair};

/// One simulated client: its did:key and the full URL to connect with.
#[derive(Clone, Debug)]
pub struct Identity {
    /// The client id the relay will see (`iss`).
    #[cfg_attr(not(test), allow(dead_code))]
    pub client_id: String,
    /// `base?auth=<jwt>&projectId=relaybox-bench&ua=...`.
    pub url: String,
}

impl Identity {
    /// A fresh key and a 24-hour token for `base` (e.g. `ws://127.0.0.1:8080`).
    pub fn new(base: &str) -> Identity {
        let kp = Keypair::generate();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let claims = jwt::Claims {
            iss: kp.did_key(),
            sub: random_hex32(),
            aud: base.trim_end_matches('/').to_owned(),
            iat: now,
            exp: Some(now + 86_400),
        };
        let token = jwt::sign(&kp, &claims);
        let sep = if base.contains('?') { '&' } else { '?' };
        let root = if base.contains('?') || base.ends_with('/') {
            base.to_owned()
        } else {
            format!("{base}/")
        };
        Identity {
            client_id: claims.iss,
            url: format!(
                "{root}{sep}auth={token}&projectId=relaybox-bench&ua=wc-2%2Frust-relaybox-bench"
            ),
        }
    }
}

fn random_hex32() -> String {
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A random topic, so runs against a long-lived relay never share state.
pub fn random_topic() -> relaybox_proto::Topic {
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    relaybox_proto::Topic::from_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_verifies_for_the_base_url() {
        let id = Identity::new("ws://127.0.0.1:9");
        let token = id
            .url
            .split("auth=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap();
        let opts = jwt::VerifyOptions::with_audiences(["ws://127.0.0.1:9"]);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let v = jwt::verify(token, &opts, now).unwrap();
        assert_eq!(v.claims.iss, id.client_id);
        assert!(id.url.starts_with("ws://127.0.0.1:9/?auth="));
    }
}
