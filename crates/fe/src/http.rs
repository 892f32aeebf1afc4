//! The FE's HTTP port: health for load balancers and StarRocks's `/api/bootstrap`.

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
    Router::new()
        .route("/api/health", get(health))
        .route("/api/bootstrap", get(bootstrap))
        .fallback(not_found)
        .with_state(fe)
}

async fn health(State(fe): State<Arc<Frontend>>) -> impl IntoResponse {
    let leader = fe.journal.leader();
    let body = json!({
        "status": if leader.is_some() { "OK" } else { "NO_LEADER" },
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

async fn not_found() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"status": "FAILED", "msg": "Not Found"})),
    )
}

/// Serves HTTP until shutdown.
pub async fn serve(fe: Arc<Frontend>, listener: TcpListener) {
    let mut shutdown = fe.shutdown.subscribe();
    let app = router(fe);
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = shutdown.changed().await;
        })
        .await;
    if let Err(e) = result {
        tracing::error!(%e, "http server stopped");
    }
}
