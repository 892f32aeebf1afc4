//! `tessera be` as a process: start, health, refused starts, stop and restart, and
//! bin/start_be.sh / bin/stop_be.sh.

use std::fs;
use std::path::Path;
use std::path::PathBuf;
use std::process::Command;

use tessera_testkit::BE_HTTP_PORT;
use tessera_testkit::Cluster;
use tessera_testkit::http_get;
use tessera_testkit::ip;
use tessera_testkit::run_with_timeout;
use tessera_testkit::wait_until;

use crate::WAIT;
use crate::phase;

#[test]
fn a_backend_process_starts_and_refuses_bad_starts_clearly() {
    let mut c = Cluster::new("beproc");
    phase!("frontend 1 and backend 1 share 127.0.0.1 (their ports differ)");
    c.start_fe(1, None);
    c.start_be(1);
    let health = c.be_health(1).expect("health answers");
    assert!(health.contains(r#""status":"OK""#), "{health}");
    assert!(
        health.contains(r#""cluster_id":0"#),
        "no heartbeat yet: {health}"
    );
    assert!(health.contains(r#""tablets":0"#), "{health}");
    let root = c.be_dir(1).join("storage");
    assert!(root.join("meta/tablet_meta.redb").exists());
    assert!(root.join("lock").exists());
    // The log line may land a moment after the HTTP port answers.
    wait_until(WAIT, "'backend started' in be1's log", || {
        c.be_log(1).contains("backend started").then_some(())
    });
    let (status, body) =
        http_get(&ip(1), BE_HTTP_PORT, "/no/such/page", WAIT).expect("http answers");
    assert_eq!(status, 404, "{body}");
    c.sql_ok(1, "SELECT 1");

    phase!("a second backend on the same address is refused: the port is in use");
    let same_address = format!("{}/32", ip(1));
    c.write_be_conf(2, &[("priority_networks", &same_address)]);
    let (code, out) = c.start_be_expect_exit(2);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("heartbeat_service_port"), "{out}");
    assert!(out.contains("already in use"), "{out}");
    assert!(c.be_health(1).is_some(), "backend 1 is unaffected");

    phase!("a bad be.conf value exits 2 and names the file and line");
    c.write_be_conf(3, &[("be_port", "ninety")]);
    let (code, out) = c.start_be_expect_exit(3);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("be.conf:6"), "{out}");
    assert!(out.contains("be_port"), "{out}");
    c.write_be_conf(3, &[("storage_root_path", "/tmp/x,medium:tape")]);
    let (code, out) = c.start_be_expect_exit(3);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("medium must be hdd or ssd"), "{out}");

    phase!("SIGTERM stops it cleanly; it starts again on the same storage");
    c.stop_be(1);
    assert!(!c.is_be_running(1));
    assert!(c.be_health(1).is_none());
    assert!(c.be_log(1).contains("backend stopped"), "{}", c.be_log(1));
    c.start_be(1);
    phase!("after SIGKILL the kernel releases the storage lock and the ports");
    c.kill_be(1);
    c.start_be(1);
    assert!(c.be_health(1).is_some());
}

fn repo_bin() -> PathBuf {
    std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../../bin")
}

fn script(home: &Path, name: &str) -> (Option<i32>, String, String) {
    let mut cmd = Command::new("bash");
    cmd.arg(home.join("bin").join(name))
        .args(if name == "start_be.sh" {
            &["--daemon"][..]
        } else {
            &[][..]
        })
        .env("TESSERA_BIN", tessera_testkit::tessera_binary())
        .env_remove("STARROCKS_HOME")
        .env_remove("TESSERA_HOME");
    run_with_timeout(&mut cmd, WAIT)
}

/// Kills (by pid file) the daemon the test started, also when the test fails.
struct KillOnDrop(PathBuf);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Ok(pid) = fs::read_to_string(self.0.join("bin/be.pid")) {
            let _ = Command::new("kill").arg("-9").arg(pid.trim()).status();
        }
    }
}

#[test]
fn start_be_sh_and_stop_be_sh_work_like_starrocks() {
    let c = Cluster::new("bescripts");
    let home = c.path().join("home");
    fs::create_dir_all(home.join("bin")).expect("mkdir");
    fs::create_dir_all(home.join("conf")).expect("mkdir");
    for s in ["common.sh", "start_be.sh", "stop_be.sh"] {
        fs::copy(repo_bin().join(s), home.join("bin").join(s)).expect("copy script");
    }
    let _guard = KillOnDrop(home.clone());
    let conf = |extra: &str| {
        fs::write(
            home.join("conf/be.conf"),
            format!(
                "storage_root_path = ${{STARROCKS_HOME}}/storage\nsys_log_dir = ${{STARROCKS_HOME}}/log\npriority_networks = {}/32\n{extra}",
                ip(2)
            ),
        )
        .expect("write conf");
    };

    phase!("a bad config: --daemon reports the failure and the log's end");
    conf("be_http_port = 80800\n");
    let (code, out, err) = script(&home, "start_be.sh");
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(err.contains("backend failed to start"), "{err}");
    assert!(err.contains("be_http_port"), "{err}");
    assert!(!home.join("bin/be.pid").exists());

    phase!("start_be.sh --daemon starts it; a second start is refused");
    conf("");
    let (code, out, err) = script(&home, "start_be.sh");
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("backend started"), "{out}");
    assert!(home.join("log/be.log").exists());
    assert!(home.join("storage/meta/tablet_meta.redb").exists());
    let (status, _) = http_get(&ip(2), BE_HTTP_PORT, "/api/health", WAIT).expect("health");
    assert_eq!(status, 200);
    let (code, _, err) = script(&home, "start_be.sh");
    assert_eq!(code, Some(1));
    assert!(err.contains("Stop it first"), "{err}");

    phase!("stop_be.sh stops it");
    let (code, out, err) = script(&home, "stop_be.sh");
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("stopped"), "{out}");
    assert!(!home.join("bin/be.pid").exists());
    assert!(http_get(&ip(2), BE_HTTP_PORT, "/api/health", WAIT).is_none());
    let (code, _, err) = script(&home, "stop_be.sh");
    assert_eq!(code, Some(1));
    assert!(err.contains("not running"), "{err}");
}
