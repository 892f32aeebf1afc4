//! Forwarding statements from a non-leader FE to the leader, and the leader's read index.
//!
//! The origin sends the statement's SQL and the session's user, database and variables to the
//! leader's `FrontendService` (on its edit_log_port). The leader runs it and answers with the
//! result and the journal id of its write. For writes the origin then waits until it has
//! replayed that journal id, so the client's next read on this FE sees the write.
//!
//! A failed connection to the leader (the request surely never arrived) is retried against the
//! newly elected leader until a deadline; an ambiguous failure (sent, no answer) is not, and
//! the client is told the write may have taken effect.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

use common::Error;
use common::Result;
use common::StatusCode;
use proto::frontend_service_client::FrontendServiceClient;
use serde::Deserialize;
use serde::Serialize;
use sql::Statement;

use crate::exec;
use crate::frontend::Frontend;
use crate::outcome::Outcome;
use crate::session::Session;

/// How long a forwarded statement keeps looking for a leader after a connection failure.
const LEADER_SEARCH: Duration = Duration::from_secs(6);

/// A statement sent to the leader.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ForwardPayload {
    /// One statement's SQL.
    pub sql: String,
    /// The session's user.
    pub user: String,
    /// The host pattern of the session's account.
    #[serde(default = "any_host")]
    pub host: String,
    /// The session's database.
    pub database: Option<String>,
    /// Session variables the client set.
    pub vars: BTreeMap<String, String>,
    /// The origin's connection id (for the leader's logs).
    pub connection_id: u32,
}

fn any_host() -> String {
    "%".to_string()
}

/// The leader's answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ForwardResult {
    /// The statement's result.
    pub result: std::result::Result<Outcome, Error>,
    /// The journal id the statement wrote (0 if it wrote nothing).
    pub journal_id: u64,
}

fn no_leader(fe: &Frontend) -> Error {
    let followers = fe
        .journal
        .state
        .read(|s| s.membership.membership().voter_ids().count());
    Error::new(
        StatusCode::NoLeader,
        format!(
            "no leader is elected right now: a leader needs a majority of the {followers} \
             followers alive and connected (observers do not vote); retry when the cluster \
             has recovered"
        ),
    )
}

fn leader_addr(fe: &Frontend) -> Result<(meta::NodeId, String)> {
    match fe.journal.leader() {
        Some((id, node)) => Ok((id, node.addr())),
        None => Err(no_leader(fe)),
    }
}

fn client(fe: &Frontend, addr: &str) -> Result<FrontendServiceClient<tonic::transport::Channel>> {
    let channel = fe
        .journal
        .pool
        .channel(addr)
        .map_err(|e| Error::new(StatusCode::Unreachable, e))?;
    Ok(FrontendServiceClient::new(channel)
        .max_decoding_message_size(proto::MAX_MESSAGE_BYTES)
        .max_encoding_message_size(proto::MAX_MESSAGE_BYTES))
}

/// Whether a gRPC failure means the request never reached a server.
fn never_arrived(status: &tonic::Status) -> bool {
    status.code() == tonic::Code::Unavailable
}

async fn call(fe: &Frontend, session: &Session, stmt: &Statement) -> Result<ForwardResult> {
    let payload = ForwardPayload {
        sql: stmt.to_string(),
        user: session.user.clone(),
        host: session.host.clone(),
        database: session.database.clone(),
        vars: session.vars.clone(),
        connection_id: session.connection_id,
    };
    let bytes = serde_json::to_vec(&payload).map_err(Error::internal)?;
    let timeout = Duration::from_secs(session.query_timeout_secs()) + fe.rpc_timeout();
    let deadline = Instant::now() + LEADER_SEARCH;
    loop {
        let (leader_id, addr) = match leader_addr(fe) {
            Ok(l) => l,
            Err(e) if Instant::now() < deadline => {
                tracing::debug!(%e, "waiting for a leader to forward to");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            Err(e) => return Err(e),
        };
        if leader_id == fe.node_id {
            // This FE became the leader meanwhile: the caller runs it locally.
            return Err(Error::new(
                StatusCode::NotLeader,
                "this frontend is the leader now",
            ));
        }
        let mut c = client(fe, &addr)?;
        let req = fe.journal.pool.request(
            proto::ForwardRequest {
                payload: bytes.clone(),
            },
            timeout,
        );
        let rpc = c.forward(req);
        tokio::pin!(rpc);
        let outcome = tokio::select! {
            r = &mut rpc => r,
            _ = leader_changed_from(fe, leader_id) => {
                return Err(Error::new(
                    StatusCode::Timeout,
                    format!(
                        "the leader changed while the statement was running on the former \
                         leader {addr}; it may or may not have taken effect: check before \
                         retrying"
                    ),
                ));
            }
        };
        match outcome {
            Ok(reply) => {
                let r: ForwardResult = serde_json::from_slice(&reply.into_inner().payload)
                    .map_err(|e| Error::internal(format!("decode forwarded result: {e}")))?;
                // The leader lost its leadership before running it: nothing happened, retry.
                if let Err(e) = &r.result
                    && e.code == StatusCode::NotLeader
                    && r.journal_id == 0
                    && Instant::now() < deadline
                {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
                return Ok(r);
            }
            Err(status) if never_arrived(&status) && Instant::now() < deadline => {
                tracing::debug!(%addr, %status, "leader unreachable; looking for a new one");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(status) if never_arrived(&status) => {
                return Err(Error::new(
                    StatusCode::NoLeader,
                    format!(
                        "cannot reach the leader at {addr}: {}; no other leader was elected in time",
                        status.message()
                    ),
                ));
            }
            Err(status) => {
                return Err(Error::new(
                    StatusCode::Timeout,
                    format!(
                        "the leader at {addr} did not answer ({}): the statement may have taken \
                         effect; check before retrying",
                        status.message()
                    ),
                ));
            }
        }
    }
}

/// Resolves when this FE learns of a leader other than `leader_id`.
async fn leader_changed_from(fe: &Frontend, leader_id: meta::NodeId) {
    loop {
        if let Some((id, _)) = fe.journal.leader()
            && id != leader_id
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Forwards a write and waits until this FE has replayed it.
pub async fn forward_write(
    fe: &Arc<Frontend>,
    session: &mut Session,
    stmt: &Statement,
) -> Result<crate::outcome::Outcome> {
    let r = match call(fe, session, stmt).await {
        Err(e) if e.code == StatusCode::NotLeader => {
            // We became the leader: run it here.
            return Box::pin(exec::execute_statement(fe, session, stmt.clone(), true)).await;
        }
        other => other?,
    };
    if r.journal_id > 0 {
        session.last_journal_id = session.last_journal_id.max(r.journal_id);
        let timeout = Duration::from_secs(session.query_timeout_secs());
        if let Err(e) = fe.journal.wait_applied(r.journal_id, timeout).await {
            return Err(Error::new(
                StatusCode::Timeout,
                format!(
                    "Execute timeout, the command may be succeed, you'd better retry ({})",
                    e.message
                ),
            ));
        }
    }
    r.result
}

/// Runs a read on the leader.
pub async fn forward_read(
    fe: &Arc<Frontend>,
    session: &mut Session,
    stmt: &Statement,
) -> Result<Outcome> {
    call(fe, session, stmt).await?.result
}

/// The leader's read index: asked locally on the leader, by RPC elsewhere.
pub async fn read_index(fe: &Arc<Frontend>) -> Result<u64> {
    if fe.journal.is_leader() {
        return fe.journal.read_index().await;
    }
    let (_, addr) = leader_addr(fe)?;
    let mut c = client(fe, &addr)?;
    let req = fe
        .journal
        .pool
        .request(proto::ReadIndexRequest {}, fe.rpc_timeout());
    let reply = c.read_index(req).await.map_err(|s| {
        Error::new(
            StatusCode::Unreachable,
            format!(
                "cannot get the read index from the leader at {addr}: {}",
                s.message()
            ),
        )
    })?;
    let reply = reply.into_inner();
    if reply.ok {
        Ok(reply.read_index)
    } else {
        Err(Error::new(
            StatusCode::from_number(reply.error_code).unwrap_or(StatusCode::Internal),
            reply.error,
        ))
    }
}

/// The leader side: runs a forwarded statement.
pub async fn handle_forward(fe: &Arc<Frontend>, payload: &[u8]) -> ForwardResult {
    let payload: ForwardPayload = match serde_json::from_slice(payload) {
        Ok(p) => p,
        Err(e) => {
            return ForwardResult {
                result: Err(Error::invalid(format!(
                    "malformed forwarded statement: {e}"
                ))),
                journal_id: 0,
            };
        }
    };
    let stmt = match sql::parse_statement(&payload.sql) {
        Ok(s) => s,
        Err(e) => {
            return ForwardResult {
                result: Err(Error::new(
                    StatusCode::SyntaxError,
                    format!("You have an error in your SQL syntax: {e}"),
                )),
                journal_id: 0,
            };
        }
    };
    let mut session = Session::new(payload.connection_id, &payload.user, None);
    session.host = payload.host;
    session.database = payload.database;
    session.vars = payload.vars;
    if !fe.journal.is_leader() {
        return ForwardResult {
            result: Err(Error::new(
                StatusCode::NotLeader,
                "this frontend is no longer the leader",
            )),
            journal_id: 0,
        };
    }
    let result = exec::execute_statement(fe, &mut session, stmt, true).await;
    ForwardResult {
        result,
        journal_id: session.last_journal_id,
    }
}
