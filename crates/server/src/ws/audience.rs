//! The set of `aud` values the relay accepts in client JWTs.
//!
//! Real clients disagree on the form: the JS SDK sends its relayUrl verbatim
//! (`ws://127.0.0.1:8080`), the Rust client `wss://…`, Notify the http(s)
//! origin. So every configured URL is accepted in its ws, wss, http and https
//! forms, with and without a trailing slash.

use std::collections::HashSet;
use std::net::SocketAddr;

use crate::config::Config;

/// Splits `scheme://host[:port][/path]` into the authority (host and port),
/// accepting only the four schemes clients use. Returns `None` otherwise.
pub fn parse_origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if !matches!(scheme, "ws" | "wss" | "http" | "https") {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() || authority.contains('@') || authority.contains(char::is_whitespace) {
        return None;
    }
    Some(authority.to_owned())
}

/// Inserts all scheme and slash variants of `authority` (host[:port]).
fn insert_variants(set: &mut HashSet<String>, authority: &str) {
    for scheme in ["ws", "wss", "http", "https"] {
        set.insert(format!("{scheme}://{authority}"));
        set.insert(format!("{scheme}://{authority}/"));
    }
}

/// Builds the accepted audience set for a relay bound to `bound`.
pub fn accepted_audiences(config: &Config, bound: SocketAddr) -> HashSet<String> {
    let mut set = HashSet::new();
    for url in &config.server.public_urls {
        if let Some(authority) = parse_origin(url) {
            insert_variants(&mut set, &authority);
        }
        // The exact string too, in case it carries a path the client repeats.
        set.insert(url.clone());
    }
    for aud in &config.auth.audiences {
        set.insert(aud.clone());
    }
    if config.auth.accept_listen_audiences {
        let port = bound.port();
        let ip = bound.ip();
        if ip.is_unspecified() {
            // A wildcard bind: the loopback names are the only ones we can know.
            insert_variants(&mut set, &format!("127.0.0.1:{port}"));
            insert_variants(&mut set, &format!("localhost:{port}"));
            insert_variants(&mut set, &format!("[::1]:{port}"));
        } else {
            insert_variants(&mut set, &bound.to_string());
            if ip.is_loopback() {
                insert_variants(&mut set, &format!("localhost:{port}"));
                insert_variants(&mut set, &format!("127.0.0.1:{port}"));
            }
        }
    }
    set
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_origin_accepts_client_forms() {
        assert_eq!(
            parse_origin("wss://relay.example.com").as_deref(),
            Some("relay.example.com")
        );
        assert_eq!(
            parse_origin("ws://127.0.0.1:18555/").as_deref(),
            Some("127.0.0.1:18555")
        );
        assert_eq!(
            parse_origin("https://r.example:8443/rpc?x=1").as_deref(),
            Some("r.example:8443")
        );
        assert_eq!(parse_origin("ftp://x"), None);
        assert_eq!(parse_origin("wss://"), None);
        assert_eq!(parse_origin("wss://user@host"), None);
        assert_eq!(parse_origin("relay.example.com"), None);
    }

    #[test]
    fn loopback_listen_accepts_what_js_sends() {
        let cfg = Config::default();
        let set = accepted_audiences(&cfg, "127.0.0.1:18555".parse().unwrap());
        for aud in [
            "ws://127.0.0.1:18555",
            "ws://localhost:18555/",
            "wss://127.0.0.1:18555",
            "http://localhost:18555",
        ] {
            assert!(set.contains(aud), "{aud}");
        }
        assert!(!set.contains("ws://127.0.0.1:1"));
        assert!(!set.contains("wss://relay.walletconnect.com"));
    }

    #[test]
    fn public_urls_in_all_forms() {
        let mut cfg = Config::default();
        cfg.server.public_urls = vec!["wss://relay.example.com".into()];
        cfg.auth.accept_listen_audiences = false;
        let set = accepted_audiences(&cfg, "0.0.0.0:80".parse().unwrap());
        assert!(set.contains("https://relay.example.com/"));
        assert!(set.contains("ws://relay.example.com"));
        assert!(!set.contains("ws://127.0.0.1:80"));
    }
}
