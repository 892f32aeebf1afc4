//! Error cases and their messages.

use tessera_sql::{ParseError, parse_statement};

use crate::common::{check_err, parse_err};

#[test]
fn unknown_statement() {
    check_err(
        "FROBNICATE the cluster",
        "Expected: an SQL statement, found: FROBNICATE at line 1, column 1",
    );
    check_err(
        "SHOW FOOBARS",
        "Expected: DATABASES, TABLES, COLUMNS, VARIABLES, STATUS, PROCESSLIST, FRONTENDS, \
         BACKENDS, PROC, TABLET, LOAD, TRANSACTION, DATA, GRANTS, WARNINGS, ... after SHOW, \
         found: FOOBARS at line 1, column 6",
    );
    check_err(
        "ADMIN FOO",
        "Expected: SET FRONTEND CONFIG, SHOW FRONTEND CONFIG, SHOW REPLICA STATUS, SHOW REPLICA \
         DISTRIBUTION, REPAIR TABLE, CANCEL REPAIR TABLE or SET REPLICA STATUS after ADMIN, \
         found: FOO at line 1, column 7",
    );
    check_err(
        "CANCEL SOMETHING",
        "Expected: DECOMMISSION or LOAD after CANCEL, found: SOMETHING at line 1, column 8",
    );
}

#[test]
fn alter_system_errors() {
    check_err(
        "ALTER SYSTEM ADD FOLLWER \"h:9010\"",
        "Expected: FOLLOWER, OBSERVER or BACKEND after ALTER SYSTEM ADD, found: FOLLWER at line 1, column 18",
    );
    // No host at all.
    check_err(
        "ALTER SYSTEM ADD FOLLOWER",
        "Expected: a \"host:port\" string after ALTER SYSTEM ADD FOLLOWER, found: EOF at line 1, column 26",
    );
    check_err(
        "ALTER SYSTEM ADD FOLLOWER;",
        "Expected: a \"host:port\" string after ALTER SYSTEM ADD FOLLOWER, found: EOF at line 1, column 26",
    );
    // Host given as a bare word instead of a string.
    check_err(
        "ALTER SYSTEM ADD BACKEND h1:9050",
        "Expected: a \"host:port\" string after ALTER SYSTEM ADD BACKEND, found: h1 at line 1, column 26",
    );
    // Dangling comma.
    check_err(
        "ALTER SYSTEM DROP OBSERVER 'a:1',",
        "Expected: a \"host:port\" string after ALTER SYSTEM DROP OBSERVER, found: EOF at line 1, column 34",
    );
    check_err(
        "ALTER SYSTEM DECOMMISSION FOLLOWER 'a:1'",
        "Expected: BACKEND after ALTER SYSTEM DECOMMISSION, found: FOLLOWER at line 1, column 27",
    );
    check_err(
        "ALTER SYSTEM REBOOT",
        "Expected: ADD, DROP, DECOMMISSION, MODIFY or CREATE IMAGE after ALTER SYSTEM, found: REBOOT at line 1, column 14",
    );
    check_err(
        "CANCEL DECOMMISSION BACKEND",
        "Expected: a \"host:port\" string after CANCEL DECOMMISSION BACKEND, found: EOF at line 1, column 28",
    );
}

#[test]
fn bad_bucket_number() {
    check_err(
        "CREATE TABLE t (k INT) DISTRIBUTED BY HASH(k) BUCKETS 0",
        "Expected: a positive bucket number after BUCKETS, found: 0 at line 1, column 55",
    );
    check_err(
        "CREATE TABLE t (k INT) DISTRIBUTED BY HASH(k) BUCKETS ten",
        "Expected: a positive bucket number after BUCKETS, found: ten at line 1, column 55",
    );
    check_err(
        "CREATE TABLE t (k INT) DISTRIBUTED BY HASH(k) BUCKETS -3",
        "Expected: a positive bucket number after BUCKETS, found: - at line 1, column 55",
    );
    check_err(
        "CREATE TABLE t (k INT) DISTRIBUTED BY HASH(k) BUCKETS 99999999999",
        "Expected: a positive bucket number after BUCKETS, found: 99999999999 at line 1, column 55",
    );
}

#[test]
fn create_table_errors() {
    check_err(
        "CREATE TABLE t (k BLOB)",
        "Expected: a column type (BOOLEAN, TINYINT, SMALLINT, INT, BIGINT, LARGEINT, FLOAT, \
         DOUBLE, DECIMAL, DATE, DATETIME, CHAR, VARCHAR, STRING), found: BLOB at line 1, column 19",
    );
    check_err(
        "CREATE TABLE t (k INT) PARTITION BY LIST(k) ()",
        "Expected: RANGE after PARTITION BY, found: LIST at line 1, column 37",
    );
    check_err(
        "CREATE TABLE t (k INT) DISTRIBUTED BY k",
        "Expected: HASH or RANDOM after DISTRIBUTED BY, found: k at line 1, column 39",
    );
    check_err(
        "CREATE TABLE t (k INT,)",
        "Expected: a column name, found: ) at line 1, column 23",
    );
    check_err(
        "CREATE TABLE t (k VARCHAR(x))",
        "Expected: a length for VARCHAR, found: x at line 1, column 27",
    );
}

#[test]
fn unterminated_string() {
    check_err(
        "ALTER SYSTEM ADD FOLLOWER 'h:9010",
        "Unterminated string literal at line 1, column 27",
    );
    check_err(
        "SELECT \"abc",
        "Unterminated string literal at line 1, column 8",
    );
    let e = parse_err("SELECT `unterminated");
    assert_eq!((e.line, e.column), (1, 8), "{e}");
}

#[test]
fn trailing_garbage() {
    check_err(
        "SHOW FRONTENDS please",
        "Expected: end of statement, found: please at line 1, column 16",
    );
    check_err(
        "ALTER SYSTEM ADD FOLLOWER 'h:1' 'h:2'",
        "Expected: end of statement, found: 'h:2' at line 1, column 33",
    );
    check_err(
        "SELECT 1 a b",
        "Expected: end of statement, found: b at line 1, column 12",
    );
    check_err(
        "CREATE DATABASE db extra",
        "Expected: end of statement, found: extra at line 1, column 20",
    );
    check_err(
        "SET autocommit = 1 2",
        "Expected: end of statement, found: 2 at line 1, column 20",
    );
    // The error is reported in the statement where it occurs, with its real position.
    check_err(
        "SELECT 1;\nSHOW BACKENDS x",
        "Expected: end of statement, found: x at line 2, column 15",
    );
}

#[test]
fn misc_errors() {
    check_err(
        "SHOW PROC frontends",
        "Expected: a proc path string (e.g. '/frontends') after SHOW PROC, found: frontends at line 1, column 11",
    );
    check_err(
        "KILL abc",
        "Expected: a connection id after KILL, found: abc at line 1, column 6",
    );
    check_err(
        "SET x",
        "Expected: '=' or ':=' after the variable name, found: EOF at line 1, column 6",
    );
    check_err(
        "ADMIN SET FRONTEND CONFIG ('a' 'b')",
        "Expected: '=' after the property name, found: 'b' at line 1, column 32",
    );
    check_err(
        "SHOW TRANSACTION WHERE id = x",
        "Expected: a transaction id, found: x at line 1, column 29",
    );
    check_err(
        "GRANT FLY ON *.* TO 'u'",
        "Expected: a privilege (ALL, NODE, OPERATOR, ADMIN, GRANT, SELECT, INSERT, LOAD, ALTER, \
         CREATE, DROP, DELETE, UPDATE, USAGE), found: FLY at line 1, column 7",
    );
    check_err(
        "INSERT INTO t WITH LABEL",
        "Expected: a label after WITH LABEL, found: EOF at line 1, column 25",
    );
    check_err(
        "INSERT INTO t WITH LABEL 5 VALUES (1)",
        "Expected: a label after WITH LABEL, found: 5 at line 1, column 26",
    );
    check_err(
        "EXPLAIN SHOW TABLES",
        "Expected: a query or INSERT after EXPLAIN, found: SHOW at line 1, column 9",
    );
    check_err(
        "ALTER TABLE t RENAME t2",
        "Expected: SET (...), ADD PARTITION or DROP PARTITION after ALTER TABLE <table>, found: RENAME at line 1, column 15",
    );
    check_err(
        "SELECT",
        "Expected: an expression, found: EOF at line 1, column 7",
    );
}

#[test]
fn errors_carry_positions_on_later_lines() {
    let e = parse_err("SHOW DATABASES;\n\n  ALTER SYSTEM ADD FOLLWER 'x:1'");
    assert_eq!(
        e,
        ParseError {
            message:
                "Expected: FOLLOWER, OBSERVER or BACKEND after ALTER SYSTEM ADD, found: FOLLWER"
                    .into(),
            line: 3,
            column: 20,
        }
    );
}

#[test]
fn parse_statement_requires_one() {
    let e = parse_statement("SELECT 1; SELECT 2").unwrap_err();
    assert!(e.message.contains("exactly one statement"), "{e}");
}
