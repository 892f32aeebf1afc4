//! Table scans: a DataFusion table over a snapshot of a Tessera table, and the execution
//! plan that reads its tablets from backends.
//!
//! A scan has one DataFusion partition per tablet it reads (after pruning). Each partition
//! sends the plan fragment (the tablet leaf plus whatever the [`super::pushdown`] rule moved
//! onto it) to one replica over Arrow Flight and streams back the result. A replica that fails
//! before its result has been passed on is replaced by the next one; results are held back
//! (up to `RETRY_BUFFER_BYTES` per tablet and `QUERY_RETRY_BUFFER_BYTES` per query) until
//! the replica has finished, so a retry never duplicates rows.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering as AtomicOrdering;
use std::time::Duration;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use arrow_flight::FlightClient;
use arrow_flight::Ticket;
use async_trait::async_trait;
use bytes::Bytes;
use datafusion::catalog::Session as DfSession;
use datafusion::catalog::TableProvider;
use datafusion::common::DataFusionError;
use datafusion::common::Result as DfResult;
use datafusion::common::Statistics;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::tree_node::TreeNode;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::datasource::TableType;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::Expr;
use datafusion::logical_expr::Operator;
use datafusion::logical_expr::TableProviderFilterPushDown;
use datafusion::logical_expr::utils::conjunction;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::ScalarFunctionExpr;
use datafusion::physical_expr::expressions::BinaryExpr;
use datafusion::physical_expr::expressions::CaseExpr;
use datafusion::physical_expr::expressions::DynamicFilterPhysicalExpr;
use datafusion::physical_expr::expressions::InListExpr;
use datafusion::physical_expr::expressions::Literal;
use datafusion::physical_expr::split_conjunction;
use datafusion::physical_expr_common::physical_expr::snapshot_physical_expr;
use datafusion::physical_plan::DisplayAs;
use datafusion::physical_plan::DisplayFormatType;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::Partitioning;
use datafusion::physical_plan::PlanProperties;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::execution_plan::SchedulingType;
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::filter_pushdown::ChildPushdownResult;
use datafusion::physical_plan::filter_pushdown::FilterPushdownPhase;
use datafusion::physical_plan::filter_pushdown::FilterPushdownPropagation;
use datafusion::physical_plan::filter_pushdown::PushedDown;
use datafusion::physical_plan::statistics::StatisticsArgs;
use datafusion::physical_plan::statistics::StatisticsContext;
use datafusion::physical_plan::stream::RecordBatchReceiverStreamBuilder;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::scalar::ScalarValue;
use datafusion_proto::bytes::Serializeable;
use futures::StreamExt;
use meta::catalog::table::ReplicaState;
use meta::catalog::table::Table;
use meta::rpc::ChannelPool;
use prost::Message;
use query::KeySetExpr;
use query::RuntimeFilterExpr;
use query::TabletLeaf;
use query::TabletLeafExec;

use super::prune;

/// Results of a replica held back (so that a failed replica can be replaced without
/// duplicating rows) up to this size; past it they are passed on and a failure fails the
/// query.
const RETRY_BUFFER_BYTES: usize = 64 * 1024 * 1024;
/// All tablets of one query together hold back at most this much.
const QUERY_RETRY_BUFFER_BYTES: usize = 256 * 1024 * 1024;

/// How a scan reaches backends.
#[derive(Clone)]
pub struct ScanContext {
    /// Channels to backends; requests carry the cluster id.
    pub pool: ChannelPool,
    /// For the backends' logs.
    pub query_id: String,
    /// How long connecting to a replica and its first answer may take.
    pub connect_timeout: Duration,
    /// Bytes held back by all of the query's scans (see [`QUERY_RETRY_BUFFER_BYTES`]).
    pub held: Arc<std::sync::atomic::AtomicUsize>,
    /// The memory one fragment may use on its backend (the session's query memory limit).
    pub mem_limit: u64,
}

impl fmt::Debug for ScanContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScanContext")
            .field("query_id", &self.query_id)
            .finish()
    }
}

/// A replica a scan may read.
#[derive(Clone, Debug)]
pub struct ReplicaTarget {
    /// Replica id.
    pub replica_id: i64,
    /// Its backend.
    pub backend_id: i64,
    /// `host:brpc_port` of the backend.
    pub addr: String,
}

/// One tablet a scan reads.
#[derive(Clone, Debug)]
pub struct TabletTarget {
    /// Tablet id.
    pub tablet_id: i64,
    /// Partition name, for messages.
    pub partition: String,
    /// The partition's visible version when the query started.
    pub version: i64,
    /// Readable replicas, in the order to try them.
    pub replicas: Vec<ReplicaTarget>,
    /// Rows the tablet holds, as its replicas last told (an estimate for the optimizer).
    pub rows: u64,
}

/// What the scan knows of a backend.
#[derive(Clone, Debug)]
pub struct BackendInfo {
    /// `host:brpc_port`.
    pub addr: String,
    /// Whether heartbeats reach it.
    pub alive: bool,
}

/// A table as a query sees it: the catalog's table at the moment the query started.
#[derive(Debug)]
pub struct TesseraTable {
    db: String,
    table: Table,
    schema: SchemaRef,
    backends: Arc<std::collections::HashMap<i64, BackendInfo>>,
    ctx: ScanContext,
}

impl TesseraTable {
    /// A table over a snapshot.
    pub fn new(
        db: String,
        table: Table,
        backends: Arc<std::collections::HashMap<i64, BackendInfo>>,
        ctx: ScanContext,
    ) -> Self {
        let schema = query::arrow_schema(&table.schema);
        TesseraTable {
            db,
            table,
            schema,
            backends,
            ctx,
        }
    }

    /// The first key column (the leading DUPLICATE/AGGREGATE/UNIQUE/PRIMARY KEY column), the
    /// one most likely to identify a row (for the optimizer's guesses).
    pub fn first_key_column(&self) -> Option<&str> {
        self.table
            .schema
            .columns
            .first()
            .filter(|c| c.is_key)
            .map(|c| c.name.as_str())
    }

    /// Rows the table holds, as its replicas last told (for the optimizer).
    pub fn row_count(&self) -> u64 {
        self.table
            .partitions
            .iter()
            .flat_map(|p| &p.tablets)
            .map(|t| {
                t.replicas
                    .iter()
                    .map(|r| r.row_count.max(0) as u64)
                    .max()
                    .unwrap_or(0)
            })
            .sum()
    }

    /// The tablets to read: pruned by the filters, each with its readable replicas, or an
    /// error naming a tablet no replica of which can be read.
    fn targets(&self, filters: &[Expr]) -> DfResult<Vec<TabletTarget>> {
        let mut out = Vec::new();
        for partition in &self.table.partitions {
            if !prune::partition_may_match(&self.table, partition, filters) {
                continue;
            }
            let buckets = prune::buckets_to_read(&self.table, partition, filters);
            for (bucket, tablet) in partition.tablets.iter().enumerate() {
                if let Some(b) = &buckets
                    && !b.contains(&(bucket as u32))
                {
                    continue;
                }
                let version = partition.visible_version;
                let mut readable = Vec::new();
                let mut why = Vec::new();
                for r in &tablet.replicas {
                    let be = self.backends.get(&r.backend_id);
                    let reason = if r.bad {
                        Some("marked bad".to_string())
                    } else if r.state != ReplicaState::Normal {
                        Some(format!("state {}", r.state))
                    } else if r.version < version {
                        Some(format!("at version {} < {version}", r.version))
                    } else {
                        match be {
                            None => Some("its backend is not in the cluster".to_string()),
                            Some(b) if !b.alive => Some("its backend is not alive".to_string()),
                            Some(_) => None,
                        }
                    };
                    match (reason, be) {
                        (None, Some(b)) => readable.push(ReplicaTarget {
                            replica_id: r.id,
                            backend_id: r.backend_id,
                            addr: b.addr.clone(),
                        }),
                        (reason, _) => why.push(format!(
                            "replica {} on backend {}: {}",
                            r.id,
                            r.backend_id,
                            reason.unwrap_or_default()
                        )),
                    }
                }
                if readable.is_empty() {
                    return Err(DataFusionError::External(Box::new(common::Error::new(
                        common::StatusCode::ReplicaUnavailable,
                        format!(
                            "no replica of tablet {} (table {}.{}, partition {}) can be read at \
                             version {version}: {}",
                            tablet.id,
                            self.db,
                            self.table.name,
                            partition.name,
                            why.join("; ")
                        ),
                    ))));
                }
                let rows = tablet
                    .replicas
                    .iter()
                    .filter(|r| readable.iter().any(|x| x.replica_id == r.id))
                    .map(|r| r.row_count.max(0) as u64)
                    .max()
                    .unwrap_or(0);
                // Spread the tablets over the replicas, the same way every time, so that
                // each backend's column cache holds its share of the data and not all of it.
                readable.sort_by_key(|r| r.backend_id);
                let n = readable.len();
                let turn = (bucket as u64).wrapping_add(partition.id as u64) % n as u64;
                readable.rotate_left(turn as usize);
                out.push(TabletTarget {
                    tablet_id: tablet.id,
                    partition: partition.name.clone(),
                    version,
                    replicas: readable,
                    rows,
                });
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl TableProvider for TesseraTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DfResult<Vec<TableProviderFilterPushDown>> {
        // Used for pruning (partitions, buckets, row groups); the filter itself stays.
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        _state: &dyn DfSession,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let targets = self.targets(filters)?;
        // Only filters that serialize travel (a pruning aid, never needed for correctness).
        let predicate = conjunction(filters.iter().cloned())
            .and_then(|e| e.to_bytes().ok())
            .map(|b| b.to_vec());
        let leaf = TabletLeaf {
            table: format!("{}.{}", self.db, self.table.name),
            schema: self.table.schema.clone(),
            projection: projection.cloned(),
            predicate,
            limit,
        };
        if targets.is_empty() {
            return Ok(Arc::new(EmptyExec::new(leaf.output_schema()?)));
        }
        let rows: u64 = targets.iter().map(|t| t.rows).sum();
        let fragment: Arc<dyn ExecutionPlan> = Arc::new(
            TabletLeafExec::try_new(leaf.clone())?
                .with_row_estimate(usize::try_from(rows).unwrap_or(usize::MAX)),
        );
        // Hash distribution puts equal distribution keys in one bucket, but a range-partitioned
        // table has a bucket per partition. Random distribution (no distribution columns)
        // spreads any group over every bucket: no keys then.
        let mut bucket_keys = self.table.schema.distribution_columns.clone();
        if !bucket_keys.is_empty()
            && let Some(p) = &self.table.partitioning
            && !bucket_keys.contains(&p.column)
        {
            bucket_keys.push(p.column.clone());
        }
        Ok(Arc::new(
            TabletScanExec::try_new(leaf.table, fragment, Arc::new(targets), self.ctx.clone())?
                .with_bucket_keys(bucket_keys),
        ))
    }
}

/// Reads tablets from backends: partition i runs the fragment on a replica of tablet i.
#[derive(Debug, Clone)]
pub struct TabletScanExec {
    table: String,
    fragment: Arc<dyn ExecutionPlan>,
    fragment_bytes: Bytes,
    targets: Arc<Vec<TabletTarget>>,
    ctx: ScanContext,
    props: Arc<PlanProperties>,
    /// Runtime filters: dynamic filters of operators above (a hash join's build-side keys, a
    /// top-N's threshold), over the tablet leaf's columns. Their value when the scan starts
    /// is sent with the fragment, so backends drop rows that cannot match before sending.
    runtime_filters: Vec<Arc<dyn PhysicalExpr>>,
    /// The fragment with the runtime filters' values, made once when the first tablet read
    /// starts (every partition of one execution shares it).
    filtered_fragment: Arc<tokio::sync::OnceCell<Bytes>>,
    /// Columns (of the tablet leaf) whose values place a row in exactly one tablet: the
    /// distribution columns, and the partition column of a range-partitioned table. All rows
    /// of a group over them are in one tablet, so such an aggregation can finish there.
    bucket_keys: Option<Arc<Vec<String>>>,
}

impl TabletScanExec {
    /// A scan running `fragment` (whose leaf is a [`TabletLeafExec`]) on every target.
    pub fn try_new(
        table: String,
        fragment: Arc<dyn ExecutionPlan>,
        targets: Arc<Vec<TabletTarget>>,
        ctx: ScanContext,
    ) -> DfResult<Self> {
        let fragment_bytes = query::encode_fragment(fragment.clone())?;
        // Some operators serialize but cannot be rebuilt on their own (a filter holding a
        // scalar subquery's result needs its surrounding ScalarSubqueryExec): decode once
        // here, so such an operator stays on the frontend instead of failing on a backend.
        decode_alone(&fragment_bytes)?;
        let fp = fragment.properties();
        // Cooperative: batches arrive through a tokio channel, which takes part in tokio's
        // task budget. (Declared, DataFusion would wrap the scan in a CooperativeExec, which
        // would hide the scan from the operators above it and keep them off the backends.)
        let props = PlanProperties::new(
            fp.eq_properties.clone(),
            Partitioning::UnknownPartitioning(targets.len()),
            fp.emission_type,
            fp.boundedness,
        )
        .with_scheduling_type(SchedulingType::Cooperative);
        Ok(TabletScanExec {
            table,
            fragment,
            fragment_bytes,
            targets,
            ctx,
            props: Arc::new(props),
            runtime_filters: Vec::new(),
            filtered_fragment: Arc::new(tokio::sync::OnceCell::new()),
            bucket_keys: None,
        })
    }

    /// The same scan, knowing which columns place a row in one tablet.
    pub fn with_bucket_keys(mut self, keys: Vec<String>) -> Self {
        self.bucket_keys = (!keys.is_empty()).then(|| Arc::new(keys));
        self
    }

    /// Columns whose values place a row in exactly one tablet, when known.
    pub fn bucket_keys(&self) -> Option<&[String]> {
        self.bucket_keys.as_deref().map(Vec::as_slice)
    }

    /// The runtime filters this scan takes (see [`TabletScanExec::runtime_filters`]).
    pub fn runtime_filters(&self) -> &[Arc<dyn PhysicalExpr>] {
        &self.runtime_filters
    }

    /// The same scan without the runtime filters whose dynamic filter is `id`, or `None` when
    /// it has none of them.
    pub fn without_runtime_filter(&self, id: u64) -> Option<Self> {
        let keep: Vec<Arc<dyn PhysicalExpr>> = self
            .runtime_filters
            .iter()
            .filter(|e| {
                !e.exists(|n| Ok(n.expression_id() == Some(id)))
                    .unwrap_or(false)
            })
            .cloned()
            .collect();
        if keep.len() == self.runtime_filters.len() {
            return None;
        }
        let mut scan = self.with_fragment(self.fragment.clone()).ok()?;
        scan.runtime_filters = keep;
        Some(scan)
    }

    /// The fragment each backend runs.
    pub fn fragment(&self) -> &Arc<dyn ExecutionPlan> {
        &self.fragment
    }

    /// The same scan running another fragment (the old one with operators stacked on it).
    pub fn with_fragment(&self, fragment: Arc<dyn ExecutionPlan>) -> DfResult<Self> {
        let mut scan = TabletScanExec::try_new(
            self.table.clone(),
            fragment,
            self.targets.clone(),
            self.ctx.clone(),
        )?;
        scan.runtime_filters = self.runtime_filters.clone();
        scan.bucket_keys = self.bucket_keys.clone();
        Ok(scan)
    }

    /// The fragment to send: with the runtime filters' current values applied right above
    /// the tablet leaf, or the plain fragment when none of them filters anything yet or
    /// they cannot travel.
    fn fragment_to_send(&self) -> Bytes {
        match runtime_filtered_fragment(&self.fragment, &self.runtime_filters) {
            Ok(Some(b)) => b,
            Ok(None) => self.fragment_bytes.clone(),
            Err(e) => {
                tracing::debug!(table = %self.table, %e, "runtime filter not sent");
                self.fragment_bytes.clone()
            }
        }
    }
}

impl DisplayAs for TabletScanExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "TabletScanExec: table={}, tablets={}",
            self.table,
            self.targets.len()
        )?;
        let shown: Vec<String> = self
            .targets
            .iter()
            .take(if matches!(t, DisplayFormatType::Verbose) {
                usize::MAX
            } else {
                8
            })
            .map(|t| {
                let first = t.replicas.first().map(|r| r.backend_id).unwrap_or(-1);
                format!(
                    "{}@v{}->be{}({} replicas)",
                    t.tablet_id,
                    t.version,
                    first,
                    t.replicas.len()
                )
            })
            .collect();
        write!(f, " [{}", shown.join(", "))?;
        if shown.len() < self.targets.len() {
            write!(f, ", ...")?;
        }
        f.write_str("]")?;
        // The operators the backends run, top-down, down to the tablet leaf.
        let mut node = self.fragment.clone();
        let mut chain = Vec::new();
        loop {
            chain.push(
                datafusion::physical_plan::displayable(node.as_ref())
                    .one_line()
                    .to_string()
                    .trim()
                    .to_string(),
            );
            let Some(child) = node.children().first().map(|c| (*c).clone()) else {
                break;
            };
            node = child;
        }
        write!(f, ", fragment=[{}]", chain.join(" <- "))?;
        if !self.runtime_filters.is_empty() {
            let shown: Vec<String> = self
                .runtime_filters
                .iter()
                .map(|e| format!("{e}"))
                .collect();
            write!(f, ", runtime_filters=[{}]", shown.join(", "))?;
        }
        Ok(())
    }
}

impl ExecutionPlan for TabletScanExec {
    fn name(&self) -> &str {
        "TabletScanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.props
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        Vec::new()
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DfResult<TreeNodeRecursion>,
    ) -> DfResult<TreeNodeRecursion> {
        // The runtime filters are visible, so their producers know someone uses them.
        for e in &self.runtime_filters {
            if f(e)? == TreeNodeRecursion::Stop {
                return Ok(TreeNodeRecursion::Stop);
            }
        }
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
                "TabletScanExec has no children".into(),
            ))
        }
    }

    fn handle_child_pushdown_result(
        &self,
        phase: FilterPushdownPhase,
        child_pushdown_result: ChildPushdownResult,
        _config: &ConfigOptions,
    ) -> DfResult<FilterPushdownPropagation<Arc<dyn ExecutionPlan>>> {
        let filters: Vec<Arc<dyn PhysicalExpr>> = child_pushdown_result
            .parent_filters
            .into_iter()
            .map(|f| f.filter)
            .collect();
        // Every filter stays where it is (PushedDown::No): the ordinary ones are folded into
        // the fragment by the pushdown rule; dynamic ones are also taken as runtime filters.
        let keep = vec![PushedDown::No; filters.len()];
        let dynamic: Vec<Arc<dyn PhysicalExpr>> = filters
            .into_iter()
            .filter(|e| phase == FilterPushdownPhase::Post && is_dynamic(e))
            .collect();
        if dynamic.is_empty() {
            return Ok(FilterPushdownPropagation::with_parent_pushdown_result(keep));
        }
        let mut scan = self.with_fragment(self.fragment.clone())?;
        scan.runtime_filters.extend(dynamic);
        Ok(FilterPushdownPropagation::with_parent_pushdown_result(keep)
            .with_updated_node(Arc::new(scan) as Arc<dyn ExecutionPlan>))
    }

    fn statistics_from_inputs(
        &self,
        _input_stats: &[Arc<Statistics>],
        args: &StatisticsArgs,
    ) -> DfResult<Arc<Statistics>> {
        match (
            args.partition(),
            self.fragment.downcast_ref::<TabletLeafExec>(),
        ) {
            (Some(i), Some(leaf)) => {
                let rows = self.targets.get(i).map_or(0, |t| t.rows);
                Ok(Arc::new(
                    leaf.estimate(usize::try_from(rows).unwrap_or(usize::MAX)),
                ))
            }
            (None, _) => StatisticsContext::new().compute(self.fragment.as_ref(), args),
            (Some(_), None) => Ok(Arc::new(Statistics::new_unknown(&self.schema()))),
        }
    }

    fn execute(
        &self,
        partition: usize,
        _context: Arc<TaskContext>,
    ) -> DfResult<SendableRecordBatchStream> {
        let target = self.targets.get(partition).cloned().ok_or_else(|| {
            DataFusionError::Internal(format!("TabletScanExec has no partition {partition}"))
        })?;
        let schema = self.schema();
        let ctx = self.ctx.clone();
        let table = self.table.clone();
        if self.runtime_filters.is_empty() {
            let mut builder = RecordBatchReceiverStreamBuilder::new(schema.clone(), 2);
            let tx = builder.tx();
            let fragment = self.fragment_bytes.clone();
            builder
                .spawn(async move { read_tablet(ctx, target, fragment, table, schema, tx).await });
            return Ok(builder.build());
        }
        // With runtime filters the read starts when the stream is first polled: a hash join
        // polls its probe side only once its build side is complete, so the filter then holds
        // the build side's keys.
        let this = self.clone();
        let out_schema = schema.clone();
        let stream = futures::stream::once(async move {
            let cell = this.filtered_fragment.clone();
            let fragment = cell
                .get_or_init(|| async { this.fragment_to_send() })
                .await
                .clone();
            let mut builder = RecordBatchReceiverStreamBuilder::new(schema.clone(), 2);
            let tx = builder.tx();
            builder
                .spawn(async move { read_tablet(ctx, target, fragment, table, schema, tx).await });
            builder.build()
        })
        .flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(out_schema, stream)))
    }
}

/// Whether `e` holds a dynamic filter (one whose value an operator sets while the query runs).
fn is_dynamic(e: &Arc<dyn PhysicalExpr>) -> bool {
    e.exists(|n| Ok(n.downcast_ref::<DynamicFilterPhysicalExpr>().is_some()))
        .unwrap_or(false)
}

/// Whether `e` can be sent to a backend.
fn serializable(e: &Arc<dyn PhysicalExpr>) -> bool {
    datafusion_proto::physical_plan::to_proto::serialize_physical_expr(
        e,
        &query::FragmentCodec::default(),
    )
    .is_ok()
}

/// IN lists longer than this travel as a [`KeySetExpr`].
const KEY_SET_MIN: usize = 16;

/// `e` with its long IN lists of literals as key sets (one Arrow array each).
fn to_key_sets(e: Arc<dyn PhysicalExpr>) -> DfResult<Arc<dyn PhysicalExpr>> {
    Ok(e.transform_up(|n| {
        if let Some(l) = n.downcast_ref::<InListExpr>()
            && !l.negated()
            && l.len() > KEY_SET_MIN
        {
            let values: Option<Vec<ScalarValue>> = l
                .list()
                .iter()
                .map(|x| x.downcast_ref::<Literal>().map(|v| v.value().clone()))
                .collect();
            if let Some(values) = values {
                let keys = ScalarValue::iter_to_array(values)?;
                // A multi-column join's keys, `struct(a, b) IN (...)`: one key set per column
                // (it keeps every row the pairs keep; a backend looks up plain values much
                // faster than structs).
                if let Some(f) = l.expr().downcast_ref::<ScalarFunctionExpr>()
                    && f.name() == "struct"
                    && let Some(fields) = keys.as_any().downcast_ref::<arrow::array::StructArray>()
                    && fields.num_columns() == f.args().len()
                {
                    let sets = f
                        .args()
                        .iter()
                        .zip(fields.columns())
                        .map(|(e, k)| {
                            Arc::new(KeySetExpr::new(e.clone(), k.clone())) as Arc<dyn PhysicalExpr>
                        })
                        .reduce(|a, b| {
                            Arc::new(BinaryExpr::new(a, Operator::And, b)) as Arc<dyn PhysicalExpr>
                        });
                    if let Some(sets) = sets {
                        return Ok(Transformed::yes(sets));
                    }
                }
                let set = KeySetExpr::new(l.expr().clone(), keys);
                return Ok(Transformed::yes(Arc::new(set) as Arc<dyn PhysicalExpr>));
            }
        }
        Ok(Transformed::no(n))
    })?
    .data)
}

/// The OR of `branches`, as one key set when each branch (but those that are FALSE) is a
/// conjunction holding a key set over the same expression: their union keeps every row any
/// branch keeps (the set implies the branch's other conjuncts' bounds, which are dropped).
fn or_all(branches: Vec<Arc<dyn PhysicalExpr>>) -> Option<Arc<dyn PhysicalExpr>> {
    let live: Vec<&Arc<dyn PhysicalExpr>> = branches
        .iter()
        .filter(|b| {
            b.downcast_ref::<Literal>()
                .is_none_or(|l| l.value() != &ScalarValue::Boolean(Some(false)))
        })
        .collect();
    let sets: Option<Vec<&KeySetExpr>> = live
        .iter()
        .map(|b| {
            let mut found = None;
            for c in split_conjunction(b) {
                if let Some(s) = c.downcast_ref::<KeySetExpr>() {
                    found = Some(s);
                }
            }
            found
        })
        .collect();
    if let Some(sets) = sets
        && let Some(first) = sets.first()
        && sets
            .iter()
            .all(|s| s.expr().as_ref() == first.expr().as_ref())
    {
        let keys: Vec<&dyn arrow::array::Array> = sets.iter().map(|s| s.keys().as_ref()).collect();
        if let Ok(all) = arrow::compute::concat(&keys) {
            return Some(Arc::new(KeySetExpr::new(first.expr().clone(), all)));
        }
    }
    branches
        .into_iter()
        .reduce(|a, b| Arc::new(BinaryExpr::new(a, Operator::Or, b)) as Arc<dyn PhysicalExpr>)
}

/// A filter that keeps at least every row `e` keeps and can be sent to a backend, or `None`
/// when nothing short of keeping every row is (a hash table probe does not travel; the
/// bounds and IN lists around it do). Only AND, OR and the branches of CASE are looked
/// into: weakening an operand there never drops a row the original keeps.
fn relax(e: &Arc<dyn PhysicalExpr>) -> Option<Arc<dyn PhysicalExpr>> {
    if let Some(c) = e.downcast_ref::<CaseExpr>() {
        // The value is one of the branches: their OR keeps every row the CASE keeps (and
        // saves the backend hashing every row to pick a branch).
        let mut branches: Vec<Arc<dyn PhysicalExpr>> = Vec::new();
        for (_, then) in c.when_then_expr() {
            branches.push(relax(then)?);
        }
        // No ELSE is NULL, which keeps nothing.
        if let Some(x) = c.else_expr() {
            branches.push(relax(x)?);
        }
        return or_all(branches);
    }
    if serializable(e) {
        return Some(e.clone());
    }
    if let Some(b) = e.downcast_ref::<BinaryExpr>() {
        let (l, r) = (relax(b.left()), relax(b.right()));
        return match (b.op(), l, r) {
            (Operator::And, Some(l), Some(r)) => {
                Some(Arc::new(BinaryExpr::new(l, Operator::And, r)) as Arc<dyn PhysicalExpr>)
            }
            (Operator::And, Some(x), None) | (Operator::And, None, Some(x)) => Some(x),
            (Operator::Or, Some(l), Some(r)) => or_all(vec![l, r]),
            _ => None,
        };
    }
    None
}

/// `fragment` with the current values of `filters` applied right above its tablet leaf, or
/// `None` when they keep every row.
fn runtime_filtered_fragment(
    fragment: &Arc<dyn ExecutionPlan>,
    filters: &[Arc<dyn PhysicalExpr>],
) -> DfResult<Option<Bytes>> {
    let mut parts = Vec::new();
    for f in filters {
        let now = to_key_sets(snapshot_physical_expr(f.clone())?)?;
        if let Some(l) = now.downcast_ref::<Literal>()
            && l.value() == &datafusion::scalar::ScalarValue::Boolean(Some(true))
        {
            continue;
        }
        if let Some(r) = relax(&now) {
            parts.push(r);
        }
    }
    let Some(predicate) = parts
        .into_iter()
        .reduce(|a, b| Arc::new(BinaryExpr::new(a, Operator::And, b)) as Arc<dyn PhysicalExpr>)
    else {
        return Ok(None);
    };
    let filtered = fragment
        .clone()
        .transform_up(|node| {
            if node.downcast_ref::<TabletLeafExec>().is_some() {
                let adaptive = Arc::new(RuntimeFilterExpr::new(predicate.clone()));
                let f = FilterExec::try_new(adaptive, node)?;
                Ok(Transformed::yes(Arc::new(f) as Arc<dyn ExecutionPlan>))
            } else {
                Ok(Transformed::no(node))
            }
        })?
        .data;
    let bytes = query::encode_fragment(filtered)?;
    decode_alone(&bytes)?;
    Ok(Some(bytes))
}

/// Decodes a fragment as a backend would, with empty tablet leaves: an operator that
/// serializes but cannot be rebuilt on its own fails here, on the frontend.
fn decode_alone(bytes: &[u8]) -> DfResult<Arc<dyn ExecutionPlan>> {
    let resolver: query::LeafResolver = Arc::new(|leaf: &TabletLeaf| {
        Ok(Arc::new(EmptyExec::new(leaf.output_schema()?)) as Arc<dyn ExecutionPlan>)
    });
    query::decode_fragment(bytes, &decode_context(), resolver)
}

/// A task context with DataFusion's default functions, for checking that fragments decode.
fn decode_context() -> Arc<TaskContext> {
    static CTX: std::sync::OnceLock<Arc<TaskContext>> = std::sync::OnceLock::new();
    CTX.get_or_init(|| datafusion::prelude::SessionContext::new().task_ctx())
        .clone()
}

type Tx = tokio::sync::mpsc::Sender<DfResult<RecordBatch>>;

/// Reads one tablet, trying its replicas in order until one answers completely.
async fn read_tablet(
    ctx: ScanContext,
    target: TabletTarget,
    fragment: Bytes,
    table: String,
    schema: SchemaRef,
    tx: Tx,
) -> DfResult<()> {
    let mut errors = Vec::new();
    for replica in &target.replicas {
        match read_replica(&ctx, &target, replica, &fragment, &schema, &tx).await {
            Ok(()) => return Ok(()),
            Err(ReplicaFailure::Retriable(e)) => {
                tracing::info!(
                    tablet_id = target.tablet_id,
                    backend_id = replica.backend_id,
                    error = %e,
                    "scan of a replica failed; trying another replica"
                );
                errors.push(format!(
                    "backend {} ({}): {e}",
                    replica.backend_id, replica.addr
                ));
            }
            Err(ReplicaFailure::Fatal(e)) => return Err(e),
            Err(ReplicaFailure::Gone) => return Ok(()),
        }
    }
    Err(DataFusionError::External(Box::new(common::Error::new(
        common::StatusCode::ReplicaUnavailable,
        format!(
            "no replica of tablet {} (table {table}, partition {}) could be read at version {}: \
             {}",
            target.tablet_id,
            target.partition,
            target.version,
            errors.join("; ")
        ),
    ))))
}

enum ReplicaFailure {
    /// Nothing was passed on: another replica may be tried.
    Retriable(String),
    /// Rows were already passed on, or the error is the query's own.
    Fatal(DataFusionError),
    /// The consumer went away (the query ended or was cancelled).
    Gone,
}

async fn read_replica(
    ctx: &ScanContext,
    target: &TabletTarget,
    replica: &ReplicaTarget,
    fragment: &Bytes,
    schema: &SchemaRef,
    tx: &Tx,
) -> Result<(), ReplicaFailure> {
    let channel = ctx
        .pool
        .channel(&replica.addr)
        .map_err(ReplicaFailure::Retriable)?;
    let mut client = FlightClient::new(channel);
    client
        .add_header(proto::CLUSTER_ID_HEADER, &ctx.pool.cluster_id().to_string())
        .map_err(|e| ReplicaFailure::Retriable(e.to_string()))?;
    client
        .add_header(proto::TOKEN_HEADER, &ctx.pool.token())
        .map_err(|e| ReplicaFailure::Retriable(e.to_string()))?;
    let ticket = proto::ScanTicket {
        tablet_id: target.tablet_id,
        version: target.version,
        fragment: fragment.to_vec(),
        query_id: ctx.query_id.clone(),
        backend_id: replica.backend_id,
        mem_limit: i64::try_from(ctx.mem_limit).unwrap_or(i64::MAX),
    };
    let ticket = Ticket::new(ticket.encode_to_vec());
    let mut stream = match tokio::time::timeout(ctx.connect_timeout, client.do_get(ticket)).await {
        Ok(Ok(s)) => s,
        Ok(Err(arrow_flight::error::FlightError::Tonic(s)))
            if s.code() == tonic::Code::InvalidArgument =>
        {
            // The backend cannot run the fragment: another replica would not either.
            return Err(ReplicaFailure::Fatal(DataFusionError::External(Box::new(
                common::Error::new(
                    common::StatusCode::Internal,
                    format!(
                        "backend {} cannot run the scan of tablet {}: {}",
                        replica.backend_id,
                        target.tablet_id,
                        s.message()
                    ),
                ),
            ))));
        }
        Ok(Err(e)) => return Err(ReplicaFailure::Retriable(flight_message(&e))),
        Err(_) => {
            return Err(ReplicaFailure::Retriable(format!(
                "no answer within {} ms",
                ctx.connect_timeout.as_millis()
            )));
        }
    };
    let mut held: Vec<RecordBatch> = Vec::new();
    let mut budget = Budget {
        query: ctx.held.clone(),
        bytes: 0,
    };
    let mut passed_on = false;
    while let Some(item) = stream.next().await {
        let batch = match item {
            Ok(b) => b,
            Err(e) if passed_on => {
                return Err(ReplicaFailure::Fatal(DataFusionError::External(Box::new(
                    common::Error::new(
                        common::StatusCode::ReplicaUnavailable,
                        format!(
                            "the replica of tablet {} on backend {} failed during the read: {}",
                            target.tablet_id,
                            replica.backend_id,
                            flight_message(&e)
                        ),
                    ),
                ))));
            }
            Err(e) if is_resource_exhausted(&e) => {
                // The fragment needs more memory than the query may use: another replica
                // would need as much.
                return Err(ReplicaFailure::Fatal(DataFusionError::ResourcesExhausted(
                    format!(
                        "the scan of tablet {} on backend {}: {}",
                        target.tablet_id,
                        replica.backend_id,
                        flight_message(&e)
                    ),
                )));
            }
            Err(e) => return Err(ReplicaFailure::Retriable(flight_message(&e))),
        };
        let batch = if batch.schema() == *schema {
            batch
        } else {
            // Field names or nullability may differ in metadata only: rewrap the columns.
            RecordBatch::try_new(schema.clone(), batch.columns().to_vec()).map_err(|e| {
                ReplicaFailure::Fatal(DataFusionError::Internal(format!(
                    "tablet {}: a backend returned columns of an unexpected type: {e}",
                    target.tablet_id
                )))
            })?
        };
        if passed_on {
            if tx.send(Ok(batch)).await.is_err() {
                return Err(ReplicaFailure::Gone);
            }
            continue;
        }
        let query_held = budget.take(batch.get_array_memory_size());
        held.push(batch);
        if budget.bytes > RETRY_BUFFER_BYTES || query_held > QUERY_RETRY_BUFFER_BYTES {
            // Past the budget: pass the rows on; a failure from here on fails the query.
            passed_on = true;
            budget.release();
            for b in held.drain(..) {
                if tx.send(Ok(b)).await.is_err() {
                    return Err(ReplicaFailure::Gone);
                }
            }
        }
    }
    budget.release();
    for b in held {
        if tx.send(Ok(b)).await.is_err() {
            return Err(ReplicaFailure::Gone);
        }
    }
    Ok(())
}

/// The bytes one replica read holds back, counted in the query's total until released (also
/// when the read ends early).
struct Budget {
    query: Arc<std::sync::atomic::AtomicUsize>,
    bytes: usize,
}

impl Budget {
    /// Counts `n` more bytes; returns the query's total.
    fn take(&mut self, n: usize) -> usize {
        self.bytes += n;
        self.query.fetch_add(n, AtomicOrdering::Relaxed) + n
    }

    fn release(&mut self) {
        self.query.fetch_sub(self.bytes, AtomicOrdering::Relaxed);
        self.bytes = 0;
    }
}

impl Drop for Budget {
    fn drop(&mut self) {
        self.release();
    }
}

fn is_resource_exhausted(e: &arrow_flight::error::FlightError) -> bool {
    matches!(e, arrow_flight::error::FlightError::Tonic(s) if s.code() == tonic::Code::ResourceExhausted)
}

fn flight_message(e: &arrow_flight::error::FlightError) -> String {
    match e {
        arrow_flight::error::FlightError::Tonic(s) => {
            format!("{:?}: {}", s.code(), s.message())
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::hash::Hash;

    use arrow::datatypes::DataType as ArrowType;
    use arrow::datatypes::Schema;
    use common::schema::ColumnSchema;
    use common::schema::DataType;
    use common::schema::KeysType;
    use common::schema::TableSchema;
    use datafusion::logical_expr::ColumnarValue;
    use datafusion::physical_expr::expressions::Column;
    use datafusion::physical_expr::expressions::NotExpr;
    use datafusion::physical_expr::expressions::in_list;
    use datafusion::physical_expr::expressions::lit;
    use datafusion::physical_plan::projection::ProjectionExec;
    use datafusion::scalar::ScalarValue;

    use super::*;

    /// Stands for a filter that cannot be sent (a hash join's hash table probe).
    #[derive(Debug, Hash, PartialEq, Eq)]
    struct Opaque;

    impl fmt::Display for Opaque {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("opaque")
        }
    }

    impl PhysicalExpr for Opaque {
        fn data_type(&self, _: &Schema) -> DfResult<ArrowType> {
            Ok(ArrowType::Boolean)
        }
        fn nullable(&self, _: &Schema) -> DfResult<bool> {
            Ok(false)
        }
        fn evaluate(&self, _: &RecordBatch) -> DfResult<ColumnarValue> {
            Ok(ColumnarValue::Scalar(ScalarValue::Boolean(Some(true))))
        }
        fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
            Vec::new()
        }
        fn with_new_children(
            self: Arc<Self>,
            _: Vec<Arc<dyn PhysicalExpr>>,
        ) -> DfResult<Arc<dyn PhysicalExpr>> {
            Ok(self)
        }
        fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("opaque")
        }
    }

    fn leaf() -> TabletLeaf {
        let column = |name: &str, data_type| ColumnSchema {
            name: name.into(),
            data_type,
            nullable: false,
            is_key: false,
            default: None,
            comment: String::new(),
        };
        TabletLeaf {
            table: "db.t".into(),
            schema: TableSchema {
                columns: vec![
                    column("k", DataType::Int),
                    column("v", DataType::Varchar(8)),
                ],
                keys_type: KeysType::Duplicate,
                distribution_columns: vec!["k".into()],
                buckets: 2,
                schema_version: 0,
            },
            projection: None,
            predicate: None,
            limit: None,
        }
    }

    fn k_in(values: &[i32]) -> Arc<dyn PhysicalExpr> {
        let schema = leaf().output_schema().expect("schema");
        let list = values.iter().map(|v| lit(*v)).collect();
        in_list(Arc::new(Column::new("k", 0)), list, &false, &schema).expect("in list")
    }

    fn and(a: Arc<dyn PhysicalExpr>, b: Arc<dyn PhysicalExpr>) -> Arc<dyn PhysicalExpr> {
        Arc::new(BinaryExpr::new(a, Operator::And, b))
    }

    fn or(a: Arc<dyn PhysicalExpr>, b: Arc<dyn PhysicalExpr>) -> Arc<dyn PhysicalExpr> {
        Arc::new(BinaryExpr::new(a, Operator::Or, b))
    }

    fn shown(e: &Option<Arc<dyn PhysicalExpr>>) -> String {
        e.as_ref()
            .map_or("(keeps every row)".into(), |e| e.to_string())
    }

    #[test]
    fn relaxing_keeps_the_parts_that_travel_and_never_drops_a_row() {
        let opaque: Arc<dyn PhysicalExpr> = Arc::new(Opaque);
        assert!(!serializable(&opaque));
        let keys = k_in(&[1, 2]);
        // Sendable as it is.
        assert_eq!(shown(&relax(&keys)), keys.to_string());
        // AND: the opaque side is dropped, the bounds or IN list stay.
        assert_eq!(
            shown(&relax(&and(keys.clone(), opaque.clone()))),
            keys.to_string()
        );
        assert_eq!(
            shown(&relax(&and(opaque.clone(), keys.clone()))),
            keys.to_string()
        );
        // OR with an opaque side, NOT over one: nothing short of every row.
        assert_eq!(
            shown(&relax(&or(keys.clone(), opaque.clone()))),
            "(keeps every row)"
        );
        let not: Arc<dyn PhysicalExpr> = Arc::new(NotExpr::new(opaque.clone()));
        assert_eq!(shown(&relax(&not)), "(keeps every row)");
        // CASE routing rows to per-partition filters (whose routing does not travel): the OR
        // of its branches.
        let case: Arc<dyn PhysicalExpr> = Arc::new(
            CaseExpr::try_new(
                Some(opaque.clone()),
                vec![
                    (lit(true), and(k_in(&[1]), opaque.clone())),
                    (lit(false), k_in(&[7])),
                ],
                Some(lit(false)),
            )
            .expect("case"),
        );
        let relaxed = shown(&relax(&case));
        assert!(
            relaxed.contains("k@0 IN (SET) ([1])")
                && relaxed.contains("k@0 IN (SET) ([7])")
                && relaxed.contains(" OR ")
                && !relaxed.contains("opaque"),
            "{relaxed}"
        );
        // A branch that cannot be relaxed makes the CASE keep every row.
        let case: Arc<dyn PhysicalExpr> = Arc::new(
            CaseExpr::try_new(
                Some(lit(1)),
                vec![(lit(1), opaque.clone())],
                Some(lit(false)),
            )
            .expect("case"),
        );
        assert_eq!(shown(&relax(&case)), "(keeps every row)");
    }

    #[test]
    fn long_key_lists_travel_as_one_key_set_per_join() {
        let many: Vec<i32> = (0..100).collect();
        // A short list stays an IN list; a long one becomes a key set.
        let short = to_key_sets(k_in(&[1, 2])).expect("short");
        assert!(short.downcast_ref::<InListExpr>().is_some(), "{short}");
        let long = to_key_sets(and(k_in(&many), Arc::new(Opaque))).expect("long");
        assert!(long.to_string().contains("k@0 IN (100 keys)"), "{long}");
        // Per-partition branches of a partitioned join: one set, the union of theirs.
        let evens: Vec<i32> = (0..100).map(|i| i * 2).collect();
        let odds: Vec<i32> = (0..100).map(|i| i * 2 + 1).collect();
        let case: Arc<dyn PhysicalExpr> = Arc::new(
            CaseExpr::try_new(
                Some(Arc::new(Opaque)),
                vec![
                    (lit(true), and(k_in(&evens), Arc::new(Opaque))),
                    (lit(false), k_in(&odds)),
                ],
                Some(lit(false)),
            )
            .expect("case"),
        );
        let merged = relax(&to_key_sets(case).expect("sets")).expect("relaxed");
        let set = merged
            .downcast_ref::<KeySetExpr>()
            .unwrap_or_else(|| panic!("one key set: {merged}"));
        assert_eq!(set.keys().len(), 200);
        // It travels and decodes on a backend.
        let leaf_exec: Arc<dyn ExecutionPlan> =
            Arc::new(TabletLeafExec::try_new(leaf()).expect("leaf"));
        let dynamic = Arc::new(DynamicFilterPhysicalExpr::new(
            vec![Arc::new(Column::new("k", 0)) as Arc<dyn PhysicalExpr>],
            lit(true),
        ));
        dynamic.update(k_in(&many)).expect("update");
        let filters: Vec<Arc<dyn PhysicalExpr>> = vec![dynamic];
        let bytes = runtime_filtered_fragment(&leaf_exec, &filters)
            .expect("fragment")
            .expect("a filter to send");
        let decoded = decode_alone(&bytes).expect("decode");
        let shown = datafusion::physical_plan::displayable(decoded.as_ref())
            .one_line()
            .to_string();
        assert!(
            shown.starts_with("FilterExec: runtime_filter(k@0 IN (100 keys))"),
            "{shown}"
        );
    }

    #[test]
    fn a_multi_column_key_list_travels_as_one_key_set_per_column() {
        let schema = leaf().output_schema().expect("schema");
        let k: Arc<dyn PhysicalExpr> = Arc::new(Column::new("k", 0));
        let v: Arc<dyn PhysicalExpr> = Arc::new(Column::new("v", 1));
        let pairs = ScalarFunctionExpr::try_new(
            datafusion::functions::core::r#struct(),
            vec![k, v],
            &schema,
            Arc::new(ConfigOptions::default()),
        )
        .expect("struct");
        let ks: arrow::array::ArrayRef =
            Arc::new(arrow::array::Int32Array::from_iter_values(0..40));
        let vs: arrow::array::ArrayRef = Arc::new(arrow::array::StringArray::from_iter_values(
            (0..40).map(|i| format!("s{}", i % 5)),
        ));
        let fields = match pairs.return_type() {
            arrow::datatypes::DataType::Struct(f) => f.clone(),
            other => panic!("{other}"),
        };
        let rows =
            arrow::array::StructArray::try_new(fields, vec![ks, vs], None).expect("struct rows");
        let list = (0..arrow::array::Array::len(&rows))
            .map(|i| lit(ScalarValue::try_from_array(&rows, i).expect("scalar")))
            .collect();
        let e = in_list(Arc::new(pairs), list, &false, &schema).expect("in list");
        let sets = to_key_sets(e).expect("sets");
        let parts = split_conjunction(&sets);
        assert_eq!(parts.len(), 2, "{sets}");
        let sizes: Vec<(String, usize)> = parts
            .iter()
            .map(|p| {
                let s = p.downcast_ref::<KeySetExpr>().expect("a key set");
                (s.expr().to_string(), s.keys().len())
            })
            .collect();
        assert_eq!(sizes, [("k@0".to_string(), 40), ("v@1".to_string(), 40)]);
    }

    #[test]
    fn a_runtime_filter_travels_above_the_tablet_leaf_with_its_value_at_the_start() {
        let leaf_exec: Arc<dyn ExecutionPlan> =
            Arc::new(TabletLeafExec::try_new(leaf()).expect("leaf"));
        // The fragment has a projection folded onto the leaf; the filter goes under it.
        let schema = leaf_exec.schema();
        let fragment: Arc<dyn ExecutionPlan> = Arc::new(
            ProjectionExec::try_new(
                vec![(
                    Arc::new(Column::new("v", 1)) as Arc<dyn PhysicalExpr>,
                    "v".to_string(),
                )],
                leaf_exec,
            )
            .expect("projection"),
        );
        let dynamic = Arc::new(DynamicFilterPhysicalExpr::new(
            vec![Arc::new(Column::new("k", 0)) as Arc<dyn PhysicalExpr>],
            lit(true),
        ));
        let filters: Vec<Arc<dyn PhysicalExpr>> = vec![dynamic.clone()];
        assert!(is_dynamic(&filters[0]));
        assert!(!is_dynamic(&k_in(&[1])));
        // Before the build side is done the filter keeps every row: the plain fragment goes.
        assert!(
            runtime_filtered_fragment(&fragment, &filters)
                .expect("fragment")
                .is_none()
        );
        dynamic
            .update(and(k_in(&[3, 5]), Arc::new(Opaque)))
            .expect("update");
        let bytes = runtime_filtered_fragment(&fragment, &filters)
            .expect("fragment")
            .expect("a filter to send");
        let decoded = decode_alone(&bytes).expect("decode");
        let shown = datafusion::physical_plan::displayable(decoded.as_ref())
            .indent(false)
            .to_string();
        let lines: Vec<&str> = shown.lines().map(str::trim).collect();
        assert_eq!(lines.len(), 3, "{shown}");
        assert!(lines[0].starts_with("ProjectionExec"), "{shown}");
        assert!(
            lines[1].starts_with("FilterExec: runtime_filter(k@0 IN (SET) ([3, 5]))"),
            "{shown}"
        );
        assert!(lines[2].starts_with("EmptyExec"), "{shown}");
        assert_eq!(decoded.children()[0].children()[0].schema(), schema);
    }
}
