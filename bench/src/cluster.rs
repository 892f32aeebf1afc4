//! What a benchmark needs from a 3-member cluster, whichever system it is.

use std::collections::HashSet;
use std::time::Duration;
use std::time::Instant;

use crate::client::Target;

/// A running 3-member cluster of etcd or Tessera FEs, members numbered 0..3.
#[allow(async_fn_in_trait)]
pub trait Cluster {
    /// `etcd` or `tessera`.
    fn system(&self) -> &'static str;
    /// Number of members.
    fn size(&self) -> usize;
    /// Where a client sends writes to member `i`.
    fn write_target(&self, i: usize) -> Target;
    /// Every PID that belonged to this cluster (killed members included), for CPU accounting.
    fn server_pids(&self) -> HashSet<u32>;
    /// The member all running members agree is the leader (bounded wait).
    async fn leader(&self) -> anyhow::Result<usize>;
    /// The highest raft term any running member reports.
    async fn term(&self) -> anyhow::Result<u64>;
    /// SIGKILLs member `i`; returns the instant just before the signal.
    fn kill(&mut self, i: usize) -> anyhow::Result<Instant>;
    /// Restarts member `i` on its data directory.
    fn restart(&mut self, i: usize) -> anyhow::Result<()>;
    /// Waits until all members run, agree on one leader and have caught up.
    async fn wait_healthy(&self, timeout: Duration) -> anyhow::Result<()>;
}
