//! The raft network: openraft's RPCs over gRPC to other frontends' edit_log_port.
//!
//! Payloads are JSON of openraft's own types. Each request names the target node id; the
//! receiver refuses a request meant for another node, so a message never lands on whoever now
//! holds a former member's address.

use std::future::Future;
use std::time::Duration;

use openraft::RaftNetworkFactory;
use openraft::errors::NetworkError;
use openraft::errors::RPCError;
use openraft::errors::ReplicationClosed;
use openraft::errors::StreamingError;
use openraft::errors::Unreachable;
use openraft::network::RPCOption;
use openraft::network::v2::RaftNetworkV2;
use openraft::raft::AppendEntriesRequest;
use openraft::raft::AppendEntriesResponse;
use openraft::raft::SnapshotResponse;
use openraft::raft::VoteRequest;
use openraft::raft::VoteResponse;
use proto::raft_service_client::RaftServiceClient;

use crate::rpc::ChannelPool;
use crate::rpc::MAX_MESSAGE_BYTES;
use crate::state_machine::Snapshot;
use crate::types::FeNode;
use crate::types::NodeId;
use crate::types::TypeConfig;
use crate::types::Vote;

/// Size of one snapshot chunk on the wire.
const SNAPSHOT_CHUNK_BYTES: usize = 1024 * 1024;

/// Creates connections to peers.
#[derive(Clone)]
pub struct Network {
    pool: ChannelPool,
}

impl Network {
    /// A network over the shared channel pool.
    pub fn new(pool: ChannelPool) -> Self {
        Network { pool }
    }
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = PeerConnection;

    async fn new_client(&mut self, target: NodeId, node: &FeNode) -> Self::Network {
        PeerConnection {
            pool: self.pool.clone(),
            target,
            addr: node.addr(),
        }
    }
}

/// A client for one peer.
pub struct PeerConnection {
    pool: ChannelPool,
    target: NodeId,
    addr: String,
}

type RpcErr = RPCError<TypeConfig>;

impl PeerConnection {
    fn client(&self) -> Result<RaftServiceClient<tonic::transport::Channel>, RpcErr> {
        let channel = self
            .pool
            .channel(&self.addr)
            .map_err(|e| RPCError::Unreachable(Unreachable::from_string(e)))?;
        Ok(RaftServiceClient::new(channel)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES))
    }

    fn encode<T: serde::Serialize>(&self, value: &T) -> Result<proto::RaftRequest, RpcErr> {
        let payload = serde_json::to_vec(value)
            .map_err(|e| RPCError::Network(NetworkError::from_string(format!("encode: {e}"))))?;
        Ok(proto::RaftRequest {
            target_node_id: self.target,
            payload,
        })
    }

    fn decode<T: serde::de::DeserializeOwned>(&self, reply: proto::RaftReply) -> Result<T, RpcErr> {
        if !reply.error.is_empty() {
            return Err(RPCError::Unreachable(Unreachable::from_string(format!(
                "{} refused: {}",
                self.addr, reply.error
            ))));
        }
        serde_json::from_slice(&reply.payload)
            .map_err(|e| RPCError::Network(NetworkError::from_string(format!("decode reply: {e}"))))
    }

    fn status_err(&self, status: tonic::Status) -> RpcErr {
        // A refused connection or a dead peer: back off rather than retry at once.
        RPCError::Unreachable(Unreachable::from_string(format!(
            "{} ({}): {}",
            self.addr,
            status.code(),
            status.message()
        )))
    }
}

impl RaftNetworkV2<TypeConfig> for PeerConnection {
    type SnapshotData = Vec<u8>;

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<TypeConfig>, RpcErr> {
        let req = self.encode(&rpc)?;
        let mut client = self.client()?;
        let reply = client
            .append_entries(self.pool.request(req, option.soft_ttl()))
            .await
            .map_err(|s| self.status_err(s))?;
        self.decode(reply.into_inner())
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RpcErr> {
        let req = self.encode(&rpc)?;
        let mut client = self.client()?;
        let reply = client
            .vote(self.pool.request(req, option.soft_ttl()))
            .await
            .map_err(|s| self.status_err(s))?;
        self.decode(reply.into_inner())
    }

    async fn pre_vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RpcErr> {
        let req = self.encode(&rpc)?;
        let mut client = self.client()?;
        let reply = client
            .pre_vote(self.pool.request(req, option.soft_ttl()))
            .await
            .map_err(|s| self.status_err(s))?;
        self.decode(reply.into_inner())
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote,
        snapshot: Snapshot,
        _cancel: impl Future<Output = ReplicationClosed> + Send + 'static,
        option: RPCOption,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        let header = serde_json::to_vec(&(vote, &snapshot.meta)).map_err(|e| {
            StreamingError::Unreachable(Unreachable::from_string(format!("encode snapshot: {e}")))
        })?;
        let target = self.target;
        let mut chunks = vec![proto::SnapshotChunk {
            target_node_id: target,
            header,
            data: Vec::new(),
        }];
        for part in snapshot.snapshot.chunks(SNAPSHOT_CHUNK_BYTES) {
            chunks.push(proto::SnapshotChunk {
                target_node_id: target,
                header: Vec::new(),
                data: part.to_vec(),
            });
        }
        let mut client = self
            .client()
            .map_err(|e| StreamingError::Unreachable(Unreachable::from_string(e.to_string())))?;
        // A snapshot may be large; give it the hard budget rather than the per-RPC one.
        let timeout = option.hard_ttl().max(Duration::from_secs(30));
        let reply = client
            .install_snapshot(self.pool.request(futures::stream::iter(chunks), timeout))
            .await
            .map_err(|s| {
                StreamingError::Unreachable(Unreachable::from_string(format!(
                    "{}: {}",
                    self.addr,
                    s.message()
                )))
            })?;
        let reply = reply.into_inner();
        if !reply.error.is_empty() {
            return Err(StreamingError::Unreachable(Unreachable::from_string(
                reply.error,
            )));
        }
        serde_json::from_slice(&reply.payload).map_err(|e| {
            StreamingError::Unreachable(Unreachable::from_string(format!("decode reply: {e}")))
        })
    }
}
