//! Stream Load request headers.

use axum::http::HeaderMap;

use crate::load::expr::ColumnItem;
use crate::load::expr::Expr;
use crate::load::expr::parse_columns;
use crate::load::expr::parse_where;
pub use loadfmt::PathStep;
pub use loadfmt::check_csv_quoting;
pub use loadfmt::parse_json_path;
pub use loadfmt::show_byte;

/// Default load timeout, seconds (FE `stream_load_default_timeout_second`).
pub const DEFAULT_TIMEOUT_SECONDS: u32 = 600;
/// Largest load timeout, seconds.
pub const MAX_TIMEOUT_SECONDS: u32 = 259_200;
/// Longest column separator or row delimiter, bytes.
pub const MAX_SEPARATOR_BYTES: usize = 50;

/// The body's format.
#[derive(Clone, Debug, PartialEq)]
pub enum Format {
    /// Delimited text.
    Csv {
        /// Between fields.
        column_separator: Vec<u8>,
        /// Between rows.
        row_delimiter: Vec<u8>,
        /// Rows skipped at the start.
        skip_header: u64,
        /// `enclose`: the byte that may wrap a field (`"`); inside it the separators are data
        /// and a doubled enclose byte is one literal enclose byte.
        enclose: Option<u8>,
        /// `escape`: the byte that makes the next byte (or separator) literal (`\`).
        escape: Option<u8>,
        /// `trim_space`: spaces and tabs around each field are dropped (outside the enclose
        /// characters when the field is enclosed).
        trim_space: bool,
    },
    /// JSON objects.
    Json {
        /// The body is one array of objects.
        strip_outer_array: bool,
        /// One path per source column, in order.
        jsonpaths: Option<Vec<Vec<PathStep>>>,
        /// Where the rows are inside each document.
        json_root: Option<Vec<PathStep>>,
    },
}

/// Everything the headers say about a load.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// `label` (empty: the FE makes one).
    pub label: String,
    /// `format` and its options.
    pub format: Format,
    /// `columns`.
    pub columns: Option<Vec<ColumnItem>>,
    /// `where`.
    pub filter: Option<Expr>,
    /// `max_filter_ratio` (0..=1).
    pub max_filter_ratio: f64,
    /// `timeout`, seconds.
    pub timeout_seconds: u32,
    /// `strict_mode`: when false, a value that does not convert becomes NULL (if the column
    /// allows NULL) instead of filtering the row.
    pub strict_mode: bool,
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, String> {
    match h.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(|s| Some(s.trim()))
            .map_err(|_| format!("the {name} header is not valid text")),
    }
}

/// A header as sent (separators may be spaces).
fn raw_header<'a>(h: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, String> {
    match h.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(Some)
            .map_err(|_| format!("the {name} header is not valid text")),
    }
}

/// Parses a separator: escapes `\t`, `\n`, `\r`, `\\` and hex `\xHH` (several allowed).
pub fn parse_separator(name: &str, text: &str) -> Result<Vec<u8>, String> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            let simple = match b[i + 1] {
                b't' => Some(b'\t'),
                b'n' => Some(b'\n'),
                b'r' => Some(b'\r'),
                b'\\' => Some(b'\\'),
                _ => None,
            };
            if let Some(c) = simple {
                out.push(c);
                i += 2;
                continue;
            }
            if matches!(b[i + 1], b'x' | b'X') {
                let hex = text.get(i + 2..i + 4).ok_or_else(|| {
                    format!("{name}: `\\x` must be followed by two hex digits in '{text}'")
                })?;
                let v = u8::from_str_radix(hex, 16)
                    .map_err(|_| format!("{name}: `\\x{hex}` is not a hex byte in '{text}'"))?;
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    if out.is_empty() {
        return Err(format!("{name} is empty"));
    }
    if out.len() > MAX_SEPARATOR_BYTES {
        return Err(format!(
            "{name} is {} bytes; at most {MAX_SEPARATOR_BYTES} are allowed",
            out.len()
        ));
    }
    Ok(out)
}

/// Parses `enclose` or `escape`: one byte, given as itself or as `\xHH`.
pub fn parse_csv_char(name: &str, text: &str) -> Result<u8, String> {
    match text.as_bytes() {
        [b] => Ok(*b),
        [b'\\', b'x' | b'X', h, l] => std::str::from_utf8(&[*h, *l])
            .ok()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok())
            .ok_or_else(|| format!("{name}: '{text}' is not a hex byte like \\x22")),
        _ => Err(format!(
            "{name} must be a single character, got '{text}' (one byte such as \" or \\, or \\xHH)"
        )),
    }
}

fn parse_bool(name: &str, v: &str) -> Result<bool, String> {
    if v.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if v.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(format!("{name} must be true or false, not '{v}'"))
    }
}

impl LoadOptions {
    /// Reads the headers. Errors name the header.
    pub fn from_headers(h: &HeaderMap) -> Result<LoadOptions, String> {
        let label = header(h, "label")?.unwrap_or_default().to_string();
        let format = header(h, "format")?.unwrap_or("csv").to_ascii_lowercase();
        let format = match format.as_str() {
            "csv" => {
                let column_separator = match raw_header(h, "column_separator")? {
                    Some(s) if !s.is_empty() => parse_separator("column_separator", s)?,
                    _ => b"\t".to_vec(),
                };
                let row_delimiter = match raw_header(h, "row_delimiter")? {
                    Some(s) if !s.is_empty() => parse_separator("row_delimiter", s)?,
                    _ => b"\n".to_vec(),
                };
                let skip_header = match header(h, "skip_header")? {
                    Some(s) => s
                        .parse()
                        .map_err(|_| format!("skip_header must be a number of rows, not '{s}'"))?,
                    None => 0,
                };
                let enclose = match raw_header(h, "enclose")? {
                    Some(v) => Some(parse_csv_char("enclose", v)?),
                    None => None,
                };
                let escape = match raw_header(h, "escape")? {
                    Some(v) => Some(parse_csv_char("escape", v)?),
                    None => None,
                };
                check_csv_quoting(&column_separator, &row_delimiter, enclose, escape)?;
                let trim_space = match header(h, "trim_space")? {
                    Some(v) => parse_bool("trim_space", v)?,
                    None => false,
                };
                Format::Csv {
                    column_separator,
                    row_delimiter,
                    skip_header,
                    enclose,
                    escape,
                    trim_space,
                }
            }
            "json" => {
                let strip_outer_array = match header(h, "strip_outer_array")? {
                    Some(v) => parse_bool("strip_outer_array", v)?,
                    None => false,
                };
                let jsonpaths = match header(h, "jsonpaths")? {
                    Some(v) if !v.is_empty() => {
                        let list: Vec<String> = serde_json::from_str(v).map_err(|e| {
                            format!("jsonpaths must be a JSON array of paths like [\"$.id\"]: {e}")
                        })?;
                        if list.is_empty() {
                            return Err("jsonpaths is an empty list".into());
                        }
                        Some(
                            list.iter()
                                .map(|p| parse_json_path(p))
                                .collect::<Result<Vec<_>, _>>()?,
                        )
                    }
                    _ => None,
                };
                let json_root = match header(h, "json_root")? {
                    Some(v) if !v.is_empty() => Some(parse_json_path(v)?),
                    _ => None,
                };
                Format::Json {
                    strip_outer_array,
                    jsonpaths,
                    json_root,
                }
            }
            other => {
                return Err(format!(
                    "format '{other}' is not supported: use csv or json"
                ));
            }
        };
        let columns = match header(h, "columns")? {
            Some(c) if !c.is_empty() => {
                Some(parse_columns(c).map_err(|e| format!("columns: {e}"))?)
            }
            _ => None,
        };
        let filter = match header(h, "where")? {
            Some(w) if !w.is_empty() => Some(parse_where(w).map_err(|e| format!("where: {e}"))?),
            _ => None,
        };
        let max_filter_ratio = match header(h, "max_filter_ratio")? {
            Some(v) => {
                let r: f64 = v
                    .parse()
                    .map_err(|_| format!("max_filter_ratio must be a number, not '{v}'"))?;
                if !(0.0..=1.0).contains(&r) {
                    return Err(format!("max_filter_ratio must be between 0 and 1, not {v}"));
                }
                r
            }
            None => 0.0,
        };
        let timeout_seconds = match header(h, "timeout")? {
            Some(v) => {
                let t: u32 = v
                    .parse()
                    .map_err(|_| format!("timeout must be a number of seconds, not '{v}'"))?;
                if !(1..=MAX_TIMEOUT_SECONDS).contains(&t) {
                    return Err(format!(
                        "timeout must be between 1 and {MAX_TIMEOUT_SECONDS} seconds, not {t}"
                    ));
                }
                t
            }
            None => DEFAULT_TIMEOUT_SECONDS,
        };
        let strict_mode = match header(h, "strict_mode")? {
            Some(v) => parse_bool("strict_mode", v)?,
            None => true,
        };
        for unsupported in [
            "partitions",
            "temporary_partitions",
            "partial_update",
            "merge_condition",
        ] {
            if header(h, unsupported)?.is_some_and(|v| !v.is_empty()) {
                return Err(format!(
                    "the {unsupported} header is not supported by Tessera's Stream Load"
                ));
            }
        }
        if let Some(c) = header(h, "compress_type")?.filter(|v| !v.is_empty())
            && !c.eq_ignore_ascii_case("none")
        {
            return Err(format!(
                "compressed bodies ({c}) are not supported: send uncompressed data"
            ));
        }
        Ok(LoadOptions {
            label,
            format,
            columns,
            filter,
            max_filter_ratio,
            timeout_seconds,
            strict_mode,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).expect("header value"));
        }
        h
    }

    #[test]
    fn separators_accept_escapes_and_hex() {
        assert_eq!(parse_separator("s", ",").expect("ok"), b",");
        assert_eq!(parse_separator("s", "\\t").expect("ok"), b"\t");
        assert_eq!(parse_separator("s", "\\x01").expect("ok"), [1u8]);
        assert_eq!(parse_separator("s", "\\x01\\x02").expect("ok"), [1u8, 2]);
        assert_eq!(parse_separator("s", "||").expect("ok"), b"||");
        assert_eq!(parse_separator("s", "a\\\\b").expect("ok"), b"a\\b");
        assert_eq!(parse_separator("s", "\\q").expect("ok"), b"\\q");
        assert_eq!(parse_separator("s", "\\r\\n").expect("ok"), b"\r\n");
        assert!(parse_separator("s", "\\x0").is_err());
        assert!(parse_separator("s", "\\xzz").is_err());
        assert!(parse_separator("s", &"x".repeat(51)).is_err());
    }

    #[test]
    fn defaults_and_bad_values() {
        let o = LoadOptions::from_headers(&HeaderMap::new()).expect("defaults");
        assert_eq!(
            o.format,
            Format::Csv {
                column_separator: b"\t".to_vec(),
                row_delimiter: b"\n".to_vec(),
                skip_header: 0,
                enclose: None,
                escape: None,
                trim_space: false,
            }
        );
        assert_eq!(o.timeout_seconds, 600);
        assert_eq!(o.max_filter_ratio, 0.0);
        assert!(o.label.is_empty() && o.columns.is_none() && o.filter.is_none());
        for (k, v, why) in [
            ("timeout", "0", "between 1 and 259200"),
            ("timeout", "259201", "between 1 and 259200"),
            ("timeout", "x", "timeout must be"),
            ("max_filter_ratio", "1.5", "between 0 and 1"),
            ("format", "parquet", "not supported"),
            ("columns", "a b", "columns:"),
            ("where", "a =", "where:"),
            ("strict_mode", "yes", "strict_mode"),
            ("partitions", "p1", "not supported"),
            (
                "enclose",
                "ab",
                "enclose must be a single character, got 'ab'",
            ),
            ("enclose", "", "enclose must be a single character, got ''"),
            ("enclose", "é", "the enclose header is not valid text"),
            (
                "escape",
                "\\\\",
                "escape must be a single character, got '\\\\'",
            ),
            ("escape", "\\xzz", "escape: '\\xzz' is not a hex byte"),
            (
                "enclose",
                "\t",
                "enclose ('\\t') cannot be a character of column_separator",
            ),
            (
                "trim_space",
                "yes",
                "trim_space must be true or false, not 'yes'",
            ),
        ] {
            let err = LoadOptions::from_headers(&headers(&[(k, v)])).expect_err(k);
            assert!(err.contains(why), "{k}={v}: {err}");
        }
    }

    #[test]
    fn csv_enclose_escape_trim_space() {
        let o = LoadOptions::from_headers(&headers(&[
            ("column_separator", ","),
            ("enclose", "\""),
            ("escape", "\\"),
            ("trim_space", "TRUE"),
        ]))
        .expect("ok");
        let Format::Csv {
            enclose,
            escape,
            trim_space,
            ..
        } = o.format
        else {
            panic!("csv")
        };
        assert_eq!(
            (enclose, escape, trim_space),
            (Some(b'"'), Some(b'\\'), true)
        );
        let o = LoadOptions::from_headers(&headers(&[("enclose", "\\x27")])).expect("hex");
        assert!(matches!(
            o.format,
            Format::Csv {
                enclose: Some(b'\''),
                ..
            }
        ));
        // Neither may be part of a separator.
        let err =
            LoadOptions::from_headers(&headers(&[("column_separator", "||"), ("escape", "|")]))
                .expect_err("escape in the separator");
        assert!(
            err.contains("escape ('|') cannot be a character of column_separator"),
            "{err}"
        );
        let err = LoadOptions::from_headers(&headers(&[
            ("row_delimiter", "\\r\\n"),
            ("enclose", "\\x0d"),
        ]));
        assert!(err.is_err());
        // JSON loads ignore them, as StarRocks does.
        let o = LoadOptions::from_headers(&headers(&[("format", "json"), ("enclose", "\"")]));
        assert!(o.is_ok());
    }

    #[test]
    fn json_options() {
        let o = LoadOptions::from_headers(&headers(&[
            ("format", "JSON"),
            ("strip_outer_array", "true"),
            ("jsonpaths", r#"["$.id", "$.a.b[1]", "$['x y']"]"#),
            ("json_root", "$.data"),
        ]))
        .expect("ok");
        let Format::Json {
            strip_outer_array,
            jsonpaths,
            json_root,
        } = o.format
        else {
            panic!("json")
        };
        assert!(strip_outer_array);
        assert_eq!(
            jsonpaths,
            Some(vec![
                vec![PathStep::Key("id".into())],
                vec![
                    PathStep::Key("a".into()),
                    PathStep::Key("b".into()),
                    PathStep::Index(1)
                ],
                vec![PathStep::Key("x y".into())],
            ])
        );
        assert_eq!(json_root, Some(vec![PathStep::Key("data".into())]));
        for bad in [r#"["id"]"#, "[", "[]", r#"["$.a["]"#] {
            let h = headers(&[("format", "json"), ("jsonpaths", bad)]);
            assert!(LoadOptions::from_headers(&h).is_err(), "{bad}");
        }
        assert_eq!(parse_json_path("$").expect("root"), Vec::<PathStep>::new());
    }
}
