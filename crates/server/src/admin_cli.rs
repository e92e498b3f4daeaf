//! `relaybox admin …`: the admin API from the command line, as a readable
//! table or (`--json`) the API's JSON.

use anyhow::{bail, Context};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::header::{AUTHORIZATION, HOST};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// What to ask.
pub enum AdminCall {
    Client(String),
    Kick { client: String, code: u16 },
    Drop(String),
    Topic(String),
    DeleteTopicMessages(String),
    Stats,
}

/// An HTTP/1 connection to the admin listener at `url`, and its authority.
async fn connect(
    url: &str,
) -> anyhow::Result<(
    hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
    String,
)> {
    let authority = url
        .strip_prefix("http://")
        .context("--url must be http://host:port (the admin listener)")?
        .trim_end_matches('/')
        .to_owned();
    let stream = tokio::net::TcpStream::connect(&authority)
        .await
        .with_context(|| format!("connecting to {authority}"))?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    Ok((sender, authority))
}

/// Streams the answer to `GET path` into `out` (the online export).
pub async fn download(
    url: &str,
    token: &str,
    path: &str,
    out: &mut (impl tokio::io::AsyncWrite + Unpin),
) -> anyhow::Result<()> {
    use tokio::io::AsyncWriteExt;
    let (mut sender, authority) = connect(url).await?;
    let req = Request::builder()
        .method("GET")
        .uri(path)
        .header(HOST, &authority)
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .body(Empty::<Bytes>::new())?;
    let resp = sender.send_request(req).await?;
    let status = resp.status();
    let mut body = resp.into_body();
    if !status.is_success() {
        let text = body.collect().await?.to_bytes();
        bail!("{status}: {}", String::from_utf8_lossy(&text));
    }
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            out.write_all(&data).await?;
        }
    }
    out.flush().await?;
    Ok(())
}

/// Calls the admin API at `url` (`http://host:port`) and renders the answer.
pub async fn run(url: &str, token: &str, call: AdminCall, json: bool) -> anyhow::Result<String> {
    let (method, path) = match &call {
        AdminCall::Client(c) => ("GET", format!("/admin/clients/{c}")),
        AdminCall::Kick { client, code } => {
            ("POST", format!("/admin/clients/{client}/kick?code={code}"))
        }
        AdminCall::Drop(c) => ("DELETE", format!("/admin/clients/{c}")),
        AdminCall::Topic(t) => ("GET", format!("/admin/topics/{t}")),
        AdminCall::DeleteTopicMessages(t) => ("DELETE", format!("/admin/topics/{t}/messages")),
        AdminCall::Stats => ("GET", "/admin/stats".to_owned()),
    };
    let (mut sender, authority) = connect(url).await?;
    let req = Request::builder()
        .method(method)
        .uri(&path)
        .header(HOST, &authority)
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .body(Empty::<Bytes>::new())?;
    let resp = sender.send_request(req).await?;
    let status = resp.status();
    let body = resp.into_body().collect().await?.to_bytes();
    let value: Value = serde_json::from_slice(&body).context("the answer is not JSON")?;
    if !status.is_success() {
        bail!(
            "{status}: {}",
            value["error"].as_str().unwrap_or("no detail")
        );
    }
    if json {
        return Ok(serde_json::to_string_pretty(&value)?);
    }
    Ok(match call {
        AdminCall::Client(_) => client_table(&value),
        AdminCall::Topic(_) => topic_table(&value),
        AdminCall::Kick { .. }
        | AdminCall::Drop(_)
        | AdminCall::DeleteTopicMessages(_)
        | AdminCall::Stats => value
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| format!("{k:<24} {v}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default(),
    })
}

fn client_table(v: &Value) -> String {
    let mut out = format!("client {}\n", v["client_id"].as_str().unwrap_or("?"));
    let subs = v["subscriptions"].as_array().cloned().unwrap_or_default();
    out.push_str(&format!("{} subscription(s)\n", subs.len()));
    out.push_str(&format!(
        "  {:<64}  {:>10}  {:>8}  {:>10}\n",
        "topic", "cursor", "pending", "oldest (s)"
    ));
    for s in &subs {
        let capped = if s["pending_capped"] == Value::Bool(true) {
            "+"
        } else {
            ""
        };
        out.push_str(&format!(
            "  {:<64}  {:>10}  {:>7}{capped:1}  {:>10}\n",
            s["topic"].as_str().unwrap_or("?"),
            s["cursor"],
            s["pending"],
            s["oldest_pending_age_secs"]
                .as_u64()
                .map_or("-".to_owned(), |a| a.to_string()),
        ));
    }
    let sockets = v["sockets"].as_array().cloned().unwrap_or_default();
    out.push_str(&format!("{} open socket(s) on this node\n", sockets.len()));
    for s in &sockets {
        out.push_str(&format!(
            "  conn {:<8} from {:<40} since {} ms  unacked {} ({} B)  ua {}\n",
            s["conn_id"],
            s["remote"].as_str().unwrap_or("?"),
            s["since_ms"],
            s["unacked_pushes"],
            s["unacked_bytes"],
            s["user_agent"].as_str().unwrap_or("-"),
        ));
    }
    out
}

fn topic_table(v: &Value) -> String {
    let secs = |k: &str| v[k].as_u64().map_or("-".to_owned(), |s| format!("{s} s"));
    let mut out = format!("topic {}\n", v["topic"].as_str().unwrap_or("?"));
    out.push_str(&format!(
        "{} live message(s), {} bytes, newest seq {}\n",
        v["messages"], v["bytes"], v["newest_seq"]
    ));
    out.push_str(&format!(
        "oldest {} ago, newest {} ago; first expires in {}, last in {}\n",
        secs("oldest_age_secs"),
        secs("newest_age_secs"),
        secs("first_expiry_in_secs"),
        secs("last_expiry_in_secs"),
    ));
    if let Some(note) = v["subscribers_note"].as_str() {
        out.push_str(&format!("subscribers not listed: {note}\n"));
        return out;
    }
    let subs = v["subscribers"].as_array().cloned().unwrap_or_default();
    let more = if v["subscribers_capped"] == Value::Bool(true) {
        "+"
    } else {
        ""
    };
    out.push_str(&format!("{}{more} subscriber(s)\n", subs.len()));
    for s in &subs {
        out.push_str(&format!(
            "  {:<60}  cursor {:>10}  pending {:>7}\n",
            s["client_id"].as_str().unwrap_or("?"),
            s["cursor"],
            s["pending"],
        ));
    }
    out
}
