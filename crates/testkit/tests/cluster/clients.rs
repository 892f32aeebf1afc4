//! Real clients against a real cluster (3 frontends: leader, follower, observer; 3 backends):
//! the `mysql` CLI, PyMySQL, mysql-connector-python, SQLAlchemy 2 with the `starrocks` dialect,
//! MariaDB Connector/J and curl for Stream Load. Each runs what a user does: connect (with
//! whatever the driver sends on connect), create a replicated table, insert (plain and with
//! parameters / prepared statements), read typed values back and compare them exactly, and
//! get the MySQL error number for a bad table name.
//!
//! The programs live in `crates/testkit/clients/`; `scripts/test.sh` installs their tools (the
//! Python venv, the JDK and the Connector/J jar). A missing tool fails the test, it is never
//! skipped. One cluster serves every client; the failures of all clients are reported together.

use std::path::Path;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;
use std::time::Instant;

use tessera_testkit::Cluster;
use tessera_testkit::QUERY_PORT;
use tessera_testkit::ip;
use tessera_testkit::run_with_timeout;
use tessera_testkit::wait_until;

use crate::WAIT;
use crate::phase;

/// Bound on one client program (they take a few seconds each).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(90);

const LEADER: u8 = 1;
const FOLLOWER: u8 = 2;
const OBSERVER: u8 = 3;

fn clients_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("clients")
}

/// The venv `scripts/test.sh` creates.
fn venv_python() -> PathBuf {
    let venv = std::env::var_os("TESSERA_CLIENTS_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
                .join(".cache/tessera-clients-venv")
        });
    venv.join("bin/python")
}

const CONNECTOR_J: &str = "/usr/share/java/mariadb-java-client.jar";

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
}

/// What is missing to run every client, as an install hint.
fn missing_tools() -> Vec<String> {
    let mut missing = Vec::new();
    for tool in ["mysql", "curl", "java", "javac", "script"] {
        if !on_path(tool) {
            missing.push(format!("`{tool}` is not on PATH"));
        }
    }
    if !Path::new(CONNECTOR_J).is_file() {
        missing.push(format!("{CONNECTOR_J} (apt-get install libmariadb-java)"));
    }
    let python = venv_python();
    if !python.is_file() {
        missing.push(format!(
            "{} (the clients' venv: crates/testkit/clients/requirements.txt)",
            python.display()
        ));
    }
    missing
}

/// Runs one client program; `Err` carries its output when it failed or printed no PASS line
/// at all, or not the `last` one (so a program that stops early cannot pass).
fn run_client(name: &str, cmd: &mut Command, last: &str) -> Result<String, String> {
    let started = Instant::now();
    let (code, out, err) = run_with_timeout(cmd, CLIENT_TIMEOUT);
    let passes = out.lines().filter(|l| l.starts_with("PASS ")).count();
    phase!(
        "{name}: exit {code:?}, {passes} checks passed in {:.1?}",
        started.elapsed()
    );
    let finished = out.lines().any(|l| l.starts_with(&format!("PASS {last}")));
    if code == Some(0) && passes > 0 && finished {
        Ok(out)
    } else {
        let why = match code {
            None => "timed out".to_string(),
            Some(0) => format!("exited 0 without reaching `PASS {last}`"),
            Some(c) => format!("exited {c}"),
        };
        Err(format!(
            "{name} {why}\n--- stdout\n{out}\n--- stderr\n{}",
            tail(&err, 40)
        ))
    }
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn python_client(script: &str, fe: u8, db: &str) -> Command {
    let mut cmd = Command::new(venv_python());
    cmd.arg(clients_dir().join(script))
        .args([
            "--host",
            &ip(fe),
            "--port",
            &QUERY_PORT.to_string(),
            "--db",
            db,
        ])
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONIOENCODING", "utf-8");
    cmd
}

/// `mysql` with the usual connection arguments to frontend `fe`.
fn mysql_cli(fe: u8) -> Command {
    let mut cmd = Command::new("mysql");
    cmd.args([
        "-h",
        &ip(fe),
        "-P",
        &QUERY_PORT.to_string(),
        "-u",
        "root",
        "--connect-timeout=5",
        "--default-character-set=utf8mb4",
    ]);
    cmd
}

fn mysql_run(name: &str, mut cmd: Command) -> Result<String, String> {
    let (code, out, err) = run_with_timeout(&mut cmd, CLIENT_TIMEOUT);
    if code == Some(0) {
        Ok(out)
    } else {
        Err(format!("mysql ({name}) exited {code:?}: {err}\n{out}"))
    }
}

fn expect_eq(name: &str, got: &str, want: &str) -> Result<(), String> {
    if got == want {
        phase!("mysql CLI: PASS {name}");
        Ok(())
    } else {
        Err(format!(
            "mysql CLI {name}: output differs\n--- got\n{got}\n--- want\n{want}"
        ))
    }
}

/// The `mysql` CLI: batch `-e`, `--table`, a script on standard input (as `mysql < file`
/// runs it), `status`, an interactive session on a terminal, and an error's exit code and
/// message.
fn mysql_client(fe: u8, dir: &Path) -> Result<(), String> {
    let mut cmd = mysql_cli(fe);
    cmd.args(["--batch", "-e"]).arg(
        "DROP DATABASE IF EXISTS cli; CREATE DATABASE cli; USE cli; \
         CREATE TABLE t (k INT NOT NULL, b BIGINT, d DECIMAL(10, 2), f DOUBLE, s VARCHAR(32), \
         dt DATE, ts DATETIME, flag BOOLEAN, n INT) DUPLICATE KEY(k) \
         DISTRIBUTED BY HASH(k) BUCKETS 3 PROPERTIES (\"replication_num\" = \"3\"); \
         INSERT INTO t VALUES (1, 9007199254740993, 12345678.91, 1.5, 'héllo wörld', \
         '2024-01-31', '2024-01-31 23:59:58', true, NULL), \
         (2, -5, -0.01, -2.25, 'it''s', '1999-12-31', '2000-01-01 00:00:00', false, 7); \
         SELECT * FROM t ORDER BY k",
    );
    let out = mysql_run("batch -e", cmd)?;
    expect_eq(
        "batch -e: DDL, INSERT and typed SELECT",
        &out,
        "k\tb\td\tf\ts\tdt\tts\tflag\tn\n\
         1\t9007199254740993\t12345678.91\t1.5\théllo wörld\t2024-01-31\t2024-01-31 23:59:58\t1\tNULL\n\
         2\t-5\t-0.01\t-2.25\tit's\t1999-12-31\t2000-01-01 00:00:00\t0\t7\n",
    )?;

    let mut cmd = mysql_cli(fe);
    cmd.args(["--table", "-D", "cli", "-e"])
        .arg("SELECT k, s, n FROM t ORDER BY k");
    let out = mysql_run("--table", cmd)?;
    expect_eq(
        "--table output",
        &out,
        "+------+---------------+------+\n\
         | k    | s             | n    |\n\
         +------+---------------+------+\n\
         |    1 | héllo wörld   | NULL |\n\
         |    2 | it's          |    7 |\n\
         +------+---------------+------+\n",
    )?;

    // A script on standard input, as `mysql -h ... < script.sql` (or a pipe) runs it.
    let script = dir.join("session.sql");
    std::fs::write(
        &script,
        "-- a comment line\n\
         USE cli;\n\
         SELECT DATABASE();\n\
         INSERT INTO t (k, s) VALUES (3, 'from stdin');\n\
         SELECT COUNT(*) AS c,\n  MAX(k) AS m\nFROM t;\n\
         status\n\
         SHOW TABLES;\n",
    )
    .map_err(|e| e.to_string())?;
    let mut cmd = Command::new("bash");
    cmd.arg("-c").arg(format!(
        "mysql -h {} -P {QUERY_PORT} -u root --connect-timeout=5 < '{}'",
        ip(fe),
        script.display()
    ));
    let out = mysql_run("script on stdin", cmd)?;
    let want_start = "DATABASE()\ncli\nc\tm\n3\t3\n";
    if !out.starts_with(want_start) || !out.ends_with("Tables_in_cli\nt\n") {
        return Err(format!(
            "mysql CLI script on stdin: unexpected output\n--- got\n{out}\n--- want it to start with\n{want_start}"
        ));
    }
    for want in [
        "Current database:\tcli",
        "Current user:\t\t'root'@",
        "Server version:\t\t5.1.0 Tessera",
        "Client characterset:\tutf8",
    ] {
        if !out.contains(want) {
            return Err(format!("mysql CLI `status` lacks {want:?}:\n{out}"));
        }
    }
    phase!("mysql CLI: PASS script on stdin, status");

    // Interactive mode, on a terminal (`script` gives it one): the welcome banner (from
    // `SELECT @@version_comment LIMIT 1`), `USE` reading table and column names for
    // completion, boxed results, `quit`.
    let typed = dir.join("typed.sql");
    std::fs::write(&typed, "USE cli;\nSELECT COUNT(*) AS n FROM t;\nquit\n")
        .map_err(|e| e.to_string())?;
    let mut cmd = Command::new("bash");
    cmd.arg("-c").arg(format!(
        "script -qec 'mysql -h {} -P {QUERY_PORT} -u root --connect-timeout=5' /dev/null < '{}'",
        ip(fe),
        typed.display()
    ));
    let raw = mysql_run("interactive", cmd)?;
    let out = strip_terminal_codes(&raw);
    for want in [
        "Server version: 5.1.0 Tessera version",
        "Reading table information for completion",
        "Database changed",
        "| n    |\n+------+\n|    3 |\n+------+\n1 row in set",
        "MySQL [cli]> quit\nBye",
    ] {
        if !out.contains(want) {
            return Err(format!(
                "mysql CLI interactive session lacks {want:?}:\n{out}"
            ));
        }
    }
    phase!("mysql CLI: PASS interactive session on a terminal");

    let mut cmd = mysql_cli(fe);
    cmd.args(["-D", "cli", "-e", "SELECT * FROM no_such_table"]);
    let (code, _, err) = run_with_timeout(&mut cmd, CLIENT_TIMEOUT);
    if code != Some(1) || !err.contains("ERROR 1146 (42S02)") {
        return Err(format!(
            "mysql CLI bad table: want exit 1 and ERROR 1146 (42S02), got {code:?}: {err}"
        ));
    }
    phase!("mysql CLI: PASS bad table name gives ERROR 1146 (42S02)");

    let mut cmd = mysql_cli(fe);
    cmd.args(["-e", "DROP DATABASE cli"]);
    mysql_run("drop", cmd)?;
    Ok(())
}

/// A terminal session's text without escape sequences and carriage returns.
fn strip_terminal_codes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {}
            // ESC [ params letter, or ESC ( letter.
            '\u{1b}' => {
                if matches!(chars.peek(), Some('[') | Some('(')) {
                    chars.next();
                    while let Some(&n) = chars.peek() {
                        chars.next();
                        if n.is_ascii_alphabetic() {
                            break;
                        }
                    }
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// A Stream Load with the real curl; returns the JSON reply.
fn curl_stream_load(fe: u8, label: &str, file: &Path) -> Result<serde_json::Value, String> {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--location-trusted", "-u", "root:", "-H"])
        .arg(format!("label:{label}"))
        .args(["-H", "column_separator:,", "-T"])
        .arg(file)
        .arg(format!("http://{}:8030/api/cl/t/_stream_load", ip(fe)));
    let (code, out, err) = run_with_timeout(&mut cmd, CLIENT_TIMEOUT);
    if code != Some(0) {
        return Err(format!("curl exited {code:?}: {err}"));
    }
    serde_json::from_str(&out).map_err(|e| format!("curl: not JSON ({e}): {out}"))
}

/// curl Stream Load through a frontend (redirected to a backend), then the same label again.
fn curl_client(c: &Cluster, fe: u8, dir: &Path) -> Result<(), String> {
    c.sql_ok(
        fe,
        "CREATE DATABASE cl; CREATE TABLE cl.t (k INT, s VARCHAR(20)) DUPLICATE KEY(k) \
         DISTRIBUTED BY HASH(k) BUCKETS 3 PROPERTIES (\"replication_num\" = \"3\")",
    );
    let file = dir.join("load.csv");
    std::fs::write(&file, "1,one\n2,two\n3,three\n").map_err(|e| e.to_string())?;
    let first = curl_stream_load(fe, "clients_l1", &file)?;
    if first["Status"] != "Success" || first["NumberLoadedRows"] != 3 {
        return Err(format!(
            "Stream Load: want Success with 3 rows, got {first}"
        ));
    }
    phase!("curl: PASS Stream Load Status Success, 3 rows");
    let again = curl_stream_load(fe, "clients_l1", &file)?;
    if again["Status"] != "Label Already Exists" {
        return Err(format!(
            "Stream Load with a used label: want Label Already Exists, got {again}"
        ));
    }
    phase!("curl: PASS the same label again answers Label Already Exists");
    let rows = c
        .sql(fe, "SELECT k, s FROM cl.t ORDER BY k")
        .map_err(|e| format!("{e:?}"))?;
    let got: Vec<String> = rows
        .maps()
        .iter()
        .map(|m| format!("{}={}", m["k"], m["s"]))
        .collect();
    if got != ["1=one", "2=two", "3=three"] {
        return Err(format!(
            "after the loads: want 3 rows loaded once, got {got:?}"
        ));
    }
    phase!("curl: PASS rows loaded exactly once");
    Ok(())
}

fn jdbc_client(fe: u8, dir: &Path) -> Result<String, String> {
    let classes = dir.join("jdbc");
    let mut javac = Command::new("javac");
    javac
        .args(["-encoding", "UTF-8", "-d"])
        .arg(&classes)
        .arg(clients_dir().join("Jdbc.java"));
    let (code, out, err) = run_with_timeout(&mut javac, CLIENT_TIMEOUT);
    if code != Some(0) {
        return Err(format!("javac Jdbc.java exited {code:?}: {out}{err}"));
    }
    let mut java = Command::new("java");
    java.arg("-Dfile.encoding=UTF-8")
        .arg("-cp")
        .arg(format!("{CONNECTOR_J}:{}", classes.display()))
        .args(["Jdbc", &ip(fe), &QUERY_PORT.to_string(), "jdbc"]);
    run_client(
        "JDBC (MariaDB Connector/J)",
        &mut java,
        "[useServerPrepStmts] close",
    )
}

#[test]
fn real_clients_pass_against_a_cluster() {
    let missing = missing_tools();
    assert!(
        missing.is_empty(),
        "the client tools are missing (scripts/test.sh installs them when run as root):\n  {}",
        missing.join("\n  ")
    );
    let mut c = Cluster::new("clients");
    phase!("3 frontends (2 followers, 1 observer) and 3 backends");
    c.start_ha(2, 1);
    for i in 1..=3u8 {
        c.start_be(i);
        c.sql_ok(
            LEADER,
            &format!("ALTER SYSTEM ADD BACKEND \"{}:9050\"", ip(i)),
        );
    }
    for fe in [LEADER, FOLLOWER, OBSERVER] {
        wait_until(WAIT, "3 backends alive", || {
            let rows = c.sql(fe, "SHOW BACKENDS").ok()?;
            (rows.maps().iter().filter(|m| m["Alive"] == "true").count() == 3).then_some(())
        });
    }
    let dir = tempfile::tempdir().expect("tempdir");

    let mut failures: Vec<String> = Vec::new();
    let mut note = |name: &str, r: Result<(), String>| match r {
        Ok(()) => phase!("{name}: passed"),
        Err(e) => failures.push(e),
    };
    note("mysql CLI (observer)", mysql_client(OBSERVER, dir.path()));
    note(
        "PyMySQL (follower)",
        run_client(
            "PyMySQL",
            &mut python_client("pymysql_client.py", FOLLOWER, "py_pymysql"),
            "close",
        )
        .map(drop),
    );
    note(
        "mysql-connector-python (observer)",
        run_client(
            "mysql-connector-python",
            &mut python_client("mysql_connector_client.py", OBSERVER, "py_connector"),
            "[pure] close",
        )
        .map(drop),
    );
    note(
        "SQLAlchemy + starrocks (follower)",
        run_client(
            "SQLAlchemy + starrocks",
            &mut python_client("sqlalchemy_client.py", FOLLOWER, "py_sqlalchemy"),
            "done",
        )
        .map(drop),
    );
    note("JDBC (leader)", jdbc_client(LEADER, dir.path()).map(drop));
    note(
        "curl Stream Load (follower)",
        curl_client(&c, FOLLOWER, dir.path()),
    );
    assert!(
        failures.is_empty(),
        "{} client(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
