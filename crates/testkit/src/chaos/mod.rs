//! The fault-injection suite: a real cluster of `tessera` processes, each node in its own
//! network namespace (3 FE followers, 1 observer, 4 BEs), clients recording a history while a
//! nemesis partitions, kills, pauses, skews clocks and fills disks; then the faults stop and
//! the history and the cluster are checked:
//!
//! - metadata operations (DDL, `ADMIN SET FRONTEND CONFIG`) are linearizable, per key
//!   (stateright's tester; an operation whose outcome is unknown may or may not have happened);
//! - no two frontends led the same raft term (from their logs);
//! - every acknowledged Stream Load is present exactly once, no label partly or twice;
//! - readers saw only whole loads, never went back in time on a session, and linearizable
//!   readers saw every load acknowledged as visible before they began;
//! - after recovery, within a bound: one leader, every backend alive, every tablet healthy,
//!   replicas of a tablet with the same rows, every frontend caught up with the leader's
//!   journal id and showing the same catalog.
//!
//! A run is seeded: the seed picks the faults, their targets and timings, and the clients'
//! operations (the interleaving with real time is, of course, not reproducible).

pub mod check;
pub mod nemesis;
pub mod workload;

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;
use std::time::Instant;

use rand::Rng;
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::Cluster;
use crate::HTTP_PORT;
use crate::http_get;
use crate::wait_until;
use check::KeyVerdict;
use nemesis::Fault;
use nemesis::Nemesis;
use workload::Shared;

/// Frontends: 3 followers and 1 observer.
pub const FOLLOWERS: u8 = 3;
/// Observers.
pub const OBSERVERS: u8 = 1;
/// Backends.
pub const BACKENDS: u8 = 4;

/// A scenario: which faults the nemesis may pick, and for how long it runs.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Its name.
    pub name: &'static str,
    /// The faults it draws from.
    pub faults: Vec<Fault>,
    /// How long faults are injected.
    pub duration: Duration,
}

/// The fixed scenarios (one per fault, plus a mix).
pub fn scenarios(duration: Duration) -> Vec<Scenario> {
    let one = |name, f| Scenario {
        name,
        faults: vec![f],
        duration,
    };
    vec![
        one("partition-halves", Fault::PartitionHalves),
        one("isolate-leader", Fault::IsolateLeader),
        one("one-way", Fault::OneWay),
        one("bridge", Fault::Bridge),
        one("kill-fe", Fault::KillFe),
        one("kill-be", Fault::KillBe),
        one("pause", Fault::PauseLeader),
        one("pause-be", Fault::PauseBe),
        one("clock-skew", Fault::ClockSkew),
        one("disk-full", Fault::DiskFull),
        one("membership", Fault::Membership),
        Scenario {
            name: "mixed",
            faults: Fault::ALL.to_vec(),
            duration,
        },
    ]
}

/// The scenario called `name`.
pub fn scenario(name: &str, duration: Duration) -> Option<Scenario> {
    scenarios(duration).into_iter().find(|s| s.name == name)
}

/// What a run found.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// The scenario.
    pub scenario: String,
    /// The seed.
    pub seed: u64,
    /// Client operations attempted.
    pub ops: u64,
    /// Metadata operations recorded, loads, successful reads.
    pub meta_ops: usize,
    /// Loads attempted (labels).
    pub loads: usize,
    /// Loads acknowledged.
    pub acked: usize,
    /// Reads that returned.
    pub reads: u64,
    /// The faults injected, in order, with their time from the start.
    pub faults: Vec<String>,
    /// Anomalies: every broken promise found.
    pub anomalies: Vec<String>,
    /// Keys whose linearizability search did not finish (not counted as anomalies; reported).
    pub inconclusive: Vec<String>,
    /// How long convergence took after the faults stopped.
    pub converged_in: Duration,
    /// Where the run's node logs, history and report were saved.
    pub logs: String,
}

impl Report {
    /// One line of the results table.
    pub fn row(&self) -> String {
        format!(
            "| {} | {} | {} | {} | {}/{} | {} | {} |",
            self.scenario,
            self.seed,
            self.ops,
            self.faults.len(),
            self.acked,
            self.loads,
            self.anomalies.len(),
            self.converged_in.as_secs_f64().round()
        )
    }

    /// The table header for [`Report::row`].
    pub fn header() -> &'static str {
        "| scenario | seed | operations | faults | loads acked/attempted | anomalies | converged (s) |\n\
         |---|---|---|---|---|---|---|"
    }
}

fn log(start: Instant, what: &str) {
    eprintln!("[chaos {:>6.1}s] {what}", start.elapsed().as_secs_f64());
}

/// Starts the cluster for a run: namespaces, short timeouts, 3 followers + 1 observer, 4
/// backends, the load table.
fn start_cluster(scenario: &Scenario) -> Cluster {
    let mut c = Cluster::new_netns(
        &format!("chaos-{}", scenario.name),
        FOLLOWERS + OBSERVERS,
        BACKENDS,
    )
    .unwrap_or_else(|e| panic!("the fault-injection suite needs network namespaces: {e}"));
    for (k, v) in [
        ("raft_election_timeout_ms", "500"),
        ("heartbeat_timeout_second", "1"),
        ("tablet_sched_checker_interval_seconds", "1"),
        ("tablet_sched_be_down_tolerate_time_s", "4"),
        ("tablet_sched_repair_delay_factor_second", "1"),
        ("tablet_sched_consecutive_full_clone_delay_sec", "3"),
        ("debug_enable_fault_injection", "true"),
    ] {
        c.base_conf.push((k.into(), v.into()));
    }
    for (k, v) in [
        ("report_tablet_interval_seconds", "2"),
        ("debug_enable_fault_injection", "true"),
    ] {
        c.be_base_conf.push((k.into(), v.into()));
    }
    // Each backend's storage on a disk of its own (a tmpfs): the disk-full fault fills one,
    // and how full the machine's own disk is does not steer replica placement.
    for i in 1..=BACKENDS {
        let dir = c.be_dir(i).join("storage");
        c.mount_tmpfs(&dir, 256)
            .unwrap_or_else(|e| panic!("the backends' disks are tmpfs mounts: {e}"));
    }
    c.start_ha(FOLLOWERS, OBSERVERS);
    for i in 1..=BACKENDS {
        c.start_be(i);
        c.sql_ok(
            1,
            &format!("ALTER SYSTEM ADD BACKEND \"{}:9050\"", c.be_ip(i)),
        );
    }
    wait_until(Duration::from_secs(60), "backends alive", || {
        let rows = c.sql(1, "SHOW BACKENDS").ok()?;
        (rows.maps().iter().filter(|m| m["Alive"] == "true").count() == BACKENDS as usize)
            .then_some(())
    });
    c.sql_ok(1, &format!("CREATE DATABASE {}", workload::LOAD_DB));
    c.sql_ok(
        1,
        &format!(
            "CREATE TABLE {}.{} (label_id BIGINT, row_id INT, v BIGINT) DUPLICATE KEY(label_id) \
             DISTRIBUTED BY HASH(row_id) BUCKETS 3 PROPERTIES (\"replication_num\" = \"3\")",
            workload::LOAD_DB,
            workload::LOAD_TABLE
        ),
    );
    c
}

/// Runs one scenario with one seed and checks everything; never panics on an anomaly (they
/// are in the report), only when the harness itself cannot work.
pub fn run(scenario: &Scenario, seed: u64) -> Report {
    let t0 = Instant::now();
    let mut report = Report {
        scenario: scenario.name.to_string(),
        seed,
        ..Report::default()
    };
    log(
        t0,
        &format!(
            "scenario {} seed {seed}: starting the cluster",
            scenario.name
        ),
    );
    let mut c = start_cluster(scenario);
    let fes: Vec<String> = (1..=FOLLOWERS + OBSERVERS).map(|i| c.fe_ip(i)).collect();
    // The registers' values before the run.
    let mut initial: BTreeMap<String, Option<String>> = BTreeMap::new();
    for key in workload::REGISTER_KEYS {
        let rows = c.sql_ok(1, &format!("ADMIN SHOW FRONTEND CONFIG LIKE '{key}'"));
        initial.insert(key.to_string(), Some(rows.get(0, "Value").to_string()));
    }

    let shared = Shared::new(seed, fes);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime for the clients");
    let mut tasks = Vec::new();
    for k in 0..3u64 {
        tasks.push(runtime.spawn(workload::meta_client(shared.clone(), seed ^ (100 + k))));
    }
    for k in 0..3u64 {
        tasks.push(runtime.spawn(workload::load_client(shared.clone(), seed ^ (200 + k))));
    }
    tasks.push(runtime.spawn(workload::reader(shared.clone(), seed ^ 300, true)));
    tasks.push(runtime.spawn(workload::reader(shared.clone(), seed ^ 301, false)));

    // The nemesis.
    let mut rng = StdRng::seed_from_u64(seed);
    let mut nemesis = Nemesis::new(FOLLOWERS + OBSERVERS, FOLLOWERS, BACKENDS);
    let faults_start = Instant::now();
    log(t0, "clients started; faults begin");
    while faults_start.elapsed() < scenario.duration {
        std::thread::sleep(Duration::from_millis(rng.random_range(1000..3000)));
        // A mixed scenario sometimes breaks two things at once.
        let at_once = if scenario.faults.len() > 1 && rng.random_bool(0.3) {
            2
        } else {
            1
        };
        let mut chosen: Vec<Fault> = Vec::new();
        while chosen.len() < at_once {
            let f = scenario.faults[rng.random_range(0..scenario.faults.len())];
            if !chosen.contains(&f) {
                chosen.push(f);
            }
        }
        for fault in chosen {
            let what = nemesis.inject(&mut c, fault, &mut rng);
            log(t0, &what);
            report
                .faults
                .push(format!("{:.1}s {what}", t0.elapsed().as_secs_f64()));
        }
        std::thread::sleep(Duration::from_millis(rng.random_range(2000..6000)));
        nemesis.recover(&mut c);
        log(t0, "recovered");
    }
    // Quiet time for the clients, then stop them.
    std::thread::sleep(Duration::from_secs(5));
    shared.stop.store(true, Ordering::Relaxed);
    log(t0, "faults over; stopping the clients");
    runtime.block_on(async {
        for t in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(90), t).await;
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(5));

    // Convergence.
    let converge_start = Instant::now();
    converge(&mut c, &mut report);
    report.converged_in = converge_start.elapsed();
    log(
        t0,
        &format!("converged in {:.1}s", report.converged_in.as_secs_f64()),
    );

    // Loads: exactly once.
    let rows = c.sql(
        1,
        &format!(
            "SELECT label_id, count(*), sum(row_id) FROM {}.{} GROUP BY label_id",
            workload::LOAD_DB,
            workload::LOAD_TABLE
        ),
    );
    let loads = shared.loads.lock().map(|l| l.clone()).unwrap_or_default();
    report.loads = loads.len();
    report.acked = loads.iter().filter(|l| l.acked).count();
    match rows {
        Ok(rows) => {
            let mut counts = BTreeMap::new();
            for r in &rows.rows {
                let p = |i: usize| r.get(i).and_then(|v| v.parse::<i64>().ok()).unwrap_or(-1);
                counts.insert(p(0), (p(1), p(2)));
            }
            report
                .anomalies
                .extend(check::check_loads(&loads, &counts, workload::ROWS_PER_LOAD));
        }
        Err(e) => report
            .anomalies
            .push(format!("the final read of the loads failed: {e}")),
    }
    report.anomalies.extend(
        shared
            .anomalies
            .lock()
            .map(|a| a.clone())
            .unwrap_or_default(),
    );

    // Metadata: linearizable, per key.
    let events = shared.meta.lock().map(|m| m.clone()).unwrap_or_default();
    report.meta_ops = events.len();
    let mut by_key: BTreeMap<String, Vec<check::MetaEvent>> = BTreeMap::new();
    for e in events {
        by_key.entry(e.key.clone()).or_default().push(e);
    }
    for (key, events) in &by_key {
        let init = initial.get(key).cloned().unwrap_or(None);
        match check::check_key(init, events, Duration::from_secs(20)) {
            KeyVerdict::Ok => {}
            KeyVerdict::Anomaly => report.anomalies.push(format!(
                "metadata history of {key} is not linearizable ({} operations):\n{}",
                events.len(),
                describe(events, t0)
            )),
            KeyVerdict::Inconclusive => report.inconclusive.push(key.clone()),
        }
    }

    // At most one leader per term.
    report.anomalies.extend(leaders_per_term(&c));
    report.reads = shared.reads.load(Ordering::Relaxed);
    report.ops = shared.ops.load(Ordering::Relaxed);
    let mut seen = std::collections::BTreeSet::new();
    report.anomalies.retain(|a| seen.insert(a.clone()));
    report.logs = save_logs(&c, &report, &loads, &by_key, t0);
    report.reads = shared.reads.load(Ordering::Relaxed);
    report.ops = shared.ops.load(Ordering::Relaxed);
    log(
        t0,
        &format!(
            "done: {} operations, {} faults, {} anomalies",
            report.ops,
            report.faults.len(),
            report.anomalies.len()
        ),
    );
    report
}

fn describe(events: &[check::MetaEvent], t0: Instant) -> String {
    let mut sorted: Vec<&check::MetaEvent> = events.iter().collect();
    sorted.sort_by_key(|e| e.start);
    sorted
        .iter()
        .map(|e| {
            format!(
                "  p{} fe{} [{:.3}s .. {:.3}s] {:?} -> {:?}",
                e.process,
                e.fe,
                e.start.duration_since(t0).as_secs_f64(),
                e.end.duration_since(t0).as_secs_f64(),
                e.op,
                e.ret
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Waits (bounded) for the cluster to settle; every part that does not is an anomaly.
fn converge(c: &mut Cluster, report: &mut Report) {
    let bound = Duration::from_secs(120);
    let deadline = Instant::now() + bound;
    let left = || deadline.saturating_duration_since(Instant::now());
    let fes: Vec<u8> = (1..=FOLLOWERS + OBSERVERS).collect();
    // One leader that every frontend agrees on.
    let leader = poll(left(), || {
        let mut seen = None;
        for &i in &fes {
            let l = c.leader_seen_by(i)?;
            if seen.is_some_and(|s| s != l) {
                return None;
            }
            seen = Some(l);
        }
        seen
    });
    let Some(leader) = leader else {
        report
            .anomalies
            .push("no single leader within 120 s after the faults stopped".into());
        return;
    };
    // Every backend alive.
    if poll(left(), || {
        let rows = c.sql(leader, "SHOW BACKENDS").ok()?;
        (rows.maps().iter().filter(|m| m["Alive"] == "true").count() == BACKENDS as usize)
            .then_some(())
    })
    .is_none()
    {
        report
            .anomalies
            .push("not every backend alive 120 s after the faults stopped".into());
    }
    // Every tablet healthy.
    if poll(left(), || {
        let rows = c.sql(leader, "SHOW PROC '/statistic'").ok()?;
        let m = rows.maps();
        let total = m
            .iter()
            .find(|r| r.get("DbId").map(String::as_str) == Some("Total"))?;
        (total.get("UnhealthyTabletNum").map(String::as_str) == Some("0")).then_some(())
    })
    .is_none()
    {
        let mut detail = String::new();
        for q in [
            format!(
                "ADMIN SHOW REPLICA STATUS FROM {}.{}",
                workload::LOAD_DB,
                workload::LOAD_TABLE
            ),
            "SHOW PROC '/tablet_scheduler'".to_string(),
            "SHOW PROC '/tablet_scheduler/pending'".to_string(),
            "SHOW PROC '/tablet_scheduler/running'".to_string(),
            "SHOW PROC '/tablet_scheduler/unrepairable'".to_string(),
            "SHOW BACKENDS".to_string(),
        ] {
            let r = c
                .sql(leader, &q)
                .map(|r| format!("{:?}\n{:?}", r.columns, r.rows))
                .unwrap_or_else(|e| e.to_string());
            detail.push_str(&format!("\n  {q}:\n  {r}"));
        }
        report.anomalies.push(format!(
            "unhealthy tablets 120 s after the faults stopped (leader fe{leader}):{detail}"
        ));
    }
    // Replicas of a tablet hold the same rows at the partition's visible version.
    if let Some(problem) = poll(left(), || match replica_checksums(c, leader) {
        Ok(()) => Some(None),
        Err(e) if Instant::now() + Duration::from_secs(1) >= deadline => Some(Some(e)),
        Err(_) => None,
    })
    .flatten()
    {
        report.anomalies.push(problem);
    }
    // Every frontend reaches the leader's journal id (the leader journals heartbeats every
    // second, so the ids keep moving: every frontend must catch up with what the leader had).
    let journal_id = |i: u8| {
        http_get(
            &c.fe_ip(i),
            HTTP_PORT,
            "/api/health",
            Duration::from_secs(1),
        )
        .and_then(|(_, b)| serde_json::from_str::<serde_json::Value>(&b).ok())
        .and_then(|j| j["journal_id"].as_u64())
    };
    let target = poll(left(), || journal_id(leader));
    let caught_up = target.and_then(|t| {
        poll(left(), || {
            fes.iter()
                .all(|&i| journal_id(i).is_some_and(|id| id >= t))
                .then_some(())
        })
    });
    if caught_up.is_none() {
        let ids: Vec<String> = fes
            .iter()
            .map(|&i| format!("fe{i}: {:?}", journal_id(i)))
            .collect();
        report.anomalies.push(format!(
            "not every frontend reached the leader's journal id {target:?}: {ids:?}"
        ));
    }
    // The same catalog everywhere.
    let catalog = |i: u8| -> Option<String> {
        let r = crate::mysql_session(
            &c.fe_ip(i),
            crate::QUERY_PORT,
            "root",
            "",
            &[
                "SET read_consistency = 'linearizable'",
                "SHOW DATABASES",
                &format!(
                    "SHOW PROC '/dbs/{}/{}/partitions'",
                    workload::LOAD_DB,
                    workload::LOAD_TABLE
                ),
            ],
        );
        if r.iter().any(Result::is_err) {
            return None;
        }
        Some(
            r.into_iter()
                .filter_map(Result::ok)
                .map(|rows| format!("{:?}", rows.rows))
                .collect::<Vec<_>>()
                .join("\n"),
        )
    };
    if poll(left(), || {
        let first = catalog(fes[0])?;
        fes[1..]
            .iter()
            .all(|&i| catalog(i).as_ref() == Some(&first))
            .then_some(())
    })
    .is_none()
    {
        let all: Vec<String> = fes
            .iter()
            .map(|&i| format!("fe{i}: {:?}", catalog(i)))
            .collect();
        report.anomalies.push(format!(
            "the frontends' catalogs differ: {}",
            all.join("\n")
        ));
    }
}

/// Saves every node's log, the load records, the metadata history and the report under
/// `$TMPDIR/tessera-chaos/<scenario>-<seed>/` (replacing an earlier run's); returns the path.
fn save_logs(
    c: &Cluster,
    report: &Report,
    loads: &[check::LoadRecord],
    meta: &BTreeMap<String, Vec<check::MetaEvent>>,
    t0: Instant,
) -> String {
    let dir = std::env::temp_dir()
        .join("tessera-chaos")
        .join(format!("{}-{}", report.scenario, report.seed));
    let _ = std::fs::remove_dir_all(&dir);
    if std::fs::create_dir_all(&dir).is_err() {
        return String::new();
    }
    for i in 1..=FOLLOWERS + OBSERVERS {
        let _ = std::fs::write(dir.join(format!("fe{i}.log")), c.log(i));
    }
    for i in 1..=BACKENDS {
        let _ = std::fs::write(dir.join(format!("be{i}.log")), c.be_log(i));
    }
    let loads_text: String = loads
        .iter()
        .map(|l| {
            format!(
                "label {} acked={} visible={} attempts={} last={}\n",
                l.label_id,
                l.acked,
                l.visible_at.is_some(),
                l.attempts,
                l.last
            )
        })
        .collect();
    let _ = std::fs::write(dir.join("loads.txt"), loads_text);
    let meta_text: String = meta
        .iter()
        .map(|(k, events)| format!("== {k}\n{}\n", describe(events, t0)))
        .collect();
    let _ = std::fs::write(dir.join("meta-history.txt"), meta_text);
    let _ = std::fs::write(
        dir.join("report.txt"),
        format!(
            "{}\n{}\n\nfaults:\n{}\n\nanomalies:\n{}\n",
            Report::header(),
            report.row(),
            report.faults.join("\n"),
            report.anomalies.join("\n")
        ),
    );
    dir.display().to_string()
}

/// Compares every replica's checksum at its partition's visible version (the backends'
/// `/api/checksum`); `Err` describes the first disagreement or what could not be read.
fn replica_checksums(c: &Cluster, leader: u8) -> Result<(), String> {
    let table = format!("{}.{}", workload::LOAD_DB, workload::LOAD_TABLE);
    let visible: i64 = c
        .sql(
            leader,
            &format!(
                "SHOW PROC '/dbs/{}/{}/partitions'",
                workload::LOAD_DB,
                workload::LOAD_TABLE
            ),
        )
        .map_err(|e| e.to_string())?
        .maps()
        .first()
        .and_then(|m| m.get("VisibleVersion")?.parse().ok())
        .ok_or("no visible version")?;
    let backends: BTreeMap<String, String> = c
        .sql(leader, "SHOW BACKENDS")
        .map_err(|e| e.to_string())?
        .maps()
        .into_iter()
        .filter_map(|m| Some((m.get("BackendId")?.clone(), m.get("IP")?.clone())))
        .collect();
    let replicas = c
        .sql(leader, &format!("ADMIN SHOW REPLICA STATUS FROM {table}"))
        .map_err(|e| e.to_string())?
        .maps();
    let mut by_tablet: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for r in &replicas {
        let tablet = r.get("TabletId").cloned().unwrap_or_default();
        let backend = r.get("BackendId").cloned().unwrap_or_default();
        let ip = backends
            .get(&backend)
            .ok_or_else(|| format!("replica on unknown backend {backend}"))?;
        let path = format!("/api/checksum?tablet_id={tablet}&version={visible}");
        let (code, body) = http_get(ip, crate::BE_HTTP_PORT, &path, Duration::from_secs(5))
            .ok_or_else(|| format!("backend {backend} does not answer {path}"))?;
        let j: serde_json::Value = serde_json::from_str(&body)
            .map_err(|e| format!("backend {backend} answered {path} with {code} {body}: {e}"))?;
        if code != 200 {
            return Err(format!(
                "tablet {tablet}'s replica on backend {backend} has no checksum at version \
                 {visible}: {body}"
            ));
        }
        let sum = format!("rows={} checksum={}", j["rows"], j["checksum"]);
        by_tablet.entry(tablet).or_default().push((backend, sum));
    }
    for (tablet, sums) in &by_tablet {
        if sums.windows(2).any(|w| w[0].1 != w[1].1) {
            return Err(format!(
                "the replicas of tablet {tablet} differ at version {visible}: {sums:?}"
            ));
        }
    }
    Ok(())
}

/// Polls `f` every 200 ms until it returns `Some` or `timeout` passes.
fn poll<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Reads the frontends' logs for `raft role: LEADER term=T` lines; two frontends leading one
/// term is an anomaly.
pub fn leaders_per_term(c: &Cluster) -> Vec<String> {
    let mut leaders: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    for i in 1..=FOLLOWERS + OBSERVERS {
        for line in c.log(i).lines() {
            let Some(rest) = line.split("raft role: LEADER term=").nth(1) else {
                continue;
            };
            let term: String = rest.chars().take_while(char::is_ascii_digit).collect();
            if let Ok(t) = term.parse::<u64>() {
                let v = leaders.entry(t).or_default();
                if !v.contains(&i) {
                    v.push(i);
                }
            }
        }
    }
    leaders
        .into_iter()
        .filter(|(_, v)| v.len() > 1)
        .map(|(t, v)| format!("term {t} had more than one leader: frontends {v:?}"))
        .collect()
}
