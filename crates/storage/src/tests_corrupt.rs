//! Corruption: bytes flipped in rowset files and in the tablet metadata store are detected by
//! their checksums, never served, and reported (deterministic, seeded flips).

use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::Array;
use arrow::array::Int32Array;
use arrow::array::RecordBatch;
use arrow::datatypes::DataType as ArrowType;
use arrow::datatypes::Field;
use arrow::datatypes::Schema;
use common::StatusCode;
use common::schema::ColumnSchema;
use common::schema::DataType;
use common::schema::KeysType;
use common::schema::TableSchema;

use crate::CreateTablet;
use crate::StorageEngine;
use crate::TabletMeta;
use crate::TabletState;

const T: i64 = 90_001;

/// A column name that is easy to find in the metadata store's bytes.
const MARKER: &str = "corruption_marker_column";

fn schema() -> TableSchema {
    TableSchema {
        columns: vec![ColumnSchema {
            name: MARKER.into(),
            data_type: DataType::Int,
            nullable: false,
            is_key: true,
            default: None,
            comment: String::new(),
        }],
        keys_type: KeysType::Duplicate,
        distribution_columns: vec![MARKER.into()],
        buckets: 1,
        schema_version: 0,
    }
}

fn req(tablet_id: i64) -> CreateTablet {
    CreateTablet {
        tablet_id,
        replica_id: 1,
        table_id: 100,
        partition_id: 101,
        schema: schema(),
        version: 1,
    }
}

fn load(e: &StorageEngine, tablet_id: i64, txn: i64, version: i64, values: &[i32]) {
    let schema = Arc::new(Schema::new(vec![Field::new(
        MARKER,
        ArrowType::Int32,
        false,
    )]));
    let batch = RecordBatch::try_new(schema, vec![Arc::new(Int32Array::from(values.to_vec()))])
        .expect("batch");
    let mut w = e.rowset_writer(txn, tablet_id, 101).expect("writer");
    w.write(&batch).expect("write");
    e.commit_rowset(w).expect("commit");
    e.publish(txn, tablet_id, 101, version).expect("publish");
}

fn read_all(e: &StorageEngine, tablet_id: i64, version: i64) -> common::Result<Vec<i32>> {
    let r = e.read_at(tablet_id, version)?;
    let mut out = Vec::new();
    for b in r.batches() {
        let b = b?;
        let col = b
            .column(0)
            .as_any()
            .downcast_ref::<Int32Array>()
            .expect("int32");
        out.extend(col.values().iter().copied());
    }
    Ok(out)
}

/// A small deterministic generator (xorshift64*), so every run flips the same bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn flip(path: &Path, at: usize, mask: u8) {
    let mut bytes = std::fs::read(path).expect("read");
    bytes[at] ^= mask;
    std::fs::write(path, &bytes).expect("write");
}

fn rowset_files(e: &StorageEngine, tablet_id: i64) -> Vec<PathBuf> {
    let dir = e.tablet_dir(tablet_id).expect("dir");
    let meta = e.tablet_meta(tablet_id).expect("meta");
    meta.rowsets
        .iter()
        .flat_map(|r| r.files.iter().map(|f| dir.join(f)))
        .collect()
}

#[test]
fn rowsets_record_the_length_and_crc32_of_their_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let e = StorageEngine::open(&[dir.path().join("r")]).expect("open");
    e.create_tablet(req(T)).expect("create");
    load(&e, T, 11, 2, &[1, 2, 3]);
    let meta = e.tablet_meta(T).expect("meta");
    let r = meta
        .rowsets
        .iter()
        .find(|r| r.txn_id == 11)
        .expect("rowset");
    assert_eq!(r.checksums.len(), 1);
    let path = e.tablet_dir(T).expect("dir").join(&r.files[0]);
    let bytes = std::fs::read(&path).expect("read");
    assert_eq!(r.checksums[0].len, bytes.len() as u64);
    assert_eq!(r.checksums[0].crc32, crc32fast::hash(&bytes));
}

#[test]
fn a_flipped_byte_in_a_rowset_file_is_never_served_and_marks_the_replica() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("r");
    let values: Vec<i32> = (0..5000).collect();
    {
        let e = StorageEngine::open(std::slice::from_ref(&root)).expect("open");
        e.create_tablet(req(T)).expect("create");
        e.create_tablet(req(T + 1)).expect("create");
        load(&e, T, 11, 2, &values);
        load(&e, T + 1, 12, 2, &values);
    }
    // In the middle of the file: the column data, not the footer Parquet itself would check.
    let mut rng = Rng(0x5eed_0001);
    let e = StorageEngine::open(std::slice::from_ref(&root)).expect("reopen");
    let file = rowset_files(&e, T).pop().expect("a file");
    let len = std::fs::metadata(&file).expect("stat").len() as usize;
    let at = len / 4 + rng.below(len / 2);
    flip(&file, at, 0x01);

    let err = read_all(&e, T, 2).expect_err("a damaged file is not read");
    assert_eq!(err.code, StatusCode::DataCorrupted, "{}", err.message);
    assert!(
        err.message.contains(&file.display().to_string()) && err.message.contains("CRC32"),
        "{}",
        err.message
    );
    // The replica is marked: every later read and a clone refuse it, the report says so.
    let state = |id| {
        e.tablets()
            .expect("list")
            .into_iter()
            .find(|t| t.meta.tablet_id == id)
            .expect("listed")
            .meta
            .state
    };
    assert_eq!(state(T), TabletState::Corrupted);
    assert_eq!(TabletState::Corrupted.as_str(), "CORRUPTED");
    assert_eq!(
        read_all(&e, T, 1).expect_err("any version").code,
        StatusCode::DataCorrupted
    );
    let err = e.clone_snapshot(T, 2, None).expect_err("no clone source");
    assert_eq!(err.code, StatusCode::DataCorrupted, "{}", err.message);
    // The other tablet is intact and served.
    assert_eq!(read_all(&e, T + 1, 2).expect("intact"), values);
    assert_eq!(state(T + 1), TabletState::Normal);
    // Dropping the damaged replica clears it (the repair then clones it again).
    assert!(e.drop_tablet(T, 1).expect("drop"));
}

#[test]
fn the_background_check_finds_a_damaged_file_before_any_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("r");
    {
        let e = StorageEngine::open(std::slice::from_ref(&root)).expect("open");
        for i in 0..3 {
            e.create_tablet(req(T + i)).expect("create");
            load(&e, T + i, 20 + i, 2, &[1, 2, 3]);
        }
    }
    let e = StorageEngine::open(std::slice::from_ref(&root)).expect("reopen");
    assert!(e.verify_all().is_empty(), "all intact");
    drop(e);
    let e = StorageEngine::open(std::slice::from_ref(&root)).expect("reopen");
    let file = rowset_files(&e, T + 1).pop().expect("a file");
    // A torn file: its tail is gone.
    let len = std::fs::metadata(&file).expect("stat").len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .and_then(|f| f.set_len(len - 7))
        .expect("truncate");
    assert_eq!(e.verify_all(), vec![T + 1]);
    let err = read_all(&e, T + 1, 2).expect_err("refused");
    assert_eq!(err.code, StatusCode::DataCorrupted, "{}", err.message);
    assert_eq!(read_all(&e, T, 2).expect("intact"), vec![1, 2, 3]);
    drop(e);
    // A read finds it too, and says why.
    let e = StorageEngine::open(std::slice::from_ref(&root)).expect("reopen");
    let err = read_all(&e, T + 1, 2).expect_err("refused");
    assert!(err.message.contains("torn or truncated"), "{}", err.message);
}

#[test]
fn a_rowset_without_recorded_checksums_is_still_read() {
    // Records written before checksums existed have none: their files are read unchecked.
    let dir = tempfile::tempdir().expect("tempdir");
    let e = StorageEngine::open(&[dir.path().join("r")]).expect("open");
    e.create_tablet(req(T)).expect("create");
    load(&e, T, 11, 2, &[7, 8]);
    let mut meta = e.tablet_meta(T).expect("meta");
    for r in &mut meta.rowsets {
        r.checksums.clear();
    }
    let legacy = serde_json::to_vec(&meta).expect("json");
    assert!(!String::from_utf8_lossy(&legacy).contains("checksums"));
    e.put_raw_record(0, T, &legacy).expect("plant");
    drop(e);
    let e = StorageEngine::open(&[dir.path().join("r")]).expect("reopen");
    assert!(e.corrupt_records().is_empty());
    assert_eq!(read_all(&e, T, 2).expect("read"), vec![7, 8]);
}

#[test]
fn a_flipped_byte_in_a_metadata_record_is_caught_by_its_checksum() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("r");
    {
        let e = StorageEngine::open(std::slice::from_ref(&root)).expect("open");
        e.create_tablet(req(T)).expect("create");
        e.create_tablet(req(T + 1)).expect("create");
        load(&e, T, 11, 2, &[1, 2, 3]);
    }
    let store = root.join("meta/tablet_meta.redb");
    let bytes = std::fs::read(&store).expect("read");
    // The newest copy of tablet T's record holds the rowset of txn 11; flip a letter of the
    // column name in it: the JSON still decodes (to a different schema), only the checksum
    // can tell.
    let needle = format!("{MARKER}\"");
    let hits: Vec<usize> = bytes
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle.as_bytes())
        .map(|(i, _)| i)
        .collect();
    assert!(!hits.is_empty());
    let mut damaged = 0;
    for at in hits {
        let mut copy = bytes.clone();
        copy[at + 3] ^= 0x01; // "corruption" -> "cosruption"
        std::fs::write(&store, &copy).expect("write");
        let e = StorageEngine::open(std::slice::from_ref(&root)).expect("the store opens");
        let bad = e.corrupt_records();
        if !bad.is_empty() {
            damaged += 1;
            assert!(
                bad.iter().all(|c| c.error.contains("checksum mismatch")),
                "{bad:?}"
            );
            for c in &bad {
                assert!(e.tablet_meta(c.tablet_id).is_none(), "skipped, not served");
            }
        }
        // Whatever is served is exactly what was written.
        for t in e.tablets().expect("list") {
            assert_eq!(t.meta.schema.columns[0].name, MARKER);
        }
    }
    assert!(damaged > 0, "a live record was hit");
    std::fs::write(&store, &bytes).expect("restore");
    let e = StorageEngine::open(std::slice::from_ref(&root)).expect("restored");
    assert!(e.corrupt_records().is_empty());
    assert_eq!(read_all(&e, T, 2).expect("read"), vec![1, 2, 3]);
}

#[test]
fn decode_accepts_old_records_and_refuses_torn_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let e = StorageEngine::open(&[dir.path().join("r")]).expect("open");
    e.create_tablet(req(T)).expect("create");
    let meta = e.tablet_meta(T).expect("meta");
    let sealed = meta.encode_record().expect("encode");
    assert_eq!(TabletMeta::decode_record(T, &sealed).expect("sealed"), meta);
    let bare = serde_json::to_vec(&meta).expect("json");
    assert_eq!(TabletMeta::decode_record(T, &bare).expect("bare"), meta);
    let err = TabletMeta::decode_record(T, &sealed[..sealed.len() - 5]).expect_err("torn");
    assert!(err.contains("checksum mismatch"), "{err}");
    let err = TabletMeta::decode_record(T, &sealed[..6]).expect_err("cut");
    assert!(err.contains("cut short"), "{err}");
}

#[test]
fn seeded_flips_anywhere_in_the_metadata_store_never_serve_wrong_records_or_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("r");
    let mut want = Vec::new();
    {
        let e = StorageEngine::open(std::slice::from_ref(&root)).expect("open");
        for i in 0..8 {
            e.create_tablet(req(T + i)).expect("create");
            load(&e, T + i, 30 + i, 2, &[i as i32]);
        }
        for i in 0..8 {
            want.push(e.tablet_meta(T + i).expect("meta"));
        }
    }
    let store = root.join("meta/tablet_meta.redb");
    let bytes = std::fs::read(&store).expect("read");
    // Near the records (the rest of the file is mostly free pages): around the pages that
    // hold them, their keys and the b-tree pages pointing at them.
    let hits: Vec<usize> = bytes
        .windows(MARKER.len())
        .enumerate()
        .filter(|(_, w)| *w == MARKER.as_bytes())
        .map(|(i, _)| i)
        .collect();
    let (lo, hi) = (
        hits.iter().min().expect("records") & !4095,
        (hits.iter().max().expect("records") | 4095).min(bytes.len() - 1),
    );
    let mut rng = Rng(0x5eed_0002);
    let (mut refused, mut skipped) = (0, 0);
    for _ in 0..60 {
        let mut copy = bytes.clone();
        let at = lo + rng.below(hi - lo);
        copy[at] ^= 1 << rng.below(8);
        std::fs::write(&store, &copy).expect("write");
        let opened = std::panic::catch_unwind(|| StorageEngine::open(std::slice::from_ref(&root)));
        let opened = opened.unwrap_or_else(|_| panic!("opening panicked (flip at {at})"));
        match opened {
            Err(_) => refused += 1,
            Ok(e) => {
                skipped += e.corrupt_records().len();
                for t in e.tablets().expect("list") {
                    let w = want
                        .iter()
                        .find(|m| m.tablet_id == t.meta.tablet_id)
                        .unwrap_or_else(|| panic!("flip at {at}: an unknown tablet served"));
                    assert_eq!(t.meta.rowsets, w.rowsets, "flip at {at}");
                    assert_eq!(t.meta.schema, w.schema, "flip at {at}");
                }
            }
        }
    }
    eprintln!("refused {refused} opens, skipped {skipped} records");
    assert!(refused + skipped > 0, "the flips hit the records");
}
