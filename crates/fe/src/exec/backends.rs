//! `ALTER SYSTEM ADD|DROP|DECOMMISSION BACKEND`, `CANCEL DECOMMISSION BACKEND`, `SHOW BACKENDS`.

use std::collections::BTreeSet;
use std::sync::Arc;

use common::Error;
use common::Result;
use common::StatusCode;
use common::net::HostPort;
use meta::JournalOp;
use meta::catalog::backend::Backend;

use crate::exec::database::write_op;
use crate::frontend::Frontend;
use crate::outcome::Cell;
use crate::outcome::ColType;
use crate::outcome::Outcome;
use crate::outcome::RowSet;
use crate::session::Session;

fn parse_hosts(hosts: &[String]) -> Result<Vec<HostPort>> {
    if hosts.is_empty() {
        return Err(Error::invalid(
            "no backend given: expected \"host:heartbeat_service_port\"",
        ));
    }
    let mut out: Vec<HostPort> = Vec::new();
    for h in hosts {
        let hp = HostPort::parse(h)?;
        if out.contains(&hp) {
            return Err(Error::invalid(format!("backend {hp} is listed twice")));
        }
        out.push(hp);
    }
    Ok(out)
}

fn find(fe: &Frontend, hp: &HostPort) -> Result<Backend> {
    fe.journal
        .state
        .read(|s| {
            s.catalog
                .backends
                .values()
                .find(|b| b.host == hp.host && b.heartbeat_port == hp.port)
                .cloned()
        })
        .ok_or_else(|| {
            Error::new(
                StatusCode::NodeNotFound,
                format!("backend does not exists[{hp}]"),
            )
        })
}

/// `ALTER SYSTEM ADD BACKEND`.
pub async fn add(fe: &Arc<Frontend>, session: &mut Session, hosts: &[String]) -> Result<Outcome> {
    let hosts = parse_hosts(hosts)?;
    for hp in &hosts {
        if fe.journal.state.read(|s| {
            s.catalog
                .backends
                .values()
                .any(|b| b.host == hp.host && b.heartbeat_port == hp.port)
        }) {
            return Err(Error::new(
                StatusCode::NodeAlreadyExists,
                format!(
                    "Backend already exists with same host {} and port {}",
                    hp.host, hp.port
                ),
            ));
        }
    }
    let mut n = 0;
    for hp in hosts {
        let id = write_op(
            fe,
            session,
            JournalOp::AddBackend {
                host: hp.host.clone(),
                heartbeat_port: hp.port,
            },
        )
        .await?;
        tracing::info!(backend = id, %hp, "added backend");
        n += 1;
    }
    Ok(Outcome::ok(n))
}

/// `ALTER SYSTEM DROP BACKEND ... [FORCE]`.
pub async fn drop(
    fe: &Arc<Frontend>,
    session: &mut Session,
    hosts: &[String],
    force: bool,
) -> Result<Outcome> {
    let hosts = parse_hosts(hosts)?;
    let backends: Vec<Backend> = hosts.iter().map(|hp| find(fe, hp)).collect::<Result<_>>()?;
    if !force {
        for be in &backends {
            let single: Option<String> = fe.journal.state.read(|s| {
                s.catalog.databases.values().find_map(|db| {
                    db.tables.values().find_map(|t| {
                        (t.tablets().any(|(p, tablet)| {
                            p.replication_num == 1
                                && tablet.replicas.iter().any(|r| r.backend_id == be.id)
                        }))
                        .then(|| format!("{}.{}", db.name, t.name))
                    })
                })
            });
            if let Some(table) = single {
                return Err(Error::new(
                    StatusCode::MembershipChangeRefused,
                    format!(
                        "Tablet of table {table} has only one replica (replication_num = 1) on \
                         backend {} ({}); dropping the backend would lose its data. Raise the \
                         table's replication_num, DECOMMISSION the backend, or use ALTER SYSTEM \
                         DROP BACKEND \"{}\" FORCE",
                        be.id,
                        be.addr(),
                        be.addr()
                    ),
                ));
            }
        }
    }
    for be in &backends {
        write_op(fe, session, JournalOp::DropBackend { id: be.id }).await?;
        tracing::info!(backend = be.id, "dropped backend");
    }
    Ok(Outcome::ok(backends.len() as u64))
}

/// `ALTER SYSTEM DECOMMISSION BACKEND` (`decommission = true`) or `CANCEL DECOMMISSION`.
pub async fn decommission(
    fe: &Arc<Frontend>,
    session: &mut Session,
    hosts: &[String],
    decommission: bool,
) -> Result<Outcome> {
    let hosts = parse_hosts(hosts)?;
    let backends: Vec<Backend> = hosts.iter().map(|hp| find(fe, hp)).collect::<Result<_>>()?;
    let ids: Vec<i64> = backends.iter().map(|b| b.id).collect();
    if decommission {
        // Enough other hosts must remain for every table's replicas.
        let (hosts_left, needed) = fe.journal.state.read(|s| {
            let left: BTreeSet<&str> = s
                .catalog
                .backends
                .values()
                .filter(|b| b.is_available() && !ids.contains(&b.id))
                .map(|b| b.host.as_str())
                .collect();
            let needed = s
                .catalog
                .databases
                .values()
                .flat_map(|db| db.tables.values())
                .flat_map(|t| t.partitions.iter().map(|p| p.replication_num))
                .max()
                .unwrap_or(0);
            (left.len(), needed)
        });
        if (hosts_left as u16) < needed {
            return Err(Error::new(
                StatusCode::MembershipChangeRefused,
                format!(
                    "No enough backends to hold the replicas after decommission: tables need \
                     {needed} replicas on distinct hosts but only {hosts_left} other available \
                     hosts would remain"
                ),
            ));
        }
    }
    let n = write_op(
        fe,
        session,
        JournalOp::SetBackendDecommissioned {
            ids,
            decommissioned: decommission,
        },
    )
    .await?;
    Ok(Outcome::ok(n))
}

/// Formats bytes as StarRocks does: `"%.3f <unit>"`.
pub fn format_bytes(bytes: i64) -> String {
    let b = bytes.max(0) as f64;
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = b;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.3} {}", UNITS[unit])
}

fn pct(part: i64, whole: i64) -> String {
    if whole <= 0 {
        return "0.00 %".to_string();
    }
    format!("{:.2} %", part as f64 * 100.0 / whole as f64)
}

/// The columns of `SHOW BACKENDS`.
pub const BACKEND_COLUMNS: &[&str] = &[
    "BackendId",
    "IP",
    "HeartbeatPort",
    "BePort",
    "HttpPort",
    "BrpcPort",
    "LastStartTime",
    "LastHeartbeat",
    "Alive",
    "SystemDecommissioned",
    "ClusterDecommissioned",
    "TabletNum",
    "DataUsedCapacity",
    "AvailCapacity",
    "TotalCapacity",
    "UsedPct",
    "MaxDiskUsedPct",
    "ErrMsg",
    "Version",
    "Status",
    "DataTotalCapacity",
    "DataUsedPct",
];

/// The rows of `SHOW BACKENDS` / `SHOW PROC '/backends'`.
pub fn show_backends(fe: &Arc<Frontend>) -> RowSet {
    let mut rows = RowSet {
        columns: BACKEND_COLUMNS
            .iter()
            .map(|c| {
                let t = match *c {
                    "BackendId" | "TabletNum" => ColType::BigInt,
                    "HeartbeatPort" | "BePort" | "HttpPort" | "BrpcPort" => ColType::Int,
                    _ => ColType::Varchar,
                };
                (c.to_string(), t)
            })
            .collect(),
        rows: Vec::new(),
    };
    let (mut backends, counts) = fe.journal.state.read(|s| {
        (
            s.catalog.backends.values().cloned().collect::<Vec<_>>(),
            s.catalog.replica_counts(),
        )
    });
    if fe.journal.is_leader() {
        let local = fe.local_heartbeats.backends();
        for b in &mut backends {
            if let Some(st) = local.get(&b.id) {
                b.status = st.clone();
            }
        }
    }
    backends.sort_by(|a, b| {
        (a.host.clone(), a.status.be_port).cmp(&(b.host.clone(), b.status.be_port))
    });
    for b in backends {
        let st = &b.status;
        let used: i64 = st.disks.iter().map(|d| d.data_used_bytes).sum();
        let avail: i64 = st.disks.iter().map(|d| d.available_bytes).sum();
        let total: i64 = st.disks.iter().map(|d| d.total_bytes).sum();
        let max_disk = st
            .disks
            .iter()
            .filter(|d| d.total_bytes > 0)
            .map(|d| (d.total_bytes - d.available_bytes) as f64 * 100.0 / d.total_bytes as f64)
            .fold(0.0_f64, f64::max);
        let report = if st.last_report_ms > 0 {
            common::clock::format_ms(st.last_report_ms)
        } else {
            "N/A".to_string()
        };
        rows.push(vec![
            Cell::Int(b.id),
            b.host.clone().into(),
            Cell::Int(i64::from(b.heartbeat_port)),
            Cell::Int(i64::from(st.be_port)),
            Cell::Int(i64::from(st.http_port)),
            Cell::Int(i64::from(st.brpc_port)),
            Cell::Text(common::clock::format_ms(st.last_start_time_ms)),
            Cell::Text(common::clock::format_ms(st.last_heartbeat_ms)),
            st.alive.into(),
            b.decommissioned.into(),
            false.into(),
            Cell::Int(counts.get(&b.id).copied().unwrap_or(0) as i64),
            format_bytes(used).into(),
            format_bytes(avail).into(),
            format_bytes(total).into(),
            pct(total - avail, total).into(),
            format!("{max_disk:.2} %").into(),
            st.err_msg.clone().into(),
            if st.version.is_empty() {
                Cell::Null
            } else {
                st.version.clone().into()
            },
            format!("{{\"lastSuccessReportTabletsTime\":\"{report}\"}}").into(),
            format_bytes(used + avail).into(),
            pct(used, used + avail).into(),
        ]);
    }
    rows
}

/// `SHOW PROC '/backends/<id>'`: the backend's disks.
pub fn show_backend_disks(fe: &Arc<Frontend>, id: i64) -> Result<RowSet> {
    let be = fe
        .journal
        .state
        .read(|s| s.catalog.backends.get(&id).cloned())
        .ok_or_else(|| Error::invalid(format!("Backend {id} does not exist")))?;
    let mut rows = RowSet::with_text_columns(&[
        "RootPath",
        "DataUsedCapacity",
        "AvailCapacity",
        "TotalCapacity",
        "TotalUsedPct",
        "State",
    ]);
    for d in &be.status.disks {
        rows.push(vec![
            d.root_path.clone().into(),
            format_bytes(d.data_used_bytes).into(),
            format_bytes(d.available_bytes).into(),
            format_bytes(d.total_bytes).into(),
            pct(d.total_bytes - d.available_bytes, d.total_bytes).into(),
            if be.status.alive { "ONLINE" } else { "OFFLINE" }.into(),
        ]);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_format_like_starrocks() {
        assert_eq!(format_bytes(0), "0.000 B");
        assert_eq!(format_bytes(1536), "1.500 KB");
        assert_eq!(format_bytes(25 * 1024 * 1024 * 1024), "25.000 GB");
        assert_eq!(pct(1, 4), "25.00 %");
        assert_eq!(pct(1, 0), "0.00 %");
    }
}
