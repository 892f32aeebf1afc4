//! Replica placement for new tablets.
//!
//! StarRocks walks a round-robin cursor over the available backends, one per host. Tessera
//! keeps the "one replica per host" rule and balances by count: every tablet's replicas go to
//! the eligible backends holding the fewest replicas so far (existing ones included), ties
//! broken by a rotating cursor so equal backends take turns. The result is the same spread as
//! StarRocks's on an empty cluster and a better one on an uneven cluster.

use std::collections::BTreeMap;
use std::collections::BTreeSet;

/// A backend as placement sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendView {
    /// Backend id.
    pub id: i64,
    /// Host: replicas of one tablet never share a host.
    pub host: String,
    /// Alive and not decommissioned.
    pub available: bool,
    /// Replicas it holds now.
    pub replicas: u64,
}

/// Why replicas cannot be placed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotEnoughBackends {
    /// Replicas wanted per tablet.
    pub wanted: usize,
    /// Ids of the available backends.
    pub available: Vec<i64>,
    /// Distinct hosts among them.
    pub hosts: usize,
}

/// Chooses `replication_num` backends for each of `tablets` tablets.
///
/// Returns one list of backend ids per tablet, or the reason it cannot (fewer available
/// hosts than replicas), in which case nothing should be created.
pub fn place_replicas(
    backends: &[BackendView],
    tablets: usize,
    replication_num: usize,
) -> Result<Vec<Vec<i64>>, NotEnoughBackends> {
    let eligible: Vec<&BackendView> = backends.iter().filter(|b| b.available).collect();
    let hosts: BTreeSet<&str> = eligible.iter().map(|b| b.host.as_str()).collect();
    if replication_num == 0 || hosts.len() < replication_num {
        return Err(NotEnoughBackends {
            wanted: replication_num,
            available: eligible.iter().map(|b| b.id).collect(),
            hosts: hosts.len(),
        });
    }
    let mut counts: BTreeMap<i64, u64> = eligible.iter().map(|b| (b.id, b.replicas)).collect();
    let order: Vec<&BackendView> = {
        let mut v = eligible.clone();
        v.sort_by_key(|b| b.id);
        v
    };
    let mut out = Vec::with_capacity(tablets);
    for t in 0..tablets {
        // Rotate the tie-break order by tablet so equally loaded backends take turns.
        let n = order.len();
        let mut candidates: Vec<(u64, usize, &BackendView)> = order
            .iter()
            .enumerate()
            .map(|(i, b)| (counts[&b.id], (i + n - (t % n)) % n, *b))
            .collect();
        candidates.sort_by_key(|(count, rank, _)| (*count, *rank));
        let mut chosen = Vec::with_capacity(replication_num);
        let mut used_hosts = BTreeSet::new();
        for (_, _, b) in candidates {
            if chosen.len() == replication_num {
                break;
            }
            if used_hosts.insert(b.host.as_str()) {
                chosen.push(b.id);
            }
        }
        debug_assert_eq!(
            chosen.len(),
            replication_num,
            "enough hosts were checked above"
        );
        for id in &chosen {
            *counts.entry(*id).or_default() += 1;
        }
        out.push(chosen);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn be(id: i64, host: &str, available: bool, replicas: u64) -> BackendView {
        BackendView {
            id,
            host: host.to_string(),
            available,
            replicas,
        }
    }

    #[test]
    fn replicas_of_a_tablet_are_on_distinct_hosts_and_counts_balance() {
        let bes: Vec<_> = (1..=4).map(|i| be(i, &format!("h{i}"), true, 0)).collect();
        let placed = place_replicas(&bes, 100, 3).expect("placed");
        let mut counts = BTreeMap::new();
        for p in &placed {
            assert_eq!(p.len(), 3);
            let hosts: BTreeSet<_> = p.iter().collect();
            assert_eq!(hosts.len(), 3);
            for id in p {
                *counts.entry(*id).or_insert(0) += 1;
            }
        }
        let (min, max) = (
            counts.values().min().copied(),
            counts.values().max().copied(),
        );
        assert_eq!((min, max), (Some(75), Some(75)));
    }

    #[test]
    fn two_backends_on_one_host_never_hold_the_same_tablet() {
        let bes = vec![
            be(1, "a", true, 0),
            be(2, "a", true, 0),
            be(3, "b", true, 0),
        ];
        for p in place_replicas(&bes, 10, 2).expect("placed") {
            assert!(p.contains(&3), "{p:?}");
        }
        let err = place_replicas(&bes, 1, 3).expect_err("only two hosts");
        assert_eq!(err.hosts, 2);
    }

    #[test]
    fn dead_and_decommissioned_backends_get_nothing() {
        let bes = vec![
            be(1, "a", true, 0),
            be(2, "b", false, 0),
            be(3, "c", true, 0),
        ];
        for p in place_replicas(&bes, 5, 2).expect("placed") {
            assert!(!p.contains(&2));
        }
        let err = place_replicas(&bes, 1, 3).expect_err("one is dead");
        assert_eq!(err.available, vec![1, 3]);
    }

    #[test]
    fn an_uneven_cluster_fills_the_emptiest_backends_first() {
        let bes = vec![
            be(1, "a", true, 10),
            be(2, "b", true, 0),
            be(3, "c", true, 0),
        ];
        let placed = place_replicas(&bes, 10, 1).expect("placed");
        let on_1 = placed.iter().filter(|p| p[0] == 1).count();
        assert_eq!(on_1, 0);
        let zero = place_replicas(&bes, 1, 0).expect_err("zero replicas");
        assert_eq!(zero.wanted, 0);
    }
}
