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
