//! Never panic, never overflow the stack: deep nesting and a few thousand
//! mutated variants of valid statements.

use tessera_sql::{ParseError, Statement, parse_statement, parse_statements};

/// Valid statements the mutations start from (one of each family).
const SEEDS: &[&str] = &[
    "select @@version_comment limit 1",
    "SELECT a, count(*) FROM db.t WHERE b > 1 AND c IN (1, 2) GROUP BY a ORDER BY a DESC LIMIT 10",
    "WITH c AS (SELECT 1 AS a) SELECT a FROM c",
    "CREATE DATABASE IF NOT EXISTS db1 PROPERTIES ('k' = 'v')",
    "DROP DATABASE IF EXISTS db1 FORCE",
    "SHOW DATABASES LIKE 'd%'",
    "USE db1",
    "ALTER SYSTEM ADD FOLLOWER \"h1:9010\", 'h2:9010'",
    "ALTER SYSTEM DROP BACKEND 'h:9050' FORCE",
    "ALTER SYSTEM DROPP BACKEND 'h:9050'",
    "ALTER SYSTEM MODIFY FRONTEND HOST 'a' TO 'b'",
    "CANCEL DECOMMISSION BACKEND 'h:9050'",
    "SHOW PROC '/frontends'",
    "ADMIN SET FRONTEND CONFIG (\"a\" = 1, 'b' = \"x\")",
    "ADMIN SHOW FRONTEND CONFIG LIKE '%sched%'",
    "SET NAMES utf8mb4 COLLATE utf8mb4_general_ci, @@session.autocommit = 1, @u = 2, GLOBAL x = DEFAULT",
    "SET PASSWORD FOR 'u'@'%' = PASSWORD('p')",
    "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
    "SHOW GLOBAL VARIABLES WHERE Variable_name = 'version'",
    "SHOW FULL PROCESSLIST",
    "KILL QUERY 5",
    "CREATE TABLE IF NOT EXISTS db.t (k1 DATE NOT NULL COMMENT 'c', v DECIMAL(10, 2) SUM DEFAULT '0') \
     ENGINE = OLAP AGGREGATE KEY(k1) COMMENT 't' PARTITION BY RANGE(k1) (PARTITION p1 VALUES LESS THAN \
     ('2020-01-01'), PARTITION p2 VALUES [('2020-01-01'), ('2021-01-01')), START ('2021-01-01') END \
     ('2022-01-01') EVERY (INTERVAL 1 MONTH)) DISTRIBUTED BY HASH(k1) BUCKETS 3 ORDER BY (k1) \
     PROPERTIES ('replication_num' = '1')",
    "SHOW FULL COLUMNS FROM t FROM db LIKE 'a%'",
    "ALTER TABLE t ADD PARTITION IF NOT EXISTS p VALUES LESS THAN MAXVALUE ('k' = 'v') DISTRIBUTED BY RANDOM BUCKETS 2",
    "ALTER TABLE t DROP PARTITION IF EXISTS p FORCE",
    "INSERT INTO db.t PARTITION (p1) WITH LABEL l1 (a, b) VALUES (1, 'x')",
    "SHOW TABLET FROM t PARTITION (p1) WHERE version = 1 ORDER BY TabletId LIMIT 1, 2",
    "ADMIN SHOW REPLICA STATUS FROM t PARTITION (p1, p2) WHERE STATUS != 'OK'",
    "ADMIN SET REPLICA STATUS PROPERTIES ('tablet_id' = '1', 'backend_id' = '2', 'status' = 'bad')",
    "SHOW TRANSACTION FROM db WHERE id = 7",
    "SHOW LOAD FROM db WHERE LABEL = 'l' ORDER BY CreateTime LIMIT 3",
    "CANCEL LOAD FROM db WHERE LABEL = 'l'",
    "GRANT SELECT, INSERT ON db.* TO 'u'@'%'",
    "REVOKE ALL ON *.* FROM ROLE r",
    "CREATE USER IF NOT EXISTS 'u'@'h' IDENTIFIED BY 'p'",
    "EXPLAIN VERBOSE SELECT 1",
    "DESC db.t ALL",
];

/// Small deterministic PRNG (xorshift64*), so failures are reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const NOISE: &[&str] = &[
    "(",
    ")",
    "'",
    "\"",
    "`",
    ";",
    ",",
    ".",
    "=",
    "@",
    "@@",
    "*",
    "-",
    "[",
    "]",
    " ",
    "\\",
    "/*",
    "--",
    "0",
    "99999999999999999999999",
    "NULL",
    "SELECT",
    "FROM",
    "WHERE",
    "PARTITION",
    "VALUES",
    "LESS",
    "THAN",
    "MAXVALUE",
    "BUCKETS",
    "ADD",
    "DROP",
    "FORCE",
    "LABEL",
    "WITH",
    "SET",
    "GLOBAL",
    "DEFAULT",
    "NAMES",
    "é",
    "\u{0}",
    "\n",
];

/// Cuts `s` at a char boundary at or below `i`.
fn floor(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn mutate(rng: &mut Rng, seed: &str) -> String {
    let s = seed.to_string();
    let len = s.len();
    match rng.below(6) {
        // Truncate.
        0 => s[..floor(&s, rng.below(len + 1))].to_string(),
        // Delete a range.
        1 => {
            let a = floor(&s, rng.below(len + 1));
            let b = floor(&s, a + rng.below(8));
            format!("{}{}", &s[..a], &s[b.max(a)..])
        }
        // Insert noise.
        2 => {
            let at = floor(&s, rng.below(len + 1));
            let noise = NOISE[rng.below(NOISE.len())];
            format!("{}{}{}", &s[..at], noise, &s[at..])
        }
        // Duplicate a slice.
        3 => {
            let a = floor(&s, rng.below(len + 1));
            let b = floor(&s, a + rng.below(20)).max(a);
            format!("{}{}{}", &s[..b], &s[a..b], &s[b..])
        }
        // Swap two words.
        4 => {
            let mut words: Vec<&str> = s.split(' ').collect();
            let (i, j) = (rng.below(words.len()), rng.below(words.len()));
            words.swap(i, j);
            words.join(" ")
        }
        // Replace a word with noise.
        _ => {
            let mut words: Vec<&str> = s.split(' ').collect();
            let i = rng.below(words.len());
            words[i] = NOISE[rng.below(NOISE.len())];
            words.join(" ")
        }
    }
}

/// Statements whose every part is our own AST (not a sqlparser statement).
fn fully_ours(stmt: &Statement) -> bool {
    !matches!(
        stmt,
        Statement::Query(_)
            | Statement::Other(_)
            | Statement::Insert(_)
            | Statement::Explain { .. }
    )
}

fn assert_no_internal_error(sql: &str, e: &ParseError) {
    assert!(
        !e.message.starts_with("internal error"),
        "parser panicked on {sql:?}"
    );
}

#[test]
fn seeds_are_valid() {
    for seed in SEEDS {
        if let Err(e) = parse_statement(seed) {
            panic!("seed {seed:?} does not parse: {e}");
        }
    }
}

#[test]
fn mutated_statements_never_panic() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut parsed = 0;
    let mut failed = 0;
    for round in 0..4000 {
        let seed = SEEDS[round % SEEDS.len()];
        let mut sql = mutate(&mut rng, seed);
        if rng.below(3) == 0 {
            sql = mutate(&mut rng, &sql);
        }
        match parse_statements(&sql) {
            Ok(stmts) => {
                parsed += 1;
                // Whatever parses must print back to an equal AST.
                for stmt in stmts.iter().filter(|s| fully_ours(s)) {
                    let printed = stmt.to_string();
                    match parse_statement(&printed) {
                        Ok(back) => assert_eq!(
                            &back, stmt,
                            "round trip of mutated {sql:?} changed via {printed:?}"
                        ),
                        Err(e) => panic!("mutated {sql:?} printed as {printed:?}: {e}"),
                    }
                }
            }
            Err(e) => {
                failed += 1;
                assert_no_internal_error(&sql, &e);
                assert!(e.has_location(), "error without position for {sql:?}: {e}");
            }
        }
    }
    // The mutations exercise both paths.
    assert!(
        parsed > 100 && failed > 100,
        "parsed {parsed}, failed {failed}"
    );
}

#[test]
fn every_prefix_of_every_seed() {
    for seed in SEEDS {
        for end in 0..=seed.len() {
            if seed.is_char_boundary(end) {
                let sql = &seed[..end];
                if let Err(e) = parse_statements(sql) {
                    assert_no_internal_error(sql, &e);
                }
            }
        }
    }
}

fn assert_too_deep(sql: &str) {
    let e = parse_err_any(sql);
    assert!(
        e.message.contains("too deeply nested") || e.message.starts_with("Expected"),
        "unexpected error for deep input: {e}"
    );
    assert_no_internal_error(sql, &e);
}

fn parse_err_any(sql: &str) -> ParseError {
    match parse_statements(sql) {
        Ok(_) => panic!("deeply nested input parsed"),
        Err(e) => e,
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let n = 10_000;
    let open = "(".repeat(n);
    let close = ")".repeat(n);
    assert_too_deep(&open);
    assert_too_deep(&format!("SELECT {open}1{close}"));
    assert_too_deep(&format!("{open}SELECT 1{close}"));
    assert_too_deep(&format!("SELECT {}1", "-".repeat(n)));
    assert_too_deep(&format!("SELECT {}1", "NOT ".repeat(n)));
    assert_too_deep(&format!("SHOW TABLES WHERE {open}1{close}"));
    assert_too_deep(&format!("SET x = {open}1{close}"));
    assert_too_deep(&format!("SHOW TABLET FROM t WHERE {open}1{close}"));
    assert_too_deep(&format!("INSERT INTO t WITH LABEL l SELECT {open}1{close}"));
    assert_too_deep(&format!("EXPLAIN {open}SELECT 1{close}"));
    assert_too_deep(&"EXPLAIN ".repeat(n));
    assert_too_deep(&format!("SELECT * FROM {open}t{close}"));

    let e = parse_err_any(&format!("SELECT {open}1{close}"));
    assert!(e.message.contains("too deeply nested"), "{e}");
    assert!(e.has_location(), "{e}");
}

#[test]
fn moderate_nesting_still_parses() {
    let sql = format!("SELECT {}1{}", "(".repeat(20), ")".repeat(20));
    assert!(parse_statement(&sql).is_ok());
}

#[test]
fn long_flat_inputs_are_fine() {
    let list = vec!["'h:1'"; 5000].join(", ");
    assert!(parse_statement(&format!("ALTER SYSTEM ADD BACKEND {list}")).is_ok());
    let sum = vec!["1"; 5000].join(" + ");
    assert!(parse_statement(&format!("SELECT {sum}")).is_ok());
    let many = "SELECT 1;".repeat(2000);
    assert_eq!(parse_statements(&many).map(|v| v.len()), Ok(2000));
}
