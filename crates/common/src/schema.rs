//! Table schemas as the FE's catalog and the BE's tablets both know them.

use std::fmt;

use serde::Deserialize;
use serde::Serialize;

/// A column type (StarRocks's everyday subset).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DataType {
    /// BOOLEAN
    Boolean,
    /// TINYINT (8-bit)
    TinyInt,
    /// SMALLINT (16-bit)
    SmallInt,
    /// INT (32-bit)
    Int,
    /// BIGINT (64-bit)
    BigInt,
    /// LARGEINT (128-bit)
    LargeInt,
    /// FLOAT
    Float,
    /// DOUBLE
    Double,
    /// DECIMAL(precision, scale), precision 1..=38.
    Decimal {
        /// Total digits.
        precision: u8,
        /// Digits after the point.
        scale: u8,
    },
    /// DATE
    Date,
    /// DATETIME
    DateTime,
    /// CHAR(n), n 1..=255.
    Char(u32),
    /// VARCHAR(n), n 1..=1048576.
    Varchar(u32),
    /// STRING (VARCHAR(65533) in StarRocks's terms).
    String,
}

impl DataType {
    /// Whether values of this type can be a key or distribution column.
    pub fn can_be_key(self) -> bool {
        !matches!(self, DataType::Float | DataType::Double)
    }

    /// Whether the type is a string type.
    pub fn is_string(self) -> bool {
        matches!(
            self,
            DataType::Char(_) | DataType::Varchar(_) | DataType::String
        )
    }
}

impl fmt::Display for DataType {
    /// The type as `DESC` and `SHOW CREATE TABLE` print it (StarRocks's spelling).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataType::Boolean => f.write_str("boolean"),
            DataType::TinyInt => f.write_str("tinyint(4)"),
            DataType::SmallInt => f.write_str("smallint(6)"),
            DataType::Int => f.write_str("int(11)"),
            DataType::BigInt => f.write_str("bigint(20)"),
            DataType::LargeInt => f.write_str("largeint(40)"),
            DataType::Float => f.write_str("float"),
            DataType::Double => f.write_str("double"),
            DataType::Decimal { precision, scale } => write!(f, "decimal({precision}, {scale})"),
            DataType::Date => f.write_str("date"),
            DataType::DateTime => f.write_str("datetime"),
            DataType::Char(n) => write!(f, "char({n})"),
            DataType::Varchar(n) => write!(f, "varchar({n})"),
            DataType::String => f.write_str("varchar(65533)"),
        }
    }
}

/// One column.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnSchema {
    /// Name (case as written).
    pub name: String,
    /// Type.
    pub data_type: DataType,
    /// Whether NULL is allowed.
    pub nullable: bool,
    /// Whether it is part of the key (DUPLICATE KEY columns, the sort key).
    pub is_key: bool,
    /// DEFAULT value as text, if any.
    pub default: Option<String>,
    /// COMMENT.
    pub comment: String,
}

/// The keys model. Tessera supports StarRocks's duplicate-key model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeysType {
    /// DUPLICATE KEY: rows are kept as loaded, sorted by the key columns.
    Duplicate,
}

impl fmt::Display for KeysType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeysType::Duplicate => f.write_str("DUP_KEYS"),
        }
    }
}

/// A tablet's schema.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableSchema {
    /// Columns in order; key columns first.
    pub columns: Vec<ColumnSchema>,
    /// The keys model.
    pub keys_type: KeysType,
    /// Distribution (bucketing) columns.
    pub distribution_columns: Vec<String>,
    /// Number of buckets (tablets per partition).
    pub buckets: u32,
    /// Changes when the schema changes.
    pub schema_version: u32,
}

impl TableSchema {
    /// A column by name (case-insensitive, as column names are in StarRocks).
    pub fn column(&self, name: &str) -> Option<&ColumnSchema> {
        self.columns
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }
}

/// A value of a range-partition column, comparable across partitions.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum PartitionValue {
    /// An integer column's value.
    Int(i128),
    /// A DATE as days since 1970-01-01, or a DATETIME as seconds since the epoch.
    Time(i64),
}
