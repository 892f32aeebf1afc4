//! BE storage metadata (crates/storage): a tablet's metadata record as a root's store holds it
//! (`TabletMeta::decode_record`, with its rowset list), and the footer of a rowset's Parquet
//! file as a load or a clone source hands it over (`check_parquet_bytes`). Whatever the bytes:
//! no panic; a record that decodes encodes back to itself and answers the questions the engine
//! asks of it (versions, rows, the read path, files).
//!
//! Input: byte 0 picks the form of the rest.
//! - even: the JSON record stored under tablet id 10001.
//! - odd: a rowset file, checked against the schema of the tablet it is for.
#![no_main]

use std::sync::LazyLock;

use common::schema::{ColumnSchema, DataType, KeysType, TableSchema};
use libfuzzer_sys::fuzz_target;
use storage::TabletMeta;
use storage::arrow::datatypes::SchemaRef;

/// The playground's table (`k INT, v VARCHAR(20)`), whose files are the seeds: a file is
/// only read past its footer when its schema is the tablet's.
static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let column = |name: &str, data_type| ColumnSchema {
        name: name.into(),
        data_type,
        nullable: true,
        is_key: true,
        default: None,
        comment: String::new(),
    };
    storage::arrow_schema(&TableSchema {
        columns: vec![
            column("k", DataType::Int),
            column("v", DataType::Varchar(20)),
        ],
        keys_type: KeysType::Duplicate,
        distribution_columns: vec!["k".into()],
        buckets: 3,
        schema_version: 0,
    })
});

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 1 {
        let _ = storage::check_parquet_bytes(rest, &SCHEMA);
        return;
    }
    let Ok(meta) = TabletMeta::decode_record(10001, rest) else {
        return;
    };
    let again = serde_json::to_vec(&meta).unwrap_or_default();
    match TabletMeta::decode_record(10001, &again) {
        Ok(back) => assert_eq!(back, meta, "the record changes through encode/decode"),
        Err(e) => panic!("a record does not decode from its own encoding: {e}"),
    }
    let _ = meta.visible_rows();
    let contiguous = meta.contiguous_version();
    let _ = meta.version_count();
    let _ = meta.files().count();
    let _ = storage::version_path(meta.tablet_id, &meta.rowsets, meta.version);
    let _ = storage::version_path(meta.tablet_id, &meta.rowsets, contiguous);
    // What an incremental clone asks for: the holes below the version the FE names. The list
    // is as long as the gap; the FE names a version near the replica's, so a gap of 1024 at
    // most is asked here (a record's own version may be anything).
    let _ = meta.uncovered_versions(meta.version.min(contiguous.saturating_add(1024)));
});
