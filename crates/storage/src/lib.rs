//! The backend's storage engine: storage roots, tablets and their metadata store.
//!
//! ```text
//! <storage_root_path entry>/
//!   lock                         held (flock) while a backend uses the root
//!   cluster_id                   the cluster this backend belongs to (written on the first heartbeat)
//!   meta/tablet_meta.redb        tablet id -> JSON TabletMeta, one redb file per root
//!   data/<tablet_id % 1024>/<tablet_id>/   the tablet's files
//!     <rowset_id>_0.parquet      a rowset's data (LZ4-compressed Parquet)
//!     <rowset_id>_0.parquet.tmp  a rowset file being written
//! ```
//!
//! A tablet replica has a visible version and rowsets covering version ranges (its metadata
//! record lists them, and the *pending* rowsets of loads not yet published). A load writes a
//! pending rowset ([`StorageEngine::rowset_writer`], [`StorageEngine::commit_rowset`]);
//! [`StorageEngine::publish`] makes it version `v` when the replica is at `v - 1`;
//! [`StorageEngine::abort_txn`] drops it; [`StorageEngine::read_at`] gives the files of the
//! rowsets covering `[0, v]`. A rowset file is complete (fsynced, renamed) before metadata
//! names it, so a crash leaves at most a file nobody names, removed at the next open.
//!
//! Compaction ([`StorageEngine::compact`], see the `compaction` module) merges adjacent visible
//! rowsets into one covering their versions; the inputs become *stale*: older versions stay
//! readable through them until [`StorageEngine::sweep_stale`] removes the expired ones that no
//! reader pins (a [`TabletRead`] pins the rowsets it reads). A load into a tablet with more than
//! [`StorageOptions::tablet_max_versions`] visible rowsets is refused.
//!
//! Invariants: a tablet's directory is created before its metadata is committed, and its
//! metadata is deleted before its directory is removed. So a metadata record whose directory is
//! missing is damage (reported as [`TabletState::MissingData`], nothing is deleted), and a
//! directory without a record is leftover garbage that a new create may clear.
//!
//! Everything here is synchronous file I/O: callers on an async runtime use `spawn_blocking`.

mod compaction;
mod engine;
mod meta;
mod root;
mod rowset;
mod types;

pub use arrow;
pub use parquet;

pub use compaction::CompactionKind;
pub use compaction::CompactionOutput;
pub use compaction::CompactionPolicy;
pub use compaction::CompactionResult;
pub use compaction::CompactionTask;
pub use compaction::SORT_IN_MEMORY_MAX_BYTES;
pub use engine::CreateOutcome;
pub use engine::CreateTablet;
pub use engine::DiskStat;
pub use engine::StorageEngine;
pub use engine::StorageOptions;
pub use engine::TabletStatus;
pub use meta::CorruptRecord;
pub use meta::StaleRowset;
pub use meta::TabletMeta;
pub use meta::TabletState;
pub use root::tablet_dir_in;
pub use rowset::ReadPin;
pub use rowset::RowsetBatches;
pub use rowset::RowsetEncoder;
pub use rowset::RowsetMeta;
pub use rowset::RowsetWriter;
pub use rowset::TabletRead;
pub use rowset::version_path;
pub use types::LARGEINT_PRECISION;
pub use types::arrow_schema;
pub use types::arrow_type;
pub use types::check_arrow_schema;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_compaction;
