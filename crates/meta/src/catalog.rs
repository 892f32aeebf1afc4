//! The catalog: the in-memory state every FE rebuilds from the journal.
//!
//! It is StarRocks's "image": a checkpoint image is this struct serialized, and replay applies
//! [`JournalOp`]s to it. Frontend *membership* is not here: raft's membership config is the one
//! list of frontends (see [`crate::types::FeNode`]); the catalog keeps what heartbeats learned
//! about each of them.

use std::collections::BTreeMap;

use common::Error;
use common::StatusCode;
use serde::Deserialize;
use serde::Serialize;

use crate::journal_op::JournalOp;
use crate::journal_op::JournalResponse;
use crate::types::Membership;
use crate::types::NodeId;

/// Catalog object ids start here, as in StarRocks.
pub const FIRST_OBJECT_ID: i64 = 10_000;

/// A database.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Database {
    /// Catalog object id.
    pub id: i64,
    /// Name as created (case-sensitive).
    pub name: String,
    /// When it was created.
    pub create_time_ms: i64,
}

/// What the leader's heartbeats know about a frontend.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct FrontendStatus {
    /// Whether it answered recently enough (see `heartbeat_retry_times`).
    pub alive: bool,
    /// Whether it has ever answered: it has joined the group.
    pub joined: bool,
    /// Time of the last successful heartbeat, epoch ms.
    pub last_heartbeat_ms: i64,
    /// The journal id it had replayed at that heartbeat.
    pub replayed_journal_id: u64,
    /// Its query_port, from its heartbeat reply.
    pub query_port: u16,
    /// Its rpc_port.
    pub rpc_port: u16,
    /// Its http_port.
    pub http_port: u16,
    /// When its process started, epoch ms.
    pub start_time_ms: i64,
    /// Its software version.
    pub version: String,
    /// The last heartbeat error, empty when healthy.
    pub err_msg: String,
    /// Consecutive failed heartbeats.
    pub failures: u32,
}

/// The replicated metadata.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    /// The next catalog object id.
    pub next_id: i64,
    /// Databases by name.
    pub databases: BTreeMap<String, Database>,
    /// Heartbeat-derived status of each frontend in the membership.
    pub frontends: BTreeMap<NodeId, FrontendStatus>,
    /// Names of dropped frontends (StarRocks keeps them so a name is never reused).
    pub removed_frontends: Vec<String>,
    /// The largest frontend node id ever used; new ids are larger.
    pub max_node_id: NodeId,
    /// Cluster-wide values of mutable `fe.conf` keys set by `ADMIN SET FRONTEND CONFIG`.
    pub config_overrides: BTreeMap<String, String>,
    /// The leader's clock at the last heartbeat round it journaled.
    pub leader_time_ms: i64,
}

impl Default for Catalog {
    fn default() -> Self {
        Catalog {
            next_id: FIRST_OBJECT_ID,
            databases: BTreeMap::new(),
            frontends: BTreeMap::new(),
            removed_frontends: Vec::new(),
            max_node_id: 0,
            config_overrides: BTreeMap::new(),
            leader_time_ms: 0,
        }
    }
}

impl Catalog {
    /// Applies one op and returns the answer the client gets.
    pub fn apply(&mut self, op: &JournalOp) -> JournalResponse {
        match op {
            JournalOp::CreateDatabase {
                name,
                if_not_exists,
                create_time_ms,
            } => {
                if self.databases.contains_key(name) {
                    if *if_not_exists {
                        return JournalResponse::ok(0);
                    }
                    return JournalResponse(Err(Error::new(
                        StatusCode::DatabaseAlreadyExists,
                        format!("Can't create database '{name}'; database exists"),
                    )));
                }
                let id = self.next_id;
                self.next_id += 1;
                self.databases.insert(
                    name.clone(),
                    Database {
                        id,
                        name: name.clone(),
                        create_time_ms: *create_time_ms,
                    },
                );
                JournalResponse::ok(1)
            }
            JournalOp::DropDatabase { name, if_exists } => {
                if self.databases.remove(name).is_none() {
                    if *if_exists {
                        return JournalResponse::ok(0);
                    }
                    return JournalResponse(Err(Error::new(
                        StatusCode::DatabaseNotFound,
                        format!("Can't drop database '{name}'; database doesn't exist"),
                    )));
                }
                JournalResponse::ok(1)
            }
            JournalOp::SetFrontendConfig { items } => {
                for (k, v) in items {
                    self.config_overrides.insert(k.clone(), v.clone());
                }
                JournalResponse::ok(items.len() as u64)
            }
            JournalOp::FrontendHeartbeats { time_ms, statuses } => {
                for (id, status) in statuses {
                    // Only members have a status: a late round must not resurrect a dropped FE.
                    if let Some(slot) = self.frontends.get_mut(id) {
                        *slot = status.clone();
                    }
                }
                self.leader_time_ms = self.leader_time_ms.max(*time_ms);
                JournalResponse::ok(0)
            }
        }
    }

    /// Follows a membership change: new members get a status, dropped ones are remembered.
    pub fn apply_membership(&mut self, membership: &Membership) {
        let members: BTreeMap<NodeId, String> = membership
            .nodes()
            .map(|(id, node)| (*id, node.name.clone()))
            .collect();
        for (id, name) in &members {
            self.max_node_id = self.max_node_id.max(*id);
            self.frontends.entry(*id).or_default();
            let _ = name;
        }
        let gone: Vec<NodeId> = self
            .frontends
            .keys()
            .filter(|id| !members.contains_key(id))
            .copied()
            .collect();
        for id in gone {
            self.frontends.remove(&id);
        }
    }

    /// Records the name of a frontend that left the membership.
    pub fn remember_removed(&mut self, name: &str) {
        if !name.is_empty() && !self.removed_frontends.iter().any(|n| n == name) {
            self.removed_frontends.push(name.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(name: &str, ine: bool) -> JournalOp {
        JournalOp::CreateDatabase {
            name: name.into(),
            if_not_exists: ine,
            create_time_ms: 1,
        }
    }

    #[test]
    fn create_and_drop_database() {
        let mut c = Catalog::default();
        assert_eq!(c.apply(&create("db1", false)), JournalResponse::ok(1));
        assert_eq!(c.databases["db1"].id, FIRST_OBJECT_ID);
        let err = c.apply(&create("db1", false)).0.expect_err("exists");
        assert_eq!(err.code, StatusCode::DatabaseAlreadyExists);
        assert_eq!(c.apply(&create("db1", true)), JournalResponse::ok(0));
        // Names are case-sensitive, as in StarRocks.
        assert_eq!(c.apply(&create("DB1", false)), JournalResponse::ok(1));
        assert_eq!(c.databases["DB1"].id, FIRST_OBJECT_ID + 1);
        let drop = |name: &str, if_exists| JournalOp::DropDatabase {
            name: name.into(),
            if_exists,
        };
        assert_eq!(c.apply(&drop("db1", false)), JournalResponse::ok(1));
        let err = c.apply(&drop("db1", false)).0.expect_err("missing");
        assert_eq!(err.code, StatusCode::DatabaseNotFound);
        assert_eq!(c.apply(&drop("db1", true)), JournalResponse::ok(0));
    }

    #[test]
    fn heartbeats_only_touch_members() {
        let mut c = Catalog::default();
        c.frontends.insert(1, FrontendStatus::default());
        let st = FrontendStatus {
            alive: true,
            ..Default::default()
        };
        c.apply(&JournalOp::FrontendHeartbeats {
            time_ms: 5,
            statuses: vec![(1, st.clone()), (9, st.clone())],
        });
        assert!(c.frontends[&1].alive);
        assert!(!c.frontends.contains_key(&9));
        assert_eq!(c.leader_time_ms, 5);
    }
}
