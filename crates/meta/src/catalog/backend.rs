//! Backends (BEs) as the catalog knows them.

use serde::Deserialize;
use serde::Serialize;

/// One storage root of a backend, from its heartbeat.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskState {
    /// The root path.
    pub root_path: String,
    /// Disk size.
    pub total_bytes: i64,
    /// Free bytes.
    pub available_bytes: i64,
    /// Bytes of tablet data.
    pub data_used_bytes: i64,
}

/// What the leader's heartbeats know about a backend.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackendStatus {
    /// Answered recently enough (see `heartbeat_retry_times`).
    pub alive: bool,
    /// be_port, from the heartbeat.
    pub be_port: u16,
    /// be_http_port.
    pub http_port: u16,
    /// be_http_port serves HTTPS (enable_https on the backend).
    #[serde(default)]
    pub https: bool,
    /// brpc_port.
    pub brpc_port: u16,
    /// When the BE (re)started or first became alive, epoch ms.
    pub last_start_time_ms: i64,
    /// Last successful heartbeat, epoch ms.
    pub last_heartbeat_ms: i64,
    /// Last heartbeat error.
    pub err_msg: String,
    /// Software version.
    pub version: String,
    /// Consecutive failed heartbeats.
    pub failures: u32,
    /// Storage roots.
    pub disks: Vec<DiskState>,
    /// When the BE last reported its tablets, epoch ms.
    pub last_report_ms: i64,
}

/// A backend.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backend {
    /// Catalog id.
    pub id: i64,
    /// Registered host.
    pub host: String,
    /// heartbeat_service_port.
    pub heartbeat_port: u16,
    /// `ALTER SYSTEM DECOMMISSION BACKEND` was run.
    pub decommissioned: bool,
    /// Heartbeat-derived state.
    pub status: BackendStatus,
}

impl Backend {
    /// Alive and not decommissioned: may receive new replicas.
    pub fn is_available(&self) -> bool {
        self.status.alive && !self.decommissioned
    }

    /// `host:heartbeat_port`.
    pub fn addr(&self) -> String {
        format!("{}:{}", self.host, self.heartbeat_port)
    }

    /// `host:be_port` for agent tasks, when known.
    pub fn be_addr(&self) -> Option<String> {
        (self.status.be_port > 0).then(|| format!("{}:{}", self.host, self.status.be_port))
    }
}
