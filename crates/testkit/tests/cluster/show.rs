//! SHOW FRONTENDS / SHOW PROC '/frontends', liveness and clock skew.

use tessera_testkit::Cluster;
use tessera_testkit::EDIT_LOG_PORT;
use tessera_testkit::ip;

use crate::WAIT;
use crate::phase;

const COLUMNS: &[&str] = &[
    "Name",
    "IP",
    "EditLogPort",
    "HttpPort",
    "QueryPort",
    "RpcPort",
    "Role",
    "IsMaster",
    "ClusterId",
    "Join",
    "Alive",
    "ReplayedJournalId",
    "LastHeartbeat",
    "IsHelper",
    "ErrMsg",
    "StartTime",
    "Version",
];

#[test]
fn show_frontends_has_starrocks_columns_and_agrees_everywhere() {
    let mut c = Cluster::new("showfe");
    c.start_ha(3, 1);
    let stable = [
        "Name",
        "IP",
        "EditLogPort",
        "HttpPort",
        "Role",
        "IsMaster",
        "ClusterId",
        "Join",
        "Alive",
        "IsHelper",
    ];
    let mut reference = None;
    for i in 1..=4 {
        for stmt in ["SHOW FRONTENDS", "SHOW PROC '/frontends'"] {
            let rows = c.sql_ok(i, stmt);
            assert_eq!(rows.columns, COLUMNS, "{stmt} on node {i}");
            let view: Vec<Vec<String>> = rows
                .maps()
                .into_iter()
                .map(|m| stable.iter().map(|k| m[*k].clone()).collect())
                .collect();
            match &reference {
                None => reference = Some(view),
                Some(r) => assert_eq!(r, &view, "{stmt} on node {i} differs"),
            }
        }
        // Heartbeat-derived columns fill in within a heartbeat round or two.
        tessera_testkit::wait_until(WAIT, "heartbeat columns filled on every row", || {
            let rows = c.sql(i, "SHOW FRONTENDS").ok()?;
            rows.maps()
                .iter()
                .all(|m| {
                    m["QueryPort"] == "9030"
                        && m["RpcPort"] == "9020"
                        && m["StartTime"] != "NULL"
                        && m["Version"] != "NULL"
                        && m["ReplayedJournalId"].parse::<u64>().is_ok_and(|n| n > 0)
                })
                .then_some(())
        });
    }
}

#[test]
fn a_dead_frontend_is_shown_not_alive_and_comes_back() {
    let mut c = Cluster::new("alive");
    c.start_ha(3, 1);
    phase!("kill node 3: every live FE shows it dead with an error");
    c.kill(3);
    for asked in [1, 2, 4] {
        c.wait_frontend_field(asked, 3, "Alive", "false", WAIT);
        let fes = c.frontends(asked).expect("show");
        assert!(!fes[&ip(3)]["ErrMsg"].is_empty());
        assert_eq!(fes[&ip(3)]["StartTime"], "NULL");
    }
    phase!("restart it: alive again everywhere");
    c.start_fe(3, None);
    for asked in [1, 2, 3, 4] {
        c.wait_frontend_field(asked, 3, "Alive", "true", WAIT);
        c.wait_frontend_field(asked, 3, "ErrMsg", "", WAIT);
    }
}

#[test]
fn clock_skew_is_shown_and_refuses_a_join() {
    let mut c = Cluster::new("skew");
    c.start_fe(1, None);
    phase!("a new follower whose clock is 10 s ahead is refused");
    c.sql_ok(
        1,
        &format!("ALTER SYSTEM ADD FOLLOWER \"{}:{EDIT_LOG_PORT}\"", ip(2)),
    );
    c.write_conf(2, &[("debug_clock_offset_ms", "10000")]);
    let (code, out) = c.start_fe_expect_exit(2, Some(1));
    assert_ne!(code, 0);
    assert!(out.contains("clock differs"), "{out}");
    assert!(!c.node_dir(2).join("meta").exists());
    phase!("a member whose clock drifts is shown with the skew in ErrMsg");
    c.sql_ok(
        1,
        &format!("ALTER SYSTEM ADD OBSERVER \"{}:{EDIT_LOG_PORT}\"", ip(3)),
    );
    c.start_fe(3, Some(1));
    c.wait_frontend_field(1, 3, "Alive", "true", WAIT);
    c.stop(3);
    c.write_conf(3, &[("debug_clock_offset_ms", "-9000")]);
    c.start_fe(3, None);
    tessera_testkit::wait_until(WAIT, "the leader reports the skew", || {
        let fes = c.frontends(1).ok()?;
        let m = &fes[&ip(3)];
        (m["ErrMsg"].contains("clock skew") && m["Alive"] == "false").then_some(())
    });
}
