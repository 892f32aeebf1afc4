//! The catalog: the in-memory state every FE rebuilds from the journal.
//!
//! It is StarRocks's "image": a checkpoint image is this struct serialized, and replay applies
//! [`JournalOp`]s to it. Frontend *membership* is not here: raft's membership config is the one
//! list of frontends (see [`crate::types::FeNode`]); the catalog keeps what heartbeats learned
//! about each of them.

pub mod auth;
pub mod backend;
pub mod table;
pub mod txn;

use std::collections::BTreeMap;

use common::Error;
use common::StatusCode;
use serde::Deserialize;
use serde::Serialize;

use self::backend::Backend;
use self::table::Partition;
use self::table::Replica;
use self::table::ReplicaState;
use self::table::Table;
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
    /// Tables by name (case-sensitive).
    #[serde(default)]
    pub tables: BTreeMap<String, Table>,
}

/// A dropped table waiting in the recycle bin until its data is erased.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecycledTable {
    /// The database it belonged to.
    pub db_name: String,
    /// The database's id.
    pub db_id: i64,
    /// The table.
    pub table: Table,
    /// When it was dropped, epoch ms.
    pub drop_time_ms: i64,
}

/// A change to one replica, from a report or a repair.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaUpdate {
    /// The tablet.
    pub tablet_id: i64,
    /// The replica.
    pub replica_id: i64,
    /// New version, if it advanced.
    pub version: Option<i64>,
    /// New data size.
    pub data_size: Option<i64>,
    /// New row count.
    pub row_count: Option<i64>,
    /// New bad flag.
    pub bad: Option<bool>,
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
    /// Backends by id.
    #[serde(default)]
    pub backends: BTreeMap<i64, Backend>,
    /// Dropped tables not yet erased.
    #[serde(default)]
    pub recycle_bin: Vec<RecycledTable>,
    /// Load transactions by id (final ones are kept until cleaned).
    #[serde(default)]
    pub txns: BTreeMap<i64, txn::Txn>,
    /// The next transaction id.
    #[serde(default = "first_txn_id")]
    pub next_txn_id: i64,
    /// Users and their privileges (root is implicit until its password is set).
    #[serde(default)]
    pub users: auth::Users,
    /// User properties (`SET PROPERTY`), by user name (whatever the host).
    #[serde(default)]
    pub user_properties: BTreeMap<String, auth::UserProperty>,
    /// The secret an FE presents to the leader when it coordinates an `INSERT` through a
    /// backend on behalf of an already authorized session (random, chosen by the first
    /// leader; empty until then).
    #[serde(default)]
    pub internal_secret: String,
}

fn first_txn_id() -> i64 {
    1
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
            backends: BTreeMap::new(),
            recycle_bin: Vec::new(),
            txns: BTreeMap::new(),
            next_txn_id: 1,
            users: auth::Users::default(),
            user_properties: BTreeMap::new(),
            internal_secret: String::new(),
        }
    }
}

impl Catalog {
    /// Applies one op and returns the answer the client gets.
    pub fn apply(&mut self, op: &JournalOp) -> JournalResponse {
        match self.apply_inner(op) {
            Ok(n) => JournalResponse::ok(n),
            Err(e) => JournalResponse(Err(e)),
        }
    }

    fn apply_inner(&mut self, op: &JournalOp) -> Result<u64, Error> {
        match op {
            JournalOp::CreateDatabase {
                name,
                if_not_exists,
                create_time_ms,
            } => {
                if self.databases.contains_key(name) {
                    if *if_not_exists {
                        return Ok(0);
                    }
                    return Err(Error::new(
                        StatusCode::DatabaseAlreadyExists,
                        format!("Can't create database '{name}'; database exists"),
                    ));
                }
                let id = self.allocate(1);
                self.databases.insert(
                    name.clone(),
                    Database {
                        id,
                        name: name.clone(),
                        create_time_ms: *create_time_ms,
                        tables: BTreeMap::new(),
                    },
                );
                Ok(1)
            }
            JournalOp::DropDatabase {
                name,
                if_exists,
                force,
                time_ms,
            } => {
                let Some(db) = self.databases.remove(name) else {
                    if *if_exists {
                        return Ok(0);
                    }
                    return Err(Error::new(
                        StatusCode::DatabaseNotFound,
                        format!("Can't drop database '{name}'; database doesn't exist"),
                    ));
                };
                if !*force {
                    for (_, table) in db.tables {
                        self.recycle_bin.push(RecycledTable {
                            db_name: db.name.clone(),
                            db_id: db.id,
                            table,
                            drop_time_ms: *time_ms,
                        });
                    }
                }
                Ok(1)
            }
            JournalOp::SetFrontendConfig { items } => {
                for (k, v) in items {
                    self.config_overrides.insert(k.clone(), v.clone());
                }
                Ok(items.len() as u64)
            }
            JournalOp::Heartbeats {
                time_ms,
                frontends,
                backends,
            } => {
                for (id, status) in frontends {
                    // Only members have a status: a late round must not resurrect a dropped FE.
                    if let Some(slot) = self.frontends.get_mut(id) {
                        *slot = status.clone();
                    }
                }
                for (id, status) in backends {
                    if let Some(be) = self.backends.get_mut(id) {
                        be.status = status.clone();
                    }
                }
                self.leader_time_ms = self.leader_time_ms.max(*time_ms);
                Ok(0)
            }
            JournalOp::CreateUser {
                name,
                host,
                password,
                if_not_exists,
            } => self.users.create(name, host, password, *if_not_exists),
            JournalOp::DropUser {
                name,
                host,
                if_exists,
            } => {
                let n = self.users.drop_user(name, host, *if_exists)?;
                // The properties go with the name's last account.
                if !self.users.0.contains_key(name) {
                    self.user_properties.remove(name);
                }
                Ok(n)
            }
            JournalOp::SetUserProperty { name, key, value } => {
                if name != auth::ROOT && !self.users.0.contains_key(name) {
                    return Err(Error::new(
                        StatusCode::UserOperationFailed,
                        format!(
                            "Operation SET PROPERTY failed for '{name}': the user does not exist"
                        ),
                    ));
                }
                let mut p = self.user_properties.get(name).cloned().unwrap_or_default();
                p.set(key, value)?;
                if p == auth::UserProperty::default() {
                    self.user_properties.remove(name);
                } else {
                    self.user_properties.insert(name.clone(), p);
                }
                Ok(0)
            }
            JournalOp::SetPassword {
                name,
                host,
                password,
            } => self.users.set_password(name, host, password),
            JournalOp::ChangePrivileges {
                name,
                host,
                object,
                privs,
                revoke,
            } => self
                .users
                .change_privileges(name, host, object, *privs, *revoke),
            JournalOp::SetInternalSecret { secret } => {
                // The first one wins: every FE applies the same sequence.
                if self.internal_secret.is_empty() && !secret.is_empty() {
                    self.internal_secret = secret.clone();
                    Ok(1)
                } else {
                    Ok(0)
                }
            }
            JournalOp::AllocateIds { count } => Ok(self.allocate(*count) as u64),
            JournalOp::AddBackend {
                host,
                heartbeat_port,
            } => {
                if self
                    .backends
                    .values()
                    .any(|b| b.host == *host && b.heartbeat_port == *heartbeat_port)
                {
                    return Err(Error::new(
                        StatusCode::NodeAlreadyExists,
                        format!(
                            "Backend already exists with same host {host} and port {heartbeat_port}"
                        ),
                    ));
                }
                let id = self.allocate(1);
                self.backends.insert(
                    id,
                    Backend {
                        id,
                        host: host.clone(),
                        heartbeat_port: *heartbeat_port,
                        decommissioned: false,
                        status: Default::default(),
                    },
                );
                Ok(id as u64)
            }
            JournalOp::DropBackend { id } => {
                if self.backends.remove(id).is_none() {
                    return Err(Error::new(
                        StatusCode::NodeNotFound,
                        format!("backend {id} does not exist"),
                    ));
                }
                Ok(1)
            }
            JournalOp::SetBackendDecommissioned {
                ids,
                decommissioned,
            } => {
                let mut n = 0;
                for id in ids {
                    if let Some(b) = self.backends.get_mut(id)
                        && b.decommissioned != *decommissioned
                    {
                        b.decommissioned = *decommissioned;
                        n += 1;
                    }
                }
                Ok(n)
            }
            JournalOp::CreateTable {
                db,
                table,
                if_not_exists,
            } => {
                let Some(database) = self.databases.get_mut(db) else {
                    return Err(unknown_db(db));
                };
                if database.tables.contains_key(&table.name) {
                    if *if_not_exists {
                        return Ok(0);
                    }
                    return Err(Error::new(
                        StatusCode::TableAlreadyExists,
                        format!("Table '{}' already exists", table.name),
                    ));
                }
                database.tables.insert(table.name.clone(), table.clone());
                Ok(1)
            }
            JournalOp::DropTable {
                db,
                name,
                if_exists,
                force,
                time_ms,
            } => {
                let Some(database) = self.databases.get_mut(db) else {
                    return Err(unknown_db(db));
                };
                let Some(table) = database.tables.remove(name) else {
                    if *if_exists {
                        return Ok(0);
                    }
                    return Err(unknown_table(db, name));
                };
                if !*force {
                    self.recycle_bin.push(RecycledTable {
                        db_name: db.clone(),
                        db_id: database.id,
                        table,
                        drop_time_ms: *time_ms,
                    });
                }
                Ok(1)
            }
            JournalOp::EraseRecycledTable { table_id } => {
                let before = self.recycle_bin.len();
                self.recycle_bin.retain(|r| r.table.id != *table_id);
                Ok((before - self.recycle_bin.len()) as u64)
            }
            JournalOp::ModifyTableProperties {
                db,
                table,
                write_quorum,
                replicated_storage,
            } => {
                let t = self.table_mut(db, table)?;
                if let Some(q) = write_quorum {
                    t.write_quorum = *q;
                }
                if let Some(r) = replicated_storage {
                    t.replicated_storage = *r;
                }
                Ok(0)
            }
            JournalOp::AddPartition {
                db,
                table,
                partition,
            } => {
                let t = self.table_mut(db, table)?;
                check_new_partition(t, partition)?;
                t.partitions.push(partition.clone());
                t.partitions.sort_by(|a, b| {
                    let key = |p: &Partition| {
                        p.range
                            .as_ref()
                            .and_then(|r| r.lower.as_ref().map(|l| l.value.clone()))
                    };
                    key(a).cmp(&key(b))
                });
                Ok(1)
            }
            JournalOp::BeginTxn { txn, max_running } => self.begin_txn(txn, *max_running as usize),
            JournalOp::CommitTxn {
                txn_id,
                partitions,
                commit_infos,
                stats,
                time_ms,
            } => self.commit_txn(*txn_id, partitions, commit_infos, *stats, *time_ms),
            JournalOp::FinishTxn {
                txn_id,
                published,
                time_ms,
                stats,
                versions,
            } => self.finish_txn(*txn_id, published, stats, versions, *time_ms),
            JournalOp::AddReplica { tablet_id, replica } => {
                let tablet = self.tablet_mut(*tablet_id)?;
                if let Some(r) = tablet
                    .replicas
                    .iter()
                    .find(|r| r.backend_id == replica.backend_id || r.id == replica.id)
                {
                    return Err(Error::new(
                        StatusCode::InvalidArgument,
                        format!(
                            "tablet {tablet_id} already has replica {} on backend {}",
                            r.id, r.backend_id
                        ),
                    ));
                }
                tablet.replicas.push(replica.clone());
                self.next_id = self.next_id.max(replica.id + 1);
                Ok(1)
            }
            JournalOp::FinishClone {
                tablet_id,
                replica_id,
                version,
                data_size,
                row_count,
            } => {
                let r = self.replica_mut(*tablet_id, *replica_id)?;
                if r.state == ReplicaState::Clone {
                    r.state = ReplicaState::Normal;
                    r.version = *version;
                } else {
                    r.version = r.version.max(*version);
                }
                r.last_success_version = r.last_success_version.max(*version);
                if r.last_failed_version >= 0 && r.version >= r.last_failed_version {
                    r.last_failed_version = -1;
                }
                r.data_size = *data_size;
                r.row_count = *row_count;
                Ok(1)
            }
            JournalOp::SetReplicaState {
                tablet_id,
                replica_id,
                state,
            } => {
                let r = self.replica_mut(*tablet_id, *replica_id)?;
                r.state = *state;
                Ok(1)
            }
            JournalOp::DropReplica {
                tablet_id,
                replica_id,
            } => {
                let tablet = self.tablet_mut(*tablet_id)?;
                let before = tablet.replicas.len();
                tablet.replicas.retain(|r| r.id != *replica_id);
                Ok((before - tablet.replicas.len()) as u64)
            }
            JournalOp::AbortTxn {
                txn_id,
                reason,
                time_ms,
            } => self.abort_txn(*txn_id, reason, *time_ms),
            JournalOp::CleanTxns {
                before_ms,
                keep_per_db,
            } => Ok(self.clean_txns(*before_ms, *keep_per_db as usize)),
            JournalOp::UpdateReplicas { updates } => {
                let mut n = 0;
                let wanted: BTreeMap<(i64, i64), &ReplicaUpdate> = updates
                    .iter()
                    .map(|u| ((u.tablet_id, u.replica_id), u))
                    .collect();
                for db in self.databases.values_mut() {
                    for t in db.tables.values_mut() {
                        for p in &mut t.partitions {
                            for tablet in &mut p.tablets {
                                for r in &mut tablet.replicas {
                                    if let Some(u) = wanted.get(&(tablet.id, r.id)) {
                                        if let Some(v) = u.version {
                                            r.version = r.version.max(v);
                                            // StarRocks's rule: a replica that reached the
                                            // version it missed misses nothing any more.
                                            if r.last_failed_version >= 0
                                                && r.version >= r.last_failed_version
                                                && r.state != ReplicaState::Clone
                                            {
                                                r.last_failed_version = -1;
                                            }
                                        }
                                        if let Some(v) = u.data_size {
                                            r.data_size = v;
                                        }
                                        if let Some(v) = u.row_count {
                                            r.row_count = v;
                                        }
                                        if let Some(b) = u.bad {
                                            r.bad = b;
                                        }
                                        n += 1;
                                    }
                                }
                            }
                        }
                    }
                }
                Ok(n)
            }
        }
    }

    /// Takes `count` consecutive catalog ids; returns the first.
    fn allocate(&mut self, count: u64) -> i64 {
        let first = self.next_id;
        self.next_id += count.max(1) as i64;
        first
    }

    fn table_mut(&mut self, db: &str, table: &str) -> Result<&mut Table, Error> {
        let database = self.databases.get_mut(db).ok_or_else(|| unknown_db(db))?;
        database
            .tables
            .get_mut(table)
            .ok_or_else(|| unknown_table(db, table))
    }

    /// A table by database and name.
    pub fn table(&self, db: &str, table: &str) -> Option<&Table> {
        self.databases.get(db)?.tables.get(table)
    }

    fn tablet_mut(&mut self, tablet_id: i64) -> Result<&mut table::Tablet, Error> {
        self.databases
            .values_mut()
            .flat_map(|db| db.tables.values_mut())
            .flat_map(|t| t.partitions.iter_mut())
            .flat_map(|p| p.tablets.iter_mut())
            .find(|t| t.id == tablet_id)
            .ok_or_else(|| {
                Error::new(
                    StatusCode::InvalidArgument,
                    format!("tablet {tablet_id} does not exist (its table was dropped)"),
                )
            })
    }

    fn replica_mut(&mut self, tablet_id: i64, replica_id: i64) -> Result<&mut Replica, Error> {
        self.tablet_mut(tablet_id)?
            .replicas
            .iter_mut()
            .find(|r| r.id == replica_id)
            .ok_or_else(|| {
                Error::new(
                    StatusCode::InvalidArgument,
                    format!("tablet {tablet_id} has no replica {replica_id}"),
                )
            })
    }

    /// Where a tablet lives: (database, table, partition, tablet).
    pub fn find_tablet(
        &self,
        tablet_id: i64,
    ) -> Option<(&Database, &Table, &Partition, &table::Tablet)> {
        for db in self.databases.values() {
            for t in db.tables.values() {
                for p in &t.partitions {
                    if let Some(tablet) = p.tablets.iter().find(|x| x.id == tablet_id) {
                        return Some((db, t, p, tablet));
                    }
                }
            }
        }
        None
    }

    /// Replicas per backend id (the "tablet inverted index" count).
    pub fn replica_counts(&self) -> BTreeMap<i64, u64> {
        let mut counts: BTreeMap<i64, u64> = self.backends.keys().map(|id| (*id, 0)).collect();
        for db in self.databases.values() {
            for t in db.tables.values() {
                for (_, tablet) in t.tablets() {
                    for r in &tablet.replicas {
                        *counts.entry(r.backend_id).or_default() += 1;
                    }
                }
            }
        }
        counts
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

fn unknown_db(db: &str) -> Error {
    Error::new(
        StatusCode::DatabaseNotFound,
        format!("Unknown database '{db}'"),
    )
}

fn unknown_table(db: &str, table: &str) -> Error {
    Error::new(
        StatusCode::TableNotFound,
        format!("Table '{db}.{table}' doesn't exist"),
    )
}

/// A new partition must have a unique name and a range that overlaps no other.
pub fn check_new_partition(t: &Table, p: &Partition) -> Result<(), Error> {
    if t.partition(&p.name).is_some() {
        return Err(Error::invalid(format!(
            "Duplicate partition name {}",
            p.name
        )));
    }
    let Some(range) = &p.range else {
        return Err(Error::invalid(format!(
            "table {} is not range-partitioned",
            t.name
        )));
    };
    for other in &t.partitions {
        if let Some(o) = &other.range
            && o.overlaps(range)
        {
            return Err(Error::invalid(format!(
                "Range of partition {} overlaps with partition {}",
                p.name, other.name
            )));
        }
    }
    Ok(())
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
            force: false,
            time_ms: 0,
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
        c.apply(&JournalOp::Heartbeats {
            time_ms: 5,
            frontends: vec![(1, st.clone()), (9, st.clone())],
            backends: Vec::new(),
        });
        assert!(c.frontends[&1].alive);
        assert!(!c.frontends.contains_key(&9));
        assert_eq!(c.leader_time_ms, 5);
    }

    #[test]
    fn user_properties_replay_survive_the_image_and_go_with_the_user() {
        let mut c = Catalog::default();
        let create = |host: &str| JournalOp::CreateUser {
            name: "bob".into(),
            host: host.into(),
            password: String::new(),
            if_not_exists: false,
        };
        let set = |name: &str, key: &str, value: &str| JournalOp::SetUserProperty {
            name: name.into(),
            key: key.into(),
            value: value.into(),
        };
        // No such user.
        let e = c
            .apply(&set("bob", "max_user_connections", "3"))
            .0
            .expect_err("no user");
        assert_eq!(e.code, StatusCode::UserOperationFailed);
        assert!(c.apply(&create("%")).0.is_ok());
        assert!(c.apply(&create("10.0.0.%")).0.is_ok());
        assert!(c.apply(&set("bob", "max_user_connections", "3")).0.is_ok());
        assert_eq!(c.user_properties["bob"].max_user_connections, 3);
        // Bad values and keys are refused and change nothing.
        for (k, v) in [
            ("max_user_connections", "0"),
            ("max_user_connections", "many"),
            ("max_user_connections", "99999999999"),
            ("quota", "1"),
        ] {
            let e = c.apply(&set("bob", k, v)).0.expect_err(v);
            assert_eq!(e.code, StatusCode::InvalidArgument, "{e:?}");
        }
        assert_eq!(c.user_properties["bob"].max_user_connections, 3);
        // root has properties too.
        assert!(c.apply(&set("root", "max_user_connections", "7")).0.is_ok());
        // Through the image.
        let body = crate::image::ImageBody {
            last_applied: None,
            membership: Default::default(),
            catalog: c.clone(),
        };
        let back = crate::image::decode(&crate::image::encode(&body).expect("encode"), "t")
            .expect("decode");
        assert_eq!(back.catalog, c);
        // Dropping one of two accounts keeps them; dropping the last removes them.
        let drop = |host: &str| JournalOp::DropUser {
            name: "bob".into(),
            host: host.into(),
            if_exists: false,
        };
        assert!(c.apply(&drop("%")).0.is_ok());
        assert!(c.user_properties.contains_key("bob"));
        assert!(c.apply(&drop("10.0.0.%")).0.is_ok());
        assert!(!c.user_properties.contains_key("bob"));
        // An empty value restores the default (and forgets the entry).
        assert!(c.apply(&set("root", "max_user_connections", "")).0.is_ok());
        assert!(c.user_properties.is_empty());
    }

    #[test]
    fn users_replay_and_survive_the_image() {
        use crate::catalog::auth::Priv;
        use crate::catalog::auth::PrivObject;
        use crate::catalog::auth::PrivSet;
        // SHA1(SHA1("s3cret-pw")), computed by the FE before proposing; the plain text is
        // never in an op.
        let hash = "*0123456789ABCDEF0123456789ABCDEF01234567";
        let ops = vec![
            JournalOp::CreateUser {
                name: "alice".into(),
                host: "%".into(),
                password: hash.into(),
                if_not_exists: false,
            },
            JournalOp::ChangePrivileges {
                name: "alice".into(),
                host: "%".into(),
                object: PrivObject::Table("db1".into(), "t".into()),
                privs: PrivSet::of(&[Priv::Select, Priv::Insert]),
                revoke: false,
            },
            JournalOp::ChangePrivileges {
                name: "alice".into(),
                host: "%".into(),
                object: PrivObject::Global,
                privs: PrivSet::of(&[Priv::Node]),
                revoke: false,
            },
            JournalOp::ChangePrivileges {
                name: "alice".into(),
                host: "%".into(),
                object: PrivObject::Table("db1".into(), "t".into()),
                privs: PrivSet::of(&[Priv::Insert]),
                revoke: true,
            },
            JournalOp::SetPassword {
                name: "root".into(),
                host: "%".into(),
                password: hash.into(),
            },
            JournalOp::SetInternalSecret {
                secret: "abc".into(),
            },
            JournalOp::SetInternalSecret {
                secret: "def".into(),
            },
        ];
        // Two replicas applying the same ops agree.
        let mut a = Catalog::default();
        let mut b = Catalog::default();
        for op in &ops {
            let ra = a.apply(op);
            assert_eq!(ra, b.apply(op));
            assert!(ra.0.is_ok(), "{op}: {ra}");
            // The log line of an op never shows the hash.
            assert!(!op.to_string().contains(hash), "{op}");
        }
        assert_eq!(a, b);
        assert_eq!(a.internal_secret, "abc");
        let alice = a.users.get("alice", "%").expect("alice");
        assert!(alice.has(Priv::Select, Some("db1"), Some("t")));
        assert!(!alice.has(Priv::Insert, Some("db1"), Some("t")));
        assert!(alice.has(Priv::Node, None, None));
        assert_eq!(a.users.lookup("root", None).expect("root").password, hash);
        // A bad op is refused the same way everywhere and changes nothing.
        let dup = &ops[0];
        let err = a.apply(dup).0.expect_err("exists");
        assert_eq!(err.code, StatusCode::UserOperationFailed);

        // Through the image and back.
        let body = crate::image::ImageBody {
            last_applied: None,
            membership: Default::default(),
            catalog: a.clone(),
        };
        let bytes = crate::image::encode(&body).expect("encode");
        let back = crate::image::decode(&bytes, "t").expect("decode");
        assert_eq!(back.catalog, a);
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains(hash));
        assert!(!text.contains("s3cret-pw"));

        // An image written before users existed still loads: root with no password.
        let mut json: serde_json::Value =
            serde_json::to_value(Catalog::default()).expect("to json");
        if let Some(m) = json.as_object_mut() {
            m.remove("users");
            m.remove("internal_secret");
        }
        let old: Catalog = serde_json::from_value(json).expect("old image");
        let root = old.users.lookup("root", None).expect("root");
        assert!(root.password.is_empty());
    }
}
