//! The backend's HTTP port (be_http_port): health, metrics (`GET /metrics`, the Prometheus text
//! format, see [`crate::metrics`]; query parameters are ignored), Stream Load, load error logs
//! and replica checksums.
//!
//! `GET /api/checksum?tablet_id=<id>&version=<v>` (StarRocks's BE has an endpoint of this
//! shape) answers the checksum of this backend's replica of a tablet at a version: a hash of
//! the rows visible at `v`, independent of how they are laid out in files (see
//! `storage::StorageEngine::checksum`), so replicas holding the same rows give the same
//! checksum:
//!
//! ```text
//! 200 {"status":"OK","tablet_id":10001,"version":5,"rows":1000,"checksum":"<32 hex digits>"}
//! 4xx {"status":"FAILED","code":<StatusCode number>,"msg":"..."}
//! ```
//!
//! | HTTP | code | when |
//! |---|---|---|
//! | 400 | InvalidArgument (1002) | `tablet_id` or `version` missing, not a number, or negative |
//! | 404 | TabletNotFound (5006) | the tablet is not on this backend |
//! | 409 | VersionNotReached (5007) | `version` is above the replica's version |
//! | 409 | VersionsCompacted (5004) | compaction merged `version` into a rowset reaching past it and the versions inside were removed |
//! | 500 | Io (1005) | a file cannot be read, or the tablet's data directory is missing |
//! | 500 | DataCorrupted (5008) | a rowset file does not match its recorded checksum: the replica is damaged and not served |
//! | 503 | Cancelled (1003) | the backend is stopping |

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::Query;
use axum::extract::State;
use axum::extract::rejection::QueryRejection;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::response::Response;
use axum::routing::get;
use axum::routing::put;
use common::Error;
use serde_json::json;
use tokio::net::TcpListener;

use crate::backend::Backend;

/// The router.
pub(crate) fn router(be: Arc<Backend>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/api/_load_error_log", get(crate::load::load_error_log))
        .route("/api/checksum", get(checksum))
        .route(
            "/api/_debug/clock_offset",
            axum::routing::post(clock_offset),
        )
        // Every page above needs a user; /api/health does not (load balancers), and Stream
        // Load checks its user (and INSERT) through the leader's BeginTxn.
        .route_layer(axum::middleware::from_fn_with_state(
            be.clone(),
            require_user,
        ))
        .route("/api/health", get(health))
        .route(
            "/api/{db}/{table}/_stream_load",
            put(crate::load::stream_load),
        )
        .fallback(not_found)
        .with_state(be)
}

/// How long a password the leader accepted is taken without asking again.
const AUTH_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(30);

/// Credentials the leader accepted lately, by a keyed hash of (user, password, client
/// address): the plain password is not kept.
struct AuthCache {
    keys: std::collections::hash_map::RandomState,
    accepted: std::sync::Mutex<HashMap<u64, std::time::Instant>>,
}

fn auth_cache() -> &'static AuthCache {
    static CACHE: std::sync::OnceLock<AuthCache> = std::sync::OnceLock::new();
    CACHE.get_or_init(|| AuthCache {
        keys: std::collections::hash_map::RandomState::new(),
        accepted: std::sync::Mutex::new(HashMap::new()),
    })
}

fn unauthorized(msg: &str) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(
            axum::http::header::WWW_AUTHENTICATE,
            "Basic realm=\"tessera\"",
        )],
        Json(json!({
            "status": "FAILED",
            "code": common::StatusCode::AccessDenied.number(),
            "msg": msg,
        })),
    )
        .into_response()
}

/// Lets a request through when its HTTP Basic credentials name a user the frontends know
/// (asked of the leader, remembered for [`AUTH_CACHE_TTL`]); 401 otherwise, 503 when no
/// frontend can be asked.
async fn require_user(
    State(be): State<Arc<Backend>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    use std::hash::BuildHasher;
    let Some((user, password)) = crate::load::basic_auth(req.headers()) else {
        return unauthorized(
            "this page needs a user: send HTTP Basic credentials (curl -u user:password)",
        );
    };
    let ip = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let cache = auth_cache();
    let key = cache.keys.hash_one((&user, &password, ip));
    let now = std::time::Instant::now();
    let fresh = {
        let mut m = cache
            .accepted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        m.retain(|_, at| now.duration_since(*at) < AUTH_CACHE_TTL);
        m.contains_key(&key)
    };
    if !fresh {
        // Just started: the leader's first heartbeat (which names it) comes within a
        // heartbeat interval; wait for it rather than refuse.
        let deadline = now + std::time::Duration::from_secs(10);
        while be.master().is_none() && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        match crate::load::fe_client::check_password(&be, &user, &password, ip).await {
            Ok(Ok(())) => {
                cache
                    .accepted
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(key, now);
            }
            Ok(Err(msg)) => return unauthorized(&msg),
            Err(msg) => {
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    Json(json!({
                        "status": "FAILED",
                        "code": common::StatusCode::NoLeader.number(),
                        "msg": msg,
                    })),
                )
                    .into_response();
            }
        }
    }
    next.run(req).await
}

/// `POST /api/_debug/clock_offset?ms=N`: sets the offset added to this backend's clock (the
/// fault-injection suite's clock skew); 403 unless `debug_enable_fault_injection = true`.
async fn clock_offset(
    State(be): State<Arc<Backend>>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Response {
    if !be.config.debug_enable_fault_injection {
        return (
            StatusCode::FORBIDDEN,
            Json(json!({
                "status": "FAILED",
                "code": common::StatusCode::PermissionDenied.number(),
                "msg": "fault injection is off: set debug_enable_fault_injection = true in \
                        be.conf (test clusters only)",
            })),
        )
            .into_response();
    }
    let params = match query {
        Ok(Query(p)) => p,
        Err(e) => {
            return failed(Error::invalid(format!(
                "the query string cannot be read: {e}"
            )));
        }
    };
    let ms = match params.get("ms").map(|v| v.trim().parse::<i64>()) {
        Some(Ok(ms)) => ms,
        _ => {
            return failed(Error::invalid(
                "ms (an integer number of milliseconds) is required: \
                 /api/_debug/clock_offset?ms=<offset>",
            ));
        }
    };
    common::clock::set_offset_ms(ms);
    tracing::warn!(offset_ms = ms, "clock offset changed by the fault injector");
    Json(json!({"status": "OK", "offset_ms": ms})).into_response()
}

/// `GET /metrics`: the Prometheus text exposition format.
async fn metrics(State(be): State<Arc<Backend>>) -> Response {
    let body = be.metrics.render(&be).await;
    (
        [(
            axum::http::header::CONTENT_TYPE,
            common::metrics::CONTENT_TYPE,
        )],
        body,
    )
        .into_response()
}

/// `backend_id` is -1 and `cluster_id` 0 until a heartbeat names them.
async fn health(State(be): State<Arc<Backend>>) -> impl IntoResponse {
    Json(json!({
        "status": "OK",
        "backend_id": be.backend_id().unwrap_or(-1),
        "cluster_id": be.storage.cluster_id().unwrap_or(0),
        "tablets": be.storage.tablet_count(),
        "version": Backend::version(),
        "start_time_ms": be.start_time_ms,
    }))
}

/// The HTTP status of a failed request, by its error's code.
fn http_status(code: common::StatusCode) -> StatusCode {
    use common::StatusCode as C;
    match code {
        C::InvalidArgument => StatusCode::BAD_REQUEST,
        C::TabletNotFound => StatusCode::NOT_FOUND,
        C::VersionNotReached | C::VersionsCompacted => StatusCode::CONFLICT,
        C::Cancelled => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// `{"status":"FAILED","code":..,"msg":..}` with the HTTP status the code calls for.
fn failed(e: Error) -> Response {
    (
        http_status(e.code),
        Json(json!({
            "status": "FAILED",
            "code": e.code.number(),
            "msg": e.message,
        })),
    )
        .into_response()
}

/// A query parameter that must be a non-negative integer.
fn number_param(params: &HashMap<String, String>, name: &str) -> Result<i64, Error> {
    let Some(raw) = params.get(name) else {
        return Err(Error::invalid(format!(
            "missing the {name} parameter: use /api/checksum?tablet_id=<id>&version=<version>"
        )));
    };
    match raw.trim().parse::<i64>() {
        Ok(v) if v >= 0 => Ok(v),
        _ => Err(Error::invalid(format!(
            "{name} must be a non-negative integer, not '{raw}'"
        ))),
    }
}

/// `GET /api/checksum?tablet_id=<id>&version=<v>`: the checksum of this backend's replica of
/// the tablet at that version (see the module doc).
async fn checksum(
    State(be): State<Arc<Backend>>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Response {
    let params = match query {
        Ok(Query(p)) => p,
        Err(e) => {
            return failed(Error::invalid(format!(
                "the query string cannot be read: {e}"
            )));
        }
    };
    let (tablet_id, version) = match (
        number_param(&params, "tablet_id"),
        number_param(&params, "version"),
    ) {
        (Ok(t), Ok(v)) => (t, v),
        (Err(e), _) | (_, Err(e)) => return failed(e),
    };
    match be.blocking(move |s| s.checksum(tablet_id, version)).await {
        Ok(c) => Json(json!({
            "status": "OK",
            "tablet_id": c.tablet_id,
            "version": c.version,
            "rows": c.rows,
            "checksum": c.hex(),
        }))
        .into_response(),
        Err(e) => {
            tracing::debug!(tablet_id, version, "checksum refused: {e}");
            failed(e)
        }
    }
}

async fn not_found() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"status": "FAILED", "msg": "Not Found"})),
    )
}

/// Serves HTTP until shutdown.
/// With `tls` (enable_https) the port serves HTTPS only.
pub(crate) async fn serve(
    be: Arc<Backend>,
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
) {
    let mut shutdown = be.shutdown.subscribe();
    let app = router(be);
    let stop = async move {
        let _ = shutdown.wait_for(|s| *s).await;
    };
    let result = match tls {
        Some(tls) => match common::tls::TlsListener::new(listener, tls, "be_http_port") {
            Ok(l) => axum::serve(l, app).with_graceful_shutdown(stop).await,
            Err(e) => Err(e),
        },
        None => {
            axum::serve(listener, app)
                .with_graceful_shutdown(stop)
                .await
        }
    };
    if let Err(e) = result {
        tracing::error!(%e, "be_http_port server stopped");
    }
}
