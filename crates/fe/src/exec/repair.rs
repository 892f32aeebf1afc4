//! Replica repair statements and views (spec 5.10): `ADMIN SHOW REPLICA STATUS`,
//! `ADMIN SHOW REPLICA DISTRIBUTION`, `ADMIN REPAIR TABLE`, `ADMIN CANCEL REPAIR TABLE`,
//! `ADMIN SET REPLICA STATUS`, `SHOW PROC '/statistic'` and `SHOW PROC '/tablet_scheduler'`
//! (also reachable as StarRocks's `/cluster_balance`).

use std::sync::Arc;

use common::Error;
use common::Result;
use common::StatusCode;
use meta::JournalOp;
use meta::catalog::ReplicaUpdate;
use meta::catalog::table::Partition;
use meta::catalog::table::ReplicaState;
use meta::catalog::table::Table;
use sql::statements::TableName;
use sql::statements::admin::ReplicaStatusFilter;

use crate::exec::database::write_op;
use crate::exec::tables::resolve_db;
use crate::exec::tablets::typed;
use crate::frontend::Frontend;
use crate::outcome::Cell;
use crate::outcome::Outcome;
use crate::outcome::RowSet;
use crate::repair::RepairTask;
use crate::session::Session;

fn unknown_table(db: &str, t: &str) -> Error {
    Error::new(
        StatusCode::TableNotFound,
        format!("Table '{db}.{t}' doesn't exist"),
    )
}

/// The partitions of `table` named in `names` (all when empty).
fn partitions_of<'a>(t: &'a Table, names: &[String]) -> Result<Vec<&'a Partition>> {
    if names.is_empty() {
        return Ok(t.partitions.iter().collect());
    }
    names
        .iter()
        .map(|n| {
            t.partition(n).ok_or_else(|| {
                Error::invalid(format!(
                    "Partition '{n}' does not exist in table '{}'",
                    t.name
                ))
            })
        })
        .collect()
}

/// `ADMIN SHOW REPLICA STATUS FROM t [PARTITION (...)] [WHERE STATUS [!]= '...']`.
pub fn show_replica_status(
    fe: &Arc<Frontend>,
    session: &Session,
    name: &TableName,
    partitions: &[String],
    filter: Option<&ReplicaStatusFilter>,
) -> Result<Outcome> {
    let want = match filter {
        Some(f) => {
            let s = f.status.to_ascii_uppercase();
            if !["OK", "DEAD", "VERSION_ERROR", "SCHEMA_ERROR", "MISSING"].contains(&s.as_str()) {
                return Err(Error::invalid(format!(
                    "The replica status must be one of OK, DEAD, VERSION_ERROR, SCHEMA_ERROR, \
                     MISSING; got '{}'",
                    f.status
                )));
            }
            Some((f.negated, s))
        }
        None => None,
    };
    let db = resolve_db(session, name)?;
    let mut rows = typed(
        &[
            "TabletId",
            "ReplicaId",
            "BackendId",
            "Version",
            "LastFailedVersion",
            "LastSuccessVersion",
            "CommittedVersion",
            "SchemaHash",
            "VersionNum",
            "IsBad",
            "IsSetBadForce",
            "State",
            "Status",
        ],
        &[
            "TabletId",
            "ReplicaId",
            "BackendId",
            "Version",
            "LastFailedVersion",
            "LastSuccessVersion",
            "CommittedVersion",
            "SchemaHash",
            "VersionNum",
        ],
    );
    fe.journal.state.read(|s| -> Result<()> {
        let c = &s.catalog;
        let t = c
            .table(&db, &name.table)
            .ok_or_else(|| unknown_table(&db, &name.table))?;
        for p in partitions_of(t, partitions)? {
            for tablet in &p.tablets {
                let mut push = |row: Vec<Cell>, status: &str| {
                    let keep = match &want {
                        None => true,
                        Some((neg, w)) => (w == status) != *neg,
                    };
                    if keep {
                        rows.push(row);
                    }
                };
                for r in &tablet.replicas {
                    let status = crate::repair::replica_status(c, p.visible_version, r);
                    push(
                        vec![
                            Cell::Int(tablet.id),
                            Cell::Int(r.id),
                            Cell::Int(r.backend_id),
                            Cell::Int(r.version),
                            Cell::Int(r.last_failed_version),
                            Cell::Int(r.last_success_version),
                            Cell::Int(p.visible_version),
                            Cell::Int(0),
                            Cell::Int(1),
                            r.bad.into(),
                            false.into(),
                            Cell::Text(r.state.to_string()),
                            Cell::Text(status.into()),
                        ],
                        status,
                    );
                }
                for _ in tablet.replicas.len()..p.replication_num as usize {
                    push(
                        vec![
                            Cell::Int(tablet.id),
                            Cell::Int(-1),
                            Cell::Int(-1),
                            Cell::Int(-1),
                            Cell::Int(-1),
                            Cell::Int(-1),
                            Cell::Int(-1),
                            Cell::Int(-1),
                            Cell::Int(-1),
                            false.into(),
                            false.into(),
                            Cell::Text("\\N".into()),
                            Cell::Text("MISSING".into()),
                        ],
                        "MISSING",
                    );
                }
            }
        }
        Ok(())
    })?;
    Ok(Outcome::Rows(rows))
}

/// `ADMIN SHOW REPLICA DISTRIBUTION FROM t [PARTITION (...)]`.
pub fn show_replica_distribution(
    fe: &Arc<Frontend>,
    session: &Session,
    name: &TableName,
    partitions: &[String],
) -> Result<Outcome> {
    let db = resolve_db(session, name)?;
    let mut rows = typed(
        &["BackendId", "ReplicaNum", "Graph", "Percent"],
        &["BackendId", "ReplicaNum"],
    );
    fe.journal.state.read(|s| -> Result<()> {
        let c = &s.catalog;
        let t = c
            .table(&db, &name.table)
            .ok_or_else(|| unknown_table(&db, &name.table))?;
        let mut counts: std::collections::BTreeMap<i64, i64> =
            c.backends.keys().map(|id| (*id, 0)).collect();
        for p in partitions_of(t, partitions)? {
            for tablet in &p.tablets {
                for r in &tablet.replicas {
                    *counts.entry(r.backend_id).or_default() += 1;
                }
            }
        }
        let total: i64 = counts.values().sum();
        let n = counts.len().max(1) as i64;
        for (id, count) in counts {
            let graph = if total > 0 {
                ">".repeat(((count * n + total - 1) / total) as usize)
            } else {
                String::new()
            };
            let percent = if total > 0 {
                count as f64 * 100.0 / total as f64
            } else {
                0.0
            };
            rows.push(vec![
                Cell::Int(id),
                Cell::Int(count),
                Cell::Text(graph),
                Cell::Text(format!("{percent:.2} %")),
            ]);
        }
        Ok(())
    })?;
    Ok(Outcome::Rows(rows))
}

/// The (table id, partition id, db, table, partition) of the named partitions.
fn urgent_keys(
    fe: &Arc<Frontend>,
    session: &Session,
    name: &TableName,
    partitions: &[String],
) -> Result<Vec<crate::repair::UrgentPartition>> {
    let db = resolve_db(session, name)?;
    fe.journal.state.read(|s| {
        let t = s
            .catalog
            .table(&db, &name.table)
            .ok_or_else(|| unknown_table(&db, &name.table))?;
        Ok(partitions_of(t, partitions)?
            .into_iter()
            .map(|p| (t.id, p.id, db.clone(), t.name.clone(), p.name.clone()))
            .collect())
    })
}

fn leader_only(fe: &Arc<Frontend>, what: &str) -> Result<()> {
    if fe.journal.is_leader() {
        Ok(())
    } else {
        Err(Error::new(
            StatusCode::NotLeader,
            format!("{what} runs on the leader frontend, which this one is not"),
        ))
    }
}

/// `ADMIN REPAIR TABLE t [PARTITION (...)]`: repair these partitions first, at once.
pub fn repair_table(
    fe: &Arc<Frontend>,
    session: &Session,
    name: &TableName,
    partitions: &[String],
) -> Result<Outcome> {
    leader_only(fe, "ADMIN REPAIR TABLE")?;
    let keys = urgent_keys(fe, session, name, partitions)?;
    fe.repair.add_urgent(keys);
    Ok(Outcome::ok(0))
}

/// `ADMIN CANCEL REPAIR TABLE t [PARTITION (...)]`.
pub fn cancel_repair_table(
    fe: &Arc<Frontend>,
    session: &Session,
    name: &TableName,
    partitions: &[String],
) -> Result<Outcome> {
    leader_only(fe, "ADMIN CANCEL REPAIR TABLE")?;
    let keys: Vec<(i64, i64)> = urgent_keys(fe, session, name, partitions)?
        .into_iter()
        .map(|(t, p, ..)| (t, p))
        .collect();
    let n = fe.repair.cancel_urgent(&keys);
    Ok(Outcome::ok(n as u64))
}

/// `ADMIN SET REPLICA STATUS PROPERTIES ("tablet_id" = "..", "backend_id" = "..",
/// "status" = "bad" | "ok")`.
pub async fn set_replica_status(
    fe: &Arc<Frontend>,
    session: &mut Session,
    properties: &[(String, String)],
) -> Result<Outcome> {
    let mut tablet_id = None;
    let mut backend_id = None;
    let mut bad = None;
    for (k, v) in properties {
        let num = || {
            v.trim().parse::<i64>().map_err(|_| {
                Error::invalid(format!("Property '{k}' must be an integer, not '{v}'"))
            })
        };
        match k.to_ascii_lowercase().as_str() {
            "tablet_id" => tablet_id = Some(num()?),
            "backend_id" => backend_id = Some(num()?),
            "status" => {
                bad = Some(match v.to_ascii_lowercase().as_str() {
                    "bad" => true,
                    "ok" => false,
                    _ => {
                        return Err(Error::invalid(format!(
                            "status must be 'bad' or 'ok', not '{v}'"
                        )));
                    }
                })
            }
            _ => return Err(Error::invalid(format!("Unknown property '{k}'"))),
        }
    }
    let (Some(tablet_id), Some(backend_id), Some(bad)) = (tablet_id, backend_id, bad) else {
        return Err(Error::invalid(
            "ADMIN SET REPLICA STATUS needs tablet_id, backend_id and status",
        ));
    };
    let replica_id = fe.journal.state.read(|s| {
        let (_, _, _, tablet) = s
            .catalog
            .find_tablet(tablet_id)
            .ok_or_else(|| Error::invalid(format!("Tablet {tablet_id} does not exist")))?;
        tablet
            .replicas
            .iter()
            .find(|r| r.backend_id == backend_id)
            .map(|r| r.id)
            .ok_or_else(|| {
                Error::invalid(format!(
                    "Tablet {tablet_id} has no replica on backend {backend_id}"
                ))
            })
    })?;
    let op = JournalOp::UpdateReplicas {
        updates: vec![ReplicaUpdate {
            tablet_id,
            replica_id,
            version: None,
            data_size: None,
            row_count: None,
            bad: Some(bad),
        }],
    };
    write_op(fe, session, op).await?;
    Ok(Outcome::ok(1))
}

/// `SHOW PROC '/statistic'`: per database, tablets whose health is not HEALTHY, REDUNDANT or
/// NEED_FURTHER_REPAIR are unhealthy (StarRocks's rule).
pub fn show_statistic(fe: &Arc<Frontend>) -> RowSet {
    const INTS: &[&str] = &[
        "DbId",
        "TableNum",
        "PartitionNum",
        "IndexNum",
        "TabletNum",
        "ReplicaNum",
        "UnhealthyTabletNum",
        "InconsistentTabletNum",
        "CloningTabletNum",
        "ErrorStateTabletNum",
    ];
    let mut rows = typed(
        &[
            "DbId",
            "DbName",
            "TableNum",
            "PartitionNum",
            "IndexNum",
            "TabletNum",
            "ReplicaNum",
            "UnhealthyTabletNum",
            "InconsistentTabletNum",
            "CloningTabletNum",
            "ErrorStateTabletNum",
        ],
        INTS,
    );
    let cloning: std::collections::HashSet<i64> = fe.repair.cloning().into_iter().collect();
    let config = fe.config();
    fe.journal.state.read(|s| {
        let c = &s.catalog;
        let cluster = crate::repair::cluster_view(
            c,
            common::clock::now_ms(),
            crate::repair::tolerate_ms(&config),
        );
        let mut buf = Vec::new();
        let mut totals = [0i64; 9];
        for db in c.databases.values() {
            let mut v = [0i64; 9];
            v[0] = db.tables.len() as i64;
            for t in db.tables.values() {
                let n = table_counts(c, t, &cluster, &cloning, &mut buf);
                v[1] += n.partitions;
                v[2] += 1;
                v[3] += n.tablets;
                v[4] += n.replicas;
                v[5] += n.unhealthy;
                v[7] += n.cloning;
                v[8] += n.error_state;
            }
            let mut row = vec![Cell::Int(db.id), db.name.clone().into()];
            row.extend(v.iter().map(|x| Cell::Int(*x)));
            rows.push(row);
            for (t, x) in totals.iter_mut().zip(v) {
                *t += x;
            }
        }
        let mut row = vec![
            Cell::Text("Total".into()),
            Cell::Int(c.databases.len() as i64),
        ];
        row.extend(totals.iter().map(|x| Cell::Int(*x)));
        rows.push(row);
    });
    rows
}

/// One table's tablets as `SHOW PROC '/statistic'` counts them (shared with the web console).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct TableCounts {
    /// Partitions.
    pub partitions: i64,
    /// Tablets.
    pub tablets: i64,
    /// Replicas.
    pub replicas: i64,
    /// Tablets whose health is not HEALTHY, REDUNDANT or NEED_FURTHER_REPAIR.
    pub unhealthy: i64,
    /// Tablets being cloned (a task on the leader, or a replica in CLONE state).
    pub cloning: i64,
    /// Tablets with a replica marked bad.
    pub error_state: i64,
    /// Tablets without a single OK replica (`ADMIN SHOW REPLICA STATUS`): unreadable now.
    pub unavailable: i64,
    /// The lowest visible version of the table's partitions (0 without partitions).
    pub min_visible_version: i64,
    /// The highest visible version of the table's partitions.
    pub max_visible_version: i64,
}

/// Counts `t`'s tablets; `cloning` holds the tablets the leader's scheduler is cloning.
pub fn table_counts(
    c: &meta::catalog::Catalog,
    t: &Table,
    cluster: &sched::health::ClusterView,
    cloning: &std::collections::HashSet<i64>,
    buf: &mut Vec<sched::health::ReplicaView>,
) -> TableCounts {
    let mut n = TableCounts {
        partitions: t.partitions.len() as i64,
        min_visible_version: t
            .partitions
            .iter()
            .map(|p| p.visible_version)
            .min()
            .unwrap_or(0),
        max_visible_version: t
            .partitions
            .iter()
            .map(|p| p.visible_version)
            .max()
            .unwrap_or(0),
        ..TableCounts::default()
    };
    for (p, tab) in t.tablets() {
        n.tablets += 1;
        n.replicas += tab.replicas.len() as i64;
        let h = crate::repair::health_of(tab, p.visible_version, p.replication_num, cluster, buf);
        if !h.status.counts_as_healthy() {
            n.unhealthy += 1;
        }
        if cloning.contains(&tab.id) || tab.replicas.iter().any(|r| r.state == ReplicaState::Clone)
        {
            n.cloning += 1;
        }
        if tab.replicas.iter().any(|r| r.bad) {
            n.error_state += 1;
        }
        if !tab
            .replicas
            .iter()
            .any(|r| crate::repair::replica_status(c, p.visible_version, r) == "OK")
        {
            n.unavailable += 1;
        }
    }
    n
}

/// `SHOW PROC '/statistic/<dbId>'`: the tablet ids behind the counts.
pub fn show_statistic_db(fe: &Arc<Frontend>, key: &str) -> Result<RowSet> {
    let mut rows = RowSet::with_text_columns(&[
        "UnhealthyTablets",
        "InconsistentTablets",
        "CloningTablets",
        "ErrorStateTablets",
    ]);
    let cloning: std::collections::HashSet<i64> = fe.repair.cloning().into_iter().collect();
    let config = fe.config();
    fe.journal.state.read(|s| -> Result<()> {
        let c = &s.catalog;
        let db = c
            .databases
            .values()
            .find(|d| d.id.to_string() == key || d.name == key)
            .ok_or_else(|| Error::invalid(format!("Database '{key}' does not exist")))?;
        let cluster = crate::repair::cluster_view(
            c,
            common::clock::now_ms(),
            crate::repair::tolerate_ms(&config),
        );
        let mut buf = Vec::new();
        let (mut unhealthy, mut cl, mut err) = (Vec::new(), Vec::new(), Vec::new());
        for t in db.tables.values() {
            for (p, tab) in t.tablets() {
                let h = crate::repair::health_of(
                    tab,
                    p.visible_version,
                    p.replication_num,
                    &cluster,
                    &mut buf,
                );
                if !h.status.counts_as_healthy() {
                    unhealthy.push(tab.id);
                }
                if cloning.contains(&tab.id)
                    || tab.replicas.iter().any(|r| r.state == ReplicaState::Clone)
                {
                    cl.push(tab.id);
                }
                if tab.replicas.iter().any(|r| r.bad) {
                    err.push(tab.id);
                }
            }
        }
        let list = |v: &[i64]| format!("{v:?}");
        rows.push(vec![
            list(&unhealthy).into(),
            "[]".into(),
            list(&cl).into(),
            list(&err).into(),
        ]);
        Ok(())
    })?;
    Ok(rows)
}

/// The task columns (StarRocks's, then progress beyond StarRocks).
const TASK_COLUMNS: &[&str] = &[
    "TabletId",
    "Type",
    "Status",
    "State",
    "OrigPrio",
    "DynmPrio",
    "SrcBe",
    "DestBe",
    "DestReplica",
    "CloneType",
    "Timeout",
    "Create",
    "LstSched",
    "LstVisit",
    "Finished",
    "Rate",
    "FailedSched",
    "FailedRunning",
    "VisibleVer",
    "CmtVer",
    "BytesCopied",
    "BytesTotal",
    "Progress",
    "EtaSec",
    "Database",
    "Table",
    "Partition",
    "ErrMsg",
];

fn task_rows(tasks: &[RepairTask], now: i64) -> RowSet {
    let mut rows = typed(
        TASK_COLUMNS,
        &[
            "TabletId",
            "SrcBe",
            "DestBe",
            "DestReplica",
            "Timeout",
            "FailedSched",
            "FailedRunning",
            "VisibleVer",
            "CmtVer",
            "BytesCopied",
            "BytesTotal",
        ],
    );
    for t in tasks {
        let rate = t.rate(now);
        let progress = if t.bytes_total > 0 {
            format!(
                "{:.1} %",
                t.bytes_copied.min(t.bytes_total) as f64 * 100.0 / t.bytes_total as f64
            )
        } else if t.state == crate::repair::TaskState::Finished {
            "100.0 %".into()
        } else {
            "\\N".into()
        };
        rows.push(vec![
            Cell::Int(t.tablet_id),
            "REPAIR".into(),
            t.status.as_str().into(),
            t.state.as_str().into(),
            t.orig_prio.as_str().into(),
            t.dyn_prio.as_str().into(),
            Cell::Int(t.src_be),
            Cell::Int(t.dest_be),
            Cell::Int(t.dest_replica),
            match t.full {
                Some(true) => "FULL",
                Some(false) => "INCREMENTAL",
                None => "\\N",
            }
            .into(),
            Cell::Int(t.timeout_ms),
            common::clock::format_ms(t.create_ms).into(),
            common::clock::format_ms(t.last_sched_ms).into(),
            common::clock::format_ms(t.last_visit_ms).into(),
            common::clock::format_ms(t.finished_ms).into(),
            if t.clone_start_ms > 0 {
                format!("{:.3}", rate / 1_000_000.0).into()
            } else {
                "\\N".into()
            },
            Cell::Int(i64::from(t.failed_sched)),
            Cell::Int(i64::from(t.failed_running)),
            Cell::Int(t.visible_version),
            Cell::Int(t.committed_version),
            Cell::Int(t.bytes_copied),
            Cell::Int(t.bytes_total),
            progress.into(),
            match t.eta_seconds(now) {
                Some(s) => format!("{s:.1}").into(),
                None => "\\N".into(),
            },
            t.db.clone().into(),
            t.table.clone().into(),
            t.partition.clone().into(),
            t.err_msg.clone().into(),
        ]);
    }
    rows
}

/// `SHOW PROC '/tablet_scheduler[/...]'` (and `/cluster_balance[/...]`). Answered by the
/// leader, whose memory holds the queues.
pub fn show_tablet_scheduler(fe: &Arc<Frontend>, rest: &[&str]) -> Result<RowSet> {
    let snap = fe.repair.snapshot();
    let now = common::clock::now_ms();
    match rest {
        [] => {
            let mut rows = RowSet::with_text_columns(&["Item", "Value"]);
            let st = &snap.stats;
            let copying: Vec<&RepairTask> = snap
                .running
                .iter()
                .filter(|t| t.clone_start_ms > 0)
                .collect();
            let copied: i64 = copying.iter().map(|t| t.bytes_copied).sum();
            let total: i64 = copying.iter().map(|t| t.bytes_total).sum();
            let rate: f64 = copying.iter().map(|t| t.rate(now)).sum();
            let eta = if rate > 0.0 && total > copied {
                format!("{:.1}", (total - copied) as f64 / rate)
            } else if copying.is_empty() {
                "0".into()
            } else {
                "\\N".into()
            };
            let items: Vec<(&str, String)> = vec![
                ("leader", fe.journal.is_leader().to_string()),
                ("pending_tablets", snap.pending.len().to_string()),
                ("running_tablets", snap.running.len().to_string()),
                ("history_tablets", snap.history.len().to_string()),
                ("unrepairable_tablets", snap.unrepairable.len().to_string()),
                ("priority_repair", snap.urgent.len().to_string()),
                ("running_bytes_copied", copied.to_string()),
                ("running_bytes_total", total.to_string()),
                (
                    "running_rate_mb_per_sec",
                    format!("{:.3}", rate / 1_000_000.0),
                ),
                ("running_eta_sec", eta),
                (
                    "last_check_time",
                    common::clock::format_ms(st.last_check_ms),
                ),
                (
                    "last_check_duration_ms",
                    st.last_check_duration_ms.to_string(),
                ),
                ("last_check_tablets", st.last_check_tablets.to_string()),
                ("last_check_unhealthy", st.last_check_unhealthy.to_string()),
                ("checker_passes", st.checker_passes.to_string()),
                ("tablets_added", st.added.to_string()),
                ("tasks_scheduled", st.scheduled.to_string()),
                ("tasks_finished", st.finished.to_string()),
                ("tasks_failed", st.failed.to_string()),
                ("clone_timeouts", st.timeouts.to_string()),
                ("full_clones", st.full_clones.to_string()),
                ("incremental_clones", st.incremental_clones.to_string()),
                ("bytes_copied", st.bytes_copied.to_string()),
                ("replicas_dropped", st.replicas_dropped.to_string()),
            ];
            for (k, v) in items {
                rows.push(vec![k.into(), v.into()]);
            }
            Ok(rows)
        }
        ["pending" | "pending_tablets"] => Ok(task_rows(&snap.pending, now)),
        ["running" | "running_tablets"] => Ok(task_rows(&snap.running, now)),
        ["history" | "history_tablets"] => Ok(task_rows(&snap.history, now)),
        ["all_tablets"] => {
            let mut all = snap.pending.clone();
            all.extend(snap.running.iter().cloned());
            all.extend(snap.history.iter().cloned());
            Ok(task_rows(&all, now))
        }
        ["unrepairable"] => {
            let mut rows = typed(
                &[
                    "TabletId",
                    "Database",
                    "Table",
                    "Partition",
                    "Status",
                    "Since",
                    "NextTry",
                    "Reason",
                ],
                &["TabletId"],
            );
            for u in &snap.unrepairable {
                rows.push(vec![
                    Cell::Int(u.tablet_id),
                    u.db.clone().into(),
                    u.table.clone().into(),
                    u.partition.clone().into(),
                    u.status.as_str().into(),
                    common::clock::format_ms(u.since_ms).into(),
                    common::clock::format_ms(u.retry_ms).into(),
                    u.reason.clone().into(),
                ]);
            }
            Ok(rows)
        }
        ["priority_repair"] => {
            let mut rows = typed(
                &["Database", "Table", "Partition", "RemainingTimeMs"],
                &["RemainingTimeMs"],
            );
            for (d, t, p, left) in &snap.urgent {
                rows.push(vec![
                    d.clone().into(),
                    t.clone().into(),
                    p.clone().into(),
                    Cell::Int(*left),
                ]);
            }
            Ok(rows)
        }
        _ => Err(Error::invalid(format!(
            "Proc path '/tablet_scheduler/{}' doesn't exist; try pending, running, history, \
             unrepairable or priority_repair",
            rest.join("/")
        ))),
    }
}
