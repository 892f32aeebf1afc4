//! Backends, tables, tablets and replica placement (1-3 FEs, 3-5 BEs on distinct addresses).

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::time::Duration;
use std::time::Instant;

use tessera_testkit::Cluster;
use tessera_testkit::Rows;
use tessera_testkit::ip;
use tessera_testkit::wait_until;

use crate::WAIT;
use crate::phase;

const BACKEND_COLUMNS: &[&str] = &[
    "BackendId",
    "IP",
    "HeartbeatPort",
    "BePort",
    "HttpPort",
    "BrpcPort",
    "LastStartTime",
    "LastHeartbeat",
    "Alive",
    "SystemDecommissioned",
    "ClusterDecommissioned",
    "TabletNum",
    "DataUsedCapacity",
    "AvailCapacity",
    "TotalCapacity",
    "UsedPct",
    "MaxDiskUsedPct",
    "ErrMsg",
    "Version",
    "Status",
    "DataTotalCapacity",
    "DataUsedPct",
];

fn backends(c: &Cluster, fe: u8) -> BTreeMap<String, BTreeMap<String, String>> {
    c.sql(fe, "SHOW BACKENDS")
        .map(|r| r.maps().into_iter().map(|m| (m["IP"].clone(), m)).collect())
        .unwrap_or_default()
}

fn wait_backend(c: &Cluster, fe: u8, be: u8, column: &str, value: &str) {
    let be_ip = ip(be);
    wait_until(
        WAIT,
        &format!("FE {fe} to show BE {be} with {column} = {value}"),
        || (backends(c, fe).get(&be_ip)?.get(column)? == value).then_some(()),
    );
}

fn add_backends(c: &mut Cluster, fe: u8, ids: &[u8]) {
    for &i in ids {
        c.start_be(i);
        c.sql_ok(fe, &format!("ALTER SYSTEM ADD BACKEND \"{}:9050\"", ip(i)));
    }
    for &i in ids {
        wait_backend(c, fe, i, "Alive", "true");
    }
}

fn tablets(c: &Cluster, fe: u8, table: &str) -> Rows {
    c.sql_ok(fe, &format!("SHOW TABLET FROM {table}"))
}

#[test]
fn replicas_are_placed_on_distinct_backends_and_balanced() {
    let mut c = Cluster::new("placement");
    c.be_base_conf
        .push(("report_tablet_interval_seconds".into(), "2".into()));
    c.start_ha(3, 0);
    add_backends(&mut c, 1, &[1, 2, 3, 4]);
    phase!("SHOW BACKENDS has StarRocks's columns and agrees on every FE");
    let rows = c.sql_ok(2, "SHOW BACKENDS");
    assert_eq!(rows.columns, BACKEND_COLUMNS);
    c.sql_ok(1, "CREATE DATABASE place");
    phase!("100 tablets x 3 replicas on 4 backends");
    let started = Instant::now();
    c.sql_ok(1, "CREATE TABLE place.t (k INT, v VARCHAR(10)) DISTRIBUTED BY HASH(k) BUCKETS 100 PROPERTIES (\"replication_num\" = \"3\")");
    eprintln!(
        "[measure] CREATE TABLE with 100 tablets x 3 replicas: {:?}",
        started.elapsed()
    );
    let rows = tablets(&c, 1, "place.t");
    assert_eq!(rows.rows.len(), 300);
    let mut per_tablet: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for m in rows.maps() {
        per_tablet
            .entry(m["TabletId"].clone())
            .or_default()
            .insert(m["BackendId"].clone());
    }
    assert_eq!(per_tablet.len(), 100);
    assert!(
        per_tablet.values().all(|b| b.len() == 3),
        "replicas of a tablet on distinct backends"
    );
    let counts: Vec<u64> = wait_until(WAIT, "TabletNum on every backend", || {
        let b = backends(&c, 1);
        let v: Vec<u64> = b
            .values()
            .filter_map(|m| m["TabletNum"].parse().ok())
            .collect();
        (v.len() == 4).then_some(v)
    });
    assert_eq!(counts.iter().sum::<u64>(), 300);
    assert!(
        counts.iter().max().copied().unwrap_or(0) - counts.iter().min().copied().unwrap_or(0) <= 1,
        "{counts:?}"
    );
    phase!("the same tablets and backends on a follower FE");
    assert_eq!(tablets(&c, 3, "place.t"), rows);
    let stable = |fe: u8| -> Vec<Vec<String>> {
        backends(&c, fe)
            .values()
            .map(|m| {
                [
                    "BackendId",
                    "IP",
                    "HeartbeatPort",
                    "BePort",
                    "HttpPort",
                    "Alive",
                    "SystemDecommissioned",
                    "TabletNum",
                ]
                .iter()
                .map(|k| m[*k].clone())
                .collect()
            })
            .collect()
    };
    wait_until(WAIT, "SHOW BACKENDS agrees on FEs 1 and 3", || {
        (stable(1) == stable(3)).then_some(())
    });
    phase!("replication_num larger than the backends: error, nothing created anywhere");
    let e = c.sql(1, "CREATE TABLE place.too_many (k INT) DISTRIBUTED BY HASH(k) BUCKETS 3 PROPERTIES (\"replication_num\" = \"5\")").expect_err("5 > 4");
    assert!(e.message.contains("Current alive backend is ["), "{e}");
    assert!(
        !c.sql_ok(1, "SHOW TABLES FROM place")
            .first_column()
            .contains(&"too_many".to_string())
    );
    for i in 1..=4 {
        let health = c.be_health(i).expect("health");
        assert!(health.contains("\"tablets\":75"), "BE {i}: {health}");
    }
    phase!("the table survives a leader failover");
    let leader = c.wait_leader(WAIT);
    c.kill(leader);
    let survivor = if leader == 1 { 2 } else { 1 };
    let new = wait_until(WAIT, "a new leader", || {
        c.leader_seen_by(survivor).filter(|l| *l != leader)
    });
    assert_eq!(tablets(&c, new, "place.t"), rows);
    for i in 1..=4 {
        wait_backend(&c, new, i, "Alive", "true");
    }
    c.sql_ok(new, "CREATE TABLE place.after_failover (k INT) DISTRIBUTED BY HASH(k) BUCKETS 4 PROPERTIES (\"replication_num\" = \"3\")");
}

#[test]
fn backend_liveness_decommission_drop_and_foreign_clusters() {
    let mut c = Cluster::new("belife");
    c.be_base_conf
        .push(("report_tablet_interval_seconds".into(), "2".into()));
    c.start_fe(1, None);
    add_backends(&mut c, 1, &[1, 2, 3]);
    c.sql_ok(1, "CREATE DATABASE life");
    c.sql_ok(1, "CREATE TABLE life.single (k INT) DISTRIBUTED BY HASH(k) BUCKETS 3 PROPERTIES (\"replication_num\" = \"1\")");
    phase!("a killed backend turns Alive = false within the heartbeat timeout, then back");
    c.kill_be(2);
    let killed = Instant::now();
    wait_backend(&c, 1, 2, "Alive", "false");
    eprintln!(
        "[measure] backend death detected after {:?} (heartbeat_timeout_second = 1, heartbeat_retry_times = 1)",
        killed.elapsed()
    );
    assert!(killed.elapsed() < Duration::from_secs(10));
    let m = &backends(&c, 1)[&ip(2)];
    assert!(!m["ErrMsg"].is_empty());
    c.start_be(2);
    wait_backend(&c, 1, 2, "Alive", "true");
    wait_backend(&c, 1, 2, "ErrMsg", "");
    phase!("dropping a backend that holds single-replica data needs FORCE");
    let holder = wait_until(WAIT, "a backend holding a tablet", || {
        backends(&c, 1)
            .into_iter()
            .find(|(_, m)| m["TabletNum"] != "0")
            .map(|(ip, _)| ip)
    });
    let e = c
        .sql(1, &format!("ALTER SYSTEM DROP BACKEND \"{holder}:9050\""))
        .expect_err("single replica");
    assert!(e.message.contains("FORCE"), "{e}");
    let e = c
        .sql(1, "ALTER SYSTEM DROP BACKEND \"127.0.0.99:9050\"")
        .expect_err("unknown");
    assert!(
        e.message
            .contains("backend does not exists[127.0.0.99:9050]"),
        "{e}"
    );
    let e = c
        .sql(1, &format!("ALTER SYSTEM ADD BACKEND \"{}:9050\"", ip(1)))
        .expect_err("dup");
    assert!(e.message.contains("Backend already exists"), "{e}");
    phase!("decommission marks the backend; cancel clears it");
    c.sql_ok(
        1,
        &format!("ALTER SYSTEM DECOMMISSION BACKEND \"{holder}:9050\""),
    );
    let hi: u8 = holder
        .rsplit('.')
        .next()
        .and_then(|s| s.parse().ok())
        .expect("ip");
    wait_backend(&c, 1, hi, "SystemDecommissioned", "true");
    c.sql_ok(1, &format!("CANCEL DECOMMISSION BACKEND \"{holder}:9050\""));
    wait_backend(&c, 1, hi, "SystemDecommissioned", "false");
    phase!("a new backend with no replicas is removed once decommissioned");
    add_backends(&mut c, 1, &[4]);
    c.sql_ok(
        1,
        &format!("ALTER SYSTEM DECOMMISSION BACKEND \"{}:9050\"", ip(4)),
    );
    wait_until(WAIT, "backend 4 dropped after decommission", || {
        (!backends(&c, 1).contains_key(&ip(4))).then_some(())
    });
    phase!("a backend of this cluster refuses another cluster's heartbeats");
    c.start_fe(5, None);
    c.sql_ok(5, &format!("ALTER SYSTEM ADD BACKEND \"{}:9050\"", ip(3)));
    wait_until(WAIT, "the other cluster shows the refusal", || {
        let m = backends(&c, 5).get(&ip(3))?.clone();
        (m["ErrMsg"].contains("cluster") && m["Alive"] == "false").then_some(())
    });
    wait_backend(&c, 1, 3, "Alive", "true");
    phase!("FORCE drops the holder");
    c.sql_ok(
        1,
        &format!("ALTER SYSTEM DROP BACKEND \"{holder}:9050\" FORCE"),
    );
    assert!(!backends(&c, 1).contains_key(&holder));
}

#[test]
fn dropped_tables_leave_the_backends_and_lost_replicas_are_marked_bad() {
    let mut c = Cluster::new("reports");
    c.be_base_conf
        .push(("report_tablet_interval_seconds".into(), "1".into()));
    c.start_fe(1, None);
    add_backends(&mut c, 1, &[1, 2, 3]);
    c.sql_ok(
        1,
        "ADMIN SET FRONTEND CONFIG (\"tablet_report_drop_tablet_delay_sec\" = \"1\")",
    );
    c.sql_ok(1, "CREATE DATABASE rep");
    phase!("DROP TABLE FORCE removes the replicas from every backend at once");
    c.sql_ok(1, "CREATE TABLE rep.a (k INT) DISTRIBUTED BY HASH(k) BUCKETS 3 PROPERTIES (\"replication_num\" = \"3\")");
    for i in 1..=3 {
        assert!(c.be_health(i).expect("health").contains("\"tablets\":3"));
    }
    c.sql_ok(1, "DROP TABLE rep.a FORCE");
    for i in 1..=3 {
        assert!(c.be_health(i).expect("health").contains("\"tablets\":0"));
    }
    phase!("a table dropped while a backend is down is cleaned up from its report");
    c.sql_ok(1, "CREATE TABLE rep.b (k INT) DISTRIBUTED BY HASH(k) BUCKETS 2 PROPERTIES (\"replication_num\" = \"3\")");
    c.kill_be(3);
    c.sql_ok(1, "DROP TABLE rep.b FORCE");
    c.start_be(3);
    wait_until(
        WAIT,
        "backend 3 drops the tablets the catalog no longer has",
        || c.be_health(3)?.contains("\"tablets\":0").then_some(()),
    );
    phase!("a backend that lost its data: its replicas are marked bad and unhealthy");
    c.sql_ok(1, "CREATE TABLE rep.c (k INT) DISTRIBUTED BY HASH(k) BUCKETS 2 PROPERTIES (\"replication_num\" = \"3\")");
    c.stop_be(2);
    std::fs::remove_dir_all(c.be_dir(2).join("storage")).expect("wipe storage");
    c.start_be(2);
    wait_until(WAIT, "unhealthy tablets in /statistic", || {
        let r = c.sql(1, "SHOW PROC '/statistic'").ok()?;
        let total = r.maps().into_iter().find(|m| m["DbId"] == "Total")?;
        (total["UnhealthyTabletNum"] == "2").then_some(())
    });
    let rows = c.sql_ok(1, "SHOW TABLET FROM rep.c");
    let be2 = backends(&c, 1)[&ip(2)]["BackendId"].clone();
    let tablet = rows
        .maps()
        .into_iter()
        .find(|m| m["BackendId"] == be2)
        .expect("a replica on BE 2")["TabletId"]
        .clone();
    let detail = c.sql_ok(1, &format!("SHOW TABLET {tablet}"));
    let cmd = detail.get(0, "DetailCmd").trim_end_matches(';').to_string();
    let replicas = c.sql_ok(1, &cmd);
    let bad: Vec<String> = replicas
        .maps()
        .into_iter()
        .filter(|m| m["IsBad"] == "true")
        .map(|m| m["BackendId"].clone())
        .collect();
    assert_eq!(bad, vec![be2]);
}

#[test]
fn a_backend_failing_during_create_table_leaves_nothing_anywhere() {
    let mut c = Cluster::new("createfail");
    c.start_fe(1, None);
    add_backends(&mut c, 1, &[1, 2, 3]);
    c.sql_ok(1, "CREATE DATABASE cf");
    phase!("backend 3 dies just before CREATE TABLE (the FE may not have noticed yet)");
    c.kill_be(3);
    let e = c
        .sql(1, "CREATE TABLE cf.t (k INT) DISTRIBUTED BY HASH(k) BUCKETS 6 PROPERTIES (\"replication_num\" = \"3\")")
        .expect_err("a replica cannot be created");
    assert!(
        e.message.contains("nothing was created") || e.message.contains("Current alive backend is"),
        "{e}"
    );
    assert!(c.sql_ok(1, "SHOW TABLES FROM cf").rows.is_empty());
    for i in 1..=2 {
        let h = c.be_health(i).expect("health");
        assert!(
            h.contains("\"tablets\":0"),
            "BE {i} kept replicas of the failed table: {h}"
        );
    }
    phase!("once the backend is back, the same statement works");
    c.start_be(3);
    wait_backend(&c, 1, 3, "Alive", "true");
    c.sql_ok(1, "CREATE TABLE cf.t (k INT) DISTRIBUTED BY HASH(k) BUCKETS 6 PROPERTIES (\"replication_num\" = \"3\")");
    assert_eq!(tablets(&c, 1, "cf.t").rows.len(), 18);
}

#[test]
fn a_dropped_table_stays_in_the_recycle_bin_until_it_expires() {
    let mut c = Cluster::new("recycle");
    c.start_fe(1, None);
    add_backends(&mut c, 1, &[1, 2, 3]);
    c.sql_ok(1, "CREATE DATABASE rb");
    c.sql_ok(1, "CREATE TABLE rb.t (k INT) DISTRIBUTED BY HASH(k) BUCKETS 2 PROPERTIES (\"replication_num\" = \"3\")");
    c.sql_ok(1, "DROP TABLE rb.t");
    phase!("the replicas stay while the table is in the recycle bin");
    assert!(c.sql_ok(1, "SHOW TABLES FROM rb").rows.is_empty());
    for i in 1..=3 {
        assert!(c.be_health(i).expect("health").contains("\"tablets\":2"));
    }
    phase!("a short catalog_trash_expire_second erases them");
    c.sql_ok(
        1,
        "ADMIN SET FRONTEND CONFIG (\"catalog_trash_expire_second\" = \"1\")",
    );
    for i in 1..=3 {
        wait_until(WAIT, "the recycled replicas are erased", || {
            c.be_health(i)?.contains("\"tablets\":0").then_some(())
        });
    }
}
