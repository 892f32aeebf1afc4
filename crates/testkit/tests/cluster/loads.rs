//! Load transactions: Stream Load with curl, INSERT with the mysql CLI, write_quorum, labels.

use std::process::Command;
use std::time::Duration;

use tessera_testkit::Cluster;
use tessera_testkit::ip;
use tessera_testkit::run_with_timeout;
use tessera_testkit::wait_until;

use crate::WAIT;
use crate::phase;

/// A Stream Load through the FE with the real curl; returns the JSON reply.
fn stream_load(
    fe: u8,
    db: &str,
    table: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> serde_json::Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("data");
    std::fs::write(&file, body).expect("write data");
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--location-trusted", "-u", "root:", "-XPUT", "-T"])
        .arg(&file)
        .arg(format!(
            "http://{}:8030/api/{db}/{table}/_stream_load",
            ip(fe)
        ));
    for (k, v) in headers {
        cmd.arg("-H").arg(format!("{k}:{v}"));
    }
    let (code, out, err) = run_with_timeout(&mut cmd, Duration::from_secs(120));
    assert_eq!(code, Some(0), "curl failed: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

/// `report_interval`: the BEs' report_tablet_interval_seconds.
fn setup(c: &mut Cluster, bes: &[u8], report_interval: &str) {
    c.be_base_conf.push((
        "report_tablet_interval_seconds".into(),
        report_interval.into(),
    ));
    c.start_fe(1, None);
    for &i in bes {
        c.start_be(i);
        c.sql_ok(1, &format!("ALTER SYSTEM ADD BACKEND \"{}:9050\"", ip(i)));
    }
    wait_until(WAIT, "backends alive", || {
        let rows = c.sql(1, "SHOW BACKENDS").ok()?;
        (rows.maps().iter().filter(|m| m["Alive"] == "true").count() == bes.len()).then_some(())
    });
    c.sql_ok(1, "CREATE DATABASE ld");
}

fn visible_versions(c: &Cluster, table: &str) -> Vec<String> {
    c.sql_ok(1, &format!("SHOW PROC '/dbs/ld/{table}/partitions'"))
        .maps()
        .into_iter()
        .map(|m| m["VisibleVersion"].clone())
        .collect()
}

/// Waits until SHOW TABLET FROM ld.t shows `rows` rows on each of 3 replicas, all at `version`.
fn wait_for_row_counts(c: &Cluster, rows: i64, version: &str) {
    wait_until(Duration::from_secs(15), "row counts reported", || {
        let maps = c.sql(1, "SHOW TABLET FROM ld.t").ok()?.maps();
        let total: i64 = maps
            .iter()
            .map(|m| m["RowCount"].parse::<i64>().unwrap_or(0))
            .sum();
        let at_version = maps.iter().all(|m| m["Version"] == version);
        (total == rows * 3 && at_version).then_some(())
    });
}

#[test]
fn stream_load_and_insert_commit_by_write_quorum() {
    let mut c = Cluster::new("loads");
    // No periodic report during the test: row counts must arrive with the report a publish asks for.
    setup(&mut c, &[1, 2, 3], "3600");
    c.sql_ok(1, "CREATE TABLE ld.t (k INT, v VARCHAR(20)) DISTRIBUTED BY HASH(k) BUCKETS 4 PROPERTIES (\"replication_num\" = \"3\")");
    phase!("a CSV Stream Load with every replica up");
    let r = stream_load(
        1,
        "ld",
        "t",
        &[("label", "l1"), ("column_separator", ",")],
        "1,a\n2,b\n3,c\n4,d\n",
    );
    assert_eq!(r["Status"], "Success", "{r}");
    assert_eq!(r["Label"], "l1");
    assert_eq!(r["NumberLoadedRows"], 4);
    assert_eq!(r["NumberTotalRows"], 4);
    for k in [
        "TxnId",
        "Message",
        "NumberFilteredRows",
        "NumberUnselectedRows",
        "LoadBytes",
        "LoadTimeMs",
        "BeginTxnTimeMs",
        "StreamLoadPlanTimeMs",
        "ReadDataTimeMs",
        "WriteDataTimeMs",
        "CommitAndPublishTimeMs",
    ] {
        assert!(r.get(k).is_some(), "missing {k} in {r}");
    }
    assert_eq!(visible_versions(&c, "t"), ["2"]);
    // (The CREATE TABLE report may still be on its way here; the check after the INSERT below
    // is the one only a publish-triggered report can pass.)
    wait_for_row_counts(&c, 4, "2");
    let txn = r["TxnId"].as_i64().expect("txn id");
    let t = c.sql_ok(1, &format!("SHOW TRANSACTION FROM ld WHERE id = {txn}"));
    assert_eq!(t.get(0, "TransactionStatus"), "VISIBLE");
    phase!("the label cannot be reused");
    let r = stream_load(
        1,
        "ld",
        "t",
        &[("label", "l1"), ("column_separator", ",")],
        "5,e\n",
    );
    assert_eq!(r["Status"], "Label Already Exists", "{r}");
    assert_eq!(r["ExistingJobStatus"], "FINISHED");
    assert_eq!(visible_versions(&c, "t"), ["2"]);
    phase!("INSERT through the mysql client takes the same path");
    let ok = c.session(
        1,
        &["INSERT INTO ld.t WITH LABEL ins1 VALUES (10, 'x'), (11, NULL)"],
    );
    assert!(ok[0].is_ok(), "{:?}", ok[0]);
    assert_eq!(visible_versions(&c, "t"), ["3"]);
    phase!("the published rows are in SHOW TABLET as soon as the load is visible");
    let maps = c.sql_ok(1, "SHOW TABLET FROM ld.t").maps();
    let total: i64 = maps
        .iter()
        .map(|m| m["RowCount"].parse::<i64>().unwrap_or(0))
        .sum();
    assert_eq!(total, 6 * 3, "{maps:?}");
    assert!(maps.iter().all(|m| m["Version"] == "3"), "{maps:?}");
    let e = c
        .sql(1, "INSERT INTO ld.t WITH LABEL ins1 VALUES (12, 'y')")
        .expect_err("label reuse");
    assert!(e.message.contains("has already been used"), "{e}");
    let loads = c.sql_ok(1, "SHOW LOAD FROM ld");
    assert!(
        loads
            .maps()
            .iter()
            .any(|m| m["Label"] == "ins1" && m["State"] == "FINISHED" && m["Type"] == "INSERT")
    );
    phase!("one backend down: MAJORITY loads, ALL fails with a clear error and nothing visible");
    c.kill_be(3);
    let r = stream_load(
        1,
        "ld",
        "t",
        &[("label", "maj"), ("column_separator", ",")],
        "20,a\n21,b\n",
    );
    assert_eq!(r["Status"], "Success", "{r}");
    assert_eq!(visible_versions(&c, "t"), ["4"]);
    c.sql_ok(1, "ALTER TABLE ld.t SET (\"write_quorum\" = \"ALL\")");
    let r = stream_load(
        1,
        "ld",
        "t",
        &[("label", "all1"), ("column_separator", ",")],
        "30,a\n",
    );
    assert_eq!(r["Status"], "Fail", "{r}");
    let msg = r["Message"].as_str().unwrap_or_default();
    assert!(
        msg.contains("quorum") || msg.contains("lost replicas"),
        "{msg}"
    );
    assert_eq!(visible_versions(&c, "t"), ["4"]);
    phase!("the failed label is reusable after the abort; ONE loads with two backends down");
    c.sql_ok(1, "ALTER TABLE ld.t SET (\"write_quorum\" = \"ONE\")");
    c.kill_be(2);
    let r = stream_load(
        1,
        "ld",
        "t",
        &[("label", "all1"), ("column_separator", ",")],
        "30,a\n",
    );
    assert_eq!(r["Status"], "Success", "{r}");
    assert_eq!(visible_versions(&c, "t"), ["5"]);
}

#[test]
fn bad_rows_are_filtered_within_max_filter_ratio() {
    let mut c = Cluster::new("loadbad");
    setup(&mut c, &[1, 2, 3], "2");
    c.sql_ok(1, "CREATE TABLE ld.b (k INT NOT NULL, v VARCHAR(3), d DATE) DISTRIBUTED BY HASH(k) BUCKETS 2 PROPERTIES (\"replication_num\" = \"3\")");
    let body = "1,abc,2024-01-01\n2,toolong,2024-01-01\nx,a,2024-01-01\n3,a\n\\N,a,2024-01-01\n4,a,2024-02-30\n5,ok,2024-03-01\n";
    phase!("over the ratio: nothing visible, rejected rows served at ErrorURL");
    let r = stream_load(1, "ld", "b", &[("column_separator", ",")], body);
    assert_eq!(r["Status"], "Fail", "{r}");
    assert_eq!(r["Message"], "too many filtered rows");
    assert_eq!(r["NumberFilteredRows"], 5);
    assert_eq!(visible_versions(&c, "b"), ["1"]);
    let url = r["ErrorURL"].as_str().expect("ErrorURL").to_string();
    let (code, out, _) = run_with_timeout(
        Command::new("curl").args(["-sS", "-u", "root:", &url]),
        WAIT,
    );
    assert_eq!(code, Some(0));
    assert!(out.lines().count() >= 5, "{out}");
    phase!("within max_filter_ratio the good rows load");
    let r = stream_load(
        1,
        "ld",
        "b",
        &[("column_separator", ","), ("max_filter_ratio", "0.8")],
        body,
    );
    assert_eq!(r["Status"], "Success", "{r}");
    assert_eq!(r["NumberLoadedRows"], 2);
    assert_eq!(r["NumberFilteredRows"], 5);
    assert_eq!(visible_versions(&c, "b"), ["2"]);
    phase!("JSON with jsonpaths and strip_outer_array");
    let r = stream_load(
        1,
        "ld",
        "b",
        &[
            ("format", "json"),
            ("strip_outer_array", "true"),
            ("jsonpaths", "[\"$.id\", \"$.name\", \"$.day\"]"),
        ],
        "[{\"id\": 7, \"name\": \"j\", \"day\": \"2024-05-05\"}, {\"id\": 8, \"name\": \"k\", \"day\": null}]",
    );
    assert_eq!(r["Status"], "Success", "{r}");
    assert_eq!(r["NumberLoadedRows"], 2);
    phase!("clear errors: wrong password, wrong table, empty body");
    let (code, out, _) = run_with_timeout(
        Command::new("curl").args([
            "-sS",
            "--location-trusted",
            "-u",
            "root:wrong",
            "-XPUT",
            "--data-binary",
            "1,a,2024-01-01",
            &format!("http://{}:8030/api/ld/b/_stream_load", ip(1)),
        ]),
        WAIT,
    );
    assert_eq!(code, Some(0));
    assert!(out.contains("Access denied"), "{out}");
    let r = stream_load(1, "ld", "no_such_table", &[], "1\n");
    assert!(
        r["Message"]
            .as_str()
            .unwrap_or_default()
            .contains("doesn't exist"),
        "{r}"
    );
    let r = stream_load(1, "ld", "b", &[], "");
    assert_eq!(r["Status"], "Fail", "{r}");
    assert_eq!(visible_versions(&c, "b"), ["3"]);
}

#[test]
fn a_coordinator_killed_mid_load_leaves_nothing_and_frees_the_label() {
    let mut c = Cluster::new("loadkill");
    setup(&mut c, &[1, 2, 3], "2");
    c.sql_ok(1, "CREATE TABLE ld.k (k INT, v VARCHAR(20)) DISTRIBUTED BY HASH(k) BUCKETS 3 PROPERTIES (\"replication_num\" = \"3\")");
    phase!("a slow load straight to backend 3, which is killed while it reads the body");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("big.csv");
    let body: String = (0..200_000).map(|i| format!("{i},value{i}\n")).collect();
    std::fs::write(&file, &body).expect("write");
    let mut curl = Command::new("curl")
        .args([
            "-sS",
            "-u",
            "root:",
            "-XPUT",
            "--limit-rate",
            "200k",
            "-H",
            "label:slow",
            "-H",
            "column_separator:,",
            "-T",
        ])
        .arg(&file)
        .arg(format!("http://{}:8040/api/ld/k/_stream_load", ip(3)))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("curl");
    wait_until(WAIT, "the load's transaction is running", || {
        let rows = c.sql(1, "SHOW LOAD FROM ld WHERE Label = 'slow'").ok()?;
        (rows.rows.len() == 1).then_some(())
    });
    c.kill_be(3);
    let _ = curl.kill();
    let _ = curl.wait();
    phase!("the leader aborts it; nothing is visible; the label is free again");
    wait_until(WAIT, "the transaction is aborted", || {
        let rows = c.sql(1, "SHOW LOAD FROM ld WHERE Label = 'slow'").ok()?;
        (rows.get(0, "State") == "CANCELLED").then_some(())
    });
    assert_eq!(visible_versions(&c, "k"), ["1"]);
    let r = stream_load(
        1,
        "ld",
        "k",
        &[("label", "slow"), ("column_separator", ",")],
        "1,a\n2,b\n",
    );
    assert_eq!(r["Status"], "Success", "{r}");
    assert_eq!(visible_versions(&c, "k"), ["2"]);
}
