//! The fault-injection suite's fixed scenarios (see `tessera_testkit::chaos`): one seeded run
//! per scenario, each with every node in its own network namespace. A run must find no
//! anomaly; the report of each is printed either way.

use std::time::Duration;

use tessera_testkit::chaos;

/// Faults are injected for this long in each CI scenario (the long run uses more).
const DURATION: Duration = Duration::from_secs(20);

fn run(name: &str, seed: u64) {
    let scenario = chaos::scenario(name, DURATION).expect("a known scenario");
    let report = chaos::run(&scenario, seed);
    eprintln!("{}\n{}", chaos::Report::header(), report.row());
    eprintln!("  logs, history and report: {}", report.logs);
    for f in &report.faults {
        eprintln!("  fault: {f}");
    }
    if !report.inconclusive.is_empty() {
        eprintln!("  inconclusive keys: {:?}", report.inconclusive);
    }
    assert!(
        report.anomalies.is_empty(),
        "scenario {name} seed {seed} found {} anomalies:\n{}",
        report.anomalies.len(),
        report.anomalies.join("\n")
    );
    assert!(report.acked > 0, "no load was acknowledged: {report:?}");
    assert!(report.meta_ops > 0, "no metadata operation was recorded");
}

#[test]
fn chaos_partition_halves() {
    run("partition-halves", 11);
}

#[test]
fn chaos_isolate_leader() {
    run("isolate-leader", 12);
}

#[test]
fn chaos_one_way() {
    run("one-way", 13);
}

#[test]
fn chaos_bridge() {
    run("bridge", 14);
}

#[test]
fn chaos_kill_fe() {
    run("kill-fe", 1);
}

#[test]
fn chaos_kill_be() {
    run("kill-be", 16);
}

#[test]
fn chaos_pause() {
    run("pause", 17);
}

#[test]
fn chaos_pause_be() {
    run("pause-be", 18);
}

#[test]
fn chaos_clock_skew() {
    run("clock-skew", 19);
}

#[test]
fn chaos_disk_full() {
    run("disk-full", 20);
}

#[test]
fn chaos_membership() {
    run("membership", 22);
}

#[test]
fn chaos_mixed() {
    run("mixed", 21);
}
