//! The backend's metrics (`GET /metrics` on `be_http_port`): handles for the events counted
//! where they happen (Stream Loads, clones, plan fragments, heartbeats) and gauges of state
//! refreshed at each scrape (tablets, disks; the disk sizes are the cached ones heartbeats
//! use, so a scrape does not walk the data directories). Names and help texts:
//! [`common::metrics::be`] and docs/metrics.md.

use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

use common::metrics::Node;
use common::metrics::Registry;
use common::metrics::be as m;
use metrics::Counter;
use metrics::Gauge;
use metrics::Histogram;

use crate::backend::Backend;

/// How often buffered summary samples are folded in when nobody scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// One backend's metric handles.
pub struct BeMetrics {
    registry: Registry,
    load_success: Counter,
    load_publish_timeout: Counter,
    load_label_exists: Counter,
    load_fail: Counter,
    load_receive_bytes: Counter,
    load_rows: Counter,
    load_duration_ms: Histogram,
    clone_total: Counter,
    clone_failed: Counter,
    clone_bytes: Counter,
    clone_ms: Counter,
    /// Plan fragments started.
    pub fragments: Counter,
    /// Plan fragments refused.
    pub fragments_failed: Counter,
    fragment_latency_ms: Histogram,
    /// Heartbeats accepted.
    pub heartbeat_accepted: Counter,
    /// Heartbeats refused.
    pub heartbeat_refused: Counter,
    tablet_num: Gauge,
}

impl Default for BeMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl BeMetrics {
    /// Registers every backend metric (the process's global recorder if it is free).
    pub fn new() -> BeMetrics {
        let r = Registry::install(Node::Be);
        let load = |s: &str| r.counter(m::STREAM_LOAD_TOTAL, &[("status", s)]);
        let clone = |s: &str| {
            r.counter(
                m::ENGINE_REQUESTS_TOTAL,
                &[("type", "clone"), ("status", s)],
            )
        };
        BeMetrics {
            load_success: load("success"),
            load_publish_timeout: load("publish_timeout"),
            load_label_exists: load("label_already_exists"),
            load_fail: load("fail"),
            load_receive_bytes: r.counter(m::STREAM_LOAD, &[("type", "receive_bytes")]),
            load_rows: r.counter(m::STREAM_LOAD, &[("type", "load_rows")]),
            load_duration_ms: r.histogram(m::STREAM_LOAD_DURATION_MS, &[]),
            clone_total: clone("total"),
            clone_failed: clone("failed"),
            clone_bytes: r.counter(m::CLONE_TASK_COPY_BYTES, &[("type", "INTER_NODE")]),
            clone_ms: r.counter(m::CLONE_TASK_COPY_DURATION_MS, &[("type", "INTER_NODE")]),
            fragments: r.counter(m::FRAGMENT_REQUESTS_TOTAL, &[]),
            fragments_failed: r.counter(m::FRAGMENT_REQUESTS_FAILED, &[]),
            fragment_latency_ms: r.histogram(m::FRAGMENT_LATENCY_MS, &[]),
            heartbeat_accepted: r.counter(m::HEARTBEAT_RECEIVED, &[("result", "accepted")]),
            heartbeat_refused: r.counter(m::HEARTBEAT_RECEIVED, &[("result", "refused")]),
            tablet_num: r.gauge(m::TABLET_NUM, &[]),
            registry: r,
        }
    }

    /// A Stream Load this backend coordinated ended with StarRocks's `status` text.
    pub fn load_done(&self, status: &str, body_bytes: u64, rows: u64, ms: u64) {
        let c = match status {
            "Success" => &self.load_success,
            "Publish Timeout" => &self.load_publish_timeout,
            "Label Already Exists" => &self.load_label_exists,
            _ => &self.load_fail,
        };
        c.increment(1);
        self.load_receive_bytes.increment(body_bytes);
        if matches!(status, "Success" | "Publish Timeout") {
            self.load_rows.increment(rows);
        }
        self.load_duration_ms.record(ms as f64);
    }

    /// A clone into this backend ended.
    pub fn clone_done(&self, ok: bool, bytes: i64, ms: i64) {
        self.clone_total.increment(1);
        if !ok {
            self.clone_failed.increment(1);
        }
        self.clone_bytes
            .increment(u64::try_from(bytes).unwrap_or(0));
        self.clone_ms.increment(u64::try_from(ms).unwrap_or(0));
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

    /// Times a plan fragment from now until the returned guard is dropped (its result stream
    /// ended or was abandoned).
    pub fn fragment_timer(&self) -> FragmentTimer {
        FragmentTimer {
            started: Instant::now(),
            latency: self.fragment_latency_ms.clone(),
        }
    }

    /// Refreshes the state gauges and renders everything in the Prometheus text format.
    pub async fn render(&self, be: &Backend) -> String {
        self.tablet_num.set(be.storage.tablet_count() as f64);
        match be.disks().await {
            Ok(disks) => {
                for d in disks {
                    let path = [("path", d.root_path.as_str())];
                    let r = &self.registry;
                    r.gauge(m::DISKS_TOTAL_CAPACITY, &path)
                        .set(d.total_bytes as f64);
                    r.gauge(m::DISKS_AVAIL_CAPACITY, &path)
                        .set(d.available_bytes as f64);
                    r.gauge(m::DISKS_DATA_USED_CAPACITY, &path)
                        .set(d.data_used_bytes as f64);
                }
            }
            // The last values stay; the rest of the page is still worth serving.
            Err(e) => tracing::debug!("metrics: cannot read the disks' capacity: {e}"),
        }
        self.registry.render()
    }

    /// Folds buffered samples in every few seconds until shutdown.
    pub(crate) fn spawn_upkeep(be: &Arc<Backend>) {
        let mut shutdown = be.shutdown.subscribe();
        let be = be.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(UPKEEP_EVERY) => be.metrics.registry.run_upkeep(),
                    _ = shutdown.wait_for(|s| *s) => return,
                }
            }
        });
    }
}

/// Records a fragment's latency when dropped.
pub struct FragmentTimer {
    started: Instant,
    latency: Histogram,
}

impl Drop for FragmentTimer {
    fn drop(&mut self) {
        self.latency
            .record(self.started.elapsed().as_secs_f64() * 1000.0);
    }
}
