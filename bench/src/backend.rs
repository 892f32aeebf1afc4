//! Tessera BEs for the load benches: BE i on its own loopback address with StarRocks's BE
//! ports (be_port 9060, heartbeat_service_port 9050, be_http_port 8040, brpc_port 8060),
//! joined to the cluster the StarRocks way (`ALTER SYSTEM ADD BACKEND "ip:9050"`).

use std::collections::HashSet;
use std::path::Path;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::Context;

use crate::cluster::Cluster;
use crate::http::HttpConn;
use crate::procs::Proc;
use crate::tessera::TesseraCluster;
use crate::tessera::sql;
use crate::wait_for;

/// The port `ALTER SYSTEM ADD BACKEND` names.
pub const HEARTBEAT_SERVICE_PORT: u16 = 9050;
/// The BE's HTTP port: Stream Load lands here after the FE's redirect.
pub const BE_HTTP_PORT: u16 = 8040;
/// Every port a BE binds (for the free-port check of `bench/run.sh`).
pub const BE_PORTS: [u16; 4] = [9060, HEARTBEAT_SERVICE_PORT, BE_HTTP_PORT, 8060];

struct Node {
    ip: String,
    proc: Proc,
}

/// Running BEs; dropping them kills every BE.
pub struct Backends {
    nodes: Vec<Node>,
}

impl Backends {
    /// Starts one BE per address in `ips` (data and logs under `work/be<i>`, every key but the
    /// address, the directories and `sys_log_level = WARN` at its default) and waits until
    /// each answers `GET /api/health` with 200.
    pub async fn start(
        bin: &Path,
        work: &Path,
        pid_file: &Path,
        ips: &[String],
    ) -> anyhow::Result<Backends> {
        Self::start_conf(bin, work, pid_file, ips, &[]).await
    }

    /// [`Backends::start`] with extra `be.conf` lines (`key = value`).
    pub async fn start_conf(
        bin: &Path,
        work: &Path,
        pid_file: &Path,
        ips: &[String],
        extra: &[(&str, &str)],
    ) -> anyhow::Result<Backends> {
        let mut nodes = Vec::new();
        for (i, ip) in ips.iter().enumerate() {
            let home = work.join(format!("be{}", i + 1));
            for d in ["conf", "storage", "log"] {
                std::fs::create_dir_all(home.join(d))?;
            }
            let conf = home.join("conf").join("be.conf");
            std::fs::write(
                &conf,
                format!(
                    "priority_networks = {ip}/32\nstorage_root_path = {}\nsys_log_dir = {}\nsys_log_level = WARN\n{}",
                    home.join("storage").display(),
                    home.join("log").display(),
                    extra
                        .iter()
                        .map(|(k, v)| format!("{k} = {v}\n"))
                        .collect::<String>()
                ),
            )?;
            let mut cmd = Command::new(bin);
            cmd.arg("be").arg("--conf").arg(&conf);
            let log: PathBuf = home.join("log").join("be.out");
            let proc = Proc::spawn(&format!("be {ip}"), &mut cmd, &log, pid_file)?;
            nodes.push(Node {
                ip: ip.clone(),
                proc,
            });
        }
        let b = Backends { nodes };
        for n in &b.nodes {
            let addr = format!("{}:{BE_HTTP_PORT}", n.ip);
            wait_for(
                &format!("{} to answer /api/health", n.proc.name),
                Duration::from_secs(60),
                Duration::from_millis(50),
                || async {
                    b.check_alive()?;
                    let r = tokio::time::timeout(Duration::from_secs(2), async {
                        let mut c = HttpConn::connect(&addr).await?;
                        c.call("/api/health", None).await
                    })
                    .await;
                    Ok(matches!(r, Ok(Ok((200, _)))).then_some(()))
                },
            )
            .await?;
        }
        Ok(b)
    }

    /// Fails with the log tail of a BE that exited.
    pub fn check_alive(&self) -> anyhow::Result<()> {
        for n in &self.nodes {
            if !n.proc.alive() {
                anyhow::bail!("{} exited:\n{}", n.proc.name, n.proc.log_tail(30));
            }
        }
        Ok(())
    }

    /// `ALTER SYSTEM ADD BACKEND "ip:9050"` for each BE through the FE at `fe_query_addr`,
    /// then waits until `SHOW BACKENDS` lists them all Alive with no ErrMsg.
    pub async fn join(&self, fe_query_addr: &str) -> anyhow::Result<()> {
        for n in &self.nodes {
            sql(
                fe_query_addr,
                &format!(
                    "ALTER SYSTEM ADD BACKEND \"{}:{HEARTBEAT_SERVICE_PORT}\"",
                    n.ip
                ),
            )
            .await?;
        }
        wait_for(
            "every BE Alive in SHOW BACKENDS",
            Duration::from_secs(60),
            Duration::from_millis(200),
            || async {
                self.check_alive()?;
                let r = sql(fe_query_addr, "SHOW BACKENDS").await?;
                let col = |name: &str| r.columns.iter().position(|c| c == name);
                let (Some(ip), Some(alive), Some(err)) = (col("IP"), col("Alive"), col("ErrMsg"))
                else {
                    anyhow::bail!("SHOW BACKENDS lacks columns: {:?}", r.columns);
                };
                let up: HashSet<&str> = r
                    .rows
                    .iter()
                    .filter(|row| {
                        row[alive]
                            .as_deref()
                            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
                            && row[err].as_deref().is_none_or(str::is_empty)
                    })
                    .filter_map(|row| row[ip].as_deref())
                    .collect();
                Ok(self
                    .nodes
                    .iter()
                    .all(|n| up.contains(n.ip.as_str()))
                    .then_some(()))
            },
        )
        .await
    }

    /// The addresses, in start order.
    pub fn ips(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.ip.clone()).collect()
    }

    /// The PID of the BE on `ip`.
    pub fn pid_of(&self, ip: &str) -> Option<u32> {
        self.nodes
            .iter()
            .find(|n| n.ip == ip)
            .and_then(|n| n.proc.pid())
    }

    /// Kills the BE on `ip` with SIGKILL; when it was sent.
    pub fn kill(&mut self, ip: &str) -> anyhow::Result<std::time::Instant> {
        let n = self
            .nodes
            .iter_mut()
            .find(|n| n.ip == ip)
            .with_context(|| format!("no BE on {ip}"))?;
        n.proc.sigkill()
    }

    /// Every BE's PID.
    pub fn pids(&self) -> HashSet<u32> {
        self.nodes.iter().filter_map(|n| n.proc.pid()).collect()
    }
}

/// The cluster of the load and query benches: 1 FE and 3 BEs, BE i on
/// 127.0.0.(ip_base + i - 1), the FE beside BE 1; dropping it kills every process.
pub struct LoadCluster {
    /// The FE (one).
    pub fe: TesseraCluster,
    /// The three BEs, joined and Alive.
    pub bes: Backends,
    /// The BEs' addresses, in start order.
    pub ips: Vec<String>,
}

impl LoadCluster {
    /// Starts the FE, then the 3 BEs (work files under `work`), adds them with
    /// `ALTER SYSTEM ADD BACKEND` and waits until `SHOW BACKENDS` has them all Alive.
    pub async fn start(
        bin: &Path,
        work: &Path,
        pid_file: &Path,
        ip_base: u8,
    ) -> anyhow::Result<LoadCluster> {
        let fe = TesseraCluster::start_n(bin, work, pid_file, ip_base, 1).await?;
        let ips: Vec<String> = (0..3u8)
            .map(|i| format!("127.0.0.{}", ip_base + i))
            .collect();
        let bes = Backends::start(bin, work, pid_file, &ips).await?;
        bes.join(&fe.query_addr(0)).await?;
        Ok(LoadCluster { fe, bes, ips })
    }

    /// The FE's MySQL address.
    pub fn query_addr(&self) -> String {
        self.fe.query_addr(0)
    }

    /// The FE's HTTP address (Stream Load).
    pub fn http_addr(&self) -> String {
        self.fe.http_addr(0)
    }

    /// Every FE and BE PID.
    pub fn server_pids(&self) -> HashSet<u32> {
        let mut p = self.bes.pids();
        p.extend(self.fe.server_pids());
        p
    }
}

/// Per BE (by backend id): the row counts of its replicas of `db.table`, summed, from
/// `SHOW TABLET FROM db.table`; with the number of replicas seen.
pub async fn replica_rows(
    fe_query_addr: &str,
    db: &str,
    table: &str,
) -> anyhow::Result<Vec<(String, u64, usize)>> {
    let r = sql(fe_query_addr, &format!("SHOW TABLET FROM `{db}`.`{table}`")).await?;
    let col = |name: &str| r.columns.iter().position(|c| c == name);
    let (Some(be), Some(rows)) = (col("BackendId"), col("RowCount")) else {
        anyhow::bail!("SHOW TABLET lacks columns: {:?}", r.columns);
    };
    let mut out: Vec<(String, u64, usize)> = Vec::new();
    for row in &r.rows {
        let id = row[be].clone().unwrap_or_default();
        let n: u64 = row[rows]
            .as_deref()
            .unwrap_or("0")
            .parse()
            .with_context(|| format!("SHOW TABLET RowCount {:?}", row[rows]))?;
        match out.iter_mut().find(|(b, _, _)| *b == id) {
            Some(e) => {
                e.1 += n;
                e.2 += 1;
            }
            None => out.push((id, n, 1)),
        }
    }
    out.sort();
    Ok(out)
}
