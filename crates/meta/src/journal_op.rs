//! `JournalOp`: one catalog change, the payload of a journal entry.
//!
//! Ops carry every non-deterministic input (times, ids chosen by the leader) so that applying
//! the same op on every FE gives the same catalog. Validation that depends on the catalog (does
//! the database exist?) happens in `apply`, so concurrent writers are ordered by the journal.

use std::fmt;

use common::Error;
use serde::Deserialize;
use serde::Serialize;

use crate::catalog::FrontendStatus;
use crate::catalog::ReplicaUpdate;
use crate::catalog::auth::PrivObject;
use crate::catalog::auth::PrivSet;
use crate::catalog::backend::BackendStatus;
use crate::catalog::table::Partition;
use crate::catalog::table::Replica;
use crate::catalog::table::ReplicaState;
use crate::catalog::table::Table;
use crate::catalog::table::WriteQuorum;
use crate::catalog::txn::Txn;
use crate::types::NodeId;

/// One replicated catalog change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum JournalOp {
    /// `CREATE DATABASE`.
    CreateDatabase {
        /// The database name.
        name: String,
        /// `IF NOT EXISTS`: an existing database is not an error.
        if_not_exists: bool,
        /// When the leader accepted the statement.
        create_time_ms: i64,
    },
    /// `DROP DATABASE`: its tables go to the recycle bin unless `force`.
    DropDatabase {
        /// The database name.
        name: String,
        /// `IF EXISTS`: a missing database is not an error.
        if_exists: bool,
        /// `FORCE`: erase the tables at once.
        force: bool,
        /// When the leader accepted the statement.
        time_ms: i64,
    },
    /// `ADMIN SET FRONTEND CONFIG`: cluster-wide overrides of mutable `fe.conf` keys.
    SetFrontendConfig {
        /// Keys and values, already checked against the key list.
        items: Vec<(String, String)>,
    },
    /// The outcome of one round of the leader's heartbeats to frontends and backends.
    Heartbeats {
        /// The leader's clock when the round ended.
        time_ms: i64,
        /// The status of every frontend after the round.
        frontends: Vec<(NodeId, FrontendStatus)>,
        /// The status of every backend after the round.
        backends: Vec<(i64, BackendStatus)>,
    },
    /// Reserves `count` catalog ids (answers the first), so ids are never reused.
    AllocateIds {
        /// How many.
        count: u64,
    },
    /// `ALTER SYSTEM ADD BACKEND` (answers the new backend id).
    AddBackend {
        /// Host.
        host: String,
        /// heartbeat_service_port.
        heartbeat_port: u16,
    },
    /// `ALTER SYSTEM DROP BACKEND`.
    DropBackend {
        /// Backend id.
        id: i64,
    },
    /// `ALTER SYSTEM DECOMMISSION BACKEND` / `CANCEL DECOMMISSION BACKEND`.
    SetBackendDecommissioned {
        /// Backend ids.
        ids: Vec<i64>,
        /// The new flag.
        decommissioned: bool,
    },
    /// `CREATE TABLE`, after every replica was created on its backend.
    CreateTable {
        /// Database.
        db: String,
        /// The table with its partitions, tablets and replicas.
        table: Table,
        /// `IF NOT EXISTS`.
        if_not_exists: bool,
    },
    /// `DROP TABLE`: to the recycle bin unless `force`.
    DropTable {
        /// Database.
        db: String,
        /// Table.
        name: String,
        /// `IF EXISTS`.
        if_exists: bool,
        /// `FORCE`.
        force: bool,
        /// When the leader accepted it.
        time_ms: i64,
    },
    /// A recycled table's data was (or is being) erased.
    EraseRecycledTable {
        /// Table id.
        table_id: i64,
    },
    /// `ALTER TABLE t SET (...)`.
    ModifyTableProperties {
        /// Database.
        db: String,
        /// Table.
        table: String,
        /// New write quorum.
        write_quorum: Option<WriteQuorum>,
        /// New replicated_storage.
        replicated_storage: Option<bool>,
    },
    /// `ALTER TABLE t ADD PARTITION`, after its replicas were created.
    AddPartition {
        /// Database.
        db: String,
        /// Table.
        table: String,
        /// The partition.
        partition: Partition,
    },
    /// Replica state learned from reports.
    UpdateReplicas {
        /// The changes.
        updates: Vec<ReplicaUpdate>,
    },
    /// Repair adds a replica (state CLONE) that a clone task is about to build.
    AddReplica {
        /// The tablet.
        tablet_id: i64,
        /// The new replica.
        replica: Replica,
    },
    /// A clone finished: the replica holds `version` (a CLONE replica becomes NORMAL).
    FinishClone {
        /// The tablet.
        tablet_id: i64,
        /// The replica.
        replica_id: i64,
        /// Its contiguous version after the clone.
        version: i64,
        /// Bytes of its files.
        data_size: i64,
        /// Rows it holds at that version.
        row_count: i64,
    },
    /// A replica changes state (DECOMMISSION before a safe drop).
    SetReplicaState {
        /// The tablet.
        tablet_id: i64,
        /// The replica.
        replica_id: i64,
        /// The new state.
        state: ReplicaState,
    },
    /// Repair or decommission removes a replica from the catalog.
    DropReplica {
        /// The tablet.
        tablet_id: i64,
        /// The replica.
        replica_id: i64,
    },
    /// A load begins (answers the transaction id; the label is checked here).
    BeginTxn {
        /// The transaction (its id and status are set when applied).
        txn: Txn,
        /// max_running_txn_num_per_db.
        max_running: u32,
    },
    /// A load's data is written: check the write quorum per tablet, take partition versions.
    CommitTxn {
        /// Transaction.
        txn_id: i64,
        /// Partitions the load wrote.
        partitions: Vec<i64>,
        /// (tablet, backend) pairs that succeeded.
        commit_infos: Vec<(i64, i64)>,
        /// loaded, filtered, unselected rows and bytes.
        stats: [i64; 4],
        /// Commit time.
        time_ms: i64,
    },
    /// A committed load was published on a quorum of every tablet: it becomes visible.
    FinishTxn {
        /// Transaction.
        txn_id: i64,
        /// (tablet, backend) pairs that published.
        published: Vec<(i64, i64)>,
        /// Visible time.
        time_ms: i64,
        /// (tablet, backend, rows) of replicas that published: their visible rows after the
        /// publish (absent in journals written before it was recorded).
        #[serde(default)]
        stats: Vec<(i64, i64, i64)>,
        /// (tablet, backend, version) of replicas that published: their contiguous version
        /// after the publish, below the load's version for a replica with a gap that repair
        /// has not filled yet (absent in older journals: the load's version).
        #[serde(default)]
        versions: Vec<(i64, i64, i64)>,
    },
    /// A load is rolled back.
    AbortTxn {
        /// Transaction.
        txn_id: i64,
        /// Why.
        reason: String,
        /// When.
        time_ms: i64,
    },
    /// `CREATE USER`.
    CreateUser {
        /// User name.
        name: String,
        /// Host pattern.
        host: String,
        /// `*` + hex of SHA1(SHA1(password)), or empty: never the plain text.
        password: String,
        /// `IF NOT EXISTS`.
        if_not_exists: bool,
    },
    /// `DROP USER`.
    DropUser {
        /// User name.
        name: String,
        /// Host pattern.
        host: String,
        /// `IF EXISTS`.
        if_exists: bool,
    },
    /// `SET PASSWORD` / `ALTER USER ... IDENTIFIED BY`.
    SetPassword {
        /// User name.
        name: String,
        /// Host pattern.
        host: String,
        /// `*` + hex of SHA1(SHA1(password)), or empty: never the plain text.
        password: String,
    },
    /// `SET PROPERTY FOR 'name' 'key' = 'value'` (one op per property).
    SetUserProperty {
        /// User name.
        name: String,
        /// Property (`max_user_connections`).
        key: String,
        /// Value as written; empty = back to the default.
        value: String,
    },
    /// `GRANT` / `REVOKE`.
    ChangePrivileges {
        /// User name.
        name: String,
        /// Host pattern.
        host: String,
        /// What the privileges are on.
        object: PrivObject,
        /// The privileges.
        privs: PrivSet,
        /// REVOKE rather than GRANT.
        revoke: bool,
    },
    /// The leader's first term sets the FE-to-FE load secret (ignored once set).
    SetInternalSecret {
        /// Random hex.
        secret: String,
    },
    /// Forget old final transactions.
    CleanTxns {
        /// Finished before this time.
        before_ms: i64,
        /// Keep at most this many final ones per database.
        keep_per_db: u32,
    },
}

impl fmt::Display for JournalOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JournalOp::CreateDatabase { name, .. } => write!(f, "CreateDatabase({name})"),
            JournalOp::DropDatabase { name, .. } => write!(f, "DropDatabase({name})"),
            JournalOp::SetFrontendConfig { items } => write!(f, "SetFrontendConfig({items:?})"),
            JournalOp::Heartbeats {
                frontends,
                backends,
                ..
            } => write!(
                f,
                "Heartbeats({} FEs, {} BEs)",
                frontends.len(),
                backends.len()
            ),
            JournalOp::AllocateIds { count } => write!(f, "AllocateIds({count})"),
            JournalOp::AddBackend {
                host,
                heartbeat_port,
            } => write!(f, "AddBackend({host}:{heartbeat_port})"),
            JournalOp::DropBackend { id } => write!(f, "DropBackend({id})"),
            JournalOp::SetBackendDecommissioned {
                ids,
                decommissioned,
            } => {
                write!(f, "SetBackendDecommissioned({ids:?}, {decommissioned})")
            }
            JournalOp::CreateTable { db, table, .. } => {
                write!(f, "CreateTable({db}.{})", table.name)
            }
            JournalOp::DropTable { db, name, .. } => write!(f, "DropTable({db}.{name})"),
            JournalOp::EraseRecycledTable { table_id } => {
                write!(f, "EraseRecycledTable({table_id})")
            }
            JournalOp::ModifyTableProperties { db, table, .. } => {
                write!(f, "ModifyTableProperties({db}.{table})")
            }
            JournalOp::AddPartition {
                db,
                table,
                partition,
            } => {
                write!(f, "AddPartition({db}.{table}.{})", partition.name)
            }
            JournalOp::UpdateReplicas { updates } => write!(f, "UpdateReplicas({})", updates.len()),
            JournalOp::AddReplica { tablet_id, replica } => write!(
                f,
                "AddReplica(tablet {tablet_id}, replica {} on backend {})",
                replica.id, replica.backend_id
            ),
            JournalOp::FinishClone {
                tablet_id,
                replica_id,
                version,
                ..
            } => write!(
                f,
                "FinishClone(tablet {tablet_id}, replica {replica_id}, version {version})"
            ),
            JournalOp::SetReplicaState {
                tablet_id,
                replica_id,
                state,
            } => write!(
                f,
                "SetReplicaState(tablet {tablet_id}, replica {replica_id}, {state})"
            ),
            JournalOp::DropReplica {
                tablet_id,
                replica_id,
            } => write!(f, "DropReplica(tablet {tablet_id}, replica {replica_id})"),
            JournalOp::BeginTxn { txn, .. } => {
                write!(f, "BeginTxn({}.{} {})", txn.db, txn.table, txn.label)
            }
            JournalOp::CommitTxn { txn_id, .. } => write!(f, "CommitTxn({txn_id})"),
            JournalOp::FinishTxn { txn_id, .. } => write!(f, "FinishTxn({txn_id})"),
            JournalOp::AbortTxn { txn_id, .. } => write!(f, "AbortTxn({txn_id})"),
            JournalOp::CleanTxns { .. } => write!(f, "CleanTxns"),
            // Never the password hash: journal ops appear in logs.
            JournalOp::CreateUser { name, host, .. } => write!(f, "CreateUser('{name}'@'{host}')"),
            JournalOp::DropUser { name, host, .. } => write!(f, "DropUser('{name}'@'{host}')"),
            JournalOp::SetPassword { name, host, .. } => {
                write!(f, "SetPassword('{name}'@'{host}')")
            }
            JournalOp::SetUserProperty { name, key, value } => {
                write!(f, "SetUserProperty('{name}', {key} = {value})")
            }
            JournalOp::ChangePrivileges {
                name,
                host,
                object,
                privs,
                revoke,
            } => write!(
                f,
                "{}({privs} ON {object}, '{name}'@'{host}')",
                if *revoke { "Revoke" } else { "Grant" }
            ),
            JournalOp::SetInternalSecret { .. } => write!(f, "SetInternalSecret"),
        }
    }
}

/// What applying an op answered: rows affected, or the reason it was refused.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JournalResponse(pub Result<u64, Error>);

impl JournalResponse {
    /// A success touching `n` objects.
    pub fn ok(n: u64) -> Self {
        JournalResponse(Ok(n))
    }
}

impl fmt::Display for JournalResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Ok(n) => write!(f, "Ok({n})"),
            Err(e) => write!(f, "Err({e})"),
        }
    }
}
