//! The receiving side of the raft network (gRPC `RaftService` on edit_log_port).

use std::pin::Pin;
use std::sync::Arc;

use futures::StreamExt;
use proto::raft_service_server::RaftService;
use tonic::Request;
use tonic::Response;
use tonic::Status;
use tonic::Streaming;

use crate::failover::FailoverState;
use crate::journal::Raft;
use crate::rpc::check_cluster_id;
use crate::types::NodeId;
use crate::types::SnapshotMeta;
use crate::types::TypeConfig;
use crate::types::Vote;

/// Serves raft RPCs for the local node.
pub struct RaftServiceImpl {
    raft: Raft,
    node_id: NodeId,
    cluster_id: i32,
    failover: Arc<FailoverState>,
}

impl RaftServiceImpl {
    /// A service for `raft`, refusing callers of other clusters.
    pub fn new(raft: Raft, node_id: NodeId, cluster_id: i32, failover: Arc<FailoverState>) -> Self {
        RaftServiceImpl {
            raft,
            node_id,
            cluster_id,
            failover,
        }
    }

    fn check_target(&self, target: NodeId) -> Option<String> {
        (target != self.node_id).then(|| {
            format!(
                "this is frontend node {}, not node {target}: the address was reassigned",
                self.node_id
            )
        })
    }
}

fn refuse(error: String) -> proto::RaftReply {
    proto::RaftReply {
        payload: Vec::new(),
        error,
    }
}

fn reply<T: serde::Serialize, E: std::fmt::Display>(result: Result<T, E>) -> proto::RaftReply {
    match result {
        Ok(v) => match serde_json::to_vec(&v) {
            Ok(payload) => proto::RaftReply {
                payload,
                error: String::new(),
            },
            Err(e) => refuse(format!("encode reply: {e}")),
        },
        Err(e) => refuse(e.to_string()),
    }
}

fn decode<T: serde::de::DeserializeOwned>(payload: &[u8]) -> Result<T, Status> {
    serde_json::from_slice(payload).map_err(|e| Status::invalid_argument(format!("decode: {e}")))
}

#[tonic::async_trait]
impl RaftService for RaftServiceImpl {
    async fn append_entries(
        &self,
        request: Request<proto::RaftRequest>,
    ) -> Result<Response<proto::RaftReply>, Status> {
        check_cluster_id(&request, self.cluster_id, false)?;
        let req = request.into_inner();
        if let Some(e) = self.check_target(req.target_node_id) {
            return Ok(Response::new(refuse(e)));
        }
        let rpc: openraft::raft::AppendEntriesRequest<TypeConfig> = decode(&req.payload)?;
        Ok(Response::new(reply(self.raft.append_entries(rpc).await)))
    }

    async fn vote(
        &self,
        request: Request<proto::RaftRequest>,
    ) -> Result<Response<proto::RaftReply>, Status> {
        check_cluster_id(&request, self.cluster_id, false)?;
        let req = request.into_inner();
        if let Some(e) = self.check_target(req.target_node_id) {
            return Ok(Response::new(refuse(e)));
        }
        let mut rpc: openraft::raft::VoteRequest<TypeConfig> = decode(&req.payload)?;
        // The leader lease makes a follower ignore candidates while its leader may still be
        // alive. When this node knows its leader's process is gone (its port refuses
        // connections), waiting out the lease only delays failover; reads never rely on the
        // lease (they use read-index), so granting is safe.
        if !rpc.leadership_transfer && self.failover.leader_is_dead(&self.raft).await {
            rpc.leadership_transfer = true;
        }
        Ok(Response::new(reply(self.raft.vote(rpc).await)))
    }

    async fn pre_vote(
        &self,
        request: Request<proto::RaftRequest>,
    ) -> Result<Response<proto::RaftReply>, Status> {
        check_cluster_id(&request, self.cluster_id, false)?;
        let req = request.into_inner();
        if let Some(e) = self.check_target(req.target_node_id) {
            return Ok(Response::new(refuse(e)));
        }
        let rpc: openraft::raft::VoteRequest<TypeConfig> = decode(&req.payload)?;
        Ok(Response::new(reply(self.raft.pre_vote(rpc).await)))
    }

    async fn install_snapshot(
        &self,
        request: Request<Streaming<proto::SnapshotChunk>>,
    ) -> Result<Response<proto::RaftReply>, Status> {
        check_cluster_id(&request, self.cluster_id, false)?;
        let mut stream = request.into_inner();
        let Some(first) = stream.next().await else {
            return Err(Status::invalid_argument("empty snapshot stream"));
        };
        let first = first?;
        if let Some(e) = self.check_target(first.target_node_id) {
            return Ok(Response::new(refuse(e)));
        }
        let (vote, meta): (Vote, SnapshotMeta) = decode(&first.header)?;
        let mut data = first.data;
        while let Some(chunk) = stream.next().await {
            data.extend_from_slice(&chunk?.data);
        }
        let snapshot = openraft::alias::SnapshotOf::<TypeConfig, Vec<u8>> {
            meta,
            snapshot: data,
        };
        Ok(Response::new(reply(
            self.raft.install_full_snapshot(vote, snapshot).await,
        )))
    }
}

/// The boxed stream type used by streaming replies.
pub type BoxStream<T> = Pin<Box<dyn futures::Stream<Item = Result<T, Status>> + Send>>;
