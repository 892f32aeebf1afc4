//! Bad input answers with a clear error, changes nothing and keeps the node up.

use std::fs;

use tessera_testkit::Cluster;
use tessera_testkit::EDIT_LOG_PORT;
use tessera_testkit::ip;

use crate::WAIT;
use crate::phase;

#[test]
fn malformed_and_unknown_statements_get_errors_and_the_session_goes_on() {
    let mut c = Cluster::new("badsql");
    c.start_fe(1, None);
    let cases = [
        ("SELEC 1", 1064),
        ("ALTER SYSTEM ADD FOLLWER \"127.0.0.2:9010\"", 1064),
        ("CREATE DATABASE", 1064),
        ("CREATE DATABASE `bad name`", 1064),
        ("DROP DATABASE no_such_db", 1049),
        ("SHOW PROC '/no/such/path'", 1064),
        ("ADMIN SET FRONTEND CONFIG ()", 1064),
        ("SELECT @@no_such_variable", 1193),
        ("SET no_such_variable = 1", 1193),
        ("USE no_such_db", 1049),
        ("SELECT * FROM t", 1046),
        ("SELECT * FROM no_such_db.t", 1049),
        ("SELECT * FROM default_catalog.no_such_db.t", 1049),
        ("SELECT * FROM hive.db.t", 1235),
        ("UPDATE t SET a = 1", 1235),
    ];
    for (sql, code) in cases {
        let results = c.session(1, &[sql, "SELECT 1"]);
        let e = results[0].as_ref().expect_err(sql);
        assert_eq!(e.code, code, "{sql}: {e}");
        assert!(!e.message.is_empty());
        // The client stops at the error; a new statement on the node still works.
        c.sql_ok(1, "SELECT 1");
    }
    phase!("very long and deeply nested input");
    let deep = format!("SELECT {}1{}", "(".repeat(5000), ")".repeat(5000));
    assert!(c.sql(1, &deep).is_err());
    let long = format!("CREATE DATABASE {}", "a".repeat(100_000));
    assert!(c.sql(1, &long).is_err());
    assert_eq!(
        c.sql_ok(1, "SHOW DATABASES").first_column(),
        ["information_schema"]
    );
    phase!("wrong credentials are refused with 1045");
    let r = tessera_testkit::mysql_session(&ip(1), 9030, "root", "wrong", &["SELECT 1"]);
    assert_eq!(r[0].as_ref().expect_err("denied").code, 1045);
    let r = tessera_testkit::mysql_session(&ip(1), 9030, "nobody", "", &["SELECT 1"]);
    assert_eq!(r[0].as_ref().expect_err("denied").code, 1045);
}

#[test]
fn bad_start_options_are_refused_clearly() {
    let mut c = Cluster::new("badstart");
    phase!("the helper may not be the node itself");
    let (code, out) = c.start_fe_expect_exit(1, Some(1));
    assert_ne!(code, 0);
    assert!(
        out.contains("Do not specify the helper node to FE itself"),
        "{out}"
    );
    phase!("priority_networks that matches no address");
    c.write_conf(2, &[]);
    let conf = c.node_dir(2).join("conf/fe.conf");
    let text = fs::read_to_string(&conf)
        .expect("conf")
        .replace(&format!("{}/32", ip(2)), "10.123.0.0/16");
    fs::write(&conf, text).expect("write");
    let (code, out) = c.start_fe_expect_exit(2, None);
    assert_ne!(code, 0);
    assert!(
        out.contains("matches none of this machine's addresses"),
        "{out}"
    );
    phase!("a bad value in fe.conf names the line");
    c.write_conf(3, &[("http_port", "eighty")]);
    let (code, out) = c.start_fe_expect_exit(3, None);
    assert_eq!(code, 2);
    assert!(
        out.contains("fe.conf:") && out.contains("http_port"),
        "{out}"
    );
    phase!("a second FE on the same address and ports");
    c.start_fe(1, None);
    let dir = c.node_dir(1);
    let other = c.path().join("other");
    fs::create_dir_all(other.join("conf")).expect("mkdir");
    let text = fs::read_to_string(dir.join("conf/fe.conf"))
        .expect("conf")
        .replace(
            &dir.join("meta").display().to_string(),
            &other.join("meta").display().to_string(),
        );
    fs::write(other.join("conf/fe.conf"), text).expect("write");
    let (code, _, err) = tessera_testkit::run_with_timeout(
        std::process::Command::new(tessera_testkit::tessera_binary())
            .arg("fe")
            .arg("--conf")
            .arg(other.join("conf/fe.conf")),
        WAIT,
    );
    assert_ne!(code, Some(0));
    assert!(err.contains("already in use"), "{err}");
    c.sql_ok(1, "SELECT 1");
}

#[test]
fn corrupt_or_missing_meta_files_refuse_the_start_with_instructions() {
    let mut c = Cluster::new("badmeta");
    c.start_fe(1, None);
    c.sql_ok(1, "CREATE DATABASE keep_me");
    c.sql_ok(1, "ALTER SYSTEM CREATE IMAGE");
    c.stop(1);
    let image_dir = c.node_dir(1).join("meta/image");
    let version = image_dir.join("VERSION");
    let role = image_dir.join("ROLE");
    let image = fs::read_dir(&image_dir)
        .expect("image dir")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("image."))
        })
        .expect("an image file");
    let saved_version = fs::read(&version).expect("read");
    let saved_role = fs::read(&role).expect("read");
    let saved_image = fs::read(&image).expect("read");

    phase!("garbage VERSION");
    fs::write(&version, b"clusterId=notanumber\n").expect("write");
    let (code, out) = c.start_fe_expect_exit(1, None);
    assert_ne!(code, 0);
    assert!(out.contains("VERSION is damaged"), "{out}");
    fs::write(&version, &saved_version).expect("restore");

    phase!("ROLE missing");
    fs::remove_file(&role).expect("rm");
    let (code, out) = c.start_fe_expect_exit(1, None);
    assert_ne!(code, 0);
    assert!(out.contains("must both exist or both not exist"), "{out}");
    fs::write(&role, &saved_role).expect("restore");

    phase!("a flipped byte in the checkpoint image");
    let mut bad = saved_image.clone();
    let n = bad.len();
    bad[n - 3] ^= 0x20;
    fs::write(&image, &bad).expect("write");
    let (code, out) = c.start_fe_expect_exit(1, None);
    assert_ne!(code, 0);
    assert!(out.contains("is corrupt"), "{out}");
    phase!("a torn (truncated) checkpoint image");
    fs::write(&image, &saved_image[..n / 2]).expect("write");
    let (code, out) = c.start_fe_expect_exit(1, None);
    assert_ne!(code, 0);
    assert!(out.contains("torn write"), "{out}");
    fs::write(&image, &saved_image).expect("restore");

    phase!("a damaged journal file");
    let journal = c.node_dir(1).join("meta/journal/journal.redb");
    let saved_journal = fs::read(&journal).expect("read");
    fs::write(
        &journal,
        b"this is not a redb file at all, just garbage bytes",
    )
    .expect("write");
    let (code, out) = c.start_fe_expect_exit(1, None);
    assert_ne!(code, 0);
    assert!(out.contains("cannot open the journal"), "{out}");
    fs::write(&journal, &saved_journal).expect("restore");

    phase!("restored files: the node starts with its data");
    c.start_fe(1, None);
    c.wait_leader(WAIT);
    assert!(
        c.sql_ok(1, "SHOW DATABASES")
            .first_column()
            .contains(&"keep_me".to_string())
    );
    let _ = EDIT_LOG_PORT;
}

/// The fault injector's clock endpoint (`POST /api/_debug/clock_offset?ms=N` on the FE and BE
/// HTTP ports) is refused unless `debug_enable_fault_injection = true`, and checks its input.
#[test]
fn the_clock_offset_endpoint_is_off_by_default_and_checks_its_input() {
    use std::time::Duration;
    use tessera_testkit::BE_HTTP_PORT;
    use tessera_testkit::HTTP_PORT;
    use tessera_testkit::http_request;
    let mut c = Cluster::new("clockhook");
    c.write_conf(1, &[("debug_enable_fault_injection", "true")]);
    c.start_fe(1, None);
    c.start_be(2);
    // The backend's pages need a user, which it checks with the leader: add it.
    c.sql_ok(1, &format!("ALTER SYSTEM ADD BACKEND \"{}:9050\"", ip(2)));
    tessera_testkit::wait_until(WAIT, "the backend to be alive", || {
        let rows = c.sql(1, "SHOW BACKENDS").ok()?;
        (rows.maps().iter().any(|m| m["Alive"] == "true")).then_some(())
    });
    let post = |ip: &str, port: u16, path: &str| {
        http_request("POST", ip, port, path, Duration::from_secs(5)).expect("an answer")
    };
    // Off on the backend (the default).
    let (code, body) = post(&ip(2), BE_HTTP_PORT, "/api/_debug/clock_offset?ms=1000");
    assert_eq!(code, 403, "{body}");
    // The backend's pages need a user the frontends know; its health does not.
    for creds in [None, Some("root:wrong"), Some("ghost:")] {
        let (code, body) = tessera_testkit::http_request_as(
            "POST",
            &ip(2),
            BE_HTTP_PORT,
            "/api/_debug/clock_offset?ms=1000",
            creds,
            Duration::from_secs(5),
        )
        .expect("an answer");
        assert_eq!(code, 401, "{creds:?}: {body}");
    }
    let (code, _) = tessera_testkit::http_request_as(
        "GET",
        &ip(2),
        BE_HTTP_PORT,
        "/api/health",
        None,
        Duration::from_secs(5),
    )
    .expect("an answer");
    assert_eq!(code, 200);
    assert!(body.contains("debug_enable_fault_injection"), "{body}");
    // On on the frontend: bad input answers 400 with a reason, good input moves the clock.
    for bad in ["", "?ms=", "?ms=soon", "?ms=99999999999999999999"] {
        let (code, body) = post(&ip(1), HTTP_PORT, &format!("/api/_debug/clock_offset{bad}"));
        assert_eq!(code, 400, "{bad}: {body}");
        assert!(body.contains("ms"), "{body}");
    }
    let (code, body) = post(&ip(1), HTTP_PORT, "/api/_debug/clock_offset?ms=60000");
    assert_eq!(code, 200, "{body}");
    // SHOW FRONTENDS's StartTime and heartbeat clock now run a minute ahead; the node still
    // serves and goes back with ms=0.
    c.sql_ok(1, "SELECT 1");
    let (code, _) = post(&ip(1), HTTP_PORT, "/api/_debug/clock_offset?ms=0");
    assert_eq!(code, 200);
}
