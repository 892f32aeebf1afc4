//! A backend started in-process with StarRocks's default ports, driven with the generated gRPC
//! clients, reporting to a fake leader FE.
//!
//! Every test holds the testkit's machine-wide lock (the cluster tests use the same ports), so
//! the tests run one at a time. The addresses (127.0.0.61 for the backend, .62 for the fake FE)
//! stay clear of the playground's and the cluster tests' 127.0.0.1-9.

use std::io::Read;
use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::path::PathBuf;
use std::time::Duration;

use tessera_be as be;

use be::BeHandle;
use common::config::be::BeConfig;
use common::schema::ColumnSchema;
use common::schema::DataType;
use common::schema::KeysType;
use common::schema::TableSchema;
use proto::BackendHeartbeatReply;
use proto::BackendHeartbeatRequest;
use proto::CLUSTER_ID_HEADER;
use proto::CreateTabletRequest;
use proto::DropTabletRequest;
use proto::ListTabletsRequest;
use proto::TabletReport;
use proto::TaskReply;
use proto::backend_service_client::BackendServiceClient;
use proto::frontend_service_server::FrontendService;
use proto::frontend_service_server::FrontendServiceServer;
use proto::heartbeat_service_client::HeartbeatServiceClient;
use tokio::sync::mpsc;
use tonic::Code;
use tonic::Request;
use tonic::Response;
use tonic::Status;
use tonic::transport::Channel;

mod checksum;
mod clone;
mod compaction;
mod disk_full;
mod flight;
mod load;
mod load_columns;

const CLUSTER: i32 = 1234;
/// The backend's address.
const BE: &str = "127.0.0.61";
const FAKE_FE: &str = "127.0.0.62";
const FAKE_FE_RPC_PORT: u16 = 9020;
const WAIT: Duration = Duration::from_secs(10);

/// The testkit's machine-wide lock, held for the whole test.
fn machine_lock() -> std::fs::File {
    let path = std::env::temp_dir().join("tessera-testkit.lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .expect("open the testkit lock");
    f.lock().expect("take the testkit lock");
    f
}

fn config(dir: &Path) -> BeConfig {
    BeConfig {
        priority_networks: format!("{BE}/32"),
        storage_root_path: format!(
            "{};{},medium:ssd",
            dir.join("s1").display(),
            dir.join("s2").display()
        ),
        sys_log_dir: dir.join("log").display().to_string(),
        ..BeConfig::default()
    }
}

fn roots(dir: &Path) -> [PathBuf; 2] {
    [dir.join("s1"), dir.join("s2")]
}

async fn start(dir: &Path) -> BeHandle {
    be::start(config(dir)).await.expect("the backend starts")
}

fn schema() -> TableSchema {
    TableSchema {
        columns: vec![ColumnSchema {
            name: "k".into(),
            data_type: DataType::BigInt,
            nullable: false,
            is_key: true,
            default: None,
            comment: String::new(),
        }],
        keys_type: KeysType::Duplicate,
        distribution_columns: vec!["k".into()],
        buckets: 1,
        schema_version: 0,
    }
}

fn hb(cluster_id: i32, host: &str, epoch: u64) -> BackendHeartbeatRequest {
    BackendHeartbeatRequest {
        cluster_id,
        token: "t".into(),
        backend_id: 10_001,
        backend_host: host.into(),
        leader_host: FAKE_FE.into(),
        leader_rpc_port: u32::from(FAKE_FE_RPC_PORT),
        epoch,
        fe_clock_ms: common::clock::now_ms(),
        report_interval_seconds: 60,
    }
}

async fn heartbeat(req: BackendHeartbeatRequest) -> BackendHeartbeatReply {
    let mut c = HeartbeatServiceClient::connect(format!("http://{BE}:9050"))
        .await
        .expect("connect heartbeat_service_port");
    c.heartbeat(req).await.expect("heartbeat rpc").into_inner()
}

async fn backend_client(port: u16) -> BackendServiceClient<Channel> {
    BackendServiceClient::connect(format!("http://{BE}:{port}"))
        .await
        .expect("connect be_port")
}

/// A request with the cluster token the fake frontend's heartbeats carry ("t") and, when
/// given, a cluster id.
fn with_cluster<T>(msg: T, cluster: Option<i32>) -> Request<T> {
    let mut req = Request::new(msg);
    proto::auth::stamp(&mut req, "t");
    if let Some(id) = cluster {
        req.metadata_mut().insert(
            CLUSTER_ID_HEADER,
            id.to_string().parse().expect("ascii header"),
        );
    }
    req
}

fn create_req(tablet_id: i64, replica_id: i64) -> CreateTabletRequest {
    CreateTabletRequest {
        tablet_id,
        replica_id,
        table_id: 20_000,
        partition_id: 20_001,
        schema: serde_json::to_vec(&schema()).expect("schema json"),
        version: 1,
        backend_id: 10_001,
    }
}

async fn create(
    c: &mut BackendServiceClient<Channel>,
    tablet_id: i64,
    replica_id: i64,
) -> TaskReply {
    c.create_tablet(with_cluster(
        create_req(tablet_id, replica_id),
        Some(CLUSTER),
    ))
    .await
    .expect("create rpc")
    .into_inner()
}

async fn list(c: &mut BackendServiceClient<Channel>) -> TabletReport {
    c.list_tablets(with_cluster(
        ListTabletsRequest { backend_id: 10_001 },
        Some(CLUSTER),
    ))
    .await
    .expect("list rpc")
    .into_inner()
}

/// `GET path` on the backend's HTTP port: (status, body).
fn http_get(path: &str) -> (u16, String) {
    // root without a password, the one user the fake frontend knows.
    http_get_as(path, Some("cm9vdDo="))
}

/// `GET path` with HTTP Basic credentials `basic` (base64 of `user:password`) or none.
fn http_get_as(path: &str, basic: Option<&str>) -> (u16, String) {
    let mut s = TcpStream::connect(format!("{BE}:8040")).expect("connect be_http_port");
    s.set_read_timeout(Some(WAIT)).expect("timeout");
    let auth = basic
        .map(|b| format!("Authorization: Basic {b}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {BE}\r\n{auth}Connection: close\r\n\r\n"
    )
    .expect("send");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read");
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn health() -> serde_json::Value {
    let (status, body) = http_get("/api/health");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("health is JSON")
}

/// A leader FE that takes tablet reports (each arrives on the channel with the cluster id
/// header it carried) and, for load tests, begins and commits transactions (`load::FakeTxns`).
struct FakeFrontend {
    reports: mpsc::UnboundedSender<(Option<String>, TabletReport)>,
    txns: std::sync::Arc<load::FakeTxns>,
}

#[tonic::async_trait]
impl FrontendService for FakeFrontend {
    async fn forward(
        &self,
        _: Request<proto::ForwardRequest>,
    ) -> Result<Response<proto::ForwardReply>, Status> {
        Err(Status::unimplemented("fake"))
    }

    async fn read_index(
        &self,
        _: Request<proto::ReadIndexRequest>,
    ) -> Result<Response<proto::ReadIndexReply>, Status> {
        Err(Status::unimplemented("fake"))
    }

    async fn report_tablets(
        &self,
        request: Request<TabletReport>,
    ) -> Result<Response<proto::ReportTabletsReply>, Status> {
        let header = request
            .metadata()
            .get(CLUSTER_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let report = request.into_inner();
        let finished_txn_ids = self.txns.never_publishing(&report.pending_txn_ids);
        let _ = self.reports.send((header, report));
        Ok(Response::new(proto::ReportTabletsReply {
            ok: true,
            error: String::new(),
            finished_txn_ids,
        }))
    }

    async fn begin_txn(
        &self,
        request: Request<proto::BeginTxnRequest>,
    ) -> Result<Response<proto::BeginTxnReply>, Status> {
        Ok(Response::new(self.txns.begin(request)))
    }

    async fn commit_txn(
        &self,
        request: Request<proto::CommitTxnRequest>,
    ) -> Result<Response<proto::CommitTxnReply>, Status> {
        Ok(Response::new(self.txns.commit(request).await))
    }

    async fn abort_txn(
        &self,
        request: Request<proto::AbortTxnRequest>,
    ) -> Result<Response<proto::AbortTxnReply>, Status> {
        Ok(Response::new(self.txns.abort(request)))
    }

    /// Knows one user: root without a password.
    async fn check_password(
        &self,
        request: Request<proto::CheckPasswordRequest>,
    ) -> Result<Response<proto::CheckPasswordReply>, Status> {
        let r = request.into_inner();
        Ok(Response::new(
            if r.user == "root" && r.password.is_empty() {
                proto::CheckPasswordReply {
                    ok: true,
                    ..Default::default()
                }
            } else {
                proto::CheckPasswordReply {
                    ok: false,
                    error: format!("Access denied for user '{}'", r.user),
                    error_code: 1045,
                }
            },
        ))
    }
}

async fn fake_frontend() -> (
    mpsc::UnboundedReceiver<(Option<String>, TabletReport)>,
    tokio::sync::oneshot::Sender<()>,
) {
    fake_frontend_with(std::sync::Arc::default()).await
}

async fn fake_frontend_with(
    txns: std::sync::Arc<load::FakeTxns>,
) -> (
    mpsc::UnboundedReceiver<(Option<String>, TabletReport)>,
    tokio::sync::oneshot::Sender<()>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let listener = tokio::net::TcpListener::bind((FAKE_FE, FAKE_FE_RPC_PORT))
        .await
        .expect("bind the fake FE");
    tokio::spawn(async move {
        let _ = tonic::transport::Server::builder()
            .add_service(FrontendServiceServer::new(FakeFrontend {
                reports: tx,
                txns,
            }))
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(listener),
                async move {
                    let _ = stop_rx.await;
                },
            )
            .await;
    });
    (rx, stop_tx)
}

async fn next_report(
    rx: &mut mpsc::UnboundedReceiver<(Option<String>, TabletReport)>,
    what: &str,
) -> TabletReport {
    let (header, report) = tokio::time::timeout(WAIT, rx.recv())
        .await
        .unwrap_or_else(|_| panic!("no tablet report arrived within {WAIT:?}: {what}"))
        .expect("the fake FE is running");
    assert_eq!(
        header.as_deref(),
        Some("1234"),
        "reports carry the cluster id header"
    );
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_heartbeat_binds_the_cluster_and_strangers_are_refused() {
    let _lock = machine_lock();
    let dir = tempfile::tempdir().expect("tempdir");
    let handle = start(dir.path()).await;
    let h = health();
    assert_eq!(
        (h["status"].as_str(), h["cluster_id"].as_i64()),
        (Some("OK"), Some(0))
    );
    assert_eq!(h["backend_id"].as_i64(), Some(-1));

    // Before any heartbeat the backend takes no tasks.
    let mut c = backend_client(9060).await;
    let err = c
        .create_tablet(with_cluster(create_req(1, 1), Some(CLUSTER)))
        .await
        .expect_err("no cluster yet");
    assert_eq!(err.code(), Code::Unauthenticated);
    assert!(
        err.message().contains("does not belong to a cluster"),
        "{}",
        err.message()
    );

    let reply = heartbeat(hb(CLUSTER, BE, 5)).await;
    assert!(reply.ok, "{}", reply.error);
    assert_eq!(
        (reply.be_port, reply.http_port, reply.brpc_port),
        (9060, 8040, 8060)
    );
    assert_eq!(reply.cluster_id, CLUSTER);
    assert!(reply.version.ends_with("-tessera"), "{}", reply.version);
    assert!(reply.start_time_ms > 0 && reply.clock_ms >= reply.start_time_ms);
    assert_eq!(reply.disks.len(), 2);
    assert!(
        reply
            .disks
            .iter()
            .all(|d| d.total_bytes > 0 && d.available_bytes > 0)
    );
    assert_eq!(reply.tablet_count, 0);
    for root in roots(dir.path()) {
        let id = std::fs::read_to_string(root.join("cluster_id")).expect("cluster_id written");
        assert_eq!(id.trim(), "1234");
    }
    let h = health();
    assert_eq!(
        (h["cluster_id"].as_i64(), h["backend_id"].as_i64()),
        (Some(1234), Some(10_001))
    );

    let reply = heartbeat(hb(999, BE, 9)).await;
    assert!(!reply.ok);
    assert!(
        reply.error.contains(
            "cluster id mismatch: this backend belongs to cluster 1234; the heartbeat came from \
             cluster 999"
        ),
        "{}",
        reply.error
    );
    assert_eq!(reply.cluster_id, CLUSTER);

    // Another cluster token (or none) is refused; the stored one stays.
    for (token, why) in [("other", "Unmatched token"), ("", "invalid token")] {
        let reply = heartbeat(BackendHeartbeatRequest {
            token: token.into(),
            ..hb(CLUSTER, BE, 9)
        })
        .await;
        assert!(!reply.ok);
        assert!(reply.error.starts_with(why), "{}", reply.error);
    }
    let mut wrong = Request::new(create_req(30_001, 1));
    proto::auth::stamp(&mut wrong, "other");
    let err = c.create_tablet(wrong).await.expect_err("wrong token");
    assert_eq!(err.code(), Code::Unauthenticated);
    assert!(
        err.message().contains("Unmatched token"),
        "{}",
        err.message()
    );
    let (_, metrics) = http_get("/metrics");
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("starrocks_be_node_auth_refused_total{")
                && l.contains("service=\"BackendService\"")
                && l.contains("method=\"CreateTablet\"")
                && l.contains("reason=\"unmatched_token\"")
                && l.ends_with(" 1")),
        "{metrics}"
    );

    let reply = heartbeat(hb(CLUSTER, "127.0.0.9", 5)).await;
    assert!(!reply.ok);
    assert!(
        reply.error.contains("Unmatched backend ip"),
        "{}",
        reply.error
    );
    assert!(reply.error.contains("127.0.0.9"), "{}", reply.error);

    let reply = heartbeat(hb(CLUSTER, BE, 4)).await;
    assert!(!reply.ok);
    assert!(reply.error.contains("Out-dated epoch"), "{}", reply.error);
    // The refused ones changed nothing: the same and higher epochs are accepted.
    assert!(heartbeat(hb(CLUSTER, BE, 5)).await.ok);
    assert!(heartbeat(hb(CLUSTER, BE, 6)).await.ok);
    let reply = heartbeat(hb(CLUSTER, BE, 5)).await;
    assert!(reply.error.contains("Out-dated epoch"), "{}", reply.error);

    let (status, body) = http_get("/no/such/page");
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("Not Found"), "{body}");
    drop(c);
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tablets_are_created_listed_dropped_and_reported() {
    let _lock = machine_lock();
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut reports, stop_fe) = fake_frontend().await;
    let handle = start(dir.path()).await;
    assert!(heartbeat(hb(CLUSTER, BE, 1)).await.ok);
    // A new leader gets a report at once.
    let first = next_report(&mut reports, "after the first heartbeat").await;
    assert_eq!((first.backend_id, first.cluster_id), (10_001, CLUSTER));
    assert!(first.tablets.is_empty());
    assert_eq!(first.disks.len(), 2);

    let mut c = backend_client(9060).await;
    for (cluster, why) in [
        (None, "missing cluster id"),
        (Some(77), "cluster id mismatch"),
    ] {
        let err = c
            .create_tablet(with_cluster(create_req(30_001, 1), cluster))
            .await
            .expect_err("refused");
        assert_eq!(err.code(), Code::PermissionDenied);
        assert!(err.message().contains(why), "{}", err.message());
    }
    let r = create(&mut c, 30_001, 40_001).await;
    assert!(r.ok, "{}", r.error);
    let r = create(&mut c, 30_001, 40_001).await;
    assert!(r.ok, "idempotent: {}", r.error);
    let r = create(&mut c, 30_001, 40_002).await;
    assert!(!r.ok);
    assert!(r.error.contains("replica 40001"), "{}", r.error);
    let mut bad = create_req(30_002, 40_003);
    bad.schema = b"{}".to_vec();
    let r = c
        .create_tablet(with_cluster(bad, Some(CLUSTER)))
        .await
        .expect("rpc")
        .into_inner();
    assert!(!r.ok);
    assert_eq!(r.error_code, common::StatusCode::InvalidArgument.number());
    let mut other_backend = create_req(30_003, 40_004);
    other_backend.backend_id = 55;
    let r = c
        .create_tablet(with_cluster(other_backend, Some(CLUSTER)))
        .await
        .expect("rpc")
        .into_inner();
    assert!(!r.ok);
    assert!(r.error.contains("this backend is 10001"), "{}", r.error);

    let report = next_report(&mut reports, "after a create").await;
    assert_eq!(report.tablets.len(), 1);
    let t = &report.tablets[0];
    assert_eq!(
        (
            t.tablet_id,
            t.replica_id,
            t.table_id,
            t.partition_id,
            t.version
        ),
        (30_001, 40_001, 20_000, 20_001, 1)
    );
    assert_eq!(t.state, "NORMAL");
    // The tablet directory is where StarRocks would put it, in one of the roots.
    let shard = 30_001 % 1024;
    assert!(
        roots(dir.path())
            .iter()
            .any(|r| r.join(format!("data/{shard}/30001")).is_dir())
    );

    // brpc_port serves the same service.
    let mut brpc = backend_client(8060).await;
    let listed = list(&mut brpc).await;
    assert_eq!(listed.tablets.len(), 1);
    assert_eq!(listed.cluster_id, CLUSTER);
    assert_eq!(health()["tablets"].as_i64(), Some(1));
    assert_eq!(heartbeat(hb(CLUSTER, BE, 1)).await.tablet_count, 1);

    let drop_req = |replica_id| DropTabletRequest {
        tablet_id: 30_001,
        replica_id,
        backend_id: 10_001,
    };
    let err = c
        .drop_tablet(with_cluster(drop_req(40_001), None))
        .await
        .expect_err("no header");
    assert_eq!(err.code(), Code::PermissionDenied);
    let r = c
        .drop_tablet(with_cluster(drop_req(40_009), Some(CLUSTER)))
        .await
        .expect("rpc")
        .into_inner();
    assert!(!r.ok, "another replica id is not dropped");
    for _ in 0..2 {
        let r = c
            .drop_tablet(with_cluster(drop_req(40_001), Some(CLUSTER)))
            .await
            .expect("rpc")
            .into_inner();
        assert!(r.ok, "{}", r.error);
    }
    let report = next_report(&mut reports, "after a drop").await;
    assert!(report.tablets.is_empty(), "{report:?}");
    assert!(list(&mut c).await.tablets.is_empty());
    drop((c, brpc));
    handle.shutdown().await;
    let _ = stop_fe.send(());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_tablets_and_the_cluster_id() {
    let _lock = machine_lock();
    let dir = tempfile::tempdir().expect("tempdir");
    let handle = start(dir.path()).await;
    assert!(heartbeat(hb(CLUSTER, BE, 3)).await.ok);
    {
        let mut c = backend_client(9060).await;
        for i in 0..3 {
            let r = create(&mut c, 50_000 + i, 60_000 + i).await;
            assert!(r.ok, "{}", r.error);
        }
    }
    // A second backend cannot take the same address, nor the same storage roots.
    let err = match be::start(config(dir.path())).await {
        Ok(_) => panic!("a second backend started on the same ports"),
        Err(e) => e,
    };
    assert!(
        err.message.contains("heartbeat_service_port"),
        "{}",
        err.message
    );
    assert!(err.message.contains("already in use"), "{}", err.message);
    let mut other_ports = config(dir.path());
    other_ports.priority_networks = "127.0.0.63/32".into();
    let err = match be::start(other_ports).await {
        Ok(_) => panic!("a second backend opened the same storage roots"),
        Err(e) => e,
    };
    assert!(
        err.message.contains("in use by another backend"),
        "{}",
        err.message
    );
    handle.shutdown().await;

    // Lose one tablet's files while the backend is down.
    let lost = roots(dir.path())
        .iter()
        .map(|r| r.join(format!("data/{}/50001", 50_001 % 1024)))
        .find(|p| p.is_dir())
        .expect("the tablet dir exists");
    std::fs::remove_dir_all(&lost).expect("remove");

    let handle = start(dir.path()).await;
    let h = health();
    assert_eq!(
        (h["cluster_id"].as_i64(), h["tablets"].as_i64()),
        (Some(1234), Some(3))
    );
    // The stored cluster id is enough for tasks: no heartbeat yet.
    let mut c = backend_client(9060).await;
    let listed = list(&mut c).await;
    let states: Vec<(i64, &str)> = listed
        .tablets
        .iter()
        .map(|t| (t.tablet_id, t.state.as_str()))
        .collect();
    assert_eq!(
        states,
        vec![
            (50_000, "NORMAL"),
            (50_001, "MISSING_DATA"),
            (50_002, "NORMAL")
        ]
    );
    assert!(
        lost.parent().is_some_and(Path::exists),
        "nothing else was deleted"
    );
    let reply = heartbeat(hb(4321, BE, 1)).await;
    assert!(!reply.ok);
    assert!(
        reply.error.contains("belongs to cluster 1234"),
        "{}",
        reply.error
    );
    // The epoch is not persisted: a restarted backend accepts the current leader's.
    assert!(heartbeat(hb(CLUSTER, BE, 1)).await.ok);
    drop(c);
    handle.shutdown().await;
}
