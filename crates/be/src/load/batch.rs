//! Rows of converted values → Arrow record batches → Arrow IPC bytes for `WriteTablet`.

use std::sync::Arc;

use common::schema::DataType;
use storage::arrow::array::ArrayRef;
use storage::arrow::array::BooleanBuilder;
use storage::arrow::array::Date32Builder;
use storage::arrow::array::Decimal128Builder;
use storage::arrow::array::Float32Builder;
use storage::arrow::array::Float64Builder;
use storage::arrow::array::Int8Builder;
use storage::arrow::array::Int16Builder;
use storage::arrow::array::Int32Builder;
use storage::arrow::array::Int64Builder;
use storage::arrow::array::RecordBatch;
use storage::arrow::array::StringBuilder;
use storage::arrow::array::TimestampMicrosecondBuilder;
use storage::arrow::datatypes::SchemaRef;
use storage::arrow::ipc::writer::StreamWriter;

use crate::load::value::Value;

/// One column being built.
enum ColumnBuilder {
    Boolean(BooleanBuilder),
    Int8(Int8Builder),
    Int16(Int16Builder),
    Int32(Int32Builder),
    Int64(Int64Builder),
    Decimal(Decimal128Builder),
    Float32(Float32Builder),
    Float64(Float64Builder),
    Date(Date32Builder),
    DateTime(TimestampMicrosecondBuilder),
    Utf8(StringBuilder),
}

impl ColumnBuilder {
    fn new(t: DataType) -> ColumnBuilder {
        match t {
            DataType::Boolean => ColumnBuilder::Boolean(BooleanBuilder::new()),
            DataType::TinyInt => ColumnBuilder::Int8(Int8Builder::new()),
            DataType::SmallInt => ColumnBuilder::Int16(Int16Builder::new()),
            DataType::Int => ColumnBuilder::Int32(Int32Builder::new()),
            DataType::BigInt => ColumnBuilder::Int64(Int64Builder::new()),
            DataType::LargeInt | DataType::Decimal { .. } => ColumnBuilder::Decimal(
                Decimal128Builder::new().with_data_type(storage::arrow_type(t)),
            ),
            DataType::Float => ColumnBuilder::Float32(Float32Builder::new()),
            DataType::Double => ColumnBuilder::Float64(Float64Builder::new()),
            DataType::Date => ColumnBuilder::Date(Date32Builder::new()),
            DataType::DateTime => ColumnBuilder::DateTime(TimestampMicrosecondBuilder::new()),
            DataType::Char(_) | DataType::Varchar(_) | DataType::String => {
                ColumnBuilder::Utf8(StringBuilder::new())
            }
        }
    }

    /// Appends a value already converted to this column's type (anything else is NULL,
    /// which conversion never produces for a NOT NULL column).
    fn append(&mut self, v: &Value<'_>) {
        match (self, v) {
            (ColumnBuilder::Boolean(b), Value::Bool(x)) => b.append_value(*x),
            (ColumnBuilder::Int8(b), Value::Int(x)) => b.append_option(i8::try_from(*x).ok()),
            (ColumnBuilder::Int16(b), Value::Int(x)) => b.append_option(i16::try_from(*x).ok()),
            (ColumnBuilder::Int32(b), Value::Int(x)) => b.append_option(i32::try_from(*x).ok()),
            (ColumnBuilder::Int64(b), Value::Int(x)) => b.append_option(i64::try_from(*x).ok()),
            (ColumnBuilder::Decimal(b), Value::Int(x) | Value::Decimal(x, _)) => b.append_value(*x),
            (ColumnBuilder::Float32(b), Value::Float(x)) => b.append_value(*x as f32),
            (ColumnBuilder::Float64(b), Value::Float(x)) => b.append_value(*x),
            (ColumnBuilder::Date(b), Value::Date(x)) => b.append_value(*x),
            (ColumnBuilder::DateTime(b), Value::DateTime(x)) => b.append_value(*x),
            (ColumnBuilder::Utf8(b), Value::Str(x)) => b.append_value(x),
            (ColumnBuilder::Boolean(b), _) => b.append_null(),
            (ColumnBuilder::Int8(b), _) => b.append_null(),
            (ColumnBuilder::Int16(b), _) => b.append_null(),
            (ColumnBuilder::Int32(b), _) => b.append_null(),
            (ColumnBuilder::Int64(b), _) => b.append_null(),
            (ColumnBuilder::Decimal(b), _) => b.append_null(),
            (ColumnBuilder::Float32(b), _) => b.append_null(),
            (ColumnBuilder::Float64(b), _) => b.append_null(),
            (ColumnBuilder::Date(b), _) => b.append_null(),
            (ColumnBuilder::DateTime(b), _) => b.append_null(),
            (ColumnBuilder::Utf8(b), _) => b.append_null(),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            ColumnBuilder::Boolean(b) => Arc::new(b.finish()),
            ColumnBuilder::Int8(b) => Arc::new(b.finish()),
            ColumnBuilder::Int16(b) => Arc::new(b.finish()),
            ColumnBuilder::Int32(b) => Arc::new(b.finish()),
            ColumnBuilder::Int64(b) => Arc::new(b.finish()),
            ColumnBuilder::Decimal(b) => Arc::new(b.finish()),
            ColumnBuilder::Float32(b) => Arc::new(b.finish()),
            ColumnBuilder::Float64(b) => Arc::new(b.finish()),
            ColumnBuilder::Date(b) => Arc::new(b.finish()),
            ColumnBuilder::DateTime(b) => Arc::new(b.finish()),
            ColumnBuilder::Utf8(b) => Arc::new(b.finish()),
        }
    }
}

/// Rows buffered for one tablet.
pub struct BatchBuilder {
    columns: Vec<ColumnBuilder>,
    rows: usize,
    bytes: usize,
}

impl BatchBuilder {
    /// An empty buffer for columns of these types.
    pub fn new(types: &[DataType]) -> BatchBuilder {
        BatchBuilder {
            columns: types.iter().map(|t| ColumnBuilder::new(*t)).collect(),
            rows: 0,
            bytes: 0,
        }
    }

    /// Appends a converted row.
    pub fn append(&mut self, row: &[Value<'_>]) {
        for (c, v) in self.columns.iter_mut().zip(row) {
            c.append(v);
            self.bytes += v.size();
        }
        self.rows += 1;
    }

    /// Rows buffered.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Approximate bytes buffered.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The buffered rows as a batch; the buffer is empty afterwards.
    pub fn take(&mut self, schema: &SchemaRef) -> Result<RecordBatch, String> {
        let arrays: Vec<ArrayRef> = self.columns.iter_mut().map(ColumnBuilder::finish).collect();
        self.rows = 0;
        self.bytes = 0;
        RecordBatch::try_new(schema.clone(), arrays)
            .map_err(|e| format!("cannot build a batch of rows: {e}"))
    }
}

/// A batch as a self-contained Arrow IPC stream (schema + the batch).
pub fn to_ipc(batch: &RecordBatch) -> Result<Vec<u8>, String> {
    let mut w = StreamWriter::try_new(Vec::new(), &batch.schema())
        .map_err(|e| format!("cannot encode Arrow IPC: {e}"))?;
    w.write(batch)
        .map_err(|e| format!("cannot encode Arrow IPC: {e}"))?;
    w.into_inner()
        .map_err(|e| format!("cannot encode Arrow IPC: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::schema::ColumnSchema;
    use common::schema::KeysType;
    use common::schema::TableSchema;
    use storage::arrow::array::Array;
    use storage::arrow::ipc::reader::StreamReader;

    #[test]
    fn every_type_round_trips_through_ipc() {
        let types = [
            DataType::Boolean,
            DataType::TinyInt,
            DataType::SmallInt,
            DataType::Int,
            DataType::BigInt,
            DataType::LargeInt,
            DataType::Float,
            DataType::Double,
            DataType::Decimal {
                precision: 9,
                scale: 2,
            },
            DataType::Date,
            DataType::DateTime,
            DataType::Char(4),
            DataType::Varchar(10),
            DataType::String,
        ];
        let schema = TableSchema {
            columns: types
                .iter()
                .enumerate()
                .map(|(i, t)| ColumnSchema {
                    name: format!("c{i}"),
                    data_type: *t,
                    nullable: true,
                    is_key: false,
                    default: None,
                    comment: String::new(),
                })
                .collect(),
            keys_type: KeysType::Duplicate,
            distribution_columns: Vec::new(),
            buckets: 1,
            schema_version: 0,
        };
        let arrow = storage::arrow_schema(&schema);
        let mut b = BatchBuilder::new(&types);
        let row = vec![
            Value::Bool(true),
            Value::Int(-8),
            Value::Int(16),
            Value::Int(32),
            Value::Int(64),
            Value::Int(i128::MAX),
            Value::Float(1.5),
            Value::Float(2.5),
            Value::Decimal(12345, 2),
            Value::Date(10),
            Value::DateTime(1_000_001),
            Value::Str("ab".into()),
            Value::Str("héllo".into()),
            Value::Str("s".into()),
        ];
        b.append(&row);
        b.append(&vec![Value::Null; types.len()]);
        assert_eq!(b.rows(), 2);
        assert!(b.bytes() > 0);
        let batch = b.take(&arrow).expect("batch");
        assert_eq!(b.rows(), 0);
        let bytes = to_ipc(&batch).expect("ipc");
        let mut reader = StreamReader::try_new(std::io::Cursor::new(bytes), None).expect("read");
        let back = reader.next().expect("one batch").expect("batch");
        assert_eq!(back, batch);
        assert_eq!(back.num_rows(), 2);
        for c in back.columns() {
            assert_eq!(c.null_count(), 1);
        }
        storage::check_arrow_schema(&arrow, &back.schema()).expect("schema");
    }
}
