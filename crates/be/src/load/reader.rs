//! Streaming parsers of a Stream Load body: CSV rows and JSON objects, fed chunk by chunk as
//! the body arrives. Only the current partial row (or JSON value) is kept between chunks.

use std::borrow::Cow;
use std::collections::HashMap;

use serde_json::value::RawValue;

use crate::load::options::PathStep;

/// A JSON value larger than this is refused (StarRocks's streaming_load_max_batch_size_mb).
pub const MAX_JSON_VALUE_BYTES: usize = 100 * 1024 * 1024;

/// Where parsed rows go.
pub trait Rows {
    /// A row's fields (None = NULL); `raw` is the row as sent, for the error log.
    fn row(&mut self, fields: &[Option<&str>], raw: &[u8]);
    /// A row that cannot be parsed: filtered with `reason`.
    fn bad(&mut self, reason: String, raw: &[u8]);
}

/// A body parser.
pub trait BodyReader: Send {
    /// Parses what `chunk` completes. `Err` fails the whole load.
    fn feed(&mut self, chunk: &[u8], out: &mut dyn Rows) -> Result<(), String>;
    /// The body ended.
    fn finish(&mut self, out: &mut dyn Rows) -> Result<(), String>;
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    match needle {
        [b] => memchr::memchr(*b, hay),
        _ => memchr::memmem::find(hay, needle),
    }
}

/// Delimited text. `\N` is NULL.
pub struct CsvReader {
    sep: Vec<u8>,
    delim: Vec<u8>,
    skip: u64,
    buf: Vec<u8>,
    /// No delimiter starts before this offset of `buf`.
    scanned: usize,
}

impl CsvReader {
    /// A reader with the given separators, skipping `skip_header` rows.
    pub fn new(column_separator: Vec<u8>, row_delimiter: Vec<u8>, skip_header: u64) -> CsvReader {
        CsvReader {
            sep: column_separator,
            delim: row_delimiter,
            skip: skip_header,
            buf: Vec::new(),
            scanned: 0,
        }
    }
}

fn emit_csv(row: &[u8], sep: &[u8], skip: &mut u64, out: &mut dyn Rows) {
    if row.is_empty() {
        return;
    }
    if *skip > 0 {
        *skip -= 1;
        return;
    }
    let mut fields: Vec<Option<&str>> = Vec::new();
    let mut rest = row;
    loop {
        let (field, next) = match find(rest, sep) {
            Some(i) => (&rest[..i], Some(&rest[i + sep.len()..])),
            None => (rest, None),
        };
        if field == b"\\N" {
            fields.push(None);
        } else {
            match std::str::from_utf8(field) {
                Ok(s) => fields.push(Some(s)),
                Err(_) => {
                    out.bad(
                        format!("column {} is not valid UTF-8 text", fields.len() + 1),
                        row,
                    );
                    return;
                }
            }
        }
        match next {
            Some(n) => rest = n,
            None => break,
        }
    }
    out.row(&fields, row);
}

impl BodyReader for CsvReader {
    fn feed(&mut self, chunk: &[u8], out: &mut dyn Rows) -> Result<(), String> {
        self.buf.extend_from_slice(chunk);
        let mut start = 0;
        let mut from = self.scanned;
        while let Some(i) = find(&self.buf[from..], &self.delim) {
            let end = from + i;
            emit_csv(&self.buf[start..end], &self.sep, &mut self.skip, out);
            start = end + self.delim.len();
            from = start;
        }
        self.buf.drain(..start);
        self.scanned = self.buf.len().saturating_sub(self.delim.len() - 1);
        Ok(())
    }

    fn finish(&mut self, out: &mut dyn Rows) -> Result<(), String> {
        let rest = std::mem::take(&mut self.buf);
        emit_csv(&rest, &self.sep, &mut self.skip, out);
        self.scanned = 0;
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum JsonState {
    /// Nothing seen yet.
    Start,
    /// Documents one after another (newline-delimited objects).
    Documents,
    /// Inside the outer array, expecting a value (or `]` when `first`).
    ArrayValue { first: bool },
    /// Inside the outer array after a value: `,` or `]`.
    ArrayAfter,
    /// After the outer array.
    Done,
}

/// JSON objects: one per line (or whitespace-separated), or the elements of one outer array
/// (`strip_outer_array`). Each object is a row; with `jsonpaths` each path gives the next
/// source column, else the source columns are looked up by key.
pub struct JsonReader {
    strip_outer_array: bool,
    jsonpaths: Option<Vec<Vec<PathStep>>>,
    json_root: Option<Vec<PathStep>>,
    sources: Vec<String>,
    buf: Vec<u8>,
    pos: usize,
    state: JsonState,
    /// An incomplete value is parsed again only once this many bytes are unconsumed.
    need: usize,
}

impl JsonReader {
    /// A reader producing `sources` (the source column names, in order).
    pub fn new(
        strip_outer_array: bool,
        jsonpaths: Option<Vec<Vec<PathStep>>>,
        json_root: Option<Vec<PathStep>>,
        sources: Vec<String>,
    ) -> Result<JsonReader, String> {
        if let Some(p) = &jsonpaths
            && p.len() != sources.len()
        {
            return Err(format!(
                "jsonpaths has {} paths but the load takes {} columns ({})",
                p.len(),
                sources.len(),
                sources.join(", ")
            ));
        }
        Ok(JsonReader {
            strip_outer_array,
            jsonpaths,
            json_root,
            sources,
            buf: Vec::new(),
            pos: 0,
            state: JsonState::Start,
            need: 0,
        })
    }

    fn run(&mut self, eof: bool, out: &mut dyn Rows) -> Result<(), String> {
        loop {
            while self.pos < self.buf.len() && self.buf[self.pos].is_ascii_whitespace() {
                self.pos += 1;
            }
            if self.pos >= self.buf.len() {
                break;
            }
            let c = self.buf[self.pos];
            match self.state {
                JsonState::Start => {
                    if c == b'[' && !self.strip_outer_array {
                        return Err(
                            "JSON data is array-object, `strip_outer_array` must be TRUE.".into(),
                        );
                    }
                    if c != b'[' && self.strip_outer_array {
                        return Err(
                            "JSON data is not an array-object, `strip_outer_array` must be FALSE."
                                .into(),
                        );
                    }
                    if c == b'[' {
                        self.pos += 1;
                        self.state = JsonState::ArrayValue { first: true };
                    } else {
                        self.state = JsonState::Documents;
                    }
                }
                JsonState::ArrayAfter => match c {
                    b',' => {
                        self.pos += 1;
                        self.state = JsonState::ArrayValue { first: false };
                    }
                    b']' => {
                        self.pos += 1;
                        self.state = JsonState::Done;
                    }
                    _ => {
                        return Err(format!(
                            "invalid JSON: expected `,` or `]` in the outer array, found `{}`",
                            char::from(c)
                        ));
                    }
                },
                JsonState::ArrayValue { first } if c == b']' => {
                    if !first {
                        return Err("invalid JSON: a `,` before `]` in the outer array".into());
                    }
                    self.pos += 1;
                    self.state = JsonState::Done;
                }
                JsonState::Done => {
                    return Err("invalid JSON: data after the end of the outer array".into());
                }
                JsonState::Documents | JsonState::ArrayValue { .. } => {
                    let in_array = self.state != JsonState::Documents;
                    let slice = &self.buf[self.pos..];
                    let mut it =
                        serde_json::Deserializer::from_slice(slice).into_iter::<&RawValue>();
                    match it.next() {
                        Some(Ok(v)) => {
                            let n = it.byte_offset();
                            let scalar_at_end =
                                n == slice.len() && !matches!(c, b'{' | b'[' | b'"');
                            if scalar_at_end && !eof {
                                // A number may continue in the next chunk.
                                self.need = slice.len() + 1;
                                break;
                            }
                            emit_document(
                                v,
                                self.json_root.as_deref(),
                                self.jsonpaths.as_deref(),
                                &self.sources,
                                out,
                            );
                            self.pos += n;
                            if in_array {
                                self.state = JsonState::ArrayAfter;
                            }
                        }
                        Some(Err(e)) if e.is_eof() && !eof => {
                            self.need = slice.len().saturating_mul(2);
                            break;
                        }
                        Some(Err(e)) if in_array => {
                            return Err(format!("invalid JSON in the outer array: {e}"));
                        }
                        Some(Err(e)) => {
                            // Skip to the next line and go on.
                            match memchr::memchr(b'\n', slice) {
                                Some(nl) => {
                                    out.bad(format!("invalid JSON: {e}"), &slice[..nl]);
                                    self.pos += nl + 1;
                                }
                                None if eof => {
                                    out.bad(format!("invalid JSON: {e}"), slice);
                                    self.pos = self.buf.len();
                                }
                                None => {
                                    self.need = slice.len() + 1;
                                    break;
                                }
                            }
                        }
                        None => break,
                    }
                }
            }
        }
        self.buf.drain(..self.pos);
        self.pos = 0;
        if self.buf.len() > MAX_JSON_VALUE_BYTES {
            return Err(format!(
                "a JSON value is larger than {} MB",
                MAX_JSON_VALUE_BYTES / (1024 * 1024)
            ));
        }
        Ok(())
    }
}

impl BodyReader for JsonReader {
    fn feed(&mut self, chunk: &[u8], out: &mut dyn Rows) -> Result<(), String> {
        self.buf.extend_from_slice(chunk);
        if self.buf.len() - self.pos < self.need {
            if self.buf.len() > MAX_JSON_VALUE_BYTES {
                return Err(format!(
                    "a JSON value is larger than {} MB",
                    MAX_JSON_VALUE_BYTES / (1024 * 1024)
                ));
            }
            return Ok(());
        }
        self.need = 0;
        self.run(false, out)
    }

    fn finish(&mut self, out: &mut dyn Rows) -> Result<(), String> {
        self.need = 0;
        self.run(true, out)?;
        match self.state {
            JsonState::ArrayValue { .. } | JsonState::ArrayAfter => {
                Err("invalid JSON: the outer array is not closed".into())
            }
            _ => Ok(()),
        }
    }
}

/// A JSON value as a source field: NULL for `null`, a string's content, else the JSON text
/// (numbers keep their exact digits).
fn scalar(v: &RawValue) -> Option<Cow<'_, str>> {
    let t = v.get().trim();
    match t.as_bytes().first() {
        None | Some(b'n') => None,
        Some(b'"') => match serde_json::from_str::<&str>(t) {
            Ok(s) => Some(Cow::Borrowed(s)),
            Err(_) => serde_json::from_str::<String>(t).ok().map(Cow::Owned),
        },
        _ => Some(Cow::Borrowed(t)),
    }
}

fn object(v: &RawValue) -> Option<HashMap<String, &RawValue>> {
    serde_json::from_str(v.get()).ok()
}

fn step<'a>(v: &'a RawValue, s: &PathStep) -> Option<&'a RawValue> {
    match s {
        PathStep::Key(k) => {
            let mut obj = object(v)?;
            obj.remove(k)
        }
        PathStep::Index(i) => {
            let arr: Vec<&RawValue> = serde_json::from_str(v.get()).ok()?;
            arr.get(*i).copied()
        }
    }
}

fn navigate<'a>(v: &'a RawValue, path: &[PathStep]) -> Option<&'a RawValue> {
    path.iter().try_fold(v, |v, s| step(v, s))
}

fn emit_document(
    doc: &RawValue,
    root: Option<&[PathStep]>,
    paths: Option<&[Vec<PathStep>]>,
    sources: &[String],
    out: &mut dyn Rows,
) {
    let v = match root {
        None => doc,
        Some(r) => match navigate(doc, r) {
            Some(v) => v,
            None => {
                out.bad(
                    "json_root is not found in the JSON value".into(),
                    doc.get().as_bytes(),
                );
                return;
            }
        },
    };
    if root.is_some() && v.get().trim_start().starts_with('[') {
        let Ok(items) = serde_json::from_str::<Vec<&RawValue>>(v.get()) else {
            out.bad("json_root is not a valid array".into(), v.get().as_bytes());
            return;
        };
        for item in items {
            emit_row(item, paths, sources, out);
        }
    } else {
        emit_row(v, paths, sources, out);
    }
}

fn emit_row(v: &RawValue, paths: Option<&[Vec<PathStep>]>, sources: &[String], out: &mut dyn Rows) {
    let raw = v.get().as_bytes();
    let values: Vec<Option<Cow<'_, str>>> = match paths {
        Some(paths) => paths
            .iter()
            .map(|p| navigate(v, p).and_then(scalar))
            .collect(),
        None => {
            let Some(obj) = object(v) else {
                out.bad("the JSON value is not an object".into(), raw);
                return;
            };
            sources
                .iter()
                .map(|name| {
                    let found = obj.get(name.as_str()).copied().or_else(|| {
                        obj.iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case(name))
                            .map(|(_, v)| *v)
                    });
                    found.and_then(scalar)
                })
                .collect()
        }
    };
    let fields: Vec<Option<&str>> = values.iter().map(|v| v.as_deref()).collect();
    out.row(&fields, raw);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::options::parse_json_path;

    #[derive(Default)]
    struct Collect {
        rows: Vec<Vec<Option<String>>>,
        bad: Vec<(String, String)>,
    }

    impl Rows for Collect {
        fn row(&mut self, fields: &[Option<&str>], _raw: &[u8]) {
            self.rows
                .push(fields.iter().map(|f| f.map(str::to_string)).collect());
        }
        fn bad(&mut self, reason: String, raw: &[u8]) {
            self.bad
                .push((reason, String::from_utf8_lossy(raw).into_owned()));
        }
    }

    /// Feeds `body` in chunks of every size from 1 to 7 and checks each gives the same.
    fn parse(make: &dyn Fn() -> Box<dyn BodyReader>, body: &[u8]) -> Result<Collect, String> {
        let mut first: Option<Collect> = None;
        for size in [body.len().max(1), 1, 2, 3, 7] {
            let mut r = make();
            let mut c = Collect::default();
            for chunk in body.chunks(size) {
                r.feed(chunk, &mut c)?;
            }
            r.finish(&mut c)?;
            match &first {
                None => first = Some(c),
                Some(f) => {
                    assert_eq!(f.rows, c.rows, "chunk size {size}");
                    assert_eq!(f.bad, c.bad, "chunk size {size}");
                }
            }
        }
        first.ok_or_else(|| "no run".into())
    }

    fn s(v: &str) -> Option<String> {
        Some(v.to_string())
    }

    fn csv(sep: &[u8], delim: &[u8], skip: u64) -> impl Fn() -> Box<dyn BodyReader> {
        let (sep, delim) = (sep.to_vec(), delim.to_vec());
        move || Box::new(CsvReader::new(sep.clone(), delim.clone(), skip))
    }

    #[test]
    fn csv_rows_fields_and_nulls() {
        let c = parse(&csv(b",", b"\n", 0), b"1,a,\\N\n2,,x\n\n3,b,c").expect("ok");
        assert_eq!(
            c.rows,
            vec![
                vec![s("1"), s("a"), None],
                vec![s("2"), s(""), s("x")],
                vec![s("3"), s("b"), s("c")],
            ]
        );
        assert!(c.bad.is_empty());
        let c = parse(&csv(b"||", b"\r\n", 1), b"h1||h2\r\na||b|c\r\n||\r\n").expect("ok");
        assert_eq!(c.rows, vec![vec![s("a"), s("b|c")], vec![s(""), s("")]]);
        let c = parse(
            &csv(&[1], &[2, 3], 0),
            b"a\x01b\x02\x03c\x01\xe4\xb8\xad\x02\x03",
        )
        .expect("ok");
        assert_eq!(c.rows, vec![vec![s("a"), s("b")], vec![s("c"), s("中")]]);
        let c = parse(&csv(b"\t", b"\n", 0), b"ok\n\xff\tx\n").expect("ok");
        assert_eq!(c.rows, vec![vec![s("ok")]]);
        assert_eq!(c.bad.len(), 1);
        assert!(
            c.bad[0].0.contains("column 1 is not valid UTF-8"),
            "{:?}",
            c.bad
        );
    }

    fn json(
        strip: bool,
        paths: Option<&[&str]>,
        root: Option<&str>,
        sources: &[&str],
    ) -> impl Fn() -> Box<dyn BodyReader> {
        let paths: Option<Vec<Vec<PathStep>>> = paths.map(|p| {
            p.iter()
                .map(|x| parse_json_path(x).expect("path"))
                .collect()
        });
        let root = root.map(|r| parse_json_path(r).expect("root"));
        let sources: Vec<String> = sources.iter().map(|s| s.to_string()).collect();
        move || {
            Box::new(
                JsonReader::new(strip, paths.clone(), root.clone(), sources.clone())
                    .expect("reader"),
            )
        }
    }

    #[test]
    fn json_lines_and_arrays() {
        let body = br#"{"id": 1, "name": "a\"b", "x": null}
{"ID": 22.50, "name": {"n": [1, 2]}}
  {"id": 3}   {"id": -4e2}
"#;
        let c = parse(&json(false, None, None, &["id", "name", "x"]), body).expect("ok");
        assert_eq!(
            c.rows,
            vec![
                vec![s("1"), s("a\"b"), None],
                vec![s("22.50"), s(r#"{"n": [1, 2]}"#), None],
                vec![s("3"), None, None],
                vec![s("-4e2"), None, None],
            ]
        );
        let body = br#" [ {"id": 1, "v": true}, {"id": 2, "v": "x"} ] "#;
        let c = parse(&json(true, None, None, &["id", "v"]), body).expect("ok");
        assert_eq!(c.rows, vec![vec![s("1"), s("true")], vec![s("2"), s("x")]]);
        let c = parse(&json(true, None, None, &["id"]), b"[]").expect("empty array");
        assert!(c.rows.is_empty());
        let c = parse(&json(false, None, None, &["id"]), b"  ").expect("empty body");
        assert!(c.rows.is_empty());
    }

    #[test]
    fn json_paths_and_root() {
        let body = br#"{"a": {"id": 7, "tags": ["x", "y"]}, "n": "z"}"#;
        let c = parse(
            &json(
                false,
                Some(&["$.a.id", "$.a.tags[1]", "$['n']", "$.missing"]),
                None,
                &["k", "t", "n", "m"],
            ),
            body,
        )
        .expect("ok");
        assert_eq!(c.rows, vec![vec![s("7"), s("y"), s("z"), None]]);
        let body = br#"{"data": [{"id": 1}, {"id": 2}]}"#;
        let c = parse(&json(false, None, Some("$.data"), &["id"]), body).expect("ok");
        assert_eq!(c.rows, vec![vec![s("1")], vec![s("2")]]);
        assert!(
            JsonReader::new(
                false,
                Some(vec![vec![]]),
                None,
                vec!["a".into(), "b".into()]
            )
            .is_err()
        );
    }

    #[test]
    fn bad_json() {
        let c = parse(
            &json(false, None, None, &["id"]),
            b"{\"id\": 1}\n{\"id\": ,}\n[1]\n\"s\"\n{\"id\": 2}",
        )
        .expect("ok");
        assert_eq!(c.rows, vec![vec![s("1")], vec![s("2")]]);
        assert_eq!(c.bad.len(), 3, "{:?}", c.bad);
        assert!(c.bad[0].0.starts_with("invalid JSON"), "{:?}", c.bad);
        assert_eq!(c.bad[1].0, "the JSON value is not an object");
        let make = json(false, None, None, &["id"]);
        for (body, why, strip) in [
            (
                &b"[{\"id\": 1}]"[..],
                "strip_outer_array` must be TRUE",
                false,
            ),
            (b"{\"id\": 1}", "strip_outer_array` must be FALSE", true),
            (b"[{\"id\": 1} {\"id\": 2}]", "expected `,` or `]`", true),
            (b"[{\"id\": 1},]", "a `,` before `]`", true),
            (b"[{\"id\": 1}", "not closed", true),
            (b"[{\"id\": 1}] x", "after the end", true),
            (
                b"[{\"id\": 1}, {\"id\": }]",
                "invalid JSON in the outer array",
                true,
            ),
        ] {
            let err = if strip {
                parse(&json(true, None, None, &["id"]), body).err()
            } else {
                parse(&make, body).err()
            };
            let err = err.unwrap_or_else(|| panic!("{} parsed", String::from_utf8_lossy(body)));
            assert!(err.contains(why), "{err}");
        }
    }
}
