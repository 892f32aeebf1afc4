//! The compaction task: every `cumulative_compaction_check_interval_seconds` it runs cumulative
//! compaction, and every `base_compaction_check_interval_seconds` base compaction, on the
//! tablets that need one (most rowsets first), and it sweeps the stale rowsets older than
//! `tablet_rowset_stale_sweep_time_sec` that no query reads.
//!
//! Compactions are CPU and disk work: they run on tokio's blocking pool, at most
//! `cumulative_compaction_num_threads_per_disk` (resp. `base_...`) per storage root of each kind
//! and at most `max_compaction_concurrency` in all (0 turns compaction off). One tablet has one
//! compaction at a time; a compaction commits under the storage engine's lock and only replaces
//! rowsets that are already published, so it never reorders versions with a concurrent publish.
//! A tablet whose compaction failed is left alone for [`FAILURE_BACKOFF`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use common::Result;
use common::config::be::BeConfig;
use storage::CompactionKind;
use storage::CompactionPolicy;
use storage::CompactionResult;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio::time::MissedTickBehavior;

use crate::backend::Backend;

/// How long a tablet whose compaction failed is skipped.
pub(crate) const FAILURE_BACKOFF: Duration = Duration::from_secs(60);

/// The compaction policy be.conf describes.
pub(crate) fn policy(c: &BeConfig) -> CompactionPolicy {
    let count = |v: i64| usize::try_from(v.max(1)).unwrap_or(usize::MAX);
    CompactionPolicy {
        min_cumulative_deltas: count(c.min_cumulative_compaction_num_singleton_deltas),
        max_cumulative_deltas: count(c.max_cumulative_compaction_num_singleton_deltas),
        min_base_deltas: count(c.min_base_compaction_num_singleton_deltas),
        base_interval: Duration::from_secs(
            u64::try_from(c.base_compaction_interval_seconds_since_last_operation).unwrap_or(0),
        ),
        ..CompactionPolicy::default()
    }
}

/// (cumulative, base, total) compactions allowed at once.
fn limits(c: &BeConfig, roots: usize) -> (usize, usize, usize) {
    let per_disk = |n: i32| {
        usize::try_from(n.max(1))
            .unwrap_or(1)
            .saturating_mul(roots.max(1))
    };
    let cumulative = per_disk(c.cumulative_compaction_num_threads_per_disk);
    let base = per_disk(c.base_compaction_num_threads_per_disk);
    let total = match c.max_compaction_concurrency {
        n if n > 0 => usize::try_from(n).unwrap_or(usize::MAX),
        0 => 0,
        _ => cumulative + base,
    };
    (cumulative.min(total), base.min(total), total)
}

/// How often the stale rowsets are swept: a tenth of their lifetime, between 1 and 60 s.
fn sweep_interval(c: &BeConfig) -> Duration {
    Duration::from_secs(
        u64::try_from(c.tablet_rowset_stale_sweep_time_sec / 10)
            .unwrap_or(0)
            .clamp(1, 60),
    )
}

fn seconds(v: i64) -> Duration {
    Duration::from_secs(u64::try_from(v.max(1)).unwrap_or(1))
}

type Outcome = (i64, CompactionKind, Result<Option<CompactionResult>>);

struct Scheduler {
    be: Arc<Backend>,
    policy: CompactionPolicy,
    cumulative: Arc<Semaphore>,
    base: Arc<Semaphore>,
    total: Arc<Semaphore>,
    running: JoinSet<Outcome>,
    /// Tablets (and kind) whose last compaction failed: skipped until then.
    backoff: HashMap<(i64, CompactionKind), Instant>,
}

impl Scheduler {
    /// Starts compactions of `kind` on the tablets that need one, as far as the limits allow.
    async fn round(&mut self, kind: CompactionKind) {
        self.reap();
        let policy = self.policy.clone();
        let candidates = match self
            .be
            .blocking(move |s| Ok(s.compaction_candidates(kind, &policy)))
            .await
        {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!("cannot list the tablets to compact: {e}");
                return;
            }
        };
        let now = Instant::now();
        self.backoff.retain(|_, until| *until > now);
        let sem = match kind {
            CompactionKind::Cumulative => self.cumulative.clone(),
            CompactionKind::Base => self.base.clone(),
        };
        for tablet_id in candidates {
            if self.backoff.contains_key(&(tablet_id, kind)) {
                continue;
            }
            let Ok(kind_permit) = sem.clone().try_acquire_owned() else {
                break;
            };
            let Ok(total_permit) = self.total.clone().try_acquire_owned() else {
                break;
            };
            let storage = self.be.storage.clone();
            let policy = self.policy.clone();
            self.running.spawn_blocking(move || {
                let _permits = (kind_permit, total_permit);
                (tablet_id, kind, storage.compact(tablet_id, kind, &policy))
            });
        }
    }

    fn reap(&mut self) {
        while let Some(done) = self.running.try_join_next() {
            self.finished(done);
        }
    }

    fn finished(&mut self, done: std::result::Result<Outcome, tokio::task::JoinError>) {
        match done {
            Ok((_, _, Ok(None))) => {}
            Ok((tablet_id, kind, Ok(Some(r)))) => {
                let versions = format!("[{}-{}]", r.start_version, r.end_version);
                if kind == CompactionKind::Base {
                    tracing::info!(
                        tablet_id,
                        versions,
                        inputs = r.input_rowsets,
                        rows = r.rows,
                        bytes = r.bytes,
                        version_count = r.version_count,
                        "base compaction finished"
                    );
                } else {
                    tracing::debug!(
                        tablet_id,
                        versions,
                        inputs = r.input_rowsets,
                        rows = r.rows,
                        version_count = r.version_count,
                        "cumulative compaction finished"
                    );
                }
            }
            Ok((tablet_id, kind, Err(e))) => {
                if e.code != common::StatusCode::Cancelled {
                    tracing::warn!(
                        tablet_id,
                        "{kind} compaction failed (retried in {}s): {e}",
                        FAILURE_BACKOFF.as_secs()
                    );
                }
                self.backoff
                    .insert((tablet_id, kind), Instant::now() + FAILURE_BACKOFF);
            }
            Err(e) => tracing::error!("a compaction task failed: {e}"),
        }
    }

    async fn sweep(&self) {
        let max_age = Duration::from_secs(
            u64::try_from(self.be.config.tablet_rowset_stale_sweep_time_sec).unwrap_or(0),
        );
        match self.be.blocking(move |s| s.sweep_stale(max_age)).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(rowsets = n, "removed stale rowsets"),
            Err(e) => tracing::debug!("cannot sweep stale rowsets: {e}"),
        }
    }
}

/// Runs until the backend stops; then waits for the compactions under way.
pub(crate) async fn run(be: Arc<Backend>) {
    let c = &be.config;
    let (cumulative, base, total) = limits(c, be.storage.root_paths().len());
    if total == 0 {
        tracing::info!("compaction is off (max_compaction_concurrency = 0)");
    }
    let mut cumulative_tick =
        tokio::time::interval(seconds(c.cumulative_compaction_check_interval_seconds));
    let mut base_tick = tokio::time::interval(seconds(c.base_compaction_check_interval_seconds));
    let mut sweep_tick = tokio::time::interval(sweep_interval(c));
    for t in [&mut cumulative_tick, &mut base_tick, &mut sweep_tick] {
        t.set_missed_tick_behavior(MissedTickBehavior::Delay);
    }
    let mut s = Scheduler {
        policy: policy(c),
        cumulative: Arc::new(Semaphore::new(cumulative)),
        base: Arc::new(Semaphore::new(base)),
        total: Arc::new(Semaphore::new(total)),
        running: JoinSet::new(),
        backoff: HashMap::new(),
        be: be.clone(),
    };
    let mut shutdown = be.shutdown.subscribe();
    enum Wake {
        Stop,
        Round(CompactionKind),
        Sweep,
        Done(std::result::Result<Outcome, tokio::task::JoinError>),
    }
    loop {
        let wake = tokio::select! {
            _ = shutdown.wait_for(|s| *s) => Wake::Stop,
            _ = cumulative_tick.tick(), if total > 0 => Wake::Round(CompactionKind::Cumulative),
            _ = base_tick.tick(), if total > 0 => Wake::Round(CompactionKind::Base),
            _ = sweep_tick.tick() => Wake::Sweep,
            Some(done) = s.running.join_next(), if !s.running.is_empty() => Wake::Done(done),
        };
        match wake {
            Wake::Stop => break,
            Wake::Round(kind) => s.round(kind).await,
            Wake::Sweep => s.sweep().await,
            Wake::Done(done) => s.finished(done),
        }
    }
    while let Some(done) = s.running.join_next().await {
        s.finished(done);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_follow_the_config() {
        let c = BeConfig::default();
        assert_eq!(limits(&c, 2), (2, 2, 4));
        let c = BeConfig {
            max_compaction_concurrency: 3,
            ..BeConfig::default()
        };
        assert_eq!(limits(&c, 2), (2, 2, 3));
        let c = BeConfig {
            max_compaction_concurrency: 0,
            ..BeConfig::default()
        };
        assert_eq!(limits(&c, 2), (0, 0, 0));
        assert_eq!(
            sweep_interval(&BeConfig::default()),
            Duration::from_secs(60)
        );
        let c = BeConfig {
            tablet_rowset_stale_sweep_time_sec: 0,
            ..BeConfig::default()
        };
        assert_eq!(sweep_interval(&c), Duration::from_secs(1));
        let p = policy(&BeConfig::default());
        assert_eq!(
            (
                p.min_cumulative_deltas,
                p.max_cumulative_deltas,
                p.min_base_deltas
            ),
            (5, 1000, 5)
        );
        assert_eq!(p.base_interval, Duration::from_secs(86_400));
    }
}
