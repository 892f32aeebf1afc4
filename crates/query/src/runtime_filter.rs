//! A runtime filter as a backend runs it: the join's filter, which turns itself off when it
//! does not filter.
//!
//! A hash join's build-side keys (or their bounds) are worth checking on the probe side only
//! when they drop rows; when nearly every row passes (the bounds of keys spread over the whole
//! range, a join that keeps most rows), checking them is pure cost. [`RuntimeFilterExpr`]
//! counts what passes over the first [`RuntimeFilterExpr::PROBE_ROWS`] rows and, if more than
//! [`RuntimeFilterExpr::KEEP_RATIO`] of them did, answers TRUE for every later row without
//! evaluating (StarRocks's runtime filters back off the same way). Its answers never drop a
//! row the join would keep, so stopping early is always correct.

use std::fmt;
use std::hash::Hash;
use std::hash::Hasher;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;

use arrow::array::Array;
use arrow::array::BooleanArray;
use arrow::datatypes::DataType;
use arrow::datatypes::Schema;
use arrow::record_batch::RecordBatch;
use datafusion::common::DataFusionError;
use datafusion::common::Result as DfResult;
use datafusion::logical_expr::ColumnarValue;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::scalar::ScalarValue;

/// A runtime filter: `inner`, until it proves not to filter.
#[derive(Debug)]
pub struct RuntimeFilterExpr {
    inner: Arc<dyn PhysicalExpr>,
    seen: AtomicU64,
    kept: AtomicU64,
    off: AtomicBool,
}

impl RuntimeFilterExpr {
    /// Rows checked before deciding whether the filter is worth it.
    pub const PROBE_ROWS: u64 = 64 * 1024;
    /// Past this share of rows kept, the filter turns itself off.
    pub const KEEP_RATIO: f64 = 0.9;

    /// The runtime filter `inner`.
    pub fn new(inner: Arc<dyn PhysicalExpr>) -> Self {
        RuntimeFilterExpr {
            inner,
            seen: AtomicU64::new(0),
            kept: AtomicU64::new(0),
            off: AtomicBool::new(false),
        }
    }

    /// The filter.
    pub fn inner(&self) -> &Arc<dyn PhysicalExpr> {
        &self.inner
    }

    /// Whether it turned itself off.
    pub fn is_off(&self) -> bool {
        self.off.load(Ordering::Relaxed)
    }

    fn count(&self, rows: usize, out: &ColumnarValue) {
        let kept = match out {
            ColumnarValue::Array(a) => match a.as_any().downcast_ref::<BooleanArray>() {
                Some(b) => b.true_count() as u64,
                None => return,
            },
            ColumnarValue::Scalar(ScalarValue::Boolean(Some(true))) => rows as u64,
            ColumnarValue::Scalar(_) => 0,
        };
        let seen = self.seen.fetch_add(rows as u64, Ordering::Relaxed) + rows as u64;
        let kept = self.kept.fetch_add(kept, Ordering::Relaxed) + kept;
        if seen >= Self::PROBE_ROWS && kept as f64 > seen as f64 * Self::KEEP_RATIO {
            self.off.store(true, Ordering::Relaxed);
        }
    }
}

impl fmt::Display for RuntimeFilterExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "runtime_filter({})", self.inner)
    }
}

impl PartialEq for RuntimeFilterExpr {
    fn eq(&self, other: &Self) -> bool {
        self.inner.as_ref() == other.inner.as_ref()
    }
}

impl Eq for RuntimeFilterExpr {}

impl Hash for RuntimeFilterExpr {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.inner.hash(state);
    }
}

impl PhysicalExpr for RuntimeFilterExpr {
    fn data_type(&self, _input_schema: &Schema) -> DfResult<DataType> {
        Ok(DataType::Boolean)
    }

    fn nullable(&self, input_schema: &Schema) -> DfResult<bool> {
        self.inner.nullable(input_schema)
    }

    fn evaluate(&self, batch: &RecordBatch) -> DfResult<ColumnarValue> {
        if self.is_off() {
            return Ok(ColumnarValue::Scalar(ScalarValue::Boolean(Some(true))));
        }
        let out = self.inner.evaluate(batch)?;
        self.count(batch.num_rows(), &out);
        Ok(out)
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        vec![&self.inner]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> DfResult<Arc<dyn PhysicalExpr>> {
        let [inner] = <[Arc<dyn PhysicalExpr>; 1]>::try_from(children).map_err(|c| {
            DataFusionError::Internal(format!("a runtime filter has 1 child, not {}", c.len()))
        })?;
        Ok(Arc::new(RuntimeFilterExpr::new(inner)))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt_sql(f)
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::Int32Array;
    use arrow::datatypes::Field;
    use datafusion::logical_expr::Operator;
    use datafusion::physical_expr::expressions::BinaryExpr;
    use datafusion::physical_expr::expressions::Column;
    use datafusion::physical_expr::expressions::lit;

    use super::*;

    fn batch(values: std::ops::Range<i32>) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("k", DataType::Int32, false)]));
        RecordBatch::try_new(schema, vec![Arc::new(Int32Array::from_iter_values(values))])
            .expect("batch")
    }

    fn k_below(n: i32) -> Arc<dyn PhysicalExpr> {
        Arc::new(BinaryExpr::new(
            Arc::new(Column::new("k", 0)),
            Operator::Lt,
            lit(n),
        ))
    }

    fn kept(e: &RuntimeFilterExpr, b: &RecordBatch) -> usize {
        match e.evaluate(b).expect("evaluate") {
            ColumnarValue::Array(a) => a
                .as_any()
                .downcast_ref::<BooleanArray>()
                .expect("booleans")
                .true_count(),
            ColumnarValue::Scalar(ScalarValue::Boolean(Some(true))) => b.num_rows(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_filter_that_drops_rows_stays_on() {
        let f = RuntimeFilterExpr::new(k_below(100));
        for _ in 0..20 {
            assert_eq!(kept(&f, &batch(0..8192)), 100);
        }
        assert!(!f.is_off());
    }

    #[test]
    fn a_filter_that_keeps_nearly_every_row_turns_itself_off_after_probing() {
        // Keeps 8100 of every 8192 rows: it turns off once 64K rows have been seen.
        let f = RuntimeFilterExpr::new(k_below(8100));
        for i in 0..8 {
            assert!(!f.is_off(), "off too early, after {i} batches");
            assert_eq!(kept(&f, &batch(0..8192)), 8100);
        }
        assert!(f.is_off());
        // From then on every row passes (the join above still does the exact work).
        assert_eq!(kept(&f, &batch(0..8192)), 8192);
        assert_eq!(f.to_string(), "runtime_filter(k@0 < 8100)");
    }
}
