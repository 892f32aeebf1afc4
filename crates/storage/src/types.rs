//! The one mapping from column types to Arrow types: rowset files, the load wire format
//! (Arrow IPC) and queries all use it.

use std::sync::Arc;

use arrow::datatypes::DataType as ArrowType;
use arrow::datatypes::Field;
use arrow::datatypes::Schema;
use arrow::datatypes::SchemaRef;
use arrow::datatypes::TimeUnit;
use common::Error;
use common::Result;
use common::schema::DataType;
use common::schema::TableSchema;

/// Precision of LARGEINT's Arrow type (a 128-bit integer as DECIMAL(38, 0)).
pub const LARGEINT_PRECISION: u8 = 38;

/// The Arrow type that stores a column type.
///
/// BOOLEAN → Boolean; TINYINT..BIGINT → Int8..Int64; LARGEINT → Decimal128(38, 0);
/// FLOAT → Float32; DOUBLE → Float64; DECIMAL(p, s) → Decimal128(p, s); DATE → Date32 (days
/// since 1970-01-01); DATETIME → Timestamp(Microsecond, no time zone); CHAR/VARCHAR/STRING → Utf8.
pub fn arrow_type(t: DataType) -> ArrowType {
    match t {
        DataType::Boolean => ArrowType::Boolean,
        DataType::TinyInt => ArrowType::Int8,
        DataType::SmallInt => ArrowType::Int16,
        DataType::Int => ArrowType::Int32,
        DataType::BigInt => ArrowType::Int64,
        DataType::LargeInt => ArrowType::Decimal128(LARGEINT_PRECISION, 0),
        DataType::Float => ArrowType::Float32,
        DataType::Double => ArrowType::Float64,
        DataType::Decimal { precision, scale } => {
            // Arrow's scale is signed; a column's scale is at most 38.
            ArrowType::Decimal128(precision, i8::try_from(scale).unwrap_or(i8::MAX))
        }
        DataType::Date => ArrowType::Date32,
        DataType::DateTime => ArrowType::Timestamp(TimeUnit::Microsecond, None),
        DataType::Char(_) | DataType::Varchar(_) | DataType::String => ArrowType::Utf8,
    }
}

/// The Arrow schema of a table's rows: one field per column, in order, with the column's name
/// and nullability.
pub fn arrow_schema(schema: &TableSchema) -> SchemaRef {
    Arc::new(Schema::new(
        schema
            .columns
            .iter()
            .map(|c| Field::new(&c.name, arrow_type(c.data_type), c.nullable))
            .collect::<Vec<_>>(),
    ))
}

/// Checks that `actual` (e.g. an incoming IPC stream's schema) carries the columns of `expected`
/// with the same names and types in the same order. Nullability is not compared here: the data
/// is checked for NULLs in NOT NULL columns when it is written.
pub fn check_arrow_schema(expected: &Schema, actual: &Schema) -> Result<()> {
    let exp = expected.fields();
    let act = actual.fields();
    if exp.len() != act.len() {
        return Err(Error::invalid(format!(
            "the data has {} columns ({}) but the tablet has {} ({})",
            act.len(),
            field_list(actual),
            exp.len(),
            field_list(expected)
        )));
    }
    for (i, (e, a)) in exp.iter().zip(act.iter()).enumerate() {
        if !e.name().eq_ignore_ascii_case(a.name()) {
            return Err(Error::invalid(format!(
                "column {} of the data is '{}' but the tablet's column {} is '{}'",
                i + 1,
                a.name(),
                i + 1,
                e.name()
            )));
        }
        if e.data_type() != a.data_type() {
            return Err(Error::invalid(format!(
                "column '{}' of the data is {} but the tablet stores it as {}",
                e.name(),
                a.data_type(),
                e.data_type()
            )));
        }
    }
    Ok(())
}

fn field_list(s: &Schema) -> String {
    s.fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::schema::ColumnSchema;
    use common::schema::KeysType;

    #[test]
    fn every_type_maps() {
        let cases = [
            (DataType::Boolean, ArrowType::Boolean),
            (DataType::TinyInt, ArrowType::Int8),
            (DataType::SmallInt, ArrowType::Int16),
            (DataType::Int, ArrowType::Int32),
            (DataType::BigInt, ArrowType::Int64),
            (DataType::LargeInt, ArrowType::Decimal128(38, 0)),
            (DataType::Float, ArrowType::Float32),
            (DataType::Double, ArrowType::Float64),
            (
                DataType::Decimal {
                    precision: 10,
                    scale: 2,
                },
                ArrowType::Decimal128(10, 2),
            ),
            (DataType::Date, ArrowType::Date32),
            (
                DataType::DateTime,
                ArrowType::Timestamp(TimeUnit::Microsecond, None),
            ),
            (DataType::Char(3), ArrowType::Utf8),
            (DataType::Varchar(30), ArrowType::Utf8),
            (DataType::String, ArrowType::Utf8),
        ];
        for (t, a) in cases {
            assert_eq!(arrow_type(t), a, "{t}");
        }
    }

    #[test]
    fn schema_keeps_names_order_and_nullability() {
        let col = |name: &str, t, nullable| ColumnSchema {
            name: name.into(),
            data_type: t,
            nullable,
            is_key: false,
            default: None,
            comment: String::new(),
        };
        let ts = TableSchema {
            columns: vec![
                col("k", DataType::Int, false),
                col("v", DataType::String, true),
            ],
            keys_type: KeysType::Duplicate,
            distribution_columns: vec!["k".into()],
            buckets: 1,
            schema_version: 0,
        };
        let s = arrow_schema(&ts);
        assert_eq!(s.fields().len(), 2);
        assert_eq!(s.field(0).name(), "k");
        assert!(!s.field(0).is_nullable());
        assert!(s.field(1).is_nullable());
        check_arrow_schema(&s, &s).expect("same");
        let other = Schema::new(vec![Field::new("k", ArrowType::Int64, false)]);
        let err = check_arrow_schema(&s, &other).expect_err("fewer columns");
        assert!(err.message.contains("has 1 columns"), "{}", err.message);
        let other = Schema::new(vec![
            Field::new("k", ArrowType::Int64, false),
            Field::new("v", ArrowType::Utf8, true),
        ]);
        let err = check_arrow_schema(&s, &other).expect_err("other type");
        assert!(err.message.contains("column 'k'"), "{}", err.message);
    }
}
