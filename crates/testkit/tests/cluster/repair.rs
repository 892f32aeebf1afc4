//! Replica repair: a dead backend's replicas rebuilt elsewhere, a returning backend caught up
//! by incremental clone, full clone when the missing versions were compacted away,
//! decommission, loads during repair (1 FE, 3-5 BEs, short checker intervals and tolerances).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering;
use std::time::Duration;
use std::time::Instant;

use tessera_testkit::Cluster;
use tessera_testkit::ip;
use tessera_testkit::wait_until;

use crate::phase;

/// Repairs on a loaded 2-core machine: detection (a few seconds) plus clones.
const REPAIR_WAIT: Duration = Duration::from_secs(90);

/// One FE with repair timings shortened, and backends `bes`.
fn setup(c: &mut Cluster, bes: &[u8], extra_fe: &[(&str, &str)]) {
    for (k, v) in [
        ("tablet_sched_checker_interval_seconds", "1"),
        ("tablet_sched_repair_delay_factor_second", "1"),
        ("tablet_sched_be_down_tolerate_time_s", "3"),
        ("tablet_sched_consecutive_full_clone_delay_sec", "0"),
        ("tablet_sched_min_clone_task_timeout_sec", "30"),
        ("quorum_publish_wait_time_ms", "500"),
        // The test machine's disk may be fuller than the default 90 %.
        ("storage_usage_soft_limit_percent", "100"),
    ] {
        c.base_conf.push((k.into(), v.into()));
    }
    for (k, v) in extra_fe {
        c.base_conf.push(((*k).into(), (*v).into()));
    }
    c.be_base_conf
        .push(("report_tablet_interval_seconds".into(), "1".into()));
    c.start_fe(1, None);
    for &i in bes {
        c.start_be(i);
        c.sql_ok(1, &format!("ALTER SYSTEM ADD BACKEND \"{}:9050\"", ip(i)));
    }
    wait_until(Duration::from_secs(30), "backends alive", || {
        let rows = c.sql(1, "SHOW BACKENDS").ok()?;
        (rows.maps().iter().filter(|m| m["Alive"] == "true").count() == bes.len()).then_some(())
    });
    c.sql_ok(1, "CREATE DATABASE rp");
}

fn backend_id(c: &Cluster, be: u8) -> String {
    c.sql_ok(1, "SHOW BACKENDS")
        .maps()
        .into_iter()
        .find(|m| m["IP"] == ip(be))
        .map(|m| m["BackendId"].clone())
        .unwrap_or_else(|| panic!("backend {be} is not listed"))
}

/// `SHOW PROC '/statistic'`'s total row.
fn unhealthy_total(c: &Cluster) -> Option<i64> {
    let rows = c.sql(1, "SHOW PROC '/statistic'").ok()?;
    let total = rows.maps().into_iter().find(|m| m["DbId"] == "Total")?;
    total["UnhealthyTabletNum"].parse().ok()
}

/// Replicas of `table` per backend id.
fn distribution(c: &Cluster, table: &str) -> BTreeMap<String, i64> {
    c.sql_ok(1, &format!("ADMIN SHOW REPLICA DISTRIBUTION FROM {table}"))
        .maps()
        .into_iter()
        .map(|m| {
            (
                m["BackendId"].clone(),
                m["ReplicaNum"].parse().unwrap_or(-1),
            )
        })
        .collect()
}

/// Waits until every tablet of the cluster is healthy and every replica of `table` is OK.
fn wait_all_healthy(c: &Cluster, table: &str, what: &str) {
    wait_until(REPAIR_WAIT, what, || {
        if unhealthy_total(c)? != 0 {
            return None;
        }
        let bad = c
            .sql(
                1,
                &format!("ADMIN SHOW REPLICA STATUS FROM {table} WHERE STATUS != 'OK'"),
            )
            .ok()?;
        bad.rows.is_empty().then_some(())
    });
}

/// The whole table, sorted, as text.
fn dump(c: &Cluster, table: &str) -> Vec<Vec<String>> {
    c.sql_ok(1, &format!("SELECT * FROM {table} ORDER BY 1, 2"))
        .rows
}

fn insert(c: &Cluster, table: &str, from: i64, n: i64) {
    let values: Vec<String> = (from..from + n).map(|k| format!("({k}, 'v{k}')")).collect();
    c.sql_ok(
        1,
        &format!("INSERT INTO {table} VALUES {}", values.join(", ")),
    );
}

fn scheduler_rows(c: &Cluster, sub: &str) -> Vec<BTreeMap<String, String>> {
    c.sql_ok(1, &format!("SHOW PROC '/tablet_scheduler/{sub}'"))
        .maps()
}

fn scheduler_item(c: &Cluster, item: &str) -> String {
    c.sql_ok(1, "SHOW PROC '/tablet_scheduler'")
        .maps()
        .into_iter()
        .find(|m| m["Item"] == item)
        .map(|m| m["Value"].clone())
        .unwrap_or_else(|| panic!("no item {item}"))
}

#[test]
fn a_dead_backend_is_replaced_while_loads_go_on_and_a_second_loss_stays_readable() {
    let mut c = Cluster::new("repair-dead");
    setup(&mut c, &[1, 2, 3, 4], &[]);
    c.sql_ok(1, "CREATE TABLE rp.t (k INT, v VARCHAR(20)) DISTRIBUTED BY HASH(k) BUCKETS 4 PROPERTIES (\"replication_num\" = \"3\")");
    for i in 0..3 {
        insert(&c, "rp.t", i * 100, 100);
    }
    let before = dump(&c, "rp.t");
    assert_eq!(before.len(), 300);
    let victim = 2u8;
    let victim_id = backend_id(&c, victim);
    assert!(
        distribution(&c, "rp.t")[&victim_id] > 0,
        "backend {victim} holds replicas"
    );

    phase!("backend {victim} dies for good; loads go on (MAJORITY) while its replicas are rebuilt");
    let killed = Instant::now();
    c.kill_be(victim);
    let stop = Arc::new(AtomicBool::new(false));
    let loaded = Arc::new(std::sync::atomic::AtomicI64::new(0));
    let loader = {
        let stop = stop.clone();
        let loaded = loaded.clone();
        std::thread::spawn(move || {
            let mut next = 1000i64;
            let mut failures = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                let values: Vec<String> = (next..next + 10)
                    .map(|k| format!("({k}, 'w{k}')"))
                    .collect();
                match tessera_testkit::mysql(
                    &ip(1),
                    9030,
                    &format!("INSERT INTO rp.t VALUES {}", values.join(", ")),
                ) {
                    Ok(_) => {
                        next += 10;
                        loaded.fetch_add(10, Ordering::SeqCst);
                    }
                    Err(e) => failures.push(e.to_string()),
                }
                // The load's pace (about five a second), not a wait for a condition.
                std::thread::sleep(Duration::from_millis(200));
            }
            failures
        })
    };
    wait_until(REPAIR_WAIT, "no replica left on the dead backend", || {
        (distribution(&c, "rp.t")
            .get(&victim_id)
            .copied()
            .unwrap_or(0)
            == 0)
            .then_some(())
    });
    stop.store(true, Ordering::SeqCst);
    let failures = loader.join().expect("loader thread");
    // Loads that began before the death was noticed may fail (their replica stream broke);
    // once the backend is known dead, every load succeeds.
    assert!(
        failures.len() <= 3,
        "loads failed during the repair: {failures:?}"
    );
    wait_all_healthy(&c, "rp.t", "every tablet healthy after the repair");
    eprintln!(
        "[measure] dead backend's replicas rebuilt after {:?} (tolerate 3 s)",
        killed.elapsed()
    );
    let dist = distribution(&c, "rp.t");
    assert_eq!(
        dist.values().sum::<i64>(),
        12,
        "4 tablets x 3 replicas: {dist:?}"
    );
    let history = scheduler_rows(&c, "history");
    assert!(
        history
            .iter()
            .any(|m| m["State"] == "FINISHED" && m["CloneType"] == "FULL"),
        "the new replicas were built by full clones: {history:?}"
    );

    phase!("the repaired replicas hold every load: equal rows on every replica");
    let extra = loaded.load(Ordering::SeqCst);
    let after = dump(&c, "rp.t");
    assert_eq!(after.len() as i64, 300 + extra);
    assert!(before.iter().all(|r| after.contains(r)), "old rows kept");
    wait_until(Duration::from_secs(30), "replica row counts agree", || {
        let maps = c.sql(1, "SHOW TABLET FROM rp.t").ok()?.maps();
        let mut by_tablet: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for m in maps {
            by_tablet
                .entry(m["TabletId"].clone())
                .or_default()
                .push((m["RowCount"].clone(), m["Version"].clone()));
        }
        by_tablet
            .values()
            .all(|v| v.len() == 3 && v.iter().all(|x| *x == v[0]))
            .then_some(())
    });

    phase!("a second backend dies: still readable and loadable with MAJORITY");
    let second = [1u8, 3, 4]
        .into_iter()
        .find(|&b| distribution(&c, "rp.t")[&backend_id(&c, b)] > 0)
        .expect("a holder");
    c.kill_be(second);
    let rows = dump(&c, "rp.t");
    assert_eq!(rows, after, "reads after losing a second backend");
    insert(&c, "rp.t", 50_000, 5);
    let expected = dump(&c, "rp.t");
    assert_eq!(expected.len(), after.len() + 5);

    phase!(
        "the first backend returns with leftover copies; it becomes the new home of the second's replicas"
    );
    c.start_be(victim);
    wait_until(
        REPAIR_WAIT,
        "replicas rebuilt on the returning backend",
        || {
            let dist = distribution(&c, "rp.t");
            (dist.get(&backend_id(&c, second)).copied().unwrap_or(0) == 0
                && dist.get(&victim_id).copied().unwrap_or(0) > 0)
                .then_some(())
        },
    );
    wait_all_healthy(&c, "rp.t", "healthy again");
    assert_eq!(dump(&c, "rp.t"), expected);
}

#[test]
fn a_returning_backend_catches_up_by_incremental_clone() {
    let mut c = Cluster::new("repair-inc");
    // A long tolerance: the backend's replicas are repaired in place, not rebuilt elsewhere.
    setup(
        &mut c,
        &[1, 2, 3],
        &[("tablet_sched_be_down_tolerate_time_s", "600")],
    );
    c.sql_ok(1, "CREATE TABLE rp.t (k INT, v VARCHAR(20)) DISTRIBUTED BY HASH(k) BUCKETS 2 PROPERTIES (\"replication_num\" = \"3\")");
    insert(&c, "rp.t", 0, 50);
    phase!("backend 3 is down during three loads");
    c.kill_be(3);
    wait_until(Duration::from_secs(30), "backend 3 seen dead", || {
        let rows = c.sql(1, "SHOW BACKENDS").ok()?;
        rows.maps()
            .iter()
            .any(|m| m["IP"] == ip(3) && m["Alive"] == "false")
            .then_some(())
    });
    for i in 1..=3 {
        insert(&c, "rp.t", i * 100, 20);
    }
    let lagging = c.sql_ok(
        1,
        "ADMIN SHOW REPLICA STATUS FROM rp.t WHERE STATUS = 'DEAD'",
    );
    assert_eq!(
        lagging.rows.len(),
        2,
        "one replica per tablet on the dead backend"
    );
    phase!("ADMIN REPAIR TABLE marks the unhealthy table urgent; CANCEL clears it");
    c.sql_ok(1, "ADMIN REPAIR TABLE rp.t");
    assert_eq!(scheduler_item(&c, "priority_repair"), "1");
    let urgent = scheduler_rows(&c, "priority_repair");
    assert_eq!(urgent[0]["Table"], "t", "{urgent:?}");
    c.sql_ok(1, "ADMIN CANCEL REPAIR TABLE rp.t");
    assert_eq!(scheduler_item(&c, "priority_repair"), "0");
    phase!("a replica on a dead backend is reported with the reason it cannot be repaired yet");
    wait_until(Duration::from_secs(30), "an unrepairable entry", || {
        let u = c
            .sql(1, "SHOW PROC '/tablet_scheduler/unrepairable'")
            .ok()?
            .maps();
        u.iter().any(|m| !m["Reason"].is_empty()).then_some(())
    });
    phase!("it returns and catches up by copying exactly the three missing versions");
    c.start_be(3);
    wait_all_healthy(&c, "rp.t", "the returning backend's replicas caught up");
    let history: Vec<BTreeMap<String, String>> = scheduler_rows(&c, "history")
        .into_iter()
        .filter(|m| m["State"] == "FINISHED")
        .collect();
    let clones: Vec<&BTreeMap<String, String>> =
        history.iter().filter(|m| m["CloneType"] != "\\N").collect();
    assert_eq!(clones.len(), 2, "one clone per tablet: {history:?}");
    for m in &clones {
        assert_eq!(m["CloneType"], "INCREMENTAL", "{m:?}");
        assert!(
            m["ErrMsg"].contains("incremental clone of 3 rowsets"),
            "only the missing versions were copied: {m:?}"
        );
    }
    assert_eq!(scheduler_item(&c, "full_clones"), "0");
    phase!("the caught-up replicas serve reads alone");
    let all = dump(&c, "rp.t");
    assert_eq!(all.len(), 110);
    c.kill_be(1);
    c.kill_be(2);
    assert_eq!(dump(&c, "rp.t"), all);
}

/// Rowset files of `tablet` in backend `be`'s storage.
fn rowset_files(c: &Cluster, be: u8, tablet: &str) -> usize {
    let dir = c.be_dir(be).join("storage/data");
    let Ok(shards) = std::fs::read_dir(&dir) else {
        return 0;
    };
    shards
        .flatten()
        .map(|s| s.path().join(tablet))
        .filter(|p| p.is_dir())
        .flat_map(|p| std::fs::read_dir(p).into_iter().flatten().flatten())
        .filter(|f| f.file_name().to_string_lossy().ends_with(".parquet"))
        .count()
}

#[test]
fn missing_versions_compacted_on_the_source_mean_a_full_clone() {
    let mut c = Cluster::new("repair-full");
    for (k, v) in [
        ("min_cumulative_compaction_num_singleton_deltas", "2"),
        ("tablet_rowset_stale_sweep_time_sec", "0"),
    ] {
        c.be_base_conf.push((k.into(), v.into()));
    }
    setup(
        &mut c,
        &[1, 2, 3],
        &[("tablet_sched_be_down_tolerate_time_s", "600")],
    );
    c.sql_ok(1, "CREATE TABLE rp.t (k INT, v VARCHAR(20)) DISTRIBUTED BY HASH(k) BUCKETS 1 PROPERTIES (\"replication_num\" = \"3\")");
    let tablet = c
        .sql_ok(1, "SHOW TABLET FROM rp.t")
        .get(0, "TabletId")
        .to_string();
    insert(&c, "rp.t", 0, 10);
    c.kill_be(3);
    wait_until(Duration::from_secs(30), "backend 3 seen dead", || {
        let rows = c.sql(1, "SHOW BACKENDS").ok()?;
        rows.maps()
            .iter()
            .any(|m| m["IP"] == ip(3) && m["Alive"] == "false")
            .then_some(())
    });
    for i in 1..=6 {
        insert(&c, "rp.t", i * 100, 10);
    }
    phase!("the sources merge the loads' rowsets and sweep the single versions");
    wait_until(
        Duration::from_secs(60),
        "compaction on both sources",
        || (rowset_files(&c, 1, &tablet) <= 2 && rowset_files(&c, 2, &tablet) <= 2).then_some(()),
    );
    c.start_be(3);
    wait_all_healthy(&c, "rp.t", "the returning replica rebuilt");
    let clones: Vec<BTreeMap<String, String>> = scheduler_rows(&c, "history")
        .into_iter()
        .filter(|m| m["State"] == "FINISHED" && m["CloneType"] != "\\N")
        .collect();
    assert!(
        clones.iter().any(|m| m["CloneType"] == "FULL"),
        "a full clone: {clones:?}"
    );
    let all = dump(&c, "rp.t");
    assert_eq!(all.len(), 70);
    c.kill_be(1);
    c.kill_be(2);
    assert_eq!(dump(&c, "rp.t"), all, "the rebuilt replica alone");
}

#[test]
fn decommission_moves_replicas_away_then_drops_the_backend() {
    let mut c = Cluster::new("repair-decom");
    setup(&mut c, &[1, 2, 3, 4], &[]);
    c.sql_ok(1, "CREATE TABLE rp.t (k INT, v VARCHAR(20)) DISTRIBUTED BY HASH(k) BUCKETS 4 PROPERTIES (\"replication_num\" = \"3\")");
    c.sql_ok(1, "CREATE TABLE rp.empty_t (k INT) DISTRIBUTED BY HASH(k) BUCKETS 2 PROPERTIES (\"replication_num\" = \"3\")");
    c.sql_ok(1, "CREATE TABLE rp.dropped (k INT) DISTRIBUTED BY HASH(k) BUCKETS 2 PROPERTIES (\"replication_num\" = \"3\")");
    c.sql_ok(1, "DROP TABLE rp.dropped");
    insert(&c, "rp.t", 0, 200);
    let before = dump(&c, "rp.t");
    let victim_id = backend_id(&c, 2);
    phase!("decommissioning backend 2, which holds data");
    c.sql_ok(
        1,
        &format!("ALTER SYSTEM DECOMMISSION BACKEND \"{}:9050\"", ip(2)),
    );
    wait_until(REPAIR_WAIT, "backend 2 drained and dropped", || {
        let rows = c.sql(1, "SHOW BACKENDS").ok()?;
        (!rows.maps().iter().any(|m| m["IP"] == ip(2))).then_some(())
    });
    wait_all_healthy(&c, "rp.t", "healthy after the decommission");
    let dist = distribution(&c, "rp.t");
    assert!(!dist.contains_key(&victim_id), "{dist:?}");
    assert_eq!(dist.values().sum::<i64>(), 12);
    assert_eq!(dump(&c, "rp.t"), before);
    phase!("decommissioning a backend with no replicas drops it at once");
    c.start_be(5);
    c.sql_ok(1, &format!("ALTER SYSTEM ADD BACKEND \"{}:9050\"", ip(5)));
    c.sql_ok(
        1,
        &format!("ALTER SYSTEM DECOMMISSION BACKEND \"{}:9050\"", ip(5)),
    );
    wait_until(Duration::from_secs(30), "backend 5 dropped", || {
        let rows = c.sql(1, "SHOW BACKENDS").ok()?;
        (!rows.maps().iter().any(|m| m["IP"] == ip(5))).then_some(())
    });
    phase!("the views answer");
    let st = c.sql_ok(1, "SHOW PROC '/statistic'");
    assert!(st.maps().iter().any(|m| m["DbName"] == "rp"));
    let e = c
        .sql(
            1,
            "ADMIN SHOW REPLICA STATUS FROM rp.t WHERE STATUS = 'BROKEN'",
        )
        .expect_err("unknown status");
    assert!(e.message.contains("OK, DEAD"), "{e}");
    let e = c
        .sql(1, "ADMIN REPAIR TABLE rp.nope")
        .expect_err("unknown table");
    assert!(e.message.contains("doesn't exist"), "{e}");
    phase!("the benchmark hook is off unless fe.conf turns it on");
    let post = |query: &str| {
        let mut cmd = std::process::Command::new("curl");
        cmd.args(["-sS", "-u", "root:", "-XPOST", "-w", "\n%{http_code}"])
            .arg(format!(
                "http://{}:8030/api/_debug/synthetic_table{query}",
                ip(1)
            ));
        let (code, out, err) = tessera_testkit::run_with_timeout(&mut cmd, Duration::from_secs(30));
        assert_eq!(code, Some(0), "curl: {err}");
        out
    };
    let out = post("?db=rp&table=s&tablets=10");
    assert!(out.ends_with("403"), "{out}");
    assert!(out.contains("debug_enable_synthetic_tables"), "{out}");
    let out = post("?db=rp&table=s");
    assert!(out.ends_with("400"), "{out}");
    assert!(out.contains("tablets"), "{out}");
    assert!(
        c.sql(1, "SHOW TABLET FROM rp.s").is_err(),
        "nothing was created"
    );
}

#[test]
fn the_clone_rate_limit_holds_a_full_clone_to_its_rate() {
    let mut c = Cluster::new("repair-rate");
    setup(&mut c, &[1, 2, 3, 4], &[]);
    c.sql_ok(
        1,
        "ADMIN SET FRONTEND CONFIG (\"tablet_sched_clone_rate_limit_mb_per_sec\" = \"1\")",
    );
    c.sql_ok(1, "CREATE TABLE rp.seed (k BIGINT) DISTRIBUTED BY HASH(k) BUCKETS 1 PROPERTIES (\"replication_num\" = \"3\")");
    let values: Vec<String> = (0..200).map(|k| format!("({k})")).collect();
    c.sql_ok(
        1,
        &format!("INSERT INTO rp.seed VALUES {}", values.join(", ")),
    );
    c.sql_ok(1, "CREATE TABLE rp.big (k BIGINT, s VARCHAR(200)) DISTRIBUTED BY HASH(k) BUCKETS 1 PROPERTIES (\"replication_num\" = \"3\")");
    // 40,000 rows of 96 hex characters: about 4 MB that neither dictionaries nor LZ4 shrink.
    c.sql_ok(
        1,
        "INSERT INTO rp.big SELECT a.k * 1000 + b.k, concat(md5(cast(a.k * 1000 + b.k AS VARCHAR)), \
         md5(cast(a.k AS VARCHAR) || 'x' || cast(b.k AS VARCHAR)), md5(cast(b.k * 7 + a.k AS VARCHAR))) \
         FROM rp.seed a CROSS JOIN rp.seed b",
    );
    let holder = c
        .sql_ok(1, "SHOW TABLET FROM rp.big")
        .get(0, "BackendId")
        .to_string();
    let be = (1..=4u8)
        .find(|&b| backend_id(&c, b) == holder)
        .expect("the holder's address");
    c.kill_be(be);
    let row = wait_until(REPAIR_WAIT, "a full clone of rp.big", || {
        c.sql(1, "SHOW PROC '/tablet_scheduler/history'")
            .ok()?
            .maps()
            .into_iter()
            .find(|m| m["State"] == "FINISHED" && m["CloneType"] == "FULL" && m["Table"] == "big")
    });
    wait_all_healthy(&c, "rp.big", "the big tablet rebuilt under the rate limit");
    let bytes: f64 = row["BytesCopied"].parse().expect("bytes");
    // "... (<bytes> bytes in <ms> ms)"
    let ms: f64 = row["ErrMsg"]
        .rsplit(" in ")
        .next()
        .and_then(|t| t.trim_end_matches(" ms)").parse().ok())
        .unwrap_or_else(|| panic!("no duration in {row:?}"));
    assert!(bytes > 3e6, "the copy was big enough to throttle: {row:?}");
    // The first MiB goes at once; the rest at 1 MiB/s at most.
    let floor_ms = (bytes - 1048576.0) / 1048576.0 * 1000.0;
    assert!(
        ms >= floor_ms * 0.9,
        "{bytes} bytes took {ms} ms; at 1 MB/s they need at least {floor_ms} ms: {row:?}"
    );
}

fn big_count(c: &Cluster, fe: u8) -> Vec<Vec<String>> {
    c.sql_ok(fe, "SELECT count(*), sum(k) FROM rp.big").rows
}

#[test]
fn a_new_leader_finishes_a_repair_the_old_one_started() {
    let mut c = Cluster::new("repair-failover");
    for (k, v) in [
        ("tablet_sched_checker_interval_seconds", "1"),
        ("tablet_sched_repair_delay_factor_second", "1"),
        ("tablet_sched_be_down_tolerate_time_s", "3"),
        ("tablet_sched_consecutive_full_clone_delay_sec", "0"),
        ("tablet_sched_min_clone_task_timeout_sec", "60"),
        ("storage_usage_soft_limit_percent", "100"),
        ("quorum_publish_wait_time_ms", "500"),
        // Slow clones, so the leader dies while one runs.
        ("tablet_sched_clone_rate_limit_mb_per_sec", "1"),
    ] {
        c.base_conf.push((k.into(), v.into()));
    }
    c.be_base_conf
        .push(("report_tablet_interval_seconds".into(), "1".into()));
    c.start_ha(3, 0);
    let leader = c.wait_leader(Duration::from_secs(30));
    for i in 1..=4u8 {
        c.start_be(i);
        c.sql_ok(
            leader,
            &format!("ALTER SYSTEM ADD BACKEND \"{}:9050\"", ip(i)),
        );
    }
    wait_until(Duration::from_secs(30), "backends alive", || {
        let rows = c.sql(leader, "SHOW BACKENDS").ok()?;
        (rows.maps().iter().filter(|m| m["Alive"] == "true").count() == 4).then_some(())
    });
    c.sql_ok(leader, "CREATE DATABASE rp");
    c.sql_ok(leader, "CREATE TABLE rp.seed (k BIGINT) DISTRIBUTED BY HASH(k) BUCKETS 1 PROPERTIES (\"replication_num\" = \"3\")");
    let values: Vec<String> = (0..200).map(|k| format!("({k})")).collect();
    c.sql_ok(
        leader,
        &format!("INSERT INTO rp.seed VALUES {}", values.join(", ")),
    );
    c.sql_ok(leader, "CREATE TABLE rp.big (k BIGINT, s VARCHAR(200)) DISTRIBUTED BY HASH(k) BUCKETS 2 PROPERTIES (\"replication_num\" = \"3\")");
    c.sql_ok(
        leader,
        "INSERT INTO rp.big SELECT a.k * 1000 + b.k, concat(md5(cast(a.k * 1000 + b.k AS VARCHAR)), \
         md5(cast(a.k AS VARCHAR) || 'x' || cast(b.k AS VARCHAR)), md5(cast(b.k * 7 + a.k AS VARCHAR))) \
         FROM rp.seed a CROSS JOIN rp.seed b",
    );
    let before = big_count(&c, leader);
    phase!("a backend dies; the leader starts rebuilding its replicas");
    let victim = 4u8;
    c.kill_be(victim);
    wait_until(REPAIR_WAIT, "a clone running on the leader", || {
        let m = c.sql(leader, "SHOW PROC '/tablet_scheduler'").ok()?.maps();
        m.iter()
            .any(|m| m["Item"] == "running_tablets" && m["Value"] != "0")
            .then_some(())
    });
    phase!("the leader dies mid-clone; the new leader finishes the repair");
    c.kill(leader);
    let new = c.wait_leader(Duration::from_secs(30));
    assert_ne!(new, leader);
    wait_until(
        REPAIR_WAIT,
        "every tablet healthy under the new leader",
        || {
            let rows = c.sql(new, "SHOW PROC '/statistic'").ok()?;
            let total = rows.maps().into_iter().find(|m| m["DbId"] == "Total")?;
            if total["UnhealthyTabletNum"] != "0" {
                return None;
            }
            let status = c
                .sql(new, "ADMIN SHOW REPLICA STATUS FROM rp.big")
                .ok()?
                .maps();
            (status.len() == 6
                && status
                    .iter()
                    .all(|m| m["Status"] == "OK" && m["State"] == "NORMAL"))
            .then_some(())
        },
    );
    let took_over = c
        .sql_ok(new, "SHOW PROC '/tablet_scheduler/history'")
        .maps();
    assert!(
        took_over.iter().any(|m| m["State"] == "FINISHED"),
        "the new leader finished repair work: {took_over:?}"
    );
    let victim_id = c
        .sql_ok(new, "SHOW BACKENDS")
        .maps()
        .into_iter()
        .find(|m| m["IP"] == ip(victim))
        .map(|m| m["BackendId"].clone())
        .expect("victim listed");
    let dist = c
        .sql_ok(new, "ADMIN SHOW REPLICA DISTRIBUTION FROM rp.big")
        .maps();
    assert!(
        dist.iter()
            .all(|m| m["BackendId"] != victim_id || m["ReplicaNum"] == "0"),
        "{dist:?}"
    );
    assert_eq!(big_count(&c, new), before, "the data survived both deaths");
}

#[test]
fn a_replica_whose_files_were_lost_is_rebuilt_in_place() {
    let mut c = Cluster::new("repair-lost");
    setup(&mut c, &[1, 2, 3], &[]);
    c.sql_ok(1, "CREATE TABLE rp.t (k INT, v VARCHAR(20)) DISTRIBUTED BY HASH(k) BUCKETS 1 PROPERTIES (\"replication_num\" = \"3\")");
    insert(&c, "rp.t", 0, 100);
    insert(&c, "rp.t", 100, 100);
    let all = dump(&c, "rp.t");
    let tablet = c
        .sql_ok(1, "SHOW TABLET FROM rp.t")
        .get(0, "TabletId")
        .to_string();
    phase!("backend 2 loses the tablet's files (a disk replaced, a directory removed by hand)");
    let data = c.be_dir(2).join("storage/data");
    let dir = std::fs::read_dir(&data)
        .expect("data dir")
        .flatten()
        .map(|s| s.path().join(&tablet))
        .find(|p| p.is_dir())
        .expect("the tablet's directory on backend 2");
    std::fs::remove_dir_all(&dir).expect("remove the tablet's files");
    wait_until(Duration::from_secs(30), "the lost replica reported", || {
        let bad = c
            .sql(
                1,
                "ADMIN SHOW REPLICA STATUS FROM rp.t WHERE STATUS = 'DEAD'",
            )
            .ok()?;
        (!bad.rows.is_empty()).then_some(())
    });
    phase!("repair rebuilds it on the same backend (the only host without a copy)");
    wait_all_healthy(&c, "rp.t", "the lost replica rebuilt");
    let id2 = backend_id(&c, 2);
    assert_eq!(
        distribution(&c, "rp.t")[&id2],
        1,
        "backend 2 holds the tablet again"
    );
    assert!(dir.is_dir(), "its files are back");
    c.kill_be(1);
    c.kill_be(3);
    assert_eq!(
        dump(&c, "rp.t"),
        all,
        "the rebuilt replica alone serves the table"
    );
}

#[test]
fn a_clone_whose_source_dies_is_retried_from_another_replica() {
    let mut c = Cluster::new("repair-srcdies");
    setup(
        &mut c,
        &[1, 2, 3, 4, 5],
        // Slow clones (16 MB at 4 MB/s), so the source dies while most of the copy is still
        // ahead: it can be at most its stream window (4 MB) and a few chunks ahead.
        &[("tablet_sched_clone_rate_limit_mb_per_sec", "4")],
    );
    c.sql_ok(1, "CREATE TABLE rp.seed (k BIGINT) DISTRIBUTED BY HASH(k) BUCKETS 1 PROPERTIES (\"replication_num\" = \"3\")");
    let values: Vec<String> = (0..400).map(|k| format!("({k})")).collect();
    c.sql_ok(
        1,
        &format!("INSERT INTO rp.seed VALUES {}", values.join(", ")),
    );
    c.sql_ok(1, "CREATE TABLE rp.big (k BIGINT, s VARCHAR(200)) DISTRIBUTED BY HASH(k) BUCKETS 1 PROPERTIES (\"replication_num\" = \"3\")");
    c.sql_ok(
        1,
        "INSERT INTO rp.big SELECT a.k * 1000 + b.k, concat(md5(cast(a.k * 1000 + b.k AS VARCHAR)), \
         md5(cast(a.k AS VARCHAR) || 'x' || cast(b.k AS VARCHAR)), md5(cast(b.k * 7 + a.k AS VARCHAR))) \
         FROM rp.seed a CROSS JOIN rp.seed b",
    );
    let before = big_count(&c, 1);
    let addr_of = |c: &Cluster, id: &str| {
        (1..=5u8)
            .find(|&b| backend_id(c, b) == id)
            .expect("a backend's address")
    };
    let holders: Vec<u8> = c
        .sql_ok(1, "SHOW TABLET FROM rp.big")
        .maps()
        .iter()
        .map(|m| addr_of(&c, &m["BackendId"]))
        .collect();
    assert_eq!(holders.len(), 3);
    phase!("a holder dies; a clone starts from another holder");
    c.kill_be(holders[0]);
    let running = wait_until(REPAIR_WAIT, "a running clone", || {
        scheduler_rows(&c, "running")
            .into_iter()
            .find(|m| m["SrcBe"] != "-1")
    });
    let source = addr_of(&c, &running["SrcBe"]);
    phase!("its source dies mid-copy");
    c.kill_be(source);
    wait_until(
        REPAIR_WAIT,
        "the tablet healthy again from the last holder",
        || {
            let status = c
                .sql(1, "ADMIN SHOW REPLICA STATUS FROM rp.big")
                .ok()?
                .maps();
            let ok = status
                .iter()
                .filter(|m| m["Status"] == "OK" && m["State"] == "NORMAL")
                .count();
            (ok == 3 && unhealthy_total(&c)? == 0).then_some(())
        },
    );
    let history = scheduler_rows(&c, "history");
    assert!(
        history
            .iter()
            .any(|m| m["State"] != "FINISHED" && m["CloneType"] == "FULL"),
        "the interrupted clone is in the history as failed: {history:?}"
    );
    assert_eq!(big_count(&c, 1), before);
}
