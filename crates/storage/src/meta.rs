//! The tablet metadata record.

use std::fmt;

use common::schema::TableSchema;

use crate::rowset::RowsetMeta;
use serde::Deserialize;
use serde::Serialize;

/// What a tablet's replica is usable for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TabletState {
    /// Usable.
    Normal,
    /// The metadata exists but the tablet's data directory does not (lost or removed by hand).
    MissingData,
}

impl TabletState {
    /// The name reports carry (`TabletInfo.state`).
    pub fn as_str(self) -> &'static str {
        match self {
            TabletState::Normal => "NORMAL",
            TabletState::MissingData => "MISSING_DATA",
        }
    }
}

impl fmt::Display for TabletState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A tablet replica's metadata, stored as JSON under its tablet id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TabletMeta {
    /// The tablet.
    pub tablet_id: i64,
    /// The FE's id of this replica.
    pub replica_id: i64,
    /// The table it belongs to.
    pub table_id: i64,
    /// The partition it belongs to.
    pub partition_id: i64,
    /// The table's schema when the tablet was created.
    pub schema: TableSchema,
    /// The highest version this replica holds.
    pub version: i64,
    /// When it was created, epoch ms.
    pub create_time_ms: i64,
    /// Stored as NORMAL; the engine derives MISSING_DATA when it opens the root.
    pub state: TabletState,
    /// Visible rowsets (published), by start version. The first covers `[0, create version]`.
    #[serde(default)]
    pub rowsets: Vec<RowsetMeta>,
    /// Pending rowsets (written, not yet published), one per transaction.
    #[serde(default)]
    pub pending: Vec<RowsetMeta>,
    /// Rowsets a compaction replaced: no longer on the path of the newest version, still
    /// read for older versions until `tablet_rowset_stale_sweep_time_sec` passes and no reader
    /// holds them.
    #[serde(default)]
    pub stale: Vec<StaleRowset>,
    /// The cumulative point: rowsets starting at or above it are cumulative compaction's
    /// (small, recent); those below it are base compaction's. 0 means right after the base
    /// rowset.
    #[serde(default)]
    pub cumulative_point: i64,
    /// When the last base compaction finished, epoch ms (0: never; the creation time counts).
    #[serde(default)]
    pub last_base_compaction_ms: i64,
}

/// A rowset a compaction replaced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaleRowset {
    /// The rowset, as it was.
    pub rowset: RowsetMeta,
    /// When it became stale, epoch ms.
    pub stale_since_ms: i64,
}

impl TabletMeta {
    /// Rows in the visible rowsets.
    pub fn visible_rows(&self) -> i64 {
        self.rowsets
            .iter()
            .filter(|r| r.end_version <= self.version)
            .map(|r| r.rows)
            .sum()
    }

    /// How many versions a read of the newest version goes through: the visible rowsets
    /// (StarRocks's `version_count`, which `tablet_max_versions` limits).
    pub fn version_count(&self) -> usize {
        self.rowsets.len()
    }

    /// Every file the metadata names (visible, pending and stale rowsets).
    pub fn files(&self) -> impl Iterator<Item = &str> {
        self.rowsets
            .iter()
            .chain(&self.pending)
            .chain(self.stale.iter().map(|s| &s.rowset))
            .flat_map(|r| r.files.iter().map(String::as_str))
    }

    /// The visible or stale rowset transaction `txn_id` published, if any.
    pub(crate) fn published(&self, txn_id: i64) -> Option<&RowsetMeta> {
        self.rowsets
            .iter()
            .chain(self.stale.iter().map(|s| &s.rowset))
            .find(|r| r.txn_id == txn_id)
    }
}

/// A metadata record that could not be decoded: skipped, and kept here so it can be shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorruptRecord {
    /// The record's key.
    pub tablet_id: i64,
    /// The storage root holding it.
    pub root: std::path::PathBuf,
    /// Why it did not decode.
    pub error: String,
}
