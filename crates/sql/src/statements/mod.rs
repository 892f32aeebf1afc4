//! AST types, one file per statement family, plus the shared pieces
//! ([`TableName`], [`ShowFilter`], [`Limit`]) and the quoting helpers that
//! every `Display` impl uses so that printed SQL parses back to an equal AST.

pub mod account;
pub mod admin;
pub mod alter_table;
pub mod dml;
pub mod set;
pub mod show;
pub mod system;
pub mod table;

use std::fmt;

use sqlparser::ast::Expr;
use sqlparser::keywords::ALL_KEYWORDS;

/// A possibly database-qualified table name: `[db.]table`. Case is kept as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TableName {
    /// The database, if the name was qualified.
    pub database: Option<String>,
    /// The table.
    pub table: String,
}

impl TableName {
    /// An unqualified name.
    pub fn new(table: impl Into<String>) -> Self {
        TableName {
            database: None,
            table: table.into(),
        }
    }

    /// A `db.table` name.
    pub fn qualified(database: impl Into<String>, table: impl Into<String>) -> Self {
        TableName {
            database: Some(database.into()),
            table: table.into(),
        }
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(db) = &self.database {
            write!(f, "{}.", Ident(db))?;
        }
        write!(f, "{}", Ident(&self.table))
    }
}

/// The `LIKE 'pattern'` / `WHERE expr` tail of many SHOW statements.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
// Built once per statement; boxing the big variant would only add indirection.
#[allow(clippy::large_enum_variant)]
pub enum ShowFilter {
    /// `LIKE 'pattern'` (the pattern, unquoted).
    Like(String),
    /// `WHERE expr`.
    Where(Expr),
}

impl fmt::Display for ShowFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShowFilter::Like(p) => write!(f, "LIKE {}", Str(p)),
            ShowFilter::Where(e) => write!(f, "WHERE {e}"),
        }
    }
}

/// `LIMIT [offset,] count` / `LIMIT count OFFSET offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Limit {
    /// Rows to skip.
    pub offset: Option<u64>,
    /// Rows to return.
    pub count: u64,
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.offset {
            Some(o) => write!(f, "LIMIT {o}, {}", self.count),
            None => write!(f, "LIMIT {}", self.count),
        }
    }
}

/// Displays an identifier: bare when that is unambiguous (ASCII word, not a
/// sqlparser keyword), otherwise in backticks with inner backticks doubled.
pub(crate) struct Ident<'a>(pub &'a str);

impl fmt::Display for Ident<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        let plain = s
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && ALL_KEYWORDS
                .binary_search(&s.to_ascii_uppercase().as_str())
                .is_err();
        if plain {
            f.write_str(s)
        } else {
            write!(f, "`{}`", s.replace('`', "``"))
        }
    }
}

/// Displays a string literal in single quotes, escaping `\` and `'`
/// (the MySQL dialect unescapes both when tokenizing).
pub(crate) struct Str<'a>(pub &'a str);

impl fmt::Display for Str<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_quoted(f, self.0, '\'')
    }
}

/// Displays a string literal in double quotes (StarRocks style for hosts and
/// properties), escaping `\` and `"`.
pub(crate) struct DqStr<'a>(pub &'a str);

impl fmt::Display for DqStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_quoted(f, self.0, '"')
    }
}

fn write_quoted(f: &mut fmt::Formatter<'_>, s: &str, q: char) -> fmt::Result {
    use fmt::Write;
    f.write_char(q)?;
    for c in s.chars() {
        if c == '\\' || c == q {
            f.write_char('\\')?;
        }
        f.write_char(c)?;
    }
    f.write_char(q)
}

/// Displays items separated by `", "`.
pub(crate) struct Comma<'a, T>(pub &'a [T]);

impl<T: fmt::Display> fmt::Display for Comma<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, item) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{item}")?;
        }
        Ok(())
    }
}

/// Displays a list of identifiers separated by `", "`.
pub(crate) struct IdentList<'a>(pub &'a [String]);

impl fmt::Display for IdentList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, item) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}", Ident(item))?;
        }
        Ok(())
    }
}

/// Displays a list of double-quoted strings separated by `", "`.
pub(crate) struct DqStrList<'a>(pub &'a [String]);

impl fmt::Display for DqStrList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, item) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}", DqStr(item))?;
        }
        Ok(())
    }
}

/// Displays `("k" = "v", ...)`.
pub(crate) struct KvList<'a>(pub &'a [(String, String)]);

impl fmt::Display for KvList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(")?;
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{} = {}", DqStr(k), DqStr(v))?;
        }
        f.write_str(")")
    }
}

/// Displays ` PARTITION (p1, p2)` or nothing for an empty list.
pub(crate) struct PartitionNames<'a>(pub &'a [String]);

impl fmt::Display for PartitionNames<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            Ok(())
        } else {
            write!(f, " PARTITION ({})", IdentList(self.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ident_quoting() {
        assert_eq!(Ident("t1").to_string(), "t1");
        assert_eq!(Ident("T_1").to_string(), "T_1");
        assert_eq!(Ident("select").to_string(), "`select`");
        assert_eq!(Ident("1abc").to_string(), "`1abc`");
        assert_eq!(Ident("a-b").to_string(), "`a-b`");
        assert_eq!(Ident("a`b").to_string(), "`a``b`");
        assert_eq!(Ident("").to_string(), "``");
    }

    #[test]
    fn string_quoting() {
        assert_eq!(Str("it's").to_string(), r"'it\'s'");
        assert_eq!(Str(r"a\b").to_string(), r"'a\\b'");
        assert_eq!(DqStr(r#"say "hi""#).to_string(), r#""say \"hi\"""#);
    }
}
