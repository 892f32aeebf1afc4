//! `ALTER SYSTEM ADD|DROP FOLLOWER|OBSERVER` and `SHOW FRONTENDS` / `SHOW PROC '/frontends'`.
//!
//! Raft's membership is the list of frontends. An added FOLLOWER enters as a raft learner and
//! is promoted to voter by the leader once it has caught up (see [`crate::leader`]), so adding a
//! follower that has not even started never costs the cluster its quorum. Drops that would
//! leave the followers without a live majority are refused.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::sync::Arc;

use common::Error;
use common::Result;
use common::StatusCode;
use common::net::HostPort;
use meta::FeNode;
use meta::FrontendRole;
use meta::NodeId;
use openraft::ChangeMembers;
use sql::statements::system::AlterSystemOp;

use crate::frontend::Frontend;
use crate::outcome::Cell;
use crate::outcome::ColType;
use crate::outcome::Outcome;
use crate::outcome::RowSet;
use crate::session::Session;

/// Runs an `ALTER SYSTEM` statement (on the leader).
pub async fn alter_system(
    fe: &Arc<Frontend>,
    session: &mut Session,
    op: AlterSystemOp,
) -> Result<Outcome> {
    match op {
        AlterSystemOp::AddFollower(hosts) => add(fe, session, &hosts, FrontendRole::Follower).await,
        AlterSystemOp::AddObserver(hosts) => add(fe, session, &hosts, FrontendRole::Observer).await,
        AlterSystemOp::DropFollower(hosts) => {
            drop(fe, session, &hosts, FrontendRole::Follower).await
        }
        AlterSystemOp::DropObserver(hosts) => {
            drop(fe, session, &hosts, FrontendRole::Observer).await
        }
        AlterSystemOp::CreateImage => {
            fe.journal
                .raft
                .trigger()
                .snapshot()
                .await
                .map_err(|e| Error::internal(format!("trigger checkpoint: {e}")))?;
            Ok(Outcome::ok(0))
        }
        other => Err(Error::new(
            StatusCode::Unsupported,
            format!(
                "'ALTER SYSTEM {}' is not supported by this version of Tessera",
                alter_kind(&other)
            ),
        )),
    }
}

fn alter_kind(op: &AlterSystemOp) -> String {
    let s = sql::Statement::AlterSystem(op.clone()).to_string();
    s.split_whitespace()
        .skip(2)
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

fn members(fe: &Frontend) -> (BTreeMap<NodeId, FeNode>, BTreeSet<NodeId>) {
    let m = fe.journal.raft.metrics();
    let m = openraft::async_runtime::WatchReceiver::borrow_watched(&m);
    let membership = m.membership_config.membership();
    let nodes = membership.nodes().map(|(id, n)| (*id, n.clone())).collect();
    let voters = membership.voter_ids().collect();
    (nodes, voters)
}

fn parse_hosts(hosts: &[String]) -> Result<Vec<HostPort>> {
    if hosts.is_empty() {
        return Err(Error::invalid(
            "no frontend given: expected \"host:edit_log_port\"",
        ));
    }
    let mut out: Vec<HostPort> = Vec::new();
    for h in hosts {
        let hp = HostPort::parse(h)?;
        if out.contains(&hp) {
            return Err(Error::invalid(format!("frontend {hp} is listed twice")));
        }
        out.push(hp);
    }
    Ok(out)
}

async fn add(
    fe: &Arc<Frontend>,
    session: &mut Session,
    hosts: &[String],
    role: FrontendRole,
) -> Result<Outcome> {
    let hosts = parse_hosts(hosts)?;
    let _guard = fe.membership_lock.lock().await;
    let mut added = 0;
    for hp in hosts {
        let (nodes, _) = members(fe);
        if let Some((_, n)) = nodes
            .iter()
            .find(|(_, n)| n.host == hp.host && n.edit_log_port == hp.port)
        {
            return Err(Error::new(
                StatusCode::NodeAlreadyExists,
                format!("frontend already exists[{hp}] as {}", n.role),
            ));
        }
        if nodes.values().any(|n| n.host == hp.host) {
            return Err(Error::new(
                StatusCode::NodeAlreadyExists,
                format!(
                    "FE with the same host: {} already exists (one frontend per host)",
                    hp.host
                ),
            ));
        }
        let max_known = fe.journal.state.read(|s| s.catalog.max_node_id);
        let id = nodes.keys().copied().max().unwrap_or(0).max(max_known) + 1;
        let name = format!("{}_{}_{}", hp.host, hp.port, common::clock::now_ms());
        let removed = fe
            .journal
            .state
            .read(|s| s.catalog.removed_frontends.contains(&name));
        if removed {
            return Err(Error::new(
                StatusCode::NodeAlreadyExists,
                format!("frontend name already exists {name}. Try again"),
            ));
        }
        let node = FeNode {
            host: hp.host.clone(),
            edit_log_port: hp.port,
            name,
            role,
        };
        let journal_id = fe.journal.add_learner(id, node, fe.write_timeout()).await?;
        session.last_journal_id = session.last_journal_id.max(journal_id);
        tracing::info!(node_id = id, %hp, %role, "added frontend");
        added += 1;
    }
    Ok(Outcome::ok(added))
}

async fn drop(
    fe: &Arc<Frontend>,
    session: &mut Session,
    hosts: &[String],
    role: FrontendRole,
) -> Result<Outcome> {
    let hosts = parse_hosts(hosts)?;
    let _guard = fe.membership_lock.lock().await;
    let mut dropped = 0;
    for hp in hosts {
        let (nodes, voters) = members(fe);
        let Some((&id, node)) = nodes
            .iter()
            .find(|(_, n)| n.host == hp.host && n.edit_log_port == hp.port)
        else {
            return Err(Error::new(
                StatusCode::NodeNotFound,
                format!("frontend does not exist[{hp}]"),
            ));
        };
        if node.role != role {
            return Err(Error::new(
                StatusCode::NodeNotFound,
                format!("{role} does not exist[{hp}]; it is an {}", node.role),
            ));
        }
        if id == fe.node_id {
            return Err(Error::new(
                StatusCode::MembershipChangeRefused,
                format!(
                    "can not drop current leader node {hp}; stop or restart it so that another \
                     follower becomes the leader, then drop it from there"
                ),
            ));
        }
        let change = if voters.contains(&id) {
            let remaining: Vec<NodeId> = voters.iter().copied().filter(|v| *v != id).collect();
            let alive = fe.journal.state.read(|s| {
                remaining
                    .iter()
                    .filter(|v| {
                        **v == fe.node_id || s.catalog.frontends.get(v).is_some_and(|st| st.alive)
                    })
                    .count()
            });
            let quorum = remaining.len() / 2 + 1;
            if alive < quorum {
                return Err(Error::new(
                    StatusCode::MembershipChangeRefused,
                    format!(
                        "dropping {hp} would leave {} followers of which only {alive} are alive; a \
                         quorum needs {quorum}. Bring the dead followers back (or drop them first)",
                        remaining.len()
                    ),
                ));
            }
            ChangeMembers::RemoveVoters(BTreeSet::from([id]))
        } else {
            ChangeMembers::RemoveNodes(BTreeSet::from([id]))
        };
        let journal_id = fe
            .journal
            .change_membership(change, fe.write_timeout())
            .await?;
        session.last_journal_id = session.last_journal_id.max(journal_id);
        tracing::info!(node_id = id, %hp, %role, "dropped frontend");
        dropped += 1;
    }
    Ok(Outcome::ok(dropped))
}

/// The column names of `SHOW FRONTENDS`, in order.
pub const FRONTEND_COLUMNS: &[&str] = &[
    "Name",
    "IP",
    "EditLogPort",
    "HttpPort",
    "QueryPort",
    "RpcPort",
    "Role",
    "IsMaster",
    "ClusterId",
    "Join",
    "Alive",
    "ReplayedJournalId",
    "LastHeartbeat",
    "IsHelper",
    "ErrMsg",
    "StartTime",
    "Version",
];

/// The rows of `SHOW FRONTENDS`, as this FE sees them.
pub fn show_frontends(fe: &Arc<Frontend>) -> RowSet {
    let mut rows = RowSet {
        columns: FRONTEND_COLUMNS
            .iter()
            .map(|c| {
                let t = match *c {
                    "EditLogPort" | "HttpPort" | "QueryPort" | "RpcPort" | "ClusterId" => {
                        ColType::Int
                    }
                    "ReplayedJournalId" => ColType::BigInt,
                    _ => ColType::Varchar,
                };
                (c.to_string(), t)
            })
            .collect(),
        rows: Vec::new(),
    };
    let (nodes, voters) = members(fe);
    let leader = fe.journal.leader().map(|(id, _)| id);
    let config = fe.config();
    let mut statuses = fe.journal.state.read(|s| s.catalog.frontends.clone());
    if leader == Some(fe.node_id) {
        // The leader's latest round is newer than the journal when the journal is stuck.
        statuses.extend(fe.local_heartbeats.get());
    }
    for (id, node) in nodes {
        let local = id == fe.node_id;
        let st = statuses.get(&id).cloned().unwrap_or_default();
        let alive = local || st.alive;
        let (query_port, rpc_port, http_port) = if local {
            (
                config.query_port as i64,
                config.rpc_port as i64,
                config.http_port as i64,
            )
        } else {
            (
                i64::from(st.query_port),
                i64::from(st.rpc_port),
                i64::from(st.http_port),
            )
        };
        let replayed = if local {
            fe.journal.applied_index()
        } else {
            st.replayed_journal_id
        };
        let start = if local {
            fe.start_time_ms
        } else {
            st.start_time_ms
        };
        let version = if local {
            Cell::Text(Frontend::version())
        } else if st.version.is_empty() {
            Cell::Null
        } else {
            Cell::Text(st.version.clone())
        };
        // A follower that has not caught up yet is still a learner: it shows as FOLLOWER
        // (what the operator asked for) but does not vote until the leader promotes it.
        let role = node.role.as_str();
        let last_hb = if local && leader == Some(id) {
            common::clock::now_ms()
        } else {
            st.last_heartbeat_ms
        };
        rows.push(vec![
            node.name.clone().into(),
            node.host.clone().into(),
            Cell::Int(i64::from(node.edit_log_port)),
            Cell::Int(http_port),
            Cell::Int(query_port),
            Cell::Int(rpc_port),
            role.into(),
            (leader == Some(id)).into(),
            Cell::Int(i64::from(fe.cluster_id)),
            (local || st.joined).into(),
            alive.into(),
            Cell::Int(replayed as i64),
            Cell::Text(common::clock::format_ms(last_hb)),
            (node.role == FrontendRole::Follower).into(),
            if st.err_msg.is_empty() && node.role == FrontendRole::Follower && !voters.contains(&id)
            {
                "catching up: not voting until it has replayed the journal".into()
            } else {
                st.err_msg.clone().into()
            },
            if alive && start > 0 {
                Cell::Text(common::clock::format_ms(start))
            } else {
                Cell::Null
            },
            version,
        ]);
    }
    rows
}
