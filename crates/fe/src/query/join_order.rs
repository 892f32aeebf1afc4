//! Join order: the inner equi-joins of a query, reordered so intermediate results stay small.
//!
//! DataFusion joins tables in the order the query names them (`FROM a, b, c` joins a with b,
//! then with c) and only chooses which side of each join to build. TPC-H Q7 names lineitem
//! second, so its 1.8M rows met supplier and orders before the two-row nation filter
//! could shrink anything. This rule, a logical optimizer rule after DataFusion's own, takes
//! each tree of inner equi-joins apart (through the column-only projections between them),
//! estimates the size of every join with a simple model, and rebuilds it as the left-deep
//! tree whose intermediate results add up to the fewest estimated rows (searched exhaustively
//! over sets of tables, for up to 12 tables).
//!
//! The model knows no column statistics, only what the catalog knows:
//! - a table's rows are its replicas' row counts, times a fixed guess per filter (`=` 0.1,
//!   a range bound 0.33, `BETWEEN` 0.25, `IN` 0.1 per value, `LIKE` 0.25, ...);
//! - the values of a join key are at most the rows of the smallest table among the key's
//!   equals whose leading key column it is (`n_nationkey` has 25 values, so does every
//!   `*_nationkey` joined to it), and otherwise at most the rows of the table it is in;
//! - a join of sets of R and S rows on a key with at most D values gives
//!   `R * S / max(min(R, D), min(S, D))`.
//!
//! Only inner joins with equality keys are moved; outer joins, and anything whose size the
//! model cannot guess (a subquery, a table function), keep their place. A semi or anti join
//! on the result of inner joins whose keys come from one table is first moved onto that
//! table (see [`push_semi_join`]). When
//! the tree cannot be rebuilt (it would need a cross join), it is left as it was. A final
//! projection gives the rebuilt tree the original's columns, in order.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::catalog::default_table_source::source_as_provider;
use datafusion::common::Column;
use datafusion::common::NullEquality;
use datafusion::common::Result as DfResult;
use datafusion::common::tree_node::Transformed;
use datafusion::common::tree_node::TreeNode;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::logical_expr::Expr;
use datafusion::logical_expr::Filter;
use datafusion::logical_expr::Join;
use datafusion::logical_expr::JoinConstraint;
use datafusion::logical_expr::JoinType;
use datafusion::logical_expr::LogicalPlan;
use datafusion::logical_expr::LogicalPlanBuilder;
use datafusion::logical_expr::Operator;
use datafusion::logical_expr::utils::conjunction;
use datafusion::optimizer::OptimizerConfig;
use datafusion::optimizer::OptimizerRule;

use super::scan::TesseraTable;

/// The rule.
#[derive(Debug, Default)]
pub struct ReorderJoins;

impl OptimizerRule for ReorderJoins {
    fn name(&self) -> &str {
        "tessera_reorder_joins"
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        _config: &dyn OptimizerConfig,
    ) -> DfResult<Transformed<LogicalPlan>> {
        optimize(plan)
    }
}

fn is_inner_equi(plan: &LogicalPlan) -> bool {
    matches!(plan, LogicalPlan::Join(j)
        if j.join_type == JoinType::Inner
            && !j.on.is_empty()
            && j.null_equality == NullEquality::NullEqualsNothing
            && !j.null_aware)
}

/// A projection of plain columns over an inner equi-join: part of the join tree.
fn is_inner_projection(plan: &LogicalPlan) -> bool {
    matches!(plan, LogicalPlan::Projection(p)
        if p.expr.iter().all(|e| matches!(e, Expr::Column(_))) && is_inner_equi(&p.input))
}

fn optimize(plan: LogicalPlan) -> DfResult<Transformed<LogicalPlan>> {
    if let Some(pushed) = push_semi_join(&plan)? {
        return Ok(Transformed::yes(optimize(pushed)?.data));
    }
    if !is_inner_equi(&plan) {
        return plan.map_children(optimize);
    }
    // The tree's leaves first (they may hold join trees of their own).
    let inner = within_tree(plan)?;
    let mut tree = Tree::default();
    tree.flatten(&inner.data);
    match reorder(&inner.data, &tree) {
        Ok(Some(new)) => Ok(Transformed::yes(new)),
        Ok(None) => Ok(inner),
        Err(e) => {
            tracing::debug!(%e, "join order kept");
            Ok(inner)
        }
    }
}

/// A semi or anti join above a tree of inner joins whose keys (and condition) use one table
/// of the tree, moved down onto that table: `(A JOIN B) SEMI JOIN S ON A.k = S.k` is
/// `(A SEMI JOIN S) JOIN B`. It then filters that table before the inner joins rather
/// than their result (TPC-H Q18: 57 orders out of 1.5M, before the joins with customer and
/// lineitem). `None` when the join is not of that shape.
fn push_semi_join(plan: &LogicalPlan) -> DfResult<Option<LogicalPlan>> {
    let LogicalPlan::Join(j) = plan else {
        return Ok(None);
    };
    if !matches!(j.join_type, JoinType::LeftSemi | JoinType::LeftAnti)
        || j.on.is_empty()
        || j.null_aware
        || j.null_equality != NullEquality::NullEqualsNothing
        || !(is_inner_equi(&j.left) || is_inner_projection(&j.left))
    {
        return Ok(None);
    }
    let mut tree = Tree::default();
    tree.flatten(&j.left);
    let left_schema = j.left.schema();
    let mut needed: Vec<&Column> = Vec::new();
    for (l, _) in &j.on {
        needed.extend(l.column_refs());
    }
    if let Some(f) = &j.filter {
        needed.extend(
            f.column_refs()
                .into_iter()
                .filter(|c| left_schema.has_column(c)),
        );
    }
    let Some(target) = tree
        .leaves
        .iter()
        .find(|leaf| needed.iter().all(|c| leaf.schema().has_column(c)))
        .cloned()
    else {
        return Ok(None);
    };
    let semi = LogicalPlan::Join(Join::try_new(
        Arc::new(target.clone()),
        j.right.clone(),
        j.on.clone(),
        j.filter.clone(),
        j.join_type,
        j.join_constraint,
        j.null_equality,
        false,
    )?);
    let mut semi = Some(semi);
    let rewritten = j
        .left
        .as_ref()
        .clone()
        .transform_down(|node| {
            if semi.is_some() && node == target {
                let s = semi.take().unwrap_or(node);
                Ok(Transformed::new(s, true, TreeNodeRecursion::Jump))
            } else {
                Ok(Transformed::no(node))
            }
        })?
        .data;
    if semi.is_some()
        || rewritten
            .schema()
            .has_equivalent_names_and_types(plan.schema())
            .is_err()
    {
        return Ok(None);
    }
    Ok(Some(rewritten))
}

/// Optimizes the leaves of a join tree, leaving the tree itself as it is.
fn within_tree(plan: LogicalPlan) -> DfResult<Transformed<LogicalPlan>> {
    if is_inner_equi(&plan) || is_inner_projection(&plan) {
        plan.map_children(within_tree)
    } else {
        optimize(plan)
    }
}

/// A join tree taken apart.
#[derive(Default)]
struct Tree {
    leaves: Vec<LogicalPlan>,
    /// The join keys, as the joins had them.
    keys: Vec<(Expr, Expr)>,
    /// The joins' other conditions.
    filters: Vec<Expr>,
}

impl Tree {
    fn flatten(&mut self, plan: &LogicalPlan) {
        match plan {
            LogicalPlan::Join(j) if is_inner_equi(plan) => {
                self.flatten(&j.left);
                self.flatten(&j.right);
                self.keys.extend(j.on.iter().cloned());
                self.filters.extend(j.filter.iter().cloned());
            }
            LogicalPlan::Projection(p) if is_inner_projection(plan) => self.flatten(&p.input),
            other => self.leaves.push(other.clone()),
        }
    }
}

/// What the model knows of a leaf.
struct LeafInfo {
    /// Estimated rows.
    rows: f64,
    /// Rows of the table under it.
    table_rows: f64,
    /// The table's leading key column.
    key_column: Option<String>,
}

fn leaf_info(plan: &LogicalPlan) -> Option<LeafInfo> {
    match plan {
        LogicalPlan::TableScan(scan) => {
            let provider = source_as_provider(&scan.source).ok()?;
            let table = provider.downcast_ref::<TesseraTable>()?;
            let rows = table.row_count() as f64;
            let rows = scan.fetch.map_or(rows, |f| rows.min(f as f64));
            Some(LeafInfo {
                rows,
                table_rows: table.row_count() as f64,
                key_column: table.first_key_column().map(str::to_string),
            })
        }
        LogicalPlan::Filter(f) => {
            let mut info = leaf_info(&f.input)?;
            info.rows *= selectivity(&f.predicate);
            Some(info)
        }
        LogicalPlan::SubqueryAlias(a) => leaf_info(&a.input),
        // A table filtered by a semi or anti join: half of it, as a guess.
        LogicalPlan::Join(j) if matches!(j.join_type, JoinType::LeftSemi | JoinType::LeftAnti) => {
            let mut info = leaf_info(&j.left)?;
            info.rows *= 0.5;
            Some(info)
        }
        LogicalPlan::Projection(p) => leaf_info(&p.input),
        _ => None,
    }
}

/// The share of rows a filter keeps, guessed from its shape.
fn selectivity(e: &Expr) -> f64 {
    let s = match e {
        Expr::BinaryExpr(b) => match b.op {
            Operator::And => selectivity(&b.left) * selectivity(&b.right),
            Operator::Or => {
                let (x, y) = (selectivity(&b.left), selectivity(&b.right));
                x + y - x * y
            }
            Operator::Eq | Operator::IsNotDistinctFrom => 0.1,
            Operator::NotEq | Operator::IsDistinctFrom => 0.9,
            Operator::Lt | Operator::LtEq | Operator::Gt | Operator::GtEq => 0.33,
            _ => 0.5,
        },
        Expr::Not(inner) => 1.0 - selectivity(inner),
        Expr::Between(b) => {
            if b.negated {
                0.75
            } else {
                0.25
            }
        }
        Expr::InList(l) => {
            let s = (0.1 * l.list.len() as f64).min(0.9);
            if l.negated { 1.0 - s } else { s }
        }
        Expr::Like(l) => {
            if l.negated {
                0.9
            } else {
                0.25
            }
        }
        Expr::IsNull(_) => 0.1,
        Expr::IsNotNull(_) => 0.9,
        _ => 0.5,
    };
    s.clamp(1e-4, 1.0)
}

/// A join key between two leaves.
struct Edge {
    a: usize,
    b: usize,
    a_expr: Expr,
    b_expr: Expr,
    /// Most values the key can have.
    values: f64,
}

/// The leaf whose columns `e` uses, when it uses one leaf's columns only.
fn owner(e: &Expr, leaves: &[LogicalPlan]) -> Option<usize> {
    let cols = e.column_refs();
    if cols.is_empty() {
        return None;
    }
    let mut found = None;
    for (i, leaf) in leaves.iter().enumerate() {
        if cols.iter().all(|c| leaf.schema().has_column(c)) {
            if found.is_some() {
                return None;
            }
            found = Some(i);
        }
    }
    found
}

/// Union-find over the key expressions, so keys equal through a chain share one class.
fn find(parent: &mut [usize], mut x: usize) -> usize {
    while parent[x] != x {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    x
}

/// The estimated rows of joining `rows_s` with `rows_r` on a key of at most `values` values.
fn join_rows(rows_s: f64, rows_r: f64, values: f64) -> f64 {
    let d = rows_s.min(values).max(rows_r.min(values)).max(1.0);
    (rows_s * rows_r / d).max(1.0)
}

/// Most leaves whose orders are searched exhaustively.
const MAX_LEAVES: usize = 12;

/// The left-deep join order with the least total of estimated intermediate rows (dynamic
/// programming over sets of leaves), or `None` when the leaves are not all connected by keys
/// or too many. Ties go to the order that comes first, so the order found is stable when
/// the rule runs again on its own output.
fn best_order(rows: &[f64], edges: &[Edge]) -> Option<Vec<usize>> {
    let n = rows.len();
    if n > MAX_LEAVES {
        return None;
    }
    struct Best {
        cost: f64,
        rows: f64,
        order: Vec<usize>,
    }
    let full = (1usize << n) - 1;
    let mut best: Vec<Option<Best>> = (0..=full).map(|_| None).collect();
    for (i, &r) in rows.iter().enumerate() {
        best[1 << i] = Some(Best {
            cost: 0.0,
            rows: r,
            order: vec![i],
        });
    }
    for set in 1..=full {
        if set.count_ones() < 2 {
            continue;
        }
        let mut chosen: Option<Best> = None;
        for r in (0..n).filter(|r| set & (1 << r) != 0) {
            let rest = set & !(1 << r);
            let Some(prev) = &best[rest] else {
                continue;
            };
            let Some(est) = edges
                .iter()
                .filter(|e| {
                    (e.b == r && rest & (1 << e.a) != 0) || (e.a == r && rest & (1 << e.b) != 0)
                })
                .map(|e| join_rows(prev.rows, rows[r], e.values))
                .reduce(f64::min)
            else {
                continue;
            };
            let cost = prev.cost + est;
            let mut order = prev.order.clone();
            order.push(r);
            let better = match &chosen {
                None => true,
                Some(c) => cost < c.cost || (cost == c.cost && order < c.order),
            };
            if better {
                chosen = Some(Best {
                    cost,
                    rows: est,
                    order,
                });
            }
        }
        best[set] = chosen;
    }
    best[full].take().map(|b| b.order)
}

/// The join tree rebuilt in a better order, or `None` to keep it.
fn reorder(plan: &LogicalPlan, tree: &Tree) -> DfResult<Option<LogicalPlan>> {
    let n = tree.leaves.len();
    if n < 3 {
        return Ok(None);
    }
    let Some(info) = tree
        .leaves
        .iter()
        .map(leaf_info)
        .collect::<Option<Vec<LeafInfo>>>()
    else {
        return Ok(None);
    };
    // Keys between two leaves are edges; any other key is a filter.
    let mut filters = tree.filters.clone();
    let mut raw = Vec::new();
    for (l, r) in &tree.keys {
        match (owner(l, &tree.leaves), owner(r, &tree.leaves)) {
            (Some(a), Some(b)) if a != b => raw.push((a, b, l.clone(), r.clone())),
            _ => filters.push(l.clone().eq(r.clone())),
        }
    }
    // Classes of equal keys, and how many values each can have.
    let mut ids: HashMap<(usize, String), usize> = HashMap::new();
    let mut members: Vec<(usize, Expr)> = Vec::new();
    let mut pairs = Vec::new();
    for (a, b, l, r) in &raw {
        let mut id = |leaf: usize, e: &Expr| -> usize {
            *ids.entry((leaf, e.to_string())).or_insert_with(|| {
                members.push((leaf, e.clone()));
                members.len() - 1
            })
        };
        let x = id(*a, l);
        let y = id(*b, r);
        pairs.push((x, y));
    }
    let mut parent: Vec<usize> = (0..members.len()).collect();
    for &(x, y) in &pairs {
        let (rx, ry) = (find(&mut parent, x), find(&mut parent, y));
        parent[rx] = ry;
    }
    let mut key_values: HashMap<usize, f64> = HashMap::new();
    let mut any_values: HashMap<usize, f64> = HashMap::new();
    for (m, (leaf, e)) in members.iter().enumerate() {
        let class = find(&mut parent, m);
        let rows = info[*leaf].table_rows.max(1.0);
        let is_key = match (e, &info[*leaf].key_column) {
            (Expr::Column(Column { name, .. }), Some(k)) => name.eq_ignore_ascii_case(k),
            _ => false,
        };
        let slot = if is_key {
            &mut key_values
        } else {
            &mut any_values
        };
        let v = slot.entry(class).or_insert(f64::INFINITY);
        *v = v.min(rows);
    }
    let mut edges = Vec::new();
    for ((a, b, l, r), (x, _)) in raw.into_iter().zip(pairs) {
        let class = find(&mut parent, x);
        let values = key_values
            .get(&class)
            .or_else(|| any_values.get(&class))
            .copied()
            .unwrap_or(f64::INFINITY);
        edges.push(Edge {
            a,
            b,
            a_expr: l,
            b_expr: r,
            values,
        });
    }
    let rows: Vec<f64> = info.iter().map(|i| i.rows.max(1.0)).collect();

    let Some(order) = best_order(&rows, &edges) else {
        return Ok(None);
    };
    if order.iter().copied().eq(0..n) {
        return Ok(None);
    }

    // Rebuild left-deep; each filter goes right above the first join that has its columns.
    let mut acc = tree.leaves[order[0]].clone();
    let mut have = vec![order[0]];
    let mut pending = filters;
    for &r in &order[1..] {
        let mut on = Vec::new();
        for e in &edges {
            if have.contains(&e.a) && e.b == r {
                on.push((e.a_expr.clone(), e.b_expr.clone()));
            } else if have.contains(&e.b) && e.a == r {
                on.push((e.b_expr.clone(), e.a_expr.clone()));
            }
        }
        let join = Join::try_new(
            Arc::new(acc),
            Arc::new(tree.leaves[r].clone()),
            on,
            None,
            JoinType::Inner,
            JoinConstraint::On,
            NullEquality::NullEqualsNothing,
            false,
        )?;
        acc = LogicalPlan::Join(join);
        have.push(r);
        let schema = acc.schema().clone();
        let (ready, rest): (Vec<Expr>, Vec<Expr>) = pending
            .into_iter()
            .partition(|f| f.column_refs().iter().all(|c| schema.has_column(c)));
        pending = rest;
        if let Some(p) = conjunction(ready) {
            acc = LogicalPlan::Filter(Filter::try_new(p, Arc::new(acc))?);
        }
    }
    if !pending.is_empty() {
        return Ok(None);
    }
    let columns: Vec<Expr> = plan
        .schema()
        .columns()
        .into_iter()
        .map(Expr::Column)
        .collect();
    let rebuilt = LogicalPlanBuilder::from(acc).project(columns)?.build()?;
    if rebuilt
        .schema()
        .has_equivalent_names_and_types(plan.schema())
        .is_err()
    {
        return Ok(None);
    }
    Ok(Some(rebuilt))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::logical_expr::col;
    use datafusion::logical_expr::lit;

    fn edge(a: usize, b: usize, values: f64) -> Edge {
        Edge {
            a,
            b,
            a_expr: col("a"),
            b_expr: col("b"),
            values,
        }
    }

    #[test]
    fn a_filtered_dimension_meets_the_fact_table_first() {
        // 0 lineitem 6M, 1 orders 1.5M, 2 part filtered to 2K of 200K, 3 supplier 10K:
        // the order named (lineitem, orders, ...) would carry 6M rows through every join.
        let rows = [6e6, 1.5e6, 2e3, 1e4];
        let edges = [edge(0, 1, 1.5e6), edge(0, 2, 2e5), edge(0, 3, 1e4)];
        let order = best_order(&rows, &edges).expect("connected");
        // (Which of the two is the build side is the physical planner's choice.)
        let mut first = order[..2].to_vec();
        first.sort_unstable();
        assert_eq!(first, [0, 2], "{order:?}");
        assert_eq!(order.len(), 4);
    }

    #[test]
    fn a_many_to_many_key_is_joined_late() {
        // 0 nation filtered to 1 row, 1 supplier 10K, 2 customer 150K, 3 orders 1.5M.
        // supplier-customer on nationkey (25 values) multiplies rows; customer reaches the
        // others through orders and nation instead.
        let rows = [1.0, 1e4, 1.5e5, 1.5e6];
        let edges = [
            edge(0, 1, 25.0),
            edge(1, 2, 25.0),
            edge(0, 2, 25.0),
            edge(2, 3, 1.5e5),
        ];
        let order = best_order(&rows, &edges).expect("connected");
        assert_eq!(order[0], 0, "{order:?}");
        // The estimated total is no worse than the order as named.
        let cost = |order: &[usize]| {
            let mut total = 0.0;
            let mut current = rows[order[0]];
            for (k, &r) in order.iter().enumerate().skip(1) {
                let est = edges
                    .iter()
                    .filter(|e| {
                        (e.b == r && order[..k].contains(&e.a))
                            || (e.a == r && order[..k].contains(&e.b))
                    })
                    .map(|e| join_rows(current, rows[r], e.values))
                    .reduce(f64::min)
                    .expect("connected prefix");
                total += est;
                current = est;
            }
            total
        };
        assert!(cost(&order) <= cost(&[1, 2, 3, 0]));
        // Stable: the order found is found again when it is the order named.
        let renamed: Vec<f64> = order.iter().map(|&i| rows[i]).collect();
        let pos = |i: usize| order.iter().position(|&x| x == i).unwrap_or(usize::MAX);
        let renamed_edges: Vec<Edge> = edges
            .iter()
            .map(|e| edge(pos(e.a), pos(e.b), e.values))
            .collect();
        assert_eq!(
            best_order(&renamed, &renamed_edges),
            Some((0..4).collect::<Vec<_>>())
        );
    }

    #[test]
    fn disconnected_or_too_many_tables_keep_the_named_order() {
        assert_eq!(best_order(&[1.0, 2.0, 3.0], &[edge(0, 1, 10.0)]), None);
        let rows = vec![10.0; MAX_LEAVES + 1];
        let edges: Vec<Edge> = (1..rows.len()).map(|i| edge(0, i, 10.0)).collect();
        assert_eq!(best_order(&rows, &edges), None);
    }

    fn scan(name: &str, cols: &[&str]) -> LogicalPlan {
        use datafusion::arrow::datatypes::DataType;
        use datafusion::arrow::datatypes::Field;
        use datafusion::arrow::datatypes::Schema;
        let schema = Schema::new(
            cols.iter()
                .map(|c| Field::new(*c, DataType::Int64, false))
                .collect::<Vec<_>>(),
        );
        datafusion::logical_expr::table_scan(Some(name), &schema, None)
            .and_then(|b| b.build())
            .expect("scan")
    }

    #[test]
    fn a_semi_join_moves_onto_the_table_of_its_keys() -> DfResult<()> {
        let inner = LogicalPlanBuilder::from(scan("a", &["k", "x"]))
            .join_with_expr_keys(
                scan("b", &["y"]),
                JoinType::Inner,
                (vec![col("a.x")], vec![col("b.y")]),
                None,
            )?
            .build()?;
        for join_type in [JoinType::LeftSemi, JoinType::LeftAnti] {
            let plan = LogicalPlanBuilder::from(inner.clone())
                .join_with_expr_keys(
                    scan("s", &["k3"]),
                    join_type,
                    (vec![col("a.k")], vec![col("s.k3")]),
                    None,
                )?
                .build()?;
            let pushed = push_semi_join(&plan)?.expect("pushed");
            let text = pushed.display_indent().to_string();
            let lines: Vec<&str> = text.lines().map(str::trim).collect();
            assert!(lines[0].starts_with("Inner Join: a.x = b.y"), "{text}");
            assert!(
                lines[1].starts_with(&format!("{join_type} Join: a.k = s.k3")),
                "{text}"
            );
            assert_eq!(pushed.schema().fields().len(), plan.schema().fields().len());
        }
        // Keys from two tables of the tree: it stays.
        let plan = LogicalPlanBuilder::from(inner)
            .join_with_expr_keys(
                scan("s", &["k3", "k4"]),
                JoinType::LeftSemi,
                (vec![col("a.k"), col("b.y")], vec![col("s.k3"), col("s.k4")]),
                None,
            )?
            .build()?;
        assert!(push_semi_join(&plan)?.is_none());
        Ok(())
    }

    #[test]
    fn filter_shapes_have_their_guesses() {
        let eq = col("a").eq(lit(1));
        let range = col("a").gt_eq(lit(1)).and(col("a").lt(lit(5)));
        assert!((selectivity(&eq) - 0.1).abs() < 1e-9);
        assert!((selectivity(&range) - 0.33 * 0.33).abs() < 1e-9);
        let or = eq.clone().or(col("b").eq(lit(2)));
        assert!((selectivity(&or) - 0.19).abs() < 1e-9);
        assert!(
            (selectivity(&col("a").in_list(vec![lit(1), lit(2), lit(3)], false)) - 0.3).abs()
                < 1e-9
        );
        assert!(
            selectivity(
                &eq.clone()
                    .and(eq.clone())
                    .and(eq.clone())
                    .and(eq)
                    .and(range)
            ) >= 1e-4
        );
        assert_eq!(join_rows(100.0, 1000.0, 1000.0), 100.0);
        assert_eq!(join_rows(2000.0, 15000.0, 25.0), 2000.0 * 15000.0 / 25.0);
    }
}
