//! The four endpoints: create (`POST {prefix}`), read (`GET {prefix}/{id}`),
//! answer (`POST {prefix}/ack`) and list (`GET {prefix}?app_identity=...`).
//! Field names are the seed's; see docs/openapi.yaml for the contract.

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::CONTENT_TYPE;
use hyper::{Request, Response, StatusCode};
use relaybox_store::{Answer, ListCursor, ListQuery, NewAttestation, Status, TopicKey};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::error::ApiError;
use super::input::{self, invalid_request_id, valid_request_id, Fields};
use super::{auth, metrics, push};
use crate::relay::Relay;

type Reply = Result<Response<Full<Bytes>>, ApiError>;

/// Listing page size: default and maximum.
pub const LIST_DEFAULT: usize = 50;
pub const LIST_MAX: usize = 100;

fn json(body: &impl Serialize) -> Reply {
    let bytes = serde_json::to_vec(body).map_err(|e| {
        tracing::error!(error = %e, "serializing a response failed");
        ApiError::internal()
    })?;
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(bytes)))
        .expect("static response parts are valid"))
}

/// Stored auth_request text back as raw JSON.
fn raw(text: &str) -> Result<Box<RawValue>, ApiError> {
    RawValue::from_string(text.to_owned()).map_err(|e| {
        tracing::error!(error = %e, "stored auth_request is not JSON");
        ApiError::internal()
    })
}

/// `POST {prefix}`: stores a pending request (idempotent for identical content).
pub async fn create(req: Request<Incoming>, relay: &Relay) -> Reply {
    let cfg = &relay.config.attest;
    let grant = auth::check_api_key(req.headers(), &cfg.api_keys)?;
    input::require_json(req.headers())?;
    let body = input::read_body(req, cfg.max_body_bytes, relay.config.handshake_timeout()).await?;
    let f = Fields::parse(&body)?;
    let now = crate::now_ms();
    let request_id = f.string("request_id")?.filter(|s| !s.is_empty());
    let app_identity = f.string("app_identity")?.filter(|s| !s.is_empty());
    let (Some(request_id), Some(app_identity), Some(auth_request)) =
        (request_id, app_identity, f.raw("auth_request"))
    else {
        return Err(ApiError::bad_request(
            "Invalid request: request_id, app_identity and auth_request are required",
        ));
    };
    if !valid_request_id(&request_id) {
        return Err(invalid_request_id());
    }
    if app_identity.chars().count() > cfg.max_app_identity_chars {
        return Err(ApiError::bad_request(format!(
            "app_identity must be 1 to {} characters",
            cfg.max_app_identity_chars
        )));
    }
    if grant.as_ref().is_some_and(|g| !g.allows(&app_identity)) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "this API key may not create requests for this app_identity",
        ));
    }
    let requested_expiry = f.integer("expires_at")?;
    let expires_at_ms = match requested_expiry {
        Some(t) if t <= now => return Err(ApiError::bad_request("expires_at is in the past")),
        Some(t) => t.min(now.saturating_add(cfg.max_expiry_ms)),
        None => now.saturating_add(cfg.default_expiry_ms),
    };
    let relay_topic = match f.string("relay_topic")? {
        None => None,
        Some(t) => Some(TopicKey::from_hex(&t).ok_or_else(|| {
            ApiError::bad_request("relay_topic must be 64 hexadecimal characters")
        })?),
    };
    // The relay itself writes pushed requests into a WalletConnect topic,
    // prompting the wallet: only for creators it knows by API key.
    if relay_topic.is_some() && grant.is_none() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "relay_topic needs a request authenticated with an API key (attest.api_keys)",
        ));
    }
    let wallet_did = f.string("wallet_did")?;
    if let Some(did) = &wallet_did {
        relaybox_auth::did_key::decode(did)
            .map_err(|_| ApiError::bad_request("wallet_did must be an Ed25519 did:key"))?;
    } else if cfg.require_wallet_jwt {
        return Err(ApiError::bad_request(
            "wallet_did is required: this relay only accepts acks signed by the wallet",
        ));
    }
    let canonical = serde_json::from_str::<Value>(auth_request.get())
        .unwrap_or_else(|_| Value::String(auth_request.get().to_owned()));
    let content = serde_json::json!({
        "app_identity": app_identity,
        "auth_request": canonical,
        "expires_at": requested_expiry,
        "relay_topic": relay_topic.map(|t| t.to_hex()),
        "wallet_did": wallet_did,
    });
    let request = NewAttestation {
        request_id,
        app_identity,
        auth_request: auth_request.get().to_owned(),
        created_at_ms: now,
        expires_at_ms,
        relay_topic,
        wallet_did,
        fingerprint: Sha256::digest(content.to_string().as_bytes()).into(),
    };
    let created = relay.attest.store.create(request, now).await?;
    metrics::stats(relay.attest.store.stats());
    if created.new {
        push::push(relay, &created.record, now).await;
    }
    json(&serde_json::json!({
        "request_id": created.record.request.request_id,
        "status": created.record.status.as_str(),
    }))
}

#[derive(Serialize)]
struct Entry<'a> {
    request_id: &'a str,
    status: &'static str,
    auth_request: Box<RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    credential: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

/// `GET {prefix}/{request_id}`: the seed's fields; 404 unknown, 410 expired.
pub async fn get(relay: &Relay, request_id: &str) -> Reply {
    if !valid_request_id(request_id) {
        return Err(invalid_request_id());
    }
    let rec = relay
        .attest
        .store
        .get(request_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if rec.is_expired(crate::now_ms()) {
        return Err(ApiError::expired());
    }
    json(&Entry {
        request_id: &rec.request.request_id,
        status: rec.status.as_str(),
        auth_request: raw(&rec.request.auth_request)?,
        credential: rec.credential.as_deref(),
        error: rec.error.as_deref(),
    })
}

/// `POST {prefix}/ack`: the first answer wins; 404 unknown, 409 answered, 410 expired.
pub async fn ack(req: Request<Incoming>, relay: &Relay) -> Reply {
    let cfg = &relay.config.attest;
    input::require_json(req.headers())?;
    let headers = cfg.require_wallet_jwt.then(|| req.headers().clone());
    let body = input::read_body(req, cfg.max_body_bytes, relay.config.handshake_timeout()).await?;
    let f = Fields::parse(&body)?;
    let Some(request_id) = f.string("request_id")?.filter(|s| !s.is_empty()) else {
        return Err(ApiError::bad_request("Missing request_id"));
    };
    if !valid_request_id(&request_id) {
        return Err(invalid_request_id());
    }
    let credential = f.string("credential")?.filter(|s| !s.is_empty());
    let error = f.string("error")?.filter(|s| !s.is_empty());
    for (name, value, max) in [
        ("credential", &credential, cfg.max_credential_bytes),
        ("error", &error, cfg.max_error_bytes),
    ] {
        if value.as_ref().is_some_and(|v| v.len() > max) {
            return Err(ApiError::bad_request(format!("{name} exceeds {max} bytes")));
        }
    }
    let now = crate::now_ms();
    let store = &relay.attest.store;
    let rec = store
        .get(&request_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if rec.is_expired(now) {
        return Err(ApiError::expired());
    }
    if let Some(headers) = &headers {
        auth::check_ack_token(headers, relay, &rec)?;
    }
    let answer = match credential {
        Some(credential) => Answer::Approve { credential },
        None => Answer::Deny {
            error: error.unwrap_or_else(|| "denied".to_owned()),
        },
    };
    store.answer(&request_id, answer, now).await?;
    metrics::stats(store.stats());
    json(&serde_json::json!({ "ok": true }))
}

#[derive(Serialize)]
struct Listed<'a> {
    request_id: &'a str,
    app_identity: &'a str,
    status: &'static str,
    auth_request: Box<RawValue>,
    created_at: u64,
    expires_at: u64,
}

#[derive(Serialize)]
struct Listing<'a> {
    requests: Vec<Listed<'a>>,
    next_cursor: Option<String>,
}

/// `GET {prefix}?app_identity=...&status=pending[&limit=N][&cursor=C]`.
pub async fn list(req: Request<Incoming>, relay: &Relay) -> Reply {
    let cfg = &relay.config.attest;
    let (mut app, mut status, mut limit, mut cursor) = (None, None, None, None);
    for (k, v) in input::query_pairs(req.uri().query()) {
        match k.as_str() {
            "app_identity" => app = Some(v),
            "status" => status = Some(v),
            "limit" => limit = Some(v),
            "cursor" => cursor = Some(v),
            _ => {}
        }
    }
    let app = app.filter(|a| !a.is_empty()).ok_or_else(|| {
        ApiError::bad_request("app_identity is required, e.g. ?app_identity=...&status=pending")
    })?;
    if app.chars().count() > cfg.max_app_identity_chars {
        return Err(ApiError::bad_request(format!(
            "app_identity must be 1 to {} characters",
            cfg.max_app_identity_chars
        )));
    }
    if status.is_some_and(|s| Status::parse(&s) != Some(Status::Pending)) {
        return Err(ApiError::bad_request("only status=pending can be listed"));
    }
    let limit = match limit {
        None => LIST_DEFAULT,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=LIST_MAX).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(format!("limit must be an integer from 1 to {LIST_MAX}"))
            })?,
    };
    let after = match cursor.filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(
            ListCursor::from_token(&c).ok_or_else(|| ApiError::bad_request("invalid cursor"))?,
        ),
    };
    let wallet = if cfg.require_wallet_jwt {
        Some(auth::wallet_token(req.headers(), relay)?.claims.iss)
    } else {
        None
    };
    let query = ListQuery {
        app_identity: &app,
        status: Status::Pending,
        wallet_did: wallet.as_deref(),
        after,
        limit,
    };
    let page = relay.attest.store.list(query, crate::now_ms()).await?;
    let mut requests = Vec::with_capacity(page.records.len());
    for rec in &page.records {
        let r = &rec.request;
        requests.push(Listed {
            request_id: &r.request_id,
            app_identity: &r.app_identity,
            status: rec.status.as_str(),
            auth_request: raw(&r.auth_request)?,
            created_at: r.created_at_ms,
            expires_at: r.expires_at_ms,
        });
    }
    json(&Listing {
        requests,
        next_cursor: page.next.map(|c| c.to_token()),
    })
}
