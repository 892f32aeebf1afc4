//! `GET /metrics` on every frontend and backend of a real cluster (3 FEs, 4 BEs): the values
//! move with the work done (DDL, a Stream Load, SELECTs, a dead backend repaired by clones, a
//! killed leader), and `/api/health` answers 200 or 503 as a load balancer needs.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;
use std::time::Instant;

use tessera_testkit::BE_HTTP_PORT;
use tessera_testkit::Cluster;
use tessera_testkit::HTTP_PORT;
use tessera_testkit::http_get;
use tessera_testkit::http_request;
use tessera_testkit::ip;
use tessera_testkit::run_with_timeout;
use tessera_testkit::wait_until;

use crate::WAIT;
use crate::phase;

/// One scrape: series (`name` or `name{k="v",...}` with labels sorted) → value.
#[derive(Debug, Default)]
struct Scrape(BTreeMap<String, f64>);

impl Scrape {
    /// Parses the text format: `# ...` lines are comments, every other line is
    /// `name[{labels}] value`. Panics on a line that is neither (the page must be valid).
    fn parse(text: &str) -> Scrape {
        let mut out = BTreeMap::new();
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (series, value) = line
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("not a sample line: {line:?}"));
            let value: f64 = value
                .parse()
                .unwrap_or_else(|e| panic!("bad value in {line:?}: {e}"));
            let key = match series.split_once('{') {
                None => series.to_string(),
                Some((name, rest)) => {
                    let inner = rest
                        .strip_suffix('}')
                        .unwrap_or_else(|| panic!("unclosed labels in {line:?}"));
                    let mut labels: Vec<&str> = inner.split(',').collect();
                    labels.sort_unstable();
                    format!("{name}{{{}}}", labels.join(","))
                }
            };
            assert!(
                out.insert(key.clone(), value).is_none(),
                "series {key} appears twice"
            );
        }
        Scrape(out)
    }

    /// The value of `name` with exactly these labels (given in any order); 0 when absent.
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.0
            .get(&series(name, labels))
            .copied()
            .unwrap_or_default()
    }

    fn has(&self, name: &str, labels: &[(&str, &str)]) -> bool {
        self.0.contains_key(&series(name, labels))
    }
}

fn series(name: &str, labels: &[(&str, &str)]) -> String {
    if labels.is_empty() {
        return name.to_string();
    }
    let mut l: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    l.sort_unstable();
    format!("{name}{{{}}}", l.join(","))
}

fn scrape(port: u16, node: u8) -> Option<Scrape> {
    let (code, body) = http_get(&ip(node), port, "/metrics", Duration::from_secs(5))?;
    (code == 200).then(|| Scrape::parse(&body))
}

fn fe(node: u8) -> Scrape {
    scrape(HTTP_PORT, node).unwrap_or_else(|| panic!("frontend {node}: no /metrics"))
}

fn be(node: u8) -> Scrape {
    scrape(BE_HTTP_PORT, node).unwrap_or_else(|| panic!("backend {node}: no /metrics"))
}

/// A metric summed over the backends `bes`.
fn be_sum(bes: &[u8], name: &str, labels: &[(&str, &str)]) -> f64 {
    bes.iter().map(|&b| be(b).get(name, labels)).sum()
}

fn stream_load(fe: u8, body: &str) -> serde_json::Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("data");
    std::fs::write(&file, body).expect("write data");
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--location-trusted", "-u", "root:", "-XPUT", "-T"])
        .arg(&file)
        .args(["-H", "column_separator:,"])
        .arg(format!(
            "http://{}:{HTTP_PORT}/api/mt/t/_stream_load",
            ip(fe)
        ));
    let (code, out, err) = run_with_timeout(&mut cmd, Duration::from_secs(60));
    assert_eq!(code, Some(0), "curl failed: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

/// The Content-Type header of `GET url`, through curl.
fn content_type(url: &str) -> String {
    let mut cmd = Command::new("curl");
    cmd.args([
        "-sS",
        "-u",
        "root:",
        "-o",
        "/dev/null",
        "-w",
        "%{content_type}",
        url,
    ]);
    let (code, out, err) = run_with_timeout(&mut cmd, Duration::from_secs(10));
    assert_eq!(code, Some(0), "curl failed: {err}");
    out
}

fn health(node: u8) -> Option<u16> {
    health_reply(node).map(|(c, _)| c)
}

/// `GET /api/health`: the HTTP status and the body's `status`.
fn health_reply(node: u8) -> Option<(u16, String)> {
    let (code, body) = http_get(&ip(node), HTTP_PORT, "/api/health", Duration::from_secs(3))?;
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    Some((code, v["status"].as_str()?.to_string()))
}

#[test]
fn metrics_move_with_ddl_loads_queries_repairs_and_elections() {
    let started = Instant::now();
    let mut c = Cluster::new("metrics");
    for (k, v) in [
        ("tablet_sched_checker_interval_seconds", "1"),
        ("tablet_sched_repair_delay_factor_second", "1"),
        ("tablet_sched_be_down_tolerate_time_s", "2"),
        ("tablet_sched_min_clone_task_timeout_sec", "30"),
        ("quorum_publish_wait_time_ms", "500"),
        ("storage_usage_soft_limit_percent", "100"),
    ] {
        c.base_conf.push((k.into(), v.into()));
    }
    c.be_base_conf
        .push(("report_tablet_interval_seconds".into(), "1".into()));
    let fes = [1u8, 2, 3];
    let bes = [1u8, 2, 3, 4];
    c.start_ha(3, 0);
    for &b in &bes {
        c.start_be(b);
        c.sql_ok(1, &format!("ALTER SYSTEM ADD BACKEND \"{}:9050\"", ip(b)));
    }
    let leader = c.wait_leader(WAIT);
    let followers: Vec<u8> = fes.iter().copied().filter(|&f| f != leader).collect();
    // A backend checks the credentials of its pages with the leader it heard from.
    wait_until(WAIT, "every backend alive", || {
        let rows = c.sql(leader, "SHOW BACKENDS").ok()?;
        (rows.maps().iter().filter(|m| m["Alive"] == "true").count() == bes.len()).then_some(())
    });
    phase!("cluster up in {:?}; leader {leader}", started.elapsed());

    phase!("every node serves /metrics; one leader; node counts");
    for &f in &fes {
        let url = format!("http://{}:{HTTP_PORT}/metrics", ip(f));
        assert!(
            content_type(&url).starts_with("text/plain; version=0.0.4"),
            "{url}"
        );
        let text = http_get(&ip(f), HTTP_PORT, "/metrics", Duration::from_secs(5))
            .expect("scrape")
            .1;
        assert!(
            text.contains("# TYPE starrocks_fe_max_journal_id gauge"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE starrocks_fe_query_latency_ms summary"),
            "{text}"
        );
    }
    let url = format!("http://{}:{BE_HTTP_PORT}/metrics", ip(1));
    assert!(content_type(&url).starts_with("text/plain; version=0.0.4"));
    let leaders: Vec<u8> = fes
        .iter()
        .copied()
        .filter(|&f| fe(f).get("starrocks_fe_is_leader", &[]) == 1.0)
        .collect();
    assert_eq!(
        leaders,
        vec![leader],
        "is_leader must be 1 on the leader only"
    );
    wait_until(
        WAIT,
        "every frontend counts 3 frontends and 4 alive backends",
        || {
            fes.iter()
                .all(|&f| {
                    let s = fe(f);
                    s.get(
                        "starrocks_fe_node_info",
                        &[("type", "fe_node_num"), ("state", "total")],
                    ) == 3.0
                        && s.get(
                            "starrocks_fe_node_info",
                            &[("type", "be_node_num"), ("state", "alive")],
                        ) == 4.0
                })
                .then_some(())
        },
    );
    for &b in &bes {
        let s = be(b);
        assert!(
            s.get(
                "starrocks_be_heartbeat_received_total",
                &[("result", "accepted")]
            ) >= 1.0,
            "backend {b} received heartbeats"
        );
        assert!(
            s.0.keys()
                .any(|k| k.starts_with("starrocks_be_disks_total_capacity{path=")),
            "backend {b} shows its disks: {:?}",
            s.0.keys().collect::<Vec<_>>()
        );
    }

    phase!("the journal id rises with DDL and followers catch up");
    let j0 = fe(leader).get("starrocks_fe_max_journal_id", &[]);
    assert!(j0 > 0.0);
    c.sql_ok(leader, "CREATE DATABASE mt");
    c.sql_ok(
        leader,
        "CREATE TABLE mt.t (k INT, v VARCHAR(20)) DISTRIBUTED BY HASH(k) BUCKETS 4 \
         PROPERTIES (\"replication_num\" = \"3\")",
    );
    let j1 = fe(leader).get("starrocks_fe_max_journal_id", &[]);
    assert!(j1 >= j0 + 2.0, "two DDL entries: {j0} -> {j1}");
    for &f in &followers {
        wait_until(WAIT, "a follower replays the DDL", || {
            (fe(f).get("starrocks_fe_max_journal_id", &[]) >= j1).then_some(())
        });
        let s = fe(f);
        assert_eq!(s.get("starrocks_fe_is_leader", &[]), 0.0);
        assert_eq!(
            s.get("starrocks_fe_journal_term", &[]),
            fe(leader).get("starrocks_fe_journal_term", &[]),
            "one term"
        );
        // Heartbeat rounds keep appending entries; a caught-up follower is a few behind at most.
        assert!(
            s.get("starrocks_fe_journal_replay_lag", &[]) < 50.0,
            "follower {f} lag: {:?}",
            s.get("starrocks_fe_journal_replay_lag", &[])
        );
        assert!(s.get("starrocks_fe_leader_changes_total", &[]) >= 1.0);
    }
    assert_eq!(fe(leader).get("starrocks_fe_journal_replay_lag", &[]), 0.0);

    phase!("a Stream Load moves the load counters on the leader and the coordinator");
    let rows = 200;
    let body: String = (0..rows).map(|k| format!("{k},v{k}\n")).collect();
    let l0 = fe(leader);
    let bytes0 = be_sum(
        &bes,
        "starrocks_be_stream_load",
        &[("type", "receive_bytes")],
    );
    let rows0 = be_sum(&bes, "starrocks_be_stream_load", &[("type", "load_rows")]);
    let ok0 = be_sum(
        &bes,
        "starrocks_be_stream_load_total",
        &[("status", "success")],
    );
    let reply = stream_load(followers[0], &body);
    assert_eq!(reply["Status"], "Success", "{reply}");
    // The publish daemon may have made it visible a moment before counting it.
    let l1 = wait_until(WAIT, "the leader counts the visible load", || {
        let s = fe(leader);
        (s.get("starrocks_fe_txn_success", &[]) > l0.get("starrocks_fe_txn_success", &[]))
            .then_some(s)
    });
    let delta = |name: &str, labels: &[(&str, &str)]| l1.get(name, labels) - l0.get(name, labels);
    assert_eq!(delta("starrocks_fe_txn_begin", &[]), 1.0);
    assert_eq!(delta("starrocks_fe_txn_committed", &[]), 1.0);
    assert_eq!(delta("starrocks_fe_txn_success", &[]), 1.0);
    assert_eq!(delta("starrocks_fe_txn_failed", &[]), 0.0);
    assert_eq!(delta("starrocks_fe_load_bytes", &[]), body.len() as f64);
    assert_eq!(delta("starrocks_fe_load_rows", &[]), rows as f64);
    assert_eq!(delta("starrocks_fe_load_latency_ms_count", &[]), 1.0);
    assert!(l1.get("starrocks_fe_max_journal_id", &[]) > j1);
    assert_eq!(
        be_sum(
            &bes,
            "starrocks_be_stream_load",
            &[("type", "receive_bytes")]
        ) - bytes0,
        body.len() as f64
    );
    assert_eq!(
        be_sum(&bes, "starrocks_be_stream_load", &[("type", "load_rows")]) - rows0,
        rows as f64
    );
    assert_eq!(
        be_sum(
            &bes,
            "starrocks_be_stream_load_total",
            &[("status", "success")]
        ) - ok0,
        1.0
    );
    // A load the BE refuses (no credentials) is counted as failed, and moves no FE counter.
    let fail0 = be_sum(
        &bes,
        "starrocks_be_stream_load_total",
        &[("status", "fail")],
    );
    let (code, _) = http_request(
        "PUT",
        &ip(1),
        BE_HTTP_PORT,
        "/api/mt/t/_stream_load",
        Duration::from_secs(10),
    )
    .expect("the backend answers");
    assert_eq!(code, 200);
    assert_eq!(
        be_sum(
            &bes,
            "starrocks_be_stream_load_total",
            &[("status", "fail")]
        ) - fail0,
        1.0
    );

    phase!("SELECTs move the query counters of the frontend that ran them");
    let q = followers[1];
    let frag0 = be_sum(&bes, "starrocks_be_fragment_requests_total", &[]);
    let s0 = fe(q);
    let n = c.sql_ok(q, "SELECT count(*) FROM mt.t");
    assert_eq!(n.rows, vec![vec![rows.to_string()]]);
    let s1 = fe(q);
    let qd = |a: &Scrape, b: &Scrape, name: &str| b.get(name, &[]) - a.get(name, &[]);
    assert!(qd(&s0, &s1, "starrocks_fe_query_total") >= 1.0);
    assert_eq!(
        qd(&s0, &s1, "starrocks_fe_query_success"),
        qd(&s0, &s1, "starrocks_fe_query_total")
    );
    assert_eq!(qd(&s0, &s1, "starrocks_fe_query_err"), 0.0);
    assert_eq!(
        qd(&s0, &s1, "starrocks_fe_query_latency_ms_count"),
        qd(&s0, &s1, "starrocks_fe_query_total")
    );
    assert!(qd(&s0, &s1, "starrocks_fe_request_total") >= 1.0);
    assert!(s1.has("starrocks_fe_query_latency_ms", &[("quantile", "0.99")]));
    assert!(
        be_sum(&bes, "starrocks_be_fragment_requests_total", &[]) - frag0 >= 4.0,
        "one fragment per tablet at least"
    );
    let err = c.sql(q, "SELECT * FROM mt.no_such_table");
    assert!(err.is_err(), "{err:?}");
    let s2 = fe(q);
    assert_eq!(qd(&s1, &s2, "starrocks_fe_query_err"), 1.0);
    assert_eq!(
        qd(&s1, &s2, "starrocks_fe_query_success"),
        qd(&s1, &s2, "starrocks_fe_query_total") - 1.0
    );
    // Queries on this frontend are not counted on the leader.
    assert_eq!(
        fe(leader).get("starrocks_fe_query_err", &[]),
        l1.get("starrocks_fe_query_err", &[])
    );

    phase!("a dead backend: heartbeat failures, unhealthy tablets, clones");
    let victim = 4u8;
    let alive_bes = [1u8, 2, 3];
    let hb0 = fe(leader).get("starrocks_fe_backend_heartbeat_failed_total", &[]);
    let be_tablets: f64 = bes
        .iter()
        .map(|&b| be(b).get("starrocks_be_tablet_num", &[]))
        .sum();
    assert_eq!(be_tablets, 12.0, "4 tablets x 3 replicas");
    c.kill_be(victim);
    wait_until(
        WAIT,
        "the leader counts failed heartbeats to the dead backend",
        || (fe(leader).get("starrocks_fe_backend_heartbeat_failed_total", &[]) > hb0).then_some(()),
    );
    wait_until(
        WAIT,
        "unhealthy tablets on the leader, or their repair",
        || {
            let s = fe(leader);
            (s.get("starrocks_fe_unhealthy_tablet_num", &[]) > 0.0
                || s.get("starrocks_fe_clone_task_total", &[]) > 0.0)
                .then_some(())
        },
    );
    let repaired = wait_until(Duration::from_secs(60), "clones finish", || {
        let s = fe(leader);
        let done = s.get("starrocks_fe_clone_task_success", &[("type", "full")])
            + s.get(
                "starrocks_fe_clone_task_success",
                &[("type", "incremental")],
            );
        (done >= 1.0 && s.get("starrocks_fe_unhealthy_tablet_num", &[]) == 0.0).then_some(s)
    });
    assert!(repaired.get("starrocks_fe_clone_task_copy_bytes", &[]) > 0.0);
    assert!(repaired.get("starrocks_fe_clone_task_duration_ms_count", &[]) >= 1.0);
    assert!(repaired.get("starrocks_fe_clone_task_total", &[]) >= 1.0);
    assert!(
        be_sum(
            &alive_bes,
            "starrocks_be_clone_task_copy_bytes",
            &[("type", "INTER_NODE")]
        ) > 0.0
    );
    assert!(
        be_sum(
            &alive_bes,
            "starrocks_be_engine_requests_total",
            &[("type", "clone"), ("status", "total")]
        ) >= 1.0
    );
    assert_eq!(
        repaired.get(
            "starrocks_fe_node_info",
            &[("type", "be_node_num"), ("state", "alive")]
        ),
        3.0
    );

    phase!("health: 200 on every frontend while a leader is known");
    for &f in &fes {
        assert_eq!(health(f), Some(200), "frontend {f}");
    }
    let page = http_get(&ip(leader), HTTP_PORT, "/metrics", Duration::from_secs(5))
        .map(|(_, b)| b)
        .unwrap_or_default();
    eprintln!("the leader's /metrics:\n{page}");

    phase!("the leader dies: the others see a leader change");
    let changes0: BTreeMap<u8, f64> = followers
        .iter()
        .map(|&f| (f, fe(f).get("starrocks_fe_leader_changes_total", &[])))
        .collect();
    let term0 = fe(followers[0]).get("starrocks_fe_journal_term", &[]);
    c.kill(leader);
    let new_leader = c.wait_leader(WAIT);
    assert_ne!(new_leader, leader);
    for &f in &followers {
        wait_until(WAIT, "a survivor counts the new leader", || {
            (fe(f).get("starrocks_fe_leader_changes_total", &[]) > changes0[&f]).then_some(())
        });
        assert!(fe(f).get("starrocks_fe_journal_term", &[]) > term0);
    }
    assert_eq!(fe(new_leader).get("starrocks_fe_is_leader", &[]), 1.0);

    phase!("bad input: unknown paths are 404, query parameters are ignored");
    let s = http_get(
        &ip(new_leader),
        HTTP_PORT,
        "/metrics?x=1&name[]=%ff",
        Duration::from_secs(5),
    )
    .expect("answer");
    assert_eq!(s.0, 200);
    assert!(Scrape::parse(&s.1).get("starrocks_fe_is_leader", &[]) == 1.0);
    for (port, path) in [
        (HTTP_PORT, "/metricsx"),
        (HTTP_PORT, "/metrics/x"),
        (BE_HTTP_PORT, "/metrics/x"),
        (BE_HTTP_PORT, "/nothing"),
    ] {
        let node = if port == HTTP_PORT { new_leader } else { 1 };
        let r = http_get(&ip(node), port, path, Duration::from_secs(5)).expect("answer");
        assert_eq!(r.0, 404, "{port}{path}: {}", r.1);
    }
    let r = http_get(
        &ip(1),
        BE_HTTP_PORT,
        "/metrics?x=%zz",
        Duration::from_secs(5),
    )
    .expect("answer");
    assert_eq!(r.0, 200);
    let r = http_request(
        "POST",
        &ip(new_leader),
        HTTP_PORT,
        "/metrics",
        Duration::from_secs(5),
    )
    .expect("answer");
    assert_eq!(r.0, 405, "{}", r.1);

    phase!("health: 503 NO_LEADER on a follower whose leader died");
    let other = followers
        .iter()
        .copied()
        .find(|&f| f != new_leader)
        .expect("two followers");
    c.kill(new_leader);
    let (code, status) = wait_until(
        Duration::from_secs(30),
        "the follower left alone reports no leader",
        || health_reply(other).filter(|(code, _)| *code != 200),
    );
    assert_eq!((code, status.as_str()), (503, "NO_LEADER"));
    // Scrapes still work without a leader: monitoring matters most then.
    let s = fe(other);
    assert_eq!(s.get("starrocks_fe_is_leader", &[]), 0.0);
    assert_eq!(
        s.get(
            "starrocks_fe_node_info",
            &[("type", "fe_node_num"), ("state", "total")]
        ),
        3.0
    );

    phase!("health: 200 again once a quorum is back, 503 NO_QUORUM on a leader left alone");
    c.start_fe(leader, None);
    let lone = c.wait_leader(WAIT);
    wait_until(WAIT, "both frontends healthy again", || {
        [leader, other]
            .iter()
            .all(|&f| health(f) == Some(200))
            .then_some(())
    });
    let gone = if lone == leader { other } else { leader };
    c.kill(gone);
    let (code, status) = wait_until(
        Duration::from_secs(30),
        "the leader left alone reports it has no quorum",
        || health_reply(lone).filter(|(code, _)| *code != 200),
    );
    assert_eq!((code, status.as_str()), (503, "NO_QUORUM"));
    assert_eq!(fe(lone).get("starrocks_fe_is_leader", &[]), 1.0);
    phase!("done in {:?}", started.elapsed());
}
