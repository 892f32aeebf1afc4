//! The FE's HTTP port: health for load balancers, metrics for Prometheus and StarRocks's
//! `/api/bootstrap`.
//!
//! - `GET /api/health`: 200 `{"status":"OK",...}` while this frontend knows a working leader,
//!   else 503 with `"status"` `NO_LEADER` (none known, or its process is gone) or `NO_QUORUM`
//!   (this frontend leads but has not heard from a quorum of followers lately), so a load
//!   balancer sends clients elsewhere (see `meta::Journal::leader_status`).
//! - `GET /metrics`: every metric in the Prometheus text format (docs/metrics.md); query
//!   parameters are ignored.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::json;
use tokio::net::TcpListener;

use crate::frontend::Frontend;

/// The router.
pub fn router(fe: Arc<Frontend>) -> Router {
    // Everything but /api/health needs a user (see docs/security.md); Stream Load and
    // get_load_state check their own credentials to answer in StarRocks's JSON form.
    let protected = Router::new()
        .route("/metrics", get(metrics))
        .route("/api/bootstrap", get(bootstrap))
        .route(
            "/api/_debug/synthetic_table",
            axum::routing::post(synthetic_table),
        )
        .route(
            "/api/_debug/clock_offset",
            axum::routing::post(clock_offset),
        )
        .merge(crate::console::router())
        .route_layer(axum::middleware::from_fn_with_state(
            fe.clone(),
            require_user,
        ));
    Router::new()
        .route("/api/health", get(health))
        .route(
            "/api/{db}/{table}/_stream_load",
            axum::routing::put(stream_load),
        )
        .route("/api/{db}/get_load_state", get(get_load_state))
        .merge(protected)
        .fallback(not_found)
        // No handler of a frontend reads a request body (a Stream Load's body goes to the
        // backend it is redirected to); should one ever extract a body, it is refused with
        // 413 past this size instead of being buffered.
        .layer(axum::extract::DefaultBodyLimit::max(MAX_REQUEST_BODY_BYTES))
        .with_state(fe)
}

/// Largest request body a frontend handler may read (1 MiB).
pub const MAX_REQUEST_BODY_BYTES: usize = 1 << 20;

/// The client's address, when the server recorded it.
pub fn client_ip(ext: &axum::http::Extensions) -> Option<std::net::IpAddr> {
    ext.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())
}

/// 401 unless the request carries the Basic credentials of a user (any privileges).
async fn require_user(
    State(fe): State<Arc<Frontend>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let ip = client_ip(req.extensions());
    let ok = basic_auth(req.headers())
        .is_some_and(|(u, p)| crate::txn::check_credentials(&fe, &u, &p, ip).is_ok());
    if !ok {
        let mut r = (
            StatusCode::UNAUTHORIZED,
            "Tessera: log in with a MySQL user and password (HTTP Basic, curl -u user:password)\n",
        )
            .into_response();
        r.headers_mut().insert(
            axum::http::header::WWW_AUTHENTICATE,
            axum::http::HeaderValue::from_static("Basic realm=\"tessera\", charset=\"UTF-8\""),
        );
        return r;
    }
    next.run(req).await
}

async fn health(State(fe): State<Arc<Frontend>>) -> impl IntoResponse {
    let leader = fe.journal.leader();
    let status = fe.journal.leader_status().await;
    let body = json!({
        "status": status,
        "role": fe.node.role.as_str(),
        "is_leader": fe.journal.is_leader(),
        "leader": leader.map(|(_, n)| n.addr()),
        "journal_id": fe.journal.applied_index(),
        "term": fe.journal.term(),
        "version": Frontend::version(),
    });
    let code = if body["status"] == "OK" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body))
}

/// `GET /metrics`: the Prometheus text exposition format.
async fn metrics(State(fe): State<Arc<Frontend>>) -> impl IntoResponse {
    let body = fe.metrics.render(&fe);
    (
        [(
            axum::http::header::CONTENT_TYPE,
            common::metrics::CONTENT_TYPE,
        )],
        body,
    )
}

#[derive(serde::Deserialize)]
struct SyntheticParams {
    db: String,
    table: String,
    tablets: u64,
}

/// `POST /api/_debug/synthetic_table?db=D&table=T&tablets=N` (see [`crate::debug`]).
async fn synthetic_table(
    State(fe): State<Arc<Frontend>>,
    query: Result<axum::extract::Query<SyntheticParams>, axum::extract::rejection::QueryRejection>,
) -> impl IntoResponse {
    let p = match query {
        Ok(axum::extract::Query(p)) => p,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(
                    json!({"status": "FAILED", "msg": format!("db, table and tablets are required: {e}")}),
                ),
            );
        }
    };
    match crate::debug::synthetic_table(&fe, &p.db, &p.table, p.tablets).await {
        Ok(parts) => (
            StatusCode::OK,
            Json(json!({"status": "OK", "partitions": parts, "tablets": p.tablets})),
        ),
        Err(e) => {
            let code = if e.code == common::StatusCode::PermissionDenied {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::BAD_REQUEST
            };
            (
                code,
                Json(json!({"status": "FAILED", "code": e.code.number(), "msg": e.message})),
            )
        }
    }
}

#[derive(serde::Deserialize)]
struct ClockParams {
    ms: i64,
}

/// `POST /api/_debug/clock_offset?ms=N`: sets the offset added to this frontend's clock (the
/// fault-injection suite's clock skew); 403 unless `debug_enable_fault_injection = true`.
async fn clock_offset(
    State(fe): State<Arc<Frontend>>,
    query: Result<axum::extract::Query<ClockParams>, axum::extract::rejection::QueryRejection>,
) -> impl IntoResponse {
    if !fe.file_config.debug_enable_fault_injection {
        return (
            StatusCode::FORBIDDEN,
            Json(json!({
                "status": "FAILED",
                "code": common::StatusCode::PermissionDenied.number(),
                "msg": "fault injection is off: set debug_enable_fault_injection = true in \
                        fe.conf (test clusters only)",
            })),
        );
    }
    let p = match query {
        Ok(axum::extract::Query(p)) => p,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({
                    "status": "FAILED",
                    "code": common::StatusCode::InvalidArgument.number(),
                    "msg": format!("ms (an integer number of milliseconds) is required: {e}"),
                })),
            );
        }
    };
    common::clock::set_offset_ms(p.ms);
    tracing::warn!(
        offset_ms = p.ms,
        "clock offset changed by the fault injector"
    );
    (
        StatusCode::OK,
        Json(json!({"status": "OK", "offset_ms": p.ms})),
    )
}

async fn bootstrap(State(fe): State<Arc<Frontend>>) -> impl IntoResponse {
    Json(json!({
        "status": "OK",
        "msg": "Success",
        "replayedJournalId": fe.journal.applied_index(),
        "queryPort": fe.file_config.query_port,
        "rpcPort": fe.file_config.rpc_port,
        "feStartTime": fe.start_time_ms,
        "feVersion": Frontend::version(),
    }))
}

/// Decodes HTTP Basic credentials.
pub fn basic_auth(headers: &axum::http::HeaderMap) -> Option<(String, String)> {
    use base64::Engine;
    let v = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let b64 = v
        .strip_prefix("Basic ")
        .or_else(|| v.strip_prefix("basic "))?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

fn load_error(code: StatusCode, msg: impl Into<String>) -> axum::response::Response {
    (
        code,
        Json(json!({"Status": "FAILED", "Message": msg.into()})),
    )
        .into_response()
}

/// `PUT /api/{db}/{table}/_stream_load`: authenticate, check the table, and redirect (307) to
/// a backend that coordinates the load. The body is never read here.
async fn stream_load(
    State(fe): State<Arc<Frontend>>,
    axum::extract::Path((db, table)): axum::extract::Path<(String, String)>,
    uri: axum::http::Uri,
    ext: axum::http::Extensions,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    let Some((user, password)) = basic_auth(&headers) else {
        let mut r = load_error(
            StatusCode::UNAUTHORIZED,
            "no valid Basic authorization header: use -u user:password",
        );
        r.headers_mut().insert(
            axum::http::header::WWW_AUTHENTICATE,
            axum::http::HeaderValue::from_static("Basic realm=\"tessera\""),
        );
        return r;
    };
    let ip = client_ip(&ext);
    if let Err(e) = crate::txn::check_credentials(&fe, &user, &password, ip) {
        return load_error(StatusCode::UNAUTHORIZED, e.message);
    }
    // The privilege is checked again by begin_txn when the backend begins the load.
    if let Err(e) = crate::txn::check_load(&fe, &user, &password, ip, &db, &table) {
        return load_error(StatusCode::FORBIDDEN, e.message);
    }
    let state = fe.journal.state.read(|s| {
        let c = &s.catalog;
        let Some(d) = c.databases.get(&db) else {
            return Err(format!("Unknown database '{db}'"));
        };
        if !d.tables.contains_key(&table) {
            return Err(format!("Table '{db}.{table}' doesn't exist"));
        }
        let bes: Vec<(String, u16, bool)> = c
            .backends
            .values()
            .filter(|b| b.is_available() && b.status.http_port > 0)
            .map(|b| (b.host.clone(), b.status.http_port, b.status.https))
            .collect();
        Ok(bes)
    });
    let bes = match state {
        Ok(b) => b,
        Err(m) => return load_error(StatusCode::OK, m),
    };
    if bes.is_empty() {
        return load_error(StatusCode::OK, "No backend alive.");
    }
    let Some((host, port, https)) = pick_backend(&fe, &bes).await else {
        return load_error(
            StatusCode::OK,
            "No backend alive: none of the backends accepts connections on its HTTP port.",
        );
    };
    let path_and_query = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| uri.path().to_string());
    // A backend with enable_https serves only HTTPS on its http_port.
    let scheme = if https { "https" } else { "http" };
    let location = format!("{scheme}://{host}:{port}{path_and_query}");
    match axum::http::HeaderValue::from_str(&location) {
        Ok(v) => {
            let mut r = StatusCode::TEMPORARY_REDIRECT.into_response();
            r.headers_mut().insert(axum::http::header::LOCATION, v);
            r
        }
        Err(_) => load_error(
            StatusCode::BAD_REQUEST,
            "the request path cannot be redirected",
        ),
    }
}

#[derive(serde::Deserialize)]
struct LoadStateParams {
    label: Option<String>,
}

/// `GET /api/{db}/get_load_state?label=L` (StarRocks's): the state of the load transaction
/// with that label, as this FE's catalog knows it: `UNKNOWN` (no such label), `PREPARE`,
/// `COMMITTED`, `VISIBLE` or `ABORTED`. Where a label was reused after an abort, the newest
/// transaction answers.
async fn get_load_state(
    State(fe): State<Arc<Frontend>>,
    axum::extract::Path(db): axum::extract::Path<String>,
    query: Result<axum::extract::Query<LoadStateParams>, axum::extract::rejection::QueryRejection>,
    ext: axum::http::Extensions,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    let fail = |code: StatusCode, err: common::StatusCode, msg: String| {
        (
            code,
            Json(json!({"msg": msg, "code": err.number(), "data": null, "count": 0})),
        )
            .into_response()
    };
    let Some((user, password)) = basic_auth(&headers) else {
        let mut r = fail(
            StatusCode::UNAUTHORIZED,
            common::StatusCode::AccessDenied,
            "no valid Basic authorization header: use -u user:password".into(),
        );
        r.headers_mut().insert(
            axum::http::header::WWW_AUTHENTICATE,
            axum::http::HeaderValue::from_static("Basic realm=\"tessera\""),
        );
        return r;
    };
    let account = match crate::txn::check_credentials(&fe, &user, &password, client_ip(&ext)) {
        Ok(a) => a,
        Err(e) => return fail(StatusCode::UNAUTHORIZED, e.code, e.message),
    };
    if !account.can_see_db(&db) {
        return fail(
            StatusCode::FORBIDDEN,
            common::StatusCode::DatabaseAccessDenied,
            format!(
                "Access denied for user {} to database '{db}'",
                account.identity()
            ),
        );
    }
    let label = match query {
        Ok(axum::extract::Query(LoadStateParams { label: Some(l) })) if !l.is_empty() => l,
        _ => {
            return fail(
                StatusCode::BAD_REQUEST,
                common::StatusCode::InvalidArgument,
                "the label parameter is required: /api/{db}/get_load_state?label=L".into(),
            );
        }
    };
    let state = fe.journal.state.read(|s| {
        let c = &s.catalog;
        if !c.databases.contains_key(&db) {
            return Err(format!("Unknown database '{db}'"));
        }
        Ok(c.txns_of(&db)
            .filter(|t| t.label == label)
            .max_by_key(|t| t.id)
            .map(|t| t.status.to_string())
            .unwrap_or_else(|| "UNKNOWN".to_owned()))
    });
    match state {
        Ok(state) => (
            StatusCode::OK,
            Json(json!({"msg": "success", "code": 0, "data": state, "count": 0})),
        )
            .into_response(),
        Err(m) => fail(StatusCode::OK, common::StatusCode::DatabaseNotFound, m),
    }
}

/// Picks a backend for a load, round-robin, skipping one whose HTTP port refuses connections
/// (it died and the heartbeats have not noticed yet).
/// Each backend is `(host, http_port, https)`.
pub async fn pick_backend(
    fe: &Frontend,
    bes: &[(String, u16, bool)],
) -> Option<(String, u16, bool)> {
    if bes.is_empty() {
        return None;
    }
    let start = fe.next_connection_id() as usize;
    for i in 0..bes.len() {
        let (host, port, https) = &bes[(start + i) % bes.len()];
        let addr = format!("{host}:{port}");
        if meta::failover::probe(&addr).await == meta::failover::Probe::Alive {
            return Some((host.clone(), *port, *https));
        }
    }
    None
}

async fn not_found() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"status": "FAILED", "msg": "Not Found"})),
    )
}

/// Serves HTTP until shutdown.
pub async fn serve(fe: Arc<Frontend>, listener: TcpListener) {
    let mut shutdown = fe.shutdown.subscribe();
    let tls = fe.tls.http.clone();
    let app = router(fe);
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let stop = async move {
        let _ = shutdown.changed().await;
    };
    let result = match tls {
        Some(tls) => match common::tls::TlsListener::new(listener, tls, "http_port") {
            // tap_io: axum's ConnectInfo<SocketAddr> comes with any listener wrapped so.
            Ok(l) => {
                use axum::serve::ListenerExt;
                axum::serve(l.tap_io(|_| {}), app)
                    .with_graceful_shutdown(stop)
                    .await
            }
            Err(e) => Err(e),
        },
        None => {
            axum::serve(listener, app)
                .with_graceful_shutdown(stop)
                .await
        }
    };
    if let Err(e) = result {
        tracing::error!(%e, "http server stopped");
    }
}
