//! Starting a backend: address, ports, storage roots, servers, reporter.

use std::net::Ipv4Addr;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::PoisonError;
use std::time::Duration;

use arrow_flight::flight_service_server::FlightServiceServer;
use common::Error;
use common::Result;
use common::StatusCode;
use common::config::be::BeConfig;
use proto::auth;
use proto::auth::TokenGuard;
use proto::backend_service_server::BackendServiceServer;
use proto::heartbeat_service_server::HeartbeatServiceServer;
use storage::StorageEngine;
use storage::StorageOptions;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::backend::Backend;
use crate::flight::FlightServiceImpl;
use crate::heartbeat::HeartbeatServiceImpl;
use crate::service::BackendServiceImpl;

/// How long shutdown waits for the servers to finish their requests.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A running backend.
pub struct BeHandle {
    /// The shared state.
    pub backend: Arc<Backend>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl BeHandle {
    /// Stops the servers and the reporter, then releases the storage roots (their locks and
    /// metadata stores), so the same roots and ports can be used again at once.
    pub async fn shutdown(&self) {
        let _ = self.backend.shutdown.send(true);
        let tasks: Vec<JoinHandle<()>> =
            std::mem::take(&mut *self.tasks.lock().unwrap_or_else(PoisonError::into_inner));
        for mut task in tasks {
            if tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
                .await
                .is_err()
            {
                task.abort();
                let _ = task.await;
            }
        }
        self.backend.storage.close();
        tracing::info!("backend stopped");
    }
}

async fn bind(addr: Ipv4Addr, port: i32, key: &str) -> Result<TcpListener> {
    let sa = SocketAddr::from((addr, port as u16));
    TcpListener::bind(sa).await.map_err(|e| {
        let why = if e.kind() == std::io::ErrorKind::AddrInUse {
            "is already in use (is another backend or program running on this address?)".to_string()
        } else {
            format!("cannot be opened: {e}")
        };
        Error::new(StatusCode::InvalidArgument, format!("{key} {sa} {why}"))
    })
}

/// Starts a backend.
pub async fn start(config: BeConfig) -> Result<BeHandle> {
    config.validate()?;
    // Bad TLS files stop the start here, before any port or storage root is touched.
    let http_tls = config.http_tls()?;
    common::clock::set_offset_ms(config.debug_clock_offset_ms);
    let locals = common::net::local_ipv4_addrs()?;
    let address = common::net::choose_address(&config.priority_networks, "", &locals)?;
    // Take every port before touching the storage roots: a second BE on this address fails
    // cleanly.
    let heartbeat = bind(
        address,
        config.heartbeat_service_port,
        "heartbeat_service_port",
    )
    .await?;
    let be_port = bind(address, config.be_port, "be_port").await?;
    let http = bind(address, config.be_http_port, "be_http_port").await?;
    let brpc = bind(address, config.brpc_port, "brpc_port").await?;

    let roots: Vec<PathBuf> = config
        .storage_roots()?
        .into_iter()
        .map(|r| r.path)
        .collect();
    let options = StorageOptions {
        tablet_max_versions: usize::try_from(config.tablet_max_versions.max(1))
            .unwrap_or(usize::MAX),
        flood_stage: storage::FloodStage {
            usage_percent: i64::from(config.storage_flood_stage_usage_percent),
            left_capacity_bytes: config.storage_flood_stage_left_capacity_bytes,
        },
    };
    let storage = tokio::task::spawn_blocking(move || StorageEngine::open_with(&roots, options))
        .await
        .map_err(|e| Error::internal(format!("storage open task: {e}")))??;
    for bad in storage.corrupt_records() {
        tracing::error!(
            tablet_id = bad.tablet_id,
            root = %bad.root.display(),
            "skipped a damaged tablet metadata record: {}. The replica is not served; it is \
             reported to the frontend as CORRUPTED, which drops it and clones it again from a \
             healthy replica",
            bad.error
        );
    }
    let backend = Arc::new(Backend::new(config, address, Arc::new(storage)));
    let tasks = vec![
        serve_grpc(&backend, heartbeat, "heartbeat_service_port", true),
        serve_grpc(&backend, be_port, "be_port", false),
        serve_grpc(&backend, brpc, "brpc_port", false),
        tokio::spawn(crate::http::serve(backend.clone(), http, http_tls)),
        tokio::spawn(crate::reporter::run(backend.clone())),
        tokio::spawn(crate::compaction::run(backend.clone())),
    ];
    crate::metrics::BeMetrics::spawn_upkeep(&backend);
    spawn_verify_files(&backend);
    let c = &backend.config;
    tracing::info!(
        address = %address,
        heartbeat_service_port = c.heartbeat_service_port,
        be_port = c.be_port,
        be_http_port = c.be_http_port,
        brpc_port = c.brpc_port,
        cluster_id = backend.storage.cluster_id().unwrap_or(0),
        tablets = backend.storage.tablet_count(),
        storage_root_path = %c.storage_root_path,
        "backend started"
    );
    Ok(BeHandle {
        backend,
        tasks: Mutex::new(tasks),
    })
}

/// The check of the cluster token on this backend's gRPC servers: until the first heartbeat
/// stored a token everything but heartbeats is refused. Each refusal is logged (never with a
/// token) and counted in `starrocks_be_node_auth_refused_total`.
fn token_guard(be: &Arc<Backend>) -> TokenGuard {
    let storage = be.storage.clone();
    let be = be.clone();
    TokenGuard::new(
        move || storage.token(),
        move |r| {
            r.log();
            be.metrics.node_auth_refused(r);
        },
    )
}

fn serve_grpc(
    be: &Arc<Backend>,
    listener: TcpListener,
    key: &'static str,
    heartbeat: bool,
) -> JoinHandle<()> {
    let max = proto::MAX_MESSAGE_BYTES;
    // Larger HTTP/2 windows: tablet writes stream megabytes per replica.
    let mut builder = tonic::transport::Server::builder()
        .initial_stream_window_size(Some(2 * 1024 * 1024))
        .initial_connection_window_size(Some(16 * 1024 * 1024));
    let guard = token_guard(be);
    let router = if heartbeat {
        builder.add_service(guard.wrap(
            HeartbeatServiceServer::new(HeartbeatServiceImpl { be: be.clone() }),
            auth::HEARTBEAT_METHODS,
            &["Heartbeat"],
        ))
    } else {
        builder
            .add_service(
                guard.wrap(
                    BackendServiceServer::new(BackendServiceImpl { be: be.clone() })
                        .max_decoding_message_size(max)
                        .max_encoding_message_size(max),
                    auth::BACKEND_METHODS,
                    &[],
                ),
            )
            .add_service(
                guard.wrap(
                    FlightServiceServer::new(FlightServiceImpl::new(be.clone()))
                        .max_decoding_message_size(max)
                        .max_encoding_message_size(max),
                    auth::FLIGHT_METHODS,
                    &[],
                ),
            )
    };
    let mut shutdown = be.shutdown.subscribe();
    tokio::spawn(async move {
        let incoming =
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
        let r = router
            .serve_with_incoming_shutdown(incoming, async move {
                let _ = shutdown.wait_for(|s| *s).await;
            })
            .await;
        if let Err(e) = r {
            tracing::error!(%e, "{key} server stopped");
        }
    })
}

/// Checks every replica's rowset files against their recorded checksums in the background
/// after the start (reads all the data once): a damaged replica is marked CORRUPTED and
/// reported before a query or a clone would read it. Reads check the files they open anyway.
fn spawn_verify_files(be: &Arc<Backend>) {
    let storage = be.storage.clone();
    tokio::task::spawn_blocking(move || {
        let started = std::time::Instant::now();
        let damaged = storage.verify_all();
        if damaged.is_empty() {
            tracing::info!(
                elapsed_ms = started.elapsed().as_millis() as u64,
                "rowset files checked against their checksums: all intact"
            );
        } else {
            tracing::error!(
                elapsed_ms = started.elapsed().as_millis() as u64,
                tablets = ?damaged,
                "rowset files checked against their checksums: damaged replicas found (see above); \
                 they are reported as CORRUPTED and repaired from healthy replicas"
            );
        }
    });
}
