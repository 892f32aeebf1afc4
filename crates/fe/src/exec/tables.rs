//! `CREATE TABLE`, `DROP TABLE`, `ALTER TABLE`, `SHOW TABLES`, `SHOW CREATE TABLE`, `DESC`,
//! `SHOW COLUMNS`.
//!
//! CREATE TABLE on the leader: analyze the statement (pure, see [`analyze`]), place every
//! replica on distinct hosts (`sched::placement`), reserve ids in the journal, create every
//! replica on its backend, and only then journal the table. If any replica fails, the ones
//! created are dropped and nothing is journaled: no half-created table anywhere.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

use common::Error;
use common::Result;
use common::StatusCode;
use common::schema::ColumnSchema;
use common::schema::DataType;
use common::schema::KeysType;
use common::schema::TableSchema;
use futures::StreamExt;
use meta::JournalOp;
use meta::catalog::table::Partition;
use meta::catalog::table::PartitionBound;
use meta::catalog::table::PartitionRange;
use meta::catalog::table::PartitionValue;
use meta::catalog::table::RangePartitioning;
use meta::catalog::table::Replica;
use meta::catalog::table::ReplicaState;
use meta::catalog::table::Table;
use meta::catalog::table::Tablet;
use meta::catalog::table::WriteQuorum;
use sql::TableName;
use sql::statements::alter_table::AlterTableOp;
use sql::statements::table as ast;

use crate::exec::database::check_name;
use crate::exec::database::write_op;
use crate::exec::variables::matches_filter;
use crate::frontend::Frontend;
use crate::outcome::Cell;
use crate::outcome::Outcome;
use crate::outcome::RowSet;
use crate::session::Session;

/// The limits of fe.conf that CREATE TABLE and ALTER TABLE ADD PARTITION check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableLimits {
    /// `max_column_number_per_table`.
    pub columns: usize,
    /// `max_partition_number_per_table`.
    pub partitions: usize,
    /// `max_partitions_in_one_batch`.
    pub partitions_in_one_batch: usize,
    /// `max_bucket_number_per_partition`.
    pub buckets: u32,
    /// `max_tablet_number_per_table`.
    pub tablets: usize,
    /// `max_identifier_length`.
    pub identifier: usize,
}

impl TableLimits {
    /// The limits a config sets.
    pub fn of(c: &common::config::fe::FeConfig) -> TableLimits {
        let n = |v: i32| usize::try_from(v.max(1)).unwrap_or(1);
        TableLimits {
            columns: n(c.max_column_number_per_table),
            partitions: n(c.max_partition_number_per_table),
            partitions_in_one_batch: n(c.max_partitions_in_one_batch),
            buckets: u32::try_from(c.max_bucket_number_per_partition.max(1)).unwrap_or(1),
            tablets: n(c.max_tablet_number_per_table),
            identifier: n(c.max_identifier_length),
        }
    }
}

impl Default for TableLimits {
    fn default() -> Self {
        TableLimits::of(&common::config::fe::FeConfig::default())
    }
}

fn too_many_buckets(buckets: u32, limits: &TableLimits) -> Error {
    Error::invalid(format!(
        "Number of buckets {buckets} is too large: a partition has at most \
         max_bucket_number_per_partition ({}) buckets",
        limits.buckets
    ))
}

fn too_many_partitions(count: usize, limits: &TableLimits) -> Error {
    Error::invalid(format!(
        "The table would have {count} partitions, more than max_partition_number_per_table ({}) \
         allows",
        limits.partitions
    ))
}

fn too_many_tablets(count: usize, limits: &TableLimits) -> Error {
    Error::invalid(format!(
        "The table would have {count} tablets (partitions x buckets), more than \
         max_tablet_number_per_table ({}) allows",
        limits.tablets
    ))
}

/// The database a table name refers to.
pub fn resolve_db(session: &Session, name: &TableName) -> Result<String> {
    name.database
        .clone()
        .or_else(|| session.database.clone())
        .ok_or_else(|| Error::new(StatusCode::NoDatabaseSelected, "No database selected"))
}

fn unknown_table(db: &str, t: &str) -> Error {
    Error::new(
        StatusCode::TableNotFound,
        format!("Table '{db}.{t}' doesn't exist"),
    )
}

/// A checked CREATE TABLE, before ids and placement.
#[derive(Clone, Debug, PartialEq)]
pub struct Draft {
    /// Table name.
    pub name: String,
    /// Schema.
    pub schema: TableSchema,
    /// Range partitioning.
    pub partitioning: Option<RangePartitioning>,
    /// Partition names and ranges, in order.
    pub partitions: Vec<(String, Option<PartitionRange>)>,
    /// Replicas per tablet.
    pub replication_num: u16,
    /// Write quorum.
    pub write_quorum: WriteQuorum,
    /// replicated_storage.
    pub replicated_storage: bool,
    /// COMMENT.
    pub comment: String,
}

fn data_type(t: &ast::ColumnTypeDef, column: &str) -> Result<DataType> {
    use ast::ColumnTypeDef as T;
    Ok(match t {
        T::Boolean => DataType::Boolean,
        T::TinyInt => DataType::TinyInt,
        T::SmallInt => DataType::SmallInt,
        T::Int => DataType::Int,
        T::BigInt => DataType::BigInt,
        T::LargeInt => DataType::LargeInt,
        T::Float => DataType::Float,
        T::Double => DataType::Double,
        T::Decimal {
            precision, scale, ..
        } => {
            let p = precision.unwrap_or(10);
            let s = scale.unwrap_or(0);
            if !(1..=38).contains(&p) || s > p {
                return Err(Error::invalid(format!(
                    "Invalid decimal type of column '{column}': precision must be 1..38 and scale \
                     0..precision, got ({p}, {s})"
                )));
            }
            DataType::Decimal {
                precision: p as u8,
                scale: s as u8,
            }
        }
        T::Date => DataType::Date,
        T::DateTime => DataType::DateTime,
        T::Char(n) => {
            let n = n.unwrap_or(1);
            if !(1..=255).contains(&n) {
                return Err(Error::invalid(format!(
                    "Char size of column '{column}' must be between 1 and 255, got {n}"
                )));
            }
            DataType::Char(n)
        }
        T::Varchar(n) => {
            let n = n.unwrap_or(1);
            if !(1..=1_048_576).contains(&n) {
                return Err(Error::invalid(format!(
                    "Varchar size of column '{column}' must be between 1 and 1048576, got {n}"
                )));
            }
            DataType::Varchar(n)
        }
        T::String => DataType::String,
    })
}

/// Parses a partition bound for a column type.
pub fn partition_value(t: DataType, text: &str, column: &str) -> Result<PartitionBound> {
    let bad = || {
        Error::invalid(format!(
            "Invalid partition value '{text}' for column '{column}' of type {t}"
        ))
    };
    let (value, canonical) = match t {
        DataType::TinyInt
        | DataType::SmallInt
        | DataType::Int
        | DataType::BigInt
        | DataType::LargeInt => {
            let v: i128 = text.trim().parse().map_err(|_| bad())?;
            let (min, max): (i128, i128) = match t {
                DataType::TinyInt => (i8::MIN.into(), i8::MAX.into()),
                DataType::SmallInt => (i16::MIN.into(), i16::MAX.into()),
                DataType::Int => (i32::MIN.into(), i32::MAX.into()),
                DataType::BigInt => (i64::MIN.into(), i64::MAX.into()),
                _ => (i128::MIN, i128::MAX),
            };
            if v < min || v > max {
                return Err(bad());
            }
            (PartitionValue::Int(v), v.to_string())
        }
        DataType::Date => {
            let d = common::clock::parse_date(text).ok_or_else(bad)?;
            let (y, m, dd) = common::clock::civil_from_days(d);
            (PartitionValue::Time(d), format!("{y:04}-{m:02}-{dd:02}"))
        }
        DataType::DateTime => {
            let s = common::clock::parse_datetime(text).ok_or_else(bad)?;
            (PartitionValue::Time(s), common::clock::format_ms(s * 1000))
        }
        _ => return Err(bad()),
    };
    Ok(PartitionBound {
        value,
        text: canonical,
    })
}

/// Builds one partition's range from its definition; `previous_upper` is the upper bound of
/// the partition before it (for `LESS THAN`).
pub fn partition_range(
    column: &RangePartitioning,
    values: &ast::PartitionValues,
    previous_upper: Option<&PartitionBound>,
) -> Result<PartitionRange> {
    let one = |v: &[String], what: &str| -> Result<String> {
        match v {
            [x] => Ok(x.clone()),
            _ => Err(Error::invalid(format!(
                "{what} must have exactly one value for the single partition column"
            ))),
        }
    };
    let range = match values {
        ast::PartitionValues::LessThan(bounds) => {
            let upper = match bounds.as_slice() {
                [ast::PartitionBound::MaxValue] => None,
                [ast::PartitionBound::Value(v)] => {
                    Some(partition_value(column.data_type, v, &column.column)?)
                }
                _ => {
                    return Err(Error::invalid(
                        "VALUES LESS THAN must have exactly one value for the single partition column",
                    ));
                }
            };
            PartitionRange {
                lower: previous_upper.cloned(),
                upper,
            }
        }
        ast::PartitionValues::Fixed { lower, upper } => PartitionRange {
            lower: Some(partition_value(
                column.data_type,
                &one(lower, "The lower bound")?,
                &column.column,
            )?),
            upper: Some(partition_value(
                column.data_type,
                &one(upper, "The upper bound")?,
                &column.column,
            )?),
        },
    };
    if let (ast::PartitionValues::LessThan(_), Some(l), Some(u)) =
        (values, &range.lower, &range.upper)
        && l.value >= u.value
    {
        return Err(Error::invalid(format!(
            "LESS THAN values must be increasing: {} is not above the previous partition's bound {}",
            u.text, l.text
        )));
    }
    if let (Some(l), Some(u)) = (&range.lower, &range.upper)
        && l.value >= u.value
    {
        return Err(Error::invalid(format!(
            "The lower bound {} of a partition must be smaller than its upper bound {}",
            l.text, u.text
        )));
    }
    Ok(range)
}

fn parse_properties(
    props: &[(String, String)],
    default_replication_num: u16,
) -> Result<(u16, WriteQuorum, bool)> {
    let mut replication_num = default_replication_num;
    let mut quorum = WriteQuorum::Majority;
    let mut replicated = true;
    for (k, v) in props {
        match k.to_ascii_lowercase().as_str() {
            "replication_num" => {
                let n: i64 = v.trim().parse().map_err(|_| {
                    Error::invalid(format!(
                        "Invalid replication_num '{v}': it must be a number"
                    ))
                })?;
                if n <= 0 {
                    return Err(Error::invalid("Replication num should larger than 0"));
                }
                if n > 32767 {
                    return Err(Error::invalid(format!(
                        "Replication num {n} is too large (at most 32767)"
                    )));
                }
                replication_num = n as u16;
            }
            "write_quorum" => {
                quorum = WriteQuorum::parse(v)
                    .ok_or_else(|| Error::invalid(format!("unknown write quorum: {v}")))?;
            }
            "replicated_storage" => {
                replicated = match v.to_ascii_lowercase().as_str() {
                    "true" => true,
                    "false" => false,
                    _ => {
                        return Err(Error::invalid(format!(
                            "Invalid replicated_storage '{v}': true or false"
                        )));
                    }
                };
            }
            _ => {
                return Err(Error::invalid(format!(
                    "Unknown table property '{k}' (supported: replication_num, write_quorum, replicated_storage)"
                )));
            }
        }
    }
    Ok((replication_num, quorum, replicated))
}

/// Checks a CREATE TABLE statement and resolves its defaults.
pub fn analyze(
    stmt: &ast::CreateTable,
    default_replication_num: u16,
    available_backends: usize,
    limits: &TableLimits,
) -> Result<Draft> {
    let name = stmt.name.table.clone();
    check_name("table", &name, limits.identifier)?;
    if let Some(e) = &stmt.engine
        && !e.eq_ignore_ascii_case("olap")
    {
        return Err(Error::new(
            StatusCode::Unsupported,
            format!("Unknown engine name: {e} (only OLAP)"),
        ));
    }
    if stmt.columns.is_empty() {
        return Err(Error::invalid("A table needs at least one column"));
    }
    if stmt.columns.len() > limits.columns {
        return Err(Error::invalid(format!(
            "The table has {} columns, more than max_column_number_per_table ({}) allows",
            stmt.columns.len(),
            limits.columns
        )));
    }
    let mut columns = Vec::with_capacity(stmt.columns.len());
    let mut seen = BTreeSet::new();
    for c in &stmt.columns {
        check_name("column", &c.name, limits.identifier)?;
        if !seen.insert(c.name.to_ascii_lowercase()) {
            return Err(Error::invalid(format!(
                "Duplicate column name '{}'",
                c.name
            )));
        }
        if c.agg_type.is_some() {
            return Err(Error::invalid(format!(
                "Column '{}' has an aggregate type, which only AGGREGATE KEY tables allow",
                c.name
            )));
        }
        let data_type = data_type(&c.data_type, &c.name)?;
        let default = match &c.default {
            None | Some(ast::DefaultValue::Null) => None,
            Some(ast::DefaultValue::Literal(s)) => Some(s.clone()),
            Some(ast::DefaultValue::CurrentTimestamp) => {
                if data_type != DataType::DateTime {
                    return Err(Error::invalid(format!(
                        "DEFAULT CURRENT_TIMESTAMP is only allowed for DATETIME column '{}'",
                        c.name
                    )));
                }
                Some("CURRENT_TIMESTAMP".to_string())
            }
        };
        columns.push(ColumnSchema {
            name: c.name.clone(),
            data_type,
            nullable: c.nullable.unwrap_or(true),
            is_key: false,
            default,
            comment: c.comment.clone().unwrap_or_default(),
        });
    }
    // Keys: DUPLICATE KEY, given or defaulted to the leading columns (as StarRocks does).
    let key_names: Vec<String> = match &stmt.keys {
        Some(k) => {
            if k.keys_type != ast::KeysType::Duplicate {
                return Err(Error::new(
                    StatusCode::Unsupported,
                    format!(
                        "{} KEY tables are not supported by this version of Tessera; use DUPLICATE KEY",
                        k.keys_type
                    ),
                ));
            }
            k.columns.clone()
        }
        None => {
            let mut keys = Vec::new();
            for c in columns.iter().take(3) {
                if !c.data_type.can_be_key() {
                    break;
                }
                keys.push(c.name.clone());
                if c.data_type.is_string() {
                    break;
                }
            }
            if keys.is_empty() {
                return Err(Error::invalid(
                    "The first column cannot be a key (FLOAT or DOUBLE); give DUPLICATE KEY(...)",
                ));
            }
            keys
        }
    };
    if key_names.is_empty() {
        return Err(Error::invalid("DUPLICATE KEY needs at least one column"));
    }
    for (i, k) in key_names.iter().enumerate() {
        let Some(pos) = columns.iter().position(|c| c.name.eq_ignore_ascii_case(k)) else {
            return Err(Error::invalid(format!("Key column '{k}' does not exist")));
        };
        if pos != i {
            return Err(Error::invalid(
                "Key columns should be a ordered prefix of the schema",
            ));
        }
        if !columns[pos].data_type.can_be_key() {
            return Err(Error::invalid(format!(
                "Float or double can not used as a key, use decimal instead: '{k}'"
            )));
        }
        columns[pos].is_key = true;
    }
    // Distribution.
    let auto_buckets = (2 * available_backends).clamp(1, 64) as u32;
    let (distribution_columns, buckets) = match &stmt.distribution {
        Some(ast::DistributionDesc::Hash {
            columns: cols,
            buckets,
        }) => {
            if cols.is_empty() {
                return Err(Error::invalid(
                    "DISTRIBUTED BY HASH needs at least one column",
                ));
            }
            let mut out = Vec::new();
            for d in cols {
                let Some(c) = columns.iter().find(|c| c.name.eq_ignore_ascii_case(d)) else {
                    return Err(Error::invalid(format!(
                        "Distribution column '{d}' does not exist"
                    )));
                };
                if !c.data_type.can_be_key() {
                    return Err(Error::invalid(format!(
                        "Distribution column '{d}' cannot be FLOAT or DOUBLE"
                    )));
                }
                out.push(c.name.clone());
            }
            (out, buckets.unwrap_or(auto_buckets))
        }
        Some(ast::DistributionDesc::Random { buckets }) => {
            (Vec::new(), buckets.unwrap_or(auto_buckets))
        }
        None => (Vec::new(), auto_buckets),
    };
    if buckets == 0 {
        return Err(Error::invalid(
            "Number of hash distribution should not be zero",
        ));
    }
    if buckets > limits.buckets {
        return Err(too_many_buckets(buckets, limits));
    }
    // Partitions.
    let (partitioning, partitions) = match &stmt.partition {
        None => (None, vec![(name.clone(), None)]),
        Some(p) => {
            let [col] = p.columns.as_slice() else {
                return Err(Error::new(
                    StatusCode::Unsupported,
                    "Only one range partition column is supported",
                ));
            };
            let Some(c) = columns.iter().find(|c| c.name.eq_ignore_ascii_case(col)) else {
                return Err(Error::invalid(format!(
                    "Partition column '{col}' does not exist"
                )));
            };
            if !c.is_key {
                return Err(Error::invalid(format!(
                    "The partition column '{col}' must be a key column"
                )));
            }
            if !matches!(
                c.data_type,
                DataType::TinyInt
                    | DataType::SmallInt
                    | DataType::Int
                    | DataType::BigInt
                    | DataType::LargeInt
                    | DataType::Date
                    | DataType::DateTime
            ) {
                return Err(Error::invalid(format!(
                    "Invalid partition column '{col}' of type {}: it must be an integer, DATE or DATETIME",
                    c.data_type
                )));
            }
            let rp = RangePartitioning {
                column: c.name.clone(),
                data_type: c.data_type,
            };
            if p.partitions.is_empty() {
                return Err(Error::invalid(
                    "A range-partitioned table needs at least one partition",
                ));
            }
            if p.partitions.len() > limits.partitions_in_one_batch {
                return Err(Error::invalid(format!(
                    "The statement creates {} partitions, more than max_partitions_in_one_batch \
                     ({}) allows",
                    p.partitions.len(),
                    limits.partitions_in_one_batch
                )));
            }
            if p.partitions.len() > limits.partitions {
                return Err(too_many_partitions(p.partitions.len(), limits));
            }
            let mut out: Vec<(String, Option<PartitionRange>)> = Vec::new();
            let mut previous_upper: Option<PartitionBound> = None;
            for def in &p.partitions {
                let ast::PartitionDef::Single(sp) = def else {
                    return Err(Error::new(
                        StatusCode::Unsupported,
                        "START ... END ... EVERY partitions are not supported by this version; list the partitions",
                    ));
                };
                check_partition_name(&sp.name, limits.identifier)?;
                if out.iter().any(|(n, _)| n.eq_ignore_ascii_case(&sp.name)) {
                    return Err(Error::invalid(format!(
                        "Duplicate partition name {}",
                        sp.name
                    )));
                }
                if !sp.properties.is_empty() {
                    return Err(Error::invalid(
                        "Partition properties are not supported; set them on the table",
                    ));
                }
                let range = partition_range(&rp, &sp.values, previous_upper.as_ref())?;
                if matches!(sp.values, ast::PartitionValues::LessThan(_))
                    && out
                        .last()
                        .is_some_and(|(_, r)| r.as_ref().is_some_and(|r| r.upper.is_none()))
                {
                    return Err(Error::invalid(format!(
                        "Partition {} follows a partition that ends at MAXVALUE",
                        sp.name
                    )));
                }
                for (other, r) in &out {
                    if let Some(r) = r
                        && r.overlaps(&range)
                    {
                        return Err(Error::invalid(format!(
                            "Range of partition {} overlaps with partition {other}; LESS THAN values must be increasing",
                            sp.name
                        )));
                    }
                }
                previous_upper = range.upper.clone();
                out.push((sp.name.clone(), Some(range)));
            }
            (Some(rp), out)
        }
    };
    let tablets = partitions.len().saturating_mul(buckets as usize);
    if tablets > limits.tablets {
        return Err(too_many_tablets(tablets, limits));
    }
    let (replication_num, write_quorum, replicated_storage) =
        parse_properties(&stmt.properties, default_replication_num)?;
    Ok(Draft {
        name,
        schema: TableSchema {
            columns,
            keys_type: KeysType::Duplicate,
            distribution_columns,
            buckets,
            schema_version: 0,
        },
        partitioning,
        partitions,
        replication_num,
        write_quorum,
        replicated_storage,
        comment: stmt.comment.clone().unwrap_or_default(),
    })
}

fn check_partition_name(name: &str, max_chars: usize) -> Result<()> {
    crate::exec::database::check_length("partition", name, max_chars)?;
    let ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "Incorrect partition name '{name}': letters, digits and '_', starting with a letter or '_'"
        )))
    }
}

/// Places and creates the replicas of new partitions (leader only). Returns the partitions
/// with their tablets; on failure every replica that was created is dropped again.
async fn create_partitions(
    fe: &Arc<Frontend>,
    session: &mut Session,
    table_id: Option<i64>,
    schema: &TableSchema,
    parts: &[(String, Option<PartitionRange>)],
    buckets: u32,
    replication_num: u16,
) -> Result<(i64, Vec<Partition>)> {
    let (views, available) = fe.journal.state.read(|s| {
        let counts = s.catalog.replica_counts();
        let views: Vec<sched::placement::BackendView> = s
            .catalog
            .backends
            .values()
            .map(|b| sched::placement::BackendView {
                id: b.id,
                host: b.host.clone(),
                available: b.is_available(),
                replicas: counts.get(&b.id).copied().unwrap_or(0),
            })
            .collect();
        let backends = s.catalog.backends.clone();
        (views, backends)
    });
    let tablets = parts.len() * buckets as usize;
    let placement = sched::placement::place_replicas(&views, tablets, replication_num as usize).map_err(|e| {
        Error::invalid(format!(
            "Table replication num should be less than or equal to the number of available BE nodes. \
             You can change this default by setting the replication_num table properties. Current \
             alive backend is [{}].",
            e.available.iter().map(|id| id.to_string()).collect::<Vec<_>>().join(",")
        ))
    })?;
    // Ids: [table] + partitions + tablets + replicas (the table id only for a new table).
    let extra = u64::from(table_id.is_none()) * 2;
    let count = extra + parts.len() as u64 + tablets as u64 * (1 + u64::from(replication_num));
    let first = write_op(fe, session, JournalOp::AllocateIds { count }).await? as i64;
    let mut next = first;
    let mut take = || {
        let id = next;
        next += 1;
        id
    };
    let (table_id, _index_id) = match table_id {
        Some(id) => (id, 0),
        None => (take(), take()),
    };
    let now = common::clock::now_ms();
    let mut partitions = Vec::with_capacity(parts.len());
    let mut placed = placement.into_iter();
    for (name, range) in parts {
        let mut ptablets = Vec::with_capacity(buckets as usize);
        let pid = take();
        for _ in 0..buckets {
            let tablet_id = take();
            let backends = placed.next().unwrap_or_default();
            let replicas = backends
                .into_iter()
                .map(|backend_id| Replica {
                    id: take(),
                    backend_id,
                    version: 1,
                    last_success_version: 1,
                    last_failed_version: -1,
                    last_failed_time_ms: 0,
                    state: ReplicaState::Normal,
                    bad: false,
                    data_size: 0,
                    row_count: 0,
                })
                .collect();
            ptablets.push(Tablet {
                id: tablet_id,
                replicas,
            });
        }
        partitions.push(Partition {
            id: pid,
            name: name.clone(),
            range: range.clone(),
            visible_version: 1,
            visible_version_time_ms: now,
            next_version: 2,
            buckets,
            replication_num,
            tablets: ptablets,
        });
    }
    // Create every replica on its backend, bounded in time.
    let config = fe.config();
    let per_task = Duration::from_secs(config.tablet_create_timeout_second.max(1) as u64);
    let total = Duration::from_secs(config.max_create_table_timeout_second.max(1) as u64);
    let schema_json = serde_json::to_vec(schema).map_err(Error::internal)?;
    let mut tasks = Vec::new();
    for p in &partitions {
        for t in &p.tablets {
            for r in &t.replicas {
                tasks.push((p.id, t.id, r.id, r.backend_id));
            }
        }
    }
    let started = Instant::now();
    let created: Vec<(i64, i64, i64, Result<()>)> = {
        let fe2 = fe.clone();
        let run = futures::stream::iter(tasks.into_iter().map(|(pid, tid, rid, bid)| {
            let fe = fe2.clone();
            let schema = schema_json.clone();
            let be = available.get(&bid).cloned();
            async move {
                let r = match be {
                    Some(be) => {
                        let req = proto::CreateTabletRequest {
                            tablet_id: tid,
                            replica_id: rid,
                            table_id,
                            partition_id: pid,
                            schema,
                            version: 1,
                            backend_id: bid,
                        };
                        crate::backend::create_tablet(&fe, &be, req, per_task).await
                    }
                    None => Err(Error::internal(format!("backend {bid} vanished"))),
                };
                (tid, rid, bid, r)
            }
        }))
        .buffer_unordered(32)
        .collect::<Vec<_>>();
        match tokio::time::timeout(total, run).await {
            Ok(v) => v,
            Err(_) => {
                return Err(Error::new(
                    StatusCode::Timeout,
                    format!(
                        "creating the replicas took longer than max_create_table_timeout_second ({} s)",
                        total.as_secs()
                    ),
                ));
            }
        }
    };
    if let Some((tid, _, bid, Err(e))) = created.iter().find(|(_, _, _, r)| r.is_err()) {
        let all: Vec<(i64, i64, i64)> = created.iter().map(|(t, r, b, _)| (*t, *r, *b)).collect();
        crate::backend::drop_replicas(fe, all).await;
        return Err(Error::new(
            e.code,
            format!(
                "Failed to create tablet {tid} on backend {bid}: {}; nothing was created",
                e.message
            ),
        ));
    }
    tracing::info!(
        table_id,
        replicas = created.len(),
        ms = started.elapsed().as_millis() as u64,
        "created replicas"
    );
    Ok((table_id, partitions))
}

/// `CREATE TABLE`.
pub async fn create(
    fe: &Arc<Frontend>,
    session: &mut Session,
    stmt: &ast::CreateTable,
) -> Result<Outcome> {
    let db = resolve_db(session, &stmt.name)?;
    let _guard = fe.ddl_lock.lock().await;
    let (db_exists, exists, available) = fe.journal.state.read(|s| {
        (
            s.catalog.databases.contains_key(&db),
            s.catalog.table(&db, &stmt.name.table).is_some(),
            s.catalog
                .backends
                .values()
                .filter(|b| b.is_available())
                .count(),
        )
    });
    if !db_exists {
        return Err(crate::exec::database::unknown_database(&db));
    }
    if exists {
        if stmt.if_not_exists {
            return Ok(Outcome::ok(0));
        }
        return Err(Error::new(
            StatusCode::TableAlreadyExists,
            format!("Table '{}' already exists", stmt.name.table),
        ));
    }
    let config = fe.config();
    let draft = analyze(
        stmt,
        config.default_replication_num as u16,
        available,
        &TableLimits::of(&config),
    )?;
    let (table_id, partitions) = create_partitions(
        fe,
        session,
        None,
        &draft.schema,
        &draft.partitions,
        draft.schema.buckets,
        draft.replication_num,
    )
    .await?;
    let table = Table {
        id: table_id,
        name: draft.name,
        index_id: table_id + 1,
        schema: draft.schema,
        partitioning: draft.partitioning,
        partitions,
        replication_num: draft.replication_num,
        write_quorum: draft.write_quorum,
        replicated_storage: draft.replicated_storage,
        comment: draft.comment,
        create_time_ms: common::clock::now_ms(),
    };
    let replicas = crate::leader::replicas_of(&table);
    let op = JournalOp::CreateTable {
        db,
        table,
        if_not_exists: stmt.if_not_exists,
    };
    match write_op(fe, session, op).await {
        Ok(n) => Ok(Outcome::ok(n)),
        Err(e) => {
            if e.code != StatusCode::Timeout {
                crate::backend::drop_replicas(fe, replicas).await;
            }
            Err(e)
        }
    }
}

/// `DROP TABLE [IF EXISTS] t [FORCE]`.
pub async fn drop(
    fe: &Arc<Frontend>,
    session: &mut Session,
    name: &TableName,
    if_exists: bool,
    force: bool,
) -> Result<Outcome> {
    let db = resolve_db(session, name)?;
    let replicas = fe.journal.state.read(|s| {
        s.catalog
            .table(&db, &name.table)
            .map(crate::leader::replicas_of)
    });
    let n = write_op(
        fe,
        session,
        JournalOp::DropTable {
            db,
            name: name.table.clone(),
            if_exists,
            force,
            time_ms: common::clock::now_ms(),
        },
    )
    .await?;
    if force && n > 0 {
        crate::backend::drop_replicas(fe, replicas.unwrap_or_default()).await;
    }
    Ok(Outcome::ok(n))
}

/// `ALTER TABLE`.
pub async fn alter(
    fe: &Arc<Frontend>,
    session: &mut Session,
    name: &TableName,
    op: &AlterTableOp,
) -> Result<Outcome> {
    let db = resolve_db(session, name)?;
    let table = fe
        .journal
        .state
        .read(|s| s.catalog.table(&db, &name.table).cloned())
        .ok_or_else(|| unknown_table(&db, &name.table))?;
    match op {
        AlterTableOp::SetProperties(props) => {
            let mut write_quorum = None;
            let mut replicated_storage = None;
            if props.is_empty() {
                return Err(Error::invalid(
                    "ALTER TABLE ... SET needs at least one property",
                ));
            }
            for (k, v) in props {
                match k.to_ascii_lowercase().as_str() {
                    "write_quorum" => {
                        write_quorum =
                            Some(WriteQuorum::parse(v).ok_or_else(|| {
                                Error::invalid(format!("unknown write quorum: {v}"))
                            })?)
                    }
                    "replicated_storage" => {
                        replicated_storage = Some(match v.to_ascii_lowercase().as_str() {
                            "true" => true,
                            "false" => false,
                            _ => {
                                return Err(Error::invalid(format!(
                                    "Invalid replicated_storage '{v}': true or false"
                                )));
                            }
                        })
                    }
                    "replication_num" => {
                        return Err(Error::new(
                            StatusCode::Unsupported,
                            "Changing replication_num of an existing table is not supported by this version",
                        ));
                    }
                    _ => return Err(Error::invalid(format!("Unknown table property '{k}'"))),
                }
            }
            write_op(
                fe,
                session,
                JournalOp::ModifyTableProperties {
                    db,
                    table: name.table.clone(),
                    write_quorum,
                    replicated_storage,
                },
            )
            .await?;
            Ok(Outcome::ok(0))
        }
        AlterTableOp::AddPartition {
            partition,
            distribution,
        } => {
            let _guard = fe.ddl_lock.lock().await;
            let Some(rp) = table.partitioning.clone() else {
                return Err(Error::invalid(format!(
                    "Table {} is not range-partitioned",
                    table.name
                )));
            };
            let limits = TableLimits::of(&fe.config());
            check_partition_name(&partition.name, limits.identifier)?;
            if table.partition(&partition.name).is_some() {
                if partition.if_not_exists {
                    return Ok(Outcome::ok(0));
                }
                return Err(Error::invalid(format!(
                    "Duplicate partition name {}",
                    partition.name
                )));
            }
            if table.partitions.len() >= limits.partitions {
                return Err(too_many_partitions(table.partitions.len() + 1, &limits));
            }
            let last_upper = table
                .partitions
                .iter()
                .filter_map(|p| p.range.as_ref())
                .max_by(|a, b| match (&a.upper, &b.upper) {
                    (None, None) => std::cmp::Ordering::Equal,
                    (None, _) => std::cmp::Ordering::Greater,
                    (_, None) => std::cmp::Ordering::Less,
                    (Some(x), Some(y)) => x.value.cmp(&y.value),
                })
                .and_then(|r| r.upper.clone());
            if matches!(partition.values, ast::PartitionValues::LessThan(_))
                && table
                    .partitions
                    .iter()
                    .any(|p| p.range.as_ref().is_some_and(|r| r.upper.is_none()))
            {
                return Err(Error::invalid(format!(
                    "Range of partition {} overlaps: the table already has a partition up to MAXVALUE",
                    partition.name
                )));
            }
            let range = partition_range(&rp, &partition.values, last_upper.as_ref())?;
            let buckets = match distribution {
                Some(ast::DistributionDesc::Hash {
                    buckets: Some(b), ..
                })
                | Some(ast::DistributionDesc::Random { buckets: Some(b) }) => *b,
                _ => table.schema.buckets,
            };
            if buckets == 0 {
                return Err(Error::invalid(
                    "Number of hash distribution should not be zero",
                ));
            }
            if buckets > limits.buckets {
                return Err(too_many_buckets(buckets, &limits));
            }
            let tablets: usize = table
                .partitions
                .iter()
                .map(|p| p.tablets.len())
                .sum::<usize>()
                + buckets as usize;
            if tablets > limits.tablets {
                return Err(too_many_tablets(tablets, &limits));
            }
            let probe = Partition {
                id: 0,
                name: partition.name.clone(),
                range: Some(range.clone()),
                visible_version: 1,
                visible_version_time_ms: 0,
                next_version: 2,
                buckets,
                replication_num: table.replication_num,
                tablets: Vec::new(),
            };
            meta::catalog::check_new_partition(&table, &probe)?;
            let (_, mut parts) = create_partitions(
                fe,
                session,
                Some(table.id),
                &table.schema,
                &[(partition.name.clone(), Some(range))],
                buckets,
                table.replication_num,
            )
            .await?;
            let part = parts.remove(0);
            let replicas: Vec<(i64, i64, i64)> = part
                .tablets
                .iter()
                .flat_map(|t| t.replicas.iter().map(move |r| (t.id, r.id, r.backend_id)))
                .collect();
            let op = JournalOp::AddPartition {
                db,
                table: name.table.clone(),
                partition: part,
            };
            match write_op(fe, session, op).await {
                Ok(_) => Ok(Outcome::ok(0)),
                Err(e) => {
                    if e.code != StatusCode::Timeout {
                        crate::backend::drop_replicas(fe, replicas).await;
                    }
                    Err(e)
                }
            }
        }
        AlterTableOp::DropPartition { .. } => Err(Error::new(
            StatusCode::Unsupported,
            "ALTER TABLE ... DROP PARTITION is not supported by this version",
        )),
    }
}

fn find_table(fe: &Frontend, session: &Session, name: &TableName) -> Result<(String, Table)> {
    let db = resolve_db(session, name)?;
    if !fe
        .journal
        .state
        .read(|s| s.catalog.databases.contains_key(&db))
    {
        return Err(crate::exec::database::unknown_database(&db));
    }
    let t = fe
        .journal
        .state
        .read(|s| s.catalog.table(&db, &name.table).cloned())
        .ok_or_else(|| unknown_table(&db, &name.table))?;
    Ok((db, t))
}

/// `SHOW [FULL] TABLES [FROM db] [LIKE ...]`.
pub fn show_tables(
    fe: &Arc<Frontend>,
    session: &Session,
    database: Option<&str>,
    full: bool,
    filter: Option<&sql::ShowFilter>,
) -> Result<Outcome> {
    let db = database
        .map(str::to_string)
        .or_else(|| session.database.clone())
        .ok_or_else(|| Error::new(StatusCode::NoDatabaseSelected, "No database selected"))?;
    let user = crate::auth::session_user(fe, session);
    // Only the tables the user holds a privilege on.
    let names: Option<Vec<String>> = fe.journal.state.read(|s| {
        s.catalog.databases.get(&db).map(|d| {
            d.tables
                .keys()
                .filter(|t| user.as_ref().is_some_and(|u| u.can_see_table(&db, t)))
                .cloned()
                .collect()
        })
    });
    let system = db.eq_ignore_ascii_case(crate::query::info_schema::INFORMATION_SCHEMA);
    let names = match names {
        Some(n) => n,
        None if system => crate::query::info_schema::TABLES
            .iter()
            .map(|t| t.to_string())
            .collect(),
        None => return Err(crate::exec::database::unknown_database(&db)),
    };
    let col = format!("Tables_in_{db}");
    let mut cols = vec![col.as_str()];
    if full {
        cols.push("Table_type");
    }
    let mut rows = RowSet::with_text_columns(&cols);
    for n in names {
        if matches_filter(filter, &col, &n)? {
            let mut row = vec![Cell::Text(n)];
            if full {
                row.push(if system { "SYSTEM VIEW" } else { "BASE TABLE" }.into());
            }
            rows.push(row);
        }
    }
    Ok(Outcome::Rows(rows))
}

/// The uppercase type spelling `DESC` uses.
pub fn desc_type(t: DataType) -> String {
    match t {
        DataType::Boolean => "BOOLEAN".into(),
        DataType::TinyInt => "TINYINT".into(),
        DataType::SmallInt => "SMALLINT".into(),
        DataType::Int => "INT".into(),
        DataType::BigInt => "BIGINT".into(),
        DataType::LargeInt => "LARGEINT".into(),
        DataType::Float => "FLOAT".into(),
        DataType::Double => "DOUBLE".into(),
        DataType::Decimal { precision, scale } => format!("DECIMAL({precision},{scale})"),
        DataType::Date => "DATE".into(),
        DataType::DateTime => "DATETIME".into(),
        DataType::Char(n) => format!("CHAR({n})"),
        DataType::Varchar(n) => format!("VARCHAR({n})"),
        DataType::String => "VARCHAR(65533)".into(),
    }
}

/// `DESC t`.
pub fn describe(fe: &Arc<Frontend>, session: &Session, name: &TableName) -> Result<Outcome> {
    let (_, t) = find_table(fe, session, name)?;
    let mut rows = RowSet::with_text_columns(&["Field", "Type", "Null", "Key", "Default", "Extra"]);
    for c in &t.schema.columns {
        rows.push(vec![
            c.name.clone().into(),
            desc_type(c.data_type).into(),
            if c.nullable { "YES" } else { "NO" }.into(),
            c.is_key.into(),
            c.default.clone().map(Cell::Text).unwrap_or(Cell::Null),
            "".into(),
        ]);
    }
    Ok(Outcome::Rows(rows))
}

/// `SHOW [FULL] COLUMNS FROM t`.
pub fn show_columns(
    fe: &Arc<Frontend>,
    session: &Session,
    name: &TableName,
    database: Option<&str>,
    full: bool,
    filter: Option<&sql::ShowFilter>,
) -> Result<Outcome> {
    let name = TableName {
        database: database
            .map(str::to_string)
            .or_else(|| name.database.clone()),
        table: name.table.clone(),
    };
    let (_, t) = find_table(fe, session, &name)?;
    let cols: Vec<&str> = if full {
        vec![
            "Field",
            "Type",
            "Collation",
            "Null",
            "Key",
            "Default",
            "Extra",
            "Privileges",
            "Comment",
        ]
    } else {
        vec!["Field", "Type", "Null", "Key", "Default", "Extra"]
    };
    let mut rows = RowSet::with_text_columns(&cols);
    for c in &t.schema.columns {
        if !matches_filter(filter, "Field", &c.name)? {
            continue;
        }
        let mut row: Vec<Cell> = vec![c.name.clone().into(), c.data_type.to_string().into()];
        if full {
            row.push(if c.data_type.is_string() {
                Cell::Text("utf8_general_ci".into())
            } else {
                Cell::Null
            });
        }
        row.push(if c.nullable { "YES" } else { "NO" }.into());
        row.push(if c.is_key { "DUP" } else { "" }.into());
        row.push(c.default.clone().map(Cell::Text).unwrap_or(Cell::Null));
        row.push("".into());
        if full {
            row.push("select,insert,update,references".into());
            row.push(c.comment.clone().into());
        }
        rows.push(row);
    }
    Ok(Outcome::Rows(rows))
}

fn q(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The text of `SHOW CREATE TABLE` (re-executable).
pub fn create_table_text(t: &Table) -> String {
    let mut s = format!("CREATE TABLE `{}` (\n", t.name);
    let cols: Vec<String> = t
        .schema
        .columns
        .iter()
        .map(|c| {
            let mut line = format!(
                "  `{}` {} {}",
                c.name,
                c.data_type,
                if c.nullable { "NULL" } else { "NOT NULL" }
            );
            if let Some(d) = &c.default {
                if d == "CURRENT_TIMESTAMP" {
                    line.push_str(" DEFAULT CURRENT_TIMESTAMP");
                } else {
                    line.push_str(&format!(" DEFAULT \"{}\"", q(d)));
                }
            }
            line.push_str(&format!(" COMMENT \"{}\"", q(&c.comment)));
            line
        })
        .collect();
    s.push_str(&cols.join(",\n"));
    s.push_str("\n) ENGINE=OLAP\n");
    let keys: Vec<String> = t
        .schema
        .columns
        .iter()
        .filter(|c| c.is_key)
        .map(|c| format!("`{}`", c.name))
        .collect();
    s.push_str(&format!("DUPLICATE KEY({})\n", keys.join(", ")));
    s.push_str(&format!("COMMENT \"{}\"\n", q(&t.comment)));
    if let Some(rp) = &t.partitioning {
        s.push_str(&format!("PARTITION BY RANGE(`{}`)\n(", rp.column));
        let mut prev: Option<&PartitionBound> = None;
        let parts: Vec<String> = t
            .partitions
            .iter()
            .map(|p| {
                let r = p.range.as_ref();
                let lower = r.and_then(|r| r.lower.as_ref());
                let upper = r.and_then(|r| r.upper.as_ref());
                let contiguous = lower.map(|l| &l.value) == prev.map(|p| &p.value);
                prev = upper;
                match (contiguous, lower, upper) {
                    (true, _, Some(u)) => {
                        format!("PARTITION {} VALUES LESS THAN (\"{}\")", p.name, q(&u.text))
                    }
                    (true, _, None) => format!("PARTITION {} VALUES LESS THAN MAXVALUE", p.name),
                    (false, Some(l), Some(u)) => format!(
                        "PARTITION {} VALUES [(\"{}\"), (\"{}\"))",
                        p.name,
                        q(&l.text),
                        q(&u.text)
                    ),
                    (false, _, Some(u)) => {
                        format!("PARTITION {} VALUES LESS THAN (\"{}\")", p.name, q(&u.text))
                    }
                    (false, _, None) => format!("PARTITION {} VALUES LESS THAN MAXVALUE", p.name),
                }
            })
            .collect();
        s.push_str(&parts.join(",\n"));
        s.push_str(")\n");
    }
    if t.schema.distribution_columns.is_empty() {
        s.push_str(&format!(
            "DISTRIBUTED BY RANDOM BUCKETS {}\n",
            t.schema.buckets
        ));
    } else {
        let d: Vec<String> = t
            .schema
            .distribution_columns
            .iter()
            .map(|c| format!("`{c}`"))
            .collect();
        s.push_str(&format!(
            "DISTRIBUTED BY HASH({}) BUCKETS {}\n",
            d.join(", "),
            t.schema.buckets
        ));
    }
    s.push_str(&format!(
        "PROPERTIES (\n\"replication_num\" = \"{}\",\n\"write_quorum\" = \"{}\",\n\"replicated_storage\" = \"{}\"\n);",
        t.replication_num,
        t.write_quorum.to_string().to_ascii_lowercase(),
        t.replicated_storage
    ));
    s
}

/// `SHOW CREATE TABLE`.
pub fn show_create(fe: &Arc<Frontend>, session: &Session, name: &TableName) -> Result<Outcome> {
    let (_, t) = find_table(fe, session, name)?;
    let mut rows = RowSet::with_text_columns(&["Table", "Create Table"]);
    rows.push(vec![t.name.clone().into(), create_table_text(&t).into()]);
    Ok(Outcome::Rows(rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(sql: &str) -> ast::CreateTable {
        match sql::parse_statement(sql).expect("parses") {
            sql::Statement::CreateTable(c) => *c,
            other => panic!("not a create table: {other:?}"),
        }
    }

    fn err(sql: &str) -> String {
        analyze(&parse(sql), 3, 3, &TableLimits::default())
            .expect_err(sql)
            .message
    }

    #[test]
    fn table_limits_are_config_keys() {
        let limits = TableLimits {
            columns: 3,
            partitions: 3,
            partitions_in_one_batch: 2,
            buckets: 4,
            tablets: 7,
            identifier: 8,
        };
        let run = |sql: &str| analyze(&parse(sql), 3, 3, &limits);
        run("CREATE TABLE t (a INT, b INT, c INT) DISTRIBUTED BY HASH(a) BUCKETS 4")
            .expect("at every limit");
        let e = run("CREATE TABLE t (a INT, b INT, c INT, d INT) DISTRIBUTED BY HASH(a) BUCKETS 1")
            .expect_err("columns");
        assert!(
            e.message.contains("4 columns")
                && e.message.contains("max_column_number_per_table (3)"),
            "{}",
            e.message
        );
        let e =
            run("CREATE TABLE t (a INT) DISTRIBUTED BY HASH(a) BUCKETS 5").expect_err("buckets");
        assert!(
            e.message.contains("max_bucket_number_per_partition (4)"),
            "{}",
            e.message
        );
        let e = run("CREATE TABLE t (a INT) PARTITION BY RANGE(a) (PARTITION p1 VALUES LESS THAN (1), PARTITION p2 VALUES LESS THAN (2), PARTITION p3 VALUES LESS THAN (3)) DISTRIBUTED BY HASH(a) BUCKETS 1")
            .expect_err("batch");
        assert!(
            e.message.contains("max_partitions_in_one_batch (2)"),
            "{}",
            e.message
        );
        let e = run("CREATE TABLE t (a INT) PARTITION BY RANGE(a) (PARTITION p1 VALUES LESS THAN (1), PARTITION p2 VALUES LESS THAN (2)) DISTRIBUTED BY HASH(a) BUCKETS 4")
            .expect_err("tablets");
        assert!(
            e.message.contains("8 tablets")
                && e.message.contains("max_tablet_number_per_table (7)"),
            "{}",
            e.message
        );
        let e = run("CREATE TABLE tablename (a INT) DISTRIBUTED BY HASH(a) BUCKETS 1")
            .expect_err("table name");
        assert!(
            e.message.contains("Incorrect table name 'tablename'")
                && e.message.contains("max_identifier_length (8)"),
            "{}",
            e.message
        );
        let e = run("CREATE TABLE t (columnname INT) DISTRIBUTED BY HASH(columnname) BUCKETS 1")
            .expect_err("column name");
        assert!(
            e.message.contains("Incorrect column name 'columnname'"),
            "{}",
            e.message
        );
    }

    #[test]
    fn defaults_follow_starrocks() {
        let d = analyze(
            &parse(
                "CREATE TABLE t (k INT, v VARCHAR(10), x DOUBLE) DISTRIBUTED BY HASH(k) BUCKETS 4",
            ),
            3,
            3,
            &TableLimits::default(),
        )
        .expect("ok");
        assert_eq!(d.replication_num, 3);
        assert_eq!(d.write_quorum, WriteQuorum::Majority);
        assert_eq!(d.schema.buckets, 4);
        let keys: Vec<_> = d
            .schema
            .columns
            .iter()
            .filter(|c| c.is_key)
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(keys, ["k", "v"]);
        assert_eq!(d.partitions.len(), 1);
        assert_eq!(d.partitions[0].0, "t");
    }

    #[test]
    fn range_partitions_are_checked() {
        let d = analyze(&parse(
            "CREATE TABLE t (d DATE, v INT) DUPLICATE KEY(d) PARTITION BY RANGE(d) (PARTITION p1 VALUES LESS THAN (\"2024-01-01\"), PARTITION p2 VALUES LESS THAN (\"2024-02-01\"), PARTITION p3 VALUES LESS THAN MAXVALUE) DISTRIBUTED BY HASH(d) BUCKETS 2 PROPERTIES (\"replication_num\" = \"1\")",
        ), 3, 3, &TableLimits::default())
        .expect("ok");
        assert_eq!(d.partitions.len(), 3);
        assert!(
            d.partitions[0]
                .1
                .as_ref()
                .and_then(|r| r.lower.clone())
                .is_none()
        );
        assert_eq!(
            d.partitions[1]
                .1
                .as_ref()
                .and_then(|r| r.lower.clone())
                .map(|b| b.text),
            Some("2024-01-01".into())
        );
        assert!(err("CREATE TABLE t (d DATE) PARTITION BY RANGE(d) (PARTITION p1 VALUES LESS THAN (\"2024-02-01\"), PARTITION p2 VALUES LESS THAN (\"2024-01-01\")) DISTRIBUTED BY HASH(d)").contains("increasing"));
        assert!(err("CREATE TABLE t (d DATE) PARTITION BY RANGE(d) (PARTITION p1 VALUES LESS THAN (\"2024-13-01\")) DISTRIBUTED BY HASH(d)").contains("Invalid partition value"));
        assert!(err("CREATE TABLE t (d DATE) PARTITION BY RANGE(d) (PARTITION p1 VALUES LESS THAN (\"2024-01-01\"), PARTITION p1 VALUES LESS THAN (\"2024-02-01\")) DISTRIBUTED BY HASH(d)").contains("Duplicate partition"));
        assert!(err("CREATE TABLE t (k INT, v VARCHAR(5)) DUPLICATE KEY(k) PARTITION BY RANGE(v) (PARTITION p1 VALUES LESS THAN (\"a\")) DISTRIBUTED BY HASH(k)").contains("key column"));
        assert!(err("CREATE TABLE t (k TINYINT) PARTITION BY RANGE(k) (PARTITION p1 VALUES LESS THAN (\"300\")) DISTRIBUTED BY HASH(k)").contains("Invalid partition value"));
    }

    #[test]
    fn bad_input_is_refused_clearly() {
        assert!(err("CREATE TABLE t (k INT) DISTRIBUTED BY HASH(k) PROPERTIES (\"replication_num\" = \"0\")").contains("larger than 0"));
        assert!(err("CREATE TABLE t (k INT) DISTRIBUTED BY HASH(k) PROPERTIES (\"replication_num\" = \"abc\")").contains("Invalid replication_num"));
        assert!(err("CREATE TABLE t (k INT) DISTRIBUTED BY HASH(k) PROPERTIES (\"write_quorum\" = \"most\")").contains("unknown write quorum"));
        assert!(
            err("CREATE TABLE t (k INT) DISTRIBUTED BY HASH(k) PROPERTIES (\"colour\" = \"red\")")
                .contains("Unknown table property")
        );
        assert!(
            err("CREATE TABLE t (k INT, k INT) DISTRIBUTED BY HASH(k)")
                .contains("Duplicate column")
        );
        assert!(err("CREATE TABLE t (k INT) DISTRIBUTED BY HASH(x)").contains("does not exist"));
        assert!(
            err("CREATE TABLE t (k DOUBLE) DUPLICATE KEY(k) DISTRIBUTED BY HASH(k)")
                .contains("Float or double")
        );
        assert!(
            err("CREATE TABLE t (k INT, v INT) DUPLICATE KEY(v) DISTRIBUTED BY HASH(k)")
                .contains("ordered prefix")
        );
        assert!(
            err("CREATE TABLE t (k DECIMAL(40, 2)) DISTRIBUTED BY HASH(k)").contains("precision")
        );
        assert!(err("CREATE TABLE t (k CHAR(300)) DISTRIBUTED BY HASH(k)").contains("Char size"));
        assert!(
            err("CREATE TABLE t (k INT) AGGREGATE KEY(k) DISTRIBUTED BY HASH(k)")
                .contains("not supported")
        );
    }

    #[test]
    fn show_create_table_parses_back_to_the_same_table() {
        let sql = "CREATE TABLE t (k INT NOT NULL COMMENT \"key\", d DATE, v VARCHAR(20) DEFAULT \"x\", m DECIMAL(10, 2)) DUPLICATE KEY(k, d) COMMENT \"hello\" PARTITION BY RANGE(k) (PARTITION p1 VALUES LESS THAN (\"10\"), PARTITION p2 VALUES LESS THAN MAXVALUE) DISTRIBUTED BY HASH(k) BUCKETS 3 PROPERTIES (\"replication_num\" = \"2\", \"write_quorum\" = \"ALL\")";
        let d = analyze(&parse(sql), 3, 3, &TableLimits::default()).expect("ok");
        let t = Table {
            id: 1,
            name: d.name.clone(),
            index_id: 2,
            schema: d.schema.clone(),
            partitioning: d.partitioning.clone(),
            partitions: d
                .partitions
                .iter()
                .map(|(n, r)| Partition {
                    id: 3,
                    name: n.clone(),
                    range: r.clone(),
                    visible_version: 1,
                    visible_version_time_ms: 0,
                    next_version: 2,
                    buckets: 3,
                    replication_num: 2,
                    tablets: Vec::new(),
                })
                .collect(),
            replication_num: d.replication_num,
            write_quorum: d.write_quorum,
            replicated_storage: d.replicated_storage,
            comment: d.comment.clone(),
            create_time_ms: 0,
        };
        let text = create_table_text(&t);
        let again = analyze(&parse(&text), 3, 3, &TableLimits::default()).expect(&text);
        assert_eq!(again, d, "{text}");
    }
}
