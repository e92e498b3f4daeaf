//! The relay's own Ed25519 key. Its did:key is the `relayId`: what
//! `irn_watchRegister` answers and what signs webhook events, and
//! `GET /public-key` publishes the public half so that services can check
//! those signatures. The key lives with the relay's state, so a restart
//! (or, in cluster mode, another node) signs as the same relay: the seed is
//! `relay.key` in the data directory, created on first start, or kept in
//! Redis; `server.relay_key` in the config overrides both.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::Context;
use relaybox_auth::Keypair;

/// Owner of the relay's signing key.
pub struct RelayIdentity {
    keypair: Keypair,
}

impl RelayIdentity {
    pub fn from_seed(seed: [u8; 32]) -> RelayIdentity {
        RelayIdentity {
            keypair: Keypair::from_seed(seed),
        }
    }

    /// `did:key:z6Mk…`: the relay id.
    pub fn relay_id(&self) -> String {
        self.keypair.did_key()
    }

    /// The 32-byte public key as lowercase hex (`GET /public-key`).
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.keypair.public_key().as_bytes())
    }

    /// The seed (for `relaybox export`, which carries the identity along).
    pub fn seed(&self) -> [u8; 32] {
        self.keypair.seed()
    }

    pub fn keypair(&self) -> &Keypair {
        &self.keypair
    }
}

/// Creates (or truncates) a file only its owner can read: the relay key,
/// and exports, which carry it.
pub fn create_secret(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

/// Parses a configured seed (64 hex characters).
pub fn parse_seed(text: &str) -> anyhow::Result<[u8; 32]> {
    let bytes = hex::decode(text.trim()).context("not hex")?;
    bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!("not 32 bytes (64 hex characters)"))
}

/// The seed kept in `path`; when the file does not exist yet, `fresh`,
/// written there first (readable by the owner only, and durable before it
/// is used).
pub fn seed_in_file(path: &Path, fresh: [u8; 32]) -> anyhow::Result<[u8; 32]> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            return parse_seed(&text).with_context(|| format!("reading {}", path.display()));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    let seed = fresh;
    let tmp = path.with_extension("tmp");
    let mut f = create_secret(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(hex::encode(seed).as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("creating {}", path.display()))?;
    if let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    tracing::info!(path = %path.display(), "generated the relay's signing key");
    Ok(seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_seed_is_created_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("relay.key");
        let first = seed_in_file(&path, [7; 32]).unwrap();
        assert_eq!(first, [7; 32]);
        assert_eq!(seed_in_file(&path, [8; 32]).unwrap(), first, "kept");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let id = RelayIdentity::from_seed(first);
        assert!(id.relay_id().starts_with("did:key:z6Mk"));
        assert_eq!(id.public_key_hex().len(), 64);
    }

    #[test]
    fn bad_seeds_are_refused() {
        assert!(parse_seed("zz").is_err());
        assert!(parse_seed("abcd").is_err());
        assert!(parse_seed(&"ab".repeat(32)).is_ok());
    }
}
