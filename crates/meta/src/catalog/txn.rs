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

/// Per backend, the (tablet, partition, version) triples a publish asks it to make visible.
pub type PublishTargets = BTreeMap<i64, Vec<(i64, i64, i64)>>;

/// The longest label StarRocks accepts (and fe.conf's `label_max_length` default).
pub const DEFAULT_LABEL_MAX_LENGTH: usize = 128;

/// Checks a label: 1 to `max_chars` letters, digits, `_` and `-` (StarRocks's
/// `^[-_A-Za-z0-9]{1,128}$`; the length is fe.conf's `label_max_length`). A journaled begin
/// is checked with `usize::MAX`: the length was checked by the FE that took the request, and
/// replaying must not depend on a frontend's config.
pub fn check_label(label: &str, max_chars: usize) -> Result<(), Error> {
    let n = label.chars().count();
    let shown = if n <= 80 {
        label.to_string()
    } else {
        format!("{}...", label.chars().take(80).collect::<String>())
    };
    if n > max_chars {
        return Err(Error::invalid(format!(
            "Label format error: the label has {n} characters, more than label_max_length \
             ({max_chars}) allows, label: {shown}"
        )));
    }
    let ok = n > 0
        && label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "Label format error. regex: ^[-_A-Za-z0-9]{{1,{}}}$, label: {shown}",
            max_chars.min(1 << 20)
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
    /// Where a committed transaction's publish goes: per backend, (tablet, partition,
    /// version) for each replica that wrote the load, and for each other replica already
    /// reported at the load's version (a clone brought it there: the writers may be gone,
    /// their replicas dropped and re-cloned elsewhere; asking only the writers would wait
    /// forever for a quorum that moved). `None` while an earlier version of one of its
    /// partitions is not visible yet: loads are published in version order.
    pub fn publish_targets(&self, txn: &Txn) -> Option<PublishTargets> {
        let committed: BTreeSet<(i64, i64)> = txn.commit_infos.iter().copied().collect();
        let mut work = PublishTargets::new();
        let Some(t) = self
            .databases
            .get(&txn.db)
            .and_then(|d| d.tables.values().find(|t| t.id == txn.table_id))
        else {
            return Some(work);
        };
        for p in &t.partitions {
            let Some(&v) = txn.partition_versions.get(&p.id) else {
                continue;
            };
            if p.visible_version != v - 1 {
                return None;
            }
            for tablet in &p.tablets {
                for r in &tablet.replicas {
                    if committed.contains(&(tablet.id, r.backend_id)) || r.version >= v {
                        work.entry(r.backend_id)
                            .or_default()
                            .push((tablet.id, p.id, v));
                    }
                }
            }
        }
        Some(work)
    }

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
        check_label(&txn.label, usize::MAX)?;
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
                // A replica that wrote its share misses nothing of this load, even if it still
                // lags (repair fills its older gap); one that did not write misses this version.
                for r in &tablet.replicas {
                    if !ok.contains(&(tablet.id, r.backend_id)) || r.bad {
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
        versions: &[(i64, i64, i64)],
        time_ms: i64,
    ) -> Result<u64, Error> {
        let rows: BTreeMap<(i64, i64), i64> = stats
            .iter()
            .map(|&(tablet, backend, rows)| ((tablet, backend), rows))
            .collect();
        let after: BTreeMap<(i64, i64), i64> = versions
            .iter()
            .map(|&(tablet, backend, v)| ((tablet, backend), v))
            .collect();
        // The version a replica reached by this publish (the load's version unless it said
        // it still has a gap below).
        let reached =
            |tablet: i64, backend: i64, v: i64| after.get(&(tablet, backend)).copied().unwrap_or(v);
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
                // Only replicas that can now be read at v count.
                let n = tablet
                    .replicas
                    .iter()
                    .filter(|r| {
                        published.contains(&(tablet.id, r.backend_id))
                            && reached(tablet.id, r.backend_id, *v) >= *v
                    })
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
                        r.version = r.version.max(reached(tablet.id, r.backend_id, v));
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

    #[test]
    fn labels_are_checked_against_their_length_limit() {
        check_label(&"a".repeat(128), DEFAULT_LABEL_MAX_LENGTH).expect("128 characters");
        check_label("load-1_x", 8).expect("at the limit");
        let e = check_label(&"a".repeat(129), DEFAULT_LABEL_MAX_LENGTH).expect_err("too long");
        assert!(
            e.message.starts_with("Label format error")
                && e.message.contains("129 characters")
                && e.message.contains("label_max_length (128)"),
            "{}",
            e.message
        );
        let e = check_label("a b", 128).expect_err("space");
        assert!(
            e.message
                .contains("Label format error. regex: ^[-_A-Za-z0-9]{1,128}$, label: a b"),
            "{}",
            e.message
        );
        assert!(check_label("", 128).is_err());
        // Replay does not depend on the length limit.
        check_label(&"a".repeat(5000), usize::MAX).expect("replay");
    }

    pub(super) fn txn(id: i64, status: TxnStatus) -> Txn {
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

#[cfg(test)]
mod repair_tests {
    use common::schema::KeysType;
    use common::schema::TableSchema;

    use super::*;
    use crate::JournalOp;
    use crate::catalog::Database;
    use crate::catalog::table::Partition;
    use crate::catalog::table::Replica;
    use crate::catalog::table::ReplicaState;
    use crate::catalog::table::Table;
    use crate::catalog::table::Tablet;
    use crate::catalog::table::WriteQuorum;

    fn replica(id: i64, backend_id: i64) -> Replica {
        Replica {
            id,
            backend_id,
            version: 1,
            last_success_version: -1,
            last_failed_version: -1,
            last_failed_time_ms: 0,
            state: ReplicaState::Normal,
            bad: false,
            data_size: 0,
            row_count: 0,
        }
    }

    /// db `d`, table `t` (id 1), one partition (id 2) with tablet 3 on backends 11, 12, 13.
    fn catalog() -> Catalog {
        let mut c = Catalog::default();
        let table = Table {
            id: 1,
            name: "t".into(),
            index_id: 1,
            schema: TableSchema {
                columns: Vec::new(),
                keys_type: KeysType::Duplicate,
                distribution_columns: Vec::new(),
                buckets: 1,
                schema_version: 0,
            },
            partitioning: None,
            partitions: vec![Partition {
                id: 2,
                name: "t".into(),
                range: None,
                visible_version: 1,
                visible_version_time_ms: 0,
                next_version: 2,
                buckets: 1,
                replication_num: 3,
                tablets: vec![Tablet {
                    id: 3,
                    replicas: vec![replica(21, 11), replica(22, 12), replica(23, 13)],
                }],
            }],
            replication_num: 3,
            write_quorum: WriteQuorum::Majority,
            replicated_storage: true,
            comment: String::new(),
            create_time_ms: 0,
        };
        let mut db = Database {
            id: 100,
            name: "d".into(),
            create_time_ms: 0,
            tables: BTreeMap::new(),
        };
        db.tables.insert("t".into(), table);
        c.databases.insert("d".into(), db);
        c
    }

    fn load(c: &mut Catalog, id: i64, wrote: &[i64]) {
        let mut t = super::tests::txn(id, TxnStatus::Prepare);
        t.table_id = 1;
        c.txns.insert(id, t);
        c.next_txn_id = id + 1;
        let infos: Vec<(i64, i64)> = wrote.iter().map(|b| (3, *b)).collect();
        c.commit_txn(id, &[2], &infos, [0; 4], 10).expect("commit");
    }

    fn replica_of(c: &Catalog, backend: i64) -> Replica {
        let (_, _, _, tablet) = c.find_tablet(3).expect("tablet");
        tablet
            .replicas
            .iter()
            .find(|r| r.backend_id == backend)
            .cloned()
            .expect("replica")
    }

    #[test]
    fn publish_goes_to_the_writers_and_to_replicas_a_clone_brought_to_the_version() {
        let mut c = catalog();
        // Version 2 written by 11 and 12 only.
        load(&mut c, 1, &[11, 12]);
        let txn = c.txns.get(&1).cloned().expect("txn");
        let targets = c.publish_targets(&txn).expect("ready");
        assert_eq!(targets.keys().copied().collect::<Vec<_>>(), [11, 12]);
        assert_eq!(targets[&11], [(3, 2, 2)]);
        // 12's replica is dropped and re-cloned on 14, which reports version 2 (what the clone
        // copied) before the load is published: 14 is asked too, and with 11 it makes the
        // quorum that the gone writer cannot.
        let tablet = c.tablet_mut(3).expect("tablet");
        tablet.replicas.retain(|r| r.backend_id != 12);
        let mut cloned = replica(24, 14);
        cloned.version = 2;
        tablet.replicas.push(cloned);
        let targets = c.publish_targets(&txn).expect("ready");
        assert_eq!(targets.keys().copied().collect::<Vec<_>>(), [11, 14]);
        c.finish_txn(1, &[(3, 11), (3, 14)], &[], &[], 20)
            .expect("a quorum of current replicas has version 2");
        assert_eq!(c.txns[&1].status, TxnStatus::Visible);
        // A load above a version that is not visible yet waits its turn.
        load(&mut c, 2, &[11, 14]);
        load(&mut c, 3, &[11, 14]);
        let third = c.txns.get(&3).cloned().expect("txn");
        assert!(c.publish_targets(&third).is_none());
    }

    #[test]
    fn a_lagging_replica_takes_loads_and_catches_up_when_its_gap_is_filled() {
        let mut c = catalog();
        // Version 2: backend 13 misses it.
        load(&mut c, 1, &[11, 12]);
        assert_eq!(replica_of(&c, 13).last_failed_version, 2);
        c.finish_txn(1, &[(3, 11), (3, 12)], &[], &[], 20)
            .expect("visible");
        // Version 3: backend 13 writes it but cannot read it yet (gap at 2).
        load(&mut c, 2, &[11, 12, 13]);
        assert_eq!(
            replica_of(&c, 13).last_failed_version,
            2,
            "writing version 3 does not make it miss version 3"
        );
        let versions = [(3, 11, 3), (3, 12, 3), (3, 13, 1)];
        c.finish_txn(2, &[(3, 11), (3, 12), (3, 13)], &[], &versions, 30)
            .expect("visible");
        let r = replica_of(&c, 13);
        assert_eq!(
            (r.version, r.last_success_version, r.last_failed_version),
            (1, 3, 2)
        );
        assert_eq!(replica_of(&c, 11).version, 3);
        // A clone fills version 2: the replica reaches 3 and misses nothing.
        let id = r.id;
        let op = JournalOp::FinishClone {
            tablet_id: 3,
            replica_id: id,
            version: 3,
            data_size: 10,
            row_count: 5,
        };
        assert!(c.apply(&op).0.is_ok());
        let r = replica_of(&c, 13);
        assert_eq!((r.version, r.last_failed_version, r.row_count), (3, -1, 5));
    }

    #[test]
    fn a_publish_counts_only_replicas_readable_at_the_version() {
        let mut c = catalog();
        load(&mut c, 1, &[11, 12, 13]);
        // Two replicas published but one still has a gap below: no quorum.
        let versions = [(3, 11, 2), (3, 12, 1)];
        let e = c
            .finish_txn(1, &[(3, 11), (3, 12)], &[], &versions, 20)
            .expect_err("one readable replica is not a quorum");
        assert_eq!(e.code, StatusCode::QuorumNotMet);
        let versions = [(3, 11, 2), (3, 12, 2)];
        c.finish_txn(1, &[(3, 11), (3, 12)], &[], &versions, 20)
            .expect("quorum");
    }

    #[test]
    fn repair_adds_finishes_and_drops_replicas() {
        let mut c = catalog();
        let mut new = replica(30, 14);
        new.state = ReplicaState::Clone;
        new.version = -1;
        new.last_failed_version = 1;
        let add = JournalOp::AddReplica {
            tablet_id: 3,
            replica: new.clone(),
        };
        assert!(c.apply(&add).0.is_ok());
        assert!(c.next_id > 30, "ids stay unique");
        let again = c.apply(&add).0.expect_err("one replica per backend");
        assert_eq!(again.code, StatusCode::InvalidArgument);
        let missing = JournalOp::AddReplica {
            tablet_id: 999,
            replica: new,
        };
        assert!(c.apply(&missing).0.is_err());
        // A report of the CLONE replica does not clear its failed version.
        c.apply(&JournalOp::UpdateReplicas {
            updates: vec![crate::catalog::ReplicaUpdate {
                tablet_id: 3,
                replica_id: 30,
                version: Some(1),
                data_size: None,
                row_count: None,
                bad: None,
            }],
        });
        assert_eq!(replica_of(&c, 14).last_failed_version, 1);
        c.apply(&JournalOp::FinishClone {
            tablet_id: 3,
            replica_id: 30,
            version: 1,
            data_size: 0,
            row_count: 0,
        });
        let r = replica_of(&c, 14);
        assert_eq!(
            (r.state, r.version, r.last_failed_version),
            (ReplicaState::Normal, 1, -1)
        );
        c.apply(&JournalOp::SetReplicaState {
            tablet_id: 3,
            replica_id: 21,
            state: ReplicaState::Decommission,
        });
        assert_eq!(replica_of(&c, 11).state, ReplicaState::Decommission);
        assert_eq!(
            c.apply(&JournalOp::DropReplica {
                tablet_id: 3,
                replica_id: 21
            }),
            crate::journal_op::JournalResponse::ok(1)
        );
        let (_, _, _, tablet) = c.find_tablet(3).expect("tablet");
        assert_eq!(tablet.replicas.len(), 3);
        assert!(tablet.replicas.iter().all(|r| r.backend_id != 11));
    }
}
