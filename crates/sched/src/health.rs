//! Tablet health: how far a tablet's replicas are from "`replication_num` complete copies on
//! distinct, available hosts", and how urgently that must be repaired.
//!
//! This is StarRocks's `LocalTablet.getHealthStatusWithPriority` (non-colocate tables) and
//! `readyToBeRepaired`. [`tablet_health`] is evaluated for every tablet on every checker pass,
//! so it allocates nothing and only walks the backend map when a rule actually needs a
//! cluster-wide count.

use std::collections::BTreeMap;
use std::fmt;

/// Health of one tablet (StarRocks's `TabletHealthStatus`, colocate values left out).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HealthStatus {
    /// `replication_num` alive, version-complete replicas on available backends, no extra.
    Healthy,
    /// Fewer alive replicas than `replication_num`: clone a new one onto another backend.
    ReplicaMissing,
    /// Enough alive replicas, but too few with every version: repair a lagging one in place.
    VersionIncomplete,
    /// Complete, but some complete replicas sit on decommissioned backends: copy them away.
    ReplicaRelocating,
    /// More replicas than `replication_num`: drop one.
    Redundant,
    /// No backend is free for a new copy: drop a broken replica first to make room.
    ForceRedundant,
    /// A redundant-type tablet whose freshly cloned replica is still behind: finish that first.
    NeedFurtherRepair,
}

impl HealthStatus {
    /// StarRocks's name, as shown by `SHOW PROC '/cluster_balance'`.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Healthy => "HEALTHY",
            HealthStatus::ReplicaMissing => "REPLICA_MISSING",
            HealthStatus::VersionIncomplete => "VERSION_INCOMPLETE",
            HealthStatus::ReplicaRelocating => "REPLICA_RELOCATING",
            HealthStatus::Redundant => "REDUNDANT",
            HealthStatus::ForceRedundant => "FORCE_REDUNDANT",
            HealthStatus::NeedFurtherRepair => "NEED_FURTHER_REPAIR",
        }
    }

    /// Whether `SHOW PROC '/statistic'` counts the tablet as healthy: HEALTHY, REDUNDANT and
    /// NEED_FURTHER_REPAIR do (the data is all there), the rest are "unhealthy".
    pub fn counts_as_healthy(self) -> bool {
        matches!(
            self,
            HealthStatus::Healthy | HealthStatus::Redundant | HealthStatus::NeedFurtherRepair
        )
    }

    /// Whether the repair clones from a healthy source replica, so that the checker should not
    /// queue the tablet when it has none.
    pub fn needs_source(self) -> bool {
        matches!(
            self,
            HealthStatus::ReplicaMissing
                | HealthStatus::VersionIncomplete
                | HealthStatus::ReplicaRelocating
                | HealthStatus::NeedFurtherRepair
        )
    }
}

impl fmt::Display for HealthStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Repair priority (StarRocks's `TabletSchedCtx.Priority`), ordered `Low < Normal < High <
/// VeryHigh`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// Relocation with a majority of stable replicas left.
    Low,
    /// Something is missing but a majority is fine.
    Normal,
    /// Below a majority: loads may start failing.
    High,
    /// Redundant replicas (free space quickly) and urgent (`ADMIN REPAIR`) partitions.
    VeryHigh,
}

impl Priority {
    /// StarRocks's name: `LOW`, `NORMAL`, `HIGH`, `VERY_HIGH`.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "LOW",
            Priority::Normal => "NORMAL",
            Priority::High => "HIGH",
            Priority::VeryHigh => "VERY_HIGH",
        }
    }

    /// One step up, saturating at `VeryHigh` (the scheduler's dynamic priority bump for tasks
    /// left unscheduled too long).
    pub fn upgraded(self) -> Priority {
        match self {
            Priority::Low => Priority::Normal,
            Priority::Normal => Priority::High,
            Priority::High | Priority::VeryHigh => Priority::VeryHigh,
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A replica's metadata state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReplicaStateView {
    /// Serving reads and loads.
    Normal,
    /// Being created by a clone task; not usable yet.
    Clone,
    /// Being dropped (waiting for older transactions to finish); takes no new loads.
    Decommission,
}

/// One replica of a tablet as health and repair see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicaView {
    /// Replica id.
    pub id: i64,
    /// Backend holding it.
    pub backend_id: i64,
    /// Highest version it holds completely.
    pub version: i64,
    /// Highest version it is known to miss; `-1` (any value `<= 0`) when none.
    pub last_failed_version: i64,
    /// Last version it loaded successfully.
    pub last_success_version: i64,
    /// Metadata state.
    pub state: ReplicaStateView,
    /// Marked bad (corrupt, or by `ADMIN SET REPLICA STATUS`).
    pub bad: bool,
    /// Cloned by a balance task and still behind the visible version.
    pub need_further_repair: bool,
}

/// A backend as health evaluation sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendView {
    /// Backend id.
    pub id: i64,
    /// Host: at most one replica of a tablet per host counts.
    pub host: String,
    /// Answering heartbeats now.
    pub alive: bool,
    /// Being decommissioned: may still serve and be a clone source, takes no new replicas.
    pub decommissioned: bool,
    /// Last successful heartbeat, epoch milliseconds; 0 = never.
    pub last_heartbeat_ms: i64,
}

/// The cluster as health evaluation sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterView {
    /// Every backend that exists, by id; a replica whose backend is absent is on a dropped one.
    pub backends: BTreeMap<i64, BackendView>,
    /// Evaluation time, epoch milliseconds.
    pub now_ms: i64,
    /// How long a dead backend's replicas still count as alive
    /// (`tablet_sched_be_down_tolerate_time_s`, 900 s by default), in milliseconds.
    pub be_down_tolerate_ms: i64,
}

impl ClusterView {
    /// Alive backends, decommissioned ones included ("#alive BEs").
    pub fn alive_count(&self) -> usize {
        self.backends.values().filter(|b| b.alive).count()
    }

    /// Alive and not decommissioned backends ("#available BEs"): those that can take a replica.
    pub fn available_count(&self) -> usize {
        self.backends
            .values()
            .filter(|b| b.alive && !b.decommissioned)
            .count()
    }

    /// Whether backend `id` exists, is alive and is not decommissioned.
    pub fn is_available(&self, id: i64) -> bool {
        self.backends
            .get(&id)
            .is_some_and(|b| b.alive && !b.decommissioned)
    }
}

/// A tablet's health and the priority of repairing it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TabletHealth {
    /// What is wrong, if anything.
    pub status: HealthStatus,
    /// How urgent the repair is (`Normal` for a healthy tablet, as in StarRocks).
    pub priority: Priority,
}

impl TabletHealth {
    fn new(status: HealthStatus, priority: Priority) -> TabletHealth {
        TabletHealth { status, priority }
    }
}

/// The replica's backend when every "not alive" rule except the same-host one passes.
fn backend_if_alive_alone<'a>(
    r: &ReplicaView,
    cluster: &'a ClusterView,
) -> Option<&'a BackendView> {
    let be = cluster.backends.get(&r.backend_id)?;
    let dead_too_long = !be.alive
        && cluster.now_ms.saturating_sub(be.last_heartbeat_ms) > cluster.be_down_tolerate_ms;
    if dead_too_long || r.state != ReplicaStateView::Normal || r.bad {
        return None;
    }
    Some(be)
}

/// Whether replica `r` of the tablet whose replicas are `replicas` counts as alive (spec 5.1).
///
/// It does not when its backend was dropped (absent from `cluster.backends`), when its backend
/// is dead and its last successful heartbeat is more than `be_down_tolerate_ms` old, when its
/// state is `Clone` or `Decommission`, when it is bad, or when a replica earlier in `replicas`
/// that passes all those checks sits on the same host (the first such replica claims the host,
/// as in StarRocks, so a bad replica does not make a good one on its host dead). "Earlier"
/// means before the first element with `r`'s id; if `r` is not in `replicas`, every element is
/// earlier. A dead backend inside the tolerance window still counts as alive.
pub fn replica_alive(r: &ReplicaView, replicas: &[ReplicaView], cluster: &ClusterView) -> bool {
    let Some(be) = backend_if_alive_alone(r, cluster) else {
        return false;
    };
    for other in replicas {
        if other.id == r.id {
            break;
        }
        if let Some(other_be) = backend_if_alive_alone(other, cluster)
            && other_be.host == be.host
        {
            return false;
        }
    }
    true
}

/// Whether replica `r` holds every version up to `visible_version` and is not known to miss
/// any: `last_failed_version <= 0 && version >= visible_version`.
pub fn replica_version_complete(r: &ReplicaView, visible_version: i64) -> bool {
    r.last_failed_version <= 0 && r.version >= visible_version
}

/// `⌊n/2⌋ + 1`.
fn majority(n: usize) -> usize {
    n / 2 + 1
}

/// Redundant-type results turn into `NeedFurtherRepair`/`High` while a freshly cloned replica
/// is still behind: it must catch up before anything is dropped.
fn redundant(status: HealthStatus, priority: Priority, further_repair: bool) -> TabletHealth {
    if further_repair {
        TabletHealth::new(HealthStatus::NeedFurtherRepair, Priority::High)
    } else {
        TabletHealth::new(status, priority)
    }
}

/// The health of a non-colocate tablet (spec 5.1), from its replicas, its partition's
/// `visible_version` and the table's `replication_num` (n).
///
/// Replicas are classified as alive ([`replica_alive`]), alive and version-complete
/// ([`replica_version_complete`]) and stable (version-complete on a backend that is not
/// decommissioned). The first matching rule decides:
///
/// 1. (`recover_with_empty_tablet`: not implemented.)
/// 2. alive < n, replicas ≥ #alive backends, #alive backends ≥ n and n > 1 (no free backend
///    for a new copy) ⇒ `ForceRedundant`/`VeryHigh`.
/// 3. #available backends > alive: alive < ⌊n/2⌋+1 ⇒ `ReplicaMissing`/`High`; alive < n ⇒
///    `ReplicaMissing`/`Normal`. (With no available backend to spare, fall through so that
///    version repair is not blocked.)
/// 4. complete < ⌊n/2⌋+1 ⇒ `VersionIncomplete`/`High`; complete < n ⇒
///    `VersionIncomplete`/`Normal`; complete > n ⇒ `Redundant`/`VeryHigh`.
/// 5. stable < n: every available backend already holds a replica of this tablet,
///    #available ≥ n and n > 1 ⇒ `ForceRedundant`, else `ReplicaRelocating`; priority `Normal`
///    if stable < ⌊n/2⌋+1, else `Low`.
/// 6. replicas > n ⇒ `Redundant`/`VeryHigh`.
/// 7. `Healthy`/`Normal`.
///
/// `Redundant` and `ForceRedundant` become `NeedFurtherRepair`/`High` when an alive replica has
/// `need_further_repair`. Pure and allocation-free; the backend map is only scanned when
/// rule 2, 3 or 5 needs a count.
pub fn tablet_health(
    replicas: &[ReplicaView],
    visible_version: i64,
    replication_num: u16,
    cluster: &ClusterView,
) -> TabletHealth {
    let n = usize::from(replication_num);
    let mut alive = 0usize;
    let mut complete = 0usize;
    let mut stable = 0usize;
    let mut further_repair = false;
    for r in replicas {
        if !replica_alive(r, replicas, cluster) {
            continue;
        }
        alive += 1;
        further_repair |= r.need_further_repair;
        if !replica_version_complete(r, visible_version) {
            continue;
        }
        complete += 1;
        // The backend exists: replica_alive checked it.
        if cluster
            .backends
            .get(&r.backend_id)
            .is_some_and(|b| !b.decommissioned)
        {
            stable += 1;
        }
    }

    // Rule 2 and 3 only matter when alive replicas are short.
    if alive < n {
        let alive_backends = cluster.alive_count();
        if replicas.len() >= alive_backends && alive_backends >= n && n > 1 {
            return redundant(
                HealthStatus::ForceRedundant,
                Priority::VeryHigh,
                further_repair,
            );
        }
        if cluster.available_count() > alive {
            let priority = if alive < majority(n) {
                Priority::High
            } else {
                Priority::Normal
            };
            return TabletHealth::new(HealthStatus::ReplicaMissing, priority);
        }
    }

    // Rule 4.
    if complete < majority(n) {
        return TabletHealth::new(HealthStatus::VersionIncomplete, Priority::High);
    }
    if complete < n {
        return TabletHealth::new(HealthStatus::VersionIncomplete, Priority::Normal);
    }
    if complete > n {
        return redundant(HealthStatus::Redundant, Priority::VeryHigh, further_repair);
    }

    // Rule 5.
    if stable < n {
        let priority = if stable < majority(n) {
            Priority::Normal
        } else {
            Priority::Low
        };
        let available = cluster.available_count();
        if available >= n && n > 1 && every_available_backend_has_a_replica(replicas, cluster) {
            return redundant(HealthStatus::ForceRedundant, priority, further_repair);
        }
        return TabletHealth::new(HealthStatus::ReplicaRelocating, priority);
    }

    // Rule 6.
    if replicas.len() > n {
        return redundant(HealthStatus::Redundant, Priority::VeryHigh, further_repair);
    }
    TabletHealth::new(HealthStatus::Healthy, Priority::Normal)
}

/// Whether no available backend is left without a replica of this tablet.
fn every_available_backend_has_a_replica(replicas: &[ReplicaView], cluster: &ClusterView) -> bool {
    cluster
        .backends
        .values()
        .filter(|b| b.alive && !b.decommissioned)
        .all(|b| replicas.iter().any(|r| r.backend_id == b.id))
}

/// Whether an unhealthy tablet should be queued for repair now (spec 5.3).
///
/// `VeryHigh` priority, `VersionIncomplete` and `NeedFurtherRepair` go at once; otherwise the
/// tablet must have been unhealthy for more than `delay_factor_ms`
/// (`tablet_sched_repair_delay_factor_second`) × 1 (`High`), × 2 (`Normal`) or × 3 (`Low`)
/// since `last_healthy_ms`, the last time the checker saw it healthy (the caller records the
/// first unhealthy sighting as that time when it never saw the tablet healthy). A `Healthy`
/// tablet is never ready: there is nothing to repair.
pub fn ready_to_repair(
    h: &TabletHealth,
    last_healthy_ms: i64,
    now_ms: i64,
    delay_factor_ms: i64,
) -> bool {
    if h.status == HealthStatus::Healthy {
        return false;
    }
    if h.priority == Priority::VeryHigh
        || matches!(
            h.status,
            HealthStatus::VersionIncomplete | HealthStatus::NeedFurtherRepair
        )
    {
        return true;
    }
    let factor = match h.priority {
        Priority::High => 1,
        Priority::Normal => 2,
        Priority::Low | Priority::VeryHigh => 3,
    };
    now_ms.saturating_sub(last_healthy_ms) > delay_factor_ms.saturating_mul(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_000_000_000;
    const TOLERATE: i64 = 900_000;

    fn be(id: i64, host: &str) -> BackendView {
        BackendView {
            id,
            host: host.to_string(),
            alive: true,
            decommissioned: false,
            last_heartbeat_ms: NOW,
        }
    }

    fn cluster(backends: Vec<BackendView>) -> ClusterView {
        ClusterView {
            backends: backends.into_iter().map(|b| (b.id, b)).collect(),
            now_ms: NOW,
            be_down_tolerate_ms: TOLERATE,
        }
    }

    /// `count` backends, backend i on host "h<i>".
    fn bes(count: i64) -> ClusterView {
        cluster((1..=count).map(|i| be(i, &format!("h{i}"))).collect())
    }

    fn rep(id: i64, backend_id: i64, version: i64) -> ReplicaView {
        ReplicaView {
            id,
            backend_id,
            version,
            last_failed_version: -1,
            last_success_version: version,
            state: ReplicaStateView::Normal,
            bad: false,
            need_further_repair: false,
        }
    }

    /// Replica i (id 10+i) on backend i at version `v`, for each backend id.
    fn reps(backend_ids: &[i64], v: i64) -> Vec<ReplicaView> {
        backend_ids.iter().map(|&b| rep(10 + b, b, v)).collect()
    }

    fn set<F: FnOnce(&mut BackendView)>(c: &mut ClusterView, id: i64, f: F) {
        f(c.backends.get_mut(&id).expect("backend exists"));
    }

    fn th(status: HealthStatus, priority: Priority) -> TabletHealth {
        TabletHealth { status, priority }
    }

    // ---------------------------------------------------------------- enums

    #[test]
    fn status_names_and_classes() {
        use HealthStatus::*;
        let all = [
            Healthy,
            ReplicaMissing,
            VersionIncomplete,
            ReplicaRelocating,
            Redundant,
            ForceRedundant,
            NeedFurtherRepair,
        ];
        let names: Vec<_> = all.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            names,
            [
                "HEALTHY",
                "REPLICA_MISSING",
                "VERSION_INCOMPLETE",
                "REPLICA_RELOCATING",
                "REDUNDANT",
                "FORCE_REDUNDANT",
                "NEED_FURTHER_REPAIR"
            ]
        );
        let healthy: Vec<_> = all.iter().filter(|s| s.counts_as_healthy()).collect();
        assert_eq!(healthy, [&Healthy, &Redundant, &NeedFurtherRepair]);
        let source: Vec<_> = all.iter().filter(|s| s.needs_source()).collect();
        assert_eq!(
            source,
            [
                &ReplicaMissing,
                &VersionIncomplete,
                &ReplicaRelocating,
                &NeedFurtherRepair
            ]
        );
    }

    #[test]
    fn priority_order_names_and_upgrade() {
        use Priority::*;
        assert!(Low < Normal && Normal < High && High < VeryHigh);
        assert_eq!(
            [Low, Normal, High, VeryHigh].map(|p| p.to_string()),
            ["LOW", "NORMAL", "HIGH", "VERY_HIGH"]
        );
        assert_eq!(
            [Low, Normal, High, VeryHigh].map(Priority::upgraded),
            [Normal, High, VeryHigh, VeryHigh]
        );
    }

    #[test]
    fn cluster_counts() {
        let mut c = bes(4);
        set(&mut c, 2, |b| b.alive = false);
        set(&mut c, 3, |b| b.decommissioned = true);
        assert_eq!(c.alive_count(), 3);
        assert_eq!(c.available_count(), 2);
        assert!(c.is_available(1));
        assert!(!c.is_available(2));
        assert!(!c.is_available(3));
        assert!(!c.is_available(99));
    }

    // ---------------------------------------------------------------- replica_alive

    #[test]
    fn a_normal_replica_on_a_live_backend_is_alive() {
        let c = bes(3);
        let rs = reps(&[1, 2, 3], 5);
        assert!(rs.iter().all(|r| replica_alive(r, &rs, &c)));
    }

    #[test]
    fn a_replica_on_a_dropped_backend_is_not_alive() {
        let c = bes(2);
        let rs = reps(&[1, 2, 3], 5);
        assert!(replica_alive(&rs[1], &rs, &c));
        assert!(!replica_alive(&rs[2], &rs, &c));
    }

    #[test]
    fn a_dead_backend_counts_as_alive_only_within_the_tolerance_window() {
        let mut c = bes(3);
        let rs = reps(&[1, 2, 3], 5);
        set(&mut c, 3, |b| {
            b.alive = false;
            b.last_heartbeat_ms = NOW - TOLERATE;
        });
        assert!(replica_alive(&rs[2], &rs, &c), "exactly at the limit");
        set(&mut c, 3, |b| b.last_heartbeat_ms = NOW - TOLERATE - 1);
        assert!(!replica_alive(&rs[2], &rs, &c), "past the limit");
        set(&mut c, 3, |b| b.last_heartbeat_ms = 0);
        assert!(!replica_alive(&rs[2], &rs, &c), "never heartbeated");
        // An alive backend with an old heartbeat time is still alive.
        set(&mut c, 3, |b| b.alive = true);
        assert!(replica_alive(&rs[2], &rs, &c));
    }

    #[test]
    fn clone_and_decommission_states_and_bad_replicas_are_not_alive() {
        let c = bes(3);
        let mut rs = reps(&[1, 2, 3], 5);
        rs[0].state = ReplicaStateView::Clone;
        rs[1].state = ReplicaStateView::Decommission;
        rs[2].bad = true;
        assert!(rs.iter().all(|r| !replica_alive(r, &rs, &c)));
    }

    #[test]
    fn a_decommissioned_backend_keeps_its_replica_alive() {
        let mut c = bes(3);
        set(&mut c, 2, |b| b.decommissioned = true);
        let rs = reps(&[1, 2, 3], 5);
        assert!(replica_alive(&rs[1], &rs, &c));
    }

    #[test]
    fn only_the_first_replica_on_a_host_is_alive() {
        let c = cluster(vec![be(1, "a"), be(2, "a"), be(3, "b")]);
        let rs = reps(&[1, 2, 3], 5);
        assert!(replica_alive(&rs[0], &rs, &c));
        assert!(!replica_alive(&rs[1], &rs, &c));
        assert!(replica_alive(&rs[2], &rs, &c));
        // Order decides: reversed, backend 2 claims the host.
        let rev: Vec<_> = rs.iter().rev().cloned().collect();
        assert!(replica_alive(&rev[1], &rev, &c));
        assert!(!replica_alive(&rev[2], &rev, &c));
    }

    #[test]
    fn a_dead_replica_does_not_claim_its_host() {
        let c = cluster(vec![be(1, "a"), be(2, "a")]);
        let mut rs = reps(&[1, 2], 5);
        rs[0].bad = true;
        assert!(!replica_alive(&rs[0], &rs, &c));
        assert!(replica_alive(&rs[1], &rs, &c));
    }

    #[test]
    fn a_replica_outside_the_slice_is_compared_with_all_of_it() {
        let c = cluster(vec![be(1, "a"), be(2, "a"), be(3, "b")]);
        let rs = reps(&[1], 5);
        assert!(!replica_alive(&rep(99, 2, 5), &rs, &c));
        assert!(replica_alive(&rep(99, 3, 5), &rs, &c));
    }

    #[test]
    fn version_completeness() {
        let mut r = rep(1, 1, 5);
        assert!(replica_version_complete(&r, 5));
        assert!(replica_version_complete(&r, 4));
        assert!(!replica_version_complete(&r, 6));
        r.last_failed_version = 6;
        assert!(!replica_version_complete(&r, 5));
        r.last_failed_version = 0;
        assert!(replica_version_complete(&r, 5));
    }

    // ---------------------------------------------------------------- tablet_health

    #[test]
    fn rule7_all_good_is_healthy() {
        let c = bes(4);
        let rs = reps(&[1, 2, 3], 5);
        assert_eq!(
            tablet_health(&rs, 5, 3, &c),
            th(HealthStatus::Healthy, Priority::Normal)
        );
        // Versions above the visible one (published but not yet visible) are fine.
        let rs = reps(&[1, 2, 3], 6);
        assert_eq!(tablet_health(&rs, 5, 3, &c).status, HealthStatus::Healthy);
    }

    #[test]
    fn rule2_force_redundant_when_no_backend_is_free() {
        // 3 BEs, 3 replicas, one bad: nowhere to put a new copy.
        let c = bes(3);
        let mut rs = reps(&[1, 2, 3], 5);
        rs[2].bad = true;
        assert_eq!(
            tablet_health(&rs, 5, 3, &c),
            th(HealthStatus::ForceRedundant, Priority::VeryHigh)
        );
        // A fourth backend makes room: replica missing instead.
        let c = bes(4);
        assert_eq!(
            tablet_health(&rs, 5, 3, &c),
            th(HealthStatus::ReplicaMissing, Priority::Normal)
        );
    }

    #[test]
    fn rule2_also_fires_when_a_long_dead_replica_fills_the_alive_backend_count() {
        // As in StarRocks, "replicas" counts the replica on the dead backend: 4 BEs, one dead
        // past the window, 3 replicas => 3 >= 3 alive BEs, so the dead copy is dropped first
        // (FORCE_REDUNDANT) even though backend 4 is free; the next round clones.
        let mut c = bes(4);
        set(&mut c, 3, |b| {
            b.alive = false;
            b.last_heartbeat_ms = 0;
        });
        assert_eq!(
            tablet_health(&reps(&[1, 2, 3], 5), 5, 3, &c),
            th(HealthStatus::ForceRedundant, Priority::VeryHigh)
        );
    }

    #[test]
    fn rule2_needs_replication_above_one_and_enough_alive_backends() {
        // n = 1: never forced.
        let c = bes(1);
        let mut rs = reps(&[1], 5);
        rs[0].bad = true;
        assert_ne!(
            tablet_health(&rs, 5, 1, &c).status,
            HealthStatus::ForceRedundant
        );
        // 2 alive BEs < n = 3: not forced (dropping would not make room for 3).
        let mut c = bes(3);
        set(&mut c, 3, |b| {
            b.alive = false;
            b.last_heartbeat_ms = 0;
        });
        let mut rs = reps(&[1, 2, 3], 5);
        rs[0].bad = true;
        assert_ne!(
            tablet_health(&rs, 5, 3, &c).status,
            HealthStatus::ForceRedundant
        );
    }

    #[test]
    fn rule2_counts_decommissioned_backends_as_alive() {
        // 3 alive BEs (one decommissioned), 3 replicas, one bad: forced.
        let mut c = bes(3);
        set(&mut c, 3, |b| b.decommissioned = true);
        let mut rs = reps(&[1, 2, 3], 5);
        rs[0].bad = true;
        assert_eq!(
            tablet_health(&rs, 5, 3, &c),
            th(HealthStatus::ForceRedundant, Priority::VeryHigh)
        );
    }

    #[test]
    fn rule2_becomes_need_further_repair_with_a_lagging_clone() {
        let c = bes(3);
        let mut rs = reps(&[1, 2, 3], 5);
        rs[2].bad = true;
        rs[1].need_further_repair = true;
        assert_eq!(
            tablet_health(&rs, 5, 3, &c),
            th(HealthStatus::NeedFurtherRepair, Priority::High)
        );
        // Only alive replicas count: the flag on the bad replica is ignored.
        rs[1].need_further_repair = false;
        rs[2].need_further_repair = true;
        assert_eq!(
            tablet_health(&rs, 5, 3, &c).status,
            HealthStatus::ForceRedundant
        );
    }

    #[test]
    fn rule3_replica_missing_high_below_majority_normal_otherwise() {
        let c = bes(5);
        // 2 of 3 alive: majority kept.
        assert_eq!(
            tablet_health(&reps(&[1, 2], 5), 5, 3, &c),
            th(HealthStatus::ReplicaMissing, Priority::Normal)
        );
        // 1 of 3 alive: below majority.
        assert_eq!(
            tablet_health(&reps(&[1], 5), 5, 3, &c),
            th(HealthStatus::ReplicaMissing, Priority::High)
        );
        // No replica at all.
        assert_eq!(
            tablet_health(&[], 5, 3, &c),
            th(HealthStatus::ReplicaMissing, Priority::High)
        );
    }

    #[test]
    fn rule3_a_dead_backend_is_missing_only_after_the_tolerance_window() {
        // Five backends so that rule 2 (replicas >= alive backends) stays out of the way.
        let mut c = bes(5);
        let rs = reps(&[1, 2, 3], 5);
        set(&mut c, 3, |b| {
            b.alive = false;
            b.last_heartbeat_ms = NOW - 60_000;
        });
        assert_eq!(
            tablet_health(&rs, 5, 3, &c),
            th(HealthStatus::Healthy, Priority::Normal)
        );
        set(&mut c, 3, |b| b.last_heartbeat_ms = NOW - TOLERATE - 1);
        assert_eq!(
            tablet_health(&rs, 5, 3, &c),
            th(HealthStatus::ReplicaMissing, Priority::Normal)
        );
    }

    #[test]
    fn rule3_within_the_window_a_load_makes_the_dead_replica_version_incomplete() {
        let mut c = bes(4);
        let mut rs = reps(&[1, 2, 3], 6);
        set(&mut c, 3, |b| {
            b.alive = false;
            b.last_heartbeat_ms = NOW - 60_000;
        });
        rs[2].version = 5;
        rs[2].last_failed_version = 6;
        assert_eq!(
            tablet_health(&rs, 6, 3, &c),
            th(HealthStatus::VersionIncomplete, Priority::Normal)
        );
    }

    #[test]
    fn rule3_dropped_backend_clone_and_decommission_states_are_missing() {
        let c = bes(5);
        let mut rs = reps(&[1, 2, 9], 5); // backend 9 was dropped
        assert_eq!(
            tablet_health(&rs, 5, 3, &c),
            th(HealthStatus::ReplicaMissing, Priority::Normal)
        );
        rs[2].backend_id = 3;
        rs[2].state = ReplicaStateView::Clone;
        assert_eq!(
            tablet_health(&rs, 5, 3, &c).status,
            HealthStatus::ReplicaMissing
        );
        rs[2].state = ReplicaStateView::Decommission;
        assert_eq!(
            tablet_health(&rs, 5, 3, &c).status,
            HealthStatus::ReplicaMissing
        );
    }

    #[test]
    fn rule3_two_replicas_on_one_host_count_once() {
        let c = cluster(vec![be(1, "a"), be(2, "a"), be(3, "b"), be(4, "c")]);
        assert_eq!(
            tablet_health(&reps(&[1, 2, 3], 5), 5, 3, &c),
            th(HealthStatus::ReplicaMissing, Priority::Normal)
        );
    }

    #[test]
    fn rule3_falls_through_when_no_available_backend_is_spare() {
        // 5 BEs: 3 dead long ago, 4 and 5 decommissioned => 2 available, 4 alive. Replicas on
        // 1, 2 and the dead 3 (rule 2: 3 replicas < 4 alive BEs), the one on 1 lagging =>
        // alive 2, available 2: not > alive, so rule 4 decides.
        let mut c = bes(5);
        set(&mut c, 3, |b| {
            b.alive = false;
            b.last_heartbeat_ms = 0;
        });
        set(&mut c, 4, |b| b.decommissioned = true);
        set(&mut c, 5, |b| b.decommissioned = true);
        let mut rs = reps(&[1, 2, 3], 6);
        rs[0].version = 5;
        assert_eq!(
            tablet_health(&rs, 6, 3, &c),
            th(HealthStatus::VersionIncomplete, Priority::High)
        );
    }

    #[test]
    fn rule4_version_incomplete_high_below_majority_normal_otherwise() {
        let c = bes(3);
        let mut rs = reps(&[1, 2, 3], 7);
        rs[0].version = 6;
        assert_eq!(
            tablet_health(&rs, 7, 3, &c),
            th(HealthStatus::VersionIncomplete, Priority::Normal)
        );
        rs[1].last_failed_version = 7;
        assert_eq!(
            tablet_health(&rs, 7, 3, &c),
            th(HealthStatus::VersionIncomplete, Priority::High)
        );
    }

    #[test]
    fn rule4_redundant_when_more_complete_replicas_than_wanted() {
        let c = bes(4);
        assert_eq!(
            tablet_health(&reps(&[1, 2, 3, 4], 5), 5, 3, &c),
            th(HealthStatus::Redundant, Priority::VeryHigh)
        );
        let mut rs = reps(&[1, 2, 3, 4], 5);
        rs[3].need_further_repair = true;
        assert_eq!(
            tablet_health(&rs, 5, 3, &c),
            th(HealthStatus::NeedFurtherRepair, Priority::High)
        );
    }

    #[test]
    fn rule5_relocating_normal_below_majority_low_otherwise() {
        let mut c = bes(5);
        set(&mut c, 3, |b| b.decommissioned = true);
        let rs = reps(&[1, 2, 3], 5);
        assert_eq!(
            tablet_health(&rs, 5, 3, &c),
            th(HealthStatus::ReplicaRelocating, Priority::Low)
        );
        set(&mut c, 2, |b| b.decommissioned = true);
        assert_eq!(
            tablet_health(&rs, 5, 3, &c),
            th(HealthStatus::ReplicaRelocating, Priority::Normal)
        );
    }

    #[test]
    fn rule5_force_redundant_when_every_available_backend_has_a_replica() {
        // BEs 1..3 available, 4 decommissioned. Replicas on all four, the one on 1 lagging:
        // complete = 3 (2, 3, 4), stable = 2, nowhere new to clone to.
        let mut c = bes(4);
        set(&mut c, 4, |b| b.decommissioned = true);
        let mut rs = reps(&[1, 2, 3, 4], 5);
        rs[0].version = 4;
        assert_eq!(
            tablet_health(&rs, 5, 3, &c),
            th(HealthStatus::ForceRedundant, Priority::Low)
        );
        // Stable below majority: NORMAL.
        rs[1].version = 4;
        let mut c2 = bes(4);
        set(&mut c2, 4, |b| b.decommissioned = true);
        set(&mut c2, 3, |b| b.decommissioned = true);
        // now available = {1, 2} < n: not forced.
        assert_eq!(
            tablet_health(&rs, 5, 3, &c2).status,
            HealthStatus::VersionIncomplete
        );
        // With the flag, the forced result becomes NEED_FURTHER_REPAIR.
        let mut rs = reps(&[1, 2, 3, 4], 5);
        rs[0].version = 4;
        rs[0].need_further_repair = true;
        assert_eq!(
            tablet_health(&rs, 5, 3, &c),
            th(HealthStatus::NeedFurtherRepair, Priority::High)
        );
    }

    #[test]
    fn rule5_force_redundant_priority_normal_when_stable_below_majority() {
        // 5 BEs: 1..3 available, 4 and 5 decommissioned. Replicas on all five; those on 1, 2
        // lag. complete = 3 (3, 4, 5), stable = 1.
        let mut c = bes(5);
        set(&mut c, 4, |b| b.decommissioned = true);
        set(&mut c, 5, |b| b.decommissioned = true);
        let mut rs = reps(&[1, 2, 3, 4, 5], 5);
        rs[0].version = 4;
        rs[1].last_failed_version = 5;
        assert_eq!(
            tablet_health(&rs, 5, 3, &c),
            th(HealthStatus::ForceRedundant, Priority::Normal)
        );
    }

    #[test]
    fn rule5_relocating_when_a_free_available_backend_exists_or_n_is_one() {
        let mut c = bes(2);
        set(&mut c, 1, |b| b.decommissioned = true);
        // n = 1, replica on the decommissioned BE, BE 2 free.
        assert_eq!(
            tablet_health(&reps(&[1], 5), 5, 1, &c),
            th(HealthStatus::ReplicaRelocating, Priority::Normal)
        );
        // n = 1 and the only available BE already has a replica: still not forced.
        let mut rs = reps(&[1, 2], 5);
        rs[1].version = 4;
        assert_eq!(
            tablet_health(&rs, 5, 1, &c),
            th(HealthStatus::ReplicaRelocating, Priority::Normal)
        );
    }

    #[test]
    fn rule6_redundant_when_extra_replicas_are_not_complete() {
        let c = bes(4);
        let mut rs = reps(&[1, 2, 3, 4], 5);
        rs[3].version = 4;
        assert_eq!(
            tablet_health(&rs, 5, 3, &c),
            th(HealthStatus::Redundant, Priority::VeryHigh)
        );
        rs[3].need_further_repair = true;
        assert_eq!(
            tablet_health(&rs, 5, 3, &c),
            th(HealthStatus::NeedFurtherRepair, Priority::High)
        );
        // A bad extra replica also makes the tablet redundant.
        let mut rs = reps(&[1, 2, 3, 4], 5);
        rs[0].bad = true;
        assert_eq!(
            tablet_health(&rs, 5, 3, &c),
            th(HealthStatus::Redundant, Priority::VeryHigh)
        );
    }

    // ---------------------------------------------------------------- ready_to_repair

    #[test]
    fn urgent_statuses_are_ready_at_once() {
        for h in [
            th(HealthStatus::Redundant, Priority::VeryHigh),
            th(HealthStatus::VersionIncomplete, Priority::Normal),
            th(HealthStatus::VersionIncomplete, Priority::High),
            th(HealthStatus::NeedFurtherRepair, Priority::High),
            th(HealthStatus::ReplicaMissing, Priority::VeryHigh),
        ] {
            assert!(ready_to_repair(&h, NOW, NOW, 60_000), "{h:?}");
        }
    }

    #[test]
    fn other_statuses_wait_one_two_or_three_delay_factors() {
        let factor = 60_000;
        for (priority, k) in [
            (Priority::High, 1),
            (Priority::Normal, 2),
            (Priority::Low, 3),
        ] {
            let h = th(HealthStatus::ReplicaMissing, priority);
            let wait = factor * k;
            assert!(
                !ready_to_repair(&h, NOW - wait, NOW, factor),
                "{priority}: exactly {wait} ms is not more"
            );
            assert!(
                ready_to_repair(&h, NOW - wait - 1, NOW, factor),
                "{priority}: {wait} ms + 1"
            );
        }
        let h = th(HealthStatus::ReplicaRelocating, Priority::Low);
        assert!(!ready_to_repair(&h, NOW - 150_000, NOW, factor));
        assert!(ready_to_repair(&h, NOW - 180_001, NOW, factor));
    }

    #[test]
    fn a_healthy_tablet_is_never_ready() {
        let h = th(HealthStatus::Healthy, Priority::Normal);
        assert!(!ready_to_repair(&h, 0, NOW, 60_000));
        let h = th(HealthStatus::Healthy, Priority::VeryHigh);
        assert!(!ready_to_repair(&h, 0, NOW, 60_000));
    }

    #[test]
    fn extreme_times_do_not_overflow() {
        let h = th(HealthStatus::ReplicaMissing, Priority::Low);
        assert!(ready_to_repair(&h, i64::MIN, i64::MAX, 60_000));
        assert!(!ready_to_repair(&h, 0, i64::MAX, i64::MAX));
    }
}
