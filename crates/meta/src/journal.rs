//! The journal: a raft group of frontends replicating [`JournalOp`]s.
//!
//! ```text
//!   leader FE                                   follower / observer FE
//!   ─────────                                   ──────────────────────
//!   write(op) ─► raft.client_write ─► redb append (fsync)
//!                  │                     │
//!                  └── AppendEntries ───►│ redb append (fsync) ─► ack
//!   committed on a majority of followers ◄┘
//!   apply to Catalog ─► journal id returned     apply to Catalog (replay)
//! ```
//!
//! The journal id a write returns is its raft log index, dense and increasing (StarRocks's
//! journal id, the seed's LSN). Followers are raft voters, observers are raft learners.

use std::collections::BTreeMap;
use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use common::Error;
use common::Result;
use common::StatusCode;
use openraft::Config;
use openraft::ReadPolicy;
use openraft::ServerState;
use openraft::SnapshotPolicy;
use openraft::async_runtime::WatchReceiver;
use openraft::errors::ClientWriteError;
use openraft::errors::RaftError;
use proto::raft_service_server::RaftServiceServer;
use tokio::sync::watch;

use crate::failover::FailoverState;
use crate::journal_op::JournalOp;
use crate::log_store::LogStore;
use crate::network::Network;
use crate::raft_service::RaftServiceImpl;
use crate::rpc::ChannelPool;
use crate::rpc::MAX_MESSAGE_BYTES;
use crate::state_machine::StateMachineStore;
use crate::types::FeNode;
use crate::types::NodeId;
use crate::types::TypeConfig;

/// The raft handle type.
pub type Raft = openraft::Raft<TypeConfig, StateMachineStore>;

/// How the journal is tuned.
#[derive(Clone, Debug)]
pub struct JournalConfig {
    /// This node's id.
    pub node_id: NodeId,
    /// This cluster's id (carried by every RPC).
    pub cluster_id: i32,
    /// `<meta_dir>`.
    pub meta_dir: PathBuf,
    /// Raft heartbeat interval.
    pub heartbeat_interval_ms: u64,
    /// Election timeout (randomized between this and twice this).
    pub election_timeout_ms: u64,
    /// A checkpoint image every this many entries.
    pub checkpoint_every: u64,
}

/// A running journal member.
#[derive(Clone)]
pub struct Journal {
    /// The raft handle.
    pub raft: Raft,
    /// The applied state.
    pub state: StateMachineStore,
    /// Connections to the other frontends.
    pub pool: ChannelPool,
    /// This node's id.
    pub node_id: NodeId,
    /// This cluster's id.
    pub cluster_id: i32,
    failover: Arc<FailoverState>,
    config: Arc<JournalConfig>,
}

/// Where the journal's files live inside `meta_dir`.
pub fn journal_dir(meta_dir: &Path) -> PathBuf {
    meta_dir.join("journal")
}

/// Where checkpoint images live inside `meta_dir`.
pub fn image_dir(meta_dir: &Path) -> PathBuf {
    meta_dir.join("image")
}

fn fatal(e: impl std::fmt::Display) -> Error {
    Error::new(
        StatusCode::Internal,
        format!("the journal has stopped: {e}; restart this frontend"),
    )
}

impl Journal {
    /// Opens the local journal files and starts raft (not yet serving RPCs).
    pub async fn open(config: JournalConfig, pool: ChannelPool) -> Result<Journal> {
        let jdir = journal_dir(&config.meta_dir);
        std::fs::create_dir_all(&jdir)
            .map_err(|e| Error::io(format!("create {}", jdir.display()), e))?;
        let log_path = jdir.join("journal.redb");
        let log_store = LogStore::open(&log_path).map_err(|e| {
            Error::new(
                StatusCode::MetaCorrupted,
                format!(
                    "cannot open the journal {}: {e}. {}",
                    log_path.display(),
                    crate::meta_dir::recovery_instructions(&config.meta_dir)
                ),
            )
        })?;
        let state = StateMachineStore::open(image_dir(&config.meta_dir)).map_err(|e| {
            if e.code == StatusCode::MetaCorrupted {
                Error::new(
                    e.code,
                    format!(
                        "{}. {}",
                        e.message,
                        crate::meta_dir::recovery_instructions(&config.meta_dir)
                    ),
                )
            } else {
                e
            }
        })?;
        let election = config.election_timeout_ms;
        let raft_config = Config {
            cluster_name: "tessera".to_string(),
            heartbeat_interval: config.heartbeat_interval_ms,
            election_timeout_min: election,
            election_timeout_max: election * 2,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(config.checkpoint_every),
            // Keep some entries after a checkpoint so a briefly lagging node catches up from
            // the log rather than a whole image.
            max_in_snapshot_log_to_keep: 1000.min(config.checkpoint_every),
            replication_lag_threshold: config.checkpoint_every,
            install_snapshot_timeout: 60_000,
            enable_pre_vote: Some(true),
            // The log store's append returns when the entries are queued, before its fsync:
            // replicate them right away so the leader's and the followers' fsyncs overlap.
            broadcast_submitted_on_append: Some(true),
            ..Default::default()
        }
        .validate()
        .map_err(|e| Error::invalid(format!("raft settings: {e}")))?;
        let raft = Raft::new(
            config.node_id,
            Arc::new(raft_config),
            Network::new(pool.clone()),
            log_store,
            state.clone(),
        )
        .await
        .map_err(fatal)?;
        Ok(Journal {
            raft,
            state,
            pool,
            node_id: config.node_id,
            cluster_id: config.cluster_id,
            failover: Arc::new(FailoverState::default()),
            config: Arc::new(config),
        })
    }

    /// Makes this node the first member of a new cluster (first start of the first FE).
    pub async fn bootstrap(&self, node: FeNode) -> Result<()> {
        let mut members = BTreeMap::new();
        members.insert(self.node_id, node);
        match self.raft.initialize(members).await {
            Ok(()) => {}
            Err(RaftError::APIError(e)) => {
                // Already initialized (a restart between bootstrap and writing ROLE): fine.
                tracing::info!(%e, "journal already initialized");
            }
            Err(e) => return Err(fatal(e)),
        }
        // Until this node leads and has committed its first entry, the initial membership is
        // not committed and a membership change (ALTER SYSTEM ADD FOLLOWER right after the
        // first start) would be refused as "already undergoing a configuration change".
        let me = self.node_id;
        let committed = self
            .raft
            .wait(Some(Duration::from_secs(30)))
            .metrics(
                |m| {
                    m.state == ServerState::Leader
                        && m.current_leader == Some(me)
                        && m.last_applied.as_ref().is_some_and(|l| l.index >= 1)
                },
                "the new cluster's first entry is committed",
            )
            .await;
        if let Err(e) = committed {
            tracing::warn!(%e, "the new cluster's leader is not ready yet");
        }
        Ok(())
    }

    /// The gRPC service that receives raft traffic for this node.
    pub fn raft_service(&self) -> RaftServiceServer<RaftServiceImpl> {
        RaftServiceServer::new(RaftServiceImpl::new(
            self.raft.clone(),
            self.node_id,
            self.cluster_id,
            self.failover.clone(),
        ))
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES)
    }

    /// Starts the background task that notices a crashed leader at once.
    pub fn spawn_failover_watch(&self, shutdown: watch::Receiver<bool>) {
        tokio::spawn(crate::failover::run_leader_watch(
            self.raft.clone(),
            self.pool.clone(),
            self.failover.clone(),
            shutdown,
        ));
    }

    /// Starts the background task that logs every change of this node's raft role, one line
    /// per change: `raft role: LEADER term=T` (the fault-injection suite checks from these
    /// lines that no two frontends led the same term).
    pub fn spawn_role_log(&self, mut shutdown: watch::Receiver<bool>) {
        let mut metrics = self.raft.metrics();
        let node_id = self.node_id;
        tokio::spawn(async move {
            let mut last: Option<(ServerState, u64)> = None;
            loop {
                let now = {
                    let m = metrics.borrow_watched();
                    (m.state, m.current_term)
                };
                // Only role changes, and a leader's new term, are worth a line.
                let changed = match last {
                    None => true,
                    Some((state, term)) => {
                        state != now.0 || (now.0 == ServerState::Leader && term != now.1)
                    }
                };
                if changed {
                    let role = match now.0 {
                        ServerState::Leader => "LEADER",
                        ServerState::Candidate => "CANDIDATE",
                        ServerState::Follower => "FOLLOWER",
                        ServerState::Learner => "LEARNER",
                        ServerState::Shutdown => "SHUTDOWN",
                    };
                    tracing::info!(node_id, "raft role: {role} term={}", now.1);
                    last = Some(now);
                }
                tokio::select! {
                    r = metrics.changed() => if r.is_err() { return },
                    _ = shutdown.changed() => return,
                }
            }
        });
    }

    /// Whether this node is the leader now.
    pub fn is_leader(&self) -> bool {
        self.raft.metrics().borrow_watched().state == ServerState::Leader
    }

    /// The current leader and its node record, if one is known.
    pub fn leader(&self) -> Option<(NodeId, FeNode)> {
        let m = self.raft.metrics();
        let m = m.borrow_watched();
        let id = m.current_leader?;
        // After a restart a former leader still holds its own old vote: it is not the leader
        // until it wins a new election.
        if id == m.id && m.state != ServerState::Leader {
            return None;
        }
        let node = m.membership_config.membership().get_node(&id)?.clone();
        Some((id, node))
    }

    /// The current term.
    pub fn term(&self) -> u64 {
        self.raft.metrics().borrow_watched().current_term
    }

    /// The last journal id applied locally.
    pub fn applied_index(&self) -> u64 {
        self.state.applied_index()
    }

    /// Whether this node can reach a working leader, for health checks: `OK`; `NO_QUORUM` on a
    /// leader that has not heard from a quorum of followers lately (it cannot commit anything);
    /// `NO_LEADER` when no leader is known or the known leader's process is gone (its port
    /// refuses connections). A leader cut off by a partition, whose port does not answer at
    /// all, still counts until raft's election timeouts replace it.
    pub async fn leader_status(&self) -> &'static str {
        if self.is_leader() {
            return match self.check_quorum_recent() {
                Ok(()) => "OK",
                Err(_) => "NO_QUORUM",
            };
        }
        if self.leader().is_none() || self.failover.leader_is_dead(&self.raft).await {
            return "NO_LEADER";
        }
        "OK"
    }

    /// On the leader: the highest journal index `node` acknowledged holding (`None` when this
    /// node is not the leader or `node` never acknowledged an entry). A node that acknowledged
    /// entries and now asks to join with an empty meta_dir lost its journal: raft must not
    /// see its log go backwards under the same node id.
    pub fn matched_index(&self, node: NodeId) -> Option<u64> {
        let m = self.raft.metrics();
        let m = m.borrow_watched();
        let matched = m.replication.as_ref()?.get(&node)?.as_ref()?;
        Some(matched.index)
    }

    /// Journal entries this node has not applied yet: the highest log index it knows of (its
    /// own log, or the commit index the leader last reported) minus its applied journal id;
    /// 0 on the leader, whose own entries are the newest.
    pub fn replay_lag(&self) -> u64 {
        let m = self.raft.metrics();
        let m = m.borrow_watched();
        if m.state == ServerState::Leader {
            return 0;
        }
        let known = m
            .last_log_index
            .unwrap_or(0)
            .max(m.cluster_committed.as_ref().map_or(0, |l| l.index()));
        known.saturating_sub(self.applied_index())
    }

    /// Starts a task that calls `on_change` each time this node sees a leader it had not
    /// seen in that term (the first leader after start included): once per election it
    /// observes.
    pub fn spawn_leader_change_watch(
        &self,
        mut shutdown: watch::Receiver<bool>,
        on_change: impl Fn() + Send + 'static,
    ) {
        let mut metrics = self.raft.metrics();
        tokio::spawn(async move {
            let mut last: Option<(NodeId, u64)> = None;
            loop {
                let now = {
                    let m = metrics.borrow_watched();
                    // A restarted former leader holds its own old vote: not a leader yet.
                    m.current_leader
                        .filter(|&l| l != m.id || m.state == ServerState::Leader)
                        .map(|l| (l, m.current_term))
                };
                if let Some(now) = now
                    && last != Some(now)
                {
                    last = Some(now);
                    on_change();
                }
                tokio::select! {
                    r = metrics.changed() => if r.is_err() { return },
                    _ = shutdown.changed() => return,
                }
            }
        });
    }

    /// Appends an op through raft (leader only) and returns (journal id, rows affected).
    ///
    /// Fails fast when the leader has not heard from a quorum of followers recently, instead of
    /// hanging until the timeout; `timeout` bounds the wait for the quorum's acknowledgement.
    pub async fn write(&self, op: JournalOp, timeout: Duration) -> Result<(u64, u64)> {
        self.check_quorum_recent()?;
        let fut = self.raft.client_write(op);
        let res = match tokio::time::timeout(timeout, fut).await {
            Ok(r) => r,
            Err(_) => {
                return Err(Error::new(
                    StatusCode::Timeout,
                    format!(
                        "the journal write was not acknowledged by a quorum of followers within \
                         {} s; it may still take effect (check before retrying)",
                        timeout.as_secs()
                    ),
                ));
            }
        };
        match res {
            Ok(resp) => {
                let index = resp.log_id.index;
                resp.data.0.map(|n| (index, n))
            }
            Err(e) => Err(self.write_error(e)),
        }
    }

    fn check_quorum_recent(&self) -> Result<()> {
        let m = self.raft.metrics();
        let m = m.borrow_watched();
        if m.state != ServerState::Leader {
            return Err(Error::new(
                StatusCode::NotLeader,
                "this frontend is no longer the leader; retry the statement",
            ));
        }
        // A lone voter is its own quorum: there is nothing to hear from.
        let only_me = m
            .membership_config
            .membership()
            .voter_ids()
            .all(|v| v == self.node_id);
        if only_me {
            return Ok(());
        }
        let limit = self.config.election_timeout_ms * 2;
        let age = m
            .last_quorum_acked
            .as_ref()
            .map(|t| openraft::Instant::elapsed(&**t).as_millis() as u64);
        if let Some(age) = age
            && age > limit
        {
            let voters: Vec<NodeId> = m.membership_config.membership().voter_ids().collect();
            return Err(Error::new(
                StatusCode::QuorumUnavailable,
                format!(
                    "the leader has not heard from a quorum of the {} followers for {age} ms; \
                     writes need a majority of followers alive (observers do not vote)",
                    voters.len()
                ),
            ));
        }
        Ok(())
    }

    fn write_error(&self, e: RaftError<TypeConfig, ClientWriteError<TypeConfig>>) -> Error {
        match e {
            RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => Error::new(
                StatusCode::NotLeader,
                match f.leader_node {
                    Some(n) => format!(
                        "this frontend is not the leader; the leader is {}",
                        n.addr()
                    ),
                    None => "this frontend is not the leader and no leader is known".to_string(),
                },
            ),
            RaftError::APIError(ClientWriteError::ChangeMembershipError(m)) => {
                Error::new(StatusCode::MembershipChangeRefused, m.to_string())
            }
            RaftError::APIError(other) => Error::new(StatusCode::Internal, other.to_string()),
            RaftError::Fatal(f) => fatal(f),
        }
    }

    /// Waits until the local applied journal id reaches `index`.
    pub async fn wait_applied(&self, index: u64, timeout: Duration) -> Result<()> {
        let mut rx = self.state.subscribe_applied();
        let wait = async {
            loop {
                if *rx.borrow_and_update() >= index {
                    return true;
                }
                if rx.changed().await.is_err() {
                    return false;
                }
            }
        };
        match tokio::time::timeout(timeout, wait).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(fatal("the state machine stopped")),
            Err(_) => Err(Error::new(
                StatusCode::Timeout,
                format!(
                    "this frontend has replayed the journal up to {} but the session needs {index}; \
                     timed out after {} ms waiting for it (is it cut off from the leader?)",
                    self.applied_index(),
                    timeout.as_millis()
                ),
            )),
        }
    }

    /// The leader's read index: a journal id that covers every write acknowledged before now.
    pub async fn read_index(&self) -> Result<u64> {
        self.check_quorum_recent()?;
        match self.raft.ensure_linearizable(ReadPolicy::ReadIndex).await {
            Ok(read) => Ok(read.index()),
            Err(RaftError::APIError(e)) => Err(Error::new(StatusCode::NotLeader, e.to_string())),
            Err(RaftError::Fatal(f)) => Err(fatal(f)),
        }
    }

    /// Membership changes (ADD/DROP FOLLOWER/OBSERVER) map to raft membership changes.
    pub async fn change_membership(
        &self,
        change: openraft::ChangeMembers<NodeId, FeNode>,
        timeout: Duration,
    ) -> Result<u64> {
        self.check_quorum_recent()?;
        let fut = self.raft.change_membership(change, false);
        match tokio::time::timeout(timeout, fut).await {
            Ok(Ok(resp)) => Ok(resp.log_id.index),
            Ok(Err(e)) => Err(self.write_error(e)),
            Err(_) => Err(Error::new(
                StatusCode::Timeout,
                "the membership change was not acknowledged by a quorum in time; it may still \
                 take effect (check SHOW FRONTENDS before retrying)",
            )),
        }
    }

    /// Adds a learner (an observer, or a follower that has not caught up yet).
    pub async fn add_learner(&self, id: NodeId, node: FeNode, timeout: Duration) -> Result<u64> {
        self.check_quorum_recent()?;
        let fut = self.raft.add_learner(id, node, false);
        match tokio::time::timeout(timeout, fut).await {
            Ok(Ok(resp)) => Ok(resp.log_id.index),
            Ok(Err(e)) => Err(self.write_error(e)),
            Err(_) => Err(Error::new(
                StatusCode::Timeout,
                "adding the frontend was not acknowledged by a quorum in time; it may still \
                 take effect (check SHOW FRONTENDS before retrying)",
            )),
        }
    }

    /// Stops raft.
    pub async fn shutdown(&self) {
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!(%e, "raft shutdown");
        }
    }

    /// The leader's watch stream (server side of `WatchLeader`).
    pub fn leader_watch_stream(
        &self,
    ) -> impl futures::Stream<Item = std::result::Result<proto::WatchLeaderEvent, tonic::Status>>
    + Send
    + use<> {
        crate::failover::leader_watch_stream(self.raft.clone())
    }
}
