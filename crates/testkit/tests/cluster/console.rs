//! The web console (docs/console.md) on a real cluster (2 followers + 1 observer, 4 backends,
//! a 3-replica table with data), driven by headless Chromium through playwright-core
//! (crates/testkit/console/console_test.mjs): every page at 1366x768 without horizontal scroll,
//! the click from the tables page to a table, a killed backend turning an open page and the
//! overview badge, the repair of its replicas in the leader's history seen from a follower, the
//! follower's console once the leader is gone, and screenshots that must be 1366 px wide and not
//! blank. The JSON endpoints, the credentials check and the error statuses are checked here with
//! curl.
//!
//! Needs Debian's `chromium` and `npm ci --prefix crates/testkit/console` (scripts/test.sh
//! installs both); without them the test fails and says so. Set
//! `TESSERA_CONSOLE_SCREENSHOTS=<dir>` to keep the screenshots.

use std::io::BufRead;
use std::io::BufReader;
use std::io::Write;
use std::path::Path;
use std::path::PathBuf;
use std::process::Command;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;
use std::time::Instant;

use tessera_testkit::Cluster;
use tessera_testkit::run_with_timeout;
use tessera_testkit::wait_until;

use crate::WAIT;
use crate::phase;

const CHROMIUM: &str = "/usr/bin/chromium";
/// The browser part's bound (it bounds each of its own waits too).
const BROWSER_DEADLINE: Duration = Duration::from_secs(120);

fn console_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("console")
}

/// Fails (never skips) when the browser or the driver is missing.
fn require_browser() {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: the console test needs Debian's chromium \
         (apt-get install --no-install-recommends chromium; scripts/test.sh does it as root)"
    );
    assert!(
        console_dir()
            .join("node_modules/playwright-core/package.json")
            .exists(),
        "playwright-core is not installed: run `npm ci --prefix crates/testkit/console` \
         (scripts/test.sh does it)"
    );
}

/// `curl -u root: URL`: (HTTP status, body).
fn curl(url: &str) -> (u16, String) {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "-u", "root:", "-w", "\n%{http_code}", url]);
    let (code, out, err) = run_with_timeout(&mut cmd, Duration::from_secs(30));
    assert_eq!(code, Some(0), "curl {url} failed: {err}");
    let (body, status) = out.rsplit_once('\n').unwrap_or(("", out.as_str()));
    (status.trim().parse().unwrap_or(0), body.to_string())
}

fn curl_json(url: &str) -> (u16, serde_json::Value) {
    let (status, body) = curl(url);
    let v = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{url}: not JSON ({e}): {body}"));
    (status, v)
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(path: &Path) -> (u32, u32) {
    let b = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        b.len() > 24 && b.starts_with(b"\x89PNG\r\n\x1a\n") && &b[12..16] == b"IHDR",
        "{} is not a PNG",
        path.display()
    );
    let be = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    (be(16), be(20))
}

#[test]
fn console_pages_in_headless_chromium() {
    require_browser();
    let mut c = Cluster::new("console");
    c.be_base_conf
        .push(("report_tablet_interval_seconds".into(), "1".into()));
    // Repair starts 3 s after a backend dies (as in repair.rs).
    for (k, v) in [
        ("tablet_sched_checker_interval_seconds", "1"),
        ("tablet_sched_repair_delay_factor_second", "1"),
        ("tablet_sched_be_down_tolerate_time_s", "3"),
        ("storage_usage_soft_limit_percent", "100"),
    ] {
        c.base_conf.push((k.into(), v.into()));
    }
    c.start_ha(2, 1);
    let leader = c.wait_leader(WAIT);
    let follower = if leader == 1 { 2 } else { 1 };
    for i in 1..=4 {
        c.start_be(i);
        c.sql_ok(
            leader,
            &format!("ALTER SYSTEM ADD BACKEND \"{}:9050\"", c.be_ip(i)),
        );
    }
    wait_until(WAIT, "4 backends alive", || {
        let rows = c.sql(follower, "SHOW BACKENDS").ok()?;
        (rows.maps().iter().filter(|m| m["Alive"] == "true").count() == 4).then_some(())
    });

    phase!("a replicated table with data");
    c.sql_ok(leader, "CREATE DATABASE console");
    c.sql_ok(
        leader,
        "CREATE TABLE console.t (k INT, v VARCHAR(20)) DISTRIBUTED BY HASH(k) BUCKETS 4 \
         PROPERTIES (\"replication_num\" = \"3\")",
    );
    let values: Vec<String> = (0..200).map(|k| format!("({k}, 'v{k}')")).collect();
    c.sql_ok(
        leader,
        &format!("INSERT INTO console.t VALUES {}", values.join(", ")),
    );
    wait_until(
        WAIT,
        "every replica OK and reported on the follower",
        || {
            let st = c
                .sql(follower, "ADMIN SHOW REPLICA STATUS FROM console.t")
                .ok()?;
            let ok = st.maps().iter().filter(|m| m["Status"] == "OK").count() == 12;
            let bes = c.sql(follower, "SHOW BACKENDS").ok()?;
            let tablets: i64 = bes
                .maps()
                .iter()
                .map(|m| m["TabletNum"].parse::<i64>().unwrap_or(0))
                .sum();
            (ok && tablets == 12).then_some(())
        },
    );

    let base = format!("http://{}:8030", c.fe_ip(follower));
    phase!("credentials, JSON endpoints and error statuses on follower {follower}");
    let (status, _) = tessera_testkit::http_request_as(
        "GET",
        &c.fe_ip(follower),
        8030,
        "/api/console/overview",
        None,
        Duration::from_secs(10),
    )
    .expect("the FE answers HTTP");
    assert_eq!(status, 401, "the console needs credentials");
    let (status, o) = curl_json(&format!("{base}/api/console/overview"));
    assert_eq!(status, 200, "{o}");
    assert_eq!(o["level"], "OK", "{o}");
    assert_eq!(o["inputs"]["backends"], serde_json::json!([4, 4]), "{o}");
    assert_eq!(o["inputs"]["followers"], serde_json::json!([2, 2]), "{o}");
    assert_eq!(o["inputs"]["observers"], serde_json::json!([1, 1]), "{o}");
    assert_eq!(o["inputs"]["tablets"], 4, "{o}");
    assert_eq!(
        o["frontends"]["source"]["kind"], "forwarded_to_leader",
        "{o}"
    );
    assert_eq!(o["repair"]["source"]["kind"], "forwarded_to_leader", "{o}");
    assert_eq!(
        o["leader"]["addr"],
        format!("{}:9010", c.fe_ip(leader)),
        "{o}"
    );
    let (status, t) = curl_json(&format!("{base}/api/console/tables/console/t"));
    assert_eq!(status, 200, "{t}");
    assert_eq!(t["table"]["tablets"], 4, "{t}");
    assert_eq!(t["table"]["replicas"], 12, "{t}");
    assert_eq!(t["tablets"].as_array().map(Vec::len), Some(4), "{t}");
    let (status, e) = curl_json(&format!("{base}/api/console/tables/console/nope"));
    assert_eq!(status, 404, "{e}");
    assert_eq!(e["code"], 4002, "TableNotFound: {e}");
    let (status, e) = curl_json(&format!("{base}/api/console/tables?db=nope"));
    assert_eq!(status, 404, "{e}");
    let (status, e) = curl_json(&format!("{base}/api/console/backends?refresh=x"));
    assert_eq!(status, 400, "{e}");
    let (status, e) = curl_json(&format!("{base}/api/console/tables/console/t?limit=0"));
    assert_eq!(status, 400, "{e}");
    phase!("the pages are complete without JavaScript");
    let (status, page) = curl(&format!("{base}/console?refresh=0"));
    assert_eq!(status, 200);
    assert!(
        page.contains("class=\"badge ok\"") && page.contains("backends alive"),
        "{page}"
    );
    let (status, page) = curl(&format!("{base}/console/tables/console/t?refresh=0"));
    assert_eq!(status, 200);
    assert_eq!(page.matches(">OK</span>").count(), 12, "{page}");

    phase!("headless chromium through every page");
    let shots = c.path().join("screenshots");
    std::fs::create_dir_all(&shots).expect("screenshot dir");
    let expect = serde_json::json!({
        "db": "console",
        "table": "t",
        "frontends": 3,
        "backends": 4,
        "leaderAddr": format!("{}:9010", c.fe_ip(leader)),
        "killHost": c.be_ip(4),
        "tablets": 4,
        "replicationNum": 3,
    });
    let mut node = Command::new("node");
    node.arg("console_test.mjs")
        .current_dir(console_dir())
        .env("CONSOLE_BASE", &base)
        .env("CONSOLE_OUT", &shots)
        .env("CONSOLE_EXPECT", expect.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    tessera_testkit::die_with_parent(&mut node);
    let mut child = node.spawn().expect("run node (Debian's nodejs)");
    let (tx, rx) = mpsc::channel::<String>();
    let stdout = child.stdout.take().expect("piped stdout");
    let out_thread = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            eprintln!("[browser] {line}");
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let stderr = child.stderr.take().expect("piped stderr");
    let err_thread = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("[browser stderr] {line}");
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let deadline = Instant::now() + BROWSER_DEADLINE;
    let mut killed = false;
    let mut done = false;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line == "KILL_BE" => {
                phase!("killing backend 4 while the backends page is open");
                c.kill_be(4);
                killed = true;
                if let Some(stdin) = child.stdin.as_mut() {
                    let _ = writeln!(stdin, "killed");
                    let _ = stdin.flush();
                }
            }
            Ok(line) if line == "DONE" => done = true,
            Ok(_) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                break;
            }
        }
    }
    let status = child.wait().expect("wait for node");
    let _ = out_thread.join();
    let stderr = err_thread.join().unwrap_or_default();
    assert!(
        status.success() && done,
        "the browser checks failed ({status}, within {BROWSER_DEADLINE:?}):\n{stderr}"
    );
    assert!(killed, "the browser part never asked for the backend kill");

    phase!("screenshots: 1366 px wide, full pages");
    for name in [
        "overview",
        "frontends",
        "backends",
        "tables",
        "table",
        "repair",
        "backends-degraded",
        "overview-degraded",
        "repair-history",
    ] {
        let p = shots.join(format!("{name}.png"));
        let (w, h) = png_size(&p);
        assert_eq!(w, 1366, "{name}.png width");
        assert!(h >= 768, "{name}.png height {h}");
        let size = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
        assert!(size > 10_000, "{name}.png is only {size} bytes");
    }
    if let Ok(keep) = std::env::var("TESSERA_CONSOLE_SCREENSHOTS") {
        std::fs::create_dir_all(&keep).expect("TESSERA_CONSOLE_SCREENSHOTS dir");
        for e in std::fs::read_dir(&shots).expect("screenshots").flatten() {
            let _ = std::fs::copy(e.path(), Path::new(&keep).join(e.file_name()));
        }
    }

    phase!("the JSON overview agrees: WARN, one backend dead");
    let (_, o) = curl_json(&format!("{base}/api/console/overview"));
    assert_eq!(o["level"], "WARN", "{o}");
    assert_eq!(o["inputs"]["backends"], serde_json::json!([4, 3]), "{o}");

    phase!("the leader killed: the follower's console says ERROR and cannot show the queues");
    c.kill(leader);
    let o = wait_until(WAIT, "the overview turns ERROR", || {
        let (_, o) = curl_json(&format!("{base}/api/console/overview"));
        (o["level"] == "ERROR").then_some(o)
    });
    let reasons = o["reasons"].to_string();
    assert!(
        reasons.contains("no leader") || reasons.contains("quorum"),
        "{reasons}"
    );
    let (status, page) = curl(&format!("{base}/console/repair?refresh=0"));
    assert_eq!(status, 200);
    assert!(
        page.contains("live in the leader's memory and could not be fetched"),
        "{page}"
    );
    let (status, page) = curl(&format!("{base}/console?refresh=0"));
    assert_eq!(status, 200);
    assert!(page.contains("class=\"badge err\""), "{page}");
}
