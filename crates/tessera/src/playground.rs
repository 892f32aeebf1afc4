//! `tessera playground`: a local HA cluster in one command.
//!
//! Frontend i (1-based, followers first, then observers) and backend j run as
//! child processes on 127.0.0.i and 127.0.0.j with StarRocks's default ports,
//! one "machine" per loopback address (fe i and be i share an address; their
//! ports differ), each from its own home:
//!
//! ```text
//! <dir>/playground.conf        the cluster's shape (followers, observers, backends)
//! <dir>/fe<i>/conf/fe.conf     generated once: priority_networks = 127.0.0.i/32, ...
//! <dir>/fe<i>/meta/            meta_dir (image/ROLE appears after the first start)
//! <dir>/fe<i>/log/fe.log       the child's stdout and stderr, appended
//! <dir>/fe<i>/fe.pid           while the child runs
//! <dir>/be<j>/conf/be.conf     generated once: priority_networks = 127.0.0.j/32, ...
//! <dir>/be<j>/storage/         storage_root_path (cluster_id appears after joining)
//! <dir>/be<j>/log/be.log       the child's stdout and stderr, appended
//! <dir>/be<j>/be.pid           while the child runs
//! ```
//!
//! Start-up: fe1 plus every node that already has meta start without a
//! helper; once fe1 answers `SELECT 1`, each node without meta is added with
//! `ALTER SYSTEM ADD FOLLOWER|OBSERVER` and started with `--helper
//! 127.0.0.1:9010`; then `SHOW FRONTENDS` must show every node alive and one
//! leader. Then the backends start; once each answers `/api/health`, every
//! backend whose storage has no cluster id yet is added with `ALTER SYSTEM ADD
//! BACKEND`, and `SHOW BACKENDS` must show every backend alive. Every wait has
//! a deadline; Ctrl-C (or SIGTERM) at any point stops all children (SIGTERM,
//! then SIGKILL after 10 s).

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
    /// Number of backends (BE), 0 to 9; backend j runs on 127.0.0.j (next to frontend j).
    #[arg(long, default_value_t = 3)]
    backends: usize,
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

/// Most frontends in one playground: 127.0.0.1 to 127.0.0.9.
const MAX_NODES: usize = 9;
/// Most backends in one playground: 127.0.0.1 to 127.0.0.9.
const MAX_BACKENDS: usize = 9;

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

/// StarRocks's default backend ports, the same on every backend.
const BE_PORT: u16 = 9060;
const HEARTBEAT_SERVICE_PORT: u16 = 9050;
const BE_HTTP_PORT: u16 = 8040;
const BRPC_PORT: u16 = 8060;
const BE_PORTS: [(&str, u16); 4] = [
    ("heartbeat_service_port", HEARTBEAT_SERVICE_PORT),
    ("be_port", BE_PORT),
    ("be_http_port", BE_HTTP_PORT),
    ("brpc_port", BRPC_PORT),
];

/// How long fe1 may take to answer `SELECT 1`.
const FIRST_NODE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long adding one node with ALTER SYSTEM may keep failing (e.g. while a
/// leader is being elected) before the playground gives up.
const ADD_NODE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the whole cluster may take to show every node alive.
const CLUSTER_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a backend may take to answer `/api/health` after it is started.
const BACKEND_START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the backends may take to show alive in SHOW BACKENDS once added.
const BACKENDS_TIMEOUT: Duration = Duration::from_secs(90);
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
/// The file a backend writes in its storage root once a cluster's heartbeat binds it.
const CLUSTER_ID_FILE: &str = "cluster_id";
const HELPER: &str = "127.0.0.1:9010";

/// A node's role: a frontend's, or a backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Follower,
    Observer,
    Backend,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::Follower => "FOLLOWER",
            Role::Observer => "OBSERVER",
            Role::Backend => "BACKEND",
        }
    }
}

/// One node of the playground: a frontend or a backend.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Node {
    /// 1-based; the node runs on 127.0.0.<index>.
    index: u8,
    role: Role,
    /// `<dir>/fe<index>` or `<dir>/be<index>`, the node's STARROCKS_HOME.
    home: PathBuf,
}

impl Node {
    fn is_backend(&self) -> bool {
        self.role == Role::Backend
    }
    /// `fe` or `be`: the name prefix, the `tessera` subcommand and the file stem.
    fn kind(&self) -> &'static str {
        if self.is_backend() { "be" } else { "fe" }
    }
    fn name(&self) -> String {
        format!("{}{}", self.kind(), self.index)
    }
    /// The ports the node listens on, with their config keys.
    fn ports(&self) -> [(&'static str, u16); 4] {
        if self.is_backend() { BE_PORTS } else { PORTS }
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
    /// A backend's address in ALTER SYSTEM ADD BACKEND and SHOW BACKENDS.
    fn heartbeat_addr(&self) -> String {
        format!("{}:{HEARTBEAT_SERVICE_PORT}", self.ip())
    }
    /// The statement that adds the node to the cluster.
    fn add_sql(&self) -> String {
        let addr = if self.is_backend() {
            self.heartbeat_addr()
        } else {
            self.edit_log_addr()
        };
        format!("ALTER SYSTEM ADD {} \"{addr}\"", self.role.as_str())
    }
    fn conf_path(&self) -> PathBuf {
        self.home.join("conf").join(format!("{}.conf", self.kind()))
    }
    fn meta_dir(&self) -> PathBuf {
        self.home.join("meta")
    }
    fn log_dir(&self) -> PathBuf {
        self.home.join("log")
    }
    fn log_path(&self) -> PathBuf {
        self.log_dir().join(format!("{}.log", self.kind()))
    }
    fn pid_path(&self) -> PathBuf {
        self.home.join(format!("{}.pid", self.kind()))
    }
    /// Whether the frontend has joined a cluster before (its identity is stored).
    fn has_meta(&self) -> bool {
        !self.is_backend() && self.meta_dir().join("image").join("ROLE").exists()
    }
    /// A backend's storage root.
    fn storage_dir(&self) -> PathBuf {
        self.home.join("storage")
    }
    /// Whether the backend has been bound to a cluster (by a heartbeat) before.
    fn has_cluster_id(&self) -> bool {
        self.is_backend() && self.storage_dir().join(CLUSTER_ID_FILE).exists()
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

/// The backends for `--backends`, or why that count is refused.
fn plan_backends(backends: usize, dir: &Path) -> Result<Vec<Node>, String> {
    if backends > MAX_BACKENDS {
        return Err(format!(
            "--backends {backends} is too many: the playground runs at most {MAX_BACKENDS} \
             backends (one per address 127.0.0.1 .. 127.0.0.{MAX_BACKENDS})"
        ));
    }
    Ok((1..=backends)
        .map(|j| Node {
            index: u8::try_from(j).expect("at most MAX_BACKENDS backends"),
            role: Role::Backend,
            home: dir.join(format!("be{j}")),
        })
        .collect())
}

/// The generated `be.conf` of a backend.
fn be_conf_text(node: &Node) -> String {
    format!(
        "# Generated by `tessera playground` for {name}. Edits are kept: the file is only\n\
         # written when missing. Keys are StarRocks's be.conf keys.\n\
         priority_networks = {ip}/32\n\
         storage_root_path = {storage}\n\
         sys_log_dir = {log}\n\
         sys_log_level = INFO\n\
         be_port = {BE_PORT}\n\
         heartbeat_service_port = {HEARTBEAT_SERVICE_PORT}\n\
         be_http_port = {BE_HTTP_PORT}\n\
         brpc_port = {BRPC_PORT}\n",
        name = node.name(),
        ip = node.ip(),
        storage = node.storage_dir().display(),
        log = node.log_dir().display(),
    )
}

/// The generated config file of a node.
fn conf_text(node: &Node) -> String {
    if node.is_backend() {
        be_conf_text(node)
    } else {
        fe_conf_text(node)
    }
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

/// The shape of a playground: how many nodes of each kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Shape {
    followers: usize,
    observers: usize,
    backends: usize,
}

impl Shape {
    /// "3 followers, 1 observer and 3 backends".
    fn describe(&self) -> String {
        format!(
            "{}, {} and {}",
            plural(self.followers, "follower"),
            plural(self.observers, "observer"),
            plural(self.backends, "backend")
        )
    }
    /// The flags that select this shape.
    fn flags(&self) -> String {
        format!(
            "--followers {} --observers {} --backends {}",
            self.followers, self.observers, self.backends
        )
    }
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

/// Contents of `<dir>/playground.conf`.
fn layout_text(shape: &Shape) -> String {
    format!(
        "# Written by `tessera playground`: the shape of the cluster in this directory.\n\
         # Run again with the same counts to restart it, or with --fresh to start over.\n\
         followers = {}\n\
         observers = {}\n\
         backends = {}\n",
        shape.followers, shape.observers, shape.backends
    )
}

/// A parsed `playground.conf`. `backends` is `None` in files written before
/// the playground ran backends: such a cluster has none yet, and its first
/// run with backends records the count it is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Layout {
    followers: usize,
    observers: usize,
    backends: Option<usize>,
}

/// Parses `playground.conf`; `None` when it is damaged.
fn parse_layout(text: &str) -> Option<Layout> {
    let (mut followers, mut observers, mut backends) = (None, None, None);
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
            "backends" => backends = Some(v),
            _ => {}
        }
    }
    Some(Layout {
        followers: followers?,
        observers: observers?,
        backends,
    })
}

/// Whether the recorded layout fits the requested shape; true also for a
/// layout that predates backends (it is then rewritten with the count).
fn layout_matches(layout: &Layout, shape: &Shape) -> bool {
    layout.followers == shape.followers
        && layout.observers == shape.observers
        && layout.backends.is_none_or(|b| b == shape.backends)
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

/// A row of `SHOW BACKENDS`, reduced to what the playground checks.
#[derive(Clone, Debug, PartialEq, Eq)]
struct BackendRow {
    ip: String,
    heartbeat_port: String,
    alive: bool,
    err_msg: String,
}

/// Picks the playground's columns out of a `SHOW BACKENDS` result by name.
fn parse_backends(result: &QueryResult) -> Result<Vec<BackendRow>, String> {
    let col = |name: &str| {
        result
            .columns
            .iter()
            .position(|c| c.eq_ignore_ascii_case(name))
            .ok_or_else(|| format!("SHOW BACKENDS has no column {name}"))
    };
    let (ip, port, alive) = (col("IP")?, col("HeartbeatPort")?, col("Alive")?);
    let err_msg = col("ErrMsg").ok();
    let cell = |row: &[Option<String>], i: usize| row.get(i).cloned().flatten();
    Ok(result
        .rows
        .iter()
        .map(|row| BackendRow {
            ip: cell(row, ip).unwrap_or_default(),
            heartbeat_port: cell(row, port).unwrap_or_default(),
            alive: truthy(cell(row, alive).as_deref()),
            err_msg: err_msg.and_then(|i| cell(row, i)).unwrap_or_default(),
        })
        .collect())
}

/// Checks that every playground backend is listed and alive; returns the
/// problems, one per backend that is not, with the backend.
fn check_backends<'a>(backends: &'a [Node], rows: &[BackendRow]) -> Vec<(&'a Node, String)> {
    let port = HEARTBEAT_SERVICE_PORT.to_string();
    let mut problems = Vec::new();
    for be in backends {
        let ip = be.ip().to_string();
        match rows.iter().find(|r| r.ip == ip && r.heartbeat_port == port) {
            None => problems.push((
                be,
                format!(
                    "{} ({}) is not in SHOW BACKENDS (dropped with ALTER SYSTEM DROP BACKEND? \
                     --fresh starts over)",
                    be.name(),
                    be.heartbeat_addr()
                ),
            )),
            Some(r) if !r.alive => problems.push((
                be,
                format!(
                    "{} ({}) is not alive{}",
                    be.name(),
                    be.heartbeat_addr(),
                    if r.err_msg.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", r.err_msg)
                    }
                ),
            )),
            Some(_) => {}
        }
    }
    problems
}

/// Whether an ALTER SYSTEM ADD error says the node is already a member.
fn is_already_exists(e: &ClientError) -> bool {
    e.message.to_ascii_lowercase().contains("already exists")
}

/// The first statements to try, for a cluster with `backends` backends
/// (none without backends: tables need them).
fn first_steps(backends: usize) -> Option<String> {
    if backends == 0 {
        return None;
    }
    let replicas = backends.min(3);
    Some(format!(
        "CREATE DATABASE demo;\n\
         CREATE TABLE demo.t (k INT, v VARCHAR(20)) DISTRIBUTED BY HASH(k) BUCKETS 3 \
         PROPERTIES (\"replication_num\" = \"{replicas}\");\n\
         INSERT INTO demo.t VALUES (1, 'hello'), (2, 'world');\n\
         SHOW TABLET FROM demo.t;\n"
    ))
}

/// A Stream Load example for the table the first steps create.
fn stream_load_example() -> String {
    "printf '3,from\\n4,curl\\n' > /tmp/demo.csv\n\
     curl --location-trusted -u root: -H \"label:demo_1\" -H \"column_separator:,\" \\\n\
     \x20    -T /tmp/demo.csv http://127.0.0.1:8030/api/demo/t/_stream_load\n"
        .to_string()
}

/// What the playground prints once the cluster is up.
/// `tessera` is how to run this binary from the user's shell (its path when it is not on the
/// `PATH`).
fn summary_text(
    nodes: &[Node],
    backends: &[Node],
    leader: u8,
    dir: &Path,
    tessera: &str,
) -> String {
    let followers = nodes.iter().filter(|n| n.role == Role::Follower).count();
    let shape = Shape {
        followers,
        observers: nodes.len() - followers,
        backends: backends.len(),
    };
    let mut out = String::new();
    let _ = writeln!(out, "\nTessera playground is up: {}.\n", shape.describe());
    let _ = writeln!(out, "Connect with any MySQL client:\n");
    let _ = writeln!(out, "    mysql -h 127.0.0.1 -P {QUERY_PORT} -u root\n");
    let _ = writeln!(
        out,
        "Web console: http://127.0.0.1:{HTTP_PORT}/console (user root, empty password)\n"
    );
    match first_steps(backends.len()) {
        Some(sql) => {
            let _ = writeln!(out, "First steps:\n");
            for line in sql.lines() {
                let _ = writeln!(out, "    {line}");
            }
            let _ = writeln!(out, "\nLoad a file with Stream Load (curl):\n");
            for line in stream_load_example().lines() {
                let _ = writeln!(out, "    {line}");
            }
            let _ = writeln!(
                out,
                "\nor with a progress bar (CSV or JSON, by the file's extension):\n\n    \
                 {tessera} load /tmp/demo.csv --table demo.t\n"
            );
        }
        None => {
            let _ = writeln!(
                out,
                "There are no backends (--backends 0), so tables cannot be created.\n"
            );
        }
    }
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
    if !backends.is_empty() {
        lines.push(String::new());
        lines.push(format!(
            "  {:<5} {:<9} {:<16} {:<16} {:<22} {}",
            "node", "role", "heartbeat", "be_port", "http", "brpc"
        ));
        for b in backends {
            lines.push(format!(
                "  {:<5} {:<9} {:<16} {:<16} {:<22} {}:{BRPC_PORT}",
                b.name(),
                b.role.as_str(),
                b.heartbeat_addr(),
                format!("{}:{BE_PORT}", b.ip()),
                format!("http://{}:{BE_HTTP_PORT}", b.ip()),
                b.ip()
            ));
        }
    }
    for line in lines {
        let _ = writeln!(out, "{}", line.trim_end());
    }
    let be_logs = if backends.is_empty() {
        String::new()
    } else {
        format!(", {}/be<j>/log/be.log", dir.display())
    };
    let _ = writeln!(
        out,
        "\nLogs:  {}/fe<i>/log/fe.log{be_logs}\nData:  {} (kept on exit; run again to restart \
         the same cluster, add --fresh to start over)",
        dir.display(),
        dir.display()
    );
    let _ = writeln!(out, "\nPress Ctrl-C to stop the cluster.");
    out
}

/// How the user's shell runs `binary`: `tessera` when the `PATH` finds that same file, else
/// its full path.
fn command_name(binary: &Path) -> String {
    let on_path = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|d| {
            let candidate = d.join("tessera");
            match (candidate.canonicalize(), binary.canonicalize()) {
                (Ok(a), Ok(b)) => a == b,
                _ => false,
            }
        })
    });
    if on_path {
        "tessera".to_owned()
    } else {
        binary.display().to_string()
    }
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
    backends: Vec<Node>,
    dir: PathBuf,
    binary: PathBuf,
}

fn prepare(args: &Args) -> Result<Prepared, Failure> {
    let dir = std::path::absolute(&args.dir).map_err(|e| {
        Failure::refuse(format!("cannot resolve --dir {}: {e}", args.dir.display()))
    })?;
    let nodes = plan_nodes(args.followers, args.observers, &dir).map_err(Failure::refuse)?;
    let backends = plan_backends(args.backends, &dir).map_err(Failure::refuse)?;
    let shape = Shape {
        followers: args.followers,
        observers: args.observers,
        backends: args.backends,
    };
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
    for node in nodes.iter().chain(&backends) {
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
    // Whether playground.conf must be (re)written: missing, or written
    // before the playground ran backends.
    let mut write_layout = true;
    match std::fs::read_to_string(&layout) {
        Ok(text) => match parse_layout(&text) {
            Some(l) if layout_matches(&l, &shape) => write_layout = l.backends.is_none(),
            Some(l) => {
                let recorded = Shape {
                    followers: l.followers,
                    observers: l.observers,
                    backends: l.backends.unwrap_or(shape.backends),
                };
                return Err(Failure::refuse(format!(
                    "{} holds a playground with {}; run with `{}` to restart it, or add \
                     --fresh to start over with {}",
                    dir.display(),
                    recorded.describe(),
                    recorded.flags(),
                    shape.describe()
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

    if let Some(be) = backends.iter().find(|b| b.has_cluster_id())
        && !nodes[0].has_meta()
    {
        return Err(Failure::refuse(format!(
            "{} belongs to a cluster ({} exists) but fe1 has no meta in {}; that cluster is \
             gone. Add --fresh to start over",
            be.name(),
            be.storage_dir().join(CLUSTER_ID_FILE).display(),
            nodes[0].meta_dir().display()
        )));
    }

    check_ports(nodes.iter().chain(&backends))?;

    // Lay out the directories; this is also the writability check.
    let unwritable = |what: &Path, e: std::io::Error| {
        Failure::refuse(format!(
            "cannot write to {}: {e}; choose another --dir",
            what.display()
        ))
    };
    std::fs::create_dir_all(&dir).map_err(|e| unwritable(&dir, e))?;
    if write_layout {
        std::fs::write(&layout, layout_text(&shape)).map_err(|e| unwritable(&layout, e))?;
    }
    for node in nodes.iter().chain(&backends) {
        std::fs::create_dir_all(node.home.join("conf")).map_err(|e| unwritable(&node.home, e))?;
        std::fs::create_dir_all(node.log_dir()).map_err(|e| unwritable(&node.home, e))?;
        let conf = node.conf_path();
        if !conf.exists() {
            std::fs::write(&conf, conf_text(node)).map_err(|e| unwritable(&conf, e))?;
        }
        let probe = node.home.join(".write-test");
        std::fs::write(&probe, b"ok").map_err(|e| unwritable(&node.home, e))?;
        let _ = std::fs::remove_file(&probe);
    }
    Ok(Prepared {
        nodes,
        backends,
        dir,
        binary,
    })
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
fn check_ports<'a>(nodes: impl IntoIterator<Item = &'a Node>) -> Result<(), Failure> {
    for node in nodes {
        for (key, port) in node.ports() {
            let addr = SocketAddrV4::new(node.ip(), port);
            if let Err(e) = std::net::TcpListener::bind(addr) {
                let hint = match e.kind() {
                    std::io::ErrorKind::AddrInUse => format!(
                        "Another playground, frontend or backend is using it; stop that first \
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
    /// The frontends.
    nodes: Vec<Node>,
    backends: Vec<Node>,
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
        cmd.arg(node.kind()).arg("--conf").arg(node.conf_path());
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

    /// Runs ALTER SYSTEM ADD for `node` through any running frontend,
    /// retrying until it succeeds or says the node already exists; returns
    /// whether it was added now.
    async fn add_node(&mut self, node: &Node) -> Result<bool, Failure> {
        let sql = node.add_sql();
        let deadline = Instant::now() + ADD_NODE_TIMEOUT;
        let mut last = String::new();
        loop {
            self.check_children()?;
            let running: Vec<String> = self
                .procs
                .iter()
                .filter(|p| p.child.is_some() && !p.node.is_backend())
                .map(|p| p.node.query_addr())
                .collect();
            for addr in &running {
                match query_once(addr, &sql).await {
                    Ok(_) => return Ok(true),
                    Err(e) if is_already_exists(&e) => return Ok(false),
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

    /// Waits until every backend answers `GET /api/health` with 200.
    async fn wait_backends_serving(&mut self) -> Result<(), Failure> {
        let deadline = Instant::now() + BACKEND_START_TIMEOUT;
        let mut waiting: Vec<Node> = self.backends.clone();
        loop {
            self.check_children()?;
            let mut still = Vec::new();
            let mut last = String::new();
            for be in waiting {
                let addr = format!("{}:{BE_HTTP_PORT}", be.ip());
                match http_get(&addr, "/api/health").await {
                    Ok((200, _)) => {}
                    Ok((code, _)) => {
                        last = format!("GET http://{addr}/api/health answered {code}");
                        still.push(be);
                    }
                    Err(e) => {
                        last = format!("GET http://{addr}/api/health: {e}");
                        still.push(be);
                    }
                }
            }
            waiting = still;
            if waiting.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let mut msg = format!(
                    "backends did not answer /api/health within {BACKEND_START_TIMEOUT:?} (last \
                     error: {last}):\n"
                );
                for be in &waiting {
                    let _ = write!(
                        msg,
                        "  {} ({}): last lines of {}:\n{}",
                        be.name(),
                        be.ip(),
                        be.log_path().display(),
                        log_tail(&be.log_path())
                    );
                }
                return Err(Failure::fail(msg));
            }
            if self.pause(POLL_INTERVAL).await {
                return Err(Self::interrupted());
            }
        }
    }

    /// Waits until SHOW BACKENDS (answered by the leader) shows every
    /// backend alive.
    async fn wait_backends_alive(&mut self) -> Result<(), Failure> {
        let addr = self.nodes[0].query_addr();
        let deadline = Instant::now() + BACKENDS_TIMEOUT;
        loop {
            self.check_children()?;
            let mut problems: Vec<(Option<Node>, String)> =
                match query_once(&addr, "SHOW BACKENDS").await {
                    Ok(result) => match parse_backends(&result) {
                        Ok(rows) => check_backends(&self.backends, &rows)
                            .into_iter()
                            .map(|(be, p)| (Some(be.clone()), p))
                            .collect(),
                        Err(e) => vec![(None, e)],
                    },
                    Err(e) => vec![(None, format!("SHOW BACKENDS on {addr} failed: {e}"))],
                };
            if problems.is_empty() {
                for be in &self.backends {
                    let addr = format!("{}:{BE_HTTP_PORT}", be.ip());
                    let health = http_get(&addr, "/api/health").await;
                    if let Some(p) = heartbeat_problem(be, &health) {
                        problems.push((Some(be.clone()), p));
                    }
                }
            }
            if problems.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let mut msg =
                    format!("the backends are not all alive after {BACKENDS_TIMEOUT:?}:\n");
                for (_, p) in &problems {
                    let _ = writeln!(msg, "  - {p}");
                }
                let _ = writeln!(msg, "Logs:");
                for be in problems.iter().filter_map(|(be, _)| be.as_ref()) {
                    let _ = writeln!(msg, "  {}: {}", be.name(), be.log_path().display());
                }
                let _ = writeln!(
                    msg,
                    "  frontends (the leader sends the heartbeats): {}",
                    self.nodes
                        .iter()
                        .map(|n| n.log_path().display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                return Err(Failure::fail(msg));
            }
            if self.pause(POLL_INTERVAL).await {
                return Err(Self::interrupted());
            }
        }
    }

    /// Starts the backends (the frontends run), adds the new ones and waits
    /// until every backend is alive.
    async fn start_backends(&mut self) -> Result<(), Failure> {
        if self.backends.is_empty() {
            return Ok(());
        }
        let backends = self.backends.clone();
        // Decided before starting: a backend that was added in a run that
        // failed early binds itself once it serves, and is then "added" again
        // harmlessly (ALTER SYSTEM says it already exists).
        let new: Vec<&Node> = backends.iter().filter(|b| !b.has_cluster_id()).collect();
        for be in &backends {
            self.spawn(be, None)?;
        }
        println!("waiting for every backend to serve ...");
        self.wait_backends_serving().await?;
        for be in new {
            if self.add_node(be).await? {
                println!("added {} ({})", be.name(), be.heartbeat_addr());
            } else {
                println!("{} ({}) was added before", be.name(), be.heartbeat_addr());
            }
        }
        println!("waiting for every backend to be alive ...");
        self.wait_backends_alive().await
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
            if self.procs.iter().any(|p| p.node == *node) {
                continue;
            }
            self.add_node(node).await?;
            self.spawn(node, Some(HELPER))?;
        }
        println!("waiting for every frontend to be alive ...");
        let leader = self.wait_cluster().await?;
        self.start_backends().await?;
        Ok(leader)
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

/// `GET path` on `addr` (HTTP/1.1, no TLS, at most 64 KiB read), bounded:
/// the status code and the body.
async fn http_get(addr: &str, path: &str) -> Result<(u16, String), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| e.to_string())?;
        stream
            .write_all(
                format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            )
            .await
            .map_err(|e| e.to_string())?;
        let mut raw = Vec::new();
        stream
            .take(64 * 1024)
            .read_to_end(&mut raw)
            .await
            .map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&raw);
        let code = status_code(&text).ok_or_else(|| "not an HTTP response".to_owned())?;
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        Ok((code, body.to_owned()))
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, exchange).await {
        Ok(r) => r,
        Err(_) => Err(format!("no answer within {CONNECT_TIMEOUT:?}")),
    }
}

/// The status code in an HTTP response's status line.
fn status_code(response: &str) -> Option<u16> {
    let line = response.lines().next()?;
    let mut parts = line.split_whitespace();
    if !parts.next()?.starts_with("HTTP/") {
        return None;
    }
    parts.next()?.parse().ok()
}

/// The `backend_id` in a backend's `/api/health` body: -1 until a leader's
/// heartbeat has reached this process. Tolerates a chunked body (one JSON
/// object, found between its outer braces).
fn health_backend_id(body: &str) -> Option<i64> {
    let start = body.find('{')?;
    let end = body.rfind('}')?;
    let json: serde_json::Value = serde_json::from_str(body.get(start..=end)?).ok()?;
    json.get("backend_id")?.as_i64()
}

/// What keeps a backend from counting as joined, judged by its own
/// `/api/health` answer: SHOW BACKENDS may still show the alive state that
/// was journaled before a restart, so the backend must also have been
/// heartbeated since it started.
fn heartbeat_problem(be: &Node, health: &Result<(u16, String), String>) -> Option<String> {
    let url = format!("http://{}:{BE_HTTP_PORT}/api/health", be.ip());
    match health {
        Ok((200, body)) => match health_backend_id(body) {
            Some(id) if id >= 0 => None,
            Some(_) => Some(format!(
                "{} ({}) has had no heartbeat from the leader since it started",
                be.name(),
                be.heartbeat_addr()
            )),
            None => Some(format!("{} answered {url} without a backend_id", be.name())),
        },
        Ok((code, _)) => Some(format!("{} answered {url} with {code}", be.name())),
        Err(e) => Some(format!("{}: GET {url}: {e}", be.name())),
    }
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
        backends: prepared.backends,
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
    print!(
        "{}",
        summary_text(
            &cluster.nodes,
            &cluster.backends,
            leader,
            &prepared.dir,
            &command_name(&cluster.binary),
        )
    );
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

    fn shape(followers: usize, observers: usize, backends: usize) -> Shape {
        Shape {
            followers,
            observers,
            backends,
        }
    }

    #[test]
    fn layout_round_trip() {
        let layout = |f, o, b| Layout {
            followers: f,
            observers: o,
            backends: b,
        };
        assert_eq!(
            parse_layout(&layout_text(&shape(3, 1, 3))),
            Some(layout(3, 1, Some(3)))
        );
        assert_eq!(
            parse_layout(&layout_text(&shape(1, 0, 0))),
            Some(layout(1, 0, Some(0)))
        );
        // Written before backends existed: no count recorded.
        assert_eq!(
            parse_layout("followers = 3\nobservers = 1\n"),
            Some(layout(3, 1, None))
        );
        assert_eq!(parse_layout("followers = 3\n"), None);
        assert_eq!(parse_layout("followers = x\nobservers = 1"), None);
        assert_eq!(
            parse_layout("followers = 3\nobservers = 1\nbackends = -1"),
            None
        );
        assert_eq!(parse_layout("garbage"), None);
    }

    #[test]
    fn layout_matching() {
        let recorded = parse_layout(&layout_text(&shape(3, 1, 3))).expect("parses");
        assert!(layout_matches(&recorded, &shape(3, 1, 3)));
        assert!(!layout_matches(&recorded, &shape(3, 1, 2)));
        assert!(!layout_matches(&recorded, &shape(3, 0, 3)));
        assert!(!layout_matches(&recorded, &shape(1, 1, 3)));
        // An old file takes any backend count (its cluster has none yet).
        let old = parse_layout("followers = 3\nobservers = 1\n").expect("parses");
        assert!(layout_matches(&old, &shape(3, 1, 3)));
        assert!(layout_matches(&old, &shape(3, 1, 0)));
        assert!(!layout_matches(&old, &shape(1, 0, 3)));
        assert_eq!(
            shape(3, 1, 1).describe(),
            "3 followers, 1 observer and 1 backend"
        );
        assert_eq!(
            shape(3, 0, 2).flags(),
            "--followers 3 --observers 0 --backends 2"
        );
    }

    #[test]
    fn backend_list_and_files() {
        let b = plan_backends(3, Path::new("/pg")).expect("valid");
        let got: Vec<(u8, Role, String)> = b
            .iter()
            .map(|n| (n.index, n.role, n.home.display().to_string()))
            .collect();
        assert_eq!(
            got,
            vec![
                (1, Role::Backend, "/pg/be1".to_owned()),
                (2, Role::Backend, "/pg/be2".to_owned()),
                (3, Role::Backend, "/pg/be3".to_owned()),
            ]
        );
        let be2 = &b[1];
        assert_eq!(be2.name(), "be2");
        assert_eq!(be2.ip(), Ipv4Addr::new(127, 0, 0, 2));
        assert_eq!(be2.heartbeat_addr(), "127.0.0.2:9050");
        assert_eq!(be2.conf_path(), Path::new("/pg/be2/conf/be.conf"));
        assert_eq!(be2.log_path(), Path::new("/pg/be2/log/be.log"));
        assert_eq!(be2.pid_path(), Path::new("/pg/be2/be.pid"));
        assert_eq!(be2.storage_dir(), Path::new("/pg/be2/storage"));
        assert_eq!(be2.add_sql(), "ALTER SYSTEM ADD BACKEND \"127.0.0.2:9050\"");
        assert_eq!(
            be2.ports().map(|(_, p)| p),
            [9050, 9060, 8040, 8060],
            "StarRocks's BE ports"
        );
        assert!(!be2.has_meta());
        let fe2 = &nodes(3, 1)[1];
        assert_eq!(
            fe2.add_sql(),
            "ALTER SYSTEM ADD FOLLOWER \"127.0.0.2:9010\""
        );
        assert_eq!(fe2.ports().map(|(_, p)| p), [9010, 8030, 9020, 9030]);
        // A frontend and a backend on one address never share a port.
        assert!(
            fe2.ports()
                .iter()
                .all(|(_, p)| !be2.ports().iter().any(|(_, q)| p == q))
        );

        assert!(plan_backends(0, Path::new("/pg")).expect("none").is_empty());
        assert_eq!(plan_backends(9, Path::new("/pg")).expect("nine").len(), 9);
        let e = plan_backends(10, Path::new("/pg")).expect_err("too many");
        assert!(
            e.contains("--backends 10") && e.contains("at most 9"),
            "{e}"
        );
    }

    #[test]
    fn cluster_id_file_marks_a_joined_backend() {
        let dir = tempfile::tempdir().expect("tempdir");
        let be = &plan_backends(1, dir.path()).expect("valid")[0];
        assert!(!be.has_cluster_id());
        std::fs::create_dir_all(be.storage_dir()).expect("mkdir");
        assert!(!be.has_cluster_id());
        std::fs::write(be.storage_dir().join("cluster_id"), "42").expect("write");
        assert!(be.has_cluster_id());
    }

    #[test]
    fn be_conf_text_is_a_valid_be_conf_for_the_backend() {
        let dir = tempfile::tempdir().expect("tempdir");
        let be = &plan_backends(2, dir.path()).expect("valid")[1];
        let text = conf_text(be);
        assert!(
            text.contains("priority_networks = 127.0.0.2/32\n"),
            "{text}"
        );
        std::fs::create_dir_all(be.home.join("conf")).expect("mkdir");
        std::fs::write(be.conf_path(), &text).expect("write");
        let (c, warnings) = common::config::be::BeConfig::load(&be.conf_path()).expect("loads");
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(c.priority_networks, "127.0.0.2/32");
        assert_eq!(Path::new(&c.storage_root_path), be.storage_dir());
        assert_eq!(Path::new(&c.sys_log_dir), be.log_dir());
        assert_eq!(c.sys_log_level, "INFO");
        assert_eq!(
            (
                c.heartbeat_service_port,
                c.be_port,
                c.be_http_port,
                c.brpc_port
            ),
            (9050, 9060, 8040, 8060)
        );
    }

    #[test]
    fn heartbeat_seen_in_health() {
        let be = &plan_backends(2, Path::new("/pg")).expect("valid")[1];
        let ok = |body: &str| Ok((200, body.to_owned()));
        assert_eq!(
            heartbeat_problem(
                be,
                &ok(r#"{"status":"OK","backend_id":10001,"cluster_id":7}"#)
            ),
            None
        );
        // A chunked body.
        assert_eq!(
            heartbeat_problem(
                be,
                &ok("2a\r\n{\"status\":\"OK\",\"backend_id\":0}\r\n0\r\n\r\n")
            ),
            None
        );
        let p = heartbeat_problem(be, &ok(r#"{"status":"OK","backend_id":-1,"cluster_id":0}"#))
            .expect("not heartbeated");
        assert!(p.contains("be2") && p.contains("no heartbeat"), "{p}");
        let p = heartbeat_problem(be, &ok("not json")).expect("bad body");
        assert!(p.contains("without a backend_id"), "{p}");
        let p = heartbeat_problem(be, &Ok((503, String::new()))).expect("bad status");
        assert!(
            p.contains("http://127.0.0.2:8040/api/health with 503"),
            "{p}"
        );
        let p = heartbeat_problem(be, &Err("connection refused".to_owned())).expect("down");
        assert!(p.contains("connection refused"), "{p}");
    }

    #[test]
    fn http_status_line() {
        assert_eq!(
            status_code("HTTP/1.1 200 OK\r\ncontent-type: x\r\n\r\n{}"),
            Some(200)
        );
        assert_eq!(status_code("HTTP/1.0 404 Not Found\r\n"), Some(404));
        assert_eq!(status_code("SSH-2.0-OpenSSH\r\n"), None);
        assert_eq!(status_code("HTTP/1.1 abc"), None);
        assert_eq!(status_code(""), None);
    }

    fn backends_result(rows: &[(&str, &str, &str, &str)]) -> QueryResult {
        QueryResult {
            columns: [
                "BackendId",
                "IP",
                "HeartbeatPort",
                "BePort",
                "Alive",
                "ErrMsg",
            ]
            .map(String::from)
            .to_vec(),
            rows: rows
                .iter()
                .map(|(ip, port, alive, err)| {
                    [
                        Some("10001"),
                        Some(*ip),
                        Some(*port),
                        Some("9060"),
                        Some(*alive),
                        Some(*err),
                    ]
                    .map(|c| c.map(String::from))
                    .to_vec()
                })
                .collect(),
            affected_rows: 0,
        }
    }

    #[test]
    fn backend_check_from_show_backends() {
        let b = plan_backends(3, Path::new("/pg")).expect("valid");
        let healthy = backends_result(&[
            ("127.0.0.1", "9050", "true", ""),
            ("127.0.0.2", "9050", "true", ""),
            ("127.0.0.3", "9050", "true", ""),
            // Backends the playground does not run are not its business.
            ("127.0.0.7", "9050", "false", "connection refused"),
        ]);
        let rows = parse_backends(&healthy).expect("parses");
        assert!(check_backends(&b, &rows).is_empty());

        let partial = backends_result(&[
            ("127.0.0.1", "9050", "true", ""),
            ("127.0.0.2", "9050", "false", "connection refused"),
            ("127.0.0.3", "9051", "true", ""),
        ]);
        let rows = parse_backends(&partial).expect("parses");
        let problems = check_backends(&b, &rows);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!(problems[0].0.name(), "be2");
        assert!(
            problems[0].1.contains("not alive: connection refused"),
            "{problems:?}"
        );
        assert_eq!(problems[1].0.name(), "be3");
        assert!(
            problems[1].1.contains("127.0.0.3:9050") && problems[1].1.contains("not in SHOW"),
            "{problems:?}"
        );

        let missing = QueryResult {
            columns: vec!["IP".into(), "Alive".into()],
            ..QueryResult::default()
        };
        assert!(parse_backends(&missing).is_err());
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
        assert!(is_already_exists(&e(
            "Backend already exists with same host 127.0.0.2 and port 9050"
        )));
        assert!(!is_already_exists(&e("no leader")));
    }

    #[test]
    fn summary_lists_nodes_and_how_to_connect() {
        let n = nodes(3, 1);
        let b = plan_backends(3, Path::new("/pg")).expect("valid");
        let text = summary_text(&n, &b, 2, Path::new("/pg"), "tessera");
        assert!(
            text.contains("3 followers, 1 observer and 3 backends."),
            "{text}"
        );
        assert!(
            text.contains("mysql -h 127.0.0.1 -P 9030 -u root"),
            "{text}"
        );
        assert!(
            text.contains("/pg/fe<i>/log/fe.log, /pg/be<j>/log/be.log"),
            "{text}"
        );
        // The first steps come right after the connect line.
        let connect = text.find("mysql -h").expect("connect line");
        let create = text.find("CREATE DATABASE demo;").expect("first steps");
        assert!(connect < create && create < text.find("node ").expect("table"));
        assert!(
            text.contains(
                "CREATE TABLE demo.t (k INT, v VARCHAR(20)) DISTRIBUTED BY HASH(k) BUCKETS 3 \
                 PROPERTIES (\"replication_num\" = \"3\");"
            ),
            "{text}"
        );
        assert!(text.contains("SHOW TABLET FROM demo.t;"), "{text}");
        assert!(text.contains("INSERT INTO demo.t VALUES"), "{text}");
        assert!(
            text.contains("curl --location-trusted -u root:")
                && text.contains("/api/demo/t/_stream_load"),
            "{text}"
        );
        assert!(
            text.contains("tessera load /tmp/demo.csv --table demo.t"),
            "{text}"
        );
        assert!(
            text.contains("Web console: http://127.0.0.1:8030/console"),
            "{text}"
        );
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
        let be3 = text
            .lines()
            .find(|l| l.trim_start().starts_with("be3"))
            .expect("be3 line");
        for part in [
            "BACKEND",
            "127.0.0.3:9050",
            "127.0.0.3:9060",
            "http://127.0.0.3:8040",
            "127.0.0.3:8060",
        ] {
            assert!(be3.contains(part), "{be3}");
        }
    }

    #[test]
    fn summary_replication_follows_the_backends() {
        let n = nodes(1, 0);
        let one = plan_backends(1, Path::new("/pg")).expect("valid");
        let text = summary_text(&n, &one, 1, Path::new("/pg"), "tessera");
        assert!(
            text.contains("1 follower, 0 observers and 1 backend."),
            "{text}"
        );
        assert!(text.contains("\"replication_num\" = \"1\""), "{text}");
        let five = plan_backends(5, Path::new("/pg")).expect("valid");
        let text = summary_text(&n, &five, 1, Path::new("/pg"), "tessera");
        assert!(text.contains("\"replication_num\" = \"3\""), "{text}");

        let text = summary_text(&n, &[], 1, Path::new("/pg"), "tessera");
        assert!(text.contains("0 backends."), "{text}");
        assert!(!text.contains("CREATE"), "{text}");
        assert!(
            !text.contains("be<j>") && !text.contains("heartbeat"),
            "{text}"
        );
        assert_eq!(first_steps(0), None);
    }
}
