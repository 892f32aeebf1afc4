//! The raft type configuration: what the journal replicates and how nodes are described.

use std::fmt;

use serde::Deserialize;
use serde::Serialize;

use crate::journal_op::JournalOp;
use crate::journal_op::JournalResponse;

/// A frontend's raft node id. Allocated by the leader when a frontend is added and never
/// reused, so a node that starts from an empty journal can never pose as a former member.
pub type NodeId = u64;

/// The two roles StarRocks gives a frontend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum FrontendRole {
    /// Votes in elections and acknowledges journal writes (a raft voter once caught up).
    #[default]
    Follower,
    /// Replicates the journal without voting (a raft learner).
    Observer,
}

impl FrontendRole {
    /// The StarRocks spelling: `FOLLOWER` or `OBSERVER`.
    pub fn as_str(self) -> &'static str {
        match self {
            FrontendRole::Follower => "FOLLOWER",
            FrontendRole::Observer => "OBSERVER",
        }
    }

    /// Parses `FOLLOWER`/`OBSERVER` (any case).
    pub fn parse(s: &str) -> Option<FrontendRole> {
        match s.to_ascii_uppercase().as_str() {
            "FOLLOWER" => Some(FrontendRole::Follower),
            "OBSERVER" => Some(FrontendRole::Observer),
            _ => None,
        }
    }
}

impl fmt::Display for FrontendRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A frontend as raft's membership records it: the membership is the single list of FEs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct FeNode {
    /// The advertised IP (or host name).
    pub host: String,
    /// The edit_log_port: raft and internal RPC.
    pub edit_log_port: u16,
    /// StarRocks's node name, `<host>_<edit_log_port>_<added at ms>`.
    pub name: String,
    /// The role the operator asked for. A FOLLOWER is a raft learner until it has caught up.
    pub role: FrontendRole,
}

impl FeNode {
    /// `host:edit_log_port`.
    pub fn addr(&self) -> String {
        format!("{}:{}", self.host, self.edit_log_port)
    }
}

impl fmt::Display for FeNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({}:{})", self.role, self.host, self.edit_log_port)
    }
}

openraft::declare_raft_types!(
    /// Tessera's raft types.
    pub TypeConfig:
        D = JournalOp,
        R = JournalResponse,
        NodeId = NodeId,
        Node = FeNode,
);

/// A log id of the journal.
pub type LogId = openraft::alias::LogIdOf<TypeConfig>;
/// A journal entry.
pub type Entry = openraft::alias::EntryOf<TypeConfig>;
/// The membership stored with the state.
pub type StoredMembership = openraft::alias::StoredMembershipOf<TypeConfig>;
/// A membership config.
pub type Membership = openraft::Membership<NodeId, FeNode>;
/// Snapshot metadata.
pub type SnapshotMeta = openraft::alias::SnapshotMetaOf<TypeConfig>;
/// A vote.
pub type Vote = openraft::alias::VoteOf<TypeConfig>;
