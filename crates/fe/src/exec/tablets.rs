//! `SHOW TABLET`, the `/dbs` branch of `SHOW PROC`, and `SHOW PROC '/statistic'`.

use std::sync::Arc;

use common::Error;
use common::Result;
use meta::catalog::Catalog;
use meta::catalog::table::Partition;
use meta::catalog::table::Replica;
use meta::catalog::table::Table;
use meta::catalog::table::Tablet;
use sql::sqlparser::ast::BinaryOperator;
use sql::sqlparser::ast::Expr;
use sql::sqlparser::ast::OrderByExpr;
use sql::statements::show::ShowTablet;

use crate::exec::backends::format_bytes;
use crate::exec::select::literal_text;
use crate::exec::tables::resolve_db;
use crate::frontend::Frontend;
use crate::outcome::Cell;
use crate::outcome::ColType;
use crate::outcome::Outcome;
use crate::outcome::RowSet;
use crate::session::Session;

/// `SHOW TABLET FROM t` columns.
pub const TABLET_COLUMNS: &[&str] = &[
    "TabletId",
    "ReplicaId",
    "BackendId",
    "SchemaHash",
    "Version",
    "VersionHash",
    "LstSuccessVersion",
    "LstSuccessVersionHash",
    "LstFailedVersion",
    "LstFailedVersionHash",
    "LstFailedTime",
    "DataSize",
    "RowCount",
    "State",
    "LstConsistencyCheckTime",
    "CheckVersion",
    "CheckVersionHash",
    "VersionCount",
    "PathHash",
    "MetaUrl",
    "CompactionStatus",
];

/// An empty result set; the columns in `ints` are BIGINT, the others VARCHAR.
pub(crate) fn typed(columns: &[&str], ints: &[&str]) -> RowSet {
    RowSet {
        columns: columns
            .iter()
            .map(|c| {
                let t = if ints.contains(c) {
                    ColType::BigInt
                } else {
                    ColType::Varchar
                };
                (c.to_string(), t)
            })
            .collect(),
        rows: Vec::new(),
    }
}

fn replica_row(c: &Catalog, tablet: &Tablet, r: &Replica) -> Vec<Cell> {
    let be = c.backends.get(&r.backend_id);
    let url = |path: &str| match be {
        Some(b) if b.status.http_port > 0 => format!(
            "{}://{}:{}{path}{}",
            if b.status.https { "https" } else { "http" },
            b.host,
            b.status.http_port,
            tablet.id
        ),
        _ => "N/A".to_string(),
    };
    vec![
        Cell::Int(tablet.id),
        Cell::Int(r.id),
        Cell::Int(r.backend_id),
        Cell::Int(0),
        Cell::Int(r.version),
        Cell::Int(0),
        Cell::Int(r.last_success_version),
        Cell::Int(0),
        Cell::Int(r.last_failed_version),
        Cell::Int(0),
        Cell::Text(common::clock::format_ms(r.last_failed_time_ms)),
        Cell::Text(format_bytes(r.data_size)),
        Cell::Int(r.row_count),
        Cell::Text(r.state.to_string()),
        Cell::Text("\\N".into()),
        Cell::Int(-1),
        Cell::Int(0),
        Cell::Int(1),
        Cell::Int(0),
        Cell::Text(url("/api/meta/header/")),
        Cell::Text(url("/api/compaction/show?tablet_id=")),
    ]
}

fn tablet_rows(c: &Catalog, partitions: &[&Partition]) -> RowSet {
    let mut rows = typed(
        TABLET_COLUMNS,
        &[
            "TabletId",
            "ReplicaId",
            "BackendId",
            "SchemaHash",
            "Version",
            "LstSuccessVersion",
            "LstFailedVersion",
            "RowCount",
            "VersionCount",
        ],
    );
    for p in partitions {
        for t in &p.tablets {
            if t.replicas.is_empty() {
                let mut row: Vec<Cell> = vec![Cell::Int(t.id)];
                row.extend((1..TABLET_COLUMNS.len()).map(|_| Cell::Int(-1)));
                rows.push(row);
            }
            for r in &t.replicas {
                rows.push(replica_row(c, t, r));
            }
        }
    }
    rows
}

fn cell_text(c: &Cell) -> String {
    match c {
        Cell::Null => "NULL".into(),
        Cell::Int(v) => v.to_string(),
        Cell::Double(v) => v.to_string(),
        Cell::Text(s) => s.clone(),
    }
}

/// The position of a `WHERE` clause's column among a SHOW result's columns (any case).
fn where_column(rows: &RowSet, name: &str) -> Result<usize> {
    rows.columns
        .iter()
        .position(|(n, _)| n.eq_ignore_ascii_case(name))
        .ok_or_else(|| Error::invalid(format!("Unknown column '{name}' in 'where clause'")))
}

/// Keeps the rows matching `col = value [AND ...]` on the named columns (case-insensitive).
pub fn filter_rows(rows: &mut RowSet, expr: &Expr) -> Result<()> {
    fn matches(rows: &RowSet, row: &[Cell], e: &Expr) -> Result<bool> {
        match e {
            Expr::Nested(x) => matches(rows, row, x),
            Expr::BinaryOp { left, op, right } => match op {
                BinaryOperator::And => Ok(matches(rows, row, left)? && matches(rows, row, right)?),
                BinaryOperator::Or => Ok(matches(rows, row, left)? || matches(rows, row, right)?),
                BinaryOperator::Eq | BinaryOperator::NotEq => {
                    let Expr::Identifier(id) = left.as_ref() else {
                        return Err(Error::invalid(format!("unsupported condition {e}")));
                    };
                    let idx = where_column(rows, &id.value)?;
                    let want = literal_text(right)
                        .ok_or_else(|| Error::invalid(format!("unsupported value in {e}")))?;
                    let eq = cell_text(&row[idx]).eq_ignore_ascii_case(&want);
                    Ok(if *op == BinaryOperator::Eq { eq } else { !eq })
                }
                _ => Err(Error::invalid(format!("unsupported condition {e}"))),
            },
            // StarRocks's `LABEL LIKE "x"`: a pattern without wildcards matches labels that
            // contain it; with `%` or `_` it is an ordinary (case-insensitive) LIKE.
            Expr::Like {
                negated,
                any: false,
                expr,
                pattern,
                escape_char: None,
            } => {
                let Expr::Identifier(id) = expr.as_ref() else {
                    return Err(Error::invalid(format!("unsupported condition {e}")));
                };
                let idx = where_column(rows, &id.value)?;
                let want = literal_text(pattern)
                    .ok_or_else(|| Error::invalid(format!("unsupported pattern in {e}")))?;
                let want = if want.contains(['%', '_']) {
                    want
                } else {
                    format!("%{want}%")
                };
                let value = row.get(idx).map(cell_text).unwrap_or_default();
                let hit = crate::exec::variables::like_matches(&want, &value);
                Ok(hit != *negated)
            }
            _ => Err(Error::invalid(format!(
                "unsupported condition {e}; use column = value or LIKE 'pattern' [AND ...]"
            ))),
        }
    }
    let mut kept = Vec::new();
    for r in std::mem::take(&mut rows.rows) {
        if matches(rows, &r, expr)? {
            kept.push(r);
        }
    }
    rows.rows = kept;
    Ok(())
}

pub fn order_rows(rows: &mut RowSet, order_by: &[OrderByExpr]) -> Result<()> {
    for o in order_by.iter().rev() {
        let Expr::Identifier(id) = &o.expr else {
            return Err(Error::invalid(format!(
                "ORDER BY {} is not a column",
                o.expr
            )));
        };
        let idx = rows
            .columns
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(&id.value))
            .ok_or_else(|| {
                Error::invalid(format!("Unknown column '{}' in 'order clause'", id.value))
            })?;
        let desc = o.options.asc == Some(false);
        rows.rows.sort_by(|a, b| {
            let ord = match (&a[idx], &b[idx]) {
                (Cell::Int(x), Cell::Int(y)) => x.cmp(y),
                (x, y) => cell_text(x).cmp(&cell_text(y)),
            };
            if desc { ord.reverse() } else { ord }
        });
    }
    Ok(())
}

/// `SHOW TABLET ...`.
pub fn show_tablet(fe: &Arc<Frontend>, session: &Session, stmt: &ShowTablet) -> Result<Outcome> {
    match stmt {
        ShowTablet::ById(id) => {
            let id = *id as i64;
            let row = fe.journal.state.read(|s| {
                s.catalog.find_tablet(id).map(|(db, t, p, _)| {
                    vec![
                        Cell::Text(db.name.clone()),
                        Cell::Text(t.name.clone()),
                        Cell::Text(p.name.clone()),
                        Cell::Text(t.name.clone()),
                        Cell::Int(db.id),
                        Cell::Int(t.id),
                        Cell::Int(p.id),
                        Cell::Int(t.index_id),
                        Cell::Text("true".into()),
                        Cell::Text(format!(
                            "SHOW PROC '/dbs/{}/{}/partitions/{}/{}/{id}';",
                            db.id, t.id, p.id, t.index_id
                        )),
                    ]
                })
            });
            let row = row.ok_or_else(|| Error::invalid(format!("Tablet {id} does not exist")))?;
            let mut rows = typed(
                &[
                    "DbName",
                    "TableName",
                    "PartitionName",
                    "IndexName",
                    "DbId",
                    "TableId",
                    "PartitionId",
                    "IndexId",
                    "IsSync",
                    "DetailCmd",
                ],
                &["DbId", "TableId", "PartitionId", "IndexId"],
            );
            rows.push(row);
            Ok(Outcome::Rows(rows))
        }
        ShowTablet::FromTable {
            table,
            partitions,
            filter,
            order_by,
            limit,
        } => {
            let db = resolve_db(session, table)?;
            let mut rows = fe.journal.state.read(|s| -> Result<RowSet> {
                let t = s.catalog.table(&db, &table.table).ok_or_else(|| {
                    Error::new(
                        common::StatusCode::TableNotFound,
                        format!("Table '{db}.{}' doesn't exist", table.table),
                    )
                })?;
                let parts: Vec<&Partition> = if partitions.is_empty() {
                    t.partitions.iter().collect()
                } else {
                    partitions
                        .iter()
                        .map(|n| {
                            t.partition(n).ok_or_else(|| {
                                Error::invalid(format!("Partition '{n}' does not exist"))
                            })
                        })
                        .collect::<Result<_>>()?
                };
                Ok(tablet_rows(&s.catalog, &parts))
            })?;
            if let Some(f) = filter {
                filter_rows(&mut rows, f)?;
            }
            order_rows(&mut rows, order_by)?;
            if let Some(l) = limit {
                let skip = l.offset.unwrap_or(0) as usize;
                rows.rows = rows
                    .rows
                    .into_iter()
                    .skip(skip)
                    .take(l.count as usize)
                    .collect();
            }
            Ok(Outcome::Rows(rows))
        }
    }
}

fn find_db<'a>(c: &'a Catalog, key: &str) -> Result<&'a meta::catalog::Database> {
    c.databases
        .values()
        .find(|d| d.id.to_string() == key || d.name == key)
        .ok_or_else(|| Error::invalid(format!("Database '{key}' does not exist")))
}

fn find_tbl<'a>(db: &'a meta::catalog::Database, key: &str) -> Result<&'a Table> {
    db.tables
        .values()
        .find(|t| t.id.to_string() == key || t.name == key)
        .ok_or_else(|| Error::invalid(format!("Table '{key}' does not exist")))
}

/// The `/dbs/...` branch of `SHOW PROC`.
pub fn show_proc_dbs(fe: &Arc<Frontend>, parts: &[&str]) -> Result<RowSet> {
    fe.journal.state.read(|s| {
        let c = &s.catalog;
        match parts {
            [] => {
                let mut rows = typed(
                    &[
                        "DbId",
                        "DbName",
                        "TableNum",
                        "Quota",
                        "LastConsistencyCheckTime",
                        "ReplicaQuota",
                    ],
                    &["DbId", "TableNum"],
                );
                for db in c.databases.values() {
                    rows.push(vec![
                        Cell::Int(db.id),
                        db.name.clone().into(),
                        Cell::Int(db.tables.len() as i64),
                        "8388608.000 TB".into(),
                        Cell::Null,
                        "9223372036854775807".into(),
                    ]);
                }
                Ok(rows)
            }
            [db] => {
                let db = find_db(c, db)?;
                let mut rows = typed(
                    &[
                        "TableId",
                        "TableName",
                        "IndexNum",
                        "PartitionColumnName",
                        "PartitionNum",
                        "State",
                        "Type",
                        "LastConsistencyCheckTime",
                        "ReplicaCount",
                        "PartitionType",
                        "StoragePath",
                    ],
                    &["TableId", "IndexNum", "PartitionNum", "ReplicaCount"],
                );
                for t in db.tables.values() {
                    let replicas: usize = t.tablets().map(|(_, tab)| tab.replicas.len()).sum();
                    rows.push(vec![
                        Cell::Int(t.id),
                        t.name.clone().into(),
                        Cell::Int(1),
                        t.partitioning
                            .as_ref()
                            .map(|p| p.column.clone())
                            .unwrap_or_default()
                            .into(),
                        Cell::Int(t.partitions.len() as i64),
                        "NORMAL".into(),
                        "OLAP".into(),
                        Cell::Null,
                        Cell::Int(replicas as i64),
                        if t.partitioning.is_some() {
                            "RANGE"
                        } else {
                            "UNPARTITIONED"
                        }
                        .into(),
                        Cell::Null,
                    ]);
                }
                Ok(rows)
            }
            [db, tbl] => {
                let db = find_db(c, db)?;
                find_tbl(db, tbl)?;
                let mut rows = RowSet::with_text_columns(&["Name"]);
                for n in ["partitions", "temp_partitions", "index_schema"] {
                    rows.push(vec![n.into()]);
                }
                Ok(rows)
            }
            [db, tbl, "partitions"] => {
                let db = find_db(c, db)?;
                let t = find_tbl(db, tbl)?;
                let mut rows = typed(
                    &[
                        "PartitionId",
                        "PartitionName",
                        "VisibleVersion",
                        "VisibleVersionTime",
                        "VisibleVersionHash",
                        "State",
                        "PartitionKey",
                        "Range",
                        "DistributionKey",
                        "Buckets",
                        "ReplicationNum",
                        "StorageMedium",
                        "CooldownTime",
                        "LastConsistencyCheckTime",
                        "DataSize",
                        "IsInMemory",
                        "RowCount",
                    ],
                    &[
                        "PartitionId",
                        "VisibleVersion",
                        "VisibleVersionHash",
                        "Buckets",
                        "ReplicationNum",
                        "RowCount",
                    ],
                );
                for p in &t.partitions {
                    let range = p
                        .range
                        .as_ref()
                        .map(|r| {
                            format!(
                                "[{}, {})",
                                r.lower
                                    .as_ref()
                                    .map(|b| b.text.clone())
                                    .unwrap_or_else(|| "MIN".into()),
                                r.upper
                                    .as_ref()
                                    .map(|b| b.text.clone())
                                    .unwrap_or_else(|| "MAX".into())
                            )
                        })
                        .unwrap_or_default();
                    // Replicas of one tablet hold the same rows: count one replica per tablet.
                    let (size, rows_n) = p.tablets.iter().fold((0i64, 0i64), |(s, n), tab| {
                        let best = tab
                            .replicas
                            .iter()
                            .map(|r| (r.data_size, r.row_count))
                            .max()
                            .unwrap_or((0, 0));
                        (s + best.0, n + best.1)
                    });
                    rows.push(vec![
                        Cell::Int(p.id),
                        p.name.clone().into(),
                        Cell::Int(p.visible_version),
                        Cell::Text(common::clock::format_ms(p.visible_version_time_ms)),
                        Cell::Int(0),
                        "NORMAL".into(),
                        t.partitioning
                            .as_ref()
                            .map(|x| x.column.clone())
                            .unwrap_or_default()
                            .into(),
                        range.into(),
                        if t.schema.distribution_columns.is_empty() {
                            "ALL KEY".to_string()
                        } else {
                            t.schema.distribution_columns.join(", ")
                        }
                        .into(),
                        Cell::Int(i64::from(p.buckets)),
                        Cell::Int(i64::from(p.replication_num)),
                        "HDD".into(),
                        "9999-12-31 23:59:59".into(),
                        Cell::Null,
                        format_bytes(size).into(),
                        "false".into(),
                        Cell::Int(rows_n),
                    ]);
                }
                Ok(rows)
            }
            [db, tbl, "partitions", pid] => {
                let db = find_db(c, db)?;
                let t = find_tbl(db, tbl)?;
                t.partitions
                    .iter()
                    .find(|p| p.id.to_string() == *pid || p.name == *pid)
                    .ok_or_else(|| Error::invalid(format!("Partition '{pid}' does not exist")))?;
                let mut rows = typed(
                    &["IndexId", "IndexName", "State", "LastConsistencyCheckTime"],
                    &["IndexId"],
                );
                rows.push(vec![
                    Cell::Int(t.index_id),
                    t.name.clone().into(),
                    "NORMAL".into(),
                    Cell::Null,
                ]);
                Ok(rows)
            }
            [db, tbl, "partitions", pid, index] => {
                let db = find_db(c, db)?;
                let t = find_tbl(db, tbl)?;
                let p = t
                    .partitions
                    .iter()
                    .find(|p| p.id.to_string() == *pid || p.name == *pid)
                    .ok_or_else(|| Error::invalid(format!("Partition '{pid}' does not exist")))?;
                if *index != t.index_id.to_string() {
                    return Err(Error::invalid(format!("Index '{index}' does not exist")));
                }
                Ok(tablet_rows(c, &[p]))
            }
            [db, tbl, "partitions", pid, index, tablet] => {
                let db = find_db(c, db)?;
                let t = find_tbl(db, tbl)?;
                let p = t
                    .partitions
                    .iter()
                    .find(|p| p.id.to_string() == *pid || p.name == *pid)
                    .ok_or_else(|| Error::invalid(format!("Partition '{pid}' does not exist")))?;
                if *index != t.index_id.to_string() {
                    return Err(Error::invalid(format!("Index '{index}' does not exist")));
                }
                let tab = p
                    .tablets
                    .iter()
                    .find(|x| x.id.to_string() == *tablet)
                    .ok_or_else(|| Error::invalid(format!("Tablet '{tablet}' does not exist")))?;
                let mut rows = typed(
                    &[
                        "ReplicaId",
                        "BackendId",
                        "Version",
                        "VersionHash",
                        "LstSuccessVersion",
                        "LstSuccessVersionHash",
                        "LstFailedVersion",
                        "LstFailedVersionHash",
                        "LstFailedTime",
                        "SchemaHash",
                        "DataSize",
                        "RowCount",
                        "State",
                        "IsBad",
                        "IsSetBadForce",
                        "VersionCount",
                        "PathHash",
                        "MetaUrl",
                        "CompactionStatus",
                        "IsErrorState",
                    ],
                    &[
                        "ReplicaId",
                        "BackendId",
                        "Version",
                        "LstSuccessVersion",
                        "LstFailedVersion",
                        "RowCount",
                    ],
                );
                for r in &tab.replicas {
                    let full = replica_row(c, tab, r);
                    rows.push(vec![
                        Cell::Int(r.id),
                        Cell::Int(r.backend_id),
                        Cell::Int(r.version),
                        "0".into(),
                        Cell::Int(r.last_success_version),
                        "0".into(),
                        Cell::Int(r.last_failed_version),
                        "0".into(),
                        Cell::Text(common::clock::format_ms(r.last_failed_time_ms)),
                        "0".into(),
                        Cell::Text(format_bytes(r.data_size)),
                        Cell::Int(r.row_count),
                        Cell::Text(r.state.to_string()),
                        r.bad.into(),
                        false.into(),
                        "1".into(),
                        "0".into(),
                        full[19].clone(),
                        full[20].clone(),
                        false.into(),
                    ]);
                }
                Ok(rows)
            }
            _ => Err(Error::invalid(format!(
                "Proc path '/dbs/{}' doesn't exist",
                parts.join("/")
            ))),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::ColType;

    fn labels(filter: &str, order: &str) -> Vec<String> {
        let sql = format!("SHOW LOAD WHERE {filter} {order}");
        let Ok(mut stmts) = sql::parse_statements(&sql) else {
            panic!("parse {sql}")
        };
        let Some(sql::Statement::ShowLoad {
            filter, order_by, ..
        }) = stmts.pop()
        else {
            panic!("not SHOW LOAD: {sql}")
        };
        let mut rows = RowSet {
            columns: vec![
                ("Label".into(), ColType::Varchar),
                ("State".into(), ColType::Varchar),
            ],
            rows: ["csv_1", "tessera_load_t_1", "daily"]
                .iter()
                .map(|l| vec![Cell::Text((*l).into()), Cell::Text("FINISHED".into())])
                .collect(),
        };
        if let Some(f) = filter {
            filter_rows(&mut rows, &f).unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
        order_rows(&mut rows, &order_by).unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows.rows.iter().map(|r| cell_text(&r[0])).collect()
    }

    #[test]
    fn show_load_label_like_matches_as_starrocks() {
        assert_eq!(labels("Label LIKE 'sv'", ""), ["csv_1"]);
        assert_eq!(labels("Label LIKE 'C_v%'", ""), ["csv_1"]);
        assert!(labels("Label LIKE 'sv_'", "").is_empty());
        assert_eq!(
            labels(
                "Label NOT LIKE 'csv' AND State = 'FINISHED'",
                "ORDER BY Label DESC"
            ),
            ["tessera_load_t_1", "daily"]
        );
        assert_eq!(
            labels("Label LIKE '%a%'", "ORDER BY Label"),
            ["daily", "tessera_load_t_1"]
        );
    }
}
