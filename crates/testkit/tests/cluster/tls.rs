//! TLS end to end (docs/security.md, "TLS"): a CA and a server certificate made with the
//! `openssl` CLI; a frontend and three backends started with them. The MariaDB `mysql` client
//! logs in over verified TLS (`--ssl --ssl-ca --ssl-verify-server-cert`, its spelling of
//! `--ssl-mode=VERIFY_IDENTITY`) and sees the cipher in `SHOW STATUS`; a plain login is refused
//! while `ssl_force_secure_transport` is on and accepted once it is off; `/api/health`, a
//! Stream Load (`curl --location-trusted --cacert`, redirected to a backend's `https://`) and an
//! INSERT (the FE's own HTTPS call to a backend) work; plain HTTP to an HTTPS port gets a clear
//! 400 and the node stays up; bad certificate settings stop a node from starting with a message
//! naming the key and the file.

use std::path::Path;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use tessera_testkit::BE_HTTP_PORT;
use tessera_testkit::Cluster;
use tessera_testkit::HTTP_PORT;
use tessera_testkit::QUERY_PORT;
use tessera_testkit::ip;
use tessera_testkit::run_with_timeout;
use tessera_testkit::tessera_binary;
use tessera_testkit::wait_until;

use crate::WAIT;
use crate::phase;

struct Pki {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    /// A key that does not belong to `cert` (the CA's).
    other_key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let mut cmd = Command::new("openssl");
    cmd.current_dir(dir).args(args);
    let (code, _, err) = run_with_timeout(&mut cmd, Duration::from_secs(60));
    assert_eq!(
        code,
        Some(0),
        "openssl {args:?} (scripts/test.sh installs it): {err}"
    );
}

/// A CA, and a server certificate it signed for the addresses of nodes 1..=6.
fn make_pki(dir: &Path) -> Pki {
    std::fs::create_dir_all(dir).expect("pki dir");
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut args = vec!["req", "-x509"];
    args.extend(ec);
    args.extend([
        "-days",
        "2",
        "-subj",
        "/CN=tessera test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    openssl(dir, &args);
    let mut args = vec!["req"];
    args.extend(ec);
    args.extend([
        "-subj",
        "/CN=tessera node",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    openssl(dir, &args);
    let sans: Vec<String> = (1..=6).map(|i| format!("IP:{}", ip(i))).collect();
    std::fs::write(
        dir.join("ext.cnf"),
        format!("subjectAltName={}\n", sans.join(",")),
    )
    .expect("ext file");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
            "-out",
            "server.pem",
        ],
    );
    Pki {
        ca: dir.join("ca.pem"),
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
        other_key: dir.join("ca.key"),
    }
}

/// The `mysql` CLI against FE 1 with `args` before `-e sql`: (exit code, stdout, stderr).
fn mysql_cli(args: &[&str], sql: &str) -> (Option<i32>, String, String) {
    let mut cmd = Command::new("mysql");
    cmd.args(["--no-defaults", "-h", &ip(1), "-P", &QUERY_PORT.to_string()])
        .args(["-u", "root", "--batch", "--connect-timeout=5"])
        .args(args)
        .args(["-e", sql]);
    run_with_timeout(&mut cmd, Duration::from_secs(60))
}

/// curl with `args`: (exit code, HTTP status (0 without one), body).
fn curl(args: &[&str]) -> (Option<i32>, u16, String, String) {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", "30", "-w", "\n%{http_code}"])
        .args(args);
    let (code, out, err) = run_with_timeout(&mut cmd, Duration::from_secs(60));
    let (body, status) = out.rsplit_once('\n').unwrap_or(("", "0"));
    (
        code,
        status.trim().parse().unwrap_or(0),
        body.to_string(),
        err,
    )
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

#[test]
fn tls_mysql_and_https() {
    let mut c = Cluster::new("tls");
    let pki = make_pki(&c.path().join("pki"));
    let (ca, cert, key, other_key) = (s(&pki.ca), s(&pki.cert), s(&pki.key), s(&pki.other_key));
    let missing = s(&c.path().join("no-such-cert.pem"));

    phase!("bad TLS settings stop a node from starting, naming the key and the file");
    c.write_conf(
        1,
        &[
            ("ssl_certificate_path", &missing),
            ("ssl_private_key_path", &key),
        ],
    );
    let (code, log) = c.start_fe_expect_exit(1, None);
    assert_ne!(code, 0);
    assert!(
        log.contains(&format!(
            "ssl_certificate_path = {missing}: cannot read the file"
        )),
        "{log}"
    );
    c.write_conf(
        1,
        &[
            ("ssl_certificate_path", &cert),
            ("ssl_private_key_path", &other_key),
        ],
    );
    let (code, log) = c.start_fe_expect_exit(1, None);
    assert_ne!(code, 0);
    assert!(
        log.contains(&format!("ssl_private_key_path = {other_key} does not fit")),
        "{log}"
    );
    c.write_conf(1, &[("ssl_force_secure_transport", "true")]);
    let (code, log) = c.start_fe_expect_exit(1, None);
    assert_ne!(code, 0);
    assert!(
        log.contains("ssl_force_secure_transport = true needs ssl_certificate_path"),
        "{log}"
    );
    c.write_be_conf(
        1,
        &[("enable_https", "true"), ("ssl_certificate_path", &cert)],
    );
    let (code, log) = c.start_be_expect_exit(1);
    assert_ne!(code, 0);
    assert!(
        log.contains("enable_https = true") && log.contains("ssl_private_key_path"),
        "{log}"
    );
    // A certificate file that is a key.
    c.write_be_conf(
        1,
        &[
            ("enable_https", "true"),
            ("ssl_certificate_path", &key),
            ("ssl_private_key_path", &key),
        ],
    );
    let (code, log) = c.start_be_expect_exit(1);
    assert_ne!(code, 0);
    assert!(
        log.contains(&format!("ssl_certificate_path = {key}")),
        "{log}"
    );

    phase!("a cluster with TLS on query_port and HTTPS on every http_port");
    let fe_conf = |force: &str| {
        vec![
            ("ssl_certificate_path", cert.clone()),
            ("ssl_private_key_path", key.clone()),
            ("ssl_ca_path", ca.clone()),
            ("enable_https", "true".to_string()),
            ("ssl_force_secure_transport", force.to_string()),
        ]
    };
    let conf = fe_conf("true");
    let conf: Vec<(&str, &str)> = conf.iter().map(|(k, v)| (*k, v.as_str())).collect();
    c.write_conf(1, &conf);
    // (The testkit's own mysql calls use the client's default: TLS when offered, unverified.)
    c.start_fe(1, None);
    c.https_ca = Some(pki.ca.clone());
    for i in 1..=3u8 {
        c.write_be_conf(
            i,
            &[
                ("enable_https", "true"),
                ("ssl_certificate_path", &cert),
                ("ssl_private_key_path", &key),
            ],
        );
        c.start_be(i);
        c.sql_ok(1, &format!("ALTER SYSTEM ADD BACKEND \"{}:9050\"", ip(i)));
    }
    wait_until(WAIT, "backends alive", || {
        let rows = c.sql(1, "SHOW BACKENDS").ok()?;
        (rows.maps().iter().filter(|m| m["Alive"] == "true").count() == 3).then_some(())
    });

    phase!("mysql over verified TLS shows its cipher; a plain login is refused");
    let ssl_ca = format!("--ssl-ca={ca}");
    let verified = ["--ssl", ssl_ca.as_str(), "--ssl-verify-server-cert"];
    let (code, out, err) = mysql_cli(&verified, "SHOW STATUS LIKE 'Ssl_%'");
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("Ssl_cipher\tTLS_"), "{out}");
    assert!(out.contains("Ssl_version\tTLSv1."), "{out}");
    let (code, out, err) = mysql_cli(&verified, "status");
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("Cipher in use is "), "status output: {out}");
    let (code, _, err) = mysql_cli(&["--skip-ssl"], "SELECT 1");
    assert_eq!(code, Some(1), "plain login accepted");
    assert!(
        err.contains("ERROR 3159") && err.contains("ssl_force_secure_transport"),
        "{err}"
    );
    // The client refuses a server whose certificate its CA did not sign.
    let wrong_ca = format!("--ssl-ca={cert}");
    let (code, _, err) = mysql_cli(
        &["--ssl", wrong_ca.as_str(), "--ssl-verify-server-cert"],
        "SELECT 1",
    );
    assert_ne!(code, Some(0), "verified against the wrong CA: {err}");

    phase!("HTTPS: /api/health, a Stream Load redirected to a backend's https://, an INSERT");
    let fe_url = format!("https://{}:{HTTP_PORT}", ip(1));
    let (code, status, body, err) = curl(&["--cacert", &ca, &format!("{fe_url}/api/health")]);
    assert_eq!((code, status), (Some(0), 200), "{body} {err}");
    c.sql_ok(1, "CREATE DATABASE tl");
    c.sql_ok(
        1,
        "CREATE TABLE tl.t (k INT, v VARCHAR(20)) DISTRIBUTED BY HASH(k) BUCKETS 2 \
         PROPERTIES (\"replication_num\" = \"3\")",
    );
    // Where the frontend sends a Stream Load: a backend's https:// address.
    let (_, status, _, err) = curl(&[
        "--cacert",
        &ca,
        "-u",
        "root:",
        "-XPUT",
        "-H",
        "Expect:",
        "-D",
        "/dev/stderr",
        &format!("{fe_url}/api/tl/t/_stream_load"),
    ]);
    assert_eq!(status, 307, "{err}");
    assert!(
        err.to_ascii_lowercase().contains("location: https://"),
        "redirect: {err}"
    );
    let data = c.path().join("rows.csv");
    std::fs::write(&data, "1,a\n2,b\n3,c\n").expect("data file");
    let (code, status, body, err) = curl(&[
        "--location-trusted",
        "--cacert",
        &ca,
        "-u",
        "root:",
        "-XPUT",
        "-T",
        &s(&data),
        "-H",
        "column_separator:,",
        "-H",
        "label:tls_load_1",
        &format!("{fe_url}/api/tl/t/_stream_load"),
    ]);
    assert_eq!((code, status), (Some(0), 200), "{body} {err}");
    let v: serde_json::Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"));
    assert_eq!(v["Status"], "Success", "{body}");
    assert_eq!(v["NumberLoadedRows"], 3, "{body}");
    c.sql_ok(1, "INSERT INTO tl.t VALUES (4, 'd'), (5, 'e')");
    let rows = c.sql_ok(1, "SELECT count(*) AS n, max(v) AS m FROM tl.t");
    assert_eq!(rows.get(0, "n"), "5");
    assert_eq!(rows.get(0, "m"), "e");
    // `tessera load --cacert`: HTTPS to the frontend and to the backend it redirects to.
    let more = c.path().join("more.csv");
    std::fs::write(&more, "6,f\n7,g\n").expect("data file");
    let mut cmd = Command::new(tessera_binary());
    cmd.arg("load")
        .arg(&more)
        .args([
            "--table",
            "tl.t",
            "--label",
            "tls_load_2",
            "--progress",
            "never",
        ])
        .args(["--host", &format!("{}:{HTTP_PORT}", ip(1))])
        .args(["--cacert", &ca]);
    let (code, out, err) = run_with_timeout(&mut cmd, Duration::from_secs(120));
    assert_eq!(code, Some(0), "tessera load: {out} {err}");
    assert!(out.contains("\"Success\""), "{out}");
    // Without --cacert it says what is wrong instead of loading.
    let mut cmd = Command::new(tessera_binary());
    cmd.arg("load")
        .arg(&more)
        .args(["--table", "tl.t", "--progress", "never", "--retries", "0"])
        .args(["--host", &format!("{}:{HTTP_PORT}", ip(1))]);
    let (code, out, err) = run_with_timeout(&mut cmd, Duration::from_secs(120));
    assert_ne!(code, Some(0), "loaded over plain HTTP: {out}");
    let rows = c.sql_ok(1, "SELECT count(*) AS n FROM tl.t");
    assert_eq!(rows.get(0, "n"), "7", "{err}");

    phase!("plain HTTP to an HTTPS port: a clear 400, and the node stays up");
    for (host, port) in [(ip(1), HTTP_PORT), (ip(2), BE_HTTP_PORT)] {
        let (code, status, body, err) = curl(&[&format!("http://{host}:{port}/api/health")]);
        assert_eq!((code, status), (Some(0), 400), "{body} {err}");
        assert!(body.contains("This port serves HTTPS"), "{body}");
    }
    // A broken TLS record, and a client that connects and says nothing: neither holds up the
    // next client (each handshake runs on its own, bounded in time).
    let addr = format!("{}:{HTTP_PORT}", ip(1));
    {
        use std::io::Write;
        let mut junk = std::net::TcpStream::connect(&addr).expect("connect");
        junk.write_all(b"\x16\x03\x01\x00\x05hello").expect("junk");
    }
    let _silent = std::net::TcpStream::connect(&addr).expect("connect");
    let (code, status, body, err) = curl(&["--cacert", &ca, &format!("{fe_url}/api/health")]);
    assert_eq!((code, status), (Some(0), 200), "{body} {err}");
    assert!(c.be_health(2).is_some(), "backend 2 still serves HTTPS");
    c.sql_ok(1, "SELECT count(*) FROM tl.t");

    phase!("without ssl_force_secure_transport plain logins are accepted again");
    c.stop(1);
    let conf = fe_conf("false");
    let conf: Vec<(&str, &str)> = conf.iter().map(|(k, v)| (*k, v.as_str())).collect();
    c.write_conf(1, &conf);
    c.start_fe(1, None);
    let (code, out, err) = mysql_cli(&["--skip-ssl"], "SHOW STATUS LIKE 'Ssl_cipher'");
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        out, "Variable_name\tValue\nSsl_cipher\t\n",
        "no cipher without TLS"
    );
    let (code, out, err) = mysql_cli(&verified, "SELECT count(*) AS n FROM tl.t");
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, "n\n7\n");
}
