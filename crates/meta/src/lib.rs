//! The FE's replicated journal: the catalog state machine on openraft with a redb log.
//!
//! - [`types`]: raft type config; [`FeNode`](types::FeNode) is a frontend in the membership.
//! - [`journal_op`]: [`JournalOp`](journal_op::JournalOp), one catalog change.
//! - [`catalog`]: [`Catalog`](catalog::Catalog), the state every FE rebuilds by replay.
//! - [`log_store`]: the raft log on redb (fsync before acknowledging).
//! - [`state_machine`] and [`image`]: applying entries; checkpoint images with checksums.
//! - [`network`], [`raft_service`], [`rpc`]: raft over gRPC with cluster-id checks.
//! - [`failover`]: noticing a crashed leader at once.
//! - [`journal`]: [`Journal`](journal::Journal), the handle the FE uses.
//! - [`meta_dir`]: the VERSION and ROLE files.
//!
//! This crate must not depend on datafusion or arrow.

pub mod catalog;
#[cfg(test)]
mod conformance;
pub mod failover;
pub mod image;
pub mod journal;
pub mod journal_op;
pub mod log_store;
pub mod meta_dir;
pub mod network;
pub mod raft_service;
pub mod rpc;
pub mod state_machine;
pub mod types;

pub use journal::Journal;
pub use journal::JournalConfig;
pub use journal_op::JournalOp;
pub use types::FeNode;
pub use types::FrontendRole;
pub use types::NodeId;
