//! Talking to backends: heartbeats, agent tasks (create/drop tablet), and tablet reports.

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use common::Error;
use common::Result;
use common::StatusCode;
use futures::StreamExt;
use meta::JournalOp;
use meta::catalog::ReplicaUpdate;
use meta::catalog::backend::Backend;
use meta::catalog::backend::BackendStatus;
use meta::catalog::backend::DiskState;
use proto::backend_service_client::BackendServiceClient;
use proto::heartbeat_service_client::HeartbeatServiceClient;

use crate::frontend::Frontend;

/// Sends one heartbeat to a backend and computes its new status.
pub async fn heartbeat_backend(
    fe: &Frontend,
    be: &Backend,
    timeout: Duration,
    retry_times: u32,
) -> BackendStatus {
    let mut st = be.status.clone();
    let result = send_heartbeat(fe, be, timeout).await;
    let now = common::clock::now_ms();
    match result {
        Ok(reply) => {
            let restarted = !st.alive || reply.start_time_ms != st.last_start_time_ms;
            st.alive = true;
            st.failures = 0;
            st.err_msg = String::new();
            st.be_port = reply.be_port as u16;
            st.http_port = reply.http_port as u16;
            st.https = reply.https;
            st.brpc_port = reply.brpc_port as u16;
            st.version = reply.version;
            st.last_heartbeat_ms = now;
            if restarted {
                st.last_start_time_ms = if reply.start_time_ms > 0 {
                    reply.start_time_ms
                } else {
                    now
                };
            }
            st.disks = reply
                .disks
                .into_iter()
                .map(|d| DiskState {
                    root_path: d.root_path,
                    total_bytes: d.total_bytes,
                    available_bytes: d.available_bytes,
                    data_used_bytes: d.data_used_bytes,
                })
                .collect();
        }
        Err(msg) => {
            fe.metrics.be_heartbeat_failed.increment(1);
            // StarRocks declares a backend dead on the failure that arrives with the counter
            // already at heartbeat_retry_times; the error is shown at once.
            if st.failures >= retry_times {
                st.alive = false;
            }
            st.failures = st.failures.saturating_add(1);
            st.err_msg = msg;
        }
    }
    st
}

async fn send_heartbeat(
    fe: &Frontend,
    be: &Backend,
    timeout: Duration,
) -> std::result::Result<proto::BackendHeartbeatReply, String> {
    let addr = be.addr();
    let channel = fe.journal.pool.channel(&addr)?;
    let mut client = HeartbeatServiceClient::new(channel);
    let req = fe.journal.pool.request(
        proto::BackendHeartbeatRequest {
            cluster_id: fe.cluster_id,
            token: fe.token.clone(),
            backend_id: be.id,
            backend_host: be.host.clone(),
            leader_host: fe.node.host.clone(),
            leader_rpc_port: fe.file_config.rpc_port as u32,
            epoch: fe.journal.term(),
            fe_clock_ms: common::clock::now_ms(),
            report_interval_seconds: 0,
        },
        timeout,
    );
    match tokio::time::timeout(timeout, client.heartbeat(req)).await {
        Ok(Ok(reply)) => {
            let reply = reply.into_inner();
            if reply.ok {
                Ok(reply)
            } else {
                Err(reply.error)
            }
        }
        Ok(Err(status)) => Err(format!("{addr}: {}", status.message())),
        Err(_) => Err(format!(
            "{addr}: heartbeat timed out after {} ms",
            timeout.as_millis()
        )),
    }
}

fn task_client(
    fe: &Frontend,
    be: &Backend,
) -> Result<BackendServiceClient<tonic::transport::Channel>> {
    let addr = be.be_addr().ok_or_else(|| {
        Error::new(
            StatusCode::Unreachable,
            format!(
                "backend {} ({}) has not answered a heartbeat yet",
                be.id,
                be.addr()
            ),
        )
    })?;
    let channel = fe
        .journal
        .pool
        .channel(&addr)
        .map_err(|e| Error::new(StatusCode::Unreachable, e))?;
    Ok(BackendServiceClient::new(channel)
        .max_decoding_message_size(proto::MAX_MESSAGE_BYTES)
        .max_encoding_message_size(proto::MAX_MESSAGE_BYTES))
}

fn task_result(
    be: &Backend,
    r: std::result::Result<tonic::Response<proto::TaskReply>, tonic::Status>,
) -> Result<()> {
    match r {
        Ok(reply) => {
            let reply = reply.into_inner();
            if reply.ok {
                Ok(())
            } else {
                Err(Error::new(
                    StatusCode::from_number(reply.error_code).unwrap_or(StatusCode::Internal),
                    format!("backend {} ({}): {}", be.id, be.host, reply.error),
                ))
            }
        }
        Err(s) => Err(Error::new(
            StatusCode::Unreachable,
            format!("backend {} ({}): {}", be.id, be.host, s.message()),
        )),
    }
}

/// Creates one replica on its backend.
pub async fn create_tablet(
    fe: &Frontend,
    be: &Backend,
    req: proto::CreateTabletRequest,
    timeout: Duration,
) -> Result<()> {
    let mut client = task_client(fe, be)?;
    let r = tokio::time::timeout(
        timeout,
        client.create_tablet(fe.journal.pool.request(req, timeout)),
    )
    .await
    .map_err(|_| {
        Error::new(
            StatusCode::Timeout,
            format!(
                "backend {} ({}): creating the tablet timed out after {} s",
                be.id,
                be.host,
                timeout.as_secs()
            ),
        )
    })?;
    task_result(be, r)
}

/// Drops one replica on its backend.
pub async fn drop_tablet(
    fe: &Frontend,
    be: &Backend,
    tablet_id: i64,
    replica_id: i64,
    timeout: Duration,
) -> Result<()> {
    let mut client = task_client(fe, be)?;
    let req = proto::DropTabletRequest {
        tablet_id,
        replica_id,
        backend_id: be.id,
    };
    let r = tokio::time::timeout(
        timeout,
        client.drop_tablet(fe.journal.pool.request(req, timeout)),
    )
    .await
    .map_err(|_| {
        Error::new(
            StatusCode::Timeout,
            format!("backend {}: dropping tablet {tablet_id} timed out", be.id),
        )
    })?;
    task_result(be, r)
}

/// Drops replicas on their backends, best effort (reports clean up what this misses).
pub async fn drop_replicas(fe: &Frontend, replicas: Vec<(i64, i64, i64)>) {
    let backends = fe.journal.state.read(|s| s.catalog.backends.clone());
    let calls = replicas.into_iter().filter_map(|(tablet, replica, be_id)| {
        let be = backends.get(&be_id)?.clone();
        Some(async move {
            if let Err(e) = drop_tablet(fe, &be, tablet, replica, Duration::from_secs(10)).await {
                tracing::info!(tablet, backend = be_id, %e, "could not drop a replica now; the backend's report will clean it up");
            }
        })
    });
    futures::stream::iter(calls)
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
}

/// What the leader remembers between reports.
#[derive(Default)]
pub struct ReportState {
    /// Tablets a backend has that the catalog does not know: first seen, epoch ms.
    unknown_since: Mutex<HashMap<(i64, i64), i64>>,
    /// Replicas the catalog has that their backend did not report last time.
    missing_once: Mutex<HashMap<(i64, i64), i64>>,
    /// When each backend last reported.
    last_report: Mutex<HashMap<i64, i64>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Reconciles a backend's tablet report with the catalog (leader only).
/// Applies a tablet report; returns the reported pending transactions that will never
/// publish, whose rowsets the backend may drop.
pub async fn handle_report(fe: &Arc<Frontend>, report: proto::TabletReport) -> Result<Vec<i64>> {
    if !fe.journal.is_leader() {
        return Err(Error::new(
            StatusCode::NotLeader,
            "this frontend is not the leader",
        ));
    }
    let be_id = report.backend_id;
    let now = common::clock::now_ms();
    let delay_ms = i64::from(fe.config().tablet_report_drop_tablet_delay_sec.max(0)) * 1000;
    let reported: BTreeMap<i64, proto::TabletInfo> = report
        .tablets
        .into_iter()
        .map(|t| (t.tablet_id, t))
        .collect();
    let pending_txns = report.pending_txn_ids;
    let (known_be, updates, unknown, missing, finished) = fe.journal.state.read(|s| {
        let c = &s.catalog;
        let finished = c.never_publishing(&pending_txns);
        let known_be = c.backends.contains_key(&be_id);
        let mut updates = Vec::new();
        let mut unknown = Vec::new();
        for (tid, info) in &reported {
            match c.find_tablet(*tid) {
                Some((_, _, _, tablet)) => {
                    // A copy whose replica id the catalog does not know on this backend (a
                    // leftover of a replica repair replaced) is not that replica.
                    if let Some(r) = tablet.replicas.iter().find(|r| {
                        r.backend_id == be_id && (info.replica_id == 0 || info.replica_id == r.id)
                    }) {
                        let bad = info.state != "NORMAL";
                        let u = ReplicaUpdate {
                            tablet_id: *tid,
                            replica_id: r.id,
                            version: (info.version > r.version).then_some(info.version),
                            data_size: (info.data_size != r.data_size).then_some(info.data_size),
                            // A report taken before a publish the catalog already has
                            // must not take its row count back.
                            row_count: (info.row_count != r.row_count && info.version >= r.version)
                                .then_some(info.row_count),
                            bad: (bad && !r.bad).then_some(true),
                        };
                        if u.version.is_some()
                            || u.data_size.is_some()
                            || u.row_count.is_some()
                            || u.bad.is_some()
                        {
                            updates.push(u);
                        }
                    } else {
                        unknown.push((*tid, info.replica_id));
                    }
                }
                None => {
                    // A table in the recycle bin still owns its tablets.
                    let recycled = c
                        .recycle_bin
                        .iter()
                        .any(|r| r.table.tablets().any(|(_, t)| t.id == *tid));
                    if !recycled {
                        unknown.push((*tid, info.replica_id));
                    }
                }
            }
        }
        let mut missing = Vec::new();
        for db in c.databases.values() {
            for t in db.tables.values() {
                for (_, tablet) in t.tablets() {
                    for r in &tablet.replicas {
                        // A replica being built by a clone appears when the clone installs it.
                        if r.backend_id == be_id
                            && !reported.contains_key(&tablet.id)
                            && !r.bad
                            && r.state != meta::catalog::table::ReplicaState::Clone
                        {
                            missing.push((tablet.id, r.id));
                        }
                    }
                }
            }
        }
        (known_be, updates, unknown, missing, finished)
    });
    if !known_be {
        return Err(Error::new(
            StatusCode::NodeNotFound,
            format!("backend {be_id} is not part of this cluster"),
        ));
    }
    // A replica missing from two reports in a row is marked bad (the first miss may race a
    // replica being created).
    let mut updates = updates;
    {
        let mut once = lock(&fe.reports.missing_once);
        let current: std::collections::HashSet<(i64, i64)> = missing.iter().copied().collect();
        once.retain(|k, _| current.contains(k) || k.1 != be_id);
        for (tablet_id, replica_id) in missing {
            if once.insert((tablet_id, replica_id), now).is_some() {
                tracing::warn!(
                    tablet_id,
                    replica_id,
                    backend = be_id,
                    "backend lost a replica; marking it bad"
                );
                updates.push(ReplicaUpdate {
                    tablet_id,
                    replica_id,
                    version: None,
                    data_size: None,
                    row_count: None,
                    bad: Some(true),
                });
            }
        }
    }
    if !updates.is_empty() {
        fe.journal
            .write(JournalOp::UpdateReplicas { updates }, fe.write_timeout())
            .await?;
    }
    // Tablets the catalog does not know are dropped after a grace period (a CREATE TABLE may
    // still be creating them).
    let mut to_drop = Vec::new();
    {
        let mut seen = lock(&fe.reports.unknown_since);
        let current: std::collections::HashSet<(i64, i64)> =
            unknown.iter().map(|(t, _)| (be_id, *t)).collect();
        seen.retain(|k, _| k.0 != be_id || current.contains(k));
        for (tablet_id, replica_id) in unknown {
            let first = *seen.entry((be_id, tablet_id)).or_insert(now);
            if now - first >= delay_ms {
                to_drop.push((tablet_id, replica_id, be_id));
                seen.remove(&(be_id, tablet_id));
            }
        }
    }
    if !to_drop.is_empty() {
        tracing::info!(
            backend = be_id,
            count = to_drop.len(),
            "dropping tablets the catalog does not know"
        );
        drop_replicas(fe, to_drop).await;
    }
    lock(&fe.reports.last_report).insert(be_id, now);
    Ok(finished)
}

impl ReportState {
    /// When a backend last reported (leader memory; journaled with the next heartbeat round).
    pub fn last_report_ms(&self, backend_id: i64) -> Option<i64> {
        lock(&self.last_report).get(&backend_id).copied()
    }
}
