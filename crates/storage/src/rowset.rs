//! Rowsets: the Parquet files one load (or the tablet's creation) added to a tablet replica,
//! and the versions they cover.
//!
//! A load writes a *pending* rowset under its transaction id ([`RowsetWriter`]): its file is
//! written under a temporary name, fsynced, renamed and the directory fsynced, and only then
//! is the rowset recorded in the tablet's metadata. Publishing the transaction at version `v`
//! turns it into the visible rowset `[v, v]`. A new tablet starts with an empty base rowset
//! `[0, <create version>]`, so reading version `v` means reading the rowsets on the path
//! `[0, a] [a+1, b] ... [c, v]` ([`version_path`]).

use std::fs;
use std::fs::File;
use std::io::BufWriter;
use std::io::Write;
use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;

use arrow::array::Array;
use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use common::Error;
use common::Result;
use common::schema::TableSchema;
use parquet::arrow::ARROW_SCHEMA_META_KEY;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReader;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::encode_arrow_schema;
use parquet::arrow::parquet_to_arrow_schema;
use parquet::basic::Compression;
use parquet::file::metadata::ParquetMetaDataReader;
use parquet::file::properties::WriterProperties;
use parquet::file::reader::ChunkReader;
use serde::Deserialize;
use serde::Serialize;

use crate::disk::parquet_write_error;
use crate::disk::write_error;
use crate::root::root_of_tablet_dir;
use crate::types::arrow_schema;
use crate::types::check_arrow_schema;

/// Extension of finished rowset files.
pub(crate) const DATA_EXT: &str = "parquet";
/// Extension of a rowset file being written.
pub(crate) const TMP_EXT: &str = "tmp";

/// A row group is flushed to the file when its encoded size reaches this many bytes, which
/// bounds a writer's memory: a backend writing a load into many tablets at once holds at
/// most one open row group per tablet, so this, times the tablets, is the load's memory
/// there, whatever the size of the input.
const MAX_ROW_GROUP_BYTES: usize = 16 * 1024 * 1024;
/// Rows per row group at most (also the unit in which scans skip data by statistics).
const MAX_ROW_GROUP_ROWS: usize = 256 * 1024;
/// Rows per batch when reading.
const READ_BATCH_ROWS: usize = 8192;

/// One rowset of a tablet replica.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowsetMeta {
    /// Unique within the tablet.
    pub rowset_id: String,
    /// The load that wrote it (0 for the base rowset made at creation).
    pub txn_id: i64,
    /// The partition the load wrote (as the coordinator said).
    pub partition_id: i64,
    /// First version covered (0 while pending).
    pub start_version: i64,
    /// Last version covered (0 while pending).
    pub end_version: i64,
    /// Its files, relative to the tablet's directory (none for an empty rowset).
    pub files: Vec<String>,
    /// Rows.
    pub rows: i64,
    /// Bytes of its files.
    pub bytes: i64,
    /// When it was written, epoch ms.
    pub create_time_ms: i64,
    /// Its rows are ordered by the tablet's key columns (a compaction sorted them); a load's
    /// rowset keeps the order the rows arrived in.
    #[serde(default)]
    pub sorted: bool,
    /// Length and CRC32 of each of `files` (same order), recorded when the file was written
    /// and checked before any of its bytes are served ([`verify_file`]). Empty for rowsets
    /// written before checksums were recorded: their files are read unchecked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checksums: Vec<FileChecksum>,
}

/// What a rowset file's bytes must be: its length and the CRC32 of all of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileChecksum {
    /// Bytes.
    pub len: u64,
    /// CRC32 (IEEE) of the whole file.
    pub crc32: u32,
}

/// Length and CRC32 of a file, read from disk.
pub fn file_checksum(path: &Path) -> std::io::Result<FileChecksum> {
    use std::io::Read;
    let mut f = File::open(path)?;
    let mut crc = crc32fast::Hasher::new();
    let mut len = 0u64;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        crc.update(&buf[..n]);
        len += n as u64;
    }
    Ok(FileChecksum {
        len,
        crc32: crc.finalize(),
    })
}

/// Checks a rowset file against the checksum recorded for it; the error says what differs
/// (for the caller to prefix with the tablet and file).
pub fn verify_file(path: &Path, want: &FileChecksum) -> std::result::Result<(), String> {
    let got = file_checksum(path).map_err(|e| format!("cannot read it: {e}"))?;
    if got.len != want.len {
        return Err(format!(
            "it holds {} bytes but {} were written (a torn or truncated file)",
            got.len, want.len
        ));
    }
    if got.crc32 != want.crc32 {
        return Err(format!(
            "its CRC32 is {:08x} but {:08x} was recorded when it was written (the bytes on \
             disk changed)",
            got.crc32, want.crc32
        ));
    }
    Ok(())
}

impl RowsetMeta {
    /// The empty base rowset `[0, version]` a tablet is created with.
    pub(crate) fn base(version: i64) -> RowsetMeta {
        RowsetMeta {
            rowset_id: "base".into(),
            txn_id: 0,
            partition_id: 0,
            start_version: 0,
            end_version: version.max(0),
            files: Vec::new(),
            rows: 0,
            bytes: 0,
            create_time_ms: common::clock::now_ms(),
            sorted: false,
            checksums: Vec::new(),
        }
    }

    /// Each file with the checksum recorded for it (`None` for files of a rowset written
    /// before checksums were recorded).
    pub fn files_with_checksums(&self) -> impl Iterator<Item = (&str, Option<FileChecksum>)> {
        self.files.iter().enumerate().map(|(i, f)| {
            let sum = if self.checksums.len() == self.files.len() {
                self.checksums.get(i).copied()
            } else {
                None
            };
            (f.as_str(), sum)
        })
    }

    /// Whether it covers one version (a load's rowset, a "singleton delta").
    pub fn is_singleton(&self) -> bool {
        self.start_version == self.end_version
    }

    /// `[start-end]` as logs and errors show it.
    pub fn versions(&self) -> String {
        format!("[{}-{}]", self.start_version, self.end_version)
    }
}

/// The rowsets that exactly cover `[0, version]`: from version 0, each step takes the rowset
/// that starts right after the previous one and reaches furthest without passing `version`.
/// An error names the first version missing from the replica.
pub fn version_path(
    tablet_id: i64,
    rowsets: &[RowsetMeta],
    version: i64,
) -> Result<Vec<RowsetMeta>> {
    let mut path = Vec::new();
    let mut next = 0i64;
    while next <= version {
        // A rowset must end at or after its start: a corrupt record's `[3-1]` would lead the
        // path back to version 2 forever (found by the rowset_meta fuzz target).
        let step = rowsets
            .iter()
            .filter(|r| r.start_version == next && (next..=version).contains(&r.end_version))
            .max_by_key(|r| r.end_version);
        match step {
            Some(r) => {
                path.push(r.clone());
                match r.end_version.checked_add(1) {
                    Some(n) => next = n,
                    None => break,
                }
            }
            None => {
                let max = rowsets.iter().map(|r| r.end_version).max().unwrap_or(-1);
                return Err(Error::invalid(format!(
                    "tablet {tablet_id} cannot be read at version {version}: the replica has no \
                     rowset starting at version {next} (its versions reach {max})"
                )));
            }
        }
    }
    Ok(path)
}

static ROWSET_SEQ: AtomicU64 = AtomicU64::new(0);

/// A new rowset id: `prefix` (the transaction, or `c` for a compaction's output), the time and
/// a process-wide sequence number.
pub(crate) fn new_rowset_id(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let seq = ROWSET_SEQ.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}_{nanos:x}_{seq}")
}

/// Writes one pending rowset's file. Memory stays bounded: row groups are flushed as they
/// fill. Dropping the writer without committing it removes the temporary file.
///
/// It takes either batches, which it encodes itself ([`RowsetWriter::write`]), or the bytes
/// of a file a [`RowsetEncoder`] encoded elsewhere ([`RowsetWriter::write_encoded`], then
/// [`RowsetWriter::end_encoded`]), never both.
pub struct RowsetWriter {
    pub(crate) tablet_id: i64,
    pub(crate) txn_id: i64,
    pub(crate) partition_id: i64,
    pub(crate) rowset_id: String,
    dir: PathBuf,
    schema: SchemaRef,
    writer: Option<ArrowWriter<File>>,
    /// The file being received already encoded, and its length so far.
    encoded: Option<(BufWriter<File>, u64)>,
    /// Set once an encoded file was checked complete (with the file, unless it was empty).
    encoded_done: bool,
    encoded_file: Option<File>,
    tmp_path: Option<PathBuf>,
    rows: i64,
}

/// The properties every rowset file is written with: LZ4 pages, row groups bounded by rows
/// and by encoded bytes.
fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::LZ4_RAW)
        .set_max_row_group_row_count(Some(MAX_ROW_GROUP_ROWS))
        .set_max_row_group_bytes(Some(MAX_ROW_GROUP_BYTES))
        .build()
}

/// Checks a batch against a tablet's columns (names, types, NOT NULL) and relabels it with
/// the tablet's schema as stored. `None` for an empty batch.
fn prepare_batch(
    schema: &SchemaRef,
    tablet_id: i64,
    batch: &RecordBatch,
) -> Result<Option<RecordBatch>> {
    check_arrow_schema(schema, &batch.schema())?;
    for (field, col) in schema.fields().iter().zip(batch.columns()) {
        if !field.is_nullable() && col.null_count() > 0 {
            return Err(Error::invalid(format!(
                "column '{}' is NOT NULL but the data has {} NULL values",
                field.name(),
                col.null_count()
            )));
        }
    }
    if batch.num_rows() == 0 {
        return Ok(None);
    }
    RecordBatch::try_new(schema.clone(), batch.columns().to_vec())
        .map(Some)
        .map_err(|e| Error::invalid(format!("tablet {tablet_id}: bad batch: {e}")))
}

impl RowsetWriter {
    pub(crate) fn new(
        tablet_id: i64,
        txn_id: i64,
        partition_id: i64,
        dir: PathBuf,
        schema: &TableSchema,
    ) -> RowsetWriter {
        RowsetWriter {
            tablet_id,
            txn_id,
            partition_id,
            rowset_id: new_rowset_id(&txn_id.to_string()),
            dir,
            schema: arrow_schema(schema),
            writer: None,
            encoded: None,
            encoded_done: false,
            encoded_file: None,
            tmp_path: None,
            rows: 0,
        }
    }

    /// A writer for the output of a compaction (no transaction).
    pub(crate) fn for_compaction(
        tablet_id: i64,
        partition_id: i64,
        dir: PathBuf,
        schema: &TableSchema,
    ) -> RowsetWriter {
        let mut w = RowsetWriter::new(tablet_id, 0, partition_id, dir, schema);
        w.rowset_id = new_rowset_id("c");
        w
    }

    /// The Arrow schema batches must have (the tablet's columns).
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The tablet.
    pub fn tablet_id(&self) -> i64 {
        self.tablet_id
    }

    /// Rows written so far.
    pub fn rows(&self) -> i64 {
        self.rows
    }

    fn file_name(&self) -> String {
        format!("{}_0.{DATA_EXT}", self.rowset_id)
    }

    /// The error of a failed write of this rowset's file (DiskFull when the disk is full).
    fn io_error(&self, what: impl std::fmt::Display, e: std::io::Error) -> Error {
        write_error(
            root_of_tablet_dir(&self.dir),
            format!("tablet {}: {what}", self.tablet_id),
            e,
        )
    }

    /// [`RowsetWriter::io_error`] for the Parquet writer's errors.
    fn parquet_error(&self, what: &str, e: parquet::errors::ParquetError) -> Error {
        parquet_write_error(
            root_of_tablet_dir(&self.dir),
            format!("tablet {}: cannot {what}", self.tablet_id),
            e,
        )
    }

    /// Appends a batch. Its columns must match the tablet's (names and types); a NULL in a NOT
    /// NULL column is refused.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        if self.encoded.is_some() || self.encoded_done {
            return Err(Error::invalid(format!(
                "tablet {}: rows cannot follow an encoded rowset file",
                self.tablet_id
            )));
        }
        // Re-labelled with the tablet's schema (names, nullability) as stored.
        let Some(batch) = prepare_batch(&self.schema, self.tablet_id, batch)? else {
            return Ok(());
        };
        if self.writer.is_none() {
            let file = self.create_tmp()?;
            let w = ArrowWriter::try_new(file, self.schema.clone(), Some(writer_properties()))
                .map_err(|e| self.parquet_error("open the Parquet writer", e))?;
            self.writer = Some(w);
        }
        if let Some(w) = self.writer.as_mut()
            && let Err(e) = w.write(&batch)
        {
            return Err(self.parquet_error("write a batch", e));
        }
        self.rows += batch.num_rows() as i64;
        Ok(())
    }

    fn create_tmp(&mut self) -> Result<File> {
        let tmp = self.dir.join(format!("{}.{TMP_EXT}", self.file_name()));
        // Readable too: an encoded file's footer is read back before it is kept.
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(|e| self.io_error(format!("create {}", tmp.display()), e))?;
        self.tmp_path = Some(tmp);
        Ok(file)
    }

    /// Appends the next bytes of a rowset file a [`RowsetEncoder`] encoded (the load's
    /// coordinator encodes once and every replica stores the same bytes).
    pub fn write_encoded(&mut self, bytes: &[u8]) -> Result<()> {
        if self.writer.is_some() || self.encoded_done {
            return Err(Error::invalid(format!(
                "tablet {}: encoded file bytes cannot follow rows or the file's end",
                self.tablet_id
            )));
        }
        if bytes.is_empty() {
            return Ok(());
        }
        if self.encoded.is_none() {
            let file = self.create_tmp()?;
            self.encoded = Some((BufWriter::with_capacity(1 << 20, file), 0));
        }
        if let Some((out, len)) = self.encoded.as_mut() {
            if let Err(e) = out.write_all(bytes) {
                return Err(self.io_error("write its rowset file", e));
            }
            *len += bytes.len() as u64;
        }
        Ok(())
    }

    /// Ends an encoded file that the sender says holds `rows` rows in `len` bytes. The file
    /// must be exactly that: a complete Parquet file (its footer is read back) with the
    /// tablet's columns and NOT NULL constraints; anything else is refused and nothing is
    /// kept.
    pub fn end_encoded(&mut self, rows: i64, len: u64) -> Result<()> {
        let tablet_id = self.tablet_id;
        if self.writer.is_some() || self.encoded_done {
            return Err(Error::invalid(format!(
                "tablet {tablet_id}: an encoded file's end after rows or a second end"
            )));
        }
        let bad = |why: String| Error::invalid(format!("tablet {tablet_id}: {why}"));
        let Some((out, got)) = self.encoded.take() else {
            if rows != 0 || len != 0 {
                return Err(bad(format!(
                    "the rowset file should hold {rows} rows in {len} bytes but no byte came"
                )));
            }
            self.encoded_done = true;
            return Ok(());
        };
        if got != len {
            return Err(bad(format!(
                "the rowset file should be {len} bytes but {got} came; nothing was kept"
            )));
        }
        let file = out
            .into_inner()
            .map_err(|e| self.io_error("write its rowset file", e.into_error()))?;
        let stored_rows = check_parquet_file(&file, &self.schema).map_err(bad)?;
        if stored_rows != rows {
            return Err(bad(format!(
                "the rowset file holds {stored_rows} rows, not the {rows} announced"
            )));
        }
        self.rows = rows;
        self.encoded_done = true;
        self.encoded_file = Some(file);
        Ok(())
    }

    /// Finishes the file: footer, fsync, rename to its final name, fsync of the directory.
    /// Returns the pending rowset to record.
    pub(crate) fn finish(mut self) -> Result<RowsetMeta> {
        let mut files = Vec::new();
        let mut checksums = Vec::new();
        let mut bytes = 0i64;
        if self.encoded.is_some() {
            return Err(Error::invalid(format!(
                "tablet {}: the encoded rowset file was not ended; nothing was kept",
                self.tablet_id
            )));
        }
        let file = match (self.writer.take(), self.encoded_file.take()) {
            (Some(w), _) => match w.into_inner() {
                Ok(f) => Some(f),
                Err(e) => return Err(self.parquet_error("finish the Parquet file", e)),
            },
            (None, file) => file,
        };
        if let (Some(file), Some(tmp)) = (file, self.tmp_path.clone()) {
            let path = self.dir.join(self.file_name());
            let finish = || -> std::io::Result<FileChecksum> {
                file.sync_all()?;
                drop(file);
                // Read back once (from the page cache): the checksum every later read checks.
                let sum = file_checksum(&tmp)?;
                fs::rename(&tmp, &path)?;
                File::open(&self.dir)?.sync_all()?;
                Ok(sum)
            };
            let sum = match finish() {
                Ok(sum) => sum,
                Err(e) => {
                    // Not named by any metadata: neither name may stay (the tmp file goes
                    // when the writer drops).
                    let _ = fs::remove_file(&path);
                    return Err(self.io_error(format!("finish rowset file {}", tmp.display()), e));
                }
            };
            self.tmp_path = None;
            bytes = i64::try_from(sum.len).unwrap_or(i64::MAX);
            files.push(self.file_name());
            checksums.push(sum);
        }
        Ok(RowsetMeta {
            rowset_id: self.rowset_id.clone(),
            txn_id: self.txn_id,
            partition_id: self.partition_id,
            start_version: 0,
            end_version: 0,
            files,
            rows: self.rows,
            bytes,
            create_time_ms: common::clock::now_ms(),
            sorted: false,
            checksums,
        })
    }
}

/// Checks that `file` is a whole Parquet file whose columns are the tablet's (`schema`: names,
/// types, and no nullable column where the tablet's is NOT NULL); returns its rows. The error
/// says what is wrong, for the caller to prefix.
pub(crate) fn check_parquet_file<R: ChunkReader>(
    file: &R,
    schema: &SchemaRef,
) -> std::result::Result<i64, String> {
    let magic = file
        .get_bytes(0, 4)
        .map_err(|e| format!("the rowset file is not a whole Parquet file: {e}"))?;
    if magic.as_ref() != b"PAR1" {
        return Err(
            "the rowset file is not a whole Parquet file: it does not start with PAR1".into(),
        );
    }
    let meta = ParquetMetaDataReader::new()
        .parse_and_finish(file)
        .map_err(|e| format!("the rowset file is not a whole Parquet file: {e}"))?;
    let fm = meta.file_metadata();
    // Our writers embed the tablet's Arrow schema (ARROW:schema). Only that exact text is
    // decoded: arrow-ipc panics on some malformed schemas (found by the rowset_meta fuzz
    // target). Another one is ignored here, so the columns are still compared (the clearer
    // error), and refused below.
    let want = encode_arrow_schema(schema);
    let hint_ok = fm.key_value_metadata().is_none_or(|kv| {
        kv.iter()
            .all(|e| e.key != ARROW_SCHEMA_META_KEY || e.value.as_deref() == Some(want.as_str()))
    });
    let kv = if hint_ok {
        fm.key_value_metadata()
    } else {
        None
    };
    let stored = parquet_to_arrow_schema(fm.schema_descr(), kv)
        .map_err(|e| format!("the rowset file's schema cannot be read: {e}"))?;
    check_arrow_schema(schema, &stored).map_err(|e| e.message)?;
    for (want, have) in schema.fields().iter().zip(stored.fields()) {
        if !want.is_nullable() && have.is_nullable() {
            return Err(format!(
                "column '{}' is NOT NULL but the rowset file lets it hold NULL",
                want.name()
            ));
        }
    }
    if !hint_ok {
        return Err("the rowset file's embedded Arrow schema is not the tablet's".into());
    }
    Ok(fm.num_rows())
}

/// [`check_parquet_file`] on the bytes of a file (fuzzing: a clone source or a tablet writer may
/// send anything).
#[doc(hidden)]
pub fn check_parquet_bytes(bytes: &[u8], schema: &SchemaRef) -> std::result::Result<i64, String> {
    check_parquet_file(&bytes::Bytes::copy_from_slice(bytes), schema)
}

/// Where a [`RowsetEncoder`]'s writer puts the file's bytes until they are taken.
#[derive(Clone, Default)]
struct SharedBuf(Arc<std::sync::Mutex<Vec<u8>>>);

impl SharedBuf {
    fn take(&self) -> Vec<u8> {
        match self.0.lock() {
            Ok(mut v) => std::mem::take(&mut *v),
            Err(p) => std::mem::take(&mut *p.into_inner()),
        }
    }
}

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.0.lock() {
            Ok(mut v) => v.extend_from_slice(buf),
            Err(p) => p.into_inner().extend_from_slice(buf),
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Encodes a rowset file in memory, handing out its bytes as row groups complete, for a
/// load's coordinator: it encodes a tablet's rows once and sends the same bytes to every
/// replica, which stores them with [`RowsetWriter::write_encoded`] (the way StarRocks's
/// replicated storage has the primary replica ship its segment files). The file is the one
/// [`RowsetWriter::write`] would have written from the same batches.
pub struct RowsetEncoder {
    tablet_id: i64,
    schema: SchemaRef,
    writer: Option<ArrowWriter<SharedBuf>>,
    buf: SharedBuf,
    rows: i64,
    len: u64,
}

impl RowsetEncoder {
    /// An encoder for a tablet with these columns.
    pub fn new(tablet_id: i64, schema: &TableSchema) -> RowsetEncoder {
        RowsetEncoder {
            tablet_id,
            schema: arrow_schema(schema),
            writer: None,
            buf: SharedBuf::default(),
            rows: 0,
            len: 0,
        }
    }

    /// Encodes a batch (checked like [`RowsetWriter::write`]); returns the file's bytes that
    /// became ready (empty until a row group completes).
    pub fn write(&mut self, batch: &RecordBatch) -> Result<Vec<u8>> {
        let Some(batch) = prepare_batch(&self.schema, self.tablet_id, batch)? else {
            return Ok(Vec::new());
        };
        if self.writer.is_none() {
            let w = ArrowWriter::try_new(
                self.buf.clone(),
                self.schema.clone(),
                Some(writer_properties()),
            )
            .map_err(|e| parquet_err(self.tablet_id, "open the Parquet writer", e))?;
            self.writer = Some(w);
        }
        if let Some(w) = self.writer.as_mut() {
            w.write(&batch)
                .map_err(|e| parquet_err(self.tablet_id, "encode a batch", e))?;
        }
        self.rows += batch.num_rows() as i64;
        self.take()
    }

    /// Memory the row group being encoded holds.
    pub fn buffered_bytes(&self) -> usize {
        self.writer.as_ref().map_or(0, ArrowWriter::memory_size)
    }

    /// Ends the row group being encoded now (to bound memory); returns the bytes ready.
    pub fn flush_row_group(&mut self) -> Result<Vec<u8>> {
        if let Some(w) = self.writer.as_mut() {
            w.flush()
                .map_err(|e| parquet_err(self.tablet_id, "flush a row group", e))?;
        }
        self.take()
    }

    /// Writes the footer. Returns the last bytes, the rows and the whole file's length
    /// (0 and 0 when no row came: no file at all).
    pub fn finish(mut self) -> Result<(Vec<u8>, i64, u64)> {
        if let Some(mut w) = self.writer.take() {
            w.finish()
                .map_err(|e| parquet_err(self.tablet_id, "finish the Parquet file", e))?;
            w.sync().map_err(|e| {
                Error::io(
                    format!("encode the rowset file of tablet {}", self.tablet_id),
                    e,
                )
            })?;
        }
        let tail = self.buf.take();
        self.len += tail.len() as u64;
        Ok((tail, self.rows, self.len))
    }

    fn take(&mut self) -> Result<Vec<u8>> {
        if let Some(w) = self.writer.as_mut() {
            w.sync().map_err(|e| {
                Error::io(
                    format!("encode the rowset file of tablet {}", self.tablet_id),
                    e,
                )
            })?;
        }
        let bytes = self.buf.take();
        self.len += bytes.len() as u64;
        Ok(bytes)
    }
}

impl Drop for RowsetWriter {
    fn drop(&mut self) {
        self.writer.take();
        self.encoded.take();
        self.encoded_file.take();
        if let Some(tmp) = self.tmp_path.take() {
            let _ = fs::remove_file(tmp);
        }
    }
}

fn parquet_err(tablet_id: i64, what: &str, e: parquet::errors::ParquetError) -> Error {
    Error::new(
        common::StatusCode::Io,
        format!("tablet {tablet_id}: cannot {what}: {e}"),
    )
}

/// Removes files of rowsets (best effort; the metadata no longer names them).
pub(crate) fn remove_files(dir: &Path, rowsets: &[RowsetMeta]) {
    for r in rowsets {
        for f in &r.files {
            let p = dir.join(f);
            if let Err(e) = fs::remove_file(&p)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(file = %p.display(), %e, "cannot remove a rowset file");
            }
        }
    }
}

/// Held by every reader of a tablet: while any clone of it lives, the rowsets it names stay on
/// disk (the stale-rowset sweeper skips them), so a query keeps reading its version while loads
/// and compactions move the tablet on.
#[derive(Debug)]
pub struct ReadPin {
    pub(crate) rowset_ids: Vec<String>,
}

/// A consistent view of a tablet replica at one version: the rowsets covering `[0, version]`
/// and their files. The files stay readable while this view (or an iterator made from it)
/// lives.
#[derive(Clone, Debug)]
pub struct TabletRead {
    /// The tablet.
    pub tablet_id: i64,
    /// The version read.
    pub version: i64,
    /// The tablet's schema.
    pub schema: TableSchema,
    /// Its Arrow schema (what the batches carry).
    pub arrow_schema: SchemaRef,
    /// The rowsets on the version path, in version order.
    pub rowsets: Vec<RowsetMeta>,
    /// Their files, in version order.
    pub files: Vec<PathBuf>,
    pub(crate) pin: Arc<ReadPin>,
}

impl TabletRead {
    /// Rows on the path.
    pub fn rows(&self) -> i64 {
        self.rowsets.iter().map(|r| r.rows).sum()
    }

    /// Every row at this version, batch by batch (blocking file reads).
    pub fn batches(&self) -> RowsetBatches {
        RowsetBatches {
            tablet_id: self.tablet_id,
            schema: self.arrow_schema.clone(),
            files: self.files.clone().into_iter(),
            current: None,
            _pin: Some(self.pin.clone()),
        }
    }

    /// The pin that keeps this view's files on disk (a reader that outlives the view can hold
    /// it).
    pub fn pin(&self) -> Arc<ReadPin> {
        self.pin.clone()
    }
}

/// Iterator over a [`TabletRead`]'s batches, file by file.
pub struct RowsetBatches {
    tablet_id: i64,
    schema: SchemaRef,
    files: std::vec::IntoIter<PathBuf>,
    current: Option<ParquetRecordBatchReader>,
    _pin: Option<Arc<ReadPin>>,
}

impl RowsetBatches {
    /// The batches of some files of a tablet, for the engine's own reads (compaction).
    pub(crate) fn of_files(tablet_id: i64, schema: SchemaRef, files: Vec<PathBuf>) -> Self {
        RowsetBatches {
            tablet_id,
            schema,
            files: files.into_iter(),
            current: None,
            _pin: None,
        }
    }
}

impl RowsetBatches {
    fn open(&self, path: &Path) -> Result<ParquetRecordBatchReader> {
        let file = File::open(path).map_err(|e| {
            Error::io(
                format!("tablet {}: open {}", self.tablet_id, path.display()),
                e,
            )
        })?;
        ParquetRecordBatchReaderBuilder::try_new(file)
            .and_then(|b| b.with_batch_size(READ_BATCH_ROWS).build())
            .map_err(|e| parquet_err(self.tablet_id, &format!("read {}", path.display()), e))
    }
}

impl Iterator for RowsetBatches {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Result<RecordBatch>> {
        loop {
            if let Some(reader) = self.current.as_mut() {
                match reader.next() {
                    Some(Ok(b)) => {
                        // The stored schema is the tablet's; label it so (field metadata aside).
                        return Some(
                            RecordBatch::try_new(self.schema.clone(), b.columns().to_vec())
                                .map_err(|e| {
                                    Error::new(
                                        common::StatusCode::Io,
                                        format!(
                                            "tablet {}: a rowset file does not match the \
                                             tablet's schema: {e}",
                                            self.tablet_id
                                        ),
                                    )
                                }),
                        );
                    }
                    Some(Err(e)) => {
                        self.current = None;
                        return Some(Err(Error::new(
                            common::StatusCode::Io,
                            format!("tablet {}: read a rowset file: {e}", self.tablet_id),
                        )));
                    }
                    None => self.current = None,
                }
            }
            let path = self.files.next()?;
            match self.open(&path) {
                Ok(r) => self.current = Some(r),
                Err(e) => return Some(Err(e)),
            }
        }
    }
}
