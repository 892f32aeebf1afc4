//! A fresh Tessera FE cluster (3 FEs for the FE benches, 1 for `stream_load`): FE i on
//! 127.0.0.i with StarRocks's default ports, default raft timing, set up the StarRocks way
//! (ALTER SYSTEM ADD FOLLOWER, then `--helper`).

use std::collections::HashSet;
use std::path::Path;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;
use std::time::Instant;

use anyhow::Context;

use crate::client::Target;
use crate::client::mysql_err;
use crate::cluster::Cluster;
use crate::http::json_call;
use crate::procs::Proc;
use crate::wait_for;

const EDIT_LOG_PORT: u16 = 9010;
const HTTP_PORT: u16 = 8030;
const QUERY_PORT: u16 = 9030;
const CALL_TIMEOUT: Duration = Duration::from_secs(2);

struct Node {
    ip: String,
    conf: PathBuf,
    log: PathBuf,
    proc: Option<Proc>,
}

/// The running FE cluster; dropping it kills every FE.
pub struct TesseraCluster {
    bin: PathBuf,
    pid_file: PathBuf,
    nodes: Vec<Node>,
    all_pids: HashSet<u32>,
}

/// What `GET /api/health` says.
#[derive(Debug, Clone)]
pub struct Health {
    /// This FE is the raft leader.
    pub is_leader: bool,
    /// The leader's `ip:edit_log_port`, if known.
    pub leader: Option<String>,
    /// The raft term.
    pub term: u64,
    /// The last journal id applied here.
    pub journal_id: u64,
}

/// Runs one statement on a fresh MySQL connection to `addr`.
pub async fn sql(addr: &str, stmt: &str) -> anyhow::Result<mysql::client::QueryResult> {
    let fut = async {
        let mut c = mysql::client::Client::connect_timeout(addr, "root", "", None, CALL_TIMEOUT)
            .await
            .map_err(mysql_err)?;
        let r = c.query(stmt).await.map_err(mysql_err);
        let _ = c.close().await;
        r
    };
    tokio::time::timeout(Duration::from_secs(10), fut)
        .await
        .with_context(|| format!("{addr}: `{stmt}` timed out"))?
        .with_context(|| format!("{addr}: `{stmt}`"))
}

fn truthy(v: &Option<String>) -> bool {
    v.as_deref()
        .is_some_and(|s| s.eq_ignore_ascii_case("true") || s == "1")
}

impl TesseraCluster {
    /// Starts FE 1 (it bootstraps), adds FEs 2 and 3 as followers, starts them with
    /// `--helper` and waits until all three are alive and caught up. FE i listens on
    /// 127.0.0.(ip_base + i - 1); work files go under `work/tessera`.
    pub async fn start(
        bin: &Path,
        work: &Path,
        pid_file: &Path,
        ip_base: u8,
    ) -> anyhow::Result<TesseraCluster> {
        Self::start_n(bin, work, pid_file, ip_base, 3).await
    }

    /// [`TesseraCluster::start`] with `fes` FEs (1 ..= 3 usual); with one FE there is no
    /// follower to add.
    pub async fn start_n(
        bin: &Path,
        work: &Path,
        pid_file: &Path,
        ip_base: u8,
        fes: u8,
    ) -> anyhow::Result<TesseraCluster> {
        Self::start_n_conf(bin, work, pid_file, ip_base, fes, &[]).await
    }

    /// [`TesseraCluster::start_n`] with extra `fe.conf` lines (`key = value`).
    pub async fn start_n_conf(
        bin: &Path,
        work: &Path,
        pid_file: &Path,
        ip_base: u8,
        fes: u8,
        extra: &[(&str, &str)],
    ) -> anyhow::Result<TesseraCluster> {
        anyhow::ensure!(fes >= 1, "at least one FE");
        let dir = work.join("tessera");
        let mut nodes = Vec::new();
        for i in 0..fes {
            let ip = format!("127.0.0.{}", ip_base + i);
            let home = dir.join(format!("fe{}", i + 1));
            std::fs::create_dir_all(home.join("conf"))?;
            std::fs::create_dir_all(home.join("meta"))?;
            std::fs::create_dir_all(home.join("log"))?;
            let conf = home.join("conf").join("fe.conf");
            // Raft timing keys are left out on purpose: the benchmark measures the defaults.
            std::fs::write(
                &conf,
                format!(
                    "priority_networks = {ip}/32\nmeta_dir = {}\nsys_log_dir = {}\nsys_log_level = WARN\n{}",
                    home.join("meta").display(),
                    home.join("log").display(),
                    extra
                        .iter()
                        .map(|(k, v)| format!("{k} = {v}\n"))
                        .collect::<String>()
                ),
            )?;
            nodes.push(Node {
                ip,
                conf,
                log: home.join("log").join("fe.out"),
                proc: None,
            });
        }
        let mut c = TesseraCluster {
            bin: bin.to_path_buf(),
            pid_file: pid_file.to_path_buf(),
            nodes,
            all_pids: HashSet::new(),
        };
        c.spawn(0, None)?;
        wait_for(
            "FE 1 to lead",
            Duration::from_secs(60),
            Duration::from_millis(100),
            || async {
                c.check_alive()?;
                Ok(c.health(0).await.ok().filter(|h| h.is_leader).map(|_| ()))
            },
        )
        .await?;
        let helper = format!("{}:{EDIT_LOG_PORT}", c.nodes[0].ip);
        let first = c.query_addr(0);
        for i in 1..c.nodes.len() {
            let stmt = format!(
                "ALTER SYSTEM ADD FOLLOWER \"{}:{EDIT_LOG_PORT}\"",
                c.nodes[i].ip
            );
            sql(&first, &stmt).await?;
        }
        for i in 1..c.nodes.len() {
            c.spawn(i, Some(&helper))?;
        }
        c.wait_healthy(Duration::from_secs(120)).await?;
        Ok(c)
    }

    fn spawn(&mut self, i: usize, helper: Option<&str>) -> anyhow::Result<()> {
        let n = &self.nodes[i];
        let mut cmd = Command::new(&self.bin);
        cmd.arg("fe").arg("--conf").arg(&n.conf);
        if let Some(h) = helper {
            cmd.arg("--helper").arg(h);
        }
        let p = Proc::spawn(&format!("fe {}", n.ip), &mut cmd, &n.log, &self.pid_file)?;
        if let Some(pid) = p.pid() {
            self.all_pids.insert(pid);
        }
        self.nodes[i].proc = Some(p);
        Ok(())
    }

    fn check_alive(&self) -> anyhow::Result<()> {
        for n in &self.nodes {
            if let Some(p) = &n.proc
                && !p.alive()
            {
                anyhow::bail!("{} exited:\n{}", p.name, p.log_tail(30));
            }
        }
        Ok(())
    }

    /// The PID of FE `i`'s current process.
    pub fn pid(&self, i: usize) -> Option<u32> {
        self.nodes[i].proc.as_ref().and_then(|p| p.pid())
    }

    /// The directory of FE `i`'s log files.
    pub fn log_dir(&self, i: usize) -> Option<PathBuf> {
        self.nodes[i].log.parent().map(Path::to_path_buf)
    }

    /// The MySQL address of FE `i`.
    pub fn query_addr(&self, i: usize) -> String {
        format!("{}:{QUERY_PORT}", self.nodes[i].ip)
    }

    /// The HTTP address (`ip:8030`) of FE `i`: Stream Load and `/api/health`.
    pub fn http_addr(&self, i: usize) -> String {
        format!("{}:{HTTP_PORT}", self.nodes[i].ip)
    }

    /// `GET /api/health` of FE `i`.
    pub async fn health(&self, i: usize) -> anyhow::Result<Health> {
        let addr = self.http_addr(i);
        let (_, v) = json_call(&addr, "/api/health", None, CALL_TIMEOUT).await?;
        Ok(Health {
            is_leader: v["is_leader"].as_bool().unwrap_or(false),
            leader: v["leader"].as_str().map(str::to_string),
            term: v["term"].as_u64().context("health without term")?,
            journal_id: v["journal_id"].as_u64().unwrap_or(0),
        })
    }

    fn running(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].proc.is_some())
            .collect()
    }

    /// One look: the FE every running FE names as leader, and which says it leads.
    async fn leader_once(&self) -> anyhow::Result<Option<usize>> {
        let mut leaders = HashSet::new();
        let mut claims = Vec::new();
        for i in self.running() {
            let h = self.health(i).await?;
            if h.is_leader {
                claims.push(i);
            }
            leaders.insert(h.leader);
        }
        if leaders.len() != 1 || claims.len() != 1 {
            return Ok(None);
        }
        let l = claims[0];
        let addr = format!("{}:{EDIT_LOG_PORT}", self.nodes[l].ip);
        Ok(leaders.contains(&Some(addr)).then_some(l))
    }

    async fn healthy_once(&self) -> anyhow::Result<Option<()>> {
        self.check_alive()?;
        if self.running().len() != self.nodes.len() {
            anyhow::bail!("not all FEs run");
        }
        let Some(l) = self.leader_once().await? else {
            return Ok(None);
        };
        let r = sql(&self.query_addr(l), "SHOW FRONTENDS").await?;
        let col = |name: &str| r.columns.iter().position(|c| c == name);
        let (Some(ip), Some(alive), Some(master), Some(err)) =
            (col("IP"), col("Alive"), col("IsMaster"), col("ErrMsg"))
        else {
            anyhow::bail!("SHOW FRONTENDS lacks columns: {:?}", r.columns);
        };
        if r.rows.len() != self.nodes.len() {
            return Ok(None);
        }
        let mut masters = 0;
        for row in &r.rows {
            if !truthy(&row[alive]) {
                return Ok(None);
            }
            if row[err].as_deref().is_some_and(|e| !e.is_empty()) {
                return Ok(None);
            }
            if truthy(&row[master]) {
                masters += 1;
                if row[ip].as_deref() != Some(self.nodes[l].ip.as_str()) {
                    return Ok(None);
                }
            }
        }
        if masters != 1 {
            return Ok(None);
        }
        // Caught up: every FE has applied what the leader has (the cluster is idle here).
        let lead = self.health(l).await?.journal_id;
        for i in self.running() {
            if self.health(i).await?.journal_id < lead {
                return Ok(None);
            }
        }
        Ok(Some(()))
    }
}

impl Cluster for TesseraCluster {
    fn system(&self) -> &'static str {
        "tessera"
    }

    fn size(&self) -> usize {
        self.nodes.len()
    }

    fn write_target(&self, i: usize) -> Target {
        Target::Tessera(self.query_addr(i))
    }

    fn server_pids(&self) -> HashSet<u32> {
        self.all_pids.clone()
    }

    async fn leader(&self) -> anyhow::Result<usize> {
        wait_for(
            "a Tessera leader",
            Duration::from_secs(30),
            Duration::from_millis(50),
            || self.leader_once(),
        )
        .await
    }

    async fn term(&self) -> anyhow::Result<u64> {
        let mut term = 0;
        for i in self.running() {
            term = term.max(self.health(i).await?.term);
        }
        Ok(term)
    }

    fn kill(&mut self, i: usize) -> anyhow::Result<Instant> {
        let mut p = self.nodes[i].proc.take().context("FE not running")?;
        p.sigkill()
    }

    fn restart(&mut self, i: usize) -> anyhow::Result<()> {
        self.spawn(i, None)
    }

    async fn wait_healthy(&self, timeout: Duration) -> anyhow::Result<()> {
        wait_for(
            "a healthy Tessera cluster",
            timeout,
            Duration::from_millis(200),
            || self.healthy_once(),
        )
        .await
    }
}
