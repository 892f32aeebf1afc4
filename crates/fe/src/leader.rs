//! What only the leader does: heartbeats to the other frontends and promoting caught-up
//! followers to voters.
//!
//! Heartbeat outcomes are journaled every round (as StarRocks journals `OP_HEARTBEAT`), so
//! every FE shows the same Alive/LastHeartbeat/ErrMsg and a new leader keeps the failure
//! counts. When the leader cannot journal (no quorum), it still shows its latest round itself.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;
use std::time::Instant;

use meta::FrontendRole;
use meta::JournalOp;
use meta::NodeId;
use meta::catalog::FrontendStatus;
use meta::catalog::backend::Backend;
use openraft::ChangeMembers;
use openraft::async_runtime::WatchReceiver;
use proto::meta_service_client::MetaServiceClient;

use crate::frontend::Frontend;

/// A follower whose replication lags the leader by at most this many entries counts as caught
/// up and is promoted to voter.
pub const CATCH_UP_ENTRIES: u64 = 100;

/// The leader's own view of the last heartbeat round (newer than the journal when the journal
/// cannot be written).
#[derive(Default)]
pub struct LocalHeartbeats {
    statuses: Mutex<BTreeMap<NodeId, FrontendStatus>>,
    backends: Mutex<BTreeMap<i64, meta::catalog::backend::BackendStatus>>,
}

impl LocalHeartbeats {
    /// The statuses of the last round.
    pub fn get(&self) -> BTreeMap<NodeId, FrontendStatus> {
        self.lock().clone()
    }

    fn set(&self, s: BTreeMap<NodeId, FrontendStatus>) {
        *self.lock() = s;
    }

    /// Forgets them (when this FE stops leading).
    pub fn clear(&self) {
        self.lock().clear();
        self.backends
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }

    /// The backends' statuses of the last round.
    pub fn backends(&self) -> BTreeMap<i64, meta::catalog::backend::BackendStatus> {
        self.backends
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn set_backends(&self, s: BTreeMap<i64, meta::catalog::backend::BackendStatus>) {
        *self
            .backends
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = s;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<NodeId, FrontendStatus>> {
        self.statuses
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Runs the leader's duties while this FE leads; idles otherwise.
pub async fn run(fe: Arc<Frontend>) {
    let mut shutdown = fe.shutdown.subscribe();
    let mut last_round: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            _ = shutdown.changed() => return,
        }
        if fe.is_shutting_down() {
            return;
        }
        if !fe.journal.is_leader() {
            fe.local_heartbeats.clear();
            last_round = None;
            continue;
        }
        ensure_internal_secret(&fe).await;
        promote_caught_up_followers(&fe).await;
        let interval = Duration::from_secs(fe.config().heartbeat_timeout_second.max(1) as u64);
        if last_round.is_none_or(|t| t.elapsed() >= interval) {
            last_round = Some(Instant::now());
            heartbeat_round(&fe, interval).await;
            erase_expired_tables(&fe).await;
            drop_drained_backends(&fe).await;
        }
    }
}

/// The first leader picks the FE-to-FE load credential (see [`crate::auth::INTERNAL_PREFIX`]).
async fn ensure_internal_secret(fe: &Arc<Frontend>) {
    if !fe
        .journal
        .state
        .read(|s| s.catalog.internal_secret.is_empty())
    {
        return;
    }
    let bytes: [u8; 24] = rand::random();
    let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let op = meta::JournalOp::SetInternalSecret { secret };
    if let Err(e) = fe.journal.write(op, fe.write_timeout()).await {
        tracing::debug!(%e, "could not journal the internal load credential yet");
    }
}

async fn promote_caught_up_followers(fe: &Arc<Frontend>) {
    let candidates: Vec<NodeId> = {
        let m = fe.journal.raft.metrics();
        let m = m.borrow_watched();
        let membership = m.membership_config.membership();
        let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
        let last = m.last_log_index.unwrap_or(0);
        let replication = m.replication.clone().unwrap_or_default();
        membership
            .nodes()
            .filter(|(id, n)| n.role == FrontendRole::Follower && !voters.contains(id))
            .filter(|(id, _)| {
                replication
                    .get(id)
                    .and_then(|l| l.as_ref())
                    .is_some_and(|l| l.index + CATCH_UP_ENTRIES >= last)
            })
            .map(|(id, _)| *id)
            .collect()
    };
    for id in candidates {
        let _guard = fe.membership_lock.lock().await;
        let still_learner = {
            let m = fe.journal.raft.metrics();
            let m = m.borrow_watched();
            let membership = m.membership_config.membership();
            membership.get_node(&id).is_some() && !membership.voter_ids().any(|v| v == id)
        };
        if !still_learner {
            continue;
        }
        match fe
            .journal
            .change_membership(
                ChangeMembers::AddVoterIds(BTreeSet::from([id])),
                fe.write_timeout(),
            )
            .await
        {
            Ok(_) => tracing::info!(node_id = id, "follower caught up; promoted to voter"),
            Err(e) => tracing::warn!(node_id = id, %e, "could not promote a caught-up follower"),
        }
    }
}

async fn heartbeat_round(fe: &Arc<Frontend>, timeout: Duration) {
    let config = fe.config();
    let retry_times = config.heartbeat_retry_times.max(0) as u32;
    let max_skew = config.max_bdbje_clock_delta_ms;
    let nodes: Vec<(NodeId, String)> = fe.journal.state.read(|s| {
        s.membership
            .membership()
            .nodes()
            .map(|(id, n)| (*id, n.addr()))
            .collect()
    });
    let previous = {
        let mut p = fe.journal.state.read(|s| s.catalog.frontends.clone());
        // The leader's own last round is newer than the journal when writes failed.
        for (id, st) in fe.local_heartbeats.get() {
            p.insert(id, st);
        }
        p
    };
    let mut calls = Vec::new();
    for (id, addr) in nodes {
        if id == fe.node_id {
            continue;
        }
        let fe = fe.clone();
        calls.push(async move {
            let sent = common::clock::now_ms();
            let result = send_heartbeat(&fe, id, &addr, timeout).await;
            (id, sent, result)
        });
    }
    let results = futures::future::join_all(calls).await;
    let now = common::clock::now_ms();
    let mut statuses = BTreeMap::new();
    for (id, sent, result) in results {
        let mut st = previous.get(&id).cloned().unwrap_or_default();
        match result {
            Ok(reply) => {
                // Compare the peer's clock with ours at the middle of the round trip.
                let skew = reply.clock_ms - (sent + now) / 2;
                st.joined = true;
                st.replayed_journal_id = reply.replayed_journal_id;
                st.query_port = reply.query_port as u16;
                st.rpc_port = reply.rpc_port as u16;
                st.http_port = reply.http_port as u16;
                st.start_time_ms = reply.start_time_ms;
                st.version = reply.version;
                if skew.abs() > max_skew {
                    st.alive = false;
                    st.failures = retry_times + 1;
                    st.err_msg = format!(
                        "clock skew: this frontend's clock differs from the leader's by {skew} ms, \
                         more than max_bdbje_clock_delta_ms ({max_skew} ms)"
                    );
                } else {
                    st.alive = true;
                    st.failures = 0;
                    st.err_msg = String::new();
                    st.last_heartbeat_ms = now;
                }
            }
            Err(msg) => {
                if st.failures >= retry_times {
                    st.alive = false;
                    st.err_msg = msg;
                }
                st.failures = st.failures.saturating_add(1);
            }
        }
        statuses.insert(id, st);
    }
    let c = &fe.file_config;
    statuses.insert(
        fe.node_id,
        FrontendStatus {
            alive: true,
            joined: true,
            last_heartbeat_ms: now,
            replayed_journal_id: fe.journal.applied_index(),
            query_port: c.query_port as u16,
            rpc_port: c.rpc_port as u16,
            http_port: c.http_port as u16,
            start_time_ms: fe.start_time_ms,
            version: Frontend::version(),
            err_msg: String::new(),
            failures: 0,
        },
    );
    fe.local_heartbeats.set(statuses.clone());
    let backends: Vec<Backend> = fe
        .journal
        .state
        .read(|s| s.catalog.backends.values().cloned().collect());
    let be_calls = backends.iter().map(|be| async move {
        let mut st = crate::backend::heartbeat_backend(fe, be, timeout, retry_times).await;
        if let Some(t) = fe.reports.last_report_ms(be.id) {
            st.last_report_ms = st.last_report_ms.max(t);
        }
        (be.id, st)
    });
    let be_statuses: Vec<(i64, meta::catalog::backend::BackendStatus)> =
        futures::future::join_all(be_calls).await;
    fe.local_heartbeats
        .set_backends(be_statuses.iter().cloned().collect());
    let op = JournalOp::Heartbeats {
        time_ms: common::clock::now_ms(),
        frontends: statuses.into_iter().collect(),
        backends: be_statuses,
    };
    if let Err(e) = fe.journal.write(op, fe.write_timeout()).await {
        tracing::debug!(%e, "could not journal the heartbeat round");
    }
}

async fn send_heartbeat(
    fe: &Frontend,
    id: NodeId,
    addr: &str,
    timeout: Duration,
) -> Result<proto::HeartbeatReply, String> {
    let channel = fe.journal.pool.channel(addr)?;
    let mut client = MetaServiceClient::new(channel);
    let req = fe.journal.pool.request(
        proto::HeartbeatRequest {
            cluster_id: fe.cluster_id,
            target_node_id: id,
            leader_clock_ms: common::clock::now_ms(),
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
        Ok(Err(status)) => Err(format!("{}: {}", addr, status.message())),
        Err(_) => Err(format!(
            "{addr}: heartbeat timed out after {} ms",
            timeout.as_millis()
        )),
    }
}

/// Erases recycled tables whose time in the recycle bin is over: journal first, then drop the
/// replicas on their backends (reports clean up any a dead backend still holds).
async fn erase_expired_tables(fe: &Arc<Frontend>) {
    let expire_ms = fe.config().catalog_trash_expire_second.max(0) * 1000;
    let now = common::clock::now_ms();
    let expired: Vec<(i64, Vec<ReplicaLocation>)> = fe.journal.state.read(|s| {
        s.catalog
            .recycle_bin
            .iter()
            .filter(|r| now - r.drop_time_ms >= expire_ms)
            .map(|r| (r.table.id, replicas_of(&r.table)))
            .collect()
    });
    for (table_id, replicas) in expired {
        match fe
            .journal
            .write(
                JournalOp::EraseRecycledTable { table_id },
                fe.write_timeout(),
            )
            .await
        {
            Ok(_) => crate::backend::drop_replicas(fe, replicas).await,
            Err(e) => tracing::warn!(table_id, %e, "could not erase a recycled table"),
        }
    }
}

/// (tablet id, replica id, backend id).
pub type ReplicaLocation = (i64, i64, i64);

/// Where every replica of a table is.
pub fn replicas_of(t: &meta::catalog::table::Table) -> Vec<ReplicaLocation> {
    t.tablets()
        .flat_map(|(_, tablet)| {
            tablet
                .replicas
                .iter()
                .map(move |r| (tablet.id, r.id, r.backend_id))
        })
        .collect()
}

/// A decommissioned backend that holds no replica any more is removed.
async fn drop_drained_backends(fe: &Arc<Frontend>) {
    if !fe.config().drop_backend_after_decommission {
        return;
    }
    let drained: Vec<i64> = fe.journal.state.read(|s| {
        let counts = s.catalog.replica_counts();
        s.catalog
            .backends
            .values()
            .filter(|b| b.decommissioned && counts.get(&b.id).copied().unwrap_or(0) == 0)
            .map(|b| b.id)
            .collect()
    });
    for id in drained {
        match fe
            .journal
            .write(JournalOp::DropBackend { id }, fe.write_timeout())
            .await
        {
            Ok(_) => tracing::info!(
                backend = id,
                "decommissioned backend holds no replica; dropped it"
            ),
            Err(e) => tracing::warn!(backend = id, %e, "could not drop a drained backend"),
        }
    }
}
