//! The tablet reporter: sends `FrontendService.ReportTablets` to the leader FE named by the
//! latest heartbeat, every report interval and about a second after a tablet change or a new
//! leader. Failures are logged once per distinct error and retried on the next tick.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use proto::CLUSTER_ID_HEADER;
use proto::frontend_service_client::FrontendServiceClient;
use tokio::time::Instant;
use tonic::transport::Channel;
use tonic::transport::Endpoint;

use crate::backend::Backend;
use crate::backend::MasterInfo;

/// Changes within this window go out in one report.
const DEBOUNCE: Duration = Duration::from_secs(1);
/// A failed report is retried this soon (or at the next interval, whichever comes first).
const RETRY: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
const RPC_TIMEOUT: Duration = Duration::from_secs(10);

struct Reporter {
    be: Arc<Backend>,
    channels: HashMap<String, Channel>,
    last_error: Option<String>,
}

impl Reporter {
    fn channel(&mut self, addr: &str) -> Result<Channel, String> {
        if let Some(c) = self.channels.get(addr) {
            return Ok(c.clone());
        }
        let channel = Endpoint::from_shared(format!("http://{addr}"))
            .map_err(|e| format!("bad leader address {addr}: {e}"))?
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true)
            .connect_lazy();
        self.channels.insert(addr.to_string(), channel.clone());
        Ok(channel)
    }

    /// Sends a report; (tablets reported, transactions whose pending rowsets can go).
    async fn send(&mut self, master: &MasterInfo) -> Result<(usize, Vec<i64>), String> {
        let report = self
            .be
            .tablet_report(master.backend_id)
            .await
            .map_err(|e| format!("cannot build the tablet report: {e}"))?;
        let n = report.tablets.len();
        let addr = format!("{}:{}", master.leader_host, master.leader_rpc_port);
        let channel = self.channel(&addr)?;
        let mut client = FrontendServiceClient::new(channel)
            .max_encoding_message_size(proto::MAX_MESSAGE_BYTES)
            .max_decoding_message_size(proto::MAX_MESSAGE_BYTES);
        let mut req = tonic::Request::new(report);
        req.set_timeout(RPC_TIMEOUT);
        if let Ok(v) = self
            .be
            .storage
            .cluster_id()
            .unwrap_or(0)
            .to_string()
            .parse()
        {
            req.metadata_mut().insert(CLUSTER_ID_HEADER, v);
        }
        if let Some(token) = self.be.storage.token() {
            proto::auth::stamp(&mut req, &token);
        }
        let reply = client
            .report_tablets(req)
            .await
            .map_err(|s| {
                format!(
                    "cannot report tablets to the leader {addr}: {}",
                    s.message()
                )
            })?
            .into_inner();
        if !reply.ok {
            return Err(format!(
                "the leader {addr} refused the tablet report: {}",
                reply.error
            ));
        }
        Ok((n, reply.finished_txn_ids))
    }

    /// Drops the pending rowsets of transactions the leader says will never publish (their
    /// abort did not reach this backend, e.g. it was down).
    async fn drop_finished(&self, txn_ids: Vec<i64>) {
        for txn_id in txn_ids {
            match self.be.blocking(move |s| s.abort_txn(txn_id)).await {
                Ok(n) if n > 0 => tracing::info!(
                    txn_id,
                    rowsets = n,
                    "dropped the pending rowsets of a transaction that will never publish"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(txn_id, "cannot drop pending rowsets: {e}"),
            }
        }
    }

    async fn report(&mut self) -> bool {
        let Some(master) = self.be.master() else {
            return true;
        };
        self.be.report_dirty.store(false, Ordering::SeqCst);
        match self.send(&master).await {
            Ok((n, finished)) => {
                self.drop_finished(finished).await;
                if self.last_error.take().is_some() {
                    tracing::info!(tablets = n, "tablet reports reach the leader again");
                } else {
                    tracing::debug!(tablets = n, "reported tablets");
                }
                true
            }
            Err(e) => {
                if self.last_error.as_deref() != Some(e.as_str()) {
                    tracing::warn!("{e}; retrying");
                    self.last_error = Some(e);
                }
                false
            }
        }
    }
}

/// Runs until the backend stops.
pub(crate) async fn run(be: Arc<Backend>) {
    let mut shutdown = be.shutdown.subscribe();
    let mut reporter = Reporter {
        be: be.clone(),
        channels: HashMap::new(),
        last_error: None,
    };
    // None until the first heartbeat arrives: there is nobody to report to.
    let mut next: Option<Instant> = None;
    loop {
        let periodic = async {
            match next {
                Some(t) => tokio::time::sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        let requested = tokio::select! {
            _ = shutdown.wait_for(|s| *s) => return,
            _ = periodic => false,
            _ = be.report_notify.notified() => true,
        };
        if requested {
            tokio::select! {
                _ = shutdown.wait_for(|s| *s) => return,
                _ = tokio::time::sleep(DEBOUNCE) => {}
            }
            // A stale wake-up (its change already went out with a report) sends nothing.
            if !be.report_dirty.load(Ordering::SeqCst) {
                continue;
            }
        }
        if be.master().is_none() {
            continue;
        }
        let interval = be.report_interval();
        let delivered = reporter.report().await;
        next = Some(
            Instant::now()
                + if delivered {
                    interval
                } else {
                    interval.min(RETRY)
                },
        );
    }
}
