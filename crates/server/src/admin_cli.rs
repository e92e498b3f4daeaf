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
    Stats,
}

/// Calls the admin API at `url` (`http://host:port`) and renders the answer.
pub async fn run(url: &str, token: &str, call: AdminCall, json: bool) -> anyhow::Result<String> {
    let authority = url
        .strip_prefix("http://")
        .context("--url must be http://host:port (the admin listener)")?
        .trim_end_matches('/');
    let (method, path) = match &call {
        AdminCall::Client(c) => ("GET", format!("/admin/clients/{c}")),
        AdminCall::Kick { client, code } => {
            ("POST", format!("/admin/clients/{client}/kick?code={code}"))
        }
        AdminCall::Drop(c) => ("DELETE", format!("/admin/clients/{c}")),
        AdminCall::Stats => ("GET", "/admin/stats".to_owned()),
    };
    let stream = tokio::net::TcpStream::connect(authority)
        .await
        .with_context(|| format!("connecting to {authority}"))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let req = Request::builder()
        .method(method)
        .uri(&path)
        .header(HOST, authority)
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
        AdminCall::Kick { .. } | AdminCall::Drop(_) | AdminCall::Stats => value
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
        "  {:<64}  {:>8}  {:>10}\n",
        "topic", "pending", "oldest (s)"
    ));
    for s in &subs {
        let capped = if s["pending_capped"] == Value::Bool(true) {
            "+"
        } else {
            ""
        };
        out.push_str(&format!(
            "  {:<64}  {:>7}{capped:1}  {:>10}\n",
            s["topic"].as_str().unwrap_or("?"),
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
            "  conn {:<8} from {:<40} since {} ms  ua {}\n",
            s["conn_id"],
            s["remote"].as_str().unwrap_or("?"),
            s["since_ms"],
            s["user_agent"].as_str().unwrap_or("-"),
        ));
    }
    out
}
