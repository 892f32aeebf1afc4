//! A fresh 3-member etcd cluster on 127.0.0.1 (Debian's `etcd-server`), the way
//! `shared/research/peers.md` ran it: client ports 12379/22379/32379, peer ports
//! 12380/22380/32380, `--heartbeat-interval=100 --election-timeout=1000` (etcd's defaults),
//! everything else default.

use std::collections::HashSet;
use std::path::Path;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;
use std::time::Instant;

use anyhow::Context;

use crate::client::Target;
use crate::cluster::Cluster;
use crate::http::json_call;
use crate::procs::Proc;
use crate::wait_for;

const CLIENT_PORTS: [u16; 3] = [12379, 22379, 32379];
const PEER_PORTS: [u16; 3] = [12380, 22380, 32380];
const CALL_TIMEOUT: Duration = Duration::from_secs(2);

struct Member {
    name: String,
    data: PathBuf,
    log: PathBuf,
    proc: Option<Proc>,
}

/// The running etcd cluster; dropping it kills every member.
pub struct EtcdCluster {
    bin: String,
    pid_file: PathBuf,
    token: String,
    members: Vec<Member>,
    all_pids: HashSet<u32>,
}

/// What `/v3/maintenance/status` says.
#[derive(Debug, Clone)]
pub struct Status {
    /// This member's id.
    pub member_id: String,
    /// The leader's member id ("0" when none).
    pub leader: String,
    /// The raft term.
    pub term: u64,
}

fn client_addr(i: usize) -> String {
    format!("127.0.0.1:{}", CLIENT_PORTS[i])
}

fn u64_field(v: &serde_json::Value) -> Option<u64> {
    match v {
        serde_json::Value::String(s) => s.parse().ok(),
        serde_json::Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

fn str_field(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl EtcdCluster {
    /// Starts three members with data dirs under `work/etcd` and waits until healthy.
    pub async fn start(work: &Path, pid_file: &Path) -> anyhow::Result<EtcdCluster> {
        let dir = work.join("etcd");
        std::fs::create_dir_all(&dir)?;
        let mut members = Vec::new();
        for i in 0..3 {
            let name = format!("m{}", i + 1);
            members.push(Member {
                data: dir.join(format!("{name}.data")),
                log: dir.join(format!("{name}.log")),
                name,
                proc: None,
            });
        }
        let mut c = EtcdCluster {
            bin: std::env::var("ETCD_BIN").unwrap_or_else(|_| "etcd".into()),
            pid_file: pid_file.to_path_buf(),
            token: format!("tessera-bench-{}", std::process::id()),
            members,
            all_pids: HashSet::new(),
        };
        for i in 0..3 {
            c.spawn(i)?;
        }
        c.wait_healthy(Duration::from_secs(60)).await?;
        Ok(c)
    }

    fn spawn(&mut self, i: usize) -> anyhow::Result<()> {
        let initial: Vec<String> = (0..3)
            .map(|j| format!("m{}=http://127.0.0.1:{}", j + 1, PEER_PORTS[j]))
            .collect();
        let m = &self.members[i];
        let mut cmd = Command::new(&self.bin);
        cmd.arg(format!("--name={}", m.name))
            .arg(format!("--data-dir={}", m.data.display()))
            .arg(format!(
                "--listen-client-urls=http://127.0.0.1:{}",
                CLIENT_PORTS[i]
            ))
            .arg(format!(
                "--advertise-client-urls=http://127.0.0.1:{}",
                CLIENT_PORTS[i]
            ))
            .arg(format!(
                "--listen-peer-urls=http://127.0.0.1:{}",
                PEER_PORTS[i]
            ))
            .arg(format!(
                "--initial-advertise-peer-urls=http://127.0.0.1:{}",
                PEER_PORTS[i]
            ))
            .arg(format!("--initial-cluster={}", initial.join(",")))
            .arg(format!("--initial-cluster-token={}", self.token))
            // Ignored once the data dir has a WAL (a restart).
            .arg("--initial-cluster-state=new")
            .arg("--heartbeat-interval=100")
            .arg("--election-timeout=1000")
            .arg("--logger=zap")
            .arg("--log-outputs=stderr");
        let p = Proc::spawn(
            &format!("etcd {}", m.name),
            &mut cmd,
            &m.log,
            &self.pid_file,
        )?;
        if let Some(pid) = p.pid() {
            self.all_pids.insert(pid);
        }
        self.members[i].proc = Some(p);
        Ok(())
    }

    /// `/v3/maintenance/status` of member `i`.
    pub async fn status(&self, i: usize) -> anyhow::Result<Status> {
        let (code, v) = json_call(
            &client_addr(i),
            "/v3/maintenance/status",
            Some("{}"),
            CALL_TIMEOUT,
        )
        .await?;
        if code != 200 {
            anyhow::bail!("etcd m{} status: HTTP {code}: {v}", i + 1);
        }
        let header = &v["header"];
        let member_id = str_field(&header["member_id"]).context("status without member_id")?;
        let leader = str_field(&v["leader"]).unwrap_or_else(|| "0".into());
        let term = u64_field(&v["raftTerm"])
            .or_else(|| u64_field(&v["raft_term"]))
            .or_else(|| u64_field(&header["raft_term"]))
            .context("status without raftTerm")?;
        Ok(Status {
            member_id,
            leader,
            term,
        })
    }

    fn running(&self) -> Vec<usize> {
        (0..self.members.len())
            .filter(|&i| self.members[i].proc.is_some())
            .collect()
    }

    /// One look: the member all running members agree is the leader.
    async fn leader_once(&self) -> anyhow::Result<Option<usize>> {
        let mut ids = Vec::new();
        let mut leaders = HashSet::new();
        for i in self.running() {
            let s = self.status(i).await?;
            leaders.insert(s.leader.clone());
            ids.push((i, s.member_id));
        }
        if leaders.len() != 1 {
            return Ok(None);
        }
        let Some(leader) = leaders.into_iter().next() else {
            return Ok(None);
        };
        Ok(ids
            .into_iter()
            .find(|(_, id)| *id == leader)
            .map(|(i, _)| i))
    }
}

impl Cluster for EtcdCluster {
    fn system(&self) -> &'static str {
        "etcd"
    }

    fn size(&self) -> usize {
        self.members.len()
    }

    fn write_target(&self, i: usize) -> Target {
        Target::Etcd(client_addr(i))
    }

    fn server_pids(&self) -> HashSet<u32> {
        self.all_pids.clone()
    }

    async fn leader(&self) -> anyhow::Result<usize> {
        wait_for(
            "an etcd leader",
            Duration::from_secs(30),
            Duration::from_millis(50),
            || self.leader_once(),
        )
        .await
    }

    async fn term(&self) -> anyhow::Result<u64> {
        let mut term = 0;
        for i in self.running() {
            term = term.max(self.status(i).await?.term);
        }
        Ok(term)
    }

    fn kill(&mut self, i: usize) -> anyhow::Result<Instant> {
        let mut p = self.members[i].proc.take().context("member not running")?;
        p.sigkill()
    }

    fn restart(&mut self, i: usize) -> anyhow::Result<()> {
        self.spawn(i)
    }

    async fn wait_healthy(&self, timeout: Duration) -> anyhow::Result<()> {
        wait_for(
            "a healthy etcd cluster",
            timeout,
            Duration::from_millis(100),
            || async {
                if self.running().len() != self.members.len() {
                    anyhow::bail!("not all members run");
                }
                for (i, m) in self.members.iter().enumerate() {
                    if let Some(p) = &m.proc
                        && !p.alive()
                    {
                        anyhow::bail!("{} exited:\n{}", p.name, p.log_tail(20));
                    }
                    let (code, v) =
                        json_call(&client_addr(i), "/health", None, CALL_TIMEOUT).await?;
                    if code != 200 || v["health"] != "true" {
                        return Ok(None);
                    }
                }
                Ok(self.leader_once().await?.map(|_| ()))
            },
        )
        .await
    }
}
