//! Column metadata and cell values, plus the conversions both result-set
//! encodings need: the text form (text protocol, string-typed binary columns)
//! and typed views (integers, floats, dates) for the binary protocol.

use std::borrow::Cow;
use std::fmt;

/// The MySQL column types a result set can declare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnType {
    /// `MYSQL_TYPE_DECIMAL` (0x00), the pre-5.0 decimal.
    Decimal,
    /// `MYSQL_TYPE_TINY` (0x01), TINYINT.
    Tiny,
    /// `MYSQL_TYPE_SHORT` (0x02), SMALLINT.
    Short,
    /// `MYSQL_TYPE_LONG` (0x03), INT.
    Long,
    /// `MYSQL_TYPE_FLOAT` (0x04).
    Float,
    /// `MYSQL_TYPE_DOUBLE` (0x05).
    Double,
    /// `MYSQL_TYPE_NULL` (0x06): every cell is NULL.
    Null,
    /// `MYSQL_TYPE_TIMESTAMP` (0x07).
    Timestamp,
    /// `MYSQL_TYPE_LONGLONG` (0x08), BIGINT.
    LongLong,
    /// `MYSQL_TYPE_INT24` (0x09), MEDIUMINT.
    Int24,
    /// `MYSQL_TYPE_DATE` (0x0a).
    Date,
    /// `MYSQL_TYPE_TIME` (0x0b).
    Time,
    /// `MYSQL_TYPE_DATETIME` (0x0c).
    DateTime,
    /// `MYSQL_TYPE_YEAR` (0x0d).
    Year,
    /// `MYSQL_TYPE_VARCHAR` (0x0f).
    VarChar,
    /// `MYSQL_TYPE_BIT` (0x10).
    Bit,
    /// `MYSQL_TYPE_JSON` (0xf5).
    Json,
    /// `MYSQL_TYPE_NEWDECIMAL` (0xf6), DECIMAL.
    NewDecimal,
    /// `MYSQL_TYPE_BLOB` (0xfc), TEXT and BLOB.
    Blob,
    /// `MYSQL_TYPE_VAR_STRING` (0xfd), VARCHAR as result sets report it.
    VarString,
    /// `MYSQL_TYPE_STRING` (0xfe), CHAR.
    String,
}

impl ColumnType {
    /// The type code on the wire.
    pub fn code(self) -> u8 {
        match self {
            ColumnType::Decimal => 0x00,
            ColumnType::Tiny => 0x01,
            ColumnType::Short => 0x02,
            ColumnType::Long => 0x03,
            ColumnType::Float => 0x04,
            ColumnType::Double => 0x05,
            ColumnType::Null => 0x06,
            ColumnType::Timestamp => 0x07,
            ColumnType::LongLong => 0x08,
            ColumnType::Int24 => 0x09,
            ColumnType::Date => 0x0a,
            ColumnType::Time => 0x0b,
            ColumnType::DateTime => 0x0c,
            ColumnType::Year => 0x0d,
            ColumnType::VarChar => 0x0f,
            ColumnType::Bit => 0x10,
            ColumnType::Json => 0xf5,
            ColumnType::NewDecimal => 0xf6,
            ColumnType::Blob => 0xfc,
            ColumnType::VarString => 0xfd,
            ColumnType::String => 0xfe,
        }
    }

    /// The inverse of [`ColumnType::code`].
    pub fn from_code(code: u8) -> Option<Self> {
        const ALL: [ColumnType; 21] = [
            ColumnType::Decimal,
            ColumnType::Tiny,
            ColumnType::Short,
            ColumnType::Long,
            ColumnType::Float,
            ColumnType::Double,
            ColumnType::Null,
            ColumnType::Timestamp,
            ColumnType::LongLong,
            ColumnType::Int24,
            ColumnType::Date,
            ColumnType::Time,
            ColumnType::DateTime,
            ColumnType::Year,
            ColumnType::VarChar,
            ColumnType::Bit,
            ColumnType::Json,
            ColumnType::NewDecimal,
            ColumnType::Blob,
            ColumnType::VarString,
            ColumnType::String,
        ];
        ALL.into_iter().find(|t| t.code() == code)
    }

    /// Types whose cells are character data (charset utf8mb4 unless the
    /// column carries [`column_flags::BINARY`]).
    pub(crate) fn is_textual(self) -> bool {
        matches!(
            self,
            ColumnType::VarChar
                | ColumnType::VarString
                | ColumnType::String
                | ColumnType::Blob
                | ColumnType::Json
        )
    }
}

/// Column definition flags (`NOT_NULL_FLAG` …), for [`Column::flags`].
pub mod column_flags {
    /// The column cannot be NULL.
    pub const NOT_NULL: u16 = 1;
    /// Part of the primary key.
    pub const PRIMARY_KEY: u16 = 2;
    /// Part of a unique key.
    pub const UNIQUE_KEY: u16 = 4;
    /// Part of a non-unique key.
    pub const MULTIPLE_KEY: u16 = 8;
    /// A BLOB or TEXT column.
    pub const BLOB: u16 = 16;
    /// Unsigned integer: the binary protocol then carries the bits as unsigned.
    pub const UNSIGNED: u16 = 32;
    /// Zero-filled number.
    pub const ZEROFILL: u16 = 64;
    /// Binary data: the column is announced with the `binary` charset (63).
    pub const BINARY: u16 = 128;
    /// Auto-increment column.
    pub const AUTO_INCREMENT: u16 = 512;
    /// Numeric column.
    pub const NUM: u16 = 32768;
}

/// Charset id of `utf8mb4_general_ci`.
pub(crate) const CHARSET_UTF8MB4: u16 = 45;
/// Charset id of `binary`.
pub(crate) const CHARSET_BINARY: u16 = 63;

/// One column of a result set.
///
/// The charset announced to the client is derived rather than stored:
/// textual types ([`ColumnType::VarChar`], [`ColumnType::VarString`],
/// [`ColumnType::String`], [`ColumnType::Blob`], [`ColumnType::Json`]) use
/// utf8mb4 (45) unless [`column_flags::BINARY`] is set; everything else uses
/// `binary` (63).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    /// Column name (alias) shown to the client.
    pub name: String,
    /// Wire type; it decides the binary-protocol encoding of every cell.
    pub column_type: ColumnType,
    /// Table name, may be empty.
    pub table: String,
    /// Database name, may be empty.
    pub schema: String,
    /// [`column_flags`] bits.
    pub flags: u16,
    /// Digits after the decimal point (31 = "not fixed" for floats); for
    /// DATETIME/TIMESTAMP the number of fractional-second digits printed.
    pub decimals: u8,
    /// Maximum display length in bytes.
    pub column_length: u32,
}

impl Column {
    /// A column with conventional defaults for its type (no table or schema,
    /// display length per type, `decimals` 31 for floats).
    pub fn new(name: impl Into<String>, column_type: ColumnType) -> Self {
        let (column_length, decimals, flags) = match column_type {
            ColumnType::Tiny => (4, 0, column_flags::NUM),
            ColumnType::Short => (6, 0, column_flags::NUM),
            ColumnType::Int24 => (9, 0, column_flags::NUM),
            ColumnType::Long => (11, 0, column_flags::NUM),
            ColumnType::LongLong => (20, 0, column_flags::NUM),
            ColumnType::Float => (12, 31, column_flags::NUM),
            ColumnType::Double => (22, 31, column_flags::NUM),
            ColumnType::Decimal | ColumnType::NewDecimal => (40, 0, column_flags::NUM),
            ColumnType::Year => (4, 0, column_flags::NUM | column_flags::UNSIGNED),
            ColumnType::Null => (0, 0, 0),
            ColumnType::Date => (10, 0, column_flags::BINARY),
            ColumnType::Time => (10, 0, column_flags::BINARY),
            ColumnType::DateTime | ColumnType::Timestamp => (19, 0, column_flags::BINARY),
            ColumnType::Bit => (64, 0, column_flags::UNSIGNED),
            ColumnType::String => (1020, 0, 0),
            ColumnType::VarChar | ColumnType::VarString => (65535, 0, 0),
            ColumnType::Blob => (65535, 0, column_flags::BLOB),
            ColumnType::Json => (u32::MAX, 0, column_flags::BLOB),
        };
        Self {
            name: name.into(),
            column_type,
            table: String::new(),
            schema: String::new(),
            flags,
            decimals,
            column_length,
        }
    }

    /// Charset id announced in the column definition.
    pub(crate) fn charset(&self) -> u16 {
        if self.column_type.is_textual() && self.flags & column_flags::BINARY == 0 {
            CHARSET_UTF8MB4
        } else {
            CHARSET_BINARY
        }
    }

    pub(crate) fn is_unsigned(&self) -> bool {
        self.flags & column_flags::UNSIGNED != 0
    }
}

/// One cell of a result set, or one decoded prepared-statement parameter.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// Signed integer.
    Int(i64),
    /// Unsigned integer.
    UInt(u64),
    /// Single-precision float.
    Float(f32),
    /// Double-precision float.
    Double(f64),
    /// Exact decimal in its canonical text form, e.g. `-12.340`.
    Decimal(String),
    /// Character data.
    Text(String),
    /// Raw bytes.
    Bytes(Vec<u8>),
    /// A calendar date.
    Date {
        /// Year, 0..=9999.
        year: u16,
        /// Month, 1..=12 (0 in the zero date).
        month: u8,
        /// Day, 1..=31 (0 in the zero date).
        day: u8,
    },
    /// A date and time of day.
    DateTime {
        /// Year, 0..=9999.
        year: u16,
        /// Month, 1..=12.
        month: u8,
        /// Day, 1..=31.
        day: u8,
        /// Hour, 0..=23.
        hour: u8,
        /// Minute, 0..=59.
        minute: u8,
        /// Second, 0..=59.
        second: u8,
        /// Microseconds, 0..=999_999.
        micros: u32,
    },
}

/// Calendar fields shared by DATE, DATETIME and TIMESTAMP.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct DateTimeParts {
    pub(crate) year: u16,
    pub(crate) month: u8,
    pub(crate) day: u8,
    pub(crate) hour: u8,
    pub(crate) minute: u8,
    pub(crate) second: u8,
    pub(crate) micros: u32,
}

/// A TIME value, which may be negative and exceed 24 hours.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct TimeParts {
    pub(crate) negative: bool,
    pub(crate) hours: u32,
    pub(crate) minute: u8,
    pub(crate) second: u8,
    pub(crate) micros: u32,
}

impl fmt::Display for TimeParts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.negative { "-" } else { "" };
        write!(
            f,
            "{sign}{:02}:{:02}:{:02}",
            self.hours, self.minute, self.second
        )?;
        if self.micros != 0 {
            write!(f, ".{:06}", self.micros)?;
        }
        Ok(())
    }
}

/// Formats a float the way MySQL does: the shortest text that reads back to
/// the same value, in plain notation for moderate magnitudes and in exponent
/// notation (`1e300`, `1.5e-7`) otherwise.
pub(crate) fn format_float<T: fmt::Display + fmt::LowerExp>(v: T) -> String {
    let exp_form = format!("{v:e}");
    let exponent = exp_form
        .rsplit_once('e')
        .and_then(|(_, e)| e.parse::<i32>().ok())
        .unwrap_or(0);
    if (-5..15).contains(&exponent) {
        format!("{v}")
    } else {
        exp_form
    }
}

pub(crate) fn format_date(year: u16, month: u8, day: u8) -> String {
    format!("{year:04}-{month:02}-{day:02}")
}

/// `YYYY-MM-DD HH:MM:SS`, then the fraction: exactly `decimals` digits when
/// the column fixes them (1..=6), otherwise six digits only if non-zero.
pub(crate) fn format_datetime(p: &DateTimeParts, decimals: Option<u8>) -> String {
    let mut s = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        p.year, p.month, p.day, p.hour, p.minute, p.second
    );
    match decimals {
        Some(d @ 1..=6) => {
            let scaled = p.micros / 10u32.pow(6 - u32::from(d));
            s.push_str(&format!(".{scaled:0width$}", width = usize::from(d)));
        }
        _ if p.micros != 0 => s.push_str(&format!(".{:06}", p.micros)),
        _ => {}
    }
    s
}

/// Whole-number text such as `-12`, `+3`.
fn parse_integer_text(s: &str) -> Option<i128> {
    s.trim().parse::<i128>().ok()
}

/// Parses `YYYY-MM-DD[( |T)HH:MM:SS[.ffffff]]`.
pub(crate) fn parse_datetime_text(s: &str) -> Option<DateTimeParts> {
    let s = s.trim();
    let (date, time) = match s.find([' ', 'T']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mut it = date.split('-');
    let year = it.next()?.parse::<u16>().ok()?;
    let month = it.next()?.parse::<u8>().ok()?;
    let day = it.next()?.parse::<u8>().ok()?;
    if it.next().is_some() || year > 9999 || month > 12 || day > 31 {
        return None;
    }
    let mut parts = DateTimeParts {
        year,
        month,
        day,
        ..DateTimeParts::default()
    };
    if let Some(time) = time {
        let t = parse_time_text(time)?;
        if t.negative || t.hours > 23 {
            return None;
        }
        parts.hour = t.hours as u8;
        parts.minute = t.minute;
        parts.second = t.second;
        parts.micros = t.micros;
    }
    Some(parts)
}

/// Parses `[-]H+:MM:SS[.ffffff]`.
pub(crate) fn parse_time_text(s: &str) -> Option<TimeParts> {
    let s = s.trim();
    let (negative, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (whole, frac) = match s.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (s, None),
    };
    let mut it = whole.split(':');
    let hours = it.next()?.parse::<u32>().ok()?;
    let minute = it.next()?.parse::<u8>().ok()?;
    let second = it.next()?.parse::<u8>().ok()?;
    if it.next().is_some() || minute > 59 || second > 59 {
        return None;
    }
    let micros = match frac {
        None => 0,
        Some(f) if !f.is_empty() && f.len() <= 6 && f.bytes().all(|b| b.is_ascii_digit()) => {
            // Right-pad to six digits: ".5" is 500000 microseconds.
            f.parse::<u32>().ok()? * 10u32.pow(6 - f.len() as u32)
        }
        Some(_) => return None,
    };
    Some(TimeParts {
        negative,
        hours,
        minute,
        second,
        micros,
    })
}

impl Value {
    /// The text-protocol form of the value, `None` for NULL. The column
    /// decides details such as DATETIME fractional digits and BIT layout.
    pub(crate) fn text_form(&self, column: &Column) -> Option<Cow<'_, [u8]>> {
        let datetime_decimals = match column.column_type {
            ColumnType::DateTime | ColumnType::Timestamp => Some(column.decimals),
            _ => None,
        };
        let owned = |s: String| Some(Cow::Owned(s.into_bytes()));
        match self {
            Value::Null => None,
            // BIT columns carry the raw big-endian bits, not digits.
            Value::Int(_) | Value::UInt(_) if column.column_type == ColumnType::Bit => {
                let bits = self.as_i128().map(|v| v as u64).unwrap_or(0);
                Some(Cow::Owned(bit_bytes(bits, column.column_length)))
            }
            Value::Int(v) => owned(v.to_string()),
            Value::UInt(v) => owned(v.to_string()),
            Value::Float(v) => owned(format_float(*v)),
            Value::Double(v) => owned(format_float(*v)),
            Value::Decimal(s) | Value::Text(s) => Some(Cow::Borrowed(s.as_bytes())),
            Value::Bytes(b) => Some(Cow::Borrowed(b.as_slice())),
            // Calendar values follow the column's type, as the binary
            // protocol does: a DATE column shows only the date, a DATETIME
            // column always shows a time, a TIME column only the time.
            Value::Date { .. } | Value::DateTime { .. } => {
                let p = self.as_datetime()?;
                match column.column_type {
                    ColumnType::Date => owned(format_date(p.year, p.month, p.day)),
                    ColumnType::Time => owned(self.as_time()?.to_string()),
                    ColumnType::DateTime | ColumnType::Timestamp => {
                        owned(format_datetime(&p, datetime_decimals))
                    }
                    _ if matches!(self, Value::Date { .. }) => {
                        owned(format_date(p.year, p.month, p.day))
                    }
                    _ => owned(format_datetime(&p, None)),
                }
            }
        }
    }

    /// The value as an integer, for integer columns. Floats are truncated,
    /// text is parsed; dates and unparsable text have no integer form.
    pub(crate) fn as_i128(&self) -> Option<i128> {
        match self {
            Value::Int(v) => Some(i128::from(*v)),
            Value::UInt(v) => Some(i128::from(*v)),
            Value::Float(v) => float_to_i128(f64::from(*v)),
            Value::Double(v) => float_to_i128(*v),
            Value::Decimal(s) | Value::Text(s) => parse_integer_text(s)
                .or_else(|| s.trim().parse::<f64>().ok().and_then(float_to_i128)),
            Value::Bytes(b) => {
                let s = std::str::from_utf8(b).ok()?;
                Value::Text(s.to_owned()).as_i128()
            }
            // Only YEAR columns take a date (see `as_year`).
            Value::Null | Value::Date { .. } | Value::DateTime { .. } => None,
        }
    }

    /// The value as a double, for FLOAT and DOUBLE columns.
    pub(crate) fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(v) => Some(*v as f64),
            Value::UInt(v) => Some(*v as f64),
            Value::Float(v) => Some(f64::from(*v)),
            Value::Double(v) => Some(*v),
            Value::Decimal(s) | Value::Text(s) => s.trim().parse().ok(),
            Value::Bytes(b) => std::str::from_utf8(b).ok()?.trim().parse().ok(),
            Value::Null | Value::Date { .. } | Value::DateTime { .. } => None,
        }
    }

    /// The value as calendar fields, for DATE/DATETIME/TIMESTAMP columns.
    pub(crate) fn as_datetime(&self) -> Option<DateTimeParts> {
        match self {
            Value::Date { year, month, day } => Some(DateTimeParts {
                year: *year,
                month: *month,
                day: *day,
                ..DateTimeParts::default()
            }),
            Value::DateTime {
                year,
                month,
                day,
                hour,
                minute,
                second,
                micros,
            } => Some(DateTimeParts {
                year: *year,
                month: *month,
                day: *day,
                hour: *hour,
                minute: *minute,
                second: *second,
                micros: *micros,
            }),
            Value::Text(s) | Value::Decimal(s) => parse_datetime_text(s),
            Value::Bytes(b) => parse_datetime_text(std::str::from_utf8(b).ok()?),
            _ => None,
        }
    }

    /// The value as a TIME, for TIME columns.
    pub(crate) fn as_time(&self) -> Option<TimeParts> {
        match self {
            Value::DateTime {
                hour,
                minute,
                second,
                micros,
                ..
            } => Some(TimeParts {
                negative: false,
                hours: u32::from(*hour),
                minute: *minute,
                second: *second,
                micros: *micros,
            }),
            Value::Text(s) => parse_time_text(s),
            Value::Bytes(b) => parse_time_text(std::str::from_utf8(b).ok()?),
            _ => None,
        }
    }

    /// The value as a year, for YEAR columns.
    pub(crate) fn as_year(&self) -> Option<i128> {
        match self {
            Value::Date { year, .. } | Value::DateTime { year, .. } => Some(i128::from(*year)),
            other => other.as_i128(),
        }
    }
}

fn float_to_i128(v: f64) -> Option<i128> {
    // `as` saturates, which is what we want for out-of-range values.
    v.is_finite().then(|| v.trunc() as i128)
}

/// Big-endian bytes of a BIT(n) value: (n + 7) / 8 bytes, 1..=8.
pub(crate) fn bit_bytes(bits: u64, column_length: u32) -> Vec<u8> {
    let n = (column_length.clamp(1, 64) as usize).div_ceil(8);
    bits.to_be_bytes()[8 - n..].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(v: &Value, c: &Column) -> Option<String> {
        v.text_form(c)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    #[test]
    fn type_codes_round_trip() {
        for code in 0..=255u8 {
            if let Some(t) = ColumnType::from_code(code) {
                assert_eq!(t.code(), code);
            }
        }
        assert_eq!(ColumnType::VarString.code(), 0xfd);
        assert_eq!(ColumnType::NewDecimal.code(), 0xf6);
        assert_eq!(ColumnType::from_code(0x0e), None);
    }

    #[test]
    fn charset_follows_type_and_binary_flag() {
        assert_eq!(Column::new("a", ColumnType::VarString).charset(), 45);
        assert_eq!(Column::new("a", ColumnType::LongLong).charset(), 63);
        assert_eq!(Column::new("a", ColumnType::Date).charset(), 63);
        let mut blob = Column::new("a", ColumnType::Blob);
        assert_eq!(blob.charset(), 45);
        blob.flags |= column_flags::BINARY;
        assert_eq!(blob.charset(), 63);
    }

    #[test]
    fn float_formatting_is_shortest_round_trip() {
        assert_eq!(format_float(1.0f64), "1");
        assert_eq!(format_float(0.1f64), "0.1");
        assert_eq!(format_float(-2.5f64), "-2.5");
        assert_eq!(format_float(1.0f64 / 3.0), "0.3333333333333333");
        assert_eq!(format_float(123456789012345.0f64), "123456789012345");
        assert_eq!(format_float(1e15f64), "1e15");
        assert_eq!(format_float(1e300f64), "1e300");
        assert_eq!(format_float(1.5e-7f64), "1.5e-7");
        assert_eq!(format_float(0.00001f64), "0.00001");
        assert_eq!(format_float(0.1f32), "0.1");
        assert_eq!(format_float(f64::NAN), "NaN");
        for v in [
            0.1f64,
            1.0 / 3.0,
            2.0f64.sqrt(),
            1e-300,
            6.02214076e23,
            f64::MAX,
        ] {
            assert_eq!(format_float(v).parse::<f64>().ok(), Some(v));
        }
    }

    #[test]
    fn text_forms() {
        let vc = Column::new("c", ColumnType::VarString);
        assert_eq!(text(&Value::Null, &vc), None);
        assert_eq!(text(&Value::Int(-5), &vc).as_deref(), Some("-5"));
        assert_eq!(
            text(&Value::UInt(u64::MAX), &vc).as_deref(),
            Some("18446744073709551615")
        );
        assert_eq!(text(&Value::Double(2.5), &vc).as_deref(), Some("2.5"));
        assert_eq!(text(&Value::Float(0.1), &vc).as_deref(), Some("0.1"));
        assert_eq!(
            text(&Value::Decimal("1.50".into()), &vc).as_deref(),
            Some("1.50")
        );
        let d = Value::Date {
            year: 2024,
            month: 1,
            day: 2,
        };
        assert_eq!(text(&d, &vc).as_deref(), Some("2024-01-02"));
        let dt = Value::DateTime {
            year: 999,
            month: 12,
            day: 31,
            hour: 23,
            minute: 5,
            second: 9,
            micros: 0,
        };
        let dtc = Column::new("t", ColumnType::DateTime);
        assert_eq!(text(&dt, &dtc).as_deref(), Some("0999-12-31 23:05:09"));
        let dt_us = Value::DateTime {
            year: 2024,
            month: 2,
            day: 29,
            hour: 1,
            minute: 2,
            second: 3,
            micros: 45,
        };
        assert_eq!(
            text(&dt_us, &dtc).as_deref(),
            Some("2024-02-29 01:02:03.000045")
        );
        let mut dtc3 = dtc.clone();
        dtc3.decimals = 3;
        assert_eq!(text(&dt, &dtc3).as_deref(), Some("0999-12-31 23:05:09.000"));
        // Calendar values adapt to the column type.
        let dc = Column::new("d", ColumnType::Date);
        assert_eq!(text(&dt_us, &dc).as_deref(), Some("2024-02-29"));
        assert_eq!(text(&d, &dtc).as_deref(), Some("2024-01-02 00:00:00"));
        let tc = Column::new("t", ColumnType::Time);
        assert_eq!(text(&dt_us, &tc).as_deref(), Some("01:02:03.000045"));
        let bit = Column::new("b", ColumnType::Bit);
        assert_eq!(
            Value::UInt(5).text_form(&bit).as_deref(),
            Some(&[0, 0, 0, 0, 0, 0, 0, 5][..])
        );
    }

    #[test]
    fn parse_dates_and_times() {
        assert_eq!(
            parse_datetime_text("2024-01-02 03:04:05.5"),
            Some(DateTimeParts {
                year: 2024,
                month: 1,
                day: 2,
                hour: 3,
                minute: 4,
                second: 5,
                micros: 500_000
            })
        );
        assert_eq!(
            parse_datetime_text("2024-01-02").map(|p| (p.year, p.month, p.day)),
            Some((2024, 1, 2))
        );
        assert_eq!(parse_datetime_text("2024-13-02"), None);
        assert_eq!(parse_datetime_text("x"), None);
        let t = parse_time_text("-838:59:59.000001").expect("time");
        assert!(t.negative);
        assert_eq!((t.hours, t.minute, t.second, t.micros), (838, 59, 59, 1));
        assert_eq!(t.to_string(), "-838:59:59.000001");
        assert_eq!(parse_time_text("12:60:00"), None);
        assert_eq!(parse_time_text("1:2:3.1234567"), None);
    }

    #[test]
    fn numeric_views() {
        assert_eq!(Value::Text(" 42 ".into()).as_i128(), Some(42));
        assert_eq!(Value::Decimal("-3.9".into()).as_i128(), Some(-3));
        assert_eq!(Value::Double(f64::INFINITY).as_i128(), None);
        assert_eq!(Value::Text("abc".into()).as_i128(), None);
        assert_eq!(Value::Int(3).as_f64(), Some(3.0));
        assert_eq!(Value::Bytes(b"2.5".to_vec()).as_f64(), Some(2.5));
        assert_eq!(
            Value::Date {
                year: 2001,
                month: 1,
                day: 1
            }
            .as_year(),
            Some(2001)
        );
        assert_eq!(bit_bytes(0x0102, 10), vec![1, 2]);
        assert_eq!(bit_bytes(1, 1), vec![1]);
    }
}
