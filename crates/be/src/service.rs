//! BackendService (be_port and brpc_port): agent tasks from the leader FE.

use std::sync::Arc;

use common::Error;
use common::StatusCode;
use common::schema::TableSchema;
use proto::AbortLoadRequest;
use proto::CLUSTER_ID_HEADER;
use proto::CreateTabletRequest;
use proto::DropTabletRequest;
use proto::ListTabletsRequest;
use proto::PublishVersionReply;
use proto::PublishVersionRequest;
use proto::TabletReport;
use proto::TaskReply;
use proto::WriteTabletReply;
use proto::WriteTabletRequest;
use proto::backend_service_server::BackendService;
use storage::CreateOutcome;
use storage::CreateTablet;
use tonic::Request;
use tonic::Response;
use tonic::Status;

use crate::backend::Backend;

/// Refuses a request unless its cluster id header equals `ours`; a backend that belongs to no
/// cluster yet (`None`) refuses everything.
pub fn check_cluster_id<T>(req: &Request<T>, ours: Option<i32>) -> Result<(), Status> {
    let Some(ours) = ours else {
        return Err(Status::permission_denied(
            "this backend does not belong to a cluster yet: it accepts tasks only after the \
             leader frontend's first heartbeat (ALTER SYSTEM ADD BACKEND)",
        ));
    };
    let theirs = req
        .metadata()
        .get(CLUSTER_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i32>().ok());
    match theirs {
        Some(id) if id == ours => Ok(()),
        Some(id) => Err(Status::permission_denied(format!(
            "cluster id mismatch: the caller belongs to cluster {id}, this backend to cluster \
             {ours}"
        ))),
        None => Err(Status::permission_denied(
            "missing cluster id: the caller is not a Tessera node of this cluster",
        )),
    }
}

fn task_ok() -> TaskReply {
    TaskReply {
        ok: true,
        error: String::new(),
        error_code: 0,
    }
}

fn task_err(e: Error) -> TaskReply {
    TaskReply {
        ok: false,
        error: e.message,
        error_code: e.code.number(),
    }
}

/// The backend service.
pub(crate) struct BackendServiceImpl {
    pub be: Arc<Backend>,
}

impl BackendServiceImpl {
    /// Refuses a task addressed to another backend id (an address reused by a new backend).
    fn check_backend_id(&self, backend_id: i64) -> Result<(), Error> {
        match self.be.backend_id() {
            Some(ours) if backend_id > 0 && ours > 0 && ours != backend_id => Err(Error::invalid(
                format!("the task is for backend {backend_id}, but this backend is {ours}"),
            )),
            _ => Ok(()),
        }
    }

    async fn create(&self, req: CreateTabletRequest) -> Result<CreateOutcome, Error> {
        self.check_backend_id(req.backend_id)?;
        if req.tablet_id <= 0 {
            return Err(Error::invalid(format!(
                "invalid tablet id {}",
                req.tablet_id
            )));
        }
        let schema: TableSchema = serde_json::from_slice(&req.schema).map_err(|e| {
            Error::invalid(format!(
                "CreateTablet {}: the schema is not a valid table schema: {e}",
                req.tablet_id
            ))
        })?;
        let create = CreateTablet {
            tablet_id: req.tablet_id,
            replica_id: req.replica_id,
            table_id: req.table_id,
            partition_id: req.partition_id,
            schema,
            version: req.version,
        };
        self.be.blocking(move |s| s.create_tablet(create)).await
    }
}

#[tonic::async_trait]
impl BackendService for BackendServiceImpl {
    type CloneTabletStream = crate::clone::ReplyStream<proto::CloneProgress>;
    type FetchSnapshotStream = crate::clone::ReplyStream<proto::SnapshotPart>;

    async fn clone_tablet(
        &self,
        request: Request<proto::CloneTabletRequest>,
    ) -> Result<Response<Self::CloneTabletStream>, Status> {
        check_cluster_id(&request, self.be.storage.cluster_id())?;
        let req = request.into_inner();
        tracing::info!(
            tablet_id = req.tablet_id,
            replica_id = req.replica_id,
            version = req.version,
            source = req.src_backend_id,
            full = req.full,
            "clone task"
        );
        Ok(Response::new(
            crate::clone::clone_tablet(&self.be, req).await,
        ))
    }

    async fn fetch_snapshot(
        &self,
        request: Request<proto::FetchSnapshotRequest>,
    ) -> Result<Response<Self::FetchSnapshotStream>, Status> {
        check_cluster_id(&request, self.be.storage.cluster_id())?;
        Ok(Response::new(
            crate::clone::fetch_snapshot(&self.be, request.into_inner()).await,
        ))
    }

    async fn create_tablet(
        &self,
        request: Request<CreateTabletRequest>,
    ) -> Result<Response<TaskReply>, Status> {
        check_cluster_id(&request, self.be.storage.cluster_id())?;
        let req = request.into_inner();
        let tablet_id = req.tablet_id;
        let replica_id = req.replica_id;
        let reply = match self.create(req).await {
            Ok(CreateOutcome::Created) => {
                tracing::info!(tablet_id, replica_id, "created tablet");
                self.be.request_report();
                task_ok()
            }
            Ok(CreateOutcome::AlreadyExists) => {
                tracing::debug!(tablet_id, replica_id, "tablet already exists");
                task_ok()
            }
            Err(e) => {
                tracing::warn!(tablet_id, replica_id, "create tablet failed: {e}");
                task_err(e)
            }
        };
        Ok(Response::new(reply))
    }

    async fn drop_tablet(
        &self,
        request: Request<DropTabletRequest>,
    ) -> Result<Response<TaskReply>, Status> {
        check_cluster_id(&request, self.be.storage.cluster_id())?;
        let req = request.into_inner();
        let (tablet_id, replica_id) = (req.tablet_id, req.replica_id);
        let result = match self.check_backend_id(req.backend_id) {
            Ok(()) => {
                self.be
                    .blocking(move |s| s.drop_tablet(tablet_id, replica_id))
                    .await
            }
            Err(e) => Err(e),
        };
        let reply = match result {
            Ok(true) => {
                tracing::info!(tablet_id, replica_id, "dropped tablet");
                self.be.request_report();
                task_ok()
            }
            Ok(false) => task_ok(),
            Err(e) => {
                tracing::warn!(tablet_id, replica_id, "drop tablet failed: {e}");
                task_err(e)
            }
        };
        Ok(Response::new(reply))
    }

    async fn list_tablets(
        &self,
        request: Request<ListTabletsRequest>,
    ) -> Result<Response<TabletReport>, Status> {
        check_cluster_id(&request, self.be.storage.cluster_id())?;
        let asked = request.into_inner().backend_id;
        let backend_id = self.be.backend_id().unwrap_or(asked);
        match self.be.tablet_report(backend_id).await {
            Ok(r) => Ok(Response::new(r)),
            Err(e) if e.code == StatusCode::Cancelled => Err(Status::unavailable(e.message)),
            Err(e) => Err(Status::internal(e.message)),
        }
    }

    async fn write_tablet(
        &self,
        request: Request<tonic::Streaming<WriteTabletRequest>>,
    ) -> Result<Response<WriteTabletReply>, Status> {
        check_cluster_id(&request, self.be.storage.cluster_id())?;
        let reply = crate::tablet_writer::write_tablet(&self.be, request.into_inner()).await;
        if !reply.ok {
            tracing::warn!("WriteTablet failed: {}", reply.error);
        }
        Ok(Response::new(reply))
    }

    async fn publish_version(
        &self,
        request: Request<PublishVersionRequest>,
    ) -> Result<Response<PublishVersionReply>, Status> {
        check_cluster_id(&request, self.be.storage.cluster_id())?;
        let results = crate::tablet_writer::publish(&self.be, request.into_inner()).await;
        Ok(Response::new(PublishVersionReply { results }))
    }

    async fn abort_load(
        &self,
        request: Request<AbortLoadRequest>,
    ) -> Result<Response<TaskReply>, Status> {
        check_cluster_id(&request, self.be.storage.cluster_id())?;
        let req = request.into_inner();
        let txn_id = req.txn_id;
        let result = match crate::tablet_writer::check_backend_id(&self.be, req.backend_id) {
            Ok(()) => self.be.blocking(move |s| s.abort_txn(txn_id)).await,
            Err(e) => Err(e),
        };
        Ok(Response::new(match result {
            Ok(n) => {
                if n > 0 {
                    tracing::info!(
                        txn_id,
                        rowsets = n,
                        "dropped the pending rowsets of an aborted load"
                    );
                }
                task_ok()
            }
            Err(e) => {
                tracing::warn!(txn_id, "abort load failed: {e}");
                task_err(e)
            }
        }))
    }
}
