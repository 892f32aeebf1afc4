//! The backend's storage engine: storage roots, tablets and their metadata store.
//!
//! ```text
//! <storage_root_path entry>/
//!   lock                         held (flock) while a backend uses the root
//!   cluster_id                   the cluster this backend belongs to (written on the first heartbeat)
//!   meta/tablet_meta.redb        tablet id -> JSON TabletMeta, one redb file per root
//!   data/<tablet_id % 1024>/<tablet_id>/   the tablet's files
//! ```
//!
//! Invariants: a tablet's directory is created before its metadata is committed, and its
//! metadata is deleted before its directory is removed. So a metadata record whose directory is
//! missing is damage (reported as [`TabletState::MissingData`], nothing is deleted), and a
//! directory without a record is leftover garbage that a new create may clear.
//!
//! Everything here is synchronous file I/O: callers on an async runtime use `spawn_blocking`.

mod engine;
mod meta;
mod root;

pub use engine::CreateOutcome;
pub use engine::CreateTablet;
pub use engine::DiskStat;
pub use engine::StorageEngine;
pub use engine::TabletStatus;
pub use meta::CorruptRecord;
pub use meta::TabletMeta;
pub use meta::TabletState;
pub use root::tablet_dir_in;

#[cfg(test)]
mod tests;
