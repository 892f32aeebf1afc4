//! Queries over replicated tablets: a dead replica, snapshots under concurrent loads,
//! read-your-writes on an observer, INSERT INTO ... SELECT.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::AtomicI64;
use std::sync::atomic::Ordering;
use std::time::Duration;
use std::time::Instant;

use tessera_testkit::Cluster;
use tessera_testkit::QUERY_PORT;
use tessera_testkit::ip;
use tessera_testkit::mysql;
use tessera_testkit::wait_until;

use crate::WAIT;
use crate::phase;

fn start(c: &mut Cluster, fes: (u8, u8), bes: &[u8]) {
    if fes == (1, 0) {
        c.start_fe(1, None);
    } else {
        c.start_ha(fes.0, fes.1);
    }
    for &i in bes {
        c.start_be(i);
        c.sql_ok(1, &format!("ALTER SYSTEM ADD BACKEND \"{}:9050\"", ip(i)));
    }
    wait_until(WAIT, "backends alive", || {
        let rows = c.sql(1, "SHOW BACKENDS").ok()?;
        (rows.maps().iter().filter(|m| m["Alive"] == "true").count() == bes.len()).then_some(())
    });
    c.sql_ok(1, "CREATE DATABASE q");
    c.sql_ok(
        1,
        "CREATE TABLE q.t (k INT NOT NULL, x BIGINT) DUPLICATE KEY(k) \
         DISTRIBUTED BY HASH(k) BUCKETS 4 PROPERTIES (\"replication_num\" = \"3\")",
    );
}

/// `INSERT INTO q.t VALUES (k, x), ...` for k in `from..from+n`, x = k.
fn insert_range(c: &Cluster, fe: u8, from: i64, n: i64) {
    let values: Vec<String> = (from..from + n).map(|k| format!("({k}, {k})")).collect();
    c.sql_ok(fe, &format!("INSERT INTO q.t VALUES {}", values.join(", ")));
}

fn count_and_sum(fe: u8) -> Result<(i64, i64), String> {
    let rows = mysql(
        &ip(fe),
        QUERY_PORT,
        "SELECT count(*) AS c, sum(x) AS s FROM q.t",
    )
    .map_err(|e| format!("{} {}", e.code, e.message))?;
    let c = rows.get(0, "c").parse::<i64>().map_err(|e| e.to_string())?;
    let s = rows.get(0, "s");
    let s = if s == "NULL" {
        0
    } else {
        s.parse::<i64>().map_err(|e| e.to_string())?
    };
    Ok((c, s))
}

#[test]
fn a_query_survives_a_killed_replica() {
    let mut c = Cluster::new("qkill");
    start(&mut c, (1, 0), &[1, 2, 3]);
    insert_range(&c, 1, 0, 200);
    let expected = (200, (0..200).sum::<i64>());
    assert_eq!(count_and_sum(1), Ok(expected));

    phase!("kill -9 backend 2; the FE still thinks it is alive for a while");
    c.kill_be(2);
    // Every query right after the kill must return the full result: scans that pick a replica
    // on backend 2 fail over to another replica.
    for i in 0..10 {
        assert_eq!(count_and_sum(1), Ok(expected), "query {i} after the kill");
        let rows = c.sql_ok(1, "SELECT k FROM q.t WHERE k = 123");
        assert_eq!(rows.first_column(), vec!["123"]);
    }
    // Replicas are chosen at random, so some of those scans went to backend 2 first.
    assert!(
        c.log(1).contains("trying another replica"),
        "no scan was retried on another replica"
    );
    phase!("once the FE marks it dead, replicas on it are not chosen at all");
    wait_until(WAIT, "backend 2 not alive", || {
        let rows = c.sql(1, "SHOW BACKENDS").ok()?;
        rows.maps()
            .iter()
            .any(|m| m["IP"] == ip(2) && m["Alive"] == "false")
            .then_some(())
    });
    assert_eq!(count_and_sum(1), Ok(expected));

    phase!("with two of three backends dead, no tablet has a readable replica");
    c.kill_be(3);
    // Until the FE notices, scans try the dead replicas and then the live one (backend 1).
    assert_eq!(count_and_sum(1), Ok(expected));
    c.kill_be(1);
    let e = count_and_sum(1).expect_err("no replica can be read");
    assert!(e.contains("tablet"), "the error names the tablet: {e}");
}

#[test]
fn a_query_sees_whole_loads_only() {
    let mut c = Cluster::new("qsnap");
    start(&mut c, (1, 0), &[1, 2, 3]);
    const ROWS_PER_LOAD: i64 = 50;
    const LOADS: i64 = 12;
    // After n loads of rows k = 0..n*50 (x = k): count = 50n, sum = 50n(50n-1)/2.
    let done = Arc::new(AtomicBool::new(false));
    let last_count = Arc::new(AtomicI64::new(-1));
    let reader = {
        let (done, last_count) = (done.clone(), last_count.clone());
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(300);
            while !done.load(Ordering::SeqCst) && Instant::now() < deadline {
                match count_and_sum(1) {
                    Ok(cs) => {
                        last_count.store(cs.0, Ordering::SeqCst);
                        seen.push(cs);
                    }
                    Err(e) => panic!("a query failed during the loads: {e}"),
                }
            }
            seen
        })
    };
    for n in 0..LOADS {
        insert_range(&c, 1, n * ROWS_PER_LOAD, ROWS_PER_LOAD);
    }
    let total = LOADS * ROWS_PER_LOAD;
    // The reader must see the final state at least once.
    wait_until(WAIT, "the reader sees every load", || {
        (last_count.load(Ordering::SeqCst) == total).then_some(())
    });
    done.store(true, Ordering::SeqCst);
    let seen = reader.join().expect("reader thread");
    assert!(
        seen.len() >= 3,
        "the reader ran only {} queries",
        seen.len()
    );
    for (count, sum) in &seen {
        assert_eq!(
            count % ROWS_PER_LOAD,
            0,
            "a partial load was visible: {count} rows"
        );
        assert_eq!(
            *sum,
            count * (count - 1) / 2,
            "count {count} with sum {sum}"
        );
    }
    // Totals only grow.
    assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0), "{seen:?}");
    assert_eq!(count_and_sum(1), Ok((total, total * (total - 1) / 2)));
}

#[test]
fn an_observer_reads_its_own_write_and_insert_select_copies() {
    let mut c = Cluster::new("qobs");
    // FE 1 follower (leader), FE 2 observer.
    start(&mut c, (1, 1), &[3, 4, 5]);
    phase!("write through the observer, then read on it at once");
    for round in 0..3 {
        let results = c.session(
            2,
            &[
                &format!("INSERT INTO q.t VALUES ({round}, 10)"),
                "SELECT count(*) FROM q.t",
            ],
        );
        let count = results
            .last()
            .and_then(|r| r.as_ref().ok())
            .map(|r| r.first_column())
            .unwrap_or_default();
        assert_eq!(count, vec![(round + 1).to_string()], "{results:?}");
    }
    phase!("INSERT INTO ... SELECT goes through a load transaction");
    c.sql_ok(
        2,
        "CREATE TABLE q.copy (k INT NOT NULL, x BIGINT) DUPLICATE KEY(k) \
         DISTRIBUTED BY HASH(k) BUCKETS 2 PROPERTIES (\"replication_num\" = \"3\")",
    );
    let results = c.session(
        2,
        &[
            "INSERT INTO q.copy WITH LABEL copy1 SELECT k, x * 2 FROM q.t WHERE k > 0",
            "SELECT k, x FROM q.copy ORDER BY k",
        ],
    );
    let rows = results
        .last()
        .and_then(|r| r.as_ref().ok())
        .map(|r| r.rows.clone())
        .unwrap_or_default();
    assert_eq!(
        rows,
        vec![
            vec!["1".to_string(), "20".to_string()],
            vec!["2".to_string(), "20".to_string()]
        ],
        "{results:?}"
    );
    phase!("EXPLAIN shows the tablet scans, bucket pruning and what runs on the backends");
    let plan = c
        .sql_ok(2, "EXPLAIN SELECT x FROM q.t WHERE k = 1")
        .first_column()
        .join("\n");
    assert!(
        plan.contains("TabletScanExec: table=q.t, tablets=1 "),
        "{plan}"
    );
    // The filter runs on the backends, inside the fragment.
    assert!(plan.contains("fragment=[FilterExec"), "{plan}");
    // Grouped by the bucketing key: every group is in one tablet, so the aggregation (and
    // its HAVING) finishes on the backends and the frontend aggregates nothing.
    let grouped_by_bucket =
        "SELECT k, count(*), sum(x) FROM q.t GROUP BY k HAVING sum(x) >= 10 ORDER BY k";
    let plan = c
        .sql_ok(2, &format!("EXPLAIN {grouped_by_bucket}"))
        .first_column()
        .join("\n");
    assert!(
        plan.contains("TabletScanExec: table=q.t, tablets=4 "),
        "{plan}"
    );
    assert!(
        plan.contains("fragment=[FilterExec: ") && plan.contains("<- AggregateExec: mode=Single"),
        "{plan}"
    );
    assert!(!plan.contains("mode=Final"), "{plan}");
    // The answer is the same as with the two phases (grouped on the frontend below).
    let one_phase = c.sql_ok(2, grouped_by_bucket).rows;
    let two_phases = c
        .sql_ok(
            2,
            "SELECT k, count(*), sum(x) FROM (SELECT k + 0 AS k, x FROM q.t) s GROUP BY k \
             HAVING sum(x) >= 10 ORDER BY k",
        )
        .rows;
    assert!(!one_phase.is_empty());
    assert_eq!(one_phase, two_phases);
    // A join's build-side keys go to the scan of its probe side as a runtime filter, unless
    // the build side is a whole table (every probe row would match its keys).
    let filtered = c
        .sql_ok(
            2,
            "EXPLAIN SELECT a.x FROM q.t a JOIN q.copy b ON a.k = b.k WHERE b.x > 15",
        )
        .first_column()
        .join("\n");
    assert!(
        filtered.contains("runtime_filters=[DynamicFilter"),
        "{filtered}"
    );
    let whole = c
        .sql_ok(
            2,
            "EXPLAIN SELECT a.x FROM q.t a JOIN q.copy b ON a.k = b.k",
        )
        .first_column()
        .join("\n");
    assert!(whole.contains("HashJoinExec"), "{whole}");
    assert!(!whole.contains("runtime_filters"), "{whole}");
    let joined = c.sql_ok(
        2,
        "SELECT a.k, b.x FROM q.t a JOIN q.copy b ON a.k = b.k WHERE b.x > 15 ORDER BY a.k",
    );
    assert_eq!(
        joined.rows,
        vec![
            vec!["1".to_string(), "20".to_string()],
            vec!["2".to_string(), "20".to_string()]
        ]
    );
    // Grouped by another column: a partial aggregation per tablet, the final one on the FE.
    let plan = c
        .sql_ok(2, "EXPLAIN SELECT x, count(*) FROM q.t GROUP BY x")
        .first_column()
        .join("\n");
    assert!(
        plan.contains("fragment=[AggregateExec: mode=Partial") && plan.contains("mode=Final"),
        "{plan}"
    );
    // A filter under a partial aggregate: both go to the backends.
    let plan = c
        .sql_ok(2, "EXPLAIN SELECT count(*), sum(x) FROM q.t WHERE x > 1")
        .first_column()
        .join("\n");
    assert!(
        plan.contains("fragment=[AggregateExec: mode=Partial") && plan.contains("<- FilterExec"),
        "{plan}"
    );
    // The label is taken: the same INSERT loads nothing.
    let e = c
        .sql(
            1,
            "INSERT INTO q.copy WITH LABEL copy1 SELECT k, x FROM q.t",
        )
        .expect_err("label reuse");
    assert!(e.message.contains("copy1"), "{e:?}");
    assert_eq!(
        c.sql_ok(1, "SELECT count(*) FROM q.copy").first_column(),
        vec!["2"]
    );
}

#[test]
fn timeouts_kill_query_and_memory_limits_end_a_query_not_the_node() {
    let mut c = Cluster::new("qlimits");
    start(&mut c, (1, 0), &[1, 2, 3]);
    for n in 0..4 {
        insert_range(&c, 1, n * 500, 500);
    }
    // 2000^3 rows: far longer than any bound below.
    const SLOW: &str = "SELECT count(*) FROM q.t a, q.t b, q.t c WHERE a.x + b.x + c.x >= 0";

    // First, while nothing else runs: a query that timed out or was killed stops at its next
    // yield point, which a CPU-bound join may reach only late (see the issue note).
    phase!("a query past exec_mem_limit fails with 1038; the FE stays up");
    let r = c.session(
        1,
        &[
            "SET exec_mem_limit = 1048576",
            "SET query_timeout = 60",
            // A full sort of 4M rows must hold them all: far past 1 MB.
            "SELECT a.k, b.k FROM q.t a, q.t b ORDER BY a.x, b.x",
        ],
    );
    let e = r[2].as_ref().expect_err("out of memory");
    assert_eq!(e.code, 1038, "{e:?}");
    phase!("query_timeout");
    let started = Instant::now();
    let r = c.session(1, &["SET query_timeout = 1", SLOW]);
    let e = r[1].as_ref().expect_err("the query times out");
    assert!(e.message.contains("query_timeout"), "{e:?}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );

    phase!("KILL QUERY from another connection");
    let addr = ip(1);
    let runner = std::thread::spawn(move || {
        tessera_testkit::mysql_session(&addr, QUERY_PORT, "root", "", &[SLOW])
    });
    let id = wait_until(WAIT, "the slow query in SHOW PROCESSLIST", || {
        let rows = c.sql(1, "SHOW PROCESSLIST").ok()?;
        rows.maps()
            .into_iter()
            .find(|m| m.get("Info").is_some_and(|i| i.contains("q.t a, q.t b")))
            .map(|m| m["Id"].clone())
    });
    c.sql_ok(1, &format!("KILL QUERY {id}"));
    let r = runner.join().expect("runner");
    let e = r[0].as_ref().expect_err("the query is cancelled");
    assert_eq!(e.code, 1317, "{e:?}");

    // The node stays up and answers. (A query that timed out or was killed keeps its CPU
    // until its plan next yields, which a cross join may do only late: a known limitation,
    // so no table query is timed here.)
    assert_eq!(c.sql_ok(1, "SELECT 1").first_column(), vec!["1"]);
    assert_eq!(c.sql_ok(1, "SHOW BACKENDS").rows.len(), 3);
}
