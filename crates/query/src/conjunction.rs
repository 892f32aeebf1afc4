//! A filter's conditions, one after another: each is evaluated only on the rows the ones
//! before it kept, the most selective first.
//!
//! DataFusion evaluates `a AND b AND c` as nested binary ANDs: `b` sees every row `a` did not
//! reject outright, and when `a` keeps few rows it copies the whole batch down to them and
//! scatters `b`'s answers back bit by bit, again at every level. A scan's filter is usually a
//! handful of such conditions on a few columns (TPC-H Q6: a date range, a discount range and a
//! quantity bound), and that copying dominated it.
//!
//! [`ConjunctionExpr`] stands for the predicate of a `FilterExec` that is a conjunction. It
//! evaluates the conditions in turn on a batch narrowed to the columns they read, shrinks the
//! batch to the rows still alive after each one, and returns one mask. It measures what each
//! condition keeps and costs and runs the cheapest-per-dropped-row first (as DuckDB's
//! adaptive filters do). Only conditions that cannot fail are moved: one that may raise an
//! error (a division, a cast of text) keeps its place after the ones before it in the query,
//! so it never sees a row it would not have seen before.
//!
//! A row the predicate answers NULL for is dropped, as a filter does; the mask it returns is
//! therefore only right as a filter's predicate, which is the only place
//! [`rewrite_plan`] puts it.

use std::fmt;
use std::hash::Hash;
use std::hash::Hasher;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Instant;

use arrow::array::Array;
use arrow::array::AsArray;
use arrow::array::BooleanArray;
use arrow::buffer::BooleanBuffer;
use arrow::buffer::MutableBuffer;
use arrow::compute::filter_record_batch;
use arrow::compute::prep_null_mask_filter;
use arrow::datatypes::DataType;
use arrow::datatypes::Schema;
use arrow::record_batch::RecordBatch;
use datafusion::common::DataFusionError;
use datafusion::common::Result as DfResult;
use datafusion::common::tree_node::Transformed;
use datafusion::common::tree_node::TreeNode;
use datafusion::logical_expr::ColumnarValue;
use datafusion::logical_expr::Operator;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::BinaryExpr;
use datafusion::physical_expr::expressions::CastExpr;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::expressions::InListExpr;
use datafusion::physical_expr::expressions::IsNotNullExpr;
use datafusion::physical_expr::expressions::IsNullExpr;
use datafusion::physical_expr::expressions::LikeExpr;
use datafusion::physical_expr::expressions::Literal;
use datafusion::physical_expr::expressions::NotExpr;
use datafusion::physical_expr::split_conjunction;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::filter::FilterExecBuilder;
use datafusion::scalar::ScalarValue;

use crate::KeySetExpr;
use crate::RuntimeFilterExpr;

/// Batches after which the order is settled: it is re-ranked after each of the first ones,
/// then every [`RERANK_EVERY`] batches.
const LEARN_BATCHES: u64 = 8;
const RERANK_EVERY: u64 = 64;

/// What one condition kept and cost so far.
#[derive(Debug, Clone, Copy, Default)]
struct Seen {
    rows_in: u64,
    rows_out: u64,
    nanos: u64,
}

#[derive(Debug)]
struct State {
    /// Indices into the conditions, in evaluation order.
    order: Vec<usize>,
    seen: Vec<Seen>,
    batches: u64,
}

/// The AND of `conditions`, as a filter's predicate (see the module's text).
#[derive(Debug)]
pub struct ConjunctionExpr {
    /// The conditions, in the query's order, over the columns in `columns` (re-indexed).
    local: Vec<Arc<dyn PhysicalExpr>>,
    /// Whether each condition may run before those written before it.
    movable: Vec<bool>,
    /// The input columns the conditions read, ascending.
    columns: Vec<usize>,
    /// The conditions as they were, for display and equality.
    original: Vec<Arc<dyn PhysicalExpr>>,
    state: Mutex<State>,
}

impl ConjunctionExpr {
    /// The conjunction of `predicate`'s conditions over `input`, or `None` when it has fewer
    /// than two or one of them cannot be re-indexed.
    pub fn try_new(predicate: &Arc<dyn PhysicalExpr>, input: &Schema) -> Option<Self> {
        let original: Vec<Arc<dyn PhysicalExpr>> =
            split_conjunction(predicate).into_iter().cloned().collect();
        if original.len() < 2 {
            return None;
        }
        let mut columns = Vec::new();
        for c in &original {
            c.apply(|n| {
                if let Some(col) = n.downcast_ref::<Column>() {
                    columns.push(col.index());
                }
                Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
            })
            .ok()?;
        }
        columns.sort_unstable();
        columns.dedup();
        if columns.iter().any(|&i| i >= input.fields().len()) {
            return None;
        }
        let mut local = Vec::with_capacity(original.len());
        for c in &original {
            let re = c
                .clone()
                .transform_up(|n| {
                    if let Some(col) = n.downcast_ref::<Column>() {
                        let at = columns.binary_search(&col.index()).map_err(|_| {
                            DataFusionError::Internal("a column went missing".into())
                        })?;
                        return Ok(Transformed::yes(
                            Arc::new(Column::new(col.name(), at)) as Arc<dyn PhysicalExpr>
                        ));
                    }
                    Ok(Transformed::no(n))
                })
                .ok()?
                .data;
            local.push(re);
        }
        let movable: Vec<bool> = original.iter().map(|c| cannot_fail(c, input)).collect();
        let n = local.len();
        // Movable conditions first (in the query's order), then the others in theirs.
        let mut order: Vec<usize> = (0..n).filter(|&i| movable[i]).collect();
        order.extend((0..n).filter(|&i| !movable[i]));
        Some(ConjunctionExpr {
            local,
            movable,
            columns,
            original,
            state: Mutex::new(State {
                order,
                seen: vec![Seen::default(); n],
                batches: 0,
            }),
        })
    }

    /// The conditions, in the query's order.
    pub fn conditions(&self) -> &[Arc<dyn PhysicalExpr>] {
        &self.original
    }

    /// The order the conditions run in now (indices into [`ConjunctionExpr::conditions`]).
    pub fn order(&self) -> Vec<usize> {
        self.state
            .lock()
            .map(|s| s.order.clone())
            .unwrap_or_default()
    }

    fn learn(&self, measured: &[(usize, Seen)]) {
        let Ok(mut s) = self.state.lock() else {
            return;
        };
        for (i, m) in measured {
            if let Some(seen) = s.seen.get_mut(*i) {
                seen.rows_in += m.rows_in;
                seen.rows_out += m.rows_out;
                seen.nanos += m.nanos;
            }
        }
        s.batches += 1;
        if s.batches > LEARN_BATCHES && !s.batches.is_multiple_of(RERANK_EVERY) {
            return;
        }
        // Rank: time per row divided by the share of rows dropped (the cost of each dropped
        // row); never measured ranks by its place.
        let rank = |i: usize| -> f64 {
            let m = s.seen[i];
            if m.rows_in == 0 {
                return f64::MAX;
            }
            let per_row = m.nanos as f64 / m.rows_in as f64;
            let dropped = 1.0 - m.rows_out as f64 / m.rows_in as f64;
            per_row / dropped.max(0.01)
        };
        let mut movable: Vec<usize> = s
            .order
            .iter()
            .copied()
            .filter(|&i| self.movable[i])
            .collect();
        // Stable: equal ranks keep their order.
        movable.sort_by(|&a, &b| rank(a).total_cmp(&rank(b)));
        let fixed = s.order.iter().copied().filter(|&i| !self.movable[i]);
        let order: Vec<usize> = movable.into_iter().chain(fixed).collect();
        s.order = order;
    }
}

/// Whether evaluating `e` on any row can never raise an error: comparisons, IN lists, LIKE,
/// NULL tests and boolean logic over columns and literals, and casts from an integer or date
/// to an integer or date at least as wide (never from text or to a decimal).
fn cannot_fail(e: &Arc<dyn PhysicalExpr>, input: &Schema) -> bool {
    if e.downcast_ref::<Column>().is_some() || e.downcast_ref::<Literal>().is_some() {
        return true;
    }
    let safe_node = if let Some(b) = e.downcast_ref::<BinaryExpr>() {
        matches!(
            b.op(),
            Operator::Eq
                | Operator::NotEq
                | Operator::Lt
                | Operator::LtEq
                | Operator::Gt
                | Operator::GtEq
                | Operator::And
                | Operator::Or
                | Operator::IsDistinctFrom
                | Operator::IsNotDistinctFrom
        )
    } else if let Some(c) = e.downcast_ref::<CastExpr>() {
        // Between integers and dates only: a cast to a narrower decimal or from text may fail.
        let plain = |t: &DataType| t.is_integer() || matches!(t, DataType::Date32);
        let from = c.expr().data_type(input);
        plain(c.cast_type())
            && from
                .is_ok_and(|t| plain(&t) && t.primitive_width() <= c.cast_type().primitive_width())
    } else {
        e.downcast_ref::<InListExpr>().is_some()
            || e.downcast_ref::<LikeExpr>().is_some()
            || e.downcast_ref::<IsNullExpr>().is_some()
            || e.downcast_ref::<IsNotNullExpr>().is_some()
            || e.downcast_ref::<NotExpr>().is_some()
            || e.downcast_ref::<KeySetExpr>().is_some()
            || e.downcast_ref::<RuntimeFilterExpr>().is_some()
    };
    safe_node && e.children().into_iter().all(|c| cannot_fail(c, input))
}

/// A mask of `len` rows with only `rows` set.
fn mask_of(len: usize, rows: &[u32]) -> BooleanArray {
    let mut bits = MutableBuffer::new_null(len);
    let slice = bits.as_slice_mut();
    for &r in rows {
        let r = r as usize;
        slice[r / 8] |= 1 << (r % 8);
    }
    BooleanArray::new(BooleanBuffer::new(bits.into(), 0, len), None)
}

fn all(value: bool) -> ColumnarValue {
    ColumnarValue::Scalar(ScalarValue::Boolean(Some(value)))
}

impl fmt::Display for ConjunctionExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, c) in self.original.iter().enumerate() {
            if i > 0 {
                f.write_str(" AND ")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

impl PartialEq for ConjunctionExpr {
    fn eq(&self, other: &Self) -> bool {
        self.original.len() == other.original.len()
            && self
                .original
                .iter()
                .zip(&other.original)
                .all(|(a, b)| a.as_ref() == b.as_ref())
    }
}

impl Eq for ConjunctionExpr {}

impl Hash for ConjunctionExpr {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for c in &self.original {
            c.hash(state);
        }
    }
}

impl PhysicalExpr for ConjunctionExpr {
    fn data_type(&self, _input_schema: &Schema) -> DfResult<DataType> {
        Ok(DataType::Boolean)
    }

    fn nullable(&self, _input_schema: &Schema) -> DfResult<bool> {
        // NULL answers are folded into FALSE.
        Ok(false)
    }

    fn evaluate(&self, batch: &RecordBatch) -> DfResult<ColumnarValue> {
        let len = batch.num_rows();
        let order = self.order();
        let mut current = batch.project(&self.columns)?;
        // The input rows `current` holds, when not all of them.
        let mut alive: Option<Vec<u32>> = None;
        let mut measured: Vec<(usize, Seen)> = Vec::with_capacity(order.len());
        let mut verdict = None;
        for (step, &i) in order.iter().enumerate() {
            let rows_in = current.num_rows();
            let start = Instant::now();
            let out = self.local[i].evaluate(&current)?;
            let mask = match out {
                ColumnarValue::Scalar(ScalarValue::Boolean(Some(true))) => None,
                ColumnarValue::Scalar(ScalarValue::Boolean(_)) => {
                    verdict = Some(all(false));
                    None
                }
                ColumnarValue::Scalar(other) => {
                    return Err(DataFusionError::Internal(format!(
                        "a filter condition answered {other:?}, not a boolean"
                    )));
                }
                ColumnarValue::Array(a) => {
                    let b = a.as_boolean_opt().ok_or_else(|| {
                        DataFusionError::Internal(format!(
                            "a filter condition answered {}, not booleans",
                            a.data_type()
                        ))
                    })?;
                    Some(if b.null_count() > 0 {
                        prep_null_mask_filter(b)
                    } else {
                        b.clone()
                    })
                }
            };
            let kept = match (&mask, &verdict) {
                (_, Some(_)) => 0,
                (None, None) => rows_in,
                (Some(m), None) => m.true_count(),
            };
            measured.push((
                i,
                Seen {
                    rows_in: rows_in as u64,
                    rows_out: kept as u64,
                    nanos: u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX),
                },
            ));
            if kept == 0 {
                verdict = Some(all(false));
                break;
            }
            let Some(mask) = mask else { continue };
            if kept == rows_in {
                continue;
            }
            let picked = mask.values().set_indices().map(|r| r as u32);
            alive = Some(match &alive {
                None => picked.collect(),
                Some(prev) => picked.map(|r| prev[r as usize]).collect(),
            });
            if step + 1 < order.len() {
                current = filter_record_batch(&current, &mask)?;
            }
        }
        self.learn(&measured);
        if let Some(v) = verdict {
            return Ok(v);
        }
        Ok(match alive {
            None => all(true),
            Some(rows) => ColumnarValue::Array(Arc::new(mask_of(len, &rows))),
        })
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        self.original.iter().collect()
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> DfResult<Arc<dyn PhysicalExpr>> {
        // The children are over the input's columns: re-index them again. No schema is at
        // hand, so only the columns' indices bound it.
        let predicate = children
            .into_iter()
            .reduce(|a, b| Arc::new(BinaryExpr::new(a, Operator::And, b)) as Arc<dyn PhysicalExpr>)
            .ok_or_else(|| DataFusionError::Internal("a conjunction without conditions".into()))?;
        let mut widest = 0;
        predicate.apply(|n| {
            if let Some(c) = n.downcast_ref::<Column>() {
                widest = widest.max(c.index() + 1);
            }
            Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
        })?;
        let fields: Vec<arrow::datatypes::Field> = (0..widest)
            .map(|i| arrow::datatypes::Field::new(format!("c{i}"), DataType::Null, true))
            .collect();
        match ConjunctionExpr::try_new(&predicate, &Schema::new(fields)) {
            Some(c) => Ok(Arc::new(c)),
            None => Ok(predicate),
        }
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, c) in self.original.iter().enumerate() {
            if i > 0 {
                f.write_str(" AND ")?;
            }
            c.fmt_sql(f)?;
        }
        Ok(())
    }
}

/// `plan` with every filter whose predicate ANDs several conditions evaluating them as a
/// [`ConjunctionExpr`]; a filter right on another filter (a runtime filter under the query's
/// own) is merged into it first.
pub fn rewrite_plan(plan: Arc<dyn ExecutionPlan>) -> DfResult<Arc<dyn ExecutionPlan>> {
    Ok(plan
        .transform_up(|node| {
            let Some(f) = node.downcast_ref::<FilterExec>() else {
                return Ok(Transformed::no(node));
            };
            if f.predicate().downcast_ref::<ConjunctionExpr>().is_some() || f.fetch().is_some() {
                return Ok(Transformed::no(node));
            }
            let mut predicate = f.predicate().clone();
            let mut input = f.input().clone();
            // A filter without a projection under this one: one filter with both predicates
            // (the lower one's conditions first).
            if let Some(lower) = input.downcast_ref::<FilterExec>()
                && lower.projection().is_none()
                && lower.fetch().is_none()
                && lower
                    .predicate()
                    .downcast_ref::<ConjunctionExpr>()
                    .is_none()
            {
                predicate = Arc::new(BinaryExpr::new(
                    lower.predicate().clone(),
                    Operator::And,
                    predicate,
                ));
                input = lower.input().clone();
            }
            let Some(c) = ConjunctionExpr::try_new(&predicate, &input.schema()) else {
                return Ok(Transformed::no(node));
            };
            let new = FilterExecBuilder::from(f)
                .with_input(input)
                .with_predicate(Arc::new(c))
                .build()?;
            Ok(Transformed::yes(Arc::new(new) as Arc<dyn ExecutionPlan>))
        })?
        .data)
}

#[cfg(test)]
mod tests {
    use arrow::array::Int32Array;
    use arrow::array::StringArray;
    use arrow::datatypes::Field;
    use datafusion::physical_expr::expressions::lit;

    use super::*;

    fn batch() -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int32, true),
            Field::new("s", DataType::Utf8, true),
            Field::new("b", DataType::Int32, true),
        ]));
        let a: Vec<Option<i32>> = (0..1000).map(|i| (i % 7 != 3).then_some(i)).collect();
        let s: Vec<String> = (0..1000).map(|i| format!("v{}", i % 10)).collect();
        let b: Vec<Option<i32>> = (0..1000).map(|i| (i % 11 != 5).then_some(i % 50)).collect();
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int32Array::from(a)),
                Arc::new(StringArray::from(s)),
                Arc::new(Int32Array::from(b)),
            ],
        )
        .expect("batch")
    }

    fn col(name: &str, i: usize) -> Arc<dyn PhysicalExpr> {
        Arc::new(Column::new(name, i))
    }

    fn bin(
        l: Arc<dyn PhysicalExpr>,
        op: Operator,
        r: Arc<dyn PhysicalExpr>,
    ) -> Arc<dyn PhysicalExpr> {
        Arc::new(BinaryExpr::new(l, op, r))
    }

    fn and_all(parts: Vec<Arc<dyn PhysicalExpr>>) -> Arc<dyn PhysicalExpr> {
        parts
            .into_iter()
            .reduce(|a, b| bin(a, Operator::And, b))
            .expect("parts")
    }

    /// The rows a predicate keeps as a filter (NULL dropped).
    fn kept(p: &dyn PhysicalExpr, b: &RecordBatch) -> Vec<usize> {
        let v = p
            .evaluate(b)
            .expect("evaluate")
            .into_array(b.num_rows())
            .expect("array");
        let m = v.as_boolean();
        (0..m.len())
            .filter(|&r| m.is_valid(r) && m.value(r))
            .collect()
    }

    #[test]
    fn keeps_exactly_the_rows_the_and_keeps_whatever_the_order() {
        let b = batch();
        let parts = vec![
            bin(col("a", 0), Operator::GtEq, lit(100)),
            bin(col("b", 2), Operator::Lt, lit(10)),
            bin(col("s", 1), Operator::NotEq, lit("v3")),
            bin(col("a", 0), Operator::Lt, lit(900)),
        ];
        let plain = and_all(parts.clone());
        let want = kept(plain.as_ref(), &b);
        assert!(!want.is_empty() && want.len() < 1000);
        let c = ConjunctionExpr::try_new(&plain, b.schema_ref()).expect("conjunction");
        // Many batches: the order changes as it learns; the answer never does.
        for _ in 0..100 {
            assert_eq!(kept(&c, &b), want);
        }
        let mut order = c.order();
        order.sort_unstable();
        assert_eq!(order, vec![0, 1, 2, 3]);
        assert_eq!(c.to_string(), plain.to_string().replace(['(', ')'], ""));
    }

    #[test]
    fn the_cheapest_condition_per_dropped_row_runs_first() {
        let b = batch();
        let plain = and_all(vec![
            bin(col("a", 0), Operator::GtEq, lit(100)),
            bin(col("b", 2), Operator::Lt, lit(10)),
            bin(col("s", 1), Operator::NotEq, lit("v3")),
        ]);
        let c = ConjunctionExpr::try_new(&plain, b.schema_ref()).expect("conjunction");
        assert_eq!(c.order(), vec![0, 1, 2]);
        // Measured (not timed here, so the test does not depend on the machine): the same
        // cost per row, but condition 1 drops 80 % of its rows, 0 drops 10 %, 2 drops 5 %.
        let seen = |rows_out| Seen {
            rows_in: 1000,
            rows_out,
            nanos: 10_000,
        };
        c.learn(&[(0, seen(900)), (1, seen(200)), (2, seen(950))]);
        assert_eq!(c.order(), vec![1, 0, 2]);
        // A condition ten times as costly per row runs later even though it drops more.
        let costly = Seen {
            rows_in: 1000,
            rows_out: 100,
            nanos: 10_000_000,
        };
        c.learn(&[(0, seen(900)), (1, costly), (2, seen(950))]);
        assert_eq!(c.order(), vec![0, 2, 1]);
    }

    #[test]
    fn nothing_or_everything_kept() {
        let b = batch();
        let none = and_all(vec![
            bin(col("b", 2), Operator::Lt, lit(10)),
            bin(col("b", 2), Operator::Gt, lit(100)),
        ]);
        let c = ConjunctionExpr::try_new(&none, b.schema_ref()).expect("conjunction");
        assert!(kept(&c, &b).is_empty());
        let every = and_all(vec![lit(true), bin(col("s", 1), Operator::NotEq, lit("x"))]);
        let c = ConjunctionExpr::try_new(&every, b.schema_ref()).expect("conjunction");
        assert_eq!(kept(&c, &b).len(), 1000);
    }

    #[test]
    fn a_condition_that_may_fail_stays_after_those_written_before_it() {
        let b = batch();
        // b <> 0 AND 100 / b > 5: the division must never see b = 0.
        let guarded = and_all(vec![
            bin(col("b", 2), Operator::NotEq, lit(0)),
            bin(
                bin(lit(100), Operator::Divide, col("b", 2)),
                Operator::Gt,
                lit(5),
            ),
            bin(col("a", 0), Operator::Lt, lit(50)),
        ]);
        let c = ConjunctionExpr::try_new(&guarded, b.schema_ref()).expect("conjunction");
        assert!(!cannot_fail(&c.conditions()[1], b.schema_ref()));
        let want = {
            // Row by row: b is not 0, 100 / b > 5, a < 50 (NULLs drop the row).
            let a = b.column(0).as_primitive::<arrow::datatypes::Int32Type>();
            let bb = b.column(2).as_primitive::<arrow::datatypes::Int32Type>();
            (0..b.num_rows())
                .filter(|&r| {
                    a.is_valid(r)
                        && bb.is_valid(r)
                        && bb.value(r) != 0
                        && 100 / bb.value(r) > 5
                        && a.value(r) < 50
                })
                .collect::<Vec<_>>()
        };
        for _ in 0..50 {
            assert_eq!(kept(&c, &b), want);
        }
        let order = c.order();
        let div = order.iter().position(|&i| i == 1).expect("division");
        let guard = order.iter().position(|&i| i == 0).expect("guard");
        assert!(guard < div, "{order:?}");
    }

    #[test]
    fn a_filter_plan_is_rewritten_and_a_filter_below_is_merged() {
        let b = batch();
        let mem = datafusion::datasource::memory::MemorySourceConfig::try_new_exec(
            &[vec![b.clone()]],
            b.schema(),
            None,
        )
        .expect("memory exec");
        let lower = Arc::new(
            FilterExec::try_new(bin(col("a", 0), Operator::GtEq, lit(100)), mem).expect("lower"),
        );
        let upper = Arc::new(
            FilterExec::try_new(
                and_all(vec![
                    bin(col("b", 2), Operator::Lt, lit(10)),
                    bin(col("s", 1), Operator::Eq, lit("v4")),
                ]),
                lower,
            )
            .expect("upper"),
        );
        let plan = rewrite_plan(upper).expect("rewrite");
        let f = plan.downcast_ref::<FilterExec>().expect("a filter");
        let c = f
            .predicate()
            .downcast_ref::<ConjunctionExpr>()
            .expect("a conjunction");
        assert_eq!(c.conditions().len(), 3);
        assert!(f.input().downcast_ref::<FilterExec>().is_none());
    }
}
