//! The backend's HTTP port (be_http_port): health, Stream Load and load error logs.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::routing::put;
use serde_json::json;
use tokio::net::TcpListener;

use crate::backend::Backend;

/// The router.
pub(crate) fn router(be: Arc<Backend>) -> Router {
    Router::new()
        .route("/api/health", get(health))
        .route(
            "/api/{db}/{table}/_stream_load",
            put(crate::load::stream_load),
        )
        .route("/api/_load_error_log", get(crate::load::load_error_log))
        .fallback(not_found)
        .with_state(be)
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

async fn not_found() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"status": "FAILED", "msg": "Not Found"})),
    )
}

/// Serves HTTP until shutdown.
pub(crate) async fn serve(be: Arc<Backend>, listener: TcpListener) {
    let mut shutdown = be.shutdown.subscribe();
    let app = router(be);
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = shutdown.wait_for(|s| *s).await;
        })
        .await;
    if let Err(e) = result {
        tracing::error!(%e, "be_http_port server stopped");
    }
}
