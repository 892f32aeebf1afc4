//! A checksum of a replica's data at a version, independent of how the data is laid out in
//! files: two replicas holding the same rows at a version have the same checksum whether they
//! got them by one load or several, by a clone, or after compactions merged and re-sorted
//! their rowsets.
//!
//! Every row visible at the version (the rowsets on the version path `[0, v]`, read as a query
//! reads them) is hashed on its own: its values in column order, each as a presence word (NULL
//! or not) followed by a canonical encoding of the value (integers widened to 64 bits,
//! little-endian; DECIMAL/LARGEINT as two 64-bit halves; floats by their bits with one NaN;
//! strings by their length and bytes), each 64-bit word folded into the row's hash with
//! MurmurHash3's `fmix64` finalizer. The row hashes are combined without regard to order: their
//! wrapping sum and their XOR, with the number of rows. The hash is fixed here, not
//! randomized per process, so backends compare checksums with each other.

use arrow::array::Array;
use arrow::array::AsArray;
use arrow::array::RecordBatch;
use arrow::datatypes::DataType as ArrowType;
use arrow::datatypes::Date32Type;
use arrow::datatypes::Decimal128Type;
use arrow::datatypes::Float32Type;
use arrow::datatypes::Float64Type;
use arrow::datatypes::Int8Type;
use arrow::datatypes::Int16Type;
use arrow::datatypes::Int32Type;
use arrow::datatypes::Int64Type;
use arrow::datatypes::TimeUnit;
use arrow::datatypes::TimestampMicrosecondType;
use common::Error;
use common::Result;
use common::StatusCode;

use crate::engine::StorageEngine;
use crate::meta::TabletState;

/// The checksum of a replica's rows at a version ([`StorageEngine::checksum`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TabletChecksum {
    /// The tablet.
    pub tablet_id: i64,
    /// The version read.
    pub version: i64,
    /// Rows visible at that version.
    pub rows: i64,
    /// Wrapping sum of the row hashes.
    pub sum: u64,
    /// XOR of the row hashes.
    pub xor: u64,
}

impl TabletChecksum {
    /// The checksum as 32 hex digits: the sum, then the XOR.
    pub fn hex(&self) -> String {
        format!("{:016x}{:016x}", self.sum, self.xor)
    }
}

/// The starting state of a row's hash.
const ROW_SEED: u64 = 0x9e37_79b9_7f4a_7c15;
/// The presence words of a value.
const NULL: u64 = 0x6e75_6c6c;
const PRESENT: u64 = 0x7661_6c75;

/// MurmurHash3's 64-bit finalizer: a bijection with full avalanche.
fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^ (k >> 33)
}

fn fold(h: &mut u64, word: u64) {
    *h = fmix64(*h ^ word);
}

fn fold_bytes(h: &mut u64, bytes: &[u8]) {
    fold(h, bytes.len() as u64);
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        fold(h, u64::from_le_bytes(w));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        fold(h, u64::from_le_bytes(w));
    }
}

/// The row hashes of some rows, order-independently combined.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct RowsChecksum {
    pub rows: i64,
    pub sum: u64,
    pub xor: u64,
}

impl RowsChecksum {
    /// Adds every row of a batch.
    pub fn add(&mut self, tablet_id: i64, batch: &RecordBatch) -> Result<()> {
        let n = batch.num_rows();
        let mut hashes = vec![ROW_SEED; n];
        for (c, col) in batch.columns().iter().enumerate() {
            hash_column(col.as_ref(), &mut hashes).map_err(|t| {
                Error::new(
                    StatusCode::Unsupported,
                    format!(
                        "tablet {tablet_id}: column {} ({}) is of type {t}, which the checksum \
                         does not know",
                        c + 1,
                        batch.schema().field(c).name()
                    ),
                )
            })?;
        }
        for h in hashes {
            let h = fmix64(h ^ batch.num_columns() as u64);
            self.sum = self.sum.wrapping_add(h);
            self.xor ^= h;
        }
        self.rows += n as i64;
        Ok(())
    }
}

/// Folds each row's value of a column into its hash; `Err` names a type it does not know.
fn hash_column(col: &dyn Array, hashes: &mut [u64]) -> std::result::Result<(), ArrowType> {
    // One closure per value type: `f(row)` is called for present values only.
    fn each(col: &dyn Array, hashes: &mut [u64], mut f: impl FnMut(usize, &mut u64)) {
        for (i, h) in hashes.iter_mut().enumerate() {
            if col.is_null(i) {
                fold(h, NULL);
            } else {
                fold(h, PRESENT);
                f(i, h);
            }
        }
    }
    match col.data_type() {
        ArrowType::Boolean => {
            let a = col.as_boolean();
            each(col, hashes, |i, h| fold(h, u64::from(a.value(i))));
        }
        ArrowType::Int8 => {
            let a = col.as_primitive::<Int8Type>();
            each(col, hashes, |i, h| fold(h, i64::from(a.value(i)) as u64));
        }
        ArrowType::Int16 => {
            let a = col.as_primitive::<Int16Type>();
            each(col, hashes, |i, h| fold(h, i64::from(a.value(i)) as u64));
        }
        ArrowType::Int32 => {
            let a = col.as_primitive::<Int32Type>();
            each(col, hashes, |i, h| fold(h, i64::from(a.value(i)) as u64));
        }
        ArrowType::Int64 => {
            let a = col.as_primitive::<Int64Type>();
            each(col, hashes, |i, h| fold(h, a.value(i) as u64));
        }
        ArrowType::Decimal128(_, _) => {
            let a = col.as_primitive::<Decimal128Type>();
            each(col, hashes, |i, h| {
                let v = a.value(i) as u128;
                fold(h, v as u64);
                fold(h, (v >> 64) as u64);
            });
        }
        ArrowType::Float32 => {
            let a = col.as_primitive::<Float32Type>();
            each(col, hashes, |i, h| {
                let v = a.value(i);
                let v = if v.is_nan() { f32::NAN } else { v };
                fold(h, u64::from(v.to_bits()));
            });
        }
        ArrowType::Float64 => {
            let a = col.as_primitive::<Float64Type>();
            each(col, hashes, |i, h| {
                let v = a.value(i);
                let v = if v.is_nan() { f64::NAN } else { v };
                fold(h, v.to_bits());
            });
        }
        ArrowType::Date32 => {
            let a = col.as_primitive::<Date32Type>();
            each(col, hashes, |i, h| fold(h, i64::from(a.value(i)) as u64));
        }
        ArrowType::Timestamp(TimeUnit::Microsecond, None) => {
            let a = col.as_primitive::<TimestampMicrosecondType>();
            each(col, hashes, |i, h| fold(h, a.value(i) as u64));
        }
        ArrowType::Utf8 => {
            let a = col.as_string::<i32>();
            each(col, hashes, |i, h| fold_bytes(h, a.value(i).as_bytes()));
        }
        other => return Err(other.clone()),
    }
    Ok(())
}

impl StorageEngine {
    /// The checksum of a tablet replica's rows at `version` (see the module doc): the rows of
    /// the rowsets on the version path `[0, version]`, as [`StorageEngine::read_at`] reads
    /// them. Blocking: it reads every file on the path.
    ///
    /// Errors: [`StatusCode::TabletNotFound`] when the tablet is not here;
    /// [`StatusCode::VersionNotReached`] when `version` is above the replica's version;
    /// [`StatusCode::VersionsCompacted`] when compaction merged `version` into a rowset
    /// reaching past it and the rowsets of the versions inside were removed;
    /// [`StatusCode::InvalidArgument`] for a negative version; [`StatusCode::Io`] when a file
    /// cannot be read or the data directory is missing.
    pub fn checksum(&self, tablet_id: i64, version: i64) -> Result<TabletChecksum> {
        if version < 0 {
            return Err(Error::invalid(format!(
                "tablet {tablet_id}: {version} is not a version"
            )));
        }
        let read = self
            .read_at(tablet_id, version)
            .map_err(|e| self.why_unreadable(tablet_id, version, e))?;
        let mut acc = RowsChecksum::default();
        for batch in read.batches() {
            acc.add(tablet_id, &batch?)?;
        }
        Ok(TabletChecksum {
            tablet_id,
            version,
            rows: acc.rows,
            sum: acc.sum,
            xor: acc.xor,
        })
    }

    /// Gives a refused read at `version` the code that says why.
    fn why_unreadable(&self, tablet_id: i64, version: i64, e: Error) -> Error {
        if e.code == StatusCode::Cancelled {
            return e;
        }
        let Some(meta) = self.tablet_meta(tablet_id) else {
            return Error::new(
                StatusCode::TabletNotFound,
                format!("tablet {tablet_id} does not exist on this backend"),
            );
        };
        if meta.state != TabletState::Normal {
            return e;
        }
        if version > meta.version {
            let above: Vec<String> = meta
                .rowsets
                .iter()
                .filter(|r| r.start_version > meta.version)
                .map(|r| r.versions())
                .collect();
            let hole = if above.is_empty() {
                String::new()
            } else {
                format!(
                    "; it also holds {} above a missing version {}, not readable until a clone \
                     fills it",
                    above.join(" "),
                    meta.version + 1
                )
            };
            return Error::new(
                StatusCode::VersionNotReached,
                format!(
                    "tablet {tablet_id} cannot be read at version {version}: this replica is at \
                     version {} (version {version} is not published here yet){hole}",
                    meta.version
                ),
            );
        }
        let merged = meta
            .rowsets
            .iter()
            .chain(meta.stale.iter().map(|s| &s.rowset))
            .any(|r| r.start_version <= version && version < r.end_version);
        if merged {
            return Error::new(StatusCode::VersionsCompacted, e.message);
        }
        e
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::ArrayRef;
    use arrow::array::BooleanArray;
    use arrow::array::Date32Array;
    use arrow::array::Decimal128Array;
    use arrow::array::Float32Array;
    use arrow::array::Float64Array;
    use arrow::array::Int8Array;
    use arrow::array::Int16Array;
    use arrow::array::Int64Array;
    use arrow::array::StringArray;
    use arrow::array::TimestampMicrosecondArray;
    use arrow::datatypes::Field;
    use arrow::datatypes::Schema;

    use super::*;

    fn sum_of(batches: &[RecordBatch]) -> RowsChecksum {
        let mut acc = RowsChecksum::default();
        for b in batches {
            acc.add(1, b).expect("add");
        }
        acc
    }

    /// One row per type, each nullable: a NULL row and two value rows.
    fn all_types(rows: Vec<usize>) -> RecordBatch {
        let cols: Vec<(ArrowType, ArrayRef)> = vec![
            (
                ArrowType::Boolean,
                Arc::new(BooleanArray::from(vec![None, Some(true), Some(false)])),
            ),
            (
                ArrowType::Int8,
                Arc::new(Int8Array::from(vec![None, Some(-1), Some(7)])),
            ),
            (
                ArrowType::Int16,
                Arc::new(Int16Array::from(vec![None, Some(-300), Some(300)])),
            ),
            (
                ArrowType::Int64,
                Arc::new(Int64Array::from(vec![None, Some(i64::MIN), Some(9)])),
            ),
            (
                ArrowType::Decimal128(38, 2),
                Arc::new(
                    Decimal128Array::from(vec![None, Some(-12_345), Some(i128::MAX)])
                        .with_precision_and_scale(38, 2)
                        .expect("decimal"),
                ),
            ),
            (
                ArrowType::Float32,
                Arc::new(Float32Array::from(vec![None, Some(f32::NAN), Some(1.5)])),
            ),
            (
                ArrowType::Float64,
                Arc::new(Float64Array::from(vec![None, Some(-0.0), Some(2.25)])),
            ),
            (
                ArrowType::Date32,
                Arc::new(Date32Array::from(vec![None, Some(19_000), Some(-1)])),
            ),
            (
                ArrowType::Timestamp(TimeUnit::Microsecond, None),
                Arc::new(TimestampMicrosecondArray::from(vec![
                    None,
                    Some(1),
                    Some(1_700_000_000_000_000),
                ])),
            ),
            (
                ArrowType::Utf8,
                Arc::new(StringArray::from(vec![
                    None,
                    Some(""),
                    Some("a longer string, over eight bytes"),
                ])),
            ),
        ];
        let schema = Arc::new(Schema::new(
            cols.iter()
                .enumerate()
                .map(|(i, (t, _))| Field::new(format!("c{i}"), t.clone(), true))
                .collect::<Vec<_>>(),
        ));
        let idx =
            arrow::array::UInt32Array::from(rows.iter().map(|r| *r as u32).collect::<Vec<_>>());
        let columns = cols
            .iter()
            .map(|(_, a)| arrow::compute::take(a.as_ref(), &idx, None).expect("take"))
            .collect();
        RecordBatch::try_new(schema, columns).expect("batch")
    }

    #[test]
    fn order_and_batching_do_not_matter_values_do() {
        let one = sum_of(&[all_types(vec![0, 1, 2])]);
        assert_eq!(one.rows, 3);
        let reordered = sum_of(&[all_types(vec![2]), all_types(vec![1, 0])]);
        assert_eq!(one, reordered);
        // A duplicate row counts (the sum and the row count see it).
        let dup = sum_of(&[all_types(vec![0, 1, 2, 2])]);
        assert_ne!(dup.sum, one.sum);
        assert_eq!(dup.rows, 4);
        // Each row hashes differently, NULLs included.
        let singles: Vec<u64> = (0..3).map(|r| sum_of(&[all_types(vec![r])]).sum).collect();
        assert!(singles[0] != singles[1] && singles[1] != singles[2] && singles[0] != singles[2]);
        // Stable across runs and builds: no per-process seed.
        assert_eq!(sum_of(&[all_types(vec![0])]).sum, singles[0]);
        assert_eq!(
            TabletChecksum {
                tablet_id: 1,
                version: 2,
                rows: 3,
                sum: 0xab,
                xor: 1
            }
            .hex(),
            "00000000000000ab0000000000000001"
        );
    }

    #[test]
    fn strings_are_length_delimited() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", ArrowType::Utf8, false),
            Field::new("b", ArrowType::Utf8, false),
        ]));
        let row = |a: &str, b: &str| {
            RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(StringArray::from(vec![a])) as ArrayRef,
                    Arc::new(StringArray::from(vec![b])),
                ],
            )
            .expect("batch")
        };
        assert_ne!(sum_of(&[row("ab", "c")]), sum_of(&[row("a", "bc")]));
        assert_ne!(sum_of(&[row("", "x")]), sum_of(&[row("x", "")]));
    }
}
