//! Stable status codes and their single mapping to MySQL error numbers.
//!
//! Every error that can reach a user carries a [`StatusCode`]. The numbers are stable (they are
//! part of the product's interface: logs, HTTP replies and RPC metadata carry them), grouped in
//! ranges by subsystem. [`StatusCode::mysql_error`] is the only place that decides which MySQL
//! error number and SQLSTATE a client sees.

use std::fmt;

use serde::Deserialize;
use serde::Serialize;

/// A stable error category. The discriminant is the stable number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(u32)]
pub enum StatusCode {
    /// A bug in Tessera: the message says so.
    Internal = 1000,
    /// The statement or option is valid SQL but Tessera does not do it.
    Unsupported = 1001,
    /// An argument is malformed or out of range.
    InvalidArgument = 1002,
    /// The operation was cancelled.
    Cancelled = 1003,
    /// The operation did not finish in time; it may or may not have taken effect.
    Timeout = 1004,
    /// An I/O error on local files.
    Io = 1005,
    /// A limit was passed (packet size, connections, ...).
    LimitExceeded = 1006,
    /// A storage root's disk is full (ENOSPC or EDQUOT), or at its flood stage
    /// (`storage_flood_stage_usage_percent` and `storage_flood_stage_left_capacity_bytes`):
    /// the write was refused or failed and left nothing behind.
    DiskFull = 1007,

    /// The SQL text does not parse.
    SyntaxError = 2000,

    /// A database does not exist.
    DatabaseNotFound = 4000,
    /// A database already exists.
    DatabaseAlreadyExists = 4001,
    /// A table does not exist.
    TableNotFound = 4002,
    /// A table already exists.
    TableAlreadyExists = 4003,
    /// No database was selected for a statement that needs one.
    NoDatabaseSelected = 4004,
    /// A config key does not exist.
    ConfigNotFound = 4005,
    /// A config key exists but cannot be changed at run time.
    ConfigNotMutable = 4006,
    /// A variable does not exist.
    UnknownVariable = 4007,

    /// This FE is not the leader and cannot forward the request.
    NotLeader = 7000,
    /// No leader is known: the followers may have lost their quorum.
    NoLeader = 7001,
    /// The journal write was not acknowledged by a quorum of followers.
    QuorumUnavailable = 7002,
    /// This FE has not caught up with the journal yet.
    FrontendNotReady = 7003,
    /// A node of another cluster tried to talk to this one.
    ClusterIdMismatch = 7004,
    /// A frontend (or backend) named in a statement does not exist.
    NodeNotFound = 7005,
    /// A frontend (or backend) already exists.
    NodeAlreadyExists = 7006,
    /// A membership change is refused because it would harm availability.
    MembershipChangeRefused = 7007,
    /// The node is not a member of the cluster it asked to join.
    NodeNotAdded = 7008,
    /// The clocks of two nodes differ by more than the allowed delta.
    ClockSkew = 7009,
    /// A local meta directory is missing files or holds corrupt ones.
    MetaCorrupted = 7010,
    /// A remote node could not be reached.
    Unreachable = 7011,
    /// An internal call (or heartbeat) carried no cluster token or another cluster's.
    InvalidToken = 7012,

    /// A column named in a query does not exist.
    ColumnNotFound = 5000,
    /// An expression has the wrong type, or a function got arguments it does not take.
    TypeMismatch = 5001,
    /// No replica of a tablet can be read at the version a query needs.
    ReplicaUnavailable = 5002,
    /// A query needed more memory than `query_mem_limit` allows.
    MemLimitExceeded = 5003,
    /// A clone source no longer holds the single versions a replica misses (compaction merged
    /// them and the merged-away rowsets were swept): the replica needs a full clone.
    VersionsCompacted = 5004,
    /// Bytes received for a file do not match the sender's length or checksum.
    ChecksumMismatch = 5005,
    /// A tablet does not exist on the backend asked.
    TabletNotFound = 5006,
    /// A replica has not reached the version asked for (it has not published it yet).
    VersionNotReached = 5007,
    /// A replica's stored file (a rowset file or its metadata record) does not match the
    /// checksum recorded when it was written: the replica is never served and is repaired from
    /// a healthy one.
    DataCorrupted = 5008,

    /// A load label is already used in the database.
    LabelAlreadyExists = 6000,
    /// A transaction does not exist.
    TxnNotFound = 6001,
    /// A transaction is not in the state the operation needs.
    TxnStateInvalid = 6002,
    /// Fewer replicas succeeded than the write quorum.
    QuorumNotMet = 6003,
    /// The load's data is malformed beyond max_filter_ratio.
    LoadDataInvalid = 6004,

    /// Authentication failed.
    AccessDenied = 8000,
    /// The user lacks a privilege.
    PermissionDenied = 8001,
    /// The user lacks a privilege on a table (MySQL's ER_TABLEACCESS_DENIED_ERROR).
    TableAccessDenied = 8002,
    /// The user lacks a privilege on a database (MySQL's ER_DBACCESS_DENIED_ERROR).
    DatabaseAccessDenied = 8003,
    /// A user account operation failed: the user exists, or does not (MySQL's
    /// ER_CANNOT_USER).
    UserOperationFailed = 8004,
}

impl StatusCode {
    /// The stable number of this code.
    pub fn number(self) -> u32 {
        self as u32
    }

    /// Returns the code with the given stable number, if any.
    pub fn from_number(n: u32) -> Option<StatusCode> {
        use StatusCode::*;
        const ALL: &[StatusCode] = &[
            Internal,
            Unsupported,
            InvalidArgument,
            Cancelled,
            Timeout,
            Io,
            LimitExceeded,
            DiskFull,
            SyntaxError,
            DatabaseNotFound,
            DatabaseAlreadyExists,
            TableNotFound,
            TableAlreadyExists,
            NoDatabaseSelected,
            ConfigNotFound,
            ConfigNotMutable,
            UnknownVariable,
            NotLeader,
            NoLeader,
            QuorumUnavailable,
            FrontendNotReady,
            ClusterIdMismatch,
            NodeNotFound,
            NodeAlreadyExists,
            MembershipChangeRefused,
            NodeNotAdded,
            ClockSkew,
            MetaCorrupted,
            Unreachable,
            InvalidToken,
            ColumnNotFound,
            TypeMismatch,
            ReplicaUnavailable,
            MemLimitExceeded,
            VersionsCompacted,
            ChecksumMismatch,
            TabletNotFound,
            VersionNotReached,
            DataCorrupted,
            LabelAlreadyExists,
            TxnNotFound,
            TxnStateInvalid,
            QuorumNotMet,
            LoadDataInvalid,
            AccessDenied,
            PermissionDenied,
            TableAccessDenied,
            DatabaseAccessDenied,
            UserOperationFailed,
        ];
        ALL.iter().copied().find(|c| c.number() == n)
    }

    /// The MySQL error number and SQLSTATE a client sees for this code.
    pub fn mysql_error(self) -> (u16, &'static str) {
        use StatusCode::*;
        match self {
            SyntaxError => (1064, "42000"),
            DatabaseNotFound => (1049, "42000"),
            DatabaseAlreadyExists => (1007, "HY000"),
            TableNotFound => (1146, "42S02"),
            TableAlreadyExists => (1050, "42S01"),
            NoDatabaseSelected => (1046, "3D000"),
            UnknownVariable => (1193, "HY000"),
            AccessDenied => (1045, "28000"),
            PermissionDenied => (1227, "42000"),
            TableAccessDenied => (1142, "42000"),
            DatabaseAccessDenied => (1044, "42000"),
            UserOperationFailed => (1396, "HY000"),
            Unsupported => (1235, "42000"),
            LimitExceeded => (1153, "08S01"),
            Cancelled => (1317, "70100"),
            ColumnNotFound => (1054, "42S22"),
            MemLimitExceeded => (1038, "HY001"),
            // Everything else is StarRocks's generic "unknown error" class.
            _ => (1064, "HY000"),
        }
    }
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}({})", self, self.number())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip() {
        for n in 0..10_000 {
            if let Some(code) = StatusCode::from_number(n) {
                assert_eq!(code.number(), n);
            }
        }
        assert_eq!(StatusCode::from_number(7001), Some(StatusCode::NoLeader));
        assert_eq!(StatusCode::from_number(9999), None);
    }

    #[test]
    fn access_denied_is_mysql_1045() {
        assert_eq!(StatusCode::AccessDenied.mysql_error(), (1045, "28000"));
    }
}
