//! CREATE/DROP/ALTER TABLE and the table SHOW/DESC statements.

use tessera_sql::{
    AggType, AlterTableOp, ColumnDef, ColumnTypeDef, CreateTable, DecimalKind, DefaultValue,
    DistributionDesc, KeysDesc, KeysType, PartitionBound, PartitionDef, PartitionDesc,
    PartitionEvery, PartitionValues, ShowFilter, SinglePartition, Statement, TableName,
};

use crate::common::{check, check_all_eq, check_eq, expr, kv, strs};

fn create_table(sql: &str) -> CreateTable {
    match check(sql) {
        Statement::CreateTable(t) => *t,
        other => panic!("not CREATE TABLE: {other:?}"),
    }
}

fn col(name: &str, ty: ColumnTypeDef) -> ColumnDef {
    ColumnDef::new(name, ty)
}

#[test]
fn create_table_minimal() {
    let t = create_table("CREATE TABLE t (k INT)");
    assert_eq!(
        t,
        CreateTable {
            if_not_exists: false,
            name: TableName::new("t"),
            columns: vec![col("k", ColumnTypeDef::Int)],
            engine: None,
            keys: None,
            comment: None,
            partition: None,
            distribution: None,
            order_by: vec![],
            properties: vec![],
        }
    );
}

#[test]
fn create_table_full() {
    let t = create_table(
        r#"CREATE TABLE IF NOT EXISTS example_db.`Detail` (
            event_time DATETIME NOT NULL COMMENT "datetime of event",
            event_type INT NOT NULL,
            user_id INT COMMENT "id of user",
            device_code INT DEFAULT "0",
            channel INT NULL DEFAULT '1' COMMENT 'c'
        )
        ENGINE = OLAP
        DUPLICATE KEY(event_time, event_type)
        COMMENT "detail table"
        PARTITION BY RANGE(event_time) (
            PARTITION p1 VALUES LESS THAN ("2020-01-31"),
            PARTITION p2 VALUES [("2020-01-31"), ("2020-02-29")),
            PARTITION p3 VALUES LESS THAN MAXVALUE
        )
        DISTRIBUTED BY HASH(user_id) BUCKETS 8
        PROPERTIES ("replication_num" = "3", "write_quorum" = "MAJORITY")"#,
    );
    let mut event_time = col("event_time", ColumnTypeDef::DateTime);
    event_time.nullable = Some(false);
    event_time.comment = Some("datetime of event".into());
    let mut event_type = col("event_type", ColumnTypeDef::Int);
    event_type.nullable = Some(false);
    let mut user_id = col("user_id", ColumnTypeDef::Int);
    user_id.comment = Some("id of user".into());
    let mut device_code = col("device_code", ColumnTypeDef::Int);
    device_code.default = Some(DefaultValue::Literal("0".into()));
    let mut channel = col("channel", ColumnTypeDef::Int);
    channel.nullable = Some(true);
    channel.default = Some(DefaultValue::Literal("1".into()));
    channel.comment = Some("c".into());
    assert_eq!(
        t,
        CreateTable {
            if_not_exists: true,
            name: TableName::qualified("example_db", "Detail"),
            columns: vec![event_time, event_type, user_id, device_code, channel],
            engine: Some("OLAP".into()),
            keys: Some(KeysDesc {
                keys_type: KeysType::Duplicate,
                columns: strs(&["event_time", "event_type"]),
            }),
            comment: Some("detail table".into()),
            partition: Some(PartitionDesc {
                columns: strs(&["event_time"]),
                partitions: vec![
                    PartitionDef::Single(SinglePartition {
                        name: "p1".into(),
                        if_not_exists: false,
                        values: PartitionValues::LessThan(vec![PartitionBound::Value(
                            "2020-01-31".into()
                        )]),
                        properties: vec![],
                    }),
                    PartitionDef::Single(SinglePartition {
                        name: "p2".into(),
                        if_not_exists: false,
                        values: PartitionValues::Fixed {
                            lower: strs(&["2020-01-31"]),
                            upper: strs(&["2020-02-29"]),
                        },
                        properties: vec![],
                    }),
                    PartitionDef::Single(SinglePartition {
                        name: "p3".into(),
                        if_not_exists: false,
                        values: PartitionValues::LessThan(vec![PartitionBound::MaxValue]),
                        properties: vec![],
                    }),
                ],
            }),
            distribution: Some(DistributionDesc::Hash {
                columns: strs(&["user_id"]),
                buckets: Some(8),
            }),
            order_by: vec![],
            properties: kv(&[("replication_num", "3"), ("write_quorum", "MAJORITY")]),
        }
    );
}

#[test]
fn column_types() {
    let cases: &[(&str, ColumnTypeDef)] = &[
        ("BOOLEAN", ColumnTypeDef::Boolean),
        ("bool", ColumnTypeDef::Boolean),
        ("TINYINT", ColumnTypeDef::TinyInt),
        ("tinyint(4)", ColumnTypeDef::TinyInt),
        ("SMALLINT", ColumnTypeDef::SmallInt),
        ("INT", ColumnTypeDef::Int),
        ("int(11)", ColumnTypeDef::Int),
        ("INTEGER", ColumnTypeDef::Int),
        ("BIGINT", ColumnTypeDef::BigInt),
        ("bigint(20)", ColumnTypeDef::BigInt),
        ("LARGEINT", ColumnTypeDef::LargeInt),
        ("FLOAT", ColumnTypeDef::Float),
        ("DOUBLE", ColumnTypeDef::Double),
        ("DATE", ColumnTypeDef::Date),
        ("DATETIME", ColumnTypeDef::DateTime),
        ("CHAR", ColumnTypeDef::Char(None)),
        ("CHAR(10)", ColumnTypeDef::Char(Some(10))),
        ("VARCHAR(65533)", ColumnTypeDef::Varchar(Some(65533))),
        ("varchar", ColumnTypeDef::Varchar(None)),
        ("STRING", ColumnTypeDef::String),
        (
            "DECIMAL",
            ColumnTypeDef::Decimal {
                kind: DecimalKind::Decimal,
                precision: None,
                scale: None,
            },
        ),
        (
            "DECIMAL(10)",
            ColumnTypeDef::Decimal {
                kind: DecimalKind::Decimal,
                precision: Some(10),
                scale: None,
            },
        ),
        (
            "decimal(27, 9)",
            ColumnTypeDef::Decimal {
                kind: DecimalKind::Decimal,
                precision: Some(27),
                scale: Some(9),
            },
        ),
        (
            "DECIMALV2(10,2)",
            ColumnTypeDef::Decimal {
                kind: DecimalKind::DecimalV2,
                precision: Some(10),
                scale: Some(2),
            },
        ),
        (
            "DECIMAL32(9,2)",
            ColumnTypeDef::Decimal {
                kind: DecimalKind::Decimal32,
                precision: Some(9),
                scale: Some(2),
            },
        ),
        (
            "DECIMAL64(18,4)",
            ColumnTypeDef::Decimal {
                kind: DecimalKind::Decimal64,
                precision: Some(18),
                scale: Some(4),
            },
        ),
        (
            "DECIMAL128(38,10)",
            ColumnTypeDef::Decimal {
                kind: DecimalKind::Decimal128,
                precision: Some(38),
                scale: Some(10),
            },
        ),
    ];
    for (sql_type, expected) in cases {
        let t = create_table(&format!("CREATE TABLE t (c {sql_type})"));
        assert_eq!(t.columns[0].data_type, *expected, "{sql_type}");
    }
}

#[test]
fn key_models_and_agg_types() {
    let t = create_table(
        "CREATE TABLE t (k INT, v1 BIGINT SUM, v2 INT MAX, v3 INT MIN, v4 STRING REPLACE, \
         v5 STRING REPLACE_IF_NOT_NULL DEFAULT 'x', v6 STRING HLL_UNION, v7 STRING BITMAP_UNION) \
         AGGREGATE KEY(k)",
    );
    let aggs: Vec<_> = t.columns.iter().map(|c| c.agg_type).collect();
    assert_eq!(
        aggs,
        vec![
            None,
            Some(AggType::Sum),
            Some(AggType::Max),
            Some(AggType::Min),
            Some(AggType::Replace),
            Some(AggType::ReplaceIfNotNull),
            Some(AggType::HllUnion),
            Some(AggType::BitmapUnion),
        ]
    );
    assert_eq!(t.keys.unwrap().keys_type, KeysType::Aggregate);
    for (kw, kt) in [
        ("DUPLICATE", KeysType::Duplicate),
        ("UNIQUE", KeysType::Unique),
        ("PRIMARY", KeysType::Primary),
    ] {
        let t = create_table(&format!(
            "CREATE TABLE t (k INT NOT NULL, v INT) {kw} KEY(k)"
        ));
        assert_eq!(t.keys.unwrap().keys_type, kt);
    }
}

#[test]
fn defaults() {
    let t = create_table(
        "CREATE TABLE t (a INT DEFAULT NULL, b DATETIME DEFAULT CURRENT_TIMESTAMP, \
         c INT DEFAULT -5, d DOUBLE DEFAULT 1.5, e STRING DEFAULT 'x''y')",
    );
    let d: Vec<_> = t.columns.iter().map(|c| c.default.clone()).collect();
    assert_eq!(
        d,
        vec![
            Some(DefaultValue::Null),
            Some(DefaultValue::CurrentTimestamp),
            Some(DefaultValue::Literal("-5".into())),
            Some(DefaultValue::Literal("1.5".into())),
            Some(DefaultValue::Literal("x'y".into())),
        ]
    );
}

#[test]
fn partitions_and_distribution() {
    let t = create_table(
        "CREATE TABLE t (k1 DATE, k2 INT, v INT) \
         PARTITION BY RANGE(k1, k2) (\
            PARTITION p1 VALUES LESS THAN (\"2021-01-01\", \"100\") (\"replication_num\" = \"1\"), \
            PARTITION p2 VALUES LESS THAN (\"2022-01-01\", MAXVALUE), \
            PARTITION p3 VALUES [(\"2022-01-01\", 0), (\"2023-01-01\", 10))\
         ) DISTRIBUTED BY RANDOM BUCKETS 4 ORDER BY (k2, k1)",
    );
    let p = t.partition.unwrap();
    assert_eq!(p.columns, strs(&["k1", "k2"]));
    assert_eq!(
        p.partitions[0],
        PartitionDef::Single(SinglePartition {
            name: "p1".into(),
            if_not_exists: false,
            values: PartitionValues::LessThan(vec![
                PartitionBound::Value("2021-01-01".into()),
                PartitionBound::Value("100".into()),
            ]),
            properties: kv(&[("replication_num", "1")]),
        })
    );
    assert!(matches!(&p.partitions[1], PartitionDef::Single(s)
        if s.values == PartitionValues::LessThan(vec![
            PartitionBound::Value("2022-01-01".into()), PartitionBound::MaxValue])));
    assert!(matches!(&p.partitions[2], PartitionDef::Single(s)
        if s.values == PartitionValues::Fixed {
            lower: strs(&["2022-01-01", "0"]), upper: strs(&["2023-01-01", "10"]) }));
    assert_eq!(
        t.distribution,
        Some(DistributionDesc::Random { buckets: Some(4) })
    );
    assert_eq!(t.order_by, strs(&["k2", "k1"]));

    // Bare MAXVALUE and (MAXVALUE) are the same; BUCKETS is optional.
    check_all_eq(&[
        "CREATE TABLE t (k INT) PARTITION BY RANGE(k) (PARTITION p VALUES LESS THAN MAXVALUE) DISTRIBUTED BY HASH(k)",
        "CREATE TABLE t (k INT) PARTITION BY RANGE(k) (PARTITION p VALUES LESS THAN (MAXVALUE)) DISTRIBUTED BY HASH(k)",
    ]);
    let t = create_table("CREATE TABLE t (k INT) DISTRIBUTED BY HASH(k)");
    assert_eq!(
        t.distribution,
        Some(DistributionDesc::Hash {
            columns: strs(&["k"]),
            buckets: None
        })
    );
    // Empty partition list (dynamic partitioning).
    let t = create_table("CREATE TABLE t (k DATE) PARTITION BY RANGE(k) ()");
    assert!(t.partition.unwrap().partitions.is_empty());
}

#[test]
fn batch_partitions() {
    let t = create_table(
        "CREATE TABLE t (k DATE, n INT) PARTITION BY RANGE(k) (\
           START (\"2021-01-01\") END (\"2021-02-01\") EVERY (INTERVAL 1 day), \
           START ('1') END ('10') EVERY (3))",
    );
    let p = t.partition.unwrap().partitions;
    assert_eq!(
        p,
        vec![
            PartitionDef::Batch {
                start: strs(&["2021-01-01"]),
                end: strs(&["2021-02-01"]),
                every: PartitionEvery {
                    value: 1,
                    unit: Some("DAY".into())
                },
            },
            PartitionDef::Batch {
                start: strs(&["1"]),
                end: strs(&["10"]),
                every: PartitionEvery {
                    value: 3,
                    unit: None
                },
            },
        ]
    );
}

#[test]
fn create_table_display() {
    let t = check(
        "create table db.t (k int(11) not null, v varchar(10) comment 'it''s') engine=olap \
         duplicate key(k) distributed by hash(k) buckets 1 properties('replication_num'='1')",
    );
    assert_eq!(
        t.to_string(),
        "CREATE TABLE db.t (k INT NOT NULL, v VARCHAR(10) COMMENT 'it\\'s') ENGINE = olap \
         DUPLICATE KEY(k) DISTRIBUTED BY HASH(k) BUCKETS 1 PROPERTIES (\"replication_num\" = \"1\")"
    );
    // Names that need quoting survive.
    check("CREATE TABLE `select` (`from` INT, `a b` STRING, `Mixed` INT) DUPLICATE KEY(`from`)");
}

#[test]
fn drop_table() {
    check_eq(
        "DROP TABLE t",
        Statement::DropTable {
            name: TableName::new("t"),
            if_exists: false,
            force: false,
        },
    );
    check_eq(
        "drop table if exists db.`T1` force",
        Statement::DropTable {
            name: TableName::qualified("db", "T1"),
            if_exists: true,
            force: true,
        },
    );
}

#[test]
fn show_tables() {
    check_eq(
        "SHOW TABLES",
        Statement::ShowTables {
            database: None,
            full: false,
            filter: None,
        },
    );
    check_eq(
        "SHOW FULL TABLES FROM db LIKE 't%'",
        Statement::ShowTables {
            database: Some("db".into()),
            full: true,
            filter: Some(ShowFilter::Like("t%".into())),
        },
    );
    check_all_eq(&["SHOW TABLES FROM db", "show tables in db"]);
    check_eq(
        "SHOW TABLES WHERE Tables_in_db = 't'",
        Statement::ShowTables {
            database: None,
            full: false,
            filter: Some(ShowFilter::Where(expr("Tables_in_db = 't'"))),
        },
    );
}

#[test]
fn show_create_table_and_describe() {
    check_eq(
        "SHOW CREATE TABLE db.t",
        Statement::ShowCreateTable {
            name: TableName::qualified("db", "t"),
        },
    );
    check_eq(
        "DESC t",
        Statement::Describe {
            name: TableName::new("t"),
            all: false,
        },
    );
    check_all_eq(&[
        "DESC db.t ALL",
        "describe db.t all",
        "DESCRIBE `db`.`t` ALL",
    ]);
    check_eq(
        "desc db.t all",
        Statement::Describe {
            name: TableName::qualified("db", "t"),
            all: true,
        },
    );
}

#[test]
fn show_columns_and_table_status() {
    check_eq(
        "SHOW COLUMNS FROM t",
        Statement::ShowColumns {
            full: false,
            table: TableName::new("t"),
            database: None,
            filter: None,
        },
    );
    check_eq(
        "SHOW FULL COLUMNS FROM t FROM db LIKE 'k%'",
        Statement::ShowColumns {
            full: true,
            table: TableName::new("t"),
            database: Some("db".into()),
            filter: Some(ShowFilter::Like("k%".into())),
        },
    );
    check_all_eq(&[
        "SHOW COLUMNS FROM t IN db",
        "show fields in t from db",
        "SHOW COLUMNS IN t IN db",
    ]);
    check("SHOW COLUMNS FROM db.t");
    check_eq(
        "SHOW TABLE STATUS",
        Statement::ShowTableStatus {
            database: None,
            filter: None,
        },
    );
    check_eq(
        "show table status from db like 't%'",
        Statement::ShowTableStatus {
            database: Some("db".into()),
            filter: Some(ShowFilter::Like("t%".into())),
        },
    );
}

#[test]
fn alter_table_set_properties() {
    check_eq(
        "ALTER TABLE t SET (\"write_quorum\" = \"ONE\")",
        Statement::AlterTable {
            name: TableName::new("t"),
            op: AlterTableOp::SetProperties(kv(&[("write_quorum", "ONE")])),
        },
    );
    check_all_eq(&[
        "ALTER TABLE db.t SET ('replicated_storage' = 'false', 'replication_num' = '2')",
        "alter table db.t set (\"replicated_storage\" = false, \"replication_num\" = 2)",
    ]);
}

#[test]
fn alter_table_partitions() {
    check_eq(
        "ALTER TABLE t ADD PARTITION p4 VALUES LESS THAN (\"2024-01-01\")",
        Statement::AlterTable {
            name: TableName::new("t"),
            op: AlterTableOp::AddPartition {
                partition: SinglePartition {
                    name: "p4".into(),
                    if_not_exists: false,
                    values: PartitionValues::LessThan(vec![PartitionBound::Value(
                        "2024-01-01".into(),
                    )]),
                    properties: vec![],
                },
                distribution: None,
            },
        },
    );
    check_eq(
        "alter table db.t add partition if not exists p5 values [('2024-01-01'), ('2024-02-01')) \
         ('replication_num' = '1') distributed by hash(k1) buckets 20",
        Statement::AlterTable {
            name: TableName::qualified("db", "t"),
            op: AlterTableOp::AddPartition {
                partition: SinglePartition {
                    name: "p5".into(),
                    if_not_exists: true,
                    values: PartitionValues::Fixed {
                        lower: strs(&["2024-01-01"]),
                        upper: strs(&["2024-02-01"]),
                    },
                    properties: kv(&[("replication_num", "1")]),
                },
                distribution: Some(DistributionDesc::Hash {
                    columns: strs(&["k1"]),
                    buckets: Some(20),
                }),
            },
        },
    );
    check_eq(
        "ALTER TABLE t DROP PARTITION p1",
        Statement::AlterTable {
            name: TableName::new("t"),
            op: AlterTableOp::DropPartition {
                name: "p1".into(),
                if_exists: false,
                force: false,
            },
        },
    );
    check_eq(
        "alter table t drop partition if exists p1 force",
        Statement::AlterTable {
            name: TableName::new("t"),
            op: AlterTableOp::DropPartition {
                name: "p1".into(),
                if_exists: true,
                force: true,
            },
        },
    );
}
