//! The Stream Load JSON reader (crates/loadfmt) on any body and options: it never panics, and
//! the rows and the outcome do not depend on how the body is split into chunks.
//!
//! Input: 2 option bytes, then a JSON path text up to the first NUL byte (parsed by
//! `parse_json_path`; used as `json_root` when bit 2 is set), then the body.
//! - byte 0: bit 0 strip_outer_array, bit 1 jsonpaths (`$.id`, `$.a.b[1]`, `$['c d']`) for the
//!   three source columns, else the columns are looked up by key; bit 2 json_root.
//! - byte 1: the chunk size of the split feed (1..=256).
#![no_main]

use libfuzzer_sys::fuzz_target;
use loadfmt::parse_json_path;
use loadfmt::reader::{BodyReader, JsonReader, Rows};

#[derive(Default, Debug, PartialEq)]
struct Collect {
    rows: Vec<Vec<Option<String>>>,
    bad: Vec<(String, Vec<u8>)>,
}

impl Rows for Collect {
    fn row(&mut self, fields: &[Option<&str>], _raw: &[u8]) {
        self.rows
            .push(fields.iter().map(|f| f.map(str::to_string)).collect());
    }
    fn bad(&mut self, reason: String, raw: &[u8]) {
        self.bad.push((reason, raw.to_vec()));
    }
}

fn run(mut reader: JsonReader, body: &[u8], chunk: usize) -> (Collect, Result<(), String>) {
    let mut out = Collect::default();
    for piece in body.chunks(chunk.max(1)) {
        if let Err(e) = reader.feed(piece, &mut out) {
            return (out, Err(e));
        }
    }
    let result = reader.finish(&mut out);
    (out, result)
}

fuzz_target!(|data: &[u8]| {
    let [flags, chunk, rest @ ..] = data else {
        return;
    };
    let (path_text, body) = match rest.iter().position(|b| *b == 0) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (&[][..], rest),
    };
    let root = match std::str::from_utf8(path_text).map(parse_json_path) {
        Ok(Ok(steps)) => Some(steps),
        _ => None,
    };
    let sources: Vec<String> = ["id", "a", "c d"].iter().map(|s| s.to_string()).collect();
    let jsonpaths = (flags & 2 != 0).then(|| {
        ["$.id", "$.a.b[1]", "$['c d']"]
            .iter()
            .filter_map(|p| parse_json_path(p).ok())
            .collect::<Vec<_>>()
    });
    let json_root = if flags & 4 != 0 { root } else { None };
    let make = || {
        JsonReader::new(
            flags & 1 != 0,
            jsonpaths.clone(),
            json_root.clone(),
            sources.clone(),
        )
    };
    let (Ok(a), Ok(b)) = (make(), make()) else {
        panic!("three paths for three columns are accepted");
    };
    let whole = run(a, body, body.len());
    let split = run(b, body, usize::from(*chunk) + 1);
    assert_eq!(
        whole.1.is_ok(),
        split.1.is_ok(),
        "whole vs split: {:?} {:?}",
        whole.1,
        split.1
    );
    if whole.1.is_ok() {
        assert_eq!(whole.0, split.0, "whole vs split: rows");
    }
});
