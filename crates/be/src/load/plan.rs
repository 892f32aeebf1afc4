//! From source fields to a table row: the `columns` mapping, value conversion, the `where`
//! filter, and routing to a partition and a tablet.

use std::borrow::Cow;

use common::load::LoadPlan;
use common::load::bucket_of;
use common::schema::ColumnSchema;
use common::schema::DataType;

use crate::load::expr::CmpOp;
use crate::load::expr::ColumnItem;
use crate::load::expr::Expr;
use crate::load::expr::Lit;
use crate::load::value::Value;
use crate::load::value::convert;
use crate::load::value::parse_datetime;
use crate::load::value::parse_number;
use crate::load::value::show;
use crate::load::value::type_name;

/// Where a table column's value comes from.
#[derive(Clone, Debug)]
enum Target {
    /// A source field, converted to the column's type.
    Source(usize),
    /// A constant (a literal, the column's default, or NULL).
    Const(Value<'static>),
}

/// An operand of the filter.
#[derive(Clone, Debug)]
enum Operand {
    /// A table column's converted value.
    Column(usize),
    /// A source field's text (a field no table column takes).
    Source(usize),
    /// A literal.
    Const(Value<'static>),
}

#[derive(Clone, Debug)]
enum Filter {
    Cmp(Operand, CmpOp, Operand),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    IsNull(Operand, bool),
    In(Operand, Vec<Operand>, bool),
    Const(Option<bool>),
}

/// How each row becomes a table row.
#[derive(Clone, Debug)]
pub struct RowPlan {
    columns: Vec<ColumnSchema>,
    /// Names of the source fields, in order.
    pub sources: Vec<String>,
    targets: Vec<Target>,
    filter: Option<Filter>,
    strict: bool,
}

/// The value of a column that the load does not mention.
fn default_value(c: &ColumnSchema) -> Result<Value<'static>, String> {
    match &c.default {
        Some(d)
            if d.eq_ignore_ascii_case("CURRENT_TIMESTAMP") || d.eq_ignore_ascii_case("now()") =>
        {
            let micros = common::clock::now_ms() * 1000;
            Ok(match c.data_type {
                DataType::Date => Value::Date(micros.div_euclid(86_400_000_000) as i32),
                _ => Value::DateTime(micros),
            })
        }
        Some(d) if d.eq_ignore_ascii_case("NULL") && c.nullable => Ok(Value::Null),
        Some(d) => convert(Cow::Borrowed(d.as_str()), c.data_type)
            .map(Value::into_owned)
            .map_err(|e| format!("the default of column {}: {e}", c.name)),
        None if c.nullable => Ok(Value::Null),
        None => Err(format!(
            "Column has no default value. column: {} (it is NOT NULL: the load must provide it)",
            c.name
        )),
    }
}

/// A literal as a value to compare with `other` (a column's type, or untyped text).
fn literal(lit: &Lit, other: Option<DataType>) -> Result<Value<'static>, String> {
    let text = match lit {
        Lit::Null => return Ok(Value::Null),
        Lit::Bool(b) => return Ok(Value::Bool(*b)),
        Lit::Number(n) => n.as_str(),
        Lit::Str(s) => s.as_str(),
    };
    match other {
        None => Ok(match lit {
            Lit::Number(n) => parse_number(n).unwrap_or(Value::Str(Cow::Owned(n.clone()))),
            _ => Value::Str(Cow::Owned(text.to_string())),
        }),
        Some(t) if t.is_string() => Ok(Value::Str(Cow::Owned(text.to_string()))),
        Some(DataType::Date | DataType::DateTime) => parse_datetime(text.trim())
            .map(Value::DateTime)
            .map_err(|why| format!("{} is not a date or datetime: {why}", show(text))),
        Some(t) => parse_number(text).ok_or_else(|| {
            format!(
                "{} is not a number (the column is {})",
                show(text),
                type_name(t)
            )
        }),
    }
}

impl RowPlan {
    /// Compiles the mapping and the filter for a table.
    pub fn new(
        columns: &[ColumnSchema],
        items: Option<&[ColumnItem]>,
        filter: Option<&Expr>,
        strict: bool,
    ) -> Result<RowPlan, String> {
        let find = |name: &str| {
            columns
                .iter()
                .position(|c| c.name.eq_ignore_ascii_case(name))
        };
        let mut sources: Vec<String> = Vec::new();
        let mut targets: Vec<Option<Target>> = vec![None; columns.len()];
        match items {
            None => {
                sources = columns.iter().map(|c| c.name.clone()).collect();
                for (i, t) in targets.iter_mut().enumerate() {
                    *t = Some(Target::Source(i));
                }
            }
            Some(items) => {
                for item in items.iter().filter(|i| i.expr.is_none()) {
                    sources.push(item.name.clone());
                }
                let source = |name: &str| sources.iter().position(|s| s.eq_ignore_ascii_case(name));
                for item in items {
                    let Some(col) = find(&item.name) else {
                        if item.expr.is_some() {
                            return Err(format!(
                                "columns: `{}` is not a column of the table",
                                item.name
                            ));
                        }
                        continue; // a source field only other items or the filter use
                    };
                    let target = match &item.expr {
                        None => Target::Source(source(&item.name).unwrap_or(0)),
                        Some(Expr::Col(name)) => Target::Source(source(name).ok_or_else(|| {
                            format!(
                                "columns: `{} = {name}` names no source column (the source \
                                 columns are {})",
                                item.name,
                                sources.join(", ")
                            )
                        })?),
                        Some(Expr::Lit(Lit::Null)) => Target::Const(Value::Null),
                        Some(Expr::Lit(lit)) => {
                            let text = match lit {
                                Lit::Bool(b) => b.to_string(),
                                Lit::Number(n) | Lit::Str(n) => n.clone(),
                                Lit::Null => String::new(),
                            };
                            let c = &columns[col];
                            Target::Const(
                                convert(Cow::Owned(text), c.data_type)
                                    .map_err(|e| format!("columns: the value of {}: {e}", c.name))?
                                    .into_owned(),
                            )
                        }
                        Some(_) => {
                            return Err(format!(
                                "columns: the expression of `{}` is not supported",
                                item.name
                            ));
                        }
                    };
                    targets[col] = Some(target);
                }
            }
        }
        let mut resolved = Vec::with_capacity(columns.len());
        for (c, t) in columns.iter().zip(targets) {
            let t = match t {
                Some(t) => t,
                None => Target::Const(default_value(c)?),
            };
            if let Target::Const(Value::Null) = t
                && !c.nullable
            {
                return Err(format!(
                    "column {} is NOT NULL but the load sets it to NULL",
                    c.name
                ));
            }
            resolved.push(t);
        }
        let mut plan = RowPlan {
            columns: columns.to_vec(),
            sources,
            targets: resolved,
            filter: None,
            strict,
        };
        if let Some(f) = filter {
            plan.filter = Some(plan.compile(f).map_err(|e| format!("where: {e}"))?);
        }
        Ok(plan)
    }

    fn operand(&self, e: &Expr, other: Option<&Expr>) -> Result<Operand, String> {
        match e {
            Expr::Col(name) => {
                if let Some(i) = self
                    .columns
                    .iter()
                    .position(|c| c.name.eq_ignore_ascii_case(name))
                {
                    return Ok(Operand::Column(i));
                }
                self.sources
                    .iter()
                    .position(|s| s.eq_ignore_ascii_case(name))
                    .map(Operand::Source)
                    .ok_or_else(|| format!("unknown column `{name}`"))
            }
            Expr::Lit(lit) => {
                let ty = match other {
                    Some(Expr::Col(name)) => self
                        .columns
                        .iter()
                        .find(|c| c.name.eq_ignore_ascii_case(name))
                        .map(|c| c.data_type),
                    _ => None,
                };
                literal(lit, ty).map(Operand::Const)
            }
            _ => Err("only columns and literals can be compared".into()),
        }
    }

    fn compile(&self, e: &Expr) -> Result<Filter, String> {
        Ok(match e {
            Expr::Cmp(a, op, b) => {
                Filter::Cmp(self.operand(a, Some(b))?, *op, self.operand(b, Some(a))?)
            }
            Expr::And(a, b) => Filter::And(Box::new(self.compile(a)?), Box::new(self.compile(b)?)),
            Expr::Or(a, b) => Filter::Or(Box::new(self.compile(a)?), Box::new(self.compile(b)?)),
            Expr::Not(a) => Filter::Not(Box::new(self.compile(a)?)),
            Expr::IsNull(a, neg) => Filter::IsNull(self.operand(a, None)?, *neg),
            Expr::In(a, list, neg) => Filter::In(
                self.operand(a, None)?,
                list.iter()
                    .map(|x| self.operand(x, Some(a)))
                    .collect::<Result<_, _>>()?,
                *neg,
            ),
            Expr::Lit(Lit::Bool(b)) => Filter::Const(Some(*b)),
            Expr::Lit(Lit::Null) => Filter::Const(None),
            Expr::Col(c) => {
                return Err(format!(
                    "`{c}` alone is not a condition (compare it, e.g. `{c} = 1`)"
                ));
            }
            Expr::Lit(_) => return Err("a literal alone is not a condition".into()),
        })
    }

    /// The table's columns.
    pub fn columns(&self) -> &[ColumnSchema] {
        &self.columns
    }

    /// Converts one source row. `Err` is why the row is filtered.
    pub fn convert_row<'a>(&'a self, fields: &[Option<&'a str>]) -> Result<Vec<Value<'a>>, String> {
        if fields.len() != self.sources.len() {
            return Err(format!(
                "Value count does not match column count. Expect {}, but got {}",
                self.sources.len(),
                fields.len()
            ));
        }
        let mut out = Vec::with_capacity(self.targets.len());
        for (c, t) in self.columns.iter().zip(&self.targets) {
            let v = match t {
                Target::Const(v) => v.borrowed(),
                Target::Source(i) => match fields[*i] {
                    None => Value::Null,
                    Some(text) => match convert(Cow::Borrowed(text), c.data_type) {
                        Ok(v) => v,
                        Err(_) if !self.strict && c.nullable => Value::Null,
                        Err(why) => return Err(format!("column {}: {why}", c.name)),
                    },
                },
            };
            if v.is_null() && !c.nullable {
                return Err(format!(
                    "column {} is NOT NULL but the value is NULL",
                    c.name
                ));
            }
            out.push(v);
        }
        Ok(out)
    }

    fn value<'v>(
        &self,
        o: &'v Operand,
        row: &'v [Value<'v>],
        fields: &[Option<&'v str>],
    ) -> Value<'v> {
        match o {
            Operand::Column(i) => row[*i].borrowed(),
            Operand::Source(i) => match fields.get(*i).copied().flatten() {
                Some(s) => Value::Str(Cow::Borrowed(s)),
                None => Value::Null,
            },
            Operand::Const(v) => v.borrowed(),
        }
    }

    fn eval<'v>(
        &self,
        f: &Filter,
        row: &'v [Value<'v>],
        fields: &[Option<&'v str>],
    ) -> Option<bool> {
        match f {
            Filter::Const(b) => *b,
            Filter::Cmp(a, op, b) => {
                let (a, b) = (self.value(a, row, fields), self.value(b, row, fields));
                a.compare(&b).map(|o| op.holds(o))
            }
            Filter::And(a, b) => match (self.eval(a, row, fields), self.eval(b, row, fields)) {
                (Some(false), _) | (_, Some(false)) => Some(false),
                (Some(true), Some(true)) => Some(true),
                _ => None,
            },
            Filter::Or(a, b) => match (self.eval(a, row, fields), self.eval(b, row, fields)) {
                (Some(true), _) | (_, Some(true)) => Some(true),
                (Some(false), Some(false)) => Some(false),
                _ => None,
            },
            Filter::Not(a) => self.eval(a, row, fields).map(|b| !b),
            Filter::IsNull(a, neg) => Some(self.value(a, row, fields).is_null() != *neg),
            Filter::In(a, list, neg) => {
                let v = self.value(a, row, fields);
                if v.is_null() {
                    return None;
                }
                let mut unknown = false;
                for x in list {
                    match v.compare(&self.value(x, row, fields)) {
                        Some(std::cmp::Ordering::Equal) => return Some(!*neg),
                        None => unknown = true,
                        Some(_) => {}
                    }
                }
                if unknown { None } else { Some(*neg) }
            }
        }
    }

    /// Whether a converted row passes the `where` filter (NULL counts as not passing).
    pub fn selected<'v>(&self, row: &'v [Value<'v>], fields: &[Option<&'v str>]) -> bool {
        match &self.filter {
            None => true,
            Some(f) => self.eval(f, row, fields) == Some(true),
        }
    }
}

/// (year, month, day) of days since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A value as SQL would print it, for messages.
pub fn display(v: &Value<'_>) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Bool(b) => u8::from(*b).to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Decimal(u, s) => {
            if *s == 0 {
                return u.to_string();
            }
            let p = 10i128.pow(u32::from(*s));
            let sign = if *u < 0 { "-" } else { "" };
            format!(
                "{sign}{}.{:0w$}",
                (u / p).abs(),
                (u % p).abs(),
                w = usize::from(*s)
            )
        }
        Value::Date(d) => {
            let (y, m, d) = civil_from_days(i64::from(*d));
            format!("{y:04}-{m:02}-{d:02}")
        }
        Value::DateTime(t) => {
            let (y, m, d) = civil_from_days(t.div_euclid(86_400_000_000));
            let us = t.rem_euclid(86_400_000_000);
            let secs = us / 1_000_000;
            let frac = us % 1_000_000;
            let base = format!(
                "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
                secs / 3600,
                secs / 60 % 60,
                secs % 60
            );
            if frac == 0 {
                base
            } else {
                format!("{base}.{frac:06}")
            }
        }
        Value::Str(s) => s.to_string(),
    }
}

/// Routes rows to a partition (by the partition column) and a tablet (by [`bucket_of`] over
/// the distribution columns, or round-robin for RANDOM distribution).
pub struct Router {
    partition_col: Option<usize>,
    dist_cols: Vec<usize>,
    /// Per partition: the next tablet for round-robin.
    next: Vec<usize>,
}

impl Router {
    /// Checks the plan's partitions and resolves the columns.
    pub fn new(plan: &LoadPlan) -> Result<Router, String> {
        let cols = &plan.schema.columns;
        let find = |name: &str| {
            cols.iter()
                .position(|c| c.name.eq_ignore_ascii_case(name))
                .ok_or_else(|| format!("the load plan names column {name}, which the table lacks"))
        };
        let partition_col = plan.partition_column.as_deref().map(find).transpose()?;
        let dist_cols = plan
            .schema
            .distribution_columns
            .iter()
            .map(|c| find(c))
            .collect::<Result<Vec<_>, _>>()?;
        if plan.partitions.is_empty() {
            return Err(format!("table {} has no partitions", plan.table));
        }
        if let Some(p) = plan.partitions.iter().find(|p| p.tablets.is_empty()) {
            return Err(format!(
                "partition {} has no tablets in the load plan",
                p.name
            ));
        }
        Ok(Router {
            partition_col,
            dist_cols,
            next: vec![0; plan.partitions.len()],
        })
    }

    /// (partition index, tablet index) of a row; `Err` is why the row is filtered.
    pub fn route(&mut self, plan: &LoadPlan, row: &[Value<'_>]) -> Result<(usize, usize), String> {
        let p = match self.partition_col {
            None => 0,
            Some(i) => {
                let v = &row[i];
                let found = match v.partition_value() {
                    Some(pv) => plan.partitions.iter().position(|p| p.contains(&pv)),
                    // NULL sorts first: it belongs to the partition that starts at MIN.
                    None if v.is_null() => plan.partitions.iter().position(|p| p.lower.is_none()),
                    None => None,
                };
                found.ok_or_else(|| {
                    format!(
                        "no partition for value {} of column {} (the row is out of the \
                         partitions' ranges; add a partition)",
                        display(v),
                        plan.schema.columns[i].name
                    )
                })?
            }
        };
        let n = plan.partitions[p].tablets.len();
        let t = if self.dist_cols.is_empty() {
            let t = self.next[p] % n;
            self.next[p] = (t + 1) % n;
            t
        } else {
            let keys: Vec<_> = self.dist_cols.iter().map(|i| row[*i].key()).collect();
            bucket_of(&keys, u32::try_from(n).unwrap_or(u32::MAX)) as usize
        };
        Ok((p, t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::expr::parse_columns;
    use crate::load::expr::parse_where;
    use common::load::PlanPartition;
    use common::load::PlanTablet;
    use common::schema::KeysType;
    use common::schema::PartitionValue;
    use common::schema::TableSchema;

    fn col(name: &str, t: DataType, nullable: bool, default: Option<&str>) -> ColumnSchema {
        ColumnSchema {
            name: name.into(),
            data_type: t,
            nullable,
            is_key: false,
            default: default.map(str::to_string),
            comment: String::new(),
        }
    }

    fn table() -> Vec<ColumnSchema> {
        vec![
            col("k", DataType::Int, false, None),
            col("v", DataType::Varchar(5), true, None),
            col("d", DataType::Date, true, Some("2024-01-01")),
        ]
    }

    fn plan(columns: Option<&str>, filter: Option<&str>) -> Result<RowPlan, String> {
        let items = columns.map(|c| parse_columns(c).expect("columns"));
        let f = filter.map(|w| parse_where(w).expect("where"));
        RowPlan::new(&table(), items.as_deref(), f.as_ref(), true)
    }

    fn row<'a>(p: &'a RowPlan, fields: &[Option<&'a str>]) -> Result<Vec<String>, String> {
        p.convert_row(fields)
            .map(|r| r.iter().map(display).collect())
    }

    #[test]
    fn positional_mapping_and_null_rules() {
        let p = plan(None, None).expect("plan");
        assert_eq!(p.sources, ["k", "v", "d"]);
        assert_eq!(
            row(&p, &[Some("1"), Some("ab"), Some("2024-02-03")]).expect("ok"),
            ["1", "ab", "2024-02-03"]
        );
        assert_eq!(
            row(&p, &[Some("1"), None, None]).expect("ok"),
            ["1", "NULL", "NULL"]
        );
        let e = row(&p, &[None, None, None]).expect_err("NOT NULL");
        assert!(e.contains("column k is NOT NULL"), "{e}");
        let e = row(&p, &[Some("1"), Some("x")]).expect_err("count");
        assert_eq!(
            e,
            "Value count does not match column count. Expect 3, but got 2"
        );
        let e = row(&p, &[Some("x"), None, None]).expect_err("bad int");
        assert!(e.starts_with("column k: 'x' is not a valid INT"), "{e}");
        let e = row(&p, &[Some("1"), Some("toolong"), None]).expect_err("long");
        assert!(e.contains("longer than VARCHAR(5)"), "{e}");
        // Non-strict: a bad value in a nullable column becomes NULL.
        let lax = RowPlan::new(&table(), None, None, false).expect("plan");
        assert_eq!(
            row(&lax, &[Some("1"), Some("toolong"), Some("x")]).expect("ok"),
            ["1", "NULL", "NULL"]
        );
        assert!(
            row(&lax, &[Some("x"), None, None]).is_err(),
            "NOT NULL still filters"
        );
    }

    #[test]
    fn columns_header_maps_skips_and_sets() {
        let p = plan(Some("tmp, k, v = tmp"), None).expect("plan");
        assert_eq!(p.sources, ["tmp", "k"]);
        assert_eq!(
            row(&p, &[Some("hi"), Some("7")]).expect("ok"),
            ["7", "hi", "2024-01-01"],
            "d takes its default"
        );
        let p = plan(Some("k, v = 'lit', d = NULL"), None).expect("plan");
        assert_eq!(row(&p, &[Some("3")]).expect("ok"), ["3", "lit", "NULL"]);
        let e = plan(Some("v"), None).expect_err("k has no default");
        assert!(e.contains("Column has no default value. column: k"), "{e}");
        let e = plan(Some("k, x = 1"), None).expect_err("unknown target");
        assert!(e.contains("not a column of the table"), "{e}");
        let e = plan(Some("k, v = nope"), None).expect_err("unknown source");
        assert!(e.contains("names no source column"), "{e}");
        let e = plan(Some("k = NULL, v"), None).expect_err("NULL into NOT NULL");
        assert!(e.contains("NOT NULL"), "{e}");
        let e = plan(Some("k, v = 'toolong'"), None).expect_err("literal too long");
        assert!(e.contains("VARCHAR(5)"), "{e}");
    }

    #[test]
    fn where_filters_with_sql_semantics() {
        let sel = |w: &str, fields: &[Option<&str>]| {
            let p = plan(Some("k, v, d, extra"), Some(w)).expect("plan");
            let r = p.convert_row(fields).expect("row");
            p.selected(&r, fields)
        };
        let f = [Some("5"), Some("abc"), Some("2024-03-01"), Some("x")];
        assert!(sel("k = 5", &f));
        assert!(sel("k > 4 AND k <= 5", &f));
        assert!(!sel("k != 5", &f));
        assert!(sel("k < 2 OR v = 'abc'", &f));
        assert!(sel("NOT k = 6", &f));
        assert!(sel("d >= '2024-03-01'", &f));
        assert!(!sel("d > '2024-03-01 00:00:01'", &f));
        assert!(sel("extra = 'x'", &f), "a source-only column");
        assert!(sel("k in (1, 5)", &f));
        assert!(sel("k not in (1, 2)", &f));
        assert!(sel("v IS NOT NULL", &f));
        assert!(sel("k = 5.0", &f));
        let n = [Some("5"), None, None, None];
        assert!(!sel("v = 'abc'", &n), "NULL is not selected");
        assert!(!sel("NOT v = 'abc'", &n), "NOT NULL is NULL");
        assert!(sel("v IS NULL", &n));
        assert!(sel("v = 'a' OR k = 5", &n), "OR with a true side");
        for (w, why) in [
            ("nope = 1", "unknown column"),
            ("k = 'abc'", "not a number"),
            ("d = 'xyz'", "not a date"),
            ("k", "not a condition"),
        ] {
            let items = parse_columns("k, v, d").expect("columns");
            let e = RowPlan::new(
                &table(),
                Some(&items),
                Some(&parse_where(w).expect("parse")),
                true,
            )
            .expect_err(w);
            assert!(e.contains(why), "{w}: {e}");
            assert!(e.starts_with("where: "), "{e}");
        }
    }

    fn load_plan(partition: bool, dist: &[&str]) -> LoadPlan {
        let tablets = |base: i64| {
            (0..4)
                .map(|i| PlanTablet {
                    tablet_id: base + i,
                    replicas: Vec::new(),
                })
                .collect::<Vec<_>>()
        };
        let part = |id: i64, lower: Option<i64>, upper: Option<i64>| PlanPartition {
            partition_id: id,
            name: format!("p{id}"),
            lower: lower.map(PartitionValue::Time),
            upper: upper.map(PartitionValue::Time),
            tablets: tablets(id * 10),
        };
        LoadPlan {
            txn_id: 1,
            db: "db".into(),
            db_id: 1,
            table: "t".into(),
            table_id: 2,
            schema: TableSchema {
                columns: table(),
                keys_type: KeysType::Duplicate,
                distribution_columns: dist.iter().map(|s| s.to_string()).collect(),
                buckets: 4,
                schema_version: 0,
            },
            partition_column: partition.then(|| "d".to_string()),
            partitions: if partition {
                vec![
                    part(1, None, Some(19_723)),
                    part(2, Some(19_723), Some(19_800)),
                ]
            } else {
                vec![part(1, None, None)]
            },
            quorum: 1,
            replication_num: 1,
            deadline_ms: 0,
        }
    }

    #[test]
    fn routing_by_partition_and_bucket() {
        let lp = load_plan(true, &["k"]);
        let mut r = Router::new(&lp).expect("router");
        // 2024-01-01 is day 19723: the second partition.
        let row = |k: i128, d: Option<i32>| {
            vec![
                Value::Int(k),
                Value::Null,
                d.map(Value::Date).unwrap_or(Value::Null),
            ]
        };
        assert_eq!(r.route(&lp, &row(1, Some(19_722))).expect("p1").0, 0);
        assert_eq!(r.route(&lp, &row(1, Some(19_723))).expect("p2").0, 1);
        assert_eq!(r.route(&lp, &row(1, None)).expect("NULL goes first").0, 0);
        let e = r
            .route(&lp, &row(1, Some(19_800)))
            .expect_err("out of range");
        assert!(
            e.contains("no partition for value 2024-03-18 of column d"),
            "{e}"
        );
        let b = r.route(&lp, &row(42, Some(1))).expect("route").1;
        assert_eq!(b as u32, bucket_of(&[common::load::KeyValue::Int(42)], 4));
        // RANDOM distribution: round-robin.
        let lp = load_plan(false, &[]);
        let mut r = Router::new(&lp).expect("router");
        let got: Vec<usize> = (0..6)
            .map(|_| r.route(&lp, &row(1, None)).expect("route").1)
            .collect();
        assert_eq!(got, [0, 1, 2, 3, 0, 1]);
    }

    #[test]
    fn display_formats() {
        assert_eq!(display(&Value::Decimal(-1205, 2)), "-12.05");
        assert_eq!(display(&Value::Decimal(-5, 2)), "-0.05");
        assert_eq!(display(&Value::Date(19_782)), "2024-02-29");
        assert_eq!(display(&Value::Date(-719_528)), "0000-01-01");
        assert_eq!(
            display(&Value::DateTime(19_782 * 86_400_000_000 + 3_723_000_001)),
            "2024-02-29 01:02:03.000001"
        );
        assert_eq!(display(&Value::DateTime(-1_000_000)), "1969-12-31 23:59:59");
    }
}
