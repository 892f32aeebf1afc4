//! The frontend's metrics (`GET /metrics` on `http_port`): handles for the events counted where
//! they happen (statements, load transactions, heartbeats, elections, clones) and gauges of
//! state refreshed at each scrape (journal, nodes, repair queues), which costs a few reads of
//! in-memory state. Names and help texts: [`common::metrics::fe`] and docs/metrics.md.

use std::sync::Arc;
use std::time::Duration;

use common::metrics::Node;
use common::metrics::Registry;
use common::metrics::fe as m;
use metrics::Counter;
use metrics::Gauge;
use metrics::Histogram;

use crate::frontend::Frontend;

/// How often buffered summary samples are folded in when nobody scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// One frontend's metric handles.
pub struct FeMetrics {
    registry: Registry,
    /// New (leader, term) pairs seen.
    pub leader_changes: Counter,
    /// Failed heartbeats to backends.
    pub be_heartbeat_failed: Counter,
    /// Client statements.
    pub request_total: Counter,
    query_total: Counter,
    query_success: Counter,
    query_err: Counter,
    query_latency_ms: Histogram,
    /// Load transactions begun.
    pub txn_begin: Counter,
    txn_committed: Counter,
    txn_success: Counter,
    /// Load transactions aborted.
    pub txn_failed: Counter,
    load_bytes: Counter,
    load_rows: Counter,
    load_latency_ms: Histogram,
    /// Send-to-finish time of clones.
    pub clone_duration_ms: Histogram,
    max_journal_id: Gauge,
    replay_lag: Gauge,
    term: Gauge,
    is_leader: Gauge,
    connections: Gauge,
    fe_total: Gauge,
    fe_alive: Gauge,
    be_total: Gauge,
    be_alive: Gauge,
    be_decommissioned: Gauge,
    tablet_num: Gauge,
    unhealthy_tablets: Gauge,
    pending_tablets: Gauge,
    running_tablets: Gauge,
    clone_total: Counter,
    clone_full: Counter,
    clone_incremental: Counter,
    clone_failed: Counter,
    clone_timeout: Counter,
    clone_bytes: Counter,
}

impl Default for FeMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl FeMetrics {
    /// Registers every frontend metric (the process's global recorder if it is free).
    pub fn new() -> FeMetrics {
        let r = Registry::install(Node::Fe);
        let node = |t: &str, s: &str| r.gauge(m::NODE_INFO, &[("type", t), ("state", s)]);
        FeMetrics {
            leader_changes: r.counter(m::LEADER_CHANGES, &[]),
            be_heartbeat_failed: r.counter(m::BE_HEARTBEAT_FAILED, &[]),
            request_total: r.counter(m::REQUEST_TOTAL, &[]),
            query_total: r.counter(m::QUERY_TOTAL, &[]),
            query_success: r.counter(m::QUERY_SUCCESS, &[]),
            query_err: r.counter(m::QUERY_ERR, &[]),
            query_latency_ms: r.histogram(m::QUERY_LATENCY_MS, &[]),
            txn_begin: r.counter(m::TXN_BEGIN, &[]),
            txn_committed: r.counter(m::TXN_COMMITTED, &[]),
            txn_success: r.counter(m::TXN_SUCCESS, &[]),
            txn_failed: r.counter(m::TXN_FAILED, &[]),
            load_bytes: r.counter(m::LOAD_BYTES, &[]),
            load_rows: r.counter(m::LOAD_ROWS, &[]),
            load_latency_ms: r.histogram(m::LOAD_LATENCY_MS, &[]),
            clone_duration_ms: r.histogram(m::CLONE_TASK_DURATION_MS, &[]),
            max_journal_id: r.gauge(m::MAX_JOURNAL_ID, &[]),
            replay_lag: r.gauge(m::JOURNAL_REPLAY_LAG, &[]),
            term: r.gauge(m::JOURNAL_TERM, &[]),
            is_leader: r.gauge(m::IS_LEADER, &[]),
            connections: r.gauge(m::CONNECTION_TOTAL, &[]),
            fe_total: node("fe_node_num", "total"),
            fe_alive: node("fe_node_num", "alive"),
            be_total: node("be_node_num", "total"),
            be_alive: node("be_node_num", "alive"),
            be_decommissioned: node("be_node_num", "decommissioned"),
            tablet_num: r.gauge(m::TABLET_NUM, &[]),
            unhealthy_tablets: r.gauge(m::UNHEALTHY_TABLET_NUM, &[]),
            pending_tablets: r.gauge(m::SCHEDULED_PENDING_TABLET_NUM, &[]),
            running_tablets: r.gauge(m::SCHEDULED_RUNNING_TABLET_NUM, &[]),
            clone_total: r.counter(m::CLONE_TASK_TOTAL, &[]),
            clone_full: r.counter(m::CLONE_TASK_SUCCESS, &[("type", "full")]),
            clone_incremental: r.counter(m::CLONE_TASK_SUCCESS, &[("type", "incremental")]),
            clone_failed: r.counter(m::CLONE_TASK_FAILED, &[]),
            clone_timeout: r.counter(m::CLONE_TASK_TIMEOUT, &[]),
            clone_bytes: r.counter(m::CLONE_TASK_COPY_BYTES, &[]),
            registry: r,
        }
    }

    /// A SELECT finished.
    pub fn query_done(&self, elapsed: Duration, ok: bool) {
        self.query_total.increment(1);
        if ok {
            self.query_success.increment(1);
        } else {
            self.query_err.increment(1);
        }
        self.query_latency_ms.record(elapsed.as_secs_f64() * 1000.0);
    }

    /// A load transaction was committed (first time only, not a repeated commit).
    pub fn load_committed(&self, bytes: i64, rows: i64) {
        self.txn_committed.increment(1);
        self.load_bytes.increment(u64::try_from(bytes).unwrap_or(0));
        self.load_rows.increment(u64::try_from(rows).unwrap_or(0));
    }

    /// A load transaction became visible; `begin_ms` is its prepare time (epoch ms).
    pub fn load_visible(&self, begin_ms: i64) {
        self.txn_success.increment(1);
        let ms = (common::clock::now_ms() - begin_ms).max(0);
        self.load_latency_ms.record(ms as f64);
    }

    /// Counts an internal call refused for its cluster token.
    pub fn node_auth_refused(&self, r: &proto::auth::Refusal) {
        self.registry
            .counter(
                m::NODE_AUTH_REFUSED,
                &[
                    ("service", r.service),
                    ("method", r.method),
                    ("reason", r.reason.as_str()),
                ],
            )
            .increment(1);
    }

    /// Refreshes the state gauges and renders everything in the Prometheus text format.
    pub fn render(&self, fe: &Frontend) -> String {
        self.refresh(fe);
        self.registry.render()
    }

    fn refresh(&self, fe: &Frontend) {
        let leader = fe.journal.is_leader();
        self.max_journal_id.set(fe.journal.applied_index() as f64);
        self.replay_lag.set(fe.journal.replay_lag() as f64);
        self.term.set(fe.journal.term() as f64);
        self.is_leader.set(if leader { 1.0 } else { 0.0 });
        self.connections.set(fe.connection_count() as f64);
        let (fes, fes_alive, bes, bes_alive, bes_decom) = fe.journal.state.read(|s| {
            let c = &s.catalog;
            let members = s.membership.membership().nodes().count();
            let fes_alive = c.frontends.values().filter(|f| f.alive).count();
            let bes_alive = c.backends.values().filter(|b| b.status.alive).count();
            let decom = c.backends.values().filter(|b| b.decommissioned).count();
            (members, fes_alive, c.backends.len(), bes_alive, decom)
        });
        self.fe_total.set(fes as f64);
        self.fe_alive.set(fes_alive as f64);
        self.be_total.set(bes as f64);
        self.be_alive.set(bes_alive as f64);
        self.be_decommissioned.set(bes_decom as f64);
        let (stats, pending, running) = fe.repair.counts();
        // The checker and scheduler run on the leader only; another frontend's numbers would
        // be stale ones from when it last led.
        let current = |v: u64| if leader { v as f64 } else { 0.0 };
        self.tablet_num.set(current(stats.last_check_tablets));
        self.unhealthy_tablets
            .set(current(stats.last_check_unhealthy));
        self.pending_tablets.set(current(pending as u64));
        self.running_tablets.set(current(running as u64));
        self.clone_total.absolute(stats.scheduled);
        self.clone_full.absolute(stats.full_clones);
        self.clone_incremental.absolute(stats.incremental_clones);
        self.clone_failed.absolute(stats.failed);
        self.clone_timeout.absolute(stats.timeouts);
        self.clone_bytes
            .absolute(u64::try_from(stats.bytes_copied).unwrap_or(0));
    }

    /// Folds buffered samples in every few seconds until shutdown.
    pub fn spawn_upkeep(fe: &Arc<Frontend>) {
        let mut shutdown = fe.shutdown.subscribe();
        let fe = fe.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(UPKEEP_EVERY) => fe.metrics.registry.run_upkeep(),
                    _ = shutdown.changed() => return,
                }
            }
        });
    }
}
