//! [`Frontend`]: the state one FE process shares between its servers and background tasks.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::AtomicU32;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::config::fe::FeConfig;
use meta::FeNode;
use meta::Journal;
use meta::NodeId;
use tokio::sync::watch;

/// A live MySQL connection, for `SHOW PROCESSLIST` and `KILL`.
#[derive(Clone, Debug)]
pub struct ConnectionInfo {
    /// The authenticated user.
    pub user: String,
    /// The client address.
    pub peer: SocketAddr,
    /// The current database.
    pub database: Option<String>,
    /// When the connection was accepted, epoch ms.
    pub connected_ms: i64,
    /// The statement running now, if any.
    pub running: Option<String>,
    /// Notified to close the connection (`KILL`).
    pub kill: std::sync::Arc<tokio::sync::Notify>,
    /// Bumped to cancel the running query (`KILL QUERY`, and `KILL`).
    pub cancel_query: std::sync::Arc<watch::Sender<u64>>,
    /// `cancel_query`'s value when the running statement began: a KILL that arrives before
    /// the query starts waiting still cancels it.
    pub query_generation: u64,
}

/// One frontend process.
pub struct Frontend {
    /// `fe.conf` as loaded (mutable keys may be overridden cluster-wide; see
    /// [`Frontend::config`]).
    pub file_config: FeConfig,
    /// The replicated journal.
    pub journal: Journal,
    /// This node as the membership knows it.
    pub node: FeNode,
    /// This node's raft id.
    pub node_id: NodeId,
    /// The cluster id.
    pub cluster_id: i32,
    /// The cluster token (handed to nodes that join).
    pub token: String,
    /// The advertised address.
    pub address: Ipv4Addr,
    /// When this process started, epoch ms (by this node's clock).
    pub start_time_ms: i64,
    next_connection_id: AtomicU32,
    connections: Mutex<BTreeMap<u32, ConnectionInfo>>,
    /// Serializes membership changes made through this FE while it leads.
    pub membership_lock: tokio::sync::Mutex<()>,
    /// Set to true to stop every task.
    pub shutdown: watch::Sender<bool>,
    /// The leader's latest heartbeat round.
    pub local_heartbeats: crate::leader::LocalHeartbeats,
    /// What the leader remembers between backend reports.
    pub reports: crate::backend::ReportState,
    /// Serializes DDL that allocates ids and creates replicas (CREATE TABLE, ADD PARTITION).
    pub ddl_lock: tokio::sync::Mutex<()>,
    /// The leader's replica repair queues.
    pub repair: crate::repair::Repair,
    /// What `/metrics` shows.
    pub metrics: crate::metrics::FeMetrics,
    /// TLS material from the `ssl_*` keys, read once at start.
    pub tls: Tls,
}

/// The frontend's TLS configs (docs/security.md, "TLS").
#[derive(Clone, Default)]
pub struct Tls {
    /// query_port (ssl_certificate_path); `None`: no TLS on the MySQL port.
    pub mysql: Option<Arc<rustls::ServerConfig>>,
    /// http_port with enable_https.
    pub http: Option<Arc<rustls::ServerConfig>>,
    /// What this node trusts when it calls a backend's HTTPS port (ssl_ca_path, else
    /// ssl_certificate_path).
    pub client: Option<Arc<rustls::ClientConfig>>,
}

impl Tls {
    /// Reads the PEM files the config names; an error names the key and the file.
    pub fn load(config: &FeConfig) -> common::Result<Tls> {
        Ok(Tls {
            mysql: config.mysql_tls()?,
            http: config.http_tls()?,
            client: config.https_client_tls()?,
        })
    }
}

impl Frontend {
    /// Assembles the shared state.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        file_config: FeConfig,
        journal: Journal,
        node: FeNode,
        cluster_id: i32,
        token: String,
        address: Ipv4Addr,
        start_time_ms: i64,
    ) -> Self {
        let node_id = journal.node_id;
        Frontend {
            file_config,
            journal,
            node,
            node_id,
            cluster_id,
            token,
            address,
            start_time_ms,
            next_connection_id: AtomicU32::new(1),
            connections: Mutex::new(BTreeMap::new()),
            membership_lock: tokio::sync::Mutex::new(()),
            shutdown: watch::channel(false).0,
            local_heartbeats: crate::leader::LocalHeartbeats::default(),
            reports: crate::backend::ReportState::default(),
            ddl_lock: tokio::sync::Mutex::new(()),
            repair: crate::repair::Repair::default(),
            metrics: crate::metrics::FeMetrics::new(),
            tls: Tls::default(),
        }
    }

    /// The effective config: `fe.conf` with the cluster-wide overrides of mutable keys.
    pub fn config(&self) -> FeConfig {
        let mut c = self.file_config.clone();
        let overrides = self
            .journal
            .state
            .read(|s| s.catalog.config_overrides.clone());
        for (k, v) in overrides {
            // Overrides were validated when set; a key that no longer parses keeps the file value.
            if let Err(e) = c.set(&k, &v) {
                tracing::warn!(key = %k, %e, "ignoring a stored config override");
            }
        }
        c
    }

    /// How long a journal write waits for a quorum.
    pub fn write_timeout(&self) -> Duration {
        Duration::from_secs(self.config().bdbje_replica_ack_timeout_second.max(1) as u64)
    }

    /// How long an RPC to another FE may take.
    pub fn rpc_timeout(&self) -> Duration {
        Duration::from_millis(self.config().thrift_rpc_timeout_ms.max(100) as u64)
    }

    /// The version string for the MySQL handshake and `@@version`.
    pub fn mysql_version(&self) -> String {
        self.config().mysql_server_version
    }

    /// The software version shown in `SHOW FRONTENDS`.
    pub fn version() -> String {
        format!("{}-tessera", common::VERSION)
    }

    /// Allocates a MySQL connection id.
    pub fn next_connection_id(&self) -> u32 {
        self.next_connection_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Number of open MySQL connections.
    pub fn connection_count(&self) -> usize {
        self.lock_connections().len()
    }

    /// Registers a connection.
    pub fn register_connection(&self, id: u32, info: ConnectionInfo) {
        self.lock_connections().insert(id, info);
    }

    /// Forgets a connection.
    pub fn unregister_connection(&self, id: u32) {
        self.lock_connections().remove(&id);
    }

    /// Records who authenticated on a connection, unless `user` already holds `max` other
    /// connections to this FE (then answers how many it holds). Checked and recorded under
    /// one lock, so simultaneous logins cannot both take the last place.
    pub fn try_set_user(&self, id: u32, user: &str, max: usize) -> std::result::Result<(), usize> {
        let mut conns = self.lock_connections();
        let held = conns
            .iter()
            .filter(|(cid, c)| **cid != id && c.user == user)
            .count();
        if held >= max {
            return Err(held);
        }
        if let Some(c) = conns.get_mut(&id) {
            c.user = user.to_string();
        }
        Ok(())
    }

    /// Records who authenticated on a connection.
    pub fn set_user(&self, id: u32, user: &str) {
        if let Some(c) = self.lock_connections().get_mut(&id) {
            c.user = user.to_string();
        }
    }

    /// Updates a connection's current statement and database.
    pub fn set_running(&self, id: u32, running: Option<String>, database: Option<String>) {
        if let Some(c) = self.lock_connections().get_mut(&id) {
            if running.is_some() {
                c.query_generation = *c.cancel_query.borrow();
            }
            // Others see this text (SHOW PROCESSLIST): never a password.
            c.running = running.map(|s| crate::auth::redact_passwords(&s));
            c.database = database;
        }
    }

    /// A receiver that changes when the connection's running query is cancelled.
    /// With the value it had when the connection's statement began.
    pub fn query_cancel(&self, id: u32) -> Option<(watch::Receiver<u64>, u64)> {
        self.lock_connections()
            .get(&id)
            .map(|c| (c.cancel_query.subscribe(), c.query_generation))
    }

    /// Cancels the query running on a connection, if any.
    pub fn cancel_query(&self, id: u32) {
        if let Some(c) = self.lock_connections().get(&id) {
            c.cancel_query.send_modify(|n| *n += 1);
        }
    }

    /// A snapshot of the open connections.
    pub fn connections(&self) -> Vec<(u32, ConnectionInfo)> {
        self.lock_connections()
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect()
    }

    fn lock_connections(&self) -> std::sync::MutexGuard<'_, BTreeMap<u32, ConnectionInfo>> {
        self.connections
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether shutdown was requested.
    pub fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }
}
