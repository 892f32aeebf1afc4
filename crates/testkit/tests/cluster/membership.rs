//! ALTER SYSTEM ADD/DROP FOLLOWER/OBSERVER, the --helper join, and the refusals.

use tessera_testkit::Cluster;
use tessera_testkit::EDIT_LOG_PORT;
use tessera_testkit::ip;
use tessera_testkit::wait_until;

use crate::WAIT;
use crate::phase;

#[test]
fn followers_and_observers_join_through_helper_and_serve() {
    let mut c = Cluster::new("join");
    c.start_ha(3, 1);
    phase!("every FE lists the same four frontends with their roles");
    for asked in 1..=4 {
        let fes = c.frontends(asked).expect("show frontends");
        assert_eq!(fes.len(), 4);
        for i in 1..=4u8 {
            let m = &fes[&ip(i)];
            let role = if i <= 3 { "FOLLOWER" } else { "OBSERVER" };
            assert_eq!(m["Role"], role, "node {i} as seen by {asked}");
            assert_eq!(m["IsHelper"], if i <= 3 { "true" } else { "false" });
            assert_eq!(m["Join"], "true");
            assert_eq!(m["EditLogPort"], "9010");
            let prefix = format!("{}_9010_", ip(i));
            assert!(m["Name"].starts_with(&prefix), "name {}", m["Name"]);
            assert!(
                m["Name"][prefix.len()..]
                    .chars()
                    .all(|c| c.is_ascii_digit())
            );
        }
        let cluster_ids: std::collections::BTreeSet<_> =
            fes.values().map(|m| m["ClusterId"].clone()).collect();
        assert_eq!(cluster_ids.len(), 1);
    }
    phase!("a write on the leader is served by the observer");
    c.sql_ok(1, "CREATE DATABASE joined_db");
    wait_until(WAIT, "observer sees the database", || {
        c.sql(4, "SHOW DATABASES")
            .ok()?
            .first_column()
            .contains(&"joined_db".to_string())
            .then_some(())
    });
}

#[test]
fn node_that_was_not_added_is_refused_and_changes_nothing() {
    let mut c = Cluster::new("notadded");
    c.start_fe(1, None);
    let (code, out) = c.start_fe_expect_exit(2, Some(1));
    assert_ne!(code, 0);
    assert!(out.contains("is not added to the cluster"), "{out}");
    assert!(out.contains("ALTER SYSTEM ADD FOLLOWER"), "{out}");
    assert!(
        !c.node_dir(2).join("meta").exists(),
        "a refused join must not create meta_dir"
    );
    assert_eq!(c.frontends(1).expect("show").len(), 1);
}

#[test]
fn node_of_another_cluster_is_refused() {
    let mut c = Cluster::new("othercluster");
    phase!("node 2 bootstraps a cluster of its own, then stops");
    c.start_fe(2, None);
    c.stop(2);
    let version_before =
        std::fs::read_to_string(c.node_dir(2).join("meta/image/VERSION")).expect("VERSION");
    phase!("cluster A on node 1 adds node 2, which still carries the other cluster's id");
    c.start_fe(1, None);
    c.sql_ok(
        1,
        &format!("ALTER SYSTEM ADD FOLLOWER \"{}:{EDIT_LOG_PORT}\"", ip(2)),
    );
    let (code, out) = c.start_fe_expect_exit(2, Some(1));
    assert_ne!(code, 0);
    assert!(out.contains("cluster id is not equal"), "{out}");
    let version_after =
        std::fs::read_to_string(c.node_dir(2).join("meta/image/VERSION")).expect("VERSION");
    assert_eq!(
        version_before, version_after,
        "the refused node's identity is unchanged"
    );
    let fes = c.frontends(1).expect("show");
    assert_eq!(fes[&ip(2)]["Join"], "false");
    assert_eq!(fes[&ip(2)]["Alive"], "false");
    phase!("cluster A still accepts writes");
    c.sql_ok(1, "CREATE DATABASE still_fine");
}

#[test]
fn adding_a_follower_never_costs_availability() {
    let mut c = Cluster::new("addavail");
    c.start_fe(1, None);
    phase!("add a follower that is not running: the cluster keeps its quorum");
    c.sql_ok(
        1,
        &format!("ALTER SYSTEM ADD FOLLOWER \"{}:{EDIT_LOG_PORT}\"", ip(2)),
    );
    c.sql_ok(1, "CREATE DATABASE while_follower_absent");
    let fes = c.frontends(1).expect("show");
    assert!(
        fes[&ip(2)]["ErrMsg"].contains("catching up"),
        "{:?}",
        fes[&ip(2)]
    );
    phase!("once started and caught up it becomes a voter");
    c.start_fe(2, Some(1));
    c.wait_frontend_field(1, 2, "ErrMsg", "", WAIT);
    c.wait_frontend_field(1, 2, "Alive", "true", WAIT);
    assert!(
        c.sql(2, "SHOW DATABASES")
            .expect("show")
            .first_column()
            .contains(&"while_follower_absent".into())
    );
    c.sql_ok(2, "CREATE DATABASE after_promotion");
}

#[test]
fn drop_rules_protect_the_leader_and_the_quorum() {
    let mut c = Cluster::new("droprules");
    c.start_ha(3, 1);
    let leader = c.wait_leader(WAIT);
    assert_eq!(leader, 1);
    phase!("dropping the leader is refused");
    let e = c
        .sql(
            2,
            &format!("ALTER SYSTEM DROP FOLLOWER \"{}:{EDIT_LOG_PORT}\"", ip(1)),
        )
        .expect_err("drop leader");
    assert!(e.message.contains("can not drop current leader"), "{e}");
    phase!("unknown node, wrong role, bad address");
    let e = c
        .sql(1, "ALTER SYSTEM DROP FOLLOWER \"127.0.0.99:9010\"")
        .expect_err("unknown");
    assert!(
        e.message
            .contains("frontend does not exist[127.0.0.99:9010]"),
        "{e}"
    );
    let e = c
        .sql(
            1,
            &format!("ALTER SYSTEM DROP OBSERVER \"{}:{EDIT_LOG_PORT}\"", ip(2)),
        )
        .expect_err("role");
    assert!(e.message.contains("OBSERVER does not exist"), "{e}");
    let e = c
        .sql(1, "ALTER SYSTEM DROP FOLLOWER \"nonsense\"")
        .expect_err("bad");
    assert!(e.message.contains("expected host:port"), "{e}");
    phase!("with node 3 down, dropping node 2 would leave no live quorum");
    c.kill(3);
    c.wait_frontend_field(1, 3, "Alive", "false", WAIT);
    let e = c
        .sql(
            1,
            &format!("ALTER SYSTEM DROP FOLLOWER \"{}:{EDIT_LOG_PORT}\"", ip(2)),
        )
        .expect_err("quorum");
    assert!(e.message.contains("quorum needs 2"), "{e}");
    assert_eq!(c.frontends(1).expect("show").len(), 4, "nothing changed");
    phase!("dropping the dead follower is fine; the cluster keeps working");
    c.sql_ok(
        1,
        &format!("ALTER SYSTEM DROP FOLLOWER \"{}:{EDIT_LOG_PORT}\"", ip(3)),
    );
    c.sql_ok(2, "CREATE DATABASE after_drop");
    phase!("a dropped observer stops by itself");
    c.sql_ok(
        2,
        &format!("ALTER SYSTEM DROP OBSERVER \"{}:{EDIT_LOG_PORT}\"", ip(4)),
    );
    let code = c.wait_exit(4, WAIT);
    assert_eq!(code, 3);
    let log = c.log(4);
    assert!(
        log.contains("was dropped from the cluster") || log.contains("no longer a member"),
        "{log}"
    );
    let fes = c.frontends(1).expect("show");
    assert_eq!(fes.len(), 2);
}

#[test]
fn duplicate_and_malformed_adds_are_refused() {
    let mut c = Cluster::new("dupadd");
    c.start_fe(1, None);
    c.sql_ok(
        1,
        &format!("ALTER SYSTEM ADD OBSERVER \"{}:{EDIT_LOG_PORT}\"", ip(2)),
    );
    let e = c
        .sql(
            1,
            &format!("ALTER SYSTEM ADD OBSERVER \"{}:{EDIT_LOG_PORT}\"", ip(2)),
        )
        .expect_err("dup");
    assert!(e.message.contains("already exists"), "{e}");
    let e = c
        .sql(1, &format!("ALTER SYSTEM ADD FOLLOWER \"{}:9011\"", ip(2)))
        .expect_err("same host");
    assert!(e.message.contains("FE with the same host"), "{e}");
    for bad in [
        "\"127.0.0.3\"",
        "\"127.0.0.3:0\"",
        "\"127.0.0.3:70000\"",
        "\":9010\"",
        "\"a b:9010\"",
    ] {
        let e = c
            .sql(1, &format!("ALTER SYSTEM ADD FOLLOWER {bad}"))
            .expect_err(bad);
        assert!(e.message.contains("invalid address"), "{bad}: {e}");
    }
    let e = c.sql(1, "ALTER SYSTEM ADD FOLLOWER").expect_err("missing");
    assert_eq!(e.code, 1064);
    assert_eq!(
        c.frontends(1).expect("show").len(),
        2,
        "only the first add took effect"
    );
}
