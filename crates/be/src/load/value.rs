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
const MICROS_PER_DAY: i64 = 86_400_000_000;

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

/// An integer: optional sign and digits; a fraction of zeros (`7.00`) is accepted.
fn parse_int(s: &str) -> Option<i128> {
    let t = s.trim();
    let t = match t.split_once('.') {
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
    let (mantissa, exp) = match body.find(['e', 'E']) {
        Some(i) => {
            let e: i64 = body[i + 1..].parse().map_err(|_| DecimalError::Invalid)?;
            (&body[..i], e)
        }
        None => (body, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(DecimalError::Invalid);
    }
    // All digits, and how many of them stand before the point.
    let digits: Vec<u8> = int.bytes().chain(frac.bytes()).map(|b| b - b'0').collect();
    let first = digits.iter().position(|d| *d != 0);
    let Some(first) = first else {
        return Ok(0);
    };
    let point = int.len() as i64 + exp;
    // Scaled value = digits[.. point + scale] (zero-padded), rounded by the next digit.
    let keep = point + i64::from(scale);
    if keep - (first as i64) > i64::from(precision) {
        return Err(DecimalError::Overflow);
    }
    if keep <= 0 {
        // Only fraction digits below the scale: the value rounds to 0 or 1 unit.
        let round = keep == 0 && digits[0] >= 5;
        let v = i128::from(round);
        return Ok(if neg { -v } else { v });
    }
    let mut v: i128 = 0;
    for i in 0..keep {
        let d = digits.get(i as usize).copied().unwrap_or(0);
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(i128::from(d)))
            .ok_or(DecimalError::Overflow)?;
    }
    if digits.get(keep as usize).is_some_and(|d| *d >= 5) {
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
    let sep = if date.contains('-') { '-' } else { '/' };
    let parts: Vec<&str> = date.split(sep).collect();
    if parts.len() != 3 || parts[0].len() != 4 {
        return Err("expected YYYY-MM-DD".into());
    }
    let days = ymd(
        num(parts[0], "year")?,
        num(parts[1], "month")?,
        num(parts[2], "day")?,
    )?;
    Ok((days, time))
}

/// Microseconds into the day of `HH:MM[:SS[.ffffff]]` (or `HHMMSS`).
fn parse_time(t: &str) -> Result<i64, String> {
    if t.is_empty() {
        return Ok(0);
    }
    let (hms, frac) = t.split_once('.').unwrap_or((t, ""));
    let (h, m, s) = if !hms.contains(':') && hms.len() == 6 {
        (
            num(&hms[..2], "hour")?,
            num(&hms[2..4], "minute")?,
            num(&hms[4..], "second")?,
        )
    } else {
        let p: Vec<&str> = hms.split(':').collect();
        match p.as_slice() {
            [h, m] => (num(h, "hour")?, num(m, "minute")?, 0),
            [h, m, s] => (num(h, "hour")?, num(m, "minute")?, num(s, "second")?),
            _ => return Err("expected HH:MM:SS".into()),
        }
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
