//! Users and privileges end to end: accounts created by root on the leader, each statement
//! family allowed with its privilege and denied without it through the real `mysql` client on
//! the leader and on a follower, Stream Load and the HTTP pages through curl, and passwords
//! that survive a restart of every frontend.

use std::process::Command;
use std::time::Duration;

use tessera_testkit::Cluster;
use tessera_testkit::MysqlError;
use tessera_testkit::QUERY_PORT;
use tessera_testkit::Rows;
use tessera_testkit::ip;
use tessera_testkit::mysql_session;
use tessera_testkit::run_with_timeout;
use tessera_testkit::wait_until;

use crate::WAIT;
use crate::phase;

/// One statement as `user` with `password` on FE `fe`.
fn as_user(fe: u8, user: &str, password: &str, sql: &str) -> Result<Rows, MysqlError> {
    mysql_session(&ip(fe), QUERY_PORT, user, password, &[sql])
        .pop()
        .unwrap_or_else(|| {
            Err(MysqlError {
                code: 0,
                message: "no result".into(),
            })
        })
}

fn allowed(fe: u8, user: &str, password: &str, sql: &str) -> Rows {
    as_user(fe, user, password, sql)
        .unwrap_or_else(|e| panic!("{user} on FE {fe}: `{sql}` should be allowed: {e}"))
}

fn denied(fe: u8, user: &str, password: &str, sql: &str, code: u16) {
    match as_user(fe, user, password, sql) {
        Ok(r) => panic!("{user} on FE {fe}: `{sql}` should be denied, got {r:?}"),
        Err(e) => {
            assert_eq!(
                e.code, code,
                "{user} on FE {fe}: `{sql}`: wrong error: {}",
                e.message
            );
            assert!(
                e.message.contains("denied") || e.message.contains("Access"),
                "{}",
                e.message
            );
        }
    }
}

/// curl with `args`: (HTTP status, body).
fn curl(args: &[&str]) -> (u16, String) {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", "30", "-w", "\n%{http_code}"])
        .args(args);
    let (code, out, err) = run_with_timeout(&mut cmd, Duration::from_secs(40));
    assert_eq!(code, Some(0), "curl {args:?} failed: {err}");
    let (body, status) = out.rsplit_once('\n').unwrap_or(("", "0"));
    (status.trim().parse().unwrap_or(0), body.to_string())
}

fn stream_load(fe: u8, creds: &str, label: &str, body: &str) -> serde_json::Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("data");
    std::fs::write(&file, body).expect("write data");
    let path = file.display().to_string();
    let url = format!("http://{}:8030/api/pd/t/_stream_load", ip(fe));
    let label = format!("label:{label}");
    let (_, out) = curl(&[
        "--location-trusted",
        "-u",
        creds,
        "-XPUT",
        "-T",
        &path,
        "-H",
        "column_separator:,",
        "-H",
        &label,
        &url,
    ]);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

#[test]
fn privileges_are_checked_for_every_statement_family_and_http() {
    let mut c = Cluster::new("privileges");
    c.start_ha(2, 0);
    let leader = c.wait_leader(WAIT);
    let follower = if leader == 1 { 2 } else { 1 };
    for be in 3..=5 {
        c.start_be(be);
        c.sql_ok(
            leader,
            &format!("ALTER SYSTEM ADD BACKEND \"{}:9050\"", ip(be)),
        );
    }
    wait_until(WAIT, "3 backends alive", || {
        let rows = c.sql(leader, "SHOW BACKENDS").ok()?;
        (rows.maps().iter().filter(|m| m["Alive"] == "true").count() == 3).then_some(())
    });

    phase!("root creates a database, a table and the users");
    for s in [
        "CREATE DATABASE pd",
        "CREATE TABLE pd.t (k INT, v INT) DISTRIBUTED BY HASH(k) BUCKETS 1 \
         PROPERTIES (\"replication_num\" = \"3\")",
        "INSERT INTO pd.t VALUES (1, 10)",
        "CREATE USER 'reader'@'%' IDENTIFIED BY 'r-pw'",
        "CREATE USER 'writer'@'%' IDENTIFIED BY 'w-pw'",
        "CREATE USER 'ddl'@'%' IDENTIFIED BY 'd-pw'",
        "CREATE USER 'ops'@'%' IDENTIFIED BY 'o-pw'",
        "CREATE USER 'boss'@'%' IDENTIFIED BY 'b-pw'",
        "CREATE USER 'nobody'@'%' IDENTIFIED BY 'n-pw'",
        "CREATE USER 'elsewhere'@'10.9.%' IDENTIFIED BY 'e-pw'",
        "GRANT SELECT ON pd.t TO 'reader'@'%'",
        "GRANT INSERT ON pd.* TO 'writer'@'%'",
        "GRANT CREATE, DROP, ALTER ON pd.* TO 'ddl'@'%'",
        "GRANT NODE, OPERATOR ON *.* TO 'ops'@'%'",
        "GRANT GRANT ON *.* TO 'boss'@'%'",
    ] {
        c.sql_ok(leader, s);
    }

    phase!("logins: a wrong password, an unknown user and a host that does not match");
    denied(leader, "reader", "wrong", "SELECT 1", 1045);
    denied(follower, "ghost", "x", "SELECT 1", 1045);
    denied(leader, "elsewhere", "e-pw", "SELECT 1", 1045);
    let e = as_user(leader, "reader", "", "SELECT 1").expect_err("no password");
    assert!(e.message.contains("using password: NO"), "{}", e.message);

    phase!("a user created on the leader logs in on the follower");
    let rows = wait_until(WAIT, "reader to read pd.t on the follower", || {
        as_user(follower, "reader", "r-pw", "SELECT k, v FROM pd.t").ok()
    });
    assert_eq!(rows.get(0, "v"), "10");

    phase!("SELECT");
    denied(leader, "nobody", "n-pw", "SELECT * FROM pd.t", 1142);
    denied(
        follower,
        "writer",
        "w-pw",
        "SELECT count(*) FROM pd.t",
        1142,
    );
    let rows = allowed(
        leader,
        "reader",
        "r-pw",
        "SELECT count(*) AS n FROM pd.t a JOIN pd.t b ON a.k = b.k WHERE a.k IN (SELECT k FROM pd.t)",
    );
    assert_eq!(rows.get(0, "n"), "1");
    // SHOW DATABASES lists only what the user holds a privilege on.
    let dbs = allowed(follower, "nobody", "n-pw", "SHOW DATABASES").first_column();
    assert!(!dbs.contains(&"pd".to_string()), "{dbs:?}");
    let dbs = allowed(follower, "reader", "r-pw", "SHOW DATABASES").first_column();
    assert!(dbs.contains(&"pd".to_string()), "{dbs:?}");
    denied(leader, "nobody", "n-pw", "USE pd", 1044);

    phase!("information_schema shows only what the user may see");
    let tables = allowed(
        leader,
        "nobody",
        "n-pw",
        "SELECT TABLE_NAME FROM information_schema.tables WHERE TABLE_SCHEMA = 'pd'",
    );
    assert!(tables.first_column().is_empty(), "{tables:?}");
    let schemata = allowed(
        follower,
        "nobody",
        "n-pw",
        "SELECT SCHEMA_NAME FROM information_schema.schemata",
    )
    .first_column();
    assert!(!schemata.contains(&"pd".to_string()), "{schemata:?}");
    let cols = allowed(
        leader,
        "nobody",
        "n-pw",
        "SELECT COLUMN_NAME FROM information_schema.columns WHERE TABLE_SCHEMA = 'pd'",
    );
    assert!(cols.first_column().is_empty(), "{cols:?}");
    let tables = allowed(
        follower,
        "reader",
        "r-pw",
        "SELECT TABLE_NAME FROM information_schema.tables WHERE TABLE_SCHEMA = 'pd'",
    );
    assert_eq!(tables.first_column(), vec!["t".to_string()]);

    phase!("SHOW PROCESSLIST and KILL: others' connections need OPERATOR");
    // A session of reader's that stays open (its stdin is held).
    let mut held = Command::new("mysql")
        .args([
            "-h",
            &ip(leader),
            "-P",
            "9030",
            "-u",
            "reader",
            "-pr-pw",
            "pd",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start mysql");
    let reader_id = wait_until(
        WAIT,
        "reader's connection in ops's SHOW PROCESSLIST",
        || {
            let rows = as_user(leader, "ops", "o-pw", "SHOW PROCESSLIST").ok()?;
            rows.maps()
                .iter()
                .find(|m| m["User"] == "reader")
                .map(|m| m["Id"].clone())
        },
    );
    let mine = allowed(leader, "nobody", "n-pw", "SHOW PROCESSLIST");
    assert!(!mine.maps().is_empty());
    assert!(
        mine.maps().iter().all(|m| m["User"] == "nobody"),
        "nobody sees others' connections: {mine:?}"
    );
    let e = as_user(leader, "nobody", "n-pw", &format!("KILL {reader_id}"))
        .expect_err("KILL of another user's connection");
    assert!(e.message.contains("not owner"), "{}", e.message);
    allowed(leader, "ops", "o-pw", &format!("KILL {reader_id}"));
    wait_until(WAIT, "reader's connection to end", || {
        let rows = as_user(leader, "ops", "o-pw", "SHOW PROCESSLIST").ok()?;
        rows.maps()
            .iter()
            .all(|m| m["User"] != "reader")
            .then_some(())
    });
    let _ = held.kill();
    let _ = held.wait();

    phase!("INSERT");
    denied(
        follower,
        "reader",
        "r-pw",
        "INSERT INTO pd.t VALUES (2, 20)",
        1142,
    );
    denied(
        leader,
        "nobody",
        "n-pw",
        "INSERT INTO pd.t VALUES (2, 20)",
        1142,
    );
    allowed(
        follower,
        "writer",
        "w-pw",
        "INSERT INTO pd.t VALUES (2, 20)",
    );
    allowed(leader, "writer", "w-pw", "INSERT INTO pd.t VALUES (3, 30)");
    // INSERT ... SELECT needs SELECT on the source too.
    denied(
        leader,
        "writer",
        "w-pw",
        "INSERT INTO pd.t SELECT k + 10, v FROM pd.t",
        1142,
    );

    phase!("CREATE / ALTER / DROP TABLE and CREATE DATABASE (forwarded from the follower)");
    let create = "CREATE TABLE pd.t2 (k INT) DISTRIBUTED BY HASH(k) BUCKETS 1 \
                  PROPERTIES (\"replication_num\" = \"1\")";
    denied(follower, "writer", "w-pw", create, 1142);
    allowed(follower, "ddl", "d-pw", create);
    let alter = "ALTER TABLE pd.t2 SET (\"write_quorum\" = \"ALL\")";
    denied(follower, "reader", "r-pw", alter, 1142);
    allowed(follower, "ddl", "d-pw", alter);
    denied(leader, "writer", "w-pw", "DROP TABLE pd.t2", 1142);
    allowed(follower, "ddl", "d-pw", "DROP TABLE pd.t2");
    denied(follower, "ddl", "d-pw", "CREATE DATABASE other", 1044);
    denied(leader, "nobody", "n-pw", "DROP DATABASE pd", 1044);

    phase!("ALTER SYSTEM needs NODE, ADMIN needs OPERATOR");
    let add = "ALTER SYSTEM ADD BACKEND \"127.0.0.99:9050\"";
    denied(follower, "ddl", "d-pw", add, 1227);
    denied(leader, "boss", "b-pw", add, 1227);
    allowed(follower, "ops", "o-pw", add);
    allowed(
        leader,
        "ops",
        "o-pw",
        "ALTER SYSTEM DROP BACKEND \"127.0.0.99:9050\"",
    );
    let admin = "ADMIN SET FRONTEND CONFIG (\"tablet_sched_checker_interval_seconds\" = \"5\")";
    denied(leader, "nobody", "n-pw", admin, 1227);
    denied(follower, "ddl", "d-pw", admin, 1227);
    allowed(follower, "ops", "o-pw", admin);
    denied(leader, "reader", "r-pw", "SHOW BACKENDS", 1227);

    phase!("user management needs GRANT");
    denied(leader, "ops", "o-pw", "CREATE USER 'x'@'%'", 1227);
    denied(
        follower,
        "ddl",
        "d-pw",
        "GRANT SELECT ON pd.t TO 'nobody'@'%'",
        1227,
    );
    allowed(
        follower,
        "boss",
        "b-pw",
        "CREATE USER 'x'@'%' IDENTIFIED BY 'x-pw'",
    );
    allowed(follower, "boss", "b-pw", "GRANT SELECT ON pd.* TO 'x'@'%'");
    let grants = allowed(leader, "boss", "b-pw", "SHOW GRANTS FOR 'x'@'%'");
    assert_eq!(
        grants.get(0, "Grants"),
        "GRANT SELECT ON pd.* TO 'x'@'%'",
        "{grants:?}"
    );
    // Own grants are always visible, others' are not.
    let own = allowed(leader, "reader", "r-pw", "SHOW GRANTS");
    assert_eq!(own.get(0, "Grants"), "GRANT SELECT ON pd.t TO 'reader'@'%'");
    denied(leader, "reader", "r-pw", "SHOW GRANTS FOR 'x'@'%'", 1227);
    wait_until(WAIT, "x to read pd.t on the follower", || {
        as_user(follower, "x", "x-pw", "SELECT * FROM pd.t").ok()
    });
    allowed(leader, "boss", "b-pw", "REVOKE SELECT ON pd.* FROM 'x'@'%'");
    denied(leader, "x", "x-pw", "SELECT * FROM pd.t", 1142);
    allowed(leader, "boss", "b-pw", "DROP USER 'x'@'%'");
    denied(leader, "x", "x-pw", "SELECT 1", 1045);
    denied(leader, "boss", "b-pw", "DROP USER 'root'@'%'", 1227);

    phase!("passwords: ALTER USER and SET PASSWORD (own, and root's)");
    allowed(
        follower,
        "reader",
        "r-pw",
        "SET PASSWORD = PASSWORD('r-pw2')",
    );
    wait_until(WAIT, "the new password on the leader", || {
        as_user(leader, "reader", "r-pw2", "SELECT 1").ok()
    });
    denied(leader, "reader", "r-pw", "SELECT 1", 1045);
    denied(
        leader,
        "reader",
        "r-pw2",
        "ALTER USER 'writer'@'%' IDENTIFIED BY 'stolen'",
        1227,
    );
    c.sql_ok(leader, "ALTER USER 'writer'@'%' IDENTIFIED BY 'w-pw2'");
    c.sql_ok(leader, "SET PASSWORD FOR 'root'@'%' = PASSWORD('root-pw')");
    c.root_password = "root-pw".into();
    denied(leader, "root", "", "SELECT 1", 1045);
    allowed(leader, "root", "root-pw", "SELECT 1");

    phase!("Stream Load through curl needs INSERT");
    let r = stream_load(follower, "nobody:n-pw", "sl_denied", "7,70\n");
    assert_eq!(r["Status"], "FAILED", "{r}");
    assert!(
        r["Message"].as_str().unwrap_or("").contains("denied"),
        "{r}"
    );
    let r = stream_load(leader, "writer:wrong", "sl_badpw", "7,70\n");
    assert_eq!(r["Status"], "FAILED", "{r}");
    let r = stream_load(follower, "writer:w-pw2", "sl_ok", "7,70\n8,80\n");
    assert_eq!(r["Status"], "Success", "{r}");
    assert_eq!(r["NumberLoadedRows"], 2, "{r}");
    let rows = wait_until(WAIT, "the loaded rows", || {
        let r = as_user(leader, "root", "root-pw", "SELECT count(*) AS n FROM pd.t").ok()?;
        (r.get(0, "n") == "5").then_some(r)
    });
    assert_eq!(rows.get(0, "n"), "5");

    phase!("HTTP: every page but /api/health needs a user");
    let base = format!("http://{}:8030", ip(follower));
    let (status, _) = curl(&[&format!("{base}/api/health")]);
    assert_eq!(status, 200);
    let (status, _) = curl(&[&format!("{base}/metrics")]);
    assert_eq!(status, 401);
    let (status, body) = curl(&["-u", "reader:r-pw2", &format!("{base}/metrics")]);
    assert_eq!(status, 200, "{body}");
    let (status, _) = curl(&["-u", "reader:bad", &format!("{base}/console")]);
    assert_eq!(status, 401);
    let (status, _) = curl(&["-u", "root:", &format!("{base}/api/console/overview")]);
    assert_eq!(status, 401, "root's old empty password");
    let (status, _) = curl(&[
        "-u",
        "root:root-pw",
        &format!("{base}/api/console/overview"),
    ]);
    assert_eq!(status, 200);
    let (status, body) = curl(&[
        "-u",
        "nobody:n-pw",
        &format!("{base}/api/pd/get_load_state?label=sl_ok"),
    ]);
    assert_eq!(status, 403, "{body}");
    let (status, body) = curl(&[
        "-u",
        "writer:w-pw2",
        &format!("{base}/api/pd/get_load_state?label=sl_ok"),
    ]);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("VISIBLE"), "{body}");

    phase!("users, grants and passwords survive a restart of every frontend");
    c.stop(follower);
    c.stop(leader);
    c.start_fe(1, None);
    c.start_fe(2, None);
    let leader = c.wait_leader(WAIT);
    for fe in [1, 2] {
        wait_until(WAIT, "logins after the restart", || {
            as_user(fe, "reader", "r-pw2", "SELECT * FROM pd.t").ok()
        });
        denied(fe, "root", "", "SELECT 1", 1045);
        denied(fe, "reader", "r-pw", "SELECT 1", 1045);
        denied(fe, "nobody", "n-pw", "SELECT * FROM pd.t", 1142);
    }
    allowed(leader, "ops", "o-pw", "SHOW FRONTENDS");
}
