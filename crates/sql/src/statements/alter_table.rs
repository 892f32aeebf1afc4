//! `ALTER TABLE t <op>`.

use std::fmt;

use super::table::{DistributionDesc, SinglePartition};
use super::{Ident, KvList};

/// The operation of an `ALTER TABLE`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AlterTableOp {
    /// `SET ("write_quorum" = "ONE", ...)`
    SetProperties(Vec<(String, String)>),
    /// `ADD PARTITION [IF NOT EXISTS] p VALUES ... [("k" = "v")] [DISTRIBUTED BY ...]`
    AddPartition {
        /// The new partition (its `properties` are the `("k" = "v")` list).
        partition: SinglePartition,
        /// Bucketing override for this partition.
        distribution: Option<DistributionDesc>,
    },
    /// `DROP PARTITION [IF EXISTS] p [FORCE]`
    DropPartition {
        /// Partition name.
        name: String,
        /// `IF EXISTS`
        if_exists: bool,
        /// `FORCE`: skip the recycle bin.
        force: bool,
    },
}

impl fmt::Display for AlterTableOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AlterTableOp::SetProperties(p) => write!(f, "SET {}", KvList(p)),
            AlterTableOp::AddPartition {
                partition,
                distribution,
            } => {
                write!(f, "ADD {partition}")?;
                if let Some(d) = distribution {
                    write!(f, " {d}")?;
                }
                Ok(())
            }
            AlterTableOp::DropPartition {
                name,
                if_exists,
                force,
            } => {
                f.write_str("DROP PARTITION ")?;
                if *if_exists {
                    f.write_str("IF EXISTS ")?;
                }
                write!(f, "{}", Ident(name))?;
                if *force {
                    f.write_str(" FORCE")?;
                }
                Ok(())
            }
        }
    }
}
