//! Fast crash failover: followers notice at once that the leader's process is gone.
//!
//! Raft alone detects a dead leader only when heartbeats stop for an election timeout (1-2 s).
//! A crashed process, though, closes its sockets at once. Every voter keeps a `WatchLeader`
//! stream open to the leader; when it breaks, the voter probes the leader's port: a refused
//! connection means the process is gone (a hung or partitioned leader still holds its port, and
//! is left to the normal timeouts). The voter then starts an election, after a delay by rank
//! so that two survivors do not split the vote, and peers grant it without waiting out the
//! leader lease (see [`crate::raft_service`]). A paused leader (SIGSTOP) keeps its socket, so it
//! is never mistaken for a dead one.

use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use openraft::ServerState;
use openraft::async_runtime::WatchReceiver;
use proto::meta_service_client::MetaServiceClient;
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::journal::Raft;
use crate::rpc::ChannelPool;
use crate::types::NodeId;

/// Delay between two voters' election attempts, by rank.
const RANK_DELAY: Duration = Duration::from_millis(120);
/// How long a probe connect may take; a dead local port refuses in microseconds.
const PROBE_TIMEOUT: Duration = Duration::from_millis(250);

type MetricsRx = openraft::alias::WatchReceiverOf<
    crate::types::TypeConfig,
    openraft::RaftMetrics<crate::types::TypeConfig>,
>;

/// What this node knows about a dead leader.
#[derive(Default)]
pub struct FailoverState {
    dead_leader: Mutex<Option<NodeId>>,
}

/// Outcome of a connect probe.
#[derive(Debug, PartialEq, Eq)]
pub enum Probe {
    /// Something accepts connections on the port.
    Alive,
    /// The connection was refused: no process listens there.
    Refused,
    /// No answer in time: a partition or a hung machine; leave it to raft's timeouts.
    Unknown,
}

/// Probes a TCP address.
pub async fn probe(addr: &str) -> Probe {
    match tokio::time::timeout(PROBE_TIMEOUT, TcpStream::connect(addr)).await {
        Ok(Ok(_)) => Probe::Alive,
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => Probe::Refused,
        _ => Probe::Unknown,
    }
}

fn leader_of(raft: &Raft) -> (Option<NodeId>, Option<String>, NodeId) {
    let m = raft.metrics();
    let m = m.borrow_watched();
    let leader = m.current_leader;
    let addr = leader.and_then(|l| {
        m.membership_config
            .membership()
            .get_node(&l)
            .map(|n| n.addr())
    });
    (leader, addr, m.id)
}

impl FailoverState {
    /// Whether this node's current leader is known (or now probed) to be dead.
    pub async fn leader_is_dead(&self, raft: &Raft) -> bool {
        let (leader, addr, me) = leader_of(raft);
        let Some(leader) = leader else { return false };
        if leader == me {
            return false;
        }
        if *self.lock() == Some(leader) {
            return true;
        }
        let Some(addr) = addr else { return false };
        if probe(&addr).await == Probe::Refused {
            *self.lock() = Some(leader);
            return true;
        }
        false
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<NodeId>> {
        self.dead_leader
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Watches the leader from a voter and starts an election when its process dies.
pub async fn run_leader_watch(
    raft: Raft,
    pool: ChannelPool,
    state: Arc<FailoverState>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut metrics = raft.metrics();
    loop {
        if *shutdown.borrow() {
            return;
        }
        let (leader, addr, me, is_voter, is_leader) = {
            let m = metrics.borrow_and_update();
            let leader = m.current_leader;
            let addr = leader.and_then(|l| {
                m.membership_config
                    .membership()
                    .get_node(&l)
                    .map(|n| n.addr())
            });
            let is_voter = m
                .membership_config
                .membership()
                .voter_ids()
                .any(|id| id == m.id);
            (leader, addr, m.id, is_voter, m.state == ServerState::Leader)
        };
        let (Some(leader), Some(addr)) = (leader, addr) else {
            wait_change(&mut metrics, &mut shutdown).await;
            continue;
        };
        if is_leader || leader == me || !is_voter {
            wait_change(&mut metrics, &mut shutdown).await;
            continue;
        }
        // A new leader is known: forget an older dead one.
        {
            let mut dead = state.lock();
            if dead.is_some_and(|d| d != leader) {
                *dead = None;
            }
        }
        watch_until_broken(&pool, &addr, me, &mut shutdown).await;
        if *shutdown.borrow() {
            return;
        }
        let still_same = raft.metrics().borrow_watched().current_leader == Some(leader);
        if !still_same {
            continue;
        }
        match probe(&addr).await {
            Probe::Refused => {
                *state.lock() = Some(leader);
                let rank = {
                    let m = raft.metrics();
                    let m = m.borrow_watched();
                    m.membership_config
                        .membership()
                        .voter_ids()
                        .filter(|id| *id != leader && *id < me)
                        .count() as u32
                };
                tracing::info!(
                    leader,
                    rank,
                    "the leader's process is gone; starting an election"
                );
                tokio::time::sleep(RANK_DELAY * rank).await;
                let m = raft.metrics().borrow_watched().clone();
                if m.current_leader == Some(leader)
                    && m.state != ServerState::Leader
                    && let Err(e) = raft.trigger().elect(false).await
                {
                    tracing::warn!(%e, "could not start an election");
                }
                // Let the election run before watching again.
                let _ = tokio::time::timeout(Duration::from_secs(2), async {
                    loop {
                        if metrics.changed().await.is_err() {
                            return;
                        }
                        if metrics.borrow_watched().current_leader != Some(leader) {
                            return;
                        }
                    }
                })
                .await;
            }
            Probe::Alive | Probe::Unknown => {
                // The stream broke but the leader may live; do not spin.
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn wait_change(metrics: &mut MetricsRx, shutdown: &mut watch::Receiver<bool>) {
    tokio::select! {
        _ = metrics.changed() => {}
        _ = shutdown.changed() => {}
        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
    }
}

async fn watch_until_broken(
    pool: &ChannelPool,
    addr: &str,
    me: NodeId,
    shutdown: &mut watch::Receiver<bool>,
) {
    let Ok(channel) = pool.channel(addr) else {
        tokio::time::sleep(Duration::from_millis(200)).await;
        return;
    };
    let mut client = MetaServiceClient::new(channel);
    let mut req = tonic::Request::new(proto::WatchLeaderRequest {
        follower_node_id: me,
    });
    pool.stamp(&mut req);
    let stream = tokio::select! {
        r = client.watch_leader(req) => r,
        _ = shutdown.changed() => return,
    };
    let Ok(stream) = stream else { return };
    let mut stream = stream.into_inner();
    loop {
        tokio::select! {
            msg = stream.message() => match msg {
                Ok(Some(_)) => continue,
                _ => return,
            },
            _ = shutdown.changed() => return,
        }
    }
}

/// The leader's side of the watch: a stream that ticks while this node leads.
pub fn leader_watch_stream(
    raft: Raft,
) -> impl futures::Stream<Item = Result<proto::WatchLeaderEvent, tonic::Status>> + Send {
    futures::stream::unfold((raft, true), |(raft, first)| async move {
        if !first {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let (state, term, id) = {
            let m = raft.metrics();
            let m = m.borrow_watched();
            (m.state, m.current_term, m.id)
        };
        if state != ServerState::Leader {
            if first {
                let status = tonic::Status::failed_precondition("not the leader");
                return Some((Err(status), (raft, false)));
            }
            return None;
        }
        Some((
            Ok(proto::WatchLeaderEvent {
                leader_node_id: id,
                term,
            }),
            (raft, false),
        ))
    })
}
