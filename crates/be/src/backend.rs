//! The backend's shared state.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::PoisonError;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::Error;
use common::Result;
use common::config::be::BeConfig;
use storage::StorageEngine;
use tokio::sync::Notify;

use crate::column_cache::ColumnCache;

/// What the latest accepted heartbeat said about the cluster's leader and this backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MasterInfo {
    /// This backend's id in the cluster.
    pub backend_id: i64,
    /// The leader FE's host (reports go to its rpc_port).
    pub leader_host: String,
    /// The leader FE's rpc_port.
    pub leader_rpc_port: u16,
    /// Seconds between tablet reports (0: use report_tablet_interval_seconds).
    pub report_interval_seconds: u32,
    /// The highest leader epoch (raft term) seen.
    pub epoch: u64,
}

/// A running backend.
pub struct Backend {
    /// Its configuration.
    pub config: BeConfig,
    /// The one address it listens on and advertises.
    pub address: Ipv4Addr,
    /// When it started, epoch ms.
    pub start_time_ms: i64,
    /// Its tablets.
    pub storage: Arc<StorageEngine>,
    /// Decoded columns of rowset files, for queries.
    pub column_cache: Arc<ColumnCache>,
    /// Shares the clone receive rate among this backend's clones.
    pub clone_limiter: crate::clone::CloneLimiter,
    master: Mutex<Option<MasterInfo>>,
    /// Serializes heartbeats, so checking and binding the cluster id is one step.
    pub(crate) heartbeat_lock: tokio::sync::Mutex<()>,
    /// The last heartbeat refusal logged (each distinct one is logged once).
    pub(crate) last_refusal: Mutex<Option<String>>,
    /// Set when the reporter should send a report soon (tablet change, new leader).
    pub(crate) report_dirty: AtomicBool,
    pub(crate) report_notify: Notify,
    /// Becomes true when the backend stops.
    pub shutdown: tokio::sync::watch::Sender<bool>,
    /// What `/metrics` shows.
    pub metrics: crate::metrics::BeMetrics,
}

impl Backend {
    pub(crate) fn new(config: BeConfig, address: Ipv4Addr, storage: Arc<StorageEngine>) -> Backend {
        // validate() has checked the value.
        let cache_bytes = config
            .page_cache_bytes()
            .ok()
            .and_then(|b| usize::try_from(b).ok())
            .unwrap_or(0);
        Backend {
            config,
            address,
            start_time_ms: common::clock::now_ms(),
            column_cache: Arc::new(ColumnCache::new(cache_bytes)),
            clone_limiter: Default::default(),
            storage,
            master: Mutex::new(None),
            heartbeat_lock: tokio::sync::Mutex::new(()),
            last_refusal: Mutex::new(None),
            report_dirty: AtomicBool::new(false),
            report_notify: Notify::new(),
            shutdown: tokio::sync::watch::channel(false).0,
            metrics: crate::metrics::BeMetrics::new(),
        }
    }

    /// The version string heartbeats carry.
    pub fn version() -> String {
        format!("{}-tessera", common::VERSION)
    }

    /// What the latest accepted heartbeat said, if any arrived since start.
    pub fn master(&self) -> Option<MasterInfo> {
        self.master
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn set_master(&self, info: MasterInfo) {
        *self.master.lock().unwrap_or_else(PoisonError::into_inner) = Some(info);
    }

    /// This backend's id, once a heartbeat named it.
    pub fn backend_id(&self) -> Option<i64> {
        self.master().map(|m| m.backend_id)
    }

    /// Seconds between tablet reports: the heartbeat's value, else the config's.
    pub fn report_interval(&self) -> Duration {
        let from_fe = self
            .master()
            .map(|m| m.report_interval_seconds)
            .unwrap_or(0);
        let secs = if from_fe > 0 {
            u64::from(from_fe)
        } else {
            self.config.report_tablet_interval_seconds.max(1) as u64
        };
        Duration::from_secs(secs)
    }

    /// How long a measured data size is reused.
    pub(crate) fn disk_refresh(&self) -> Duration {
        Duration::from_secs(self.config.report_disk_state_interval_seconds.max(1) as u64)
    }

    /// Asks the reporter for a report in about a second.
    pub fn request_report(&self) {
        self.report_dirty.store(true, Ordering::SeqCst);
        self.report_notify.notify_one();
    }

    /// Runs blocking storage work off the async threads.
    pub(crate) async fn blocking<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&StorageEngine) -> Result<T> + Send + 'static,
    {
        let storage = self.storage.clone();
        tokio::task::spawn_blocking(move || f(&storage))
            .await
            .map_err(|e| Error::internal(format!("storage task: {e}")))?
    }

    /// The current tablet report (the periodic report and ListTablets).
    pub async fn tablet_report(&self, backend_id: i64) -> Result<proto::TabletReport> {
        let max_age = self.disk_refresh();
        let (tablets, disks, corrupt) = self
            .blocking(move |s| Ok((s.tablets()?, s.disks(max_age)?, s.corrupt_records())))
            .await?;
        let present: std::collections::BTreeSet<i64> =
            tablets.iter().map(|t| t.meta.tablet_id).collect();
        let pending_txn_ids: std::collections::BTreeSet<i64> = tablets
            .iter()
            .flat_map(|t| t.meta.pending.iter().map(|r| r.txn_id))
            .collect();
        Ok(proto::TabletReport {
            pending_txn_ids: pending_txn_ids.into_iter().collect(),
            backend_id,
            cluster_id: self.storage.cluster_id().unwrap_or(0),
            tablets: tablets
                .into_iter()
                .map(|t| proto::TabletInfo {
                    tablet_id: t.meta.tablet_id,
                    replica_id: t.meta.replica_id,
                    table_id: t.meta.table_id,
                    partition_id: t.meta.partition_id,
                    version: t.meta.version,
                    data_size: t.data_size,
                    row_count: t.row_count,
                    state: t.meta.state.as_str().to_string(),
                })
                // A damaged metadata record: the replica is reported bad at once (replica id
                // unknown: 0 matches this backend's replica of the tablet), so the frontend
                // drops and clones it again.
                .chain(
                    corrupt
                        .into_iter()
                        .filter(|c| !present.contains(&c.tablet_id))
                        .map(|c| proto::TabletInfo {
                            tablet_id: c.tablet_id,
                            state: storage::TabletState::Corrupted.as_str().to_string(),
                            ..Default::default()
                        }),
                )
                .collect(),
            disks: disks.into_iter().map(disk_info).collect(),
            report_time_ms: common::clock::now_ms(),
        })
    }

    /// Capacity of every storage root.
    pub async fn disks(&self) -> Result<Vec<proto::DiskInfo>> {
        let max_age = self.disk_refresh();
        let disks = self.blocking(move |s| s.disks(max_age)).await?;
        Ok(disks.into_iter().map(disk_info).collect())
    }
}

fn disk_info(d: storage::DiskStat) -> proto::DiskInfo {
    proto::DiskInfo {
        root_path: d.root_path.display().to_string(),
        total_bytes: d.total_bytes,
        available_bytes: d.available_bytes,
        data_used_bytes: d.data_used_bytes,
    }
}
