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
use crate::load::expr::Node;
use crate::load::expr::truthy;
use crate::load::value::Value;
use crate::load::value::convert;
pub use crate::load::value::display;
use crate::load::value::parse_datetime;
use crate::load::value::parse_number;
use crate::load::value::show;
use crate::load::value::to_type;
use crate::load::value::type_name;

/// Where a table column's value comes from.
#[derive(Clone, Debug)]
enum Target {
    /// A source field, converted to the column's type.
    Source(usize),
    /// A constant (a literal, the column's default, NULL, or a constant expression). A
    /// column computed by an expression (see `RowPlan::exprs`) has [`COMPUTED`] here, which
    /// `RowPlan::compute` replaces: the per-row loop stays the plain one.
    Const(Value<'static>),
}

/// The placeholder of a computed column until it is computed (not NULL, so the plain loop's
/// NOT NULL check passes it; the computed value is checked instead).
const COMPUTED: Value<'static> = Value::Bool(false);

/// An operand of the filter.
#[derive(Clone, Debug)]
enum Operand {
    /// A table column's converted value.
    Column(usize),
    /// A source field's text (a field no table column takes).
    Source(usize),
    /// A literal.
    Const(Value<'static>),
    /// An expression (a function call, arithmetic, ...).
    Expr(Node),
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
    /// An expression used as a condition (e.g. `if(...)`): its SQL truth.
    Truthy(Operand),
}

/// How each row becomes a table row.
#[derive(Clone, Debug)]
pub struct RowPlan {
    columns: Vec<ColumnSchema>,
    /// Names of the source fields, in order.
    pub sources: Vec<String>,
    targets: Vec<Target>,
    /// The columns computed by expressions, each after the columns its expression uses.
    exprs: Vec<(usize, Node)>,
    filter: Option<Filter>,
    /// The value of `now()` (microseconds since the epoch, UTC): one instant for the load.
    now: i64,
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
        let now = common::clock::now_ms() * 1000;
        let find = |name: &str| {
            columns
                .iter()
                .position(|c| c.name.eq_ignore_ascii_case(name))
        };
        let mut sources: Vec<String> = Vec::new();
        let mut targets: Vec<Option<Target>> = vec![None; columns.len()];
        // Columns computed by expressions: (column, the expression, the columns it uses).
        let mut computed: Vec<Option<(Node, Vec<usize>)>> = vec![None; columns.len()];
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
                // A table column that an item sets with `name = ...`.
                let derived = |name: &str| {
                    items
                        .iter()
                        .any(|i| i.expr.is_some() && i.name.eq_ignore_ascii_case(name))
                        .then(|| find(name))
                        .flatten()
                };
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
                    let c = &columns[col];
                    let target = match &item.expr {
                        None => Target::Source(source(&item.name).unwrap_or(0)),
                        Some(Expr::Col(name))
                            if source(name).is_some() || derived(name).is_none() =>
                        {
                            Target::Source(source(name).ok_or_else(|| {
                                format!(
                                    "columns: `{} = {name}` names no source column (the source \
                                     columns are {})",
                                    item.name,
                                    sources.join(", ")
                                )
                            })?)
                        }
                        Some(Expr::Lit(Lit::Null)) => Target::Const(Value::Null),
                        Some(Expr::Lit(lit)) => {
                            let text = match lit {
                                Lit::Bool(b) => b.to_string(),
                                Lit::Number(n) | Lit::Str(n) => n.clone(),
                                Lit::Null => String::new(),
                            };
                            Target::Const(
                                convert(Cow::Owned(text), c.data_type)
                                    .map_err(|e| format!("columns: the value of {}: {e}", c.name))?
                                    .into_owned(),
                            )
                        }
                        Some(e) => {
                            let mut uses = Vec::new();
                            let node = Node::compile(
                                e,
                                &mut |name: &str| {
                                    if let Some(i) = source(name) {
                                        return Ok(Node::Field(i));
                                    }
                                    match derived(name) {
                                        Some(d) => {
                                            uses.push(d);
                                            Ok(Node::Column(d))
                                        }
                                        None => Err(format!(
                                            "the expression of `{}` uses `{name}`, which names no \
                                             source column (the source columns are {})",
                                            item.name,
                                            sources.join(", ")
                                        )),
                                    }
                                },
                                now,
                            )
                            .map_err(|e| format!("columns: {e}"))?;
                            match node {
                                Node::Const(v) => Target::Const(
                                    to_type(v, c.data_type)
                                        .map_err(|e| {
                                            format!("columns: the value of {}: {e}", c.name)
                                        })?
                                        .into_owned(),
                                ),
                                node => {
                                    computed[col] = Some((node, uses));
                                    Target::Const(COMPUTED)
                                }
                            }
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
        let exprs = order_computed(columns, computed)?;
        let mut plan = RowPlan {
            columns: columns.to_vec(),
            sources,
            targets: resolved,
            exprs,
            filter: None,
            now,
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
            e => {
                let node = Node::compile(
                    e,
                    &mut |name: &str| match self.operand(&Expr::Col(name.to_string()), None)? {
                        Operand::Column(i) => Ok(Node::Column(i)),
                        Operand::Source(i) => Ok(Node::Field(i)),
                        _ => Err(format!("unknown column `{name}`")),
                    },
                    self.now,
                )?;
                Ok(match node {
                    Node::Const(v) => Operand::Const(v),
                    node => Operand::Expr(node),
                })
            }
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
            Expr::Neg(_) | Expr::Arith(..) | Expr::Call(..) | Expr::Cast(..) | Expr::Case(..) => {
                Filter::Truthy(self.operand(e, None)?)
            }
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
        // Columns with expressions, once the columns they may use are there.
        if !self.exprs.is_empty() {
            self.compute(fields, &mut out)?;
        }
        Ok(out)
    }

    /// Computes the columns that have expressions. An expression that cannot be computed for
    /// the row is handled as a value that does not convert: the row is filtered (or, without
    /// `strict_mode`, a nullable column is NULL).
    fn compute<'a>(
        &'a self,
        fields: &[Option<&'a str>],
        out: &mut [Value<'a>],
    ) -> Result<(), String> {
        for (col, node) in &self.exprs {
            let c = &self.columns[*col];
            let v = match node.eval(fields, out).and_then(|v| to_type(v, c.data_type)) {
                Ok(v) => v,
                Err(_) if !self.strict && c.nullable => Value::Null,
                Err(why) => return Err(format!("column {}: {why}", c.name)),
            };
            if v.is_null() && !c.nullable {
                return Err(format!(
                    "column {} is NOT NULL but its expression is NULL",
                    c.name
                ));
            }
            out[*col] = v;
        }
        Ok(())
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
            // A value that cannot be computed is NULL here: the row is not selected.
            Operand::Expr(n) => n.eval(fields, row).unwrap_or(Value::Null),
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
            Filter::Truthy(a) => truthy(&self.value(a, row, fields)),
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

/// The computed columns in an order that computes each after the computed columns it uses.
fn order_computed(
    columns: &[ColumnSchema],
    mut computed: Vec<Option<(Node, Vec<usize>)>>,
) -> Result<Vec<(usize, Node)>, String> {
    fn visit(
        c: usize,
        computed: &[Option<(Node, Vec<usize>)>],
        state: &mut [u8],
        path: &mut Vec<usize>,
        order: &mut Vec<usize>,
        columns: &[ColumnSchema],
    ) -> Result<(), String> {
        match state[c] {
            2 => return Ok(()),
            1 => {
                let start = path.iter().position(|p| *p == c).unwrap_or(0);
                let names: Vec<&str> = path[start..]
                    .iter()
                    .map(|p| columns[*p].name.as_str())
                    .collect();
                return Err(format!(
                    "columns: the expressions of {} use each other in a cycle",
                    names.join(", ")
                ));
            }
            _ => {}
        }
        state[c] = 1;
        path.push(c);
        if let Some((_, uses)) = &computed[c] {
            for u in uses {
                if computed[*u].is_some() {
                    visit(*u, computed, state, path, order, columns)?;
                }
            }
        }
        path.pop();
        state[c] = 2;
        order.push(c);
        Ok(())
    }
    let mut state = vec![0u8; computed.len()];
    let mut order = Vec::new();
    for c in 0..computed.len() {
        if computed[c].is_some() {
            visit(
                c,
                &computed,
                &mut state,
                &mut Vec::new(),
                &mut order,
                columns,
            )?;
        }
    }
    Ok(order
        .into_iter()
        .filter_map(|c| computed[c].take().map(|(node, _)| (c, node)))
        .collect())
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

    /// k INT NOT NULL, d DATE, y INT, s VARCHAR(10), n DECIMAL(6, 2), m INT NOT NULL DEFAULT 0.
    fn wide() -> Vec<ColumnSchema> {
        vec![
            col("k", DataType::Int, false, None),
            col("d", DataType::Date, true, None),
            col("y", DataType::Int, true, None),
            col("s", DataType::Varchar(10), true, None),
            col(
                "n",
                DataType::Decimal {
                    precision: 6,
                    scale: 2,
                },
                true,
                None,
            ),
            col("m", DataType::Int, false, Some("0")),
        ]
    }

    fn wide_plan(columns: &str, filter: Option<&str>, strict: bool) -> Result<RowPlan, String> {
        let items = parse_columns(columns)?;
        let f = filter.map(parse_where).transpose()?;
        RowPlan::new(&wide(), Some(&items), f.as_ref(), strict)
    }

    #[test]
    fn columns_compute_expressions() {
        let p = wide_plan(
            "k, tmp, d = str_to_date(tmp, '%Y/%m/%d'), y = year(d), \
             s = concat(upper(substr(tmp, 1, 2)), '-', k), n = k * 1.5 / 2",
            None,
            true,
        )
        .expect("plan");
        assert_eq!(p.sources, ["k", "tmp"]);
        assert_eq!(
            row(&p, &[Some("7"), Some("2024/03/07")]).expect("row"),
            ["7", "2024-03-07", "2024", "20-7", "5.25", "0"]
        );
        // `y` uses `d`, computed first even though `y` could come first in the header.
        let p = wide_plan("y = year(d) + 1, k, tmp, d = tmp", None, true).expect("plan");
        assert_eq!(
            row(&p, &[Some("1"), Some("2024-12-31")]).expect("row"),
            ["1", "2024-12-31", "2025", "NULL", "NULL", "0"]
        );
        // The plain mapping has nothing to compute.
        let p = wide_plan("k, d, tmp, s = tmp", None, true).expect("plan");
        assert!(p.exprs.is_empty());
        // A constant expression is computed once, when the plan is made.
        let p =
            wide_plan("k, s = concat('a', 'b'), y = 2 * 3, d = now()", None, true).expect("plan");
        assert!(p.exprs.is_empty());
        let r = row(&p, &[Some("1")]).expect("row");
        assert_eq!(r[2..4], ["6", "ab"]);
        let today = display(&Value::Date((common::clock::now_ms() / 86_400_000) as i32));
        assert!(r[1] <= today && !r[1].is_empty(), "{r:?}");
    }

    #[test]
    fn computed_values_that_fail_filter_the_row() {
        let p = wide_plan(
            "k, tmp, d = str_to_date(tmp, '%Y/%m/%d'), y = year(d)",
            None,
            true,
        )
        .expect("plan");
        let e = row(&p, &[Some("1"), Some("garbage")]).expect_err("garbage");
        assert_eq!(
            e,
            "column d: str_to_date: 'garbage' does not match the format '%Y/%m/%d' (expected a \
             year for %Y at position 1)"
        );
        let e = row(&p, &[Some("1"), Some("2024/02/30")]).expect_err("no such day");
        assert!(e.starts_with("column d: str_to_date: "), "{e}");
        assert!(e.contains("day 30 does not exist in 2024-02"), "{e}");
        // NULL in gives NULL out (not an error).
        assert_eq!(
            row(&p, &[Some("1"), None]).expect("null"),
            ["1", "NULL", "NULL", "NULL", "NULL", "0"]
        );
        // Without strict_mode a nullable column is NULL instead, as for values that do not
        // convert.
        let lax = wide_plan(
            "k, tmp, d = str_to_date(tmp, '%Y/%m/%d'), y = year(d)",
            None,
            false,
        )
        .expect("plan");
        assert_eq!(
            row(&lax, &[Some("1"), Some("garbage")]).expect("lax"),
            ["1", "NULL", "NULL", "NULL", "NULL", "0"]
        );
        // The computed value is checked against the column's type.
        let p =
            wide_plan("k, tmp, s = concat(tmp, tmp), n = tmp * 1000", None, true).expect("plan");
        let e = row(&p, &[Some("1"), Some("123456")]).expect_err("too long");
        assert!(
            e.starts_with("column s: the value is 12 bytes, longer than VARCHAR(10)"),
            "{e}"
        );
        let e = row(&p, &[Some("1"), Some("1000")]).expect_err("too big");
        assert_eq!(
            e,
            "column n: 1000000 is out of range for DECIMAL(6, 2) (at most 4 digits before the \
             point)"
        );
        let e = row(&p, &[Some("1"), Some("x")]).expect_err("not a number");
        assert_eq!(e, "column n: 'x' is not a number (an operand of *)");
        // Overflow of the column's integer type.
        let p = wide_plan("k, tmp, y = tmp * 1000", None, true).expect("plan");
        let e = row(&p, &[Some("1"), Some("3000000")]).expect_err("int");
        assert_eq!(
            e,
            "column y: 3000000000 is out of range for INT (-2147483648..2147483647)"
        );
        // Division by zero is NULL: fine for a nullable column, filtered for NOT NULL.
        let p = wide_plan("k, tmp, y = 10 / tmp, m = 10 DIV tmp", None, true).expect("plan");
        assert_eq!(
            row(&p, &[Some("1"), Some("4")]).expect("row"),
            ["1", "NULL", "2", "NULL", "NULL", "2"]
        );
        let e = row(&p, &[Some("1"), Some("0")]).expect_err("NULL into NOT NULL");
        assert_eq!(e, "column m is NOT NULL but its expression is NULL");
        // A NOT NULL column filters NULL even without strict_mode.
        let lax = wide_plan("k, tmp, m = 10 DIV tmp", None, false).expect("plan");
        assert!(row(&lax, &[Some("1"), Some("0")]).is_err());
    }

    #[test]
    fn bad_column_expressions_fail_the_plan() {
        for (columns, want) in [
            (
                "k, v = year(nope)",
                "columns: `v` is not a column of the table",
            ),
            (
                "k, y = year(nope)",
                "columns: the expression of `y` uses `nope`, which names no source column (the \
                 source columns are k)",
            ),
            (
                "k, y = m + 1, m = y + 1",
                "columns: the expressions of y, m use each other in a cycle",
            ),
            (
                "k, y = y + 1",
                "columns: the expressions of y use each other in a cycle",
            ),
            (
                "k, s = concat('0123456789', 'x')",
                "columns: the value of s: the value is 11 bytes, longer than VARCHAR(10) allows \
                 (10 bytes): '0123456789x'",
            ),
            (
                "k = if(1 = 2, 1, NULL)",
                "column k is NOT NULL but the load sets it to NULL",
            ),
            (
                "k, d = date_format(k, '%V')",
                "columns: date_format: the format specifier %V in '%V' is not supported",
            ),
        ] {
            let e = wide_plan(columns, None, true).expect_err(columns);
            assert!(e.starts_with(want), "{columns}: {e}");
        }
        // A constant that cannot be computed is reported by the rows that reach it.
        let p = wide_plan("k, y = cast('x' AS INT) + k", None, true).expect("plan");
        let e = row(&p, &[Some("1")]).expect_err("row");
        assert_eq!(e, "column y: cast: 'x' is not a valid INT");
    }

    #[test]
    fn where_uses_functions() {
        let sel = |columns: &str, w: &str, fields: &[Option<&str>]| {
            let p = wide_plan(columns, Some(w), true).expect("plan");
            let r = p.convert_row(fields).expect("row");
            p.selected(&r, fields)
        };
        let c = "k, tmp, d = str_to_date(tmp, '%Y/%m/%d')";
        let f = [Some("5"), Some("2024/03/07")];
        assert!(sel(c, "year(tmp) = 2024", &f), "a source field");
        assert!(
            sel(c, "year(d) = 2024 AND month(d) IN (2, 3)", &f),
            "a computed column"
        );
        assert!(!sel(c, "year(d) > 2024", &f));
        assert!(sel(c, "k * 2 = 10", &f));
        assert!(sel(c, "d = str_to_date('7.3.2024', '%e.%c.%Y')", &f));
        assert!(sel(c, "substr(tmp, 6, 2) = '03'", &f));
        assert!(
            sel(c, "if(k > 3, 1, 0)", &f),
            "an expression as the condition"
        );
        assert!(!sel(c, "if(k > 9, 1, 0)", &f));
        // A value that cannot be computed is NULL in the filter: the row is not selected.
        let p = wide_plan("k, tmp", Some("year(tmp) = 2024"), true).expect("plan");
        let bad = [Some("1"), Some("garbage")];
        let r = p.convert_row(&bad).expect("row");
        assert!(!p.selected(&r, &bad));
        let e = wide_plan("k", Some("year(nope) = 1"), true).expect_err("unknown");
        assert_eq!(e, "where: unknown column `nope`");
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
