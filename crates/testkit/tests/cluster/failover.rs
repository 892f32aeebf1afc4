//! Leader failover, quorum loss and recovery, restart without --helper.

use std::time::Duration;
use std::time::Instant;

use tessera_testkit::Cluster;
use tessera_testkit::wait_until;

use crate::WAIT;
use crate::phase;

fn databases(c: &Cluster, i: u8) -> Vec<String> {
    c.sql(i, "SHOW DATABASES")
        .map(|r| r.first_column())
        .unwrap_or_default()
}

#[test]
fn killing_the_leader_elects_a_new_one_and_loses_no_acknowledged_write() {
    let mut c = Cluster::new("failover");
    c.start_ha(3, 1);
    let old = c.wait_leader(WAIT);
    phase!("acknowledged writes through every FE");
    let mut acknowledged = Vec::new();
    for n in 0..12 {
        let via = (n % 4) as u8 + 1;
        let name = format!("acked_{n}");
        c.sql_ok(via, &format!("CREATE DATABASE {name}"));
        acknowledged.push(name);
    }
    phase!("kill -9 the leader (node {old})");
    c.kill(old);
    let killed_at = Instant::now();
    let survivor = if old == 2 { 3 } else { 2 };
    let name = wait_until(WAIT, "a write accepted after the failover", || {
        c.sql(survivor, "CREATE DATABASE after_failover")
            .ok()
            .map(|_| "after_failover".to_string())
    });
    phase!("first write after the kill took {:?}", killed_at.elapsed());
    acknowledged.push(name);
    let new = c.wait_leader(WAIT);
    assert_ne!(new, old);
    phase!("the new leader accepts writes on its own, also through the observer");
    c.sql_ok(new, "CREATE DATABASE on_new_leader");
    c.sql_ok(4, "CREATE DATABASE through_observer");
    acknowledged.push("on_new_leader".into());
    acknowledged.push("through_observer".into());
    for i in [1u8, 2, 3, 4].into_iter().filter(|i| *i != old) {
        let dbs = databases(&c, i);
        for a in &acknowledged {
            assert!(dbs.contains(a), "node {i} lost acknowledged {a}");
        }
    }
    phase!("the old leader restarts without --helper and rejoins as a follower");
    c.start_fe(old, None);
    c.wait_frontend_field(new, old, "Alive", "true", WAIT);
    c.wait_frontend_field(old, new, "IsMaster", "true", WAIT);
    let fes = c.frontends(old).expect("show");
    assert_eq!(fes[&tessera_testkit::ip(old)]["IsMaster"], "false");
    wait_until(WAIT, "the old leader replays everything", || {
        let dbs = databases(&c, old);
        acknowledged.iter().all(|a| dbs.contains(a)).then_some(())
    });
    c.sql_ok(old, "CREATE DATABASE from_old_leader");
}

#[test]
fn losing_two_of_three_followers_stops_writes_until_one_returns() {
    let mut c = Cluster::new("quorumloss");
    c.start_ha(3, 1);
    let leader = c.wait_leader(WAIT);
    let others: Vec<u8> = [1u8, 2, 3].into_iter().filter(|i| *i != leader).collect();
    phase!("kill both followers that are not the leader ({others:?})");
    for &i in &others {
        c.kill(i);
    }
    phase!("writes fail with a clear error, through the leader and the observer");
    // A write proposed in the instant before the leader noticed may time out ambiguously (and
    // may take effect later, as raft allows); a definite refusal must never take effect.
    let mut refused = Vec::new();
    for via in [leader, 4] {
        let started = Instant::now();
        let mut k = 0;
        let e = wait_until(Duration::from_secs(60), "a definite refusal", || {
            k += 1;
            let name = format!("no_quorum_{via}_{k}");
            match c.sql(via, &format!("CREATE DATABASE {name}")) {
                Ok(_) => panic!("a write succeeded without a quorum"),
                Err(e)
                    if e.message.contains("may still take effect")
                        || e.message.contains("may have taken effect") =>
                {
                    None
                }
                Err(e) => Some((name, e)),
            }
        });
        assert!(
            e.1.message.contains("quorum") || e.1.message.contains("no leader"),
            "unclear error via node {via}: {}",
            e.1
        );
        assert!(
            started.elapsed() < Duration::from_secs(25),
            "the refusal took {:?}",
            started.elapsed()
        );
        refused.push(e.0);
    }
    phase!("reads keep working on the remaining FEs");
    c.sql_ok(4, "SHOW DATABASES");
    phase!("one follower returns: writes work again");
    c.start_fe(others[0], None);
    wait_until(WAIT, "writes accepted again", || {
        c.sql(4, "CREATE DATABASE quorum_back").ok()
    });
    for i in [leader, others[0], 4] {
        wait_until(WAIT, "every live FE has the new database", || {
            databases(&c, i)
                .contains(&"quorum_back".to_string())
                .then_some(())
        });
        for r in &refused {
            assert!(
                !databases(&c, i).contains(r),
                "the refused write {r} took effect"
            );
        }
    }
}

#[test]
fn a_restarted_cluster_keeps_its_data() {
    let mut c = Cluster::new("restartall");
    c.start_ha(3, 0);
    c.sql_ok(2, "CREATE DATABASE survives_restart");
    phase!("stop every node, then start them all without --helper");
    for i in 1..=3 {
        c.kill(i);
    }
    for i in 1..=3 {
        c.start_fe(i, None);
    }
    c.wait_healthy(3, WAIT);
    // Healthy means a leader and connected followers; a follower applies the journal up to
    // the commit point its leader tells it, a moment later.
    for i in 1..=3 {
        wait_until(
            WAIT,
            &format!("node {i} to show the database again"),
            || {
                databases(&c, i)
                    .contains(&"survives_restart".to_string())
                    .then_some(())
            },
        );
    }
    c.sql_ok(3, "CREATE DATABASE after_full_restart");
}

#[test]
fn a_paused_leader_is_replaced_and_steps_down_when_it_resumes() {
    let mut c = Cluster::new("pause");
    c.start_ha(3, 1);
    let old = c.wait_leader(WAIT);
    c.sql_ok(old, "CREATE DATABASE before_pause");
    phase!("SIGSTOP the leader (node {old}): its sockets stay open, raft's timeouts must act");
    c.signal(old, "STOP");
    let paused_at = Instant::now();
    let survivor = if old == 2 { 3 } else { 2 };
    wait_until(
        WAIT,
        "a write accepted while the old leader is paused",
        || c.sql(survivor, "CREATE DATABASE during_pause").ok(),
    );
    phase!("writes resumed {:?} after the pause", paused_at.elapsed());
    let new = wait_until(WAIT, "the survivors agree on a new leader", || {
        let a = c.leader_seen_by(survivor)?;
        (a != old && c.leader_seen_by(4) == Some(a)).then_some(a)
    });
    phase!("resume node {old}: it must not act as leader any more");
    c.signal(old, "CONT");
    c.wait_frontend_field(old, new, "IsMaster", "true", WAIT);
    let fes = c.frontends(old).expect("show");
    assert_eq!(fes[&tessera_testkit::ip(old)]["IsMaster"], "false");
    c.sql_ok(old, "CREATE DATABASE via_resumed_node");
    for i in 1..=4u8 {
        wait_until(WAIT, "every FE has every acknowledged write", || {
            let dbs = databases(&c, i);
            ["before_pause", "during_pause", "via_resumed_node"]
                .iter()
                .all(|d| dbs.contains(&d.to_string()))
                .then_some(())
        });
    }
}
