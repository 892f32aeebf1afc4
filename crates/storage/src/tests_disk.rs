//! A full disk: loads, clones, compactions and metadata commits on a storage root that runs out
//! of space fail with DiskFull, leave nothing behind and change nothing; reads go on; writes
//! work again once space is freed. The flood stage refuses writes before they start.
//!
//! The full disk is a small tmpfs mounted for the test (which needs root); without it the
//! tests print a notice and pass without running.

use std::fs;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use arrow::array::Array;
use arrow::array::Int32Array;
use arrow::array::RecordBatch;
use arrow::array::StringArray;
use common::StatusCode;
use common::schema::ColumnSchema;
use common::schema::DataType;
use common::schema::KeysType;
use common::schema::TableSchema;

use crate::CloneTarget;
use crate::CompactionKind;
use crate::CompactionPolicy;
use crate::CreateTablet;
use crate::FloodStage;
use crate::RowsetEncoder;
use crate::StorageEngine;
use crate::StorageOptions;
use crate::TabletMeta;

const T: i64 = 95_001;
const PARTITION: i64 = 101;

/// A tmpfs mounted on a fresh directory; unmounted when dropped.
struct Tmpfs {
    mnt: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (`8m`), or says why not and returns `None`.
    fn mount(size: &str, test: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().expect("tempdir");
        let mnt = dir.path().join("mnt");
        fs::create_dir(&mnt).expect("mkdir");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&mnt)
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Tmpfs { mnt, _dir: dir }),
            Ok(o) => {
                eprintln!(
                    "NOTICE: {test} skipped: cannot mount a tmpfs (root is needed): {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("NOTICE: {test} skipped: cannot run mount: {e}");
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
            // Still busy (an open file): detach it now, it goes when the last file closes.
            let _ = Command::new("umount").arg("-l").arg(&self.mnt).status();
        }
    }
}

/// Bytes still available on the file system holding `dir`.
fn available(dir: &Path) -> u64 {
    let s = rustix::fs::statvfs(dir).expect("statvfs");
    s.f_bavail * s.f_frsize
}

/// Writes a file of zeros at `path` until `leave` bytes are left available (or the disk is
/// full).
fn fill(path: &Path, leave: u64) {
    let dir = path.parent().expect("a parent");
    let mut f = File::create(path).expect("create the filler");
    let chunk = vec![0u8; 64 * 1024];
    loop {
        let left = available(dir);
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

/// A flood stage that is never reached, so the writes meet the full disk itself.
fn no_flood_stage() -> StorageOptions {
    StorageOptions {
        flood_stage: FloodStage {
            usage_percent: 100,
            left_capacity_bytes: -1,
        },
        ..StorageOptions::default()
    }
}

fn schema() -> TableSchema {
    let col = |name: &str, data_type, is_key: bool| ColumnSchema {
        name: name.into(),
        data_type,
        nullable: !is_key,
        is_key,
        default: None,
        comment: String::new(),
    };
    TableSchema {
        columns: vec![
            col("k", DataType::Int, true),
            col("v", DataType::String, false),
        ],
        keys_type: KeysType::Duplicate,
        distribution_columns: vec!["k".into()],
        buckets: 1,
        schema_version: 0,
    }
}

fn create(e: &StorageEngine, tablet_id: i64) -> common::Result<crate::CreateOutcome> {
    e.create_tablet(CreateTablet {
        tablet_id,
        replica_id: tablet_id + 1,
        table_id: 100,
        partition_id: PARTITION,
        schema: schema(),
        version: 1,
    })
}

/// `n` rows from key `from`, with values that barely compress (about 40 bytes each).
fn batch(from: i32, n: i32) -> RecordBatch {
    let keys: Vec<i32> = (from..from + n).collect();
    let mut x: u64 = 0x2545_f491_4f6c_dd1d ^ from as u64;
    let values: Vec<String> = keys
        .iter()
        .map(|_| {
            let mut s = String::with_capacity(40);
            for _ in 0..5 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                s.push_str(&format!("{x:08x}"));
            }
            s
        })
        .collect();
    RecordBatch::try_new(
        crate::arrow_schema(&schema()),
        vec![
            Arc::new(Int32Array::from(keys)),
            Arc::new(StringArray::from(values)),
        ],
    )
    .expect("batch")
}

/// Writes a load of `batches` for transaction `txn` and publishes it as the next version.
fn load(
    e: &StorageEngine,
    tablet_id: i64,
    txn: i64,
    batches: &[RecordBatch],
) -> common::Result<i64> {
    let mut w = e.rowset_writer(txn, tablet_id, PARTITION)?;
    for b in batches {
        w.write(b)?;
    }
    e.commit_rowset(w)?;
    let version = e.tablet_meta(tablet_id).map_or(1, |m| m.version) + 1;
    e.publish(txn, tablet_id, PARTITION, version)
}

/// The keys visible at a version.
fn keys_at(e: &StorageEngine, tablet_id: i64, version: i64) -> Vec<i32> {
    let read = e.read_at(tablet_id, version).expect("read");
    let mut out = Vec::new();
    for b in read.batches() {
        let b = b.expect("batch");
        let k = b
            .column(0)
            .as_any()
            .downcast_ref::<Int32Array>()
            .expect("INT");
        out.extend(k.values().iter().copied());
    }
    out.sort_unstable();
    out
}

/// Files in a directory (names), sorted.
fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// The tablet's directory holds exactly the files its metadata names: no temporary file, no
/// file of a failed write.
fn only_named_files(e: &StorageEngine, tablet_id: i64) {
    let meta = e.tablet_meta(tablet_id).expect("meta");
    let dir = e.tablet_dir(tablet_id).expect("dir");
    let mut named: Vec<String> = meta.files().map(str::to_string).collect();
    named.sort();
    assert_eq!(files_in(&dir), named, "the files of tablet {tablet_id}");
}

fn assert_disk_full(err: &common::Error, root: &Path) {
    assert_eq!(err.code, StatusCode::DiskFull, "{}", err.message);
    assert!(
        err.message
            .contains(&format!("disk full on storage root {}", root.display())),
        "{}",
        err.message
    );
}

#[test]
fn a_full_disk_fails_writes_cleanly_and_they_work_again_when_space_returns() {
    let Some(fs_) = Tmpfs::mount("8m", "a_full_disk_fails_writes_cleanly") else {
        return;
    };
    let root = fs_.mnt.join("root");
    let e = StorageEngine::open_with(std::slice::from_ref(&root), no_flood_stage()).expect("open");
    create(&e, T).expect("create");
    assert_eq!(load(&e, T, 1, &[batch(0, 100)]).expect("load"), 2);
    let before = e.tablet_meta(T).expect("meta");
    let sum_before = e.checksum(T, 2).expect("checksum");

    // Fill the disk up to 64 KB; a load of about 1 MB cannot fit.
    let filler = fs_.mnt.join("filler");
    fill(&filler, 64 * 1024);
    let big = [batch(1000, 10_000), batch(11_000, 10_000)];
    let err = load(&e, T, 2, &big).expect_err("the disk is full");
    assert_disk_full(&err, &root);
    assert!(err.message.contains("tablet 95001"), "{}", err.message);
    // Nothing changed, nothing is left behind, and reads go on.
    assert_eq!(e.tablet_meta(T).as_ref(), Some(&before));
    only_named_files(&e, T);
    assert_eq!(keys_at(&e, T, 2), (0..100).collect::<Vec<_>>());
    assert_eq!(e.checksum(T, 2).expect("checksum"), sum_before);

    // The same with a file a load's coordinator encoded.
    let mut enc = RowsetEncoder::new(T, &schema());
    let mut bytes = Vec::new();
    for b in &big {
        bytes.extend(enc.write(b).expect("encode"));
    }
    let (tail, rows, len) = enc.finish().expect("finish");
    bytes.extend(tail);
    let mut w = e.rowset_writer(3, T, PARTITION).expect("writer");
    let err = bytes
        .chunks(256 * 1024)
        .try_for_each(|c| w.write_encoded(c))
        .and_then(|()| w.end_encoded(rows, len))
        .err()
        .or_else(|| e.commit_rowset(w).err())
        .expect("the disk is full");
    assert_disk_full(&err, &root);
    assert_eq!(e.tablet_meta(T).as_ref(), Some(&before));
    only_named_files(&e, T);

    // A clone into a new tablet: nothing of it stays.
    let target = CloneTarget {
        tablet_id: T + 1,
        replica_id: 7,
        table_id: 100,
        partition_id: PARTITION,
        schema: schema(),
    };
    let mut cw = e.begin_clone(&target, true).expect("begin");
    let dir = cw.dir().to_path_buf();
    cw.start_file("r1", "r1_0.parquet").expect("start");
    let err = (0..64)
        .try_for_each(|_| cw.write(&bytes))
        .and_then(|()| cw.finish_file(0, 0))
        .expect_err("the disk is full");
    assert_disk_full(&err, &root);
    drop(cw);
    assert!(!dir.exists(), "the clone's directory is removed");
    assert!(e.tablet_meta(T + 1).is_none());

    // Compaction: its output does not fit.
    for (txn, from) in [(4, 200), (5, 300), (6, 400)] {
        fs::remove_file(&filler).expect("free space");
        load(&e, T, txn, &[batch(from, 100)]).expect("a small load");
        fill(&filler, 0);
    }
    let compacted = e.tablet_meta(T).expect("meta");
    let sum_3 = e.checksum(T, 5).expect("checksum");
    let policy = CompactionPolicy {
        min_cumulative_deltas: 2,
        ..CompactionPolicy::default()
    };
    let err = e
        .compact(T, CompactionKind::Cumulative, &policy)
        .expect_err("the disk is full");
    assert_disk_full(&err, &root);
    assert_eq!(e.tablet_meta(T).as_ref(), Some(&compacted));
    only_named_files(&e, T);
    assert_eq!(e.checksum(T, 5).expect("checksum"), sum_3);

    // Space returns: the same writes succeed, without reopening anything.
    fs::remove_file(&filler).expect("free space");
    assert_eq!(load(&e, T, 2, &big).expect("load"), 6);
    let r = e
        .compact(T, CompactionKind::Cumulative, &policy)
        .expect("compaction")
        .expect("one is due");
    assert!(r.input_rowsets >= 2, "{r:?}");
    let mut want: Vec<i32> = (0..100).chain(200..500).chain(1000..21_000).collect();
    want.sort_unstable();
    assert_eq!(keys_at(&e, T, 6), want);
    assert_eq!(e.checksum(T, 5).expect("checksum"), sum_3);
    only_named_files(&e, T);
    drop(e);
}

/// Every record in the store of `root`, by reopening it (after the engine is dropped).
fn stored(root: &Path) -> Vec<TabletMeta> {
    let e = StorageEngine::open_with(&[root.to_path_buf()], no_flood_stage()).expect("reopen");
    e.tablets()
        .expect("tablets")
        .into_iter()
        .map(|t| t.meta)
        .collect()
}

#[test]
fn a_full_disk_fails_metadata_commits_without_damage() {
    let Some(fs_) = Tmpfs::mount("8m", "a_full_disk_fails_metadata_commits_without_damage") else {
        return;
    };
    let root = fs_.mnt.join("root");
    let e = StorageEngine::open_with(std::slice::from_ref(&root), no_flood_stage()).expect("open");
    create(&e, T).expect("create");
    load(&e, T, 1, &[batch(0, 50)]).expect("load");
    let sum = e.checksum(T, 2).expect("checksum");

    // Nothing left at all: creates (a directory and a record each) fail once the store
    // must grow.
    let filler = fs_.mnt.join("filler");
    fill(&filler, 0);
    let mut created = vec![T];
    let mut failure = None;
    for id in 1..2000 {
        match create(&e, id) {
            Ok(_) => created.push(id),
            Err(err) => {
                failure = Some((id, err));
                break;
            }
        }
    }
    let (failed_id, err) = failure.expect("a create fails on a full disk");
    assert_disk_full(&err, &root);
    assert!(
        err.message
            .contains("tablet metadata store: commit the metadata of tablet"),
        "{}",
        err.message
    );
    assert!(e.tablet_meta(failed_id).is_none());
    assert!(
        !crate::tablet_dir_in(&root, failed_id).exists(),
        "the failed create's directory is removed"
    );
    // What a kill -9 now would leave: the store's file as it is.
    let before_crash = created.clone();
    let crash = tempfile::tempdir().expect("tempdir");
    let crash_root = crash.path().join("root");
    fs::create_dir_all(crash_root.join("meta")).expect("mkdir");
    fs::copy(
        root.join("meta/tablet_meta.redb"),
        crash_root.join("meta/tablet_meta.redb"),
    )
    .expect("copy the store");

    // More metadata writes fail the same way (no panic), reads go on.
    let err = load(&e, T, 2, &[batch(100, 10)]).expect_err("still full");
    assert_disk_full(&err, &root);
    assert_eq!(e.checksum(T, 2).expect("checksum"), sum);
    assert_eq!(keys_at(&e, T, 2), (0..50).collect::<Vec<_>>());
    only_named_files(&e, T);
    // Every later metadata write opens the failed store again first. With the disk full
    // again (the failed load freed its pages), writes fail the same way, or fit in pages
    // the store already holds: never a panic, never another error.
    fill(&fs_.mnt.join("filler2"), 0);
    let mut refused = 0;
    for id in 5000..5500 {
        match create(&e, id) {
            Ok(_) => created.push(id),
            Err(err) => {
                assert_disk_full(&err, &root);
                refused += 1;
                if refused == 3 {
                    break;
                }
            }
        }
    }
    assert_eq!(refused, 3, "creates on a full disk keep failing");
    fs::remove_file(fs_.mnt.join("filler2")).expect("free space");

    // Space returns: the store is opened again at the next write, which succeeds.
    fs::remove_file(&filler).expect("free space");
    assert_eq!(load(&e, T, 2, &[batch(100, 10)]).expect("load"), 3);
    create(&e, failed_id).expect("create");
    created.push(failed_id);
    let mut in_memory: Vec<TabletMeta> = e
        .tablets()
        .expect("tablets")
        .into_iter()
        .map(|t| t.meta)
        .collect();
    drop(e);
    // The store holds exactly what the engine acknowledged.
    let mut on_disk = stored(&root);
    in_memory.sort_by_key(|m| m.tablet_id);
    on_disk.sort_by_key(|m| m.tablet_id);
    assert_eq!(on_disk, in_memory);
    assert_eq!(on_disk.len(), created.len());

    // The crash image opens (redb recovers it) and holds the tablets created before the
    // failure, not the one whose commit failed.
    let e = StorageEngine::open(&[crash_root]).expect("the crash image opens");
    let mut ids: Vec<i64> = e
        .tablets()
        .expect("tablets")
        .iter()
        .map(|t| t.meta.tablet_id)
        .collect();
    ids.sort_unstable();
    let mut want = before_crash;
    want.sort_unstable();
    assert_eq!(ids, want);
    assert_eq!(e.tablet_meta(T).map(|m| m.version), Some(2));
}

#[test]
fn the_flood_stage_refuses_writes_before_they_start() {
    // usage >= 0 % and at most i64::MAX bytes free: every disk is at its flood stage.
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("root");
    {
        let e =
            StorageEngine::open_with(std::slice::from_ref(&root), no_flood_stage()).expect("open");
        create(&e, T).expect("create");
        for (txn, from) in [(1, 0), (2, 10), (3, 20)] {
            load(&e, T, txn, &[batch(from, 10)]).expect("load");
        }
    }
    let always = StorageOptions {
        flood_stage: FloodStage {
            usage_percent: 0,
            left_capacity_bytes: i64::MAX,
        },
        ..StorageOptions::default()
    };
    let e = StorageEngine::open_with(std::slice::from_ref(&root), always).expect("open");
    let before = e.tablet_meta(T).expect("meta");
    let err = e.rowset_writer(9, T, PARTITION).err().expect("refused");
    assert_disk_full(&err, &root);
    assert!(
        err.message.contains("tablet 95001")
            && err.message.contains("flood stage")
            && err
                .message
                .contains("storage_flood_stage_usage_percent = 0%"),
        "{}",
        err.message
    );
    let target = CloneTarget {
        tablet_id: T + 1,
        replica_id: 7,
        table_id: 100,
        partition_id: PARTITION,
        schema: schema(),
    };
    let err = e.begin_clone(&target, true).err().expect("refused");
    assert_disk_full(&err, &root);
    assert!(!crate::tablet_dir_in(&root, T + 1).exists());
    let policy = CompactionPolicy {
        min_cumulative_deltas: 2,
        ..CompactionPolicy::default()
    };
    assert!(
        e.compaction_candidates(CompactionKind::Cumulative, &policy)
            .is_empty()
    );
    let err = e
        .compact(T, CompactionKind::Cumulative, &policy)
        .expect_err("refused");
    assert_disk_full(&err, &root);
    // Nothing was written; reads go on.
    assert_eq!(e.tablet_meta(T).as_ref(), Some(&before));
    only_named_files(&e, T);
    assert_eq!(keys_at(&e, T, 4), (0..30).collect::<Vec<_>>());
    drop(e);

    // The defaults (95 % and 1 GiB) on a disk with room: accepted.
    let e = StorageEngine::open(std::slice::from_ref(&root)).expect("open");
    let (total, avail) = {
        let s = rustix::fs::statvfs(&root).expect("statvfs");
        (
            (s.f_blocks * s.f_frsize) as i64,
            (s.f_bavail * s.f_frsize) as i64,
        )
    };
    if FloodStage::default().reached(total, avail, 0) {
        eprintln!("NOTICE: the test machine's disk is itself at its flood stage");
        return;
    }
    assert_eq!(load(&e, T, 9, &[batch(100, 1)]).expect("load"), 5);
}

#[test]
fn the_flood_stage_lifts_when_space_is_freed() {
    let Some(fs_) = Tmpfs::mount("8m", "the_flood_stage_lifts_when_space_is_freed") else {
        return;
    };
    let root = fs_.mnt.join("root");
    // At least half used and at most 4 MB free.
    let options = StorageOptions {
        flood_stage: FloodStage {
            usage_percent: 50,
            left_capacity_bytes: 4 << 20,
        },
        ..StorageOptions::default()
    };
    let e = StorageEngine::open_with(std::slice::from_ref(&root), options).expect("open");
    create(&e, T).expect("create");
    assert_eq!(load(&e, T, 1, &[batch(0, 10)]).expect("load"), 2);
    let filler = fs_.mnt.join("filler");
    fill(&filler, 2 << 20);
    let err = load(&e, T, 2, &[batch(10, 10)]).expect_err("flood stage");
    assert_disk_full(&err, &root);
    assert!(err.message.contains("flood stage"), "{}", err.message);
    only_named_files(&e, T);
    fs::remove_file(&filler).expect("free space");
    assert_eq!(load(&e, T, 2, &[batch(10, 10)]).expect("load"), 3);
    assert_eq!(keys_at(&e, T, 3), (0..20).collect::<Vec<_>>());
}

#[test]
fn a_reopened_store_is_made_to_agree_with_the_tablets_in_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("root");
    let e = StorageEngine::open_with(std::slice::from_ref(&root), no_flood_stage()).expect("open");
    for t in [T, T + 1, T + 2] {
        create(&e, t).expect("create");
    }
    load(&e, T, 1, &[batch(0, 10)]).expect("load");
    // What a commit that failed after reaching the disk could leave: a record the engine never
    // acknowledged, a record of a tablet it does not have, a record missing.
    let mut wrong = e.tablet_meta(T).expect("meta");
    wrong.version = 99;
    wrong.rowsets.clear();
    {
        let guard = e.lock();
        let inner = guard.as_ref().expect("open");
        let r = &inner.roots[0];
        r.put(&wrong).expect("plant");
        let mut stranger = wrong.clone();
        stranger.tablet_id = 777;
        r.put(&stranger).expect("plant");
        assert!(r.delete(T + 1).expect("delete"));
        r.fail_for_test();
    }
    // A write straight to the failed store is refused; the engine opens it again before its
    // next write.
    let err = {
        let guard = e.lock();
        let inner = guard.as_ref().expect("open");
        inner.roots[0].put(&wrong).expect_err("failed store")
    };
    assert!(err.message.contains("failed earlier"), "{}", err.message);
    create(&e, T + 3).expect("the store is opened again");
    let mut in_memory: Vec<TabletMeta> = e
        .tablets()
        .expect("tablets")
        .into_iter()
        .map(|t| t.meta)
        .collect();
    drop(e);
    let mut on_disk = stored(&root);
    in_memory.sort_by_key(|m| m.tablet_id);
    on_disk.sort_by_key(|m| m.tablet_id);
    assert_eq!(on_disk, in_memory);
    assert_eq!(
        on_disk.iter().map(|m| m.tablet_id).collect::<Vec<_>>(),
        [T, T + 1, T + 2, T + 3]
    );
    assert_eq!(on_disk[0].version, 2);
}
