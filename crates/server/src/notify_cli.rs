//! `relaybox notify sign|verify`: the Notify JWT claims of seed 002 from the
//! command line, through the relay's own library, so that a Notify server
//! author can produce payloads and check theirs against it.

use anyhow::{bail, Context};
use relaybox_auth::notify::{self, NotifyAct};
use relaybox_auth::Keypair;
use serde_json::{Map, Value};

/// Longest token `verify` reads.
const MAX_TOKEN_BYTES: usize = 64 * 1024;

/// Signs the claims in `claims_json` (a JSON object: `sub` did:pkh, `ksu`,
/// `app`, `aud`, … as the act needs) for `act` with `seed`. `iss`, `act`
/// and `iat` (now, unless given) are filled in, and `exp` = `iat` + the
/// act's TTL unless the object has one.
pub fn sign(seed: &str, act: &str, claims_json: &str, iat: Option<i64>) -> anyhow::Result<String> {
    let kp = Keypair::from_seed_hex(seed).context("--seed must be 64 hex characters")?;
    let act = NotifyAct::parse(act).map_err(|e| anyhow::anyhow!("--act: {e}"))?;
    let mut payload: Map<String, Value> =
        serde_json::from_str(claims_json).context("--claims must be a JSON object")?;
    let iat = iat.unwrap_or_else(|| (crate::now_ms() / 1000) as i64);
    payload.insert("iss".into(), kp.did_key().into());
    payload.insert("act".into(), act.as_str().into());
    payload.entry("iat").or_insert(iat.into());
    let iat = payload["iat"].as_i64().context("iat must be an integer")?;
    payload
        .entry("exp")
        .or_insert((iat + act.ttl_secs() as i64).into());
    payload.entry("mjv").or_insert(notify::DEFAULT_MJV.into());
    let claims = notify::claims_from_json(&payload, act).map_err(|e| anyhow::anyhow!("{e}"))?;
    notify::sign(&kp, &claims).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Verifies `token` as an `act` token at `now` (Unix seconds; default the
/// clock) and prints its claims and the issuer's clock skew.
pub fn verify(token: &str, act: &str, now: Option<u64>) -> anyhow::Result<String> {
    let act = NotifyAct::parse(act).map_err(|e| anyhow::anyhow!("--act: {e}"))?;
    let now = now.unwrap_or_else(|| crate::now_ms() / 1000);
    match notify::verify(token.trim(), act, now, MAX_TOKEN_BYTES) {
        Ok(claims) => Ok(serde_json::json!({
            "valid": true,
            "claims": claims,
            "now": now,
            "clock_skew_secs": claims.iat - now as i64,
        })
        .to_string()),
        Err(e) => bail!("{e} ({}); this machine's clock: {now}", e.reason()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = "58e0254c211b858ef7896b00e3f36beeb13d568d47c6031c4218b87718061295";
    const ACCOUNT: &str = "did:pkh:eip155:1:0x5ccbc5dbb84097463acb6b0382f0254ed6c1cb62";

    fn claims() -> String {
        serde_json::json!({
            "sub": ACCOUNT,
            "ksu": "https://keys.walletconnect.com",
            "app": "did:web:app.example.com",
            "aud": "did:key:z6MkodHZwneVRShtaLf8JKYkxpDGp1vGZnpGmdBpX8M2exxH",
            "scp": "alerts",
        })
        .to_string()
    }

    #[test]
    fn a_signed_token_verifies_for_its_act_only() {
        let token = sign(SEED, "notify_subscription", &claims(), Some(1_700_000_000)).unwrap();
        let out: Value = serde_json::from_str(
            &verify(&token, "notify_subscription", Some(1_700_000_010)).unwrap(),
        )
        .unwrap();
        assert_eq!(out["claims"]["sub"], ACCOUNT);
        assert_eq!(out["clock_skew_secs"], -10);
        let exp = out["claims"]["exp"].as_i64().unwrap();
        let ttl = NotifyAct::parse("notify_subscription").unwrap().ttl_secs() as i64;
        assert_eq!(exp, 1_700_000_000 + ttl, "exp follows the act's TTL");
        let err = verify(&token, "notify_update", Some(1_700_000_010)).unwrap_err();
        assert!(err.to_string().contains("act"), "{err}");
        let late = verify(&token, "notify_subscription", Some(exp as u64 + 3_600)).unwrap_err();
        assert!(late.to_string().contains("expired"), "{late}");
    }

    #[test]
    fn bad_input_is_refused_with_the_reason() {
        assert!(sign(SEED, "no_such_act", &claims(), None).is_err());
        assert!(sign(SEED, "notify_subscription", "[1]", None).is_err());
        let no_sub = serde_json::json!({ "ksu": "https://k" }).to_string();
        assert!(sign(SEED, "notify_subscription", &no_sub, None).is_err());
        let bad_pkh = claims().replace("did:pkh:eip155", "did:pkh:");
        assert!(sign(SEED, "notify_subscription", &bad_pkh, None).is_err());
        assert!(verify("a.b.c", "notify_subscription", None).is_err());
    }
}
