//! Compaction, stale rowsets, reader pins and the version limit.

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

use crate::CompactionKind;
use crate::CompactionPolicy;
use crate::CreateTablet;
use crate::StorageEngine;
use crate::StorageOptions;

const T: i64 = 90_001;
const PARTITION: i64 = 101;

/// `k INT` (a key column unless `keyless`), `v STRING`.
fn schema(keyless: bool) -> TableSchema {
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
            col("k", DataType::Int, !keyless),
            col("v", DataType::String, false),
        ],
        keys_type: KeysType::Duplicate,
        distribution_columns: vec!["k".into()],
        buckets: 1,
        schema_version: 0,
    }
}

fn roots(dir: &tempfile::TempDir) -> Vec<PathBuf> {
    vec![dir.path().join("r0")]
}

fn engine(dir: &tempfile::TempDir, max_versions: usize) -> StorageEngine {
    StorageEngine::open_with(
        &roots(dir),
        StorageOptions {
            tablet_max_versions: max_versions,
            ..StorageOptions::default()
        },
    )
    .expect("open")
}

fn create(e: &StorageEngine, keyless: bool) {
    e.create_tablet(CreateTablet {
        tablet_id: T,
        replica_id: 1,
        table_id: 100,
        partition_id: PARTITION,
        schema: schema(keyless),
        version: 1,
    })
    .expect("create");
}

fn batch(keys: &[i32], tag: &str) -> RecordBatch {
    let s = crate::arrow_schema(&schema(false));
    let values: Vec<String> = keys.iter().map(|k| format!("{tag}{k}")).collect();
    RecordBatch::try_new(
        s,
        vec![
            Arc::new(Int32Array::from(keys.to_vec())),
            Arc::new(StringArray::from(values)),
        ],
    )
    .expect("batch")
}

/// Loads `keys` as the next version (txn id = version); returns the version.
fn load(e: &StorageEngine, keys: &[i32]) -> i64 {
    let version = e.tablet_meta(T).expect("meta").version + 1;
    let mut w = e.rowset_writer(version, T, PARTITION).expect("writer");
    // Two batches per load, so files hold several.
    let (a, b) = keys.split_at(keys.len() / 2);
    for part in [a, b] {
        if !part.is_empty() {
            w.write(&batch(part, &format!("v{version}-")))
                .expect("write");
        }
    }
    e.commit_rowset(w).expect("commit");
    assert_eq!(
        e.publish(version, T, PARTITION, version).expect("publish"),
        version
    );
    version
}

/// (k, v) rows at a version, in storage order.
fn rows_at(e: &StorageEngine, version: i64) -> Vec<(i32, String)> {
    let read = e.read_at(T, version).expect("read");
    collect(read.batches())
}

fn collect(batches: crate::RowsetBatches) -> Vec<(i32, String)> {
    let mut out = Vec::new();
    for b in batches {
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

fn sorted(mut rows: Vec<(i32, String)>) -> Vec<(i32, String)> {
    rows.sort();
    rows
}

fn ranges(e: &StorageEngine) -> Vec<String> {
    e.tablet_meta(T)
        .expect("meta")
        .rowsets
        .iter()
        .map(|r| r.versions())
        .collect()
}

fn parquet_files(e: &StorageEngine) -> usize {
    std::fs::read_dir(e.tablet_dir(T).expect("dir"))
        .expect("read dir")
        .flatten()
        .filter(|d| d.file_name().to_string_lossy().ends_with(".parquet"))
        .count()
}

/// Pseudo-random keys (a fixed LCG), so loads arrive unsorted.
fn keys(seed: u32, n: usize) -> Vec<i32> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..n)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            ((x >> 8) % 50_000) as i32
        })
        .collect()
}

fn is_sorted_by_key(rows: &[(i32, String)]) -> bool {
    rows.windows(2).all(|w| w[0].0 <= w[1].0)
}

#[test]
fn cumulative_compaction_merges_singletons_into_one_sorted_rowset() {
    let dir = tempfile::tempdir().expect("tempdir");
    let e = engine(&dir, 1000);
    create(&e, false);
    let policy = CompactionPolicy::default();
    for i in 0..4 {
        load(&e, &keys(i, 100));
    }
    // Four singletons: below min_cumulative_compaction_num_singleton_deltas (5).
    assert!(
        e.compaction_candidates(CompactionKind::Cumulative, &policy)
            .is_empty()
    );
    assert!(
        e.compact(T, CompactionKind::Cumulative, &policy)
            .expect("compact")
            .is_none()
    );
    load(&e, &keys(4, 100));
    assert_eq!(
        e.compaction_candidates(CompactionKind::Cumulative, &policy),
        [T]
    );
    let before = rows_at(&e, 6);
    assert_eq!(before.len(), 500);
    assert_eq!(e.tablet_meta(T).expect("meta").version_count(), 6);

    let r = e
        .compact(T, CompactionKind::Cumulative, &policy)
        .expect("compact")
        .expect("due");
    assert_eq!(
        (r.start_version, r.end_version, r.input_rowsets, r.rows),
        (2, 6, 5, 500)
    );
    assert!(r.sorted);
    assert_eq!(r.version_count, 2);
    assert_eq!(ranges(&e), ["[0-1]", "[2-6]"]);
    let after = rows_at(&e, 6);
    assert!(is_sorted_by_key(&after), "sorted by k");
    assert_eq!(sorted(after), sorted(before.clone()));
    // The output is small: it stays above the cumulative point, to be merged again.
    let meta = e.tablet_meta(T).expect("meta");
    assert_eq!(meta.cumulative_point, 2);
    assert_eq!(meta.stale.len(), 5);
    // Five more loads of larger, unsorted batches: the sorted output is streamed and merged
    // with the new rows sorted in memory (a k-way merge over several batches).
    let mut expected = before;
    for i in 10..15 {
        let ks = keys(i, 9000);
        let v = load(&e, &ks);
        expected.extend(ks.iter().map(|k| (*k, format!("v{v}-{k}"))));
    }
    let r = e
        .compact(T, CompactionKind::Cumulative, &policy)
        .expect("compact")
        .expect("due");
    assert_eq!(
        (r.start_version, r.end_version, r.input_rowsets),
        (2, 11, 6)
    );
    assert_eq!(r.rows, 45_500);
    assert_eq!(ranges(&e), ["[0-1]", "[2-11]"]);
    let all = rows_at(&e, 11);
    assert!(is_sorted_by_key(&all));
    assert!(equal_keys_keep_version_order(&all));
    assert_eq!(sorted(all), sorted(expected));
    // Every old version is still readable through the stale rowsets.
    assert_eq!(rows_at(&e, 6).len(), 500);
    assert_eq!(rows_at(&e, 8).len(), 18_500);
}

/// Rows with equal keys come in version order (the value is `v<version>-<k>`).
fn equal_keys_keep_version_order(rows: &[(i32, String)]) -> bool {
    let tag = |v: &str| -> i64 {
        v.trim_start_matches('v')
            .split('-')
            .next()
            .and_then(|t| t.parse().ok())
            .unwrap_or(0)
    };
    let dups = rows.windows(2).filter(|w| w[0].0 == w[1].0).count();
    assert!(dups > 100, "the test needs duplicate keys ({dups})");
    rows.windows(2)
        .filter(|w| w[0].0 == w[1].0)
        .all(|w| tag(&w[0].1) <= tag(&w[1].1))
}

#[test]
fn at_most_max_cumulative_deltas_are_merged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let e = engine(&dir, 1000);
    create(&e, false);
    for i in 0..7 {
        load(&e, &[i]);
    }
    let policy = CompactionPolicy {
        min_cumulative_deltas: 3,
        max_cumulative_deltas: 4,
        ..CompactionPolicy::default()
    };
    let r = e
        .compact(T, CompactionKind::Cumulative, &policy)
        .expect("compact")
        .expect("due");
    assert_eq!((r.start_version, r.end_version), (2, 5));
    assert_eq!(ranges(&e), ["[0-1]", "[2-5]", "[6-6]", "[7-7]", "[8-8]"]);
    // Three singletons left: the next one takes the output and them.
    let r = e
        .compact(T, CompactionKind::Cumulative, &policy)
        .expect("compact")
        .expect("due");
    assert_eq!((r.start_version, r.end_version), (2, 8));
    assert_eq!(sorted(rows_at(&e, 8)).len(), 7);
}

#[test]
fn base_compaction_merges_the_base_with_the_rowsets_below_the_point() {
    let dir = tempfile::tempdir().expect("tempdir");
    let e = engine(&dir, 1000);
    create(&e, false);
    // Everything is "large" (promoted at once): all rowsets lie below the cumulative point.
    let policy = CompactionPolicy {
        min_base_deltas: 3,
        promotion_min_bytes: 0,
        promotion_max_bytes: 0,
        ..CompactionPolicy::default()
    };
    load(&e, &[5, 1]);
    load(&e, &[4]);
    assert!(
        e.compact(T, CompactionKind::Cumulative, &policy)
            .expect("compact")
            .is_none(),
        "nothing above the cumulative point"
    );
    assert!(
        e.compaction_candidates(CompactionKind::Base, &policy)
            .is_empty(),
        "two deltas are below min_base_compaction_num_singleton_deltas"
    );
    load(&e, &[3, 2]);
    let r = e
        .compact(T, CompactionKind::Base, &policy)
        .expect("compact")
        .expect("due");
    assert_eq!(
        (
            r.kind,
            r.start_version,
            r.end_version,
            r.input_rowsets,
            r.rows
        ),
        (CompactionKind::Base, 0, 4, 4, 5)
    );
    assert_eq!(ranges(&e), ["[0-4]"]);
    let keys_at = |v| -> Vec<i32> { rows_at(&e, v).into_iter().map(|r| r.0).collect() };
    assert_eq!(keys_at(4), [1, 2, 3, 4, 5]);
    assert_eq!(sorted(rows_at(&e, 2)).len(), 2);
    let meta = e.tablet_meta(T).expect("meta");
    assert!(meta.last_base_compaction_ms > 0);
    assert_eq!(meta.cumulative_point, 5);

    // One more delta: not due by count, but due once the interval since the last base
    // compaction passed.
    load(&e, &[0]);
    assert!(
        e.compact(T, CompactionKind::Base, &policy)
            .expect("compact")
            .is_none()
    );
    let now = CompactionPolicy {
        base_interval: Duration::ZERO,
        ..policy
    };
    let r = e
        .compact(T, CompactionKind::Base, &now)
        .expect("compact")
        .expect("due");
    assert_eq!((r.start_version, r.end_version), (0, 5));
    assert_eq!(keys_at(5), [0, 1, 2, 3, 4, 5]);
}

#[test]
fn old_versions_read_through_stale_rowsets_until_swept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let e = engine(&dir, 1000);
    create(&e, false);
    for i in 0..5 {
        load(&e, &[i * 10]);
    }
    let files_before = parquet_files(&e);
    assert_eq!(files_before, 5);
    e.compact(T, CompactionKind::Cumulative, &CompactionPolicy::default())
        .expect("compact")
        .expect("due");
    assert_eq!(parquet_files(&e), 6, "the inputs stay while stale");
    let k = |v| -> Vec<i32> { rows_at(&e, v).into_iter().map(|r| r.0).collect() };
    assert_eq!(k(3), [0, 10]);
    assert_eq!(k(6), [0, 10, 20, 30, 40]);
    // Not old enough yet.
    assert_eq!(e.sweep_stale(Duration::from_secs(1800)).expect("sweep"), 0);
    assert_eq!(k(4), [0, 10, 20]);
    // Swept: the old versions fail cleanly, the newest still reads.
    assert_eq!(e.sweep_stale(Duration::ZERO).expect("sweep"), 5);
    assert_eq!(parquet_files(&e), 1);
    assert!(e.tablet_meta(T).expect("meta").stale.is_empty());
    let err = e.read_at(T, 4).expect_err("version 4 was merged away");
    assert_eq!(err.code, StatusCode::InvalidArgument);
    assert!(err.message.contains("tablet 90001"), "{}", err.message);
    assert!(
        err.message.contains("compaction merged versions [2-6]"),
        "{}",
        err.message
    );
    assert!(err.message.contains("read version 6"), "{}", err.message);
    assert_eq!(k(6), [0, 10, 20, 30, 40]);
    assert_eq!(k(1), Vec::<i32>::new(), "the base version still reads");
}

#[test]
fn a_pinned_reader_blocks_the_sweep() {
    let dir = tempfile::tempdir().expect("tempdir");
    let e = engine(&dir, 1000);
    create(&e, false);
    for i in 0..5 {
        load(&e, &[i]);
    }
    // A query starts at version 4, takes its iterator and drops the view.
    let view = e.read_at(T, 4).expect("read");
    let pin = view.pin();
    let iter = view.batches();
    drop(view);
    e.compact(T, CompactionKind::Cumulative, &CompactionPolicy::default())
        .expect("compact")
        .expect("due");
    // [2-2], [3-3] and [4-4] are pinned; [5-5] and [6-6] are not.
    assert_eq!(e.sweep_stale(Duration::ZERO).expect("sweep"), 2);
    assert_eq!(e.tablet_meta(T).expect("meta").stale.len(), 3);
    // The query still reads its version.
    let got: Vec<i32> = collect(iter).into_iter().map(|r| r.0).collect();
    assert_eq!(got, [0, 1, 2]);
    // And version 4 is still readable while the pin lives.
    assert_eq!(rows_at(&e, 4).len(), 3);
    assert_eq!(
        e.sweep_stale(Duration::ZERO).expect("sweep"),
        0,
        "still pinned"
    );
    drop(pin);
    assert_eq!(e.sweep_stale(Duration::ZERO).expect("sweep"), 3);
    assert!(e.read_at(T, 4).is_err());
    assert_eq!(parquet_files(&e), 1);
}

#[test]
fn a_crash_before_the_meta_commit_leaves_the_old_rowsets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = roots(&dir);
    {
        let e = engine(&dir, 1000);
        create(&e, false);
        for i in 0..5 {
            load(&e, &[i]);
        }
        let task = e
            .prepare_compaction(T, CompactionKind::Cumulative, &CompactionPolicy::default())
            .expect("prepare")
            .expect("due");
        assert_eq!(task.inputs().len(), 5);
        // No second compaction of the tablet while one runs.
        assert!(
            e.prepare_compaction(T, CompactionKind::Cumulative, &CompactionPolicy::default())
                .expect("prepare")
                .is_none()
        );
        let out = task.run().expect("merged file written");
        assert_eq!(out.rowset().rows, 5);
        assert_eq!(parquet_files(&e), 6);
        // The process dies here: the file is written, the metadata never committed.
        std::mem::forget(out);
    }
    let e = StorageEngine::open(&paths).expect("reopen");
    assert_eq!(
        ranges(&e),
        ["[0-1]", "[2-2]", "[3-3]", "[4-4]", "[5-5]", "[6-6]"]
    );
    assert!(e.tablet_meta(T).expect("meta").stale.is_empty());
    assert_eq!(parquet_files(&e), 5, "the orphan output is swept at open");
    assert_eq!(rows_at(&e, 6).len(), 5);
    // The compaction simply runs again.
    let r = e
        .compact(T, CompactionKind::Cumulative, &CompactionPolicy::default())
        .expect("compact")
        .expect("due");
    assert_eq!((r.start_version, r.end_version), (2, 6));
    drop(e);
    // A committed compaction survives a restart, stale rowsets included.
    let e = StorageEngine::open(&paths).expect("reopen");
    assert_eq!(ranges(&e), ["[0-1]", "[2-6]"]);
    assert_eq!(e.tablet_meta(T).expect("meta").stale.len(), 5);
    assert_eq!(rows_at(&e, 3).len(), 2);
    assert_eq!(parquet_files(&e), 6);
}

#[test]
fn an_abandoned_output_is_removed_and_a_dropped_tablet_refuses_the_commit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let e = engine(&dir, 1000);
    create(&e, false);
    for i in 0..5 {
        load(&e, &[i]);
    }
    let out = e
        .prepare_compaction(T, CompactionKind::Cumulative, &CompactionPolicy::default())
        .expect("prepare")
        .expect("due")
        .run()
        .expect("run");
    drop(out);
    assert_eq!(parquet_files(&e), 5, "an uncommitted output is removed");
    // The flag was cleared: it can run again.
    let out = e
        .prepare_compaction(T, CompactionKind::Cumulative, &CompactionPolicy::default())
        .expect("prepare")
        .expect("due")
        .run()
        .expect("run");
    assert!(e.drop_tablet(T, 0).expect("drop"));
    let err = e.commit_compaction(out).expect_err("the tablet is gone");
    assert!(err.message.contains("tablet 90001"), "{}", err.message);
}

#[test]
fn publish_and_writes_of_a_compacted_transaction() {
    let dir = tempfile::tempdir().expect("tempdir");
    let e = engine(&dir, 1000);
    create(&e, false);
    for i in 0..5 {
        load(&e, &[i]);
    }
    e.compact(T, CompactionKind::Cumulative, &CompactionPolicy::default())
        .expect("compact")
        .expect("due");
    // A retried publish of txn 3 (version 3, now inside [2-6]) is still idempotent.
    assert_eq!(e.publish(3, T, PARTITION, 3).expect("again"), 6);
    let err = e.publish(3, T, PARTITION, 7).expect_err("other version");
    assert!(err.message.contains("already published"), "{}", err.message);
    let err = match e.rowset_writer(3, T, PARTITION) {
        Ok(_) => panic!("a published txn wrote again"),
        Err(err) => err,
    };
    assert!(err.message.contains("already published"), "{}", err.message);
    // Loads go on above the merged rowset.
    load(&e, &[9]);
    assert_eq!(ranges(&e), ["[0-1]", "[2-6]", "[7-7]"]);
    assert_eq!(rows_at(&e, 7).len(), 6);
}

#[test]
fn too_many_versions_refuses_loads_until_compaction() {
    let dir = tempfile::tempdir().expect("tempdir");
    let e = engine(&dir, 6);
    create(&e, false);
    // The base rowset and six loads: seven versions, above the limit of six.
    for i in 0..6 {
        load(&e, &[i]);
    }
    assert_eq!(e.tablet_meta(T).expect("meta").version_count(), 7);
    let err = match e.rowset_writer(100, T, PARTITION) {
        Ok(_) => panic!("a load over the version limit was accepted"),
        Err(err) => err,
    };
    assert_eq!(err.code, StatusCode::LimitExceeded);
    assert!(
        err.message.contains(
            "Failed to load data into tablet 90001, because of too many versions, \
             current/limit: 7/6"
        ),
        "{}",
        err.message
    );
    // Publishing what was already written is not refused; compaction lifts the limit.
    e.compact(T, CompactionKind::Cumulative, &CompactionPolicy::default())
        .expect("compact")
        .expect("due");
    assert_eq!(e.tablet_meta(T).expect("meta").version_count(), 2);
    load(&e, &[100]);
    assert_eq!(rows_at(&e, 8).len(), 7);
}

#[test]
fn without_key_columns_the_rows_keep_their_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let e = engine(&dir, 1000);
    create(&e, true);
    for i in 0..5 {
        load(&e, &[9 - i, i]);
    }
    let before = rows_at(&e, 6);
    let r = e
        .compact(T, CompactionKind::Cumulative, &CompactionPolicy::default())
        .expect("compact")
        .expect("due");
    assert!(!r.sorted);
    assert_eq!(rows_at(&e, 6), before, "version order, as loaded");
}

#[test]
fn empty_rowsets_merge_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let e = engine(&dir, 1000);
    create(&e, false);
    for i in 0..5 {
        load(&e, if i == 2 { &[7] } else { &[] });
    }
    let r = e
        .compact(T, CompactionKind::Cumulative, &CompactionPolicy::default())
        .expect("compact")
        .expect("due");
    assert_eq!((r.rows, r.version_count), (1, 2));
    let all_empty = {
        let e2dir = tempfile::tempdir().expect("tempdir");
        let e2 = engine(&e2dir, 1000);
        create(&e2, false);
        for _ in 0..5 {
            load(&e2, &[]);
        }
        let r = e2
            .compact(T, CompactionKind::Cumulative, &CompactionPolicy::default())
            .expect("compact")
            .expect("due");
        (r.rows, r.bytes, parquet_files(&e2))
    };
    assert_eq!(all_empty, (0, 0, 0));
}

#[test]
fn the_cumulative_point_promotes_large_rowsets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let e = engine(&dir, 1000);
    create(&e, false);
    load(&e, &keys(1, 2000)); // a "large" load at the point
    for i in 0..5 {
        load(&e, &[i]);
    }
    let big = e.tablet_meta(T).expect("meta").rowsets[1].bytes;
    let policy = CompactionPolicy {
        promotion_min_bytes: big,
        promotion_max_bytes: big,
        ..CompactionPolicy::default()
    };
    assert_eq!(
        policy.cumulative_point(&e.tablet_meta(T).expect("meta")),
        3,
        "the large rowset [2-2] moved below the point"
    );
    let r = e
        .compact(T, CompactionKind::Cumulative, &policy)
        .expect("compact")
        .expect("due");
    assert_eq!((r.start_version, r.end_version), (3, 7));
    assert_eq!(ranges(&e), ["[0-1]", "[2-2]", "[3-7]"]);
    let meta = e.tablet_meta(T).expect("meta");
    assert_eq!(
        meta.cumulative_point, 3,
        "the small output stays above the point"
    );
    assert_eq!(rows_at(&e, 7).len(), 2005);
}
