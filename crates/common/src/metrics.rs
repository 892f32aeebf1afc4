//! Metrics in the Prometheus text format (`GET /metrics` on the FE's `http_port` and the BE's
//! `be_http_port`): the registry every node renders, and the name, type and help text of every
//! metric Tessera exports.
//!
//! Names follow StarRocks (`starrocks_fe_*`, `starrocks_be_*`) so dashboards written for
//! StarRocks find them; where StarRocks has a metric of the same meaning its name is reused,
//! the others are Tessera's own (see [`Desc::starrocks`] and docs/metrics.md).
//!
//! ```text
//!  Registry::install(Node::Fe) ── a PrometheusRecorder (no HTTP listener of its own)
//!     │                            └─ the process's global `metrics` recorder too, if free
//!     ├─ counter/gauge/histogram(name, labels) ─► handles the node keeps and updates
//!     └─ render() ─► "# HELP ..\n# TYPE ..\nname{labels} value\n" (axum serves it)
//! ```
//!
//! One process normally runs one node, whose registry also becomes the global recorder (so a
//! library's `metrics::counter!` shows up on its `/metrics`). Tests may run several nodes in
//! one process: the first one's registry is the global one, every later node keeps a private
//! registry of its own, so each node's `/metrics` still shows only its own values.
//!
//! Histograms render as Prometheus summaries (`{quantile=".."}` over a sliding window of about
//! a minute, plus `_sum` and `_count` since the start), as StarRocks's latency metrics do.

use std::sync::Arc;

use metrics::Counter;
use metrics::Gauge;
use metrics::Histogram;
use metrics::Key;
use metrics::KeyName;
use metrics::Label;
use metrics::Metadata;
use metrics::Recorder;
use metrics::SharedString;
use metrics::Unit;
use metrics_exporter_prometheus::PrometheusBuilder;
use metrics_exporter_prometheus::PrometheusHandle;
use metrics_exporter_prometheus::PrometheusRecorder;

/// The content type of the Prometheus text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The quantiles of every summary (StarRocks shows 0.75 ... 0.999; the median is added).
pub const QUANTILES: &[f64] = &[0.5, 0.75, 0.9, 0.95, 0.98, 0.99, 0.999];

/// A metric's Prometheus type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up (restarts at 0 with the process).
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// Observations, rendered as a summary (quantiles, `_sum`, `_count`).
    Summary,
}

impl Kind {
    /// The `# TYPE` word.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Summary => "summary",
        }
    }
}

/// One exported metric.
#[derive(Clone, Copy, Debug)]
pub struct Desc {
    /// The full name.
    pub name: &'static str,
    /// Its type.
    pub kind: Kind,
    /// Label names (values are documented in docs/metrics.md).
    pub labels: &'static [&'static str],
    /// The `# HELP` text.
    pub help: &'static str,
    /// Whether StarRocks exports a metric of this name and meaning.
    pub starrocks: bool,
}

const fn d(
    name: &'static str,
    kind: Kind,
    labels: &'static [&'static str],
    help: &'static str,
    starrocks: bool,
) -> Desc {
    Desc {
        name,
        kind,
        labels,
        help,
        starrocks,
    }
}

/// The frontend's metrics.
pub mod fe {
    use super::Desc;
    use super::Kind::Counter;
    use super::Kind::Gauge;
    use super::Kind::Summary;
    use super::d;

    /// Journal id (raft log index) applied on this FE.
    pub const MAX_JOURNAL_ID: &str = "starrocks_fe_max_journal_id";
    /// Entries this FE still has to apply.
    pub const JOURNAL_REPLAY_LAG: &str = "starrocks_fe_journal_replay_lag";
    /// The raft term this FE is in.
    pub const JOURNAL_TERM: &str = "starrocks_fe_journal_term";
    /// 1 on the leader.
    pub const IS_LEADER: &str = "starrocks_fe_is_leader";
    /// New (leader, term) pairs observed.
    pub const LEADER_CHANGES: &str = "starrocks_fe_leader_changes_total";
    /// Failed heartbeats to backends (leader).
    pub const BE_HEARTBEAT_FAILED: &str = "starrocks_fe_backend_heartbeat_failed_total";
    /// Frontends and backends by state.
    pub const NODE_INFO: &str = "starrocks_fe_node_info";
    /// Client connections on the MySQL port.
    pub const CONNECTION_TOTAL: &str = "starrocks_fe_connection_total";
    /// Statements received.
    pub const REQUEST_TOTAL: &str = "starrocks_fe_request_total";
    /// SELECT statements.
    pub const QUERY_TOTAL: &str = "starrocks_fe_query_total";
    /// SELECT statements that succeeded.
    pub const QUERY_SUCCESS: &str = "starrocks_fe_query_success";
    /// SELECT statements that failed.
    pub const QUERY_ERR: &str = "starrocks_fe_query_err";
    /// SELECT latency.
    pub const QUERY_LATENCY_MS: &str = "starrocks_fe_query_latency_ms";
    /// Load transactions begun.
    pub const TXN_BEGIN: &str = "starrocks_fe_txn_begin";
    /// Load transactions committed.
    pub const TXN_COMMITTED: &str = "starrocks_fe_txn_committed";
    /// Load transactions that became visible.
    pub const TXN_SUCCESS: &str = "starrocks_fe_txn_success";
    /// Load transactions aborted.
    pub const TXN_FAILED: &str = "starrocks_fe_txn_failed";
    /// Bytes of committed loads.
    pub const LOAD_BYTES: &str = "starrocks_fe_load_bytes";
    /// Rows of committed loads.
    pub const LOAD_ROWS: &str = "starrocks_fe_load_rows";
    /// Begin-to-visible latency of loads.
    pub const LOAD_LATENCY_MS: &str = "starrocks_fe_load_latency_ms";
    /// Tablets the last checker pass looked at.
    pub const TABLET_NUM: &str = "starrocks_fe_tablet_num";
    /// Unhealthy tablets in the last checker pass.
    pub const UNHEALTHY_TABLET_NUM: &str = "starrocks_fe_unhealthy_tablet_num";
    /// Tablets waiting for repair.
    pub const SCHEDULED_PENDING_TABLET_NUM: &str = "starrocks_fe_scheduled_pending_tablet_num";
    /// Tablets being repaired.
    pub const SCHEDULED_RUNNING_TABLET_NUM: &str = "starrocks_fe_scheduled_running_tablet_num";
    /// Clone and drop tasks sent.
    pub const CLONE_TASK_TOTAL: &str = "starrocks_fe_clone_task_total";
    /// Clones finished, by type.
    pub const CLONE_TASK_SUCCESS: &str = "starrocks_fe_clone_task_success";
    /// Repairs that failed (timeouts included).
    pub const CLONE_TASK_FAILED: &str = "starrocks_fe_clone_task_failed";
    /// Clones that timed out.
    pub const CLONE_TASK_TIMEOUT: &str = "starrocks_fe_clone_task_timeout";
    /// Bytes copied by finished clones.
    pub const CLONE_TASK_COPY_BYTES: &str = "starrocks_fe_clone_task_copy_bytes";
    /// Duration of finished clones.
    pub const CLONE_TASK_DURATION_MS: &str = "starrocks_fe_clone_task_duration_ms";
    /// Internal calls refused for a missing or wrong cluster token.
    pub const NODE_AUTH_REFUSED: &str = "starrocks_fe_node_auth_refused_total";

    /// Every frontend metric.
    pub const ALL: &[Desc] = &[
        d(
            MAX_JOURNAL_ID,
            Gauge,
            &[],
            "The last journal id (raft log index) applied on this frontend.",
            true,
        ),
        d(
            JOURNAL_REPLAY_LAG,
            Gauge,
            &[],
            "Journal entries this frontend has not applied yet: the highest log index it knows \
             of (its own log or the leader's commit index) minus its applied journal id; 0 on \
             the leader.",
            false,
        ),
        d(
            JOURNAL_TERM,
            Gauge,
            &[],
            "The raft term (leader epoch) this frontend is in.",
            false,
        ),
        d(
            IS_LEADER,
            Gauge,
            &[],
            "1 if this frontend is the leader, else 0.",
            false,
        ),
        d(
            LEADER_CHANGES,
            Counter,
            &[],
            "Times this frontend saw a new leader or a new term (elections it observed).",
            false,
        ),
        d(
            BE_HEARTBEAT_FAILED,
            Counter,
            &[],
            "Heartbeats this frontend, as leader, sent to backends that failed.",
            false,
        ),
        d(
            NODE_INFO,
            Gauge,
            &["type", "state"],
            "Nodes by type (fe_node_num, be_node_num) and state (total, alive, decommissioned), \
             as this frontend's metadata shows them.",
            true,
        ),
        d(
            CONNECTION_TOTAL,
            Gauge,
            &[],
            "Client connections open on this frontend's MySQL port.",
            true,
        ),
        d(
            REQUEST_TOTAL,
            Counter,
            &[],
            "Statements received by this frontend from clients (all kinds).",
            true,
        ),
        d(
            QUERY_TOTAL,
            Counter,
            &[],
            "SELECT statements run by this frontend.",
            true,
        ),
        d(
            QUERY_SUCCESS,
            Counter,
            &[],
            "SELECT statements that succeeded.",
            true,
        ),
        d(
            QUERY_ERR,
            Counter,
            &[],
            "SELECT statements that failed.",
            true,
        ),
        d(
            QUERY_LATENCY_MS,
            Summary,
            &[],
            "SELECT latency in milliseconds, from parse to the last row.",
            true,
        ),
        d(
            TXN_BEGIN,
            Counter,
            &[],
            "Load transactions begun by this frontend as leader.",
            true,
        ),
        d(
            TXN_COMMITTED,
            Counter,
            &[],
            "Load transactions committed by this frontend as leader (data written to a quorum).",
            false,
        ),
        d(
            TXN_SUCCESS,
            Counter,
            &[],
            "Load transactions this frontend, as leader, made visible.",
            true,
        ),
        d(
            TXN_FAILED,
            Counter,
            &[],
            "Load transactions aborted by this frontend as leader.",
            true,
        ),
        d(
            LOAD_BYTES,
            Counter,
            &[],
            "Bytes of the loads committed by this frontend as leader.",
            false,
        ),
        d(
            LOAD_ROWS,
            Counter,
            &[],
            "Rows of the loads committed by this frontend as leader.",
            false,
        ),
        d(
            LOAD_LATENCY_MS,
            Summary,
            &[],
            "Milliseconds from a load transaction's begin to its visibility.",
            false,
        ),
        d(
            TABLET_NUM,
            Gauge,
            &[],
            "Tablets the leader's last tablet checker pass looked at (0 on other frontends).",
            false,
        ),
        d(
            UNHEALTHY_TABLET_NUM,
            Gauge,
            &[],
            "Unhealthy tablets found by the leader's last tablet checker pass (0 on other \
             frontends).",
            false,
        ),
        d(
            SCHEDULED_PENDING_TABLET_NUM,
            Gauge,
            &[],
            "Tablets waiting in the leader's repair queue.",
            true,
        ),
        d(
            SCHEDULED_RUNNING_TABLET_NUM,
            Gauge,
            &[],
            "Tablets the leader is repairing now.",
            true,
        ),
        d(
            CLONE_TASK_TOTAL,
            Counter,
            &[],
            "Clone (and replica drop) tasks this frontend sent as leader.",
            false,
        ),
        d(
            CLONE_TASK_SUCCESS,
            Counter,
            &["type"],
            "Clones finished and journaled, by type (full, incremental).",
            false,
        ),
        d(
            CLONE_TASK_FAILED,
            Counter,
            &[],
            "Repairs that failed, were cancelled or timed out.",
            false,
        ),
        d(
            CLONE_TASK_TIMEOUT,
            Counter,
            &[],
            "Clones that did not finish within their timeout.",
            false,
        ),
        d(
            CLONE_TASK_COPY_BYTES,
            Counter,
            &[],
            "Bytes copied by the clones this frontend scheduled and saw finish.",
            false,
        ),
        d(
            CLONE_TASK_DURATION_MS,
            Summary,
            &[],
            "Milliseconds from sending a clone to its journaled finish.",
            false,
        ),
        d(
            NODE_AUTH_REFUSED,
            Counter,
            &["service", "method", "reason"],
            "Internal RPC calls (and joins of unregistered frontends) this frontend refused for \
             a missing or wrong cluster token.",
            false,
        ),
    ];
}

/// The backend's metrics.
pub mod be {
    use super::Desc;
    use super::Kind::Counter;
    use super::Kind::Gauge;
    use super::Kind::Summary;
    use super::d;

    /// Stream Loads coordinated, by result.
    pub const STREAM_LOAD_TOTAL: &str = "starrocks_be_stream_load_total";
    /// Bytes received and rows loaded by Stream Loads.
    pub const STREAM_LOAD: &str = "starrocks_be_stream_load";
    /// Stream Load latency.
    pub const STREAM_LOAD_DURATION_MS: &str = "starrocks_be_stream_load_duration_ms";
    /// Clone requests, total and failed.
    pub const ENGINE_REQUESTS_TOTAL: &str = "starrocks_be_engine_requests_total";
    /// Bytes copied by clones.
    pub const CLONE_TASK_COPY_BYTES: &str = "starrocks_be_clone_task_copy_bytes";
    /// Time spent copying by clones.
    pub const CLONE_TASK_COPY_DURATION_MS: &str = "starrocks_be_clone_task_copy_duration_ms";
    /// Tablets on this backend.
    pub const TABLET_NUM: &str = "starrocks_be_tablet_num";
    /// Bytes of tablet data per root path.
    pub const DISKS_DATA_USED_CAPACITY: &str = "starrocks_be_disks_data_used_capacity";
    /// Bytes available per root path.
    pub const DISKS_AVAIL_CAPACITY: &str = "starrocks_be_disks_avail_capacity";
    /// Size of the file system of each root path.
    pub const DISKS_TOTAL_CAPACITY: &str = "starrocks_be_disks_total_capacity";
    /// Plan fragments (tablet scans) started.
    pub const FRAGMENT_REQUESTS_TOTAL: &str = "starrocks_be_fragment_requests_total";
    /// Plan fragments refused before they started.
    pub const FRAGMENT_REQUESTS_FAILED: &str = "starrocks_be_fragment_requests_failed";
    /// Fragment latency.
    pub const FRAGMENT_LATENCY_MS: &str = "starrocks_be_fragment_latency_ms";
    /// Heartbeats received.
    pub const HEARTBEAT_RECEIVED: &str = "starrocks_be_heartbeat_received_total";
    /// Internal calls refused for a missing or wrong cluster token.
    pub const NODE_AUTH_REFUSED: &str = "starrocks_be_node_auth_refused_total";

    /// Every backend metric.
    pub const ALL: &[Desc] = &[
        d(
            STREAM_LOAD_TOTAL,
            Counter,
            &["status"],
            "Stream Loads this backend coordinated, by result (success, publish_timeout, \
             label_already_exists, fail).",
            false,
        ),
        d(
            STREAM_LOAD,
            Counter,
            &["type"],
            "Stream Load volume this backend coordinated: receive_bytes (request bodies \
             read) and load_rows (rows loaded by successful loads).",
            true,
        ),
        d(
            STREAM_LOAD_DURATION_MS,
            Summary,
            &[],
            "Milliseconds a Stream Load took on its coordinating backend, end to end.",
            false,
        ),
        d(
            ENGINE_REQUESTS_TOTAL,
            Counter,
            &["type", "status"],
            "Agent tasks by type (clone) and status (total, failed).",
            true,
        ),
        d(
            CLONE_TASK_COPY_BYTES,
            Counter,
            &["type"],
            "Bytes clones copied into this backend (type INTER_NODE: from another backend).",
            true,
        ),
        d(
            CLONE_TASK_COPY_DURATION_MS,
            Counter,
            &["type"],
            "Milliseconds clones into this backend spent, summed (type INTER_NODE).",
            true,
        ),
        d(
            TABLET_NUM,
            Gauge,
            &[],
            "Tablet replicas on this backend.",
            false,
        ),
        d(
            DISKS_DATA_USED_CAPACITY,
            Gauge,
            &["path"],
            "Bytes of tablet data under each storage root path.",
            true,
        ),
        d(
            DISKS_AVAIL_CAPACITY,
            Gauge,
            &["path"],
            "Bytes available on the file system of each storage root path.",
            true,
        ),
        d(
            DISKS_TOTAL_CAPACITY,
            Gauge,
            &["path"],
            "Size in bytes of the file system of each storage root path.",
            true,
        ),
        d(
            FRAGMENT_REQUESTS_TOTAL,
            Counter,
            &[],
            "Plan fragments (one tablet scan of a query each) this backend started.",
            true,
        ),
        d(
            FRAGMENT_REQUESTS_FAILED,
            Counter,
            &[],
            "Plan fragments this backend refused (bad plan, tablet or version missing).",
            false,
        ),
        d(
            FRAGMENT_LATENCY_MS,
            Summary,
            &[],
            "Milliseconds from a fragment's start until its result stream ended.",
            false,
        ),
        d(
            HEARTBEAT_RECEIVED,
            Counter,
            &["result"],
            "Heartbeats received from the leader frontend, by result (accepted, refused).",
            false,
        ),
        d(
            NODE_AUTH_REFUSED,
            Counter,
            &["service", "method", "reason"],
            "Internal RPC calls (and heartbeats) this backend refused for a missing or wrong \
             cluster token.",
            false,
        ),
    ];
}

/// Which kind of node a registry belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Node {
    /// A frontend.
    Fe,
    /// A backend.
    Be,
}

impl Node {
    /// This node kind's metrics.
    pub fn metrics(self) -> &'static [Desc] {
        match self {
            Node::Fe => fe::ALL,
            Node::Be => be::ALL,
        }
    }
}

/// Lets one recorder be both the global one and a node's own.
struct Shared(Arc<PrometheusRecorder>);

impl Recorder for Shared {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.0.describe_counter(key, unit, description)
    }
    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.0.describe_gauge(key, unit, description)
    }
    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.0.describe_histogram(key, unit, description)
    }
    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        self.0.register_counter(key, metadata)
    }
    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        self.0.register_gauge(key, metadata)
    }
    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        self.0.register_histogram(key, metadata)
    }
}

static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));

/// One node's metrics: register handles, render the text format.
pub struct Registry {
    recorder: Arc<PrometheusRecorder>,
    handle: PrometheusHandle,
    global: bool,
}

impl Registry {
    /// A registry with every metric of `node` described; it becomes the process's global
    /// `metrics` recorder unless another one already is (then it stays private).
    pub fn install(node: Node) -> Registry {
        let mut r = Registry::private(node);
        r.global = metrics::set_global_recorder(Shared(r.recorder.clone())).is_ok();
        if !r.global {
            tracing::debug!(
                "a metrics recorder is already installed in this process; this node keeps a \
                 registry of its own"
            );
        }
        r
    }

    /// A registry with every metric of `node` described, never installed globally.
    pub fn private(node: Node) -> Registry {
        let builder = PrometheusBuilder::new();
        // The quantiles are constants in range, so this cannot fail; keep the defaults if
        // it ever did rather than fail a node's start.
        let builder = match builder.set_quantiles(QUANTILES) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(%e, "metrics quantiles refused; using the defaults");
                PrometheusBuilder::new()
            }
        };
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        for m in node.metrics() {
            let help = SharedString::const_str(m.help);
            let name = KeyName::from_const_str(m.name);
            match m.kind {
                Kind::Counter => recorder.describe_counter(name, None, help),
                Kind::Gauge => recorder.describe_gauge(name, None, help),
                Kind::Summary => recorder.describe_histogram(name, None, help),
            }
        }
        Registry {
            recorder: Arc::new(recorder),
            handle,
            global: false,
        }
    }

    /// Whether this registry is the process's global recorder.
    pub fn is_global(&self) -> bool {
        self.global
    }

    fn key(name: &'static str, labels: &[(&'static str, &str)]) -> Key {
        let labels: Vec<Label> = labels
            .iter()
            .map(|(k, v)| Label::new(*k, v.to_string()))
            .collect();
        Key::from_parts(name, labels)
    }

    /// A counter.
    pub fn counter(&self, name: &'static str, labels: &[(&'static str, &str)]) -> Counter {
        self.recorder
            .register_counter(&Self::key(name, labels), &METADATA)
    }

    /// A gauge.
    pub fn gauge(&self, name: &'static str, labels: &[(&'static str, &str)]) -> Gauge {
        self.recorder
            .register_gauge(&Self::key(name, labels), &METADATA)
    }

    /// A histogram (rendered as a summary).
    pub fn histogram(&self, name: &'static str, labels: &[(&'static str, &str)]) -> Histogram {
        self.recorder
            .register_histogram(&Self::key(name, labels), &METADATA)
    }

    /// Everything in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        self.handle.render()
    }

    /// Folds buffered histogram samples into their summaries; run it every few seconds so
    /// memory stays bounded when nobody scrapes.
    pub fn run_upkeep(&self) {
        self.handle.run_upkeep();
    }
}

/// One sample of the text format: name, labels (in order), value.
pub type Sample = (String, Vec<(String, String)>, f64);

/// Parses the text format into samples (comments skipped); for tests and tools. Label values
/// must not contain `,` or `}` (none of Tessera's do).
pub fn parse_text(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        let (name, labels) = match series.split_once('{') {
            Some((n, rest)) => {
                let inner = rest.strip_suffix('}').unwrap_or(rest);
                let labels = inner
                    .split(',')
                    .filter_map(|kv| {
                        let (k, v) = kv.split_once('=')?;
                        Some((k.trim().to_string(), v.trim().trim_matches('"').to_string()))
                    })
                    .collect();
                (n.to_string(), labels)
            }
            None => (series.to_string(), Vec::new()),
        };
        out.push((name, labels, value));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn all() -> impl Iterator<Item = &'static Desc> {
        fe::ALL.iter().chain(be::ALL.iter())
    }

    #[test]
    fn names_are_unique_prefixed_and_valid() {
        let mut seen = BTreeSet::new();
        for m in all() {
            assert!(seen.insert(m.name), "{} is listed twice", m.name);
            assert!(
                m.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{} is not a plain snake_case name",
                m.name
            );
            assert!(!m.help.is_empty(), "{} has no help text", m.name);
        }
        for m in fe::ALL {
            assert!(m.name.starts_with("starrocks_fe_"), "{}", m.name);
        }
        for m in be::ALL {
            assert!(m.name.starts_with("starrocks_be_"), "{}", m.name);
        }
    }

    #[test]
    fn every_metric_is_documented() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/metrics.md");
        let doc = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        for m in all() {
            let row = doc
                .lines()
                .find(|l| l.starts_with(&format!("| `{}`", m.name)))
                .unwrap_or_else(|| panic!("docs/metrics.md has no table row for {}", m.name));
            assert!(
                row.contains(&format!("| {} |", m.kind.as_str())),
                "docs/metrics.md gives {} another type than {}: {row}",
                m.name,
                m.kind.as_str()
            );
        }
    }

    #[test]
    fn render_has_help_and_type_lines_and_values() {
        let r = Registry::private(Node::Fe);
        let c = r.counter(fe::QUERY_TOTAL, &[]);
        c.increment(3);
        r.gauge(
            fe::NODE_INFO,
            &[("type", "be_node_num"), ("state", "alive")],
        )
        .set(4.0);
        let h = r.histogram(fe::QUERY_LATENCY_MS, &[]);
        h.record(10.0);
        h.record(30.0);
        let text = r.render();
        assert!(
            text.lines()
                .any(|l| l == "# TYPE starrocks_fe_query_total counter"),
            "{text}"
        );
        assert!(
            text.lines()
                .any(|l| l.starts_with("# HELP starrocks_fe_query_total SELECT")),
            "{text}"
        );
        assert!(
            text.lines()
                .any(|l| l == "# TYPE starrocks_fe_query_latency_ms summary"),
            "{text}"
        );
        let samples = parse_text(&text);
        let value = |name: &str, labels: &[(&str, &str)]| {
            samples
                .iter()
                .find(|(n, l, _)| {
                    n == name
                        && labels
                            .iter()
                            .all(|(k, v)| l.iter().any(|(lk, lv)| lk == k && lv == v))
                })
                .map(|(_, _, v)| *v)
        };
        assert_eq!(value("starrocks_fe_query_total", &[]), Some(3.0));
        assert_eq!(
            value(
                "starrocks_fe_node_info",
                &[("type", "be_node_num"), ("state", "alive")]
            ),
            Some(4.0)
        );
        assert_eq!(value("starrocks_fe_query_latency_ms_count", &[]), Some(2.0));
        assert_eq!(value("starrocks_fe_query_latency_ms_sum", &[]), Some(40.0));
        // Quantiles come from a sketch: close to an observed value, not exact.
        let p99 = value("starrocks_fe_query_latency_ms", &[("quantile", "0.99")]);
        assert!(p99.is_some_and(|v| (9.5..=30.5).contains(&v)), "{p99:?}");
    }

    #[test]
    fn counters_set_by_absolute_value_never_go_down() {
        let r = Registry::private(Node::Fe);
        let c = r.counter(fe::CLONE_TASK_TOTAL, &[]);
        c.absolute(7);
        c.absolute(5);
        let samples = parse_text(&r.render());
        let v = samples
            .iter()
            .find(|(n, _, _)| n == fe::CLONE_TASK_TOTAL)
            .map(|(_, _, v)| *v);
        assert_eq!(v, Some(7.0));
    }

    #[test]
    fn registries_of_two_nodes_in_one_process_stay_apart() {
        let a = Registry::install(Node::Be);
        let b = Registry::install(Node::Be);
        // At most one of them (none if another test got there first) is the global one.
        assert!(!(a.is_global() && b.is_global()));
        a.counter(be::HEARTBEAT_RECEIVED, &[("result", "accepted")])
            .increment(2);
        b.counter(be::HEARTBEAT_RECEIVED, &[("result", "accepted")])
            .increment(5);
        let get = |r: &Registry| {
            parse_text(&r.render())
                .into_iter()
                .find(|(n, _, _)| n == be::HEARTBEAT_RECEIVED)
                .map(|(_, _, v)| v)
        };
        assert_eq!(get(&a), Some(2.0));
        assert_eq!(get(&b), Some(5.0));
        // A library's macro reaches the global registry (if one of these two is it).
        if a.is_global() {
            metrics::counter!(be::TABLET_NUM).increment(1);
            assert!(a.render().contains(be::TABLET_NUM));
            assert!(!b.render().contains(&format!("\n{} ", be::TABLET_NUM)));
        }
    }

    #[test]
    fn parse_text_reads_labels_and_skips_comments() {
        let text = "# HELP x y\n# TYPE x counter\nx{a=\"1\",b=\"two\"} 5\ny 2.5\nbad line\n";
        let s = parse_text(text);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].0, "x");
        assert_eq!(
            s[0].1,
            vec![
                ("a".to_string(), "1".to_string()),
                ("b".to_string(), "two".to_string())
            ]
        );
        assert_eq!(s[0].2, 5.0);
        assert_eq!(s[1], ("y".to_string(), vec![], 2.5));
    }
}
