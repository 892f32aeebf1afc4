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
    /// A rowset file does not match the checksum recorded when it was written: nothing of the
    /// replica is served (scans and clones refuse it) until a full clone replaces it.
    Corrupted,
}

impl TabletState {
    /// The name reports carry (`TabletInfo.state`).
    pub fn as_str(self) -> &'static str {
        match self {
            TabletState::Normal => "NORMAL",
            TabletState::MissingData => "MISSING_DATA",
            TabletState::Corrupted => "CORRUPTED",
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
    /// The replica's version: the highest version reachable contiguously from 0 through the
    /// visible rowsets ([`TabletMeta::contiguous_version`]). A replica that missed a load keeps
    /// publishing later versions, so visible rowsets may lie above a hole at `version + 1`
    /// until a clone fills it.
    pub version: i64,
    /// When it was created, epoch ms.
    pub create_time_ms: i64,
    /// Stored as NORMAL; the engine derives MISSING_DATA when it opens the root.
    pub state: TabletState,
    /// Visible rowsets (published or cloned), by start version; they never overlap. The first
    /// covers `[0, create version]`. Those above a hole (`start_version > version + 1`) are
    /// not readable yet.
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

/// The start of a checksummed metadata record: this magic, the CRC32 (little-endian) of the
/// JSON that follows, then the JSON. A record that starts with `{` is one written before
/// records were checksummed, decoded as it is.
const RECORD_MAGIC: &[u8; 4] = b"TMR1";

impl TabletMeta {
    /// The bytes stored for this record: magic, CRC32 of the JSON, JSON.
    pub fn encode_record(&self) -> Result<Vec<u8>, String> {
        let json = serde_json::to_vec(self).map_err(|e| format!("encode tablet meta: {e}"))?;
        let mut out = Vec::with_capacity(json.len() + 8);
        out.extend_from_slice(RECORD_MAGIC);
        out.extend_from_slice(&crc32fast::hash(&json).to_le_bytes());
        out.extend_from_slice(&json);
        Ok(out)
    }

    /// Decodes the record stored under `key` in a root's metadata store; the error says why it
    /// is unusable (the engine then skips the tablet and reports it as corrupt).
    pub fn decode_record(key: i64, bytes: &[u8]) -> Result<TabletMeta, String> {
        let json = match bytes.strip_prefix(RECORD_MAGIC.as_slice()) {
            Some(rest) => {
                if rest.len() < 4 {
                    return Err("the record is cut short (a torn write)".into());
                }
                let (crc, json) = rest.split_at(4);
                let want = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
                let got = crc32fast::hash(json);
                if got != want {
                    return Err(format!(
                        "checksum mismatch: the record's CRC32 is {got:08x} but {want:08x} was \
                         stored with it (the bytes on disk changed)"
                    ));
                }
                json
            }
            None => bytes,
        };
        match serde_json::from_slice::<TabletMeta>(json) {
            Ok(m) if m.tablet_id == key => Ok(m),
            Ok(m) => Err(format!(
                "the record under key {key} describes tablet {}",
                m.tablet_id
            )),
            Err(e) => Err(format!("undecodable JSON: {e}")),
        }
    }

    /// Rows in the visible rowsets of the contiguous part (`[0, version]`): rowsets above a
    /// hole do not count until it is filled.
    pub fn visible_rows(&self) -> i64 {
        self.rowsets
            .iter()
            .filter(|r| r.end_version <= self.version)
            .fold(0i64, |sum, r| sum.saturating_add(r.rows))
    }

    /// The highest version reachable from 0 through the visible rowsets without a hole
    /// (-1 when no visible rowset starts at 0).
    pub fn contiguous_version(&self) -> i64 {
        contiguous_version(&self.rowsets)
    }

    /// Every single version in `0..=up_to` that no visible rowset covers, ascending.
    pub fn uncovered_versions(&self, up_to: i64) -> Vec<i64> {
        let mut ranges: Vec<(i64, i64)> = self
            .rowsets
            .iter()
            .map(|r| (r.start_version, r.end_version))
            .collect();
        ranges.sort_unstable();
        let mut out = Vec::new();
        let mut next = 0i64;
        for (start, end) in ranges {
            if next > up_to {
                break;
            }
            out.extend(next..start.min(up_to + 1));
            next = next.max(end.saturating_add(1));
        }
        if next <= up_to {
            out.extend(next..=up_to);
        }
        out
    }

    /// Whether a visible or stale rowset covers `version`.
    pub(crate) fn covers(&self, version: i64) -> bool {
        self.rowsets
            .iter()
            .chain(self.stale.iter().map(|s| &s.rowset))
            .any(|r| r.start_version <= version && version <= r.end_version)
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

/// The highest version reachable from 0 through `rowsets` (non-overlapping, any order)
/// without a hole; -1 when none starts at 0.
pub(crate) fn contiguous_version(rowsets: &[RowsetMeta]) -> i64 {
    let mut ranges: Vec<(i64, i64)> = rowsets
        .iter()
        .map(|r| (r.start_version, r.end_version))
        .collect();
    ranges.sort_unstable();
    let mut next = 0i64;
    for (start, end) in ranges {
        if start > next {
            break;
        }
        next = next.max(end.saturating_add(1));
    }
    next - 1
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
