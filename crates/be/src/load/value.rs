//! Text → typed values by column type, with StarRocks's checks: integer ranges, DECIMAL
//! precision and scale, DATE/DATETIME formats, CHAR/VARCHAR byte lengths, BOOLEAN spellings.

use std::borrow::Cow;
use std::cmp::Ordering;

use common::load::KeyValue;
use common::schema::DataType;
use common::schema::PartitionValue;

/// The longest STRING value, in bytes (StarRocks's VARCHAR(65533)).
pub const STRING_MAX_BYTES: usize = 65533;

/// Microseconds per day.
pub const MICROS_PER_DAY: i64 = 86_400_000_000;

/// A typed value of one row.
#[derive(Clone, Debug, PartialEq)]
pub enum Value<'a> {
    /// SQL NULL.
    Null,
    /// BOOLEAN.
    Bool(bool),
    /// Every integer type, LARGEINT included.
    Int(i128),
    /// FLOAT (widened) and DOUBLE.
    Float(f64),
    /// DECIMAL: the unscaled integer and the scale.
    Decimal(i128, u8),
    /// DATE: days since 1970-01-01.
    Date(i32),
    /// DATETIME: microseconds since 1970-01-01 00:00:00.
    DateTime(i64),
    /// CHAR/VARCHAR/STRING, and the text of source columns that map to no table column.
    Str(Cow<'a, str>),
}

impl Value<'_> {
    /// An owned copy.
    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::Null => Value::Null,
            Value::Bool(b) => Value::Bool(b),
            Value::Int(i) => Value::Int(i),
            Value::Float(f) => Value::Float(f),
            Value::Decimal(v, s) => Value::Decimal(v, s),
            Value::Date(d) => Value::Date(d),
            Value::DateTime(t) => Value::DateTime(t),
            Value::Str(s) => Value::Str(Cow::Owned(s.into_owned())),
        }
    }

    /// A copy that borrows this value's text.
    pub fn borrowed(&self) -> Value<'_> {
        match self {
            Value::Null => Value::Null,
            Value::Bool(b) => Value::Bool(*b),
            Value::Int(i) => Value::Int(*i),
            Value::Float(f) => Value::Float(*f),
            Value::Decimal(v, s) => Value::Decimal(*v, *s),
            Value::Date(d) => Value::Date(*d),
            Value::DateTime(t) => Value::DateTime(*t),
            Value::Str(s) => Value::Str(Cow::Borrowed(s.as_ref())),
        }
    }

    /// Whether it is NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The value as bucketing sees it (see [`common::load::KeyValue`]).
    pub fn key(&self) -> KeyValue<'_> {
        match self {
            Value::Null => KeyValue::Null,
            Value::Bool(b) => KeyValue::Int(i128::from(*b)),
            Value::Int(i) => KeyValue::Int(*i),
            Value::Float(f) => KeyValue::Float(*f),
            Value::Decimal(v, _) => KeyValue::Decimal(*v),
            Value::Date(d) => KeyValue::Date(i64::from(*d)),
            Value::DateTime(t) => KeyValue::DateTime(*t),
            Value::Str(s) => KeyValue::Str(s.as_bytes()),
        }
    }

    /// The value as range partitioning sees it; `None` for NULL and non-partitionable types.
    pub fn partition_value(&self) -> Option<PartitionValue> {
        match self {
            Value::Bool(b) => Some(PartitionValue::Int(i128::from(*b))),
            Value::Int(i) => Some(PartitionValue::Int(*i)),
            Value::Date(d) => Some(PartitionValue::Time(i64::from(*d))),
            Value::DateTime(t) => Some(PartitionValue::Time(t.div_euclid(1_000_000))),
            _ => None,
        }
    }

    /// Rough in-memory size, for buffering limits.
    pub fn size(&self) -> usize {
        match self {
            Value::Str(s) => s.len() + 8,
            _ => 16,
        }
    }

    /// SQL comparison: `None` when either side is NULL or the two cannot be compared.
    pub fn compare(&self, other: &Value<'_>) -> Option<Ordering> {
        use Value::*;
        match (self, other) {
            (Null, _) | (_, Null) => None,
            (Str(a), Str(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
            (Date(a), Date(b)) => Some(a.cmp(b)),
            (DateTime(a), DateTime(b)) => Some(a.cmp(b)),
            (Date(a), DateTime(b)) => Some((i64::from(*a) * MICROS_PER_DAY).cmp(b)),
            (DateTime(a), Date(b)) => Some(a.cmp(&(i64::from(*b) * MICROS_PER_DAY))),
            (Str(s), v @ (Date(_) | DateTime(_))) => {
                let parsed = parse_datetime(s.trim()).ok()?;
                DateTime(parsed).compare(v)
            }
            (v @ (Date(_) | DateTime(_)), Str(s)) => {
                let parsed = parse_datetime(s.trim()).ok()?;
                v.compare(&DateTime(parsed))
            }
            (Str(s), v) => parse_number(s)?.compare(v),
            (v, Str(s)) => v.compare(&parse_number(s)?),
            (a, b) => compare_numbers(a, b),
        }
    }
}

/// A number written in text, typed as exactly as possible (for untyped comparisons).
pub fn parse_number(s: &str) -> Option<Value<'static>> {
    let t = s.trim();
    if let Ok(i) = t.parse::<i128>() {
        return Some(Value::Int(i));
    }
    if let Some(scale) = fraction_digits(t)
        && let Ok(d) = parse_decimal(t, 38, scale)
    {
        return Some(Value::Decimal(d, scale));
    }
    t.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .map(Value::Float)
}

/// Digits after the point of a plain decimal literal (`-12.340` → 3).
fn fraction_digits(t: &str) -> Option<u8> {
    let body = t.strip_prefix(['-', '+']).unwrap_or(t);
    let (int, frac) = body.split_once('.')?;
    let plain = !int.is_empty() || !frac.is_empty();
    if plain
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
        && int.len() + frac.len() <= 38
    {
        u8::try_from(frac.len()).ok()
    } else {
        None
    }
}

fn compare_numbers(a: &Value<'_>, b: &Value<'_>) -> Option<Ordering> {
    // (unscaled, scale) for exact kinds.
    let exact = |v: &Value<'_>| match v {
        Value::Bool(b) => Some((i128::from(*b), 0u8)),
        Value::Int(i) => Some((*i, 0)),
        Value::Decimal(v, s) => Some((*v, *s)),
        _ => None,
    };
    let float = |v: &Value<'_>| match v {
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        Value::Int(i) => Some(*i as f64),
        Value::Decimal(v, s) => Some(*v as f64 / 10f64.powi(i32::from(*s))),
        Value::Float(f) => Some(*f),
        _ => None,
    };
    if let (Some((x, sx)), Some((y, sy))) = (exact(a), exact(b)) {
        let s = sx.max(sy);
        let up = |v: i128, from: u8| {
            10i128
                .checked_pow(u32::from(s - from))
                .and_then(|m| v.checked_mul(m))
        };
        if let (Some(x), Some(y)) = (up(x, sx), up(y, sy)) {
            return Some(x.cmp(&y));
        }
    }
    float(a)?.partial_cmp(&float(b)?)
}

/// The SQL name of a type, for messages.
pub fn type_name(t: DataType) -> String {
    match t {
        DataType::Boolean => "BOOLEAN".into(),
        DataType::TinyInt => "TINYINT".into(),
        DataType::SmallInt => "SMALLINT".into(),
        DataType::Int => "INT".into(),
        DataType::BigInt => "BIGINT".into(),
        DataType::LargeInt => "LARGEINT".into(),
        DataType::Float => "FLOAT".into(),
        DataType::Double => "DOUBLE".into(),
        DataType::Decimal { precision, scale } => format!("DECIMAL({precision}, {scale})"),
        DataType::Date => "DATE".into(),
        DataType::DateTime => "DATETIME".into(),
        DataType::Char(n) => format!("CHAR({n})"),
        DataType::Varchar(n) => format!("VARCHAR({n})"),
        DataType::String => "STRING".into(),
    }
}

/// Shortens a value for an error message.
pub fn show(s: &str) -> String {
    const MAX: usize = 100;
    if s.len() <= MAX {
        return format!("'{s}'");
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("'{}...' ({} bytes)", &s[..end], s.len())
}

/// Converts text to a value of type `t`. The error says why, without the column name.
pub fn convert<'a>(text: Cow<'a, str>, t: DataType) -> Result<Value<'a>, String> {
    let invalid = |s: &str| format!("{} is not a valid {}", show(s), type_name(t));
    match t {
        DataType::Char(n) | DataType::Varchar(n) => {
            check_len(&text, n as usize, t)?;
            Ok(Value::Str(text))
        }
        DataType::String => {
            check_len(&text, STRING_MAX_BYTES, t)?;
            Ok(Value::Str(text))
        }
        DataType::Boolean => {
            let s = text.trim();
            if s.eq_ignore_ascii_case("true") || s == "1" {
                Ok(Value::Bool(true))
            } else if s.eq_ignore_ascii_case("false") || s == "0" {
                Ok(Value::Bool(false))
            } else {
                Err(invalid(&text))
            }
        }
        DataType::TinyInt | DataType::SmallInt | DataType::Int | DataType::BigInt => {
            let v = parse_int(&text).ok_or_else(|| invalid(&text))?;
            let (lo, hi) = match t {
                DataType::TinyInt => (i128::from(i8::MIN), i128::from(i8::MAX)),
                DataType::SmallInt => (i128::from(i16::MIN), i128::from(i16::MAX)),
                DataType::Int => (i128::from(i32::MIN), i128::from(i32::MAX)),
                _ => (i128::from(i64::MIN), i128::from(i64::MAX)),
            };
            if v < lo || v > hi {
                return Err(format!(
                    "{} is out of range for {} ({lo}..{hi})",
                    text.trim(),
                    type_name(t)
                ));
            }
            Ok(Value::Int(v))
        }
        DataType::LargeInt => match parse_int(&text) {
            Some(v) => Ok(Value::Int(v)),
            None if is_integer_text(&text) => Err(format!(
                "{} is out of range for LARGEINT",
                show(text.trim())
            )),
            None => Err(invalid(&text)),
        },
        DataType::Float | DataType::Double => {
            let s = text.trim();
            let v: f64 = if is_float_text(s) {
                s.parse().map_err(|_| invalid(&text))?
            } else {
                return Err(invalid(&text));
            };
            if !v.is_finite() {
                return Err(format!("{} is out of range for {}", show(s), type_name(t)));
            }
            if t == DataType::Float {
                if v.abs() > f64::from(f32::MAX) {
                    return Err(format!("{} is out of range for FLOAT", show(s)));
                }
                Ok(Value::Float(f64::from(v as f32)))
            } else {
                Ok(Value::Float(v))
            }
        }
        DataType::Decimal { precision, scale } => parse_decimal(&text, precision, scale)
            .map(|v| Value::Decimal(v, scale))
            .map_err(|e| match e {
                DecimalError::Invalid => invalid(&text),
                DecimalError::Overflow => format!(
                    "{} is out of range for {} (at most {} digits before the point)",
                    show(text.trim()),
                    type_name(t),
                    precision.saturating_sub(scale)
                ),
            }),
        DataType::Date => parse_date(text.trim())
            .map(Value::Date)
            .map_err(|why| format!("{} is not a valid DATE: {why}", show(&text))),
        DataType::DateTime => parse_datetime(text.trim())
            .map(Value::DateTime)
            .map_err(|why| format!("{} is not a valid DATETIME: {why}", show(&text))),
    }
}

fn check_len(s: &str, max: usize, t: DataType) -> Result<(), String> {
    if s.len() > max {
        return Err(format!(
            "the value is {} bytes, longer than {} allows ({max} bytes): {}",
            s.len(),
            type_name(t),
            show(s)
        ));
    }
    Ok(())
}

fn is_integer_text(s: &str) -> bool {
    let t = s.trim();
    let d = t.strip_prefix(['-', '+']).unwrap_or(t);
    !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())
}

fn is_float_text(s: &str) -> bool {
    // Rust also parses "inf" and "NaN"; SQL numbers are digits, a point and an exponent.
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'))
        && s.bytes().any(|b| b.is_ascii_digit())
}

/// The first position of byte `b` in `s`. (The loaders' text parsers search bytes by hand:
/// it is as fast as `str::find` with a `char` when that is inlined, and does not depend on it.)
fn find_byte(s: &str, b: u8) -> Option<usize> {
    s.as_bytes().iter().position(|&c| c == b)
}

/// `s` split at the first byte `b` (an ASCII byte), without it.
fn split_at_byte(s: &str, b: u8) -> Option<(&str, &str)> {
    find_byte(s, b).map(|i| (&s[..i], &s[i + 1..]))
}

/// `s` split at `sep` (ASCII) into exactly three parts.
fn split3(s: &str, sep: u8) -> Option<[&str; 3]> {
    let (a, rest) = split_at_byte(s, sep)?;
    let (b, c) = split_at_byte(rest, sep)?;
    find_byte(c, sep).is_none().then_some([a, b, c])
}

/// An integer: optional sign and digits; a fraction of zeros (`7.00`) is accepted.
fn parse_int(s: &str) -> Option<i128> {
    let t = s.trim();
    let t = match split_at_byte(t, b'.') {
        Some((i, f)) if !f.is_empty() && f.bytes().all(|b| b == b'0') => i,
        Some(_) => return None,
        None => t,
    };
    let d = t.strip_prefix(['-', '+']).unwrap_or(t);
    if d.is_empty() || !d.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse::<i128>().ok()
}

/// Why a DECIMAL did not parse.
#[derive(Debug, PartialEq, Eq)]
pub enum DecimalError {
    /// Not a number.
    Invalid,
    /// More integer digits than the precision leaves.
    Overflow,
}

/// Parses a decimal number (`-12.345`, `1e3`, `.5`) into its unscaled value at `scale`,
/// rounding extra fraction digits half away from zero; the result must fit `precision` digits.
pub fn parse_decimal(s: &str, precision: u8, scale: u8) -> Result<i128, DecimalError> {
    let t = s.trim();
    let (neg, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (mantissa, exp) = match body.bytes().position(|b| b == b'e' || b == b'E') {
        Some(i) => {
            let e: i64 = body[i + 1..].parse().map_err(|_| DecimalError::Invalid)?;
            (&body[..i], e)
        }
        None => (body, 0),
    };
    let (int, frac) = split_at_byte(mantissa, b'.').unwrap_or((mantissa, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(DecimalError::Invalid);
    }
    // All digits (the integer part's, then the fraction's), and how many stand before the
    // point; read in place, without a copy.
    let (int, frac) = (int.as_bytes(), frac.as_bytes());
    let count = int.len() + frac.len();
    let digit = |i: usize| -> u8 {
        let b = if i < int.len() {
            int[i]
        } else {
            frac.get(i - int.len()).copied().unwrap_or(b'0')
        };
        b - b'0'
    };
    let Some(first) = (0..count).position(|i| digit(i) != 0) else {
        return Ok(0);
    };
    let point = (int.len() as i64).saturating_add(exp);
    // Scaled value = digits[.. point + scale] (zero-padded), rounded by the next digit.
    let keep = point.saturating_add(i64::from(scale));
    if keep - (first as i64) > i64::from(precision) {
        return Err(DecimalError::Overflow);
    }
    if keep <= 0 {
        // Only fraction digits below the scale: the value rounds to 0 or 1 unit.
        let round = keep == 0 && digit(0) >= 5;
        let v = i128::from(round);
        return Ok(if neg { -v } else { v });
    }
    let mut v: i128 = 0;
    for i in 0..keep {
        let d = if (i as usize) < count {
            digit(i as usize)
        } else {
            0
        };
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(i128::from(d)))
            .ok_or(DecimalError::Overflow)?;
    }
    if (keep as usize) < count && digit(keep as usize) >= 5 {
        v += 1;
    }
    let limit = 10i128
        .checked_pow(u32::from(precision))
        .unwrap_or(i128::MAX);
    if v >= limit {
        return Err(DecimalError::Overflow);
    }
    Ok(if neg { -v } else { v })
}

/// Days from 1970-01-01 to a proleptic Gregorian date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

fn num(s: &str, what: &str) -> Result<u32, String> {
    if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("bad {what} '{s}'"));
    }
    s.parse().map_err(|_| format!("bad {what} '{s}'"))
}

fn ymd(y: u32, m: u32, d: u32) -> Result<i64, String> {
    if y > 9999 {
        return Err(format!("year {y} is out of range (0000..9999)"));
    }
    if !(1..=12).contains(&m) {
        return Err(format!("month {m} does not exist"));
    }
    let y = i64::from(y);
    if d < 1 || d > days_in_month(y, m) {
        return Err(format!("day {d} does not exist in {y:04}-{m:02}"));
    }
    Ok(days_from_civil(y, m, d))
}

/// Splits `date[ T]time` and parses the date part; returns (days, time part).
fn split_date(s: &str) -> Result<(i64, &str), String> {
    if s.is_empty() {
        return Err("empty".into());
    }
    let (date, time) = match s.find([' ', 'T']) {
        Some(i) => (&s[..i], s[i + 1..].trim_start()),
        None => (s, ""),
    };
    if date.bytes().all(|b| b.is_ascii_digit()) {
        // YYYYMMDD or YYYYMMDDHHMMSS
        return match date.len() {
            8 => Ok((
                ymd(
                    num(&date[..4], "year")?,
                    num(&date[4..6], "month")?,
                    num(&date[6..], "day")?,
                )?,
                time,
            )),
            14 if time.is_empty() => Ok((
                ymd(
                    num(&date[..4], "year")?,
                    num(&date[4..6], "month")?,
                    num(&date[6..8], "day")?,
                )?,
                &s[8..14],
            )),
            _ => Err("expected YYYY-MM-DD".into()),
        };
    }
    let sep = if find_byte(date, b'-').is_some() {
        b'-'
    } else {
        b'/'
    };
    let Some([y, m, d]) = split3(date, sep).filter(|[y, _, _]| y.len() == 4) else {
        return Err("expected YYYY-MM-DD".into());
    };
    let days = ymd(num(y, "year")?, num(m, "month")?, num(d, "day")?)?;
    Ok((days, time))
}

/// Microseconds into the day of `HH:MM[:SS[.ffffff]]` (or `HHMMSS`).
fn parse_time(t: &str) -> Result<i64, String> {
    if t.is_empty() {
        return Ok(0);
    }
    let (hms, frac) = split_at_byte(t, b'.').unwrap_or((t, ""));
    let (h, m, s) = match split_at_byte(hms, b':') {
        None if hms.len() == 6 && hms.is_ascii() => (
            num(&hms[..2], "hour")?,
            num(&hms[2..4], "minute")?,
            num(&hms[4..], "second")?,
        ),
        Some((h, rest)) => match split_at_byte(rest, b':') {
            None => (num(h, "hour")?, num(rest, "minute")?, 0),
            Some((m, s)) if find_byte(s, b':').is_none() => {
                (num(h, "hour")?, num(m, "minute")?, num(s, "second")?)
            }
            Some(_) => return Err("expected HH:MM:SS".into()),
        },
        None => return Err("expected HH:MM:SS".into()),
    };
    if h > 23 || m > 59 || s > 59 {
        return Err(format!("time {h:02}:{m:02}:{s:02} does not exist"));
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 9 {
        return Err(format!("bad fraction of a second '{frac}'"));
    }
    // Microseconds: the first six digits.
    let mut micros: i64 = 0;
    for i in 0..6 {
        micros = micros * 10 + frac.as_bytes().get(i).map_or(0, |b| i64::from(b - b'0'));
    }
    Ok(((i64::from(h) * 60 + i64::from(m)) * 60 + i64::from(s)) * 1_000_000 + micros)
}

/// A DATE: `YYYY-MM-DD` (also `/` separators, one-digit month and day, `YYYYMMDD`); a time
/// part is accepted and dropped.
pub fn parse_date(s: &str) -> Result<i32, String> {
    let (days, time) = split_date(s)?;
    parse_time(time)?;
    i32::try_from(days).map_err(|_| "out of range".to_string())
}

/// A DATETIME: a date as for DATE, then optionally ` HH:MM[:SS[.ffffff]]` (or `T`).
pub fn parse_datetime(s: &str) -> Result<i64, String> {
    let (days, time) = split_date(s)?;
    Ok(days * MICROS_PER_DAY + parse_time(time)?)
}

pub use common::clock::civil_from_days;

/// A value as SQL would print it (also the text string functions see).
pub fn display(v: &Value<'_>) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Bool(b) => u8::from(*b).to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Decimal(u, s) => {
            if *s == 0 {
                return u.to_string();
            }
            let p = 10i128.pow(u32::from(*s));
            let sign = if *u < 0 { "-" } else { "" };
            format!(
                "{sign}{}.{:0w$}",
                (u / p).abs(),
                (u % p).abs(),
                w = usize::from(*s)
            )
        }
        Value::Date(d) => {
            let (y, m, d) = civil_from_days(i64::from(*d));
            format!("{y:04}-{m:02}-{d:02}")
        }
        Value::DateTime(t) => {
            let p = DateParts::of(*t);
            let base = format!(
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
                p.year, p.month, p.day, p.hour, p.minute, p.second
            );
            if p.micros == 0 {
                base
            } else {
                format!("{base}.{:06}", p.micros)
            }
        }
        Value::Str(s) => s.to_string(),
    }
}

/// The SQL name of a value's kind, for messages.
fn kind_name(v: &Value<'_>) -> &'static str {
    match v {
        Value::Null => "NULL",
        Value::Bool(_) => "BOOLEAN",
        Value::Int(_) => "an integer",
        Value::Float(_) => "DOUBLE",
        Value::Decimal(..) => "DECIMAL",
        Value::Date(_) => "DATE",
        Value::DateTime(_) => "DATETIME",
        Value::Str(_) => "a string",
    }
}

/// The range of an integer type.
fn int_range(t: DataType) -> Option<(i128, i128)> {
    match t {
        DataType::TinyInt => Some((i128::from(i8::MIN), i128::from(i8::MAX))),
        DataType::SmallInt => Some((i128::from(i16::MIN), i128::from(i16::MAX))),
        DataType::Int => Some((i128::from(i32::MIN), i128::from(i32::MAX))),
        DataType::BigInt => Some((i128::from(i64::MIN), i128::from(i64::MAX))),
        _ => None,
    }
}

/// `u` (at scale `from`) at scale `to`, rounding half away from zero; `None` on overflow.
pub fn rescale(u: i128, from: u8, to: u8) -> Option<i128> {
    if to >= from {
        return 10i128
            .checked_pow(u32::from(to - from))
            .and_then(|m| u.checked_mul(m));
    }
    let Some(d) = 10i128.checked_pow(u32::from(from - to)) else {
        return Some(0);
    };
    let (q, r) = (u / d, u % d);
    Some(if r.unsigned_abs() * 2 >= d.unsigned_abs() {
        q + u.signum()
    } else {
        q
    })
}

/// A computed value (an expression's result) as a value of type `t`, with the same checks as
/// [`convert`]: text goes through `convert` itself; numbers are range-checked (a fraction is
/// truncated towards zero for integer types, rounded for DECIMAL); a DATE or DATETIME becomes
/// its `yyyymmdd[hhmmss]` number for integer types.
pub fn to_type<'a>(v: Value<'a>, t: DataType) -> Result<Value<'a>, String> {
    let v = match v {
        Value::Null => return Ok(Value::Null),
        Value::Str(s) => return convert(s, t),
        v => v,
    };
    let cannot = |v: &Value<'_>| {
        format!(
            "{} ({}) cannot be converted to {}",
            display(v),
            kind_name(v),
            type_name(t)
        )
    };
    let out_of_range =
        |v: &Value<'_>| format!("{} is out of range for {}", display(v), type_name(t));
    match t {
        DataType::Char(_) | DataType::Varchar(_) | DataType::String => {
            convert(Cow::Owned(display(&v)), t)
        }
        DataType::Boolean => Ok(Value::Bool(match v {
            Value::Bool(b) => b,
            Value::Int(i) => i != 0,
            Value::Decimal(u, _) => u != 0,
            Value::Float(f) => f != 0.0,
            _ => return Err(cannot(&v)),
        })),
        DataType::TinyInt
        | DataType::SmallInt
        | DataType::Int
        | DataType::BigInt
        | DataType::LargeInt => {
            let i = match &v {
                Value::Bool(b) => i128::from(*b),
                Value::Int(i) => *i,
                Value::Decimal(u, s) => u / 10i128.checked_pow(u32::from(*s)).unwrap_or(i128::MAX),
                Value::Float(f) if f.is_finite() && f.abs() < 1.7e38 => f.trunc() as i128,
                Value::Float(_) => return Err(out_of_range(&v)),
                Value::Date(d) => {
                    let (y, m, d) = civil_from_days(i64::from(*d));
                    i128::from(y) * 10_000 + i128::from(m) * 100 + i128::from(d)
                }
                Value::DateTime(t) => {
                    let p = DateParts::of(*t);
                    let date = i128::from(p.year) * 10_000 + i128::from(p.month) * 100;
                    let time = i128::from(p.hour) * 10_000 + i128::from(p.minute) * 100;
                    (date + i128::from(p.day)) * 1_000_000 + time + i128::from(p.second)
                }
                _ => return Err(cannot(&v)),
            };
            if let Some((lo, hi)) = int_range(t)
                && (i < lo || i > hi)
            {
                return Err(format!(
                    "{i} is out of range for {} ({lo}..{hi})",
                    type_name(t)
                ));
            }
            Ok(Value::Int(i))
        }
        DataType::Float | DataType::Double => {
            let f = match v {
                Value::Bool(b) => f64::from(u8::from(b)),
                Value::Int(i) => i as f64,
                Value::Decimal(u, s) => u as f64 / 10f64.powi(i32::from(s)),
                Value::Float(f) => f,
                _ => return Err(cannot(&v)),
            };
            if !f.is_finite() || (t == DataType::Float && f.abs() > f64::from(f32::MAX)) {
                return Err(out_of_range(&Value::Float(f)));
            }
            Ok(Value::Float(if t == DataType::Float {
                f64::from(f as f32)
            } else {
                f
            }))
        }
        DataType::Decimal { precision, scale } => {
            let scaled = match &v {
                Value::Bool(b) => rescale(i128::from(*b), 0, scale),
                Value::Int(i) => rescale(*i, 0, scale),
                Value::Decimal(u, s) => rescale(*u, *s, scale),
                Value::Float(f) if f.is_finite() => {
                    return parse_decimal(&f.to_string(), precision, scale)
                        .map(|u| Value::Decimal(u, scale))
                        .map_err(|_| out_of_range(&v));
                }
                Value::Float(_) => None,
                _ => return Err(cannot(&v)),
            };
            let limit = 10i128
                .checked_pow(u32::from(precision))
                .unwrap_or(i128::MAX);
            match scaled {
                Some(u) if u.unsigned_abs() < limit.unsigned_abs() => Ok(Value::Decimal(u, scale)),
                _ => Err(format!(
                    "{} is out of range for {} (at most {} digits before the point)",
                    display(&v),
                    type_name(t),
                    precision.saturating_sub(scale)
                )),
            }
        }
        DataType::Date => match v {
            Value::Date(d) => Ok(Value::Date(d)),
            Value::DateTime(t) => i32::try_from(t.div_euclid(MICROS_PER_DAY))
                .map(Value::Date)
                .map_err(|_| out_of_range(&v)),
            Value::Int(i) => convert(Cow::Owned(i.to_string()), t),
            _ => Err(cannot(&v)),
        },
        DataType::DateTime => match v {
            Value::Date(d) => Ok(Value::DateTime(i64::from(d) * MICROS_PER_DAY)),
            Value::DateTime(t) => Ok(Value::DateTime(t)),
            Value::Int(i) => convert(Cow::Owned(i.to_string()), t),
            _ => Err(cannot(&v)),
        },
    }
}

/// The calendar fields of a DATETIME.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateParts {
    /// Year (0..=9999 for valid values).
    pub year: i64,
    /// Month, 1..=12.
    pub month: u32,
    /// Day of the month, 1..=31.
    pub day: u32,
    /// Hour, 0..=23.
    pub hour: u32,
    /// Minute, 0..=59.
    pub minute: u32,
    /// Second, 0..=59.
    pub second: u32,
    /// Microseconds, 0..=999999.
    pub micros: u32,
    /// Days since 1970-01-01.
    pub days: i64,
}

impl DateParts {
    /// The fields of microseconds since 1970-01-01 00:00:00.
    pub fn of(t: i64) -> DateParts {
        let days = t.div_euclid(MICROS_PER_DAY);
        let us = t.rem_euclid(MICROS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        let secs = us / 1_000_000;
        DateParts {
            year,
            month,
            day,
            hour: (secs / 3600) as u32,
            minute: (secs / 60 % 60) as u32,
            second: (secs % 60) as u32,
            micros: (us % 1_000_000) as u32,
            days,
        }
    }

    /// 0 = Sunday .. 6 = Saturday.
    pub fn weekday(&self) -> u32 {
        // 1970-01-01 was a Thursday.
        (self.days + 4).rem_euclid(7) as u32
    }

    /// Day of the year, 1..=366.
    pub fn day_of_year(&self) -> u32 {
        (self.days - days_from_civil(self.year, 1, 1) + 1) as u32
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// The specifiers [`str_to_date`] reads.
const PARSE_SPECIFIERS: &[u8] = b"YymcdeHkhIlisSfpTrMbaWjD%";

/// Whether `%c` is a specifier Tessera does not support: [`str_to_date`] reads only the ones
/// it knows; [`date_format`] writes every other character as is, as MySQL does, but refuses the
/// week-year specifiers MySQL has and Tessera lacks.
fn unsupported_specifier(c: char, parsing: bool) -> bool {
    if parsing {
        !u8::try_from(c).is_ok_and(|b| PARSE_SPECIFIERS.contains(&b))
    } else {
        matches!(c, 'V' | 'v' | 'X' | 'x')
    }
}

/// Checks a MySQL date format for specifiers Tessera does not support.
pub fn check_date_format(fmt: &str, parsing: bool) -> Result<(), String> {
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            continue;
        }
        if let Some(spec) = chars.next()
            && unsupported_specifier(spec, parsing)
        {
            return Err(format!(
                "the format specifier %{spec} in {} is not supported (supported: {})",
                show(fmt),
                if parsing {
                    "%Y %y %m %c %d %e %H %k %h %I %l %i %s %S %f %p %T %r %M %b %a %W %j %D %%"
                } else {
                    "%Y %y %m %c %d %e %H %k %h %I %l %i %s %S %f %p %T %r %M %b %a %W %j %D %w \
                     %U %u %%"
                }
            ));
        }
    }
    Ok(())
}

/// MySQL's `DATE_FORMAT`: a DATETIME (microseconds since the epoch) as text. `%x` for a letter
/// Tessera does not know is an error; a `%` at the end is kept as is.
pub fn date_format(t: i64, fmt: &str) -> Result<String, String> {
    use std::fmt::Write;
    let p = DateParts::of(t);
    let mut out = String::with_capacity(fmt.len() + 8);
    let mut rest = fmt;
    let h12 = if p.hour.is_multiple_of(12) {
        12
    } else {
        p.hour % 12
    };
    let ampm = if p.hour < 12 { "AM" } else { "PM" };
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let Some(c) = rest.as_bytes().get(i + 1).copied() else {
            out.push('%');
            rest = "";
            break;
        };
        let month = MONTHS[(p.month as usize).saturating_sub(1) % 12];
        let weekday = WEEKDAYS[p.weekday() as usize % 7];
        // Writing to a String cannot fail.
        let _ = match c {
            b'Y' => write!(out, "{:04}", p.year),
            b'y' => write!(out, "{:02}", p.year.rem_euclid(100)),
            b'm' => write!(out, "{:02}", p.month),
            b'c' => write!(out, "{}", p.month),
            b'd' => write!(out, "{:02}", p.day),
            b'e' => write!(out, "{}", p.day),
            b'D' => {
                let suffix = match (p.day % 10, p.day / 10 % 10) {
                    (_, 1) => "th",
                    (1, _) => "st",
                    (2, _) => "nd",
                    (3, _) => "rd",
                    _ => "th",
                };
                write!(out, "{}{suffix}", p.day)
            }
            b'H' => write!(out, "{:02}", p.hour),
            b'k' => write!(out, "{}", p.hour),
            b'h' | b'I' => write!(out, "{h12:02}"),
            b'l' => write!(out, "{h12}"),
            b'i' => write!(out, "{:02}", p.minute),
            b's' | b'S' => write!(out, "{:02}", p.second),
            b'f' => write!(out, "{:06}", p.micros),
            b'p' => write!(out, "{ampm}"),
            b'T' => write!(out, "{:02}:{:02}:{:02}", p.hour, p.minute, p.second),
            b'r' => write!(out, "{h12:02}:{:02}:{:02} {ampm}", p.minute, p.second),
            b'M' => write!(out, "{month}"),
            b'b' => write!(out, "{}", &month[..3]),
            b'W' => write!(out, "{weekday}"),
            b'a' => write!(out, "{}", &weekday[..3]),
            b'w' => write!(out, "{}", p.weekday()),
            b'j' => write!(out, "{:03}", p.day_of_year()),
            b'U' => {
                // Weeks start on Sunday; week 1 starts with the year's first Sunday.
                let yday = p.day_of_year() - 1;
                write!(out, "{:02}", (yday + 7 - p.weekday()) / 7)
            }
            b'u' => {
                // Weeks start on Monday; week 1 is the first with 4 or more days in the year.
                let yday = p.day_of_year() - 1;
                let jan1 = (p.weekday() + 7 - yday % 7 + 6) % 7; // Monday = 0
                write!(out, "{:02}", (yday + jan1) / 7 + u32::from(jan1 <= 3))
            }
            b'%' => write!(out, "%"),
            _ => {
                // MySQL writes the character after an unknown `%` as is.
                let spec = rest[i + 1..].chars().next().unwrap_or('%');
                if unsupported_specifier(spec, false) {
                    return Err(check_date_format(fmt, false)
                        .err()
                        .unwrap_or_else(|| format!("%{spec} is not supported")));
                }
                out.push(spec);
                rest = &rest[i + 1 + spec.len_utf8()..];
                continue;
            }
        };
        rest = &rest[i + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// What [`str_to_date`] has read so far.
#[derive(Default)]
struct Parsed {
    year: Option<i64>,
    month: Option<u32>,
    day: Option<u32>,
    yday: Option<u32>,
    hour: Option<u32>,
    twelve: bool,
    pm: Option<bool>,
    minute: Option<u32>,
    second: Option<u32>,
    micros: u32,
}

/// Reads up to `max` digits at `*i` (at least one).
fn read_digits(v: &[u8], i: &mut usize, max: usize) -> Option<(u32, usize)> {
    let start = *i;
    let mut n: u32 = 0;
    while *i < v.len() && *i - start < max && v[*i].is_ascii_digit() {
        n = n * 10 + u32::from(v[*i] - b'0');
        *i += 1;
    }
    (*i > start).then_some((n, *i - start))
}

/// Reads one of `names` (or its first three letters when `abbr`), case-insensitively; returns
/// its index.
fn read_name(v: &[u8], i: &mut usize, names: &[&str], abbr: bool) -> Option<usize> {
    for (k, name) in names.iter().enumerate() {
        let name = if abbr { &name[..3] } else { name };
        if v.len() >= *i + name.len()
            && v[*i..*i + name.len()].eq_ignore_ascii_case(name.as_bytes())
        {
            *i += name.len();
            return Some(k);
        }
    }
    None
}

fn two_digit_year(y: u32) -> i64 {
    i64::from(if y < 70 { 2000 + y } else { 1900 + y })
}

/// Reads `v` from `*i` by `fmt` into `p`; `Err` says what was expected.
fn parse_by_format(v: &[u8], i: &mut usize, fmt: &[u8], p: &mut Parsed) -> Result<(), String> {
    let mut j = 0;
    while j < fmt.len() {
        // MySQL skips white space in the value before each part of the format.
        while *i < v.len() && v[*i].is_ascii_whitespace() {
            *i += 1;
        }
        let c = fmt[j];
        if c.is_ascii_whitespace() {
            j += 1;
            continue;
        }
        if c != b'%' || j + 1 >= fmt.len() {
            if v.get(*i) != Some(&c) {
                return Err(format!("expected '{}'", char::from(c)));
            }
            *i += 1;
            j += 1;
            continue;
        }
        let spec = fmt[j + 1];
        j += 2;
        let num = |i: &mut usize, max: usize, what: &str| {
            read_digits(v, i, max)
                .ok_or_else(|| format!("expected {what} for %{}", char::from(spec)))
        };
        match spec {
            b'Y' => {
                let (n, len) = num(i, 4, "a year")?;
                p.year = Some(if len <= 2 {
                    two_digit_year(n)
                } else {
                    i64::from(n)
                });
            }
            b'y' => p.year = Some(two_digit_year(num(i, 2, "a year")?.0)),
            b'm' | b'c' => p.month = Some(num(i, 2, "a month")?.0),
            b'd' | b'e' => p.day = Some(num(i, 2, "a day")?.0),
            b'D' => {
                p.day = Some(num(i, 2, "a day")?.0);
                if v.len() >= *i + 2 && v[*i..*i + 2].iter().all(u8::is_ascii_alphabetic) {
                    *i += 2;
                }
            }
            b'j' => p.yday = Some(num(i, 3, "a day of the year")?.0),
            b'H' | b'k' => {
                p.hour = Some(num(i, 2, "an hour")?.0);
                p.twelve = false;
            }
            b'h' | b'I' | b'l' => {
                p.hour = Some(num(i, 2, "an hour")?.0);
                p.twelve = true;
            }
            b'i' => p.minute = Some(num(i, 2, "minutes")?.0),
            b's' | b'S' => p.second = Some(num(i, 2, "seconds")?.0),
            b'f' => {
                let (n, len) = num(i, 6, "microseconds")?;
                p.micros = n * 10u32.pow((6 - len) as u32);
            }
            b'p' => {
                let k = read_name(v, i, &["AM", "PM"], false)
                    .ok_or_else(|| "expected AM or PM for %p".to_string())?;
                p.pm = Some(k == 1);
            }
            b'T' => parse_by_format(v, i, b"%H:%i:%s", p)?,
            b'r' => parse_by_format(v, i, b"%I:%i:%s %p", p)?,
            b'M' => {
                let k = read_name(v, i, &MONTHS, false)
                    .ok_or_else(|| "expected a month name for %M".to_string())?;
                p.month = Some(k as u32 + 1);
            }
            b'b' => {
                let k = read_name(v, i, &MONTHS, true)
                    .ok_or_else(|| "expected a month name for %b".to_string())?;
                p.month = Some(k as u32 + 1);
            }
            b'W' => {
                read_name(v, i, &WEEKDAYS, false)
                    .ok_or_else(|| "expected a weekday name for %W".to_string())?;
            }
            b'a' => {
                read_name(v, i, &WEEKDAYS, true)
                    .ok_or_else(|| "expected a weekday name for %a".to_string())?;
            }
            b'%' => {
                if v.get(*i) != Some(&b'%') {
                    return Err("expected '%'".into());
                }
                *i += 1;
            }
            other => {
                return Err(format!(
                    "the format specifier %{} is not supported",
                    char::from(other)
                ));
            }
        }
    }
    Ok(())
}

/// MySQL's `STR_TO_DATE`: text read by a format, as a DATETIME (microseconds since the epoch).
/// White space in the value before each part of the format is skipped, text after the format's
/// end is ignored (as MySQL does); parts the format lacks are the year 0000, January, the 1st
/// and midnight. The date and time must exist.
pub fn str_to_date(s: &str, fmt: &str) -> Result<i64, String> {
    let mut p = Parsed::default();
    let mut i = 0;
    let v = s.as_bytes();
    parse_by_format(v, &mut i, fmt.as_bytes(), &mut p).map_err(|why| {
        format!(
            "{} does not match the format {} ({why} at position {})",
            show(s),
            show(fmt),
            i + 1
        )
    })?;
    let bad = |why: String| format!("{} read by {} is not a date: {why}", show(s), show(fmt));
    let year = p.year.unwrap_or(0);
    let year = u32::try_from(year).map_err(|_| bad(format!("year {year}")))?;
    let days = match (p.yday, p.month, p.day) {
        (Some(yd), None, None) => {
            let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
            if yd < 1 || yd > 365 + u32::from(leap) {
                return Err(bad(format!("day {yd} of the year does not exist")));
            }
            ymd(year, 1, 1).map_err(bad)? + i64::from(yd) - 1
        }
        (_, m, d) => ymd(year, m.unwrap_or(1), d.unwrap_or(1)).map_err(bad)?,
    };
    let mut hour = p.hour.unwrap_or(0);
    if p.twelve {
        if !(1..=12).contains(&hour) {
            return Err(bad(format!("hour {hour} is not on a 12-hour clock")));
        }
        hour %= 12;
        if p.pm == Some(true) {
            hour += 12;
        }
    } else {
        match p.pm {
            Some(true) if hour < 12 => hour += 12,
            Some(false) if hour == 12 => hour = 0,
            _ => {}
        }
    }
    let (minute, second) = (p.minute.unwrap_or(0), p.second.unwrap_or(0));
    if hour > 23 || minute > 59 || second > 59 {
        return Err(bad(format!(
            "time {hour:02}:{minute:02}:{second:02} does not exist"
        )));
    }
    let secs = (i64::from(hour) * 60 + i64::from(minute)) * 60 + i64::from(second);
    Ok(days * MICROS_PER_DAY + secs * 1_000_000 + i64::from(p.micros))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str, t: DataType) -> Value<'static> {
        convert(Cow::Borrowed(text), t)
            .unwrap_or_else(|e| panic!("{text} as {t}: {e}"))
            .into_owned()
    }

    fn bad(text: &str, t: DataType) -> String {
        match convert(Cow::Borrowed(text), t) {
            Ok(v) => panic!("{text} as {t} converted to {v:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn integers_have_ranges() {
        assert_eq!(ok("127", DataType::TinyInt), Value::Int(127));
        assert_eq!(ok(" -128 ", DataType::TinyInt), Value::Int(-128));
        let e = bad("128", DataType::TinyInt);
        assert!(e.contains("out of range for TINYINT"), "{e}");
        assert_eq!(ok("-32768", DataType::SmallInt), Value::Int(-32768));
        assert!(bad("32768", DataType::SmallInt).contains("SMALLINT"));
        assert_eq!(ok("+2147483647", DataType::Int), Value::Int(2147483647));
        assert!(bad("2147483648", DataType::Int).contains("out of range"));
        assert_eq!(
            ok("-9223372036854775808", DataType::BigInt),
            Value::Int(i128::from(i64::MIN))
        );
        assert!(bad("9223372036854775808", DataType::BigInt).contains("out of range"));
        assert_eq!(
            ok(
                "170141183460469231731687303715884105727",
                DataType::LargeInt
            ),
            Value::Int(i128::MAX)
        );
        assert!(
            bad(
                "170141183460469231731687303715884105728",
                DataType::LargeInt
            )
            .contains("out of range for LARGEINT")
        );
        assert_eq!(ok("7.00", DataType::Int), Value::Int(7));
        for s in ["", "abc", "1.5", "1e3", "--1", "0x10", " "] {
            let e = bad(s, DataType::Int);
            assert!(e.contains("is not a valid INT"), "{s}: {e}");
        }
    }

    #[test]
    fn booleans_and_floats() {
        assert_eq!(ok("true", DataType::Boolean), Value::Bool(true));
        assert_eq!(ok("FALSE", DataType::Boolean), Value::Bool(false));
        assert_eq!(ok("1", DataType::Boolean), Value::Bool(true));
        assert_eq!(ok("0", DataType::Boolean), Value::Bool(false));
        assert!(bad("yes", DataType::Boolean).contains("BOOLEAN"));
        assert!(bad("2", DataType::Boolean).contains("BOOLEAN"));
        assert_eq!(ok("1.5", DataType::Double), Value::Float(1.5));
        assert_eq!(ok("-2e3", DataType::Double), Value::Float(-2000.0));
        assert_eq!(ok("0.1", DataType::Float), Value::Float(f64::from(0.1f32)));
        assert!(bad("1e39", DataType::Float).contains("out of range for FLOAT"));
        assert!(bad("1e400", DataType::Double).contains("out of range"));
        for s in ["inf", "NaN", "abc", ""] {
            assert!(
                bad(s, DataType::Double).contains("not a valid DOUBLE"),
                "{s}"
            );
        }
    }

    #[test]
    fn decimals_check_precision_and_round() {
        let d = |p, s| DataType::Decimal {
            precision: p,
            scale: s,
        };
        assert_eq!(ok("123.45", d(5, 2)), Value::Decimal(12345, 2));
        assert_eq!(ok("-0.5", d(5, 2)), Value::Decimal(-50, 2));
        assert_eq!(ok(".5", d(5, 2)), Value::Decimal(50, 2));
        assert_eq!(ok("7", d(5, 2)), Value::Decimal(700, 2));
        assert_eq!(
            ok("1.005", d(5, 2)),
            Value::Decimal(101, 2),
            "rounds half up"
        );
        assert_eq!(ok("-1.004", d(5, 2)), Value::Decimal(-100, 2));
        assert_eq!(ok("1.5e2", d(5, 2)), Value::Decimal(15000, 2));
        assert_eq!(ok("0.001", d(5, 2)), Value::Decimal(0, 2));
        assert_eq!(ok("0.005", d(5, 2)), Value::Decimal(1, 2));
        assert_eq!(ok("000123.4", d(5, 2)), Value::Decimal(12340, 2));
        let e = bad("1234.5", d(5, 2));
        assert!(e.contains("out of range for DECIMAL(5, 2)"), "{e}");
        assert!(
            bad("999.995", d(5, 2)).contains("out of range"),
            "rounding overflows"
        );
        assert_eq!(
            ok("99999999999999999999999999999999999999", d(38, 0)),
            Value::Decimal(99_999_999_999_999_999_999_999_999_999_999_999_999, 0)
        );
        assert!(bad("1e38", d(38, 0)).contains("out of range"));
        for s in ["", "abc", "1.2.3", "1e", "-", "."] {
            assert!(bad(s, d(5, 2)).contains("not a valid DECIMAL"), "{s}");
        }
    }

    #[test]
    fn dates_and_datetimes() {
        assert_eq!(ok("1970-01-01", DataType::Date), Value::Date(0));
        assert_eq!(ok("2024-02-29", DataType::Date), Value::Date(19782));
        assert_eq!(ok("2024/2/29", DataType::Date), Value::Date(19782));
        assert_eq!(ok("20240229", DataType::Date), Value::Date(19782));
        assert_eq!(
            ok("2024-02-29 13:00:00", DataType::Date),
            Value::Date(19782)
        );
        assert_eq!(ok("1969-12-31", DataType::Date), Value::Date(-1));
        assert_eq!(ok("0000-01-01", DataType::Date), Value::Date(-719528));
        for s in [
            "2023-02-29",
            "2024-13-01",
            "2024-00-10",
            "24-01-01",
            "abc",
            "",
            "2024-01-01 25:00:00",
        ] {
            assert!(bad(s, DataType::Date).contains("not a valid DATE"), "{s}");
        }
        let day = 19782 * 86_400_000_000i64;
        assert_eq!(ok("2024-02-29", DataType::DateTime), Value::DateTime(day));
        assert_eq!(
            ok("2024-02-29 01:02:03", DataType::DateTime),
            Value::DateTime(day + 3_723_000_000)
        );
        assert_eq!(
            ok("2024-02-29T01:02:03.5", DataType::DateTime),
            Value::DateTime(day + 3_723_500_000)
        );
        assert_eq!(
            ok("2024-02-29 01:02:03.123456789", DataType::DateTime),
            Value::DateTime(day + 3_723_123_456)
        );
        assert_eq!(
            ok("20240229010203", DataType::DateTime),
            Value::DateTime(day + 3_723_000_000)
        );
        assert_eq!(
            ok("2024-02-29 01:02", DataType::DateTime),
            Value::DateTime(day + 3_720_000_000)
        );
        for s in [
            "2024-02-29 24:00:00",
            "2024-02-29 01:60",
            "2024-02-29 1:2:3:4",
            "x",
        ] {
            assert!(
                bad(s, DataType::DateTime).contains("not a valid DATETIME"),
                "{s}"
            );
        }
    }

    #[test]
    fn date_and_number_text_edge_cases() {
        let day = 19782 * 86_400_000_000i64;
        assert_eq!(
            ok("2024-02-29 010203", DataType::DateTime),
            Value::DateTime(day + 3_723_000_000)
        );
        for s in [
            "2024-01-01-01",
            "2024--01",
            "2024-01",
            "2024/01-01",
            "2024-02-29 1é234",
            "2024-02-29 12345",
            "2024-02-29 é",
            "2024-02-29 01:02:03:04",
            "2024-02-29 01::03",
        ] {
            let e = bad(s, DataType::DateTime);
            assert!(e.contains("not a valid DATETIME"), "{s}: {e}");
        }
        assert_eq!(parse_decimal("12.5", 5, 2), Ok(1250));
        assert_eq!(parse_decimal("-0.0049", 5, 2), Ok(0));
        assert_eq!(parse_decimal("0.0050", 5, 2), Ok(1));
        assert_eq!(parse_decimal("5e-3", 5, 2), Ok(1));
        assert_eq!(parse_decimal("1.2.3", 5, 2), Err(DecimalError::Invalid));
        assert_eq!(
            parse_decimal("1e9223372036854775807", 5, 2),
            Err(DecimalError::Overflow)
        );
        assert_eq!(parse_decimal("0e9223372036854775807", 5, 2), Ok(0));
    }

    #[test]
    fn computed_values_take_a_column_type() {
        let dec = DataType::Decimal {
            precision: 5,
            scale: 2,
        };
        assert_eq!(to_type(Value::Int(7), dec), Ok(Value::Decimal(700, 2)));
        assert_eq!(
            to_type(Value::Decimal(12_345, 3), dec),
            Ok(Value::Decimal(1235, 2))
        );
        assert_eq!(
            to_type(Value::Decimal(-12_345, 3), dec),
            Ok(Value::Decimal(-1235, 2))
        );
        assert_eq!(
            to_type(Value::Float(1.005), dec),
            Ok(Value::Decimal(101, 2))
        );
        let e = to_type(Value::Int(1000), dec).expect_err("overflow");
        assert_eq!(
            e,
            "1000 is out of range for DECIMAL(5, 2) (at most 3 digits before the point)"
        );
        assert_eq!(
            to_type(Value::Decimal(-27, 1), DataType::Int),
            Ok(Value::Int(-2))
        );
        assert_eq!(to_type(Value::Float(2.9), DataType::Int), Ok(Value::Int(2)));
        let e = to_type(Value::Int(128), DataType::TinyInt).expect_err("range");
        assert_eq!(e, "128 is out of range for TINYINT (-128..127)");
        let e = to_type(Value::Float(1e300), DataType::BigInt).expect_err("range");
        assert!(e.contains("out of range for BIGINT"), "{e}");
        assert_eq!(
            to_type(Value::Date(1), DataType::DateTime),
            Ok(Value::DateTime(86_400_000_000))
        );
        assert_eq!(
            to_type(Value::DateTime(86_400_000_001), DataType::Date),
            Ok(Value::Date(1))
        );
        assert_eq!(
            to_type(Value::Int(20_240_229), DataType::Date),
            Ok(Value::Date(19782))
        );
        assert_eq!(
            to_type(Value::Bool(true), DataType::Varchar(1)),
            Ok(Value::Str("1".into()))
        );
        assert_eq!(
            to_type(Value::Decimal(150, 2), DataType::String),
            Ok(Value::Str("1.50".into()))
        );
        let e = to_type(Value::Int(123_456), DataType::Varchar(3)).expect_err("long");
        assert!(e.contains("longer than VARCHAR(3)"), "{e}");
        let e = to_type(Value::Date(0), DataType::Boolean).expect_err("date");
        assert_eq!(e, "1970-01-01 (DATE) cannot be converted to BOOLEAN");
        assert_eq!(to_type(Value::Null, DataType::Int), Ok(Value::Null));
        assert_eq!(
            to_type(Value::Float(1e39), DataType::Float),
            Err("1000000000000000000000000000000000000000 is out of range for FLOAT".into())
        );
    }

    #[test]
    fn strings_are_limited_in_bytes() {
        assert_eq!(ok("abc", DataType::Varchar(3)), Value::Str("abc".into()));
        assert_eq!(
            ok(" a ", DataType::Char(3)),
            Value::Str(" a ".into()),
            "kept as is"
        );
        // "é" is two bytes.
        let e = bad("ééé", DataType::Varchar(5));
        assert!(e.contains("6 bytes, longer than VARCHAR(5)"), "{e}");
        assert!(bad("abcd", DataType::Char(3)).contains("CHAR(3)"));
        assert_eq!(ok("", DataType::Varchar(1)), Value::Str("".into()));
        let long = "x".repeat(STRING_MAX_BYTES + 1);
        assert!(bad(&long, DataType::String).contains("longer than STRING"));
    }

    #[test]
    fn comparisons_cross_types() {
        use std::cmp::Ordering::*;
        assert_eq!(
            Value::Int(2).compare(&Value::Decimal(150, 2)),
            Some(Greater)
        );
        assert_eq!(
            Value::Decimal(150, 2).compare(&Value::Float(1.5)),
            Some(Equal)
        );
        assert_eq!(
            Value::Str("10".into()).compare(&Value::Int(9)),
            Some(Greater)
        );
        assert_eq!(
            Value::Str("b".into()).compare(&Value::Str("a".into())),
            Some(Greater)
        );
        assert_eq!(Value::Null.compare(&Value::Int(1)), None);
        assert_eq!(
            Value::Date(1).compare(&Value::DateTime(86_400_000_000)),
            Some(Equal)
        );
        assert_eq!(
            Value::Str("1970-01-02".into()).compare(&Value::Date(1)),
            Some(Equal)
        );
        assert_eq!(Value::Str("x".into()).compare(&Value::Int(1)), None);
    }

    #[test]
    fn partition_and_bucket_keys() {
        assert_eq!(
            Value::DateTime(-1).partition_value(),
            Some(PartitionValue::Time(-1))
        );
        assert_eq!(
            Value::Date(5).partition_value(),
            Some(PartitionValue::Time(5))
        );
        assert_eq!(Value::Null.partition_value(), None);
        assert_eq!(Value::Str("ab".into()).key(), KeyValue::Str(b"ab"));
        assert_eq!(Value::Decimal(5, 1).key(), KeyValue::Decimal(5));
    }
}
