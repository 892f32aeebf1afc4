//! Server-side prepared statements, implemented in the codec by text
//! substitution: PREPARE records where the `?` placeholders are (outside
//! strings, identifiers and comments); EXECUTE decodes the binary parameter
//! values, renders each as a properly quoted SQL literal and splices it in.
//! The handler only ever sees plain SQL text.

use std::collections::HashMap;

use crate::resultset::ErrorInfo;
use crate::value::{TimeParts, Value, format_date, format_datetime, format_float};
use crate::wire::{Malformed, Reader};

/// Per-connection cap on open statements (MySQL's default
/// `max_prepared_stmt_count`), so a client cannot grow memory without bound.
pub(crate) const MAX_STATEMENTS: usize = 16_382;

/// Where the placeholders of a statement are and whether it holds more than
/// one statement.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct SqlScan {
    /// Byte offsets of each `?` placeholder.
    pub(crate) placeholders: Vec<usize>,
    /// True if something other than whitespace and comments follows a `;`.
    pub(crate) multiple_statements: bool,
}

/// Finds placeholders and statement separators, skipping '…' and "…"
/// strings (with backslash and doubled-quote escapes), `…` identifiers,
/// `-- `, `#` and `/* */` comments.
pub(crate) fn scan_sql(sql: &str) -> SqlScan {
    let b = sql.as_bytes();
    let mut scan = SqlScan::default();
    let mut after_semicolon = false;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        // Anything but whitespace, comments and ';' counts as statement text.
        let mut token = true;
        i = match c {
            b'\'' | b'"' => skip_quoted(b, i, c, true),
            b'`' => skip_quoted(b, i, c, false),
            b'#' => {
                token = false;
                skip_line(b, i)
            }
            // MySQL only treats "--" as a comment when whitespace (or the end)
            // follows, so `1--1` stays arithmetic.
            b'-' if next == Some(b'-')
                && b.get(i + 2)
                    .is_none_or(|c| c.is_ascii_whitespace() || c.is_ascii_control()) =>
            {
                token = false;
                skip_line(b, i)
            }
            b'/' if next == Some(b'*') => {
                token = false;
                skip_block_comment(b, i)
            }
            b';' => {
                token = false;
                after_semicolon = true;
                i + 1
            }
            c if c.is_ascii_whitespace() => {
                token = false;
                i + 1
            }
            b'?' => {
                scan.placeholders.push(i);
                i + 1
            }
            _ => i + 1,
        };
        if token && after_semicolon {
            scan.multiple_statements = true;
        }
    }
    scan
}

/// Index just past the closing quote (or the end if unterminated).
fn skip_quoted(b: &[u8], start: usize, quote: u8, backslash: bool) -> usize {
    let mut i = start + 1;
    while i < b.len() {
        if backslash && b[i] == b'\\' {
            i += 2;
        } else if b[i] == quote {
            if b.get(i + 1) == Some(&quote) {
                i += 2; // doubled quote is an escaped quote
            } else {
                return i + 1;
            }
        } else {
            i += 1;
        }
    }
    b.len()
}

fn skip_line(b: &[u8], start: usize) -> usize {
    b[start..]
        .iter()
        .position(|&c| c == b'\n')
        .map_or(b.len(), |p| start + p + 1)
}

fn skip_block_comment(b: &[u8], start: usize) -> usize {
    b[start + 2..]
        .windows(2)
        .position(|w| w == b"*/")
        .map_or(b.len(), |p| start + 2 + p + 2)
}

/// Type of one parameter as the client declared it at EXECUTE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ParamType {
    pub(crate) code: u8,
    pub(crate) unsigned: bool,
}

fn malformed(_: Malformed) -> ErrorInfo {
    ErrorInfo::new(1835, "HY000", "Malformed communication packet.")
}

fn wrong_arguments(what: &str) -> ErrorInfo {
    ErrorInfo::new(1210, "HY000", format!("Incorrect arguments to {what}"))
}

fn unknown_statement(id: u32, what: &str) -> ErrorInfo {
    ErrorInfo::new(
        1243,
        "HY000",
        format!("Unknown prepared statement handler ({id}) given to {what}"),
    )
}

/// Text for byte strings: valid UTF-8 becomes [`Value::Text`].
fn text_or_bytes(bytes: &[u8]) -> Value {
    match std::str::from_utf8(bytes) {
        Ok(s) => Value::Text(s.to_owned()),
        Err(_) => Value::Bytes(bytes.to_vec()),
    }
}

/// Decodes one binary-protocol parameter value of type `t`.
pub(crate) fn decode_param(t: ParamType, r: &mut Reader<'_>) -> Result<Value, ErrorInfo> {
    let u = t.unsigned;
    let v = match t.code {
        0x06 => Value::Null,
        0x01 => {
            let v = r.u8().map_err(malformed)?;
            if u {
                Value::UInt(u64::from(v))
            } else {
                Value::Int(i64::from(v as i8))
            }
        }
        0x02 | 0x0d => {
            let v = r.u16().map_err(malformed)?;
            if u {
                Value::UInt(u64::from(v))
            } else {
                Value::Int(i64::from(v as i16))
            }
        }
        0x03 | 0x09 => {
            let v = r.u32().map_err(malformed)?;
            if u {
                Value::UInt(u64::from(v))
            } else {
                Value::Int(i64::from(v as i32))
            }
        }
        0x08 => {
            let v = r.u64().map_err(malformed)?;
            if u {
                Value::UInt(v)
            } else {
                Value::Int(v as i64)
            }
        }
        0x04 => Value::Float(f32::from_bits(r.u32().map_err(malformed)?)),
        0x05 => Value::Double(f64::from_bits(r.u64().map_err(malformed)?)),
        0x00 | 0xf6 => {
            let s = r.lenenc_bytes().map_err(malformed)?;
            match std::str::from_utf8(s) {
                Ok(s) => Value::Decimal(s.to_owned()),
                Err(_) => return Err(wrong_arguments("mysqld_stmt_execute")),
            }
        }
        0x07 | 0x0a | 0x0c => decode_datetime(t.code, r).map_err(malformed)?,
        0x0b => Value::Text(decode_time(r).map_err(malformed)?.to_string()),
        0x10 => {
            let bits = r.lenenc_bytes().map_err(malformed)?;
            if bits.len() <= 8 {
                Value::UInt(bits.iter().fold(0u64, |acc, &b| acc << 8 | u64::from(b)))
            } else {
                Value::Bytes(bits.to_vec())
            }
        }
        // VARCHAR, JSON, ENUM, SET, VAR_STRING, STRING.
        0x0f | 0xf5 | 0xf7 | 0xf8 | 0xfd | 0xfe => {
            text_or_bytes(r.lenenc_bytes().map_err(malformed)?)
        }
        // TINY/MEDIUM/LONG BLOB, BLOB, GEOMETRY: binary data.
        0xf9..=0xfc | 0xff => Value::Bytes(r.lenenc_bytes().map_err(malformed)?.to_vec()),
        _ => return Err(wrong_arguments("mysqld_stmt_execute")),
    };
    Ok(v)
}

fn decode_datetime(code: u8, r: &mut Reader<'_>) -> Result<Value, Malformed> {
    let len = r.u8()?;
    let (mut year, mut month, mut day) = (0, 0, 0);
    let (mut hour, mut minute, mut second, mut micros) = (0, 0, 0, 0);
    if !matches!(len, 0 | 4 | 7 | 11) {
        return Err(Malformed);
    }
    if len >= 4 {
        year = r.u16()?;
        month = r.u8()?;
        day = r.u8()?;
    }
    if len >= 7 {
        hour = r.u8()?;
        minute = r.u8()?;
        second = r.u8()?;
    }
    if len == 11 {
        micros = r.u32()?;
    }
    Ok(if code == 0x0a {
        Value::Date { year, month, day }
    } else {
        Value::DateTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
            micros,
        }
    })
}

fn decode_time(r: &mut Reader<'_>) -> Result<TimeParts, Malformed> {
    let len = r.u8()?;
    let mut t = TimeParts::default();
    match len {
        0 => return Ok(t),
        8 | 12 => {}
        _ => return Err(Malformed),
    }
    t.negative = r.u8()? != 0;
    let days = r.u32()?;
    let hour = r.u8()?;
    t.hours = days.saturating_mul(24).saturating_add(u32::from(hour));
    t.minute = r.u8()?;
    t.second = r.u8()?;
    if len == 12 {
        t.micros = r.u32()?;
    }
    Ok(t)
}

/// True for `[+-]digits[.digits][e[+-]digits]` (at least one digit).
fn is_numeric_literal(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let mut n = digits(&mut i);
    if b.get(i) == Some(&b'.') {
        i += 1;
        n += digits(&mut i);
    }
    if n == 0 {
        return false;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Appends `s` as a single-quoted string literal. Quotes are doubled (which
/// is safe whether or not the parser honours backslash escapes), backslashes
/// doubled and NUL written as `\0`.
fn push_quoted(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('\'');
    for ch in s.chars() {
        match ch {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
    out.push('\'');
}

fn push_float(out: &mut String, text: String, finite: bool) {
    if finite {
        out.push_str(&text);
    } else {
        // NaN/inf have no SQL literal; hand them over as strings.
        push_quoted(out, &text);
    }
}

/// Renders a value as an SQL literal.
pub(crate) fn render_literal(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Null => out.push_str("NULL"),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::UInt(u) => out.push_str(&u.to_string()),
        Value::Float(f) => push_float(&mut out, format_float(*f), f.is_finite()),
        Value::Double(f) => push_float(&mut out, format_float(*f), f.is_finite()),
        Value::Decimal(s) if is_numeric_literal(s) => out.push_str(s),
        Value::Decimal(s) | Value::Text(s) => push_quoted(&mut out, s),
        Value::Bytes(b) => match std::str::from_utf8(b) {
            Ok(s) => push_quoted(&mut out, s),
            Err(_) => {
                out.push_str("X'");
                for byte in b {
                    out.push_str(&format!("{byte:02X}"));
                }
                out.push('\'');
            }
        },
        Value::Date { year, month, day } => {
            push_quoted(&mut out, &format_date(*year, *month, *day));
        }
        Value::DateTime { .. } => {
            if let Some(p) = v.as_datetime() {
                push_quoted(&mut out, &format_datetime(&p, None));
            }
        }
    }
    out
}

/// Replaces the placeholders at `positions` with `literals`.
pub(crate) fn substitute(sql: &str, positions: &[usize], literals: &[String]) -> String {
    let extra: usize = literals.iter().map(|l| l.len() + 1).sum();
    let mut out = String::with_capacity(sql.len() + extra);
    let mut last = 0;
    for (&pos, literal) in positions.iter().zip(literals) {
        out.push_str(&sql[last..pos]);
        // `1-?` with -5 must not become the comment start `1--5`.
        if literal.starts_with('-') && out.ends_with('-') {
            out.push(' ');
        }
        out.push_str(literal);
        last = pos + 1;
    }
    out.push_str(&sql[last..]);
    out
}

#[derive(Debug)]
struct Statement {
    sql: String,
    placeholders: Vec<usize>,
    /// Types from the last EXECUTE that bound them; reused when a later
    /// EXECUTE sets new-params-bound = 0.
    types: Option<Vec<ParamType>>,
    /// COM_STMT_SEND_LONG_DATA chunks per parameter since the last EXECUTE.
    long_data: Vec<Option<Vec<u8>>>,
    long_data_bytes: usize,
    long_data_overflow: bool,
}

impl Statement {
    /// Forgets the long data; returns how many bytes were freed.
    fn clear_long_data(&mut self) -> usize {
        self.long_data.iter_mut().for_each(|d| *d = None);
        self.long_data_overflow = false;
        std::mem::take(&mut self.long_data_bytes)
    }
}

/// The prepared statements of one connection, with connection-wide caps on
/// what they may hold, so memory stays bounded whatever the client sends.
#[derive(Debug)]
pub(crate) struct Statements {
    next_id: u32,
    map: HashMap<u32, Statement>,
    /// Cap on long data buffered across all statements.
    max_long_data: usize,
    long_data_total: usize,
    /// Cap on the SQL text of all open statements.
    max_sql_bytes: usize,
    sql_bytes: usize,
}

impl Statements {
    pub(crate) fn new(max_long_data: usize, max_sql_bytes: usize) -> Self {
        Self {
            next_id: 1,
            map: HashMap::new(),
            max_long_data,
            long_data_total: 0,
            max_sql_bytes,
            sql_bytes: 0,
        }
    }

    /// Registers `sql`; returns the statement id and the parameter count.
    pub(crate) fn prepare(&mut self, sql: &str) -> Result<(u32, u16), ErrorInfo> {
        let scan = scan_sql(sql);
        if scan.multiple_statements {
            return Err(ErrorInfo::new(
                1064,
                "42000",
                "You have an error in your SQL syntax; a prepared statement must contain a single statement",
            ));
        }
        let Ok(count) = u16::try_from(scan.placeholders.len()) else {
            return Err(ErrorInfo::new(
                1390,
                "HY000",
                "Prepared statement contains too many placeholders",
            ));
        };
        if self.sql_bytes + sql.len() > self.max_sql_bytes {
            return Err(ErrorInfo::new(
                1461,
                "42000",
                format!(
                    "Can't create more prepared statements: their total size would exceed {} bytes",
                    self.max_sql_bytes
                ),
            ));
        }
        if self.map.len() >= MAX_STATEMENTS {
            return Err(ErrorInfo::new(
                1461,
                "42000",
                format!(
                    "Can't create more than max_prepared_stmt_count statements (current value: {MAX_STATEMENTS})"
                ),
            ));
        }
        let mut id = self.next_id;
        while self.map.contains_key(&id) {
            id = id.wrapping_add(1).max(1);
        }
        self.next_id = id.wrapping_add(1).max(1);
        self.sql_bytes += sql.len();
        self.map.insert(
            id,
            Statement {
                sql: sql.to_owned(),
                long_data: vec![None; scan.placeholders.len()],
                placeholders: scan.placeholders,
                types: None,
                long_data_bytes: 0,
                long_data_overflow: false,
            },
        );
        Ok((id, count))
    }

    /// COM_STMT_CLOSE.
    pub(crate) fn close(&mut self, body: &[u8]) {
        if let Ok(id) = Reader::new(body).u32()
            && let Some(stmt) = self.map.remove(&id)
        {
            self.sql_bytes -= stmt.sql.len();
            self.long_data_total -= stmt.long_data_bytes;
        }
    }

    /// COM_STMT_RESET: forgets long data.
    pub(crate) fn reset(&mut self, body: &[u8]) -> Result<(), ErrorInfo> {
        let id = Reader::new(body).u32().map_err(malformed)?;
        let stmt = self
            .map
            .get_mut(&id)
            .ok_or_else(|| unknown_statement(id, "mysqld_stmt_reset"))?;
        self.long_data_total -= stmt.clear_long_data();
        Ok(())
    }

    /// Drops every statement (COM_RESET_CONNECTION).
    pub(crate) fn clear(&mut self) {
        self.map.clear();
        self.sql_bytes = 0;
        self.long_data_total = 0;
    }

    /// COM_STMT_SEND_LONG_DATA. The protocol allows no reply, so problems
    /// are remembered and reported by the next EXECUTE.
    pub(crate) fn send_long_data(&mut self, body: &[u8]) {
        let mut r = Reader::new(body);
        let (Ok(id), Ok(param)) = (r.u32(), r.u16()) else {
            return;
        };
        let data = r.rest();
        let Some(stmt) = self.map.get_mut(&id) else {
            return;
        };
        if stmt.long_data_overflow {
            return;
        }
        if self.long_data_total + data.len() > self.max_long_data {
            self.long_data_total -= stmt.clear_long_data();
            stmt.long_data_overflow = true;
            return;
        }
        if let Some(slot) = stmt.long_data.get_mut(usize::from(param)) {
            stmt.long_data_bytes += data.len();
            self.long_data_total += data.len();
            slot.get_or_insert_with(Vec::new).extend_from_slice(data);
        }
    }

    /// COM_STMT_EXECUTE: decodes the parameters and returns the SQL text to
    /// run. Long data is consumed whatever the outcome.
    pub(crate) fn execute(&mut self, body: &[u8]) -> Result<String, ErrorInfo> {
        let mut r = Reader::new(body);
        let id = r.u32().map_err(malformed)?;
        let stmt = self
            .map
            .get_mut(&id)
            .ok_or_else(|| unknown_statement(id, "mysqld_stmt_execute"))?;
        let result = bind(stmt, &mut r);
        self.long_data_total -= stmt.clear_long_data();
        result
    }
}

fn bind(stmt: &mut Statement, r: &mut Reader<'_>) -> Result<String, ErrorInfo> {
    // Cursor flags are ignored: results are always sent in full, which every
    // client accepts when SERVER_STATUS_CURSOR_EXISTS is not set.
    let _flags = r.u8().map_err(malformed)?;
    let _iterations = r.u32().map_err(malformed)?;
    let n = stmt.placeholders.len();
    if n == 0 {
        return Ok(stmt.sql.clone());
    }
    if stmt.long_data_overflow {
        return Err(ErrorInfo::new(
            1153,
            "08S01",
            "Got a packet bigger than 'max_allowed_packet' bytes",
        ));
    }
    let null_bitmap = r.bytes(n.div_ceil(8)).map_err(malformed)?;
    let new_params_bound = r.u8().map_err(malformed)? != 0;
    let types = if new_params_bound {
        let mut types = Vec::with_capacity(n);
        for _ in 0..n {
            let code = r.u8().map_err(malformed)?;
            let flags = r.u8().map_err(malformed)?;
            types.push(ParamType {
                code,
                unsigned: flags & 0x80 != 0,
            });
        }
        types
    } else {
        stmt.types
            .clone()
            .ok_or_else(|| wrong_arguments("mysqld_stmt_execute"))?
    };
    let mut literals = Vec::with_capacity(n);
    for (i, &t) in types.iter().enumerate() {
        // Long data wins over the NULL bit, as in MySQL.
        let value = if let Some(data) = stmt.long_data[i].take() {
            match String::from_utf8(data) {
                Ok(s) => Value::Text(s),
                Err(e) => Value::Bytes(e.into_bytes()),
            }
        } else if null_bitmap[i / 8] & (1 << (i % 8)) != 0 {
            Value::Null
        } else {
            decode_param(t, r)?
        };
        literals.push(render_literal(&value));
    }
    if new_params_bound {
        stmt.types = Some(types);
    }
    Ok(substitute(&stmt.sql, &stmt.placeholders, &literals))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::put_lenenc_bytes;

    fn count(sql: &str) -> usize {
        scan_sql(sql).placeholders.len()
    }

    #[test]
    fn placeholders_outside_quotes_and_comments() {
        assert_eq!(count("select ?"), 1);
        assert_eq!(count("select ?, ?+1 from t where a=?"), 3);
        assert_eq!(count("select '?', \"?\", `?`"), 0);
        assert_eq!(count("select 'it''s ?', 'a\\'?', ?"), 1);
        assert_eq!(count("select \"a\"\"?\", ?"), 1);
        assert_eq!(count("select `a``?`, ?"), 1);
        assert_eq!(count("select ? -- ?\n, ?"), 2);
        assert_eq!(count("select ? # ?\n, ?"), 2);
        assert_eq!(count("select /* ? */ ?"), 1);
        assert_eq!(
            count("select 1--?"),
            1,
            "`--` without space is not a comment"
        );
        assert_eq!(
            count("select '?"),
            0,
            "unterminated string swallows the rest"
        );
        assert_eq!(count("select /* ?"), 0);
        assert_eq!(count("select 'a\\"), 0);
        assert_eq!(count("select 'é?', ?"), 1);
    }

    #[test]
    fn multiple_statement_detection() {
        assert!(!scan_sql("select 1").multiple_statements);
        assert!(!scan_sql("select 1;").multiple_statements);
        assert!(!scan_sql("select 1 ;  -- done\n /* c */ ;").multiple_statements);
        assert!(!scan_sql("select ';select 2'").multiple_statements);
        assert!(scan_sql("select 1; select 2").multiple_statements);
        assert!(scan_sql("select 1;`x`").multiple_statements);
    }

    #[test]
    fn literal_rendering() {
        assert_eq!(render_literal(&Value::Null), "NULL");
        assert_eq!(render_literal(&Value::Int(-5)), "-5");
        assert_eq!(
            render_literal(&Value::UInt(u64::MAX)),
            "18446744073709551615"
        );
        assert_eq!(render_literal(&Value::Double(2.5)), "2.5");
        assert_eq!(render_literal(&Value::Double(1e300)), "1e300");
        assert_eq!(render_literal(&Value::Double(f64::NAN)), "'NaN'");
        assert_eq!(render_literal(&Value::Float(0.1)), "0.1");
        assert_eq!(render_literal(&Value::Decimal("-12.50".into())), "-12.50");
        assert_eq!(render_literal(&Value::Decimal("1.5e3".into())), "1.5e3");
        // Something posing as a decimal cannot inject SQL.
        assert_eq!(
            render_literal(&Value::Decimal("1 or 1=1".into())),
            "'1 or 1=1'"
        );
        assert_eq!(render_literal(&Value::Text("it's".into())), "'it''s'");
        assert_eq!(
            render_literal(&Value::Text("a\\' or 1=1 --".into())),
            "'a\\\\'' or 1=1 --'"
        );
        assert_eq!(render_literal(&Value::Text("nul\0".into())), "'nul\\0'");
        assert_eq!(
            render_literal(&Value::Text("line\nbreak".into())),
            "'line\nbreak'"
        );
        assert_eq!(
            render_literal(&Value::Bytes(vec![0xFF, 0x00, 0x1A])),
            "X'FF001A'"
        );
        assert_eq!(render_literal(&Value::Bytes(b"ok".to_vec())), "'ok'");
        assert_eq!(
            render_literal(&Value::Date {
                year: 2024,
                month: 1,
                day: 2
            }),
            "'2024-01-02'"
        );
        assert_eq!(
            render_literal(&Value::DateTime {
                year: 2024,
                month: 1,
                day: 2,
                hour: 3,
                minute: 4,
                second: 5,
                micros: 6
            }),
            "'2024-01-02 03:04:05.000006'"
        );
    }

    #[test]
    fn numeric_literal_check() {
        for ok in ["0", "-1", "+1.5", ".5", "5.", "1e10", "1.5E-3"] {
            assert!(is_numeric_literal(ok), "{ok}");
        }
        for bad in ["", "-", ".", "e5", "1e", "1x", "1 ", "0x10", "1;drop"] {
            assert!(!is_numeric_literal(bad), "{bad}");
        }
    }

    #[test]
    fn substitution() {
        let sql = "select ?, '?', ? from t where a-?";
        let scan = scan_sql(sql);
        let lits = vec!["1".to_owned(), "'x'".to_owned(), "-5".to_owned()];
        assert_eq!(
            substitute(sql, &scan.placeholders, &lits),
            "select 1, '?', 'x' from t where a- -5"
        );
    }

    fn param(code: u8, unsigned: bool, bytes: &[u8]) -> Result<Value, ErrorInfo> {
        let mut r = Reader::new(bytes);
        let v = decode_param(ParamType { code, unsigned }, &mut r)?;
        assert!(r.is_empty(), "type {code:#x} left bytes behind");
        Ok(v)
    }

    #[test]
    fn decode_every_binary_type() {
        assert_eq!(param(0x06, false, &[]), Ok(Value::Null));
        assert_eq!(param(0x01, false, &[0xFF]), Ok(Value::Int(-1)));
        assert_eq!(param(0x01, true, &[0xFF]), Ok(Value::UInt(255)));
        assert_eq!(param(0x02, false, &[0xFE, 0xFF]), Ok(Value::Int(-2)));
        assert_eq!(param(0x02, true, &[0xFE, 0xFF]), Ok(Value::UInt(65534)));
        assert_eq!(
            param(0x0d, true, &2024u16.to_le_bytes()),
            Ok(Value::UInt(2024))
        );
        assert_eq!(
            param(0x03, false, &(-7i32).to_le_bytes()),
            Ok(Value::Int(-7))
        );
        assert_eq!(
            param(0x09, true, &u32::MAX.to_le_bytes()),
            Ok(Value::UInt(u64::from(u32::MAX)))
        );
        assert_eq!(
            param(0x08, false, &i64::MIN.to_le_bytes()),
            Ok(Value::Int(i64::MIN))
        );
        assert_eq!(
            param(0x08, true, &u64::MAX.to_le_bytes()),
            Ok(Value::UInt(u64::MAX))
        );
        assert_eq!(
            param(0x04, false, &1.5f32.to_le_bytes()),
            Ok(Value::Float(1.5))
        );
        assert_eq!(
            param(0x05, false, &(-0.25f64).to_le_bytes()),
            Ok(Value::Double(-0.25))
        );
        assert_eq!(
            param(0x00, false, b"\x041.25"),
            Ok(Value::Decimal("1.25".into()))
        );
        assert_eq!(
            param(0xf6, false, b"\x02-3"),
            Ok(Value::Decimal("-3".into()))
        );
        for code in [0x0f, 0xf5, 0xf7, 0xf8, 0xfd, 0xfe] {
            assert_eq!(param(code, false, b"\x02hi"), Ok(Value::Text("hi".into())));
            assert_eq!(
                param(code, false, b"\x01\xff"),
                Ok(Value::Bytes(vec![0xFF]))
            );
        }
        for code in [0xf9, 0xfa, 0xfb, 0xfc, 0xff] {
            assert_eq!(
                param(code, false, b"\x02\x00\x01"),
                Ok(Value::Bytes(vec![0, 1]))
            );
        }
        assert_eq!(param(0x10, false, b"\x02\x01\x02"), Ok(Value::UInt(0x0102)));
        // Dates: lengths 0, 4, 7, 11.
        assert_eq!(
            param(0x0a, false, &[4, 0xE8, 0x07, 2, 29]),
            Ok(Value::Date {
                year: 2024,
                month: 2,
                day: 29
            })
        );
        assert_eq!(
            param(0x0a, false, &[0]),
            Ok(Value::Date {
                year: 0,
                month: 0,
                day: 0
            })
        );
        let dt = |micros| Value::DateTime {
            year: 2024,
            month: 2,
            day: 29,
            hour: 13,
            minute: 14,
            second: 15,
            micros,
        };
        assert_eq!(
            param(0x0c, false, &[7, 0xE8, 0x07, 2, 29, 13, 14, 15]),
            Ok(dt(0))
        );
        assert_eq!(
            param(
                0x07,
                false,
                &[11, 0xE8, 0x07, 2, 29, 13, 14, 15, 1, 0, 0, 0]
            ),
            Ok(dt(1))
        );
        assert_eq!(
            param(0x0c, false, &[4, 0xE8, 0x07, 2, 29]),
            Ok(Value::DateTime {
                year: 2024,
                month: 2,
                day: 29,
                hour: 0,
                minute: 0,
                second: 0,
                micros: 0
            })
        );
        // Times: lengths 0, 8, 12.
        assert_eq!(param(0x0b, false, &[0]), Ok(Value::Text("00:00:00".into())));
        assert_eq!(
            param(0x0b, false, &[8, 1, 1, 0, 0, 0, 2, 3, 4]),
            Ok(Value::Text("-26:03:04".into()))
        );
        assert_eq!(
            param(0x0b, false, &[12, 0, 0, 0, 0, 0, 1, 2, 3, 5, 0, 0, 0]),
            Ok(Value::Text("01:02:03.000005".into()))
        );
    }

    #[test]
    fn decode_rejects_truncated_and_unknown() {
        let malformed = Err(ErrorInfo::new(
            1835,
            "HY000",
            "Malformed communication packet.",
        ));
        assert_eq!(param(0x08, false, &[1, 2, 3]), malformed);
        assert_eq!(param(0xfd, false, b"\x05ab"), malformed);
        assert_eq!(param(0x0c, false, &[7, 0xE8, 0x07]), malformed);
        assert_eq!(param(0x0c, false, &[5, 0, 0, 0, 0, 0]), malformed);
        assert_eq!(param(0x0b, false, &[3, 0, 0, 0]), malformed);
        assert_eq!(param(0x01, false, &[]), malformed);
        assert_eq!(param(0x0e, false, &[]).map_err(|e| e.code), Err(1210));
    }

    /// Builds a COM_STMT_EXECUTE body (without the command byte).
    fn execute_body(id: u32, nulls: &[bool], types: Option<&[(u8, u8)]>, values: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&id.to_le_bytes());
        b.push(0);
        b.extend_from_slice(&1u32.to_le_bytes());
        if !nulls.is_empty() {
            let mut bitmap = vec![0u8; nulls.len().div_ceil(8)];
            for (i, &n) in nulls.iter().enumerate() {
                if n {
                    bitmap[i / 8] |= 1 << (i % 8);
                }
            }
            b.extend_from_slice(&bitmap);
            match types {
                Some(types) => {
                    b.push(1);
                    for &(t, f) in types {
                        b.extend_from_slice(&[t, f]);
                    }
                }
                None => b.push(0),
            }
        }
        b.extend_from_slice(values);
        b
    }

    #[test]
    fn execute_flow() {
        let mut stmts = Statements::new(1024, 1 << 20);
        let (id, n) = stmts.prepare("select ?, ?, ? from t").expect("prepare");
        assert_eq!(n, 3);
        let mut values = Vec::new();
        values.extend_from_slice(&42i64.to_le_bytes());
        put_lenenc_bytes(&mut values, b"o'k");
        let body = execute_body(
            id,
            &[false, false, true],
            Some(&[(0x08, 0), (0xfd, 0), (0x06, 0)]),
            &values,
        );
        assert_eq!(
            stmts.execute(&body).as_deref(),
            Ok("select 42, 'o''k', NULL from t")
        );
        // Second execute reuses the remembered types.
        let mut values = Vec::new();
        values.extend_from_slice(&7i64.to_le_bytes());
        put_lenenc_bytes(&mut values, b"x");
        let body = execute_body(id, &[false, false, true], None, &values);
        assert_eq!(
            stmts.execute(&body).as_deref(),
            Ok("select 7, 'x', NULL from t")
        );
    }

    #[test]
    fn execute_needs_types_the_first_time() {
        let mut stmts = Statements::new(1024, 1 << 20);
        let (id, _) = stmts.prepare("select ?").expect("prepare");
        let body = execute_body(id, &[false], None, &1i64.to_le_bytes());
        assert_eq!(stmts.execute(&body).map_err(|e| e.code), Err(1210));
    }

    #[test]
    fn execute_errors() {
        let mut stmts = Statements::new(1024, 1 << 20);
        let (id, _) = stmts.prepare("select ?").expect("prepare");
        assert_eq!(stmts.execute(&[1, 2]).map_err(|e| e.code), Err(1835));
        assert_eq!(
            stmts
                .execute(&execute_body(99, &[], None, &[]))
                .map_err(|e| e.code),
            Err(1243)
        );
        // Truncated value.
        let body = execute_body(id, &[false], Some(&[(0x08, 0)]), &[1, 2]);
        assert_eq!(stmts.execute(&body).map_err(|e| e.code), Err(1835));
        // A failed execute did not remember the types.
        let body = execute_body(id, &[false], None, &1i64.to_le_bytes());
        assert_eq!(stmts.execute(&body).map_err(|e| e.code), Err(1210));
        // Closing forgets the statement.
        stmts.close(&id.to_le_bytes());
        assert_eq!(
            stmts
                .execute(&execute_body(id, &[], None, &[]))
                .map_err(|e| e.code),
            Err(1243)
        );
        assert_eq!(
            stmts.reset(&id.to_le_bytes()).map_err(|e| e.code),
            Err(1243)
        );
        // Prepare-time errors.
        assert_eq!(
            stmts.prepare("select 1; select 2").map_err(|e| e.code),
            Err(1064)
        );
        let many = format!("select {}", vec!["?"; 70_000].join(","));
        assert_eq!(stmts.prepare(&many).map_err(|e| e.code), Err(1390));
    }

    #[test]
    fn statement_without_params_executes_verbatim() {
        let mut stmts = Statements::new(1024, 1 << 20);
        let (id, n) = stmts.prepare("select 1").expect("prepare");
        assert_eq!(n, 0);
        assert_eq!(
            stmts.execute(&execute_body(id, &[], None, &[])).as_deref(),
            Ok("select 1")
        );
    }

    fn long_data(id: u32, param: u16, data: &[u8]) -> Vec<u8> {
        let mut b = id.to_le_bytes().to_vec();
        b.extend_from_slice(&param.to_le_bytes());
        b.extend_from_slice(data);
        b
    }

    #[test]
    fn long_data_is_used_once() {
        let mut stmts = Statements::new(1024, 1 << 20);
        let (id, _) = stmts
            .prepare("insert into t values (?, ?)")
            .expect("prepare");
        stmts.send_long_data(&long_data(id, 1, b"hello "));
        stmts.send_long_data(&long_data(id, 1, b"world"));
        stmts.send_long_data(&long_data(id, 9, b"ignored: no such param"));
        stmts.send_long_data(&long_data(77, 0, b"ignored: no such statement"));
        stmts.send_long_data(&[1]); // malformed: ignored
        let body = execute_body(
            id,
            &[false, false],
            Some(&[(0x08, 0), (0xfc, 0)]),
            &5i64.to_le_bytes(),
        );
        assert_eq!(
            stmts.execute(&body).as_deref(),
            Ok("insert into t values (5, 'hello world')")
        );
        // The long data was consumed: now param 1 must come inline.
        let mut values = 6i64.to_le_bytes().to_vec();
        put_lenenc_bytes(&mut values, &[0xFF, 0xFE]);
        let body = execute_body(id, &[false, false], None, &values);
        assert_eq!(
            stmts.execute(&body).as_deref(),
            Ok("insert into t values (6, X'FFFE')")
        );
    }

    #[test]
    fn long_data_reset_and_overflow() {
        let mut stmts = Statements::new(8, 1024);
        let (id, _) = stmts.prepare("select ?").expect("prepare");
        stmts.send_long_data(&long_data(id, 0, b"abc"));
        stmts.reset(&id.to_le_bytes()).expect("reset");
        let body = execute_body(id, &[true], Some(&[(0xfd, 0)]), &[]);
        assert_eq!(stmts.execute(&body).as_deref(), Ok("select NULL"));
        stmts.send_long_data(&long_data(id, 0, b"12345"));
        stmts.send_long_data(&long_data(id, 0, b"6789"));
        let body = execute_body(id, &[true], None, &[]);
        assert_eq!(stmts.execute(&body).map_err(|e| e.code), Err(1153));
        // The overflow is cleared by the execute that reported it.
        assert_eq!(stmts.execute(&body).as_deref(), Ok("select NULL"));
        assert_eq!(stmts.long_data_total, 0);
    }

    #[test]
    fn long_data_cap_is_per_connection() {
        let mut stmts = Statements::new(8, 1024);
        let (a, _) = stmts.prepare("select ?").expect("prepare");
        let (b, _) = stmts.prepare("select ?").expect("prepare");
        stmts.send_long_data(&long_data(a, 0, b"12345"));
        assert_eq!(stmts.long_data_total, 5);
        // Only 3 bytes left for the whole connection.
        stmts.send_long_data(&long_data(b, 0, b"6789"));
        assert_eq!(stmts.long_data_total, 5);
        let body = |id| execute_body(id, &[true], Some(&[(0xfd, 0)]), &[]);
        assert_eq!(stmts.execute(&body(b)).map_err(|e| e.code), Err(1153));
        assert_eq!(stmts.execute(&body(a)).as_deref(), Ok("select '12345'"));
        assert_eq!(stmts.long_data_total, 0);
        // Closing a statement returns its long data budget.
        stmts.send_long_data(&long_data(a, 0, b"1234567"));
        stmts.close(&a.to_le_bytes());
        assert_eq!(stmts.long_data_total, 0);
        stmts.send_long_data(&long_data(b, 0, b"1234567"));
        assert_eq!(stmts.long_data_total, 7);
    }

    #[test]
    fn total_sql_text_is_capped() {
        let mut stmts = Statements::new(8, 20);
        let (a, _) = stmts.prepare("select 1234567890").expect("prepare");
        assert_eq!(stmts.prepare("select 1234").map_err(|e| e.code), Err(1461));
        stmts.close(&a.to_le_bytes());
        assert!(stmts.prepare("select 1234").is_ok());
    }

    #[test]
    fn statement_ids_are_unique_and_capped() {
        let mut stmts = Statements::new(8, usize::MAX);
        let mut ids = std::collections::HashSet::new();
        for _ in 0..MAX_STATEMENTS {
            let (id, _) = stmts.prepare("select 1").expect("prepare");
            assert!(ids.insert(id));
        }
        assert_eq!(stmts.prepare("select 1").map_err(|e| e.code), Err(1461));
        stmts.clear();
        assert!(stmts.prepare("select 1").is_ok());
    }
}
