//! Tessera's on-demand benchmarks, each run side by side with a peer system on the same
//! machine: `fe_failover` (kill -9 of the leader until the first acknowledged write) and
//! `fe_commit` (journal commit throughput and latency at 1, 16 and 64 clients) against a
//! 3-member etcd cluster; `stream_load` (TPC-H lineitem by Stream Load into 3 replicas on 3
//! BEs, [`stream_load`]) against DuckDB's CSV ingest of the same file; `query` (the 22 TPC-H
//! queries over 3-replica tables, [`tpch`]) against DuckDB holding the same data.
//!
//! Both systems are driven by the same Rust client code ([`client::Conn`]): Tessera over
//! MySQL (`CREATE DATABASE bench_<n>`, one raft entry each), etcd over its v3 JSON gateway
//! (`POST /v3/kv/put`, a new 16 B key with a 100 B value each). `bench/run.sh` installs
//! etcd (or DuckDB and tpchgen-cli), builds the release binaries and runs these; see
//! `docs/benchmarks.md`.
//!
//! Benchmarks are never timed tests and never run in CI.

pub mod backend;
pub mod client;
pub mod cluster;
pub mod cpu;
pub mod etcd;
pub mod http;
pub mod procs;
pub mod report;
pub mod rowcmp;
pub mod stream_load;
pub mod tessera;
pub mod tpch;

use std::future::Future;
use std::time::Duration;
use std::time::Instant;

/// Flushes dirty pages (`sync`), so a previous run's writes do not land in the next
/// measured window.
pub fn settle_disk() {
    let _ = std::process::Command::new("sync").status();
}

/// Polls `f` every `every` until it returns `Ok(Some(_))` or `timeout` passes; the error
/// names `what` and carries the last failure seen.
pub async fn wait_for<T, F, Fut>(
    what: &str,
    timeout: Duration,
    every: Duration,
    mut f: F,
) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = Instant::now() + timeout;
    let mut last = String::from("condition not met");
    loop {
        match f().await {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => {}
            Err(e) => last = format!("{e:#}"),
        }
        if Instant::now() >= deadline {
            anyhow::bail!("timed out after {:?} waiting for {what}: {last}", timeout);
        }
        tokio::time::sleep(every).await;
    }
}
