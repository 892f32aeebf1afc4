//! Corrupt files: bytes flipped (deterministically) in a backend's rowset file and tablet
//! metadata store, and in a follower's journal, checkpoint image and VERSION file. The
//! damage is detected by checksum at the start, reported, never served; a backend's replica is
//! repaired by clone from a healthy one, a frontend refuses to start with instructions that,
//! followed, bring it back into the cluster.

use std::fs;
use std::path::Path;
use std::path::PathBuf;
use std::time::Duration;

use tessera_testkit::BE_HTTP_PORT;
use tessera_testkit::Cluster;
use tessera_testkit::EDIT_LOG_PORT;
use tessera_testkit::http_get;
use tessera_testkit::ip;
use tessera_testkit::wait_until;

use crate::phase;

/// Detection plus a clone on a loaded 2-core machine.
const REPAIR_WAIT: Duration = Duration::from_secs(120);

/// A column name easy to find in a tablet metadata store's bytes.
const MARKER: &str = "corruption_marker_k";

/// A small deterministic generator (xorshift64*): every run flips the same bytes.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1) as u64) as usize
    }
}

/// Every offset of `needle` in `bytes`.
fn positions(bytes: &[u8], needle: &[u8]) -> Vec<usize> {
    bytes
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect()
}

/// Flips bit 0 of the byte `offset` bytes into every occurrence of `needle` in `path` (so the
/// live copy of a record is hit whatever else the file holds); returns how many.
fn flip_in_every(path: &Path, needle: &[u8], offset: usize) -> usize {
    let mut bytes = fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let hits = positions(&bytes, needle);
    for &at in &hits {
        bytes[at + offset] ^= 0x01;
    }
    fs::write(path, &bytes).expect("write");
    hits.len()
}

// ---------------------------------------------------------------------------------------------
// Backends.

fn setup_backends(c: &mut Cluster) {
    for (k, v) in [
        ("tablet_sched_checker_interval_seconds", "1"),
        ("tablet_sched_repair_delay_factor_second", "1"),
        ("tablet_sched_be_down_tolerate_time_s", "3"),
        ("tablet_sched_consecutive_full_clone_delay_sec", "0"),
        ("tablet_sched_min_clone_task_timeout_sec", "30"),
        ("quorum_publish_wait_time_ms", "500"),
        ("storage_usage_soft_limit_percent", "100"),
    ] {
        c.base_conf.push((k.into(), v.into()));
    }
    c.be_base_conf
        .push(("report_tablet_interval_seconds".into(), "1".into()));
    c.start_fe(1, None);
    for i in 1..=3 {
        c.start_be(i);
        c.sql_ok(1, &format!("ALTER SYSTEM ADD BACKEND \"{}:9050\"", ip(i)));
    }
    wait_until(Duration::from_secs(30), "backends alive", || {
        let rows = c.sql(1, "SHOW BACKENDS").ok()?;
        (rows.maps().iter().filter(|m| m["Alive"] == "true").count() == 3).then_some(())
    });
    c.sql_ok(1, "CREATE DATABASE cr");
    c.sql_ok(
        1,
        &format!(
            "CREATE TABLE cr.t ({MARKER} INT, v VARCHAR(20)) DISTRIBUTED BY HASH({MARKER}) \
             BUCKETS 1 PROPERTIES (\"replication_num\" = \"3\")"
        ),
    );
    for load in 0..3 {
        let values: Vec<String> = (load * 1000..(load + 1) * 1000)
            .map(|k| format!("({k}, 'value-{k}')"))
            .collect();
        c.sql_ok(1, &format!("INSERT INTO cr.t VALUES {}", values.join(", ")));
    }
}

fn dump(c: &Cluster) -> Result<Vec<Vec<String>>, String> {
    c.sql(1, "SELECT * FROM cr.t ORDER BY 1")
        .map(|r| r.rows)
        .map_err(|e| e.to_string())
}

fn tablet_id(c: &Cluster) -> String {
    c.sql_ok(1, "SHOW TABLET FROM cr.t")
        .get(0, "TabletId")
        .to_string()
}

fn visible_version(c: &Cluster) -> String {
    c.sql_ok(1, "SHOW PROC '/dbs/cr/t/partitions'")
        .maps()
        .first()
        .and_then(|m| m.get("VisibleVersion").cloned())
        .expect("a visible version")
}

/// The tablet's directory on backend `be`.
fn tablet_dir(c: &Cluster, be: u8, tablet: &str) -> PathBuf {
    fs::read_dir(c.be_dir(be).join("storage/data"))
        .expect("data dir")
        .flatten()
        .map(|s| s.path().join(tablet))
        .find(|p| p.is_dir())
        .unwrap_or_else(|| panic!("tablet {tablet} has no directory on backend {be}"))
}

/// `/api/checksum` of backend `be`'s replica: `Ok("rows=.. checksum=..")` or the refusal.
fn replica_checksum(be: u8, tablet: &str, version: &str) -> Result<String, String> {
    let path = format!("/api/checksum?tablet_id={tablet}&version={version}");
    let (code, body) = http_get(&ip(be), BE_HTTP_PORT, &path, Duration::from_secs(10))
        .ok_or_else(|| format!("backend {be} does not answer"))?;
    if code != 200 {
        return Err(body);
    }
    let j: serde_json::Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
    Ok(format!("rows={} checksum={}", j["rows"], j["checksum"]))
}

/// Waits until the tablet is healthy with every replica OK, then checks that the three
/// replicas hold the same rows (equal checksums at the visible version).
fn wait_repaired(c: &Cluster, what: &str) {
    wait_until(REPAIR_WAIT, what, || {
        let bad = c
            .sql(
                1,
                "ADMIN SHOW REPLICA STATUS FROM cr.t WHERE STATUS != 'OK'",
            )
            .ok()?;
        let all = c.sql(1, "ADMIN SHOW REPLICA STATUS FROM cr.t").ok()?;
        (bad.rows.is_empty() && all.rows.len() == 3).then_some(())
    });
    let (tablet, version) = (tablet_id(c), visible_version(c));
    let sums: Vec<String> = (1..=3)
        .map(|be| {
            wait_until(
                Duration::from_secs(30),
                &format!("backend {be}'s checksum"),
                || replica_checksum(be, &tablet, &version).ok(),
            )
        })
        .collect();
    assert!(
        sums.windows(2).all(|w| w[0] == w[1]),
        "replicas differ: {sums:?}"
    );
}

/// Only backend `alone` serves: the others are stopped, the query answered, they start again.
fn dump_from_alone(c: &mut Cluster, alone: u8) -> Vec<Vec<String>> {
    let others: Vec<u8> = (1..=3).filter(|&b| b != alone).collect();
    for &b in &others {
        c.stop_be(b);
    }
    let rows = wait_until(Duration::from_secs(30), "a query answered", || dump(c).ok());
    for &b in &others {
        c.start_be(b);
    }
    rows
}

#[test]
fn a_damaged_rowset_file_or_tablet_record_is_never_served_and_is_repaired() {
    let mut c = Cluster::new("corrupt-be");
    setup_backends(&mut c);
    let all = dump(&c).expect("the table");
    assert_eq!(all.len(), 3000);
    let tablet = tablet_id(&c);

    phase!("backend 2 stopped; a byte flipped in the middle of its largest rowset file");
    c.stop_be(2);
    let dir = tablet_dir(&c, 2, &tablet);
    let file = fs::read_dir(&dir)
        .expect("tablet dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .max_by_key(|p| fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .expect("a rowset file");
    let mut bytes = fs::read(&file).expect("read");
    let mut rng = Rng(0x00c0_ffee);
    // The data pages, past the leading magic and before the footer.
    let at = bytes.len() / 4 + rng.below(bytes.len() / 2);
    bytes[at] ^= 0x10;
    fs::write(&file, &bytes).expect("write");
    let file_name = file
        .file_name()
        .and_then(|n| n.to_str())
        .expect("name")
        .to_string();

    phase!("the other replicas stopped: the damaged one alone must refuse, not answer");
    c.stop_be(1);
    c.stop_be(3);
    c.start_be(2);
    wait_until(
        Duration::from_secs(60),
        "the damaged file logged by name",
        || {
            let log = c.be_log(2);
            (log.contains(&file_name) && log.contains("is damaged")).then_some(())
        },
    );
    let version = visible_version(&c);
    let refused = replica_checksum(2, &tablet, &version).expect_err("a damaged replica");
    assert!(refused.contains("checksum"), "{refused}");
    for _ in 0..3 {
        match dump(&c) {
            Ok(rows) => panic!(
                "the damaged replica answered a query ({} rows, {} as written)",
                rows.len(),
                all.len()
            ),
            Err(e) => assert!(!e.is_empty()),
        }
    }
    wait_until(Duration::from_secs(60), "the replica reported bad", || {
        let bad = c
            .sql(
                1,
                "ADMIN SHOW REPLICA STATUS FROM cr.t WHERE STATUS != 'OK'",
            )
            .ok()?;
        (!bad.rows.is_empty()).then_some(())
    });

    phase!("healthy replicas back: queries are answered correctly, the replica is repaired");
    c.start_be(1);
    c.start_be(3);
    let rows = wait_until(Duration::from_secs(60), "a query answered", || {
        dump(&c).ok()
    });
    assert_eq!(rows, all);
    wait_repaired(&c, "the damaged replica rebuilt by clone");
    assert!(
        !file.exists(),
        "the damaged file was replaced: {}",
        file.display()
    );
    assert_eq!(dump_from_alone(&mut c, 2), all, "the rebuilt replica alone");

    phase!("backend 3 stopped; the tablet's record flipped in its metadata store");
    wait_until(Duration::from_secs(60), "backends alive", || {
        let rows = c.sql(1, "SHOW BACKENDS").ok()?;
        (rows.maps().iter().filter(|m| m["Alive"] == "true").count() == 3).then_some(())
    });
    c.stop_be(3);
    let store = c.be_dir(3).join("storage/meta/tablet_meta.redb");
    // A letter of the column name: the JSON would still decode, to another schema.
    let hit = flip_in_every(&store, MARKER.as_bytes(), 2);
    assert!(hit > 0, "the record is in {}", store.display());
    c.start_be(3);
    wait_until(Duration::from_secs(60), "the damaged record logged", || {
        let log = c.be_log(3);
        (log.contains("damaged tablet metadata record") && log.contains("checksum mismatch"))
            .then_some(())
    });
    let rows = wait_until(Duration::from_secs(60), "a query answered", || {
        dump(&c).ok()
    });
    assert_eq!(rows, all);
    wait_repaired(&c, "the replica with the damaged record rebuilt");
    assert_eq!(dump_from_alone(&mut c, 3), all, "the rebuilt replica alone");
}

// ---------------------------------------------------------------------------------------------
// Frontends.

fn meta_dir(c: &Cluster, fe: u8) -> PathBuf {
    c.node_dir(fe).join("meta")
}

fn newest_image(c: &Cluster, fe: u8) -> Option<PathBuf> {
    fs::read_dir(meta_dir(c, fe).join("image"))
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_prefix("image."))
                .is_some_and(|i| i.parse::<u64>().is_ok())
        })
        .max_by_key(|p| {
            p.extension()
                .and_then(|x| x.to_str())
                .and_then(|x| x.parse::<u64>().ok())
        })
}

/// Creates databases `<prefix>_<from..from+n>` on the leader in one session.
fn create_dbs(c: &Cluster, prefix: &str, from: usize, n: usize) {
    let stmts: Vec<String> = (from..from + n)
        .map(|i| format!("CREATE DATABASE {prefix}_{i:04}"))
        .collect();
    let refs: Vec<&str> = stmts.iter().map(String::as_str).collect();
    for r in c.session(1, &refs) {
        r.expect("create database");
    }
}

/// Waits until frontend `fe` lists database `db` (it caught up with the journal).
fn wait_db_on(c: &Cluster, fe: u8, db: &str) {
    wait_until(
        Duration::from_secs(60),
        &format!("frontend {fe} sees {db}"),
        || {
            let dbs = c.sql(fe, "SHOW DATABASES").ok()?.first_column();
            dbs.iter().any(|d| d == db).then_some(())
        },
    );
}

/// Starts follower 2 expecting a refusal that names `expect` and gives the instructions,
/// then follows them: meta_dir moved away, the follower dropped and added again on the
/// leader, started with --helper; checks that it catches up.
fn refuse_then_recover(c: &mut Cluster, round: usize, expect: &[&str]) {
    let (code, out) = c.start_fe_expect_exit(2, None);
    assert_ne!(code, 0, "{out}");
    for e in expect {
        assert!(out.contains(e), "missing '{e}' in:\n{out}");
    }
    for e in [
        "--helper",
        "move its meta_dir",
        "ALTER SYSTEM DROP FOLLOWER",
    ] {
        assert!(out.contains(e), "no instructions ('{e}') in:\n{out}");
    }
    phase!("following the instructions: meta_dir moved away");
    let meta = meta_dir(c, 2);
    fs::rename(&meta, c.node_dir(2).join(format!("meta.damaged.{round}"))).expect("move away");
    if round == 1 {
        // Skipping the DROP/ADD: the leader refuses the empty meta_dir of a node it replicated
        // to (its log would go backwards under the same raft node id) and stays up.
        let (code, out) = c.start_fe_expect_exit(2, Some(1));
        assert_ne!(code, 0, "{out}");
        assert!(out.contains("asks to join with an empty meta_dir"), "{out}");
        assert!(out.contains("ALTER SYSTEM DROP FOLLOWER"), "{out}");
        c.sql_ok(1, "SELECT 1");
        let _ = fs::remove_dir_all(&meta);
    }
    phase!("the follower dropped and added again, started with --helper");
    let addr = format!("\"{}:{EDIT_LOG_PORT}\"", ip(2));
    c.sql_ok(1, &format!("ALTER SYSTEM DROP FOLLOWER {addr}"));
    c.sql_ok(1, &format!("ALTER SYSTEM ADD FOLLOWER {addr}"));
    c.start_fe(2, Some(1));
    c.wait_healthy(3, Duration::from_secs(60));
    let marker = format!("after_round_{round}");
    c.sql_ok(1, &format!("CREATE DATABASE {marker}"));
    wait_db_on(c, 2, &marker);
    wait_db_on(c, 2, "base_0000");
}

#[test]
fn a_follower_with_a_damaged_journal_image_or_version_refuses_then_rejoins() {
    let mut c = Cluster::new("corrupt-fe");
    c.base_conf.push(("edit_log_roll_num".into(), "100".into()));
    c.start_ha(3, 0);
    // Enough entries that every node checkpoints (an image) and the leader purges its log.
    create_dbs(&c, "base", 0, 250);
    wait_db_on(&c, 2, "base_0249");

    phase!("journal: follower 2 stopped, a digit of its newest entries' names flipped");
    create_dbs(&c, "jmark", 0, 20);
    wait_db_on(&c, 2, "jmark_0019");
    c.stop(2);
    let journal = meta_dir(&c, 2).join("journal/journal.redb");
    let hit = flip_in_every(&journal, b"jmark_00", 8);
    assert!(hit > 0, "the entries are in {}", journal.display());
    refuse_then_recover(&mut c, 1, &["journal entry", "checksum mismatch"]);
    wait_db_on(&c, 2, "jmark_0019");

    phase!("image: follower 2 stopped, a byte flipped in the middle of its newest image");
    let mut more = 0;
    let image = wait_until(Duration::from_secs(90), "an image on follower 2", || {
        if let Some(p) = newest_image(&c, 2) {
            return Some(p);
        }
        // It checkpoints after edit_log_roll_num entries of its own.
        create_dbs(&c, "more", more, 20);
        more += 20;
        None
    });
    c.stop(2);
    let mut bytes = fs::read(&image).expect("read");
    let mut rng = Rng(0x1a6e);
    let at = bytes.len() / 4 + rng.below(bytes.len() / 2);
    bytes[at] ^= 0x04;
    fs::write(&image, &bytes).expect("write");
    refuse_then_recover(&mut c, 2, &["is corrupt", "checksum mismatch"]);

    phase!("VERSION: follower 2 stopped, a digit of its cluster id flipped");
    c.stop(2);
    let version = meta_dir(&c, 2).join("image/VERSION");
    let hit = flip_in_every(&version, b"clusterId=", 10);
    assert_eq!(hit, 1);
    refuse_then_recover(&mut c, 3, &["VERSION is damaged", "checksum mismatch"]);

    phase!("the cluster is whole: every frontend sees every database");
    c.sql_ok(1, "CREATE DATABASE the_end");
    for fe in 1..=3 {
        wait_db_on(&c, fe, "the_end");
        wait_db_on(&c, fe, "jmark_0019");
    }
}
