//! Tables, partitions, tablets and replicas.

use std::fmt;

use common::schema::DataType;
use common::schema::TableSchema;
use serde::Deserialize;
use serde::Serialize;

/// How many replicas of a tablet must accept a load.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum WriteQuorum {
    /// replication_num / 2 + 1.
    #[default]
    Majority,
    /// One replica.
    One,
    /// Every replica.
    All,
}

impl WriteQuorum {
    /// Parses MAJORITY/ONE/ALL (any case).
    pub fn parse(s: &str) -> Option<WriteQuorum> {
        match s.to_ascii_uppercase().as_str() {
            "MAJORITY" => Some(WriteQuorum::Majority),
            "ONE" => Some(WriteQuorum::One),
            "ALL" => Some(WriteQuorum::All),
            _ => None,
        }
    }

    /// The number of replicas a load needs, for `replication_num` replicas.
    pub fn quorum(self, replication_num: u16) -> u16 {
        match self {
            WriteQuorum::Majority => replication_num / 2 + 1,
            WriteQuorum::One => 1,
            WriteQuorum::All => replication_num,
        }
    }
}

impl fmt::Display for WriteQuorum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WriteQuorum::Majority => "MAJORITY",
            WriteQuorum::One => "ONE",
            WriteQuorum::All => "ALL",
        })
    }
}

pub use common::schema::PartitionValue;

/// One bound of a partition range, with the text the user wrote (for SHOW).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionBound {
    /// The comparable value.
    pub value: PartitionValue,
    /// The canonical text (e.g. `2024-01-01`).
    pub text: String,
}

/// A partition's range `[lower, upper)`; `None` is MIN (lower) or MAXVALUE (upper).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionRange {
    /// Inclusive lower bound.
    pub lower: Option<PartitionBound>,
    /// Exclusive upper bound.
    pub upper: Option<PartitionBound>,
}

impl PartitionRange {
    /// Whether two ranges share any value.
    pub fn overlaps(&self, other: &PartitionRange) -> bool {
        let below =
            |upper: &Option<PartitionBound>, lower: &Option<PartitionBound>| match (upper, lower) {
                (Some(u), Some(l)) => u.value <= l.value,
                _ => false,
            };
        !(below(&self.upper, &other.lower) || below(&other.upper, &self.lower))
    }
}

/// The state of a replica (StarRocks's ReplicaState).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum ReplicaState {
    /// Serves loads and queries.
    #[default]
    Normal,
    /// Being built by a clone.
    Clone,
    /// Being dropped.
    Decommission,
}

impl fmt::Display for ReplicaState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReplicaState::Normal => "NORMAL",
            ReplicaState::Clone => "CLONE",
            ReplicaState::Decommission => "DECOMMISSION",
        })
    }
}

/// A copy of a tablet on one backend.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replica {
    /// Catalog id.
    pub id: i64,
    /// Where it lives.
    pub backend_id: i64,
    /// The highest version known complete on it.
    pub version: i64,
    /// The last version it loaded successfully (-1 before any).
    pub last_success_version: i64,
    /// The highest version it is known to miss (-1: none).
    pub last_failed_version: i64,
    /// When it last failed, epoch ms (0: never).
    pub last_failed_time_ms: i64,
    /// State.
    pub state: ReplicaState,
    /// Marked bad (not usable until repaired).
    pub bad: bool,
    /// Bytes of data, from reports.
    pub data_size: i64,
    /// Rows, from reports.
    pub row_count: i64,
}

/// A bucket of a partition, replicated `replication_num` times.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tablet {
    /// Catalog id.
    pub id: i64,
    /// Its replicas.
    pub replicas: Vec<Replica>,
}

/// A partition of a table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partition {
    /// Catalog id.
    pub id: i64,
    /// Name (the table's name for an unpartitioned table).
    pub name: String,
    /// Range, for a range-partitioned table.
    pub range: Option<PartitionRange>,
    /// The version queries read.
    pub visible_version: i64,
    /// When it became visible, epoch ms.
    pub visible_version_time_ms: i64,
    /// The version the next committed load takes.
    pub next_version: i64,
    /// Buckets (tablets).
    pub buckets: u32,
    /// Replicas per tablet.
    pub replication_num: u16,
    /// The tablets, in bucket order.
    pub tablets: Vec<Tablet>,
}

/// Range partitioning.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangePartitioning {
    /// The partition column.
    pub column: String,
    /// Its type.
    pub data_type: DataType,
}

/// A table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    /// Catalog id.
    pub id: i64,
    /// Name (case-sensitive).
    pub name: String,
    /// The base index id (StarRocks's materialized index of the base schema).
    pub index_id: i64,
    /// Schema.
    pub schema: TableSchema,
    /// Range partitioning, or `None` for a single partition.
    pub partitioning: Option<RangePartitioning>,
    /// Partitions (ordered by range).
    pub partitions: Vec<Partition>,
    /// Replicas per tablet for new partitions.
    pub replication_num: u16,
    /// Write quorum.
    pub write_quorum: WriteQuorum,
    /// `replicated_storage` property.
    pub replicated_storage: bool,
    /// COMMENT.
    pub comment: String,
    /// Creation time, epoch ms.
    pub create_time_ms: i64,
}

impl Table {
    /// Every tablet with its partition.
    pub fn tablets(&self) -> impl Iterator<Item = (&Partition, &Tablet)> {
        self.partitions
            .iter()
            .flat_map(|p| p.tablets.iter().map(move |t| (p, t)))
    }

    /// A partition by name (case-insensitive, as StarRocks).
    pub fn partition(&self, name: &str) -> Option<&Partition> {
        self.partitions
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(v: i128) -> Option<PartitionBound> {
        Some(PartitionBound {
            value: PartitionValue::Int(v),
            text: v.to_string(),
        })
    }

    #[test]
    fn quorum_counts() {
        assert_eq!(WriteQuorum::Majority.quorum(3), 2);
        assert_eq!(WriteQuorum::Majority.quorum(1), 1);
        assert_eq!(WriteQuorum::Majority.quorum(4), 3);
        assert_eq!(WriteQuorum::One.quorum(3), 1);
        assert_eq!(WriteQuorum::All.quorum(3), 3);
        assert_eq!(WriteQuorum::parse("majority"), Some(WriteQuorum::Majority));
        assert_eq!(WriteQuorum::parse("most"), None);
    }

    #[test]
    fn ranges_overlap() {
        let r = |l, u| PartitionRange { lower: l, upper: u };
        assert!(!r(None, b(10)).overlaps(&r(b(10), b(20))));
        assert!(r(None, b(11)).overlaps(&r(b(10), b(20))));
        assert!(r(b(5), None).overlaps(&r(b(10), b(20))));
        assert!(!r(b(20), None).overlaps(&r(b(10), b(20))));
    }
}
