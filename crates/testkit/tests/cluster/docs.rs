//! The SQL in the user documentation runs as written.
//!
//! `docs/sql.md`, `docs/quickstart.md` and `docs/operations.md` mark their examples by the tag
//! of the fenced block:
//!
//! - ```` ```sql ````: run in order on one connection to a fresh cluster of 1 FE and 3 BEs;
//!   every statement must succeed;
//! - ```` ```sql-fails ````: statements the page says Tessera refuses; each must parse and
//!   must fail when run (on its own connection, after the page's `sql` blocks);
//! - ```` ```sql-norun ````: statements that need other machines or cluster-specific ids
//!   (`ALTER SYSTEM ADD FOLLOWER`, `KILL 12`, ...); each must parse.
//!
//! Other blocks (```` ```text ```` syntax summaries, ```` ```sh ````) are not SQL. sql.md runs
//! first, on the fresh cluster, so its first load is transaction 1, as the page says.

use std::path::PathBuf;

use tessera_testkit::Cluster;
use tessera_testkit::ip;
use tessera_testkit::wait_until;

use crate::WAIT;
use crate::phase;

/// A fenced code block of a Markdown page.
#[derive(Debug, PartialEq)]
struct Block {
    /// The info string after the opening fence (`sql`, `sql-norun`, ...), empty when none.
    tag: String,
    /// The line of the opening fence, 1-based.
    line: usize,
    /// The lines between the fences.
    text: String,
}

/// The fenced (```) code blocks of `markdown`; panics on a block that is never closed.
fn blocks(markdown: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut open: Option<Block> = None;
    for (i, line) in markdown.lines().enumerate() {
        let fence = line.trim_start().strip_prefix("```");
        match (&mut open, fence) {
            (None, Some(info)) => {
                open = Some(Block {
                    tag: info.trim().to_string(),
                    line: i + 1,
                    text: String::new(),
                });
            }
            (Some(_), Some(_)) => out.extend(open.take()),
            (Some(b), None) => {
                b.text.push_str(line);
                b.text.push('\n');
            }
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "a code block is not closed: {open:?}");
    out
}

/// Splits `text` into statements at `;` outside quotes, dropping `--` comments and blank
/// statements.
fn statements(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                cur.push(c);
                if c == '\\' {
                    cur.extend(chars.next());
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '\'' | '"' | '`' => {
                    quote = Some(c);
                    cur.push(c);
                }
                '-' if chars.peek() == Some(&'-') => {
                    for c in chars.by_ref() {
                        if c == '\n' {
                            cur.push('\n');
                            break;
                        }
                    }
                }
                ';' => {
                    if !cur.trim().is_empty() {
                        out.push(cur.trim().to_string());
                    }
                    cur.clear();
                }
                _ => cur.push(c),
            },
        }
    }
    assert!(quote.is_none(), "unclosed quote in:\n{text}");
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

/// The statements of every block tagged `tag`, each with the line of its block.
fn tagged(markdown: &str, tag: &str) -> Vec<(usize, String)> {
    blocks(markdown)
        .into_iter()
        .filter(|b| b.tag == tag)
        .flat_map(|b| statements(&b.text).into_iter().map(move |s| (b.line, s)))
        .collect()
}

fn read_doc(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Checks what can be checked without a cluster: the tags are known ones, and the statements
/// that are not run successfully parse.
fn check_static(name: &str, markdown: &str) {
    for b in blocks(markdown) {
        assert!(
            !b.tag.starts_with("sql")
                || ["sql", "sql-fails", "sql-norun"].contains(&b.tag.as_str()),
            "{name}:{}: unknown block tag '{}' (sql, sql-fails or sql-norun)",
            b.line,
            b.tag
        );
    }
    for tag in ["sql-fails", "sql-norun"] {
        for (line, stmt) in tagged(markdown, tag) {
            if let Err(e) = sql::parse_statement(&stmt) {
                panic!("{name}:{line}: a {tag} statement does not parse: {e}\n{stmt}");
            }
        }
    }
}

#[test]
fn markdown_blocks_and_statements_are_split_as_written() {
    let md = "text\n```sql\nSELECT 1; -- one\nSELECT ';' AS x;\n\n-- alone\n```\n\
              ```text\nSELECT 2;\n```\n```sql-norun\nKILL 3\n```\n";
    let b = blocks(md);
    assert_eq!(b.len(), 3);
    assert_eq!((b[0].tag.as_str(), b[0].line), ("sql", 2));
    assert_eq!(
        tagged(md, "sql"),
        vec![
            (2, "SELECT 1".to_string()),
            (2, "SELECT ';' AS x".to_string())
        ]
    );
    assert_eq!(tagged(md, "sql-norun"), vec![(11, "KILL 3".to_string())]);
    assert_eq!(
        statements("INSERT INTO t VALUES ('it\\'s;', \"a--b\");\nSELECT `we;ird`"),
        vec![
            "INSERT INTO t VALUES ('it\\'s;', \"a--b\")".to_string(),
            "SELECT `we;ird`".to_string()
        ]
    );
}

#[test]
fn documented_sql_runs_as_written() {
    let pages = [
        ("sql.md", read_doc("sql.md")),
        ("quickstart.md", read_doc("quickstart.md")),
        ("operations.md", read_doc("operations.md")),
    ];
    for (name, text) in &pages {
        check_static(name, text);
        assert!(
            !tagged(text, "sql").is_empty(),
            "{name} has no ```sql block to run"
        );
    }

    phase!("a cluster of 1 frontend and 3 backends");
    let mut c = Cluster::new("docs");
    c.start_fe(1, None);
    for i in 1..=3u8 {
        c.start_be(i);
        c.sql_ok(1, &format!("ALTER SYSTEM ADD BACKEND \"{}:9050\"", ip(i)));
    }
    wait_until(WAIT, "3 backends alive", || {
        let rows = c.sql(1, "SHOW BACKENDS").ok()?;
        (rows.maps().iter().filter(|m| m["Alive"] == "true").count() == 3).then_some(())
    });

    for (name, text) in &pages {
        let run = tagged(text, "sql");
        phase!("{name}: {} statements on one connection", run.len());
        let sqls: Vec<&str> = run.iter().map(|(_, s)| s.as_str()).collect();
        let results = c.session(1, &sqls);
        for (i, r) in results.iter().enumerate() {
            if let Err(e) = r {
                let (line, stmt) = run.get(i).map_or((0, "?"), |(l, s)| (*l, s.as_str()));
                panic!(
                    "{name}: the statement of the block at line {line} failed: {e}\n{stmt}\n\
                     (fe log tail:\n{})",
                    c.log_tail(1, 20)
                );
            }
        }
        assert_eq!(results.len(), run.len(), "{name}: not every statement ran");

        let fails = tagged(text, "sql-fails");
        phase!("{name}: {} statements that must fail", fails.len());
        for (line, stmt) in &fails {
            if let Ok(rows) = c.sql(1, stmt) {
                panic!(
                    "{name}: the block at line {line} says this statement is refused, but it \
                     succeeded:\n{stmt}\n{:?}",
                    rows.first_column()
                );
            }
        }
    }
}
