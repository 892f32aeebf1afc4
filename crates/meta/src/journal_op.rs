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
    /// `DROP DATABASE`.
    DropDatabase {
        /// The database name.
        name: String,
        /// `IF EXISTS`: a missing database is not an error.
        if_exists: bool,
    },
    /// `ADMIN SET FRONTEND CONFIG`: cluster-wide overrides of mutable `fe.conf` keys.
    SetFrontendConfig {
        /// Keys and values, already checked against the key list.
        items: Vec<(String, String)>,
    },
    /// The outcome of one round of the leader's heartbeats to the other frontends.
    FrontendHeartbeats {
        /// The leader's clock when the round ended.
        time_ms: i64,
        /// The status of every frontend after the round.
        statuses: Vec<(NodeId, FrontendStatus)>,
    },
}

impl fmt::Display for JournalOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JournalOp::CreateDatabase { name, .. } => write!(f, "CreateDatabase({name})"),
            JournalOp::DropDatabase { name, .. } => write!(f, "DropDatabase({name})"),
            JournalOp::SetFrontendConfig { items } => write!(f, "SetFrontendConfig({items:?})"),
            JournalOp::FrontendHeartbeats { statuses, .. } => {
                write!(f, "FrontendHeartbeats({} nodes)", statuses.len())
            }
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
