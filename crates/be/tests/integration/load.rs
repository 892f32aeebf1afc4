//! The write path: `WriteTablet`, `PublishVersion` and `AbortLoad` over gRPC, and Stream Load
//! on the backend's HTTP port against a fake leader FE that hands out load plans and publishes
//! what is committed.

use std::collections::BTreeSet;
use std::collections::HashMap;
use std::io::Read;
use std::io::Write;
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::PoisonError;

use common::load::LoadPlan;
use common::load::PlanPartition;
use common::load::PlanReplica;
use common::load::PlanTablet;
use common::schema::ColumnSchema;
use common::schema::DataType;
use common::schema::KeysType;
use common::schema::TableSchema;
use proto::AbortLoadRequest;
use proto::PublishTablet;
use proto::PublishVersionRequest;
use proto::WriteTabletHeader;
use proto::WriteTabletReply;
use proto::WriteTabletRequest;
use storage::arrow::array::Array;
use storage::arrow::array::Int32Array;
use storage::arrow::array::Int64Array;
use storage::arrow::array::RecordBatch;
use storage::arrow::array::StringArray;
use storage::arrow::datatypes::DataType as ArrowType;
use storage::arrow::datatypes::Field;
use storage::arrow::datatypes::Schema;
use tessera_be::load::batch::to_ipc;
use tonic::Request;

use super::*;

pub(crate) const BACKEND_ID: i64 = 10_001;
pub(crate) const PARTITION: i64 = 20_001;

pub(crate) fn load_schema() -> TableSchema {
    let col = |name: &str, t, nullable| ColumnSchema {
        name: name.into(),
        data_type: t,
        nullable,
        is_key: name == "k",
        default: None,
        comment: String::new(),
    };
    TableSchema {
        columns: vec![
            col("k", DataType::Int, false),
            col("v", DataType::Varchar(8), true),
        ],
        keys_type: KeysType::Duplicate,
        distribution_columns: vec!["k".into()],
        buckets: 2,
        schema_version: 0,
    }
}

pub(crate) async fn create_load_tablet(c: &mut BackendServiceClient<Channel>, tablet_id: i64) {
    let mut req = create_req(tablet_id, tablet_id + 1000);
    req.partition_id = PARTITION;
    req.schema = serde_json::to_vec(&load_schema()).expect("schema json");
    let r = c
        .create_tablet(with_cluster(req, Some(CLUSTER)))
        .await
        .expect("create rpc")
        .into_inner();
    assert!(r.ok, "{}", r.error);
}

pub(crate) fn batch(keys: &[i32], values: &[Option<&str>]) -> RecordBatch {
    let schema = storage::arrow_schema(&load_schema());
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int32Array::from(keys.to_vec())),
            Arc::new(StringArray::from(values.to_vec())),
        ],
    )
    .expect("batch")
}

pub(crate) fn header(txn_id: i64, tablet_id: i64) -> WriteTabletHeader {
    WriteTabletHeader {
        txn_id,
        tablet_id,
        partition_id: PARTITION,
        backend_id: BACKEND_ID,
        schema: serde_json::to_vec(&load_schema()).expect("schema json"),
    }
}

pub(crate) fn data(bytes: Vec<u8>) -> WriteTabletRequest {
    WriteTabletRequest {
        header: None,
        arrow_ipc: bytes,
        ..Default::default()
    }
}

pub(crate) async fn write(
    c: &mut BackendServiceClient<Channel>,
    msgs: Vec<WriteTabletRequest>,
) -> WriteTabletReply {
    c.write_tablet(with_cluster(tokio_stream::iter(msgs), Some(CLUSTER)))
        .await
        .expect("write rpc")
        .into_inner()
}

pub(crate) async fn publish(
    c: &mut BackendServiceClient<Channel>,
    txn_id: i64,
    tablets: &[(i64, i64)],
) -> Vec<proto::PublishTabletResult> {
    c.publish_version(with_cluster(
        PublishVersionRequest {
            txn_id,
            backend_id: BACKEND_ID,
            tablets: tablets
                .iter()
                .map(|(tablet_id, version)| PublishTablet {
                    tablet_id: *tablet_id,
                    partition_id: PARTITION,
                    version: *version,
                })
                .collect(),
        },
        Some(CLUSTER),
    ))
    .await
    .expect("publish rpc")
    .into_inner()
    .results
}

pub(crate) fn keys_at(handle: &BeHandle, tablet_id: i64, version: i64) -> Vec<i32> {
    let read = handle
        .backend
        .storage
        .read_at(tablet_id, version)
        .expect("read at version");
    let mut out = Vec::new();
    for b in read.batches() {
        let b = b.expect("batch");
        let col = b
            .column(0)
            .as_any()
            .downcast_ref::<Int32Array>()
            .expect("k is INT");
        out.extend(col.values().iter().copied());
    }
    out.sort_unstable();
    out
}

/// Waits (requesting reports) for a report whose pending transactions are `want`.
async fn report_with_pending(
    handle: &BeHandle,
    reports: &mut tokio::sync::mpsc::UnboundedReceiver<(Option<String>, TabletReport)>,
    want: &[i64],
) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        handle.backend.request_report();
        let r = next_report(reports, "pending transactions").await;
        if r.pending_txn_ids == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "reports kept pending {:?}, want {want:?}",
            r.pending_txn_ids
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_rowsets_of_transactions_that_never_publish_are_dropped() {
    let _lock = machine_lock();
    let dir = tempfile::tempdir().expect("tempdir");
    let txns = Arc::new(FakeTxns::default());
    let (mut reports, stop_fe) = fake_frontend_with(txns.clone()).await;
    let handle = start(dir.path()).await;
    assert!(heartbeat(hb(CLUSTER, BE, 1)).await.ok);
    let mut c = backend_client(8060).await;
    create_load_tablet(&mut c, 83_001).await;
    for (txn, key) in [(701, 1), (702, 2)] {
        let r = write(
            &mut c,
            vec![
                WriteTabletRequest {
                    header: Some(header(txn, 83_001)),
                    arrow_ipc: Vec::new(),
                    ..Default::default()
                },
                data(to_ipc(&batch(&[key], &[Some("a")])).expect("ipc")),
            ],
        )
        .await;
        assert!(r.ok, "{}", r.error);
    }
    // Reports carry both pending transactions; the leader knows nothing final about them.
    report_with_pending(&handle, &mut reports, &[701, 702]).await;
    // 701 was aborted while this backend was away: the next report's reply drops its rowset.
    txns.set_never_publishing(701);
    report_with_pending(&handle, &mut reports, &[702]).await;
    let gone = publish(&mut c, 701, &[(83_001, 2)]).await;
    assert!(!gone[0].ok, "701's rowset must be gone");
    let kept = publish(&mut c, 702, &[(83_001, 2)]).await;
    assert!(kept[0].ok, "{}", kept[0].error);
    assert_eq!(keys_at(&handle, 83_001, 2), [2]);
    drop(c);
    handle.shutdown().await;
    let _ = stop_fe.send(());
}

/// A tablet's file encoded once (as a load's coordinator does) and sent as bytes.
fn encoded(tablet_id: i64, keys: &[i32], values: &[Option<&str>]) -> (Vec<u8>, i64, i64) {
    let mut enc = storage::RowsetEncoder::new(tablet_id, &load_schema());
    let mut bytes = enc.write(&batch(keys, values)).expect("encode");
    let (tail, rows, len) = enc.finish().expect("finish");
    bytes.extend(tail);
    (bytes, rows, i64::try_from(len).expect("len"))
}

fn file_msg(bytes: &[u8], end: Option<(i64, i64)>) -> WriteTabletRequest {
    WriteTabletRequest {
        parquet: bytes.to_vec().into(),
        file_end: end.map(|(rows, bytes)| proto::RowsetFileEnd { rows, bytes }),
        ..Default::default()
    }
}

fn head(txn_id: i64, tablet_id: i64) -> WriteTabletRequest {
    WriteTabletRequest {
        header: Some(header(txn_id, tablet_id)),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_tablet_stores_a_file_encoded_by_the_coordinator() {
    let _lock = machine_lock();
    let dir = tempfile::tempdir().expect("tempdir");
    let (_reports, stop_fe) = fake_frontend().await;
    let handle = start(dir.path()).await;
    assert!(heartbeat(hb(CLUSTER, BE, 1)).await.ok);
    let mut c = backend_client(8060).await;
    create_load_tablet(&mut c, 84_001).await;
    let (file, rows, len) = encoded(84_001, &[5, 6, 7], &[Some("x"), None, Some("z")]);
    assert!(file.len() > 100);

    // Cut anywhere, with the end on the last bytes or alone: stored as sent.
    let (a, b) = file.split_at(37);
    let r = write(
        &mut c,
        vec![
            head(601, 84_001),
            file_msg(a, None),
            file_msg(b, Some((rows, len))),
        ],
    )
    .await;
    assert!(r.ok, "{}", r.error);
    assert_eq!((r.rows, r.bytes), (3, len));
    let r = write(
        &mut c,
        vec![
            head(602, 84_001),
            file_msg(&file, None),
            file_msg(&[], Some((rows, len))),
        ],
    )
    .await;
    assert!(r.ok, "{}", r.error);
    assert!(publish(&mut c, 601, &[(84_001, 2)]).await[0].ok);
    assert!(publish(&mut c, 602, &[(84_001, 3)]).await[0].ok);
    let mut keys = keys_at(&handle, 84_001, 3);
    keys.sort_unstable();
    assert_eq!(keys, [5, 5, 6, 6, 7, 7]);

    // What a broken or confused coordinator could send is refused, naming the tablet, and
    // keeps nothing.
    let cases: Vec<(Vec<WriteTabletRequest>, &str)> = vec![
        (
            vec![head(603, 84_001), file_msg(&file, None)],
            "ended before the rowset file's end",
        ),
        (
            vec![
                head(603, 84_001),
                file_msg(&file[..file.len() - 8], Some((rows, len))),
            ],
            "came; nothing was kept",
        ),
        (
            vec![head(603, 84_001), file_msg(&file, Some((rows + 1, len)))],
            "not the 4 announced",
        ),
        (
            vec![
                head(603, 84_001),
                file_msg(&file[8..], Some((rows, len - 8))),
            ],
            "not a whole Parquet file",
        ),
        (
            vec![
                head(603, 84_001),
                data(to_ipc(&batch(&[1], &[None])).expect("ipc")),
                file_msg(&file, Some((rows, len))),
            ],
            "rows or an encoded file, not both",
        ),
        (
            vec![
                head(603, 84_001),
                file_msg(&file, Some((rows, len))),
                file_msg(&file, None),
            ],
            "data after the file's end",
        ),
        (
            vec![head(603, 84_001), file_msg(&[], Some((rows, -1)))],
            "negative file length",
        ),
    ];
    for (msgs, why) in cases {
        let r = write(&mut c, msgs).await;
        assert!(!r.ok, "{why}: accepted");
        assert!(r.error.contains(why), "{why}: {}", r.error);
        assert!(r.error.contains("84001"), "{why}: {}", r.error);
    }
    let meta = handle.backend.storage.tablet_meta(84_001).expect("meta");
    assert!(meta.pending.is_empty(), "{:?}", meta.pending);
    let tablet_dir = handle.backend.storage.tablet_dir(84_001).expect("dir");
    let files = std::fs::read_dir(tablet_dir).expect("dir").count();
    assert_eq!(files, 2, "only the two published files are on disk");
    drop(c);
    handle.shutdown().await;
    let _ = stop_fe.send(());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_tablet_publish_version_and_abort_load() {
    let _lock = machine_lock();
    let dir = tempfile::tempdir().expect("tempdir");
    let (_reports, stop_fe) = fake_frontend().await;
    let handle = start(dir.path()).await;
    assert!(heartbeat(hb(CLUSTER, BE, 1)).await.ok);
    let mut c = backend_client(8060).await;
    create_load_tablet(&mut c, 81_001).await;

    // A stream: header, then two IPC messages.
    let first = to_ipc(&batch(&[1, 2], &[Some("a"), None])).expect("ipc");
    let second = to_ipc(&batch(&[3], &[Some("c")])).expect("ipc");
    let msgs = vec![
        WriteTabletRequest {
            header: Some(header(501, 81_001)),
            arrow_ipc: Vec::new(),
            ..Default::default()
        },
        data(first.clone()),
        data(second),
    ];
    let r = write(&mut c, msgs).await;
    assert!(r.ok, "{}", r.error);
    assert_eq!(r.rows, 3);
    assert!(r.bytes > 0);
    // Pending: not visible, the replica stays at version 1.
    assert!(keys_at(&handle, 81_001, 1).is_empty());
    assert_eq!(list(&mut c).await.tablets[0].version, 1);

    // Refusals.
    let cases: Vec<(WriteTabletHeader, Vec<u8>, &str)> = vec![
        (
            WriteTabletHeader {
                backend_id: 55,
                ..header(502, 81_001)
            },
            Vec::new(),
            "this backend is 10001",
        ),
        (
            header(502, 99_999),
            Vec::new(),
            "tablet 99999 does not exist",
        ),
        (
            WriteTabletHeader {
                schema: serde_json::to_vec(&schema()).expect("json"),
                ..header(502, 81_001)
            },
            Vec::new(),
            "differ from the tablet's",
        ),
        (
            header(502, 81_001),
            {
                let wrong = RecordBatch::try_new(
                    Arc::new(Schema::new(vec![
                        Field::new("k", ArrowType::Int64, false),
                        Field::new("v", ArrowType::Utf8, true),
                    ])),
                    vec![
                        Arc::new(Int64Array::from(vec![1i64])),
                        Arc::new(StringArray::from(vec![Some("x")])),
                    ],
                )
                .expect("batch");
                to_ipc(&wrong).expect("ipc")
            },
            "column 'k' of the data is Int64",
        ),
        (
            header(502, 81_001),
            b"garbage".to_vec(),
            "not an Arrow IPC stream",
        ),
    ];
    for (h, bytes, why) in cases {
        let mut msgs = vec![WriteTabletRequest {
            header: Some(h),
            arrow_ipc: Vec::new(),
            ..Default::default()
        }];
        if !bytes.is_empty() {
            msgs.push(data(bytes));
        }
        let r = write(&mut c, msgs).await;
        assert!(!r.ok, "{why}: accepted");
        assert!(r.error.contains(why), "{why}: {}", r.error);
    }
    let r = write(&mut c, vec![data(first.clone())]).await;
    assert!(!r.ok);
    assert!(r.error.contains("no header"), "{}", r.error);
    let err = c
        .write_tablet(with_cluster(
            tokio_stream::iter(vec![data(first.clone())]),
            None,
        ))
        .await
        .expect_err("no cluster id");
    assert_eq!(err.code(), Code::PermissionDenied);
    // None of the refused writes left a pending rowset for txn 502.
    let meta = handle.backend.storage.tablet_meta(81_001).expect("meta");
    assert_eq!(
        meta.pending.iter().map(|r| r.txn_id).collect::<Vec<_>>(),
        [501]
    );

    // Publish: version 2, idempotent, then a missed txn is refused per tablet; a publish
    // above a gap is stored while the replica's version stays below the gap.
    let res = publish(&mut c, 501, &[(81_001, 2)]).await;
    assert!(res[0].ok, "{}", res[0].error);
    assert_eq!(res[0].version, 2);
    assert_eq!(keys_at(&handle, 81_001, 2), [1, 2, 3]);
    let res = publish(&mut c, 501, &[(81_001, 2)]).await;
    assert!(res[0].ok, "idempotent: {}", res[0].error);
    let res = publish(&mut c, 502, &[(81_001, 3), (99_999, 3)]).await;
    assert_eq!(res.len(), 2);
    assert!(!res[0].ok);
    assert!(
        res[0].error.contains("no pending rowset"),
        "{}",
        res[0].error
    );
    assert_eq!(res[0].version, 2);
    assert!(res[1].error.contains("does not exist"), "{}", res[1].error);
    let r = write(
        &mut c,
        vec![WriteTabletRequest {
            header: Some(header(503, 81_001)),
            arrow_ipc: to_ipc(&batch(&[9], &[None])).expect("ipc"),
            ..Default::default()
        }],
    )
    .await;
    assert!(r.ok, "{}", r.error);
    let res = publish(&mut c, 503, &[(81_001, 4)]).await;
    assert!(res[0].ok, "{}", res[0].error);
    assert_eq!(res[0].version, 2, "version 3 is still missing");
    assert_eq!(keys_at(&handle, 81_001, 2), [1, 2, 3]);

    // AbortLoad drops the pending rowset.
    let r = write(
        &mut c,
        vec![WriteTabletRequest {
            header: Some(header(505, 81_001)),
            arrow_ipc: to_ipc(&batch(&[7], &[None])).expect("ipc"),
            ..Default::default()
        }],
    )
    .await;
    assert!(r.ok, "{}", r.error);
    let r = c
        .abort_load(with_cluster(
            AbortLoadRequest {
                txn_id: 505,
                backend_id: BACKEND_ID,
            },
            Some(CLUSTER),
        ))
        .await
        .expect("abort rpc")
        .into_inner();
    assert!(r.ok, "{}", r.error);
    assert!(
        handle
            .backend
            .storage
            .tablet_meta(81_001)
            .expect("meta")
            .pending
            .is_empty()
    );
    let res = publish(&mut c, 505, &[(81_001, 3)]).await;
    assert!(
        res[0].error.contains("no pending rowset"),
        "{}",
        res[0].error
    );

    // An empty stream (header only) still makes a pending rowset that takes a version.
    let r = write(
        &mut c,
        vec![WriteTabletRequest {
            header: Some(header(504, 81_001)),
            arrow_ipc: Vec::new(),
            ..Default::default()
        }],
    )
    .await;
    assert!(r.ok && r.rows == 0, "{r:?}");
    let res = publish(&mut c, 504, &[(81_001, 3)]).await;
    assert!(res[0].ok, "{}", res[0].error);
    assert_eq!(
        res[0].version, 4,
        "the gap is filled: the replica reaches version 4"
    );
    assert_eq!(keys_at(&handle, 81_001, 4), [1, 2, 3, 9]);

    // Reports carry the visible version and rows.
    let t = &list(&mut c).await.tablets[0];
    assert_eq!((t.version, t.row_count), (4, 4));
    drop(c);
    handle.shutdown().await;

    // A restart keeps the versions.
    let handle = start(dir.path()).await;
    assert_eq!(keys_at(&handle, 81_001, 3), [1, 2, 3]);
    handle.shutdown().await;
    let _ = stop_fe.send(());
}

/// A leader FE for load tests: BeginTxn returns `plan` (with a new txn id), CommitTxn records
/// the request and publishes the committed replicas on this backend.
#[derive(Default)]
pub(crate) struct FakeTxns {
    plan: Mutex<Option<LoadPlan>>,
    labels: Mutex<BTreeSet<String>>,
    commits: Mutex<Vec<proto::CommitTxnRequest>>,
    aborts: Mutex<Vec<i64>>,
    versions: Mutex<HashMap<i64, i64>>,
    next_txn: Mutex<i64>,
    /// Transactions a tablet report is told will never publish.
    never_publish: Mutex<BTreeSet<i64>>,
    /// Transactions committed (a repeated commit succeeds again; an abort is refused).
    committed: Mutex<BTreeSet<i64>>,
    /// Commits whose answer is "lost": the commit takes effect, the answer is a timeout.
    lost_commit_answers: Mutex<u32>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl FakeTxns {
    pub(crate) fn begin(&self, req: Request<proto::BeginTxnRequest>) -> proto::BeginTxnReply {
        let refuse = |error: String, existing: &str| proto::BeginTxnReply {
            ok: false,
            error,
            error_code: 1,
            existing_job_status: existing.into(),
            txn_id: -1,
            ..Default::default()
        };
        if req
            .metadata()
            .get(CLUSTER_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            != Some("1234")
        {
            return refuse("no cluster id".into(), "");
        }
        let req = req.into_inner();
        if req.user != "root" || !req.password.is_empty() {
            return refuse(format!("Access denied for user '{}'", req.user), "");
        }
        assert_eq!(req.source_type, "STREAM_LOAD");
        assert_eq!(req.coordinator, format!("BE: {BE}"));
        assert_eq!(req.coordinator_backend_id, BACKEND_ID);
        let mut next = lock(&self.next_txn);
        *next += 1;
        let txn_id = 9000 + *next;
        let label = if req.label.is_empty() {
            format!("auto_{txn_id}")
        } else {
            req.label.clone()
        };
        if !lock(&self.labels).insert(label.clone()) {
            return proto::BeginTxnReply {
                label: label.clone(),
                ..refuse(
                    format!("Label [{label}] has already been used."),
                    "FINISHED",
                )
            };
        }
        let Some(mut plan) = lock(&self.plan).clone() else {
            return refuse("no plan".into(), "");
        };
        plan.txn_id = txn_id;
        plan.deadline_ms = common::clock::now_ms() + i64::from(req.timeout_seconds) * 1000;
        proto::BeginTxnReply {
            ok: true,
            txn_id,
            label,
            plan: serde_json::to_vec(&plan).expect("plan json"),
            ..Default::default()
        }
    }

    pub(crate) async fn commit(
        &self,
        req: Request<proto::CommitTxnRequest>,
    ) -> proto::CommitTxnReply {
        let req = req.into_inner();
        lock(&self.commits).push(req.clone());
        let lose_answer = {
            let mut n = lock(&self.lost_commit_answers);
            let lose = *n > 0;
            *n = n.saturating_sub(1);
            lose
        };
        let timeout = || proto::CommitTxnReply {
            ok: false,
            error: "the journal write was not acknowledged in time".into(),
            error_code: common::StatusCode::Timeout.number(),
            ..Default::default()
        };
        if !lock(&self.committed).insert(req.txn_id) {
            // Already committed: the same answer again (the real FE's commit is idempotent).
            if lose_answer {
                return timeout();
            }
            return proto::CommitTxnReply {
                ok: true,
                status: "VISIBLE".into(),
                ..Default::default()
            };
        }
        let mut tablets = Vec::new();
        for p in &req.partition_ids {
            let mut versions = lock(&self.versions);
            let v = versions.entry(*p).or_insert(1);
            *v += 1;
            for ci in &req.commit_infos {
                tablets.push((ci.tablet_id, *v));
            }
        }
        let mut c = backend_client(8060).await;
        let results = publish(&mut c, req.txn_id, &tablets).await;
        let failed: Vec<String> = results
            .into_iter()
            .filter(|r| !r.ok)
            .map(|r| r.error)
            .collect();
        if lose_answer {
            timeout()
        } else if failed.is_empty() {
            proto::CommitTxnReply {
                ok: true,
                status: "VISIBLE".into(),
                ..Default::default()
            }
        } else {
            proto::CommitTxnReply {
                ok: false,
                error: failed.join("; "),
                ..Default::default()
            }
        }
    }

    /// Whether the backend aborted this transaction.
    pub(crate) fn aborted(&self, txn_id: i64) -> bool {
        lock(&self.aborts).contains(&txn_id)
    }

    /// The next `n` commits take effect but answer with a timeout.
    pub(crate) fn lose_commit_answers(&self, n: u32) {
        *lock(&self.lost_commit_answers) = n;
    }

    pub(crate) fn abort(&self, req: Request<proto::AbortTxnRequest>) -> proto::AbortTxnReply {
        let txn_id = req.into_inner().txn_id;
        if lock(&self.committed).contains(&txn_id) {
            return proto::AbortTxnReply {
                ok: false,
                error: format!("transaction {txn_id} is already VISIBLE"),
                error_code: common::StatusCode::TxnStateInvalid.number(),
            };
        }
        lock(&self.aborts).push(txn_id);
        proto::AbortTxnReply {
            ok: true,
            error: String::new(),
            error_code: 0,
        }
    }

    pub(crate) fn set_never_publishing(&self, txn_id: i64) {
        lock(&self.never_publish).insert(txn_id);
    }

    pub(crate) fn never_publishing(&self, pending: &[i64]) -> Vec<i64> {
        let set = lock(&self.never_publish);
        pending
            .iter()
            .copied()
            .filter(|t| set.contains(t))
            .collect()
    }

    pub(crate) fn set_plan(&self, tablets: Vec<PlanTablet>) {
        self.set_plan_with(load_schema(), tablets);
    }

    /// A plan for a table with other columns than [`load_schema`].
    pub(crate) fn set_plan_with(&self, schema: TableSchema, tablets: Vec<PlanTablet>) {
        *lock(&self.plan) = Some(LoadPlan {
            txn_id: 0,
            db: "db1".into(),
            db_id: 1,
            table: "t1".into(),
            table_id: 20_000,
            schema,
            partition_column: None,
            partitions: vec![PlanPartition {
                partition_id: PARTITION,
                name: "t1".into(),
                lower: None,
                upper: None,
                tablets,
            }],
            quorum: 1,
            replication_num: 1,
            deadline_ms: 0,
        });
    }
}

pub(crate) fn replica(backend_id: i64, port: u16) -> PlanReplica {
    PlanReplica {
        replica_id: backend_id + 1,
        backend_id,
        host: BE.into(),
        brpc_port: port,
    }
}

/// A Stream Load request: (HTTP status, body). With `expect_continue` the body is sent only
/// after the server's `100 Continue`; `chunked` sends it in chunked encoding.
fn put(path: &str, headers: &[(&str, &str)], body: &[u8], chunked: bool) -> (u16, String) {
    let mut s = TcpStream::connect(format!("{BE}:8040")).expect("connect be_http_port");
    s.set_read_timeout(Some(WAIT)).expect("timeout");
    let mut head = format!(
        "PUT {path} HTTP/1.1\r\nHost: {BE}\r\nConnection: close\r\nExpect: 100-continue\r\n"
    );
    if chunked {
        head.push_str("Transfer-Encoding: chunked\r\n");
    } else {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).expect("send head");
    // Wait for 100 Continue (or an early final answer).
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(1) => got.push(byte[0]),
            _ => break,
        }
    }
    let text = String::from_utf8_lossy(&got).into_owned();
    let mut response = if text.starts_with("HTTP/1.1 100") {
        if chunked {
            for piece in body.chunks(5) {
                s.write_all(format!("{:x}\r\n", piece.len()).as_bytes())
                    .expect("chunk");
                s.write_all(piece).expect("chunk");
                s.write_all(b"\r\n").expect("chunk");
            }
            s.write_all(b"0\r\n\r\n").expect("last chunk");
        } else {
            s.write_all(body).expect("send body");
        }
        String::new()
    } else {
        text
    };
    let mut rest = String::new();
    let _ = s.read_to_string(&mut rest);
    response.push_str(&rest);
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

pub(crate) const ROOT: (&str, &str) = ("Authorization", "Basic cm9vdDo="); // root, no password

/// A Stream Load of `body` into db1.t1 (the HTTP client runs off the async threads).
pub(crate) async fn load_http(
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
) -> serde_json::Value {
    let (status, text) = tokio::task::spawn_blocking(move || {
        let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        put("/api/db1/t1/_stream_load", &h, &body, false)
    })
    .await
    .expect("client task");
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_load_through_a_fake_leader() {
    let _lock = machine_lock();
    let dir = tempfile::tempdir().expect("tempdir");
    let txns = Arc::new(FakeTxns::default());
    let (_reports, stop_fe) = fake_frontend_with(txns.clone()).await;
    let handle = start(dir.path()).await;
    assert!(heartbeat(hb(CLUSTER, BE, 1)).await.ok);
    let mut c = backend_client(9060).await;
    for t in [82_001, 82_002] {
        create_load_tablet(&mut c, t).await;
    }
    txns.set_plan(vec![
        PlanTablet {
            tablet_id: 82_001,
            replicas: vec![replica(BACKEND_ID, 8060)],
        },
        PlanTablet {
            tablet_id: 82_002,
            replicas: vec![replica(BACKEND_ID, 8060)],
        },
    ]);

    // CSV with a separator, 100-continue and a label.
    let body = b"1,a\n2,b\n3,c\n4,\\N\n";
    let h = |pairs: &[(&'static str, &str)]| -> Vec<(&'static str, String)> {
        pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
    };
    let v = load_http(
        h(&[ROOT, ("label", "l1"), ("column_separator", ",")]),
        body.to_vec(),
    )
    .await;
    assert_eq!(v["Status"], "Success", "{v}");
    assert_eq!(v["Message"], "OK");
    assert_eq!(v["Label"], "l1");
    assert!(v["TxnId"].as_i64().unwrap_or(0) > 9000, "{v}");
    assert_eq!(
        (
            &v["NumberTotalRows"],
            &v["NumberLoadedRows"],
            &v["NumberFilteredRows"],
            &v["NumberUnselectedRows"]
        ),
        (&4.into(), &4.into(), &0.into(), &0.into())
    );
    assert_eq!(v["LoadBytes"], body.len());
    assert!(v.get("ErrorURL").is_none());
    {
        let commits = lock(&txns.commits);
        let last = commits.last().expect("committed");
        assert_eq!(last.partition_ids, [PARTITION]);
        let mut infos: Vec<(i64, i64)> = last
            .commit_infos
            .iter()
            .map(|c| (c.tablet_id, c.backend_id))
            .collect();
        infos.sort_unstable();
        assert_eq!(
            infos,
            [(82_001, BACKEND_ID), (82_002, BACKEND_ID)],
            "every tablet is written"
        );
        assert_eq!((last.loaded_rows, last.filtered_rows), (4, 0));
        assert!(last.wait_visible_ms > 0 && last.wait_visible_ms <= 10_000);
    }
    let mut keys = keys_at(&handle, 82_001, 2);
    keys.extend(keys_at(&handle, 82_002, 2));
    keys.sort_unstable();
    assert_eq!(keys, [1, 2, 3, 4]);
    // Rows went to the bucket bucket_of chose.
    for k in keys_at(&handle, 82_001, 2) {
        assert_eq!(
            common::load::bucket_of(&[common::load::KeyValue::Int(i128::from(k))], 2),
            0
        );
    }

    // The same label again.
    let v = load_http(
        h(&[ROOT, ("label", "l1"), ("column_separator", ",")]),
        body.to_vec(),
    )
    .await;
    assert_eq!(v["Status"], "Label Already Exists", "{v}");
    assert_eq!(v["ExistingJobStatus"], "FINISHED");
    assert_eq!(v["TxnId"], -1);
    assert_eq!(v["Message"], "Label [l1] has already been used.");

    // A bad row with max_filter_ratio 0: the load fails and is aborted; the error log tells why.
    let v = load_http(
        h(&[ROOT, ("column_separator", ",")]),
        b"5,e\nx,f\n6,g,extra\n".to_vec(),
    )
    .await;
    assert_eq!(v["Status"], "Fail", "{v}");
    assert_eq!(v["Message"], "too many filtered rows");
    assert_eq!(v["NumberFilteredRows"], 2);
    let txn = v["TxnId"].as_i64().expect("txn id");
    assert!(lock(&txns.aborts).contains(&txn), "the txn was aborted");
    let url = v["ErrorURL"].as_str().expect("ErrorURL").to_string();
    let path = url
        .split_once("8040")
        .map(|(_, p)| p.to_string())
        .expect("url path");
    let (status, log) = http_get(&path);
    assert_eq!(status, 200, "{log}");
    assert!(
        log.contains("Error: column k: 'x' is not a valid INT. Row: x,f"),
        "{log}"
    );
    assert!(
        log.contains("Value count does not match column count. Expect 2, but got 3"),
        "{log}"
    );
    for bad in ["file=../../etc/passwd", "file=error_log_..%2Fx", ""] {
        let (status, _) = http_get(&format!("/api/_load_error_log?{bad}"));
        assert_eq!(status, 400, "{bad}");
    }
    assert_eq!(http_get("/api/_load_error_log?file=error_log_0_1").0, 404);

    // The same rows with a ratio that allows them.
    let v = load_http(
        h(&[ROOT, ("column_separator", ","), ("max_filter_ratio", "0.7")]),
        b"5,e\nx,f\n6,g,extra\n".to_vec(),
    )
    .await;
    assert_eq!(v["Status"], "Success", "{v}");
    assert_eq!(
        (&v["NumberLoadedRows"], &v["NumberFilteredRows"]),
        (&1.into(), &2.into())
    );
    assert!(v["ErrorURL"].as_str().is_some(), "{v}");

    // JSON (an array, as INSERT sends it) with a where filter: unselected rows.
    let v = load_http(
        h(&[
            ROOT,
            ("format", "json"),
            ("strip_outer_array", "true"),
            ("where", "k > 10"),
            ("label", "insert_1"),
        ]),
        br#"[{"k": 11, "v": "x"}, {"k": 2, "v": "y"}, {"k": "12", "v": null}]"#.to_vec(),
    )
    .await;
    assert_eq!(v["Status"], "Success", "{v}");
    assert_eq!(
        (
            &v["NumberTotalRows"],
            &v["NumberLoadedRows"],
            &v["NumberUnselectedRows"]
        ),
        (&3.into(), &2.into(), &1.into())
    );

    // Chunked JSON lines with jsonpaths and a columns mapping.
    let (status, text) = {
        tokio::task::spawn_blocking(|| {
            put(
                "/api/db1/t1/_stream_load",
                &[
                    ROOT,
                    ("format", "json"),
                    ("jsonpaths", r#"["$.id", "$.name"]"#),
                    ("columns", "k, v"),
                ],
                b"{\"id\": 21, \"name\": \"n\"}\n{\"id\": 22}\n",
                true,
            )
        })
        .await
        .expect("client task")
    };
    assert_eq!(status, 200, "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(v["Status"], "Success", "{v}");
    assert_eq!(v["NumberLoadedRows"], 2);

    // Nothing to load; bad credentials; a bad header.
    let v = load_http(h(&[ROOT]), Vec::new()).await;
    assert_eq!(v["Message"], "all partitions have no load data", "{v}");
    let v = load_http(
        h(&[("Authorization", "Basic Ym9iOng=")]),
        b"1\ta\n".to_vec(),
    )
    .await;
    assert_eq!(v["Status"], "Fail");
    assert!(
        v["Message"]
            .as_str()
            .is_some_and(|m| m.contains("Access denied")),
        "{v}"
    );
    let v = load_http(h(&[]), b"1\ta\n".to_vec()).await;
    assert!(
        v["Message"]
            .as_str()
            .is_some_and(|m| m.contains("Basic authorization")),
        "{v}"
    );
    let v = load_http(h(&[ROOT, ("timeout", "0")]), b"1\ta\n".to_vec()).await;
    assert!(
        v["Message"]
            .as_str()
            .is_some_and(|m| m.contains("timeout must be")),
        "{v}"
    );
    assert_eq!(v["TxnId"], -1);

    // A replica that cannot be reached is left out of the commit; the load succeeds.
    txns.set_plan(vec![
        PlanTablet {
            tablet_id: 82_001,
            replicas: vec![replica(BACKEND_ID, 8060), replica(10_002, 1)],
        },
        PlanTablet {
            tablet_id: 82_002,
            replicas: vec![replica(BACKEND_ID, 8060)],
        },
    ]);
    let v = load_http(h(&[ROOT]), b"31\ta\n32\tb\n".to_vec()).await;
    assert_eq!(v["Status"], "Success", "{v}");
    {
        let commits = lock(&txns.commits);
        let last = commits.last().expect("committed");
        assert!(
            last.commit_infos.iter().all(|c| c.backend_id == BACKEND_ID),
            "{last:?}"
        );
        assert_eq!(last.commit_infos.len(), 2);
    }
    // A tablet with no reachable replica fails the load.
    txns.set_plan(vec![
        PlanTablet {
            tablet_id: 82_001,
            replicas: vec![replica(10_002, 1)],
        },
        PlanTablet {
            tablet_id: 82_002,
            replicas: vec![replica(BACKEND_ID, 8060)],
        },
    ]);
    let v = load_http(h(&[ROOT]), b"41\ta\n42\tb\n".to_vec()).await;
    assert_eq!(v["Status"], "Fail", "{v}");
    assert!(
        v["Message"]
            .as_str()
            .is_some_and(|m| m.contains("tablet 82001: no replica could be written")),
        "{v}"
    );
    let txn = v["TxnId"].as_i64().expect("txn id");
    assert!(lock(&txns.aborts).contains(&txn));
    // Its pending rowset on the good tablet is dropped by AbortLoad.
    for _ in 0..50 {
        let pending = handle
            .backend
            .storage
            .tablet_meta(82_002)
            .map(|m| m.pending.len())
            .unwrap_or(0);
        if pending == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        handle
            .backend
            .storage
            .tablet_meta(82_002)
            .expect("meta")
            .pending
            .is_empty()
    );
    drop(c);
    handle.shutdown().await;

    // streaming_load_max_mb: a larger body is refused before it is read.
    let mut small = config(dir.path());
    small.streaming_load_max_mb = 1;
    let handle = be::start(small).await.expect("the backend starts");
    assert!(heartbeat(hb(CLUSTER, BE, 1)).await.ok);
    let big = b"1\ta\n".repeat(300_000);
    // HTTP 413 with StarRocks's JSON body.
    let headers = h(&[ROOT]);
    let (status, text) = tokio::task::spawn_blocking(move || {
        let hs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        put("/api/db1/t1/_stream_load", &hs, &big, false)
    })
    .await
    .expect("client task");
    assert_eq!(status, 413, "{text}");
    let v: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(v["Status"], "Fail", "{v}");
    assert!(
        v["Message"]
            .as_str()
            .is_some_and(|m| m.contains("streaming_load_max_mb (1 MB)")),
        "{v}"
    );
    handle.shutdown().await;
    let _ = stop_fe.send(());
}

/// (k, v) of every row of `tablet_id` at `version`.
fn rows_at(handle: &BeHandle, tablet_id: i64, version: i64) -> Vec<(i32, Option<String>)> {
    let read = handle
        .backend
        .storage
        .read_at(tablet_id, version)
        .expect("read at version");
    let mut out = Vec::new();
    for b in read.batches() {
        let b = b.expect("batch");
        let k = b
            .column(0)
            .as_any()
            .downcast_ref::<Int32Array>()
            .expect("k is INT");
        let v = b
            .column(1)
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("v is VARCHAR");
        for i in 0..b.num_rows() {
            out.push((k.value(i), (!v.is_null(i)).then(|| v.value(i).to_string())));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_load_csv_with_enclose_escape_and_trim_space() {
    let _lock = machine_lock();
    let dir = tempfile::tempdir().expect("tempdir");
    let txns = Arc::new(FakeTxns::default());
    let (_reports, stop_fe) = fake_frontend_with(txns.clone()).await;
    let handle = start(dir.path()).await;
    assert!(heartbeat(hb(CLUSTER, BE, 1)).await.ok);
    let mut c = backend_client(9060).await;
    for t in [85_001, 85_002] {
        create_load_tablet(&mut c, t).await;
    }
    txns.set_plan(vec![
        PlanTablet {
            tablet_id: 85_001,
            replicas: vec![replica(BACKEND_ID, 8060)],
        },
        PlanTablet {
            tablet_id: 85_002,
            replicas: vec![replica(BACKEND_ID, 8060)],
        },
    ]);

    // A quoted header, a separator and a newline inside quotes, a doubled quote, an enclosed
    // empty string, NULL, an escaped separator and blanks around fields; sent chunked, 5
    // bytes at a time, so quoted fields span chunks.
    let body = b"\"k\",\"v\"\n1,\"a,b\"\n2,\"x\ny\"\n 3 , \"q\"\"t\" \n4,\"\"\n5,\\N\n6,c\\,d\n";
    let (status, text) = tokio::task::spawn_blocking(move || {
        put(
            "/api/db1/t1/_stream_load",
            &[
                ROOT,
                ("label", "quoted_1"),
                ("column_separator", ","),
                ("skip_header", "1"),
                ("enclose", "\""),
                ("escape", "\\"),
                ("trim_space", "true"),
            ],
            body,
            true,
        )
    })
    .await
    .expect("client task");
    assert_eq!(status, 200, "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(v["Status"], "Success", "{v}");
    assert_eq!(
        (
            &v["NumberTotalRows"],
            &v["NumberLoadedRows"],
            &v["NumberFilteredRows"]
        ),
        (&6.into(), &6.into(), &0.into()),
        "{v}"
    );
    let mut rows = rows_at(&handle, 85_001, 2);
    rows.extend(rows_at(&handle, 85_002, 2));
    rows.sort();
    let s = |t: &str| Some(t.to_string());
    assert_eq!(
        rows,
        [
            (1, s("a,b")),
            (2, s("x\ny")),
            (3, s("q\"t")),
            (4, s("")),
            (5, None),
            (6, s("c,d")),
        ]
    );

    // An enclose character that is never closed filters its row, which runs to the end of the
    // body (so 9 is in it), with why.
    let h = |pairs: &[(&'static str, &str)]| -> Vec<(&'static str, String)> {
        pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
    };
    let v = load_http(
        h(&[
            ROOT,
            ("column_separator", ","),
            ("enclose", "\""),
            ("max_filter_ratio", "0.5"),
        ]),
        b"7,ok\n8,\"open\n9,x\n".to_vec(),
    )
    .await;
    assert_eq!(v["Status"], "Success", "{v}");
    assert_eq!(
        (&v["NumberLoadedRows"], &v["NumberFilteredRows"]),
        (&1.into(), &1.into()),
        "{v}"
    );
    let url = v["ErrorURL"].as_str().expect("ErrorURL").to_string();
    let path = url
        .split_once("8040")
        .map(|(_, p)| p.to_string())
        .expect("url path");
    let (status, log) = http_get(&path);
    assert_eq!(status, 200, "{log}");
    assert!(
        log.contains("column 2 starts with the enclose character `\"` but the data ends"),
        "{log}"
    );

    // Bad values are refused before anything is read, naming the header.
    for (k, val, why) in [
        (
            "enclose",
            "ab",
            "enclose must be a single character, got 'ab'",
        ),
        ("escape", "\\\\", "escape must be a single character"),
        ("trim_space", "maybe", "trim_space must be true or false"),
    ] {
        let v = load_http(h(&[ROOT, (k, val)]), b"1\ta\n".to_vec()).await;
        assert_eq!(v["Status"], "Fail", "{v}");
        assert_eq!(v["TxnId"], -1, "{v}");
        assert!(
            v["Message"].as_str().is_some_and(|m| m.contains(why)),
            "{v}"
        );
    }
    drop(c);
    handle.shutdown().await;
    let _ = stop_fe.send(());
}

/// Regression (fault-injection suite, kill -9 of the leader FE during loads): a commit that
/// took effect but whose answer was lost must not be taken for a failure. The coordinator used
/// to abort and drop the replicas' pending rowsets of a transaction the FE had committed, which
/// then could never publish and blocked every later load of the partition.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_whose_answer_is_lost_is_neither_failed_nor_aborted() {
    let _lock = machine_lock();
    let dir = tempfile::tempdir().expect("tempdir");
    let txns = Arc::new(FakeTxns::default());
    let (_reports, stop_fe) = fake_frontend_with(txns.clone()).await;
    let handle = start(dir.path()).await;
    assert!(heartbeat(hb(CLUSTER, BE, 1)).await.ok);
    let mut c = backend_client(9060).await;
    create_load_tablet(&mut c, 83_001).await;
    txns.set_plan(vec![PlanTablet {
        tablet_id: 83_001,
        replicas: vec![replica(BACKEND_ID, 8060)],
    }]);
    let h = |pairs: &[(&'static str, &str)]| -> Vec<(&'static str, String)> {
        pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
    };

    // One lost answer: the repeated commit finds the transaction committed: Success.
    txns.lose_commit_answers(1);
    let v = load_http(
        h(&[ROOT, ("label", "lost1"), ("column_separator", ",")]),
        b"1,a\n2,b\n".to_vec(),
    )
    .await;
    assert_eq!(v["Status"], "Success", "{v}");
    let txn1 = v["TxnId"].as_i64().expect("txn id");
    assert!(!txns.aborted(txn1), "a committed load must not be aborted");
    assert_eq!(
        lock(&txns.commits)
            .iter()
            .filter(|c| c.txn_id == txn1)
            .count(),
        2,
        "the commit is repeated once"
    );

    // Every answer lost until the load's deadline: the abort that settles the outcome is
    // refused because the transaction is committed, so the load is reported committed (not
    // failed) and the replica keeps the data.
    txns.lose_commit_answers(u32::MAX);
    let v = load_http(
        h(&[
            ROOT,
            ("label", "lost2"),
            ("column_separator", ","),
            ("timeout", "3"),
        ]),
        b"3,c\n".to_vec(),
    )
    .await;
    txns.lose_commit_answers(0);
    assert_eq!(v["Status"], "Publish Timeout", "{v}");
    let txn2 = v["TxnId"].as_i64().expect("txn id");
    assert!(!txns.aborted(txn2));
    let mut keys = keys_at(&handle, 83_001, 3);
    keys.sort_unstable();
    assert_eq!(keys, [1, 2, 3], "both loads' rows are on the replica");
    handle.shutdown().await;
    let _ = stop_fe.send(());
}
