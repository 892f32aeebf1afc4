//! Query results: Arrow record batches to MySQL result sets.

use arrow::array::Array;
use arrow::array::AsArray;
use arrow::datatypes::DataType as ArrowType;
use arrow::datatypes::Date32Type;
use arrow::datatypes::Float32Type;
use arrow::datatypes::Float64Type;
use arrow::datatypes::Int8Type;
use arrow::datatypes::Int16Type;
use arrow::datatypes::Int32Type;
use arrow::datatypes::Int64Type;
use arrow::datatypes::TimeUnit;
use arrow::datatypes::UInt8Type;
use arrow::datatypes::UInt16Type;
use arrow::datatypes::UInt32Type;
use arrow::datatypes::UInt64Type;
use arrow::record_batch::RecordBatch;
use arrow::util::display::ArrayFormatter;
use arrow::util::display::FormatOptions;
use common::Error;
use common::Result;
use common::StatusCode;

use crate::outcome::Cell;
use crate::outcome::ColType;
use crate::outcome::RowSet;

/// The MySQL column type a client sees for an Arrow type.
pub fn col_type(t: &ArrowType) -> ColType {
    match t {
        ArrowType::Boolean | ArrowType::Int8 | ArrowType::UInt8 => ColType::TinyInt,
        ArrowType::Int16 | ArrowType::UInt16 => ColType::SmallInt,
        ArrowType::Int32 | ArrowType::UInt32 => ColType::Int,
        ArrowType::Int64 | ArrowType::UInt64 => ColType::BigInt,
        ArrowType::Float16 | ArrowType::Float32 => ColType::Float,
        ArrowType::Float64 => ColType::Double,
        ArrowType::Decimal32(p, s)
        | ArrowType::Decimal64(p, s)
        | ArrowType::Decimal128(p, s)
        | ArrowType::Decimal256(p, s) => {
            if *p == query::LARGEINT_PRECISION && *s == 0 {
                ColType::LargeInt
            } else {
                ColType::Decimal {
                    precision: *p,
                    scale: u8::try_from(*s).unwrap_or(0),
                }
            }
        }
        ArrowType::Date32 | ArrowType::Date64 => ColType::Date,
        ArrowType::Timestamp(_, _) => ColType::DateTime,
        ArrowType::Null => ColType::Null,
        _ => ColType::Varchar,
    }
}

fn timestamp_text(v: i64, unit: &TimeUnit) -> Option<String> {
    let (secs, nanos) = match unit {
        TimeUnit::Second => (v, 0),
        TimeUnit::Millisecond => (v.div_euclid(1_000), v.rem_euclid(1_000) * 1_000_000),
        TimeUnit::Microsecond => (v.div_euclid(1_000_000), v.rem_euclid(1_000_000) * 1_000),
        TimeUnit::Nanosecond => (v.div_euclid(1_000_000_000), v.rem_euclid(1_000_000_000)),
    };
    let dt = chrono::DateTime::from_timestamp(secs, u32::try_from(nanos).ok()?)?.naive_utc();
    let micros = nanos / 1_000;
    Some(if micros == 0 {
        dt.format("%Y-%m-%d %H:%M:%S").to_string()
    } else {
        format!("{}.{micros:06}", dt.format("%Y-%m-%d %H:%M:%S"))
    })
}

/// Appends the rows of `batch` to `out` (whose columns are already set).
fn append(batch: &RecordBatch, out: &mut RowSet) -> Result<()> {
    let n = batch.num_rows();
    let mut columns: Vec<Vec<Cell>> = Vec::with_capacity(batch.num_columns());
    let options = FormatOptions::default().with_null("");
    for array in batch.columns() {
        let mut cells = Vec::with_capacity(n);
        macro_rules! ints {
            ($t:ty) => {{
                let a = array.as_primitive::<$t>();
                for i in 0..n {
                    cells.push(if a.is_null(i) {
                        Cell::Null
                    } else {
                        Cell::Int(i64::from(a.value(i)))
                    });
                }
            }};
        }
        match array.data_type() {
            ArrowType::Int8 => ints!(Int8Type),
            ArrowType::Int16 => ints!(Int16Type),
            ArrowType::Int32 => ints!(Int32Type),
            ArrowType::Int64 => ints!(Int64Type),
            ArrowType::UInt8 => ints!(UInt8Type),
            ArrowType::UInt16 => ints!(UInt16Type),
            ArrowType::UInt32 => ints!(UInt32Type),
            ArrowType::UInt64 => {
                let a = array.as_primitive::<UInt64Type>();
                for i in 0..n {
                    cells.push(if a.is_null(i) {
                        Cell::Null
                    } else {
                        match i64::try_from(a.value(i)) {
                            Ok(v) => Cell::Int(v),
                            Err(_) => Cell::Text(a.value(i).to_string()),
                        }
                    });
                }
            }
            ArrowType::Boolean => {
                let a = array.as_boolean();
                for i in 0..n {
                    cells.push(if a.is_null(i) {
                        Cell::Null
                    } else {
                        Cell::Int(i64::from(a.value(i)))
                    });
                }
            }
            ArrowType::Float64 => {
                let a = array.as_primitive::<Float64Type>();
                for i in 0..n {
                    cells.push(if a.is_null(i) {
                        Cell::Null
                    } else {
                        Cell::Double(a.value(i))
                    });
                }
            }
            ArrowType::Float32 => {
                let a = array.as_primitive::<Float32Type>();
                for i in 0..n {
                    cells.push(if a.is_null(i) {
                        Cell::Null
                    } else {
                        Cell::Text(a.value(i).to_string())
                    });
                }
            }
            ArrowType::Date32 => {
                let a = array.as_primitive::<Date32Type>();
                for i in 0..n {
                    cells.push(if a.is_null(i) {
                        Cell::Null
                    } else {
                        match chrono::NaiveDate::from_num_days_from_ce_opt(a.value(i) + 719_163) {
                            Some(d) => Cell::Text(d.format("%Y-%m-%d").to_string()),
                            None => Cell::Null,
                        }
                    });
                }
            }
            ArrowType::Timestamp(unit, _) => {
                let unit = *unit;
                let a = arrow::compute::cast(array, &ArrowType::Int64).map_err(arrow_err)?;
                let a = a.as_primitive::<Int64Type>();
                for i in 0..n {
                    cells.push(if a.is_null(i) {
                        Cell::Null
                    } else {
                        timestamp_text(a.value(i), &unit)
                            .map(Cell::Text)
                            .unwrap_or(Cell::Null)
                    });
                }
            }
            ArrowType::Utf8 | ArrowType::LargeUtf8 | ArrowType::Utf8View => {
                let a = arrow::compute::cast(array, &ArrowType::Utf8).map_err(arrow_err)?;
                let a = a.as_string::<i32>();
                for i in 0..n {
                    cells.push(if a.is_null(i) {
                        Cell::Null
                    } else {
                        Cell::Text(a.value(i).to_string())
                    });
                }
            }
            _ => {
                let f = ArrayFormatter::try_new(array.as_ref(), &options).map_err(arrow_err)?;
                for i in 0..n {
                    cells.push(if array.is_null(i) {
                        Cell::Null
                    } else {
                        Cell::Text(f.value(i).to_string())
                    });
                }
            }
        }
        columns.push(cells);
    }
    let mut iters: Vec<_> = columns.into_iter().map(Vec::into_iter).collect();
    for _ in 0..n {
        out.rows.push(
            iters
                .iter_mut()
                .map(|c| c.next().unwrap_or(Cell::Null))
                .collect(),
        );
    }
    Ok(())
}

fn arrow_err(e: arrow::error::ArrowError) -> Error {
    Error::new(StatusCode::Internal, format!("formatting a result: {e}"))
}

/// A result set from a schema and batches.
pub fn to_rowset(schema: &arrow::datatypes::Schema, batches: &[RecordBatch]) -> Result<RowSet> {
    let mut out = RowSet {
        columns: schema
            .fields()
            .iter()
            .map(|f| (f.name().clone(), col_type(f.data_type())))
            .collect(),
        rows: Vec::with_capacity(batches.iter().map(RecordBatch::num_rows).sum()),
    };
    for b in batches {
        append(b, &mut out)?;
    }
    Ok(out)
}

/// The rows of `batches` as the JSON array a load takes, keyed by `columns` (positionally).
pub fn json_rows(batches: &[RecordBatch], columns: &[String]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    out.push(b'[');
    let mut first = true;
    for b in batches {
        let mut rs = RowSet {
            columns: Vec::new(),
            rows: Vec::with_capacity(b.num_rows()),
        };
        append(b, &mut rs)?;
        for row in rs.rows {
            let mut obj = serde_json::Map::with_capacity(columns.len());
            for (name, cell) in columns.iter().zip(row) {
                let v = match cell {
                    Cell::Null => serde_json::Value::Null,
                    Cell::Int(i) => serde_json::Value::from(i),
                    Cell::Double(d) => serde_json::Number::from_f64(d)
                        .map(serde_json::Value::Number)
                        .unwrap_or(serde_json::Value::Null),
                    Cell::Text(t) => serde_json::Value::String(t),
                };
                obj.insert(name.clone(), v);
            }
            if !first {
                out.push(b',');
            }
            first = false;
            serde_json::to_writer(&mut out, &serde_json::Value::Object(obj))
                .map_err(Error::internal)?;
        }
    }
    out.push(b']');
    Ok(out)
}
