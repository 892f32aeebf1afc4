//! `INSERT` (with StarRocks' `PARTITION (...)` / `WITH LABEL` before the column
//! list) and `EXPLAIN`.

use std::fmt;

use sqlparser::ast::Statement as SqlStatement;

use super::{Ident, PartitionNames};

/// `INSERT {INTO|OVERWRITE} t [PARTITION (p, ...)] [WITH LABEL l] [(cols)] {VALUES ...|query}`.
///
/// The StarRocks-only parts (partition list in that position, label) are taken out
/// before the rest is handed to sqlparser, so `inner` is always a plain
/// `sqlparser::ast::Statement::Insert` (its own `partitioned` is `None` when
/// `partitions` is non-empty).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Insert {
    /// `WITH LABEL l`: the load label (the FE generates `insert_...` when absent).
    pub label: Option<String>,
    /// Target partitions (empty = chosen by the partition key).
    pub partitions: Vec<String>,
    /// The INSERT as sqlparser sees it.
    pub inner: Box<SqlStatement>,
}

impl Insert {
    /// The sqlparser INSERT node.
    pub fn insert(&self) -> Option<&sqlparser::ast::Insert> {
        match self.inner.as_ref() {
            SqlStatement::Insert(i) => Some(i),
            _ => None,
        }
    }

    /// The text sqlparser prints before the column list / source, e.g.
    /// `INSERT INTO db.t `, or `None` for INSERT forms that print anything
    /// else there (then no StarRocks clause may be attached).
    pub(crate) fn display_prefix(insert: &sqlparser::ast::Insert) -> Option<String> {
        if insert.or.is_some()
            || insert.replace_into
            || insert.priority.is_some()
            || !insert.optimizer_hints.is_empty()
            || insert.table_alias.is_some()
            || insert.multi_table_insert_type.is_some()
        {
            return None;
        }
        let mut s = String::from("INSERT");
        if insert.ignore {
            s.push_str(" IGNORE");
        }
        if insert.overwrite {
            s.push_str(" OVERWRITE");
        }
        if insert.into {
            s.push_str(" INTO");
        }
        if insert.has_table_keyword {
            s.push_str(" TABLE");
        }
        s.push(' ');
        s.push_str(&insert.table.to_string());
        s.push(' ');
        Some(s)
    }
}

impl fmt::Display for Insert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.inner.to_string();
        if self.label.is_none() && self.partitions.is_empty() {
            return f.write_str(&inner);
        }
        let prefix = self.insert().and_then(Insert::display_prefix);
        match prefix {
            Some(prefix) if inner.starts_with(&prefix) => {
                f.write_str(prefix.trim_end())?;
                write!(f, "{}", PartitionNames(&self.partitions))?;
                if let Some(l) = &self.label {
                    write!(f, " WITH LABEL {}", Ident(l))?;
                }
                write!(f, " {}", &inner[prefix.len()..])
            }
            // The parser never builds this; print what we can.
            _ => f.write_str(&inner),
        }
    }
}

/// `EXPLAIN [LOGICAL|VERBOSE|COSTS|ANALYZE]`. `Normal` displays as the empty string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExplainLevel {
    /// Plain `EXPLAIN`.
    Normal,
    /// `EXPLAIN LOGICAL`
    Logical,
    /// `EXPLAIN VERBOSE`
    Verbose,
    /// `EXPLAIN COSTS`
    Costs,
    /// `EXPLAIN ANALYZE` (runs the statement).
    Analyze,
}

impl fmt::Display for ExplainLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ExplainLevel::Normal => "",
            ExplainLevel::Logical => "LOGICAL",
            ExplainLevel::Verbose => "VERBOSE",
            ExplainLevel::Costs => "COSTS",
            ExplainLevel::Analyze => "ANALYZE",
        })
    }
}
