//! HeartbeatService: the leader FE's heartbeat binds the backend to its cluster, tells it
//! where the leader is, and gets the backend's ports, disks and tablet count back.

use std::net::IpAddr;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::PoisonError;

use common::StatusCode;
use proto::BackendHeartbeatReply;
use proto::BackendHeartbeatRequest;
use proto::heartbeat_service_server::HeartbeatService;
use tonic::Request;
use tonic::Response;
use tonic::Status;

use crate::backend::Backend;
use crate::backend::MasterInfo;

/// The heartbeat service.
pub(crate) struct HeartbeatServiceImpl {
    pub be: Arc<Backend>,
}

/// Whether `host` (an IP or a name) is `me`.
async fn host_is(host: &str, me: Ipv4Addr) -> bool {
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return ip == me;
    }
    match tokio::net::lookup_host((host, 0)).await {
        Ok(addrs) => addrs.into_iter().any(|a| a.ip() == IpAddr::V4(me)),
        Err(_) => false,
    }
}

impl HeartbeatServiceImpl {
    /// Checks a heartbeat and, when it is acceptable, binds the cluster and records the leader.
    async fn accept(&self, req: &BackendHeartbeatRequest) -> Result<(), String> {
        let be = &self.be;
        if req.cluster_id <= 0 {
            return Err(format!(
                "invalid cluster id {} in the heartbeat",
                req.cluster_id
            ));
        }
        let stored = be.storage.cluster_id();
        if let Some(ours) = stored
            && ours != req.cluster_id
        {
            return Err(format!(
                "cluster id mismatch: this backend belongs to cluster {ours}; the heartbeat came \
                 from cluster {}",
                req.cluster_id
            ));
        }
        // As in StarRocks, the first heartbeat brings the cluster token, and a backend that
        // holds one refuses heartbeats with another.
        if req.token.is_empty() {
            return Err(
                "invalid token: the heartbeat carries no cluster token (it does not come from a \
                 frontend of this cluster)"
                    .to_string(),
            );
        }
        if let Some(ours) = be.storage.token()
            && !proto::auth::tokens_equal(ours.as_bytes(), req.token.as_bytes())
        {
            return Err(format!(
                "Unmatched token: the heartbeat from cluster {} carries a cluster token that is \
                 not the one this backend stored when it joined; its storage roots ({}) belong \
                 to another cluster",
                req.cluster_id, be.config.storage_root_path
            ));
        }
        if !host_is(req.backend_host.trim(), be.address).await {
            return Err(format!(
                "Unmatched backend ip: the heartbeat is for '{}' but this backend listens on {} \
                 (check priority_networks in be.conf, or the address in ALTER SYSTEM ADD BACKEND)",
                req.backend_host, be.address
            ));
        }
        let previous = be.master();
        if let Some(p) = &previous
            && req.epoch < p.epoch
        {
            return Err(format!(
                "Out-dated epoch: the heartbeat's epoch {} is lower than {}, the highest this \
                 backend has seen (leader {}:{}); it comes from a frontend that is no longer the \
                 leader",
                req.epoch, p.epoch, p.leader_host, p.leader_rpc_port
            ));
        }
        let leader_rpc_port = u16::try_from(req.leader_rpc_port)
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("invalid leader rpc port {}", req.leader_rpc_port))?;
        if stored.is_none() {
            let id = req.cluster_id;
            match be.blocking(move |s| s.bind_cluster_id(id)).await {
                Ok(true) => {
                    tracing::info!(cluster_id = id, "this backend joined cluster {id}");
                }
                Ok(false) => {}
                Err(e) if e.code == StatusCode::ClusterIdMismatch => return Err(e.message),
                Err(e) => {
                    tracing::error!(cluster_id = id, "cannot store the cluster id: {e}");
                    return Err(format!("cannot store the cluster id: {e}"));
                }
            }
        }
        if be.storage.token().is_none() {
            let token = req.token.clone();
            match be.blocking(move |s| s.bind_token(&token)).await {
                Ok(true) => tracing::info!("stored the cluster token from the leader's heartbeat"),
                Ok(false) => {}
                Err(e) if e.code == StatusCode::InvalidToken => return Err(e.message),
                Err(e) => {
                    tracing::error!("cannot store the cluster token: {e}");
                    return Err(format!("cannot store the cluster token: {e}"));
                }
            }
        }
        let info = MasterInfo {
            backend_id: req.backend_id,
            leader_host: req.leader_host.clone(),
            leader_rpc_port,
            report_interval_seconds: req.report_interval_seconds,
            epoch: req.epoch,
        };
        let leader_changed = previous.as_ref().is_none_or(|p| {
            p.leader_host != info.leader_host || p.leader_rpc_port != info.leader_rpc_port
        });
        if let Some(p) = &previous
            && p.backend_id != info.backend_id
        {
            tracing::info!(
                old = p.backend_id,
                new = info.backend_id,
                "the cluster now knows this backend under another id"
            );
        }
        if leader_changed {
            tracing::info!(
                leader = %format!("{}:{}", info.leader_host, info.leader_rpc_port),
                backend_id = info.backend_id,
                epoch = info.epoch,
                "heartbeat from a new leader"
            );
        }
        be.set_master(info);
        if leader_changed {
            // The new leader gets the tablets without waiting for the next interval.
            be.request_report();
        }
        Ok(())
    }

    async fn reply(&self) -> BackendHeartbeatReply {
        let be = &self.be;
        let disks = match be.disks().await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!("cannot read the disks' capacity: {e}");
                Vec::new()
            }
        };
        BackendHeartbeatReply {
            ok: true,
            error: String::new(),
            be_port: be.config.be_port as u32,
            http_port: be.config.be_http_port as u32,
            brpc_port: be.config.brpc_port as u32,
            start_time_ms: be.start_time_ms,
            version: Backend::version(),
            disks,
            tablet_count: be.storage.tablet_count() as u64,
            clock_ms: common::clock::now_ms(),
            cluster_id: be.storage.cluster_id().unwrap_or(0),
            https: be.config.enable_https,
        }
    }
}

#[tonic::async_trait]
impl HeartbeatService for HeartbeatServiceImpl {
    async fn heartbeat(
        &self,
        request: Request<BackendHeartbeatRequest>,
    ) -> Result<Response<BackendHeartbeatReply>, Status> {
        // The body carries the cluster id and token (the first heartbeat binds them), so the
        // token guard lets this call through and `accept` checks them.
        let peer = request.remote_addr();
        let req = request.into_inner();
        let outcome = {
            let _serial = self.be.heartbeat_lock.lock().await;
            self.accept(&req).await
        };
        let mut reply = self.reply().await;
        let mut last = self
            .be
            .last_refusal
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match &outcome {
            Ok(()) => self.be.metrics.heartbeat_accepted.increment(1),
            Err(_) => self.be.metrics.heartbeat_refused.increment(1),
        }
        match outcome {
            Ok(()) => {
                if last.take().is_some() {
                    tracing::info!("heartbeats are accepted again");
                }
            }
            Err(why) => {
                let token_reason = if why.starts_with("Unmatched token") {
                    Some(proto::auth::Refused::Unmatched)
                } else if why.starts_with("invalid token") {
                    Some(proto::auth::Refused::Missing)
                } else {
                    None
                };
                let repeated = last.as_deref() == Some(why.as_str());
                if let Some(reason) = token_reason {
                    let r = proto::auth::Refusal {
                        peer,
                        service: "HeartbeatService",
                        method: "Heartbeat",
                        reason,
                    };
                    // Every refused heartbeat is counted; the same refusal in a row is logged
                    // once (the leader retries every few seconds).
                    if !repeated {
                        r.log();
                    }
                    self.be.metrics.node_auth_refused(&r);
                }
                if !repeated {
                    tracing::warn!(
                        from = %format!("{}:{}", req.leader_host, req.leader_rpc_port),
                        "heartbeat refused: {why}"
                    );
                    *last = Some(why.clone());
                }
                reply.ok = false;
                reply.error = why;
            }
        }
        Ok(Response::new(reply))
    }
}
