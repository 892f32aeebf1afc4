//! Real clients against the server: the `mysql` command-line client (Debian
//! ships MariaDB's) and, when installed, PyMySQL.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tessera_mysql::ServerConfig;
use tokio::process::Command;

use crate::support::{bounded, start};

const MYSQL: &str = "/usr/bin/mysql";

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs the mysql CLI in batch mode against `addr` with extra arguments.
async fn mysql(addr: SocketAddr, args: &[&str]) -> Run {
    let port = addr.port().to_string();
    let mut cmd = Command::new(MYSQL);
    // --no-defaults must come first; it keeps ~/.my.cnf out of the test.
    cmd.args([
        "--no-defaults",
        "-h",
        "127.0.0.1",
        "-P",
        &port,
        "--skip-ssl",
        "--batch",
    ])
    .args(["--connect-timeout=10"])
    .args(args)
    .stdin(Stdio::null())
    .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(30), cmd.output())
        .await
        .expect("mysql CLI timed out")
        .expect("run mysql CLI");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn have_cli() -> bool {
    if Path::new(MYSQL).exists() {
        true
    } else {
        println!("NOTE: {MYSQL} not found; skipping the mysql CLI checks");
        false
    }
}

#[tokio::test]
async fn mysql_cli_queries() {
    if !have_cli() {
        return;
    }
    bounded(async {
        let server = start(ServerConfig::default()).await;
        let addr = server.addr;

        let r = mysql(addr, &["-u", "root", "-e", "select 1"]).await;
        assert_eq!(r.code, Some(0), "stderr: {}", r.stderr);
        assert_eq!(r.stdout, "1\n1\n");

        let r = mysql(addr, &["-u", "root", "-e", "select * from t"]).await;
        assert_eq!(r.code, Some(0), "stderr: {}", r.stderr);
        let lines: Vec<&str> = r.stdout.lines().collect();
        assert_eq!(
            lines[0],
            "id\tname\tprice\tday\tts\tnote\tamount\tsmall\tratio"
        );
        assert_eq!(
            lines[1],
            "1\talice\t1.5\t2024-01-02\t2024-01-02 03:04:05\tNULL\t10.50\t-7\t0.25"
        );
        assert_eq!(
            lines[2],
            "2\tbob\t0.1\t1999-12-31\t1999-12-31 23:59:59.500000\tx\t-3.00\t127\t-1.5"
        );
        assert_eq!(
            lines[3],
            "3\tZoë\t1e300\t2000-02-29\t2000-02-29 00:00:00\tit's\t0\tNULL\t3"
        );
        assert_eq!(lines.len(), 4);

        // The CLI splits on ';' itself and sends two queries.
        let r = mysql(addr, &["-u", "root", "-e", "select 1; select 2"]).await;
        assert_eq!(r.code, Some(0), "stderr: {}", r.stderr);
        assert_eq!(r.stdout, "1\n1\n2\n2\n");

        // With another delimiter the whole text is one COM_QUERY, answered
        // with two result sets (multi-statements / multi-results).
        let r = mysql(
            addr,
            &["-u", "root", "--delimiter=//", "-e", "select 1; select 2"],
        )
        .await;
        assert_eq!(r.code, Some(0), "stderr: {}", r.stderr);
        assert_eq!(r.stdout, "1\n1\n2\n2\n");

        // Password user, default database, USE (COM_INIT_DB).
        let r = mysql(
            addr,
            &["-u", "u1", "-pp1", "-D", "db1", "-e", "select database()"],
        )
        .await;
        assert_eq!(r.code, Some(0), "stderr: {}", r.stderr);
        assert_eq!(r.stdout, "database()\ndb1\n");
        let r = mysql(
            addr,
            &["-u", "u1", "-pp1", "-e", "use db7; select database()"],
        )
        .await;
        assert_eq!(r.code, Some(0), "stderr: {}", r.stderr);
        assert_eq!(r.stdout, "database()\ndb7\n");

        let r = mysql(addr, &["-u", "root", "-e", "insert into t values (1)"]).await;
        assert_eq!(r.code, Some(0), "stderr: {}", r.stderr);
        assert_eq!(r.stdout, "");
    })
    .await;
}

#[tokio::test]
async fn mysql_cli_errors() {
    if !have_cli() {
        return;
    }
    bounded(async {
        let server = start(ServerConfig::default()).await;
        let addr = server.addr;

        let r = mysql(addr, &["-u", "u1", "-pwrong", "-e", "select 1"]).await;
        assert_eq!(r.code, Some(1));
        assert!(
            r.stderr.contains("ERROR 1045 (28000)"),
            "stderr: {}",
            r.stderr
        );
        assert!(
            r.stderr.contains("Access denied for user 'u1'"),
            "stderr: {}",
            r.stderr
        );

        let r = mysql(addr, &["-u", "nobody", "-e", "select 1"]).await;
        assert_eq!(r.code, Some(1));
        assert!(
            r.stderr.contains("ERROR 1045 (28000)"),
            "stderr: {}",
            r.stderr
        );

        let r = mysql(addr, &["-u", "root", "-e", "frobnicate the tables"]).await;
        assert_eq!(r.code, Some(1));
        assert!(
            r.stderr.contains("ERROR 1064 (42000)")
                && r.stderr.contains("syntax near 'frobnicate the tables'"),
            "stderr: {}",
            r.stderr
        );

        let r = mysql(addr, &["-u", "root", "-D", "nodb", "-e", "select 1"]).await;
        assert_eq!(r.code, Some(1));
        assert!(
            r.stderr.contains("ERROR 1049 (42000)"),
            "stderr: {}",
            r.stderr
        );

        // The first error stops a multi-statement script; output before it stays.
        let r = mysql(addr, &["-u", "root", "-e", "select 1; bogus; select 2"]).await;
        assert_eq!(r.code, Some(1));
        assert_eq!(r.stdout, "1\n1\n");
        assert!(
            r.stderr.contains("ERROR 1064 (42000)"),
            "stderr: {}",
            r.stderr
        );
    })
    .await;
}

#[tokio::test]
async fn pymysql_client() {
    let probe = Command::new("python3")
        .args(["-c", "import pymysql"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await;
    if !matches!(probe, Ok(s) if s.success()) {
        println!("NOTE: python3 with pymysql not available; skipping the PyMySQL check");
        return;
    }
    bounded(async {
        let server = start(ServerConfig::default()).await;
        let script = r#"
import sys, pymysql
port = int(sys.argv[1])
conn = pymysql.connect(host="127.0.0.1", port=port, user="u1", password="p1", database="db1")
cur = conn.cursor()
cur.execute("select 1")
assert cur.fetchall() == ((1,),), "select 1"
cur.execute("select * from t")
rows = cur.fetchall()
assert len(rows) == 3, rows
assert rows[0][1] == "alice" and rows[0][2] == 1.5, rows[0]
assert str(rows[0][3]) == "2024-01-02", rows[0]
cur.execute("echo %s, %s", ("it's", 5))
print(cur.fetchall()[0][0])
try:
    cur.execute("bogus")
    raise SystemExit("expected an error")
except pymysql.err.ProgrammingError as e:
    assert e.args[0] == 1064, e.args
try:
    pymysql.connect(host="127.0.0.1", port=port, user="u1", password="bad")
    raise SystemExit("expected access denied")
except pymysql.err.OperationalError as e:
    assert e.args[0] == 1045, e.args
conn.close()
print("pymysql ok")
"#;
        let out = Command::new("python3")
            .args(["-c", script, &server.addr.port().to_string()])
            .kill_on_drop(true)
            .output()
            .await
            .expect("run python3");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "pymysql failed: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("echo 'it\\'s', 5"), "{stdout}");
        assert!(stdout.contains("pymysql ok"));
    })
    .await;
}
