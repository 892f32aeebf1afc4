//! Faster DECIMAL arithmetic: `+`, `-` and `*` of two DECIMALs whose values fit in 64 bits.
//!
//! Arrow computes DECIMAL arithmetic on 128-bit integers with an overflow check per value
//! (and a checked multiplication by a power of ten to align scales), which makes
//! `l_extendedprice * (1 - l_discount)` several times slower than the same on integers.
//! Yet the DECIMALs users store (precision up to 18) hold values that fit in 64 bits, and
//! a product or a scale-aligned sum of two such values cannot overflow 128 bits. So
//! [`DecimalArithExpr`] first checks that every operand value fits in 64 bits (one cheap
//! pass) and then computes with plain 64x64->128-bit multiplications and additions; when a
//! value does not fit, it hands the batch to the original expression, which gives Arrow's
//! result or error. The result type, values and NULLs are always Arrow's.
//!
//! [`rewrite_plan`] puts it in place of such expressions in projections, filters and
//! aggregate arguments of a physical plan.

use std::fmt;
use std::hash::Hash;
use std::hash::Hasher;
use std::sync::Arc;

use arrow::array::Array;
use arrow::array::ArrayRef;
use arrow::array::AsArray;
use arrow::array::Decimal128Array;
use arrow::buffer::NullBuffer;
use arrow::buffer::ScalarBuffer;
use arrow::datatypes::DataType;
use arrow::datatypes::Decimal128Type;
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
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::aggregates::AggregateExec;
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::filter::FilterExecBuilder;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::scalar::ScalarValue;

/// `left op right` on DECIMAL(p <= 38) operands, computed in 64/128-bit integer steps when
/// the values allow, else by `inner` (the original expression).
#[derive(Debug)]
pub struct DecimalArithExpr {
    inner: Arc<dyn PhysicalExpr>,
    op: Operator,
    left: Arc<dyn PhysicalExpr>,
    right: Arc<dyn PhysicalExpr>,
    /// For `+`/`-`: the powers of ten that bring each side to the result's scale.
    left_mul: i64,
    right_mul: i64,
    precision: u8,
    scale: i8,
}

impl DecimalArithExpr {
    /// The fast form of `expr` over `schema`, if it is a `+`, `-` or `*` of two DECIMALs
    /// whose result is a 128-bit DECIMAL.
    pub fn try_new(expr: &Arc<dyn PhysicalExpr>, schema: &Schema) -> Option<DecimalArithExpr> {
        let binary = expr.downcast_ref::<BinaryExpr>()?;
        let op = *binary.op();
        if !matches!(op, Operator::Plus | Operator::Minus | Operator::Multiply) {
            return None;
        }
        let (DataType::Decimal128(_, s1), DataType::Decimal128(_, s2)) = (
            binary.left().data_type(schema).ok()?,
            binary.right().data_type(schema).ok()?,
        ) else {
            return None;
        };
        let DataType::Decimal128(precision, scale) = expr.data_type(schema).ok()? else {
            return None;
        };
        let pow = |k: i8| -> Option<i64> { 10i64.checked_pow(u32::try_from(k).ok()?) };
        let (left_mul, right_mul) = match op {
            Operator::Multiply => {
                if scale != s1.checked_add(s2)? {
                    return None;
                }
                (1, 1)
            }
            _ => {
                if scale != s1.max(s2) {
                    return None;
                }
                // At most 10^18: a 64-bit value times it fits in 128 bits, twice over.
                (pow(scale - s1)?, pow(scale - s2)?)
            }
        };
        Some(DecimalArithExpr {
            inner: expr.clone(),
            op,
            left: binary.left().clone(),
            right: binary.right().clone(),
            left_mul,
            right_mul,
            precision,
            scale,
        })
    }

    /// The result on operands `l` and `r` (each an array of `rows` values or a scalar), or
    /// `None` when a value does not fit in 64 bits.
    fn compute(&self, l: &ColumnarValue, r: &ColumnarValue, rows: usize) -> Option<ArrayRef> {
        let (lv, ln) = operand(l)?;
        let (rv, rn) = operand(r)?;
        let nulls = match (ln, rn) {
            (Some(Null::All), _) | (_, Some(Null::All)) => {
                return Some(arrow::array::new_null_array(
                    &DataType::Decimal128(self.precision, self.scale),
                    rows,
                ));
            }
            (a, b) => NullBuffer::union(
                a.as_ref().and_then(Null::buffer),
                b.as_ref().and_then(Null::buffer),
            ),
        };
        let values: Vec<i128> = match self.op {
            Operator::Multiply => zip_with(&lv, &rv, rows, |a, b| a as i128 * b as i128),
            Operator::Plus => {
                let (lm, rm) = (self.left_mul as i128, self.right_mul as i128);
                zip_with(&lv, &rv, rows, |a, b| a as i128 * lm + b as i128 * rm)
            }
            Operator::Minus => {
                let (lm, rm) = (self.left_mul as i128, self.right_mul as i128);
                zip_with(&lv, &rv, rows, |a, b| a as i128 * lm - b as i128 * rm)
            }
            _ => return None,
        };
        Decimal128Array::try_new(ScalarBuffer::from(values), nulls)
            .and_then(|a| a.with_precision_and_scale(self.precision, self.scale))
            .ok()
            .map(|a| Arc::new(a) as ArrayRef)
    }
}

/// One side of an operation: its values as 64-bit integers.
enum Values {
    Array(Vec<i64>),
    Scalar(i64),
}

enum Null {
    All,
    Some(NullBuffer),
}

impl Null {
    fn buffer(&self) -> Option<&NullBuffer> {
        match self {
            Null::Some(b) => Some(b),
            Null::All => None,
        }
    }
}

/// The 64-bit values of a DECIMAL operand and its NULLs; `None` if a value (NULLs
/// included, which may hold anything) does not fit in 64 bits.
fn operand(v: &ColumnarValue) -> Option<(Values, Option<Null>)> {
    match v {
        ColumnarValue::Scalar(ScalarValue::Decimal128(None, _, _)) => {
            Some((Values::Scalar(0), Some(Null::All)))
        }
        ColumnarValue::Scalar(ScalarValue::Decimal128(Some(x), _, _)) => {
            Some((Values::Scalar(i64::try_from(*x).ok()?), None))
        }
        ColumnarValue::Array(a) => {
            let a = a.as_primitive_opt::<Decimal128Type>()?;
            let raw = a.values();
            // Checked all at once (no early exit), which vectorizes.
            let fits = raw.iter().fold(true, |ok, &x| ok & (x as i64 as i128 == x));
            if !fits {
                return None;
            }
            let narrow: Vec<i64> = raw.iter().map(|&x| x as i64).collect();
            Some((Values::Array(narrow), a.nulls().cloned().map(Null::Some)))
        }
        ColumnarValue::Scalar(_) => None,
    }
}

fn zip_with(l: &Values, r: &Values, rows: usize, f: impl Fn(i64, i64) -> i128) -> Vec<i128> {
    match (l, r) {
        (Values::Array(a), Values::Array(b)) => a.iter().zip(b).map(|(&x, &y)| f(x, y)).collect(),
        (Values::Array(a), Values::Scalar(y)) => a.iter().map(|&x| f(x, *y)).collect(),
        (Values::Scalar(x), Values::Array(b)) => b.iter().map(|&y| f(*x, y)).collect(),
        (Values::Scalar(x), Values::Scalar(y)) => vec![f(*x, *y); rows],
    }
}

impl fmt::Display for DecimalArithExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

impl PartialEq for DecimalArithExpr {
    fn eq(&self, other: &Self) -> bool {
        self.inner.as_ref() == other.inner.as_ref()
    }
}

impl Eq for DecimalArithExpr {}

impl Hash for DecimalArithExpr {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.inner.hash(state);
    }
}

impl PhysicalExpr for DecimalArithExpr {
    fn data_type(&self, input_schema: &Schema) -> DfResult<DataType> {
        self.inner.data_type(input_schema)
    }

    fn nullable(&self, input_schema: &Schema) -> DfResult<bool> {
        self.inner.nullable(input_schema)
    }

    fn evaluate(&self, batch: &RecordBatch) -> DfResult<ColumnarValue> {
        let l = self.left.evaluate(batch)?;
        let r = self.right.evaluate(batch)?;
        if let (ColumnarValue::Scalar(_), ColumnarValue::Scalar(_)) = (&l, &r) {
            return self.inner.evaluate(batch);
        }
        match self.compute(&l, &r, batch.num_rows()) {
            Some(a) => Ok(ColumnarValue::Array(a)),
            None => self.inner.evaluate(batch),
        }
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        vec![&self.left, &self.right]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> DfResult<Arc<dyn PhysicalExpr>> {
        let [left, right] = <[Arc<dyn PhysicalExpr>; 2]>::try_from(children).map_err(|c| {
            DataFusionError::Internal(format!(
                "a decimal operation has 2 children, not {}",
                c.len()
            ))
        })?;
        let inner = Arc::new(BinaryExpr::new(left.clone(), self.op, right.clone()));
        Ok(Arc::new(DecimalArithExpr {
            inner,
            op: self.op,
            left,
            right,
            left_mul: self.left_mul,
            right_mul: self.right_mul,
            precision: self.precision,
            scale: self.scale,
        }))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt_sql(f)
    }
}

/// `expr` over `schema` with every DECIMAL `+`, `-`, `*` in its fast form.
pub fn rewrite_expr(
    expr: &Arc<dyn PhysicalExpr>,
    schema: &Schema,
) -> DfResult<Arc<dyn PhysicalExpr>> {
    Ok(expr
        .clone()
        .transform_up(|e| {
            Ok(match DecimalArithExpr::try_new(&e, schema) {
                Some(fast) => Transformed::yes(Arc::new(fast) as Arc<dyn PhysicalExpr>),
                None => Transformed::no(e),
            })
        })?
        .data)
}

/// `plan` with DECIMAL arithmetic in projections, filters and aggregate arguments in its
/// fast form. Everything else (types, schemas, partitioning) is unchanged.
pub fn rewrite_plan(plan: Arc<dyn ExecutionPlan>) -> DfResult<Arc<dyn ExecutionPlan>> {
    Ok(plan
        .transform_up(|node| {
            let input_schema = match node.children().first() {
                Some(c) => c.schema(),
                None => return Ok(Transformed::no(node)),
            };
            if let Some(p) = node.downcast_ref::<ProjectionExec>() {
                let mut exprs = Vec::with_capacity(p.expr().len());
                let mut changed = false;
                for pe in p.expr() {
                    let e = rewrite_expr(&pe.expr, &input_schema)?;
                    changed |= !Arc::ptr_eq(&e, &pe.expr);
                    exprs.push((e, pe.alias.clone()));
                }
                if !changed {
                    return Ok(Transformed::no(node));
                }
                let new = ProjectionExec::try_new(exprs, p.input().clone())?;
                return Ok(Transformed::yes(Arc::new(new) as Arc<dyn ExecutionPlan>));
            }
            if let Some(f) = node.downcast_ref::<FilterExec>() {
                let e = rewrite_expr(f.predicate(), &input_schema)?;
                if Arc::ptr_eq(&e, f.predicate()) {
                    return Ok(Transformed::no(node));
                }
                let new = FilterExecBuilder::from(f).with_predicate(e).build()?;
                return Ok(Transformed::yes(Arc::new(new) as Arc<dyn ExecutionPlan>));
            }
            if let Some(a) = node.downcast_ref::<AggregateExec>() {
                let mut aggs = Vec::with_capacity(a.aggr_expr().len());
                let mut changed = false;
                for agg in a.aggr_expr() {
                    let args = agg
                        .expressions()
                        .iter()
                        .map(|e| rewrite_expr(e, &input_schema))
                        .collect::<DfResult<Vec<_>>>()?;
                    let same = args
                        .iter()
                        .zip(agg.expressions())
                        .all(|(x, y)| Arc::ptr_eq(x, &y));
                    let order: Vec<_> = agg.order_bys().iter().map(|s| s.expr.clone()).collect();
                    match (same, agg.with_new_expressions(args, order)) {
                        (false, Some(new)) => {
                            changed = true;
                            aggs.push(Arc::new(new));
                        }
                        _ => aggs.push(agg.clone()),
                    }
                }
                if !changed {
                    return Ok(Transformed::no(node));
                }
                let new = a.with_new_aggr_exprs(aggs);
                return Ok(Transformed::yes(Arc::new(new) as Arc<dyn ExecutionPlan>));
            }
            Ok(Transformed::no(node))
        })?
        .data)
}

/// [`rewrite_plan`] as the last physical optimizer rule of a session.
#[derive(Debug, Default)]
pub struct FastDecimalRule;

impl datafusion::physical_optimizer::PhysicalOptimizerRule for FastDecimalRule {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &datafusion::config::ConfigOptions,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        rewrite_plan(plan)
    }

    fn name(&self) -> &str {
        "fast_decimal"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use arrow::datatypes::Field;
    use datafusion::physical_expr::expressions::Column;
    use datafusion::physical_expr::expressions::lit;
    use datafusion::physical_plan::collect;
    use datafusion::prelude::SessionContext;

    use super::*;

    fn decimals(values: &[Option<i128>], p: u8, s: i8) -> ArrayRef {
        Arc::new(
            values
                .iter()
                .copied()
                .collect::<Decimal128Array>()
                .with_precision_and_scale(p, s)
                .expect("type"),
        )
    }

    fn batch(a: ArrayRef, b: ArrayRef) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", a.data_type().clone(), true),
            Field::new("b", b.data_type().clone(), true),
        ]));
        RecordBatch::try_new(schema, vec![a, b]).expect("batch")
    }

    fn binary(
        l: Arc<dyn PhysicalExpr>,
        op: Operator,
        r: Arc<dyn PhysicalExpr>,
    ) -> Arc<dyn PhysicalExpr> {
        Arc::new(BinaryExpr::new(l, op, r))
    }

    fn col(name: &str, i: usize) -> Arc<dyn PhysicalExpr> {
        Arc::new(Column::new(name, i))
    }

    /// Evaluates `expr` both ways; they must agree (values, NULLs, type, or both fail).
    fn same(expr: Arc<dyn PhysicalExpr>, b: &RecordBatch) -> Option<ArrayRef> {
        let fast = DecimalArithExpr::try_new(&expr, &b.schema()).expect("rewritable");
        let want = expr.evaluate(b).and_then(|v| v.into_array(b.num_rows()));
        let got = fast.evaluate(b).and_then(|v| v.into_array(b.num_rows()));
        match (&want, &got) {
            (Ok(w), Ok(g)) => {
                assert_eq!(w.as_ref(), g.as_ref(), "{expr}");
                Some(g.clone())
            }
            (Err(_), Err(_)) => None,
            _ => panic!("{expr}: arrow {want:?}, fast {got:?}"),
        }
    }

    #[test]
    fn agrees_with_arrow_on_values_nulls_scalars_and_scales() {
        let a = decimals(
            &[
                Some(123456),
                None,
                Some(-99),
                Some(0),
                Some(999_999_999_999_999),
            ],
            15,
            2,
        );
        let b = decimals(&[Some(7), Some(3), None, Some(-100), Some(99)], 15, 2);
        let c = decimals(&[Some(1), Some(2), Some(3), Some(4), None], 10, 0);
        let ab = batch(a.clone(), b.clone());
        let ac = batch(a, c);
        let mut fast_ones = 0;
        for op in [Operator::Plus, Operator::Minus, Operator::Multiply] {
            for bt in [&ab, &ac] {
                if same(binary(col("a", 0), op, col("b", 1)), bt).is_some() {
                    fast_ones += 1;
                }
                same(binary(col("b", 1), op, col("a", 0)), bt);
                // 1 - x, x * 0.5, a NULL literal.
                let one = lit(ScalarValue::Decimal128(Some(1), 20, 0));
                same(binary(one, op, col("b", 1)), bt);
                let half = lit(ScalarValue::Decimal128(Some(5), 2, 1));
                same(binary(col("a", 0), op, half), bt);
                let null = lit(ScalarValue::Decimal128(None, 15, 2));
                same(binary(col("a", 0), op, null), bt);
            }
        }
        assert_eq!(fast_ones, 6);
    }

    #[test]
    fn values_beyond_64_bits_take_arrows_path_overflow_included() {
        let big = decimals(&[Some(1), Some(i128::MAX / 2)], 38, 0);
        let b = batch(big.clone(), big);
        // Fits the rewrite by type; the values send it to arrow, which reports the overflow.
        let product = binary(col("a", 0), Operator::Multiply, col("b", 1));
        assert!(same(product, &b).is_none());
        let sum = binary(col("a", 0), Operator::Plus, col("b", 1));
        assert!(same(sum, &b).is_some());
    }

    #[test]
    fn only_decimal_arithmetic_is_rewritten() {
        let schema = Schema::new(vec![
            Field::new("i", DataType::Int64, false),
            Field::new("d", DataType::Decimal128(15, 2), false),
        ]);
        let ints = binary(col("i", 0), Operator::Plus, col("i", 0));
        assert!(DecimalArithExpr::try_new(&ints, &schema).is_none());
        let div = binary(col("d", 1), Operator::Divide, col("d", 1));
        assert!(DecimalArithExpr::try_new(&div, &schema).is_none());
        let cmp = binary(col("d", 1), Operator::Lt, col("d", 1));
        assert!(DecimalArithExpr::try_new(&cmp, &schema).is_none());
    }

    #[tokio::test]
    async fn a_rewritten_plan_gives_the_same_answer() -> DfResult<()> {
        let ctx = SessionContext::new();
        ctx.sql(
            "CREATE TABLE t (p DECIMAL(15,2), d DECIMAL(15,2), x DECIMAL(15,2), g VARCHAR) AS VALUES \
             (100.50, 0.05, 0.01, 'a'), (20.00, 0.10, 0.02, 'b'), (3.33, 0.00, 0.08, 'a'), \
             (NULL, 0.01, 0.02, 'b')",
        )
        .await?
        .collect()
        .await?;
        let sql = "SELECT g, sum(p * (1 - d)), sum(p * (1 - d) * (1 + x)) FROM t \
                   WHERE p * d < 5 GROUP BY g ORDER BY g";
        let plan = ctx.sql(sql).await?.create_physical_plan().await?;
        let fast = rewrite_plan(plan.clone())?;
        let mut found = 0;
        fast.apply(|node| {
            node.apply_expressions(&mut |e| {
                e.apply(|x| {
                    found += usize::from(x.downcast_ref::<DecimalArithExpr>().is_some());
                    Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
                })
            })
        })?;
        assert!(found >= 3, "{found}");
        let want = collect(plan, ctx.task_ctx()).await?;
        let got = collect(fast, ctx.task_ctx()).await?;
        assert_eq!(
            arrow::util::pretty::pretty_format_batches(&want)?.to_string(),
            arrow::util::pretty::pretty_format_batches(&got)?.to_string()
        );
        Ok(())
    }
}
