//! Replica repair on the leader: the tablet checker and the tablet scheduler (StarRocks's
//! `TabletChecker` and `TabletScheduler`, spec section 5).
//!
//! ```text
//!  every tablet_sched_checker_interval_seconds (and at once for ADMIN REPAIR TABLE)
//!    checker: sched::health::tablet_health(replicas, backends, visible version, replication_num)
//!             unhealthy and ready (repair delay by priority) ──► pending
//!  every second
//!    scheduler: highest priority first, within per-backend clone slots
//!      REPLICA_MISSING / REPLICA_RELOCATING  source + destination ─► journal AddReplica (CLONE)
//!                                            ─► CloneTablet to the destination (full)
//!      VERSION_INCOMPLETE                    lagging replica + source ─► CloneTablet (incremental,
//!                                            the backend falls back to full by itself)
//!      REDUNDANT / FORCE_REDUNDANT           the replica to drop: DECOMMISSION state, wait for the
//!                                            loads that may use it, journal DropReplica, DropTablet
//!    clone done ─► journal FinishClone (CLONE becomes NORMAL; version; the gap is closed)
//! ```
//!
//! Decisions are the pure functions of the `sched` crate; this module gathers their inputs from
//! the catalog, keeps the queues (in the leader's memory, as StarRocks does; a new leader starts
//! from the catalog), sends the tasks and journals the outcomes. A tablet that cannot be
//! repaired (no source, no destination) is set aside with the reason, shown in
//! `SHOW PROC '/tablet_scheduler/unrepairable'`, and retried after a while instead of blocking
//! the queue.

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::MutexGuard;
use std::sync::PoisonError;
use std::time::Duration;
use std::time::Instant;

use common::Error;
use common::Result;
use common::StatusCode;
use common::config::fe::FeConfig;
use meta::JournalOp;
use meta::catalog::Catalog;
use meta::catalog::table::Replica;
use meta::catalog::table::ReplicaState;
use meta::catalog::table::Tablet;
use proto::backend_service_client::BackendServiceClient;
use sched::health::BackendView;
use sched::health::ClusterView;
use sched::health::HealthStatus;
use sched::health::Priority;
use sched::health::ReplicaStateView;
use sched::health::ReplicaView;
use sched::health::TabletHealth;
use sched::repair::BackendLoad;
use sched::repair::Choice;

use crate::frontend::Frontend;

/// How often the scheduler runs.
const SCHEDULE_EVERY: Duration = Duration::from_secs(1);
/// How often dynamic priorities are raised.
const ADJUST_PRIORITY_EVERY_MS: i64 = 20_000;
/// A partition `ADMIN REPAIR TABLE` names: (table id, partition id, db, table, partition).
pub type UrgentPartition = (i64, i64, String, String, String);

/// How long `ADMIN REPAIR TABLE` keeps partitions urgent (StarRocks: 4 hours).
pub const URGENT_FOR_MS: i64 = 4 * 3600 * 1000;

/// Where a repair is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskState {
    /// Waiting for a slot, a source or a destination.
    Pending,
    /// A clone (or a drop) is under way.
    Running,
    /// Done.
    Finished,
    /// Given up (the reason is in the error message).
    Cancelled,
    /// The clone ran out of time.
    Timeout,
}

impl TaskState {
    /// StarRocks's name.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Pending => "PENDING",
            TaskState::Running => "RUNNING",
            TaskState::Finished => "FINISHED",
            TaskState::Cancelled => "CANCELLED",
            TaskState::Timeout => "TIMEOUT",
        }
    }
}

/// One tablet's repair, as the views show it.
#[derive(Clone, Debug)]
pub struct RepairTask {
    /// The tablet.
    pub tablet_id: i64,
    /// Its database, table and partition (names) and ids.
    pub db: String,
    /// Table name.
    pub table: String,
    /// Partition name.
    pub partition: String,
    /// Table id.
    pub table_id: i64,
    /// Partition id.
    pub partition_id: i64,
    /// The health that put it in the queue (updated each time it is scheduled).
    pub status: HealthStatus,
    /// Priority when queued.
    pub orig_prio: Priority,
    /// Priority now (raised while it waits).
    pub dyn_prio: Priority,
    /// Where it is.
    pub state: TaskState,
    /// Source backend (-1: none yet).
    pub src_be: i64,
    /// Destination backend (-1: none yet).
    pub dest_be: i64,
    /// The replica being built or repaired (-1: none).
    pub dest_replica: i64,
    /// `Some(true)` full clone, `Some(false)` incremental, `None` not a clone (or not known yet).
    pub full: Option<bool>,
    /// Partition visible version when scheduled.
    pub visible_version: i64,
    /// Partition committed version when scheduled.
    pub committed_version: i64,
    /// When it was queued, epoch ms.
    pub create_ms: i64,
    /// When it was last scheduled (task sent), epoch ms.
    pub last_sched_ms: i64,
    /// When the scheduler last looked at it, epoch ms.
    pub last_visit_ms: i64,
    /// When it ended, epoch ms.
    pub finished_ms: i64,
    /// When its priority was last raised, epoch ms.
    pub last_adjust_ms: i64,
    /// Rounds it could not be scheduled.
    pub failed_sched: u32,
    /// Runs that failed.
    pub failed_running: u32,
    /// Why it waits or why it ended.
    pub err_msg: String,
    /// Clone progress: bytes copied so far.
    pub bytes_copied: i64,
    /// Clone progress: bytes to copy (0 until the source answered).
    pub bytes_total: i64,
    /// When the copy started (for the rate), epoch ms.
    pub clone_start_ms: i64,
    /// The clone's timeout, ms.
    pub timeout_ms: i64,
}

impl RepairTask {
    /// Copy rate in bytes per second (0 before the copy starts).
    pub fn rate(&self, now_ms: i64) -> f64 {
        let end = if self.finished_ms > 0 {
            self.finished_ms
        } else {
            now_ms
        };
        let ms = end - self.clone_start_ms;
        if self.clone_start_ms <= 0 || ms <= 0 {
            return 0.0;
        }
        self.bytes_copied as f64 * 1000.0 / ms as f64
    }

    /// Seconds left at the current rate, when known.
    pub fn eta_seconds(&self, now_ms: i64) -> Option<f64> {
        let rate = self.rate(now_ms);
        (self.state == TaskState::Running && rate > 0.0 && self.bytes_total > 0)
            .then(|| (self.bytes_total - self.bytes_copied).max(0) as f64 / rate)
    }
}

/// A tablet set aside because it cannot be repaired now.
#[derive(Clone, Debug)]
pub struct Unrepairable {
    /// The tablet.
    pub tablet_id: i64,
    /// Where it is.
    pub db: String,
    /// Table.
    pub table: String,
    /// Partition.
    pub partition: String,
    /// Its health.
    pub status: HealthStatus,
    /// Why it cannot be repaired.
    pub reason: String,
    /// Since when, epoch ms.
    pub since_ms: i64,
    /// Looked at again after this time, epoch ms.
    pub retry_ms: i64,
}

/// Counters of the checker and the scheduler (`SHOW PROC '/tablet_scheduler'`).
#[derive(Clone, Debug, Default)]
pub struct RepairStats {
    /// Checker passes.
    pub checker_passes: u64,
    /// When the last pass started, epoch ms.
    pub last_check_ms: i64,
    /// How long it took, ms.
    pub last_check_duration_ms: i64,
    /// Tablets it looked at.
    pub last_check_tablets: u64,
    /// Of them unhealthy.
    pub last_check_unhealthy: u64,
    /// Tablets added to the queue, ever.
    pub added: u64,
    /// Clone or drop tasks sent.
    pub scheduled: u64,
    /// Repairs finished.
    pub finished: u64,
    /// Repairs that failed or were cancelled.
    pub failed: u64,
    /// Clones that timed out.
    pub timeouts: u64,
    /// Full clones done.
    pub full_clones: u64,
    /// Incremental clones done.
    pub incremental_clones: u64,
    /// Bytes copied by finished clones.
    pub bytes_copied: i64,
    /// Redundant replicas dropped.
    pub replicas_dropped: u64,
}

#[derive(Default)]
struct State {
    /// First unhealthy sighting of each tablet the checker found unhealthy, epoch ms.
    unhealthy_since: HashMap<i64, i64>,
    pending: BTreeMap<i64, RepairTask>,
    running: BTreeMap<i64, RepairTask>,
    history: VecDeque<RepairTask>,
    unrepairable: BTreeMap<i64, Unrepairable>,
    /// ADMIN REPAIR TABLE: (table id, partition id) → (db, table, partition, until epoch ms).
    urgent: BTreeMap<(i64, i64), (String, String, String, i64)>,
    /// When each tablet last finished a full clone, epoch ms.
    last_full_clone: HashMap<i64, i64>,
    /// A replica set to DECOMMISSION before its drop: the transaction id every earlier load
    /// must have finished below.
    watermarks: HashMap<(i64, i64), i64>,
    /// Tablets whose clones failed: (failures in a row, not queued again before epoch ms).
    backoff: HashMap<i64, (u32, i64)>,
    stats: RepairStats,
    last_check: Option<Instant>,
    check_now: bool,
    last_adjust_ms: i64,
}

/// The leader's repair queues.
#[derive(Default)]
pub struct Repair {
    state: Mutex<State>,
}

/// What the views show (a copy).
#[derive(Clone, Debug, Default)]
pub struct RepairSnapshot {
    /// Waiting repairs, by priority.
    pub pending: Vec<RepairTask>,
    /// Running repairs.
    pub running: Vec<RepairTask>,
    /// Ended repairs, newest first.
    pub history: Vec<RepairTask>,
    /// Tablets set aside.
    pub unrepairable: Vec<Unrepairable>,
    /// Urgent partitions: (db, table, partition, ms left).
    pub urgent: Vec<(String, String, String, i64)>,
    /// Counters.
    pub stats: RepairStats,
}

impl Repair {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A copy of the queues for the views.
    pub fn snapshot(&self) -> RepairSnapshot {
        let s = self.lock();
        let now = common::clock::now_ms();
        let mut pending: Vec<RepairTask> = s.pending.values().cloned().collect();
        pending.sort_by(|a, b| {
            b.dyn_prio
                .cmp(&a.dyn_prio)
                .then(a.last_visit_ms.cmp(&b.last_visit_ms))
        });
        RepairSnapshot {
            pending,
            running: s.running.values().cloned().collect(),
            history: s.history.iter().rev().cloned().collect(),
            unrepairable: s.unrepairable.values().cloned().collect(),
            urgent: s
                .urgent
                .values()
                .map(|(d, t, p, until)| (d.clone(), t.clone(), p.clone(), (until - now).max(0)))
                .collect(),
            stats: s.stats.clone(),
        }
    }

    /// `ADMIN REPAIR TABLE`: the partitions are checked first and repaired at VERY_HIGH
    /// priority until they are healthy (or for 4 hours); the checker runs at once.
    pub fn add_urgent(&self, parts: Vec<crate::repair::UrgentPartition>) {
        let mut s = self.lock();
        let until = common::clock::now_ms() + URGENT_FOR_MS;
        for (table_id, partition_id, db, table, partition) in parts {
            s.urgent
                .insert((table_id, partition_id), (db, table, partition, until));
        }
        s.check_now = true;
    }

    /// `ADMIN CANCEL REPAIR TABLE`.
    pub fn cancel_urgent(&self, parts: &[(i64, i64)]) -> usize {
        let mut s = self.lock();
        parts
            .iter()
            .filter(|k| s.urgent.remove(k).is_some())
            .count()
    }

    /// The counters and the queues' lengths (pending, running), for `/metrics`.
    pub fn counts(&self) -> (RepairStats, usize, usize) {
        let s = self.lock();
        (s.stats.clone(), s.pending.len(), s.running.len())
    }

    /// Tablets with a clone under way (for `SHOW PROC '/statistic'`).
    pub fn cloning(&self) -> Vec<i64> {
        self.lock()
            .running
            .values()
            .filter(|t| t.full.is_some() || t.dest_replica > 0)
            .map(|t| t.tablet_id)
            .collect()
    }

    /// Forgets everything (this FE stopped leading; running clones finish on their own).
    fn clear(&self) {
        let mut s = self.lock();
        let stats = std::mem::take(&mut s.stats);
        *s = State::default();
        s.stats = stats;
    }

    fn finish(&self, mut task: RepairTask, state: TaskState, msg: String, history_num: usize) {
        let mut s = self.lock();
        s.running.remove(&task.tablet_id);
        s.pending.remove(&task.tablet_id);
        task.state = state;
        task.finished_ms = common::clock::now_ms();
        if !msg.is_empty() {
            task.err_msg = msg;
        }
        // A tablet whose clones keep failing waits longer each time (1 s, 2 s, 4 s ... 60 s)
        // instead of churning replicas every round.
        if task.full.is_some() {
            if state == TaskState::Finished {
                s.backoff.remove(&task.tablet_id);
            } else {
                let now = common::clock::now_ms();
                let e = s.backoff.entry(task.tablet_id).or_insert((0, now));
                e.0 = e.0.saturating_add(1);
                e.1 = now + (1000i64 << (e.0 - 1).min(6)).min(60_000);
            }
        }
        match state {
            TaskState::Finished => s.stats.finished += 1,
            TaskState::Timeout => {
                s.stats.timeouts += 1;
                s.stats.failed += 1;
            }
            _ => s.stats.failed += 1,
        }
        s.history.push_back(task);
        while s.history.len() > history_num {
            s.history.pop_front();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Views of the catalog for the sched crate.

/// The backends as the health rules see them.
pub fn cluster_view(c: &Catalog, now_ms: i64, be_down_tolerate_ms: i64) -> ClusterView {
    ClusterView {
        backends: c
            .backends
            .values()
            .map(|b| {
                (
                    b.id,
                    BackendView {
                        id: b.id,
                        host: b.host.clone(),
                        alive: b.status.alive,
                        decommissioned: b.decommissioned,
                        last_heartbeat_ms: b.status.last_heartbeat_ms,
                    },
                )
            })
            .collect(),
        now_ms,
        be_down_tolerate_ms,
    }
}

/// One replica as the health rules see it.
pub fn replica_view(r: &Replica) -> ReplicaView {
    ReplicaView {
        id: r.id,
        backend_id: r.backend_id,
        version: r.version,
        last_failed_version: r.last_failed_version,
        last_success_version: r.last_success_version,
        state: match r.state {
            ReplicaState::Normal => ReplicaStateView::Normal,
            ReplicaState::Clone => ReplicaStateView::Clone,
            ReplicaState::Decommission => ReplicaStateView::Decommission,
        },
        bad: r.bad,
        need_further_repair: false,
    }
}

/// The health of a tablet (`buf` is reused between calls).
pub fn health_of(
    tablet: &Tablet,
    visible_version: i64,
    replication_num: u16,
    cluster: &ClusterView,
    buf: &mut Vec<ReplicaView>,
) -> TabletHealth {
    buf.clear();
    buf.extend(tablet.replicas.iter().map(replica_view));
    sched::health::tablet_health(buf, visible_version, replication_num, cluster)
}

/// How long a dead backend's replicas still count, from the config.
pub fn tolerate_ms(config: &FeConfig) -> i64 {
    config
        .tablet_sched_be_down_tolerate_time_s
        .saturating_mul(1000)
}

fn backend_loads(
    c: &Catalog,
    used_slots: &HashMap<i64, u32>,
    slots_per_path: u32,
) -> Vec<BackendLoad> {
    let counts = c.replica_counts();
    c.backends
        .values()
        .map(|b| {
            let total_slots = slots_per_path * (b.status.disks.len().max(1) as u32);
            let used = used_slots.get(&b.id).copied().unwrap_or(0);
            BackendLoad {
                id: b.id,
                host: b.host.clone(),
                available: b.is_available(),
                alive: b.status.alive,
                replica_count: counts.get(&b.id).copied().unwrap_or(0),
                used_bytes: b
                    .status
                    .disks
                    .iter()
                    .map(|d| d.total_bytes - d.available_bytes)
                    .sum(),
                total_bytes: b.status.disks.iter().map(|d| d.total_bytes).sum(),
                available_bytes: b.status.disks.iter().map(|d| d.available_bytes).sum(),
                free_slots: total_slots.saturating_sub(used),
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The daemon.

/// Runs the checker and the scheduler while this FE leads.
pub async fn run(fe: Arc<Frontend>) {
    let mut shutdown = fe.shutdown.subscribe();
    let mut leading = false;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(SCHEDULE_EVERY) => {}
            _ = shutdown.changed() => return,
        }
        if fe.is_shutting_down() {
            return;
        }
        if !fe.journal.is_leader() {
            if leading {
                fe.repair.clear();
                leading = false;
            }
            continue;
        }
        leading = true;
        let config = fe.config();
        let interval =
            Duration::from_secs(config.tablet_sched_checker_interval_seconds.max(1) as u64);
        let due = {
            let mut s = fe.repair.lock();
            let due = s.check_now || s.last_check.is_none_or(|t| t.elapsed() >= interval);
            if due {
                s.check_now = false;
                s.last_check = Some(Instant::now());
            }
            due
        };
        if due {
            check(&fe, &config);
        }
        schedule(&fe, &config).await;
    }
}

/// One checker pass: every tablet's health; unhealthy tablets that are ready go to the queue.
pub fn check(fe: &Frontend, config: &FeConfig) {
    let started = Instant::now();
    let now = common::clock::now_ms();
    let max_scheduling = config.tablet_sched_max_scheduling_tablets.max(0) as usize;
    let delay_ms = config
        .tablet_sched_repair_delay_factor_second
        .saturating_mul(1000);
    let mut s = fe.repair.lock();
    s.urgent.retain(|_, v| v.3 > now);
    let busy = s.pending.len() + s.running.len();
    let urgent: std::collections::BTreeSet<(i64, i64)> = s.urgent.keys().copied().collect();
    let State {
        unhealthy_since,
        pending,
        running,
        unrepairable,
        backoff,
        stats,
        ..
    } = &mut *s;
    let (tablets, unhealthy, added) = fe.journal.state.read(|st| {
        let c = &st.catalog;
        let cluster = cluster_view(c, now, tolerate_ms(config));
        let mut buf = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let (mut tablets, mut unhealthy, mut added) = (0u64, 0u64, 0u64);
        let mut room = max_scheduling.saturating_sub(busy);
        // Urgent partitions first (ADMIN REPAIR TABLE), then everything else.
        for pass in [true, false] {
            for db in c.databases.values() {
                for t in db.tables.values() {
                    for p in &t.partitions {
                        let is_urgent = urgent.contains(&(t.id, p.id));
                        if is_urgent != pass {
                            continue;
                        }
                        for tablet in &p.tablets {
                            tablets += 1;
                            let mut h = health_of(
                                tablet,
                                p.visible_version,
                                p.replication_num,
                                &cluster,
                                &mut buf,
                            );
                            if h.status == HealthStatus::Healthy {
                                unhealthy_since.remove(&tablet.id);
                                continue;
                            }
                            if !h.status.counts_as_healthy() {
                                unhealthy += 1;
                            }
                            seen.insert(tablet.id);
                            let since = *unhealthy_since.entry(tablet.id).or_insert(now);
                            if pending.contains_key(&tablet.id) || running.contains_key(&tablet.id)
                            {
                                continue;
                            }
                            if unrepairable
                                .get(&tablet.id)
                                .is_some_and(|u| u.retry_ms > now)
                                || backoff.get(&tablet.id).is_some_and(|b| b.1 > now)
                            {
                                continue;
                            }
                            if is_urgent {
                                h.priority = Priority::VeryHigh;
                            }
                            if !sched::health::ready_to_repair(&h, since, now, delay_ms) {
                                continue;
                            }
                            if room == 0 {
                                continue;
                            }
                            room -= 1;
                            added += 1;
                            pending.insert(
                                tablet.id,
                                RepairTask {
                                    tablet_id: tablet.id,
                                    db: db.name.clone(),
                                    table: t.name.clone(),
                                    partition: p.name.clone(),
                                    table_id: t.id,
                                    partition_id: p.id,
                                    status: h.status,
                                    orig_prio: h.priority,
                                    dyn_prio: h.priority,
                                    state: TaskState::Pending,
                                    src_be: -1,
                                    dest_be: -1,
                                    dest_replica: -1,
                                    full: None,
                                    visible_version: p.visible_version,
                                    committed_version: p.next_version - 1,
                                    create_ms: now,
                                    last_sched_ms: 0,
                                    last_visit_ms: 0,
                                    finished_ms: 0,
                                    last_adjust_ms: now,
                                    failed_sched: 0,
                                    failed_running: 0,
                                    err_msg: String::new(),
                                    bytes_copied: 0,
                                    bytes_total: 0,
                                    clone_start_ms: 0,
                                    timeout_ms: 0,
                                },
                            );
                        }
                    }
                }
            }
        }
        // Tablets that are gone or healthy again leave the bookkeeping.
        unhealthy_since.retain(|id, _| seen.contains(id));
        unrepairable.retain(|id, _| seen.contains(id));
        backoff.retain(|id, _| seen.contains(id));
        (tablets, unhealthy, added)
    });
    stats.checker_passes += 1;
    stats.last_check_ms = now;
    stats.last_check_duration_ms = started.elapsed().as_millis() as i64;
    stats.last_check_tablets = tablets;
    stats.last_check_unhealthy = unhealthy;
    stats.added += added;
    // Urgent partitions whose tablets are all healthy again leave the urgent set.
    if !s.urgent.is_empty() {
        let keys: Vec<(i64, i64)> = s.urgent.keys().copied().collect();
        let healthy: Vec<(i64, i64)> = fe.journal.state.read(|st| {
            keys.into_iter()
                .filter(|(tid, pid)| {
                    let Some(p) = st
                        .catalog
                        .databases
                        .values()
                        .flat_map(|d| d.tables.values())
                        .find(|t| t.id == *tid)
                        .and_then(|t| t.partitions.iter().find(|p| p.id == *pid))
                    else {
                        return true;
                    };
                    p.tablets
                        .iter()
                        .all(|t| !s.unhealthy_since.contains_key(&t.id))
                })
                .collect()
        });
        for k in healthy {
            s.urgent.remove(&k);
        }
    }
}

/// What scheduling one task decided.
enum Step {
    /// Sent a task (or dropped a replica): it runs or ran.
    Started,
    /// Wait for the next round (slots, loads in flight); the message says why.
    Wait(String),
    /// Cannot be repaired now.
    Unrepairable(HealthStatus, String),
    /// Nothing to do any more (healthy, dropped): leaves the queue.
    Done(TaskState, String),
}

/// One scheduler round: pending tasks by priority.
async fn schedule(fe: &Arc<Frontend>, config: &FeConfig) {
    let now = common::clock::now_ms();
    let ids: Vec<i64> = {
        let mut s = fe.repair.lock();
        // Raise the priority of tasks that waited too long (every 20 s).
        if now - s.last_adjust_ms >= ADJUST_PRIORITY_EVERY_MS {
            s.last_adjust_ms = now;
            let limit = config.tablet_sched_max_not_being_scheduled_interval_ms;
            for t in s.pending.values_mut() {
                let waited_since = t.last_sched_ms.max(t.create_ms).max(t.last_adjust_ms);
                if now - waited_since >= limit {
                    let cap = if t.orig_prio == Priority::Low {
                        Priority::High
                    } else {
                        Priority::VeryHigh
                    };
                    let up = t.dyn_prio.upgraded();
                    if up <= cap {
                        t.dyn_prio = up;
                    }
                    t.last_adjust_ms = now;
                }
            }
        }
        let mut v: Vec<&RepairTask> = s.pending.values().collect();
        v.sort_by(|a, b| {
            b.dyn_prio
                .cmp(&a.dyn_prio)
                .then(a.last_visit_ms.cmp(&b.last_visit_ms))
        });
        v.into_iter().map(|t| t.tablet_id).collect()
    };
    let history_num = config.tablet_sched_history_num.max(0) as usize;
    for id in ids {
        if !fe.journal.is_leader() {
            return;
        }
        let Some(task) = fe.repair.lock().pending.get(&id).cloned() else {
            continue;
        };
        let step = match schedule_one(fe, config, task.clone()).await {
            Ok(step) => step,
            Err(e) => Step::Wait(e.message),
        };
        let now = common::clock::now_ms();
        match step {
            Step::Started => {
                fe.repair.lock().unrepairable.remove(&id);
            }
            Step::Wait(msg) => {
                let mut s = fe.repair.lock();
                if let Some(t) = s.pending.get_mut(&id) {
                    t.failed_sched += 1;
                    t.last_visit_ms = now;
                    t.err_msg = msg;
                }
            }
            Step::Unrepairable(status, reason) => {
                let mut s = fe.repair.lock();
                if s.unrepairable.get(&id).is_none_or(|u| u.reason != reason) {
                    tracing::warn!(tablet_id = id, %status, "tablet cannot be repaired now: {reason}");
                }
                s.pending.remove(&id);
                let since_ms = s.unrepairable.get(&id).map(|u| u.since_ms).unwrap_or(now);
                s.unrepairable.insert(
                    id,
                    Unrepairable {
                        tablet_id: id,
                        db: task.db.clone(),
                        table: task.table.clone(),
                        partition: task.partition.clone(),
                        status,
                        reason,
                        since_ms,
                        // Looked at again by the next checker pass.
                        retry_ms: now + 1,
                    },
                );
            }
            Step::Done(state, msg) => {
                let mut t = task;
                t.last_visit_ms = now;
                fe.repair.finish(t, state, msg, history_num);
            }
        }
    }
}

/// Where a tablet is in the catalog now.
struct Located {
    tablet: Tablet,
    visible_version: i64,
    committed_version: i64,
    replication_num: u16,
    table_id: i64,
    partition_id: i64,
    schema: Vec<u8>,
}

fn locate(c: &Catalog, tablet_id: i64) -> Option<Located> {
    let (_, t, p, tablet) = c.find_tablet(tablet_id)?;
    Some(Located {
        tablet: tablet.clone(),
        visible_version: p.visible_version,
        committed_version: p.next_version - 1,
        replication_num: p.replication_num,
        table_id: t.id,
        partition_id: p.id,
        schema: serde_json::to_vec(&t.schema).unwrap_or_default(),
    })
}

fn used_slots(s: &State) -> HashMap<i64, u32> {
    let mut used: HashMap<i64, u32> = HashMap::new();
    for t in s.running.values() {
        for be in [t.src_be, t.dest_be] {
            if be > 0 {
                *used.entry(be).or_default() += 1;
            }
        }
    }
    used
}

async fn schedule_one(fe: &Arc<Frontend>, config: &FeConfig, mut task: RepairTask) -> Result<Step> {
    let now = common::clock::now_ms();
    let (used, watermarks) = {
        let s = fe.repair.lock();
        let w: Vec<(i64, i64)> = s
            .watermarks
            .iter()
            .filter(|((t, _), _)| *t == task.tablet_id)
            .map(|((_, r), w)| (*r, *w))
            .collect();
        (used_slots(&s), w)
    };
    let slots = config.tablet_sched_slot_num_per_path.clamp(1, 64) as u32;
    let looked = fe.journal.state.read(|s| {
        let c = &s.catalog;
        let loc = locate(c, task.tablet_id)?;
        let cluster = cluster_view(c, now, tolerate_ms(config));
        let loads = backend_loads(c, &used, slots);
        let next_txn = c.next_txn_id;
        // Loads on this table that began before `w` and have not finished.
        let unfinished_below = |w: i64| {
            c.txns
                .values()
                .any(|t| t.table_id == loc.table_id && t.id < w && !t.status.is_final())
        };
        let mut buf = Vec::new();
        let h = health_of(
            &loc.tablet,
            loc.visible_version,
            loc.replication_num,
            &cluster,
            &mut buf,
        );
        let blocked: HashMap<i64, bool> = watermarks
            .iter()
            .map(|(r, w)| (*r, unfinished_below(*w)))
            .collect();
        Some((loc, cluster, loads, h, buf, next_txn, blocked))
    });
    let Some((loc, cluster, loads, h, views, next_txn, blocked)) = looked else {
        return Ok(Step::Done(
            TaskState::Cancelled,
            "the tablet's table or partition was dropped".into(),
        ));
    };
    task.status = h.status;
    match h.status {
        HealthStatus::Healthy => Ok(Step::Done(TaskState::Cancelled, "tablet is healthy".into())),
        HealthStatus::ReplicaMissing | HealthStatus::ReplicaRelocating => {
            // A CLONE replica nobody builds (its leader changed): build it now.
            let orphan = loc
                .tablet
                .replicas
                .iter()
                .find(|r| r.state == ReplicaState::Clone)
                .cloned();
            if let Some(last) = fe
                .repair
                .lock()
                .last_full_clone
                .get(&task.tablet_id)
                .copied()
            {
                let delay = config.tablet_sched_consecutive_full_clone_delay_sec * 1000;
                if now - last < delay {
                    return Ok(Step::Wait(format!(
                        "a full clone of this tablet finished {} s ago; the next waits {} s \
                         (tablet_sched_consecutive_full_clone_delay_sec)",
                        (now - last) / 1000,
                        delay / 1000
                    )));
                }
            }
            let dest = match &orphan {
                Some(r) => {
                    let free = loads.iter().find(|b| b.id == r.backend_id);
                    match free {
                        Some(b) if b.alive && b.free_slots > 0 => Choice::Chosen(r.backend_id),
                        Some(b) if b.alive => {
                            Choice::Busy(format!("backend {} has no free clone slot", b.id))
                        }
                        _ => {
                            // Its backend is gone: drop the unfinished replica first.
                            drop_replica(fe, task.tablet_id, r.id, r.backend_id).await?;
                            return Ok(Step::Wait(format!(
                                "dropped the unfinished replica {} on unavailable backend {}",
                                r.id, r.backend_id
                            )));
                        }
                    }
                }
                None => sched::repair::choose_destination(
                    &views,
                    &loads,
                    tablet_bytes(&loc.tablet),
                    f64::from(config.storage_usage_soft_limit_percent),
                ),
            };
            let dest = match dest {
                Choice::Chosen(d) => d,
                Choice::Busy(m) => return Ok(Step::Wait(m)),
                Choice::Unrepairable(u) => return Ok(Step::Unrepairable(h.status, reason(u))),
            };
            let src =
                match sched::repair::choose_source(&views, loc.visible_version, &loads, Some(dest))
                {
                    Choice::Chosen(r) => r,
                    Choice::Busy(m) => return Ok(Step::Wait(m)),
                    Choice::Unrepairable(u) => return Ok(Step::Unrepairable(h.status, reason(u))),
                };
            let replica_id = match orphan {
                Some(r) => r.id,
                None => {
                    let (_, id) = fe
                        .journal
                        .write(JournalOp::AllocateIds { count: 1 }, fe.write_timeout())
                        .await?;
                    let id = id as i64;
                    let replica = Replica {
                        id,
                        backend_id: dest,
                        version: -1,
                        last_success_version: -1,
                        // Loads committed while it is built are caught up afterwards.
                        last_failed_version: loc.committed_version.max(1),
                        last_failed_time_ms: now,
                        state: ReplicaState::Clone,
                        bad: false,
                        data_size: 0,
                        row_count: 0,
                    };
                    fe.journal
                        .write(
                            JournalOp::AddReplica {
                                tablet_id: task.tablet_id,
                                replica,
                            },
                            fe.write_timeout(),
                        )
                        .await?;
                    id
                }
            };
            task.full = Some(true);
            start_clone(fe, config, task, &loc, src, dest, replica_id, true);
            Ok(Step::Started)
        }
        HealthStatus::VersionIncomplete | HealthStatus::NeedFurtherRepair => {
            let dest =
                match sched::repair::choose_incomplete_replica(&views, loc.visible_version, &loads)
                {
                    Choice::Chosen(r) => r,
                    Choice::Busy(m) => return Ok(Step::Wait(m)),
                    Choice::Unrepairable(u) => return Ok(Step::Unrepairable(h.status, reason(u))),
                };
            let src = match sched::repair::choose_source(
                &views,
                loc.visible_version,
                &loads,
                Some(dest.backend_id),
            ) {
                Choice::Chosen(r) => r,
                Choice::Busy(m) => return Ok(Step::Wait(m)),
                Choice::Unrepairable(u) => return Ok(Step::Unrepairable(h.status, reason(u))),
            };
            task.full = Some(false);
            start_clone(fe, config, task, &loc, src, dest.backend_id, dest.id, false);
            Ok(Step::Started)
        }
        HealthStatus::Redundant | HealthStatus::ForceRedundant => {
            let Some(victim) = sched::repair::choose_redundant(
                &views,
                loc.visible_version,
                &cluster,
                &loads,
                loc.replication_num,
            ) else {
                return Ok(Step::Done(
                    TaskState::Cancelled,
                    "unable to delete any redundant replica without going below replication_num \
                     healthy replicas"
                        .into(),
                ));
            };
            let be_gone = cluster
                .backends
                .get(&victim.backend_id)
                .is_none_or(|b| !b.alive);
            let force = h.status == HealthStatus::ForceRedundant
                || config.tablet_sched_always_force_decommission_replica
                || be_gone
                || victim.state == ReplicaStateView::Clone;
            if !force {
                if victim.state != ReplicaStateView::Decommission {
                    fe.journal
                        .write(
                            JournalOp::SetReplicaState {
                                tablet_id: task.tablet_id,
                                replica_id: victim.id,
                                state: ReplicaState::Decommission,
                            },
                            fe.write_timeout(),
                        )
                        .await?;
                    fe.repair
                        .lock()
                        .watermarks
                        .insert((task.tablet_id, victim.id), next_txn);
                    return Ok(Step::Wait(format!(
                        "replica {} set to DECOMMISSION; it is dropped once the loads that \
                         began before transaction {next_txn} finished",
                        victim.id
                    )));
                }
                match blocked.get(&victim.id) {
                    None => {
                        // A new leader: wait for the loads that began before now.
                        fe.repair
                            .lock()
                            .watermarks
                            .insert((task.tablet_id, victim.id), next_txn);
                        return Ok(Step::Wait(format!(
                            "waiting for the loads that began before transaction {next_txn}"
                        )));
                    }
                    Some(true) => {
                        return Ok(Step::Wait(
                            "waiting for the loads that may still write this replica".into(),
                        ));
                    }
                    Some(false) => {}
                }
            }
            drop_replica(fe, task.tablet_id, victim.id, victim.backend_id).await?;
            {
                let mut s = fe.repair.lock();
                s.watermarks.remove(&(task.tablet_id, victim.id));
                s.stats.replicas_dropped += 1;
            }
            tracing::info!(
                tablet_id = task.tablet_id,
                replica_id = victim.id,
                backend = victim.backend_id,
                status = %h.status,
                "dropped a redundant replica"
            );
            Ok(Step::Done(
                TaskState::Finished,
                format!(
                    "dropped redundant replica {} on backend {}",
                    victim.id, victim.backend_id
                ),
            ))
        }
    }
}

fn reason(u: Unrepairable_) -> String {
    match u {
        Unrepairable_::NoSource(m) => format!("no source replica: {m}"),
        Unrepairable_::NoDestination(m) => format!("no destination backend: {m}"),
    }
}

use sched::repair::Unrepairable as Unrepairable_;

fn tablet_bytes(t: &Tablet) -> i64 {
    t.replicas.iter().map(|r| r.data_size).max().unwrap_or(0)
}

/// Removes a replica from the catalog, then from its backend (best effort: a backend that
/// is down drops it from its report later, as a tablet the catalog does not know).
async fn drop_replica(
    fe: &Arc<Frontend>,
    tablet_id: i64,
    replica_id: i64,
    backend_id: i64,
) -> Result<()> {
    fe.journal
        .write(
            JournalOp::DropReplica {
                tablet_id,
                replica_id,
            },
            fe.write_timeout(),
        )
        .await?;
    crate::backend::drop_replicas(fe, vec![(tablet_id, replica_id, backend_id)]).await;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn start_clone(
    fe: &Arc<Frontend>,
    config: &FeConfig,
    mut task: RepairTask,
    loc: &Located,
    src: ReplicaView,
    dest_be: i64,
    dest_replica: i64,
    new_replica: bool,
) {
    let now = common::clock::now_ms();
    let timeout_ms = sched::repair::clone_timeout_ms(
        tablet_bytes(&loc.tablet),
        config.tablet_sched_min_clone_task_timeout_sec,
        config.tablet_sched_max_clone_task_timeout_sec,
    );
    task.state = TaskState::Running;
    task.src_be = src.backend_id;
    task.dest_be = dest_be;
    task.dest_replica = dest_replica;
    task.visible_version = loc.visible_version;
    task.committed_version = loc.committed_version;
    task.last_sched_ms = now;
    task.last_visit_ms = now;
    task.timeout_ms = timeout_ms;
    task.clone_start_ms = now;
    task.bytes_copied = 0;
    task.bytes_total = 0;
    task.err_msg = String::new();
    {
        let mut s = fe.repair.lock();
        s.pending.remove(&task.tablet_id);
        s.running.insert(task.tablet_id, task.clone());
        s.stats.scheduled += 1;
    }
    let backends = fe.journal.state.read(|s| s.catalog.backends.clone());
    // Everything the source published, not only what is visible (see clone_target_version).
    let clone_version = sched::repair::clone_target_version(&src, loc.visible_version);
    let req = backends
        .get(&src.backend_id)
        .map(|b| proto::CloneTabletRequest {
            tablet_id: task.tablet_id,
            replica_id: dest_replica,
            table_id: loc.table_id,
            partition_id: loc.partition_id,
            schema: loc.schema.clone(),
            version: clone_version,
            src_host: b.host.clone(),
            src_brpc_port: u32::from(b.status.brpc_port),
            src_backend_id: b.id,
            backend_id: dest_be,
            rate_limit_bytes_per_sec: config
                .tablet_sched_clone_rate_limit_mb_per_sec
                .saturating_mul(1024 * 1024),
            full: false,
        });
    let dest = backends.get(&dest_be).cloned();
    let fe = fe.clone();
    let history_num = config.tablet_sched_history_num.max(0) as usize;
    tracing::info!(
        tablet_id = task.tablet_id,
        status = %task.status,
        src = src.backend_id,
        dest = dest_be,
        replica = dest_replica,
        version = clone_version,
        "clone scheduled"
    );
    tokio::spawn(async move {
        let result = match (req, dest) {
            (Some(req), Some(dest)) => {
                run_clone(
                    &fe,
                    &dest,
                    req,
                    task.tablet_id,
                    Duration::from_millis(timeout_ms as u64),
                )
                .await
            }
            _ => Err(Error::new(
                StatusCode::NodeNotFound,
                "the source or destination backend was dropped",
            )),
        };
        let tablet_id = task.tablet_id;
        // The latest progress.
        if let Some(t) = fe.repair.lock().running.get(&tablet_id) {
            task.bytes_copied = t.bytes_copied;
            task.bytes_total = t.bytes_total;
        }
        match result {
            Ok(done) => {
                let op = JournalOp::FinishClone {
                    tablet_id,
                    replica_id: dest_replica,
                    version: done.version,
                    data_size: done.data_size,
                    row_count: done.row_count,
                };
                match fe.journal.write(op, fe.write_timeout()).await {
                    Ok(_) => {
                        task.full = Some(done.full);
                        task.bytes_copied = done.bytes_copied;
                        task.bytes_total = task.bytes_total.max(done.bytes_copied);
                        {
                            let mut s = fe.repair.lock();
                            if done.full {
                                s.stats.full_clones += 1;
                                s.last_full_clone.insert(tablet_id, common::clock::now_ms());
                            } else {
                                s.stats.incremental_clones += 1;
                            }
                            s.stats.bytes_copied += done.bytes_copied;
                        }
                        let ms = (common::clock::now_ms() - task.clone_start_ms).max(0);
                        fe.metrics.clone_duration_ms.record(ms as f64);
                        let msg = format!(
                            "{} clone of {} rowsets to version {} ({} bytes in {} ms)",
                            if done.full { "full" } else { "incremental" },
                            done.rowsets,
                            done.version,
                            done.bytes_copied,
                            done.copy_ms
                        );
                        fe.repair
                            .finish(task, TaskState::Finished, msg, history_num);
                    }
                    Err(e) => {
                        task.failed_running += 1;
                        fe.repair.finish(
                            task,
                            TaskState::Cancelled,
                            format!("the clone finished but could not be journaled: {e}"),
                            history_num,
                        );
                    }
                }
            }
            Err(e) => {
                task.failed_running += 1;
                let state = if e.code == StatusCode::Timeout {
                    TaskState::Timeout
                } else {
                    TaskState::Cancelled
                };
                tracing::warn!(tablet_id, replica = dest_replica, "clone failed: {e}");
                // An unfinished new replica is removed, so the next round starts clean.
                if new_replica
                    && fe.journal.is_leader()
                    && let Err(e2) = drop_replica(&fe, tablet_id, dest_replica, dest_be).await
                {
                    tracing::warn!(tablet_id, "could not drop the unfinished replica: {e2}");
                }
                fe.repair.finish(task, state, e.message, history_num);
            }
        }
    });
}

struct CloneDone {
    version: i64,
    data_size: i64,
    row_count: i64,
    full: bool,
    bytes_copied: i64,
    copy_ms: i64,
    rowsets: i64,
}

async fn run_clone(
    fe: &Arc<Frontend>,
    dest: &meta::catalog::backend::Backend,
    req: proto::CloneTabletRequest,
    tablet_id: i64,
    timeout: Duration,
) -> Result<CloneDone> {
    let addr = dest.be_addr().ok_or_else(|| {
        Error::new(
            StatusCode::Unreachable,
            format!("backend {} has not answered a heartbeat yet", dest.id),
        )
    })?;
    let channel = fe
        .journal
        .pool
        .channel(&addr)
        .map_err(|e| Error::new(StatusCode::Unreachable, e))?;
    let mut client = BackendServiceClient::new(channel)
        .max_decoding_message_size(proto::MAX_MESSAGE_BYTES)
        .max_encoding_message_size(proto::MAX_MESSAGE_BYTES);
    let work = async {
        let mut stream = client
            .clone_tablet(fe.journal.pool.request(req, timeout))
            .await
            .map_err(|s| {
                Error::new(
                    StatusCode::Unreachable,
                    format!("backend {} ({}): {}", dest.id, dest.host, s.message()),
                )
            })?
            .into_inner();
        loop {
            let msg = stream.message().await.map_err(|s| {
                Error::new(
                    StatusCode::Unreachable,
                    format!(
                        "backend {} ({}) stopped the clone: {}",
                        dest.id,
                        dest.host,
                        s.message()
                    ),
                )
            })?;
            let Some(p) = msg else {
                return Err(Error::new(
                    StatusCode::Unreachable,
                    format!("backend {} ended the clone without a result", dest.id),
                ));
            };
            if let Some(t) = fe.repair.lock().running.get_mut(&tablet_id) {
                t.bytes_copied = p.bytes_copied;
                t.bytes_total = p.bytes_total;
            }
            if !p.done {
                continue;
            }
            if !p.ok {
                return Err(Error::new(
                    StatusCode::from_number(p.error_code).unwrap_or(StatusCode::Internal),
                    format!("backend {}: {}", dest.id, p.error),
                ));
            }
            return Ok(CloneDone {
                version: p.version,
                data_size: p.data_size,
                row_count: p.row_count,
                full: p.full,
                bytes_copied: p.bytes_copied,
                copy_ms: p.copy_ms,
                rowsets: p.rowsets,
            });
        }
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(r) => r,
        Err(_) => Err(Error::new(
            StatusCode::Timeout,
            format!("the clone did not finish within {} s", timeout.as_secs()),
        )),
    }
}

/// Which replicas of a tablet are what, for `ADMIN SHOW REPLICA STATUS` (spec 5.10): DEAD,
/// VERSION_ERROR, OK.
pub fn replica_status(c: &Catalog, visible_version: i64, r: &Replica) -> &'static str {
    let be_ok = c
        .backends
        .get(&r.backend_id)
        .is_some_and(|b| b.is_available());
    if !be_ok || r.bad {
        "DEAD"
    } else if r.version < visible_version || r.last_failed_version > 0 {
        "VERSION_ERROR"
    } else {
        "OK"
    }
}
