//! What a statement answers, independent of the wire protocol (MySQL, forwarding RPC).

use serde::Deserialize;
use serde::Serialize;

/// A column type as the client sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ColType {
    /// Text.
    Varchar,
    /// 64-bit signed integer.
    BigInt,
    /// 32-bit signed integer.
    Int,
    /// Double.
    Double,
    /// `yyyy-MM-dd HH:mm:ss`.
    DateTime,
    /// 8-bit integer (also BOOLEAN, as StarRocks sends it).
    TinyInt,
    /// 16-bit integer.
    SmallInt,
    /// Single-precision float.
    Float,
    /// LARGEINT (128-bit), sent as text.
    LargeInt,
    /// DECIMAL(precision, scale).
    Decimal {
        /// Total digits.
        precision: u8,
        /// Digits after the point.
        scale: u8,
    },
    /// `yyyy-MM-dd`.
    Date,
    /// Every cell is NULL.
    Null,
}

/// One cell.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Cell {
    /// SQL NULL.
    Null,
    /// An integer.
    Int(i64),
    /// A double.
    Double(f64),
    /// Text.
    Text(String),
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::Text(s.to_string())
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell::Text(s)
    }
}

impl From<bool> for Cell {
    fn from(b: bool) -> Self {
        Cell::Text(if b { "true" } else { "false" }.to_string())
    }
}

impl From<i64> for Cell {
    fn from(v: i64) -> Self {
        Cell::Int(v)
    }
}

impl From<u64> for Cell {
    fn from(v: u64) -> Self {
        Cell::Int(v as i64)
    }
}

/// A result set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RowSet {
    /// Column names and types.
    pub columns: Vec<(String, ColType)>,
    /// Rows, each as long as `columns`.
    pub rows: Vec<Vec<Cell>>,
}

impl RowSet {
    /// An empty set with text columns named `names`.
    pub fn with_text_columns(names: &[&str]) -> Self {
        RowSet {
            columns: names
                .iter()
                .map(|n| (n.to_string(), ColType::Varchar))
                .collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row; panics in tests if the width is wrong (a programming error).
    pub fn push(&mut self, row: Vec<Cell>) {
        debug_assert_eq!(row.len(), self.columns.len(), "row width");
        self.rows.push(row);
    }
}

/// The answer to one statement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Outcome {
    /// Done; no rows.
    Ok {
        /// Rows (objects) affected.
        affected: u64,
        /// Extra info shown by clients.
        info: String,
    },
    /// Rows.
    Rows(RowSet),
}

impl Outcome {
    /// OK with `n` rows affected.
    pub fn ok(n: u64) -> Self {
        Outcome::Ok {
            affected: n,
            info: String::new(),
        }
    }
}
