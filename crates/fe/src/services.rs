//! The FE's internal gRPC services: `MetaService` (join, heartbeat, leader watch) and
//! `FrontendService` (forwarded statements, read index).

use std::sync::Arc;
use std::time::Duration;

use common::Error;
use common::StatusCode;
use meta::rpc::check_cluster_id;
use proto::frontend_service_server::FrontendService;
use proto::meta_service_client::MetaServiceClient;
use proto::meta_service_server::MetaService;
use tonic::Request;
use tonic::Response;
use tonic::Status;

use crate::forward;
use crate::frontend::Frontend;

/// The refusal a non-leader gives to calls only the leader can answer.
fn not_leader(fe: &Frontend) -> Option<Error> {
    if fe.journal.is_leader() {
        return None;
    }
    let leader = fe
        .journal
        .leader()
        .map(|(_, n)| n.host)
        .unwrap_or_else(|| "unknown".to_string());
    Some(Error::new(
        StatusCode::NotLeader,
        format!("this frontend is not the leader; the leader is {leader}"),
    ))
}

/// Metadata key marking a join request a helper passed on to the leader.
const JOIN_FORWARDED: &str = "x-tessera-join-forwarded";

/// `MetaService` for one FE.
pub struct MetaServiceImpl {
    /// The FE.
    pub fe: Arc<Frontend>,
}

/// `FrontendService` for one FE.
pub struct FrontendServiceImpl {
    /// The FE.
    pub fe: Arc<Frontend>,
}

fn join_refused(e: Error) -> proto::JoinReply {
    proto::JoinReply {
        ok: false,
        error: e.message,
        error_code: e.code.number(),
        ..Default::default()
    }
}

impl MetaServiceImpl {
    fn answer_join(&self, req: &proto::JoinRequest) -> proto::JoinReply {
        let fe = &self.fe;
        if req.cluster_id != 0 && req.cluster_id != fe.cluster_id {
            return join_refused(Error::new(
                StatusCode::ClusterIdMismatch,
                format!(
                    "cluster id is not equal with helper node: the joining frontend belongs to \
                     cluster {}, this cluster is {}. Its meta_dir is from another cluster: move it \
                     away to join this one",
                    req.cluster_id, fe.cluster_id
                ),
            ));
        }
        let delta = fe.config().max_bdbje_clock_delta_ms;
        let skew = req.clock_ms - common::clock::now_ms();
        if skew.abs() > delta {
            return join_refused(Error::new(
                StatusCode::ClockSkew,
                format!(
                    "the joining frontend's clock differs from the leader's by {skew} ms, more \
                     than max_bdbje_clock_delta_ms ({delta} ms); synchronize the clocks (NTP) \
                     and start it again"
                ),
            ));
        }
        let found = fe.journal.state.read(|s| {
            s.membership
                .membership()
                .nodes()
                .find(|(_, n)| {
                    n.host == req.host && u32::from(n.edit_log_port) == req.edit_log_port
                })
                .map(|(id, n)| (*id, n.clone()))
        });
        let Some((node_id, node)) = found else {
            return join_refused(Error::new(
                StatusCode::NodeNotAdded,
                format!(
                    "current node {}:{} is not added to the cluster; run ALTER SYSTEM ADD \
                     FOLLOWER \"{0}:{1}\" (or ADD OBSERVER) on the cluster first, then start it",
                    req.host, req.edit_log_port
                ),
            ));
        };
        // A node the leader replicated to, asking to join with an empty meta_dir (cluster id 0),
        // lost its journal: under the same raft node id its log would go backwards, which raft
        // does not allow (and a voter that forgot what it acknowledged could elect a leader
        // missing committed entries). It rejoins as a new node instead.
        if req.cluster_id == 0
            && let Some(index) = fe.journal.matched_index(node_id)
            && index > 0
        {
            let role = node.role.as_str();
            return join_refused(Error::new(
                StatusCode::MembershipChangeRefused,
                format!(
                    "{}:{} (node {node_id}) already holds this cluster's journal up to entry \
                     {index}, but it asks to join with an empty meta_dir: its journal was lost \
                     or moved away. To rejoin, run on the leader ALTER SYSTEM DROP {role} \
                     \"{0}:{1}\" and then ALTER SYSTEM ADD {role} \"{0}:{1}\", and start it \
                     again with --helper",
                    req.host, req.edit_log_port
                ),
            ));
        }
        proto::JoinReply {
            ok: true,
            error: String::new(),
            error_code: 0,
            cluster_id: fe.cluster_id,
            token: fe.token.clone(),
            node_id,
            role: node.role.as_str().to_string(),
            name: node.name,
        }
    }
}

#[tonic::async_trait]
impl MetaService for MetaServiceImpl {
    async fn join(
        &self,
        request: Request<proto::JoinRequest>,
    ) -> Result<Response<proto::JoinReply>, Status> {
        // The request body carries the joiner's cluster id; answer_join refuses a mismatch with
        // a message the joiner shows, so the header is not checked here.
        let forwarded = request.metadata().get(JOIN_FORWARDED).is_some();
        let peer = request.remote_addr();
        let req = request.into_inner();
        let fe = &self.fe;
        if fe.journal.is_leader() {
            let reply = self.answer_join(&req);
            // A refused join is a node that is not (or not in this cluster) a registered
            // frontend asking for the token: logged and counted like a refused call.
            let reason = match StatusCode::from_number(reply.error_code) {
                _ if reply.ok => None,
                Some(StatusCode::NodeNotAdded) => Some(proto::auth::Refused::Unregistered),
                Some(StatusCode::ClusterIdMismatch) => Some(proto::auth::Refused::OtherCluster),
                _ => None,
            };
            if let Some(reason) = reason {
                let r = proto::auth::Refusal {
                    peer,
                    service: "MetaService",
                    method: "Join",
                    reason,
                };
                tracing::warn!(
                    joiner = %format!("{}:{}", req.host, req.edit_log_port),
                    forwarded,
                    "join refused: {}",
                    reply.error
                );
                r.log();
                fe.metrics.node_auth_refused(&r);
            }
            return Ok(Response::new(reply));
        }
        // Helpers pass the request to the leader: only the leader's membership is current.
        if forwarded {
            return Ok(Response::new(join_refused(Error::new(
                StatusCode::NotLeader,
                "the helper's leader is no longer the leader; retry",
            ))));
        }
        let Some((_, leader)) = fe.journal.leader() else {
            return Ok(Response::new(join_refused(Error::new(
                StatusCode::NoLeader,
                "the helper has no leader right now; retry when the cluster has a leader",
            ))));
        };
        let channel = fe
            .journal
            .pool
            .channel(&leader.addr())
            .map_err(Status::unavailable)?;
        let mut client = MetaServiceClient::new(channel);
        let mut fwd = fe.journal.pool.request(req, fe.rpc_timeout());
        fwd.metadata_mut().insert(
            JOIN_FORWARDED,
            "1".parse().map_err(|_| Status::internal("header"))?,
        );
        let reply = client.join(fwd).await?;
        Ok(reply)
    }

    async fn heartbeat(
        &self,
        request: Request<proto::HeartbeatRequest>,
    ) -> Result<Response<proto::HeartbeatReply>, Status> {
        check_cluster_id(&request, self.fe.cluster_id, false)?;
        let req = request.into_inner();
        let fe = &self.fe;
        if req.target_node_id != fe.node_id {
            return Ok(Response::new(proto::HeartbeatReply {
                ok: false,
                error: format!(
                    "this address is now frontend node {}, not node {}",
                    fe.node_id, req.target_node_id
                ),
                ..Default::default()
            }));
        }
        let c = &fe.file_config;
        Ok(Response::new(proto::HeartbeatReply {
            ok: true,
            error: String::new(),
            replayed_journal_id: fe.journal.applied_index(),
            query_port: c.query_port as u32,
            rpc_port: c.rpc_port as u32,
            http_port: c.http_port as u32,
            start_time_ms: fe.start_time_ms,
            version: Frontend::version(),
            clock_ms: common::clock::now_ms(),
        }))
    }

    type WatchLeaderStream = meta::raft_service::BoxStream<proto::WatchLeaderEvent>;

    async fn watch_leader(
        &self,
        request: Request<proto::WatchLeaderRequest>,
    ) -> Result<Response<Self::WatchLeaderStream>, Status> {
        check_cluster_id(&request, self.fe.cluster_id, false)?;
        Ok(Response::new(Box::pin(
            self.fe.journal.leader_watch_stream(),
        )))
    }
}

#[tonic::async_trait]
impl FrontendService for FrontendServiceImpl {
    async fn forward(
        &self,
        request: Request<proto::ForwardRequest>,
    ) -> Result<Response<proto::ForwardReply>, Status> {
        check_cluster_id(&request, self.fe.cluster_id, false)?;
        let result = forward::handle_forward(&self.fe, &request.into_inner().payload).await;
        let payload = serde_json::to_vec(&result).map_err(|e| Status::internal(e.to_string()))?;
        Ok(Response::new(proto::ForwardReply { payload }))
    }

    async fn report_tablets(
        &self,
        request: Request<proto::TabletReport>,
    ) -> Result<Response<proto::ReportTabletsReply>, Status> {
        check_cluster_id(&request, self.fe.cluster_id, false)?;
        let report = request.into_inner();
        Ok(Response::new(
            match crate::backend::handle_report(&self.fe, report).await {
                Ok(finished_txn_ids) => proto::ReportTabletsReply {
                    ok: true,
                    error: String::new(),
                    finished_txn_ids,
                },
                Err(e) => proto::ReportTabletsReply {
                    ok: false,
                    error: e.message,
                    finished_txn_ids: Vec::new(),
                },
            },
        ))
    }

    async fn begin_txn(
        &self,
        request: Request<proto::BeginTxnRequest>,
    ) -> Result<Response<proto::BeginTxnReply>, Status> {
        check_cluster_id(&request, self.fe.cluster_id, false)?;
        let req = request.into_inner();
        if let Some(e) = not_leader(&self.fe) {
            return Ok(Response::new(proto::BeginTxnReply {
                ok: false,
                error: e.message,
                error_code: e.code.number(),
                ..Default::default()
            }));
        }
        Ok(Response::new(
            match crate::txn::begin(&self.fe, req).await {
                Ok((txn_id, label, plan)) => proto::BeginTxnReply {
                    ok: true,
                    txn_id,
                    label,
                    plan: serde_json::to_vec(&plan).map_err(|e| Status::internal(e.to_string()))?,
                    ..Default::default()
                },
                Err(e) => {
                    let existing = if e.code == StatusCode::LabelAlreadyExists {
                        if e.message.ends_with("RUNNING") {
                            "RUNNING"
                        } else {
                            "FINISHED"
                        }
                        .to_string()
                    } else {
                        String::new()
                    };
                    proto::BeginTxnReply {
                        ok: false,
                        error: e
                            .message
                            .split(" ExistingJobStatus=")
                            .next()
                            .unwrap_or_default()
                            .to_string(),
                        error_code: e.code.number(),
                        existing_job_status: existing,
                        txn_id: -1,
                        ..Default::default()
                    }
                }
            },
        ))
    }

    async fn commit_txn(
        &self,
        request: Request<proto::CommitTxnRequest>,
    ) -> Result<Response<proto::CommitTxnReply>, Status> {
        check_cluster_id(&request, self.fe.cluster_id, false)?;
        let req = request.into_inner();
        if let Some(e) = not_leader(&self.fe) {
            return Ok(Response::new(proto::CommitTxnReply {
                ok: false,
                error: e.message,
                error_code: e.code.number(),
                status: String::new(),
            }));
        }
        Ok(Response::new(
            match crate::txn::commit(&self.fe, req).await {
                Ok(status) => proto::CommitTxnReply {
                    ok: true,
                    error: String::new(),
                    error_code: 0,
                    status: status.to_string(),
                },
                Err(e) => proto::CommitTxnReply {
                    ok: false,
                    error: e.message,
                    error_code: e.code.number(),
                    status: String::new(),
                },
            },
        ))
    }

    async fn abort_txn(
        &self,
        request: Request<proto::AbortTxnRequest>,
    ) -> Result<Response<proto::AbortTxnReply>, Status> {
        check_cluster_id(&request, self.fe.cluster_id, false)?;
        let req = request.into_inner();
        if let Some(e) = not_leader(&self.fe) {
            return Ok(Response::new(proto::AbortTxnReply {
                ok: false,
                error: e.message,
                error_code: e.code.number(),
            }));
        }
        let reason = if req.reason.is_empty() {
            "aborted by the coordinator".to_string()
        } else {
            req.reason
        };
        Ok(Response::new(
            match crate::txn::abort(&self.fe, req.txn_id, &reason).await {
                Ok(()) => proto::AbortTxnReply {
                    ok: true,
                    error: String::new(),
                    error_code: 0,
                },
                Err(e) => proto::AbortTxnReply {
                    ok: false,
                    error: e.message,
                    error_code: e.code.number(),
                },
            },
        ))
    }

    async fn check_password(
        &self,
        request: Request<proto::CheckPasswordRequest>,
    ) -> Result<Response<proto::CheckPasswordReply>, Status> {
        check_cluster_id(&request, self.fe.cluster_id, false)?;
        let req = request.into_inner();
        let ip = req.client_ip.parse::<std::net::IpAddr>().ok();
        Ok(Response::new(
            match crate::auth::authenticate_plain(&self.fe, &req.user, &req.password, ip) {
                Ok(_) => proto::CheckPasswordReply {
                    ok: true,
                    ..Default::default()
                },
                Err(e) => proto::CheckPasswordReply {
                    ok: false,
                    error: e.message,
                    error_code: e.code.number(),
                },
            },
        ))
    }

    async fn read_index(
        &self,
        request: Request<proto::ReadIndexRequest>,
    ) -> Result<Response<proto::ReadIndexReply>, Status> {
        check_cluster_id(&request, self.fe.cluster_id, false)?;
        let fe = &self.fe;
        let result = if fe.journal.is_leader() {
            tokio::time::timeout(Duration::from_secs(10), fe.journal.read_index())
                .await
                .unwrap_or_else(|_| Err(Error::new(StatusCode::Timeout, "read index timed out")))
        } else {
            Err(Error::new(
                StatusCode::NotLeader,
                "this frontend is not the leader",
            ))
        };
        Ok(Response::new(match result {
            Ok(i) => proto::ReadIndexReply {
                ok: true,
                read_index: i,
                ..Default::default()
            },
            Err(e) => proto::ReadIndexReply {
                ok: false,
                error: e.message,
                error_code: e.code.number(),
                read_index: 0,
            },
        }))
    }
}
