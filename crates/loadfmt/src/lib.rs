//! # tessera-loadfmt: the body formats of Stream Load
//!
//! The streaming readers a BE turns a Stream Load body into rows with ([`reader`]: CSV with
//! enclose/escape/trim_space, JSON lines or one outer array with `jsonpaths`/`json_root`),
//! and the small parsers of their options ([`parse_json_path`]). The request handling, the
//! column mapping and the conversion to typed values stay in the BE (`be::load`).
//!
//! It is a crate of its own so that the fuzz targets (`fuzz/`, docs/fuzzing.md) can build it
//! without DataFusion and Arrow. Every input is untrusted: a malformed body yields filtered
//! rows or an `Err` for the load, never a panic.

pub mod reader;

/// A step of a JSON path (`$.a.b[0]`, `$['a']`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathStep {
    /// An object key.
    Key(String),
    /// An array index.
    Index(usize),
}

/// Parses `$.a.b[0]`, `$['a'].b`, `$`.
pub fn parse_json_path(p: &str) -> Result<Vec<PathStep>, String> {
    let bad = |why: &str| format!("the JSON path '{p}' is invalid: {why}");
    let rest = p.trim();
    let mut rest = rest
        .strip_prefix('$')
        .ok_or_else(|| bad("it must start with $"))?;
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            if end == 0 {
                return Err(bad("an empty key"));
            }
            steps.push(PathStep::Key(r[..end].to_string()));
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').ok_or_else(|| bad("a `[` without `]`"))?;
            let inner = r[..end].trim();
            let quoted = inner
                .strip_prefix('\'')
                .and_then(|s| s.strip_suffix('\''))
                .or_else(|| inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')));
            if let Some(k) = quoted {
                steps.push(PathStep::Key(k.to_string()));
            } else {
                let i = inner
                    .parse::<usize>()
                    .map_err(|_| bad("an index must be a number or a quoted key"))?;
                steps.push(PathStep::Index(i));
            }
            rest = &r[end + 1..];
        } else {
            return Err(bad("expected `.` or `[`"));
        }
    }
    Ok(steps)
}

/// A byte for a message: itself when printable, else escaped (`\t`, `\x01`).
pub fn show_byte(b: u8) -> String {
    if b.is_ascii_graphic() {
        char::from(b).to_string()
    } else {
        b.escape_ascii().to_string()
    }
}

/// Checks that `enclose` and `escape` are not bytes of the column separator or the row
/// delimiter (the reader could not tell them apart).
pub fn check_csv_quoting(
    column_separator: &[u8],
    row_delimiter: &[u8],
    enclose: Option<u8>,
    escape: Option<u8>,
) -> Result<(), String> {
    for (name, c) in [("enclose", enclose), ("escape", escape)] {
        if let Some(c) = c {
            for (other, bytes) in [
                ("column_separator", column_separator),
                ("row_delimiter", row_delimiter),
            ] {
                if bytes.contains(&c) {
                    return Err(format!(
                        "{name} ('{}') cannot be a character of {other}",
                        show_byte(c)
                    ));
                }
            }
        }
    }
    Ok(())
}
