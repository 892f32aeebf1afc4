//! The backend (BE) server.
//!
//! ```text
//! heartbeat_service_port  HeartbeatService: the leader FE's heartbeats; the first one binds the
//!                         backend to its cluster (`<root>/cluster_id` in every storage root)
//! be_port                 BackendService: agent tasks (create/drop/list tablets, publish, abort,
//!                         clone)
//! brpc_port               BackendService too: tablet writes (WriteTablet) from load coordinators,
//!                         snapshots for clones (FetchSnapshot) from other backends
//! be_http_port            GET /api/health, PUT /api/{db}/{table}/_stream_load (this backend
//!                         coordinates the load: see [`load`]), GET /api/_load_error_log,
//!                         GET /api/checksum (a replica's rows at a version, hashed),
//!                         GET /metrics (Prometheus text format: see [`metrics`])
//! reporter task           FrontendService.ReportTablets to the leader: every report interval and
//!                         ~1 s after any tablet change
//! compaction task         cumulative and base compaction of the tablets that need it, and the
//!                         sweep of stale rowsets (see `compaction`)
//! ```
//!
//! Every BackendService request must carry this backend's cluster id in the
//! `x-tessera-cluster-id` header; a backend that no heartbeat has bound yet refuses all tasks.

mod backend;
pub mod clone;
pub mod column_cache;
mod compaction;
mod flight;
mod heartbeat;
mod http;
pub mod load;
pub mod metrics;
mod reporter;
pub mod rowset_scan;
mod service;
mod start;
mod tablet_writer;

pub use backend::Backend;
pub use backend::MasterInfo;
pub use service::check_cluster_id;
pub use start::BeHandle;
pub use start::start;
