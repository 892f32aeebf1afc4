//! Clone RPCs on one backend: `FetchSnapshot` (the source side) and `CloneTablet` (the
//! destination side) with good and bad input. Copies between two backends are covered by the
//! cluster tests (`crates/testkit/tests/cluster/repair.rs`).

use proto::CloneProgress;
use proto::CloneTabletRequest;
use proto::FetchSnapshotRequest;
use proto::SnapshotPart;
use proto::WriteTabletRequest;
use proto::snapshot_part::Part;
use tessera_be::load::batch::to_ipc;
use tonic::transport::Channel;

use super::*;
use crate::load::BACKEND_ID;
use crate::load::batch;
use crate::load::create_load_tablet;
use crate::load::data;
use crate::load::header;
use crate::load::load_schema;
use crate::load::publish;
use crate::load::write;

async fn fetch(c: &mut BackendServiceClient<Channel>, req: FetchSnapshotRequest) -> Vec<Part> {
    let mut s = c
        .fetch_snapshot(with_cluster(req, Some(CLUSTER)))
        .await
        .expect("fetch rpc")
        .into_inner();
    let mut parts = Vec::new();
    while let Some(SnapshotPart { part: Some(p) }) = s.message().await.expect("a part") {
        parts.push(p);
    }
    parts
}

async fn clone_last(
    c: &mut BackendServiceClient<Channel>,
    req: CloneTabletRequest,
) -> CloneProgress {
    let mut s = c
        .clone_tablet(with_cluster(req, Some(CLUSTER)))
        .await
        .expect("clone rpc")
        .into_inner();
    let mut last = None;
    while let Some(p) = s.message().await.expect("progress") {
        last = Some(p);
    }
    let last = last.expect("a final message");
    assert!(last.done, "the last message says done: {last:?}");
    last
}

fn clone_req(tablet_id: i64, replica_id: i64) -> CloneTabletRequest {
    CloneTabletRequest {
        tablet_id,
        replica_id,
        table_id: 1,
        partition_id: crate::load::PARTITION,
        schema: serde_json::to_vec(&load_schema()).expect("schema"),
        version: 2,
        src_host: BE.into(),
        src_brpc_port: 8060,
        src_backend_id: BACKEND_ID,
        backend_id: BACKEND_ID,
        rate_limit_bytes_per_sec: 0,
        full: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_and_clone_tasks_answer_good_and_bad_input() {
    let _lock = machine_lock();
    let dir = tempfile::tempdir().expect("tempdir");
    let (_reports, _stop_fe) = fake_frontend().await;
    let handle = start(dir.path()).await;
    assert!(heartbeat(hb(CLUSTER, BE, 1)).await.ok);
    let mut c = backend_client(8060).await;
    create_load_tablet(&mut c, 91_001).await;
    let r = write(
        &mut c,
        vec![
            WriteTabletRequest {
                header: Some(header(901, 91_001)),
                ..Default::default()
            },
            data(to_ipc(&batch(&[1, 2, 3], &[Some("a"), None, Some("c")])).expect("ipc")),
        ],
    )
    .await;
    assert!(r.ok, "{}", r.error);
    assert!(publish(&mut c, 901, &[(91_001, 2)]).await[0].ok);

    // A full snapshot: a header, then each file's bytes and its length and CRC32.
    let parts = fetch(
        &mut c,
        FetchSnapshotRequest {
            tablet_id: 91_001,
            version: 2,
            missing_versions: Vec::new(),
            full: true,
            backend_id: BACKEND_ID,
        },
    )
    .await;
    let Some(Part::Header(h)) = parts.first() else {
        panic!("no header first: {parts:?}");
    };
    assert_eq!((h.version, h.full), (2, true));
    assert_eq!(
        h.files.len(),
        1,
        "one rowset file (the base rowset has none)"
    );
    let bytes: Vec<u8> = parts
        .iter()
        .filter_map(|p| match p {
            Part::Data(d) => Some(d.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    let Some(Part::FileEnd(end)) = parts.last() else {
        panic!("no file end last: {parts:?}");
    };
    assert_eq!(end.len, bytes.len() as u64);
    assert_eq!(end.len, h.files[0].len);
    assert_eq!(end.crc32, crc32fast::hash(&bytes));

    // Incremental: the single version 2; a version it never had is refused.
    let parts = fetch(
        &mut c,
        FetchSnapshotRequest {
            tablet_id: 91_001,
            version: 2,
            missing_versions: vec![2],
            full: false,
            backend_id: BACKEND_ID,
        },
    )
    .await;
    assert!(
        matches!(parts.first(), Some(Part::Header(h)) if !h.full && h.files.len() == 1),
        "{parts:?}"
    );
    let bad = |p: &[Part]| match p.first() {
        Some(Part::Error(e)) => e.message.clone(),
        other => panic!("expected an error, got {other:?}"),
    };
    for (req, want) in [
        (
            FetchSnapshotRequest {
                tablet_id: 404,
                version: 2,
                missing_versions: Vec::new(),
                full: true,
                backend_id: BACKEND_ID,
            },
            "does not exist",
        ),
        (
            FetchSnapshotRequest {
                tablet_id: 91_001,
                version: 9,
                missing_versions: Vec::new(),
                full: true,
                backend_id: BACKEND_ID,
            },
            "version",
        ),
        (
            FetchSnapshotRequest {
                tablet_id: 91_001,
                version: 2,
                missing_versions: Vec::new(),
                full: false,
                backend_id: BACKEND_ID,
            },
            "needs the missing versions",
        ),
        (
            FetchSnapshotRequest {
                tablet_id: 91_001,
                version: 2,
                missing_versions: vec![2],
                full: false,
                backend_id: 777,
            },
            "this backend is",
        ),
    ] {
        let msg = bad(&fetch(&mut c, req.clone()).await);
        assert!(msg.contains(want), "{req:?}: {msg}");
    }

    // CloneTablet: a replica that misses nothing is done at once (its own source here).
    let done = clone_last(&mut c, clone_req(91_001, 92_001)).await;
    assert!(done.ok, "{done:?}");
    assert_eq!((done.version, done.row_count, done.bytes_copied), (2, 3, 0));
    for (req, want) in [
        (clone_req(91_001, 0), "invalid tablet"),
        (
            CloneTabletRequest {
                src_host: String::new(),
                ..clone_req(91_001, 92_001)
            },
            "invalid source address",
        ),
        (
            CloneTabletRequest {
                schema: b"not json".to_vec(),
                ..clone_req(91_001, 92_001)
            },
            "not a valid table schema",
        ),
        (
            CloneTabletRequest {
                tablet_id: 91_002,
                src_host: "127.0.0.63".into(),
                ..clone_req(91_002, 92_002)
            },
            "clone source",
        ),
    ] {
        let last = clone_last(&mut c, req.clone()).await;
        assert!(!last.ok && last.error.contains(want), "{req:?}: {last:?}");
    }
    // Nothing was created by the failed clone into an absent tablet.
    assert!(handle.backend.storage.tablet_meta(91_002).is_none());
    // Without the cluster token (and cluster id) both are refused.
    let e = c
        .fetch_snapshot(tonic::Request::new(FetchSnapshotRequest::default()))
        .await
        .expect_err("no token");
    assert_eq!(e.code(), Code::Unauthenticated);
    assert!(e.message().contains("invalid token"), "{e:?}");
    let mut wrong = tonic::Request::new(FetchSnapshotRequest::default());
    proto::auth::stamp(&mut wrong, "not-the-token");
    let e = c.fetch_snapshot(wrong).await.expect_err("wrong token");
    assert_eq!(e.code(), Code::Unauthenticated);
    assert!(e.message().contains("Unmatched token"), "{e:?}");
    drop(c);
    handle.shutdown().await;
}
