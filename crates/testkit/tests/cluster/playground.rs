//! The newcomer's first ten minutes, as they run them: `tessera playground` starts a local HA
//! cluster and says how to connect, `tessera load` loads files with a progress line, Ctrl-C
//! stops every process, a second start keeps the data and `--fresh` starts over.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tessera_testkit::{
    Cluster, http_get, mysql, port_open, run_with_timeout, tessera_binary, wait_until,
};

use crate::phase;

/// How long a playground may take to come up on a loaded 2-core machine.
const START: Duration = Duration::from_secs(240);
const READY: &str = "Press Ctrl-C to stop the cluster.";

/// A running `tessera playground`, stopped (and every node it started killed) on drop.
struct Playground {
    child: Option<Child>,
    dir: PathBuf,
    out: Arc<Mutex<String>>,
}

impl Playground {
    fn start(dir: &Path, extra: &[&str]) -> Playground {
        let mut cmd = Command::new(tessera_binary());
        cmd.arg("playground")
            .arg("--dir")
            .arg(dir)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
        let out = Arc::new(Mutex::new(String::new()));
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let out = out.clone();
            std::thread::spawn(move || {
                let mut stream = stream;
                let mut buf = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    if let Ok(mut o) = out.lock() {
                        o.push_str(&String::from_utf8_lossy(buf.get(..n).unwrap_or_default()));
                    }
                }
            });
        }
        let mut p = Playground {
            child: Some(child),
            dir: dir.to_path_buf(),
            out,
        };
        let what = format!("the playground in {} to say it is up", dir.display());
        wait_until(START, &what, || {
            if p.output().contains(READY) {
                return Some(());
            }
            if let Some(c) = p.child.as_mut()
                && let Ok(Some(status)) = c.try_wait()
            {
                panic!(
                    "the playground exited ({status}) before it was up:\n{}",
                    p.output()
                );
            }
            None
        });
        p
    }

    fn output(&self) -> String {
        self.out.lock().map(|o| o.clone()).unwrap_or_default()
    }

    /// The pids in the nodes' pid files.
    fn node_pids(&self) -> Vec<(String, u32)> {
        let mut pids = Vec::new();
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return pids;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            for file in ["fe.pid", "be.pid"] {
                if let Ok(text) = std::fs::read_to_string(e.path().join(file))
                    && let Ok(pid) = text.trim().parse::<u32>()
                {
                    pids.push((name.clone(), pid));
                }
            }
        }
        pids.sort();
        pids
    }

    /// Ctrl-C (SIGINT), then waits for the playground to exit; its exit code.
    fn interrupt(&mut self) -> Option<i32> {
        let child = self.child.as_mut()?;
        let _ = Command::new("kill")
            .arg("-INT")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match child.try_wait() {
                Ok(Some(s)) => {
                    self.child = None;
                    return s.code();
                }
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                _ => panic!("the playground did not stop within 60 s of Ctrl-C"),
            }
        }
    }
}

impl Drop for Playground {
    fn drop(&mut self) {
        let pids = self.node_pids();
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline && matches!(c.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        // Whatever the playground did not stop (it was killed, or the test failed first).
        for (_, pid) in pids {
            if alive(pid) {
                let _ = Command::new("kill")
                    .arg("-KILL")
                    .arg(pid.to_string())
                    .status();
            }
        }
    }
}

/// Whether a process with this pid exists (and is not a zombie).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

fn count(ip: &str, sql: &str) -> String {
    match mysql(ip, 9030, sql) {
        Ok(rows) => rows
            .get(0, rows.columns.first().map(String::as_str).unwrap_or(""))
            .to_owned(),
        Err(e) => panic!("{sql} on {ip}: {e}"),
    }
}

/// `tessera load` with `args`: (exit code, stdout, stderr).
fn load(args: &[&str]) -> (Option<i32>, String, String) {
    let mut cmd = Command::new(tessera_binary());
    cmd.arg("load").args(args);
    run_with_timeout(&mut cmd, Duration::from_secs(120))
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn playground_and_load_from_a_newcomers_terminal() {
    // The testkit lock: the playground uses the same addresses and ports as the cluster tests.
    let c = Cluster::new("playground");
    let dir = c.path().join("pg");

    phase!("first start: the default shape");
    let mut pg = Playground::start(&dir, &[]);
    let summary = pg.output();
    for want in [
        "up: 3 followers, 1 observer and 3 backends",
        "mysql -h 127.0.0.1 -P 9030 -u root",
        "_stream_load",
        "tessera load",
        "http://127.0.0.1:8030/console",
    ] {
        assert!(summary.contains(want), "summary lacks '{want}':\n{summary}");
    }
    let pids = pg.node_pids();
    assert_eq!(pids.len(), 7, "4 frontends and 3 backends: {pids:?}");

    phase!("what the summary points to answers: console, metrics, health");
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-u", "root:", "http://127.0.0.1:8030/console"]);
    let (code, page, err) = run_with_timeout(&mut cmd, Duration::from_secs(30));
    assert_eq!(code, Some(0), "{err}");
    assert!(page.contains("Cluster health"), "{page}");
    for (ip, port, prefix) in [
        ("127.0.0.4", 8030, "starrocks_fe_"),
        ("127.0.0.3", 8040, "starrocks_be_"),
    ] {
        let got = http_get(ip, port, "/metrics", Duration::from_secs(10));
        assert!(
            matches!(&got, Some((200, body)) if body.contains(prefix)),
            "{ip}:{port}/metrics: {got:?}"
        );
        let got = http_get(ip, port, "/api/health", Duration::from_secs(10));
        assert!(
            matches!(&got, Some((200, _))),
            "{ip}:{port}/api/health: {got:?}"
        );
    }

    mysql("127.0.0.1", 9030, "CREATE DATABASE demo").expect("create database");
    mysql(
        "127.0.0.1",
        9030,
        "CREATE TABLE demo.t (k INT, v VARCHAR(20)) DISTRIBUTED BY HASH(k) BUCKETS 3 \
         PROPERTIES (\"replication_num\" = \"3\")",
    )
    .expect("create table");

    phase!("tessera load: a CSV file with a progress line");
    let csv = c.path().join("rows.csv");
    let mut text = String::new();
    for k in 0..60_000 {
        text.push_str(&format!("{k},value-{k}\n"));
    }
    std::fs::write(&csv, &text).expect("write the csv");
    let csv_s = csv.to_string_lossy().to_string();
    let (code, out, err) = load(&[
        &csv_s,
        "--table",
        "demo.t",
        "--label",
        "csv_1",
        "--progress",
        "lines",
    ]);
    assert_eq!(code, Some(0), "stdout: {out}\nstderr: {err}");
    let result = json(&out);
    assert_eq!(result["Status"], "Success", "{out}");
    assert_eq!(result["Label"], "csv_1", "{out}");
    assert_eq!(result["NumberLoadedRows"], 60_000, "{out}");
    let last = err
        .lines()
        .rev()
        .find(|l| l.starts_with("sent "))
        .unwrap_or_default();
    assert!(
        last.contains("(100%)") && last.contains("rows/s") && last.contains("ETA"),
        "the progress line: {err}"
    );

    phase!("tessera load: a JSON array, label made up, through the observer");
    let json_file = c.path().join("rows.json");
    std::fs::write(
        &json_file,
        r#"[{"k": 100000, "v": "json-a"}, {"k": 100001, "v": "json-b"}]"#,
    )
    .expect("write the json");
    let json_s = json_file.to_string_lossy().to_string();
    let (code, out, err) = load(&[&json_s, "--table", "demo.t", "--host", "127.0.0.4:8030"]);
    assert_eq!(code, Some(0), "stdout: {out}\nstderr: {err}");
    assert_eq!(json(&out)["NumberLoadedRows"], 2, "{out}");
    assert!(
        err.contains("label: tessera_load_t_"),
        "the made-up label is shown: {err}"
    );

    phase!("tessera load: refusals and bad input");
    let (code, out, err) = load(&[&csv_s, "--table", "demo.t", "--label", "csv_1"]);
    assert_eq!(code, Some(1), "a used label is refused: {out}\n{err}");
    assert!(
        !err.contains("asking again"),
        "a refusal is not a lost answer: {err}"
    );
    assert_eq!(json(&out)["Status"], "Label Already Exists", "{out}");
    let (code, out, err) = load(&[&csv_s, "--table", "demo.nope"]);
    assert_eq!(code, Some(1), "{out}\n{err}");
    assert!(out.contains("doesn't exist"), "{out}");
    let (code, out, err) = load(&[&csv_s, "--table", "nodb.t"]);
    assert_eq!(code, Some(1), "{out}\n{err}");
    assert!(out.contains("Unknown database 'nodb'"), "{out}");
    let (code, _, err) = load(&[&csv_s, "--table", "nodot"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--table must be db.table"), "{err}");
    let (code, _, err) = load(&["/nonexistent/file.csv", "--table", "demo.t"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("cannot read /nonexistent/file.csv"), "{err}");
    let (code, _, err) = load(&[
        &csv_s,
        "--table",
        "demo.t",
        "--host",
        "127.0.0.1:1",
        "--retries",
        "0",
    ]);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("no answer from the frontend"), "{err}");
    let (code, _, err) = load(&[&csv_s, "--table", "demo.t", "--password", "wrong"]);
    assert_eq!(code, Some(1), "a wrong password is refused: {err}");
    assert_eq!(count("127.0.0.4", "SELECT count(*) FROM demo.t"), "60002");

    phase!("SHOW LOAD: LIKE (contains, as StarRocks's LABEL LIKE), ORDER BY, LIMIT");
    let labels = |sql: &str| -> Vec<String> {
        let rows = mysql("127.0.0.3", 9030, sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows.maps().iter().map(|r| r["Label"].clone()).collect()
    };
    let made_up = labels("SHOW LOAD FROM demo WHERE Label LIKE 'tessera_load%'");
    assert_eq!(made_up.len(), 1, "{made_up:?}");
    assert_eq!(
        labels("SHOW LOAD FROM demo WHERE Label LIKE 'sv'"),
        ["csv_1"]
    );
    assert_eq!(
        labels("SHOW LOAD FROM demo WHERE Label LIKE 'C_v%'"),
        ["csv_1"]
    );
    assert!(labels("SHOW LOAD FROM demo WHERE Label LIKE 'sv_'").is_empty());
    assert_eq!(
        labels("SHOW LOAD FROM demo WHERE Label NOT LIKE 'csv' AND State = 'FINISHED'"),
        made_up
    );
    let mut all = vec!["csv_1".to_owned(), made_up[0].clone()];
    assert_eq!(labels("SHOW LOAD FROM demo ORDER BY Label"), all);
    all.reverse();
    assert_eq!(labels("SHOW LOAD FROM demo ORDER BY Label DESC"), all);
    assert_eq!(
        labels("SHOW LOAD FROM demo ORDER BY Label DESC LIMIT 1, 1"),
        ["csv_1"]
    );
    for bad in [
        "SHOW LOAD FROM demo ORDER BY NoSuchColumn",
        "SHOW LOAD FROM demo WHERE NoSuchColumn LIKE 'x'",
    ] {
        assert!(mysql("127.0.0.1", 9030, bad).is_err(), "{bad}");
    }

    phase!("StarRocks's get_load_state, which tessera load asks before it sends");
    let state = |ip: &str, query: &str, user: &str| {
        let url = format!("http://{ip}:8030/api/demo/get_load_state{query}");
        let mut cmd = Command::new("curl");
        cmd.args(["-s", "-w", "\n%{http_code}", "-u", user, &url]);
        let (code, out, err) = run_with_timeout(&mut cmd, Duration::from_secs(30));
        assert_eq!(code, Some(0), "curl {url}: {err}");
        let (body, status) = out.trim().rsplit_once('\n').unwrap_or(("", out.trim()));
        (status.to_owned(), body.to_owned())
    };
    let (status, body) = state("127.0.0.2", "?label=csv_1", "root:");
    assert_eq!(
        (status.as_str(), json(&body)["data"].as_str()),
        ("200", Some("VISIBLE")),
        "{body}"
    );
    let (_, body) = state("127.0.0.4", "?label=never_used", "root:");
    assert_eq!(json(&body)["data"], "UNKNOWN", "{body}");
    let (status, body) = state("127.0.0.1", "", "root:");
    assert_eq!(status, "400", "no label: {body}");
    let (status, body) = state("127.0.0.1", "?label=csv_1", "root:bad");
    assert_eq!(status, "401", "bad password: {body}");

    phase!("tessera load on a terminal draws a progress bar");
    let tty_csv = c.path().join("tty.csv");
    std::fs::write(&tty_csv, "200001,x\n200002,y\n200003,z\n").expect("write the csv");
    let inner = format!(
        "{} load {} --table demo.t --label tty_1",
        tessera_binary().display(),
        tty_csv.display()
    );
    // `script` runs the loader on a pseudo-terminal, as a user's shell would.
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &inner, "/dev/null"]);
    let (code, out, err) = run_with_timeout(&mut cmd, Duration::from_secs(60));
    assert_eq!(code, Some(0), "stdout: {out}\nstderr: {err}");
    assert!(
        out.contains("rows/s") && out.contains("ETA") && out.contains("\"Status\": \"Success\""),
        "the bar and the result: {out}"
    );
    assert!(
        !out.contains("sent "),
        "a terminal gets the bar, not lines: {out}"
    );

    phase!("Ctrl-C stops every process the playground started");
    let code = pg.interrupt();
    assert_eq!(code, Some(0), "{}", pg.output());
    assert!(
        pg.output().contains("playground stopped"),
        "{}",
        pg.output()
    );
    for (name, pid) in &pids {
        assert!(!alive(*pid), "{name} (pid {pid}) still runs after Ctrl-C");
    }
    for i in 1..=4 {
        assert!(
            !port_open(&format!("127.0.0.{i}"), 9030),
            "fe{i} still listens"
        );
    }
    drop(pg);

    phase!("a second start reuses the data");
    let mut pg = Playground::start(&dir, &[]);
    assert_eq!(count("127.0.0.2", "SELECT count(*) FROM demo.t"), "60005");
    assert_eq!(pg.interrupt(), Some(0), "{}", pg.output());
    drop(pg);

    phase!("a different shape is refused without --fresh; --fresh starts over");
    let mut cmd = Command::new(tessera_binary());
    cmd.args([
        "playground",
        "--followers",
        "1",
        "--observers",
        "0",
        "--backends",
        "1",
        "--dir",
    ])
    .arg(&dir);
    let (code, out, err) = run_with_timeout(&mut cmd, Duration::from_secs(60));
    assert_eq!(code, Some(2), "stdout: {out}\nstderr: {err}");
    assert!(
        format!("{out}{err}").contains("--fresh"),
        "stdout: {out}\nstderr: {err}"
    );
    let mut pg = Playground::start(
        &dir,
        &[
            "--fresh",
            "--followers",
            "1",
            "--observers",
            "0",
            "--backends",
            "1",
        ],
    );
    let dbs = mysql("127.0.0.1", 9030, "SHOW DATABASES").expect("show databases");
    assert!(
        !dbs.first_column().iter().any(|d| d == "demo"),
        "--fresh starts over: {:?}",
        dbs.first_column()
    );
    assert_eq!(pg.node_pids().len(), 2, "1 frontend and 1 backend");
    assert_eq!(pg.interrupt(), Some(0), "{}", pg.output());
}
