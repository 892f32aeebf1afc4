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
    if let Some(token) = be.storage.token() {
        proto::auth::stamp(&mut req, &token);
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

/// Why a commit did not succeed.
#[derive(Debug)]
pub enum CommitError {
    /// The FE refused it: the transaction is not committed.
    Refused(String),
    /// No answer could be had (the leader unreachable or changing, the journal write not
    /// acknowledged): the transaction may or may not be committed.
    Unknown(String),
}

/// How long a coordinator keeps repeating a commit whose outcome is unknown (a failover
/// takes a few seconds).
pub const COMMIT_RETRY_FOR: Duration = Duration::from_secs(30);

/// Whether an error code from the FE leaves the outcome of a write open.
fn outcome_unknown(code: u32) -> bool {
    not_leader(code)
        || code == StatusCode::Timeout.number()
        || code == StatusCode::Internal.number()
}

/// Commits a transaction. The FE's commit is idempotent (a repeat of a commit that took
/// effect succeeds again), so a failure that leaves the outcome open is tried again, against
/// whichever FE leads, for up to [`COMMIT_RETRY_FOR`] and not past `deadline`.
pub async fn commit_txn(
    be: &Backend,
    msg: CommitTxnRequest,
    timeout: Duration,
    deadline: tokio::time::Instant,
) -> Result<CommitTxnReply, CommitError> {
    let give_up = (tokio::time::Instant::now() + COMMIT_RETRY_FOR).min(deadline);
    let mut attempt = 0u32;
    loop {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        attempt += 1;
        let last = match client(be) {
            Err(e) => e,
            Ok((mut c, addr)) => match c.commit_txn(request(be, msg.clone(), timeout)).await {
                Ok(r) => {
                    let r = r.into_inner();
                    if r.ok {
                        return Ok(r);
                    }
                    if !outcome_unknown(r.error_code) {
                        return Err(CommitError::Refused(r.error));
                    }
                    format!("the leader frontend {addr} answered: {}", r.error)
                }
                Err(s) => format!(
                    "the commit of transaction {} at the leader frontend {addr} failed: {}",
                    msg.txn_id,
                    s.message()
                ),
            },
        };
        if tokio::time::Instant::now() >= give_up {
            return Err(CommitError::Unknown(last));
        }
        tracing::info!(
            txn_id = msg.txn_id,
            attempt,
            "commit outcome unknown, trying again: {last}"
        );
    }
}

/// What an abort request established.
#[derive(Debug, PartialEq, Eq)]
pub enum AbortOutcome {
    /// The FE aborted the transaction (or it was aborted already).
    Aborted,
    /// The FE refused: the transaction is committed.
    Committed,
    /// No answer: the transaction's state is unknown.
    Unknown,
}

/// Aborts a transaction at the leader FE (logged when it fails).
pub async fn abort_txn(be: &Backend, db: &str, txn_id: i64, reason: &str) -> AbortOutcome {
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
            .map(tonic::Response::into_inner),
        Err(e) => Err(e),
    };
    match result {
        Ok(r) if r.ok => AbortOutcome::Aborted,
        Ok(r) if r.error_code == StatusCode::TxnStateInvalid.number() => AbortOutcome::Committed,
        Ok(r) => {
            tracing::warn!(txn_id, "cannot abort the transaction: {}", r.error);
            AbortOutcome::Unknown
        }
        Err(e) => {
            tracing::warn!(txn_id, "cannot abort the transaction: {e}");
            AbortOutcome::Unknown
        }
    }
}

/// Checks HTTP Basic credentials with the leader (any frontend could answer; the leader is
/// the one this backend knows). `Ok(Err(message))`: refused; `Err`: no answer.
pub async fn check_password(
    be: &Backend,
    user: &str,
    password: &str,
    client_ip: Option<std::net::IpAddr>,
) -> Result<Result<(), String>, String> {
    let (mut c, addr) = client(be)?;
    let msg = proto::CheckPasswordRequest {
        user: user.to_string(),
        password: password.to_string(),
        client_ip: client_ip.map(|i| i.to_string()).unwrap_or_default(),
    };
    match c
        .check_password(request(be, msg, Duration::from_secs(10)))
        .await
    {
        Ok(r) => {
            let r = r.into_inner();
            Ok(if r.ok { Ok(()) } else { Err(r.error) })
        }
        Err(s) => Err(format!(
            "cannot check the credentials with the leader frontend {addr}: {}",
            s.message()
        )),
    }
}
