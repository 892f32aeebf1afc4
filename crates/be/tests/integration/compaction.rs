//! Compaction on a running backend: small loads through `WriteTablet`/`PublishVersion` pile up
//! versions, the "too many versions" limit refuses more (at `WriteTablet` and through Stream
//! Load), the background compaction brings the version count down, and the sweeper removes the
//! stale rowsets.

use std::sync::Arc;
use std::time::Duration;

use common::load::PlanTablet;
use proto::WriteTabletReply;
use proto::WriteTabletRequest;
use tessera_be::load::batch::to_ipc;

use super::load::*;
use super::*;

const TABLET: i64 = 84_001;

fn txn(version: i64) -> i64 {
    500_000 + version
}

/// Writes `[version]` as the pending rowset of the load that will be `version`.
async fn write_version(c: &mut BackendServiceClient<Channel>, version: i64) -> WriteTabletReply {
    let k = i32::try_from(version).expect("small version");
    let ipc = to_ipc(&batch(&[k], &[Some("x")])).expect("ipc");
    write(
        c,
        vec![
            WriteTabletRequest {
                header: Some(header(txn(version), TABLET)),
                arrow_ipc: Vec::new(),
                ..Default::default()
            },
            data(ipc),
        ],
    )
    .await
}

async fn load_version(c: &mut BackendServiceClient<Channel>, version: i64) {
    let r = write_version(c, version).await;
    assert!(r.ok, "version {version}: {}", r.error);
    let p = publish(c, txn(version), &[(TABLET, version)]).await;
    assert!(p[0].ok, "version {version}: {}", p[0].error);
}

fn version_count(handle: &BeHandle) -> usize {
    handle
        .backend
        .storage
        .tablet_meta(TABLET)
        .map(|m| m.version_count())
        .unwrap_or(0)
}

/// Waits until `cond` holds (checked every 100 ms), at most `within`.
async fn wait_until(what: &str, within: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + within;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not within {within:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn keys(from: i32, to: i32) -> Vec<i32> {
    (from..=to).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_keeps_versions_under_the_limit() {
    let _lock = machine_lock();
    let dir = tempfile::tempdir().expect("tempdir");
    let txns = Arc::new(load::FakeTxns::default());
    let (_reports, stop_fe) = fake_frontend_with(txns.clone()).await;

    // 1. Compaction off and a limit of 8 versions: the ninth visible rowset is the last.
    let mut cfg = config(dir.path());
    cfg.max_compaction_concurrency = 0;
    cfg.tablet_max_versions = 8;
    let handle = be::start(cfg.clone()).await.expect("the backend starts");
    assert!(heartbeat(hb(CLUSTER, BE, 1)).await.ok);
    let mut c = backend_client(8060).await;
    create_load_tablet(&mut c, TABLET).await;
    for v in 2..=9 {
        load_version(&mut c, v).await;
    }
    assert_eq!(version_count(&handle), 9, "the base rowset and 8 loads");
    let r = write_version(&mut c, 10).await;
    assert!(!r.ok, "a write over the limit was accepted");
    assert!(
        r.error.contains(
            "Failed to load data into tablet 84001, because of too many versions, \
             current/limit: 9/8"
        ),
        "{}",
        r.error
    );
    // A Stream Load whose only replica refuses fails with the replica's reason.
    txns.set_plan(vec![PlanTablet {
        tablet_id: TABLET,
        replicas: vec![replica(BACKEND_ID, 8060)],
    }]);
    let v = load_http(vec![(ROOT.0, ROOT.1.to_string())], b"1\ta\n".to_vec()).await;
    assert_eq!(v["Status"], "Fail", "{v}");
    let message = v["Message"].as_str().unwrap_or_default();
    assert!(
        message.contains("tablet 84001: no replica could be written")
            && message.contains("because of too many versions, current/limit: 9/8"),
        "{v}"
    );
    assert_eq!(keys_at(&handle, TABLET, 9), keys(2, 9));
    drop(c);
    handle.shutdown().await;

    // 2. Compaction on (cumulative checks every second, the default): the versions are merged,
    // old versions stay readable through the stale rowsets, loads are accepted again.
    cfg.max_compaction_concurrency = -1;
    let handle = be::start(cfg.clone()).await.expect("the backend starts");
    assert!(heartbeat(hb(CLUSTER, BE, 1)).await.ok);
    wait_until(
        "cumulative compaction merges versions 2-9",
        Duration::from_secs(15),
        || version_count(&handle) == 2,
    )
    .await;
    let meta = handle.backend.storage.tablet_meta(TABLET).expect("meta");
    assert_eq!(
        meta.rowsets
            .iter()
            .map(|r| (r.start_version, r.end_version))
            .collect::<Vec<_>>(),
        [(0, 1), (2, 9)]
    );
    assert_eq!(meta.stale.len(), 8);
    assert_eq!(keys_at(&handle, TABLET, 9), keys(2, 9));
    assert_eq!(keys_at(&handle, TABLET, 5), keys(2, 5), "an old version");
    let mut c = backend_client(8060).await;
    for v in 10..=14 {
        load_version(&mut c, v).await;
    }
    wait_until(
        "the next five loads are merged too",
        Duration::from_secs(15),
        || version_count(&handle) == 2,
    )
    .await;
    assert_eq!(keys_at(&handle, TABLET, 14), keys(2, 14));
    assert_eq!(keys_at(&handle, TABLET, 12), keys(2, 12));
    drop(c);
    handle.shutdown().await;

    // 3. Stale rowsets kept for 0 s: the sweeper removes them; old versions are gone, the
    // newest reads.
    cfg.tablet_rowset_stale_sweep_time_sec = 0;
    let handle = be::start(cfg).await.expect("the backend starts");
    wait_until(
        "the stale rowsets are swept",
        Duration::from_secs(10),
        || {
            handle
                .backend
                .storage
                .tablet_meta(TABLET)
                .is_some_and(|m| m.stale.is_empty())
        },
    )
    .await;
    let err = handle
        .backend
        .storage
        .read_at(TABLET, 5)
        .expect_err("version 5 was merged away");
    assert!(err.message.contains("compaction merged"), "{}", err.message);
    assert_eq!(keys_at(&handle, TABLET, 14), keys(2, 14));
    let files = std::fs::read_dir(handle.backend.storage.tablet_dir(TABLET).expect("dir"))
        .expect("read dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".parquet"))
        .count();
    assert_eq!(files, 1, "one merged rowset file is left");
    handle.shutdown().await;
    let _ = stop_fe.send(());
}
