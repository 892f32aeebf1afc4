//! Load transactions: PREPARE → COMMITTED → VISIBLE, or ABORTED.
//!
//! Everything that must be decided in order with other catalog changes happens when the op is
//! applied: label uniqueness at begin, the per-tablet write-quorum check and the partition
//! versions at commit, the publish order at visible. So two loads racing on a label, or on a
//! partition's next version, are ordered by the journal and every FE decides the same.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::fmt;

use common::Error;
use common::StatusCode;
use serde::Deserialize;
use serde::Serialize;

use crate::catalog::Catalog;

/// StarRocks's TransactionStatus.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxnStatus {
    /// Begun; data being written.
    Prepare,
    /// Quorum reached; durable; will become visible.
    Committed,
    /// Readable.
    Visible,
    /// Rolled back.
    Aborted,
}

impl TxnStatus {
    /// Whether the transaction is over.
    pub fn is_final(self) -> bool {
        matches!(self, TxnStatus::Visible | TxnStatus::Aborted)
    }
}

impl fmt::Display for TxnStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TxnStatus::Prepare => "PREPARE",
            TxnStatus::Committed => "COMMITTED",
            TxnStatus::Visible => "VISIBLE",
            TxnStatus::Aborted => "ABORTED",
        })
    }
}

/// A load transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Txn {
    /// Transaction id.
    pub id: i64,
    /// Label (unique per database among non-aborted transactions).
    pub label: String,
    /// Database.
    pub db: String,
    /// Table.
    pub table: String,
    /// Table id.
    pub table_id: i64,
    /// State.
    pub status: TxnStatus,
    /// Who coordinates it (`BE: 127.0.0.2`, `FE: ...`).
    pub coordinator: String,
    /// The coordinator's backend id (0 for an FE).
    pub coordinator_backend_id: i64,
    /// STREAM_LOAD or INSERT.
    pub source_type: String,
    /// A retry with this request id gets the same transaction.
    pub request_id: String,
    /// Times, epoch ms (0 = not yet).
    pub prepare_time_ms: i64,
    /// Commit time.
    pub commit_time_ms: i64,
    /// Visible time.
    pub publish_time_ms: i64,
    /// When it became final.
    pub finish_time_ms: i64,
    /// Timeout.
    pub timeout_ms: i64,
    /// Why it was aborted.
    pub reason: String,
    /// Versions taken at commit: partition id → version.
    pub partition_versions: BTreeMap<i64, i64>,
    /// (tablet, backend) pairs that wrote their share.
    pub commit_infos: Vec<(i64, i64)>,
    /// Replicas that missed the load: (tablet, replica).
    pub error_replicas: Vec<(i64, i64)>,
    /// Rows loaded.
    pub loaded_rows: i64,
    /// Rows filtered for data quality.
    pub filtered_rows: i64,
    /// Rows dropped by WHERE.
    pub unselected_rows: i64,
    /// Bytes read.
    pub load_bytes: i64,
}

/// Checks a label (`^[-\w]{1,128}$`).
pub fn check_label(label: &str) -> Result<(), Error> {
    let ok = !label.is_empty()
        && label.len() <= 128
        && label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "Invalid label '{label}': 1 to 128 characters among letters, digits, '_' and '-'"
        )))
    }
}

/// The error for a label that is taken, with the job status StarRocks reports.
pub fn label_taken(label: &str, status: TxnStatus) -> Error {
    let job = if status == TxnStatus::Prepare {
        "RUNNING"
    } else {
        "FINISHED"
    };
    Error::new(
        StatusCode::LabelAlreadyExists,
        format!("Label [{label}] has already been used. ExistingJobStatus={job}"),
    )
}

impl Catalog {
    /// Transactions of a database, newest last.
    pub fn txns_of<'a>(&'a self, db: &'a str) -> impl Iterator<Item = &'a Txn> + 'a {
        self.txns.values().filter(move |t| t.db == db)
    }

    pub(crate) fn begin_txn(&mut self, txn: &Txn, max_running: usize) -> Result<u64, Error> {
        if !self.databases.contains_key(&txn.db) {
            return Err(Error::new(
                StatusCode::DatabaseNotFound,
                format!("Unknown database '{}'", txn.db),
            ));
        }
        check_label(&txn.label)?;
        if let Some(existing) = self
            .txns_of(&txn.db)
            .find(|t| t.label == txn.label && t.status != TxnStatus::Aborted)
        {
            if existing.status == TxnStatus::Prepare
                && !txn.request_id.is_empty()
                && existing.request_id == txn.request_id
            {
                return Ok(existing.id as u64);
            }
            return Err(label_taken(&txn.label, existing.status));
        }
        let running = self
            .txns_of(&txn.db)
            .filter(|t| !t.status.is_final())
            .count();
        if running >= max_running {
            return Err(Error::new(
                StatusCode::LimitExceeded,
                format!(
                    "current running txns on db {} is {running}, larger than limit {max_running}",
                    txn.db
                ),
            ));
        }
        let id = self.next_txn_id;
        self.next_txn_id += 1;
        let mut t = txn.clone();
        t.id = id;
        t.status = TxnStatus::Prepare;
        self.txns.insert(id, t);
        Ok(id as u64)
    }

    pub(crate) fn commit_txn(
        &mut self,
        txn_id: i64,
        partitions: &[i64],
        commit_infos: &[(i64, i64)],
        stats: [i64; 4],
        time_ms: i64,
    ) -> Result<u64, Error> {
        let txn = self.txns.get(&txn_id).cloned().ok_or_else(|| {
            Error::new(
                StatusCode::TxnNotFound,
                format!("transaction {txn_id} does not exist"),
            )
        })?;
        if txn.status != TxnStatus::Prepare {
            return Err(Error::new(
                StatusCode::TxnStateInvalid,
                format!(
                    "transaction {txn_id} is {}, not PREPARE; it cannot be committed",
                    txn.status
                ),
            ));
        }
        if partitions.is_empty() {
            return Err(Error::invalid("all partitions have no load data"));
        }
        let ok: BTreeSet<(i64, i64)> = commit_infos.iter().copied().collect();
        let (db, tname) = (txn.db.clone(), txn.table.clone());
        let table = self
            .table(&db, &tname)
            .filter(|t| t.id == txn.table_id)
            .ok_or_else(|| {
                Error::new(
                    StatusCode::TableNotFound,
                    format!("Table '{db}.{tname}' was dropped during the load"),
                )
            })?;
        let quorum = table.write_quorum.quorum(table.replication_num) as usize;
        let mut error_replicas = Vec::new();
        for pid in partitions {
            let p = table
                .partitions
                .iter()
                .find(|p| p.id == *pid)
                .ok_or_else(|| {
                    Error::invalid(format!("partition {pid} of {tname} does not exist"))
                })?;
            for tablet in &p.tablets {
                let good: Vec<i64> = tablet
                    .replicas
                    .iter()
                    .filter(|r| {
                        ok.contains(&(tablet.id, r.backend_id))
                            && r.last_failed_version < 0
                            && !r.bad
                    })
                    .map(|r| r.backend_id)
                    .collect();
                if good.len() < quorum {
                    return Err(Error::new(
                        StatusCode::QuorumNotMet,
                        format!(
                            "Commit failed. txn: {txn_id} table: {tname} tablet: {} quorum: {}<{quorum}: \
                             success replica num {} < quorum {quorum} for tablet {} (write_quorum {}, \
                             replication_num {}); successful backends: {:?}",
                            tablet.id,
                            good.len(),
                            good.len(),
                            tablet.id,
                            table.write_quorum,
                            table.replication_num,
                            good
                        ),
                    ));
                }
                for r in &tablet.replicas {
                    if !good.contains(&r.backend_id) {
                        error_replicas.push((tablet.id, r.id));
                    }
                }
            }
        }
        // Take the next version of every partition and mark the replicas that missed it.
        let table = self.table_mut_by_id(&db, txn.table_id)?;
        let mut versions = BTreeMap::new();
        for p in &mut table.partitions {
            if partitions.contains(&p.id) {
                let v = p.next_version;
                p.next_version += 1;
                versions.insert(p.id, v);
                for tablet in &mut p.tablets {
                    for r in &mut tablet.replicas {
                        if error_replicas.contains(&(tablet.id, r.id)) && r.last_failed_version < v
                        {
                            r.last_failed_version = v;
                            r.last_failed_time_ms = time_ms;
                        }
                    }
                }
            }
        }
        let t = self.txns.get_mut(&txn_id).expect("checked above");
        t.status = TxnStatus::Committed;
        t.commit_time_ms = time_ms;
        t.partition_versions = versions;
        t.commit_infos = commit_infos.to_vec();
        t.error_replicas = error_replicas;
        [
            t.loaded_rows,
            t.filtered_rows,
            t.unselected_rows,
            t.load_bytes,
        ] = stats;
        Ok(1)
    }

    pub(crate) fn finish_txn(
        &mut self,
        txn_id: i64,
        published: &[(i64, i64)],
        stats: &[(i64, i64, i64)],
        time_ms: i64,
    ) -> Result<u64, Error> {
        let rows: BTreeMap<(i64, i64), i64> = stats
            .iter()
            .map(|&(tablet, backend, rows)| ((tablet, backend), rows))
            .collect();
        let txn = self.txns.get(&txn_id).cloned().ok_or_else(|| {
            Error::new(
                StatusCode::TxnNotFound,
                format!("transaction {txn_id} does not exist"),
            )
        })?;
        if txn.status == TxnStatus::Visible {
            return Ok(0);
        }
        if txn.status != TxnStatus::Committed {
            return Err(Error::new(
                StatusCode::TxnStateInvalid,
                format!("transaction {txn_id} is {}", txn.status),
            ));
        }
        let published: BTreeSet<(i64, i64)> = published.iter().copied().collect();
        let Ok(table) = self.table_mut_by_id(&txn.db, txn.table_id) else {
            // The table was dropped after the commit: nothing to make visible.
            let t = self.txns.get_mut(&txn_id).expect("exists");
            t.status = TxnStatus::Visible;
            t.publish_time_ms = time_ms;
            t.finish_time_ms = time_ms;
            return Ok(1);
        };
        let quorum = table.write_quorum.quorum(table.replication_num) as usize;
        for p in &table.partitions {
            let Some(v) = txn.partition_versions.get(&p.id) else {
                continue;
            };
            if p.visible_version != v - 1 {
                return Err(Error::new(
                    StatusCode::TxnStateInvalid,
                    format!(
                        "wait for publishing partition {} version {}. self version: {v}",
                        p.name,
                        p.visible_version + 1
                    ),
                ));
            }
            for tablet in &p.tablets {
                let n = tablet
                    .replicas
                    .iter()
                    .filter(|r| published.contains(&(tablet.id, r.backend_id)))
                    .count();
                if n < quorum {
                    return Err(Error::new(
                        StatusCode::QuorumNotMet,
                        format!(
                            "publish on tablet {} failed. succeed replica num {n} less than quorum {quorum}",
                            tablet.id
                        ),
                    ));
                }
            }
        }
        for p in &mut table.partitions {
            let Some(&v) = txn.partition_versions.get(&p.id) else {
                continue;
            };
            p.visible_version = v;
            p.visible_version_time_ms = time_ms;
            for tablet in &mut p.tablets {
                for r in &mut tablet.replicas {
                    if published.contains(&(tablet.id, r.backend_id)) {
                        if let Some(&n) = rows.get(&(tablet.id, r.backend_id)) {
                            r.row_count = n;
                        }
                        r.version = r.version.max(v);
                        r.last_success_version = r.last_success_version.max(v);
                        if r.last_failed_version >= 0 && r.version >= r.last_failed_version {
                            r.last_failed_version = -1;
                        }
                    } else if r.last_failed_version < v {
                        r.last_failed_version = v;
                        r.last_failed_time_ms = time_ms;
                    }
                }
            }
        }
        let t = self.txns.get_mut(&txn_id).expect("exists");
        t.status = TxnStatus::Visible;
        t.publish_time_ms = time_ms;
        t.finish_time_ms = time_ms;
        Ok(1)
    }

    pub(crate) fn abort_txn(
        &mut self,
        txn_id: i64,
        reason: &str,
        time_ms: i64,
    ) -> Result<u64, Error> {
        let t = self.txns.get_mut(&txn_id).ok_or_else(|| {
            Error::new(
                StatusCode::TxnNotFound,
                format!("transaction {txn_id} does not exist"),
            )
        })?;
        match t.status {
            TxnStatus::Aborted => Ok(0),
            TxnStatus::Prepare => {
                t.status = TxnStatus::Aborted;
                t.reason = reason.to_string();
                t.finish_time_ms = time_ms;
                Ok(1)
            }
            s => Err(Error::new(
                StatusCode::TxnStateInvalid,
                format!("transaction {txn_id} is already {s}; a committed load cannot be aborted"),
            )),
        }
    }

    /// Forgets final transactions that finished before `before_ms`, keeping at most
    /// `keep_per_db` final ones per database (their labels become reusable).
    pub(crate) fn clean_txns(&mut self, before_ms: i64, keep_per_db: usize) -> u64 {
        let mut removed = 0;
        let mut finals: BTreeMap<String, Vec<(i64, i64)>> = BTreeMap::new();
        for t in self.txns.values().filter(|t| t.status.is_final()) {
            finals
                .entry(t.db.clone())
                .or_default()
                .push((t.finish_time_ms, t.id));
        }
        for (_, mut list) in finals {
            list.sort();
            let excess = list.len().saturating_sub(keep_per_db);
            for (i, (finish, id)) in list.into_iter().enumerate() {
                if i < excess || finish < before_ms {
                    self.txns.remove(&id);
                    removed += 1;
                }
            }
        }
        removed
    }

    /// Of `txn_ids` (transactions a backend still holds pending rowsets for), those that will
    /// never publish: aborted, or below `next_txn_id` and gone (finished and cleaned). A
    /// transaction this catalog has not reached yet (a leader still applying its log) is kept.
    pub fn never_publishing(&self, txn_ids: &[i64]) -> Vec<i64> {
        txn_ids
            .iter()
            .copied()
            .filter(|id| match self.txns.get(id) {
                Some(t) => t.status == TxnStatus::Aborted,
                None => *id < self.next_txn_id,
            })
            .collect()
    }

    fn table_mut_by_id(
        &mut self,
        db: &str,
        table_id: i64,
    ) -> Result<&mut crate::catalog::table::Table, Error> {
        self.databases
            .get_mut(db)
            .and_then(|d| d.tables.values_mut().find(|t| t.id == table_id))
            .ok_or_else(|| {
                Error::new(
                    StatusCode::TableNotFound,
                    format!("table {table_id} of {db} does not exist"),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txn(id: i64, status: TxnStatus) -> Txn {
        Txn {
            id,
            label: format!("l{id}"),
            db: "d".into(),
            table: "t".into(),
            table_id: 1,
            status,
            coordinator: String::new(),
            coordinator_backend_id: 0,
            source_type: "INSERT".into(),
            request_id: String::new(),
            prepare_time_ms: 0,
            commit_time_ms: 0,
            publish_time_ms: 0,
            finish_time_ms: 0,
            timeout_ms: 0,
            reason: String::new(),
            partition_versions: BTreeMap::new(),
            commit_infos: Vec::new(),
            error_replicas: Vec::new(),
            loaded_rows: 0,
            filtered_rows: 0,
            unselected_rows: 0,
            load_bytes: 0,
        }
    }

    #[test]
    fn only_aborted_or_cleaned_transactions_never_publish() {
        let mut c = Catalog::default();
        for (id, status) in [
            (1, TxnStatus::Prepare),
            (2, TxnStatus::Committed),
            (3, TxnStatus::Visible),
            (4, TxnStatus::Aborted),
        ] {
            c.txns.insert(id, txn(id, status));
        }
        // 5 was begun and cleaned; 6 and 9 are beyond what this catalog has applied.
        c.next_txn_id = 6;
        assert_eq!(c.never_publishing(&[1, 2, 3, 4, 5, 6, 9]), [4, 5]);
        assert!(c.never_publishing(&[]).is_empty());
    }
}
