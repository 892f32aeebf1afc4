//! `CREATE TABLE` (the StarRocks subset of spec 3.1) and its pieces, also used
//! by `ALTER TABLE ... ADD PARTITION`.

use std::fmt;

use super::{DqStr, DqStrList, Ident, IdentList, KvList, Str, TableName};

/// Column types we accept. Integer display widths (`INT(11)`, as printed by
/// StarRocks' SHOW CREATE TABLE) are accepted and dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnTypeDef {
    /// `BOOLEAN` / `BOOL`
    Boolean,
    /// `TINYINT`
    TinyInt,
    /// `SMALLINT`
    SmallInt,
    /// `INT` / `INTEGER`
    Int,
    /// `BIGINT`
    BigInt,
    /// `LARGEINT` (128-bit)
    LargeInt,
    /// `FLOAT`
    Float,
    /// `DOUBLE`
    Double,
    /// `DECIMAL[(p[, s])]` and its versioned spellings.
    Decimal {
        /// Which spelling.
        kind: DecimalKind,
        /// Precision, if given.
        precision: Option<u32>,
        /// Scale, if given (only with a precision).
        scale: Option<u32>,
    },
    /// `DATE`
    Date,
    /// `DATETIME`
    DateTime,
    /// `CHAR[(n)]`
    Char(Option<u32>),
    /// `VARCHAR[(n)]`
    Varchar(Option<u32>),
    /// `STRING`
    String,
}

/// The spelling of a decimal type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DecimalKind {
    /// `DECIMAL`
    Decimal,
    /// `DECIMALV2`
    DecimalV2,
    /// `DECIMAL32`
    Decimal32,
    /// `DECIMAL64`
    Decimal64,
    /// `DECIMAL128`
    Decimal128,
}

impl DecimalKind {
    /// The SQL keyword.
    pub fn name(self) -> &'static str {
        match self {
            DecimalKind::Decimal => "DECIMAL",
            DecimalKind::DecimalV2 => "DECIMALV2",
            DecimalKind::Decimal32 => "DECIMAL32",
            DecimalKind::Decimal64 => "DECIMAL64",
            DecimalKind::Decimal128 => "DECIMAL128",
        }
    }
}

impl fmt::Display for DecimalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for ColumnTypeDef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ColumnTypeDef::Boolean => f.write_str("BOOLEAN"),
            ColumnTypeDef::TinyInt => f.write_str("TINYINT"),
            ColumnTypeDef::SmallInt => f.write_str("SMALLINT"),
            ColumnTypeDef::Int => f.write_str("INT"),
            ColumnTypeDef::BigInt => f.write_str("BIGINT"),
            ColumnTypeDef::LargeInt => f.write_str("LARGEINT"),
            ColumnTypeDef::Float => f.write_str("FLOAT"),
            ColumnTypeDef::Double => f.write_str("DOUBLE"),
            ColumnTypeDef::Decimal {
                kind,
                precision,
                scale,
            } => {
                f.write_str(kind.name())?;
                match (precision, scale) {
                    (Some(p), Some(s)) => write!(f, "({p}, {s})"),
                    (Some(p), None) => write!(f, "({p})"),
                    _ => Ok(()),
                }
            }
            ColumnTypeDef::Date => f.write_str("DATE"),
            ColumnTypeDef::DateTime => f.write_str("DATETIME"),
            ColumnTypeDef::Char(n) => write_len(f, "CHAR", *n),
            ColumnTypeDef::Varchar(n) => write_len(f, "VARCHAR", *n),
            ColumnTypeDef::String => f.write_str("STRING"),
        }
    }
}

fn write_len(f: &mut fmt::Formatter<'_>, name: &str, n: Option<u32>) -> fmt::Result {
    match n {
        Some(n) => write!(f, "{name}({n})"),
        None => f.write_str(name),
    }
}

/// Aggregation of a value column in an AGGREGATE KEY table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AggType {
    /// `SUM`
    Sum,
    /// `MAX`
    Max,
    /// `MIN`
    Min,
    /// `REPLACE`
    Replace,
    /// `REPLACE_IF_NOT_NULL`
    ReplaceIfNotNull,
    /// `HLL_UNION`
    HllUnion,
    /// `BITMAP_UNION`
    BitmapUnion,
}

impl AggType {
    /// All aggregation types with their names.
    pub const ALL_NAMES: &'static [(&'static str, AggType)] = &[
        ("SUM", AggType::Sum),
        ("MAX", AggType::Max),
        ("MIN", AggType::Min),
        ("REPLACE", AggType::Replace),
        ("REPLACE_IF_NOT_NULL", AggType::ReplaceIfNotNull),
        ("HLL_UNION", AggType::HllUnion),
        ("BITMAP_UNION", AggType::BitmapUnion),
    ];

    /// Looks a type up by name (case-insensitive).
    pub fn from_name(name: &str) -> Option<AggType> {
        Self::ALL_NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, a)| *a)
    }

    /// The SQL name.
    pub fn name(self) -> &'static str {
        Self::ALL_NAMES
            .iter()
            .find(|(_, a)| *a == self)
            .map(|(n, _)| *n)
            .unwrap_or("SUM")
    }
}

impl fmt::Display for AggType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `DEFAULT ...` of a column.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DefaultValue {
    /// `DEFAULT "v"` / `DEFAULT 5`: the literal's text.
    Literal(String),
    /// `DEFAULT NULL`
    Null,
    /// `DEFAULT CURRENT_TIMESTAMP`
    CurrentTimestamp,
}

impl fmt::Display for DefaultValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DefaultValue::Literal(s) => write!(f, "{}", DqStr(s)),
            DefaultValue::Null => f.write_str("NULL"),
            DefaultValue::CurrentTimestamp => f.write_str("CURRENT_TIMESTAMP"),
        }
    }
}

/// One column of `CREATE TABLE`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ColumnDef {
    /// Column name (case kept).
    pub name: String,
    /// Type.
    pub data_type: ColumnTypeDef,
    /// Aggregation (AGGREGATE KEY tables).
    pub agg_type: Option<AggType>,
    /// `Some(true)` for `NULL`, `Some(false)` for `NOT NULL`, `None` if unsaid.
    pub nullable: Option<bool>,
    /// Default value.
    pub default: Option<DefaultValue>,
    /// `COMMENT '...'`
    pub comment: Option<String>,
}

impl ColumnDef {
    /// A column with only a name and a type.
    pub fn new(name: impl Into<String>, data_type: ColumnTypeDef) -> Self {
        ColumnDef {
            name: name.into(),
            data_type,
            agg_type: None,
            nullable: None,
            default: None,
            comment: None,
        }
    }
}

impl fmt::Display for ColumnDef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", Ident(&self.name), self.data_type)?;
        if let Some(a) = self.agg_type {
            write!(f, " {a}")?;
        }
        match self.nullable {
            Some(true) => f.write_str(" NULL")?,
            Some(false) => f.write_str(" NOT NULL")?,
            None => {}
        }
        if let Some(d) = &self.default {
            write!(f, " DEFAULT {d}")?;
        }
        if let Some(c) = &self.comment {
            write!(f, " COMMENT {}", Str(c))?;
        }
        Ok(())
    }
}

/// Table key model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeysType {
    /// `DUPLICATE KEY` (the default)
    Duplicate,
    /// `AGGREGATE KEY`
    Aggregate,
    /// `UNIQUE KEY`
    Unique,
    /// `PRIMARY KEY`
    Primary,
}

impl fmt::Display for KeysType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeysType::Duplicate => "DUPLICATE",
            KeysType::Aggregate => "AGGREGATE",
            KeysType::Unique => "UNIQUE",
            KeysType::Primary => "PRIMARY",
        })
    }
}

/// `DUPLICATE KEY(k1, ...)` and friends.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeysDesc {
    /// Key model.
    pub keys_type: KeysType,
    /// Key columns.
    pub columns: Vec<String>,
}

impl fmt::Display for KeysDesc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} KEY({})", self.keys_type, IdentList(&self.columns))
    }
}

/// One bound value of `VALUES LESS THAN (...)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PartitionBound {
    /// A literal's text (`"2024-01-01"`, `100`).
    Value(String),
    /// `MAXVALUE`
    MaxValue,
}

impl fmt::Display for PartitionBound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PartitionBound::Value(v) => write!(f, "{}", DqStr(v)),
            PartitionBound::MaxValue => f.write_str("MAXVALUE"),
        }
    }
}

/// The range of one partition.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PartitionValues {
    /// `VALUES LESS THAN (v, ...)`; bare `VALUES LESS THAN MAXVALUE` is `[MaxValue]`.
    LessThan(Vec<PartitionBound>),
    /// `VALUES [(lower, ...), (upper, ...))` (left-closed, right-open).
    Fixed {
        /// Inclusive lower bound.
        lower: Vec<String>,
        /// Exclusive upper bound.
        upper: Vec<String>,
    },
}

impl fmt::Display for PartitionValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PartitionValues::LessThan(b) if b.as_slice() == [PartitionBound::MaxValue] => {
                f.write_str("VALUES LESS THAN MAXVALUE")
            }
            PartitionValues::LessThan(b) => {
                write!(f, "VALUES LESS THAN ({})", super::Comma(b))
            }
            PartitionValues::Fixed { lower, upper } => {
                write!(f, "VALUES [({}), ({}))", DqStrList(lower), DqStrList(upper))
            }
        }
    }
}

/// `PARTITION [IF NOT EXISTS] name VALUES ... [("k" = "v", ...)]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SinglePartition {
    /// Partition name.
    pub name: String,
    /// `IF NOT EXISTS` (ALTER TABLE ... ADD PARTITION only).
    pub if_not_exists: bool,
    /// The range.
    pub values: PartitionValues,
    /// Per-partition properties.
    pub properties: Vec<(String, String)>,
}

impl fmt::Display for SinglePartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PARTITION ")?;
        if self.if_not_exists {
            f.write_str("IF NOT EXISTS ")?;
        }
        write!(f, "{} {}", Ident(&self.name), self.values)?;
        if !self.properties.is_empty() {
            write!(f, " {}", KvList(&self.properties))?;
        }
        Ok(())
    }
}

/// `EVERY (INTERVAL n unit)` / `EVERY (n)` of a batch partition definition.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PartitionEvery {
    /// Step.
    pub value: u64,
    /// Time unit (`DAY`, `MONTH`, ... upper-cased), `None` for numeric columns.
    pub unit: Option<String>,
}

impl fmt::Display for PartitionEvery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.unit {
            Some(u) => write!(f, "EVERY (INTERVAL {} {u})", self.value),
            None => write!(f, "EVERY ({})", self.value),
        }
    }
}

/// One entry of the `PARTITION BY RANGE (...) ( ... )` list.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PartitionDef {
    /// A named partition.
    Single(SinglePartition),
    /// `START ("a") END ("b") EVERY (...)`: generates many partitions.
    Batch {
        /// Inclusive start.
        start: Vec<String>,
        /// Exclusive end.
        end: Vec<String>,
        /// Step.
        every: PartitionEvery,
    },
}

impl fmt::Display for PartitionDef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PartitionDef::Single(p) => write!(f, "{p}"),
            PartitionDef::Batch { start, end, every } => write!(
                f,
                "START ({}) END ({}) {every}",
                DqStrList(start),
                DqStrList(end)
            ),
        }
    }
}

/// `PARTITION BY RANGE (c1, ...) (...)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PartitionDesc {
    /// Partition columns.
    pub columns: Vec<String>,
    /// Partitions (may be empty, e.g. for dynamic partitioning).
    pub partitions: Vec<PartitionDef>,
}

impl fmt::Display for PartitionDesc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PARTITION BY RANGE({}) ({})",
            IdentList(&self.columns),
            super::Comma(&self.partitions)
        )
    }
}

/// `DISTRIBUTED BY ...`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DistributionDesc {
    /// `DISTRIBUTED BY HASH(c, ...) [BUCKETS n]`
    Hash {
        /// Distribution columns.
        columns: Vec<String>,
        /// Bucket count (`None` = automatic). Always > 0.
        buckets: Option<u32>,
    },
    /// `DISTRIBUTED BY RANDOM [BUCKETS n]`
    Random {
        /// Bucket count (`None` = automatic). Always > 0.
        buckets: Option<u32>,
    },
}

impl fmt::Display for DistributionDesc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let buckets = match self {
            DistributionDesc::Hash { columns, buckets } => {
                write!(f, "DISTRIBUTED BY HASH({})", IdentList(columns))?;
                buckets
            }
            DistributionDesc::Random { buckets } => {
                f.write_str("DISTRIBUTED BY RANDOM")?;
                buckets
            }
        };
        if let Some(b) = buckets {
            write!(f, " BUCKETS {b}")?;
        }
        Ok(())
    }
}

/// `CREATE TABLE` (spec 3.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CreateTable {
    /// `IF NOT EXISTS`
    pub if_not_exists: bool,
    /// Table name.
    pub name: TableName,
    /// Columns, in order.
    pub columns: Vec<ColumnDef>,
    /// `ENGINE = x` as written (only OLAP is meaningful).
    pub engine: Option<String>,
    /// Key model and key columns (`None` = DUPLICATE KEY chosen by the FE).
    pub keys: Option<KeysDesc>,
    /// Table comment.
    pub comment: Option<String>,
    /// Range partitioning.
    pub partition: Option<PartitionDesc>,
    /// Bucketing.
    pub distribution: Option<DistributionDesc>,
    /// `ORDER BY (c, ...)` sort key.
    pub order_by: Vec<String>,
    /// `PROPERTIES (...)`, in order.
    pub properties: Vec<(String, String)>,
}

impl fmt::Display for CreateTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CREATE TABLE ")?;
        if self.if_not_exists {
            f.write_str("IF NOT EXISTS ")?;
        }
        write!(f, "{} ({})", self.name, super::Comma(&self.columns))?;
        if let Some(e) = &self.engine {
            write!(f, " ENGINE = {}", Ident(e))?;
        }
        if let Some(k) = &self.keys {
            write!(f, " {k}")?;
        }
        if let Some(c) = &self.comment {
            write!(f, " COMMENT {}", Str(c))?;
        }
        if let Some(p) = &self.partition {
            write!(f, " {p}")?;
        }
        if let Some(d) = &self.distribution {
            write!(f, " {d}")?;
        }
        if !self.order_by.is_empty() {
            write!(f, " ORDER BY ({})", IdentList(&self.order_by))?;
        }
        if !self.properties.is_empty() {
            write!(f, " PROPERTIES {}", KvList(&self.properties))?;
        }
        Ok(())
    }
}
