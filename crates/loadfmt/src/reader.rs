//! Streaming parsers of a Stream Load body: CSV rows and JSON objects, fed chunk by chunk as
//! the body arrives. Only the current partial row (or JSON value) is kept between chunks.

use std::borrow::Cow;
use std::collections::HashMap;

use serde_json::value::RawValue;

use crate::PathStep;
use crate::show_byte;

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

/// Longest CSV row kept while its end has not arrived (the whole rest of the body would be
/// one row after an enclose character that is never closed). A longer row fails the load.
pub const MAX_CSV_ROW_BYTES: usize = 100 * 1024 * 1024;

/// What separates and quotes the fields of a CSV body.
struct Syntax {
    sep: Vec<u8>,
    delim: Vec<u8>,
    enclose: Option<u8>,
    escape: Option<u8>,
    trim: bool,
}

impl Syntax {
    /// The first enclose or escape byte of `hay`.
    fn find_special(&self, hay: &[u8]) -> Option<usize> {
        match (self.enclose, self.escape) {
            (Some(q), Some(e)) => memchr::memchr2(q, e, hay),
            (Some(b), None) | (None, Some(b)) => memchr::memchr(b, hay),
            (None, None) => None,
        }
    }

    /// Whether `row[p..]` starts with `pat`: None when only more data can tell.
    fn starts(row: &[u8], p: usize, pat: &[u8], eof: bool) -> Option<bool> {
        let rest = row.get(p..).unwrap_or_default();
        if rest.len() >= pat.len() {
            Some(rest.starts_with(pat))
        } else if !eof && pat.starts_with(rest) {
            None
        } else {
            Some(false)
        }
    }

    /// What starts at `row[p]`: the row delimiter (it wins over the column separator), the
    /// column separator, or data.
    fn at(&self, row: &[u8], p: usize, eof: bool) -> At {
        match Syntax::starts(row, p, &self.delim, eof) {
            None => return At::NeedMore,
            Some(true) => return At::Delim,
            Some(false) => {}
        }
        match Syntax::starts(row, p, &self.sep, eof) {
            None => At::NeedMore,
            Some(true) => At::Sep,
            Some(false) => At::Data,
        }
    }
}

/// See [`Syntax::at`].
enum At {
    Delim,
    Sep,
    Data,
    NeedMore,
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Where the quoting parser is inside a field.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Mode {
    /// Before the field's first byte (leading blanks are skipped here with trim_space).
    #[default]
    FieldStart,
    /// In an unenclosed field, or after an enclosed field's closing character.
    Plain,
    /// Inside an enclosed field opened by this byte.
    Enclosed(u8),
}

/// A decoded field: `out[start..end]`, or NULL.
struct Span {
    start: usize,
    end: usize,
    null: bool,
}

/// What [`Quoted::run`] did with the bytes it was given.
enum Step {
    /// The row ended: its text is the first `raw` bytes; the next row starts at `next`.
    Row { raw: usize, next: usize },
    /// The row goes on past the bytes given.
    More,
    /// The data ended inside an enclosed field.
    Unterminated(u8),
}

/// The slow path, for a row that holds an enclose or escape byte: decoded byte by byte (runs
/// of ordinary bytes are copied whole). Its state survives between chunks, so a row spread
/// over many chunks is read once.
#[derive(Default)]
struct Quoted {
    /// A row is being read.
    active: bool,
    /// The next byte to read, from the row's start.
    pos: usize,
    mode: Mode,
    /// The row's decoded fields, one after another.
    out: Vec<u8>,
    spans: Vec<Span>,
    /// Where the current field starts in `out`.
    field_start: usize,
    /// trim_space does not cut `out` below this (enclosed or escaped data).
    keep: usize,
    /// Where the current field starts in the row (after leading blanks).
    raw_start: usize,
    /// The current field started with the enclose character.
    enclosed: bool,
}

impl Quoted {
    /// Reads `row` (the bytes from the row's start) from where it stopped. With `eof`, the
    /// data ends with `row`.
    fn run(&mut self, row: &[u8], eof: bool, syn: &Syntax) -> Step {
        loop {
            let p = self.pos;
            let Some(&b) = row.get(p) else {
                if !eof {
                    return Step::More;
                }
                return match self.mode {
                    Mode::Enclosed(q) => Step::Unterminated(q),
                    Mode::FieldStart => {
                        self.raw_start = p;
                        self.end_field(row, p, syn.trim);
                        Step::Row { raw: p, next: p }
                    }
                    Mode::Plain => {
                        self.end_field(row, p, syn.trim);
                        Step::Row { raw: p, next: p }
                    }
                };
            };
            match self.mode {
                Mode::FieldStart | Mode::Plain => {
                    if self.mode == Mode::FieldStart {
                        self.raw_start = p;
                    } else {
                        // Copy ordinary bytes up to the next one that may mean something.
                        let rest = &row[p..];
                        let stop = match syn.escape {
                            Some(e) => memchr::memchr3(syn.sep[0], syn.delim[0], e, rest),
                            None => memchr::memchr2(syn.sep[0], syn.delim[0], rest),
                        }
                        .unwrap_or(rest.len());
                        if stop > 0 {
                            self.out.extend_from_slice(&rest[..stop]);
                            self.pos = p + stop;
                            continue;
                        }
                    }
                    match syn.at(row, p, eof) {
                        At::NeedMore => return Step::More,
                        At::Delim => {
                            self.end_field(row, p, syn.trim);
                            return Step::Row {
                                raw: p,
                                next: p + syn.delim.len(),
                            };
                        }
                        At::Sep => {
                            self.end_field(row, p, syn.trim);
                            self.pos = p + syn.sep.len();
                            continue;
                        }
                        At::Data => {}
                    }
                    if self.mode == Mode::FieldStart {
                        if syn.trim && is_blank(b) {
                            self.pos = p + 1;
                        } else if Some(b) == syn.enclose {
                            self.enclosed = true;
                            self.mode = Mode::Enclosed(b);
                            self.pos = p + 1;
                        } else {
                            self.mode = Mode::Plain;
                        }
                    } else if Some(b) == syn.escape {
                        // The next byte is data; so is a whole separator or delimiter.
                        let q = p + 1;
                        if q >= row.len() {
                            if !eof {
                                return Step::More;
                            }
                            self.out.push(b);
                            self.pos = q;
                            continue;
                        }
                        let n = match syn.at(row, q, eof) {
                            At::NeedMore => return Step::More,
                            At::Delim => syn.delim.len(),
                            At::Sep => syn.sep.len(),
                            At::Data => 1,
                        };
                        self.out.extend_from_slice(&row[q..q + n]);
                        self.pos = q + n;
                        self.keep = self.out.len();
                    } else {
                        // A separator's first byte that does not start one.
                        self.out.push(b);
                        self.pos = p + 1;
                    }
                }
                Mode::Enclosed(q) => {
                    let rest = &row[p..];
                    let stop = match syn.escape {
                        Some(e) if e != q => memchr::memchr2(q, e, rest),
                        _ => memchr::memchr(q, rest),
                    }
                    .unwrap_or(rest.len());
                    if stop > 0 {
                        self.out.extend_from_slice(&rest[..stop]);
                        self.pos = p + stop;
                        continue;
                    }
                    match row.get(p + 1) {
                        None if !eof => return Step::More,
                        // `""` inside the field is one `"`; `\x` is `x`.
                        Some(&c) if b != q || c == q => {
                            self.out.push(c);
                            self.pos = p + 2;
                        }
                        // An escape byte as the data's last byte leaves the field open.
                        None if b != q => return Step::Unterminated(q),
                        // The closing character: what follows up to the separator is data.
                        _ => {
                            self.pos = p + 1;
                            self.mode = Mode::Plain;
                            self.keep = self.out.len();
                        }
                    }
                }
            }
        }
    }

    /// Ends the current field at `row[p]` (a separator, a delimiter or the data's end).
    fn end_field(&mut self, row: &[u8], p: usize, trim: bool) {
        let mut end = self.out.len();
        let mut raw_end = p;
        if trim {
            let floor = self.keep.max(self.field_start);
            while end > floor && is_blank(self.out[end - 1]) {
                end -= 1;
            }
            self.out.truncate(end);
            while raw_end > self.raw_start && is_blank(row[raw_end - 1]) {
                raw_end -= 1;
            }
        }
        let null = !self.enclosed && row.get(self.raw_start..raw_end) == Some(&b"\\N"[..]);
        self.spans.push(Span {
            start: self.field_start,
            end,
            null,
        });
        self.field_start = end;
        self.keep = end;
        self.enclosed = false;
        self.mode = Mode::FieldStart;
    }

    /// Hands on the row just read (`raw` as sent) and gets ready for the next.
    fn emit(&mut self, raw: &[u8], skip: &mut u64, out: &mut dyn Rows) {
        if *skip > 0 {
            *skip -= 1;
        } else {
            let mut fields: Vec<Option<&str>> = Vec::with_capacity(self.spans.len());
            let mut bad = None;
            for (i, s) in self.spans.iter().enumerate() {
                if s.null {
                    fields.push(None);
                    continue;
                }
                match std::str::from_utf8(&self.out[s.start..s.end]) {
                    Ok(t) => fields.push(Some(t)),
                    Err(_) => {
                        bad = Some(i);
                        break;
                    }
                }
            }
            match bad {
                Some(i) => out.bad(format!("column {} is not valid UTF-8 text", i + 1), raw),
                None => out.row(&fields, raw),
            }
        }
        self.reset();
    }

    /// The data ended inside an enclosed field: the row is filtered.
    fn unterminated(&mut self, quote: u8, raw: &[u8], skip: &mut u64, out: &mut dyn Rows) {
        if *skip > 0 {
            *skip -= 1;
        } else {
            out.bad(
                format!(
                    "column {} starts with the enclose character `{}` but the data ends before \
                     it is closed",
                    self.spans.len() + 1,
                    show_byte(quote)
                ),
                raw,
            );
        }
        self.reset();
    }

    fn reset(&mut self) {
        self.active = false;
        self.pos = 0;
        self.mode = Mode::FieldStart;
        if self.out.capacity() > 1024 * 1024 {
            self.out = Vec::new();
        } else {
            self.out.clear();
        }
        self.spans.clear();
        self.field_start = 0;
        self.keep = 0;
        self.raw_start = 0;
        self.enclosed = false;
    }
}

/// Where the next enclose or escape byte of the buffer is, so each byte is searched once
/// however many rows there are between two of them.
#[derive(Default)]
struct Specials {
    /// No enclose or escape byte from the current row's start up to here.
    clear_to: usize,
    /// `buf[clear_to]` is one.
    hit: bool,
}

impl Specials {
    /// Whether `buf[start..end]` holds no enclose or escape byte.
    fn plain(&mut self, buf: &[u8], start: usize, end: usize, syn: &Syntax) -> bool {
        if syn.enclose.is_none() && syn.escape.is_none() {
            return true;
        }
        if self.clear_to < start {
            self.clear_to = start;
            self.hit = false;
        }
        if !self.hit && self.clear_to < end {
            match syn.find_special(&buf[self.clear_to..]) {
                Some(i) => {
                    self.clear_to += i;
                    self.hit = true;
                }
                None => self.clear_to = buf.len(),
            }
        }
        self.clear_to >= end
    }

    /// The first `n` bytes of the buffer were dropped.
    fn drained(&mut self, n: usize) {
        if self.clear_to < n {
            self.clear_to = 0;
            self.hit = false;
        } else {
            self.clear_to -= n;
        }
    }
}

/// Delimited text. `\N` is NULL. With `enclose`, a field that starts with it may hold the
/// separators (a doubled enclose byte inside is one); with `escape`, the byte after it is
/// data; with `trim_space`, blanks around fields go. A row is found with memchr for the
/// delimiter, then: without an enclose or escape byte, split with memchr for the separator
/// (as without the options); with enclose bytes only, in simple places, the same way
/// ([`Middle`]); else decoded byte by byte ([`Quoted`]), which alone may take in delimiters.
pub struct CsvReader {
    syn: Syntax,
    skip: u64,
    buf: Vec<u8>,
    /// No delimiter starts before this offset of `buf`.
    scanned: usize,
    specials: Specials,
    middle: Middle,
    quoted: Quoted,
    max_row_bytes: usize,
    /// Tests: every row takes the slow path, to compare it with the others.
    slow_only: bool,
}

impl CsvReader {
    /// A reader with the given separators, skipping `skip_header` rows.
    pub fn new(column_separator: Vec<u8>, row_delimiter: Vec<u8>, skip_header: u64) -> CsvReader {
        CsvReader {
            syn: Syntax {
                sep: column_separator,
                delim: row_delimiter,
                enclose: None,
                escape: None,
                trim: false,
            },
            skip: skip_header,
            buf: Vec::new(),
            scanned: 0,
            specials: Specials::default(),
            middle: Middle::default(),
            quoted: Quoted::default(),
            max_row_bytes: MAX_CSV_ROW_BYTES,
            slow_only: false,
        }
    }

    /// Sets `enclose`, `escape` and `trim_space`.
    pub fn quoting(mut self, enclose: Option<u8>, escape: Option<u8>, trim_space: bool) -> Self {
        self.syn.enclose = enclose;
        self.syn.escape = escape;
        self.syn.trim = trim_space;
        self
    }

    /// Fuzzing and tests: every row takes the byte-by-byte path (the rows must not change).
    #[doc(hidden)]
    pub fn slow_path_only(mut self) -> Self {
        self.slow_only = true;
        self
    }

    /// Fuzzing and tests: a smaller limit on a row's bytes than [`MAX_CSV_ROW_BYTES`].
    #[doc(hidden)]
    pub fn row_limit(mut self, max_row_bytes: usize) -> Self {
        self.max_row_bytes = max_row_bytes;
        self
    }

    /// Parses the complete rows in `buf` (all of it with `eof`) and keeps the rest.
    fn process(&mut self, eof: bool, out: &mut dyn Rows) -> Result<(), String> {
        let mut start = 0;
        let mut from = self.scanned;
        loop {
            if self.quoted.active {
                let row = &self.buf[start..];
                match self.quoted.run(row, eof, &self.syn) {
                    Step::More => break,
                    Step::Row { raw, next } => {
                        self.quoted.emit(&row[..raw], &mut self.skip, out);
                        start += next;
                    }
                    Step::Unterminated(q) => {
                        self.quoted.unterminated(q, row, &mut self.skip, out);
                        start = self.buf.len();
                    }
                }
                from = start;
                continue;
            }
            let end = match find(&self.buf[from..], &self.syn.delim) {
                Some(i) => from + i,
                None if eof && start < self.buf.len() => self.buf.len(),
                None => break,
            };
            let row = &self.buf[start..end];
            if self.slow_only && !row.is_empty() {
                self.quoted.active = true;
                continue;
            }
            if self.specials.plain(&self.buf, start, end, &self.syn) {
                emit_csv(row, &self.syn.sep, self.syn.trim, &mut self.skip, out);
            } else if !self.middle.emit(row, &self.syn, &mut self.skip, out) {
                self.quoted.active = true;
                continue;
            }
            start = (end + self.syn.delim.len()).min(self.buf.len());
            from = start;
        }
        self.buf.drain(..start);
        self.specials.drained(start);
        self.scanned = if self.quoted.active {
            0
        } else {
            self.buf.len().saturating_sub(self.syn.delim.len() - 1)
        };
        if self.buf.len() > self.max_row_bytes {
            let hint = match self.quoted.mode {
                Mode::Enclosed(q) if self.quoted.active => format!(
                    " (inside a field enclosed in `{}` that is not closed)",
                    show_byte(q)
                ),
                _ => String::new(),
            };
            return Err(format!(
                "a CSV row is longer than {} MB{hint}",
                self.max_row_bytes / (1024 * 1024)
            ));
        }
        Ok(())
    }
}

/// A field found by [`Middle::emit`].
#[derive(Clone, Copy)]
enum Piece {
    /// `row[a..b]`.
    Row(usize, usize),
    /// `scratch[a..b]` (an enclosed field with doubled enclose bytes, decoded).
    Decoded(usize, usize),
    Null,
}

/// The middle path, for a row (up to the first delimiter) that holds the enclose byte but is
/// simple: no escape byte, no trim_space, and every enclosed field is closed before the
/// delimiter with the separator (or the row's end) right after, as CSV writers write them.
/// Fields are split with memchr; only those with a doubled enclose byte are copied.
#[derive(Default)]
struct Middle {
    pieces: Vec<Piece>,
    scratch: Vec<u8>,
}

impl Middle {
    /// Hands on `row`; false, having handed on nothing, when it needs [`Quoted`].
    fn emit(&mut self, row: &[u8], syn: &Syntax, skip: &mut u64, out: &mut dyn Rows) -> bool {
        let Some(q) = syn.enclose else {
            return false;
        };
        if syn.trim || syn.escape.is_some_and(|e| memchr::memchr(e, row).is_some()) {
            return false;
        }
        if !self.split(row, q, &syn.sep) {
            return false;
        }
        if *skip > 0 {
            *skip -= 1;
            return true;
        }
        let mut fields: Vec<Option<&str>> = Vec::with_capacity(self.pieces.len());
        for (i, piece) in self.pieces.iter().enumerate() {
            let bytes = match *piece {
                Piece::Row(a, b) => &row[a..b],
                Piece::Decoded(a, b) => &self.scratch[a..b],
                Piece::Null => {
                    fields.push(None);
                    continue;
                }
            };
            match std::str::from_utf8(bytes) {
                Ok(t) => fields.push(Some(t)),
                Err(_) => {
                    out.bad(format!("column {} is not valid UTF-8 text", i + 1), row);
                    return true;
                }
            }
        }
        out.row(&fields, row);
        true
    }

    /// Splits `row` into `pieces`; false when it is not simple.
    fn split(&mut self, row: &[u8], q: u8, sep: &[u8]) -> bool {
        self.pieces.clear();
        if self.scratch.capacity() > 1024 * 1024 {
            self.scratch = Vec::new();
        }
        self.scratch.clear();
        let mut p = 0;
        loop {
            if row.get(p) != Some(&q) {
                let (end, next) = match find(&row[p..], sep) {
                    Some(i) => (p + i, Some(p + i + sep.len())),
                    None => (row.len(), None),
                };
                self.pieces.push(if &row[p..end] == b"\\N" {
                    Piece::Null
                } else {
                    Piece::Row(p, end)
                });
                match next {
                    Some(n) => p = n,
                    None => return true,
                }
                continue;
            }
            // Enclosed: find the closing byte, decoding doubled ones on the way.
            let mut seg = p + 1;
            let mut from = p + 1;
            let mut decoded: Option<usize> = None;
            let close = loop {
                let Some(i) = memchr::memchr(q, &row[from..]) else {
                    return false;
                };
                let i = from + i;
                if row.get(i + 1) != Some(&q) {
                    break i;
                }
                decoded.get_or_insert(self.scratch.len());
                self.scratch.extend_from_slice(&row[seg..=i]);
                seg = i + 2;
                from = i + 2;
            };
            self.pieces.push(match decoded {
                Some(a) => {
                    self.scratch.extend_from_slice(&row[seg..close]);
                    Piece::Decoded(a, self.scratch.len())
                }
                None => Piece::Row(p + 1, close),
            });
            let after = close + 1;
            if after == row.len() {
                return true;
            }
            if !row[after..].starts_with(sep) {
                return false;
            }
            p = after + sep.len();
        }
    }
}

/// Fields of a row, on the stack up to this many (no allocation per row).
const STACK_FIELDS: usize = 48;

fn emit_csv(row: &[u8], sep: &[u8], trim: bool, skip: &mut u64, out: &mut dyn Rows) {
    if row.is_empty() {
        return;
    }
    if *skip > 0 {
        *skip -= 1;
        return;
    }
    // One UTF-8 check for the whole row: an ASCII separator only ever splits it at character
    // boundaries. Otherwise (or when the row is not valid UTF-8) each field is checked, which
    // also names the bad column.
    let text = if sep.is_ascii() {
        std::str::from_utf8(row).ok()
    } else {
        None
    };
    let mut stack: [Option<&str>; STACK_FIELDS] = [None; STACK_FIELDS];
    let mut heap: Vec<Option<&str>> = Vec::new();
    let mut n = 0usize;
    let mut rest = row;
    let mut at = 0usize;
    loop {
        let (len, next) = match find(rest, sep) {
            Some(i) => (i, Some(i + sep.len())),
            None => (rest.len(), None),
        };
        let (mut from, mut to) = (at, at + len);
        if trim {
            while from < to && is_blank(row[from]) {
                from += 1;
            }
            while to > from && is_blank(row[to - 1]) {
                to -= 1;
            }
        }
        let field = &row[from..to];
        let value = if field == b"\\N" {
            None
        } else if let Some(t) = text.and_then(|t| t.get(from..to)) {
            Some(t)
        } else {
            match std::str::from_utf8(field) {
                Ok(s) => Some(s),
                Err(_) => {
                    out.bad(format!("column {} is not valid UTF-8 text", n + 1), row);
                    return;
                }
            }
        };
        if n < STACK_FIELDS {
            stack[n] = value;
        } else {
            if heap.is_empty() {
                heap.extend_from_slice(&stack);
            }
            heap.push(value);
        }
        n += 1;
        match next {
            Some(skip_to) => {
                rest = &rest[skip_to..];
                at += skip_to;
            }
            None => break,
        }
    }
    if n <= STACK_FIELDS {
        out.row(&stack[..n], row);
    } else {
        out.row(&heap, row);
    }
}

impl BodyReader for CsvReader {
    fn feed(&mut self, chunk: &[u8], out: &mut dyn Rows) -> Result<(), String> {
        self.buf.extend_from_slice(chunk);
        self.process(false, out)
    }

    fn finish(&mut self, out: &mut dyn Rows) -> Result<(), String> {
        self.process(true, out)?;
        self.buf.clear();
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
                        // More data may complete the value: the input ended inside it, or
                        // inside a number (serde_json calls `-`, `1.` and `1e` at the end of
                        // the input invalid numbers, not an early end).
                        Some(Err(e)) if !eof && (e.is_eof() || error_at_end(slice, &e)) => {
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
/// Whether serde_json stopped with `e` at the last byte of `slice` (its line and column are
/// 1-based; the column counts bytes).
fn error_at_end(slice: &[u8], e: &serde_json::Error) -> bool {
    let line_start = match e.line() {
        0 | 1 => 0,
        n => match memchr::memchr_iter(b'\n', slice).nth(n - 2) {
            Some(nl) => nl + 1,
            None => return false,
        },
    };
    line_start + e.column() >= slice.len()
}

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
    use crate::parse_json_path;

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

    #[test]
    fn csv_plain_rows_checked_once_per_row() {
        // A bad byte in a later column is still named; a non-ASCII separator splits where it
        // should; \N is NULL only as a whole field; more fields than fit on the stack.
        let c = parse(&csv(b",", b"\n", 0), b"1,\xe4\xb8\xad,\\Nx\n2,a\xff,3\n").expect("ok");
        assert_eq!(c.rows, vec![vec![s("1"), s("\u{4e2d}"), s("\\Nx")]]);
        assert_eq!(c.bad.len(), 1);
        assert!(
            c.bad[0].0.contains("column 2 is not valid UTF-8"),
            "{:?}",
            c.bad
        );
        let sep = "\u{a6}".as_bytes();
        let c = parse(&csv(sep, b"\n", 0), "a\u{a6}\u{e9}\u{a6}\n".as_bytes()).expect("ok");
        assert_eq!(c.rows, vec![vec![s("a"), s("\u{e9}"), s("")]]);
        let wide: Vec<String> = (0..100).map(|i| i.to_string()).collect();
        let body = format!("{}\n", wide.join(","));
        let c = parse(&csv(b",", b"\n", 0), body.as_bytes()).expect("ok");
        assert_eq!(
            c.rows,
            vec![wide.iter().map(|w| Some(w.clone())).collect::<Vec<_>>()]
        );
    }

    /// A CSV reader with `enclose`, `escape` and `trim_space`.
    fn csvq(
        sep: &[u8],
        delim: &[u8],
        skip: u64,
        enclose: Option<u8>,
        escape: Option<u8>,
        trim: bool,
    ) -> impl Fn() -> Box<dyn BodyReader> {
        let (sep, delim) = (sep.to_vec(), delim.to_vec());
        move || {
            Box::new(
                CsvReader::new(sep.clone(), delim.clone(), skip).quoting(enclose, escape, trim),
            )
        }
    }

    /// Feeds `body` whole, then split in three at every pair of points (so every byte is at
    /// a chunk boundary once, with every other), and checks all give the same.
    fn parse_splits(make: &dyn Fn() -> Box<dyn BodyReader>, body: &[u8]) -> Collect {
        let whole = parse(make, body).expect("parses");
        for i in 0..=body.len() {
            for j in i..=body.len() {
                let mut r = make();
                let mut c = Collect::default();
                for chunk in [&body[..i], &body[i..j], &body[j..]] {
                    r.feed(chunk, &mut c).expect("feed");
                }
                r.finish(&mut c).expect("finish");
                let at = format!("split at {i} and {j}");
                assert_eq!(whole.rows, c.rows, "{at}");
                assert_eq!(whole.bad, c.bad, "{at}");
            }
        }
        whole
    }

    const Q: Option<u8> = Some(b'"');
    const E: Option<u8> = Some(b'\\');

    #[test]
    fn csv_enclosed_separators_and_delimiters() {
        let c = parse_splits(
            &csvq(b",", b"\n", 0, Q, None, false),
            b"1,\"a,b\",x\n2,\"line 1\nline 2\",y\n3,plain,z\n",
        );
        assert_eq!(
            c.rows,
            vec![
                vec![s("1"), s("a,b"), s("x")],
                vec![s("2"), s("line 1\nline 2"), s("y")],
                vec![s("3"), s("plain"), s("z")],
            ]
        );
        assert!(c.bad.is_empty(), "{:?}", c.bad);
        // Multi-byte separator and delimiter inside and outside the enclose characters.
        let c = parse_splits(
            &csvq(b"||", b"\r\n", 0, Q, None, false),
            b"\"a||b\"||c\r\n\"x\r\ny\"||\"|\"\r\nlast||\"\"",
        );
        assert_eq!(
            c.rows,
            vec![
                vec![s("a||b"), s("c")],
                vec![s("x\r\ny"), s("|")],
                vec![s("last"), s("")],
            ]
        );
        // The single quote as enclose; a double quote is then ordinary data.
        let c = parse_splits(
            &csvq(b",", b"\n", 0, Some(b'\''), None, false),
            b"'it''s, ok',\"a\"\n",
        );
        assert_eq!(c.rows, vec![vec![s("it's, ok"), s("\"a\"")]]);
    }

    #[test]
    fn csv_doubled_enclose_empty_and_null() {
        let c = parse_splits(
            &csvq(b",", b"\n", 0, Q, None, false),
            b"\"say \"\"hi\"\"\",\"\"\"\"\n\"\",\\N,\n\"\\N\",x\n",
        );
        assert_eq!(
            c.rows,
            vec![
                vec![s("say \"hi\""), s("\"")],
                // An enclosed empty field is an empty string; `\N` is NULL; nothing is "".
                vec![s(""), None, s("")],
                // `\N` enclosed is text.
                vec![s("\\N"), s("x")],
            ]
        );
        // An enclose character inside an unenclosed field is data; data after the closing
        // character joins the field.
        let c = parse_splits(
            &csvq(b",", b"\n", 0, Q, None, false),
            b"a\"b,\"cd\"ef,\"g\"\n",
        );
        assert_eq!(c.rows, vec![vec![s("a\"b"), s("cdef"), s("g")]]);
    }

    #[test]
    fn csv_escape() {
        let make = csvq(b",", b"\n", 0, Q, E, false);
        let c = parse_splits(
            &make,
            b"a\\,b,c\\\\d\n\"x\\\"y\",\"p\\\\\"\nline\\\nnext,\\N\n\"\\N\",end\\",
        );
        assert_eq!(
            c.rows,
            vec![
                vec![s("a,b"), s("c\\d")],
                vec![s("x\"y"), s("p\\")],
                // An escaped delimiter is data; an unenclosed `\N` stays NULL.
                vec![s("line\nnext"), None],
                // Enclosed, `\N` is an escaped N; a lone escape at the end is itself.
                vec![s("N"), s("end\\")],
            ]
        );
        // Escape without enclose; a multi-byte separator escaped whole.
        let c = parse_splits(
            &csvq(b"||", b"\n", 0, None, E, false),
            b"a\\||b||\"q\"\n\\x||y\n",
        );
        assert_eq!(
            c.rows,
            vec![vec![s("a||b"), s("\"q\"")], vec![s("x"), s("y")]]
        );
    }

    #[test]
    fn csv_trim_space() {
        let c = parse_splits(
            &csvq(b",", b"\n", 0, Q, None, true),
            b"  1 ,\t\"a, b\"  , c  \n\" x \",  \\N  ,\"\" \n 2 , plain \n",
        );
        assert_eq!(
            c.rows,
            vec![
                vec![s("1"), s("a, b"), s("c")],
                // Blanks inside the enclose characters are kept.
                vec![s(" x "), None, s("")],
                vec![s("2"), s("plain")],
            ]
        );
        // Without enclose (the fast path), and with tab as the separator.
        let c = parse_splits(&csvq(b"\t", b"\n", 0, None, None, true), b" a \t  \tb\n");
        assert_eq!(c.rows, vec![vec![s("a"), s(""), s("b")]]);
        let c = parse_splits(
            &csvq(b"\t", b"\n", 0, Q, E, true),
            b" \"a\" \t \\  \t\"b\"\n",
        );
        // An escaped blank is data.
        assert_eq!(c.rows, vec![vec![s("a"), s(" "), s("b")]]);
        // Without trim_space blanks stay, and a blank before the enclose character makes the
        // field unenclosed.
        let c = parse_splits(&csvq(b",", b"\n", 0, Q, None, false), b" \"a\" , b \n");
        assert_eq!(c.rows, vec![vec![s(" \"a\" "), s(" b ")]]);
    }

    #[test]
    fn csv_unterminated_enclose_is_a_bad_row() {
        let c = parse_splits(
            &csvq(b",", b"\n", 0, Q, None, false),
            b"1,ok\n2,\"abc\n3,def\n",
        );
        assert_eq!(c.rows, vec![vec![s("1"), s("ok")]]);
        assert_eq!(c.bad.len(), 1, "{:?}", c.bad);
        assert!(
            c.bad[0]
                .0
                .contains("column 2 starts with the enclose character `\"` but the data ends"),
            "{:?}",
            c.bad
        );
        assert_eq!(c.bad[0].1, "2,\"abc\n3,def\n");
        // An escape as the very last byte inside an enclosed field.
        let c = parse_splits(&csvq(b",", b"\n", 0, Q, E, false), b"\"a\\");
        assert_eq!(c.bad.len(), 1, "{:?}", c.bad);
        assert!(c.rows.is_empty());
        // Invalid UTF-8 in an enclosed field.
        let c = parse_splits(&csvq(b",", b"\n", 0, Q, None, false), b"\"\xff\",x\nok\n");
        assert_eq!(c.rows, vec![vec![s("ok")]]);
        assert!(
            c.bad[0].0.contains("column 1 is not valid UTF-8"),
            "{:?}",
            c.bad
        );
    }

    #[test]
    fn csv_header_with_enclose_and_utf8() {
        let c = parse_splits(
            &csvq(b",", b"\n", 1, Q, None, false),
            "\"id\",\"a\nb\"\n1,\"中,文\"\n2,é\n".as_bytes(),
        );
        assert_eq!(c.rows, vec![vec![s("1"), s("中,文")], vec![s("2"), s("é")]]);
    }

    #[test]
    fn csv_row_longer_than_the_limit_fails() {
        let mut r = CsvReader::new(b",".to_vec(), b"\n".to_vec(), 0).quoting(Q, None, false);
        r.max_row_bytes = 64;
        let mut c = Collect::default();
        r.feed(b"1,\"open\n", &mut c).expect("short");
        let mut err = None;
        for _ in 0..20 {
            if let Err(e) = r.feed(b"more data\n", &mut c) {
                err = Some(e);
                break;
            }
        }
        let err = err.expect("the row is refused");
        assert!(
            err.contains("longer than") && err.contains("not closed"),
            "{err}"
        );
        // The buffer held the row only: rows before it were handed on.
        let mut r = CsvReader::new(b",".to_vec(), b"\n".to_vec(), 0).quoting(Q, None, false);
        r.max_row_bytes = 64;
        let mut c = Collect::default();
        for _ in 0..100 {
            r.feed(b"1,\"two\nlines\"\n", &mut c).expect("rows end");
        }
        r.finish(&mut c).expect("finish");
        assert_eq!(c.rows.len(), 100);
    }

    #[test]
    fn csv_paths_agree() {
        // Every row through the byte-by-byte parser reads as through the fast paths.
        let bodies: [&[u8]; 6] = [
            b"1,a,\\N\n2,,x\n\n3,b,c",
            b"\"a\",\"b,c\",\"\",\\N,\"\\N\"\n\"x\"\"y\",z\"q\n\"\"\"\"\n,\n",
            b"  1 , 2\t,\" 3 \"  \n\t\\N\t\n",
            b"a\\,b,\"c\\\"d\",e\\\n",
            b"\xe4\xb8\xad,\"\xe6\x96\x87,x\"\n\"\xff\",x\n\xff,\"y\"\n",
            b"\"a||b\"||c||\"d\"\"\"\r\n||\r\n\"\"",
        ];
        for body in bodies {
            for (sep, delim) in [(&b","[..], &b"\n"[..]), (b"||", b"\r\n"), (b"\t", b"\n")] {
                for (enclose, escape, trim) in [
                    (Q, None, false),
                    (Q, E, false),
                    (Q, None, true),
                    (None, E, true),
                    (Some(b'\''), None, false),
                ] {
                    let fast = parse(&csvq(sep, delim, 0, enclose, escape, trim), body);
                    let (sep, delim) = (sep.to_vec(), delim.to_vec());
                    let slow = parse(
                        &move || {
                            let mut r = CsvReader::new(sep.clone(), delim.clone(), 0)
                                .quoting(enclose, escape, trim);
                            r.slow_only = true;
                            Box::new(r)
                        },
                        body,
                    );
                    let (fast, slow) = (fast.expect("fast"), slow.expect("slow"));
                    let what = format!(
                        "{} with {enclose:?} {escape:?} {trim}",
                        String::from_utf8_lossy(body)
                    );
                    assert_eq!(fast.rows, slow.rows, "{what}");
                    assert_eq!(fast.bad, slow.bad, "{what}");
                }
            }
        }
    }

    /// A tiny deterministic generator (no dependency for tests).
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self, n: usize) -> usize {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((self.0 >> 33) as usize) % n
        }
    }

    #[test]
    fn csv_quoted_fields_round_trip() {
        // Fields with separators, delimiters, quotes and escapes, written as a CSV writer
        // writes them (enclosed when needed, inner quotes doubled), read back in chunks of
        // every size from 1 to 7 and whole.
        let alphabet = ["a", "b", "中", ",", "\n", "\"", " ", "\\", "x,\"y\""];
        let mut rng = Lcg(7);
        let mut want = Vec::new();
        let mut body = Vec::new();
        for _ in 0..300 {
            let n = 1 + rng.next(4);
            let mut row = Vec::new();
            let row_start = body.len();
            for f in 0..n {
                let len = rng.next(5);
                let text: String = (0..len)
                    .map(|_| alphabet[rng.next(alphabet.len())])
                    .collect();
                if f > 0 {
                    body.push(b',');
                }
                if text.contains([',', '\n', '"']) || rng.next(3) == 0 {
                    body.push(b'"');
                    body.extend_from_slice(text.replace('"', "\"\"").as_bytes());
                    body.push(b'"');
                } else {
                    body.extend_from_slice(text.as_bytes());
                }
                row.push(Some(text));
            }
            if body.len() == row_start {
                // An empty line is no row; write the one empty field enclosed.
                body.extend_from_slice(b"\"\"");
            }
            body.push(b'\n');
            want.push(row);
        }
        let c = parse(&csvq(b",", b"\n", 0, Q, None, false), &body).expect("parses");
        assert!(c.bad.is_empty(), "{:?}", c.bad);
        assert_eq!(c.rows, want);
        let slow = || {
            let mut r = CsvReader::new(b",".to_vec(), b"\n".to_vec(), 0).quoting(Q, None, false);
            r.slow_only = true;
            Box::new(r) as Box<dyn BodyReader>
        };
        assert_eq!(parse(&slow, &body).expect("parses").rows, want);
        // Rows without enclose or escape bytes read the same with or without the options.
        let plain = b"1,a,\\N\n2,,x\n\n3,b,c";
        let with = parse_splits(&csvq(b",", b"\n", 0, Q, Some(b'^'), false), plain);
        let without = parse(&csv(b",", b"\n", 0), plain).expect("parses");
        assert_eq!(with.rows, without.rows);
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
    fn json_numbers_cut_by_a_chunk_boundary() {
        // Found by fuzzing (fuzz/regressions/json_load): a chunk that ended right after `-`,
        // `1.` or `1e+` inside a document filed the document as invalid JSON (a bad row, or a
        // failed load with strip_outer_array) when a newline followed in the buffer.
        let body = b"{\n  \"id\": -5,\n  \"a\": 1.5e+3\n}\n{\"id\": 2.25}\n";
        let c = parse(&json(false, None, None, &["id", "a"]), body).expect("ok");
        assert_eq!(
            c.rows,
            vec![vec![s("-5"), s("1.5e+3")], vec![s("2.25"), None]]
        );
        assert!(c.bad.is_empty(), "{:?}", c.bad);
        let body = b"[\n {\n  \"id\": -5,\n  \"a\": 1.5e+3\n },\n {\"id\": -0.5}\n]";
        let c = parse(&json(true, None, None, &["id", "a"]), body).expect("ok");
        assert_eq!(
            c.rows,
            vec![vec![s("-5"), s("1.5e+3")], vec![s("-0.5"), None]]
        );
        // The fuzzer's input: invalid either way, with one reason whatever the chunks.
        let body = b"{\"id\": 1, \"a\":\n{\"iid\": 2, \"a\": -, \"a\"";
        let c = parse(&json(false, None, None, &["id", "a"]), body).expect("ok");
        assert!(c.rows.is_empty());
        assert_eq!(c.bad.len(), 2, "{:?}", c.bad);
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
