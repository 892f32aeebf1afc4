//! bin/start_fe.sh and bin/stop_fe.sh, used the StarRocks way from an installation directory.

use std::fs;
use std::path::Path;
use std::path::PathBuf;
use std::process::Command;

use tessera_testkit::Cluster;
use tessera_testkit::EDIT_LOG_PORT;
use tessera_testkit::ip;
use tessera_testkit::run_with_timeout;
use tessera_testkit::wait_until;

use crate::WAIT;
use crate::phase;

fn repo_bin() -> PathBuf {
    std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../../bin")
}

/// An installation directory `<home>` with bin/ scripts and conf/fe.conf for node `i`.
fn install(c: &Cluster, i: u8) -> PathBuf {
    let home = c.path().join(format!("home{i}"));
    fs::create_dir_all(home.join("bin")).expect("mkdir");
    fs::create_dir_all(home.join("conf")).expect("mkdir");
    for s in ["common.sh", "start_fe.sh", "stop_fe.sh"] {
        fs::copy(repo_bin().join(s), home.join("bin").join(s)).expect("copy script");
    }
    fs::write(
        home.join("conf/fe.conf"),
        format!(
            "meta_dir = ${{STARROCKS_HOME}}/meta\nsys_log_dir = ${{STARROCKS_HOME}}/log\npriority_networks = {}/32\nheartbeat_timeout_second = 1\n",
            ip(i)
        ),
    )
    .expect("write conf");
    home
}

fn script(home: &Path, name: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let mut cmd = Command::new("bash");
    cmd.arg(home.join("bin").join(name))
        .args(args)
        .env("TESSERA_BIN", tessera_testkit::tessera_binary())
        .env_remove("STARROCKS_HOME")
        .env_remove("TESSERA_HOME");
    run_with_timeout(&mut cmd, WAIT)
}

/// Stops (by pid file) every daemon the test started, also when the test fails.
struct StopOnDrop(Vec<PathBuf>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        for home in &self.0 {
            if let Ok(pid) = fs::read_to_string(home.join("bin/fe.pid")) {
                let _ = Command::new("kill").arg("-9").arg(pid.trim()).status();
            }
        }
    }
}

#[test]
fn start_and_stop_scripts_work_like_starrocks() {
    let c = Cluster::new("scripts");
    let home1 = install(&c, 1);
    let _guard = StopOnDrop((1..=3).map(|i| c.path().join(format!("home{i}"))).collect());
    phase!("start_fe.sh --daemon bootstraps the first frontend");
    let (code, out, err) = script(&home1, "start_fe.sh", &["--daemon"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("frontend started"), "{out}");
    c.sql_ok(1, "CREATE DATABASE via_scripts");
    assert!(home1.join("meta/image/VERSION").exists());
    assert!(home1.join("log/fe.log").exists());
    phase!("a second start is refused while it runs");
    let (code, _, err) = script(&home1, "start_fe.sh", &["--daemon"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("Stop it first"), "{err}");
    phase!("a second frontend joins with --helper");
    c.sql_ok(
        1,
        &format!("ALTER SYSTEM ADD FOLLOWER \"{}:{EDIT_LOG_PORT}\"", ip(2)),
    );
    let home2 = install(&c, 2);
    let helper = format!("{}:{EDIT_LOG_PORT}", ip(1));
    let (code, out, err) = script(&home2, "start_fe.sh", &["--helper", &helper, "--daemon"]);
    assert_eq!(code, Some(0), "{out}{err}");
    c.wait_frontend_field(1, 2, "Alive", "true", WAIT);
    phase!("stop_fe.sh stops it; start_fe.sh without --helper brings it back");
    let (code, out, err) = script(&home2, "stop_fe.sh", &[]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(!home2.join("bin/fe.pid").exists());
    let (code, out, err) = script(&home2, "start_fe.sh", &["--daemon"]);
    assert_eq!(code, Some(0), "{out}{err}");
    wait_until(WAIT, "node 2 serves the database", || {
        c.sql(2, "SHOW DATABASES")
            .ok()?
            .first_column()
            .contains(&"via_scripts".to_string())
            .then_some(())
    });
    phase!("a refused join is reported by start_fe.sh --daemon");
    let home3 = install(&c, 3);
    let (code, _, err) = script(&home3, "start_fe.sh", &["--helper", &helper, "--daemon"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("is not added to the cluster"), "{err}");
    phase!("bad options");
    let (code, _, err) = script(&home3, "start_fe.sh", &["--bogus"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("usage"), "{err}");
    for home in [&home1, &home2] {
        let (code, out, err) = script(home, "stop_fe.sh", &[]);
        assert_eq!(code, Some(0), "{out}{err}");
    }
    let (code, _, err) = script(&home1, "stop_fe.sh", &[]);
    assert_eq!(code, Some(1));
    assert!(err.contains("not running"), "{err}");
}
