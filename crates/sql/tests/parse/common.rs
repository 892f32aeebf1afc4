//! Helpers shared by the test modules.

use tessera_sql::sqlparser::ast::Expr;
use tessera_sql::sqlparser::dialect::MySqlDialect;
use tessera_sql::sqlparser::parser::Parser;
use tessera_sql::{ParseError, Statement, parse_statement, parse_statements};

/// Parses exactly one statement, checks the Display round trip, returns it.
#[track_caller]
pub fn check(sql: &str) -> Statement {
    let stmt = match parse_statement(sql) {
        Ok(s) => s,
        Err(e) => panic!("failed to parse {sql:?}: {e}"),
    };
    assert_round_trip(&stmt);
    stmt
}

/// `Display` output parses back to an equal AST, and printing is stable.
#[track_caller]
pub fn assert_round_trip(stmt: &Statement) {
    let printed = stmt.to_string();
    let back = match parse_statement(&printed) {
        Ok(s) => s,
        Err(e) => panic!("printed form {printed:?} does not parse: {e}"),
    };
    assert_eq!(
        &back, stmt,
        "round trip changed the AST; printed: {printed}"
    );
    assert_eq!(back.to_string(), printed, "printing is not stable");
}

/// Parses and compares with `expected` (plus the round trip).
#[track_caller]
pub fn check_eq(sql: &str, expected: Statement) {
    assert_eq!(check(sql), expected, "for {sql:?}");
}

/// Every SQL text in `sqls` parses to the same statement as the first.
#[track_caller]
pub fn check_all_eq(sqls: &[&str]) {
    let first = check(sqls[0]);
    for sql in &sqls[1..] {
        assert_eq!(check(sql), first, "{sql:?} differs from {:?}", sqls[0]);
    }
}

/// Parsing must fail; returns the error.
#[track_caller]
pub fn parse_err(sql: &str) -> ParseError {
    match parse_statements(sql) {
        Ok(s) => panic!("{sql:?} parsed, expected an error: {s:?}"),
        Err(e) => e,
    }
}

/// Parsing fails with exactly this Display text.
#[track_caller]
pub fn check_err(sql: &str, expected: &str) {
    assert_eq!(parse_err(sql).to_string(), expected, "for {sql:?}");
}

/// A sqlparser expression (for expected WHERE clauses).
#[track_caller]
pub fn expr(sql: &str) -> Expr {
    let dialect = MySqlDialect {};
    let mut p = match Parser::new(&dialect).try_with_sql(sql) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    };
    match p.parse_expr() {
        Ok(e) => e,
        Err(e) => panic!("{e}"),
    }
}

/// Owned `(k, v)` pairs.
pub fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Owned strings.
pub fn strs(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}
