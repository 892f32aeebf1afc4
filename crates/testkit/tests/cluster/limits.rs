//! Limits (docs/security.md, "Limits"): each is a config key or user property, and passing it
//! answers a clear error through the real clients (the `mysql` CLI and curl), leaves nothing
//! partial behind and keeps the node up.

use std::io::BufRead;
use std::io::BufReader;
use std::io::Write;
use std::process::Child;
use std::process::ChildStdin;
use std::process::Command;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use tessera_testkit::Cluster;
use tessera_testkit::MysqlError;
use tessera_testkit::die_with_parent;
use tessera_testkit::ip;
use tessera_testkit::mysql_session;
use tessera_testkit::run_with_timeout;
use tessera_testkit::wait_until;

use crate::WAIT;
use crate::phase;

const QUERY_PORT: u16 = 9030;

/// A `mysql` CLI process holding one open connection (its stdin stays open).
struct Held {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Held {
    /// Connects as `user` and waits until the login is done (the client printed the answer
    /// of a first statement). `Err` carries the client's error output.
    fn connect(fe: u8, user: &str) -> Result<Held, String> {
        let mut cmd = Command::new("mysql");
        cmd.args(["-h", &ip(fe), "-P", &QUERY_PORT.to_string(), "-u", user])
            .args(["--batch", "--raw", "--unbuffered", "--connect-timeout=5"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        die_with_parent(&mut cmd);
        let mut child = cmd.spawn().map_err(|e| format!("cannot run mysql: {e}"))?;
        let mut stdin = child.stdin.take().ok_or("no stdin")?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut stderr = child.stderr.take().ok_or("no stderr")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let _ = stdin.write_all(b"SELECT 'held-ready';\n");
        let _ = stdin.flush();
        let mut held = Held {
            child,
            stdin: Some(stdin),
        };
        loop {
            match rx.recv_timeout(WAIT) {
                Ok(line) if line == "held-ready" => return Ok(held),
                Ok(_) => continue,
                Err(_) => {
                    held.close();
                    let mut err = String::new();
                    let _ = std::io::Read::read_to_string(&mut stderr, &mut err);
                    return Err(err);
                }
            }
        }
    }

    /// Closes the connection (the client exits at the end of its input) and waits for the
    /// process, killing it (by pid) past the deadline.
    fn close(&mut self) {
        drop(self.stdin.take());
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return;
                }
            }
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.close();
    }
}

/// Runs `script` through the `mysql` CLI's standard input (a statement larger than a
/// command-line argument may be). Returns (exit code, stdout, stderr).
fn mysql_stdin(fe: u8, script: &str) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("script.sql");
    std::fs::write(&file, script).expect("write script");
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(format!(
        "exec mysql -h {} -P {QUERY_PORT} -u root --batch --raw --connect-timeout=5 < '{}'",
        ip(fe),
        file.display()
    ));
    run_with_timeout(&mut cmd, Duration::from_secs(60))
}

/// A Stream Load with curl through the FE: (HTTP status of the final answer, JSON body).
fn curl_load(
    fe: u8,
    table: &str,
    label: Option<&str>,
    body: &[u8],
    chunked: bool,
) -> (u16, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("data");
    std::fs::write(&file, body).expect("write data");
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--location-trusted", "-u", "root:", "-T"])
        .arg(&file)
        .args(["-w", "\n%{http_code}"]);
    if let Some(l) = label {
        cmd.arg("-H").arg(format!("label:{l}"));
    }
    if chunked {
        cmd.args(["-H", "Transfer-Encoding: chunked"]);
    }
    cmd.arg(format!(
        "http://{}:8030/api/lim/{table}/_stream_load",
        ip(fe)
    ));
    let (_, out, err) = run_with_timeout(&mut cmd, Duration::from_secs(60));
    let (json, code) = out.trim_end().rsplit_once('\n').unwrap_or(("", out.trim()));
    let code = code.trim().parse().unwrap_or(0);
    (code, format!("{json}{err}"))
}

fn count(c: &Cluster, table: &str) -> String {
    c.sql_ok(1, &format!("SELECT count(*) FROM lim.{table}"))
        .first_column()
        .remove(0)
}

fn expect_err(r: Result<tessera_testkit::Rows, MysqlError>, what: &str) -> MysqlError {
    match r {
        Ok(rows) => panic!("{what}: expected an error, got {:?}", rows.rows),
        Err(e) => e,
    }
}

#[test]
fn each_limit_is_configurable_and_answers_a_clear_error() {
    let mut c = Cluster::new("limits");
    for (k, v) in [
        ("qe_max_connection", "8"),
        ("max_allowed_packet", "1048576"),
        ("max_column_number_per_table", "5"),
        ("max_partition_number_per_table", "3"),
        ("max_bucket_number_per_partition", "4"),
        ("max_tablet_number_per_table", "6"),
        ("label_max_length", "20"),
        ("max_identifier_length", "16"),
    ] {
        c.base_conf.push((k.into(), v.into()));
    }
    c.be_base_conf
        .push(("streaming_load_max_mb".into(), "1".into()));
    // FE 1 leads; FE 2 (an observer) forwards SET PROPERTY to it.
    c.start_ha(1, 1);
    c.start_be(3);
    c.sql_ok(1, &format!("ALTER SYSTEM ADD BACKEND \"{}:9050\"", ip(3)));
    wait_until(WAIT, "the backend alive", || {
        let rows = c.sql(1, "SHOW BACKENDS").ok()?;
        (rows.maps().iter().any(|m| m["Alive"] == "true")).then_some(())
    });
    c.sql_ok(1, "CREATE DATABASE lim");
    const ONE: &str = "PROPERTIES (\"replication_num\" = \"1\")";

    phase!("identifier length: max_identifier_length = 16");
    let e = expect_err(c.sql(1, "CREATE DATABASE abcdefghijklmnopq"), "long db");
    assert!(
        e.message
            .contains("Incorrect database name 'abcdefghijklmnopq'")
            && e.message.contains("max_identifier_length (16)"),
        "{e:?}"
    );
    let e = expect_err(
        c.sql(
            1,
            &format!("CREATE TABLE lim.t (k INT, a_very_long_column INT) DISTRIBUTED BY HASH(k) BUCKETS 1 {ONE}"),
        ),
        "long column",
    );
    assert!(
        e.message
            .contains("Incorrect column name 'a_very_long_column'"),
        "{e:?}"
    );
    let e = expect_err(c.sql(1, "CREATE USER 'a_very_long_user_name'"), "long user");
    assert!(
        e.message
            .contains("Incorrect user name 'a_very_long_user_name'"),
        "{e:?}"
    );
    assert_eq!(c.sql_ok(1, "SHOW TABLES FROM lim").rows.len(), 0);

    phase!("columns per table: max_column_number_per_table = 5, then raised at run time");
    let six = format!(
        "CREATE TABLE lim.wide (c1 INT, c2 INT, c3 INT, c4 INT, c5 INT, c6 INT) \
         DISTRIBUTED BY HASH(c1) BUCKETS 1 {ONE}"
    );
    let e = expect_err(c.sql(1, &six), "6 columns");
    assert!(
        e.message.contains("6 columns") && e.message.contains("max_column_number_per_table (5)"),
        "{e:?}"
    );
    assert_eq!(c.sql_ok(1, "SHOW TABLES FROM lim").rows.len(), 0);
    c.sql_ok(
        1,
        "ADMIN SET FRONTEND CONFIG (\"max_column_number_per_table\" = \"6\")",
    );
    c.sql_ok(1, &six);

    phase!("buckets, partitions and tablets per table");
    let e = expect_err(
        c.sql(
            1,
            &format!("CREATE TABLE lim.b (k INT) DISTRIBUTED BY HASH(k) BUCKETS 5 {ONE}"),
        ),
        "5 buckets",
    );
    assert!(
        e.message.contains("max_bucket_number_per_partition (4)"),
        "{e:?}"
    );
    let e = expect_err(
        c.sql(
            1,
            &format!(
                "CREATE TABLE lim.b (k INT) PARTITION BY RANGE(k) (PARTITION p1 VALUES LESS \
                 THAN (10), PARTITION p2 VALUES LESS THAN (20)) DISTRIBUTED BY HASH(k) BUCKETS \
                 4 {ONE}"
            ),
        ),
        "8 tablets",
    );
    assert!(
        e.message.contains("8 tablets") && e.message.contains("max_tablet_number_per_table (6)"),
        "{e:?}"
    );
    c.sql_ok(
        1,
        &format!(
            "CREATE TABLE lim.p (k INT) PARTITION BY RANGE(k) (PARTITION p1 VALUES LESS THAN \
             (10), PARTITION p2 VALUES LESS THAN (20)) DISTRIBUTED BY HASH(k) BUCKETS 1 {ONE}"
        ),
    );
    c.sql_ok(
        1,
        "ALTER TABLE lim.p ADD PARTITION p3 VALUES LESS THAN (30)",
    );
    let e = expect_err(
        c.sql(
            1,
            "ALTER TABLE lim.p ADD PARTITION p4 VALUES LESS THAN (40)",
        ),
        "4th partition",
    );
    assert!(
        e.message.contains("max_partition_number_per_table (3)"),
        "{e:?}"
    );
    let partitions = |t: &str| {
        c.sql_ok(1, &format!("SHOW PROC '/dbs/lim/{t}/partitions'"))
            .rows
            .len()
    };
    assert_eq!(partitions("p"), 3);
    c.sql_ok(
        1,
        &format!(
            "CREATE TABLE lim.q (k INT) PARTITION BY RANGE(k) (PARTITION p1 VALUES LESS THAN \
             (10)) DISTRIBUTED BY HASH(k) BUCKETS 4 {ONE}"
        ),
    );
    let e = expect_err(
        c.sql(
            1,
            "ALTER TABLE lim.q ADD PARTITION p2 VALUES LESS THAN (20)",
        ),
        "8 tablets by ADD PARTITION",
    );
    assert!(
        e.message.contains("max_tablet_number_per_table (6)"),
        "{e:?}"
    );
    assert_eq!(partitions("q"), 1);

    phase!("label length: label_max_length = 20");
    c.sql_ok(
        1,
        &format!(
            "CREATE TABLE lim.t (k INT NOT NULL, v INT) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) \
             BUCKETS 2 {ONE}"
        ),
    );
    c.sql_ok(
        1,
        "INSERT INTO lim.t WITH LABEL label_of_20_chars_x VALUES (1, 1)",
    );
    let e = expect_err(
        c.sql(
            1,
            "INSERT INTO lim.t WITH LABEL label_of_21_chars_xyz VALUES (2, 2)",
        ),
        "long INSERT label",
    );
    assert!(
        e.message.contains("Label format error")
            && e.message.contains("label_max_length (20)")
            && e.message.contains("label_of_21_chars_xyz"),
        "{e:?}"
    );
    let (status, body) = curl_load(1, "t", Some("label_of_21_chars_xyz"), b"3\t3\n", false);
    let v: serde_json::Value =
        serde_json::from_str(body.trim()).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(status, 200, "{body}");
    assert_eq!(v["Status"], "Fail", "{v}");
    assert!(
        v["Message"]
            .as_str()
            .is_some_and(|m| m.contains("Label format error") && m.contains("label_max_length")),
        "{v}"
    );
    assert_eq!(count(&c, "t"), "1");

    phase!("Stream Load body: streaming_load_max_mb = 1 answers 413, loads nothing");
    let rows: String = (0..2000).map(|k| format!("{k}\t{k}\n")).collect();
    let (status, body) = curl_load(1, "t", Some("small"), rows.as_bytes(), false);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"Success\""), "{body}");
    assert_eq!(count(&c, "t"), "2001");
    let big: Vec<u8> = "7\t7\n".repeat(300_000).into_bytes();
    let (status, body) = curl_load(1, "t", Some("big"), &big, false);
    assert_eq!(status, 413, "{body}");
    let v: serde_json::Value =
        serde_json::from_str(body.trim()).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(v["Status"], "Fail", "{v}");
    assert!(
        v["Message"]
            .as_str()
            .is_some_and(|m| m.contains("streaming_load_max_mb (1 MB)")),
        "{v}"
    );
    // Without a Content-Length the body is counted as it arrives; whatever the client sees
    // of the refusal, nothing of it is loaded.
    let (status, body) = curl_load(1, "t", Some("big_chunked"), &big, true);
    phase!("chunked body past the limit: HTTP {status} (0: the connection closed first)");
    assert!(status == 413 || status == 0, "{status}: {body}");
    assert_eq!(count(&c, "t"), "2001");
    let (status, body) = curl_load(1, "t", Some("after"), b"9\t9\n", false);
    assert!(status == 200 && body.contains("\"Success\""), "{body}");
    assert_eq!(count(&c, "t"), "2002");

    phase!("query memory: exec_mem_limit ends the query with 1038, not the node");
    let r = c.session(
        1,
        &[
            "SET exec_mem_limit = 1048576",
            // 2002^2 rows sorted: far past 1 MB.
            "SELECT a.k, b.k FROM lim.t a, lim.t b ORDER BY a.v, b.v",
        ],
    );
    let e = r[1].as_ref().expect_err("out of memory");
    assert_eq!(e.code, 1038, "{e:?}");
    assert!(e.message.contains("Memory of query exceeds limit"), "{e:?}");
    assert_eq!(c.sql_ok(1, "SELECT 1").first_column(), ["1"]);

    phase!("MySQL packets: max_allowed_packet = 1 MiB");
    assert_eq!(
        c.sql_ok(1, "SELECT @@max_allowed_packet").first_column(),
        ["1048576"]
    );
    let near = format!("SELECT LENGTH('{}') AS n;\n", "a".repeat(900_000));
    let (code, out, err) = mysql_stdin(1, &near);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("900000"), "{out}");
    let over = format!("SELECT LENGTH('{}') AS n;\n", "a".repeat(1_100_000));
    let (code, _, err) = mysql_stdin(1, &over);
    assert_ne!(code, Some(0));
    assert!(
        err.contains("ERROR 1153") && err.contains("max_allowed_packet"),
        "{err}"
    );
    // The connection was closed; the server is up and a new one works.
    assert_eq!(c.sql_ok(1, "SELECT 2").first_column(), ["2"]);

    phase!("connections per user: SET PROPERTY max_user_connections");
    c.sql_ok(1, "CREATE USER 'bob'; GRANT SELECT ON lim.* TO 'bob'");
    let r = mysql_session(
        &ip(1),
        QUERY_PORT,
        "bob",
        "",
        &["SET PROPERTY 'max_user_connections' = '100'"],
    );
    let e = expect_err(r[0].clone(), "bob raises his own limit");
    assert_eq!(e.code, 1227, "{e:?}");
    let e = expect_err(
        c.sql(1, "SET PROPERTY FOR 'bob' 'max_user_connections' = '0'"),
        "0 connections",
    );
    assert!(e.message.contains("max_user_connections"), "{e:?}");
    // Through the observer: forwarded to the leader, journaled, replayed everywhere.
    c.sql_ok(2, "SET PROPERTY FOR 'bob' 'max_user_connections' = '3'");
    // FE 1 is the leader: the property is applied there when the statement returns.
    let mut held: Vec<Held> = (0..3)
        .map(|i| Held::connect(1, "bob").unwrap_or_else(|e| panic!("bob's connection {i}: {e}")))
        .collect();
    let r = mysql_session(&ip(1), QUERY_PORT, "bob", "", &["SELECT 1"]);
    let e = expect_err(r[0].clone(), "bob's 4th connection");
    assert_eq!(e.code, 1203, "{e:?}");
    assert!(
        e.message
            .contains("User bob already has more than 'max_user_connections' active connections"),
        "{e:?}"
    );
    // Other users are not limited by bob's connections, and the limit is per frontend.
    assert_eq!(c.sql_ok(1, "SELECT 3").first_column(), ["3"]);
    let r = mysql_session(&ip(2), QUERY_PORT, "bob", "", &["SELECT 5"]);
    assert!(r[0].is_ok(), "bob on the other frontend: {r:?}");
    held.pop().expect("one").close();
    wait_until(WAIT, "a place for bob again", || {
        let r = mysql_session(
            &ip(1),
            QUERY_PORT,
            "bob",
            "",
            &["SELECT count(*) FROM lim.t"],
        );
        r[0].as_ref().ok().map(|rows| rows.first_column())
    });
    held.clear();

    phase!("connections in all: qe_max_connection = 8");
    let mut held: Vec<Held> = (0..8)
        .map(|i| Held::connect(1, "root").unwrap_or_else(|e| panic!("connection {i}: {e}")))
        .collect();
    let e = expect_err(c.sql(1, "SELECT 1"), "the 9th connection");
    assert_eq!(e.code, 1040, "{e:?}");
    assert!(
        e.message.contains("Too many connections") && e.message.contains("qe_max_connection=8"),
        "{e:?}"
    );
    held.pop().expect("one").close();
    wait_until(WAIT, "a free connection", || c.sql(1, "SELECT 4").ok());
    held.clear();
    // Every table is as the statements that succeeded left it.
    assert_eq!(count(&c, "t"), "2002");
    assert_eq!(partitions("p"), 3);
}
