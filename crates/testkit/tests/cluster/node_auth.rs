//! Authenticated nodes: internal RPC needs the cluster token (1 FE, 3 BEs).
//!
//! A hand-made gRPC client that knows the cluster id (it is no secret) but not the token, or has
//! a wrong one, calls what a stranger would want: the FE's raft service (read or rewrite the
//! journal), its leader watch, a forwarded statement, a transaction, a join as an unregistered
//! host; a BE's agent tasks, snapshot fetch (clone), Flight scan. Every call is refused with
//! `Unauthenticated` and counted in `/metrics`, the logs name the caller, and the cluster keeps
//! loading and answering queries. A BE whose storage root holds another cluster token is refused
//! with "Unmatched token", shown in SHOW BACKENDS.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use arrow_flight::Ticket;
use arrow_flight::flight_service_client::FlightServiceClient;
use futures::StreamExt;
use proto::backend_service_client::BackendServiceClient;
use proto::frontend_service_client::FrontendServiceClient;
use proto::heartbeat_service_client::HeartbeatServiceClient;
use proto::meta_service_client::MetaServiceClient;
use proto::raft_service_client::RaftServiceClient;
use tessera_testkit::BE_HTTP_PORT;
use tessera_testkit::BE_PORT;
use tessera_testkit::BRPC_PORT;
use tessera_testkit::Cluster;
use tessera_testkit::EDIT_LOG_PORT;
use tessera_testkit::HEARTBEAT_SERVICE_PORT;
use tessera_testkit::HTTP_PORT;
use tessera_testkit::http_get;
use tessera_testkit::ip;
use tessera_testkit::run_with_timeout;
use tessera_testkit::wait_until;
use tonic::Code;
use tonic::transport::Channel;

use crate::WAIT;
use crate::phase;

const RPC_PORT: u16 = 9020;
const FE_METRIC: &str = "starrocks_fe_node_auth_refused_total";
const BE_METRIC: &str = "starrocks_be_node_auth_refused_total";
const WRONG_TOKEN: &str = "00000000-dead-beef-0000-000000000000";

/// The identity a frontend stored in `meta_dir/image/VERSION`: cluster id and token.
fn identity(c: &Cluster) -> (i32, String) {
    let text = std::fs::read_to_string(c.node_dir(1).join("meta/image/VERSION"))
        .expect("read the leader's VERSION file");
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("no {k} in VERSION: {text}"))
            .trim()
            .to_string()
    };
    (
        get("clusterId").parse().expect("numeric cluster id"),
        get("token"),
    )
}

/// Sum of a counter's series (all labels) whose label text contains every one of `having`.
fn counter(ip: &str, port: u16, name: &str, having: &[&str]) -> f64 {
    let (code, body) =
        http_get(ip, port, "/metrics", Duration::from_secs(5)).expect("/metrics answers");
    assert_eq!(code, 200, "{body}");
    body.lines()
        .filter(|l| l.starts_with(name) && having.iter().all(|h| l.contains(h)))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

fn stream_load(body: &str) -> serde_json::Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("data");
    std::fs::write(&file, body).expect("write data");
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--location-trusted", "-u", "root:", "-XPUT", "-T"])
        .arg(&file)
        .args(["-H", "column_separator:,"])
        .arg(format!(
            "http://{}:{HTTP_PORT}/api/auth/t/_stream_load",
            ip(1)
        ));
    let (code, out, err) = run_with_timeout(&mut cmd, Duration::from_secs(60));
    assert_eq!(code, Some(0), "curl failed: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

fn count(c: &Cluster) -> String {
    c.sql_ok(1, "SELECT count(*), sum(v) FROM auth.t").rows[0].join(",")
}

async fn channel(host: &str, port: u16) -> Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{host}:{port}"))
        .expect("endpoint")
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .connect()
        .await
        .unwrap_or_else(|e| panic!("connect {host}:{port}: {e}"))
}

/// A request with the (public) cluster id and the given token (none when `None`).
fn req<T>(msg: T, cluster_id: i32, token: Option<&str>) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.metadata_mut().insert(
        proto::CLUSTER_ID_HEADER,
        cluster_id.to_string().parse().expect("header"),
    );
    if let Some(t) = token {
        r.metadata_mut()
            .insert(proto::TOKEN_HEADER, t.parse().expect("header"));
    }
    r
}

fn refused<T: std::fmt::Debug>(what: &str, token: Option<&str>, r: Result<T, tonic::Status>) {
    let e = r.expect_err(&format!("{what} with token {token:?} must be refused"));
    assert_eq!(e.code(), Code::Unauthenticated, "{what}: {e:?}");
    let want = if token.is_some() {
        "Unmatched token"
    } else {
        "invalid token"
    };
    assert!(e.message().starts_with(want), "{what}: {e:?}");
}

/// Every internal call a stranger could make, with `token`; each must be refused.
async fn stranger_calls(cluster_id: i32, token: Option<&str>) {
    let fe = ip(1);
    let be = ip(1);
    let raft = || proto::RaftRequest {
        target_node_id: 1,
        payload: b"{}".to_vec(),
    };
    let mut c = RaftServiceClient::new(channel(&fe, EDIT_LOG_PORT).await);
    refused(
        "raft AppendEntries",
        token,
        c.append_entries(req(raft(), cluster_id, token)).await,
    );
    refused(
        "raft Vote",
        token,
        c.vote(req(raft(), cluster_id, token)).await,
    );
    let chunks = futures::stream::iter(vec![proto::SnapshotChunk {
        target_node_id: 1,
        header: b"{}".to_vec(),
        data: Vec::new(),
    }]);
    refused(
        "raft InstallSnapshot",
        token,
        c.install_snapshot(req(chunks, cluster_id, token)).await,
    );
    let mut m = MetaServiceClient::new(channel(&fe, EDIT_LOG_PORT).await);
    refused(
        "WatchLeader (journal progress)",
        token,
        m.watch_leader(req(
            proto::WatchLeaderRequest {
                follower_node_id: 2,
            },
            cluster_id,
            token,
        ))
        .await
        .map(|_| ()),
    );
    let forward = || proto::ForwardRequest {
        payload: br#"{"sql":"DROP DATABASE auth","user":"root"}"#.to_vec(),
    };
    let mut f = FrontendServiceClient::new(channel(&fe, EDIT_LOG_PORT).await);
    refused(
        "forwarded statement",
        token,
        f.forward(req(forward(), cluster_id, token)).await,
    );
    let mut f = FrontendServiceClient::new(channel(&fe, RPC_PORT).await);
    refused(
        "forwarded statement on rpc_port",
        token,
        f.forward(req(forward(), cluster_id, token)).await,
    );
    refused(
        "BeginTxn on rpc_port",
        token,
        f.begin_txn(req(proto::BeginTxnRequest::default(), cluster_id, token))
            .await,
    );
    refused(
        "ReportTablets on rpc_port",
        token,
        f.report_tablets(req(proto::TabletReport::default(), cluster_id, token))
            .await,
    );

    let mut b = BackendServiceClient::new(channel(&be, BE_PORT).await);
    refused(
        "BE DropTablet task",
        token,
        b.drop_tablet(req(proto::DropTabletRequest::default(), cluster_id, token))
            .await,
    );
    refused(
        "BE CreateTablet task",
        token,
        b.create_tablet(req(
            proto::CreateTabletRequest::default(),
            cluster_id,
            token,
        ))
        .await,
    );
    refused(
        "BE CloneTablet task",
        token,
        b.clone_tablet(req(proto::CloneTabletRequest::default(), cluster_id, token))
            .await
            .map(|_| ()),
    );
    let mut b = BackendServiceClient::new(channel(&be, BRPC_PORT).await);
    refused(
        "BE FetchSnapshot (clone download)",
        token,
        b.fetch_snapshot(req(
            proto::FetchSnapshotRequest {
                full: true,
                ..Default::default()
            },
            cluster_id,
            token,
        ))
        .await
        .map(|_| ()),
    );
    refused(
        "BE ListTablets",
        token,
        b.list_tablets(req(proto::ListTabletsRequest::default(), cluster_id, token))
            .await,
    );
    let mut flight = FlightServiceClient::new(channel(&be, BRPC_PORT).await);
    let got = flight
        .do_get(req(Ticket::new(Vec::new()), cluster_id, token))
        .await;
    let got = match got {
        Ok(stream) => {
            // A refusal may only arrive as the stream's first message.
            let mut s = stream.into_inner();
            match s.next().await {
                Some(Err(e)) => Err(e),
                other => Ok(format!("{other:?}")),
            }
        }
        Err(e) => Err(e),
    };
    refused("Flight DoGet (tablet data)", token, got);
}

#[test]
fn strangers_without_the_cluster_token_are_refused() {
    let mut c = Cluster::new("node_auth");
    c.start_ha(1, 0);
    for i in 1..=2u8 {
        c.start_be(i);
        c.sql_ok(1, &format!("ALTER SYSTEM ADD BACKEND \"{}:9050\"", ip(i)));
    }
    wait_until(WAIT, "both backends alive", || {
        let rows = c.sql(1, "SHOW BACKENDS").ok()?;
        (rows.maps().iter().filter(|m| m["Alive"] == "true").count() == 2).then_some(())
    });
    let (cluster_id, token) = identity(&c);
    phase!("a table with two replicas per tablet, loaded and queried (the tokens flow)");
    c.sql_ok(1, "CREATE DATABASE auth");
    c.sql_ok(
        1,
        "CREATE TABLE auth.t (k INT, v INT) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 2 \
         PROPERTIES (\"replication_num\" = \"2\")",
    );
    let r = stream_load("1,10\n2,20\n3,30\n");
    assert_eq!(r["Status"], "Success", "{r}");
    assert_eq!(count(&c), "3,60");

    let fe_before = counter(&ip(1), HTTP_PORT, FE_METRIC, &[]);
    let be_before = counter(&ip(1), BE_HTTP_PORT, BE_METRIC, &[]);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    phase!("no token: every internal call is refused");
    rt.block_on(stranger_calls(cluster_id, None));
    phase!("a wrong token: every internal call is refused");
    rt.block_on(stranger_calls(cluster_id, Some(WRONG_TOKEN)));

    phase!("the right token passes the guard (the refusals above are the token's doing)");
    rt.block_on(async {
        let mut f = FrontendServiceClient::new(channel(&ip(1), RPC_PORT).await);
        let reply = f
            .read_index(req(proto::ReadIndexRequest {}, cluster_id, Some(&token)))
            .await
            .expect("read_index with the token");
        assert!(reply.into_inner().ok);
        let mut b = BackendServiceClient::new(channel(&ip(1), BE_PORT).await);
        b.list_tablets(req(
            proto::ListTabletsRequest::default(),
            cluster_id,
            Some(&token),
        ))
        .await
        .expect("list_tablets with the token");
    });

    phase!("a join from an unregistered host gets no token; another cluster's neither");
    rt.block_on(async {
        let mut m = MetaServiceClient::new(channel(&ip(1), EDIT_LOG_PORT).await);
        for (cluster, want) in [
            (0, "is not added to the cluster"),
            (cluster_id + 1, "cluster id"),
        ] {
            let reply = m
                .join(tonic::Request::new(proto::JoinRequest {
                    host: ip(9),
                    edit_log_port: u32::from(EDIT_LOG_PORT),
                    cluster_id: cluster,
                    clock_ms: std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_millis() as i64)
                        .unwrap_or_default(),
                }))
                .await
                .expect("join answers")
                .into_inner();
            assert!(!reply.ok, "{reply:?}");
            assert!(
                reply.token.is_empty(),
                "a refused join must not get the token"
            );
            assert!(reply.error.contains(want), "{reply:?}");
        }
    });

    phase!("a heartbeat with another cluster token is refused by the backend");
    rt.block_on(async {
        let mut h = HeartbeatServiceClient::new(channel(&ip(1), HEARTBEAT_SERVICE_PORT).await);
        let reply = h
            .heartbeat(tonic::Request::new(proto::BackendHeartbeatRequest {
                cluster_id,
                token: WRONG_TOKEN.into(),
                backend_id: 1,
                backend_host: ip(1),
                leader_host: ip(9),
                leader_rpc_port: u32::from(RPC_PORT),
                epoch: u64::MAX,
                ..Default::default()
            }))
            .await
            .expect("heartbeat answers")
            .into_inner();
        assert!(!reply.ok);
        assert!(reply.error.starts_with("Unmatched token"), "{reply:?}");
    });

    phase!("the refusals are counted and logged, without the token");
    // FE: raft x3, watch, forward x2, begin, report = 8 per round, 2 rounds; joins 2.
    let fe_after = counter(&ip(1), HTTP_PORT, FE_METRIC, &[]);
    assert!(fe_after - fe_before >= 18.0, "{fe_before} -> {fe_after}");
    for (labels, n) in [
        (
            &[
                "service=\"RaftService\"",
                "method=\"AppendEntries\"",
                "reason=\"missing_token\"",
            ][..],
            1.0,
        ),
        (
            &[
                "service=\"RaftService\"",
                "method=\"InstallSnapshot\"",
                "reason=\"unmatched_token\"",
            ][..],
            1.0,
        ),
        (
            &[
                "service=\"MetaService\"",
                "method=\"Join\"",
                "reason=\"unregistered_node\"",
            ][..],
            1.0,
        ),
    ] {
        let got = counter(&ip(1), HTTP_PORT, FE_METRIC, labels);
        assert!(got >= n, "{labels:?}: {got}");
    }
    // BE: drop, create, clone, fetch, list, flight = 6 per round; heartbeat 1.
    let be_after = counter(&ip(1), BE_HTTP_PORT, BE_METRIC, &[]);
    assert!(be_after - be_before >= 13.0, "{be_before} -> {be_after}");
    assert!(
        counter(
            &ip(1),
            BE_HTTP_PORT,
            BE_METRIC,
            &["service=\"FlightService\"", "method=\"DoGet\""]
        ) >= 2.0
    );
    let fe_log = c.log(1);
    assert!(
        fe_log.contains("refused an internal call from 127.0.0.1:")
            && fe_log.contains("RaftService/AppendEntries: missing_token")
            && fe_log.contains("FrontendService/Forward: unmatched_token"),
        "{}",
        c.log_tail(1, 40)
    );
    let be_log = c.be_log(1);
    assert!(
        be_log.contains("BackendService/FetchSnapshot: unmatched_token")
            && be_log.contains("FlightService/DoGet: missing_token"),
        "{}",
        c.be_log_tail(1, 40)
    );
    for log in [&fe_log, &be_log] {
        assert!(!log.contains(WRONG_TOKEN), "a log line carries a token");
        assert!(
            !log.contains(&token),
            "a log line carries the cluster token"
        );
    }

    phase!("the cluster keeps working: a load and a query");
    let r = stream_load("4,40\n5,50\n");
    assert_eq!(r["Status"], "Success", "{r}");
    assert_eq!(count(&c), "5,150");
    c.sql_ok(1, "INSERT INTO auth.t VALUES (6, 60)");
    assert_eq!(count(&c), "6,210");

    phase!("a backend whose storage root holds another cluster token is refused");
    let root = c.be_dir(3).join("storage");
    std::fs::create_dir_all(&root).expect("mkdir storage");
    std::fs::write(root.join("cluster_id"), format!("{cluster_id}\n")).expect("cluster_id");
    std::fs::write(root.join("cluster_token"), format!("{WRONG_TOKEN}\n")).expect("token");
    c.start_be(3);
    c.sql_ok(1, &format!("ALTER SYSTEM ADD BACKEND \"{}:9050\"", ip(3)));
    let row: BTreeMap<String, String> =
        wait_until(WAIT, "BE 3 refused with Unmatched token", || {
            let rows = c.sql(1, "SHOW BACKENDS").ok()?;
            rows.maps()
                .into_iter()
                .find(|m| m["IP"] == ip(3) && m["ErrMsg"].contains("Unmatched token"))
        });
    assert_eq!(row["Alive"], "false", "{row:?}");
    // Its refusals were counted on BE 1 above; this one has no leader to check a user of its
    // pages with (it refuses the cluster's), so its /metrics answers 503 after waiting for one.
    let (code, body) = http_get(&ip(3), BE_HTTP_PORT, "/metrics", Duration::from_secs(30))
        .expect("/metrics answers");
    assert_eq!(code, 503, "{body}");
    assert!(
        c.be_log(3)
            .contains("HeartbeatService/Heartbeat: unmatched_token"),
        "{}",
        c.be_log_tail(3, 30)
    );
    // Nothing of the cluster went to it, and the cluster still works.
    assert_eq!(count(&c), "6,210");
}
