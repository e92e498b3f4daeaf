//! `relaybox export` and `relaybox import` as commands: opening the
//! configured backend, writing the file safely, and the report printed.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::Stores;
use crate::config::Config;

/// Where an export comes from.
pub enum Source {
    /// The configured backend, opened by this process (sled: the relay must
    /// be stopped; Redis: nodes may keep serving).
    Config(Box<Config>),
    /// A running relay's admin API (`GET /admin/export`): `(url, token)`.
    Admin(String, String),
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

async fn open(config: &Config, fresh_seed: [u8; 32]) -> anyhow::Result<Stores> {
    let (mailbox, attest, _hub, identity, watches) =
        crate::server::open_backend(config, fresh_seed).await?;
    Ok(Stores {
        mailbox,
        attest,
        watches,
        relay_seed: identity.seed(),
        backend: config.store.backend.name(),
    })
}

/// `FILE.partial`, renamed to `FILE` once complete.
fn partial(out: &Path) -> PathBuf {
    let mut name = out.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

/// Writes the export to `out` (0600: it holds the relay key); prints the counts.
pub fn run_export(source: Source, out: &Path) -> anyhow::Result<String> {
    let tmp = partial(out);
    let file = crate::identity::create_secret(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    let rt = runtime()?;
    let report = rt.block_on(async {
        let mut file = tokio::fs::File::from_std(file);
        match source {
            Source::Admin(url, token) => {
                crate::admin_cli::download(&url, &token, "/admin/export", &mut file).await?;
                file.sync_all().await?;
                // The relay streamed it: check it is whole before calling it done.
                super::read_identity(&tmp)?;
                anyhow::Ok(serde_json::json!({ "source": url }))
            }
            Source::Config(config) => {
                let stores = open(&config, rand::random()).await?;
                let report = super::export(&stores, &mut file).await;
                stores.mailbox.close().await.context("closing the store")?;
                file.sync_all().await?;
                Ok(serde_json::to_value(report?)?)
            }
        }
    });
    drop(rt);
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    std::fs::rename(&tmp, out).with_context(|| format!("creating {}", out.display()))?;
    Ok(serde_json::json!({ "written": out.display().to_string(), "report": report }).to_string())
}

/// Loads the export at `file` into the configured backend; prints what it did.
pub fn run_import(config: Config, file: &Path) -> anyhow::Result<String> {
    let seed = super::read_identity(file)?;
    let rt = runtime()?;
    let out = rt.block_on(async {
        let stores = open(&config, seed).await?;
        let result = super::import(file, &stores, config.limits.max_subscriptions_per_client).await;
        stores.mailbox.close().await.context("closing the store")?;
        let report = result?;
        let identity = if stores.relay_seed == seed {
            "imported (or already the same)"
        } else {
            "kept: the target already has its own relay key (server.relay_key, relay.key or Redis)"
        };
        anyhow::Ok(serde_json::json!({ "report": report, "relay_key": identity }))
    });
    drop(rt);
    Ok(out?.to_string())
}
