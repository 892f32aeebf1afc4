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
//! [`StorageEngine::publish`] makes it the visible rowset `[v, v]` whatever the replica's
//! version; [`StorageEngine::abort_txn`] drops it; [`StorageEngine::read_at`] gives the files
//! of the rowsets covering `[0, v]`. The replica's version is the highest version reachable
//! from 0 through the visible rowsets without a hole: a replica that missed a load keeps
//! taking later ones (published above the hole) and stays at the version below the hole until
//! a clone fills it. A rowset file is complete (fsynced, renamed) before metadata names it, so
//! a crash leaves at most a file nobody names, removed at the next open.
//!
//! Compaction ([`StorageEngine::compact`], see the `compaction` module) merges adjacent visible
//! rowsets into one covering their versions; the inputs become *stale*: older versions stay
//! readable through them until [`StorageEngine::sweep_stale`] removes the expired ones that no
//! reader pins (a [`TabletRead`] pins the rowsets it reads). A load into a tablet with more than
//! [`StorageOptions::tablet_max_versions`] visible rowsets is refused.
//!
//! Replica repair by clone (the `clone` module), as StarRocks's clone task:
//!
//! 1. The destination asks [`StorageEngine::missing_versions`] which versions up to the
//!    partition's visible version it lacks (`None`: the tablet is absent or MISSING_DATA, so a
//!    full clone is needed).
//! 2. The source takes a [`CloneSnapshot`] ([`StorageEngine::clone_snapshot`]): incremental
//!    (the rowsets of exactly the missing versions; [`common::StatusCode::VersionsCompacted`]
//!    when compaction removed them, and the caller falls back to full) or full (the version
//!    path `[0, version]`). The snapshot pins its rowsets, like a read, while the files are
//!    copied.
//! 3. The destination's [`CloneWriter`] ([`StorageEngine::begin_clone`]) receives each file
//!    (length and CRC32 checked, fsynced, renamed under a fresh local name); no compaction of
//!    the tablet runs meanwhile.
//! 4. [`StorageEngine::finish_clone`] checks every file and installs the rowsets in one
//!    metadata commit (incremental: added where no visible rowset overlaps; full: replacing
//!    the local rowsets of `[0, snapshot version]`, which turn stale, or creating the tablet).
//!    A writer dropped before that removes its files; a crash before that leaves files no
//!    record names, removed at the next open.
//!
//! Invariants: a tablet's directory is created before its metadata is committed, and its
//! metadata is deleted before its directory is removed. So a metadata record whose directory is
//! missing is damage (reported as [`TabletState::MissingData`], nothing is deleted), and a
//! directory without a record is leftover garbage that a new create (or a full clone) may
//! clear; its rowset files are removed at the next open. Visible rowsets never overlap.
//!
//! A full disk: a write that fails with ENOSPC or EDQUOT (a load's rowset file, a clone's
//! files, a compaction's output, the metadata store) fails with
//! [`common::StatusCode::DiskFull`] naming the root, and removes what it wrote; a root at its
//! flood stage ([`FloodStage`]) refuses loads, clones and compactions before they write. A
//! metadata commit that fails leaves the tablet's metadata in memory as it was; redb refuses
//! everything after an I/O error, so the store is opened again (and made to agree with the
//! metadata in memory) before the next write, and writes work again once space is freed.
//! Reads never write.
//!
//! [`StorageEngine::checksum`] hashes a replica's rows at a version, independent of the files
//! they are in (see the `checksum` module).
//!
//! Everything here is synchronous file I/O: callers on an async runtime use `spawn_blocking`.

#![warn(missing_docs)]

mod checksum;
mod clone;
mod compaction;
mod disk;
mod engine;
mod meta;
mod root;
mod rowset;
mod types;

pub use arrow;
pub use parquet;

pub use checksum::TabletChecksum;
pub use clone::CloneOutcome;
pub use clone::CloneSnapshot;
pub use clone::CloneTarget;
pub use clone::CloneWriter;
pub use clone::SnapshotFile;
pub use compaction::CompactionKind;
pub use compaction::CompactionOutput;
pub use compaction::CompactionPolicy;
pub use compaction::CompactionResult;
pub use compaction::CompactionTask;
pub use compaction::SORT_IN_MEMORY_MAX_BYTES;
pub use disk::FloodStage;
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
pub use rowset::FileChecksum;
pub use rowset::ReadPin;
pub use rowset::RowsetBatches;
pub use rowset::RowsetEncoder;
pub use rowset::RowsetMeta;
pub use rowset::RowsetWriter;
pub use rowset::TabletRead;
#[doc(hidden)]
pub use rowset::check_parquet_bytes;
pub use rowset::verify_file;
pub use rowset::version_path;
pub use types::LARGEINT_PRECISION;
pub use types::arrow_schema;
pub use types::arrow_type;
pub use types::check_arrow_schema;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_clone;
#[cfg(test)]
mod tests_compaction;
#[cfg(test)]
mod tests_corrupt;
#[cfg(test)]
mod tests_disk;
