use std::path::PathBuf;
use std::time::Duration;

use common::StatusCode;
use common::schema::ColumnSchema;
use common::schema::DataType;
use common::schema::KeysType;
use common::schema::TableSchema;

use crate::CreateOutcome;
use crate::CreateTablet;
use crate::StorageEngine;
use crate::TabletState;

fn schema() -> TableSchema {
    TableSchema {
        columns: vec![ColumnSchema {
            name: "k".into(),
            data_type: DataType::Int,
            nullable: false,
            is_key: true,
            default: None,
            comment: String::new(),
        }],
        keys_type: KeysType::Duplicate,
        distribution_columns: vec!["k".into()],
        buckets: 3,
        schema_version: 0,
    }
}

fn req(tablet_id: i64, replica_id: i64) -> CreateTablet {
    CreateTablet {
        tablet_id,
        replica_id,
        table_id: 100,
        partition_id: 101,
        schema: schema(),
        version: 1,
    }
}

fn roots(dir: &tempfile::TempDir, n: usize) -> Vec<PathBuf> {
    (0..n).map(|i| dir.path().join(format!("r{i}"))).collect()
}

#[test]
fn create_list_drop_and_idempotency() {
    let dir = tempfile::tempdir().expect("tempdir");
    let e = StorageEngine::open(&roots(&dir, 2)).expect("open");
    assert_eq!(
        e.create_tablet(req(10_001, 1)).expect("create"),
        CreateOutcome::Created
    );
    assert_eq!(
        e.create_tablet(req(10_001, 1)).expect("again"),
        CreateOutcome::AlreadyExists
    );
    let err = e.create_tablet(req(10_001, 2)).expect_err("other replica");
    assert_eq!(err.code, StatusCode::InvalidArgument);
    assert!(err.message.contains("replica 1"), "{}", err.message);
    let mut other_schema = req(10_001, 1);
    other_schema.schema.buckets = 9;
    assert!(e.create_tablet(other_schema).is_err());
    e.create_tablet(req(10_002, 2)).expect("create");
    let tablets = e.tablets().expect("list");
    assert_eq!(tablets.len(), 2);
    let t = &tablets[0];
    assert_eq!(t.meta.tablet_id, 10_001);
    assert_eq!(t.meta.state, TabletState::Normal);
    assert!(t.dir.is_dir());
    assert!(
        t.dir.ends_with(format!("data/{}/10001", 10_001 % 1024)),
        "{}",
        t.dir.display()
    );
    // A file in the tablet counts as data.
    std::fs::write(t.dir.join("x.parquet"), vec![0u8; 1000]).expect("write");
    let disks = e.disks(Duration::ZERO).expect("disks");
    assert_eq!(disks.len(), 2);
    assert_eq!(disks.iter().map(|d| d.data_used_bytes).sum::<i64>(), 1000);
    assert!(
        disks
            .iter()
            .all(|d| d.total_bytes > 0 && d.available_bytes > 0)
    );
    assert_eq!(e.tablets().expect("list")[0].data_size, 1000);
    // Dropping with the wrong replica id is refused; the right one (or 0) drops.
    assert!(e.drop_tablet(10_001, 7).is_err());
    assert!(e.drop_tablet(10_001, 1).expect("drop"));
    assert!(!t.dir.exists());
    assert!(!e.drop_tablet(10_001, 1).expect("drop missing"));
    assert!(e.drop_tablet(10_002, 0).expect("drop any replica"));
    assert_eq!(e.tablet_count(), 0);
}

#[test]
fn reopen_keeps_tablets_and_cluster_id() {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = roots(&dir, 2);
    {
        let e = StorageEngine::open(&paths).expect("open");
        assert_eq!(e.cluster_id(), None);
        assert!(e.bind_cluster_id(4242).expect("bind"));
        assert!(!e.bind_cluster_id(4242).expect("same id"));
        let err = e.bind_cluster_id(7).expect_err("other cluster");
        assert_eq!(err.code, StatusCode::ClusterIdMismatch);
        assert!(
            err.message.contains("belongs to cluster 4242"),
            "{}",
            err.message
        );
        for i in 0..5 {
            e.create_tablet(req(20_000 + i, 30_000 + i))
                .expect("create");
        }
    }
    for p in &paths {
        let text = std::fs::read_to_string(p.join("cluster_id")).expect("cluster_id file");
        assert_eq!(text.trim(), "4242");
    }
    let e = StorageEngine::open(&paths).expect("reopen");
    assert_eq!(e.cluster_id(), Some(4242));
    assert_eq!(e.tablet_count(), 5);
    let m = e.tablet_meta(20_003).expect("kept");
    assert_eq!((m.replica_id, m.table_id, m.version), (30_003, 100, 1));
    assert_eq!(m.schema, schema());
    assert!(m.create_time_ms > 0);
}

#[test]
fn the_cluster_token_is_stored_in_every_root_and_another_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = roots(&dir, 3);
    {
        let e = StorageEngine::open(&paths[..2]).expect("open");
        assert_eq!(e.token(), None);
        assert!(e.bind_token("tok-1").expect("bind"));
        assert!(!e.bind_token("tok-1").expect("same token"));
        let err = e.bind_token("tok-2").expect_err("other token");
        assert_eq!(err.code, StatusCode::InvalidToken);
        assert!(
            err.message.starts_with("Unmatched token"),
            "{}",
            err.message
        );
        assert_eq!(
            e.bind_token("").expect_err("empty").code,
            StatusCode::InvalidToken
        );
        assert_eq!(e.token().as_deref(), Some("tok-1"));
    }
    for p in &paths[..2] {
        let text = std::fs::read_to_string(p.join("cluster_token")).expect("token file");
        assert_eq!(text.trim(), "tok-1");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(p.join("cluster_token"))
                .expect("stat")
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "the token file is private");
        }
    }
    // A root added later gets the token; reopening keeps it.
    let e = StorageEngine::open(&paths).expect("reopen");
    assert_eq!(e.token().as_deref(), Some("tok-1"));
    drop(e);
    assert!(paths[2].join("cluster_token").exists());
    // Roots with different tokens refuse to open; a damaged file is reported.
    std::fs::write(paths[2].join("cluster_token"), "tok-9\n").expect("write");
    let err = match StorageEngine::open(&paths) {
        Ok(_) => panic!("roots with two tokens opened"),
        Err(e) => e,
    };
    assert_eq!(err.code, StatusCode::InvalidToken);
    std::fs::write(paths[2].join("cluster_token"), "\n").expect("write");
    let err = match StorageEngine::open(&paths) {
        Ok(_) => panic!("an empty token file opened"),
        Err(e) => e,
    };
    assert_eq!(err.code, StatusCode::MetaCorrupted);
}

#[test]
fn roots_that_disagree_on_the_cluster_refuse_to_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = roots(&dir, 3);
    StorageEngine::open(&paths[..1])
        .expect("open")
        .bind_cluster_id(1)
        .expect("bind");
    // A root added later gets the id.
    let e = StorageEngine::open(&paths[..2]).expect("open 2");
    assert_eq!(e.cluster_id(), Some(1));
    drop(e);
    assert!(paths[1].join("cluster_id").exists());
    StorageEngine::open(&paths[2..])
        .expect("open")
        .bind_cluster_id(2)
        .expect("bind");
    let err = match StorageEngine::open(&paths) {
        Ok(_) => panic!("roots of two clusters opened"),
        Err(e) => e,
    };
    assert_eq!(err.code, StatusCode::ClusterIdMismatch);
    assert!(
        err.message.contains("different clusters"),
        "{}",
        err.message
    );
    std::fs::write(paths[2].join("cluster_id"), "garbage").expect("write");
    let err = match StorageEngine::open(&paths[2..]) {
        Ok(_) => panic!("a garbage cluster id opened"),
        Err(e) => e,
    };
    assert_eq!(err.code, StatusCode::MetaCorrupted);
}

#[test]
fn missing_data_dir_is_reported_not_deleted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = roots(&dir, 1);
    let tablet_dir = {
        let e = StorageEngine::open(&paths).expect("open");
        e.create_tablet(req(30_001, 1)).expect("create");
        e.create_tablet(req(30_002, 2)).expect("create");
        e.tablets().expect("list")[0].dir.clone()
    };
    std::fs::remove_dir_all(&tablet_dir).expect("remove the data dir");
    let e = StorageEngine::open(&paths).expect("reopen");
    assert_eq!(e.tablet_count(), 2);
    assert_eq!(
        e.tablet_meta(30_001).expect("kept").state,
        TabletState::MissingData
    );
    let listed = e.tablets().expect("list");
    assert_eq!(listed[0].meta.state, TabletState::MissingData);
    assert_eq!(listed[1].meta.state, TabletState::Normal);
    // Creating the same replica again restores the directory.
    assert_eq!(
        e.create_tablet(req(30_001, 1)).expect("recreate"),
        CreateOutcome::AlreadyExists
    );
    assert!(tablet_dir.is_dir());
    assert_eq!(
        e.tablets().expect("list")[0].meta.state,
        TabletState::Normal
    );
}

#[test]
fn corrupt_record_is_skipped_and_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = roots(&dir, 1);
    {
        let e = StorageEngine::open(&paths).expect("open");
        e.create_tablet(req(40_001, 1)).expect("create");
        e.put_raw_record(0, 40_002, b"{not json").expect("plant");
        e.put_raw_record(0, 40_003, br#"{"tablet_id": 1}"#)
            .expect("plant");
    }
    let e = StorageEngine::open(&paths).expect("a damaged record does not stop the open");
    assert_eq!(e.tablet_count(), 1);
    let bad = e.corrupt_records();
    assert_eq!(bad.len(), 2);
    assert_eq!(bad[0].tablet_id, 40_002);
    assert!(bad[0].error.contains("JSON"), "{}", bad[0].error);
    assert_eq!(bad[0].root, paths[0]);
    // Creating over a damaged record is refused until it is dropped.
    let err = e.create_tablet(req(40_002, 2)).expect_err("damaged");
    assert_eq!(err.code, StatusCode::MetaCorrupted);
    assert!(e.drop_tablet(40_002, 0).expect("drop the damaged record"));
    e.create_tablet(req(40_002, 2)).expect("create after drop");
    drop(e);
    let e = StorageEngine::open(&paths).expect("reopen");
    assert_eq!(e.tablet_count(), 2);
    assert_eq!(e.corrupt_records().len(), 1);
}

#[test]
fn two_engines_cannot_share_a_root() {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = roots(&dir, 2);
    let first = StorageEngine::open(&paths[1..]).expect("open");
    let err = match StorageEngine::open(&paths) {
        Ok(_) => panic!("a locked root opened twice"),
        Err(e) => e,
    };
    assert!(
        err.message.contains("in use by another backend"),
        "{}",
        err.message
    );
    assert!(err.message.contains("r1"), "{}", err.message);
    // After close the root is free again.
    first.close();
    assert!(first.tablets().is_err());
    StorageEngine::open(&paths).expect("open after close");
}

#[test]
fn leftover_directory_without_meta_is_cleared_on_create() {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = roots(&dir, 1);
    let e = StorageEngine::open(&paths).expect("open");
    let d = crate::tablet_dir_in(&paths[0], 50_001);
    std::fs::create_dir_all(&d).expect("mkdir");
    std::fs::write(d.join("old.parquet"), b"x").expect("write");
    e.create_tablet(req(50_001, 1)).expect("create");
    assert!(d.is_dir());
    assert!(!d.join("old.parquet").exists());
}

mod rowsets {
    use std::sync::Arc;

    use arrow::array::Array;
    use arrow::array::Int32Array;
    use arrow::array::Int64Array;
    use arrow::array::RecordBatch;
    use arrow::datatypes::DataType as ArrowType;
    use arrow::datatypes::Field;
    use arrow::datatypes::Schema;
    use common::StatusCode;

    use super::req;
    use super::roots;
    use super::schema;
    use crate::StorageEngine;

    const T: i64 = 70_001;

    fn batch(values: &[i32]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("k", ArrowType::Int32, false)]));
        RecordBatch::try_new(schema, vec![Arc::new(Int32Array::from(values.to_vec()))])
            .expect("batch")
    }

    fn write(e: &StorageEngine, txn: i64, values: &[i32]) -> crate::RowsetMeta {
        let mut w = e.rowset_writer(txn, T, 101).expect("writer");
        if !values.is_empty() {
            w.write(&batch(values)).expect("write");
        }
        e.commit_rowset(w).expect("commit")
    }

    fn read(e: &StorageEngine, version: i64) -> Vec<i32> {
        let r = e.read_at(T, version).expect("read");
        let mut out = Vec::new();
        for b in r.batches() {
            let b = b.expect("batch");
            let col = b
                .column(0)
                .as_any()
                .downcast_ref::<Int32Array>()
                .expect("int32");
            out.extend(col.values().iter().copied());
        }
        out
    }

    fn files_in(e: &StorageEngine) -> Vec<String> {
        let dir = e.tablet_dir(T).expect("dir");
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("read dir")
            .flatten()
            .filter_map(|d| d.file_name().to_str().map(str::to_string))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn pending_is_invisible_until_published_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let e = StorageEngine::open(&roots(&dir, 1)).expect("open");
        e.create_tablet(req(T, 1)).expect("create");
        assert_eq!(e.tablet_meta(T).expect("meta").version, 1);
        assert!(read(&e, 1).is_empty());
        let r1 = write(&e, 11, &[1, 2, 3]);
        assert_eq!((r1.rows, r1.files.len()), (3, 1));
        assert!(r1.bytes > 0);
        let r2 = write(&e, 12, &[4]);
        // Pending: invisible, the version does not move.
        assert!(read(&e, 1).is_empty());
        assert_eq!(e.tablets().expect("list")[0].row_count, 0);
        let err = e.read_at(T, 2).expect_err("version 2 does not exist yet");
        assert!(err.message.contains("at version 1"), "{}", err.message);

        // Out of order: version 3 is taken above the hole at 2; the replica stays at 1 and
        // version 3 is not readable yet.
        assert_eq!(e.publish(12, T, 101, 3).expect("publish 3 first"), 1);
        let m = e.tablet_meta(T).expect("meta");
        assert_eq!(m.version, 1);
        assert_eq!(m.pending.len(), 1);
        assert_eq!(e.tablets().expect("list")[0].row_count, 0);
        let err = e.read_at(T, 3).expect_err("version 3 is above a hole");
        assert!(err.message.contains("at version 1"), "{}", err.message);
        // Filling the hole moves the version past both.
        assert_eq!(e.publish(11, T, 101, 2).expect("publish 2"), 3);
        assert_eq!(e.publish(12, T, 101, 3).expect("publish 3 again"), 3);
        assert_eq!(read(&e, 1), Vec::<i32>::new());
        assert_eq!(read(&e, 2), vec![1, 2, 3]);
        assert_eq!(read(&e, 3), vec![1, 2, 3, 4]);
        let view = e.read_at(T, 3).expect("read");
        let ranges: Vec<String> = view.rowsets.iter().map(|r| r.versions()).collect();
        assert_eq!(ranges, ["[0-1]", "[2-2]", "[3-3]"]);
        assert_eq!(view.rows(), 4);
        assert_eq!(view.files.len(), 2);
        assert_eq!(e.tablets().expect("list")[0].row_count, 4);
        assert_eq!(e.tablet_meta(T).expect("meta").version, 3);
        assert!(r2.rowset_id != r1.rowset_id);
    }

    #[test]
    fn publish_is_idempotent_and_refuses_missing_data() {
        let dir = tempfile::tempdir().expect("tempdir");
        let e = StorageEngine::open(&roots(&dir, 1)).expect("open");
        e.create_tablet(req(T, 1)).expect("create");
        write(&e, 21, &[7]);
        assert_eq!(e.publish(21, T, 101, 2).expect("publish"), 2);
        assert_eq!(e.publish(21, T, 101, 2).expect("again"), 2);
        let err = e.publish(21, T, 101, 5).expect_err("other version");
        assert!(err.message.contains("already published"), "{}", err.message);
        // No pending rowset for the transaction: this replica missed the load.
        let err = e.publish(22, T, 101, 3).expect_err("missed");
        assert!(err.message.contains("tablet 70001"), "{}", err.message);
        assert!(err.message.contains("no pending rowset"), "{}", err.message);
        assert!(err.message.contains("replica version 2"), "{}", err.message);
        assert!(err.message.contains("publish version 3"), "{}", err.message);
        // A published transaction cannot write again.
        let err = match e.rowset_writer(21, T, 101) {
            Ok(_) => panic!("a published txn wrote again"),
            Err(err) => err,
        };
        assert!(err.message.contains("already published"), "{}", err.message);
        let err = e.publish(21, 9_999, 101, 2).expect_err("no tablet");
        assert!(
            err.message.contains("tablet 9999 does not exist"),
            "{}",
            err.message
        );
        let err = match e.rowset_writer(23, T, 555) {
            Ok(_) => panic!("wrong partition accepted"),
            Err(err) => err,
        };
        assert!(err.message.contains("partition 101"), "{}", err.message);
    }

    /// The coordinator's encoder and a replica's writer: the file a replica stores from the
    /// encoded bytes reads back as the rows, however the bytes were cut.
    fn write_encoded(
        e: &StorageEngine,
        txn: i64,
        batches: &[&[i32]],
        cut: usize,
    ) -> common::Result<crate::RowsetMeta> {
        let mut enc = crate::RowsetEncoder::new(T, &schema());
        let mut bytes = Vec::new();
        for (i, b) in batches.iter().enumerate() {
            bytes.extend(enc.write(&batch(b))?);
            if i % 2 == 1 {
                bytes.extend(enc.flush_row_group()?);
            }
        }
        let (tail, rows, len) = enc.finish()?;
        bytes.extend(tail);
        assert_eq!(bytes.len() as u64, len);
        let mut w = e.rowset_writer(txn, T, 101)?;
        for chunk in bytes.chunks(cut.max(1)) {
            w.write_encoded(chunk)?;
        }
        w.end_encoded(rows, len)?;
        e.commit_rowset(w)
    }

    #[test]
    fn encoded_files_are_stored_as_sent_and_checked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let e = StorageEngine::open(&roots(&dir, 1)).expect("open");
        e.create_tablet(req(T, 1)).expect("create");
        let r = write_encoded(&e, 61, &[&[1, 2], &[3], &[4, 5, 6]], 7).expect("encoded");
        assert_eq!((r.rows, r.files.len()), (6, 1));
        assert!(r.bytes > 0);
        assert_eq!(e.publish(61, T, 101, 2).expect("publish"), 2);
        assert_eq!(read(&e, 2), vec![1, 2, 3, 4, 5, 6]);
        // No row: no file, like an empty load.
        let r = write_encoded(&e, 62, &[], 100).expect("empty");
        assert_eq!((r.rows, r.files.len(), r.bytes), (0, 0, 0));

        // The file, and what is wrong with it, comes from the coordinator over the network:
        // every mismatch is refused with a reason and leaves no file behind.
        let mut enc = crate::RowsetEncoder::new(T, &schema());
        let mut bytes = enc.write(&batch(&[9, 8, 7])).expect("encode");
        let (tail, rows, len) = enc.finish().expect("finish");
        bytes.extend(tail);
        let before = files_in(&e);
        let attempt = |data: &[u8], rows: i64, len: u64| -> String {
            let mut w = e.rowset_writer(63, T, 101).expect("writer");
            w.write_encoded(data).expect("bytes");
            let err = match w.end_encoded(rows, len) {
                Ok(()) => e.commit_rowset(w).expect_err("bad file committed"),
                Err(err) => err,
            };
            assert_eq!(err.code, StatusCode::InvalidArgument, "{}", err.message);
            assert!(err.message.contains("tablet 70001"), "{}", err.message);
            err.message
        };
        let m = attempt(&bytes, rows + 1, len);
        assert!(m.contains("3 rows, not the 4 announced"), "{m}");
        let m = attempt(&bytes[..bytes.len() - 1], rows, len);
        assert!(m.contains("came; nothing was kept"), "{m}");
        let m = attempt(&bytes[..bytes.len() - 1], rows, len - 1);
        assert!(m.contains("not a whole Parquet file"), "{m}");
        let mut garbled = bytes.clone();
        garbled[0] = b'X';
        let m = attempt(&garbled, rows, len);
        assert!(m.contains("not a whole Parquet file"), "{m}");
        // Another table's file (other columns) is refused.
        let mut other = schema();
        other.columns[0].name = "v".into();
        let mut enc = crate::RowsetEncoder::new(T, &other);
        let mut foreign = enc.write(&batch(&[1])).expect_err("names differ").message;
        assert!(
            foreign.contains("'k'") || foreign.contains("'v'"),
            "{foreign}"
        );
        let ob = {
            let s = Arc::new(Schema::new(vec![Field::new("v", ArrowType::Int32, false)]));
            RecordBatch::try_new(s, vec![Arc::new(Int32Array::from(vec![1]))]).expect("batch")
        };
        let mut data = enc.write(&ob).expect("encode");
        let (tail, rows, len) = enc.finish().expect("finish");
        data.extend(tail);
        foreign = attempt(&data, rows, len);
        assert!(foreign.contains("column 1 of the data is 'v'"), "{foreign}");
        assert_eq!(files_in(&e), before);

        // Bytes without their end never become a rowset; nor do rows mixed with bytes.
        let mut w = e.rowset_writer(64, T, 101).expect("writer");
        w.write_encoded(&bytes).expect("bytes");
        let err = e.commit_rowset(w).expect_err("no end");
        assert!(err.message.contains("not ended"), "{}", err.message);
        let mut w = e.rowset_writer(65, T, 101).expect("writer");
        w.write(&batch(&[1])).expect("rows");
        let err = w.write_encoded(&bytes).expect_err("mixed");
        assert!(err.message.contains("cannot follow"), "{}", err.message);
        let err = w.end_encoded(rows, len).expect_err("mixed end");
        assert!(err.message.contains("after rows"), "{}", err.message);
        drop(w);
        let mut w = e.rowset_writer(66, T, 101).expect("writer");
        let err = w.end_encoded(1, 10).expect_err("nothing came");
        assert!(err.message.contains("no byte came"), "{}", err.message);
        drop(w);
        assert_eq!(files_in(&e), before);
    }

    #[test]
    fn empty_rowset_takes_the_version() {
        let dir = tempfile::tempdir().expect("tempdir");
        let e = StorageEngine::open(&roots(&dir, 1)).expect("open");
        e.create_tablet(req(T, 1)).expect("create");
        let r = write(&e, 31, &[]);
        assert_eq!((r.rows, r.files.len(), r.bytes), (0, 0, 0));
        assert_eq!(e.publish(31, T, 101, 2).expect("publish"), 2);
        assert!(read(&e, 2).is_empty());
        assert!(files_in(&e).is_empty(), "{:?}", files_in(&e));
    }

    #[test]
    fn abort_drops_pending_rowsets_and_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let e = StorageEngine::open(&roots(&dir, 1)).expect("open");
        e.create_tablet(req(T, 1)).expect("create");
        e.create_tablet(req(T + 1, 2)).expect("create");
        write(&e, 41, &[1]);
        let mut w = e.rowset_writer(41, T + 1, 101).expect("writer");
        w.write(&batch(&[2])).expect("write");
        e.commit_rowset(w).expect("commit");
        write(&e, 42, &[3]);
        assert_eq!(files_in(&e).len(), 2);
        assert_eq!(e.abort_txn(41).expect("abort"), 2);
        assert_eq!(e.abort_txn(41).expect("again"), 0);
        assert_eq!(files_in(&e).len(), 1, "txn 42's file stays");
        let err = e.publish(41, T, 101, 2).expect_err("aborted");
        assert!(err.message.contains("no pending rowset"), "{}", err.message);
        assert_eq!(e.publish(42, T, 101, 2).expect("other txn"), 2);
        assert_eq!(read(&e, 2), vec![3]);
    }

    #[test]
    fn a_retried_write_replaces_the_pending_rowset() {
        let dir = tempfile::tempdir().expect("tempdir");
        let e = StorageEngine::open(&roots(&dir, 1)).expect("open");
        e.create_tablet(req(T, 1)).expect("create");
        write(&e, 51, &[1, 1]);
        write(&e, 51, &[2]);
        assert_eq!(files_in(&e).len(), 1);
        assert_eq!(e.tablet_meta(T).expect("meta").pending.len(), 1);
        e.publish(51, T, 101, 2).expect("publish");
        assert_eq!(read(&e, 2), vec![2]);
    }

    #[test]
    fn batches_must_match_the_schema() {
        let dir = tempfile::tempdir().expect("tempdir");
        let e = StorageEngine::open(&roots(&dir, 1)).expect("open");
        e.create_tablet(req(T, 1)).expect("create");
        let mut w = e.rowset_writer(61, T, 101).expect("writer");
        let wrong = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new("k", ArrowType::Int64, false)])),
            vec![Arc::new(Int64Array::from(vec![1i64]))],
        )
        .expect("batch");
        let err = w.write(&wrong).expect_err("int64 into int");
        assert!(err.message.contains("column 'k'"), "{}", err.message);
        let nulls = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new("k", ArrowType::Int32, true)])),
            vec![Arc::new(Int32Array::from(vec![Some(1), None]))],
        )
        .expect("batch");
        let err = w.write(&nulls).expect_err("NULL into NOT NULL");
        assert!(err.message.contains("NOT NULL"), "{}", err.message);
        w.write(&batch(&[5])).expect("good batch");
        assert_eq!(w.rows(), 1);
        // Dropped without commit: the temporary file goes.
        drop(w);
        assert!(files_in(&e).is_empty(), "{:?}", files_in(&e));
    }

    #[test]
    fn restart_keeps_versions_and_pending_and_sweeps_orphans() {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = roots(&dir, 2);
        {
            let e = StorageEngine::open(&paths).expect("open");
            e.create_tablet(req(T, 1)).expect("create");
            write(&e, 81, &[1, 2]);
            e.publish(81, T, 101, 2).expect("publish");
            write(&e, 82, &[3]);
            // A crash after the file was finished but before its metadata commit.
            let mut w = e.rowset_writer(83, T, 101).expect("writer");
            w.write(&batch(&[9])).expect("write");
            let orphan = w.finish().expect("file finished");
            assert_eq!(orphan.files.len(), 1);
            // And a crash in the middle of writing a file.
            let d = e.tablet_dir(T).expect("dir");
            std::fs::write(d.join("x_0.parquet.tmp"), b"half").expect("plant");
            std::fs::write(d.join("notes.txt"), b"not ours").expect("plant");
            assert_eq!(files_in(&e).len(), 5);
            // The orphan is invisible before the restart too.
            assert_eq!(read(&e, 2), vec![1, 2]);
        }
        let e = StorageEngine::open(&paths).expect("reopen");
        let m = e.tablet_meta(T).expect("meta");
        assert_eq!(m.version, 2);
        assert_eq!(m.pending.len(), 1);
        assert_eq!(m.pending[0].txn_id, 82);
        assert_eq!(read(&e, 2), vec![1, 2]);
        let files = files_in(&e);
        assert_eq!(files.len(), 3, "the orphans are gone: {files:?}");
        assert!(files.contains(&"notes.txt".to_string()));
        assert!(e.publish(83, T, 101, 3).is_err(), "the orphan is no rowset");
        assert_eq!(e.publish(82, T, 101, 3).expect("pending survived"), 3);
        assert_eq!(read(&e, 3), vec![1, 2, 3]);
        assert_eq!(e.tablets().expect("list")[0].row_count, 3);
    }

    #[test]
    fn version_path_picks_the_longest_steps() {
        let r = |s: i64, e: i64| crate::RowsetMeta {
            rowset_id: format!("{s}-{e}"),
            txn_id: s,
            partition_id: 1,
            start_version: s,
            end_version: e,
            files: Vec::new(),
            rows: 1,
            bytes: 0,
            create_time_ms: 0,
            sorted: false,
            checksums: Vec::new(),
        };
        let rowsets = vec![r(0, 1), r(2, 2), r(3, 3), r(2, 3), r(4, 4)];
        let ids = |v| -> Vec<String> {
            crate::version_path(1, &rowsets, v)
                .expect("path")
                .into_iter()
                .map(|r| r.rowset_id)
                .collect()
        };
        assert_eq!(ids(1), ["0-1"]);
        assert_eq!(ids(2), ["0-1", "2-2"]);
        assert_eq!(ids(3), ["0-1", "2-3"]);
        assert_eq!(ids(4), ["0-1", "2-3", "4-4"]);
        let err = crate::version_path(1, &rowsets, 6).expect_err("hole");
        assert!(err.message.contains("version 5"), "{}", err.message);
        let holes = vec![r(0, 1), r(3, 3)];
        let err = crate::version_path(1, &holes, 3).expect_err("hole");
        assert!(
            err.message.contains("starting at version 2"),
            "{}",
            err.message
        );
    }
}

/// Inputs the fuzz targets (fuzz/, docs/fuzzing.md) crashed on, checked without the fuzzer.
mod fuzz_regressions {
    use common::schema::ColumnSchema;
    use common::schema::DataType;
    use common::schema::KeysType;
    use common::schema::TableSchema;

    #[test]
    fn a_rowset_that_ends_before_it_starts_is_no_path() {
        // rowset_meta: a tablet record with rowsets [0-1], [2-2] and a corrupt [3-1] made
        // version_path (every read of the tablet) loop forever, growing its path until the
        // process ran out of memory.
        let input =
            include_bytes!("../../../fuzz/regressions/rowset_meta/rowset-ends-before-start");
        let meta = crate::TabletMeta::decode_record(10001, &input[1..]).expect("decodes");
        assert_eq!(meta.version, 3);
        let err = crate::version_path(meta.tablet_id, &meta.rowsets, meta.version)
            .expect_err("no path to version 3");
        assert!(
            err.message.contains("no rowset starting at version 3"),
            "{}",
            err.message
        );
        let path = crate::version_path(meta.tablet_id, &meta.rowsets, 2).expect("path to 2");
        assert_eq!(path.len(), 2);
        // A rowset that reaches the last version ends the path without an overflow.
        let mut top = meta.rowsets[0].clone();
        top.end_version = i64::MAX;
        let path = crate::version_path(meta.tablet_id, &[top], i64::MAX).expect("path");
        assert_eq!(path.len(), 1);
        // Row counts that add past i64::MAX saturate instead of overflowing.
        let mut meta = meta;
        meta.rowsets.iter_mut().for_each(|r| r.rows = i64::MAX);
        assert_eq!(meta.visible_rows(), i64::MAX);
    }

    #[test]
    fn a_rowset_file_with_a_malformed_arrow_schema_is_refused() {
        // rowset_meta: a Parquet footer whose embedded ARROW:schema declares an integer of
        // width 0 made arrow-ipc panic in check_parquet_file, on a file from a clone source or
        // a load coordinator. The input's first byte is the target's mode byte.
        let input = include_bytes!("../../../fuzz/regressions/rowset_meta/arrow-schema-int-width");
        // The file's columns are the tablet's (`k INT, v VARCHAR(20)`, as in the target); only
        // the embedded schema is wrong.
        let column = |name: &str, data_type| ColumnSchema {
            name: name.into(),
            data_type,
            nullable: true,
            is_key: true,
            default: None,
            comment: String::new(),
        };
        let schema = TableSchema {
            columns: vec![
                column("k", DataType::Int),
                column("v", DataType::Varchar(20)),
            ],
            keys_type: KeysType::Duplicate,
            distribution_columns: vec!["k".into()],
            buckets: 3,
            schema_version: 0,
        };
        let err = crate::check_parquet_bytes(&input[1..], &crate::arrow_schema(&schema))
            .expect_err("refused");
        assert!(err.contains("embedded Arrow schema"), "{err}");
    }
}
