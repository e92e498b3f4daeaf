//! `did:web` identifiers: web domains as DIDs.
//!
//! Notify JWTs name the app a request concerns as `did:web:<domain>`, for
//! example `did:web:app.example.com`. A port, when present, is written
//! percent-encoded as `%3A` (a bare `:` would start a path), and extra
//! colon-separated parts form a path. Parsing validates the host name so a
//! stored app domain can be compared byte for byte and used in a URL without
//! further escaping.

use std::fmt;

use crate::{Error, Result};

/// Everything before the domain.
const PREFIX: &str = "did:web:";
/// Longest DNS name, in characters, without the trailing dot.
const MAX_HOST_LEN: usize = 253;
/// Longest DNS label.
const MAX_LABEL_LEN: usize = 63;

/// A parsed `did:web`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DidWeb {
    /// The domain exactly as written in the DID, including any
    /// percent-encoded port (`example.com%3A8443`); see [`DidWeb::host`]
    /// and [`DidWeb::port`] for the split form.
    pub domain: String,
    /// The colon-separated path segments after the domain, if any.
    pub path: Vec<String>,
}

impl DidWeb {
    /// Parses and validates a `did:web` string.
    pub fn parse(s: &str) -> Result<Self> {
        let rest = s.strip_prefix(PREFIX).ok_or(Error::DidWebMethod)?;
        let mut parts = rest.split(':');
        let domain = parts.next().unwrap_or_default();
        let (host, port) = split_port(domain)?;
        if !valid_host(host) {
            return Err(Error::DidWebDomain);
        }
        if let Some(port) = port {
            parse_port(port)?;
        }
        let path = parts
            .map(|seg| {
                if valid_path_segment(seg) {
                    Ok(seg.to_owned())
                } else {
                    Err(Error::DidWebPath)
                }
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(DidWeb {
            domain: domain.to_owned(),
            path,
        })
    }

    /// Builds the DID for a bare host name (no port, no path), validating it.
    pub fn from_domain(host: &str) -> Result<Self> {
        if !valid_host(host) {
            return Err(Error::DidWebDomain);
        }
        Ok(DidWeb {
            domain: host.to_owned(),
            path: Vec::new(),
        })
    }

    /// The host name without any port.
    pub fn host(&self) -> &str {
        split_port(&self.domain).map_or(self.domain.as_str(), |(host, _)| host)
    }

    /// The port, if the DID carries one.
    pub fn port(&self) -> Option<u16> {
        let (_, port) = split_port(&self.domain).ok()?;
        parse_port(port?).ok()
    }
}

impl fmt::Display for DidWeb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PREFIX}{}", self.domain)?;
        for seg in &self.path {
            write!(f, ":{seg}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for DidWeb {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        DidWeb::parse(s)
    }
}

/// Splits `host%3Aport` (either case of the escape) into its halves.
fn split_port(domain: &str) -> Result<(&str, Option<&str>)> {
    let lower = domain.to_ascii_lowercase();
    match lower.find("%3a") {
        None => Ok((domain, None)),
        Some(at) => {
            // `lower` has the same byte offsets because only ASCII changed.
            let host = &domain[..at];
            let port = &domain[at + 3..];
            if host.is_empty() {
                return Err(Error::DidWebDomain);
            }
            Ok((host, Some(port)))
        }
    }
}

/// A TCP port written in decimal, 1..=65535, without sign or leading zeros.
fn parse_port(port: &str) -> Result<u16> {
    if port.is_empty() || port.len() > 5 || port.starts_with('0') {
        return Err(Error::DidWebPort);
    }
    if !port.bytes().all(|c| c.is_ascii_digit()) {
        return Err(Error::DidWebPort);
    }
    port.parse::<u16>().map_err(|_| Error::DidWebPort)
}

/// A DNS host name: dot-separated labels of letters, digits and inner
/// hyphens, 1..=63 characters each, at most 253 in all.
fn valid_host(host: &str) -> bool {
    if host.is_empty() || host.len() > MAX_HOST_LEN {
        return false;
    }
    host.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= MAX_LABEL_LEN
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|c| c == b'-' || c.is_ascii_alphanumeric())
    })
}

/// A path segment: unreserved URL characters or percent escapes, and not a
/// dot segment, so that it maps to one URL path component.
fn valid_path_segment(seg: &str) -> bool {
    !seg.is_empty()
        && seg != "."
        && seg != ".."
        && seg
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'%'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_domain() {
        let did = DidWeb::parse("did:web:app.example.com").unwrap();
        assert_eq!(did.domain, "app.example.com");
        assert!(did.path.is_empty());
        assert_eq!(did.host(), "app.example.com");
        assert_eq!(did.port(), None);
        assert_eq!(did.to_string(), "did:web:app.example.com");
        assert_eq!(DidWeb::from_domain("app.example.com").unwrap(), did);
    }

    #[test]
    fn parses_port_and_path() {
        let s = "did:web:localhost%3A8443:user:alice";
        let did = DidWeb::parse(s).unwrap();
        assert_eq!(did.domain, "localhost%3A8443");
        assert_eq!(did.host(), "localhost");
        assert_eq!(did.port(), Some(8443));
        assert_eq!(did.path, vec!["user".to_owned(), "alice".to_owned()]);
        assert_eq!(did.to_string(), s);
        let lower = DidWeb::parse("did:web:example.com%3a3000").unwrap();
        assert_eq!(lower.port(), Some(3000));
        assert_eq!(s.parse::<DidWeb>().unwrap(), did);
    }

    #[test]
    fn wrong_method() {
        for s in [
            "",
            "did:key:z6Mk",
            "did:web",
            "web:example.com",
            "DID:web:a.com",
        ] {
            assert_eq!(DidWeb::parse(s).unwrap_err(), Error::DidWebMethod, "{s}");
        }
    }

    #[test]
    fn bad_domains() {
        let long_label = "a".repeat(64);
        let long_host = vec!["abcdefghi"; 26].join(".");
        assert!(long_host.len() > 253);
        for d in [
            "",
            ".",
            "example..com",
            ".example.com",
            "example.com.",
            "-example.com",
            "example-.com",
            "exa_mple.com",
            "exa mple.com",
            "exämple.com",
            "user@example.com",
            "example.com/path",
            long_label.as_str(),
            long_host.as_str(),
            "%3A80",
        ] {
            let s = format!("did:web:{d}");
            assert_eq!(DidWeb::parse(&s).unwrap_err(), Error::DidWebDomain, "{s}");
            assert!(DidWeb::from_domain(d).is_err());
        }
        let max_label = "a".repeat(63);
        assert!(DidWeb::parse(&format!("did:web:{max_label}.com")).is_ok());
    }

    #[test]
    fn bad_ports() {
        for p in ["", "0", "080", "65536", "99999999", "-1", "+80", "8a"] {
            let s = format!("did:web:example.com%3A{p}");
            assert_eq!(DidWeb::parse(&s).unwrap_err(), Error::DidWebPort, "{s}");
        }
        assert!(DidWeb::parse("did:web:example.com%3A65535").is_ok());
    }

    #[test]
    fn bad_paths() {
        for s in [
            "did:web:example.com:",
            "did:web:example.com::a",
            "did:web:example.com:..",
            "did:web:example.com:a/b",
            "did:web:example.com:a b",
        ] {
            assert_eq!(DidWeb::parse(s).unwrap_err(), Error::DidWebPath, "{s}");
        }
    }
}
