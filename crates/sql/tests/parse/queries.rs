//! Queries, INSERT, EXPLAIN, statement splitting, and the sqlparser fallback.

use tessera_sql::sqlparser::ast::{Expr, SelectItem, SetExpr, Statement as SqlStatement};
use tessera_sql::{ExplainLevel, Statement, parse_statement, parse_statements};

use crate::common::{check, check_all_eq, strs};

/// The single projected expression of `SELECT <expr> ...`.
fn only_projection(stmt: &Statement) -> Expr {
    let Statement::Query(q) = stmt else {
        panic!("not a query: {stmt:?}")
    };
    let SetExpr::Select(s) = q.body.as_ref() else {
        panic!("not a SELECT: {q}")
    };
    assert_eq!(s.projection.len(), 1);
    match &s.projection[0] {
        SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => e.clone(),
        other => panic!("unexpected projection {other:?}"),
    }
}

#[test]
fn mysql_client_queries() {
    let s = check("select @@version_comment limit 1");
    assert_eq!(s.to_string(), "SELECT @@version_comment LIMIT 1");
    assert!(matches!(only_projection(&s), Expr::Identifier(i) if i.value == "@@version_comment"));

    let s = check("SELECT DATABASE()");
    assert!(matches!(only_projection(&s), Expr::Function(f) if f.name.to_string() == "DATABASE"));

    let s = check("SELECT @@session.tx_isolation");
    assert!(matches!(only_projection(&s), Expr::CompoundIdentifier(p)
        if p.len() == 2 && p[0].value == "@@session" && p[1].value == "tx_isolation"));

    for f in [
        "CURRENT_VERSION",
        "CONNECTION_ID",
        "VERSION",
        "CURRENT_USER",
        "USER",
    ] {
        let s = check(&format!("SELECT {f}()"));
        assert!(matches!(only_projection(&s), Expr::Function(_)), "{f}");
    }
    check(
        "SELECT @@session.auto_increment_increment AS auto_increment_increment, @@character_set_client AS character_set_client, @@sql_mode AS sql_mode",
    );
    check("/* mysql-connector-java-8.0 */ SELECT @@session.transaction_read_only");
}

#[test]
fn query_forms() {
    for sql in [
        "SELECT 1",
        "select a, count(*) from db.t where b > 1 group by a order by a desc limit 10",
        "SELECT * FROM `My Table` AS x JOIN t2 ON x.id = t2.id",
        "WITH c AS (SELECT 1 AS a) SELECT a FROM c",
        "VALUES (1, 2), (3, 4)",
        "(SELECT 1) UNION ALL (SELECT 2)",
        "SELECT 'it''s', \"double\"",
        "SELECT k1 FROM t LIMIT 2, 3",
    ] {
        assert!(matches!(check(sql), Statement::Query(_)), "{sql}");
    }
}

#[test]
fn statement_splitting() {
    let stmts = parse_statements("SELECT 1; SELECT 2;;\n;SHOW DATABASES;").unwrap();
    assert_eq!(stmts.len(), 3);
    assert!(matches!(
        stmts[2],
        Statement::ShowDatabases { filter: None }
    ));
    assert!(parse_statements("").unwrap().is_empty());
    assert!(
        parse_statements("  ;; -- just a comment\n")
            .unwrap()
            .is_empty()
    );
    assert!(parse_statements("/* nothing */").unwrap().is_empty());
    // A ';' inside a string does not split.
    let stmts = parse_statements("SELECT 'a;b'; SELECT 2").unwrap();
    assert_eq!(stmts.len(), 2);
    // parse_statement wants exactly one.
    assert!(parse_statement("SELECT 1;").is_ok());
    assert!(parse_statement("SELECT 1; SELECT 2").is_err());
    assert!(parse_statement("  ").is_err());
}

fn insert_parts(stmt: &Statement) -> (Option<String>, Vec<String>, String) {
    let Statement::Insert(i) = stmt else {
        panic!("not an insert: {stmt:?}")
    };
    let inner = i.insert().expect("sqlparser INSERT");
    (
        i.label.clone(),
        i.partitions.clone(),
        inner.table.to_string(),
    )
}

#[test]
fn insert_plain() {
    let s = check("INSERT INTO t VALUES (1, 'a'), (2, 'b')");
    assert_eq!(insert_parts(&s), (None, vec![], "t".to_string()));
    let s = check("insert into db.t (a, b) select x, y from s where x > 0");
    assert_eq!(insert_parts(&s), (None, vec![], "db.t".to_string()));
    let Statement::Insert(i) = &s else {
        unreachable!()
    };
    assert_eq!(i.insert().unwrap().columns.len(), 2);
    // INSERT OVERWRITE is passed through to sqlparser.
    let s = check("INSERT OVERWRITE t SELECT * FROM s");
    let Statement::Insert(i) = &s else {
        unreachable!()
    };
    assert!(i.insert().unwrap().overwrite);
}

#[test]
fn insert_with_label() {
    let s = check("INSERT INTO t WITH LABEL l1 VALUES (1)");
    assert_eq!(insert_parts(&s), (Some("l1".into()), vec![], "t".into()));
    assert_eq!(s.to_string(), "INSERT INTO t WITH LABEL l1 VALUES (1)");

    let s = check("insert into db.t with label `load-2024_01` (a, b) values (1, 2)");
    assert_eq!(
        insert_parts(&s),
        (Some("load-2024_01".into()), vec![], "db.t".into())
    );
    assert_eq!(
        s.to_string(),
        "INSERT INTO db.t WITH LABEL `load-2024_01` (a, b) VALUES (1, 2)"
    );

    check_all_eq(&[
        "INSERT INTO t WITH LABEL l SELECT 1",
        "INSERT INTO t WITH LABEL 'l' SELECT 1",
        "INSERT INTO t with label \"l\" SELECT 1",
    ]);

    // A CTE named `label` is not a label.
    let s = check("INSERT INTO t WITH label AS (SELECT 1 AS a) SELECT a FROM label");
    assert_eq!(insert_parts(&s).0, None);
    let s = check("INSERT INTO t WITH label (a) AS (SELECT 1) SELECT a FROM label");
    assert_eq!(insert_parts(&s).0, None);
}

#[test]
fn insert_with_partitions() {
    let s = check("INSERT INTO t PARTITION (p1, p2) WITH LABEL l (a) VALUES (1)");
    assert_eq!(
        insert_parts(&s),
        (Some("l".into()), strs(&["p1", "p2"]), "t".into())
    );
    let Statement::Insert(i) = &s else {
        unreachable!()
    };
    assert!(i.insert().unwrap().partitioned.is_none());
    assert_eq!(
        s.to_string(),
        "INSERT INTO t PARTITION (p1, p2) WITH LABEL l (a) VALUES (1)"
    );
    let s = check("INSERT OVERWRITE t PARTITION (p1) SELECT * FROM s");
    assert_eq!(insert_parts(&s), (None, strs(&["p1"]), "t".into()));
}

#[test]
fn explain() {
    let s = check("EXPLAIN SELECT 1");
    assert!(
        matches!(&s, Statement::Explain { level: ExplainLevel::Normal, statement }
        if matches!(statement.as_ref(), Statement::Query(_)))
    );
    for (sql, level) in [
        ("explain verbose select 1", ExplainLevel::Verbose),
        ("EXPLAIN LOGICAL SELECT 1", ExplainLevel::Logical),
        ("EXPLAIN COSTS SELECT 1", ExplainLevel::Costs),
        ("EXPLAIN ANALYZE SELECT 1", ExplainLevel::Analyze),
    ] {
        assert!(
            matches!(check(sql), Statement::Explain { level: l, .. } if l == level),
            "{sql}"
        );
    }
    let s = check("EXPLAIN INSERT INTO t WITH LABEL x VALUES (1)");
    assert!(matches!(&s, Statement::Explain { statement, .. }
        if matches!(statement.as_ref(), Statement::Insert(i) if i.label.as_deref() == Some("x"))));
    // DESC before a query is EXPLAIN.
    check_all_eq(&["DESC SELECT 1", "describe select 1", "EXPLAIN SELECT 1"]);
}

#[test]
fn other_statements_go_to_sqlparser() {
    for sql in [
        "UPDATE t SET a = 1 WHERE b = 2",
        "DELETE FROM t WHERE a = 1",
        "CREATE VIEW v AS SELECT 1",
        "DROP VIEW v",
        "TRUNCATE TABLE t",
    ] {
        assert!(
            matches!(check(sql), Statement::Other(_)),
            "{sql} should be Statement::Other"
        );
    }
    let Statement::Other(s) = check("UPDATE t SET a = 1") else {
        unreachable!()
    };
    assert!(matches!(s.as_ref(), SqlStatement::Update { .. }));
}
