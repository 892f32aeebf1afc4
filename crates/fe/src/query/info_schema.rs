//! `information_schema.schemata`, `.tables` and `.columns`, as MySQL clients and BI tools
//! query them, built from the same catalog read as the query's other tables.
//!
//! Column names are upper case, as MySQL and StarRocks name them (drivers read rows by those
//! names: the SQLAlchemy `starrocks` dialect reads `row.TABLE_TYPE`); unquoted identifiers in
//! any case find them (see `fold_column_case`).

use std::sync::Arc;

use arrow::array::ArrayRef;
use arrow::array::Int64Builder;
use arrow::array::StringBuilder;
use arrow::datatypes::DataType as ArrowType;
use arrow::datatypes::Field;
use arrow::datatypes::Schema;
use arrow::record_batch::RecordBatch;
use common::Error;
use common::Result;
use common::StatusCode;
use common::schema::DataType;
use datafusion::catalog::TableProvider;
use datafusion::datasource::MemTable;
use meta::catalog::Catalog;

use super::DEFAULT_CATALOG;

/// The name of the system database.
pub const INFORMATION_SCHEMA: &str = "information_schema";

/// The tables it has.
pub const TABLES: &[&str] = &[
    "schemata",
    "tables",
    "columns",
    "tables_config",
    "views",
    "statistics",
];

enum Col {
    Text(StringBuilder),
    Int(Int64Builder),
}

struct Builder {
    fields: Vec<Field>,
    cols: Vec<Col>,
}

impl Builder {
    fn new(spec: &[(&str, bool)]) -> Self {
        Builder {
            fields: spec
                .iter()
                .map(|(n, int)| {
                    Field::new(
                        *n,
                        if *int {
                            ArrowType::Int64
                        } else {
                            ArrowType::Utf8
                        },
                        true,
                    )
                })
                .collect(),
            cols: spec
                .iter()
                .map(|(_, int)| {
                    if *int {
                        Col::Int(Int64Builder::new())
                    } else {
                        Col::Text(StringBuilder::new())
                    }
                })
                .collect(),
        }
    }

    /// Appends a row: `Some(text)` / `None` per column; integer columns parse the text.
    fn row(&mut self, values: &[Option<String>]) {
        for (col, v) in self.cols.iter_mut().zip(values) {
            match col {
                Col::Text(b) => b.append_option(v.as_deref()),
                Col::Int(b) => b.append_option(v.as_deref().and_then(|s| s.parse::<i64>().ok())),
            }
        }
    }

    fn finish(self) -> Result<Arc<dyn TableProvider>> {
        let schema = Arc::new(Schema::new(self.fields));
        let arrays: Vec<ArrayRef> = self
            .cols
            .into_iter()
            .map(|c| -> ArrayRef {
                match c {
                    Col::Text(mut b) => Arc::new(b.finish()),
                    Col::Int(mut b) => Arc::new(b.finish()),
                }
            })
            .collect();
        let batch = RecordBatch::try_new(schema.clone(), arrays)
            .map_err(|e| Error::new(StatusCode::Internal, e.to_string()))?;
        let table = MemTable::try_new(schema, vec![vec![batch]])
            .map_err(|e| Error::new(StatusCode::Internal, e.to_string()))?;
        Ok(Arc::new(table))
    }
}

fn s(v: impl Into<String>) -> Option<String> {
    Some(v.into())
}

/// MySQL's `DATA_TYPE` (the bare type name) of a column type.
fn data_type_name(t: DataType) -> &'static str {
    match t {
        DataType::Boolean => "boolean",
        DataType::TinyInt => "tinyint",
        DataType::SmallInt => "smallint",
        DataType::Int => "int",
        DataType::BigInt => "bigint",
        DataType::LargeInt => "largeint",
        DataType::Float => "float",
        DataType::Double => "double",
        DataType::Decimal { .. } => "decimal",
        DataType::Date => "date",
        DataType::DateTime => "datetime",
        DataType::Char(_) => "char",
        DataType::Varchar(_) | DataType::String => "varchar",
    }
}

/// Which databases (`table` `None`) and tables the session's user may see: the rows of the
/// others are left out of every view, as MySQL does.
pub type Visible<'a> = &'a dyn Fn(&str, Option<&str>) -> bool;

/// `information_schema.<name>` over `catalog`, with only what `visible` lets the user see.
pub fn table(
    catalog: &Catalog,
    name: &str,
    visible: Visible<'_>,
) -> Result<Arc<dyn TableProvider>> {
    match name.to_ascii_lowercase().as_str() {
        "schemata" => {
            let mut b = Builder::new(&[
                ("CATALOG_NAME", false),
                ("SCHEMA_NAME", false),
                ("DEFAULT_CHARACTER_SET_NAME", false),
                ("DEFAULT_COLLATION_NAME", false),
                ("SQL_PATH", false),
            ]);
            let mut names: Vec<&str> = vec![INFORMATION_SCHEMA];
            names.extend(
                catalog
                    .databases
                    .keys()
                    .map(String::as_str)
                    .filter(|db| visible(db, None)),
            );
            for db in names {
                b.row(&[
                    s(DEFAULT_CATALOG),
                    s(db),
                    s("utf8"),
                    s("utf8_general_ci"),
                    None,
                ]);
            }
            b.finish()
        }
        "tables" => {
            let mut b = Builder::new(&[
                ("TABLE_CATALOG", false),
                ("TABLE_SCHEMA", false),
                ("TABLE_NAME", false),
                ("TABLE_TYPE", false),
                ("ENGINE", false),
                ("VERSION", true),
                ("ROW_FORMAT", false),
                ("TABLE_ROWS", true),
                ("AVG_ROW_LENGTH", true),
                ("DATA_LENGTH", true),
                ("MAX_DATA_LENGTH", true),
                ("INDEX_LENGTH", true),
                ("DATA_FREE", true),
                ("AUTO_INCREMENT", true),
                ("CREATE_TIME", false),
                ("UPDATE_TIME", false),
                ("CHECK_TIME", false),
                ("TABLE_COLLATION", false),
                ("CHECKSUM", true),
                ("CREATE_OPTIONS", false),
                ("TABLE_COMMENT", false),
            ]);
            for t in TABLES {
                b.row(&[
                    s(DEFAULT_CATALOG),
                    s(INFORMATION_SCHEMA),
                    s(*t),
                    s("SYSTEM VIEW"),
                    s("MEMORY"),
                    s("10"),
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    s("utf8_general_ci"),
                    None,
                    None,
                    s(""),
                ]);
            }
            for db in catalog.databases.values() {
                for t in db.tables.values() {
                    if !visible(&db.name, Some(&t.name)) {
                        continue;
                    }
                    // Row count and size as the replicas last reported them (one replica's
                    // worth per tablet).
                    let (rows, bytes) = t.tablets().fold((0i64, 0i64), |(r, d), (_, tablet)| {
                        let first = tablet.replicas.first();
                        (
                            r + first.map_or(0, |x| x.row_count),
                            d + first.map_or(0, |x| x.data_size),
                        )
                    });
                    let avg = if rows > 0 { bytes / rows } else { 0 };
                    b.row(&[
                        s(DEFAULT_CATALOG),
                        s(db.name.as_str()),
                        s(t.name.as_str()),
                        s("BASE TABLE"),
                        s("StarRocks"),
                        None,
                        s("Fixed"),
                        s(rows.to_string()),
                        s(avg.to_string()),
                        s(bytes.to_string()),
                        None,
                        None,
                        None,
                        None,
                        s(common::clock::format_ms(t.create_time_ms)),
                        None,
                        None,
                        s("utf8_general_ci"),
                        None,
                        s(""),
                        s(t.comment.as_str()),
                    ]);
                }
            }
            b.finish()
        }
        "columns" => {
            let mut b = Builder::new(&[
                ("TABLE_CATALOG", false),
                ("TABLE_SCHEMA", false),
                ("TABLE_NAME", false),
                ("COLUMN_NAME", false),
                ("ORDINAL_POSITION", true),
                ("COLUMN_DEFAULT", false),
                ("IS_NULLABLE", false),
                ("DATA_TYPE", false),
                ("CHARACTER_MAXIMUM_LENGTH", true),
                ("CHARACTER_OCTET_LENGTH", true),
                ("NUMERIC_PRECISION", true),
                ("NUMERIC_SCALE", true),
                ("DATETIME_PRECISION", true),
                ("CHARACTER_SET_NAME", false),
                ("COLLATION_NAME", false),
                ("COLUMN_TYPE", false),
                ("COLUMN_KEY", false),
                ("EXTRA", false),
                ("PRIVILEGES", false),
                ("COLUMN_COMMENT", false),
                ("COLUMN_SIZE", true),
                ("DECIMAL_DIGITS", true),
                ("GENERATION_EXPRESSION", false),
                ("SRS_ID", true),
            ]);
            for db in catalog.databases.values() {
                for t in db.tables.values() {
                    if !visible(&db.name, Some(&t.name)) {
                        continue;
                    }
                    for (i, c) in t.schema.columns.iter().enumerate() {
                        let (char_len, precision, scale) = match c.data_type {
                            DataType::Char(n) | DataType::Varchar(n) => {
                                (Some(i64::from(n)), None, None)
                            }
                            DataType::String => (Some(65533), None, None),
                            DataType::Decimal { precision, scale } => {
                                (None, Some(i64::from(precision)), Some(i64::from(scale)))
                            }
                            DataType::TinyInt => (None, Some(3), Some(0)),
                            DataType::SmallInt => (None, Some(5), Some(0)),
                            DataType::Int => (None, Some(10), Some(0)),
                            DataType::BigInt => (None, Some(19), Some(0)),
                            DataType::LargeInt => (None, Some(39), Some(0)),
                            _ => (None, None, None),
                        };
                        let string = c.data_type.is_string();
                        b.row(&[
                            s(DEFAULT_CATALOG),
                            s(db.name.as_str()),
                            s(t.name.as_str()),
                            s(c.name.as_str()),
                            s((i + 1).to_string()),
                            c.default.clone(),
                            s(if c.nullable { "YES" } else { "NO" }),
                            s(data_type_name(c.data_type)),
                            char_len.map(|n| n.to_string()),
                            char_len.map(|n| (n * 4).to_string()),
                            precision.map(|n| n.to_string()),
                            scale.map(|n| n.to_string()),
                            matches!(c.data_type, DataType::DateTime).then(|| "0".to_string()),
                            string.then(|| "utf8".to_string()),
                            string.then(|| "utf8_general_ci".to_string()),
                            s(c.data_type.to_string()),
                            s(if c.is_key { "DUP" } else { "" }),
                            s(""),
                            s("select,insert,update,references"),
                            s(c.comment.as_str()),
                            precision.or(char_len).map(|n| n.to_string()),
                            scale.map(|n| n.to_string()),
                            None,
                            None,
                        ]);
                    }
                }
            }
            b.finish()
        }
        "tables_config" => {
            // StarRocks's per-table layout: keys model, distribution, sort key, properties.
            let mut b = Builder::new(&[
                ("TABLE_SCHEMA", false),
                ("TABLE_NAME", false),
                ("TABLE_ENGINE", false),
                ("TABLE_MODEL", false),
                ("PRIMARY_KEY", false),
                ("PARTITION_KEY", false),
                ("DISTRIBUTE_KEY", false),
                ("DISTRIBUTE_TYPE", false),
                ("DISTRIBUTE_BUCKET", true),
                ("SORT_KEY", false),
                ("PROPERTIES", false),
                ("TABLE_ID", true),
            ]);
            let quoted = |names: &mut dyn Iterator<Item = &str>| {
                names
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            for db in catalog.databases.values() {
                for t in db.tables.values() {
                    if !visible(&db.name, Some(&t.name)) {
                        continue;
                    }
                    let keys = quoted(
                        &mut t
                            .schema
                            .columns
                            .iter()
                            .filter(|c| c.is_key)
                            .map(|c| c.name.as_str()),
                    );
                    let dist = &t.schema.distribution_columns;
                    let properties = serde_json::json!({
                        "replication_num": t.replication_num.to_string(),
                        "write_quorum": t.write_quorum.to_string().to_ascii_lowercase(),
                        "replicated_storage": t.replicated_storage.to_string(),
                    });
                    b.row(&[
                        s(db.name.as_str()),
                        s(t.name.as_str()),
                        s("OLAP"),
                        s(t.schema.keys_type.to_string()),
                        s(keys.clone()),
                        s(t.partitioning
                            .as_ref()
                            .map(|p| format!("`{}`", p.column))
                            .unwrap_or_default()),
                        s(quoted(&mut dist.iter().map(String::as_str))),
                        s(if dist.is_empty() { "RANDOM" } else { "HASH" }),
                        s(t.schema.buckets.to_string()),
                        s(keys),
                        s(properties.to_string()),
                        s(t.id.to_string()),
                    ]);
                }
            }
            b.finish()
        }
        "views" => {
            // Tessera has no views yet: the table exists (clients list views) and is empty.
            Builder::new(&[
                ("TABLE_CATALOG", false),
                ("TABLE_SCHEMA", false),
                ("TABLE_NAME", false),
                ("VIEW_DEFINITION", false),
                ("CHECK_OPTION", false),
                ("IS_UPDATABLE", false),
                ("DEFINER", false),
                ("SECURITY_TYPE", false),
                ("CHARACTER_SET_CLIENT", false),
                ("COLLATION_CONNECTION", false),
            ])
            .finish()
        }
        "statistics" => {
            // Indexes: a StarRocks table has none that MySQL would list (its sort key is in
            // tables_config), so this is empty; Connector/J's getPrimaryKeys / getIndexInfo
            // join it.
            Builder::new(&[
                ("TABLE_CATALOG", false),
                ("TABLE_SCHEMA", false),
                ("TABLE_NAME", false),
                ("NON_UNIQUE", true),
                ("INDEX_SCHEMA", false),
                ("INDEX_NAME", false),
                ("SEQ_IN_INDEX", true),
                ("COLUMN_NAME", false),
                ("COLLATION", false),
                ("CARDINALITY", true),
                ("SUB_PART", true),
                ("PACKED", false),
                ("NULLABLE", false),
                ("INDEX_TYPE", false),
                ("COMMENT", false),
                ("INDEX_COMMENT", false),
            ])
            .finish()
        }
        other => Err(Error::new(
            StatusCode::TableNotFound,
            format!("Table '{INFORMATION_SCHEMA}.{other}' doesn't exist"),
        )),
    }
}
