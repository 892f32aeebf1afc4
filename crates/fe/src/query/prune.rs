//! Partition and bucket pruning: which tablets a scan can skip because the query's filters
//! rule out every row they could hold.
//!
//! Only plain comparisons of a column with a literal of the column's own type are used
//! (`k = 5`, `dt >= '2024-01-01'`, `k IN (1, 2)`); anything else reads every tablet. A filter
//! only ever removes tablets whose rows could not match, so pruning never changes a result.

use std::collections::BTreeSet;

use common::load::KeyValue;
use common::load::bucket_of;
use common::schema::PartitionValue;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::BinaryExpr;
use datafusion::logical_expr::Expr;
use datafusion::logical_expr::Operator;
use meta::catalog::table::Partition;
use meta::catalog::table::Table;

/// `column op literal`, with the operator turned around when the literal comes first.
fn comparison(e: &Expr) -> Option<(&str, Operator, &ScalarValue)> {
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = e else {
        return None;
    };
    match (left.as_ref(), right.as_ref()) {
        (Expr::Column(c), Expr::Literal(v, _)) => Some((c.name.as_str(), *op, v)),
        (Expr::Literal(v, _), Expr::Column(c)) => Some((c.name.as_str(), op.swap()?, v)),
        _ => None,
    }
}

fn same_column(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// The column's arrow type, if the table has it.
fn column_type(table: &Table, name: &str) -> Option<arrow::datatypes::DataType> {
    column(table, name).map(query::arrow_type)
}

fn column(table: &Table, name: &str) -> Option<common::schema::DataType> {
    table
        .schema
        .columns
        .iter()
        .find(|c| same_column(&c.name, name))
        .map(|c| c.data_type)
}

/// A literal as a range-partition value, when it has exactly the column's type.
fn partition_value(
    v: &ScalarValue,
    col_type: &arrow::datatypes::DataType,
) -> Option<PartitionValue> {
    if &v.data_type() != col_type {
        return None;
    }
    match v {
        ScalarValue::Int8(Some(x)) => Some(PartitionValue::Int(i128::from(*x))),
        ScalarValue::Int16(Some(x)) => Some(PartitionValue::Int(i128::from(*x))),
        ScalarValue::Int32(Some(x)) => Some(PartitionValue::Int(i128::from(*x))),
        ScalarValue::Int64(Some(x)) => Some(PartitionValue::Int(i128::from(*x))),
        ScalarValue::Decimal128(Some(x), _, 0) => Some(PartitionValue::Int(*x)),
        ScalarValue::Date32(Some(d)) => Some(PartitionValue::Time(i64::from(*d))),
        ScalarValue::TimestampMicrosecond(Some(us), None) if us % 1_000_000 == 0 => {
            Some(PartitionValue::Time(us / 1_000_000))
        }
        _ => None,
    }
}

/// Whether some row of `partition` could satisfy every filter.
pub fn partition_may_match(table: &Table, partition: &Partition, filters: &[Expr]) -> bool {
    let (Some(rp), Some(range)) = (&table.partitioning, &partition.range) else {
        return true;
    };
    let Some(col_type) = column_type(table, &rp.column) else {
        return true;
    };
    let lower = range.lower.as_ref().map(|b| &b.value);
    let upper = range.upper.as_ref().map(|b| &b.value);
    let mut conjuncts = Vec::new();
    for f in filters {
        split_and(f, &mut conjuncts);
    }
    for f in conjuncts {
        if let Expr::InList(list) = f {
            if list.negated {
                continue;
            }
            let Expr::Column(c) = list.expr.as_ref() else {
                continue;
            };
            if !same_column(&c.name, &rp.column) {
                continue;
            }
            let values: Option<Vec<PartitionValue>> = list
                .list
                .iter()
                .map(|e| match e {
                    Expr::Literal(v, _) => partition_value(v, &col_type),
                    _ => None,
                })
                .collect();
            if let Some(values) = values
                && values.iter().all(|v| !in_range(v, lower, upper))
            {
                return false;
            }
            continue;
        }
        let Some((name, op, v)) = comparison(f) else {
            continue;
        };
        if !same_column(name, &rp.column) {
            continue;
        }
        let Some(v) = partition_value(v, &col_type) else {
            continue;
        };
        let impossible = match op {
            Operator::Eq => !in_range(&v, lower, upper),
            Operator::Lt => lower.is_some_and(|l| &v <= l),
            Operator::LtEq => lower.is_some_and(|l| &v < l),
            Operator::Gt | Operator::GtEq => upper.is_some_and(|u| &v >= u),
            _ => false,
        };
        if impossible {
            return false;
        }
    }
    true
}

fn in_range(
    v: &PartitionValue,
    lower: Option<&PartitionValue>,
    upper: Option<&PartitionValue>,
) -> bool {
    lower.is_none_or(|l| v >= l) && upper.is_none_or(|u| v < u)
}

fn split_and<'a>(e: &'a Expr, out: &mut Vec<&'a Expr>) {
    match e {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::And,
            right,
        }) => {
            split_and(left, out);
            split_and(right, out);
        }
        other => out.push(other),
    }
}

/// A literal as the load path's bucket hash sees it, when it has exactly the column's type.
fn key_value<'a>(v: &'a ScalarValue, col: common::schema::DataType) -> Option<KeyValue<'a>> {
    if v.data_type() != query::arrow_type(col) {
        return None;
    }
    match v {
        // LARGEINT travels as DECIMAL(38, 0) but hashes as an integer, as loads route it.
        ScalarValue::Decimal128(Some(x), _, _) if col == common::schema::DataType::LargeInt => {
            Some(KeyValue::Int(*x))
        }
        ScalarValue::Null => Some(KeyValue::Null),
        ScalarValue::Boolean(Some(b)) => Some(KeyValue::Int(i128::from(*b))),
        ScalarValue::Int8(Some(x)) => Some(KeyValue::Int(i128::from(*x))),
        ScalarValue::Int16(Some(x)) => Some(KeyValue::Int(i128::from(*x))),
        ScalarValue::Int32(Some(x)) => Some(KeyValue::Int(i128::from(*x))),
        ScalarValue::Int64(Some(x)) => Some(KeyValue::Int(i128::from(*x))),
        ScalarValue::Decimal128(Some(x), _, _) => Some(KeyValue::Decimal(*x)),
        ScalarValue::Date32(Some(d)) => Some(KeyValue::Date(i64::from(*d))),
        ScalarValue::TimestampMicrosecond(Some(us), None) => Some(KeyValue::DateTime(*us)),
        ScalarValue::Utf8(Some(s))
        | ScalarValue::Utf8View(Some(s))
        | ScalarValue::LargeUtf8(Some(s)) => Some(KeyValue::Str(s.as_bytes())),
        _ => None,
    }
}

/// The buckets of `partition` that can hold matching rows, when the filters pin every
/// distribution column to a few values; `None` = all buckets.
pub fn buckets_to_read(
    table: &Table,
    partition: &Partition,
    filters: &[Expr],
) -> Option<BTreeSet<u32>> {
    let dist = &table.schema.distribution_columns;
    if dist.is_empty() {
        return None;
    }
    let mut conjuncts = Vec::new();
    for f in filters {
        split_and(f, &mut conjuncts);
    }
    // Per distribution column: the literals it must equal.
    let mut choices: Vec<Vec<KeyValue<'_>>> = Vec::with_capacity(dist.len());
    for col in dist {
        let col_type = column(table, col)?;
        let mut found: Option<Vec<KeyValue<'_>>> = None;
        for f in &conjuncts {
            if let Some((name, Operator::Eq, v)) = comparison(f)
                && same_column(name, col)
                && let Some(k) = key_value(v, col_type)
            {
                found = Some(vec![k]);
                break;
            }
            if let Expr::InList(list) = f
                && !list.negated
                && let Expr::Column(c) = list.expr.as_ref()
                && same_column(&c.name, col)
            {
                let keys: Option<Vec<KeyValue<'_>>> = list
                    .list
                    .iter()
                    .map(|e| match e {
                        Expr::Literal(v, _) => key_value(v, col_type),
                        _ => None,
                    })
                    .collect();
                if let Some(keys) = keys {
                    found = Some(keys);
                    break;
                }
            }
        }
        choices.push(found?);
    }
    // Every combination of the choices (bounded: past 64 combinations read everything).
    let combos = choices
        .iter()
        .try_fold(1usize, |n, c| n.checked_mul(c.len()))?;
    if combos == 0 || combos > 64 {
        return None;
    }
    let buckets = u32::try_from(partition.tablets.len()).ok()?;
    let mut out = BTreeSet::new();
    let mut idx = vec![0usize; choices.len()];
    loop {
        let keys: Vec<KeyValue<'_>> = idx
            .iter()
            .zip(&choices)
            .map(|(i, c)| c[*i].clone())
            .collect();
        out.insert(bucket_of(&keys, buckets));
        // Next combination.
        let mut pos = 0;
        loop {
            if pos == idx.len() {
                return Some(out);
            }
            idx[pos] += 1;
            if idx[pos] < choices[pos].len() {
                break;
            }
            idx[pos] = 0;
            pos += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use common::schema::ColumnSchema;
    use common::schema::DataType;
    use common::schema::KeysType;
    use common::schema::TableSchema;
    use datafusion::logical_expr::col;
    use datafusion::logical_expr::lit;
    use meta::catalog::table::PartitionBound;
    use meta::catalog::table::PartitionRange;
    use meta::catalog::table::RangePartitioning;
    use meta::catalog::table::Tablet;
    use meta::catalog::table::WriteQuorum;

    use super::*;

    fn column(name: &str, data_type: DataType) -> ColumnSchema {
        ColumnSchema {
            name: name.into(),
            data_type,
            nullable: true,
            is_key: false,
            default: None,
            comment: String::new(),
        }
    }

    fn partition(name: &str, lower: Option<i128>, upper: Option<i128>, buckets: u32) -> Partition {
        let bound = |v: i128| PartitionBound {
            value: PartitionValue::Int(v),
            text: v.to_string(),
        };
        Partition {
            id: 1,
            name: name.into(),
            range: Some(PartitionRange {
                lower: lower.map(bound),
                upper: upper.map(bound),
            }),
            visible_version: 1,
            visible_version_time_ms: 0,
            next_version: 2,
            buckets,
            replication_num: 1,
            tablets: (0..buckets)
                .map(|i| Tablet {
                    id: i64::from(i),
                    replicas: Vec::new(),
                })
                .collect(),
        }
    }

    /// `t (k INT, s VARCHAR, p INT)`, range-partitioned on p: [MIN, 10), [10, 20), [20, MAX);
    /// distributed by (k, s) into 8 buckets.
    fn table() -> Table {
        Table {
            id: 1,
            name: "t".into(),
            index_id: 1,
            schema: TableSchema {
                columns: vec![
                    column("k", DataType::Int),
                    column("s", DataType::Varchar(8)),
                    column("p", DataType::Int),
                ],
                keys_type: KeysType::Duplicate,
                distribution_columns: vec!["k".into(), "s".into()],
                buckets: 8,
                schema_version: 0,
            },
            partitioning: Some(RangePartitioning {
                column: "p".into(),
                data_type: DataType::Int,
            }),
            partitions: vec![
                partition("p0", None, Some(10), 8),
                partition("p1", Some(10), Some(20), 8),
                partition("p2", Some(20), None, 8),
            ],
            replication_num: 1,
            write_quorum: WriteQuorum::Majority,
            replicated_storage: true,
            comment: String::new(),
            create_time_ms: 0,
        }
    }

    fn matching(t: &Table, filters: &[Expr]) -> Vec<String> {
        t.partitions
            .iter()
            .filter(|p| partition_may_match(t, p, filters))
            .map(|p| p.name.clone())
            .collect()
    }

    #[test]
    fn range_filters_skip_partitions_that_cannot_match() {
        let t = table();
        assert_eq!(matching(&t, &[]), ["p0", "p1", "p2"]);
        assert_eq!(matching(&t, &[col("p").eq(lit(15i32))]), ["p1"]);
        assert_eq!(matching(&t, &[col("p").eq(lit(10i32))]), ["p1"]);
        assert_eq!(matching(&t, &[col("p").lt(lit(10i32))]), ["p0"]);
        assert_eq!(matching(&t, &[col("p").lt_eq(lit(10i32))]), ["p0", "p1"]);
        assert_eq!(matching(&t, &[col("p").gt_eq(lit(20i32))]), ["p2"]);
        assert_eq!(matching(&t, &[lit(5i32).gt(col("p"))]), ["p0"]);
        assert_eq!(
            matching(
                &t,
                &[col("p").gt_eq(lit(10i32)).and(col("p").lt(lit(20i32)))]
            ),
            ["p1"]
        );
        assert_eq!(
            matching(&t, &[col("p").in_list(vec![lit(1i32), lit(25i32)], false)]),
            ["p0", "p2"]
        );
        // Not a plain comparison with a literal of the column's type: nothing is skipped.
        assert_eq!(matching(&t, &[col("p").eq(lit(15i64))]), ["p0", "p1", "p2"]);
        assert_eq!(
            matching(&t, &[(col("p") + lit(1i32)).eq(lit(15i32))]),
            ["p0", "p1", "p2"]
        );
        assert_eq!(
            matching(&t, &[col("p").eq(lit(15i32)).or(col("p").eq(lit(25i32)))]),
            ["p0", "p1", "p2"]
        );
        // A filter on another column does not prune partitions.
        assert_eq!(matching(&t, &[col("k").eq(lit(15i32))]), ["p0", "p1", "p2"]);
    }

    #[test]
    fn equality_on_every_distribution_column_picks_the_loads_bucket() {
        let t = table();
        let p = &t.partitions[0];
        let expected = bucket_of(&[KeyValue::Int(7), KeyValue::Str(b"ab")], 8);
        let filters = [col("k").eq(lit(7i32)), col("s").eq(lit("ab"))];
        assert_eq!(
            buckets_to_read(&t, p, &filters),
            Some(BTreeSet::from([expected]))
        );
        // Both orders of operands and a conjunction in one filter.
        let filters = [lit(7i32).eq(col("k")).and(col("s").eq(lit("ab")))];
        assert_eq!(
            buckets_to_read(&t, p, &filters),
            Some(BTreeSet::from([expected]))
        );
        // IN lists give the union.
        let filters = [
            col("k").in_list(vec![lit(7i32), lit(8i32)], false),
            col("s").eq(lit("ab")),
        ];
        let both = BTreeSet::from([
            expected,
            bucket_of(&[KeyValue::Int(8), KeyValue::Str(b"ab")], 8),
        ]);
        assert_eq!(buckets_to_read(&t, p, &filters), Some(both));
        // One distribution column unconstrained: every bucket.
        assert_eq!(buckets_to_read(&t, p, &[col("k").eq(lit(7i32))]), None);
        // A literal of another type than the column's: every bucket.
        let filters = [col("k").eq(lit(7i64)), col("s").eq(lit("ab"))];
        assert_eq!(buckets_to_read(&t, p, &filters), None);
        // NOT IN does not pin values.
        let filters = [
            col("k").in_list(vec![lit(7i32)], true),
            col("s").eq(lit("ab")),
        ];
        assert_eq!(buckets_to_read(&t, p, &filters), None);
    }
}
