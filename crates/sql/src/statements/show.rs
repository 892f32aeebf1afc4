//! Pieces of SHOW statements that need more than a flat variant.

use std::fmt;

use sqlparser::ast::{Expr, OrderByExpr};

use super::{Comma, Limit, PartitionNames, TableName};

/// `SHOW TABLET ...` (spec 3.4).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
// Built once per statement; boxing the big variant would only add indirection.
#[allow(clippy::large_enum_variant)]
pub enum ShowTablet {
    /// `SHOW TABLET <tablet_id>`
    ById(u64),
    /// `SHOW TABLET FROM [db.]tbl [PARTITION (p, ...)] [WHERE ...] [ORDER BY ...] [LIMIT ...]`
    FromTable {
        /// The table.
        table: TableName,
        /// Partition names (empty = all).
        partitions: Vec<String>,
        /// `WHERE version = v AND backendid = id AND state = 'NORMAL'` (any expression).
        filter: Option<Expr>,
        /// `ORDER BY` items.
        order_by: Vec<OrderByExpr>,
        /// `LIMIT`.
        limit: Option<Limit>,
    },
}

impl fmt::Display for ShowTablet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShowTablet::ById(id) => write!(f, "SHOW TABLET {id}"),
            ShowTablet::FromTable {
                table,
                partitions,
                filter,
                order_by,
                limit,
            } => {
                write!(f, "SHOW TABLET FROM {table}{}", PartitionNames(partitions))?;
                write_where_order_limit(f, filter.as_ref(), order_by, limit.as_ref())
            }
        }
    }
}

/// Writes ` WHERE e ORDER BY ... LIMIT ...` for whichever parts are present.
pub(crate) fn write_where_order_limit(
    f: &mut fmt::Formatter<'_>,
    filter: Option<&Expr>,
    order_by: &[OrderByExpr],
    limit: Option<&Limit>,
) -> fmt::Result {
    if let Some(e) = filter {
        write!(f, " WHERE {e}")?;
    }
    if !order_by.is_empty() {
        write!(f, " ORDER BY {}", Comma(order_by))?;
    }
    if let Some(l) = limit {
        write!(f, " {l}")?;
    }
    Ok(())
}
