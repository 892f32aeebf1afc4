//! Test harness: real clusters of the `tessera` binary, one node per loopback address.
//!
//! Node `i` runs on `127.0.0.i` with StarRocks's default ports, as if every node had a machine
//! of its own. Frontend `i` and backend `i` are independent processes that may share the
//! address (their ports differ): `fe<i>/` and `be<i>/` in the cluster directory. Clients are real: statements go through the `mysql` command-line client
//! (Debian's mariadb-client), exactly as a user would send them.
//!
//! Rules the harness enforces:
//! - one cluster at a time on this machine (a file lock), because every cluster uses the same
//!   addresses and ports;
//! - every wait has a deadline ([`wait_until`]); there are no bare sleeps in tests;
//! - every process a test starts is killed by pid when the [`Cluster`] is dropped, and when a
//!   test fails the tail of every node's log is printed.

pub mod chaos;
pub mod netns;
pub mod slt;

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::net::SocketAddr;
use std::net::TcpStream;
use std::path::Path;
use std::path::PathBuf;
use std::process::Child;
use std::process::Command;
use std::process::Stdio;
use std::time::Duration;
use std::time::Instant;

/// The first three octets of the test addresses (override with `TESSERA_TEST_NET`).
pub fn test_net() -> String {
    std::env::var("TESSERA_TEST_NET").unwrap_or_else(|_| "127.0.0".to_string())
}

/// The address of node `i`.
pub fn ip(i: u8) -> String {
    format!("{}.{i}", test_net())
}

/// Where the `tessera` binary is: `TESSERA_BIN`, or next to the test executable's directory
/// (`target/<profile>/tessera`).
pub fn tessera_binary() -> PathBuf {
    if let Ok(p) = std::env::var("TESSERA_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("the test knows its own path");
    // Test binaries live in target/<profile>/deps, tools (tessera-chaos) in target/<profile>.
    let beside = exe.parent().map(|d| d.join("tessera"));
    if let Some(b) = beside.filter(|b| b.exists()) {
        return b;
    }
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binaries live in target/<profile>/deps");
    let bin = profile_dir.join("tessera");
    assert!(
        bin.exists(),
        "{} does not exist: build it first with `cargo build -p tessera` (or set TESSERA_BIN)",
        bin.display()
    );
    bin
}

/// Polls `f` every 50 ms until it returns `Some`, or panics with `what` after `timeout`.
pub fn wait_until<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for: {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A MySQL error as the `mysql` client printed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MysqlError {
    /// The MySQL error number (0 when the client failed without one, e.g. cannot connect).
    pub code: u16,
    /// The message.
    pub message: String,
}

impl std::fmt::Display for MysqlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ERROR {}: {}", self.code, self.message)
    }
}

/// A result set as text (NULL is the string `NULL`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rows {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows.
    pub rows: Vec<Vec<String>>,
}

impl Rows {
    fn parse(lines: &[&str]) -> Rows {
        let mut it = lines.iter();
        let Some(header) = it.next() else {
            return Rows::default();
        };
        Rows {
            columns: header.split('\t').map(str::to_string).collect(),
            rows: it
                .map(|l| l.split('\t').map(str::to_string).collect())
                .collect(),
        }
    }

    /// The value of `column` in row `row`.
    pub fn get(&self, row: usize, column: &str) -> &str {
        let c = self
            .columns
            .iter()
            .position(|c| c == column)
            .unwrap_or_else(|| panic!("no column {column} in {:?}", self.columns));
        &self.rows[row][c]
    }

    /// Every row as a map from column name to value.
    pub fn maps(&self) -> Vec<BTreeMap<String, String>> {
        self.rows
            .iter()
            .map(|r| {
                self.columns
                    .iter()
                    .cloned()
                    .zip(r.iter().cloned())
                    .collect()
            })
            .collect()
    }

    /// The first column of every row.
    pub fn first_column(&self) -> Vec<String> {
        self.rows
            .iter()
            .filter_map(|r| r.first().cloned())
            .collect()
    }
}

fn parse_mysql_error(stderr: &str) -> MysqlError {
    // "ERROR 1045 (28000): Access denied ..." or "ERROR 1064 (HY000) at line 1: msg"
    for line in stderr.lines() {
        let Some(rest) = line.trim().strip_prefix("ERROR ") else {
            continue;
        };
        let code: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        let message = rest.split_once(": ").map(|(_, m)| m).unwrap_or(rest);
        return MysqlError {
            code: code.parse().unwrap_or(0),
            message: message.to_string(),
        };
    }
    MysqlError {
        code: 0,
        message: stderr.trim().to_string(),
    }
}

/// Runs a command with a deadline; returns (exit code, stdout, stderr).
pub fn run_with_timeout(cmd: &mut Command, timeout: Duration) -> (Option<i32>, String, String) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s.code(),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    (
        status,
        out_reader.join().unwrap_or_default(),
        err_reader.join().unwrap_or_default(),
    )
}

/// Runs statements through the `mysql` CLI on one connection; returns one result per
/// statement run (the client stops at the first error, which is the last element).
pub fn mysql_session(
    addr_ip: &str,
    port: u16,
    user: &str,
    password: &str,
    statements: &[&str],
) -> Vec<Result<Rows, MysqlError>> {
    const MARK: &str = "~~tessera-testkit~~";
    let mut script = String::new();
    for s in statements {
        script.push_str(s);
        script.push_str(&format!(";\nSELECT '{MARK}';\n"));
    }
    let mut cmd = Command::new("mysql");
    cmd.args([
        "-h",
        addr_ip,
        "-P",
        &port.to_string(),
        "-u",
        user,
        "--batch",
        "--raw",
        "--connect-timeout=5",
        "-e",
        &script,
    ]);
    if !password.is_empty() {
        cmd.arg(format!("-p{password}"));
    }
    let (code, out, err) = run_with_timeout(&mut cmd, Duration::from_secs(120));
    let lines: Vec<&str> = out.lines().collect();
    let mut results = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i] == MARK && lines.get(i + 1) == Some(&MARK) {
            results.push(Ok(Rows::parse(&current)));
            current.clear();
            i += 2;
            continue;
        }
        current.push(lines[i]);
        i += 1;
    }
    if code != Some(0) || results.len() < statements.len() {
        let e = if code.is_none() {
            MysqlError {
                code: 0,
                message: "the mysql client timed out".into(),
            }
        } else {
            parse_mysql_error(&err)
        };
        results.push(Err(e));
    }
    results
}

/// One statement through the `mysql` CLI as root.
pub fn mysql(addr_ip: &str, port: u16, sql: &str) -> Result<Rows, MysqlError> {
    mysql_session(addr_ip, port, "root", "", &[sql])
        .pop()
        .unwrap_or_else(|| {
            Err(MysqlError {
                code: 0,
                message: "no result".into(),
            })
        })
}

/// Whether something accepts TCP connections on `ip:port`.
pub fn port_open(ip: &str, port: u16) -> bool {
    let addr: SocketAddr = match format!("{ip}:{port}").parse() {
        Ok(a) => a,
        Err(_) => return false,
    };
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

/// The default FE ports.
pub const EDIT_LOG_PORT: u16 = 9010;
/// The MySQL port.
pub const QUERY_PORT: u16 = 9030;
/// The HTTP port.
pub const HTTP_PORT: u16 = 8030;
/// The backend's agent-task port.
pub const BE_PORT: u16 = 9060;
/// The backend's heartbeat port (the one `ALTER SYSTEM ADD BACKEND` names).
pub const HEARTBEAT_SERVICE_PORT: u16 = 9050;
/// The backend's HTTP port.
pub const BE_HTTP_PORT: u16 = 8040;
/// The backend's BE-to-BE port.
pub const BRPC_PORT: u16 = 8060;

/// A plain `GET path` over HTTP/1.1 (no TLS, no redirects): the status code and the body, or
/// `None` when nothing answers within `timeout`.
pub fn http_get(ip: &str, port: u16, path: &str, timeout: Duration) -> Option<(u16, String)> {
    http_request("GET", ip, port, path, timeout)
}

/// A bodiless `method path` over HTTP/1.1 as `root` with an empty password (HTTP Basic): the
/// status code and the body, or `None` when nothing answers within `timeout`.
pub fn http_request(
    method: &str,
    ip: &str,
    port: u16,
    path: &str,
    timeout: Duration,
) -> Option<(u16, String)> {
    http_request_as(method, ip, port, path, Some("root:"), timeout)
}

/// A bodiless `method path` over HTTP/1.1 with HTTP Basic `user:password` credentials (none
/// when `None`): the status code and the body, or `None` when nothing answers in `timeout`.
pub fn http_request_as(
    method: &str,
    ip: &str,
    port: u16,
    path: &str,
    credentials: Option<&str>,
    timeout: Duration,
) -> Option<(u16, String)> {
    use base64::Engine;
    use std::io::Write;
    let auth = credentials
        .map(|c| {
            format!(
                "Authorization: Basic {}\r\n",
                base64::engine::general_purpose::STANDARD.encode(c)
            )
        })
        .unwrap_or_default();
    let addr: SocketAddr = format!("{ip}:{port}").parse().ok()?;
    let mut s = TcpStream::connect_timeout(&addr, timeout).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    s.set_write_timeout(Some(timeout)).ok()?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {ip}:{port}\r\n{auth}Content-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    });
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Some((status, body))
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}

/// Sends SIGTERM and waits up to 20 s for the child to exit (then SIGKILL).
fn terminate(c: &mut Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(c.id().to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(Some(_)) = c.try_wait() {
            return;
        }
        if Instant::now() > deadline {
            let _ = c.kill();
            let _ = c.wait();
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Makes the child get SIGKILL when the test thread that started it dies, so that a test
/// killed mid-way (a timeout, a closed pipe) leaves no node running.
pub fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl(PR_SET_PDEATHSIG) is async-signal-safe and touches no memory of the parent.
    #[allow(unsafe_code)]
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// A frontend or backend process of a test cluster.
pub struct Node {
    /// Its directory (conf, meta or storage, log).
    pub dir: PathBuf,
    child: Option<Child>,
}

/// A test cluster: frontends and backends on 127.0.0.1, .2, ... with one directory each.
pub struct Cluster {
    dir: tempfile::TempDir,
    nodes: BTreeMap<u8, Node>,
    bes: BTreeMap<u8, Node>,
    _lock: fs::File,
    /// Config lines every frontend gets.
    pub base_conf: Vec<(String, String)>,
    /// Config lines every backend gets.
    pub be_base_conf: Vec<(String, String)>,
    /// The network namespaces, when the nodes run in their own (see [`Cluster::new_netns`]).
    pub net: Option<netns::Net>,
    /// tmpfs mounts to undo on drop.
    mounts: Vec<PathBuf>,
    /// root's password, for the helpers that connect as root (empty on a new cluster).
    pub root_password: String,
    /// The CA that signed the backends' certificate when they serve HTTPS (`enable_https`):
    /// [`Cluster::be_health`] then asks `https://` through `curl --cacert`.
    pub https_ca: Option<PathBuf>,
}

impl Cluster {
    /// Takes the machine-wide test lock and prepares an empty cluster directory.
    pub fn new(name: &str) -> Cluster {
        let lock_path = std::env::temp_dir().join("tessera-testkit.lock");
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .expect("open the testkit lock");
        lock.lock().expect("take the testkit lock");
        for i in 1..=6 {
            for port in [
                QUERY_PORT,
                EDIT_LOG_PORT,
                HEARTBEAT_SERVICE_PORT,
                BE_PORT,
                BE_HTTP_PORT,
                BRPC_PORT,
            ] {
                assert!(
                    !port_open(&ip(i), port),
                    "{}:{port} is already in use (a playground or a leftover process?); stop it \
                     before running the cluster tests",
                    ip(i)
                );
            }
        }
        let dir = tempfile::Builder::new()
            .prefix(&format!("tessera-{name}-"))
            .tempdir()
            .expect("create the cluster dir");
        Cluster {
            dir,
            nodes: BTreeMap::new(),
            bes: BTreeMap::new(),
            _lock: lock,
            base_conf: vec![
                ("heartbeat_timeout_second".into(), "1".into()),
                ("heartbeat_retry_times".into(), "1".into()),
                ("sys_log_level".into(), "INFO".into()),
            ],
            be_base_conf: vec![("sys_log_level".into(), "INFO".into())],
            net: None,
            mounts: Vec::new(),
            root_password: String::new(),
            https_ca: None,
        }
    }

    /// Like [`Cluster::new`], with every node in a network namespace of its own (frontend `i`
    /// at `10.213.0.i`, backend `i` at `10.213.0.(100+i)`, see [`netns`]); the calling thread
    /// moves into the clients' namespace, so its statements reach the nodes. `Err` when
    /// namespaces cannot be used here (not root, `ip` or `nft` missing).
    pub fn new_netns(name: &str, frontends: u8, backends: u8) -> Result<Cluster, String> {
        let mut c = Cluster::new(name);
        let mut hosts: Vec<(String, u8)> = Vec::new();
        for i in 1..=frontends {
            hosts.push((format!("fe{i}"), i));
        }
        for i in 1..=backends {
            hosts.push((format!("be{i}"), 100 + i));
        }
        let refs: Vec<(&str, u8)> = hosts.iter().map(|(h, o)| (h.as_str(), *o)).collect();
        let mut net = netns::Net::create(&refs)?;
        net.enter_clients()?;
        c.net = Some(net);
        Ok(c)
    }

    /// The address of frontend `i`.
    pub fn fe_ip(&self, i: u8) -> String {
        match &self.net {
            Some(n) => n.addr(&format!("fe{i}")),
            None => ip(i),
        }
    }

    /// The address of backend `i`.
    pub fn be_ip(&self, i: u8) -> String {
        match &self.net {
            Some(n) => n.addr(&format!("be{i}")),
            None => ip(i),
        }
    }

    /// The network namespaces (panics on a loopback cluster).
    pub fn net(&mut self) -> &mut netns::Net {
        self.net
            .as_mut()
            .expect("this cluster was not started with Cluster::new_netns")
    }

    /// Mounts a tmpfs of `size_mb` MiB on `dir` (created if missing), unmounted on drop: a
    /// small disk that fills up.
    pub fn mount_tmpfs(&mut self, dir: &Path, size_mb: u64) -> Result<(), String> {
        fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mb}m"), "tmpfs"])
            .arg(dir)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount tmpfs on {} failed: {}",
                dir.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        self.mounts.push(dir.to_path_buf());
        Ok(())
    }

    /// The pid of frontend `i`, when running.
    pub fn fe_pid(&self, i: u8) -> Option<u32> {
        self.nodes
            .get(&i)
            .and_then(|n| n.child.as_ref())
            .map(Child::id)
    }

    /// The pid of backend `i`, when running.
    pub fn be_pid(&self, i: u8) -> Option<u32> {
        self.bes
            .get(&i)
            .and_then(|n| n.child.as_ref())
            .map(Child::id)
    }

    /// Runs the child in `host`'s namespace when the cluster has namespaces.
    fn place(&self, cmd: &mut Command, host: &str) {
        use std::os::fd::AsRawFd;
        use std::os::unix::process::CommandExt;
        let Some(net) = &self.net else {
            return;
        };
        let f = net
            .namespace_file(host)
            .unwrap_or_else(|e| panic!("namespace of {host}: {e}"));
        // SAFETY: setns is async-signal-safe; the file stays open in the closure until exec.
        #[allow(unsafe_code)]
        unsafe {
            cmd.pre_exec(move || {
                if libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }

    /// The cluster's directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The directory of node `i`.
    pub fn node_dir(&self, i: u8) -> PathBuf {
        self.dir.path().join(format!("fe{i}"))
    }

    /// Writes node `i`'s fe.conf: the base lines, its address, and `extra`.
    pub fn write_conf(&self, i: u8, extra: &[(&str, &str)]) {
        let dir = self.node_dir(i);
        fs::create_dir_all(dir.join("conf")).expect("create conf dir");
        let mut text = format!(
            "# test node {i}\npriority_networks = {}/32\nmeta_dir = {}\n",
            self.fe_ip(i),
            dir.join("meta").display()
        );
        for (k, v) in &self.base_conf {
            text.push_str(&format!("{k} = {v}\n"));
        }
        for (k, v) in extra {
            text.push_str(&format!("{k} = {v}\n"));
        }
        fs::write(dir.join("conf/fe.conf"), text).expect("write fe.conf");
    }

    fn spawn(&mut self, i: u8, helper: Option<u8>) -> Child {
        let dir = self.node_dir(i);
        if !dir.join("conf/fe.conf").exists() {
            self.write_conf(i, &[]);
        }
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("fe.log"))
            .expect("open the node log");
        let mut cmd = Command::new(tessera_binary());
        cmd.arg("fe")
            .arg("--conf")
            .arg(dir.join("conf/fe.conf"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log handle"))
            .stderr(log);
        if let Some(h) = helper {
            cmd.arg("--helper")
                .arg(format!("{}:{EDIT_LOG_PORT}", self.fe_ip(h)));
        }
        die_with_parent(&mut cmd);
        self.place(&mut cmd, &format!("fe{i}"));
        cmd.spawn().expect("spawn tessera fe")
    }

    /// Starts node `i` (joining through `helper` when given) and waits until it serves MySQL.
    pub fn start_fe(&mut self, i: u8, helper: Option<u8>) {
        if self.nodes.get(&i).is_some_and(|n| n.child.is_some()) {
            panic!("node {i} is already running");
        }
        let mut child = self.spawn(i, helper);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "node {i} exited ({status}) while starting:\n{}",
                    self.log_tail(i, 30)
                );
            }
            // The ports are bound early in start-up; the node is ready when it answers SQL.
            if port_open(&self.fe_ip(i), QUERY_PORT)
                && mysql_session(
                    &self.fe_ip(i),
                    QUERY_PORT,
                    "root",
                    &self.root_password,
                    &["SELECT 1"],
                )
                .pop()
                .is_some_and(|r| r.is_ok())
            {
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "node {i} did not answer SQL within 60 s:\n{}",
                    self.log_tail(i, 30)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.nodes.insert(
            i,
            Node {
                dir: self.node_dir(i),
                child: Some(child),
            },
        );
    }

    /// Starts node `i` expecting it to refuse to start; returns its exit code and output.
    pub fn start_fe_expect_exit(&mut self, i: u8, helper: Option<u8>) -> (i32, String) {
        let before = fs::read_to_string(self.node_dir(i).join("fe.log")).unwrap_or_default();
        let mut child = self.spawn(i, helper);
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Ok(Some(status)) = child.try_wait() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "node {i} kept running but was expected to refuse to start:\n{}",
                    self.log_tail(i, 30)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let after = fs::read_to_string(self.node_dir(i).join("fe.log")).unwrap_or_default();
        (
            status.code().unwrap_or(-1),
            after[before.len().min(after.len())..].to_string(),
        )
    }

    /// Kills node `i` with SIGKILL and reaps it.
    pub fn kill(&mut self, i: u8) {
        if let Some(mut c) = self.nodes.get_mut(&i).and_then(|n| n.child.take()) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops node `i` with SIGTERM, waiting up to 20 s (then SIGKILL).
    pub fn stop(&mut self, i: u8) {
        if let Some(mut c) = self.nodes.get_mut(&i).and_then(|n| n.child.take()) {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
                if Instant::now() > deadline {
                    let _ = c.kill();
                    let _ = c.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Sends a signal (e.g. "STOP", "CONT") to node `i`.
    pub fn signal(&self, i: u8, sig: &str) {
        if let Some(c) = self.nodes.get(&i).and_then(|n| n.child.as_ref()) {
            let _ = Command::new("kill")
                .arg(format!("-{sig}"))
                .arg(c.id().to_string())
                .status();
        }
    }

    /// Whether node `i`'s process is running.
    pub fn is_running(&mut self, i: u8) -> bool {
        match self.nodes.get_mut(&i).and_then(|n| n.child.as_mut()) {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Waits (bounded) for node `i` to exit by itself; returns its exit code.
    pub fn wait_exit(&mut self, i: u8, timeout: Duration) -> i32 {
        let child = self
            .nodes
            .get_mut(&i)
            .and_then(|n| n.child.as_mut())
            .unwrap_or_else(|| panic!("node {i} is not running"));
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(s)) = child.try_wait() {
                let code = s.code().unwrap_or(-1);
                if let Some(n) = self.nodes.get_mut(&i) {
                    n.child = None;
                }
                return code;
            }
            if Instant::now() > deadline {
                panic!(
                    "node {i} did not exit within {timeout:?}:\n{}",
                    self.log_tail(i, 30)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// One statement on node `i`.
    pub fn sql(&self, i: u8, sql: &str) -> Result<Rows, MysqlError> {
        mysql_session(
            &self.fe_ip(i),
            QUERY_PORT,
            "root",
            &self.root_password,
            &[sql],
        )
        .pop()
        .unwrap_or_else(|| {
            Err(MysqlError {
                code: 0,
                message: "no result".into(),
            })
        })
    }

    /// One statement on node `i` that must succeed.
    pub fn sql_ok(&self, i: u8, sql: &str) -> Rows {
        self.sql(i, sql)
            .unwrap_or_else(|e| panic!("`{sql}` on node {i} failed: {e}"))
    }

    /// Several statements on one connection to node `i`.
    pub fn session(&self, i: u8, statements: &[&str]) -> Vec<Result<Rows, MysqlError>> {
        mysql_session(
            &self.fe_ip(i),
            QUERY_PORT,
            "root",
            &self.root_password,
            statements,
        )
    }

    /// `SHOW FRONTENDS` on node `i`, keyed by IP.
    pub fn frontends(
        &self,
        i: u8,
    ) -> Result<BTreeMap<String, BTreeMap<String, String>>, MysqlError> {
        let rows = self.sql(i, "SHOW FRONTENDS")?;
        Ok(rows
            .maps()
            .into_iter()
            .map(|m| (m.get("IP").cloned().unwrap_or_default(), m))
            .collect())
    }

    /// The node index of the leader according to node `asked`, if any.
    pub fn leader_seen_by(&self, asked: u8) -> Option<u8> {
        let fes = self.frontends(asked).ok()?;
        let (ip, _) = fes
            .iter()
            .find(|(_, m)| m.get("IsMaster").map(String::as_str) == Some("true"))?;
        ip.rsplit('.').next()?.parse().ok()
    }

    /// Waits until every running node agrees on one leader, and returns it.
    pub fn wait_leader(&mut self, timeout: Duration) -> u8 {
        let running: Vec<u8> = self.running_nodes();
        wait_until(timeout, "all running nodes to agree on one leader", || {
            let mut seen = None;
            for &i in &running {
                let l = self.leader_seen_by(i)?;
                if !running.contains(&l) {
                    return None;
                }
                if seen.is_some_and(|s| s != l) {
                    return None;
                }
                seen = Some(l);
            }
            seen
        })
    }

    /// Nodes whose process is running.
    pub fn running_nodes(&mut self) -> Vec<u8> {
        let ids: Vec<u8> = self.nodes.keys().copied().collect();
        ids.into_iter().filter(|i| self.is_running(*i)).collect()
    }

    /// Waits until `SHOW FRONTENDS` on node `asked` shows node `target` with `column` = `value`.
    pub fn wait_frontend_field(
        &self,
        asked: u8,
        target: u8,
        column: &str,
        value: &str,
        timeout: Duration,
    ) {
        let ip_t = self.fe_ip(target);
        wait_until(
            timeout,
            &format!("node {asked} to show node {target} with {column} = {value}"),
            || {
                let fes = self.frontends(asked).ok()?;
                (fes.get(&ip_t)?.get(column)? == value).then_some(())
            },
        );
    }

    /// The last `n` lines of node `i`'s log.
    pub fn log_tail(&self, i: u8, n: usize) -> String {
        let text = fs::read_to_string(self.node_dir(i).join("fe.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Node `i`'s whole log.
    pub fn log(&self, i: u8) -> String {
        fs::read_to_string(self.node_dir(i).join("fe.log")).unwrap_or_default()
    }

    /// The directory of backend `i` (conf, storage, log).
    pub fn be_dir(&self, i: u8) -> PathBuf {
        self.dir.path().join(format!("be{i}"))
    }

    /// Writes backend `i`'s be.conf: its address, storage root and log dir, the base lines,
    /// and `extra` (later lines win).
    pub fn write_be_conf(&self, i: u8, extra: &[(&str, &str)]) {
        let dir = self.be_dir(i);
        fs::create_dir_all(dir.join("conf")).expect("create conf dir");
        let mut text = format!(
            "# test backend {i}\npriority_networks = {}/32\nstorage_root_path = {}\nsys_log_dir = {}\n",
            self.be_ip(i),
            dir.join("storage").display(),
            dir.join("log").display()
        );
        for (k, v) in &self.be_base_conf {
            text.push_str(&format!("{k} = {v}\n"));
        }
        for (k, v) in extra {
            text.push_str(&format!("{k} = {v}\n"));
        }
        fs::write(dir.join("conf/be.conf"), text).expect("write be.conf");
    }

    fn spawn_be(&mut self, i: u8) -> Child {
        let dir = self.be_dir(i);
        if !dir.join("conf/be.conf").exists() {
            self.write_be_conf(i, &[]);
        }
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("be.log"))
            .expect("open the backend log");
        let mut cmd = Command::new(tessera_binary());
        cmd.arg("be")
            .arg("--conf")
            .arg(dir.join("conf/be.conf"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log handle"))
            .stderr(log);
        die_with_parent(&mut cmd);
        self.place(&mut cmd, &format!("be{i}"));
        cmd.spawn().expect("spawn tessera be")
    }

    /// `GET /api/health` on backend `i`: the body when it answers 200.
    pub fn be_health(&self, i: u8) -> Option<String> {
        if let Some(ca) = &self.https_ca {
            let mut cmd = Command::new("curl");
            cmd.args(["-sS", "--max-time", "2", "-w", "\n%{http_code}", "--cacert"])
                .arg(ca)
                .arg(format!(
                    "https://{}:{BE_HTTP_PORT}/api/health",
                    self.be_ip(i)
                ));
            let (code, out, _) = run_with_timeout(&mut cmd, Duration::from_secs(5));
            let (body, status) = out.rsplit_once('\n')?;
            return (code == Some(0) && status == "200").then(|| body.to_string());
        }
        match http_get(
            &self.be_ip(i),
            BE_HTTP_PORT,
            "/api/health",
            Duration::from_secs(2),
        ) {
            Some((200, body)) => Some(body),
            _ => None,
        }
    }

    /// Starts backend `i` and waits until its `/api/health` answers 200.
    pub fn start_be(&mut self, i: u8) {
        if self.bes.get(&i).is_some_and(|n| n.child.is_some()) {
            panic!("backend {i} is already running");
        }
        let mut child = self.spawn_be(i);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "backend {i} exited ({status}) while starting:\n{}",
                    self.be_log_tail(i, 30)
                );
            }
            if self.be_health(i).is_some() {
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "backend {i} did not answer /api/health within 60 s:\n{}",
                    self.be_log_tail(i, 30)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.bes.insert(
            i,
            Node {
                dir: self.be_dir(i),
                child: Some(child),
            },
        );
    }

    /// Starts backend `i` expecting it to refuse to start; returns its exit code and what it
    /// wrote to its log during this attempt.
    pub fn start_be_expect_exit(&mut self, i: u8) -> (i32, String) {
        let log_path = self.be_dir(i).join("be.log");
        let before = fs::read_to_string(&log_path).unwrap_or_default();
        let mut child = self.spawn_be(i);
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Ok(Some(status)) = child.try_wait() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "backend {i} kept running but was expected to refuse to start:\n{}",
                    self.be_log_tail(i, 30)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let after = fs::read_to_string(&log_path).unwrap_or_default();
        (
            status.code().unwrap_or(-1),
            after[before.len().min(after.len())..].to_string(),
        )
    }

    /// Kills backend `i` with SIGKILL and reaps it.
    pub fn kill_be(&mut self, i: u8) {
        if let Some(mut c) = self.bes.get_mut(&i).and_then(|n| n.child.take()) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops backend `i` with SIGTERM, waiting up to 20 s (then SIGKILL).
    pub fn stop_be(&mut self, i: u8) {
        if let Some(mut c) = self.bes.get_mut(&i).and_then(|n| n.child.take()) {
            terminate(&mut c);
        }
    }

    /// Whether backend `i`'s process is running.
    pub fn is_be_running(&mut self, i: u8) -> bool {
        match self.bes.get_mut(&i).and_then(|n| n.child.as_mut()) {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Backend `i`'s whole log.
    pub fn be_log(&self, i: u8) -> String {
        fs::read_to_string(self.be_dir(i).join("be.log")).unwrap_or_default()
    }

    /// The last `n` lines of backend `i`'s log.
    pub fn be_log_tail(&self, i: u8, n: usize) -> String {
        let text = self.be_log(i);
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Starts a cluster of `followers` followers and `observers` observers (nodes 1.. in that
    /// order) and waits until all are alive and voting.
    pub fn start_ha(&mut self, followers: u8, observers: u8) {
        self.start_fe(1, None);
        for i in 2..=followers + observers {
            let role = if i <= followers {
                "FOLLOWER"
            } else {
                "OBSERVER"
            };
            self.sql_ok(
                1,
                &format!(
                    "ALTER SYSTEM ADD {role} \"{}:{EDIT_LOG_PORT}\"",
                    self.fe_ip(i)
                ),
            );
            self.start_fe(i, Some(1));
        }
        self.wait_healthy(followers + observers, Duration::from_secs(60));
    }

    /// Waits until node 1..=n all show as Alive with no ErrMsg on every running node.
    pub fn wait_healthy(&mut self, n: u8, timeout: Duration) {
        let running = self.running_nodes();
        wait_until(
            timeout,
            &format!("{n} frontends alive, caught up and agreed"),
            || {
                for &asked in &running {
                    let fes = self.frontends(asked).ok()?;
                    if fes.len() != n as usize {
                        return None;
                    }
                    let ok = fes.values().all(|m| {
                        m.get("Alive").map(String::as_str) == Some("true")
                            && m.get("ErrMsg").map(String::as_str) == Some("")
                    });
                    let leaders = fes
                        .values()
                        .filter(|m| m.get("IsMaster").map(String::as_str) == Some("true"))
                        .count();
                    if !ok || leaders != 1 {
                        return None;
                    }
                }
                Some(())
            },
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let panicking = std::thread::panicking();
        let ids: Vec<u8> = self.nodes.keys().copied().collect();
        let be_ids: Vec<u8> = self.bes.keys().copied().collect();
        for node in self.nodes.values_mut().chain(self.bes.values_mut()) {
            if let Some(mut c) = node.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        for m in self.mounts.drain(..) {
            let _ = Command::new("umount").arg("-l").arg(&m).status();
        }
        // The namespaces go before the lock does (fields drop after this body, the lock
        // first): the next cluster must not create them while these are being removed.
        drop(self.net.take());
        if panicking {
            for i in ids {
                eprintln!(
                    "----- node {i} ({}) log tail -----\n{}",
                    self.fe_ip(i),
                    self.log_tail(i, 60)
                );
            }
            for i in be_ids {
                eprintln!(
                    "----- backend {i} ({}) log tail -----\n{}",
                    self.be_ip(i),
                    self.be_log_tail(i, 60)
                );
            }
        }
    }
}
