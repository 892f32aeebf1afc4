//! gRPC services and messages between Tessera nodes (generated from `proto/tessera.proto`).
//!
//! This crate holds generated code and the cluster-token guard every internal server uses
//! ([`auth`]); it depends on nothing in the workspace.

#![allow(missing_docs, clippy::all)]

tonic::include_proto!("tessera");

pub mod auth;
pub use auth::TOKEN_HEADER;

/// gRPC metadata key that carries the caller's cluster id.
pub const CLUSTER_ID_HEADER: &str = "x-tessera-cluster-id";

/// Largest gRPC message either side accepts (snapshots are chunked well below this).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;
