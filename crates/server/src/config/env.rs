//! Layering helpers: merge a file's table over the defaults and apply
//! `RELAYBOX_<SECTION>_<KEY>` environment variables, typed by the default's
//! value so that `RELAYBOX_LIMITS_MAX_BATCH=abc` is an error, not a surprise.

use super::ConfigError;

/// Prefix of every environment override.
pub const ENV_PREFIX: &str = "RELAYBOX_";

/// Recursively overlays `top` on `base` (tables merge, everything else replaces).
pub fn merge(base: &mut toml::Value, top: toml::Value) {
    match (base, top) {
        (toml::Value::Table(b), toml::Value::Table(t)) => {
            for (k, v) in t {
                match b.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, t) => *b = t,
    }
}

/// Applies every `RELAYBOX_SECTION_KEY` variable that names a known key.
/// Unknown `RELAYBOX_` variables are an error so that a typo is not silently ignored.
pub fn apply_env(tree: &mut toml::Value, vars: &[(String, String)]) -> Result<(), ConfigError> {
    let toml::Value::Table(root) = tree else {
        return Ok(());
    };
    for (var, raw) in vars {
        let Some(rest) = var.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let rest = rest.to_ascii_lowercase();
        let mut applied = false;
        for (section, table) in root.iter_mut() {
            let Some(key) = rest
                .strip_prefix(section.as_str())
                .and_then(|r| r.strip_prefix('_'))
            else {
                continue;
            };
            let toml::Value::Table(table) = table else {
                continue;
            };
            if let Some(slot) = table.get_mut(key) {
                *slot = typed(slot, raw).map_err(|message| ConfigError::Env {
                    var: var.clone(),
                    message,
                })?;
                applied = true;
                break;
            }
        }
        if !applied && !IGNORED.contains(&var.as_str()) {
            return Err(ConfigError::Env {
                var: var.clone(),
                message: "does not name a configuration key (expected RELAYBOX_<SECTION>_<KEY>, e.g. RELAYBOX_SERVER_LISTEN)".into(),
            });
        }
    }
    Ok(())
}

/// Variables with the prefix that are not configuration keys.
/// Read by other commands (`relaybox admin`) or tools, not by the config.
const IGNORED: &[&str] = &["RELAYBOX_CONFIG", "RELAYBOX_BIN", "RELAYBOX_ADMIN_URL"];

fn typed(current: &toml::Value, raw: &str) -> Result<toml::Value, String> {
    Ok(match current {
        toml::Value::String(_) => toml::Value::String(raw.to_owned()),
        toml::Value::Integer(_) => toml::Value::Integer(
            raw.trim()
                .parse::<i64>()
                .map_err(|_| format!("{raw:?} is not an integer"))?,
        ),
        toml::Value::Boolean(_) => toml::Value::Boolean(match raw.trim() {
            "1" | "true" | "yes" | "on" => true,
            "0" | "false" | "no" | "off" => false,
            _ => return Err(format!("{raw:?} is not a boolean")),
        }),
        toml::Value::Array(_) => toml::Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.to_owned()))
                .collect(),
        ),
        toml::Value::Float(_) => toml::Value::Float(
            raw.trim()
                .parse::<f64>()
                .map_err(|_| format!("{raw:?} is not a number"))?,
        ),
        other => return Err(format!("cannot be set from the environment ({other:?})")),
    })
}
