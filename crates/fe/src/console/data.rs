//! What the console shows, gathered from the same functions that answer `SHOW FRONTENDS`,
//! `SHOW BACKENDS`, `SHOW PROC '/statistic'`, `ADMIN SHOW REPLICA STATUS` and
//! `SHOW PROC '/tablet_scheduler'`. The HTML pages and the JSON endpoints both render these
//! structs, so they cannot disagree.
//!
//! Where the data lives:
//! - frontends and backends: the leader's view (it holds the newest heartbeat round), fetched
//!   by forwarding the SHOW statement as the MySQL front does; when the leader is unreachable
//!   this FE's journaled copy, marked as such;
//! - tables and tablets: the replicated catalog, read on this FE;
//! - repair queues: only in the leader's memory, so a non-leader forwards
//!   `SHOW PROC '/tablet_scheduler/...'` to it; when that fails the page says so and links to
//!   the leader's console instead of showing this FE's (empty) queues.

use std::collections::HashSet;
use std::sync::Arc;

use common::Error;
use common::Result;
use common::StatusCode;
use serde::Serialize;
use sql::Statement;

use crate::exec::backends::show_backends;
use crate::exec::frontends::show_frontends;
use crate::exec::repair::TableCounts;
use crate::exec::repair::show_tablet_scheduler;
use crate::exec::repair::table_counts;
use crate::frontend::Frontend;
use crate::outcome::Cell;
use crate::outcome::Outcome;
use crate::outcome::RowSet;
use crate::session::Session;

/// Which frontend's memory answered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum Source {
    /// This FE, which is the leader.
    Leader,
    /// The leader, asked by this FE.
    ForwardedToLeader,
    /// This FE's replicated copy; the leader could not be asked (the reason).
    LocalLeaderUnreachable(String),
    /// The replicated catalog on this FE.
    LocalCatalog,
}

/// Column `name` of a row.
fn col<'a>(rows: &RowSet, row: &'a [Cell], name: &str) -> Option<&'a Cell> {
    let i = rows.columns.iter().position(|(n, _)| n == name)?;
    row.get(i)
}

fn text(rows: &RowSet, row: &[Cell], name: &str) -> String {
    match col(rows, row, name) {
        Some(Cell::Text(s)) => s.clone(),
        Some(Cell::Int(v)) => v.to_string(),
        Some(Cell::Double(v)) => v.to_string(),
        Some(Cell::Null) | None => String::new(),
    }
}

fn int(rows: &RowSet, row: &[Cell], name: &str) -> i64 {
    match col(rows, row, name) {
        Some(Cell::Int(v)) => *v,
        Some(Cell::Text(s)) => s.trim().parse().unwrap_or(0),
        _ => 0,
    }
}

fn flag(rows: &RowSet, row: &[Cell], name: &str) -> bool {
    text(rows, row, name).eq_ignore_ascii_case("true")
}

fn console_session(fe: &Frontend) -> Session {
    Session::new(fe.next_connection_id(), "root", None)
}

/// How long a page waits for the leader before it shows this FE's copy (or says it cannot).
/// Forwarding alone keeps looking for a new leader for several seconds; a page should not.
const LEADER_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Runs `stmt` on the leader (this FE if it leads, else forwarded); `local` answers when this
/// FE leads, or (when `fallback`) when the leader cannot be asked.
async fn leader_rows(
    fe: &Arc<Frontend>,
    stmt: Statement,
    fallback: bool,
    local: impl Fn() -> Result<RowSet>,
) -> (Result<RowSet>, Source) {
    if fe.journal.is_leader() {
        return (local(), Source::Leader);
    }
    let mut session = console_session(fe);
    let asked = tokio::time::timeout(
        LEADER_WAIT,
        crate::forward::forward_read(fe, &mut session, &stmt),
    )
    .await
    .unwrap_or_else(|_| {
        Err(Error::new(
            StatusCode::Timeout,
            format!(
                "the leader did not answer within {} s",
                LEADER_WAIT.as_secs()
            ),
        ))
    });
    match asked {
        Ok(Outcome::Rows(r)) => (Ok(r), Source::ForwardedToLeader),
        Ok(Outcome::Ok { .. }) => (
            Err(Error::internal("the leader answered without rows")),
            Source::ForwardedToLeader,
        ),
        Err(e) if fallback => (local(), Source::LocalLeaderUnreachable(e.message)),
        Err(e) => (Err(e.clone()), Source::LocalLeaderUnreachable(e.message)),
    }
}

/// The leader as this FE knows it: (name, host, this FE's console URL for it).
#[derive(Clone, Debug, Serialize)]
pub struct LeaderRef {
    /// Its name.
    pub name: String,
    /// `host:edit_log_port`.
    pub addr: String,
    /// Its console (`http://host:http_port/console`).
    pub console_url: String,
}

/// The leader, if one is known.
pub fn leader_ref(fe: &Frontend) -> Option<LeaderRef> {
    let (_, node) = fe.journal.leader()?;
    Some(LeaderRef {
        // The leader's scheme is assumed to be this node's (enable_https is set cluster-wide).
        console_url: format!(
            "{}://{}:{}/console",
            if fe.file_config.enable_https {
                "https"
            } else {
                "http"
            },
            node.host,
            fe.file_config.http_port
        ),
        name: node.name.clone(),
        addr: node.addr(),
    })
}

/// This FE, for the page header.
#[derive(Clone, Debug, Serialize)]
pub struct SelfRef {
    /// Its name.
    pub name: String,
    /// `host:edit_log_port`.
    pub addr: String,
    /// FOLLOWER or OBSERVER (its configured role).
    pub role: String,
    /// Whether it leads now.
    pub is_leader: bool,
    /// The journal id it has replayed.
    pub journal_id: u64,
}

/// This FE.
pub fn self_ref(fe: &Frontend) -> SelfRef {
    SelfRef {
        name: fe.node.name.clone(),
        addr: fe.node.addr(),
        role: fe.node.role.as_str().to_string(),
        is_leader: fe.journal.is_leader(),
        journal_id: fe.journal.applied_index(),
    }
}

/// One row of the frontends page (`SHOW FRONTENDS`).
#[derive(Clone, Debug, Serialize)]
pub struct FrontendInfo {
    /// Name.
    pub name: String,
    /// Host.
    pub host: String,
    /// edit_log_port.
    pub edit_log_port: i64,
    /// http_port.
    pub http_port: i64,
    /// query_port.
    pub query_port: i64,
    /// LEADER, FOLLOWER or OBSERVER.
    pub role: String,
    /// Whether it leads.
    pub is_leader: bool,
    /// Whether it answers heartbeats.
    pub alive: bool,
    /// Its replayed journal id.
    pub journal_id: i64,
    /// How far it is behind the leader's journal id (None without a leader row).
    pub lag: Option<i64>,
    /// Its last heartbeat.
    pub last_heartbeat: String,
    /// Why it is not healthy, if it is not.
    pub err_msg: String,
    /// Its version.
    pub version: String,
    /// Whether it is the FE serving this page.
    pub is_self: bool,
}

/// The frontends page.
#[derive(Clone, Debug, Serialize)]
pub struct Frontends {
    /// Who answered.
    pub source: Source,
    /// The rows.
    pub frontends: Vec<FrontendInfo>,
}

/// `SHOW FRONTENDS` as the leader sees it.
pub async fn frontends(fe: &Arc<Frontend>) -> Result<Frontends> {
    let (rows, source) = leader_rows(fe, Statement::ShowFrontends, true, || {
        Ok(show_frontends(fe))
    })
    .await;
    let rows = rows?;
    let mut out: Vec<FrontendInfo> = rows
        .rows
        .iter()
        .map(|r| {
            let is_leader = flag(&rows, r, "IsMaster");
            let host = text(&rows, r, "IP");
            let edit_log_port = int(&rows, r, "EditLogPort");
            FrontendInfo {
                name: text(&rows, r, "Name"),
                is_self: host == fe.node.host && edit_log_port == i64::from(fe.node.edit_log_port),
                host,
                edit_log_port,
                http_port: int(&rows, r, "HttpPort"),
                query_port: int(&rows, r, "QueryPort"),
                role: if is_leader {
                    "LEADER".to_string()
                } else {
                    text(&rows, r, "Role")
                },
                is_leader,
                alive: flag(&rows, r, "Alive"),
                journal_id: int(&rows, r, "ReplayedJournalId"),
                lag: None,
                last_heartbeat: text(&rows, r, "LastHeartbeat"),
                err_msg: text(&rows, r, "ErrMsg"),
                version: text(&rows, r, "Version"),
            }
        })
        .collect();
    if let Some(leader_id) = out.iter().find(|f| f.is_leader).map(|f| f.journal_id) {
        for f in &mut out {
            f.lag = Some((leader_id - f.journal_id).max(0));
        }
    }
    Ok(Frontends {
        source,
        frontends: out,
    })
}

/// One row of the backends page (`SHOW BACKENDS`).
#[derive(Clone, Debug, Serialize)]
pub struct BackendInfo {
    /// Backend id.
    pub id: i64,
    /// Host.
    pub host: String,
    /// heartbeat_service_port.
    pub heartbeat_port: i64,
    /// be_http_port.
    pub http_port: i64,
    /// Whether it answers heartbeats.
    pub alive: bool,
    /// Its last successful heartbeat.
    pub last_heartbeat: String,
    /// Replicas on it.
    pub tablets: i64,
    /// Data bytes used, formatted.
    pub disk_used: String,
    /// Disk capacity, formatted.
    pub disk_total: String,
    /// Share of the disks in use.
    pub disk_used_pct: String,
    /// Being decommissioned.
    pub decommissioned: bool,
    /// Why it is not healthy, if it is not.
    pub err_msg: String,
    /// Its version.
    pub version: String,
}

/// The backends page.
#[derive(Clone, Debug, Serialize)]
pub struct Backends {
    /// Who answered.
    pub source: Source,
    /// The rows.
    pub backends: Vec<BackendInfo>,
}

/// `SHOW BACKENDS` as the leader sees it.
pub async fn backends(fe: &Arc<Frontend>) -> Result<Backends> {
    let (rows, source) =
        leader_rows(fe, Statement::ShowBackends, true, || Ok(show_backends(fe))).await;
    let rows = rows?;
    let backends = rows
        .rows
        .iter()
        .map(|r| BackendInfo {
            id: int(&rows, r, "BackendId"),
            host: text(&rows, r, "IP"),
            heartbeat_port: int(&rows, r, "HeartbeatPort"),
            http_port: int(&rows, r, "HttpPort"),
            alive: flag(&rows, r, "Alive"),
            last_heartbeat: text(&rows, r, "LastHeartbeat"),
            tablets: int(&rows, r, "TabletNum"),
            disk_used: text(&rows, r, "DataUsedCapacity"),
            disk_total: text(&rows, r, "TotalCapacity"),
            disk_used_pct: text(&rows, r, "UsedPct"),
            decommissioned: flag(&rows, r, "SystemDecommissioned"),
            err_msg: text(&rows, r, "ErrMsg"),
            version: text(&rows, r, "Version"),
        })
        .collect();
    Ok(Backends { source, backends })
}

/// One table on the tables page.
#[derive(Clone, Debug, Serialize)]
pub struct TableInfo {
    /// Database.
    pub db: String,
    /// Table.
    pub table: String,
    /// The highest replication_num of its partitions.
    pub replication_num: i64,
    /// Counts, as `SHOW PROC '/statistic'` makes them.
    #[serde(flatten)]
    pub counts: TableCounts,
}

impl TableInfo {
    /// Tablets counted healthy.
    pub fn healthy(&self) -> i64 {
        self.counts.tablets - self.counts.unhealthy
    }
}

/// The tables page.
#[derive(Clone, Debug, Serialize)]
pub struct Tables {
    /// Who answered.
    pub source: Source,
    /// Every table, by database then name.
    pub tables: Vec<TableInfo>,
}

/// Every table (optionally of one database) with its tablet counts.
pub fn tables(fe: &Arc<Frontend>, db_filter: Option<&str>) -> Result<Tables> {
    let cloning: HashSet<i64> = fe.repair.cloning().into_iter().collect();
    let config = fe.config();
    let tables = fe.journal.state.read(|s| -> Result<Vec<TableInfo>> {
        let c = &s.catalog;
        if let Some(db) = db_filter
            && !c.databases.contains_key(db)
        {
            return Err(Error::new(
                StatusCode::DatabaseNotFound,
                format!("Unknown database '{db}'"),
            ));
        }
        let cluster = crate::repair::cluster_view(
            c,
            common::clock::now_ms(),
            crate::repair::tolerate_ms(&config),
        );
        let mut buf = Vec::new();
        let mut out = Vec::new();
        for db in c.databases.values() {
            if db_filter.is_some_and(|f| f != db.name) {
                continue;
            }
            for t in db.tables.values() {
                out.push(TableInfo {
                    db: db.name.clone(),
                    table: t.name.clone(),
                    replication_num: t
                        .partitions
                        .iter()
                        .map(|p| i64::from(p.replication_num))
                        .max()
                        .unwrap_or(0),
                    counts: table_counts(c, t, &cluster, &cloning, &mut buf),
                });
            }
        }
        Ok(out)
    })?;
    Ok(Tables {
        source: Source::LocalCatalog,
        tables,
    })
}

/// One partition of a table.
#[derive(Clone, Debug, Serialize)]
pub struct PartitionInfo {
    /// Name.
    pub name: String,
    /// Visible version.
    pub visible_version: i64,
    /// When it became visible.
    pub visible_version_time: String,
    /// Buckets (tablets).
    pub buckets: i64,
    /// replication_num.
    pub replication_num: i64,
}

/// One replica of a tablet (`ADMIN SHOW REPLICA STATUS`).
#[derive(Clone, Debug, Serialize)]
pub struct ReplicaInfo {
    /// Replica id (-1: missing).
    pub replica_id: i64,
    /// Its backend (-1: missing).
    pub backend_id: i64,
    /// The backend's host ("" when unknown).
    pub backend_host: String,
    /// Its complete version.
    pub version: i64,
    /// NORMAL, CLONE, DECOMMISSION.
    pub state: String,
    /// OK, DEAD, VERSION_ERROR, MISSING.
    pub status: String,
    /// Data bytes, formatted.
    pub data_size: String,
    /// Rows.
    pub row_count: i64,
}

/// One tablet with its replicas.
#[derive(Clone, Debug, Serialize)]
pub struct TabletInfo {
    /// Tablet id.
    pub tablet_id: i64,
    /// Its partition.
    pub partition: String,
    /// The partition's visible version.
    pub visible_version: i64,
    /// HEALTHY, REPLICA_MISSING, ... (the repair checker's verdict).
    pub health: String,
    /// Whether `SHOW PROC '/statistic'` counts it healthy.
    pub healthy: bool,
    /// Replicas, then one MISSING row per replica short of replication_num.
    pub replicas: Vec<ReplicaInfo>,
}

/// The drill-down page of one table.
#[derive(Clone, Debug, Serialize)]
pub struct TableDetail {
    /// The table's counts.
    pub table: TableInfo,
    /// Its partitions.
    pub partitions: Vec<PartitionInfo>,
    /// Tablets shown (see `limit` and `only_unhealthy`).
    pub tablets: Vec<TabletInfo>,
    /// Tablets that matched before `limit` cut the list.
    pub tablets_matched: usize,
}

/// One table's partitions, tablets and replicas. `TableNotFound` for an unknown table.
pub fn table_detail(
    fe: &Arc<Frontend>,
    db: &str,
    table: &str,
    limit: usize,
    only_unhealthy: bool,
) -> Result<TableDetail> {
    let cloning: HashSet<i64> = fe.repair.cloning().into_iter().collect();
    let config = fe.config();
    fe.journal.state.read(|s| {
        let c = &s.catalog;
        let t = c.table(db, table).ok_or_else(|| {
            Error::new(
                StatusCode::TableNotFound,
                format!("Table '{db}.{table}' doesn't exist"),
            )
        })?;
        let cluster = crate::repair::cluster_view(
            c,
            common::clock::now_ms(),
            crate::repair::tolerate_ms(&config),
        );
        let mut buf = Vec::new();
        let info = TableInfo {
            db: db.to_string(),
            table: t.name.clone(),
            replication_num: t
                .partitions
                .iter()
                .map(|p| i64::from(p.replication_num))
                .max()
                .unwrap_or(0),
            counts: table_counts(c, t, &cluster, &cloning, &mut buf),
        };
        let partitions = t
            .partitions
            .iter()
            .map(|p| PartitionInfo {
                name: p.name.clone(),
                visible_version: p.visible_version,
                visible_version_time: common::clock::format_ms(p.visible_version_time_ms),
                buckets: i64::from(p.buckets),
                replication_num: i64::from(p.replication_num),
            })
            .collect();
        let mut tablets = Vec::new();
        let mut matched = 0;
        for (p, tab) in t.tablets() {
            let h = crate::repair::health_of(
                tab,
                p.visible_version,
                p.replication_num,
                &cluster,
                &mut buf,
            );
            let healthy = h.status.counts_as_healthy();
            if only_unhealthy && healthy {
                continue;
            }
            matched += 1;
            if tablets.len() >= limit {
                continue;
            }
            let mut replicas: Vec<ReplicaInfo> = tab
                .replicas
                .iter()
                .map(|r| ReplicaInfo {
                    replica_id: r.id,
                    backend_id: r.backend_id,
                    backend_host: c
                        .backends
                        .get(&r.backend_id)
                        .map(|b| b.host.clone())
                        .unwrap_or_default(),
                    version: r.version,
                    state: r.state.to_string(),
                    status: crate::repair::replica_status(c, p.visible_version, r).to_string(),
                    data_size: crate::exec::backends::format_bytes(r.data_size),
                    row_count: r.row_count,
                })
                .collect();
            for _ in tab.replicas.len()..p.replication_num as usize {
                replicas.push(ReplicaInfo {
                    replica_id: -1,
                    backend_id: -1,
                    backend_host: String::new(),
                    version: -1,
                    state: String::new(),
                    status: "MISSING".to_string(),
                    data_size: String::new(),
                    row_count: 0,
                });
            }
            tablets.push(TabletInfo {
                tablet_id: tab.id,
                partition: p.name.clone(),
                visible_version: p.visible_version,
                health: h.status.as_str().to_string(),
                healthy,
                replicas,
            });
        }
        Ok(TableDetail {
            table: info,
            partitions,
            tablets,
            tablets_matched: matched,
        })
    })
}

/// One repair task (`SHOW PROC '/tablet_scheduler/{pending,running,history}'`).
#[derive(Clone, Debug, Serialize)]
pub struct TaskInfo {
    /// Tablet id.
    pub tablet_id: i64,
    /// Database.
    pub db: String,
    /// Table.
    pub table: String,
    /// Partition.
    pub partition: String,
    /// The tablet's health when scheduled (REPLICA_MISSING, ...).
    pub status: String,
    /// PENDING, RUNNING, FINISHED, FAILED, CANCELLED, TIMEOUT, ...
    pub state: String,
    /// Priority.
    pub priority: String,
    /// Source backend id (-1: none yet).
    pub src_be: i64,
    /// Destination backend id (-1: none yet).
    pub dest_be: i64,
    /// FULL, INCREMENTAL or `\N`.
    pub clone_type: String,
    /// Bytes copied so far.
    pub bytes_copied: i64,
    /// Bytes to copy.
    pub bytes_total: i64,
    /// `12.5 %` or `\N`.
    pub progress: String,
    /// MB/s or `\N`.
    pub rate_mb_per_sec: String,
    /// Seconds left or `\N`.
    pub eta_sec: String,
    /// When queued.
    pub created: String,
    /// When done.
    pub finished: String,
    /// Failed attempts while running.
    pub failed_running: i64,
    /// Why it failed.
    pub err_msg: String,
}

fn tasks(rows: &RowSet) -> Vec<TaskInfo> {
    rows.rows
        .iter()
        .map(|r| TaskInfo {
            tablet_id: int(rows, r, "TabletId"),
            db: text(rows, r, "Database"),
            table: text(rows, r, "Table"),
            partition: text(rows, r, "Partition"),
            status: text(rows, r, "Status"),
            state: text(rows, r, "State"),
            priority: text(rows, r, "DynmPrio"),
            src_be: int(rows, r, "SrcBe"),
            dest_be: int(rows, r, "DestBe"),
            clone_type: text(rows, r, "CloneType"),
            bytes_copied: int(rows, r, "BytesCopied"),
            bytes_total: int(rows, r, "BytesTotal"),
            progress: text(rows, r, "Progress"),
            rate_mb_per_sec: text(rows, r, "Rate"),
            eta_sec: text(rows, r, "EtaSec"),
            created: text(rows, r, "Create"),
            finished: text(rows, r, "Finished"),
            failed_running: int(rows, r, "FailedRunning"),
            err_msg: text(rows, r, "ErrMsg"),
        })
        .collect()
}

/// The repair page: the leader's scheduler.
#[derive(Clone, Debug, Serialize)]
pub struct Repair {
    /// Who answered.
    pub source: Source,
    /// Why the leader's queues could not be shown (then every list is empty).
    pub error: Option<String>,
    /// Where the leader's console is, when this FE is not the leader.
    pub leader: Option<LeaderRef>,
    /// `SHOW PROC '/tablet_scheduler'`: item, value.
    pub summary: Vec<(String, String)>,
    /// Queued tasks.
    pub pending: Vec<TaskInfo>,
    /// Running clones.
    pub running: Vec<TaskInfo>,
    /// Recently finished, failed or cancelled tasks, newest first.
    pub history: Vec<TaskInfo>,
}

impl Repair {
    /// A summary item as a number.
    pub fn item(&self, name: &str) -> Option<i64> {
        self.summary
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.parse().ok())
    }
}

/// The leader's repair queues.
pub async fn repair(fe: &Arc<Frontend>) -> Repair {
    let leader = if fe.journal.is_leader() {
        None
    } else {
        leader_ref(fe)
    };
    let mut out = Repair {
        source: Source::Leader,
        error: None,
        leader,
        summary: Vec::new(),
        pending: Vec::new(),
        running: Vec::new(),
        history: Vec::new(),
    };
    for part in ["", "pending", "running", "history"] {
        let path = if part.is_empty() {
            "/tablet_scheduler".to_string()
        } else {
            format!("/tablet_scheduler/{part}")
        };
        let rest: Vec<&str> = if part.is_empty() { vec![] } else { vec![part] };
        let (rows, source) = leader_rows(fe, Statement::ShowProc { path }, false, || {
            show_tablet_scheduler(fe, &rest)
        })
        .await;
        out.source = source;
        let rows = match rows {
            Ok(r) => r,
            Err(e) => {
                out.error = Some(e.message);
                out.summary.clear();
                out.pending.clear();
                out.running.clear();
                out.history.clear();
                return out;
            }
        };
        match part {
            "" => {
                out.summary = rows
                    .rows
                    .iter()
                    .map(|r| (text(&rows, r, "Item"), text(&rows, r, "Value")))
                    .collect();
            }
            "pending" => out.pending = tasks(&rows),
            "running" => out.running = tasks(&rows),
            _ => out.history = tasks(&rows),
        }
    }
    out
}

/// The overall verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    /// Everything up, every tablet healthy, nothing to repair.
    Ok,
    /// Degraded but serving: a node down, unhealthy tablets, repairs in progress.
    Warn,
    /// Not serving: no leader, no follower quorum, no backend, or unreadable tablets.
    Error,
}

impl Level {
    /// `OK`, `WARN`, `ERROR`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "OK",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        }
    }
}

/// The numbers the verdict is made of.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct HealthInputs {
    /// A leader is known.
    pub has_leader: bool,
    /// Followers (voters or catching up), and how many are alive.
    pub followers: (usize, usize),
    /// Observers, and how many are alive.
    pub observers: (usize, usize),
    /// Backends (not decommissioned), and how many are alive.
    pub backends: (usize, usize),
    /// Tablets.
    pub tablets: i64,
    /// Unhealthy tablets.
    pub unhealthy_tablets: i64,
    /// Tablets without an OK replica.
    pub unavailable_tablets: i64,
    /// Repair tasks queued and running (None: the leader's queues are unknown).
    pub repairs: Option<(i64, i64)>,
}

/// The verdict and its reasons (each a short sentence).
pub fn verdict(h: &HealthInputs) -> (Level, Vec<String>) {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    if !h.has_leader {
        errors.push("no leader frontend: metadata changes and loads are stopped".to_string());
    }
    let (followers, followers_alive) = h.followers;
    let quorum = followers / 2 + 1;
    if followers > 0 && followers_alive < quorum {
        errors.push(format!(
            "only {followers_alive} of {followers} followers alive; a quorum needs {quorum}"
        ));
    } else if followers_alive < followers {
        warnings.push(format!(
            "{} of {followers} followers dead",
            followers - followers_alive
        ));
    }
    let (observers, observers_alive) = h.observers;
    if observers_alive < observers {
        warnings.push(format!(
            "{} of {observers} observers dead",
            observers - observers_alive
        ));
    }
    let (backends, backends_alive) = h.backends;
    if backends > 0 && backends_alive == 0 {
        errors.push(format!("none of the {backends} backends is alive"));
    } else if backends_alive < backends {
        warnings.push(format!(
            "{} of {backends} backends dead",
            backends - backends_alive
        ));
    }
    if h.unavailable_tablets > 0 {
        errors.push(format!(
            "{} tablets have no usable replica (queries on them fail)",
            h.unavailable_tablets
        ));
    }
    if h.unhealthy_tablets > 0 {
        warnings.push(format!(
            "{} of {} tablets unhealthy",
            h.unhealthy_tablets, h.tablets
        ));
    }
    match h.repairs {
        Some((pending, running)) if pending + running > 0 => {
            warnings.push(format!("repair: {pending} queued, {running} running"));
        }
        Some(_) => {}
        None if h.has_leader => {
            warnings.push("the leader's repair queues could not be read".to_string())
        }
        None => {}
    }
    if !errors.is_empty() {
        errors.extend(warnings);
        (Level::Error, errors)
    } else if !warnings.is_empty() {
        (Level::Warn, warnings)
    } else {
        (Level::Ok, Vec::new())
    }
}

/// The overview page.
#[derive(Clone, Debug, Serialize)]
pub struct Overview {
    /// OK, WARN or ERROR.
    pub level: Level,
    /// Why not OK.
    pub reasons: Vec<String>,
    /// The numbers behind it.
    pub inputs: HealthInputs,
    /// The leader.
    pub leader: Option<LeaderRef>,
    /// Frontends.
    pub frontends: Frontends,
    /// Backends.
    pub backends: Backends,
    /// Tables.
    pub tables: usize,
    /// Replicas.
    pub replicas: i64,
    /// The repair queues.
    pub repair: Repair,
}

/// Everything, summed up.
pub async fn overview(fe: &Arc<Frontend>) -> Result<Overview> {
    // Concurrently: when the leader does not answer, the page waits one LEADER_WAIT, not three.
    let (frontends, backends, repair) = tokio::join!(frontends(fe), backends(fe), repair(fe));
    let (frontends, backends) = (frontends?, backends?);
    let tables = tables(fe, None)?;
    let count = |fes: &[&FrontendInfo]| (fes.len(), fes.iter().filter(|f| f.alive).count());
    let followers: Vec<&FrontendInfo> = frontends
        .frontends
        .iter()
        .filter(|f| f.role != "OBSERVER")
        .collect();
    let observers: Vec<&FrontendInfo> = frontends
        .frontends
        .iter()
        .filter(|f| f.role == "OBSERVER")
        .collect();
    let live_bes: Vec<&BackendInfo> = backends
        .backends
        .iter()
        .filter(|b| !b.decommissioned)
        .collect();
    let sum = |f: fn(&TableCounts) -> i64| tables.tables.iter().map(|t| f(&t.counts)).sum();
    let inputs = HealthInputs {
        has_leader: fe.journal.leader().is_some(),
        followers: count(&followers),
        observers: count(&observers),
        backends: (live_bes.len(), live_bes.iter().filter(|b| b.alive).count()),
        tablets: sum(|c| c.tablets),
        unhealthy_tablets: sum(|c| c.unhealthy),
        unavailable_tablets: sum(|c| c.unavailable),
        repairs: if repair.error.is_some() {
            None
        } else {
            Some((repair.pending.len() as i64, repair.running.len() as i64))
        },
    };
    let (level, reasons) = verdict(&inputs);
    Ok(Overview {
        level,
        reasons,
        inputs,
        leader: leader_ref(fe),
        replicas: sum(|c| c.replicas),
        tables: tables.tables.len(),
        frontends,
        backends,
        repair,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn healthy() -> HealthInputs {
        HealthInputs {
            has_leader: true,
            followers: (3, 3),
            observers: (1, 1),
            backends: (3, 3),
            tablets: 10,
            unhealthy_tablets: 0,
            unavailable_tablets: 0,
            repairs: Some((0, 0)),
        }
    }

    #[test]
    fn all_up_is_ok() {
        assert_eq!(verdict(&healthy()), (Level::Ok, vec![]));
    }

    #[test]
    fn a_dead_node_or_unhealthy_tablet_warns() {
        for h in [
            HealthInputs {
                followers: (3, 2),
                ..healthy()
            },
            HealthInputs {
                observers: (1, 0),
                ..healthy()
            },
            HealthInputs {
                backends: (3, 2),
                ..healthy()
            },
            HealthInputs {
                unhealthy_tablets: 1,
                ..healthy()
            },
            HealthInputs {
                repairs: Some((0, 1)),
                ..healthy()
            },
            HealthInputs {
                repairs: None,
                ..healthy()
            },
        ] {
            let (level, reasons) = verdict(&h);
            assert_eq!(level, Level::Warn, "{h:?}");
            assert_eq!(reasons.len(), 1, "{reasons:?}");
        }
        let (_, r) = verdict(&HealthInputs {
            backends: (3, 2),
            ..healthy()
        });
        assert_eq!(r, vec!["1 of 3 backends dead".to_string()]);
    }

    #[test]
    fn losing_quorum_leader_backends_or_data_is_an_error() {
        for h in [
            HealthInputs {
                has_leader: false,
                repairs: None,
                ..healthy()
            },
            HealthInputs {
                followers: (3, 1),
                ..healthy()
            },
            HealthInputs {
                backends: (3, 0),
                ..healthy()
            },
            HealthInputs {
                unavailable_tablets: 2,
                unhealthy_tablets: 2,
                ..healthy()
            },
        ] {
            assert_eq!(verdict(&h).0, Level::Error, "{h:?}");
        }
        // Errors come first, warnings follow.
        let (_, r) = verdict(&HealthInputs {
            followers: (3, 1),
            backends: (3, 2),
            ..healthy()
        });
        assert!(r[0].contains("quorum"), "{r:?}");
        assert!(r[1].contains("backends dead"), "{r:?}");
    }

    #[test]
    fn two_of_three_followers_keep_quorum_one_of_two_does_not() {
        let h = |f| HealthInputs {
            followers: f,
            ..healthy()
        };
        assert_eq!(verdict(&h((3, 2))).0, Level::Warn);
        assert_eq!(verdict(&h((2, 1))).0, Level::Error);
        assert_eq!(verdict(&h((1, 1))).0, Level::Ok);
    }

    #[test]
    fn an_empty_cluster_without_backends_is_ok() {
        let h = HealthInputs {
            backends: (0, 0),
            tablets: 0,
            ..healthy()
        };
        assert_eq!(verdict(&h).0, Level::Ok);
    }
}
