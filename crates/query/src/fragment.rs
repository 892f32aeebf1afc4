//! Plan fragments: the part of a query plan that runs on a backend, next to a tablet.
//!
//! The FE plans a query with DataFusion. Every table scan becomes a [`TabletLeafExec`] (one
//! tablet's rows at one version, projected), and the operators that work on one tablet at a
//! time (filters, projections, partial aggregation) are stacked on it. That stack, the
//! fragment, is serialized with `datafusion-proto` and sent to a replica's backend, which
//! decodes it with a resolver that turns the leaf into a Parquet scan of the tablet's rowset
//! files, runs it and streams the result back as Arrow.

use std::fmt;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use bytes::Bytes;
use common::schema::TableSchema;
use datafusion::common::DataFusionError;
use datafusion::common::Result as DfResult;
use datafusion::common::Statistics;
use datafusion::common::stats::Precision;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::execution::TaskContext;
use datafusion::physical_expr::EquivalenceProperties;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr_common::physical_expr::proto_decode::PhysicalExprDecodeCtx;
use datafusion::physical_expr_common::physical_expr::proto_encode::PhysicalExprEncodeCtx;
use datafusion::physical_plan::DisplayAs;
use datafusion::physical_plan::DisplayFormatType;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::Partitioning;
use datafusion::physical_plan::PlanProperties;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::physical_plan::execution_plan::Boundedness;
use datafusion::physical_plan::execution_plan::EmissionType;
use datafusion::physical_plan::statistics::StatisticsArgs;
use datafusion_proto::physical_plan::PhysicalExtensionCodec;
use datafusion_proto::physical_plan::PhysicalProtoConverterExtension;
use serde::Deserialize;

use crate::keyset::KeySetExpr;
use crate::runtime_filter::RuntimeFilterExpr;
use serde::Serialize;

/// What a backend needs to scan one tablet: the table's schema (which the tablet's files
/// must have), the columns to return, a predicate for pruning and a row limit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TabletLeaf {
    /// Table name, for messages and `EXPLAIN`.
    pub table: String,
    /// The table's schema.
    pub schema: TableSchema,
    /// Indices of the columns returned, in order; `None` = all.
    pub projection: Option<Vec<usize>>,
    /// A `datafusion-proto` logical expression over the table's columns that rows must
    /// satisfy to matter. Used only to skip row groups and rows early; the fragment's own
    /// filter decides.
    pub predicate: Option<Vec<u8>>,
    /// At most this many rows are needed (no filter above the leaf).
    pub limit: Option<usize>,
}

impl TabletLeaf {
    /// The Arrow schema of the whole table.
    pub fn table_arrow_schema(&self) -> SchemaRef {
        storage::arrow_schema(&self.schema)
    }

    /// The Arrow schema of the leaf's output.
    pub fn output_schema(&self) -> DfResult<SchemaRef> {
        let full = self.table_arrow_schema();
        match &self.projection {
            None => Ok(full),
            Some(p) => Ok(Arc::new(full.project(p)?)),
        }
    }
}

/// The leaf of a fragment as the FE plans it. It is never executed on the FE: a backend
/// replaces it with a scan of the tablet's files.
#[derive(Debug)]
pub struct TabletLeafExec {
    leaf: TabletLeaf,
    props: Arc<PlanProperties>,
    /// Rows the tablets hold, when the frontend knows (for the optimizer; not sent).
    rows: Option<usize>,
}

impl TabletLeafExec {
    /// A leaf.
    pub fn try_new(leaf: TabletLeaf) -> DfResult<Self> {
        let schema = leaf.output_schema()?;
        let props = PlanProperties::new(
            EquivalenceProperties::new(schema),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Ok(TabletLeafExec {
            leaf,
            props: Arc::new(props),
            rows: None,
        })
    }

    /// The same leaf, telling the optimizer it reads about `rows` rows.
    pub fn with_row_estimate(mut self, rows: usize) -> Self {
        self.rows = Some(rows);
        self
    }

    /// Estimated statistics for `rows` rows of this leaf's columns: the row count and a byte
    /// size from the columns' widths (strings at half their declared length).
    pub fn estimate(&self, rows: usize) -> Statistics {
        let schema = self.props.eq_properties.schema();
        let mut width = 0usize;
        for field in schema.fields() {
            let declared = self
                .leaf
                .schema
                .columns
                .iter()
                .find(|c| &c.name == field.name())
                .map(|c| &c.data_type);
            width += match declared {
                Some(common::schema::DataType::Char(n) | common::schema::DataType::Varchar(n)) => {
                    4 + (*n as usize).min(256) / 2
                }
                _ => field.data_type().primitive_width().unwrap_or(16),
            };
        }
        Statistics::new_unknown(schema)
            .with_num_rows(Precision::Inexact(rows))
            .with_total_byte_size(Precision::Inexact(rows.saturating_mul(width)))
    }

    /// What it scans.
    pub fn leaf(&self) -> &TabletLeaf {
        &self.leaf
    }
}

impl DisplayAs for TabletLeafExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "TabletLeafExec: table={}", self.leaf.table)?;
        let schema = self.props.eq_properties.schema();
        let cols: Vec<&str> = schema.fields().iter().map(|c| c.name().as_str()).collect();
        write!(f, ", columns=[{}]", cols.join(", "))?;
        if self.leaf.predicate.is_some() {
            f.write_str(", pruning predicate")?;
        }
        if let Some(l) = self.leaf.limit {
            write!(f, ", limit={l}")?;
        }
        Ok(())
    }
}

impl ExecutionPlan for TabletLeafExec {
    fn name(&self) -> &str {
        "TabletLeafExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.props
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        Vec::new()
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DfResult<TreeNodeRecursion>,
    ) -> DfResult<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        if children.is_empty() {
            Ok(self)
        } else {
            Err(DataFusionError::Internal(
                "TabletLeafExec has no children".into(),
            ))
        }
    }

    fn statistics_from_inputs(
        &self,
        _input_stats: &[Arc<Statistics>],
        _args: &StatisticsArgs,
    ) -> DfResult<Arc<Statistics>> {
        Ok(Arc::new(match self.rows {
            Some(rows) => self.estimate(rows),
            None => Statistics::new_unknown(&self.schema()),
        }))
    }

    fn execute(
        &self,
        _partition: usize,
        _context: Arc<TaskContext>,
    ) -> DfResult<SendableRecordBatchStream> {
        Err(DataFusionError::Internal(format!(
            "the scan of table {} runs on a backend, not here",
            self.leaf.table
        )))
    }
}

/// Turns a fragment's leaf into something a backend can execute.
/// Marks a [`KeySetExpr`] among a fragment's extension expressions.
const KEY_SET_TAG: &[u8] = b"tessera.keyset.1:";
/// Marks a [`RuntimeFilterExpr`] among a fragment's extension expressions.
const RUNTIME_FILTER_TAG: &[u8] = b"tessera.runtime_filter.1";

pub type LeafResolver = Arc<dyn Fn(&TabletLeaf) -> DfResult<Arc<dyn ExecutionPlan>> + Send + Sync>;

/// The `datafusion-proto` codec of fragments: it knows the tablet leaf.
#[derive(Clone, Default)]
pub struct FragmentCodec {
    resolver: Option<LeafResolver>,
}

impl FragmentCodec {
    /// A codec that decodes leaves with `resolver`.
    pub fn with_resolver(resolver: LeafResolver) -> Self {
        FragmentCodec {
            resolver: Some(resolver),
        }
    }
}

impl fmt::Debug for FragmentCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FragmentCodec")
            .field("resolver", &self.resolver.is_some())
            .finish()
    }
}

impl PhysicalExtensionCodec for FragmentCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        _ctx: &TaskContext,
        _proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        if !inputs.is_empty() {
            return Err(DataFusionError::Internal(
                "a tablet leaf has no inputs".into(),
            ));
        }
        let leaf: TabletLeaf = serde_json::from_slice(buf).map_err(|e| {
            DataFusionError::Plan(format!("bad tablet leaf in a plan fragment: {e}"))
        })?;
        match &self.resolver {
            Some(r) => r(&leaf),
            None => Ok(Arc::new(TabletLeafExec::try_new(leaf)?)),
        }
    }

    fn try_encode_expr(
        &self,
        node: &Arc<dyn PhysicalExpr>,
        buf: &mut Vec<u8>,
        _ctx: &PhysicalExprEncodeCtx<'_>,
    ) -> DfResult<()> {
        if node.downcast_ref::<RuntimeFilterExpr>().is_some() {
            buf.extend_from_slice(RUNTIME_FILTER_TAG);
            return Ok(());
        }
        let Some(set) = node.downcast_ref::<KeySetExpr>() else {
            return Err(DataFusionError::NotImplemented(format!(
                "{node} cannot be sent to a backend"
            )));
        };
        buf.extend_from_slice(KEY_SET_TAG);
        buf.extend_from_slice(&set.encode_keys()?);
        Ok(())
    }

    fn try_decode_expr(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn PhysicalExpr>],
        _ctx: &PhysicalExprDecodeCtx<'_>,
    ) -> DfResult<Arc<dyn PhysicalExpr>> {
        if let (RUNTIME_FILTER_TAG, [inner]) = (buf, inputs) {
            return Ok(Arc::new(RuntimeFilterExpr::new(inner.clone())));
        }
        let (Some(keys), [expr]) = (buf.strip_prefix(KEY_SET_TAG), inputs) else {
            return Err(DataFusionError::Plan(
                "unknown expression in a plan fragment".into(),
            ));
        };
        Ok(Arc::new(KeySetExpr::new(
            expr.clone(),
            KeySetExpr::decode_keys(keys)?,
        )))
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        _proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> DfResult<()> {
        let Some(leaf) = node.downcast_ref::<TabletLeafExec>() else {
            return Err(DataFusionError::NotImplemented(format!(
                "{} cannot be sent to a backend",
                node.name()
            )));
        };
        serde_json::to_writer(buf, &leaf.leaf)
            .map_err(|e| DataFusionError::Internal(format!("encoding a tablet leaf: {e}")))
    }
}

/// Serializes a fragment (whose leaf is a [`TabletLeafExec`]).
pub fn encode_fragment(plan: Arc<dyn ExecutionPlan>) -> DfResult<Bytes> {
    datafusion_proto::bytes::physical_plan_to_bytes_with_extension_codec(
        plan,
        &FragmentCodec::default(),
    )
}

/// Deserializes a fragment, turning its leaf into an executable plan with `resolver`.
pub fn decode_fragment(
    bytes: &[u8],
    ctx: &TaskContext,
    resolver: LeafResolver,
) -> DfResult<Arc<dyn ExecutionPlan>> {
    let codec = FragmentCodec::with_resolver(resolver);
    datafusion_proto::bytes::physical_plan_from_bytes_with_extension_codec(bytes, ctx, &codec)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use common::schema::ColumnSchema;
    use common::schema::DataType;
    use common::schema::KeysType;
    use datafusion::physical_expr::expressions::BinaryExpr;
    use datafusion::physical_expr::expressions::Column;
    use datafusion::physical_expr::expressions::Literal;
    use datafusion::physical_plan::empty::EmptyExec;
    use datafusion::physical_plan::filter::FilterExec;
    use datafusion::prelude::SessionContext;
    use datafusion::scalar::ScalarValue;

    use super::*;

    fn leaf() -> TabletLeaf {
        let column = |name: &str, data_type| ColumnSchema {
            name: name.into(),
            data_type,
            nullable: true,
            is_key: false,
            default: None,
            comment: String::new(),
        };
        TabletLeaf {
            table: "db.t".into(),
            schema: TableSchema {
                columns: vec![
                    column("k", DataType::Int),
                    column("v", DataType::Varchar(10)),
                    column("d", DataType::Date),
                ],
                keys_type: KeysType::Duplicate,
                distribution_columns: vec!["k".into()],
                buckets: 4,
                schema_version: 0,
            },
            projection: Some(vec![0, 2]),
            predicate: None,
            limit: Some(10),
        }
    }

    #[test]
    fn a_fragment_round_trips_and_its_leaf_reaches_the_resolver() -> DfResult<()> {
        let leaf_exec: Arc<dyn ExecutionPlan> = Arc::new(TabletLeafExec::try_new(leaf())?);
        assert_eq!(leaf_exec.schema().fields().len(), 2);
        let predicate = Arc::new(BinaryExpr::new(
            Arc::new(Column::new("k", 0)),
            datafusion::logical_expr::Operator::Gt,
            Arc::new(Literal::new(ScalarValue::Int32(Some(5)))),
        ));
        let plan: Arc<dyn ExecutionPlan> = Arc::new(FilterExec::try_new(predicate, leaf_exec)?);
        let bytes = encode_fragment(plan.clone())?;

        let seen: Arc<Mutex<Option<TabletLeaf>>> = Arc::default();
        let seen2 = seen.clone();
        let resolver: LeafResolver = Arc::new(move |l: &TabletLeaf| {
            *seen2
                .lock()
                .map_err(|_| DataFusionError::Internal("lock".into()))? = Some(l.clone());
            Ok(Arc::new(EmptyExec::new(l.output_schema()?)) as Arc<dyn ExecutionPlan>)
        });
        let ctx = SessionContext::new();
        let decoded = decode_fragment(&bytes, &ctx.task_ctx(), resolver)?;
        assert_eq!(decoded.name(), "FilterExec");
        assert_eq!(decoded.schema(), plan.schema());
        let got = seen
            .lock()
            .map_err(|_| DataFusionError::Internal("lock".into()))?
            .clone();
        assert_eq!(got, Some(leaf()));
        Ok(())
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let ctx = SessionContext::new();
        let resolver: LeafResolver = Arc::new(|l: &TabletLeaf| {
            Ok(Arc::new(EmptyExec::new(l.output_schema()?)) as Arc<dyn ExecutionPlan>)
        });
        for bytes in [&b""[..], b"\x0a\x05hello", b"\xff\xff\xff\xff"] {
            assert!(decode_fragment(bytes, &ctx.task_ctx(), resolver.clone()).is_err());
        }
    }
}
