//! Repair planning: which backend receives a new copy, which replica a clone copies from,
//! which lagging replica is repaired in place, and which replica of a redundant tablet is
//! dropped (spec 5.6 and 5.7), plus the clone task timeout (spec 5.8).
//!
//! Every function is pure: the scheduler builds [`BackendLoad`]s (capacity, replica count and
//! free clone slots per backend) and the tablet's [`ReplicaView`]s, and acts on the answer.
//! StarRocks keeps clone slots and capacity per disk ("path"); Tessera keeps them per backend,
//! so a backend here plays the role of StarRocks's best path on it.
//!
//! A choice that cannot be made now is either [`Choice::Busy`] (the right backends exist but
//! have no free clone slot: retry next round) or [`Choice::Unrepairable`] (no backend or
//! replica qualifies at all), whose reason says why in words an operator can act on.

use std::cmp::Reverse;
use std::fmt;

use crate::health::{self, ClusterView, ReplicaStateView, ReplicaView};

/// Usage above which only disk usage counts in a backend's load score
/// (`capacity_used_percent_high_water`).
pub const CAPACITY_USED_HIGH_WATER: f64 = 0.75;

/// Slowest clone speed assumed when sizing a clone task's timeout: 5 MiB/s.
pub const MIN_CLONE_BYTES_PER_SECOND: i64 = 5 * 1024 * 1024;

/// A backend as repair planning sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendLoad {
    /// Backend id.
    pub id: i64,
    /// Host: replicas of one tablet never share a host.
    pub host: String,
    /// Alive and not decommissioned: may receive new replicas.
    pub available: bool,
    /// Answering heartbeats (a decommissioned backend may be alive but not available).
    pub alive: bool,
    /// Replicas it holds.
    pub replica_count: u64,
    /// Bytes used on its disks.
    pub used_bytes: i64,
    /// Capacity of its disks.
    pub total_bytes: i64,
    /// Bytes still free on its disks.
    pub available_bytes: i64,
    /// Clone slots not taken by running clone tasks.
    pub free_slots: u32,
}

impl BackendLoad {
    /// Used share of the capacity, 0..=1 (0 when the capacity is unknown).
    pub fn used_fraction(&self) -> f64 {
        if self.total_bytes <= 0 {
            0.0
        } else {
            self.used_bytes as f64 / self.total_bytes as f64
        }
    }
}

/// Why a repair cannot be planned at all (StarRocks's `UNRECOVERABLE`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unrepairable {
    /// No replica qualifies as a clone source; the reason says what each replica lacks.
    NoSource(String),
    /// No backend (or, for an in-place repair, no replica) can receive the copy.
    NoDestination(String),
}

impl Unrepairable {
    /// The human-readable reason.
    pub fn reason(&self) -> &str {
        match self {
            Unrepairable::NoSource(r) | Unrepairable::NoDestination(r) => r,
        }
    }
}

impl fmt::Display for Unrepairable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

/// The outcome of a repair choice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Choice<T> {
    /// This one.
    Chosen(T),
    /// Suitable candidates exist but none has a free clone slot: keep the task pending and
    /// retry next round (StarRocks's `SCHEDULE_RETRY`, "path busy"). The string says which.
    Busy(String),
    /// Nothing qualifies: cancel the task with this reason.
    Unrepairable(Unrepairable),
}

impl<T> Choice<T> {
    /// The chosen value, if any.
    pub fn chosen(self) -> Option<T> {
        match self {
            Choice::Chosen(t) => Some(t),
            Choice::Busy(_) | Choice::Unrepairable(_) => None,
        }
    }

    /// Whether this is [`Choice::Busy`].
    pub fn is_busy(&self) -> bool {
        matches!(self, Choice::Busy(_))
    }
}

fn find(backends: &[BackendLoad], id: i64) -> Option<&BackendLoad> {
    backends.iter().find(|b| b.id == id)
}

/// "4 backends: 1 dead, 3 hold a replica", leaving out zero counts.
fn describe(total: usize, noun: (&str, &str), parts: &[(usize, &str, &str)]) -> String {
    let noun = if total == 1 { noun.0 } else { noun.1 };
    let details: Vec<String> = parts
        .iter()
        .filter(|(n, _, _)| *n > 0)
        .map(|(n, one, many)| format!("{n} {}", if *n == 1 { one } else { many }))
        .collect();
    if details.is_empty() {
        format!("{total} {noun}")
    } else {
        format!("{total} {noun}: {}", details.join(", "))
    }
}

/// Cluster averages a load score is relative to: used share of the total capacity and
/// replicas per backend, over the available backends.
struct Averages {
    used_fraction: f64,
    replicas: f64,
}

impl Averages {
    fn of(backends: &[BackendLoad]) -> Averages {
        let (mut used, mut total, mut replicas, mut count) = (0f64, 0f64, 0f64, 0usize);
        for b in backends.iter().filter(|b| b.available) {
            used += b.used_bytes.max(0) as f64;
            total += b.total_bytes.max(0) as f64;
            replicas += b.replica_count as f64;
            count += 1;
        }
        Averages {
            used_fraction: if total > 0.0 { used / total } else { 0.0 },
            replicas: if count > 0 {
                replicas / count as f64
            } else {
                0.0
            },
        }
    }

    /// StarRocks's `BackendLoadStatistic` score (spec 5.11): capacity coefficient ×
    /// used%/average used% + (1 − coefficient) × replicas/average replicas, the coefficient
    /// being 0.5 below 50 % usage, 1 above 75 % and 2 × usage − 0.5 in between. A zero
    /// average makes its term 0. Lower is less loaded.
    fn score(&self, b: &BackendLoad) -> f64 {
        let used = b.used_fraction();
        let capacity_coefficient = if used < 0.5 {
            0.5
        } else if used > CAPACITY_USED_HIGH_WATER {
            1.0
        } else {
            2.0 * used - 0.5
        };
        let capacity = if self.used_fraction > 0.0 {
            used / self.used_fraction
        } else {
            0.0
        };
        let replicas = if self.replicas > 0.0 {
            b.replica_count as f64 / self.replicas
        } else {
            0.0
        };
        capacity_coefficient * capacity + (1.0 - capacity_coefficient) * replicas
    }
}

/// Whether a `tablet_bytes` copy fits on `b`: more free bytes than the tablet, and usage
/// after adding it strictly below `soft_limit_percent` of the capacity.
fn fits(b: &BackendLoad, tablet_bytes: i64, soft_limit_percent: f64) -> bool {
    let tablet = tablet_bytes.max(0);
    b.total_bytes > 0
        && b.available_bytes > tablet
        && (b.used_bytes as f64 + tablet as f64) * 100.0 < soft_limit_percent * b.total_bytes as f64
}

/// Chooses the backend that receives a new replica of a tablet (spec 5.7,
/// `chooseAvailableDestPath`).
///
/// Eligible: available backends that hold no replica of the tablet, are not on a host that
/// does (hosts are looked up in `backends`; a replica whose backend is unknown excludes only
/// its id), have more than `tablet_bytes` free and stay strictly below `soft_limit_percent`
/// (e.g. `90.0`) of their capacity with the tablet added. Among them, by ascending load score
/// (StarRocks's, see spec 5.11; averages over the available backends) then id, the first with
/// a free clone slot is chosen. Eligible backends without a free slot ⇒ [`Choice::Busy`]; no
/// eligible backend ⇒ [`Unrepairable::NoDestination`] with a count of what ruled each backend
/// out.
pub fn choose_destination(
    replicas: &[ReplicaView],
    backends: &[BackendLoad],
    tablet_bytes: i64,
    soft_limit_percent: f64,
) -> Choice<i64> {
    let replica_hosts: Vec<&str> = replicas
        .iter()
        .filter_map(|r| find(backends, r.backend_id))
        .map(|b| b.host.as_str())
        .collect();
    let averages = Averages::of(backends);
    let (mut dead, mut decommissioned, mut holds, mut same_host, mut no_room) = (0, 0, 0, 0, 0);
    let mut eligible: Vec<(f64, i64, u32)> = Vec::new();
    for b in backends {
        if !b.alive {
            dead += 1;
        } else if !b.available {
            decommissioned += 1;
        } else if replicas.iter().any(|r| r.backend_id == b.id) {
            holds += 1;
        } else if replica_hosts.contains(&b.host.as_str()) {
            same_host += 1;
        } else if !fits(b, tablet_bytes, soft_limit_percent) {
            no_room += 1;
        } else {
            eligible.push((averages.score(b), b.id, b.free_slots));
        }
    }
    if eligible.is_empty() {
        let counts = describe(
            backends.len(),
            ("backend", "backends"),
            &[
                (dead, "dead", "dead"),
                (decommissioned, "decommissioned", "decommissioned"),
                (holds, "holds a replica", "hold a replica"),
                (
                    same_host,
                    "shares a host with a replica",
                    "share a host with a replica",
                ),
                (no_room, "lacks disk space", "lack disk space"),
            ],
        );
        let reason = if no_room > 0 {
            format!(
                "no available backend on a host without a replica of this tablet has room for \
                 its {tablet_bytes} bytes below {soft_limit_percent}% usage ({counts})"
            )
        } else {
            format!("no available backend on a host without a replica of this tablet ({counts})")
        };
        return Choice::Unrepairable(Unrepairable::NoDestination(reason));
    }
    eligible.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    match eligible.iter().find(|(_, _, slots)| *slots > 0) {
        Some((_, id, _)) => Choice::Chosen(*id),
        None => Choice::Busy(format!(
            "{} {} could take the new replica but none has a free clone slot; wait for next round",
            eligible.len(),
            if eligible.len() == 1 {
                "backend"
            } else {
                "backends"
            }
        )),
    }
}

/// Chooses the replica a clone copies from (spec 5.7, `chooseSrcReplica`).
///
/// Candidates: replicas not bad, in state `Normal` (not `Clone` nor `Decommission`), on a
/// backend present in `backends` and alive (a decommissioned backend may be a source), with
/// `last_failed_version <= 0` and `version >= visible_version`, and not on `exclude_backend`
/// (the destination). Order: highest version, then most free slots on its backend, then lowest
/// backend id (StarRocks shuffles; this is deterministic). The first candidate in that order
/// with a free slot is chosen; candidates but no free slot ⇒ [`Choice::Busy`]; no candidate ⇒
/// [`Unrepairable::NoSource`] with a count of what each replica lacks.
pub fn choose_source(
    replicas: &[ReplicaView],
    visible_version: i64,
    backends: &[BackendLoad],
    exclude_backend: Option<i64>,
) -> Choice<ReplicaView> {
    let (mut on_dest, mut dropped, mut dead, mut bad, mut state, mut lagging) = (0, 0, 0, 0, 0, 0);
    let mut candidates: Vec<(&ReplicaView, u32)> = Vec::new();
    for r in replicas {
        if exclude_backend == Some(r.backend_id) {
            on_dest += 1;
            continue;
        }
        let Some(b) = find(backends, r.backend_id) else {
            dropped += 1;
            continue;
        };
        if !b.alive {
            dead += 1;
        } else if r.bad {
            bad += 1;
        } else if r.state != ReplicaStateView::Normal {
            state += 1;
        } else if !health::replica_version_complete(r, visible_version) {
            lagging += 1;
        } else {
            candidates.push((r, b.free_slots));
        }
    }
    if candidates.is_empty() {
        let lagging_one = format!("misses versions (visible version {visible_version})");
        let lagging_many = format!("miss versions (visible version {visible_version})");
        let counts = describe(
            replicas.len(),
            ("replica", "replicas"),
            &[
                (on_dest, "is on the destination", "are on the destination"),
                (
                    dropped,
                    "is on a dropped backend",
                    "are on dropped backends",
                ),
                (dead, "is on a dead backend", "are on dead backends"),
                (bad, "is bad", "are bad"),
                (
                    state,
                    "is being cloned or dropped",
                    "are being cloned or dropped",
                ),
                (lagging, &lagging_one, &lagging_many),
            ],
        );
        return Choice::Unrepairable(Unrepairable::NoSource(format!(
            "no healthy replica to clone from ({counts})"
        )));
    }
    candidates.sort_by_key(|(r, slots)| (Reverse(r.version), Reverse(*slots), r.backend_id));
    match candidates.iter().find(|(_, slots)| *slots > 0) {
        Some((r, _)) => Choice::Chosen((*r).clone()),
        None => Choice::Busy(format!(
            "no free clone slot on the {} backend(s) holding a healthy replica; wait for next round",
            candidates.len()
        )),
    }
}

/// Whether `r` can be repaired in place: on an alive backend (decommissioned allowed), not
/// bad, state `Normal`, and lagging.
fn repairable_in_place(r: &ReplicaView, visible_version: i64, backends: &[BackendLoad]) -> bool {
    find(backends, r.backend_id).is_some_and(|b| b.alive)
        && !r.bad
        && r.state == ReplicaStateView::Normal
        && !health::replica_version_complete(r, visible_version)
}

/// Chooses the lagging replica a VERSION_INCOMPLETE / NEED_FURTHER_REPAIR repair clones into
/// in place (spec 5.6, `chooseDestReplicaForVersionIncomplete`).
///
/// Candidates: replicas on an alive backend (a decommissioned one is allowed, or its lagging
/// replica would block the decommission), not bad, in state `Normal`, and not
/// version-complete. A candidate with `need_further_repair` wins outright (the first one);
/// otherwise the first candidate is taken, replaced while scanning by one whose
/// `last_success_version > last_failed_version` (which ends the scan) or by one with a lower
/// `last_failed_version`. Its backend must have a free clone slot, else [`Choice::Busy`]; no
/// candidate ⇒ [`Unrepairable::NoDestination`] (the scheduler may then fall back to cloning a
/// new replica elsewhere).
pub fn choose_incomplete_replica(
    replicas: &[ReplicaView],
    visible_version: i64,
    backends: &[BackendLoad],
) -> Choice<ReplicaView> {
    let candidates = || {
        replicas
            .iter()
            .filter(|r| repairable_in_place(r, visible_version, backends))
    };
    let mut chosen = candidates().find(|r| r.need_further_repair);
    if chosen.is_none() {
        for r in candidates() {
            match chosen {
                None => chosen = Some(r),
                Some(_) if r.last_success_version > r.last_failed_version => {
                    chosen = Some(r);
                    break;
                }
                Some(c) if r.last_failed_version < c.last_failed_version => chosen = Some(r),
                Some(_) => {}
            }
        }
    }
    let Some(r) = chosen else {
        let (mut dropped, mut dead, mut bad, mut state, mut complete) = (0, 0, 0, 0, 0);
        for r in replicas {
            match find(backends, r.backend_id) {
                None => dropped += 1,
                Some(b) if !b.alive => dead += 1,
                Some(_) if r.bad => bad += 1,
                Some(_) if r.state != ReplicaStateView::Normal => state += 1,
                Some(_) => complete += 1,
            }
        }
        let counts = describe(
            replicas.len(),
            ("replica", "replicas"),
            &[
                (
                    dropped,
                    "is on a dropped backend",
                    "are on dropped backends",
                ),
                (dead, "is on a dead backend", "are on dead backends"),
                (bad, "is bad", "are bad"),
                (
                    state,
                    "is being cloned or dropped",
                    "are being cloned or dropped",
                ),
                (complete, "is complete", "are complete"),
            ],
        );
        return Choice::Unrepairable(Unrepairable::NoDestination(format!(
            "no lagging replica on an alive backend to repair in place ({counts})"
        )));
    };
    match find(backends, r.backend_id) {
        Some(b) if b.free_slots > 0 => Choice::Chosen(r.clone()),
        _ => Choice::Busy(format!(
            "backend {} holding lagging replica {} has no free clone slot; wait for next round",
            r.backend_id, r.id
        )),
    }
}

/// Replicas that are alive (see [`health::replica_alive`]), version-complete and on an
/// available backend, leaving out the one at index `skip`.
fn healthy_count(
    replicas: &[ReplicaView],
    skip: Option<usize>,
    visible_version: i64,
    cluster: &ClusterView,
) -> usize {
    let kept: Vec<ReplicaView> = replicas
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != skip)
        .map(|(_, r)| r.clone())
        .collect();
    kept.iter()
        .filter(|r| {
            health::replica_alive(r, &kept, cluster)
                && health::replica_version_complete(r, visible_version)
                && cluster.is_available(r.backend_id)
        })
        .count()
}

/// Chooses the replica a REDUNDANT / FORCE_REDUNDANT repair drops (spec 5.6,
/// `handleRedundantReplica`), or `None` when none may be dropped.
///
/// Rules, first match wins: (1) backend dropped (absent from `cluster`); (2) bad; (3) backend
/// unavailable (dead, whatever the tolerance window, or decommissioned); (4) state `Clone` or
/// `Decommission`; (5) `last_failed_version > 0`; (6) version below `visible_version`, lowest
/// first; (7) a second replica on a host (the later one in `replicas` is dropped); (9) the
/// replica on the backend with the most replicas in `loads` (then the highest used share,
/// then the earlier replica; replicas of backends absent from `loads` are not considered).
/// Rule (8), the balancer's chosen move source, is the caller's business. Within a rule,
/// ties go to the earlier replica.
///
/// Safety guard: a replica is never chosen when dropping it would leave fewer than
/// `replication_num` healthy replicas (alive, version-complete, on an available backend) *and*
/// fewer than there are now. Dropping a replica that is not healthy itself is therefore always
/// allowed (that is how FORCE_REDUNDANT makes room with only n − 1 healthy copies), while a
/// healthy copy is only dropped from a surplus. A candidate refused by the guard is skipped
/// and the search goes on; if nothing passes, the result is `None`.
pub fn choose_redundant(
    replicas: &[ReplicaView],
    visible_version: i64,
    cluster: &ClusterView,
    loads: &[BackendLoad],
    replication_num: u16,
) -> Option<ReplicaView> {
    let n = usize::from(replication_num);
    let before = healthy_count(replicas, None, visible_version, cluster);
    let allowed = |i: &usize| {
        let after = healthy_count(replicas, Some(*i), visible_version, cluster);
        after >= n || after >= before
    };
    let matching = |pred: &dyn Fn(&ReplicaView) -> bool| -> Vec<usize> {
        (0..replicas.len())
            .filter(|&i| replicas.get(i).is_some_and(pred))
            .collect()
    };
    let host = |r: &ReplicaView| cluster.backends.get(&r.backend_id).map(|b| b.host.as_str());

    // (6) lower version, lowest first.
    let mut lower = matching(&|r| r.version < visible_version);
    lower.sort_by_key(|&i| replicas.get(i).map(|r| r.version));
    // (9) most loaded backend: most replicas, then highest used share, then earlier replica.
    let mut loaded: Vec<(usize, u64, f64)> = replicas
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            find(loads, r.backend_id).map(|b| (i, b.replica_count, b.used_fraction()))
        })
        .collect();
    loaded.sort_by(|a, b| b.1.cmp(&a.1).then(b.2.total_cmp(&a.2)).then(a.0.cmp(&b.0)));

    let rules: [Vec<usize>; 8] = [
        // (1) backend dropped.
        matching(&|r| !cluster.backends.contains_key(&r.backend_id)),
        // (2) bad.
        matching(&|r| r.bad),
        // (3) backend unavailable: dead or decommissioned.
        matching(&|r| !cluster.is_available(r.backend_id)),
        // (4) being cloned or dropped.
        matching(&|r| r.state != ReplicaStateView::Normal),
        // (5) known to miss a version.
        matching(&|r| r.last_failed_version > 0),
        lower,
        // (7) a later replica on a host already holding one.
        (0..replicas.len())
            .filter(|&i| {
                let earlier = replicas.get(..i).unwrap_or_default();
                replicas
                    .get(i)
                    .and_then(host)
                    .is_some_and(|h| earlier.iter().any(|e| host(e) == Some(h)))
            })
            .collect(),
        loaded.into_iter().map(|(i, _, _)| i).collect(),
    ];
    rules
        .into_iter()
        .find_map(|candidates| candidates.into_iter().find(allowed))
        .and_then(|i| replicas.get(i).cloned())
}

/// A clone task's timeout (spec 5.8): the tablet size at 5 MiB/s, in whole seconds, clamped
/// to `[min_s, max_s]` (`tablet_sched_min/max_clone_task_timeout_sec`, 180 and 7200), in
/// milliseconds. If `min_s > max_s`, `max_s` wins.
pub fn clone_timeout_ms(tablet_bytes: i64, min_s: i64, max_s: i64) -> i64 {
    let seconds = tablet_bytes.max(0) / MIN_CLONE_BYTES_PER_SECOND;
    seconds.max(min_s).min(max_s).saturating_mul(1000)
}

/// The version a clone copies up to: everything the source has published, which may be
/// above the partition's visible version. A committed load waits until a quorum of each
/// tablet's replicas published it; when the replicas that had it were rebuilt or replaced
/// meanwhile, it may live on fewer than a quorum. Cloning only to the visible version would
/// then never give it its quorum, and it (and every later load of the partition) would stay
/// invisible while the clones "succeed" forever (found by the fault-injection suite).
pub fn clone_target_version(source: &ReplicaView, visible_version: i64) -> i64 {
    source.version.max(visible_version)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::BackendView;

    #[test]
    fn a_clone_copies_what_the_source_published_beyond_the_visible_version() {
        // Visible 8; the load of version 9 is committed and published on one replica only.
        let source = rep(11, 1, 9);
        assert_eq!(clone_target_version(&source, 8), 9);
        // Never below the visible version.
        assert_eq!(clone_target_version(&rep(12, 2, 8), 8), 8);
        // choose_source prefers the replica that has the committed version.
        let replicas = vec![rep(11, 1, 9), rep(12, 2, 8), rep(13, 3, 8)];
        let Choice::Chosen(chosen) = choose_source(&replicas, 8, &loads(3), Some(2)) else {
            panic!("a source is chosen");
        };
        assert_eq!(clone_target_version(&chosen, 8), 9);
    }

    const GB: i64 = 1 << 30;

    /// An available backend on host "h<id>" with 100 GB, `used_gb` used, `replicas` replicas
    /// and 4 free slots.
    fn load(id: i64, replicas: u64, used_gb: i64) -> BackendLoad {
        BackendLoad {
            id,
            host: format!("h{id}"),
            available: true,
            alive: true,
            replica_count: replicas,
            used_bytes: used_gb * GB,
            total_bytes: 100 * GB,
            available_bytes: (100 - used_gb) * GB,
            free_slots: 4,
        }
    }

    fn loads(n: i64) -> Vec<BackendLoad> {
        (1..=n).map(|i| load(i, 10, 10)).collect()
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

    /// Replica 10+b on backend b at version `v`.
    fn reps(backend_ids: &[i64], v: i64) -> Vec<ReplicaView> {
        backend_ids.iter().map(|&b| rep(10 + b, b, v)).collect()
    }

    fn cluster_of(loads: &[BackendLoad]) -> ClusterView {
        ClusterView {
            backends: loads
                .iter()
                .map(|l| {
                    (
                        l.id,
                        BackendView {
                            id: l.id,
                            host: l.host.clone(),
                            alive: l.alive,
                            decommissioned: l.alive && !l.available,
                            last_heartbeat_ms: 1_000,
                        },
                    )
                })
                .collect(),
            now_ms: 1_000,
            be_down_tolerate_ms: 900_000,
        }
    }

    fn no_dest(reason: &str) -> Choice<i64> {
        Choice::Unrepairable(Unrepairable::NoDestination(reason.to_string()))
    }

    fn no_source<T>(reason: &str) -> Choice<T> {
        Choice::Unrepairable(Unrepairable::NoSource(reason.to_string()))
    }

    // ---------------------------------------------------------------- Choice

    #[test]
    fn choice_helpers() {
        assert_eq!(Choice::Chosen(3).chosen(), Some(3));
        assert_eq!(Choice::<i64>::Busy("b".into()).chosen(), None);
        assert!(Choice::<i64>::Busy("b".into()).is_busy());
        assert!(!Choice::Chosen(1).is_busy());
        let u = Unrepairable::NoSource("why".into());
        assert_eq!(u.reason(), "why");
        assert_eq!(u.to_string(), "why");
        assert_eq!(
            Unrepairable::NoDestination("where".into()).reason(),
            "where"
        );
    }

    // ---------------------------------------------------------------- destination

    #[test]
    fn destination_skips_backends_holding_a_replica_and_picks_the_least_loaded() {
        let mut bes = loads(6);
        bes[3] = load(4, 100, 50);
        bes[4] = load(5, 10, 10);
        bes[5] = load(6, 50, 30);
        let rs = reps(&[1, 2, 3], 5);
        assert_eq!(choose_destination(&rs, &bes, GB, 90.0), Choice::Chosen(5));
    }

    #[test]
    fn destination_score_weighs_disk_usage_above_the_high_water_mark() {
        // Holders 1..3: 20 replicas, 50 % used. Candidate 4 has the fewest replicas but is
        // 80 % full (coefficient 1: score = 0.8/0.46 ≈ 1.74); candidate 5 has more replicas
        // but 10 % used (0.5 × 0.1/0.46 + 0.5 × 30/20 ≈ 0.86).
        let bes = vec![
            load(1, 20, 50),
            load(2, 20, 50),
            load(3, 20, 50),
            load(4, 10, 80),
            load(5, 30, 10),
        ];
        let rs = reps(&[1, 2, 3], 5);
        assert_eq!(choose_destination(&rs, &bes, GB, 90.0), Choice::Chosen(5));
    }

    #[test]
    fn destination_ties_go_to_the_lowest_id() {
        let bes = loads(6);
        let rs = reps(&[1, 2], 5);
        assert_eq!(choose_destination(&rs, &bes, GB, 90.0), Choice::Chosen(3));
    }

    #[test]
    fn destination_skips_dead_and_decommissioned_backends() {
        let mut bes = loads(5);
        bes[2].alive = false;
        bes[2].available = false;
        bes[3].available = false; // decommissioned
        bes[2].replica_count = 0;
        bes[3].replica_count = 0;
        let rs = reps(&[1, 2], 5);
        assert_eq!(choose_destination(&rs, &bes, GB, 90.0), Choice::Chosen(5));
    }

    #[test]
    fn destination_skips_a_host_already_holding_a_replica() {
        let mut bes = loads(4);
        bes[2].host = "h1".into(); // backend 3 shares host h1 with replica on 1
        bes[2].replica_count = 0;
        let rs = reps(&[1, 2], 5);
        assert_eq!(choose_destination(&rs, &bes, GB, 90.0), Choice::Chosen(4));
    }

    #[test]
    fn destination_skips_full_disks() {
        let mut bes = loads(6);
        bes[2] = load(3, 0, 89); // 89 GB + 2 GB > 90 %
        bes[3] = load(4, 0, 10);
        bes[3].available_bytes = 2 * GB; // not more than the tablet
        bes[4] = load(5, 0, 10);
        bes[4].total_bytes = 0; // capacity unknown
        let rs = reps(&[1, 2], 5);
        assert_eq!(
            choose_destination(&rs, &bes, 2 * GB, 90.0),
            Choice::Chosen(6)
        );
        // 88 GB + 2 GB is exactly 90 %: not below the limit either.
        bes[2] = load(3, 0, 88);
        assert_eq!(
            choose_destination(&rs, &bes, 2 * GB, 90.0),
            Choice::Chosen(6)
        );
        bes[2] = load(3, 0, 87);
        bes[5].available = false;
        assert_eq!(
            choose_destination(&rs, &bes, 2 * GB, 90.0),
            Choice::Chosen(3)
        );
    }

    #[test]
    fn destination_busy_when_every_fitting_backend_lacks_a_slot() {
        let mut bes = loads(5);
        bes[3].free_slots = 0;
        bes[4].free_slots = 0;
        let rs = reps(&[1, 2, 3], 5);
        assert_eq!(
            choose_destination(&rs, &bes, GB, 90.0),
            Choice::Busy(
                "2 backends could take the new replica but none has a free clone slot; \
                 wait for next round"
                    .into()
            )
        );
        // The least loaded fit without a slot is passed over for the next one with a slot.
        bes[3].replica_count = 0;
        bes[4].free_slots = 1;
        assert_eq!(choose_destination(&rs, &bes, GB, 90.0), Choice::Chosen(5));
    }

    #[test]
    fn destination_reasons_when_nothing_fits() {
        let mut bes = loads(4);
        bes[3].alive = false;
        bes[3].available = false;
        let rs = reps(&[1, 2, 3], 5);
        assert_eq!(
            choose_destination(&rs, &bes, GB, 90.0),
            no_dest(
                "no available backend on a host without a replica of this tablet \
                 (4 backends: 1 dead, 3 hold a replica)"
            )
        );
        bes[3] = load(4, 0, 10);
        bes[3].available = false;
        bes[2].host = "h1".into();
        let rs = reps(&[1, 2], 5);
        assert_eq!(
            choose_destination(&rs, &bes, GB, 90.0),
            no_dest(
                "no available backend on a host without a replica of this tablet \
                 (4 backends: 1 decommissioned, 2 hold a replica, 1 shares a host with a replica)"
            )
        );
        let bes = vec![load(1, 0, 10), load(2, 0, 89), load(3, 0, 95)];
        let rs = reps(&[1], 5);
        assert_eq!(
            choose_destination(&rs, &bes, GB, 90.0),
            no_dest(&format!(
                "no available backend on a host without a replica of this tablet has room for \
                 its {GB} bytes below 90% usage (3 backends: 1 holds a replica, 2 lack disk space)"
            ))
        );
        assert_eq!(
            choose_destination(&rs, &[], GB, 90.0),
            no_dest("no available backend on a host without a replica of this tablet (0 backends)")
        );
    }

    #[test]
    fn destination_with_a_replica_on_an_unknown_backend_excludes_only_that_id() {
        let bes = loads(2);
        let rs = reps(&[9], 5);
        assert_eq!(choose_destination(&rs, &bes, GB, 90.0), Choice::Chosen(1));
    }

    // ---------------------------------------------------------------- source

    #[test]
    fn source_prefers_the_highest_version_then_free_slots_then_lowest_id() {
        let mut bes = loads(4);
        let mut rs = reps(&[1, 2, 3, 4], 5);
        rs[2].version = 6;
        assert_eq!(
            choose_source(&rs, 5, &bes, None),
            Choice::Chosen(rs[2].clone())
        );
        rs[2].version = 5;
        bes[3].free_slots = 8;
        assert_eq!(
            choose_source(&rs, 5, &bes, None),
            Choice::Chosen(rs[3].clone())
        );
        bes[3].free_slots = 4;
        assert_eq!(
            choose_source(&rs, 5, &bes, None),
            Choice::Chosen(rs[0].clone())
        );
    }

    #[test]
    fn source_skips_lagging_bad_cloning_dropping_and_dead_replicas() {
        let mut bes = loads(6);
        let mut rs = reps(&[1, 2, 3, 4, 5, 6, 9], 7);
        rs[0].version = 6; // behind visible
        rs[1].last_failed_version = 7; // known to miss a version
        rs[2].bad = true;
        rs[3].state = ReplicaStateView::Clone;
        rs[4].state = ReplicaStateView::Decommission;
        bes[5].alive = false;
        bes[5].available = false;
        // rs[6] is on backend 9, which does not exist.
        assert_eq!(
            choose_source(&rs, 7, &bes, None),
            no_source(
                "no healthy replica to clone from (7 replicas: 1 is on a dropped backend, \
                 1 is on a dead backend, 1 is bad, 2 are being cloned or dropped, \
                 2 miss versions (visible version 7))"
            )
        );
        // A normal replica on a decommissioned (alive, unavailable) backend is a fine source.
        bes[5].alive = true;
        assert_eq!(
            choose_source(&rs, 7, &bes, None),
            Choice::Chosen(rs[5].clone())
        );
    }

    #[test]
    fn source_excludes_the_destination_backend() {
        let bes = loads(2);
        let mut rs = reps(&[1, 2], 5);
        rs[0].version = 6;
        assert_eq!(
            choose_source(&rs, 5, &bes, Some(1)),
            Choice::Chosen(rs[1].clone())
        );
        assert_eq!(
            choose_source(&rs[..1], 5, &bes, Some(1)),
            no_source("no healthy replica to clone from (1 replica: 1 is on the destination)")
        );
        assert_eq!(
            choose_source(&[], 5, &bes, None),
            no_source("no healthy replica to clone from (0 replicas)")
        );
    }

    #[test]
    fn source_busy_when_every_candidate_lacks_a_slot() {
        let mut bes = loads(3);
        let mut rs = reps(&[1, 2, 3], 5);
        rs[2].bad = true;
        bes[0].free_slots = 0;
        bes[1].free_slots = 0;
        assert_eq!(
            choose_source(&rs, 5, &bes, None),
            Choice::Busy(
                "no free clone slot on the 2 backend(s) holding a healthy replica; \
                 wait for next round"
                    .into()
            )
        );
        // One free slot is enough.
        bes[1].free_slots = 1;
        assert_eq!(
            choose_source(&rs, 5, &bes, None),
            Choice::Chosen(rs[1].clone())
        );
    }

    #[test]
    fn source_falls_back_to_an_older_candidate_with_a_slot() {
        // As in StarRocks: sorted by version, the first with a free slot is taken.
        let mut bes = loads(2);
        let mut rs = reps(&[1, 2], 5);
        rs[0].version = 6;
        bes[0].free_slots = 0;
        assert_eq!(
            choose_source(&rs, 5, &bes, None),
            Choice::Chosen(rs[1].clone())
        );
    }

    // ---------------------------------------------------------------- incomplete replica

    #[test]
    fn incomplete_prefers_need_further_repair() {
        let bes = loads(3);
        let mut rs = reps(&[1, 2, 3], 10);
        rs[0].version = 8;
        rs[0].last_failed_version = 9;
        rs[0].last_success_version = 10; // would end the ordinary scan at once
        rs[2].version = 9;
        rs[2].need_further_repair = true;
        assert_eq!(
            choose_incomplete_replica(&rs, 10, &bes),
            Choice::Chosen(rs[2].clone())
        );
    }

    #[test]
    fn incomplete_takes_one_that_loaded_since_it_failed_and_stops() {
        let bes = loads(4);
        let mut rs = reps(&[1, 2, 3, 4], 10);
        rs[0].version = 7;
        rs[0].last_failed_version = 8;
        rs[0].last_success_version = 7;
        rs[1].version = 8;
        rs[1].last_failed_version = 9;
        rs[1].last_success_version = 10; // loaded since its failure
        rs[2].version = 5;
        rs[2].last_failed_version = 6; // lower failure, but the scan stopped
        rs[2].last_success_version = 5;
        assert_eq!(
            choose_incomplete_replica(&rs, 10, &bes),
            Choice::Chosen(rs[1].clone())
        );
    }

    #[test]
    fn incomplete_takes_the_lowest_failed_version_otherwise() {
        let bes = loads(4);
        let mut rs = reps(&[1, 2, 3, 4], 10);
        for (i, lfv) in [(0, 9), (1, 7), (2, 8)] {
            rs[i].version = lfv - 1;
            rs[i].last_failed_version = lfv;
            rs[i].last_success_version = lfv - 1;
        }
        assert_eq!(
            choose_incomplete_replica(&rs, 10, &bes),
            Choice::Chosen(rs[1].clone())
        );
        // A replica merely behind the visible version (no failure recorded) has
        // last_failed_version -1: the lowest.
        rs[3].version = 9;
        assert_eq!(
            choose_incomplete_replica(&rs, 10, &bes),
            Choice::Chosen(rs[3].clone())
        );
    }

    #[test]
    fn incomplete_first_lagging_replica_is_kept_when_nothing_beats_it() {
        let bes = loads(3);
        let mut rs = reps(&[1, 2, 3], 10);
        rs[0].version = 9;
        rs[0].last_failed_version = 10;
        rs[0].last_success_version = 11; // first one: taken without the check
        rs[1].version = 9;
        rs[1].last_failed_version = 10;
        rs[1].last_success_version = 9;
        assert_eq!(
            choose_incomplete_replica(&rs, 10, &bes),
            Choice::Chosen(rs[0].clone())
        );
    }

    #[test]
    fn incomplete_skips_bad_non_normal_dead_and_allows_decommissioned() {
        let mut bes = loads(5);
        let mut rs = reps(&[1, 2, 3, 4, 5], 10);
        for r in rs.iter_mut() {
            r.version = 9;
        }
        rs[0].bad = true;
        rs[1].state = ReplicaStateView::Clone;
        rs[2].state = ReplicaStateView::Decommission;
        bes[3].alive = false;
        bes[3].available = false;
        bes[4].available = false; // decommissioned but alive
        assert_eq!(
            choose_incomplete_replica(&rs, 10, &bes),
            Choice::Chosen(rs[4].clone())
        );
        bes[4].alive = false;
        assert_eq!(
            choose_incomplete_replica(&rs, 10, &bes),
            Choice::Unrepairable(Unrepairable::NoDestination(
                "no lagging replica on an alive backend to repair in place (5 replicas: \
                 2 are on dead backends, 1 is bad, 2 are being cloned or dropped)"
                    .into()
            ))
        );
    }

    #[test]
    fn incomplete_reports_complete_and_dropped_replicas() {
        let bes = loads(2);
        let rs = reps(&[1, 2, 9], 10);
        assert_eq!(
            choose_incomplete_replica(&rs, 10, &bes),
            Choice::Unrepairable(Unrepairable::NoDestination(
                "no lagging replica on an alive backend to repair in place (3 replicas: \
                 1 is on a dropped backend, 2 are complete)"
                    .into()
            ))
        );
    }

    #[test]
    fn incomplete_busy_when_its_backend_has_no_slot() {
        let mut bes = loads(3);
        let mut rs = reps(&[1, 2, 3], 10);
        rs[1].version = 9;
        bes[1].free_slots = 0;
        assert_eq!(
            choose_incomplete_replica(&rs, 10, &bes),
            Choice::Busy(
                "backend 2 holding lagging replica 12 has no free clone slot; wait for next round"
                    .into()
            )
        );
    }

    // ---------------------------------------------------------------- redundant

    #[test]
    fn redundant_rule1_dropped_backend_first() {
        let bes = loads(4);
        let c = cluster_of(&bes);
        let mut rs = reps(&[1, 2, 3, 9], 5);
        rs[0].bad = true;
        assert_eq!(choose_redundant(&rs, 5, &c, &bes, 3), Some(rs[3].clone()));
    }

    #[test]
    fn redundant_rule2_bad() {
        let bes = loads(4);
        let c = cluster_of(&bes);
        let mut rs = reps(&[1, 2, 3, 4], 5);
        rs[3].last_failed_version = 6;
        rs[1].bad = true;
        assert_eq!(choose_redundant(&rs, 5, &c, &bes, 3), Some(rs[1].clone()));
    }

    #[test]
    fn redundant_rule3_unavailable_backend_dead_or_decommissioned() {
        let mut bes = loads(4);
        bes[2].available = false; // decommissioned
        let c = cluster_of(&bes);
        let mut rs = reps(&[1, 2, 3, 4], 5);
        rs[3].state = ReplicaStateView::Clone;
        assert_eq!(choose_redundant(&rs, 5, &c, &bes, 3), Some(rs[2].clone()));
        // A dead backend counts even within the tolerance window.
        let mut bes = loads(4);
        bes[1].alive = false;
        bes[1].available = false;
        let c = cluster_of(&bes);
        assert_eq!(choose_redundant(&rs, 5, &c, &bes, 3), Some(rs[1].clone()));
    }

    #[test]
    fn redundant_rule4_clone_or_decommission_state() {
        let bes = loads(4);
        let c = cluster_of(&bes);
        let mut rs = reps(&[1, 2, 3, 4], 5);
        rs[0].last_failed_version = 6;
        rs[2].state = ReplicaStateView::Decommission;
        rs[3].state = ReplicaStateView::Clone;
        assert_eq!(choose_redundant(&rs, 5, &c, &bes, 3), Some(rs[2].clone()));
    }

    #[test]
    fn redundant_rule5_failed_version() {
        let bes = loads(4);
        let c = cluster_of(&bes);
        let mut rs = reps(&[1, 2, 3, 4], 5);
        rs[0].version = 4;
        rs[2].last_failed_version = 5;
        assert_eq!(choose_redundant(&rs, 5, &c, &bes, 3), Some(rs[2].clone()));
    }

    #[test]
    fn redundant_rule6_lowest_version() {
        let bes = loads(5);
        let c = cluster_of(&bes);
        let mut rs = reps(&[1, 2, 3, 4, 5], 5);
        rs[1].version = 4;
        rs[3].version = 3;
        assert_eq!(choose_redundant(&rs, 5, &c, &bes, 3), Some(rs[3].clone()));
    }

    #[test]
    fn redundant_rule7_later_replica_on_a_shared_host() {
        let mut bes = loads(4);
        bes[3].host = "h2".into();
        bes[0].replica_count = 1000; // rule 9 would pick backend 1
        let c = cluster_of(&bes);
        let rs = reps(&[1, 2, 3, 4], 5);
        assert_eq!(choose_redundant(&rs, 5, &c, &bes, 3), Some(rs[3].clone()));
    }

    #[test]
    fn redundant_rule9_most_loaded_backend() {
        let mut bes = loads(4);
        bes[2].replica_count = 50;
        let c = cluster_of(&bes);
        let rs = reps(&[1, 2, 3, 4], 5);
        assert_eq!(choose_redundant(&rs, 5, &c, &bes, 3), Some(rs[2].clone()));
        // Equal counts: the fuller disk, then the earlier replica.
        let mut bes = loads(4);
        bes[1].used_bytes += GB;
        assert_eq!(choose_redundant(&rs, 5, &c, &bes, 3), Some(rs[1].clone()));
        let bes = loads(4);
        assert_eq!(choose_redundant(&rs, 5, &c, &bes, 3), Some(rs[0].clone()));
        // Backends missing from the loads are not considered.
        assert_eq!(
            choose_redundant(&rs, 5, &c, &bes[1..], 3),
            Some(rs[1].clone())
        );
        assert_eq!(choose_redundant(&rs, 5, &c, &[], 3), None);
    }

    #[test]
    fn redundant_never_drops_below_replication_num_healthy() {
        let bes = loads(3);
        let c = cluster_of(&bes);
        let rs = reps(&[1, 2, 3], 5);
        // Exactly n healthy: nothing may go.
        assert_eq!(choose_redundant(&rs, 5, &c, &bes, 3), None);
        // One healthy extra: it may.
        assert_eq!(choose_redundant(&rs, 5, &c, &bes, 2), Some(rs[0].clone()));
    }

    #[test]
    fn redundant_force_drops_a_broken_replica_when_healthy_are_already_short() {
        // FORCE_REDUNDANT: 3 BEs, 3 replicas, one bad, n = 3. Only 2 healthy; dropping the bad
        // one keeps 2, so it is allowed.
        let bes = loads(3);
        let c = cluster_of(&bes);
        let mut rs = reps(&[1, 2, 3], 5);
        rs[1].bad = true;
        assert_eq!(choose_redundant(&rs, 5, &c, &bes, 3), Some(rs[1].clone()));
    }

    #[test]
    fn redundant_guard_only_blocks_healthy_replicas_needed_for_replication_num() {
        // Replicas on 1..4, the one on 4 dead, n = 3: 3 healthy.
        let mut bes = loads(4);
        bes[3].alive = false;
        bes[3].available = false;
        let c = cluster_of(&bes);
        let mut rs = reps(&[1, 2, 3, 4], 5);
        rs[0].version = 6;
        // Rule 3 picks the dead backend's replica: not healthy, allowed.
        assert_eq!(choose_redundant(&rs, 5, &c, &bes, 3), Some(rs[3].clone()));
        // Without it, every replica is healthy and needed.
        assert_eq!(choose_redundant(&rs[..3], 5, &c, &bes, 3), None);
        // Already short of n healthy (4 healthy, n = 5): no healthy one may go either.
        let bes = loads(4);
        let c = cluster_of(&bes);
        let rs = reps(&[1, 2, 3, 4], 5);
        assert_eq!(choose_redundant(&rs, 5, &c, &bes, 5), None);
        // But n = 3 leaves a surplus of one.
        assert_eq!(choose_redundant(&rs, 5, &c, &bes, 3), Some(rs[0].clone()));
    }

    #[test]
    fn redundant_guard_counts_a_shared_host_once() {
        // Replicas on 1, 2 (same host as 1) and 3, n = 2: healthy = 2 (1 and 3). Rule 7 picks
        // the replica on 2, which is not healthy: allowed.
        let mut bes = loads(3);
        bes[1].host = "h1".into();
        let c = cluster_of(&bes);
        let rs = reps(&[1, 2, 3], 5);
        assert_eq!(choose_redundant(&rs, 5, &c, &bes, 2), Some(rs[1].clone()));
        // With n = 3 the same drop is allowed too: it does not reduce the healthy count.
        assert_eq!(choose_redundant(&rs, 5, &c, &bes, 3), Some(rs[1].clone()));
    }

    // ---------------------------------------------------------------- timeout

    #[test]
    fn clone_timeout_is_size_at_5_mib_per_second_clamped() {
        let mib = 1024 * 1024;
        assert_eq!(clone_timeout_ms(0, 180, 7200), 180_000);
        assert_eq!(clone_timeout_ms(-5, 180, 7200), 180_000);
        assert_eq!(clone_timeout_ms(5 * mib * 180, 180, 7200), 180_000);
        assert_eq!(clone_timeout_ms(5 * mib * 1000, 180, 7200), 1_000_000);
        assert_eq!(
            clone_timeout_ms(5 * mib * 1000 + 5 * mib - 1, 180, 7200),
            1_000_000
        );
        assert_eq!(clone_timeout_ms(5 * mib * 10_000, 180, 7200), 7_200_000);
        assert_eq!(clone_timeout_ms(i64::MAX, 180, 7200), 7_200_000);
        assert_eq!(clone_timeout_ms(5 * mib * 1000, 7200, 180), 180_000);
        assert_eq!(clone_timeout_ms(0, 0, i64::MAX), 0);
        assert_eq!(
            clone_timeout_ms(i64::MAX, 0, i64::MAX),
            (i64::MAX / (5 * mib)) * 1000
        );
    }
}
