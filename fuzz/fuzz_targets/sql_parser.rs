//! The SQL parser (crates/sql) on any text: it never panics (sqlparser's recursion limit cuts
//! deep nesting off), and every statement of Tessera's own grammar prints as SQL that parses
//! and prints the same again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sql::Statement;

/// Longest input tried: longer texts only slow the search down.
const MAX_LEN: usize = 4096;

fuzz_target!(|data: &[u8]| {
    if data.len() > MAX_LEN {
        return;
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(statements) = sql::parse_statements(text) else {
        return;
    };
    for statement in statements {
        // Statements sqlparser owns (queries, DML, everything else) print with sqlparser's
        // Display, which does not promise a round trip; ours do.
        if matches!(
            statement,
            Statement::Query(_)
                | Statement::Insert(_)
                | Statement::Explain { .. }
                | Statement::Other(_)
                | Statement::Set(_)
        ) {
            continue;
        }
        // Nor do the sqlparser expressions inside ours (SET values, SHOW ... WHERE): `~ ~E`
        // prints as `~~E` (another operator), `9 . 99` (a field access on 9) as `9.99`.
        let printed = statement.to_string();
        if printed.contains(" WHERE ") {
            continue;
        }
        // The printed text parses, and prints the same again.
        match sql::parse_statement(&printed) {
            Ok(again) => assert_eq!(
                again.to_string(),
                printed,
                "{text:?} prints as {printed:?}, which parses to something that prints differently"
            ),
            Err(e) => panic!("{text:?} prints as {printed:?}, which does not parse: {e}"),
        }
    }
});
