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
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::datasource::TableType;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::Expr;
use datafusion::logical_expr::TableProviderFilterPushDown;
use datafusion::logical_expr::utils::conjunction;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::DisplayAs;
use datafusion::physical_plan::DisplayFormatType;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::Partitioning;
use datafusion::physical_plan::PlanProperties;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::execution_plan::SchedulingType;
use datafusion::physical_plan::stream::RecordBatchReceiverStreamBuilder;
use datafusion_proto::bytes::Serializeable;
use futures::StreamExt;
use meta::catalog::table::ReplicaState;
use meta::catalog::table::Table;
use meta::rpc::ChannelPool;
use prost::Message;
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

    /// The tablets to read: pruned by the filters, each with its readable replicas, or an
    /// error naming a tablet no replica of which can be read.
    fn targets(&self, filters: &[Expr]) -> DfResult<Vec<TabletTarget>> {
        let mut out = Vec::new();
        let seed = rand::random::<u64>() as usize;
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
                // Spread reads over the replicas.
                let n = readable.len();
                readable.rotate_left(seed.wrapping_add(tablet.id as usize) % n);
                out.push(TabletTarget {
                    tablet_id: tablet.id,
                    partition: partition.name.clone(),
                    version,
                    replicas: readable,
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
        let fragment: Arc<dyn ExecutionPlan> = Arc::new(TabletLeafExec::try_new(leaf.clone())?);
        Ok(Arc::new(TabletScanExec::try_new(
            leaf.table,
            fragment,
            Arc::new(targets),
            self.ctx.clone(),
        )?))
    }
}

/// Reads tablets from backends: partition i runs the fragment on a replica of tablet i.
#[derive(Debug)]
pub struct TabletScanExec {
    table: String,
    fragment: Arc<dyn ExecutionPlan>,
    fragment_bytes: Bytes,
    targets: Arc<Vec<TabletTarget>>,
    ctx: ScanContext,
    props: Arc<PlanProperties>,
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
        let check: query::LeafResolver = Arc::new(|leaf: &TabletLeaf| {
            Ok(Arc::new(EmptyExec::new(leaf.output_schema()?)) as Arc<dyn ExecutionPlan>)
        });
        query::decode_fragment(&fragment_bytes, &decode_context(), check)?;
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
        })
    }

    /// The fragment each backend runs.
    pub fn fragment(&self) -> &Arc<dyn ExecutionPlan> {
        &self.fragment
    }

    /// The same scan running another fragment (the old one with operators stacked on it).
    pub fn with_fragment(&self, fragment: Arc<dyn ExecutionPlan>) -> DfResult<Self> {
        TabletScanExec::try_new(
            self.table.clone(),
            fragment,
            self.targets.clone(),
            self.ctx.clone(),
        )
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
                "TabletScanExec has no children".into(),
            ))
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
        let mut builder = RecordBatchReceiverStreamBuilder::new(schema.clone(), 2);
        let tx = builder.tx();
        let ctx = self.ctx.clone();
        let fragment = self.fragment_bytes.clone();
        let table = self.table.clone();
        builder.spawn(async move { read_tablet(ctx, target, fragment, table, schema, tx).await });
        Ok(builder.build())
    }
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
    let ticket = proto::ScanTicket {
        tablet_id: target.tablet_id,
        version: target.version,
        fragment: fragment.to_vec(),
        query_id: ctx.query_id.clone(),
        backend_id: replica.backend_id,
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

fn flight_message(e: &arrow_flight::error::FlightError) -> String {
    match e {
        arrow_flight::error::FlightError::Tonic(s) => {
            format!("{:?}: {}", s.code(), s.message())
        }
        other => other.to_string(),
    }
}
