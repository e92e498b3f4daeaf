//! `relaybox serve --dev`: a relay for the CI of wallet and dapp
//! developers. It takes any JWT audience and any project id, keeps its
//! store in a fresh temporary directory that is deleted on exit, lifts the
//! per-IP budgets (a CI job is one address with many clients), lets
//! webhooks call local services, and logs readable text. It refuses a
//! listen address other than loopback unless `--dev-public` says so: these
//! relaxations must never face the Internet by accident.

use std::path::PathBuf;

use super::{Config, ConfigError};

/// What `--dev` set up and must undo on exit.
pub struct DevMode {
    /// The temporary data directory (deleted by [`DevMode::finish`]).
    pub data_dir: PathBuf,
}

impl DevMode {
    /// Deletes the temporary data directory.
    pub fn finish(self) {
        if let Err(e) = std::fs::remove_dir_all(&self.data_dir) {
            eprintln!(
                "relaybox: could not delete {}: {e}",
                self.data_dir.display()
            );
        }
    }
}

impl Config {
    /// Applies `--dev` (see the module doc); `public` is `--dev-public`.
    pub fn apply_dev(&mut self, public: bool) -> Result<DevMode, ConfigError> {
        let addr = self.listen_addr().map_err(|e| {
            ConfigError::Invalid(format!("server.listen {:?}: {e}", self.server.listen))
        })?;
        if !addr.ip().is_loopback() && !public {
            return Err(ConfigError::Invalid(format!(
                "--dev relaxes authentication and limits; it listens on loopback only, not {addr} (add --dev-public to insist)"
            )));
        }
        let data_dir = std::env::temp_dir().join(format!(
            "relaybox-dev-{}-{:016x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&data_dir)
            .map_err(|e| ConfigError::Invalid(format!("creating {}: {e}", data_dir.display())))?;
        self.server.data_dir = data_dir.clone();
        self.auth.any_audience = true;
        self.auth.project_ids.clear();
        self.rate_limit.requests_per_sec_per_ip = 0;
        self.limits.max_connections_per_ip = 0;
        self.limits.handshakes_per_ip_per_sec = 0;
        self.webhooks.allow_private_targets = true;
        self.log.format = super::LogFormat::Text;
        Ok(DevMode { data_dir })
    }

    /// The lines `--dev` prints on stderr before it serves.
    pub fn dev_banner(&self, bound: std::net::SocketAddr) -> String {
        format!(
            "relaybox --dev: FOR DEVELOPMENT AND CI ONLY\n\
             \x20 listening on {}\n\
             \x20 any JWT audience and any project id are accepted\n\
             \x20 per-IP request, socket and handshake limits are off\n\
             \x20 webhooks may call loopback and private addresses\n\
             \x20 data in {} (deleted on exit)",
            bound,
            self.server.data_dir.display()
        )
    }
}
