//! Out-of-order publish, clone snapshots (source) and clone writers (destination).

use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::Array;
use arrow::array::Int32Array;
use arrow::array::RecordBatch;
use arrow::array::StringArray;
use common::StatusCode;
use common::schema::ColumnSchema;
use common::schema::DataType;
use common::schema::KeysType;
use common::schema::TableSchema;

use crate::CloneSnapshot;
use crate::CloneTarget;
use crate::CloneWriter;
use crate::CompactionKind;
use crate::CompactionPolicy;
use crate::CreateTablet;
use crate::RowsetMeta;
use crate::StorageEngine;
use crate::TabletMeta;
use crate::TabletState;

const T: i64 = 95_001;
const PARTITION: i64 = 101;
/// The source's replica id; the destination is replica 2.
const SRC_REPLICA: i64 = 1;
const DST_REPLICA: i64 = 2;

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

/// One backend: its engine and the temporary directory holding its root.
struct Node {
    dir: tempfile::TempDir,
    e: StorageEngine,
}

impl Node {
    fn new() -> Node {
        let dir = tempfile::tempdir().expect("tempdir");
        let e = StorageEngine::open(&[dir.path().join("r0")]).expect("open");
        Node { dir, e }
    }

    fn paths(&self) -> Vec<PathBuf> {
        vec![self.dir.path().join("r0")]
    }

    /// Closes and reopens the engine (a restart).
    fn reopen(&mut self) {
        self.e.close();
        self.e = StorageEngine::open(&self.paths()).expect("reopen");
    }

    fn create(&self, replica_id: i64) {
        self.e
            .create_tablet(CreateTablet {
                tablet_id: T,
                replica_id,
                table_id: 100,
                partition_id: PARTITION,
                schema: schema(),
                version: 1,
            })
            .expect("create");
    }

    /// Writes version `v`'s rows as the pending rowset of transaction `v`.
    fn write(&self, v: i64) {
        let mut w = self.e.rowset_writer(v, T, PARTITION).expect("writer");
        w.write(&batch(v)).expect("write");
        self.e.commit_rowset(w).expect("commit");
    }

    /// Writes and publishes version `v` (transaction `v`); the replica's version after.
    fn load(&self, v: i64) -> i64 {
        self.write(v);
        self.e.publish(v, T, PARTITION, v).expect("publish")
    }

    fn meta(&self) -> TabletMeta {
        self.e.tablet_meta(T).expect("meta")
    }

    fn ranges(&self) -> Vec<String> {
        self.meta().rowsets.iter().map(|r| r.versions()).collect()
    }

    fn stale_ranges(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .meta()
            .stale
            .iter()
            .map(|s| s.rowset.versions())
            .collect();
        v.sort();
        v
    }

    fn rows_at(&self, version: i64) -> Vec<(i32, String)> {
        collect(&self.e.read_at(T, version).expect("read"))
    }

    fn tablet_dir(&self) -> PathBuf {
        crate::tablet_dir_in(&self.paths()[0], T)
    }

    fn files(&self) -> Vec<String> {
        names(&self.tablet_dir())
    }

    fn compact(&self, policy: &CompactionPolicy) -> Option<(i64, i64)> {
        self.e
            .compact(T, CompactionKind::Cumulative, policy)
            .expect("compact")
            .map(|r| (r.start_version, r.end_version))
    }
}

/// Version `v`'s rows: keys `10v` and `10v + 1`, tagged with the version.
fn batch(v: i64) -> RecordBatch {
    let s = crate::arrow_schema(&schema());
    let keys = vec![(v * 10 + 1) as i32, (v * 10) as i32];
    let values: Vec<String> = keys.iter().map(|k| format!("v{v}-{k}")).collect();
    RecordBatch::try_new(
        s,
        vec![
            Arc::new(Int32Array::from(keys)),
            Arc::new(StringArray::from(values)),
        ],
    )
    .expect("batch")
}

fn collect(read: &crate::TabletRead) -> Vec<(i32, String)> {
    let mut out = Vec::new();
    for b in read.batches() {
        let b = b.expect("batch");
        let k = b
            .column(0)
            .as_any()
            .downcast_ref::<Int32Array>()
            .expect("int");
        let v = b
            .column(1)
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("string");
        for i in 0..b.num_rows() {
            out.push((k.value(i), v.value(i).to_string()));
        }
    }
    out
}

/// The rows versions `vs` loaded, sorted.
fn expected(vs: impl IntoIterator<Item = i64>) -> Vec<(i32, String)> {
    let mut out = Vec::new();
    for v in vs {
        for k in [v * 10 + 1, v * 10] {
            out.push((k as i32, format!("v{v}-{k}")));
        }
    }
    out.sort();
    out
}

fn sorted(mut rows: Vec<(i32, String)>) -> Vec<(i32, String)> {
    rows.sort();
    rows
}

fn names(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<String> = entries
        .flatten()
        .filter_map(|d| d.file_name().to_str().map(str::to_string))
        .collect();
    v.sort();
    v
}

fn target() -> CloneTarget {
    CloneTarget {
        tablet_id: T,
        replica_id: DST_REPLICA,
        table_id: 100,
        partition_id: PARTITION,
        schema: schema(),
    }
}

fn ranges_of(rowsets: &[RowsetMeta]) -> Vec<String> {
    rowsets.iter().map(|r| r.versions()).collect()
}

/// Sends every file of a snapshot to a writer, in chunks, as the network would.
fn copy(snap: &CloneSnapshot, w: &mut CloneWriter) {
    for f in &snap.files {
        let bytes = std::fs::read(&f.path).expect("read a source file");
        assert_eq!(bytes.len() as u64, f.len);
        w.start_file(&f.rowset_id, &f.name).expect("start");
        for chunk in bytes.chunks(777) {
            w.write(chunk).expect("write");
        }
        w.finish_file(f.len, crc32fast::hash(&bytes))
            .expect("finish file");
    }
}

fn cumulative(min: usize) -> CompactionPolicy {
    CompactionPolicy {
        min_cumulative_deltas: min,
        ..CompactionPolicy::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Publish out of order

#[test]
fn publish_out_of_order_leaves_a_hole_until_it_is_filled() {
    let n = Node::new();
    n.create(1);
    assert_eq!(n.load(2), 2);
    for v in 3..=5 {
        n.write(v);
    }
    // 4 and 5 first: taken above the hole at 3, the version stays at 2.
    assert_eq!(n.e.publish(4, T, PARTITION, 4).expect("publish 4"), 2);
    assert_eq!(n.e.publish(5, T, PARTITION, 5).expect("publish 5"), 2);
    assert_eq!(n.ranges(), ["[0-1]", "[2-2]", "[4-4]", "[5-5]"]);
    let m = n.meta();
    assert_eq!((m.version, m.contiguous_version()), (2, 2));
    assert_eq!(m.pending.len(), 1, "txn 3 is still pending");
    // Only the contiguous part counts and reads.
    assert_eq!(m.visible_rows(), 2);
    assert_eq!(n.e.tablets().expect("list")[0].row_count, 2);
    assert_eq!(sorted(n.rows_at(2)), expected([2]));
    let err = n.e.read_at(T, 4).expect_err("above the hole");
    assert!(err.message.contains("at version 2"), "{}", err.message);
    assert_eq!(n.e.missing_versions(T, 5).expect("missing"), Some(vec![3]));
    assert_eq!(
        n.e.missing_versions(T, 7).expect("missing"),
        Some(vec![3, 6, 7])
    );
    // Retried publishes are idempotent, also above the hole.
    assert_eq!(n.e.publish(4, T, PARTITION, 4).expect("again"), 2);
    let err = n.e.publish(4, T, PARTITION, 6).expect_err("other version");
    assert_eq!(err.code, StatusCode::TxnStateInvalid);
    assert!(
        err.message
            .contains("already published as version [4-4], not 6"),
        "{}",
        err.message
    );
    let err =
        n.e.publish(99, T, PARTITION, 6)
            .expect_err("no pending rowset");
    assert!(
        err.message.contains(
            "no pending rowset for transaction 99 (replica version 2, publish version 6)"
        ),
        "{}",
        err.message
    );
    let err = n.e.publish(3, T, PARTITION, 0).expect_err("version 0");
    assert_eq!(err.code, StatusCode::InvalidArgument);
    // A restart keeps the hole.
    let mut n = n;
    n.reopen();
    assert_eq!(n.meta().version, 2);
    assert_eq!(n.ranges(), ["[0-1]", "[2-2]", "[4-4]", "[5-5]"]);
    // Filling the hole moves the version past everything above it.
    assert_eq!(n.e.publish(3, T, PARTITION, 3).expect("fill"), 5);
    assert_eq!(n.meta().visible_rows(), 8);
    assert_eq!(sorted(n.rows_at(5)), expected(2..=5));
    assert_eq!(sorted(n.rows_at(4)), expected(2..=4));
    assert_eq!(n.e.missing_versions(T, 5).expect("missing"), Some(vec![]));
    assert_eq!(n.meta().pending.len(), 0);
}

#[test]
fn publish_of_a_version_a_clone_already_brought() {
    let src = Node::new();
    src.create(SRC_REPLICA);
    for v in 2..=4 {
        src.load(v);
    }
    let dst = Node::new();
    dst.create(DST_REPLICA);
    dst.load(2);
    // The destination wrote txns 3 and 4 but their publish has not reached it yet.
    dst.write(3);
    dst.write(4);
    assert_eq!(dst.files().len(), 3);
    // A clone brings version 3 (txn 3's rowset): txn 3's own pending rowset is a duplicate
    // and goes with its file.
    let snap = src.e.clone_snapshot(T, 4, Some(&[3])).expect("snapshot");
    let mut w = dst.e.begin_clone(&target(), false).expect("begin");
    copy(&snap, &mut w);
    let out = dst
        .e
        .finish_clone(w, snap.rowsets.clone(), snap.version)
        .expect("finish");
    assert_eq!((out.version, out.rowsets_added), (3, 1));
    let m = dst.meta();
    assert_eq!(m.pending.len(), 1);
    assert_eq!(m.pending[0].txn_id, 4);
    assert_eq!(dst.files().len(), 3, "txn 3's pending file was removed");
    // The late publish of txn 3 succeeds (idempotent); txn 4 publishes normally.
    assert_eq!(dst.e.publish(3, T, PARTITION, 3).expect("late publish"), 3);
    assert_eq!(dst.e.publish(4, T, PARTITION, 4).expect("publish 4"), 4);
    assert_eq!(dst.rows_at(4), src.rows_at(4));

    // A full clone brings a merged rowset [2-6] (no transaction): the pending rowset of txn
    // 6 on the destination is dropped at its publish, which succeeds.
    let src = Node::new();
    src.create(SRC_REPLICA);
    for v in 2..=6 {
        src.load(v);
    }
    assert_eq!(src.compact(&cumulative(5)), Some((2, 6)));
    let dst = Node::new();
    dst.create(DST_REPLICA);
    dst.write(6);
    let snap = src.e.clone_snapshot(T, 6, None).expect("snapshot");
    assert_eq!(ranges_of(&snap.rowsets), ["[0-1]", "[2-6]"]);
    let mut w = dst.e.begin_clone(&target(), true).expect("begin");
    copy(&snap, &mut w);
    let out = dst
        .e
        .finish_clone(w, snap.rowsets.clone(), 6)
        .expect("finish");
    assert_eq!(out.version, 6);
    assert_eq!(
        dst.meta().pending.len(),
        1,
        "txn 6 is not the merged rowset's"
    );
    let before = dst.files().len();
    assert_eq!(dst.e.publish(6, T, PARTITION, 6).expect("covered"), 6);
    let m = dst.meta();
    assert!(m.pending.is_empty());
    assert_eq!(dst.files().len(), before - 1, "its file went too");
    assert_eq!(dst.ranges(), ["[0-1]", "[2-6]"]);
    // A transaction that never wrote here: the version is present all the same.
    assert_eq!(dst.e.publish(5, T, PARTITION, 5).expect("covered"), 6);
    assert_eq!(sorted(dst.rows_at(6)), expected(2..=6));
}

#[test]
fn compaction_never_merges_across_a_hole() {
    let n = Node::new();
    n.create(1);
    for v in 2..=4 {
        n.load(v);
    }
    n.write(5);
    for v in 6..=10 {
        assert_eq!(n.load(v), 4);
    }
    // Eight singletons, but only three in the contiguous part: not enough for the default
    // policy (5), and no candidate.
    let policy = CompactionPolicy::default();
    assert!(
        n.e.compaction_candidates(CompactionKind::Cumulative, &policy)
            .is_empty()
    );
    assert_eq!(n.compact(&policy), None);
    // With a lower bar only [2-4] merges.
    assert_eq!(n.compact(&cumulative(2)), Some((2, 4)));
    assert_eq!(
        n.ranges(),
        [
            "[0-1]", "[2-4]", "[6-6]", "[7-7]", "[8-8]", "[9-9]", "[10-10]"
        ]
    );
    assert_eq!(
        n.compact(&cumulative(1)),
        None,
        "nothing left below the hole"
    );
    // Base compaction too stops at the hole.
    let base = CompactionPolicy {
        min_base_deltas: 1,
        promotion_min_bytes: 0,
        promotion_max_bytes: 0,
        ..CompactionPolicy::default()
    };
    let r =
        n.e.compact(T, CompactionKind::Base, &base)
            .expect("base")
            .expect("due");
    assert_eq!((r.start_version, r.end_version), (0, 4));
    assert!(
        n.e.compact(T, CompactionKind::Base, &base)
            .expect("base")
            .is_none()
    );
    assert_eq!(
        n.ranges(),
        ["[0-4]", "[6-6]", "[7-7]", "[8-8]", "[9-9]", "[10-10]"]
    );
    // Filled, everything merges.
    assert_eq!(n.e.publish(5, T, PARTITION, 5).expect("fill"), 10);
    let r =
        n.e.compact(T, CompactionKind::Base, &base)
            .expect("base")
            .expect("due");
    assert_eq!((r.start_version, r.end_version), (0, 10));
    assert_eq!(sorted(n.rows_at(10)), expected(2..=10));
}

// ---------------------------------------------------------------------------------------------
// Source: snapshots

#[test]
fn incremental_snapshots_take_single_versions_visible_or_stale() {
    let n = Node::new();
    n.create(SRC_REPLICA);
    for v in 2..=7 {
        n.load(v);
    }
    assert_eq!(n.compact(&cumulative(5)), Some((2, 7)));
    n.load(8);
    assert_eq!(n.ranges(), ["[0-1]", "[2-7]", "[8-8]"]);
    let snap =
        n.e.clone_snapshot(T, 8, Some(&[5, 3, 8, 3]))
            .expect("snapshot");
    assert!(!snap.full);
    assert_eq!((snap.tablet_id, snap.version), (T, 8));
    assert_eq!(snap.schema, schema());
    assert_eq!(ranges_of(&snap.rowsets), ["[3-3]", "[5-5]", "[8-8]"]);
    assert_eq!(snap.files.len(), 3);
    for (f, r) in snap.files.iter().zip(&snap.rowsets) {
        assert_eq!(f.rowset_id, r.rowset_id);
        assert_eq!(f.name, r.files[0]);
        assert_eq!(f.path, n.tablet_dir().join(&f.name));
        assert_eq!(f.len, std::fs::metadata(&f.path).expect("stat").len());
        assert_eq!(f.len as i64, r.bytes);
    }
    assert_eq!(
        snap.bytes(),
        snap.rowsets.iter().map(|r| r.bytes as u64).sum::<u64>()
    );
    assert!(snap.bytes() > 0);
    // Every version of the merged rowset is missing: the merged rowset itself is the fewest.
    let whole =
        n.e.clone_snapshot(T, 8, Some(&[2, 3, 4, 5, 6, 7]))
            .expect("snapshot");
    assert_eq!(ranges_of(&whole.rowsets), ["[2-7]"]);
    // The base version is a rowset without files.
    let base = n.e.clone_snapshot(T, 8, Some(&[0, 1])).expect("snapshot");
    assert_eq!(ranges_of(&base.rowsets), ["[0-1]"]);
    assert!(base.files.is_empty());
    assert_eq!(base.bytes(), 0);
    let none = n.e.clone_snapshot(T, 8, Some(&[])).expect("snapshot");
    assert!(none.rowsets.is_empty());
    // Outside the snapshot's versions.
    let err =
        n.e.clone_snapshot(T, 7, Some(&[8]))
            .expect_err("above the version");
    assert_eq!(err.code, StatusCode::InvalidArgument);
    assert!(err.message.contains("missing version 8"), "{}", err.message);
    drop((snap, whole, base, none));

    // Swept, versions inside [2-7] can only come whole.
    assert_eq!(n.e.sweep_stale(Duration::ZERO).expect("sweep"), 6);
    let err =
        n.e.clone_snapshot(T, 8, Some(&[3, 5]))
            .expect_err("compacted");
    assert_eq!(err.code, StatusCode::VersionsCompacted);
    assert!(
        err.message.contains("cannot provide missing version 3"),
        "{}",
        err.message
    );
    assert!(err.message.contains("[2-7]"), "{}", err.message);
    let err =
        n.e.clone_snapshot(T, 8, Some(&[2, 3, 4, 5, 6, 8]))
            .expect_err("7 is not missing");
    assert_eq!(err.code, StatusCode::VersionsCompacted);
    assert!(err.message.contains("missing version 2"), "{}", err.message);
    let ok =
        n.e.clone_snapshot(T, 8, Some(&[2, 3, 4, 5, 6, 7, 8]))
            .expect("whole");
    assert_eq!(ranges_of(&ok.rowsets), ["[2-7]", "[8-8]"]);
}

#[test]
fn incremental_rowsets_find_a_cover_where_the_greedy_choice_fails() {
    let r = |s: i64, e: i64| RowsetMeta {
        rowset_id: format!("{s}-{e}"),
        txn_id: 0,
        partition_id: PARTITION,
        start_version: s,
        end_version: e,
        files: Vec::new(),
        rows: 0,
        bytes: 0,
        create_time_ms: 0,
        sorted: false,
        checksums: Vec::new(),
    };
    let mut meta = TabletMeta {
        tablet_id: T,
        replica_id: 1,
        table_id: 100,
        partition_id: PARTITION,
        schema: schema(),
        version: 9,
        create_time_ms: 0,
        state: TabletState::Normal,
        rowsets: vec![r(0, 1), r(2, 3), r(4, 9)],
        pending: Vec::new(),
        stale: vec![r(2, 2), r(3, 4), r(4, 4)]
            .into_iter()
            .map(|rowset| crate::StaleRowset {
                rowset,
                stale_since_ms: 0,
            })
            .collect(),
        cumulative_point: 0,
        last_base_compaction_ms: 0,
    };
    let ids = |meta: &TabletMeta, missing: &[i64]| -> Result<Vec<String>, common::Error> {
        crate::clone::incremental_rowsets(meta, 9, missing)
            .map(|v| v.into_iter().map(|r| r.rowset_id).collect())
    };
    // The furthest step from 2 ([2-3]) leads nowhere for {2, 3, 4} ([4-9] passes 4);
    // [2-2] then [3-4] covers it.
    assert_eq!(ids(&meta, &[2, 3, 4]).expect("cover"), ["2-2", "3-4"]);
    // Fewest rowsets: [2-3] rather than [2-2] + a (missing) [3-3].
    assert_eq!(ids(&meta, &[2, 3]).expect("cover"), ["2-3"]);
    assert_eq!(ids(&meta, &[4]).expect("cover"), ["4-4"]);
    assert_eq!(ids(&meta, &[4, 5, 6, 7, 8, 9]).expect("cover"), ["4-9"]);
    let err = ids(&meta, &[2, 3, 4, 5]).expect_err("5 only inside [4-9]");
    assert_eq!(err.code, StatusCode::VersionsCompacted);
    assert!(err.message.contains("missing version 5"), "{}", err.message);
    assert!(err.message.contains("[4-9]"), "{}", err.message);
    meta.stale.clear();
    let err = ids(&meta, &[3]).expect_err("inside [2-3]");
    assert!(err.message.contains("missing version 3"), "{}", err.message);
    let err = ids(&meta, &[-1]).expect_err("negative");
    assert_eq!(err.code, StatusCode::InvalidArgument);

    // The meta's own view of holes.
    meta.rowsets = vec![r(0, 1), r(3, 3), r(5, 7)];
    assert_eq!(meta.contiguous_version(), 1);
    assert_eq!(meta.uncovered_versions(8), [2, 4, 8]);
    assert_eq!(meta.uncovered_versions(6), [2, 4]);
    assert!(meta.uncovered_versions(1).is_empty());
    assert!(meta.uncovered_versions(-1).is_empty());
    meta.rowsets = vec![r(2, 3)];
    assert_eq!(meta.contiguous_version(), -1);
    assert_eq!(meta.uncovered_versions(4), [0, 1, 4]);
}

#[test]
fn full_snapshots_follow_the_version_path() {
    let n = Node::new();
    n.create(SRC_REPLICA);
    for v in 2..=7 {
        n.load(v);
    }
    assert_eq!(n.compact(&cumulative(5)), Some((2, 7)));
    n.load(8);
    let snap = n.e.clone_snapshot(T, 8, None).expect("snapshot");
    assert!(snap.full);
    assert_eq!(ranges_of(&snap.rowsets), ["[0-1]", "[2-7]", "[8-8]"]);
    assert_eq!(snap.files.len(), 2, "the base rowset has no file");
    // An older version goes through the stale rowsets, like a read.
    let old = n.e.clone_snapshot(T, 4, None).expect("snapshot");
    assert_eq!(
        ranges_of(&old.rowsets),
        ["[0-1]", "[2-2]", "[3-3]", "[4-4]"]
    );
    drop((snap, old));
    n.e.sweep_stale(Duration::ZERO).expect("sweep");
    let err = n.e.clone_snapshot(T, 4, None).expect_err("swept");
    assert!(
        err.message.contains("compaction merged versions [2-7]"),
        "{}",
        err.message
    );
    let snap = n.e.clone_snapshot(T, 7, None).expect("snapshot");
    assert_eq!(ranges_of(&snap.rowsets), ["[0-1]", "[2-7]"]);
    // Above the replica's version: not a valid source.
    let err = n.e.clone_snapshot(T, 9, None).expect_err("too new");
    assert_eq!(err.code, StatusCode::InvalidArgument);
    assert!(
        err.message
            .contains("cannot be a clone source at version 9: this replica is at version 8"),
        "{}",
        err.message
    );
    // A replica with a hole is a source only below it.
    n.write(9);
    n.write(10);
    assert_eq!(n.e.publish(10, T, PARTITION, 10).expect("publish"), 8);
    let err = n.e.clone_snapshot(T, 10, None).expect_err("hole");
    assert!(err.message.contains("at version 8"), "{}", err.message);
    let err =
        n.e.clone_snapshot(T, 10, Some(&[10]))
            .expect_err("hole, incremental");
    assert!(err.message.contains("at version 8"), "{}", err.message);
}

#[test]
fn a_snapshot_pins_its_files_through_the_sweep() {
    let n = Node::new();
    n.create(SRC_REPLICA);
    for v in 2..=6 {
        n.load(v);
    }
    let snap = n.e.clone_snapshot(T, 6, Some(&[3, 4])).expect("snapshot");
    let copy_of_snap = snap.clone();
    drop(snap);
    assert_eq!(n.compact(&cumulative(5)), Some((2, 6)));
    // [3-3] and [4-4] are pinned; [2-2], [5-5] and [6-6] are not.
    assert_eq!(n.e.sweep_stale(Duration::ZERO).expect("sweep"), 3);
    assert_eq!(n.stale_ranges(), ["[3-3]", "[4-4]"]);
    for f in &copy_of_snap.files {
        assert!(f.path.is_file(), "{} was removed", f.path.display());
    }
    // The pinned versions are still served to a later clone.
    let again =
        n.e.clone_snapshot(T, 6, Some(&[3, 4]))
            .expect("still there");
    assert_eq!(ranges_of(&again.rowsets), ["[3-3]", "[4-4]"]);
    drop(again);
    assert_eq!(n.e.sweep_stale(Duration::ZERO).expect("sweep"), 0);
    let pin = copy_of_snap.pin();
    drop(copy_of_snap);
    assert_eq!(
        n.e.sweep_stale(Duration::ZERO).expect("sweep"),
        0,
        "the pin alone holds them"
    );
    drop(pin);
    assert_eq!(n.e.sweep_stale(Duration::ZERO).expect("sweep"), 2);
    assert_eq!(
        n.files().iter().filter(|f| f.ends_with(".parquet")).count(),
        1
    );
}

// ---------------------------------------------------------------------------------------------
// Destination: end to end

#[test]
fn an_incremental_clone_fills_a_lagging_replica() {
    let src = Node::new();
    src.create(SRC_REPLICA);
    for v in 2..=7 {
        src.load(v);
    }
    let mut dst = Node::new();
    dst.create(DST_REPLICA);
    // The destination missed loads 4 and 5 but kept taking 6 and 7.
    for v in [2, 3, 6, 7] {
        dst.load(v);
    }
    assert_eq!(dst.meta().version, 3);
    let missing = dst
        .e
        .missing_versions(T, 7)
        .expect("missing")
        .expect("the tablet is here");
    assert_eq!(missing, [4, 5]);
    let snap = src
        .e
        .clone_snapshot(T, 7, Some(&missing))
        .expect("snapshot");
    assert_eq!(ranges_of(&snap.rowsets), ["[4-4]", "[5-5]"]);
    let files_before = dst.files();
    let mut w = dst.e.begin_clone(&target(), false).expect("begin");
    assert_eq!(w.tablet_id(), T);
    assert!(!w.is_full());
    assert_eq!(w.dir(), dst.tablet_dir());
    copy(&snap, &mut w);
    assert_eq!(w.bytes_written(), snap.bytes());
    let out = dst
        .e
        .finish_clone(w, snap.rowsets.clone(), snap.version)
        .expect("finish");
    assert_eq!(out.version, 7);
    assert!(!out.full);
    assert_eq!(out.rowsets_added, 2);
    assert_eq!(out.bytes, snap.bytes());
    assert_eq!(out.rows, 12);
    assert_eq!(dst.rows_at(7), src.rows_at(7));
    assert_eq!(dst.rows_at(5), src.rows_at(5));
    assert_eq!(dst.e.missing_versions(T, 7).expect("missing"), Some(vec![]));
    // Fresh local ids and names; versions, transactions, rows, bytes kept.
    let m = dst.meta();
    for (theirs, ours) in snap.rowsets.iter().zip(&m.rowsets[3..5]) {
        assert_ne!(theirs.rowset_id, ours.rowset_id);
        assert_ne!(theirs.files, ours.files);
        assert_eq!(ours.files, [format!("{}_0.parquet", ours.rowset_id)]);
        assert_eq!(
            (theirs.start_version, theirs.end_version, theirs.txn_id),
            (ours.start_version, ours.end_version, ours.txn_id)
        );
        assert_eq!((theirs.rows, theirs.bytes), (ours.rows, ours.bytes));
    }
    let new_files: Vec<String> = dst
        .files()
        .into_iter()
        .filter(|f| !files_before.contains(f))
        .collect();
    let mut expected_files: Vec<String> = m.rowsets[3..5]
        .iter()
        .flat_map(|r| r.files.clone())
        .collect();
    expected_files.sort();
    assert_eq!(new_files, expected_files);
    // The transactions count as published here now.
    assert_eq!(dst.e.publish(4, T, PARTITION, 4).expect("late publish"), 7);
    // Durable.
    dst.reopen();
    assert_eq!(dst.meta().version, 7);
    assert_eq!(dst.rows_at(7), src.rows_at(7));
    assert_eq!(dst.files().len(), 6);
    assert_eq!(dst.load(8), 8);
}

#[test]
fn an_incremental_clone_skips_versions_a_publish_brought_meanwhile() {
    let src = Node::new();
    src.create(SRC_REPLICA);
    for v in 2..=5 {
        src.load(v);
    }
    let dst = Node::new();
    dst.create(DST_REPLICA);
    dst.load(2);
    dst.write(4);
    let missing = dst
        .e
        .missing_versions(T, 5)
        .expect("missing")
        .expect("here");
    assert_eq!(missing, [3, 4, 5]);
    let snap = src
        .e
        .clone_snapshot(T, 5, Some(&missing))
        .expect("snapshot");
    let mut w = dst.e.begin_clone(&target(), false).expect("begin");
    copy(&snap, &mut w);
    // Txn 4's publish arrives while the files are copied.
    assert_eq!(dst.e.publish(4, T, PARTITION, 4).expect("publish"), 2);
    let out = dst
        .e
        .finish_clone(w, snap.rowsets.clone(), 5)
        .expect("finish");
    assert_eq!((out.version, out.rowsets_added), (5, 2));
    let four = snap
        .rowsets
        .iter()
        .find(|r| r.start_version == 4)
        .expect("[4-4]");
    assert_eq!(out.bytes, snap.bytes() - four.bytes as u64);
    assert_eq!(dst.ranges(), ["[0-1]", "[2-2]", "[3-3]", "[4-4]", "[5-5]"]);
    assert_eq!(
        dst.files().len(),
        4,
        "the skipped copy of [4-4] was removed"
    );
    assert_eq!(dst.rows_at(5), src.rows_at(5));
}

#[test]
fn a_full_clone_creates_an_absent_tablet() {
    let src = Node::new();
    src.create(SRC_REPLICA);
    for v in 2..=6 {
        src.load(v);
    }
    assert_eq!(src.compact(&cumulative(5)), Some((2, 6)));
    src.load(7);
    let mut dst = Node::new();
    assert_eq!(dst.e.missing_versions(T, 7).expect("missing"), None);
    let err = match dst.e.begin_clone(&target(), false) {
        Ok(_) => panic!("an incremental clone into an absent tablet"),
        Err(e) => e,
    };
    assert_eq!(err.code, StatusCode::InvalidArgument);
    assert!(
        err.message.contains("incremental clone needs the tablet"),
        "{}",
        err.message
    );
    // A leftover directory is cleared first.
    std::fs::create_dir_all(dst.tablet_dir()).expect("mkdir");
    std::fs::write(dst.tablet_dir().join("old_0.parquet"), b"junk").expect("plant");
    let snap = src.e.clone_snapshot(T, 7, None).expect("snapshot");
    let mut w = dst.e.begin_clone(&target(), true).expect("begin");
    assert!(w.is_full());
    assert_eq!(dst.files(), Vec::<String>::new());
    // Neither a create nor another clone while it runs; no metadata yet.
    assert_eq!(dst.e.tablet_count(), 0);
    let err = dst
        .e
        .create_tablet(CreateTablet {
            tablet_id: T,
            replica_id: DST_REPLICA,
            table_id: 100,
            partition_id: PARTITION,
            schema: schema(),
            version: 1,
        })
        .expect_err("being cloned");
    assert_eq!(err.code, StatusCode::Cancelled);
    assert!(err.message.contains("by a clone"), "{}", err.message);
    let err = match dst.e.begin_clone(&target(), true) {
        Ok(_) => panic!("two clones of one tablet"),
        Err(e) => e,
    };
    assert_eq!(err.code, StatusCode::Cancelled);
    copy(&snap, &mut w);
    let out = dst
        .e
        .finish_clone(w, snap.rowsets.clone(), 7)
        .expect("finish");
    assert_eq!(
        (out.version, out.full, out.rowsets_added, out.rows),
        (7, true, 3, 12)
    );
    assert_eq!(out.bytes, snap.bytes());
    let m = dst.meta();
    assert_eq!(
        (m.replica_id, m.table_id, m.partition_id, m.version),
        (DST_REPLICA, 100, PARTITION, 7)
    );
    assert_eq!(m.schema, schema());
    assert_eq!(m.state, TabletState::Normal);
    assert_eq!(m.cumulative_point, 0);
    assert!(m.pending.is_empty() && m.stale.is_empty());
    assert!(m.create_time_ms > 0);
    assert_eq!(dst.ranges(), ["[0-1]", "[2-6]", "[7-7]"]);
    assert!(m.rowsets[1].sorted, "the sort flag is kept");
    assert_eq!(dst.rows_at(7), src.rows_at(7));
    // Created: the create is now a retry; loads and restarts work.
    assert_eq!(
        dst.e
            .create_tablet(CreateTablet {
                tablet_id: T,
                replica_id: DST_REPLICA,
                table_id: 100,
                partition_id: PARTITION,
                schema: schema(),
                version: 1,
            })
            .expect("retry"),
        crate::CreateOutcome::AlreadyExists
    );
    assert_eq!(dst.load(8), 8);
    dst.reopen();
    assert_eq!(dst.ranges(), ["[0-1]", "[2-6]", "[7-7]", "[8-8]"]);
    assert_eq!(sorted(dst.rows_at(8)), expected(2..=8));
    assert_eq!(dst.files().len(), 3);
}

#[test]
fn a_full_clone_into_an_existing_tablet_keeps_the_local_rowsets_above_it() {
    let src = Node::new();
    src.create(SRC_REPLICA);
    for v in 2..=6 {
        src.load(v);
    }
    assert_eq!(src.compact(&cumulative(5)), Some((2, 6)));
    let dst = Node::new();
    dst.create(DST_REPLICA);
    // The destination missed 4, took 5 to 8 above the hole, and has txn 9 pending.
    for v in [2, 3, 5, 6, 7, 8] {
        dst.load(v);
    }
    dst.write(9);
    assert_eq!(dst.meta().version, 3);
    let reader = dst.e.read_at(T, 3).expect("a query at version 3");
    let snap = src.e.clone_snapshot(T, 6, None).expect("snapshot");
    let mut w = dst.e.begin_clone(&target(), true).expect("begin");
    copy(&snap, &mut w);
    let out = dst
        .e
        .finish_clone(w, snap.rowsets.clone(), 6)
        .expect("finish");
    assert_eq!((out.version, out.full, out.rowsets_added), (8, true, 2));
    assert_eq!(out.rows, 14);
    assert_eq!(dst.ranges(), ["[0-1]", "[2-6]", "[7-7]", "[8-8]"]);
    assert_eq!(
        dst.stale_ranges(),
        ["[0-1]", "[2-2]", "[3-3]", "[5-5]", "[6-6]"]
    );
    let m = dst.meta();
    assert_eq!(m.cumulative_point, 0);
    assert_eq!(m.pending.len(), 1);
    assert_eq!(m.pending[0].txn_id, 9);
    assert_eq!(sorted(dst.rows_at(8)), expected(2..=8));
    assert_eq!(sorted(dst.rows_at(6)), expected(2..=6));
    // The query started before the clone still reads its version.
    assert_eq!(sorted(collect(&reader)), expected(2..=3));
    // Its rowsets ([0-1], [2-2], [3-3]) stay until it ends.
    assert_eq!(dst.e.sweep_stale(Duration::ZERO).expect("sweep"), 2);
    assert_eq!(sorted(collect(&reader)), expected(2..=3));
    drop(reader);
    assert_eq!(dst.e.sweep_stale(Duration::ZERO).expect("sweep"), 3);
    assert_eq!(
        dst.files().len(),
        4,
        "[2-6], [7-7], [8-8] and pending 9: {:?}",
        dst.files()
    );
    assert_eq!(dst.e.publish(9, T, PARTITION, 9).expect("publish"), 9);
    assert_eq!(sorted(dst.rows_at(9)), expected(2..=9));
}

#[test]
fn a_full_clone_refuses_a_local_rowset_straddling_its_version() {
    let src = Node::new();
    src.create(SRC_REPLICA);
    for v in 2..=4 {
        src.load(v);
    }
    let dst = Node::new();
    dst.create(DST_REPLICA);
    for v in 2..=6 {
        dst.load(v);
    }
    assert_eq!(dst.compact(&cumulative(5)), Some((2, 6)));
    let files = dst.files();
    let meta = dst.meta();
    let snap = src.e.clone_snapshot(T, 4, None).expect("snapshot");
    let mut w = dst.e.begin_clone(&target(), true).expect("begin");
    copy(&snap, &mut w);
    let err = dst
        .e
        .finish_clone(w, snap.rowsets.clone(), 4)
        .expect_err("conflict");
    assert!(
        err.message
            .contains("clone version conflict with local version [2-6]"),
        "{}",
        err.message
    );
    assert_eq!(dst.meta(), meta, "nothing installed");
    assert_eq!(dst.files(), files, "the received files are gone");
}

#[test]
fn a_full_clone_rebuilds_a_tablet_whose_data_is_missing() {
    let src = Node::new();
    src.create(SRC_REPLICA);
    for v in 2..=4 {
        src.load(v);
    }
    let mut dst = Node::new();
    dst.create(DST_REPLICA);
    dst.load(2);
    dst.write(3);
    std::fs::remove_dir_all(dst.tablet_dir()).expect("lose the data");
    dst.reopen();
    assert_eq!(dst.meta().state, TabletState::MissingData);
    assert_eq!(dst.e.missing_versions(T, 4).expect("missing"), None);
    let err = match dst.e.begin_clone(&target(), false) {
        Ok(_) => panic!("an incremental clone into a tablet without data"),
        Err(e) => e,
    };
    assert!(err.message.contains("only a full clone"), "{}", err.message);
    // A writer dropped before the install leaves the tablet as it was (no directory).
    let w = dst.e.begin_clone(&target(), true).expect("begin");
    assert!(dst.tablet_dir().is_dir());
    drop(w);
    assert!(!dst.tablet_dir().exists());
    let snap = src.e.clone_snapshot(T, 4, None).expect("snapshot");
    let mut w = dst.e.begin_clone(&target(), true).expect("begin");
    copy(&snap, &mut w);
    let out = dst
        .e
        .finish_clone(w, snap.rowsets.clone(), 4)
        .expect("finish");
    assert_eq!((out.version, out.rowsets_added), (4, 4));
    let m = dst.meta();
    assert_eq!(m.state, TabletState::Normal);
    assert!(m.pending.is_empty() && m.stale.is_empty());
    assert_eq!(dst.rows_at(4), src.rows_at(4));
    dst.reopen();
    assert_eq!(dst.meta().state, TabletState::Normal);
    assert_eq!(dst.rows_at(4), src.rows_at(4));
}

// ---------------------------------------------------------------------------------------------
// Destination: refusals and cleanup

/// A source with versions 2..=4 and a destination that misses 3 and 4.
fn lagging_pair() -> (Node, Node, CloneSnapshot) {
    let src = Node::new();
    src.create(SRC_REPLICA);
    for v in 2..=4 {
        src.load(v);
    }
    let dst = Node::new();
    dst.create(DST_REPLICA);
    dst.load(2);
    let snap = src.e.clone_snapshot(T, 4, Some(&[3, 4])).expect("snapshot");
    (src, dst, snap)
}

#[test]
fn damaged_and_short_files_are_refused_and_leave_nothing() {
    let (src, dst, snap) = lagging_pair();
    let before = dst.files();
    let f = &snap.files[0];
    let bytes = std::fs::read(&f.path).expect("read");
    let crc = crc32fast::hash(&bytes);
    let mut w = dst.e.begin_clone(&target(), false).expect("begin");

    // A flipped bit.
    let mut bad = bytes.clone();
    bad[bytes.len() / 2] ^= 1;
    w.start_file(&f.rowset_id, &f.name).expect("start");
    assert!(dst.files().iter().any(|n| n.ends_with(".parquet.tmp")));
    w.write(&bad).expect("write");
    let err = w.finish_file(f.len, crc).expect_err("damaged");
    assert_eq!(err.code, StatusCode::ChecksumMismatch);
    let actual = crc32fast::hash(&bad);
    let want = format!(
        "file {} of rowset {} does not match what the source sent: expected {} bytes with \
         CRC32 {crc:08x}, received {} bytes with CRC32 {actual:08x}",
        f.name, f.rowset_id, f.len, f.len
    );
    assert!(err.message.contains(&want), "{}", err.message);
    assert!(
        err.message.contains(&format!("tablet {T}")),
        "{}",
        err.message
    );
    assert_eq!(dst.files(), before);

    // A short file (the connection broke).
    w.start_file(&f.rowset_id, &f.name).expect("start again");
    w.write(&bytes[..bytes.len() - 10]).expect("write");
    let err = w.finish_file(f.len, crc).expect_err("short");
    assert_eq!(err.code, StatusCode::ChecksumMismatch);
    assert!(
        err.message.contains(&format!(
            "expected {} bytes with CRC32 {crc:08x}, received {} bytes",
            f.len,
            f.len - 10
        )),
        "{}",
        err.message
    );
    assert_eq!(dst.files(), before);

    // Sent again whole, it is taken; the writer goes on.
    w.start_file(&f.rowset_id, &f.name).expect("start again");
    w.write(&bytes).expect("write");
    w.finish_file(f.len, crc).expect("good");
    assert_eq!(w.bytes_written(), 3 * f.len - 10);
    let err = w.start_file(&f.rowset_id, &f.name).expect_err("twice");
    assert!(err.message.contains("already received"), "{}", err.message);
    // The second file is missing: nothing is installed and the received file goes.
    let meta = dst.meta();
    let err = dst
        .e
        .finish_clone(w, snap.rowsets.clone(), 4)
        .expect_err("incomplete");
    assert!(
        err.message.contains(&format!(
            "file {} of rowset {} [4-4] was not received",
            snap.files[1].name, snap.files[1].rowset_id
        )),
        "{}",
        err.message
    );
    assert_eq!(dst.meta(), meta);
    assert_eq!(dst.files(), before);

    // Bytes that arrived as sent but are not what the source recorded when it wrote the file
    // (its copy is damaged) are refused at the install.
    let mut w = dst.e.begin_clone(&target(), false).expect("begin");
    let junk = b"not a parquet file".to_vec();
    w.start_file(&f.rowset_id, &f.name).expect("start");
    w.write(&junk).expect("write");
    w.finish_file(junk.len() as u64, crc32fast::hash(&junk))
        .expect("the bytes arrived as sent");
    let err = dst
        .e
        .finish_clone(w, vec![snap.rowsets[0].clone()], 4)
        .expect_err("damaged at the source");
    assert_eq!(err.code, StatusCode::DataCorrupted, "{}", err.message);
    assert!(
        err.message.contains("the source's copy is damaged"),
        "{}",
        err.message
    );
    assert_eq!(dst.files(), before);
    // Without a recorded checksum (a rowset written before they were recorded), bytes that
    // are no Parquet file of this tablet are refused by the file check.
    let mut legacy = snap.rowsets[0].clone();
    legacy.checksums.clear();
    let mut w = dst.e.begin_clone(&target(), false).expect("begin");
    w.start_file(&f.rowset_id, &f.name).expect("start");
    w.write(&junk).expect("write");
    w.finish_file(junk.len() as u64, crc32fast::hash(&junk))
        .expect("the bytes arrived as sent");
    let err = dst.e.finish_clone(w, vec![legacy], 4).expect_err("junk");
    assert!(
        err.message.contains("not a whole Parquet file"),
        "{}",
        err.message
    );
    assert_eq!(dst.files(), before);
    // Rows that do not match the rowset's.
    let mut w = dst.e.begin_clone(&target(), false).expect("begin");
    copy(&snap, &mut w);
    let mut lying = snap.rowsets.clone();
    lying[0].rows += 1;
    let err = dst.e.finish_clone(w, lying, 4).expect_err("rows");
    assert!(
        err.message
            .contains("should hold 3 rows but its files hold 2"),
        "{}",
        err.message
    );
    assert_eq!(dst.files(), before);
    // Misuse of the writer.
    let mut w = dst.e.begin_clone(&target(), false).expect("begin");
    assert!(w.write(b"x").is_err(), "bytes before a file");
    assert!(w.finish_file(0, 0).is_err(), "an end before a file");
    w.start_file(&f.rowset_id, &f.name).expect("start");
    let err = w.start_file("other", "x_0.parquet").expect_err("nested");
    assert!(err.message.contains("is not finished"), "{}", err.message);
    let err = dst
        .e
        .finish_clone(w, snap.rowsets.clone(), 4)
        .expect_err("open file");
    assert!(err.message.contains("was not finished"), "{}", err.message);
    assert_eq!(dst.files(), before);
    drop(src);
}

#[test]
fn bad_rowset_lists_are_refused() {
    let (src, dst, snap) = lagging_pair();
    let before = dst.files();
    let attempt = |rowsets: Vec<RowsetMeta>, version: i64, full: bool| -> String {
        let mut w = dst.e.begin_clone(&target(), full).expect("begin");
        copy(&snap, &mut w);
        let err = dst
            .e
            .finish_clone(w, rowsets, version)
            .expect_err("refused");
        assert_eq!(err.code, StatusCode::InvalidArgument, "{}", err.message);
        err.message
    };
    let m = attempt(snap.rowsets.clone(), 3, false);
    assert!(
        m.contains("[4-4] is not inside the snapshot's versions [0-3]"),
        "{m}"
    );
    let twice = vec![snap.rowsets[0].clone(), snap.rowsets[0].clone()];
    let m = attempt(twice, 4, false);
    assert!(m.contains("is given twice"), "{m}");
    let mut overlapping = snap.rowsets.clone();
    overlapping[1].start_version = 3;
    let m = attempt(overlapping, 4, false);
    assert!(m.contains("rowsets [3-3] and [3-4] overlap"), "{m}");
    // A full clone must cover [0, version].
    let m = attempt(snap.rowsets.clone(), 4, true);
    assert!(m.contains("must cover [0-4] without a hole"), "{m}");
    assert_eq!(dst.files(), before);
    assert_eq!(dst.meta().version, 2);
    drop(src);
}

#[test]
fn a_dropped_writer_leaves_nothing() {
    let (src, dst, snap) = lagging_pair();
    let before = dst.files();
    let mut w = dst.e.begin_clone(&target(), false).expect("begin");
    copy(&snap, &mut w);
    w.start_file("half", "half_0.parquet").expect("start");
    w.write(b"PAR1 and then the connection dropped")
        .expect("write");
    assert_eq!(dst.files().len(), before.len() + 3);
    drop(w);
    assert_eq!(dst.files(), before);
    // The tablet is free again.
    let w = dst.e.begin_clone(&target(), false).expect("begin again");
    drop(w);

    // Into an absent tablet: the directory goes too, and the tablet can be created.
    let other = Node::new();
    let full = src.e.clone_snapshot(T, 4, None).expect("snapshot");
    let mut w = other.e.begin_clone(&target(), true).expect("begin");
    copy(&full, &mut w);
    assert_eq!(other.files().len(), 3);
    drop(w);
    assert!(!other.tablet_dir().exists());
    assert_eq!(other.e.tablet_count(), 0);
    other.create(DST_REPLICA);
    assert_eq!(other.meta().version, 1);
}

#[test]
fn a_crash_before_the_install_leaves_no_orphan() {
    let src = Node::new();
    src.create(SRC_REPLICA);
    for v in 2..=4 {
        src.load(v);
    }
    let full = src.e.clone_snapshot(T, 4, None).expect("snapshot");
    let inc = src.e.clone_snapshot(T, 4, Some(&[3, 4])).expect("snapshot");

    // Into an existing tablet.
    let mut dst = Node::new();
    dst.create(DST_REPLICA);
    dst.load(2);
    let before = dst.files();
    let meta = dst.meta();
    let mut w = dst.e.begin_clone(&target(), false).expect("begin");
    copy(&inc, &mut w);
    w.start_file("half", "half_0.parquet").expect("start");
    w.write(b"PAR1").expect("write");
    assert_eq!(dst.files().len(), before.len() + 3);
    // The process dies: the writer never runs its cleanup.
    std::mem::forget(w);
    dst.reopen();
    assert_eq!(dst.files(), before, "the orphans are swept at open");
    assert_eq!(dst.meta(), meta);
    // The clone runs again.
    let mut w = dst.e.begin_clone(&target(), false).expect("begin");
    copy(&inc, &mut w);
    dst.e
        .finish_clone(w, inc.rowsets.clone(), 4)
        .expect("finish");
    assert_eq!(dst.rows_at(4), src.rows_at(4));

    // Into an absent tablet: a directory without metadata.
    let mut other = Node::new();
    let mut w = other.e.begin_clone(&target(), true).expect("begin");
    copy(&full, &mut w);
    std::mem::forget(w);
    assert_eq!(other.files().len(), 3);
    other.reopen();
    assert_eq!(other.e.tablet_count(), 0);
    assert!(!other.tablet_dir().exists(), "{:?}", other.files());
    let mut w = other.e.begin_clone(&target(), true).expect("begin");
    copy(&full, &mut w);
    other
        .e
        .finish_clone(w, full.rowsets.clone(), 4)
        .expect("finish");
    assert_eq!(other.rows_at(4), src.rows_at(4));

    // A leftover directory holding something else than rowset files keeps it.
    let mut third = Node::new();
    let mut w = third.e.begin_clone(&target(), true).expect("begin");
    copy(&full, &mut w);
    std::fs::write(third.tablet_dir().join("notes.txt"), b"mine").expect("plant");
    std::mem::forget(w);
    third.reopen();
    assert_eq!(third.files(), ["notes.txt"]);
}

#[test]
fn clone_and_compaction_exclude_each_other() {
    let src = Node::new();
    src.create(SRC_REPLICA);
    for v in 2..=8 {
        src.load(v);
    }
    let dst = Node::new();
    dst.create(DST_REPLICA);
    for v in 2..=6 {
        dst.load(v);
    }
    let policy = CompactionPolicy::default();
    let task = dst
        .e
        .prepare_compaction(T, CompactionKind::Cumulative, &policy)
        .expect("prepare")
        .expect("due");
    let err = match dst.e.begin_clone(&target(), false) {
        Ok(_) => panic!("a clone during a compaction"),
        Err(e) => e,
    };
    assert_eq!(err.code, StatusCode::Cancelled);
    assert!(
        err.message.contains("being compacted or cloned") && err.message.contains("retry later"),
        "{}",
        err.message
    );
    drop(task);
    let w = dst.e.begin_clone(&target(), false).expect("begin");
    // No compaction starts while the clone runs, and no second clone.
    assert!(
        dst.e
            .compaction_candidates(CompactionKind::Cumulative, &policy)
            .is_empty()
    );
    assert!(
        dst.e
            .prepare_compaction(T, CompactionKind::Cumulative, &policy)
            .expect("prepare")
            .is_none()
    );
    assert_eq!(dst.compact(&policy), None);
    assert!(dst.e.begin_clone(&target(), true).is_err());
    // Installed, the flag is released.
    let snap = src.e.clone_snapshot(T, 8, Some(&[7, 8])).expect("snapshot");
    let mut w = w;
    copy(&snap, &mut w);
    dst.e
        .finish_clone(w, snap.rowsets.clone(), 8)
        .expect("finish");
    assert_eq!(
        dst.e
            .compaction_candidates(CompactionKind::Cumulative, &policy),
        [T]
    );
    assert_eq!(dst.compact(&policy), Some((2, 8)));
    assert_eq!(sorted(dst.rows_at(8)), expected(2..=8));
}

#[test]
fn bad_clone_requests_are_refused() {
    let src = Node::new();
    src.create(SRC_REPLICA);
    for v in 2..=4 {
        src.load(v);
    }
    let err = src
        .e
        .clone_snapshot(T + 1, 1, None)
        .expect_err("unknown tablet");
    assert!(
        err.message
            .contains(&format!("tablet {} does not exist", T + 1)),
        "{}",
        err.message
    );
    assert_eq!(src.e.missing_versions(T + 1, 4).expect("missing"), None);
    let err = src.e.clone_snapshot(T, -1, None).expect_err("negative");
    assert_eq!(err.code, StatusCode::InvalidArgument);
    // The existing tablet is another replica.
    let err = match src.e.begin_clone(&target(), false) {
        Ok(_) => panic!("a clone into another replica"),
        Err(e) => e,
    };
    assert!(
        err.message.contains("as replica 1, not replica 2"),
        "{}",
        err.message
    );
    let mut other_partition = target();
    other_partition.replica_id = SRC_REPLICA;
    other_partition.partition_id = 7;
    let err = match src.e.begin_clone(&other_partition, true) {
        Ok(_) => panic!("a clone into another partition"),
        Err(e) => e,
    };
    assert!(err.message.contains("partition 101"), "{}", err.message);
    // A dropped tablet cannot take the install.
    let dst = Node::new();
    dst.create(DST_REPLICA);
    let snap = src.e.clone_snapshot(T, 4, Some(&[2, 3, 4])).expect("snap");
    let mut w = dst.e.begin_clone(&target(), false).expect("begin");
    copy(&snap, &mut w);
    assert!(dst.e.drop_tablet(T, 0).expect("drop"));
    let err = dst
        .e
        .finish_clone(w, snap.rowsets.clone(), 4)
        .expect_err("dropped");
    assert!(err.message.contains("was dropped"), "{}", err.message);
    // Dropped and created again: still refused.
    dst.create(DST_REPLICA);
    let mut w = dst.e.begin_clone(&target(), false).expect("begin");
    copy(&snap, &mut w);
    assert!(dst.e.drop_tablet(T, 0).expect("drop"));
    dst.create(DST_REPLICA);
    let err = dst
        .e
        .finish_clone(w, snap.rowsets.clone(), 4)
        .expect_err("recreated");
    assert!(
        err.message.contains("dropped and created again"),
        "{}",
        err.message
    );
    assert_eq!(dst.meta().version, 1);
    assert!(dst.files().is_empty(), "{:?}", dst.files());
    // A closed engine.
    dst.e.close();
    assert!(dst.e.missing_versions(T, 1).is_err());
    assert!(dst.e.begin_clone(&target(), true).is_err());
}

#[test]
fn writers_and_snapshots_cross_threads() {
    fn send<T: Send + 'static>() {}
    fn sync<T: Sync>() {}
    send::<CloneWriter>();
    send::<CloneSnapshot>();
    sync::<CloneSnapshot>();
    send::<crate::CloneOutcome>();
}
