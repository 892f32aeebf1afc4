//! Calls from a load coordinator to the leader FE: BeginTxn, CommitTxn, AbortTxn.

use std::time::Duration;

use common::StatusCode;
use proto::AbortTxnRequest;
use proto::BeginTxnReply;
use proto::BeginTxnRequest;
use proto::CLUSTER_ID_HEADER;
use proto::CommitTxnReply;
use proto::CommitTxnRequest;
use proto::frontend_service_client::FrontendServiceClient;
use tonic::transport::Channel;
use tonic::transport::Endpoint;

use crate::backend::Backend;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const BEGIN_TIMEOUT: Duration = Duration::from_secs(30);
const ABORT_TIMEOUT: Duration = Duration::from_secs(10);
/// Tries for calls that are safe to repeat, a second apart (the heartbeat names a new leader
/// within a few seconds of a failover).
const TRIES: u32 = 3;

fn client(be: &Backend) -> Result<(FrontendServiceClient<Channel>, String), String> {
    let master = be.master().ok_or_else(|| {
        "this backend has not heard from the leader frontend yet (no heartbeat since it \
         started); add it with ALTER SYSTEM ADD BACKEND or wait a few seconds"
            .to_string()
    })?;
    let addr = format!("{}:{}", master.leader_host, master.leader_rpc_port);
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .map_err(|e| format!("bad leader address {addr}: {e}"))?
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true)
        .connect_lazy();
    Ok((
        FrontendServiceClient::new(channel)
            .max_encoding_message_size(proto::MAX_MESSAGE_BYTES)
            .max_decoding_message_size(proto::MAX_MESSAGE_BYTES),
        addr,
    ))
}

fn request<T>(be: &Backend, msg: T, timeout: Duration) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    req.set_timeout(timeout);
    if let Ok(v) = be.storage.cluster_id().unwrap_or(0).to_string().parse() {
        req.metadata_mut().insert(CLUSTER_ID_HEADER, v);
    }
    req
}

fn not_leader(code: u32) -> bool {
    code == StatusCode::NotLeader.number() || code == StatusCode::NoLeader.number()
}

/// Begins a transaction. A transport failure or a "not the leader" answer is tried again
/// (the request id makes a repeat return the same transaction).
pub async fn begin_txn(be: &Backend, msg: BeginTxnRequest) -> Result<BeginTxnReply, String> {
    let mut last = String::new();
    for attempt in 0..TRIES {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let (mut c, addr) = client(be)?;
        match c.begin_txn(request(be, msg.clone(), BEGIN_TIMEOUT)).await {
            Ok(r) => {
                let r = r.into_inner();
                if !r.ok && not_leader(r.error_code) {
                    last = format!("the leader frontend {addr} answered: {}", r.error);
                    continue;
                }
                return Ok(r);
            }
            Err(s) if s.code() == tonic::Code::Unavailable => {
                last = format!("cannot reach the leader frontend {addr}: {}", s.message());
            }
            Err(s) => return Err(format!("BeginTxn at {addr} failed: {}", s.message())),
        }
    }
    Err(last)
}

/// Commits a transaction; tried again only when the FE certainly did not take it.
pub async fn commit_txn(
    be: &Backend,
    msg: CommitTxnRequest,
    timeout: Duration,
) -> Result<CommitTxnReply, String> {
    let mut last = String::new();
    for attempt in 0..TRIES {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let (mut c, addr) = client(be)?;
        match c.commit_txn(request(be, msg.clone(), timeout)).await {
            Ok(r) => {
                let r = r.into_inner();
                if !r.ok && not_leader(r.error_code) {
                    last = r.error;
                    continue;
                }
                return Ok(r);
            }
            Err(s) => {
                return Err(format!(
                    "the commit of transaction {} at the leader frontend {addr} failed: {}",
                    msg.txn_id,
                    s.message()
                ));
            }
        }
    }
    Err(last)
}

/// Aborts a transaction, best effort (logged).
pub async fn abort_txn(be: &Backend, db: &str, txn_id: i64, reason: &str) {
    let msg = AbortTxnRequest {
        db: db.to_string(),
        txn_id,
        reason: reason.to_string(),
    };
    let result = match client(be) {
        Ok((mut c, addr)) => c
            .abort_txn(request(be, msg, ABORT_TIMEOUT))
            .await
            .map_err(|s| format!("{addr}: {}", s.message()))
            .and_then(|r| {
                let r = r.into_inner();
                if r.ok { Ok(()) } else { Err(r.error) }
            }),
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        tracing::warn!(txn_id, "cannot abort the transaction: {e}");
    }
}
