//! `GET /api/checksum?tablet_id=<id>&version=<v>` on the backend's HTTP port: replicas holding
//! the same rows have the same checksum however the rows got there (one load or several, in
//! any order, compacted or not); other rows, or another version, give another; bad requests
//! get a JSON error with a stable code.

use std::time::Duration;

use common::StatusCode;
use proto::WriteTabletRequest;
use storage::CompactionKind;
use storage::CompactionPolicy;
use tessera_be::load::batch::to_ipc;

use super::*;
use crate::load::batch;
use crate::load::create_load_tablet;
use crate::load::data;
use crate::load::header;
use crate::load::publish;
use crate::load::write;

/// Rows (k, v) as loads send them.
type Rows<'a> = &'a [(i32, Option<&'a str>)];

const R1: Rows = &[(1, Some("a")), (2, None), (3, Some("c"))];
const R2: Rows = &[(4, Some("d")), (5, Some("e")), (6, None)];
const R3: Rows = &[(7, Some("g")), (8, Some("h"))];

/// Loads `rows` into a tablet as transaction `txn`, published as `version`.
async fn load(
    c: &mut BackendServiceClient<Channel>,
    tablet_id: i64,
    txn: i64,
    version: i64,
    rows: Rows<'_>,
) {
    let keys: Vec<i32> = rows.iter().map(|r| r.0).collect();
    let values: Vec<Option<&str>> = rows.iter().map(|r| r.1).collect();
    let r = write(
        c,
        vec![
            WriteTabletRequest {
                header: Some(header(txn, tablet_id)),
                ..Default::default()
            },
            data(to_ipc(&batch(&keys, &values)).expect("ipc")),
        ],
    )
    .await;
    assert!(r.ok, "tablet {tablet_id} txn {txn}: {}", r.error);
    let p = publish(c, txn, &[(tablet_id, version)]).await;
    assert!(
        p[0].ok,
        "tablet {tablet_id} version {version}: {}",
        p[0].error
    );
}

fn concat<'a>(parts: &[Rows<'a>]) -> Vec<(i32, Option<&'a str>)> {
    parts.iter().flat_map(|p| p.iter().copied()).collect()
}

/// `GET /api/checksum?...` (off the async threads): (HTTP status, JSON).
async fn get(query: &str) -> (u16, serde_json::Value) {
    let path = format!("/api/checksum{query}");
    let (status, body) = tokio::task::spawn_blocking(move || http_get(&path))
        .await
        .expect("client task");
    let v = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    (status, v)
}

/// The checksum and row count of a tablet at a version (which must succeed).
async fn checksum(tablet_id: i64, version: i64) -> (String, i64) {
    let (status, v) = get(&format!("?tablet_id={tablet_id}&version={version}")).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], "OK", "{v}");
    assert_eq!(
        (v["tablet_id"].as_i64(), v["version"].as_i64()),
        (Some(tablet_id), Some(version))
    );
    let sum = v["checksum"].as_str().expect("checksum").to_string();
    assert_eq!(sum.len(), 32, "{v}");
    assert!(sum.chars().all(|c| c.is_ascii_hexdigit()), "{v}");
    (sum, v["rows"].as_i64().expect("rows"))
}

/// A refused request: its HTTP status, code and message.
async fn refused(query: &str) -> (u16, StatusCode, String) {
    let (status, v) = get(query).await;
    assert_eq!(v["status"], "FAILED", "{query}: {v}");
    let code = v["code"]
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .and_then(StatusCode::from_number)
        .unwrap_or_else(|| panic!("{query}: no known code in {v}"));
    (
        status,
        code,
        v["msg"].as_str().unwrap_or_default().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_with_the_same_rows_have_the_same_checksum() {
    let _lock = machine_lock();
    let dir = tempfile::tempdir().expect("tempdir");
    let (_reports, stop_fe) = fake_frontend().await;
    let handle = start(dir.path()).await;
    assert!(heartbeat(hb(CLUSTER, BE, 1)).await.ok);
    let mut c = backend_client(8060).await;
    let (a, b, other, first) = (96_001, 96_002, 96_003, 96_004);
    for t in [a, b, other, first] {
        create_load_tablet(&mut c, t).await;
    }
    // a: R1 and R2 in one load, then R3. b: R1, R2 (its rows in another order), R3 apart.
    load(&mut c, a, 601, 2, &concat(&[R1, R2])).await;
    load(&mut c, a, 602, 3, R3).await;
    load(&mut c, b, 611, 2, R1).await;
    let r2_reversed: Vec<(i32, Option<&str>)> = R2.iter().rev().copied().collect();
    load(&mut c, b, 612, 3, &r2_reversed).await;
    load(&mut c, b, 613, 4, R3).await;
    // other: the rows of a at version 3 but one value differs. first: R1 only.
    let mut changed = concat(&[R1, R2, R3]);
    changed[4].1 = Some("E");
    load(&mut c, other, 621, 2, &changed).await;
    load(&mut c, first, 631, 2, R1).await;

    // The same rows: the same checksum and row count, whatever the loads were.
    let a2 = checksum(a, 2).await;
    let a3 = checksum(a, 3).await;
    assert_eq!(a2.1, 6);
    assert_eq!(a3.1, 8);
    assert_eq!(checksum(b, 3).await, a2, "R1 + R2 in one load or two");
    assert_eq!(checksum(b, 4).await, a3);
    // Other rows: another checksum (the same count).
    let o = checksum(other, 2).await;
    assert_eq!(o.1, 8);
    assert_ne!(o.0, a3.0, "one value differs");
    // An older version: the rows at that version.
    let b2 = checksum(b, 2).await;
    assert_eq!(b2, checksum(first, 2).await);
    assert_eq!(b2.1, 3);
    assert_ne!(b2.0, a3.0);
    // A new tablet's version 1 has no rows.
    let empty = checksum(a, 1).await;
    assert_eq!(empty.1, 0);
    assert_ne!(empty.0, b2.0);

    // Compaction rewrites b's versions 2-4 into one sorted file: nothing changes.
    let policy = CompactionPolicy {
        min_cumulative_deltas: 2,
        ..CompactionPolicy::default()
    };
    let storage = handle.backend.storage.clone();
    let done = tokio::task::spawn_blocking(move || {
        storage.compact(b, CompactionKind::Cumulative, &policy)
    })
    .await
    .expect("task")
    .expect("compaction")
    .expect("a compaction was due");
    assert_eq!((done.start_version, done.end_version), (2, 4));
    assert_eq!(checksum(b, 4).await, a3, "after compaction");
    // Older versions stay readable through the stale rowsets until they are swept.
    assert_eq!(checksum(b, 2).await, b2);
    let storage = handle.backend.storage.clone();
    let swept = tokio::task::spawn_blocking(move || storage.sweep_stale(Duration::ZERO))
        .await
        .expect("task")
        .expect("sweep");
    assert_eq!(swept, 3);
    assert_eq!(checksum(b, 4).await, a3);

    // The page needs a user the frontend knows (/api/health does not).
    let q = format!("/api/checksum?tablet_id={b}&version=2");
    for basic in [None, Some("bm9ib2R5Ong=")] {
        let q = q.clone();
        let (status, body) = tokio::task::spawn_blocking(move || http_get_as(&q, basic))
            .await
            .expect("client task");
        assert_eq!(status, 401, "{basic:?}: {body}");
        assert!(body.contains("FAILED"), "{body}");
    }
    let (status, _) = tokio::task::spawn_blocking(|| http_get_as("/api/health", None))
        .await
        .expect("client task");
    assert_eq!(status, 200);

    // Bad requests.
    for (query, status, code, words) in [
        (
            "",
            400,
            StatusCode::InvalidArgument,
            "missing the tablet_id parameter",
        ),
        (
            "?tablet_id=96001",
            400,
            StatusCode::InvalidArgument,
            "missing the version parameter",
        ),
        (
            "?version=2",
            400,
            StatusCode::InvalidArgument,
            "missing the tablet_id parameter",
        ),
        (
            "?tablet_id=x&version=2",
            400,
            StatusCode::InvalidArgument,
            "tablet_id must be a non-negative integer, not 'x'",
        ),
        (
            "?tablet_id=96001&version=2.5",
            400,
            StatusCode::InvalidArgument,
            "version must be a non-negative integer",
        ),
        (
            "?tablet_id=96001&version=-1",
            400,
            StatusCode::InvalidArgument,
            "version must be a non-negative integer",
        ),
        (
            "?tablet_id=12345&version=2",
            404,
            StatusCode::TabletNotFound,
            "tablet 12345 does not exist on this backend",
        ),
        (
            "?tablet_id=96001&version=9",
            409,
            StatusCode::VersionNotReached,
            "this replica is at version 3 (version 9 is not published here yet)",
        ),
        (
            "?tablet_id=96002&version=3",
            409,
            StatusCode::VersionsCompacted,
            "compaction merged versions [2-4] into one rowset",
        ),
    ] {
        let (got_status, got_code, msg) = refused(query).await;
        assert_eq!((got_status, got_code), (status, code), "{query}: {msg}");
        assert!(msg.contains(words), "{query}: {msg}");
    }
    drop(c);
    handle.shutdown().await;
    let _ = stop_fe.send(());
}
