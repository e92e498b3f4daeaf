//! The small command-line tools: `keygen` and `token`. They print to stdout
//! and return errors for `main` to report with a non-zero exit.

use anyhow::{bail, Context};
use relaybox_auth::jwt::{self, Claims, VerifyOptions};
use relaybox_auth::Keypair;

/// `relaybox keygen`: a new seed and its did:key.
pub fn keygen() -> String {
    let kp = Keypair::generate();
    serde_json::json!({ "seed": kp.seed_hex(), "did_key": kp.did_key() }).to_string()
}

/// Arguments of `relaybox token`.
#[derive(Debug, Default, Clone)]
pub struct TokenArgs {
    pub seed: Option<String>,
    pub verify: Option<String>,
    pub aud: String,
    pub sub: Option<String>,
    pub iat: Option<i64>,
    pub ttl: i64,
    pub now: Option<u64>,
    pub leeway: u64,
}

/// `relaybox token`: signs a client JWT, or verifies one and prints its claims.
pub fn token(args: &TokenArgs) -> anyhow::Result<String> {
    let now = args.now.unwrap_or_else(|| crate::now_ms() / 1000);
    if let Some(token) = &args.verify {
        let opts = VerifyOptions {
            leeway_secs: args.leeway,
            audiences: Some([args.aud.clone()].into()),
            ..VerifyOptions::default()
        };
        let skew = |iat: i64| iat - now as i64;
        let verified = jwt::verify(token, &opts, now).map_err(|e| match e {
            relaybox_auth::Error::Expired { exp, now } => anyhow::anyhow!(
                "{e} ({}): expired {} s ago by this machine's clock ({now})",
                e.reason(),
                now as i64 - exp
            ),
            relaybox_auth::Error::NotYetValid { iat, .. } => anyhow::anyhow!(
                "{e} ({}): its issuer's clock is {} s ahead of this machine's",
                e.reason(),
                skew(iat)
            ),
            other => anyhow::anyhow!("{other} ({})", other.reason()),
        })?;
        // The claims, and how far the issuer's clock (iat) is from ours.
        let out = serde_json::json!({
            "claims": verified.claims,
            "now": now,
            "clock_skew_secs": skew(verified.claims.iat),
        });
        return Ok(out.to_string());
    }
    let Some(seed) = &args.seed else {
        bail!("either --seed (to sign) or --verify (to check) is required");
    };
    let kp = Keypair::from_seed_hex(seed).context("--seed must be 64 hex characters")?;
    let sub = match &args.sub {
        Some(s) => s.clone(),
        None => Keypair::generate().seed_hex(),
    };
    if args.ttl <= 0 {
        bail!("--ttl must be positive");
    }
    let iat = args.iat.unwrap_or(now as i64);
    let claims = Claims {
        iss: kp.did_key(),
        sub,
        aud: args.aud.clone(),
        iat,
        exp: Some(iat + args.ttl),
    };
    Ok(jwt::sign(&kp, &claims))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = "58e0254c211b858ef7896b00e3f36beeb13d568d47c6031c4218b87718061295";
    const EXPECTED: &str = "eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJkaWQ6a2V5Ono2TWtvZEhad25lVlJTaHRhTGY4SktZa3hwREdwMXZHWm5wR21kQnBYOE0yZXh4SCIsInN1YiI6ImM0NzlmZTVkYzQ2NGU3NzFlNzhiMTkzZDIzOWE2NWI1OGQyNzhjYWQxYzM0YmZiMGI1NzE2ZTViYjUxNDkyOGUiLCJhdWQiOiJ3c3M6Ly9yZWxheS53YWxsZXRjb25uZWN0LmNvbSIsImlhdCI6MTY1NjkxMDA5NywiZXhwIjoxNjU2OTk2NDk3fQ.bAKl1swvwqqV_FgwvD4Bx3Yp987B9gTpZctyBviA-EkAuWc8iI8SyokOjkv9GJESgid4U8Tf2foCgrQp2qrxBA";

    fn seed_args() -> TokenArgs {
        TokenArgs {
            seed: Some(SEED.into()),
            aud: "wss://relay.walletconnect.com".into(),
            sub: Some("c479fe5dc464e771e78b193d239a65b58d278cad1c34bfb0b5716e5bb514928e".into()),
            iat: Some(1_656_910_097),
            ttl: 86_400,
            leeway: 120,
            ..TokenArgs::default()
        }
    }

    #[test]
    fn token_reproduces_the_seed_vector() {
        assert_eq!(token(&seed_args()).unwrap(), EXPECTED);
    }

    #[test]
    fn verify_prints_claims_inside_validity_and_fails_outside() {
        let mut args = TokenArgs {
            verify: Some(EXPECTED.into()),
            aud: "wss://relay.walletconnect.com".into(),
            now: Some(1_656_910_100),
            leeway: 120,
            ..TokenArgs::default()
        };
        let out: serde_json::Value = serde_json::from_str(&token(&args).unwrap()).unwrap();
        assert_eq!(
            out["claims"]["iss"],
            "did:key:z6MkodHZwneVRShtaLf8JKYkxpDGp1vGZnpGmdBpX8M2exxH"
        );
        assert_eq!(out["clock_skew_secs"], -3, "issued 3 s before our clock");
        args.now = Some(1_656_996_497 + 121);
        let err = token(&args).unwrap_err().to_string();
        assert!(err.contains("expired 121 s ago"), "{err}");
        args.now = Some(1_656_910_097 - 500);
        let err = token(&args).unwrap_err().to_string();
        assert!(err.contains("500 s ahead"), "{err}");
        args.now = Some(1_656_996_497 + 121);
        assert!(token(&args).is_err());
        args.now = Some(1_656_910_100);
        args.aud = "wss://other.example".into();
        assert!(token(&args).is_err());
    }

    #[test]
    fn keygen_gives_a_usable_seed() {
        let v: serde_json::Value = serde_json::from_str(&keygen()).unwrap();
        let kp = Keypair::from_seed_hex(v["seed"].as_str().unwrap()).unwrap();
        assert_eq!(kp.did_key(), v["did_key"].as_str().unwrap());
    }
}
