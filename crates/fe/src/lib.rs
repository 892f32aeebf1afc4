//! The frontend server.
//!
//! - [`start`]: start-up (address, ports, identity, bootstrap or `--helper` join).
//! - [`frontend`]: [`Frontend`](frontend::Frontend), the state the servers share.
//! - [`mysql_server`]: the MySQL protocol on `query_port` (our own codec, crate `tessera-mysql`).
//! - [`exec`]: statement execution, one module per statement family; [`forward`]: running
//!   statements on the leader and read-your-writes; [`session`]: sessions and variables.
//! - [`services`]: FE-to-FE gRPC (join, heartbeat, leader watch, forward, read index).
//! - [`leader`]: the leader's duties (heartbeats, promoting caught-up followers).
//! - [`repair`]: the leader's tablet checker and scheduler (replica repair by clone).
//! - [`http`]: the HTTP port; [`metrics`]: what its `/metrics` shows; [`console`]: the web
//!   console on it.
//!
//! Must not depend on `storage` or `be`.

pub mod auth;
pub mod backend;
pub mod console;
pub mod debug;
pub mod exec;
pub mod forward;
pub mod frontend;
pub mod http;
pub mod leader;
pub mod metrics;
pub mod mysql_server;
pub mod outcome;
pub mod query;
pub mod repair;
pub mod services;
pub mod session;
pub mod start;
pub mod txn;

pub use start::FeHandle;
pub use start::start;
