//! Opening one WebSocket to the relay: the client-auth JWT, the URL with its
//! query (`auth`, `projectId`, `ua`, `useOnCloseEvent`), the optional bearer
//! header, and the mapping of refusals onto [`Error`].
//!
//! The JWT is signed anew for every attempt, so a client that stays up for
//! longer than [`crate::ConnectOptions::jwt_ttl`] never presents a stale one.

use std::time::{SystemTime, UNIX_EPOCH};

use relaybox_auth::jwt::{self, Claims};
use relaybox_auth::Keypair;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::error::{Error, Result};
use crate::options::{AuthMode, ConnectOptions};

/// The socket type the connection task owns.
pub(crate) type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Everything needed to dial again: fixed for the life of a client.
#[derive(Clone, Debug)]
pub(crate) struct Dialer {
    /// The URL as the caller gave it.
    url: String,
    keypair: Keypair,
    /// The JWT `sub`: random, fixed per client (as in the JS SDK).
    sub: String,
    options: ConnectOptions,
}

impl Dialer {
    pub(crate) fn new(url: &str, keypair: Keypair, options: ConnectOptions) -> Result<Dialer> {
        let scheme = url.split_once("://").map(|(s, _)| s);
        match scheme {
            Some("ws") => {}
            Some("wss") => {
                return Err(Error::InvalidUrl(format!(
                    "{url}: wss:// needs TLS, which this build does not include"
                )))
            }
            _ => return Err(Error::InvalidUrl(format!("{url}: expected ws://host:port"))),
        }
        let sub = hex::encode(rand::random::<[u8; 32]>());
        let dialer = Dialer {
            url: url.to_owned(),
            keypair,
            sub,
            options,
        };
        // Fail early on a URL the WebSocket layer cannot parse.
        dialer.request(0)?;
        Ok(dialer)
    }

    /// The client id: the key's `did:key`.
    pub(crate) fn client_id(&self) -> String {
        self.keypair.did_key()
    }

    /// The JWT `aud`: the configured audience, else the URL without query or fragment.
    pub(crate) fn audience(&self) -> String {
        match &self.options.audience {
            Some(aud) => aud.clone(),
            None => split_url(&self.url).0.to_owned(),
        }
    }

    /// A freshly signed token, issued at `now` (unix seconds).
    pub(crate) fn token(&self, now: i64) -> String {
        let ttl = i64::try_from(self.options.jwt_ttl.as_secs()).unwrap_or(i64::MAX);
        let claims = Claims {
            iss: self.keypair.did_key(),
            sub: self.sub.clone(),
            aud: self.audience(),
            iat: now,
            exp: Some(now.saturating_add(ttl)),
        };
        jwt::sign(&self.keypair, &claims)
    }

    /// The upgrade request for an attempt at `now` (unix seconds).
    pub(crate) fn request(&self, now: i64) -> Result<Request> {
        let token = self.token(now);
        let (base, query) = split_url(&self.url);
        let mut pairs: Vec<String> = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect();
        let mut add = |k: &str, v: &str| pairs.push(format!("{k}={}", encode(v)));
        if self.options.auth == AuthMode::Query {
            add("auth", &token);
        }
        if let Some(project_id) = &self.options.project_id {
            add("projectId", project_id);
        }
        if let Some(ua) = &self.options.user_agent {
            add("ua", ua);
        }
        if self.options.use_on_close_event {
            add("useOnCloseEvent", "true");
        }
        let mut full = base.to_owned();
        if !full
            .split_once("://")
            .is_some_and(|(_, rest)| rest.contains('/'))
        {
            // `ws://host:port?auth=…` would send `GET ?auth=…`: the path is `/`.
            full.push('/');
        }
        if !pairs.is_empty() {
            full.push('?');
            full.push_str(&pairs.join("&"));
        }
        let mut request = full
            .as_str()
            .into_client_request()
            .map_err(|e| Error::InvalidUrl(format!("{}: {e}", self.url)))?;
        if self.options.auth == AuthMode::Header {
            let value = HeaderValue::from_str(&format!("Bearer {token}"))
                .map_err(|e| Error::InvalidInput(e.to_string()))?;
            request.headers_mut().insert("authorization", value);
        }
        Ok(request)
    }

    /// Opens a socket (TCP + upgrade), bounded by the connect timeout.
    pub(crate) async fn dial(&self) -> Result<Socket> {
        let request = self.request(unix_now())?;
        let attempt = tokio_tungstenite::connect_async_with_config(request, None, true);
        match tokio::time::timeout(self.options.connect_timeout, attempt).await {
            Err(_) => Err(Error::Timeout),
            Ok(Ok((socket, _response))) => Ok(socket),
            Ok(Err(e)) => Err(map_ws_error(e)),
        }
    }

    pub(crate) fn options(&self) -> &ConnectOptions {
        &self.options
    }
}

/// Unix seconds.
pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Splits `url` into (everything before `?`/`#`, the query without `?`).
fn split_url(url: &str) -> (&str, &str) {
    let without_fragment = url.split('#').next().unwrap_or(url);
    match without_fragment.split_once('?') {
        Some((base, query)) => (base, query),
        None => (without_fragment, ""),
    }
}

/// Percent-encodes everything outside RFC 3986's unreserved set.
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Maps a failed connect onto the SDK's errors: 401/403 are auth refusals.
pub(crate) fn map_ws_error(e: WsError) -> Error {
    match e {
        WsError::Http(response) => {
            let status = response.status().as_u16();
            let body = response
                .body()
                .as_deref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            if status == 401 || status == 403 {
                Error::Auth {
                    reason: format!("HTTP {status}: {body}"),
                }
            } else {
                Error::Http { status, body }
            }
        }
        WsError::Url(u) => Error::InvalidUrl(u.to_string()),
        WsError::Io(io) => Error::io(io),
        WsError::ConnectionClosed | WsError::AlreadyClosed => Error::Disconnected,
        other => Error::io(std::io::Error::other(other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use relaybox_auth::jwt::{verify, VerifyOptions};

    fn dialer(url: &str, options: ConnectOptions) -> Dialer {
        let kp = Keypair::from_seed([7; 32]);
        Dialer::new(url, kp, options).unwrap()
    }

    #[test]
    fn query_mode_puts_everything_in_the_url() {
        let d = dialer(
            "ws://127.0.0.1:9/?foo=bar",
            ConnectOptions::default()
                .with_project_id("p 1")
                .with_user_agent("wc-2/rust-1/linux"),
        );
        let req = d.request(1_700_000_000).unwrap();
        let uri = req.uri().to_string();
        assert!(
            uri.starts_with("ws://127.0.0.1:9/?foo=bar&auth=ey"),
            "{uri}"
        );
        let d = dialer("ws://127.0.0.1:9", ConnectOptions::default());
        let req = d.request(1_700_000_000).unwrap();
        assert_eq!(req.uri().path(), "/");
        assert!(req.uri().query().unwrap().starts_with("auth=ey"));
        assert!(uri.contains("&projectId=p%201&"), "{uri}");
        assert!(uri.contains("&ua=wc-2%2Frust-1%2Flinux&"), "{uri}");
        assert!(uri.ends_with("&useOnCloseEvent=true"), "{uri}");
        assert!(req.headers().get("authorization").is_none());
    }

    #[test]
    fn header_mode_sends_a_bearer_token() {
        let mut opts = ConnectOptions::default().with_auth_header();
        opts.user_agent = None;
        opts.use_on_close_event = false;
        let d = dialer("ws://127.0.0.1:9", opts);
        let req = d.request(1_700_000_000).unwrap();
        assert_eq!(req.uri().to_string(), "ws://127.0.0.1:9/");
        let auth = req
            .headers()
            .get("authorization")
            .unwrap()
            .to_str()
            .unwrap();
        let token = auth.strip_prefix("Bearer ").unwrap();
        let opts = VerifyOptions::with_audiences(["ws://127.0.0.1:9"]);
        let verified = verify(token, &opts, 1_700_000_000).unwrap();
        assert_eq!(verified.claims.iss, d.client_id());
        assert_eq!(verified.claims.exp, Some(1_700_000_000 + 86_400));
        assert_eq!(verified.claims.sub.len(), 64);
    }

    #[test]
    fn audience_defaults_to_the_url_without_query() {
        let d = dialer("ws://h:1/path?x=1#frag", ConnectOptions::default());
        assert_eq!(d.audience(), "ws://h:1/path");
        let d = dialer(
            "ws://h:1",
            ConnectOptions::default().with_audience("wss://relay.walletconnect.com"),
        );
        assert_eq!(d.audience(), "wss://relay.walletconnect.com");
    }

    #[test]
    fn bad_urls_are_refused_up_front() {
        let kp = Keypair::from_seed([7; 32]);
        for url in ["http://h:1", "h:1", "wss://relay.example.com", "ws://"] {
            let err = Dialer::new(url, kp.clone(), ConnectOptions::default()).unwrap_err();
            assert!(matches!(err, Error::InvalidUrl(_)), "{url}: {err:?}");
        }
    }
}
