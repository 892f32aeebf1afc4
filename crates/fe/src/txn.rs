//! Load transactions on the leader: begin (label, plan), commit (write quorum), publish
//! (versions become visible), abort; the publish and timeout daemon.
//!
//! ```text
//!  coordinator                     leader FE                              BEs
//!  BeginTxn ───────────────────►  journal BeginTxn (label unique) ──► plan (writable replicas)
//!  WriteTablet ─────────────────────────────────────────────────────► pending rowsets
//!  CommitTxn(commit infos) ────►  journal CommitTxn (quorum per tablet, next versions)
//!                                 PublishVersion ───────────────────► pending → version v
//!                                 journal FinishTxn (quorum published) → partition visible = v
//! ```

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

use common::Error;
use common::Result;
use common::StatusCode;
use common::load::LoadPlan;
use common::load::PlanPartition;
use common::load::PlanReplica;
use common::load::PlanTablet;
use futures::StreamExt;
use meta::JournalOp;
use meta::catalog::table::ReplicaState;
use meta::catalog::txn::Txn;
use meta::catalog::txn::TxnStatus;
use proto::backend_service_client::BackendServiceClient;

use crate::frontend::Frontend;

/// Checks an HTTP Basic login (any user; the caller checks privileges).
pub fn check_credentials(
    fe: &Frontend,
    user: &str,
    password: &str,
    ip: Option<std::net::IpAddr>,
) -> Result<meta::catalog::auth::User> {
    crate::auth::authenticate_plain(fe, user, password, ip)
}

/// Checks that `user` may load into `db.table` (INSERT privilege). The FE's own credential
/// (an INSERT it coordinates through a backend, already checked on its session) passes.
pub fn check_load(
    fe: &Frontend,
    user: &str,
    password: &str,
    ip: Option<std::net::IpAddr>,
    db: &str,
    table: &str,
) -> Result<()> {
    if crate::auth::is_internal(fe, password) {
        return Ok(());
    }
    let account = check_credentials(fe, user, password, ip)?;
    if account.has(meta::catalog::auth::Priv::Insert, Some(db), Some(table)) {
        return Ok(());
    }
    Err(Error::new(
        StatusCode::TableAccessDenied,
        format!(
            "INSERT command denied to user {} for table '{db}.{table}'",
            account.identity()
        ),
    ))
}

/// A fresh label for a load that did not name one.
pub fn generate_label(prefix: &str) -> String {
    let b: [u8; 8] = rand::random();
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{prefix}{}_{h}", common::clock::now_ms())
}

/// Begins a transaction and returns it with the load plan.
pub async fn begin(
    fe: &Arc<Frontend>,
    req: proto::BeginTxnRequest,
) -> Result<(i64, String, LoadPlan)> {
    check_load(fe, &req.user, &req.password, None, &req.db, &req.table)?;
    let config = fe.config();
    let timeout_s = if req.timeout_seconds == 0 {
        i64::from(if req.source_type == "INSERT" {
            config.insert_load_default_timeout_second
        } else {
            config.stream_load_default_timeout_second
        })
    } else {
        i64::from(req.timeout_seconds)
    };
    if timeout_s < 1 || timeout_s > i64::from(config.max_stream_load_timeout_second) {
        return Err(Error::invalid(format!(
            "Invalid timeout {timeout_s}: it must be 1..{} seconds",
            config.max_stream_load_timeout_second
        )));
    }
    let label = if req.label.is_empty() {
        generate_label(if req.source_type == "INSERT" {
            "insert_"
        } else {
            ""
        })
    } else {
        req.label.clone()
    };
    // An INSERT's label was checked by the FE that ran it, and one it made up is longer than
    // a small label_max_length: those get at least StarRocks's 128.
    let mut max_label = config.label_max_length.max(1) as usize;
    if req.source_type == "INSERT" {
        max_label = max_label.max(meta::catalog::txn::DEFAULT_LABEL_MAX_LENGTH);
    }
    meta::catalog::txn::check_label(&label, max_label)?;
    let now = common::clock::now_ms();
    // The plan: for every tablet, the replicas that can take the load now.
    let (table_id, plan_parts, schema, partition_column, quorum, replication_num, db_id) = fe.journal.state.read(|s| -> Result<_> {
        let c = &s.catalog;
        let db = c
            .databases
            .get(&req.db)
            .ok_or_else(|| Error::new(StatusCode::DatabaseNotFound, format!("Unknown database '{}'", req.db)))?;
        let t = db
            .tables
            .get(&req.table)
            .ok_or_else(|| Error::new(StatusCode::TableNotFound, format!("Table '{}.{}' doesn't exist", req.db, req.table)))?;
        let quorum = t.write_quorum.quorum(t.replication_num);
        let mut parts = Vec::new();
        for p in &t.partitions {
            let mut tablets = Vec::new();
            for tablet in &p.tablets {
                // Every usable replica takes the load, also one that still misses older
                // versions: it stores this version now and repair fills its gap (so it catches
                // up while loads go on). Only complete ones count towards the quorum.
                let mut complete = 0usize;
                let replicas: Vec<PlanReplica> = tablet
                    .replicas
                    .iter()
                    .filter(|r| !r.bad && r.state == ReplicaState::Normal)
                    .filter_map(|r| {
                        let be = c.backends.get(&r.backend_id)?;
                        if !(be.status.alive && be.status.brpc_port > 0) {
                            return None;
                        }
                        if r.last_failed_version < 0 {
                            complete += 1;
                        }
                        Some(PlanReplica {
                            replica_id: r.id,
                            backend_id: r.backend_id,
                            host: be.host.clone(),
                            brpc_port: be.status.brpc_port,
                        })
                    })
                    .collect();
                if complete < quorum as usize {
                    return Err(Error::new(
                        StatusCode::QuorumNotMet,
                        format!(
                            "Tablet lost replicas. Check if any backend is down or not. tablet_id: {}, \
                             writable replicas: {} of {} (write_quorum {} needs {quorum})",
                            tablet.id,
                            complete,
                            tablet.replicas.len(),
                            t.write_quorum
                        ),
                    ));
                }
                tablets.push(PlanTablet {
                    tablet_id: tablet.id,
                    replicas,
                });
            }
            parts.push(PlanPartition {
                partition_id: p.id,
                name: p.name.clone(),
                lower: p.range.as_ref().and_then(|r| r.lower.as_ref().map(|b| b.value.clone())),
                upper: p.range.as_ref().and_then(|r| r.upper.as_ref().map(|b| b.value.clone())),
                tablets,
            });
        }
        Ok((t.id, parts, t.schema.clone(), t.partitioning.as_ref().map(|p| p.column.clone()), quorum, t.replication_num, db.id))
    })?;
    let txn = Txn {
        id: 0,
        label: label.clone(),
        db: req.db.clone(),
        table: req.table.clone(),
        table_id,
        status: TxnStatus::Prepare,
        coordinator: req.coordinator.clone(),
        coordinator_backend_id: req.coordinator_backend_id,
        source_type: if req.source_type.is_empty() {
            "STREAM_LOAD".into()
        } else {
            req.source_type.clone()
        },
        request_id: req.request_id.clone(),
        prepare_time_ms: now,
        commit_time_ms: 0,
        publish_time_ms: 0,
        finish_time_ms: 0,
        timeout_ms: timeout_s * 1000,
        reason: String::new(),
        partition_versions: BTreeMap::new(),
        commit_infos: Vec::new(),
        error_replicas: Vec::new(),
        loaded_rows: 0,
        filtered_rows: 0,
        unselected_rows: 0,
        load_bytes: 0,
    };
    let (_, id) = fe
        .journal
        .write(
            JournalOp::BeginTxn {
                txn,
                max_running: config.max_running_txn_num_per_db.max(1) as u32,
            },
            fe.write_timeout(),
        )
        .await?;
    fe.metrics.txn_begin.increment(1);
    let txn_id = id as i64;
    let plan = LoadPlan {
        txn_id,
        db: req.db.clone(),
        db_id,
        table: req.table.clone(),
        table_id,
        schema,
        partition_column,
        partitions: plan_parts,
        quorum,
        replication_num,
        deadline_ms: now + timeout_s * 1000,
    };
    Ok((txn_id, label, plan))
}

/// Commits a transaction and waits (up to `wait`) for it to become visible; returns
/// `VISIBLE` or `COMMITTED`.
pub async fn commit(fe: &Arc<Frontend>, req: proto::CommitTxnRequest) -> Result<&'static str> {
    let commit_infos: Vec<(i64, i64)> = req
        .commit_infos
        .iter()
        .map(|c| (c.tablet_id, c.backend_id))
        .collect();
    let op = JournalOp::CommitTxn {
        txn_id: req.txn_id,
        partitions: req.partition_ids.clone(),
        commit_infos,
        stats: [
            req.loaded_rows,
            req.filtered_rows,
            req.unselected_rows,
            req.load_bytes,
        ],
        time_ms: common::clock::now_ms(),
    };
    // A coordinator repeats a commit whose answer it lost (the leader died or the network
    // broke after the entry was journaled): a repeat of a commit that took effect succeeds
    // again, so the coordinator never mistakes a committed load for a failed one (and never
    // drops the data of a committed transaction).
    let status = |fe: &Arc<Frontend>| {
        fe.journal
            .state
            .read(|s| s.catalog.txns.get(&req.txn_id).map(|t| t.status))
    };
    let already = matches!(status(fe), Some(TxnStatus::Committed | TxnStatus::Visible));
    if !already {
        match fe.journal.write(op, fe.write_timeout()).await {
            Ok(_) => fe.metrics.load_committed(req.load_bytes, req.loaded_rows),
            Err(e) => {
                if !matches!(status(fe), Some(TxnStatus::Committed | TxnStatus::Visible)) {
                    return Err(e);
                }
            }
        }
    }
    let wait = Duration::from_millis(u64::from(req.wait_visible_ms));
    let deadline = Instant::now() + wait;
    loop {
        match publish(fe, req.txn_id).await {
            Ok(true) => return Ok("VISIBLE"),
            Ok(false) => {}
            Err(e) => tracing::debug!(txn = req.txn_id, %e, "publish not done yet"),
        }
        if Instant::now() >= deadline {
            return Ok("COMMITTED");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Aborts a PREPARE transaction and drops its pending rowsets on the backends.
pub async fn abort(fe: &Arc<Frontend>, txn_id: i64, reason: &str) -> Result<()> {
    let op = JournalOp::AbortTxn {
        txn_id,
        reason: reason.to_string(),
        time_ms: common::clock::now_ms(),
    };
    let (_, changed) = fe.journal.write(op, fe.write_timeout()).await?;
    // 0: it was aborted already (a repeated abort).
    if changed > 0 {
        fe.metrics.txn_failed.increment(1);
    }
    let backends: Vec<(i64, String)> = fe.journal.state.read(|s| {
        s.catalog
            .backends
            .values()
            .filter(|b| b.status.alive && b.status.be_port > 0)
            .map(|b| (b.id, format!("{}:{}", b.host, b.status.be_port)))
            .collect()
    });
    for (id, addr) in backends {
        if let Ok(ch) = fe.journal.pool.channel(&addr) {
            let mut c = BackendServiceClient::new(ch);
            let req = fe.journal.pool.request(
                proto::AbortLoadRequest {
                    txn_id,
                    backend_id: id,
                },
                Duration::from_secs(5),
            );
            let _ = c.abort_load(req).await;
        }
    }
    Ok(())
}

/// Sends the publish of a committed transaction to its replicas; journals it visible once a
/// quorum of every tablet published (or every replica did). Returns whether it is visible.
pub async fn publish(fe: &Arc<Frontend>, txn_id: i64) -> Result<bool> {
    let Some(txn) = fe
        .journal
        .state
        .read(|s| s.catalog.txns.get(&txn_id).cloned())
    else {
        return Err(Error::new(
            StatusCode::TxnNotFound,
            format!("transaction {txn_id} does not exist"),
        ));
    };
    match txn.status {
        TxnStatus::Visible => return Ok(true),
        TxnStatus::Committed => {}
        s => {
            return Err(Error::new(
                StatusCode::TxnStateInvalid,
                format!("transaction {txn_id} is {s}"),
            ));
        }
    }
    // Per backend: the tablets it must publish (see `Catalog::publish_targets`).
    let committed: BTreeSet<(i64, i64)> = txn.commit_infos.iter().copied().collect();
    let (targets, backends) = fe
        .journal
        .state
        .read(|s| (s.catalog.publish_targets(&txn), s.catalog.backends.clone()));
    let ready = targets.is_some();
    let work: BTreeMap<i64, Vec<proto::PublishTablet>> = targets
        .unwrap_or_default()
        .into_iter()
        .map(|(be, tablets)| {
            let tablets = tablets
                .into_iter()
                .map(|(tablet_id, partition_id, version)| proto::PublishTablet {
                    tablet_id,
                    partition_id,
                    version,
                })
                .collect();
            (be, tablets)
        })
        .collect();
    if !ready {
        // An earlier version of one of its partitions is not visible yet: publish in order.
        return Ok(false);
    }
    let calls = work.into_iter().map(|(be_id, tablets)| {
        let fe = fe.clone();
        let be = backends.get(&be_id).cloned();
        async move {
            let Some(be) = be.filter(|b| b.status.alive && b.status.be_port > 0) else {
                return Vec::new();
            };
            let addr = format!("{}:{}", be.host, be.status.be_port);
            let Ok(ch) = fe.journal.pool.channel(&addr) else {
                return Vec::new();
            };
            let mut c = BackendServiceClient::new(ch);
            let req = fe.journal.pool.request(
                proto::PublishVersionRequest {
                    txn_id,
                    backend_id: be_id,
                    tablets,
                },
                Duration::from_secs(10),
            );
            match c.publish_version(req).await {
                Ok(r) => r
                    .into_inner()
                    .results
                    .into_iter()
                    .filter(|x| x.ok)
                    .map(|x| (x.tablet_id, be_id, x.row_count, x.version))
                    .collect(),
                Err(e) => {
                    tracing::debug!(backend = be_id, %e, "publish failed");
                    Vec::new()
                }
            }
        }
    });
    let results: Vec<(i64, i64, i64, i64)> = futures::stream::iter(calls)
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .flatten()
        .collect();
    let published: Vec<(i64, i64)> = results.iter().map(|&(t, b, _, _)| (t, b)).collect();
    let stats: Vec<(i64, i64, i64)> = results.iter().map(|&(t, b, n, _)| (t, b, n)).collect();
    let versions: Vec<(i64, i64, i64)> = results.iter().map(|&(t, b, _, v)| (t, b, v)).collect();
    // Wait for every replica that wrote for a while; then a quorum is enough.
    let done: BTreeSet<(i64, i64)> = published.iter().copied().collect();
    let all = committed.iter().all(|k| done.contains(k));
    let grace = fe.config().quorum_publish_wait_time_ms.max(0);
    if !all && common::clock::now_ms() - txn.commit_time_ms < grace {
        // Give the slower replicas until the grace period ends before settling for a quorum
        // (which leaves the others stale and in need of repair).
        return Ok(false);
    }
    if !all
        && !fe
            .journal
            .state
            .read(|s| quorum_published(&s.catalog, &txn, &versions))
    {
        return Ok(false);
    }
    let op = JournalOp::FinishTxn {
        txn_id,
        published,
        time_ms: common::clock::now_ms(),
        stats,
        versions,
    };
    match fe.journal.write(op, fe.write_timeout()).await {
        Ok((_, changed)) => {
            // 0: another publish of the same transaction (the commit's or the daemon's)
            // made it visible first.
            if changed > 0 {
                fe.metrics.load_visible(txn.prepare_time_ms);
            }
            Ok(true)
        }
        Err(e) if e.code == StatusCode::QuorumNotMet || e.code == StatusCode::TxnStateInvalid => {
            tracing::debug!(txn_id, %e, "not visible yet");
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// Whether, for every tablet the load wrote, a quorum of replicas published and can be read
/// at the load's version (a replica still missing older versions does not count).
/// `versions`: (tablet, backend, contiguous version after the publish).
fn quorum_published(c: &meta::catalog::Catalog, txn: &Txn, versions: &[(i64, i64, i64)]) -> bool {
    let reached: BTreeMap<(i64, i64), i64> =
        versions.iter().map(|&(t, b, v)| ((t, b), v)).collect();
    let Some(t) = c
        .databases
        .get(&txn.db)
        .and_then(|d| d.tables.values().find(|t| t.id == txn.table_id))
    else {
        return true;
    };
    let quorum = t.write_quorum.quorum(t.replication_num) as usize;
    t.partitions
        .iter()
        .filter(|p| txn.partition_versions.contains_key(&p.id))
        .all(|p| {
            let v = txn
                .partition_versions
                .get(&p.id)
                .copied()
                .unwrap_or(i64::MAX);
            p.tablets.iter().all(|tab| {
                tab.replicas
                    .iter()
                    .filter(|r| {
                        reached
                            .get(&(tab.id, r.backend_id))
                            .is_some_and(|&x| x >= v)
                    })
                    .count()
                    >= quorum
            })
        })
}

/// The leader's load daemon: publishes committed loads, aborts timed-out loads and loads
/// whose coordinator backend died, forgets old finished loads.
pub async fn run_daemon(fe: Arc<Frontend>) {
    let mut shutdown = fe.shutdown.subscribe();
    let mut last_clean = Instant::now();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            _ = shutdown.changed() => return,
        }
        if fe.is_shutting_down() {
            return;
        }
        if !fe.journal.is_leader() {
            continue;
        }
        let now = common::clock::now_ms();
        let (committed, expired): (Vec<i64>, Vec<(i64, String)>) = fe.journal.state.read(|s| {
            let c = &s.catalog;
            let committed = c
                .txns
                .values()
                .filter(|t| t.status == TxnStatus::Committed)
                .map(|t| t.id)
                .collect();
            let expired = c
                .txns
                .values()
                .filter(|t| t.status == TxnStatus::Prepare)
                .filter_map(|t| {
                    if now - t.prepare_time_ms > t.timeout_ms {
                        return Some((
                            t.id,
                            format!("timeout by txn manager after {} s", t.timeout_ms / 1000),
                        ));
                    }
                    if t.coordinator_backend_id > 0
                        && c.backends
                            .get(&t.coordinator_backend_id)
                            .is_none_or(|b| !b.status.alive)
                    {
                        return Some((t.id, format!("coordinator {} is down", t.coordinator)));
                    }
                    None
                })
                .collect();
            (committed, expired)
        });
        for id in committed {
            if let Err(e) = publish(&fe, id).await {
                tracing::debug!(txn = id, %e, "publish");
            }
        }
        for (id, reason) in expired {
            tracing::info!(txn = id, %reason, "aborting load");
            if let Err(e) = abort(&fe, id, &reason).await {
                tracing::debug!(txn = id, %e, "abort");
            }
        }
        if last_clean.elapsed() > Duration::from_secs(30) {
            last_clean = Instant::now();
            let config = fe.config();
            let op = JournalOp::CleanTxns {
                before_ms: now - config.label_keep_max_second * 1000,
                keep_per_db: config.label_keep_max_num.max(0) as u32,
            };
            let has_old = fe.journal.state.read(|s| {
                s.catalog.txns.values().any(|t| {
                    t.status.is_final()
                        && t.finish_time_ms < now - config.label_keep_max_second * 1000
                })
            });
            if has_old && let Err(e) = fe.journal.write(op, fe.write_timeout()).await {
                tracing::debug!(%e, "clean transactions");
            }
        }
    }
}
