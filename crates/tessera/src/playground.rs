//! `tessera playground`: a local HA cluster of frontends in one command.
//!
//! Node i (1-based, followers first, then observers) runs as a child process
//! on 127.0.0.i with StarRocks's default ports, one "machine" per loopback
//! address, from its own home `<dir>/fe<i>/`:
//!
//! ```text
//! <dir>/playground.conf        the cluster's shape (followers, observers)
//! <dir>/fe<i>/conf/fe.conf     generated once: priority_networks = 127.0.0.i/32, ...
//! <dir>/fe<i>/meta/            meta_dir (image/ROLE appears after the first start)
//! <dir>/fe<i>/log/fe.log       the child's stdout and stderr, appended
//! <dir>/fe<i>/fe.pid           while the child runs
//! ```
//!
//! Start-up: fe1 plus every node that already has meta start without a
//! helper; once fe1 answers `SELECT 1`, each node without meta is added with
//! `ALTER SYSTEM ADD FOLLOWER|OBSERVER` and started with `--helper
//! 127.0.0.1:9010`; then `SHOW FRONTENDS` must show every node alive and one
//! leader. Every wait has a deadline; Ctrl-C (or SIGTERM) at any point stops
//! all children (SIGTERM, then SIGKILL after 10 s).

use std::fmt::Write as _;
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use mysql::client::{Client, ClientError, QueryResult};
use tokio::process::{Child, Command};
use tokio::sync::watch;

/// Playground options.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Number of FOLLOWER frontends (voters); at least 1, odd numbers tolerate failures best.
    #[arg(long, default_value_t = 3)]
    followers: usize,
    /// Number of OBSERVER frontends (non-voting replicas).
    #[arg(long, default_value_t = 1)]
    observers: usize,
    /// Directory holding every node's config, meta and logs; reused by the next run.
    #[arg(long, default_value = "./playground")]
    dir: PathBuf,
    /// Delete the directory first and start a brand-new cluster.
    #[arg(long)]
    fresh: bool,
    /// The tessera binary to run the nodes with (default: this executable).
    #[arg(long)]
    binary: Option<PathBuf>,
}

/// Most nodes in one playground: 127.0.0.1 to 127.0.0.9.
const MAX_NODES: usize = 9;

/// StarRocks's default frontend ports, the same on every node.
const EDIT_LOG_PORT: u16 = 9010;
const HTTP_PORT: u16 = 8030;
const RPC_PORT: u16 = 9020;
const QUERY_PORT: u16 = 9030;
const PORTS: [(&str, u16); 4] = [
    ("edit_log_port", EDIT_LOG_PORT),
    ("http_port", HTTP_PORT),
    ("rpc_port", RPC_PORT),
    ("query_port", QUERY_PORT),
];

/// How long fe1 may take to answer `SELECT 1`.
const FIRST_NODE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long adding one node with ALTER SYSTEM may keep failing (e.g. while a
/// leader is being elected) before the playground gives up.
const ADD_NODE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the whole cluster may take to show every node alive.
const CLUSTER_TIMEOUT: Duration = Duration::from_secs(120);
/// Bound on one connect and on one statement while polling.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(15);
/// Pause between polls.
const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// How long a stopping child gets after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// Lines of a node's log shown when it fails.
const LOG_TAIL_LINES: usize = 25;

const LAYOUT_FILE: &str = "playground.conf";
const HELPER: &str = "127.0.0.1:9010";

/// A frontend's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Follower,
    Observer,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::Follower => "FOLLOWER",
            Role::Observer => "OBSERVER",
        }
    }
}

/// One node of the playground.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Node {
    /// 1-based; the node runs on 127.0.0.<index>.
    index: u8,
    role: Role,
    /// `<dir>/fe<index>`, the node's STARROCKS_HOME.
    home: PathBuf,
}

impl Node {
    fn name(&self) -> String {
        format!("fe{}", self.index)
    }
    fn ip(&self) -> Ipv4Addr {
        Ipv4Addr::new(127, 0, 0, self.index)
    }
    fn edit_log_addr(&self) -> String {
        format!("{}:{EDIT_LOG_PORT}", self.ip())
    }
    fn query_addr(&self) -> String {
        format!("{}:{QUERY_PORT}", self.ip())
    }
    fn conf_path(&self) -> PathBuf {
        self.home.join("conf").join("fe.conf")
    }
    fn meta_dir(&self) -> PathBuf {
        self.home.join("meta")
    }
    fn log_dir(&self) -> PathBuf {
        self.home.join("log")
    }
    fn log_path(&self) -> PathBuf {
        self.log_dir().join("fe.log")
    }
    fn pid_path(&self) -> PathBuf {
        self.home.join("fe.pid")
    }
    /// Whether the node has joined a cluster before (its identity is stored).
    fn has_meta(&self) -> bool {
        self.meta_dir().join("image").join("ROLE").exists()
    }
}

/// The nodes for `followers` + `observers`, or why that shape is refused.
fn plan_nodes(followers: usize, observers: usize, dir: &Path) -> Result<Vec<Node>, String> {
    if followers == 0 {
        return Err(
            "--followers must be at least 1: followers elect the leader and hold the \
                    journal's quorum"
                .to_owned(),
        );
    }
    let total = followers.saturating_add(observers);
    if total > MAX_NODES {
        return Err(format!(
            "{followers} followers + {observers} observers = {total} nodes, but the playground \
             runs at most {MAX_NODES} (one per address 127.0.0.1 .. 127.0.0.{MAX_NODES})"
        ));
    }
    Ok((1..=total)
        .map(|i| {
            let index = u8::try_from(i).expect("at most MAX_NODES nodes");
            Node {
                index,
                role: if i <= followers {
                    Role::Follower
                } else {
                    Role::Observer
                },
                home: dir.join(format!("fe{i}")),
            }
        })
        .collect())
}

/// The generated `fe.conf` of a node.
fn fe_conf_text(node: &Node) -> String {
    format!(
        "# Generated by `tessera playground` for {name} ({role}). Edits are kept: the file is only\n\
         # written when missing. Keys are StarRocks's fe.conf keys.\n\
         priority_networks = {ip}/32\n\
         meta_dir = {meta}\n\
         sys_log_dir = {log}\n\
         sys_log_level = INFO\n\
         edit_log_port = {EDIT_LOG_PORT}\n\
         http_port = {HTTP_PORT}\n\
         rpc_port = {RPC_PORT}\n\
         query_port = {QUERY_PORT}\n",
        name = node.name(),
        role = node.role.as_str(),
        ip = node.ip(),
        meta = node.meta_dir().display(),
        log = node.log_dir().display(),
    )
}

/// Contents of `<dir>/playground.conf`.
fn layout_text(followers: usize, observers: usize) -> String {
    format!(
        "# Written by `tessera playground`: the shape of the cluster in this directory.\n\
         # Run again with the same counts to restart it, or with --fresh to start over.\n\
         followers = {followers}\n\
         observers = {observers}\n"
    )
}

/// Parses `playground.conf` into (followers, observers).
fn parse_layout(text: &str) -> Option<(usize, usize)> {
    let (mut followers, mut observers) = (None, None);
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (k, v) = line.split_once('=')?;
        let v: usize = v.trim().parse().ok()?;
        match k.trim() {
            "followers" => followers = Some(v),
            "observers" => observers = Some(v),
            _ => {}
        }
    }
    Some((followers?, observers?))
}

/// The last `n` lines of `text`.
fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The last lines of a log file (reads at most its last 16 KiB).
fn log_tail(path: &Path) -> String {
    const MAX: u64 = 16 * 1024;
    let read = || -> std::io::Result<String> {
        let mut f = std::fs::File::open(path)?;
        let len = f.metadata()?.len();
        f.seek(SeekFrom::Start(len.saturating_sub(MAX)))?;
        let mut buf = Vec::new();
        f.take(MAX).read_to_end(&mut buf)?;
        Ok(String::from_utf8_lossy(&buf).into_owned())
    };
    match read() {
        Ok(text) => {
            let tail = tail_lines(&text, LOG_TAIL_LINES);
            if tail.trim().is_empty() {
                "    (the log is empty)".to_owned()
            } else {
                tail.lines().map(|l| format!("    {l}\n")).collect()
            }
        }
        Err(e) => format!("    (cannot read {}: {e})", path.display()),
    }
}

/// A row of `SHOW FRONTENDS`, reduced to what the playground checks.
#[derive(Clone, Debug, PartialEq, Eq)]
struct FrontendRow {
    ip: String,
    edit_log_port: String,
    role: String,
    is_master: bool,
    alive: bool,
}

fn truthy(cell: Option<&str>) -> bool {
    cell.is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// Picks the playground's columns out of a `SHOW FRONTENDS` result by name.
fn parse_frontends(result: &QueryResult) -> Result<Vec<FrontendRow>, String> {
    let col = |name: &str| {
        result
            .columns
            .iter()
            .position(|c| c.eq_ignore_ascii_case(name))
            .ok_or_else(|| format!("SHOW FRONTENDS has no column {name}"))
    };
    let (ip, port, role, master, alive) = (
        col("IP")?,
        col("EditLogPort")?,
        col("Role")?,
        col("IsMaster")?,
        col("Alive")?,
    );
    let cell = |row: &[Option<String>], i: usize| row.get(i).cloned().flatten();
    Ok(result
        .rows
        .iter()
        .map(|row| FrontendRow {
            ip: cell(row, ip).unwrap_or_default(),
            edit_log_port: cell(row, port).unwrap_or_default(),
            role: cell(row, role).unwrap_or_default(),
            is_master: truthy(cell(row, master).as_deref()),
            alive: truthy(cell(row, alive).as_deref()),
        })
        .collect())
}

/// Checks that every node is listed and alive and that there is exactly one
/// leader; returns the leader's index, or what is still wrong (one line per
/// problem).
fn check_cluster(nodes: &[Node], rows: &[FrontendRow]) -> Result<u8, Vec<String>> {
    let mut problems = Vec::new();
    for node in nodes {
        let ip = node.ip().to_string();
        let port = EDIT_LOG_PORT.to_string();
        match rows.iter().find(|r| r.ip == ip && r.edit_log_port == port) {
            None => problems.push(format!(
                "{} ({}) is not in SHOW FRONTENDS yet",
                node.name(),
                node.edit_log_addr()
            )),
            Some(r) if !r.alive => problems.push(format!(
                "{} ({}) is not alive",
                node.name(),
                node.edit_log_addr()
            )),
            Some(r) if !r.role.eq_ignore_ascii_case(node.role.as_str()) => problems.push(format!(
                "{} ({}) is a {} but should be a {}",
                node.name(),
                node.edit_log_addr(),
                r.role,
                node.role.as_str()
            )),
            Some(_) => {}
        }
    }
    let masters: Vec<&FrontendRow> = rows.iter().filter(|r| r.is_master).collect();
    if masters.len() != 1 {
        problems.push(format!(
            "{} frontends claim to be the leader (IsMaster=true); expected exactly one",
            masters.len()
        ));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let leader_ip = &masters[0].ip;
    nodes
        .iter()
        .find(|n| n.ip().to_string() == *leader_ip)
        .map(|n| n.index)
        .ok_or_else(|| vec![format!("the leader {leader_ip} is not a playground node")])
}

/// Whether an ALTER SYSTEM ADD error says the node is already a member.
fn is_already_exists(e: &ClientError) -> bool {
    e.message.to_ascii_lowercase().contains("already exists")
}

/// What the playground prints once the cluster is up.
fn summary_text(nodes: &[Node], leader: u8, dir: &Path) -> String {
    let followers = nodes.iter().filter(|n| n.role == Role::Follower).count();
    let observers = nodes.len() - followers;
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nTessera playground is up: {}, {}.\n",
        plural(followers, "follower"),
        plural(observers, "observer")
    );
    let _ = writeln!(out, "Connect with any MySQL client:\n");
    let _ = writeln!(out, "    mysql -h 127.0.0.1 -P {QUERY_PORT} -u root\n");
    let mut lines = vec![format!(
        "  {:<5} {:<9} {:<16} {:<16} {:<22}",
        "node", "role", "edit_log", "mysql", "http"
    )];
    for n in nodes {
        lines.push(format!(
            "  {:<5} {:<9} {:<16} {:<16} {:<22} {}",
            n.name(),
            n.role.as_str(),
            n.edit_log_addr(),
            n.query_addr(),
            format!("http://{}:{HTTP_PORT}", n.ip()),
            if n.index == leader { "(leader)" } else { "" }
        ));
    }
    for line in lines {
        let _ = writeln!(out, "{}", line.trim_end());
    }
    let _ = writeln!(
        out,
        "\nLogs:  {}/fe<i>/log/fe.log\nData:  {} (kept on exit; run again to restart the same \
         cluster, add --fresh to start over)",
        dir.display(),
        dir.display()
    );
    let _ = writeln!(
        out,
        "\nBackends (BE) are not part of the playground yet; a Stream Load example will be \
         printed here once they exist."
    );
    let _ = writeln!(out, "\nPress Ctrl-C to stop the cluster.");
    out
}

/// Why the playground could not start: exit code 2 for refusals before
/// anything ran, 1 for failures of a started cluster.
struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    fn refuse(message: impl Into<String>) -> Self {
        Self {
            code: 2,
            message: message.into(),
        }
    }
    fn fail(message: impl Into<String>) -> Self {
        Self {
            code: 1,
            message: message.into(),
        }
    }
}

/// Runs the playground.
pub fn run(args: Args) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tessera playground: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async move {
        match run_async(args).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(f) => {
                eprintln!("tessera playground: {}", f.message);
                ExitCode::from(f.code)
            }
        }
    })
}

/// Everything that must be true before the first child is spawned.
struct Prepared {
    nodes: Vec<Node>,
    dir: PathBuf,
    binary: PathBuf,
}

fn prepare(args: &Args) -> Result<Prepared, Failure> {
    let dir = std::path::absolute(&args.dir).map_err(|e| {
        Failure::refuse(format!("cannot resolve --dir {}: {e}", args.dir.display()))
    })?;
    let nodes = plan_nodes(args.followers, args.observers, &dir).map_err(Failure::refuse)?;
    let binary = match &args.binary {
        Some(b) => std::path::absolute(b).unwrap_or_else(|_| b.clone()),
        None => std::env::current_exe().map_err(|e| {
            Failure::refuse(format!(
                "cannot find the running executable ({e}); pass --binary"
            ))
        })?,
    };
    if !binary.is_file() {
        return Err(Failure::refuse(format!(
            "--binary {} is not a file",
            binary.display()
        )));
    }

    // Refuse early when an earlier playground's nodes still run from this dir
    // (also keeps --fresh from deleting data under a running node).
    for node in &nodes {
        if let Some(pid) = running_pid(node) {
            return Err(Failure::refuse(format!(
                "{} of an earlier playground still runs (pid {pid}, see {}); stop it first \
                 with `kill {pid}`",
                node.name(),
                node.pid_path().display()
            )));
        }
    }

    let layout = dir.join(LAYOUT_FILE);
    if args.fresh && dir.exists() {
        if !layout.exists() && !dir_is_empty(&dir) {
            return Err(Failure::refuse(format!(
                "--fresh would delete {}, but it is not a playground directory (no {LAYOUT_FILE}); \
                 refusing to delete it",
                dir.display()
            )));
        }
        std::fs::remove_dir_all(&dir)
            .map_err(|e| Failure::refuse(format!("cannot delete {}: {e}", dir.display())))?;
    }
    match std::fs::read_to_string(&layout) {
        Ok(text) => match parse_layout(&text) {
            Some((f, o)) if (f, o) == (args.followers, args.observers) => {}
            Some((f, o)) => {
                return Err(Failure::refuse(format!(
                    "{} holds a playground with {f} followers and {o} observers; run with \
                     `--followers {f} --observers {o}` to restart it, or add --fresh to start \
                     over with {} followers and {} observers",
                    dir.display(),
                    args.followers,
                    args.observers
                )));
            }
            None => {
                return Err(Failure::refuse(format!(
                    "{} is damaged; add --fresh to start over",
                    layout.display()
                )));
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if dir.exists() && !dir_is_empty(&dir) {
                return Err(Failure::refuse(format!(
                    "{} is not empty and is not a playground directory (no {LAYOUT_FILE}); \
                     choose another --dir",
                    dir.display()
                )));
            }
        }
        Err(e) => {
            return Err(Failure::refuse(format!(
                "cannot read {}: {e}",
                layout.display()
            )));
        }
    }
    if nodes.iter().skip(1).any(Node::has_meta) && !nodes[0].has_meta() {
        return Err(Failure::refuse(format!(
            "fe1 has no meta in {} but other nodes do; its cluster is gone. Add --fresh to \
             start over",
            nodes[0].meta_dir().display()
        )));
    }

    check_ports(&nodes)?;

    // Lay out the directories; this is also the writability check.
    let unwritable = |what: &Path, e: std::io::Error| {
        Failure::refuse(format!(
            "cannot write to {}: {e}; choose another --dir",
            what.display()
        ))
    };
    std::fs::create_dir_all(&dir).map_err(|e| unwritable(&dir, e))?;
    if !layout.exists() {
        std::fs::write(&layout, layout_text(args.followers, args.observers))
            .map_err(|e| unwritable(&layout, e))?;
    }
    for node in &nodes {
        std::fs::create_dir_all(node.home.join("conf")).map_err(|e| unwritable(&node.home, e))?;
        std::fs::create_dir_all(node.log_dir()).map_err(|e| unwritable(&node.home, e))?;
        let conf = node.conf_path();
        if !conf.exists() {
            std::fs::write(&conf, fe_conf_text(node)).map_err(|e| unwritable(&conf, e))?;
        }
        let probe = node.home.join(".write-test");
        std::fs::write(&probe, b"ok").map_err(|e| unwritable(&node.home, e))?;
        let _ = std::fs::remove_file(&probe);
    }
    Ok(Prepared { nodes, dir, binary })
}

fn dir_is_empty(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_none())
}

/// The pid in a node's pid file if that process still runs the node.
fn running_pid(node: &Node) -> Option<u32> {
    let text = std::fs::read_to_string(node.pid_path()).ok()?;
    let pid: u32 = text.trim().parse().ok()?;
    let raw = i32::try_from(pid).ok()?;
    let alive = rustix::process::Pid::from_raw(raw)
        .is_some_and(|p| rustix::process::test_kill_process(p).is_ok());
    if !alive {
        let _ = std::fs::remove_file(node.pid_path());
        return None;
    }
    // Guard against pid reuse: on Linux the command line names the node's
    // config. Elsewhere, trust the pid file.
    match std::fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(cmdline) => {
            let conf = node.conf_path().display().to_string();
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains(&conf) {
                Some(pid)
            } else {
                let _ = std::fs::remove_file(node.pid_path());
                None
            }
        }
        Err(_) => Some(pid),
    }
}

/// Refuses when any node's address:port is taken.
fn check_ports(nodes: &[Node]) -> Result<(), Failure> {
    for node in nodes {
        for (key, port) in PORTS {
            let addr = SocketAddrV4::new(node.ip(), port);
            if let Err(e) = std::net::TcpListener::bind(addr) {
                let hint = match e.kind() {
                    std::io::ErrorKind::AddrInUse => format!(
                        "Another playground or frontend is using it; stop that first \
                         (`ss -ltnp | grep :{port}` shows who holds it)"
                    ),
                    std::io::ErrorKind::AddrNotAvailable => format!(
                        "This machine has no loopback address {} (on macOS: \
                         `sudo ifconfig lo0 alias {} up`)",
                        node.ip(),
                        node.ip()
                    ),
                    _ => String::new(),
                };
                return Err(Failure::refuse(format!(
                    "{} needs {addr} ({key}), which cannot be used: {e}. {hint}",
                    node.name()
                )));
            }
        }
    }
    Ok(())
}

/// A running (or exited) child.
struct Proc {
    node: Node,
    child: Option<Child>,
}

/// The children and how to stop them.
struct Cluster {
    nodes: Vec<Node>,
    binary: PathBuf,
    procs: Vec<Proc>,
    stop: watch::Receiver<bool>,
}

impl Cluster {
    fn stop_requested(&self) -> bool {
        *self.stop.borrow()
    }

    /// Sleeps for `d`; true if a stop was requested meanwhile.
    async fn pause(&mut self, d: Duration) -> bool {
        if self.stop_requested() {
            return true;
        }
        tokio::select! {
            _ = tokio::time::sleep(d) => self.stop_requested(),
            _ = self.stop.changed() => true,
        }
    }

    fn spawn(&mut self, node: &Node, helper: Option<&str>) -> Result<(), Failure> {
        let log_path = node.log_path();
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| Failure::fail(format!("cannot open {}: {e}", log_path.display())))?;
        let _ = writeln!(
            log,
            "=== tessera playground: starting {} ({}) at {} ms{}",
            node.name(),
            node.role.as_str(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0),
            helper
                .map(|h| format!(" with --helper {h}"))
                .unwrap_or_default()
        );
        let err_log = log
            .try_clone()
            .map_err(|e| Failure::fail(format!("cannot open {}: {e}", log_path.display())))?;
        let mut cmd = Command::new(&self.binary);
        cmd.arg("fe").arg("--conf").arg(node.conf_path());
        if let Some(h) = helper {
            cmd.arg("--helper").arg(h);
        }
        cmd.current_dir(&node.home)
            .env_remove("STARROCKS_HOME")
            .env_remove("TESSERA_HOME")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(err_log))
            // Own process group: Ctrl-C reaches only the playground, which
            // then stops the nodes in order.
            .process_group(0)
            .kill_on_drop(true);
        let child = cmd.spawn().map_err(|e| {
            Failure::fail(format!(
                "cannot start {} with {}: {e}",
                node.name(),
                self.binary.display()
            ))
        })?;
        if let Some(pid) = child.id() {
            let _ = std::fs::write(node.pid_path(), format!("{pid}\n"));
        }
        println!(
            "started {} ({}, {}){}",
            node.name(),
            node.role.as_str(),
            node.ip(),
            helper
                .map(|h| format!(" joining through {h}"))
                .unwrap_or_default()
        );
        self.procs.push(Proc {
            node: node.clone(),
            child: Some(child),
        });
        Ok(())
    }

    /// Reaps children that exited; returns them with a description.
    fn reap(&mut self) -> Vec<(Node, String)> {
        let mut gone = Vec::new();
        for p in &mut self.procs {
            let Some(child) = p.child.as_mut() else {
                continue;
            };
            let status = match child.try_wait() {
                Ok(None) => continue,
                Ok(Some(status)) => status.to_string(),
                Err(e) => format!("unknown status ({e})"),
            };
            p.child = None;
            let _ = std::fs::remove_file(p.node.pid_path());
            gone.push((p.node.clone(), status));
        }
        gone
    }

    /// Fails start-up if a child died.
    fn check_children(&mut self) -> Result<(), Failure> {
        let gone = self.reap();
        if gone.is_empty() {
            return Ok(());
        }
        let mut msg = String::new();
        for (node, status) in gone {
            let _ = write!(
                msg,
                "{} exited during start-up ({status}); last lines of {}:\n{}",
                node.name(),
                node.log_path().display(),
                log_tail(&node.log_path())
            );
        }
        Err(Failure::fail(msg))
    }

    fn interrupted() -> Failure {
        Failure {
            code: 130,
            message: "interrupted; the cluster was stopped".to_owned(),
        }
    }

    /// Stops every running child: SIGTERM to all, up to [`STOP_GRACE`], then
    /// SIGKILL; removes the pid files.
    async fn stop_all(&mut self) {
        for p in &mut self.procs {
            if let Some(pid) = p.child.as_ref().and_then(Child::id) {
                println!("stopping {} (pid {pid})", p.node.name());
                let pid = i32::try_from(pid)
                    .ok()
                    .and_then(rustix::process::Pid::from_raw);
                if let Some(pid) = pid {
                    let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
                }
            }
        }
        let deadline = tokio::time::Instant::now() + STOP_GRACE;
        for p in &mut self.procs {
            let Some(child) = p.child.as_mut() else {
                continue;
            };
            match tokio::time::timeout_at(deadline, child.wait()).await {
                Ok(_) => {}
                Err(_) => {
                    eprintln!(
                        "{} did not stop within {STOP_GRACE:?}; killing it",
                        p.node.name()
                    );
                    let _ = child.start_kill();
                    let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
                }
            }
            p.child = None;
            let _ = std::fs::remove_file(p.node.pid_path());
        }
    }

    /// Polls `SELECT 1` on fe1 until it answers.
    async fn wait_first_node(&mut self) -> Result<(), Failure> {
        let node = self.nodes[0].clone();
        let deadline = Instant::now() + FIRST_NODE_TIMEOUT;
        loop {
            self.check_children()?;
            let last = match query_once(&node.query_addr(), "SELECT 1").await {
                Ok(_) => return Ok(()),
                Err(e) => e.to_string(),
            };
            if Instant::now() >= deadline {
                return Err(Failure::fail(format!(
                    "{} did not answer SELECT 1 on {} within {FIRST_NODE_TIMEOUT:?} (last \
                     error: {last}); last lines of {}:\n{}",
                    node.name(),
                    node.query_addr(),
                    node.log_path().display(),
                    log_tail(&node.log_path())
                )));
            }
            if self.pause(POLL_INTERVAL).await {
                return Err(Self::interrupted());
            }
        }
    }

    /// Runs ALTER SYSTEM ADD for `node` through any running node, retrying
    /// until it succeeds or says the node already exists.
    async fn add_node(&mut self, node: &Node) -> Result<(), Failure> {
        let sql = format!(
            "ALTER SYSTEM ADD {} \"{}\"",
            node.role.as_str(),
            node.edit_log_addr()
        );
        let deadline = Instant::now() + ADD_NODE_TIMEOUT;
        let mut last = String::new();
        loop {
            self.check_children()?;
            let running: Vec<String> = self
                .procs
                .iter()
                .filter(|p| p.child.is_some())
                .map(|p| p.node.query_addr())
                .collect();
            for addr in &running {
                match query_once(addr, &sql).await {
                    Ok(_) => return Ok(()),
                    Err(e) if is_already_exists(&e) => return Ok(()),
                    Err(e) => last = format!("{addr}: {e}"),
                }
            }
            if Instant::now() >= deadline {
                return Err(Failure::fail(format!(
                    "`{sql}` kept failing for {ADD_NODE_TIMEOUT:?}; last error: {last}"
                )));
            }
            if self.pause(POLL_INTERVAL).await {
                return Err(Self::interrupted());
            }
        }
    }

    /// Waits until SHOW FRONTENDS on fe1 shows the whole cluster healthy;
    /// returns the leader's index.
    async fn wait_cluster(&mut self) -> Result<u8, Failure> {
        let addr = self.nodes[0].query_addr();
        let deadline = Instant::now() + CLUSTER_TIMEOUT;
        loop {
            self.check_children()?;
            let problems = match query_once(&addr, "SHOW FRONTENDS").await {
                Ok(result) => match parse_frontends(&result) {
                    Ok(rows) => match check_cluster(&self.nodes, &rows) {
                        Ok(leader) => return Ok(leader),
                        Err(p) => p,
                    },
                    Err(e) => vec![e],
                },
                Err(e) => vec![format!("SHOW FRONTENDS on {addr} failed: {e}")],
            };
            if Instant::now() >= deadline {
                let mut msg = format!("the cluster is not healthy after {CLUSTER_TIMEOUT:?}:\n");
                for p in &problems {
                    let _ = writeln!(msg, "  - {p}");
                }
                let _ = writeln!(msg, "Logs:");
                for n in &self.nodes {
                    let _ = writeln!(msg, "  {}: {}", n.name(), n.log_path().display());
                }
                return Err(Failure::fail(msg));
            }
            if self.pause(POLL_INTERVAL).await {
                return Err(Self::interrupted());
            }
        }
    }

    /// Starts every node and waits for the cluster; returns the leader.
    async fn start(&mut self) -> Result<u8, Failure> {
        let nodes = self.nodes.clone();
        // fe1 and every node that already belongs to the cluster start at
        // once: after a restart, fe1 alone may have no quorum.
        for node in &nodes {
            if node.index == 1 || node.has_meta() {
                self.spawn(node, None)?;
            }
        }
        self.wait_first_node().await?;
        for node in nodes.iter().filter(|n| n.index != 1) {
            if self.procs.iter().any(|p| p.node.index == node.index) {
                continue;
            }
            self.add_node(node).await?;
            self.spawn(node, Some(HELPER))?;
        }
        println!("waiting for every frontend to be alive ...");
        self.wait_cluster().await
    }

    /// Keeps the cluster running until a stop is requested, reporting
    /// children that die on their own.
    async fn supervise(&mut self) {
        loop {
            for (node, status) in self.reap() {
                eprintln!(
                    "\n{} ({}, {}) exited on its own ({status}); the others keep running. \
                     Last lines of {}:\n{}",
                    node.name(),
                    node.role.as_str(),
                    node.ip(),
                    node.log_path().display(),
                    log_tail(&node.log_path())
                );
            }
            if self.pause(Duration::from_secs(1)).await {
                return;
            }
        }
    }
}

/// Connects to `addr` as root and runs one statement, all bounded.
async fn query_once(addr: &str, sql: &str) -> Result<QueryResult, ClientError> {
    let mut client = Client::connect_timeout(addr, "root", "", None, CONNECT_TIMEOUT).await?;
    let result = match tokio::time::timeout(STATEMENT_TIMEOUT, client.query(sql)).await {
        Ok(r) => r,
        Err(_) => Err(ClientError {
            code: 0,
            sql_state: "HY000".to_owned(),
            message: format!("`{sql}` timed out after {STATEMENT_TIMEOUT:?}"),
        }),
    };
    client.close().await;
    result
}

/// Sends `true` on the first Ctrl-C or SIGTERM.
fn watch_signals() -> Result<watch::Receiver<bool>, Failure> {
    let (tx, rx) = watch::channel(false);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| Failure::fail(format!("cannot listen for SIGTERM: {e}")))?;
    tokio::spawn(async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        println!("\nstopping the playground ...");
        let _ = tx.send(true);
        // Keep the sender alive so receivers never see a closed channel.
        std::future::pending::<()>().await;
    });
    Ok(rx)
}

async fn run_async(args: Args) -> Result<(), Failure> {
    let stop = watch_signals()?;
    let prepared = prepare(&args)?;
    let mut cluster = Cluster {
        nodes: prepared.nodes,
        binary: prepared.binary,
        procs: Vec::new(),
        stop,
    };
    let started = cluster.start().await;
    let leader = match started {
        Ok(leader) => leader,
        Err(f) => {
            cluster.stop_all().await;
            return Err(f);
        }
    };
    print!("{}", summary_text(&cluster.nodes, leader, &prepared.dir));
    let _ = std::io::stdout().flush();
    cluster.supervise().await;
    cluster.stop_all().await;
    println!(
        "playground stopped; data kept in {}",
        prepared.dir.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(f: usize, o: usize) -> Vec<Node> {
        plan_nodes(f, o, Path::new("/pg")).expect("valid shape")
    }

    #[test]
    fn node_list_followers_first_then_observers() {
        let n = nodes(3, 1);
        let got: Vec<(u8, Role, String)> = n
            .iter()
            .map(|n| (n.index, n.role, n.home.display().to_string()))
            .collect();
        assert_eq!(
            got,
            vec![
                (1, Role::Follower, "/pg/fe1".to_owned()),
                (2, Role::Follower, "/pg/fe2".to_owned()),
                (3, Role::Follower, "/pg/fe3".to_owned()),
                (4, Role::Observer, "/pg/fe4".to_owned()),
            ]
        );
        assert_eq!(n[3].ip(), Ipv4Addr::new(127, 0, 0, 4));
        assert_eq!(n[3].edit_log_addr(), "127.0.0.4:9010");
        assert_eq!(n[3].query_addr(), "127.0.0.4:9030");
        assert_eq!(n[1].log_path(), Path::new("/pg/fe2/log/fe.log"));
        assert_eq!(n[1].pid_path(), Path::new("/pg/fe2/fe.pid"));
        assert_eq!(n[1].conf_path(), Path::new("/pg/fe2/conf/fe.conf"));
        assert_eq!(nodes(1, 0).len(), 1);
        assert_eq!(nodes(1, 8).len(), 9);
        assert!(nodes(9, 0).iter().all(|n| n.role == Role::Follower));
    }

    #[test]
    fn refused_shapes() {
        let e = plan_nodes(0, 1, Path::new("/pg")).expect_err("no followers");
        assert!(e.contains("--followers"), "{e}");
        let e = plan_nodes(5, 5, Path::new("/pg")).expect_err("too many");
        assert!(e.contains("10 nodes") && e.contains("at most 9"), "{e}");
        assert!(plan_nodes(usize::MAX, 2, Path::new("/pg")).is_err());
    }

    #[test]
    fn conf_text_is_a_valid_fe_conf_for_the_node() {
        let n = &nodes(3, 1)[2];
        let text = fe_conf_text(n);
        assert!(
            text.contains("priority_networks = 127.0.0.3/32\n"),
            "{text}"
        );
        assert!(text.contains("meta_dir = /pg/fe3/meta\n"), "{text}");
        assert!(text.contains("sys_log_level = INFO\n"), "{text}");
        // It loads with the real config loader and lands where we expect.
        let dir = tempfile::tempdir().expect("tempdir");
        let node = Node {
            index: 3,
            role: Role::Follower,
            home: dir.path().join("fe3"),
        };
        std::fs::create_dir_all(node.home.join("conf")).expect("mkdir");
        std::fs::write(node.conf_path(), fe_conf_text(&node)).expect("write");
        let (c, warnings) = common::config::fe::FeConfig::load(&node.conf_path()).expect("loads");
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(c.priority_networks, "127.0.0.3/32");
        assert_eq!(Path::new(&c.meta_dir), node.meta_dir());
        assert_eq!(
            (c.edit_log_port, c.http_port, c.rpc_port, c.query_port),
            (9010, 8030, 9020, 9030)
        );
        assert_eq!(c.sys_log_level, "INFO");
    }

    #[test]
    fn layout_round_trip() {
        assert_eq!(parse_layout(&layout_text(3, 1)), Some((3, 1)));
        assert_eq!(parse_layout(&layout_text(1, 0)), Some((1, 0)));
        assert_eq!(parse_layout("followers = 3\n"), None);
        assert_eq!(parse_layout("followers = x\nobservers = 1"), None);
        assert_eq!(parse_layout("garbage"), None);
    }

    #[test]
    fn tail_of_text() {
        assert_eq!(tail_lines("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail_lines("a", 5), "a");
        assert_eq!(tail_lines("", 5), "");
    }

    fn frontends(rows: &[(&str, &str, &str, &str)]) -> QueryResult {
        QueryResult {
            columns: ["Name", "IP", "EditLogPort", "Role", "IsMaster", "Alive"]
                .map(String::from)
                .to_vec(),
            rows: rows
                .iter()
                .map(|(ip, role, master, alive)| {
                    [
                        Some("n"),
                        Some(*ip),
                        Some("9010"),
                        Some(*role),
                        Some(*master),
                        Some(*alive),
                    ]
                    .map(|c| c.map(String::from))
                    .to_vec()
                })
                .collect(),
            affected_rows: 0,
        }
    }

    #[test]
    fn cluster_check_from_show_frontends() {
        let n = nodes(2, 1);
        let healthy = frontends(&[
            ("127.0.0.1", "FOLLOWER", "false", "true"),
            ("127.0.0.2", "FOLLOWER", "true", "true"),
            ("127.0.0.3", "OBSERVER", "false", "true"),
        ]);
        let rows = parse_frontends(&healthy).expect("parses");
        assert_eq!(check_cluster(&n, &rows), Ok(2));

        let partial = frontends(&[
            ("127.0.0.1", "FOLLOWER", "true", "true"),
            ("127.0.0.2", "FOLLOWER", "false", "false"),
        ]);
        let rows = parse_frontends(&partial).expect("parses");
        let problems = check_cluster(&n, &rows).expect_err("unhealthy");
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("fe2") && problems[0].contains("not alive"));
        assert!(problems[1].contains("fe3") && problems[1].contains("not in SHOW FRONTENDS"));

        let two_leaders = frontends(&[
            ("127.0.0.1", "FOLLOWER", "true", "true"),
            ("127.0.0.2", "FOLLOWER", "true", "true"),
            ("127.0.0.3", "OBSERVER", "false", "true"),
        ]);
        let rows = parse_frontends(&two_leaders).expect("parses");
        let problems = check_cluster(&n, &rows).expect_err("two leaders");
        assert!(problems[0].contains("2 frontends claim"), "{problems:?}");

        let no_leader = frontends(&[
            ("127.0.0.1", "FOLLOWER", "false", "true"),
            ("127.0.0.2", "FOLLOWER", "false", "true"),
            ("127.0.0.3", "FOLLOWER", "false", "true"),
        ]);
        let rows = parse_frontends(&no_leader).expect("parses");
        let problems = check_cluster(&n, &rows).expect_err("no leader, wrong role");
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("should be a OBSERVER"), "{problems:?}");

        let missing = QueryResult {
            columns: vec!["IP".into()],
            ..QueryResult::default()
        };
        assert!(parse_frontends(&missing).is_err());
    }

    #[test]
    fn already_exists_is_recognised() {
        let e = |m: &str| ClientError {
            code: 1064,
            sql_state: "HY000".into(),
            message: m.into(),
        };
        assert!(is_already_exists(&e(
            "frontend already exists[127.0.0.2:9010] as FOLLOWER"
        )));
        assert!(is_already_exists(&e(
            "FE with the same host: 127.0.0.2 already exists (one frontend per host)"
        )));
        assert!(!is_already_exists(&e("no leader")));
    }

    #[test]
    fn summary_lists_nodes_and_how_to_connect() {
        let n = nodes(3, 1);
        let text = summary_text(&n, 2, Path::new("/pg"));
        assert!(text.contains("3 followers, 1 observer."), "{text}");
        assert!(
            text.contains("mysql -h 127.0.0.1 -P 9030 -u root"),
            "{text}"
        );
        assert!(text.contains("/pg/fe<i>/log/fe.log"), "{text}");
        assert!(
            text.contains("Stream Load example will be printed"),
            "{text}"
        );
        assert!(!text.contains("curl"), "{text}");
        let fe2 = text
            .lines()
            .find(|l| l.trim_start().starts_with("fe2"))
            .expect("fe2 line");
        assert!(fe2.contains("FOLLOWER") && fe2.contains("127.0.0.2:9010"));
        assert!(fe2.contains("(leader)"), "{fe2}");
        let fe4 = text
            .lines()
            .find(|l| l.trim_start().starts_with("fe4"))
            .expect("fe4 line");
        assert!(fe4.contains("OBSERVER") && !fe4.contains("(leader)"));
    }
}
