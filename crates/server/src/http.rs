//! HTTP routes on the relay's port: health, readiness, Prometheus metrics,
//! the attestation endpoints under `attest.prefix` (see `crate::attest`),
//! and the WebSocket upgrade on any other path. Every error is a JSON body.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::CONTENT_TYPE;
use hyper::{Method, Request, Response, StatusCode};

use crate::relay::Relay;
use crate::ws;

/// A JSON response with the given status.
pub fn json_response(status: StatusCode, body: serde_json::Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("static response parts are valid")
}

/// A response body: a whole JSON document, or (the admin export) a stream.
pub type Body = crate::admin::AdminBody;

/// Serves one request. `admin_only` listeners answer only the operational routes.
pub async fn handle(
    req: Request<Incoming>,
    relay: Arc<Relay>,
    admin_only: bool,
    peer: SocketAddr,
) -> Result<Response<Body>, Infallible> {
    if req.uri().path().starts_with("/admin/") {
        // Only on the admin listener: the public port does not know it.
        return Ok(if admin_only {
            crate::admin::handle(req, relay).await
        } else {
            boxed(not_found())
        });
    }
    Ok(boxed(handle_whole(req, relay, admin_only, peer).await))
}

/// A whole-body response as a [`Body`].
pub(crate) fn boxed(resp: Response<Full<Bytes>>) -> Response<Body> {
    resp.map(|b| b.map_err(|never| match never {}).boxed())
}

/// Every route but the admin API: answers with a whole body.
async fn handle_whole(
    req: Request<Incoming>,
    relay: Arc<Relay>,
    admin_only: bool,
    peer: SocketAddr,
) -> Response<Full<Bytes>> {
    if !admin_only && crate::attest::routes(&relay, req.uri().path()) {
        return crate::attest::handle(req, relay, peer).await;
    }
    if !admin_only && req.uri().path() == "/rpc" {
        if req.method() != Method::POST {
            return method_not_allowed();
        }
        return crate::rpc_http::handle(req, relay, peer).await;
    }
    let path = req.uri().path();
    let get = req.method() == Method::GET;
    match path {
        "/health" if get => json_response(StatusCode::OK, serde_json::json!({ "status": "ok" })),
        "/ready" if get => {
            // Ready while taking clients and while the store answers (with
            // Redis: Redis is reachable and this node's pub/sub is up).
            let store_ok = relay.store.health().await.is_ok();
            if relay.readiness.get() && store_ok {
                json_response(StatusCode::OK, serde_json::json!({ "ready": true }))
            } else {
                json_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    serde_json::json!({ "ready": false, "store": if store_ok { "ok" } else { "unavailable" } }),
                )
            }
        }
        // Metrics can be kept off the public port (server.metrics_admin_only).
        "/metrics" if !admin_only && relay.config.server.metrics_admin_only => not_found(),
        "/metrics" if get => Response::builder()
            .status(StatusCode::OK)
            .header(CONTENT_TYPE, "text/plain; version=0.0.4")
            .body(Full::new(Bytes::from(relay.metrics.render())))
            .expect("static response parts are valid"),
        "/health" | "/ready" | "/metrics" => method_not_allowed(),
        _ if admin_only => not_found(),
        // The key that signs webhook events, for services to verify them.
        "/public-key" if get => Response::builder()
            .status(StatusCode::OK)
            .header(CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(Full::new(Bytes::from(relay.identity.public_key_hex())))
            .expect("static response parts are valid"),
        "/public-key" => method_not_allowed(),
        "/echo"
            if relay.config.server.test_echo_endpoint
                && ws::handshake::is_upgrade(req.headers()) =>
        {
            ws::echo::handle(req, relay)
        }
        _ if ws::handshake::is_upgrade(req.headers()) => ws::upgrade::handle(req, relay, peer),
        _ if get => json_response(
            StatusCode::UPGRADE_REQUIRED,
            serde_json::json!({ "error": "this endpoint speaks WebSocket: send an Upgrade request with a JWT" }),
        ),
        _ => not_found(),
    }
}

fn not_found() -> Response<Full<Bytes>> {
    json_response(
        StatusCode::NOT_FOUND,
        serde_json::json!({ "error": "not found" }),
    )
}

fn method_not_allowed() -> Response<Full<Bytes>> {
    json_response(
        StatusCode::METHOD_NOT_ALLOWED,
        serde_json::json!({ "error": "method not allowed" }),
    )
}
