//! Query scans: Arrow Flight `DoGet` on brpc_port.
//!
//! The ticket is a [`proto::ScanTicket`]: a plan fragment (filters, projections, partial
//! aggregation over a tablet leaf) and the tablet and version to read. The backend pins the
//! tablet's rowsets at that version, turns the leaf into a scan of their files (the leaf's
//! predicate prunes row groups; decoded columns come from and go to the column cache, see
//! [`crate::rowset_scan`]), runs the fragment and streams its output as Arrow record batches.
//! Every other Flight method answers `Unimplemented`.

use std::pin::Pin;
use std::sync::Arc;

use arrow_flight::Action;
use arrow_flight::ActionType;
use arrow_flight::Criteria;
use arrow_flight::Empty;
use arrow_flight::FlightData;
use arrow_flight::FlightDescriptor;
use arrow_flight::FlightInfo;
use arrow_flight::HandshakeRequest;
use arrow_flight::HandshakeResponse;
use arrow_flight::PollInfo;
use arrow_flight::PutResult;
use arrow_flight::SchemaResult;
use arrow_flight::Ticket;
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::flight_service_server::FlightService;
use datafusion::common::DFSchema;
use datafusion::common::DataFusionError;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::prelude::SessionContext;
use datafusion_proto::bytes::Serializeable;
use futures::Stream;
use futures::StreamExt;
use futures::TryStreamExt;
use prost::Message;
use query::TabletLeaf;
use storage::TabletRead;
use tonic::Request;
use tonic::Response;
use tonic::Status;
use tonic::Streaming;

use crate::backend::Backend;
use crate::column_cache::ColumnCache;
use crate::column_cache::FileKey;
use crate::rowset_scan::RowsetScanExec;
use crate::service::check_cluster_id;

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// The Flight service of a backend.
pub(crate) struct FlightServiceImpl {
    pub be: Arc<Backend>,
    /// Function registry and defaults for decoding and running fragments.
    pub ctx: SessionContext,
}

impl FlightServiceImpl {
    pub fn new(be: Arc<Backend>) -> Self {
        FlightServiceImpl {
            be,
            ctx: SessionContext::new(),
        }
    }

    /// Starts one plan fragment (a scan of one tablet at a version) and streams its result.
    async fn start_fragment(
        &self,
        request: Request<Ticket>,
    ) -> Result<Response<BoxStream<FlightData>>, Status> {
        check_cluster_id(&request, self.be.storage.cluster_id())?;
        let ticket = proto::ScanTicket::decode(request.into_inner().ticket)
            .map_err(|e| Status::invalid_argument(format!("bad scan ticket: {e}")))?;
        if ticket.backend_id > 0
            && let Some(ours) = self.be.backend_id()
            && ours > 0
            && ours != ticket.backend_id
        {
            return Err(Status::failed_precondition(format!(
                "the scan is for backend {}, but this backend is {ours}",
                ticket.backend_id
            )));
        }
        // Blocking: the first read of a file checks it against its recorded checksum.
        let (tablet_id, version) = (ticket.tablet_id, ticket.version);
        let read = self
            .be
            .blocking(move |s| s.read_at(tablet_id, version))
            .await
            .map_err(|e| Status::failed_precondition(e.message))?;
        let pin = read.pin();
        let read = Arc::new(read);
        let resolver_read = read.clone();
        let task_ctx = fragment_task_ctx(&self.ctx, ticket.mem_limit)?;
        let resolver_ctx = task_ctx.clone();
        let cache = self.be.column_cache.clone();
        let resolver: query::LeafResolver = Arc::new(move |leaf: &TabletLeaf| {
            leaf_plan(&resolver_read, leaf, &resolver_ctx, &cache)
        });
        let plan = query::decode_fragment(&ticket.fragment, &task_ctx, resolver)
            .map_err(|e| Status::invalid_argument(format!("bad plan fragment: {e}")))?;
        let plan = query::fast_decimal::rewrite_plan(plan).map_err(df_status)?;
        let plan = query::conjunction::rewrite_plan(plan).map_err(df_status)?;
        let stream = plan.execute(0, task_ctx).map_err(df_status)?;
        tracing::debug!(
            query_id = %ticket.query_id,
            tablet_id = ticket.tablet_id,
            version = ticket.version,
            files = read.files.len(),
            "scan"
        );
        let timer = self.be.metrics.fragment_timer();
        let batches = stream.map_err(|e| FlightError::Tonic(Box::new(df_status(e))));
        let encoded = FlightDataEncoderBuilder::new()
            .build(batches)
            .map(move |item| {
                // The rowsets stay on disk while the scan streams.
                let _keep = &pin;
                // Records the fragment's latency when the stream is dropped.
                let _timer = &timer;
                item.map_err(|e| match e {
                    FlightError::Tonic(s) => *s,
                    e => Status::internal(e.to_string()),
                })
            });
        Ok(Response::new(Box::pin(encoded)))
    }
}

fn unimplemented<T>(what: &str) -> Result<T, Status> {
    Err(Status::unimplemented(format!(
        "{what} is not offered by a Tessera backend; queries go through a frontend"
    )))
}

/// A DataFusion error as a gRPC status: past the memory limit is RESOURCE_EXHAUSTED (the
/// frontend then fails the query with "memory limit exceeded" instead of trying another
/// replica).
fn df_status(e: DataFusionError) -> Status {
    if matches!(e.find_root(), DataFusionError::ResourcesExhausted(_)) {
        Status::resource_exhausted(format!(
            "Memory of the query's fragment exceeds its limit (exec_mem_limit / \
             query_mem_limit): {e}"
        ))
    } else {
        Status::internal(e.to_string())
    }
}

/// The task context of one fragment: the service's functions and defaults, with a memory
/// pool of `mem_limit` bytes (the session's query memory limit; 0 = none).
fn fragment_task_ctx(ctx: &SessionContext, mem_limit: i64) -> Result<Arc<TaskContext>, Status> {
    let task_ctx = ctx.task_ctx();
    let Ok(limit) = usize::try_from(mem_limit) else {
        return Ok(task_ctx);
    };
    if limit == 0 {
        return Ok(task_ctx);
    }
    let runtime = datafusion::execution::runtime_env::RuntimeEnvBuilder::new()
        .with_memory_limit(limit, 1.0)
        .build_arc()
        .map_err(df_status)?;
    match Arc::try_unwrap(task_ctx) {
        Ok(t) => Ok(Arc::new(t.with_runtime(runtime))),
        // Not expected (task_ctx() makes a new one): run without the limit rather than fail.
        Err(shared) => Ok(shared),
    }
}

/// The executable scan of one tablet's files at a version, for a fragment's leaf.
fn leaf_plan(
    read: &TabletRead,
    leaf: &TabletLeaf,
    task_ctx: &TaskContext,
    cache: &Arc<ColumnCache>,
) -> datafusion::common::Result<Arc<dyn ExecutionPlan>> {
    let table_schema = leaf.table_arrow_schema();
    storage::check_arrow_schema(&table_schema, &read.arrow_schema).map_err(|e| {
        DataFusionError::Plan(format!(
            "tablet {} does not have the schema the query expects (the table changed?): {}",
            read.tablet_id, e.message
        ))
    })?;
    let mut files = Vec::with_capacity(read.files.len());
    for path in &read.files {
        files.push(FileKey::of(path).map_err(|e| {
            DataFusionError::Execution(format!(
                "tablet {}: cannot read rowset file {}: {e}",
                read.tablet_id,
                path.display()
            ))
        })?);
    }
    if files.is_empty() {
        return Ok(Arc::new(EmptyExec::new(leaf.output_schema()?)));
    }
    let predicate = match &leaf.predicate {
        None => None,
        Some(bytes) => {
            // With the context's function registry: the predicate may call any function.
            let expr = Expr::from_bytes_with_ctx(bytes, task_ctx)?;
            let df_schema = DFSchema::try_from(table_schema.as_ref().clone())?;
            let props = datafusion::execution::context::ExecutionProps::new();
            Some(datafusion::physical_expr::create_physical_expr(
                &expr,
                &df_schema,
                &props,
                &Default::default(),
            )?)
        }
    };
    Ok(Arc::new(RowsetScanExec::try_new(
        read.tablet_id,
        files,
        table_schema,
        leaf.projection.clone(),
        predicate,
        leaf.limit,
        cache.clone(),
    )?))
}

#[tonic::async_trait]
impl FlightService for FlightServiceImpl {
    type HandshakeStream = BoxStream<HandshakeResponse>;
    type ListFlightsStream = BoxStream<FlightInfo>;
    type DoGetStream = BoxStream<FlightData>;
    type DoPutStream = BoxStream<PutResult>;
    type DoExchangeStream = BoxStream<FlightData>;
    type DoActionStream = BoxStream<arrow_flight::Result>;
    type ListActionsStream = BoxStream<ActionType>;

    async fn handshake(
        &self,
        _request: Request<Streaming<HandshakeRequest>>,
    ) -> Result<Response<Self::HandshakeStream>, Status> {
        unimplemented("Handshake")
    }

    async fn list_flights(
        &self,
        _request: Request<Criteria>,
    ) -> Result<Response<Self::ListFlightsStream>, Status> {
        unimplemented("ListFlights")
    }

    async fn get_flight_info(
        &self,
        _request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        unimplemented("GetFlightInfo")
    }

    async fn poll_flight_info(
        &self,
        _request: Request<FlightDescriptor>,
    ) -> Result<Response<PollInfo>, Status> {
        unimplemented("PollFlightInfo")
    }

    async fn get_schema(
        &self,
        _request: Request<FlightDescriptor>,
    ) -> Result<Response<SchemaResult>, Status> {
        unimplemented("GetSchema")
    }

    async fn do_get(
        &self,
        request: Request<Ticket>,
    ) -> Result<Response<Self::DoGetStream>, Status> {
        self.be.metrics.fragments.increment(1);
        let r = self.start_fragment(request).await;
        if r.is_err() {
            self.be.metrics.fragments_failed.increment(1);
        }
        r
    }

    async fn do_put(
        &self,
        _request: Request<Streaming<FlightData>>,
    ) -> Result<Response<Self::DoPutStream>, Status> {
        unimplemented("DoPut")
    }

    async fn do_exchange(
        &self,
        _request: Request<Streaming<FlightData>>,
    ) -> Result<Response<Self::DoExchangeStream>, Status> {
        unimplemented("DoExchange")
    }

    async fn do_action(
        &self,
        _request: Request<Action>,
    ) -> Result<Response<Self::DoActionStream>, Status> {
        unimplemented("DoAction")
    }

    async fn list_actions(
        &self,
        _request: Request<Empty>,
    ) -> Result<Response<Self::ListActionsStream>, Status> {
        unimplemented("ListActions")
    }
}

#[cfg(test)]
mod tests {
    use datafusion::execution::memory_pool::MemoryConsumer;

    use super::*;

    #[test]
    fn a_fragment_runs_under_the_query_memory_limit() {
        let ctx = SessionContext::new();
        let limited = fragment_task_ctx(&ctx, 1 << 20).expect("task context");
        let r = MemoryConsumer::new("test").register(limited.memory_pool());
        r.try_grow(512 << 10).expect("half the limit");
        let e = r.try_grow(1 << 20).expect_err("past the limit");
        let status = df_status(e);
        assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
        assert!(
            status
                .message()
                .contains("Memory of the query's fragment exceeds its limit"),
            "{status:?}"
        );
        // 0 (or a negative value from a bad ticket): no limit.
        for none in [0, -1] {
            let unlimited = fragment_task_ctx(&ctx, none).expect("task context");
            let r = MemoryConsumer::new("test").register(unlimited.memory_pool());
            r.try_grow(64 << 20).expect("no limit");
        }
        // Other errors stay internal.
        let status = df_status(DataFusionError::Execution("boom".into()));
        assert_eq!(status.code(), tonic::Code::Internal);
    }
}
