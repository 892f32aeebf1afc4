//! The backend (BE) server.
//!
//! ```text
//! heartbeat_service_port  HeartbeatService: the leader FE's heartbeats; the first one binds the
//!                         backend to its cluster (`<root>/cluster_id` in every storage root)
//! be_port                 BackendService: agent tasks (create/drop/list tablets)
//! brpc_port               BackendService too (BE-to-BE tablet writes will land here)
//! be_http_port            GET /api/health
//! reporter task           FrontendService.ReportTablets to the leader: every report interval and
//!                         ~1 s after any tablet change
//! ```
//!
//! Every BackendService request must carry this backend's cluster id in the
//! `x-tessera-cluster-id` header; a backend that no heartbeat has bound yet refuses all tasks.

mod backend;
mod heartbeat;
mod http;
mod reporter;
mod service;
mod start;

pub use backend::Backend;
pub use backend::MasterInfo;
pub use service::check_cluster_id;
pub use start::BeHandle;
pub use start::start;
