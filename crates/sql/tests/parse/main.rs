//! Parser tests: one test per statement form, each also checking that the
//! statement's `Display` parses back to an equal AST.

#![allow(clippy::unwrap_used)]

mod common;

mod account;
mod cluster;
mod ddl;
mod errors;
mod load_and_replicas;
mod queries;
mod robustness;
mod session;
