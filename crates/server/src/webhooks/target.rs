//! Where an event goes: the webhook URL taken apart, the addresses it
//! resolves to checked against the private-network policy, and the POST
//! itself over a connection made to exactly the checked address (so a DNS
//! answer that changes between check and connect cannot slip past it).

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

/// A webhook URL, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub https: bool,
    pub host: String,
    pub port: u16,
    /// Path and query, at least `/`.
    pub path: String,
}

impl Target {
    /// `http(s)://host[:port][/path][?query]`; user info and fragments are
    /// refused (a webhook has no use for them).
    pub fn parse(url: &str) -> Result<Target, String> {
        let (https, rest) = if let Some(r) = url.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("http://") {
            (false, r)
        } else {
            return Err("the URL must start with http:// or https://".into());
        };
        if url.contains('#') {
            return Err("the URL must not have a fragment".into());
        }
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(split);
        if authority.contains('@') {
            return Err("the URL must not carry user info".into());
        }
        let default_port = if https { 443 } else { 80 };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or("unclosed [ in the host")?;
            let port = match after.strip_prefix(':') {
                Some(p) => p.parse().map_err(|_| "bad port")?,
                None if after.is_empty() => default_port,
                None => return Err("bad host".into()),
            };
            (h.to_owned(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), p.parse().map_err(|_| "bad port")?),
                None => (authority.to_owned(), default_port),
            }
        };
        if host.is_empty() || port == 0 {
            return Err("the URL needs a host and a port above 0".into());
        }
        let path = if path.is_empty() {
            "/".to_owned()
        } else if path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_owned()
        };
        Ok(Target {
            https,
            host: host.to_ascii_lowercase(),
            port,
            path,
        })
    }

    /// At registration: refuses a host that is an address (or `localhost`)
    /// the policy does not allow. Names are not resolved here (a DNS
    /// hiccup must not refuse a registration); every send checks what they
    /// resolve to.
    pub fn check_literal(&self, allow_private: bool) -> Result<(), String> {
        if allow_private {
            return Ok(());
        }
        if self.host == "localhost" || self.host.ends_with(".localhost") {
            return Err(format!("{} is not a public host", self.host));
        }
        match self.host.parse::<IpAddr>() {
            Ok(ip) if !is_public(ip) => Err(format!("{ip} is not a public address")),
            _ => Ok(()),
        }
    }

    /// The addresses the host resolves to, refused when any is not public
    /// and `allow_private` is off.
    pub async fn resolve(&self, allow_private: bool) -> Result<Vec<SocketAddr>, String> {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((self.host.as_str(), self.port))
            .await
            .map_err(|e| format!("cannot resolve {}: {e}", self.host))?
            .collect();
        if addrs.is_empty() {
            return Err(format!("{} has no address", self.host));
        }
        if !allow_private {
            if let Some(a) = addrs.iter().find(|a| !is_public(a.ip())) {
                return Err(format!(
                    "{} resolves to {}, which is not a public address",
                    self.host,
                    a.ip()
                ));
            }
        }
        Ok(addrs)
    }
}

/// Whether `ip` is a public unicast address (not loopback, private,
/// link-local, shared, documentation, multicast, unspecified, ...).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_unspecified()
                || v4.is_multicast()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64) // 100.64/10, carrier NAT
                || (o[0] == 192 && o[1] == 0 && o[2] == 0) // 192.0.0/24
                || (o[0] == 198 && (o[1] & 0xfe) == 18) // 198.18/15, benchmarking
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] == 0x2001 && s[1] == 0x0db8)) // documentation
        }
    }
}

/// TLS for https webhooks: rustls on *ring* with the Mozilla roots.
/// (rustls marks its *ring* provider deprecated for lacking post-quantum key
/// exchange; the alternative, aws-lc-rs, needs a C toolchain and cmake to
/// build, and a webhook POST carries nothing that must stay secret for
/// decades.)
#[allow(deprecated)]
fn tls() -> TlsConnector {
    static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    let config = CONFIG.get_or_init(|| {
        let roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        Arc::new(
            ClientConfig::builder_with_provider(Arc::new(
                tokio_rustls::rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .expect("ring supports the default TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth(),
        )
    });
    TlsConnector::from(config.clone())
}

/// POSTs `body` (JSON) to `target` at `addr`; returns the status.
pub async fn post(
    target: &Target,
    addr: SocketAddr,
    body: Bytes,
    timeout: Duration,
) -> Result<StatusCode, String> {
    let exchange = async {
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect {addr}: {e}"))?;
        let _ = tcp.set_nodelay(true);
        if target.https {
            let name = ServerName::try_from(target.host.clone())
                .map_err(|e| format!("bad TLS name {}: {e}", target.host))?;
            let stream = tls()
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS with {}: {e}", target.host))?;
            send(TokioIo::new(stream), target, body).await
        } else {
            send(TokioIo::new(tcp), target, body).await
        }
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| format!("no answer within {} ms", timeout.as_millis()))?
}

async fn send<I>(io: I, target: &Target, body: Bytes) -> Result<StatusCode, String>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let default_port = if target.https { 443 } else { 80 };
    let host = if target.port == default_port {
        target.host.clone()
    } else {
        format!("{}:{}", target.host, target.port)
    };
    let req = Request::post(&target.path)
        .header(HOST, host)
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(body))
        .map_err(|e| format!("building the request: {e}"))?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| format!("POST: {e}"))?;
    let status = resp.status();
    // Read (and drop) the answer so the connection closes cleanly.
    let _ = resp.into_body().collect().await;
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_taken_apart() {
        let t = Target::parse("https://Hooks.Example:8443/a/b?x=1").unwrap();
        assert_eq!(
            t,
            Target {
                https: true,
                host: "hooks.example".into(),
                port: 8443,
                path: "/a/b?x=1".into()
            }
        );
        let t = Target::parse("http://[::1]/h").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("::1", 80, "/h")
        );
        assert_eq!(Target::parse("http://h.example?q").unwrap().path, "/?q");
        for bad in [
            "ftp://h",
            "http://",
            "http://u:p@h/",
            "http://h:x/",
            "http://h/#f",
            "http://h:0/",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_public_addresses_are_public() {
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700::1111"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "224.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn literal_private_hosts_are_refused_at_registration() {
        for url in [
            "http://127.0.0.1/h",
            "http://localhost:8080/",
            "https://[::1]/",
            "http://169.254.169.254/",
        ] {
            let t = Target::parse(url).unwrap();
            assert!(t.check_literal(false).is_err(), "{url}");
            assert!(t.check_literal(true).is_ok(), "{url}");
        }
        let named = Target::parse("https://hooks.example.com/h").unwrap();
        assert!(
            named.check_literal(false).is_ok(),
            "names are checked when sent"
        );
    }

    #[tokio::test]
    async fn private_targets_are_refused_unless_allowed() {
        let t = Target::parse("http://127.0.0.1:9/").unwrap();
        assert!(t.resolve(false).await.is_err());
        assert!(t.resolve(true).await.is_ok());
    }
}
