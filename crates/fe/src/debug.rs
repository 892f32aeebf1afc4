//! Benchmark support, off unless `debug_enable_synthetic_tables = true` in fe.conf:
//! `POST /api/_debug/synthetic_table?db=D&table=T&tablets=N` journals a range-partitioned table
//! of N tablets whose replicas are assigned to the cluster's backends *without* creating them
//! there, so the checker, images and restarts can be measured over a catalog of a million
//! tablets (bench/checker_scale.sh) without a million tablets on disk. Never enable it on a
//! cluster that holds data: the synthetic replicas exist only in the catalog.

use std::collections::BTreeMap;
use std::sync::Arc;

use common::Error;
use common::Result;
use common::StatusCode;
use common::schema::ColumnSchema;
use common::schema::DataType;
use common::schema::KeysType;
use common::schema::PartitionValue;
use common::schema::TableSchema;
use meta::JournalOp;
use meta::catalog::table::Partition;
use meta::catalog::table::PartitionBound;
use meta::catalog::table::PartitionRange;
use meta::catalog::table::RangePartitioning;
use meta::catalog::table::Replica;
use meta::catalog::table::ReplicaState;
use meta::catalog::table::Table;
use meta::catalog::table::Tablet;
use meta::catalog::table::WriteQuorum;

use crate::frontend::Frontend;

/// Tablets per journaled partition (one journal entry each).
pub const TABLETS_PER_PARTITION: u64 = 20_000;
/// Most tablets one request creates.
pub const MAX_TABLETS: u64 = 10_000_000;

fn bound(v: u64) -> PartitionBound {
    PartitionBound {
        value: PartitionValue::Int(i128::from(v)),
        text: v.to_string(),
    }
}

/// Journals a synthetic table of `tablets` tablets with 3 replicas each (see the module docs).
/// Returns the number of partitions.
pub async fn synthetic_table(
    fe: &Arc<Frontend>,
    db: &str,
    table: &str,
    tablets: u64,
) -> Result<u64> {
    if !fe.file_config.debug_enable_synthetic_tables {
        return Err(Error::new(
            StatusCode::PermissionDenied,
            "synthetic tables are for benchmarks: set debug_enable_synthetic_tables = true in \
             fe.conf (never on a cluster that holds data)",
        ));
    }
    if !fe.journal.is_leader() {
        return Err(Error::new(
            StatusCode::NotLeader,
            "this frontend is not the leader",
        ));
    }
    if tablets == 0 || tablets > MAX_TABLETS {
        return Err(Error::invalid(format!(
            "tablets must be 1..{MAX_TABLETS}, not {tablets}"
        )));
    }
    crate::exec::database::check_name(
        "table",
        table,
        fe.config().max_identifier_length.max(1) as usize,
    )?;
    let backends: Vec<(i64, String)> = fe.journal.state.read(|s| {
        s.catalog
            .backends
            .values()
            .filter(|b| b.is_available())
            .map(|b| (b.id, b.host.clone()))
            .collect()
    });
    let mut by_host: BTreeMap<String, i64> = BTreeMap::new();
    for (id, host) in backends {
        by_host.entry(host).or_insert(id);
    }
    let hosts: Vec<i64> = by_host.into_values().collect();
    if hosts.len() < 3 {
        return Err(Error::invalid(format!(
            "a synthetic table needs 3 available backends on distinct hosts; there are {}",
            hosts.len()
        )));
    }
    let parts = tablets.div_ceil(TABLETS_PER_PARTITION);
    let now = common::clock::now_ms();
    let schema = TableSchema {
        columns: vec![ColumnSchema {
            name: "k".into(),
            data_type: DataType::BigInt,
            nullable: true,
            is_key: true,
            default: None,
            comment: String::new(),
        }],
        keys_type: KeysType::Duplicate,
        distribution_columns: vec!["k".into()],
        buckets: TABLETS_PER_PARTITION as u32,
        schema_version: 0,
    };
    // Ids: the table and its index, then per partition one id and 4 per tablet.
    let count = 2 + parts + tablets * 4;
    let (_, first) = fe
        .journal
        .write(JournalOp::AllocateIds { count }, fe.write_timeout())
        .await?;
    let mut next = first as i64;
    let mut take = || {
        next += 1;
        next - 1
    };
    let (table_id, index_id) = (take(), take());
    let mut made = 0u64;
    let mut partitions = Vec::new();
    for p in 0..parts {
        let n = TABLETS_PER_PARTITION.min(tablets - made);
        let pid = take();
        let tablet_list: Vec<Tablet> = (0..n)
            .map(|i| {
                let id = take();
                let replicas = (0..3)
                    .map(|j| Replica {
                        id: take(),
                        backend_id: hosts[((made + i) as usize + j) % hosts.len()],
                        version: 1,
                        last_success_version: -1,
                        last_failed_version: -1,
                        last_failed_time_ms: 0,
                        state: ReplicaState::Normal,
                        bad: false,
                        data_size: 0,
                        row_count: 0,
                    })
                    .collect();
                Tablet { id, replicas }
            })
            .collect();
        made += n;
        partitions.push(Partition {
            id: pid,
            name: format!("p{p}"),
            range: Some(PartitionRange {
                lower: Some(bound(p * 1000)),
                upper: Some(bound((p + 1) * 1000)),
            }),
            visible_version: 1,
            visible_version_time_ms: now,
            next_version: 2,
            buckets: n as u32,
            replication_num: 3,
            tablets: tablet_list,
        });
    }
    let mut partitions = partitions.into_iter();
    let first_partition = partitions.next().into_iter().collect();
    let t = Table {
        id: table_id,
        name: table.to_string(),
        index_id,
        schema,
        partitioning: Some(RangePartitioning {
            column: "k".into(),
            data_type: DataType::BigInt,
        }),
        partitions: first_partition,
        replication_num: 3,
        write_quorum: WriteQuorum::Majority,
        replicated_storage: true,
        comment: "synthetic (debug_enable_synthetic_tables)".into(),
        create_time_ms: now,
    };
    fe.journal
        .write(
            JournalOp::CreateTable {
                db: db.to_string(),
                table: t,
                if_not_exists: false,
            },
            fe.write_timeout(),
        )
        .await?;
    for p in partitions {
        fe.journal
            .write(
                JournalOp::AddPartition {
                    db: db.to_string(),
                    table: table.to_string(),
                    partition: p,
                },
                fe.write_timeout(),
            )
            .await?;
    }
    Ok(parts)
}
