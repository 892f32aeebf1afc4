//! A full disk on a running backend: a Stream Load that does not fit fails with a clear
//! "disk full" message and leaves nothing behind; queries (Arrow Flight), clone snapshots and
//! checksums keep working; once space is freed the same load succeeds without a restart. A
//! root at its flood stage refuses loads before they write.
//!
//! The full disk is a small tmpfs mounted for the test (which needs root); without it the test
//! prints a notice and passes without running.

use std::path::Path;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use arrow_flight::Ticket;
use arrow_flight::decode::FlightRecordBatchStream;
use arrow_flight::error::FlightError;
use arrow_flight::flight_service_client::FlightServiceClient;
use common::load::PlanTablet;
use futures::TryStreamExt;
use prost::Message;
use proto::FetchSnapshotRequest;
use proto::SnapshotPart;
use proto::WriteTabletRequest;
use proto::snapshot_part::Part;
use tessera_be::load::batch::to_ipc;

use super::load::*;
use super::*;

const TABLETS: [i64; 2] = [97_001, 97_002];

/// A tmpfs mounted on `mnt`; unmounted when dropped.
struct Tmpfs {
    mnt: PathBuf,
}

impl Tmpfs {
    fn mount(mnt: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(mnt).expect("mkdir");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(mnt)
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Tmpfs {
                mnt: mnt.to_path_buf(),
            }),
            Ok(o) => {
                eprintln!(
                    "NOTICE: the full-disk test is skipped: cannot mount a tmpfs (root is \
                     needed): {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("NOTICE: the full-disk test is skipped: cannot run mount: {e}");
                None
            }
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.mnt)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount").arg("-l").arg(&self.mnt).status();
        }
    }
}

/// Writes zeros into `path` until at most `leave` bytes are left on its file system.
fn fill(path: &Path, leave: u64) {
    use std::io::Write;
    let dir = path.parent().expect("a parent");
    let available = || {
        let s = rustix::fs::statvfs(dir).expect("statvfs");
        s.f_bavail * s.f_frsize
    };
    let mut f = std::fs::File::create(path).expect("create the filler");
    let chunk = vec![0u8; 64 * 1024];
    loop {
        let left = available();
        if left <= leave {
            break;
        }
        let n = usize::try_from((left - leave).min(chunk.len() as u64)).unwrap_or(chunk.len());
        if f.write_all(&chunk[..n]).is_err() {
            break;
        }
    }
    let _ = f.sync_all();
}

/// `n` CSV rows `k<TAB>v` from key `from`, with values that barely compress.
fn body(from: i32, n: i32) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15 ^ from as u64;
    let mut out = String::new();
    for k in from..from + n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.push_str(&format!("{k}\t{:08x}\n", x as u32));
    }
    out.into_bytes()
}

fn plan(txns: &FakeTxns) {
    txns.set_plan(
        TABLETS
            .iter()
            .map(|t| PlanTablet {
                tablet_id: *t,
                replicas: vec![replica(BACKEND_ID, 8060)],
            })
            .collect(),
    );
}

async fn stream_load(body: Vec<u8>) -> serde_json::Value {
    load_http(vec![(ROOT.0, ROOT.1.to_string())], body).await
}

/// Every key visible in the tablets at their current versions.
fn all_keys(handle: &BeHandle) -> Vec<i32> {
    let mut keys = Vec::new();
    for t in TABLETS {
        let v = handle.backend.storage.tablet_meta(t).expect("meta").version;
        keys.extend(keys_at(handle, t, v));
    }
    keys.sort_unstable();
    keys
}

/// No tablet directory holds a file its metadata does not name (temporary files included).
fn no_leftovers(handle: &BeHandle) {
    for t in TABLETS {
        let meta = handle.backend.storage.tablet_meta(t).expect("meta");
        let dir = handle.backend.storage.tablet_dir(t).expect("dir");
        let mut named: Vec<String> = meta.files().map(str::to_string).collect();
        named.sort();
        let mut present: Vec<String> = std::fs::read_dir(&dir)
            .expect("read dir")
            .flatten()
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .collect();
        present.sort();
        assert_eq!(present, named, "tablet {t}");
        assert!(meta.pending.is_empty(), "tablet {t}: {:?}", meta.pending);
    }
}

/// Rows a query scan of a tablet returns (Arrow Flight on brpc_port).
async fn scan_rows(tablet_id: i64, version: i64) -> usize {
    let leaf = query::TabletLeaf {
        table: "db1.t1".into(),
        schema: load_schema(),
        projection: None,
        predicate: None,
        limit: None,
    };
    let fragment = query::encode_fragment(Arc::new(
        query::TabletLeafExec::try_new(leaf).expect("leaf"),
    ))
    .expect("encode")
    .to_vec();
    let ticket = proto::ScanTicket {
        tablet_id,
        version,
        fragment,
        query_id: "disk-full".into(),
        backend_id: 0,
        mem_limit: 0,
    }
    .encode_to_vec();
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{BE}:8060"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect brpc_port");
    let stream = FlightServiceClient::new(channel)
        .do_get(with_cluster(Ticket::new(ticket), Some(CLUSTER)))
        .await
        .expect("do_get")
        .into_inner();
    let batches = FlightRecordBatchStream::new_from_flight_data(
        stream.map_err(|s| FlightError::Tonic(Box::new(s))),
    );
    batches
        .try_fold(0usize, |n, b| async move { Ok(n + b.num_rows()) })
        .await
        .expect("scan")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_fails_loads_cleanly_and_reads_go_on() {
    let _lock = machine_lock();
    let dir = tempfile::tempdir().expect("tempdir");
    let mnt = dir.path().join("tmpfs");
    let Some(tmpfs) = Tmpfs::mount(&mnt, "16m") else {
        return;
    };
    let txns = Arc::new(FakeTxns::default());
    let (_reports, stop_fe) = fake_frontend_with(txns.clone()).await;
    // The flood stage only when nothing is left: the writes meet the full disk itself.
    let cfg = BeConfig {
        storage_root_path: mnt.join("root").display().to_string(),
        storage_flood_stage_usage_percent: 100,
        storage_flood_stage_left_capacity_bytes: 0,
        ..config(dir.path())
    };
    let handle = be::start(cfg).await.expect("the backend starts");
    assert!(heartbeat(hb(CLUSTER, BE, 1)).await.ok);
    let mut c = backend_client(8060).await;
    for t in TABLETS {
        create_load_tablet(&mut c, t).await;
    }
    plan(&txns);
    let v = stream_load(body(0, 1000)).await;
    assert_eq!(v["Status"], "Success", "{v}");
    let before = all_keys(&handle);
    assert_eq!(before, (0..1000).collect::<Vec<_>>());
    let sums: Vec<(u16, String)> = TABLETS
        .iter()
        .map(|t| http_get(&format!("/api/checksum?tablet_id={t}&version=2")))
        .collect();

    // Leave 256 KB: a load of several MB does not fit.
    let filler = mnt.join("filler");
    fill(&filler, 256 * 1024);
    let big = body(10_000, 300_000);
    let v = stream_load(big.clone()).await;
    assert_eq!(v["Status"], "Fail", "{v}");
    let message = v["Message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&format!(
            "disk full on storage root {}",
            mnt.join("root").display()
        )),
        "{v}"
    );
    assert!(message.contains("No space left on device"), "{v}");
    let txn = v["TxnId"].as_i64().expect("txn id");
    assert!(txns.aborted(txn), "the transaction was aborted");
    // Nothing changed and nothing was left behind.
    assert_eq!(all_keys(&handle), before);
    no_leftovers(&handle);

    // Reads go on: checksums, queries, clone snapshots.
    for (t, sum) in TABLETS.iter().zip(&sums) {
        assert_eq!(
            &http_get(&format!("/api/checksum?tablet_id={t}&version=2")),
            sum
        );
    }
    let rows: usize = {
        let mut n = 0;
        for t in TABLETS {
            n += scan_rows(t, 2).await;
        }
        n
    };
    assert_eq!(rows, 1000);
    let mut s = c
        .fetch_snapshot(with_cluster(
            FetchSnapshotRequest {
                tablet_id: TABLETS[0],
                version: 2,
                missing_versions: Vec::new(),
                full: true,
                backend_id: BACKEND_ID,
            },
            Some(CLUSTER),
        ))
        .await
        .expect("fetch rpc")
        .into_inner();
    let mut parts = Vec::new();
    while let Some(SnapshotPart { part: Some(p) }) = s.message().await.expect("a part") {
        parts.push(p);
    }
    assert!(
        matches!(parts.first(), Some(Part::Header(h)) if h.files.len() == 1),
        "{parts:?}"
    );
    assert!(matches!(parts.last(), Some(Part::FileEnd(_))), "{parts:?}");

    // Space returns: the same load succeeds, no restart needed.
    std::fs::remove_file(&filler).expect("free space");
    let v = stream_load(big).await;
    assert_eq!(v["Status"], "Success", "{v}");
    assert_eq!(v["NumberLoadedRows"], 300_000);
    let mut want: Vec<i32> = (0..1000).chain(10_000..310_000).collect();
    want.sort_unstable();
    assert_eq!(all_keys(&handle), want);
    no_leftovers(&handle);
    drop(c);
    handle.shutdown().await;
    drop(tmpfs);
    let _ = stop_fe.send(());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_root_at_its_flood_stage_refuses_loads() {
    let _lock = machine_lock();
    let dir = tempfile::tempdir().expect("tempdir");
    let txns = Arc::new(FakeTxns::default());
    let (_reports, stop_fe) = fake_frontend_with(txns.clone()).await;
    // Any usage, any free space: every disk is at its flood stage.
    let cfg = BeConfig {
        storage_root_path: dir.path().join("s1").display().to_string(),
        storage_flood_stage_usage_percent: 0,
        storage_flood_stage_left_capacity_bytes: i64::MAX,
        ..config(dir.path())
    };
    let handle = be::start(cfg).await.expect("the backend starts");
    assert!(heartbeat(hb(CLUSTER, BE, 1)).await.ok);
    let mut c = backend_client(8060).await;
    for t in TABLETS {
        create_load_tablet(&mut c, t).await;
    }
    plan(&txns);
    let v = stream_load(body(0, 10)).await;
    assert_eq!(v["Status"], "Fail", "{v}");
    let message = v["Message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&format!(
            "disk full on storage root {}",
            dir.path().join("s1").display()
        )) && message.contains("flood stage")
            && message.contains("storage_flood_stage_left_capacity_bytes"),
        "{v}"
    );
    // A replica write is refused the same way, before any byte is written.
    let r = write(
        &mut c,
        vec![
            WriteTabletRequest {
                header: Some(header(77, TABLETS[0])),
                ..Default::default()
            },
            data(to_ipc(&batch(&[1], &[Some("a")])).expect("ipc")),
        ],
    )
    .await;
    assert!(!r.ok && r.error.contains("flood stage"), "{}", r.error);
    no_leftovers(&handle);
    // Reads are not refused.
    let (status, body) = http_get(&format!("/api/checksum?tablet_id={}&version=1", TABLETS[0]));
    assert_eq!(status, 200, "{body}");
    assert_eq!(scan_rows(TABLETS[0], 1).await, 0);
    drop(c);
    handle.shutdown().await;
    let _ = stop_fe.send(());
}
