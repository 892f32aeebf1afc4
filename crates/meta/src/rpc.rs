//! Connections to other frontends: one lazily connected gRPC channel per address.
//!
//! Every outgoing request carries this node's cluster id in the `x-tessera-cluster-id` header
//! and the cluster token in `x-tessera-token`; servers refuse a mismatch (see
//! [`check_cluster_id`] and [`proto::auth`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::AtomicI32;
use std::sync::atomic::Ordering;
use std::time::Duration;

use proto::CLUSTER_ID_HEADER;
use tonic::transport::Channel;
use tonic::transport::Endpoint;

/// How long a TCP connect to another node may take before the node counts as unreachable.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// Shared channels to other nodes, keyed by `host:port`.
#[derive(Clone, Default)]
pub struct ChannelPool {
    channels: Arc<Mutex<HashMap<String, Channel>>>,
    cluster_id: Arc<AtomicI32>,
    token: Arc<Mutex<Arc<str>>>,
}

impl ChannelPool {
    /// A pool whose requests carry `cluster_id` (0 before the node knows its cluster).
    pub fn new(cluster_id: i32) -> Self {
        let pool = ChannelPool::default();
        pool.cluster_id.store(cluster_id, Ordering::Relaxed);
        pool
    }

    /// The cluster id requests carry.
    pub fn cluster_id(&self) -> i32 {
        self.cluster_id.load(Ordering::Relaxed)
    }

    /// Sets the cluster id once it is known (after a join).
    pub fn set_cluster_id(&self, id: i32) {
        self.cluster_id.store(id, Ordering::Relaxed);
    }

    /// The cluster token requests carry (empty before the node knows it).
    pub fn token(&self) -> Arc<str> {
        self.token
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Sets the cluster token once it is known (bootstrap, stored identity or join reply).
    pub fn set_token(&self, token: &str) {
        *self
            .token
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::from(token);
    }

    /// Adds the cluster id and token to a request built elsewhere.
    pub fn stamp<T>(&self, req: &mut tonic::Request<T>) {
        if let Ok(v) = self.cluster_id().to_string().parse() {
            req.metadata_mut().insert(CLUSTER_ID_HEADER, v);
        }
        proto::auth::stamp(req, &self.token());
    }

    /// A channel to `addr` (`host:port`); connects on first use.
    pub fn channel(&self, addr: &str) -> Result<Channel, String> {
        let mut map = self
            .channels
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(c) = map.get(addr) {
            return Ok(c.clone());
        }
        let endpoint = Endpoint::from_shared(format!("http://{addr}"))
            .map_err(|e| format!("bad address {addr}: {e}"))?
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(5))
            .keep_alive_timeout(Duration::from_secs(5));
        let channel = endpoint.connect_lazy();
        map.insert(addr.to_string(), channel.clone());
        Ok(channel)
    }

    /// Wraps a message into a request that carries the cluster id, the token and a timeout.
    pub fn request<T>(&self, message: T, timeout: Duration) -> tonic::Request<T> {
        let mut req = tonic::Request::new(message);
        req.set_timeout(timeout);
        self.stamp(&mut req);
        req
    }
}

/// Refuses a request whose cluster id header differs from ours (0 means "not joined yet" and
/// is allowed only where the caller says so).
pub fn check_cluster_id<T>(
    req: &tonic::Request<T>,
    ours: i32,
    allow_unjoined: bool,
) -> Result<(), tonic::Status> {
    let theirs = req
        .metadata()
        .get(CLUSTER_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok());
    match theirs {
        Some(id) if id == ours => Ok(()),
        Some(0) if allow_unjoined => Ok(()),
        Some(id) => Err(tonic::Status::permission_denied(format!(
            "cluster id mismatch: the caller belongs to cluster {id}, this node to cluster {ours}"
        ))),
        None => Err(tonic::Status::permission_denied(
            "missing cluster id: the caller is not a Tessera node of this cluster",
        )),
    }
}

/// Sizes for generated clients and servers.
pub const MAX_MESSAGE_BYTES: usize = proto::MAX_MESSAGE_BYTES;
