//! SHOW TABLET, ADMIN replica statements, SHOW TRANSACTION/LOAD, CANCEL LOAD, SHOW DATA.

use tessera_sql::{Limit, ReplicaStatusFilter, ShowTablet, Statement, TableName};

use crate::common::{check, check_all_eq, check_eq, kv, strs};

#[test]
fn show_tablet_by_id() {
    check_eq(
        "SHOW TABLET 10010",
        Statement::ShowTablet(ShowTablet::ById(10010)),
    );
}

#[test]
fn show_tablet_from_table() {
    check_eq(
        "SHOW TABLET FROM db.t",
        Statement::ShowTablet(ShowTablet::FromTable {
            table: TableName::qualified("db", "t"),
            partitions: vec![],
            filter: None,
            order_by: vec![],
            limit: None,
        }),
    );
    check_all_eq(&[
        "SHOW TABLET FROM t PARTITION(p1, p2)",
        "show tablet from t partition (p1,p2)",
        "SHOW TABLET FROM t PARTITIONS (p1, p2)",
        "SHOW TABLETS FROM t PARTITION (p1, p2)",
    ]);
    let s = check(
        "SHOW TABLET FROM t PARTITION p1 WHERE version = 2 AND backendid = 10001 \
         AND STATE = \"NORMAL\" ORDER BY version DESC, TabletId LIMIT 5, 10",
    );
    let Statement::ShowTablet(ShowTablet::FromTable {
        partitions,
        filter,
        order_by,
        limit,
        ..
    }) = s
    else {
        panic!("{s:?}")
    };
    assert_eq!(partitions, strs(&["p1"]));
    assert!(filter.is_some());
    assert_eq!(order_by.len(), 2);
    assert_eq!(
        limit,
        Some(Limit {
            offset: Some(5),
            count: 10
        })
    );
    check_all_eq(&[
        "SHOW TABLET FROM t LIMIT 5, 10",
        "SHOW TABLET FROM t LIMIT 10 OFFSET 5",
    ]);
}

#[test]
fn admin_show_replica_status() {
    check_eq(
        "ADMIN SHOW REPLICA STATUS FROM db.t",
        Statement::AdminShowReplicaStatus {
            table: TableName::qualified("db", "t"),
            partitions: vec![],
            status_filter: None,
        },
    );
    check_eq(
        "admin show replica status from t partition (p1, p2) where status = 'VERSION_ERROR'",
        Statement::AdminShowReplicaStatus {
            table: TableName::new("t"),
            partitions: strs(&["p1", "p2"]),
            status_filter: Some(ReplicaStatusFilter {
                negated: false,
                status: "VERSION_ERROR".into(),
            }),
        },
    );
    check_all_eq(&[
        "ADMIN SHOW REPLICA STATUS FROM t WHERE STATUS != 'OK'",
        "ADMIN SHOW REPLICA STATUS FROM t WHERE STATUS <> \"OK\"",
    ]);
    let s = check("ADMIN SHOW REPLICA STATUS FROM t WHERE STATUS != 'OK'");
    assert!(matches!(
        s,
        Statement::AdminShowReplicaStatus {
            status_filter: Some(ReplicaStatusFilter { negated: true, .. }),
            ..
        }
    ));
}

#[test]
fn admin_replica_distribution_and_repair() {
    check_eq(
        "ADMIN SHOW REPLICA DISTRIBUTION FROM t PARTITION (p1)",
        Statement::AdminShowReplicaDistribution {
            table: TableName::new("t"),
            partitions: strs(&["p1"]),
        },
    );
    check_eq(
        "ADMIN REPAIR TABLE db.t",
        Statement::AdminRepairTable {
            table: TableName::qualified("db", "t"),
            partitions: vec![],
        },
    );
    check_eq(
        "admin repair table t partition (p1, p2)",
        Statement::AdminRepairTable {
            table: TableName::new("t"),
            partitions: strs(&["p1", "p2"]),
        },
    );
    check_eq(
        "ADMIN CANCEL REPAIR TABLE t PARTITION (p1)",
        Statement::AdminCancelRepairTable {
            table: TableName::new("t"),
            partitions: strs(&["p1"]),
        },
    );
    check_eq(
        "ADMIN SET REPLICA STATUS PROPERTIES (\"tablet_id\" = \"10003\", \"backend_id\" = \"10001\", \"status\" = \"bad\")",
        Statement::AdminSetReplicaStatus {
            properties: kv(&[
                ("tablet_id", "10003"),
                ("backend_id", "10001"),
                ("status", "bad"),
            ]),
        },
    );
}

#[test]
fn show_transaction() {
    check_eq(
        "SHOW TRANSACTION WHERE id = 4005",
        Statement::ShowTransaction {
            database: None,
            id: 4005,
        },
    );
    check_all_eq(&[
        "SHOW TRANSACTION FROM db WHERE ID = 4005",
        "show transaction in db where id=4005",
    ]);
}

#[test]
fn show_and_cancel_load() {
    check_eq(
        "SHOW LOAD",
        Statement::ShowLoad {
            database: None,
            filter: None,
            order_by: vec![],
            limit: None,
        },
    );
    let s = check(
        "SHOW LOAD FROM db WHERE LABEL = 'l1' AND STATE = 'FINISHED' ORDER BY CreateTime DESC LIMIT 10",
    );
    assert!(
        matches!(&s, Statement::ShowLoad { database: Some(d), filter: Some(_), order_by, limit: Some(Limit { offset: None, count: 10 }) }
        if d == "db" && order_by.len() == 1)
    );
    check_eq(
        "CANCEL LOAD FROM db WHERE LABEL = \"l1\"",
        Statement::CancelLoad {
            database: Some("db".into()),
            label: "l1".into(),
        },
    );
    check_eq(
        "cancel load where label = 'l2'",
        Statement::CancelLoad {
            database: None,
            label: "l2".into(),
        },
    );
}

#[test]
fn show_data() {
    check_eq("SHOW DATA", Statement::ShowData { table: None });
    check_eq(
        "show data from db.t",
        Statement::ShowData {
            table: Some(TableName::qualified("db", "t")),
        },
    );
}
