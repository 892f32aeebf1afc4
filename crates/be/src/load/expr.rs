//! The `columns` and `where` headers of a Stream Load: a small expression language, and its
//! evaluation over one row.
//!
//! ```text
//! columns := item (',' item)*           item := name | name '=' expr
//! where   := expr
//! expr    := or                         or   := and (OR and)*
//! and     := not (AND not)*             not  := NOT not | pred
//! pred    := sum (cmp sum | IS [NOT] NULL | [NOT] IN '(' sum, ... ')')?
//! sum     := term (('+' | '-') term)*
//! term    := unary (('*' | '/' | '%' | DIV | MOD) unary)*
//! unary   := ('-' | '+') unary | primary
//! primary := literal | name | '(' expr ')' | func '(' [expr (',' expr)*] ')'
//!          | CAST '(' expr AS type ')' | CASE [expr] (WHEN expr THEN expr)+ [ELSE expr] END
//! cmp     := = | != | <> | < | <= | > | >=
//! literal := number | 'string' | "string" | NULL | TRUE | FALSE
//! type    := BOOLEAN | TINYINT | SMALLINT | INT | BIGINT | LARGEINT | FLOAT | DOUBLE
//!          | DECIMAL[(p[, s])] | DATE | DATETIME | CHAR[(n)] | VARCHAR[(n)] | STRING
//! ```
//! Names, keywords and function names are case-insensitive; names may be quoted with backticks.
//! [`FUNCTIONS`] lists the functions: an unknown one, or a wrong number of arguments, is an
//! error when the header is parsed. A [`Node`] is an expression whose names are resolved (to a
//! source field or a table column); it is evaluated per row.
//!
//! Semantics follow StarRocks/MySQL: NULL in, NULL out (except `if`, `ifnull`, `coalesce`,
//! `nullif`, `concat_ws`, `CASE`, `IS NULL` and the logic operators); division or modulo by
//! zero is NULL; `int / int` is a DOUBLE; integer and DECIMAL arithmetic is exact (128 bits)
//! and an overflow is an error. A value that cannot be computed (text that is not a number in
//! arithmetic, `str_to_date` on text that does not match its format, a failed `cast`) is an
//! error for that row.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;
use std::fmt::Write as _;

use common::schema::DataType;

use crate::load::value::DateParts;
use crate::load::value::MICROS_PER_DAY;
use crate::load::value::Value;
use crate::load::value::check_date_format;
use crate::load::value::date_format;
use crate::load::value::display;
use crate::load::value::parse_datetime;
use crate::load::value::parse_number;
use crate::load::value::rescale;
use crate::load::value::show;
use crate::load::value::str_to_date;
use crate::load::value::to_type;

/// Parenthesized or call nesting allowed in one expression.
const MAX_NESTING: usize = 32;
/// Operators and calls allowed in one expression (so evaluation recursion stays shallow).
const MAX_OPERATORS: usize = 256;
/// The most arguments a variadic function takes.
const MANY: usize = usize::MAX;
/// The largest DECIMAL magnitude plus one (38 digits).
const DECIMAL_LIMIT: u128 = 10u128.pow(38);

/// A literal as written.
#[derive(Clone, Debug, PartialEq)]
pub enum Lit {
    /// NULL.
    Null,
    /// TRUE / FALSE.
    Bool(bool),
    /// A number's text.
    Number(String),
    /// A quoted string's content.
    Str(String),
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    /// `=`
    Eq,
    /// `!=` or `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CmpOp {
    /// Whether an ordering satisfies the operator.
    pub fn holds(self, o: Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            CmpOp::Eq => o == Equal,
            CmpOp::Ne => o != Equal,
            CmpOp::Lt => o == Less,
            CmpOp::Le => o != Greater,
            CmpOp::Gt => o == Greater,
            CmpOp::Ge => o != Less,
        }
    }
}

/// An arithmetic operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArithOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/` (a DOUBLE for integers, a DECIMAL for DECIMALs; NULL when dividing by zero)
    Div,
    /// `%` or `MOD` (NULL when dividing by zero)
    Mod,
    /// `DIV`: integer division (NULL when dividing by zero)
    IntDiv,
}

impl fmt::Display for ArithOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ArithOp::Add => "+",
            ArithOp::Sub => "-",
            ArithOp::Mul => "*",
            ArithOp::Div => "/",
            ArithOp::Mod => "%",
            ArithOp::IntDiv => "DIV",
        })
    }
}

/// A function a load mapping may call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Func {
    /// `year(d)`
    Year,
    /// `month(d)`
    Month,
    /// `day(d)`, `dayofmonth(d)`
    Day,
    /// `hour(d)`
    Hour,
    /// `minute(d)`
    Minute,
    /// `second(d)`
    Second,
    /// `str_to_date(s, format)`: a DATETIME.
    StrToDate,
    /// `date_format(d, format)`
    DateFormat,
    /// `to_date(d)`: the DATE of a date or datetime.
    ToDate,
    /// `now()`, `current_timestamp()`: the load's start, in UTC.
    Now,
    /// `concat(s, ...)`
    Concat,
    /// `concat_ws(sep, s, ...)`
    ConcatWs,
    /// `substr(s, pos[, len])`, `substring(...)`
    Substr,
    /// `left(s, n)`
    Left,
    /// `right(s, n)`
    Right,
    /// `upper(s)`
    Upper,
    /// `lower(s)`
    Lower,
    /// `trim(s)`
    Trim,
    /// `ltrim(s)`
    Ltrim,
    /// `rtrim(s)`
    Rtrim,
    /// `length(s)`: bytes.
    Length,
    /// `char_length(s)`: characters.
    CharLength,
    /// `replace(s, from, to)`
    Replace,
    /// `split_part(s, delimiter, n)`
    SplitPart,
    /// `if(cond, a, b)`
    If,
    /// `ifnull(a, b)`
    IfNull,
    /// `coalesce(a, ...)`
    Coalesce,
    /// `nullif(a, b)`
    NullIf,
    /// `abs(x)`
    Abs,
    /// `floor(x)`
    Floor,
    /// `ceil(x)`, `ceiling(x)`
    Ceil,
    /// `round(x[, d])`
    Round,
}

/// Every function by name: (name, function, fewest arguments, most arguments).
pub const FUNCTIONS: &[(&str, Func, usize, usize)] = &[
    ("abs", Func::Abs, 1, 1),
    ("ceil", Func::Ceil, 1, 1),
    ("ceiling", Func::Ceil, 1, 1),
    ("char_length", Func::CharLength, 1, 1),
    ("character_length", Func::CharLength, 1, 1),
    ("coalesce", Func::Coalesce, 1, MANY),
    ("concat", Func::Concat, 1, MANY),
    ("concat_ws", Func::ConcatWs, 2, MANY),
    ("current_timestamp", Func::Now, 0, 0),
    ("date_format", Func::DateFormat, 2, 2),
    ("day", Func::Day, 1, 1),
    ("dayofmonth", Func::Day, 1, 1),
    ("floor", Func::Floor, 1, 1),
    ("hour", Func::Hour, 1, 1),
    ("if", Func::If, 3, 3),
    ("ifnull", Func::IfNull, 2, 2),
    ("left", Func::Left, 2, 2),
    ("length", Func::Length, 1, 1),
    ("lower", Func::Lower, 1, 1),
    ("ltrim", Func::Ltrim, 1, 1),
    ("minute", Func::Minute, 1, 1),
    ("month", Func::Month, 1, 1),
    ("now", Func::Now, 0, 0),
    ("nullif", Func::NullIf, 2, 2),
    ("replace", Func::Replace, 3, 3),
    ("right", Func::Right, 2, 2),
    ("round", Func::Round, 1, 2),
    ("rtrim", Func::Rtrim, 1, 1),
    ("second", Func::Second, 1, 1),
    ("split_part", Func::SplitPart, 3, 3),
    ("str_to_date", Func::StrToDate, 2, 2),
    ("substr", Func::Substr, 2, 3),
    ("substring", Func::Substr, 2, 3),
    ("to_date", Func::ToDate, 1, 1),
    ("trim", Func::Trim, 1, 1),
    ("upper", Func::Upper, 1, 1),
    ("year", Func::Year, 1, 1),
];

impl Func {
    /// The function's name (the first spelling in [`FUNCTIONS`]).
    pub fn name(self) -> &'static str {
        FUNCTIONS.iter().find(|f| f.1 == self).map_or("?", |f| f.0)
    }
}

/// The names a load can call, for messages.
fn function_names() -> String {
    let mut names: Vec<&str> = FUNCTIONS.iter().map(|f| f.0).collect();
    names.extend(["case", "cast"]);
    names.sort_unstable();
    names.join(", ")
}

/// An expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A literal.
    Lit(Lit),
    /// A column name.
    Col(String),
    /// `a op b`
    Cmp(Box<Expr>, CmpOp, Box<Expr>),
    /// `a AND b`
    And(Box<Expr>, Box<Expr>),
    /// `a OR b`
    Or(Box<Expr>, Box<Expr>),
    /// `NOT a`
    Not(Box<Expr>),
    /// `a IS NULL` (false) / `a IS NOT NULL` (true).
    IsNull(Box<Expr>, bool),
    /// `a IN (...)` (false) / `a NOT IN (...)` (true).
    In(Box<Expr>, Vec<Expr>, bool),
    /// `-a` (of anything but a number literal, which is folded into the literal).
    Neg(Box<Expr>),
    /// `a op b`
    Arith(Box<Expr>, ArithOp, Box<Expr>),
    /// `f(args)`; the number of arguments is checked.
    Call(Func, Vec<Expr>),
    /// `CAST(a AS type)`
    Cast(Box<Expr>, DataType),
    /// `CASE [operand] WHEN .. THEN .. [ELSE ..] END`
    Case(Option<Box<Expr>>, Vec<(Expr, Expr)>, Option<Box<Expr>>),
}

/// One item of the `columns` header.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnItem {
    /// The column (a table column, or a name for a source field only used by others).
    pub name: String,
    /// `name = expr`: the expression.
    pub expr: Option<Expr>,
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    /// A name in backticks: never a keyword.
    Quoted(String),
    Num(String),
    Str(String),
    Op(&'static str),
    LParen,
    RParen,
    Comma,
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Ident(s) | Tok::Num(s) => f.write_str(s),
            Tok::Quoted(s) => write!(f, "`{s}`"),
            Tok::Str(s) => write!(f, "'{s}'"),
            Tok::Op(s) => f.write_str(s),
            Tok::LParen => f.write_str("("),
            Tok::RParen => f.write_str(")"),
            Tok::Comma => f.write_str(","),
        }
    }
}

fn tokenize(s: &str) -> Result<Vec<Tok>, String> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        let mut op = |o: &'static str, len: usize| {
            out.push(Tok::Op(o));
            i += len;
        };
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'=' => op("=", if next == Some(b'=') { 2 } else { 1 }),
            b'!' if next == Some(b'=') => op("!=", 2),
            b'<' => match next {
                Some(b'=') => op("<=", 2),
                Some(b'>') => op("!=", 2),
                _ => op("<", 1),
            },
            b'>' if next == Some(b'=') => op(">=", 2),
            b'>' => op(">", 1),
            b'+' => op("+", 1),
            b'-' => op("-", 1),
            b'*' => op("*", 1),
            b'/' => op("/", 1),
            b'%' => op("%", 1),
            b'(' => {
                out.push(Tok::LParen);
                i += 1;
            }
            b')' => {
                out.push(Tok::RParen);
                i += 1;
            }
            b',' => {
                out.push(Tok::Comma);
                i += 1;
            }
            b'\'' | b'"' => {
                let q = c;
                let mut text = Vec::new();
                i += 1;
                loop {
                    match b.get(i) {
                        None => return Err(format!("unterminated string in `{s}`")),
                        Some(&x) if x == q => {
                            if b.get(i + 1) == Some(&q) {
                                text.push(q);
                                i += 2;
                            } else {
                                i += 1;
                                break;
                            }
                        }
                        Some(b'\\') if i + 1 < b.len() => {
                            text.push(b[i + 1]);
                            i += 2;
                        }
                        Some(&x) => {
                            text.push(x);
                            i += 1;
                        }
                    }
                }
                out.push(Tok::Str(String::from_utf8_lossy(&text).into_owned()));
            }
            b'`' => {
                let end = s[i + 1..]
                    .find('`')
                    .ok_or_else(|| format!("unterminated `name` in `{s}`"))?;
                out.push(Tok::Quoted(s[i + 1..i + 1 + end].to_string()));
                i += end + 2;
            }
            b'0'..=b'9' | b'.' => {
                let start = i;
                i += 1;
                while i < b.len()
                    && (b[i].is_ascii_digit()
                        || b[i] == b'.'
                        || matches!(b[i], b'e' | b'E')
                        || (matches!(b[i], b'-' | b'+') && matches!(b[i - 1], b'e' | b'E')))
                {
                    i += 1;
                }
                let text = &s[start..i];
                if !text.bytes().any(|x| x.is_ascii_digit()) {
                    return Err(format!("unexpected `{text}` in `{s}`"));
                }
                out.push(Tok::Num(text.to_string()));
            }
            _ if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] >= 0x80)
                {
                    i += 1;
                }
                out.push(Tok::Ident(s[start..i].to_string()));
            }
            _ => {
                let ch = s[i..].chars().next().unwrap_or('?');
                return Err(format!("unexpected character '{ch}' in `{s}`"));
            }
        }
    }
    Ok(out)
}

/// Words that cannot be a bare column name.
const RESERVED: &[&str] = &[
    "AND", "OR", "NOT", "IS", "IN", "DIV", "MOD", "WHEN", "THEN", "ELSE", "END", "AS",
];

struct Parser<'a> {
    toks: Vec<Tok>,
    pos: usize,
    text: &'a str,
    nesting: usize,
    operators: usize,
}

impl Parser<'_> {
    fn new(toks: Vec<Tok>, text: &str) -> Parser<'_> {
        Parser {
            toks,
            pos: 0,
            text,
            nesting: 0,
            operators: 0,
        }
    }

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn keyword(&self, k: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(s)) if s.eq_ignore_ascii_case(k))
    }

    fn eat_keyword(&mut self, k: &str) -> bool {
        let yes = self.keyword(k);
        if yes {
            self.pos += 1;
        }
        yes
    }

    fn expect(&mut self, t: Tok) -> Result<(), String> {
        match self.peek() {
            Some(x) if *x == t => {
                self.pos += 1;
                Ok(())
            }
            Some(x) => Err(format!("expected `{t}` but found `{x}` in `{}`", self.text)),
            None => Err(format!("expected `{t}` at the end of `{}`", self.text)),
        }
    }

    /// Counts an operator or call against [`MAX_OPERATORS`].
    fn operator(&mut self) -> Result<(), String> {
        self.operators += 1;
        if self.operators > MAX_OPERATORS {
            return Err(format!(
                "`{}` is too complex (more than {MAX_OPERATORS} operators and calls)",
                self.text
            ));
        }
        Ok(())
    }

    /// A full expression (inside parentheses, an argument list, or at the top).
    fn or(&mut self) -> Result<Expr, String> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return Err(format!(
                "`{}` is nested too deeply (more than {MAX_NESTING} levels)",
                self.text
            ));
        }
        let mut e = self.and()?;
        while self.eat_keyword("OR") {
            self.operator()?;
            e = Expr::Or(Box::new(e), Box::new(self.and()?));
        }
        self.nesting -= 1;
        Ok(e)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut e = self.not()?;
        while self.eat_keyword("AND") {
            self.operator()?;
            e = Expr::And(Box::new(e), Box::new(self.not()?));
        }
        Ok(e)
    }

    fn not(&mut self) -> Result<Expr, String> {
        if self.eat_keyword("NOT") {
            self.operator()?;
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.pred()
    }

    fn pred(&mut self) -> Result<Expr, String> {
        let left = self.sum()?;
        if let Some(Tok::Op(op)) = self.peek() {
            let op = match *op {
                "=" => CmpOp::Eq,
                "!=" => CmpOp::Ne,
                "<" => CmpOp::Lt,
                "<=" => CmpOp::Le,
                ">" => CmpOp::Gt,
                ">=" => CmpOp::Ge,
                other => return Err(format!("unexpected `{other}` in `{}`", self.text)),
            };
            self.pos += 1;
            self.operator()?;
            let right = self.sum()?;
            return Ok(Expr::Cmp(Box::new(left), op, Box::new(right)));
        }
        if self.eat_keyword("IS") {
            self.operator()?;
            let negated = self.eat_keyword("NOT");
            if !self.eat_keyword("NULL") {
                return Err(format!("expected NULL after IS in `{}`", self.text));
            }
            return Ok(Expr::IsNull(Box::new(left), negated));
        }
        let negated = self.keyword("NOT")
            && matches!(self.toks.get(self.pos + 1), Some(Tok::Ident(s)) if s.eq_ignore_ascii_case("IN"));
        if negated {
            self.pos += 1;
        }
        if self.eat_keyword("IN") {
            self.operator()?;
            self.expect(Tok::LParen)?;
            let mut list = vec![self.sum()?];
            while self.peek() == Some(&Tok::Comma) {
                self.pos += 1;
                list.push(self.sum()?);
            }
            self.expect(Tok::RParen)?;
            return Ok(Expr::In(Box::new(left), list, negated));
        }
        Ok(left)
    }

    fn sum(&mut self) -> Result<Expr, String> {
        let mut e = self.term()?;
        loop {
            let op = match self.peek() {
                Some(Tok::Op("+")) => ArithOp::Add,
                Some(Tok::Op("-")) => ArithOp::Sub,
                _ => return Ok(e),
            };
            self.pos += 1;
            self.operator()?;
            e = Expr::Arith(Box::new(e), op, Box::new(self.term()?));
        }
    }

    fn term(&mut self) -> Result<Expr, String> {
        let mut e = self.unary()?;
        loop {
            let op = match self.peek() {
                Some(Tok::Op("*")) => ArithOp::Mul,
                Some(Tok::Op("/")) => ArithOp::Div,
                Some(Tok::Op("%")) => ArithOp::Mod,
                _ if self.keyword("MOD") => ArithOp::Mod,
                _ if self.keyword("DIV") => ArithOp::IntDiv,
                _ => return Ok(e),
            };
            self.pos += 1;
            self.operator()?;
            e = Expr::Arith(Box::new(e), op, Box::new(self.unary()?));
        }
    }

    fn unary(&mut self) -> Result<Expr, String> {
        match self.peek() {
            Some(Tok::Op("-")) => {
                self.pos += 1;
                self.operator()?;
                Ok(match self.unary()? {
                    // `-1.5` stays a literal.
                    Expr::Lit(Lit::Number(n)) => {
                        Expr::Lit(Lit::Number(match n.strip_prefix('-') {
                            Some(positive) => positive.to_string(),
                            None => format!("-{n}"),
                        }))
                    }
                    e => Expr::Neg(Box::new(e)),
                })
            }
            Some(Tok::Op("+")) => {
                self.pos += 1;
                self.operator()?;
                self.unary()
            }
            _ => self.primary(),
        }
    }

    fn primary(&mut self) -> Result<Expr, String> {
        let Some(t) = self.peek().cloned() else {
            return Err(format!("unexpected end of `{}`", self.text));
        };
        self.pos += 1;
        match t {
            Tok::Num(n) => Ok(Expr::Lit(Lit::Number(n))),
            Tok::Str(s) => Ok(Expr::Lit(Lit::Str(s))),
            Tok::Quoted(s) => Ok(Expr::Col(s)),
            Tok::Ident(s) => self.ident(s),
            Tok::LParen => {
                let e = self.or()?;
                self.expect(Tok::RParen)?;
                Ok(e)
            }
            other => Err(format!("unexpected `{other}` in `{}`", self.text)),
        }
    }

    /// A word in operand position: a literal keyword, CASE, CAST, a call or a column name.
    fn ident(&mut self, s: String) -> Result<Expr, String> {
        let call = self.peek() == Some(&Tok::LParen);
        let upper = s.to_ascii_uppercase();
        match upper.as_str() {
            "NULL" => return Ok(Expr::Lit(Lit::Null)),
            "TRUE" => return Ok(Expr::Lit(Lit::Bool(true))),
            "FALSE" => return Ok(Expr::Lit(Lit::Bool(false))),
            "CASE" => return self.case(),
            "CAST" if call => return self.cast(),
            k if RESERVED.contains(&k) => {
                return Err(format!("unexpected `{s}` in `{}`", self.text));
            }
            _ if !call => return Ok(Expr::Col(s)),
            _ => {}
        }
        let lower = s.to_ascii_lowercase();
        let Some(&(name, func, min, max)) = FUNCTIONS.iter().find(|f| f.0 == lower) else {
            return Err(format!(
                "unknown function `{s}` in `{}` (the functions a load can use are {})",
                self.text,
                function_names()
            ));
        };
        self.operator()?;
        self.pos += 1; // (
        let mut args = Vec::new();
        if self.peek() == Some(&Tok::RParen) {
            self.pos += 1;
        } else {
            loop {
                args.push(self.or()?);
                if self.peek() != Some(&Tok::Comma) {
                    break;
                }
                self.pos += 1;
            }
            self.expect(Tok::RParen)?;
        }
        if args.len() < min || args.len() > max {
            let plural = |n: usize| if n == 1 { "" } else { "s" };
            let want = if min == max {
                format!("{min} argument{}", plural(min))
            } else if max == MANY {
                format!("at least {min} argument{}", plural(min))
            } else if max == min + 1 {
                format!("{min} or {max} arguments")
            } else {
                format!("{min} to {max} arguments")
            };
            return Err(format!(
                "function `{name}` takes {want}, not {}, in `{}`",
                args.len(),
                self.text
            ));
        }
        Ok(Expr::Call(func, args))
    }

    fn cast(&mut self) -> Result<Expr, String> {
        self.operator()?;
        self.expect(Tok::LParen)?;
        let e = self.or()?;
        if !self.eat_keyword("AS") {
            return Err(format!("expected AS in CAST in `{}`", self.text));
        }
        let t = self.data_type()?;
        self.expect(Tok::RParen)?;
        Ok(Expr::Cast(Box::new(e), t))
    }

    fn data_type(&mut self) -> Result<DataType, String> {
        let name = match self.peek() {
            Some(Tok::Ident(n)) => n.clone(),
            _ => return Err(format!("expected a type after AS in `{}`", self.text)),
        };
        self.pos += 1;
        let upper = name.to_ascii_uppercase();
        if upper == "SIGNED" {
            self.eat_keyword("INTEGER");
            self.eat_keyword("INT");
        }
        let mut params: Vec<u32> = Vec::new();
        if self.peek() == Some(&Tok::LParen) {
            self.pos += 1;
            loop {
                match self.peek() {
                    Some(Tok::Num(n)) => {
                        let v = n.parse().map_err(|_| {
                            format!("bad length `{n}` of {name} in `{}`", self.text)
                        })?;
                        params.push(v);
                        self.pos += 1;
                    }
                    _ => {
                        return Err(format!(
                            "expected a number in the type {name}(...) in `{}`",
                            self.text
                        ));
                    }
                }
                if self.peek() != Some(&Tok::Comma) {
                    break;
                }
                self.pos += 1;
            }
            self.expect(Tok::RParen)?;
        }
        let t = match (upper.as_str(), params.as_slice()) {
            ("BOOLEAN" | "BOOL", []) => DataType::Boolean,
            ("TINYINT", []) => DataType::TinyInt,
            ("SMALLINT", []) => DataType::SmallInt,
            ("INT" | "INTEGER", []) => DataType::Int,
            ("BIGINT" | "SIGNED", []) => DataType::BigInt,
            ("LARGEINT", []) => DataType::LargeInt,
            ("FLOAT", []) => DataType::Float,
            ("DOUBLE", []) => DataType::Double,
            ("DECIMAL" | "DECIMALV2" | "DECIMAL32" | "DECIMAL64" | "DECIMAL128" | "NUMERIC", p)
                if p.len() <= 2 =>
            {
                let precision = p.first().copied().unwrap_or(10);
                let scale = p.get(1).copied().unwrap_or(0);
                if !(1..=38).contains(&precision) || scale > precision {
                    return Err(format!(
                        "DECIMAL({precision}, {scale}) is not a valid type (precision 1 to 38, \
                         scale at most the precision) in `{}`",
                        self.text
                    ));
                }
                DataType::Decimal {
                    precision: precision as u8,
                    scale: scale as u8,
                }
            }
            ("DATE", []) => DataType::Date,
            ("DATETIME", []) => DataType::DateTime,
            ("CHAR", []) => DataType::Char(1),
            ("CHAR", [n]) => DataType::Char(*n),
            ("VARCHAR" | "STRING" | "TEXT", []) => DataType::String,
            ("VARCHAR", [n]) => DataType::Varchar(*n),
            _ => {
                return Err(format!(
                    "CAST to {name}{} is not supported in `{}` (the types are BOOLEAN, TINYINT, \
                     SMALLINT, INT, BIGINT, LARGEINT, FLOAT, DOUBLE, DECIMAL(p, s), DATE, \
                     DATETIME, CHAR(n), VARCHAR(n), STRING)",
                    if params.is_empty() {
                        String::new()
                    } else {
                        format!(
                            "({})",
                            params
                                .iter()
                                .map(u32::to_string)
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    },
                    self.text
                ));
            }
        };
        Ok(t)
    }

    fn case(&mut self) -> Result<Expr, String> {
        self.operator()?;
        if self.keyword("END") {
            return Err(format!("CASE needs a WHEN in `{}`", self.text));
        }
        let operand = if self.keyword("WHEN") {
            None
        } else {
            Some(Box::new(self.or()?))
        };
        let mut whens = Vec::new();
        while self.eat_keyword("WHEN") {
            let w = self.or()?;
            if !self.eat_keyword("THEN") {
                return Err(format!("expected THEN after WHEN in `{}`", self.text));
            }
            whens.push((w, self.or()?));
        }
        if whens.is_empty() {
            return Err(format!("CASE needs a WHEN in `{}`", self.text));
        }
        let otherwise = if self.eat_keyword("ELSE") {
            Some(Box::new(self.or()?))
        } else {
            None
        };
        if !self.eat_keyword("END") {
            return Err(format!("expected END to close CASE in `{}`", self.text));
        }
        Ok(Expr::Case(operand, whens, otherwise))
    }
}

/// Parses a `where` header.
pub fn parse_where(text: &str) -> Result<Expr, String> {
    let toks = tokenize(text)?;
    if toks.is_empty() {
        return Err("the where header is empty".into());
    }
    let mut p = Parser::new(toks, text);
    let e = p.or()?;
    if let Some(t) = p.peek() {
        return Err(format!("unexpected `{t}` in `{text}`"));
    }
    Ok(e)
}

/// Splits at commas outside quotes and parentheses.
fn split_items(text: &str) -> Result<Vec<&str>, String> {
    let mut items = Vec::new();
    let (mut depth, mut quote, mut start) = (0i32, None::<u8>, 0usize);
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(q) if c == b'\\' && q != b'`' => i += 1,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                b'\'' | b'"' | b'`' => quote = Some(c),
                b'(' => depth += 1,
                b')' => depth -= 1,
                b',' if depth == 0 => {
                    items.push(&text[start..i]);
                    start = i + 1;
                }
                _ => {}
            },
        }
        i += 1;
    }
    if quote.is_some() {
        return Err(format!("unterminated quote in `{text}`"));
    }
    items.push(&text[start..]);
    Ok(items)
}

/// Parses a `columns` header.
pub fn parse_columns(text: &str) -> Result<Vec<ColumnItem>, String> {
    let mut out: Vec<ColumnItem> = Vec::new();
    for raw in split_items(text)? {
        let item = raw.trim();
        if item.is_empty() {
            return Err(format!("an empty item in `{text}`"));
        }
        let toks = tokenize(item)?;
        let name = match toks.first() {
            Some(Tok::Ident(n) | Tok::Quoted(n)) => n.clone(),
            _ => return Err(format!("`{item}` does not start with a column name")),
        };
        let expr = match toks.get(1) {
            None => None,
            Some(Tok::Op("=")) => {
                if toks.len() == 2 {
                    return Err(format!("`{item}` has no expression after `=`"));
                }
                let mut p = Parser::new(toks[2..].to_vec(), item);
                let e = p.or()?;
                if let Some(t) = p.peek() {
                    return Err(format!("unexpected `{t}` in `{item}`"));
                }
                Some(e)
            }
            Some(_) => {
                return Err(format!(
                    "`{item}` is neither a column name nor `name = expression`"
                ));
            }
        };
        if out.iter().any(|c| c.name.eq_ignore_ascii_case(&name)) {
            return Err(format!("column `{name}` appears twice in `{text}`"));
        }
        out.push(ColumnItem { name, expr });
    }
    Ok(out)
}

/// An expression with its names resolved, ready to evaluate over a row.
#[derive(Clone, Debug)]
pub enum Node {
    /// A constant (literals and constant subexpressions are folded).
    Const(Value<'static>),
    /// A source field's text.
    Field(usize),
    /// A table column's converted value.
    Column(usize),
    /// `-a`
    Neg(Box<Node>),
    /// `a op b`
    Arith(Box<Node>, ArithOp, Box<Node>),
    /// `a op b`: TRUE, FALSE or NULL.
    Cmp(Box<Node>, CmpOp, Box<Node>),
    /// `a AND b`
    And(Box<Node>, Box<Node>),
    /// `a OR b`
    Or(Box<Node>, Box<Node>),
    /// `NOT a`
    Not(Box<Node>),
    /// `a IS [NOT] NULL`
    IsNull(Box<Node>, bool),
    /// `a [NOT] IN (...)`
    In(Box<Node>, Vec<Node>, bool),
    /// `f(args)`
    Call(Func, Vec<Node>),
    /// `CAST(a AS type)`
    Cast(Box<Node>, DataType),
    /// `CASE`
    Case(Option<Box<Node>>, Vec<(Node, Node)>, Option<Box<Node>>),
}

/// Resolves a column name for [`Node::compile`].
pub type Resolve<'r> = dyn FnMut(&str) -> Result<Node, String> + 'r;

/// A literal's value: a number as exactly as it is written (INT, DECIMAL or DOUBLE).
fn literal_value(l: &Lit) -> Result<Value<'static>, String> {
    Ok(match l {
        Lit::Null => Value::Null,
        Lit::Bool(b) => Value::Bool(*b),
        Lit::Number(n) => parse_number(n).ok_or_else(|| format!("`{n}` is not a number"))?,
        Lit::Str(s) => Value::Str(Cow::Owned(s.clone())),
    })
}

/// SQL truth: NULL is unknown; numbers are true when not zero; text is read as a number.
pub fn truthy(v: &Value<'_>) -> Option<bool> {
    match v {
        Value::Null => None,
        Value::Bool(b) => Some(*b),
        Value::Int(i) => Some(*i != 0),
        Value::Decimal(u, _) => Some(*u != 0),
        Value::Float(f) => Some(*f != 0.0),
        Value::Str(s) => Some(parse_number(s).is_some_and(|n| truthy(&n) == Some(true))),
        Value::Date(_) | Value::DateTime(_) => Some(true),
    }
}

fn bool_value(b: Option<bool>) -> Value<'static> {
    b.map_or(Value::Null, Value::Bool)
}

/// A value as text (the text of a string, what SQL prints for others).
fn text(v: Value<'_>) -> Cow<'_, str> {
    match v {
        Value::Str(s) => s,
        v => Cow::Owned(display(&v)),
    }
}

/// Appends a value's text.
fn push_text(out: &mut String, v: &Value<'_>) {
    match v {
        Value::Str(s) => out.push_str(s),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        v => out.push_str(&display(v)),
    }
}

/// Part `range` of a text, borrowing when the text is borrowed.
fn slice(s: Cow<'_, str>, range: std::ops::Range<usize>) -> Cow<'_, str> {
    match s {
        Cow::Borrowed(b) => Cow::Borrowed(&b[range]),
        Cow::Owned(o) if range.start == 0 && range.end == o.len() => Cow::Owned(o),
        Cow::Owned(o) => Cow::Owned(o[range].to_string()),
    }
}

/// The byte offset of character `n` of `s` (`s.len()` past the end).
fn char_offset(s: &str, n: usize) -> usize {
    if s.is_ascii() {
        return n.min(s.len());
    }
    s.char_indices().nth(n).map_or(s.len(), |(i, _)| i)
}

fn char_count(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.chars().count()
    }
}

/// MySQL's SUBSTRING: 1-based `pos` (negative counts from the end, 0 is empty), `len` characters.
fn substring(s: Cow<'_, str>, pos: i128, len: Option<i128>) -> Cow<'_, str> {
    let count = char_count(&s) as i128;
    let start = match pos {
        0 => return Cow::Borrowed(""),
        p if p > 0 => p - 1,
        p => count + p,
    };
    if start < 0 || start >= count || len.is_some_and(|l| l <= 0) {
        return Cow::Borrowed("");
    }
    let end = match len {
        Some(l) => count.min(start.saturating_add(l)),
        None => count,
    };
    let (a, b) = (
        char_offset(&s, start as usize),
        char_offset(&s, end as usize),
    );
    slice(s, a..b)
}

/// A number for arithmetic.
#[derive(Clone, Copy, Debug)]
enum Num {
    Int(i128),
    /// Unscaled value and scale.
    Dec(i128, u8),
    Float(f64),
}

impl Num {
    fn value(self) -> Result<Value<'static>, String> {
        match self {
            Num::Int(i) => Ok(Value::Int(i)),
            Num::Dec(u, s) if u.unsigned_abs() < DECIMAL_LIMIT => Ok(Value::Decimal(u, s)),
            Num::Dec(u, s) => Err(format!(
                "DECIMAL overflow: {} has more than 38 digits",
                display(&Value::Decimal(u, s))
            )),
            Num::Float(f) if f.is_finite() => Ok(Value::Float(f)),
            Num::Float(_) => Err("the result is out of range for DOUBLE".into()),
        }
    }

    fn is_zero(self) -> bool {
        match self {
            Num::Int(i) | Num::Dec(i, _) => i == 0,
            Num::Float(f) => f == 0.0,
        }
    }

    fn float(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Dec(u, s) => u as f64 / 10f64.powi(i32::from(s)),
            Num::Float(f) => f,
        }
    }

    /// (unscaled, scale) of an exact number.
    fn exact(self) -> Option<(i128, u8)> {
        match self {
            Num::Int(i) => Some((i, 0)),
            Num::Dec(u, s) => Some((u, s)),
            Num::Float(_) => None,
        }
    }
}

/// A value as a number; `None` for NULL. `what` says where, for the error.
fn number(v: &Value<'_>, what: &dyn fmt::Display) -> Result<Option<Num>, String> {
    Ok(Some(match v {
        Value::Null => return Ok(None),
        Value::Bool(b) => Num::Int(i128::from(*b)),
        Value::Int(i) => Num::Int(*i),
        Value::Decimal(u, s) => Num::Dec(*u, *s),
        Value::Float(f) => Num::Float(*f),
        Value::Str(s) => match parse_number(s) {
            Some(Value::Int(i)) => Num::Int(i),
            Some(Value::Decimal(u, s)) => Num::Dec(u, s),
            Some(Value::Float(f)) => Num::Float(f),
            _ => return Err(format!("{} is not a number ({what})", show(s))),
        },
        Value::Date(_) | Value::DateTime(_) => {
            return Err(format!(
                "{} is a date, not a number ({what}); use the date functions",
                display(v)
            ));
        }
    }))
}

/// An integer argument (a fraction is rounded, as MySQL does).
fn integer(v: &Value<'_>, what: &dyn fmt::Display) -> Result<Option<i128>, String> {
    Ok(number(v, what)?.map(|n| match n {
        Num::Int(i) => i,
        Num::Dec(u, s) => rescale(u, s, 0).unwrap_or(0),
        Num::Float(f) => f.round().clamp(-1e38, 1e38) as i128,
    }))
}

/// Exact `a op b` at a common scale; `None` on overflow.
fn exact_op(op: ArithOp, (x, sx): (i128, u8), (y, sy): (i128, u8)) -> Option<(i128, u8)> {
    match op {
        ArithOp::Mul => {
            let (v, s) = (x.checked_mul(y)?, sx.checked_add(sy)?);
            if s > 38 {
                Some((rescale(v, s, 38)?, 38))
            } else {
                Some((v, s))
            }
        }
        ArithOp::Div => {
            // The quotient keeps 6 more digits than the dividend (at most 38), rounded.
            let s = sx.saturating_add(6).min(38).max(sx);
            let shift = u32::from(s - sx) + u32::from(sy);
            let n = x.checked_mul(10i128.checked_pow(shift)?)?;
            let (q, r) = (n.checked_div(y)?, n.checked_rem(y)?);
            let q = if r.unsigned_abs().checked_mul(2)? >= y.unsigned_abs() {
                q + n.signum() * y.signum()
            } else {
                q
            };
            Some((q, s))
        }
        _ => {
            let s = sx.max(sy);
            let (x, y) = (rescale(x, sx, s)?, rescale(y, sy, s)?);
            let v = match op {
                ArithOp::Add => x.checked_add(y)?,
                ArithOp::Sub => x.checked_sub(y)?,
                ArithOp::Mod => x.checked_rem(y).unwrap_or(0),
                _ => x.checked_div(y)?,
            };
            Some((v, if op == ArithOp::IntDiv { 0 } else { s }))
        }
    }
}

/// `a op b` with SQL's rules (see the module documentation).
fn arith(op: ArithOp, a: &Value<'_>, b: &Value<'_>) -> Result<Value<'static>, String> {
    let (x, y) = (
        number(a, &format_args!("an operand of {op}"))?,
        number(b, &format_args!("an operand of {op}"))?,
    );
    let (Some(x), Some(y)) = (x, y) else {
        return Ok(Value::Null);
    };
    if matches!(op, ArithOp::Div | ArithOp::Mod | ArithOp::IntDiv) && y.is_zero() {
        return Ok(Value::Null);
    }
    let overflow = || {
        format!(
            "overflow: {} {op} {} does not fit in 128 bits",
            display(a),
            display(b)
        )
    };
    let n = match (op, x.exact(), y.exact()) {
        // Integer arithmetic stays integer, except `/`, which is a DOUBLE as in StarRocks.
        (ArithOp::Div, Some((p, 0)), Some((q, 0))) => Num::Float(p as f64 / q as f64),
        (_, Some((p, 0)), Some((q, 0))) => {
            let v = match op {
                ArithOp::Add => p.checked_add(q),
                ArithOp::Sub => p.checked_sub(q),
                ArithOp::Mul => p.checked_mul(q),
                ArithOp::Mod => Some(p.checked_rem(q).unwrap_or(0)),
                _ => p.checked_div(q),
            };
            Num::Int(v.ok_or_else(overflow)?)
        }
        (_, Some(p), Some(q)) => match exact_op(op, p, q) {
            Some((v, s)) if op == ArithOp::IntDiv || (s == 0 && op != ArithOp::Div) => Num::Int(v),
            Some((v, s)) => Num::Dec(v, s),
            None if op == ArithOp::Div => Num::Float(x.float() / y.float()),
            None => return Err(overflow()),
        },
        _ => {
            let (p, q) = (x.float(), y.float());
            match op {
                ArithOp::Add => Num::Float(p + q),
                ArithOp::Sub => Num::Float(p - q),
                ArithOp::Mul => Num::Float(p * q),
                ArithOp::Div => Num::Float(p / q),
                ArithOp::Mod => Num::Float(p % q),
                ArithOp::IntDiv => {
                    let t = (p / q).trunc();
                    if !t.is_finite() || t.abs() >= 1e38 {
                        return Err(overflow());
                    }
                    Num::Int(t as i128)
                }
            }
        }
    };
    n.value()
}

/// The DATETIME (microseconds) of a date-like value, for `f`.
fn datetime(f: Func, v: &Value<'_>) -> Result<i64, String> {
    let parse = |s: &str| {
        parse_datetime(s.trim()).map_err(|why| {
            format!(
                "{}: {} is not a date or datetime ({why})",
                f.name(),
                show(s)
            )
        })
    };
    match v {
        Value::Date(d) => Ok(i64::from(*d) * MICROS_PER_DAY),
        Value::DateTime(t) => Ok(*t),
        Value::Str(s) => parse(s),
        Value::Int(i) => parse(&i.to_string()),
        v => Err(format!(
            "{}: {} is not a date or datetime",
            f.name(),
            display(v)
        )),
    }
}

impl Node {
    /// Resolves `e`'s names with `resolve` and folds constant parts. `now` (microseconds since
    /// the epoch) is the value of `now()`.
    pub fn compile(e: &Expr, resolve: &mut Resolve<'_>, now: i64) -> Result<Node, String> {
        let mut one = |x: &Expr| Node::compile(x, resolve, now).map(Box::new);
        let node = match e {
            Expr::Lit(l) => Node::Const(literal_value(l)?),
            Expr::Col(name) => return resolve(name),
            Expr::Cmp(a, op, b) => {
                let a = one(a)?;
                Node::Cmp(a, *op, one(b)?)
            }
            Expr::And(a, b) => {
                let a = one(a)?;
                Node::And(a, one(b)?)
            }
            Expr::Or(a, b) => {
                let a = one(a)?;
                Node::Or(a, one(b)?)
            }
            Expr::Not(a) => Node::Not(one(a)?),
            Expr::IsNull(a, neg) => Node::IsNull(one(a)?, *neg),
            Expr::In(a, list, neg) => {
                let a = one(a)?;
                let list = list
                    .iter()
                    .map(|x| one(x).map(|b| *b))
                    .collect::<Result<_, _>>()?;
                Node::In(a, list, *neg)
            }
            Expr::Neg(a) => Node::Neg(one(a)?),
            Expr::Arith(a, op, b) => {
                let a = one(a)?;
                Node::Arith(a, *op, one(b)?)
            }
            Expr::Cast(a, t) => Node::Cast(one(a)?, *t),
            Expr::Case(operand, whens, otherwise) => {
                let operand = operand.as_deref().map(&mut one).transpose()?;
                let whens = whens
                    .iter()
                    .map(|(w, t)| Ok((*one(w)?, *one(t)?)))
                    .collect::<Result<_, String>>()?;
                let otherwise = otherwise.as_deref().map(&mut one).transpose()?;
                Node::Case(operand, whens, otherwise)
            }
            Expr::Call(Func::Now, _) => Node::Const(Value::DateTime(now)),
            Expr::Call(f, args) => {
                let args: Vec<Node> = args
                    .iter()
                    .map(|x| one(x).map(|b| *b))
                    .collect::<Result<_, _>>()?;
                // A constant format is checked now rather than on every row.
                let parsing = *f == Func::StrToDate;
                if (parsing || *f == Func::DateFormat)
                    && let Some(Node::Const(Value::Str(fmt))) = args.get(1)
                {
                    check_date_format(fmt, parsing).map_err(|e| format!("{}: {e}", f.name()))?;
                }
                Node::Call(*f, args)
            }
        };
        Ok(node.fold())
    }

    /// The node, or its value when every operand is a constant and it evaluates.
    fn fold(self) -> Node {
        let konst = |n: &Node| matches!(n, Node::Const(_));
        let all = match &self {
            Node::Const(_) | Node::Field(_) | Node::Column(_) => return self,
            Node::Neg(a) | Node::Not(a) | Node::IsNull(a, _) | Node::Cast(a, _) => konst(a),
            Node::Arith(a, _, b) | Node::Cmp(a, _, b) | Node::And(a, b) | Node::Or(a, b) => {
                konst(a) && konst(b)
            }
            Node::In(a, list, _) => konst(a) && list.iter().all(konst),
            Node::Call(_, args) => args.iter().all(konst),
            Node::Case(operand, whens, otherwise) => {
                operand.as_deref().is_none_or(konst)
                    && whens.iter().all(|(w, t)| konst(w) && konst(t))
                    && otherwise.as_deref().is_none_or(konst)
            }
        };
        if !all {
            return self;
        }
        match self.eval(&[], &[]).map(Value::into_owned) {
            Ok(v) => Node::Const(v),
            // Left for the rows: an error is only an error if a row reaches it.
            Err(_) => self,
        }
    }

    /// The value over one row: `fields` are the source fields, `row` the table columns
    /// computed so far.
    pub fn eval<'a>(
        &'a self,
        fields: &[Option<&'a str>],
        row: &[Value<'a>],
    ) -> Result<Value<'a>, String> {
        Ok(match self {
            Node::Const(v) => v.borrowed(),
            Node::Field(i) => match fields.get(*i).copied().flatten() {
                Some(s) => Value::Str(Cow::Borrowed(s)),
                None => Value::Null,
            },
            Node::Column(i) => row.get(*i).cloned().unwrap_or(Value::Null),
            Node::Neg(a) => {
                let v = a.eval(fields, row)?;
                match number(&v, &"the operand of unary -")? {
                    None => Value::Null,
                    Some(Num::Int(i)) => Value::Int(
                        i.checked_neg()
                            .ok_or_else(|| format!("overflow: -({i}) does not fit in 128 bits"))?,
                    ),
                    Some(Num::Dec(u, s)) => Value::Decimal(u.saturating_neg(), s),
                    Some(Num::Float(f)) => Value::Float(-f),
                }
            }
            Node::Arith(a, op, b) => arith(*op, &a.eval(fields, row)?, &b.eval(fields, row)?)?,
            Node::Cmp(a, op, b) => {
                let (x, y) = (a.eval(fields, row)?, b.eval(fields, row)?);
                bool_value(x.compare(&y).map(|o| op.holds(o)))
            }
            Node::And(a, b) => {
                let x = truthy(&a.eval(fields, row)?);
                if x == Some(false) {
                    return Ok(Value::Bool(false));
                }
                match (x, truthy(&b.eval(fields, row)?)) {
                    (_, Some(false)) => Value::Bool(false),
                    (Some(true), Some(true)) => Value::Bool(true),
                    _ => Value::Null,
                }
            }
            Node::Or(a, b) => {
                let x = truthy(&a.eval(fields, row)?);
                if x == Some(true) {
                    return Ok(Value::Bool(true));
                }
                match (x, truthy(&b.eval(fields, row)?)) {
                    (_, Some(true)) => Value::Bool(true),
                    (Some(false), Some(false)) => Value::Bool(false),
                    _ => Value::Null,
                }
            }
            Node::Not(a) => bool_value(truthy(&a.eval(fields, row)?).map(|b| !b)),
            Node::IsNull(a, neg) => Value::Bool(a.eval(fields, row)?.is_null() != *neg),
            Node::In(a, list, neg) => {
                let v = a.eval(fields, row)?;
                if v.is_null() {
                    return Ok(Value::Null);
                }
                let mut unknown = false;
                for x in list {
                    match v.compare(&x.eval(fields, row)?) {
                        Some(Ordering::Equal) => return Ok(Value::Bool(!*neg)),
                        None => unknown = true,
                        Some(_) => {}
                    }
                }
                if unknown {
                    Value::Null
                } else {
                    Value::Bool(*neg)
                }
            }
            Node::Call(f, args) => call(*f, args, fields, row)?,
            Node::Cast(a, t) => match a.eval(fields, row)? {
                Value::Null => Value::Null,
                // A string type takes the text as is; its length is checked by the column.
                v if t.is_string() => Value::Str(text(v)),
                v => to_type(v, *t).map_err(|e| format!("cast: {e}"))?,
            },
            Node::Case(operand, whens, otherwise) => {
                let operand = match operand {
                    Some(o) => Some(o.eval(fields, row)?),
                    None => None,
                };
                for (w, then) in whens {
                    let w = w.eval(fields, row)?;
                    let hit = match &operand {
                        Some(o) => o.compare(&w) == Some(Ordering::Equal),
                        None => truthy(&w) == Some(true),
                    };
                    if hit {
                        return then.eval(fields, row);
                    }
                }
                match otherwise {
                    Some(e) => e.eval(fields, row)?,
                    None => Value::Null,
                }
            }
        })
    }
}

/// Evaluates a call.
fn call<'a>(
    f: Func,
    args: &'a [Node],
    fields: &[Option<&'a str>],
    row: &[Value<'a>],
) -> Result<Value<'a>, String> {
    let arg = |i: usize| match args.get(i) {
        Some(n) => n.eval(fields, row),
        None => Ok(Value::Null),
    };
    // The first argument; NULL makes the call NULL.
    macro_rules! first {
        () => {
            match arg(0)? {
                Value::Null => return Ok(Value::Null),
                v => v,
            }
        };
    }
    let name = f.name();
    Ok(match f {
        Func::Year | Func::Month | Func::Day | Func::Hour | Func::Minute | Func::Second => {
            let p = DateParts::of(datetime(f, &first!())?);
            Value::Int(match f {
                Func::Year => i128::from(p.year),
                Func::Month => i128::from(p.month),
                Func::Day => i128::from(p.day),
                Func::Hour => i128::from(p.hour),
                Func::Minute => i128::from(p.minute),
                _ => i128::from(p.second),
            })
        }
        Func::ToDate => {
            let t = datetime(f, &first!())?;
            Value::Date(
                i32::try_from(t.div_euclid(MICROS_PER_DAY))
                    .map_err(|_| format!("{name}: out of range"))?,
            )
        }
        Func::Now => Value::DateTime(common::clock::now_ms() * 1000),
        Func::StrToDate => {
            let s = text(first!());
            let fmt = match arg(1)? {
                Value::Null => return Ok(Value::Null),
                v => text(v),
            };
            Value::DateTime(str_to_date(&s, &fmt).map_err(|e| format!("{name}: {e}"))?)
        }
        Func::DateFormat => {
            let t = datetime(f, &first!())?;
            let fmt = match arg(1)? {
                Value::Null => return Ok(Value::Null),
                v => text(v),
            };
            Value::Str(Cow::Owned(
                date_format(t, &fmt).map_err(|e| format!("{name}: {e}"))?,
            ))
        }
        Func::Concat => {
            if args.len() == 1 {
                return Ok(Value::Str(text(first!())));
            }
            let mut out = String::new();
            for n in args {
                let v = n.eval(fields, row)?;
                if v.is_null() {
                    return Ok(Value::Null);
                }
                push_text(&mut out, &v);
            }
            Value::Str(Cow::Owned(out))
        }
        Func::ConcatWs => {
            let sep = text(first!());
            let mut out = String::new();
            let mut any = false;
            for n in args.iter().skip(1) {
                let v = n.eval(fields, row)?;
                if v.is_null() {
                    continue;
                }
                if any {
                    out.push_str(&sep);
                }
                any = true;
                push_text(&mut out, &v);
            }
            Value::Str(Cow::Owned(out))
        }
        Func::Substr | Func::Left | Func::Right => {
            let s = text(first!());
            let Some(n) = integer(&arg(1)?, &format_args!("an argument of {name}"))? else {
                return Ok(Value::Null);
            };
            let len = match (f, args.get(2)) {
                (Func::Substr, Some(_)) => {
                    match integer(&arg(2)?, &format_args!("an argument of {name}"))? {
                        Some(l) => Some(l),
                        None => return Ok(Value::Null),
                    }
                }
                _ => None,
            };
            Value::Str(match f {
                Func::Substr => substring(s, n, len),
                Func::Left => substring(s, 1, Some(n)),
                _ if n <= 0 => Cow::Borrowed(""),
                _ => {
                    let count = char_count(&s) as i128;
                    substring(s, (count - n).max(0) + 1, None)
                }
            })
        }
        Func::Upper => Value::Str(Cow::Owned(text(first!()).to_uppercase())),
        Func::Lower => Value::Str(Cow::Owned(text(first!()).to_lowercase())),
        Func::Trim | Func::Ltrim | Func::Rtrim => {
            let s = text(first!());
            let start = if f == Func::Rtrim {
                0
            } else {
                s.len() - s.trim_start_matches(' ').len()
            };
            let end = if f == Func::Ltrim {
                s.len()
            } else {
                s.trim_end_matches(' ').len().max(start)
            };
            Value::Str(slice(s, start..end))
        }
        Func::Length => Value::Int(text(first!()).len() as i128),
        Func::CharLength => Value::Int(char_count(&text(first!())) as i128),
        Func::Replace => {
            let s = text(first!());
            let (from, to) = match (arg(1)?, arg(2)?) {
                (Value::Null, _) | (_, Value::Null) => return Ok(Value::Null),
                (a, b) => (text(a), text(b)),
            };
            if from.is_empty() || !s.contains(from.as_ref()) {
                Value::Str(s)
            } else {
                Value::Str(Cow::Owned(s.replace(from.as_ref(), &to)))
            }
        }
        Func::SplitPart => {
            let s = text(first!());
            let delim = match arg(1)? {
                Value::Null => return Ok(Value::Null),
                v => text(v),
            };
            let Some(n) = integer(&arg(2)?, &format_args!("the field number of {name}"))? else {
                return Ok(Value::Null);
            };
            if delim.is_empty() || n == 0 {
                return Ok(Value::Null);
            }
            let k = usize::try_from(n.unsigned_abs().saturating_sub(1)).unwrap_or(usize::MAX);
            let part = if n > 0 {
                s.split(delim.as_ref()).nth(k)
            } else {
                s.rsplit(delim.as_ref()).nth(k)
            };
            match part {
                None => Value::Null,
                Some(p) => {
                    // `p` is a slice of `s`: keep borrowing when `s` does.
                    let start = p.as_ptr() as usize - s.as_ptr() as usize;
                    let range = start..start + p.len();
                    Value::Str(slice(s, range))
                }
            }
        }
        Func::If => {
            if truthy(&arg(0)?) == Some(true) {
                arg(1)?
            } else {
                arg(2)?
            }
        }
        Func::IfNull => match arg(0)? {
            Value::Null => arg(1)?,
            v => v,
        },
        Func::Coalesce => {
            for n in args {
                let v = n.eval(fields, row)?;
                if !v.is_null() {
                    return Ok(v);
                }
            }
            Value::Null
        }
        Func::NullIf => {
            let a = arg(0)?;
            if a.compare(&arg(1)?) == Some(Ordering::Equal) {
                Value::Null
            } else {
                a
            }
        }
        Func::Abs | Func::Floor | Func::Ceil => {
            let Some(x) = number(&first!(), &format_args!("the argument of {name}"))? else {
                return Ok(Value::Null);
            };
            let n = match (f, x) {
                (Func::Abs, Num::Int(i)) => Num::Int(
                    i.checked_abs()
                        .ok_or_else(|| format!("overflow: abs({i}) does not fit in 128 bits"))?,
                ),
                (Func::Abs, Num::Dec(u, s)) => Num::Dec(u.saturating_abs(), s),
                (Func::Abs, Num::Float(v)) => Num::Float(v.abs()),
                (_, Num::Int(i)) => Num::Int(i),
                (_, Num::Dec(u, s)) => {
                    let d = 10i128.checked_pow(u32::from(s)).unwrap_or(i128::MAX);
                    let floor = u.div_euclid(d);
                    Num::Int(if f == Func::Ceil && u.rem_euclid(d) != 0 {
                        floor + 1
                    } else {
                        floor
                    })
                }
                (Func::Floor, Num::Float(v)) => Num::Float(v.floor()),
                (_, Num::Float(v)) => Num::Float(v.ceil()),
            };
            n.value()?
        }
        Func::Round => {
            let Some(x) = number(&first!(), &format_args!("an argument of {name}"))? else {
                return Ok(Value::Null);
            };
            let d = match args.get(1) {
                None => 0,
                Some(_) => match integer(&arg(1)?, &format_args!("an argument of {name}"))? {
                    Some(d) => d.clamp(-38, 38) as i32,
                    None => return Ok(Value::Null),
                },
            };
            let n = match x {
                Num::Float(v) => {
                    let m = 10f64.powi(d);
                    Num::Float((v * m).round() / m)
                }
                Num::Int(_) if d >= 0 => x,
                Num::Int(i) => {
                    let up = (-d) as u8;
                    let r = rescale(i, up, 0).and_then(|r| rescale(r, 0, up));
                    Num::Int(r.ok_or_else(|| format!("overflow: round({i}, {d})"))?)
                }
                Num::Dec(u, s) if d >= 0 => {
                    let keep = d.min(i32::from(s)) as u8;
                    Num::Dec(rescale(u, s, keep).unwrap_or(0), keep)
                }
                Num::Dec(u, s) => {
                    let up = (-d) as u8;
                    let r = rescale(u, s + up, 0).and_then(|r| rescale(r, 0, up));
                    Num::Int(r.ok_or_else(|| format!("overflow: round(.., {d})"))?)
                }
            };
            n.value()?
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(s: &str) -> Box<Expr> {
        Box::new(Expr::Col(s.into()))
    }

    fn num(s: &str) -> Box<Expr> {
        Box::new(Expr::Lit(Lit::Number(s.into())))
    }

    /// Evaluates `expr` over fields named a, b, c (then s, t) with the given texts.
    fn eval_value(expr: &str, fields: &[Option<&str>]) -> Result<Value<'static>, String> {
        const NAMES: [&str; 5] = ["a", "b", "c", "s", "t"];
        let e = parse_where(expr)?;
        let node = Node::compile(
            &e,
            &mut |name: &str| {
                NAMES
                    .iter()
                    .position(|n| n.eq_ignore_ascii_case(name))
                    .map(Node::Field)
                    .ok_or_else(|| format!("unknown column `{name}`"))
            },
            1_700_000_000_000_000,
        )?;
        node.eval(fields, &[]).map(Value::into_owned)
    }

    /// The value as SQL prints it.
    fn ev(expr: &str, fields: &[Option<&str>]) -> Result<String, String> {
        eval_value(expr, fields).map(|v| display(&v))
    }

    fn ok(expr: &str) -> String {
        ev(expr, &[]).unwrap_or_else(|e| panic!("{expr}: {e}"))
    }

    fn err(expr: &str, fields: &[Option<&str>]) -> String {
        match ev(expr, fields) {
            Ok(v) => panic!("{expr} gave {v}"),
            Err(e) => e,
        }
    }

    #[test]
    fn columns_map_names_and_expressions() {
        let items =
            parse_columns("k1, tmp , `v 2` = tmp, c = 'x,y', d = -1.5, e=NULL").expect("ok");
        let names: Vec<&str> = items.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["k1", "tmp", "v 2", "c", "d", "e"]);
        assert_eq!(items[0].expr, None);
        assert_eq!(items[2].expr, Some(Expr::Col("tmp".into())));
        assert_eq!(items[3].expr, Some(Expr::Lit(Lit::Str("x,y".into()))));
        assert_eq!(items[4].expr, Some(Expr::Lit(Lit::Number("-1.5".into()))));
        assert_eq!(items[5].expr, Some(Expr::Lit(Lit::Null)));
        for bad in ["a, , b", "a b", "a, A", "= 1", "a = 'x", "a =", "a = 1 2"] {
            assert!(parse_columns(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_columns("a =").expect_err("empty"),
            "`a =` has no expression after `=`"
        );
    }

    #[test]
    fn columns_take_expressions() {
        let items = parse_columns(
            "k1, tmp, v1 = year(tmp), v2 = k1 * 100, v3 = concat(tmp, '-x'), \
             v4 = CAST(k1 AS DECIMAL(10, 2)), v5 = if(k1 > 1 AND tmp IS NOT NULL, 'a', 'b'), \
             v6 = k1-1, `end` = -k1, v7 = CASE k1 WHEN 1 THEN 'one' ELSE 'many' END",
        )
        .expect("parse");
        assert_eq!(items.len(), 10);
        assert_eq!(
            items[2].expr,
            Some(Expr::Call(Func::Year, vec![Expr::Col("tmp".into())]))
        );
        assert_eq!(
            items[3].expr,
            Some(Expr::Arith(col("k1"), ArithOp::Mul, num("100")))
        );
        assert_eq!(
            items[5].expr,
            Some(Expr::Cast(
                col("k1"),
                DataType::Decimal {
                    precision: 10,
                    scale: 2
                }
            ))
        );
        assert_eq!(
            items[7].expr,
            Some(Expr::Arith(col("k1"), ArithOp::Sub, num("1"))),
            "`k1-1` is a subtraction, not k1 and -1"
        );
        assert_eq!(items[8].name, "end", "a quoted keyword is a name");
        assert_eq!(items[8].expr, Some(Expr::Neg(col("k1"))));
        // Precedence: * before +, unary minus before *, comparison after arithmetic.
        assert_eq!(
            parse_where("a + b * -c >= 2 % 3").expect("parse"),
            Expr::Cmp(
                Box::new(Expr::Arith(
                    col("a"),
                    ArithOp::Add,
                    Box::new(Expr::Arith(
                        col("b"),
                        ArithOp::Mul,
                        Box::new(Expr::Neg(col("c")))
                    ))
                )),
                CmpOp::Ge,
                Box::new(Expr::Arith(num("2"), ArithOp::Mod, num("3")))
            )
        );
        assert_eq!(
            parse_where("UPPER(a) = 'X'").expect("case-insensitive names"),
            Expr::Cmp(
                Box::new(Expr::Call(Func::Upper, vec![Expr::Col("a".into())])),
                CmpOp::Eq,
                Box::new(Expr::Lit(Lit::Str("X".into())))
            )
        );
    }

    #[test]
    fn bad_expressions_have_clear_messages() {
        let e = parse_columns("k, v = foo(k)").expect_err("unknown");
        assert!(
            e.starts_with("unknown function `foo` in `v = foo(k)` (the functions a load can use are abs, case, cast, ceil,"),
            "{e}"
        );
        let e = parse_where("Nope(a) = 1").expect_err("unknown");
        assert!(
            e.starts_with("unknown function `Nope` in `Nope(a) = 1`"),
            "{e}"
        );
        for (text, want) in [
            (
                "v = substr(a)",
                "function `substr` takes 2 or 3 arguments, not 1, in `v = substr(a)`",
            ),
            (
                "v = year(a, b)",
                "function `year` takes 1 argument, not 2, in `v = year(a, b)`",
            ),
            (
                "v = now(1)",
                "function `now` takes 0 arguments, not 1, in `v = now(1)`",
            ),
            (
                "v = concat()",
                "function `concat` takes at least 1 argument, not 0, in `v = concat()`",
            ),
            (
                "v = if(a, b)",
                "function `if` takes 3 arguments, not 2, in `v = if(a, b)`",
            ),
            (
                "v = round(a, 1, 2)",
                "function `round` takes 1 or 2 arguments, not 3, in `v = round(a, 1, 2)`",
            ),
            (
                "v = cast(a AS blob)",
                "CAST to blob is not supported in `v = cast(a AS blob)` (the types are BOOLEAN, TINYINT, SMALLINT, INT, BIGINT, LARGEINT, FLOAT, DOUBLE, DECIMAL(p, s), DATE, DATETIME, CHAR(n), VARCHAR(n), STRING)",
            ),
            (
                "v = cast(a AS DECIMAL(40, 2))",
                "DECIMAL(40, 2) is not a valid type (precision 1 to 38, scale at most the precision) in `v = cast(a AS DECIMAL(40, 2))`",
            ),
            (
                "v = cast(a INT)",
                "expected AS in CAST in `v = cast(a INT)`",
            ),
            ("v = a +", "unexpected end of `v = a +`"),
            ("v = (a", "expected `)` at the end of `v = (a`"),
            ("v = a * * b", "unexpected `*` in `v = a * * b`"),
            (
                "v = CASE WHEN a THEN 1",
                "expected END to close CASE in `v = CASE WHEN a THEN 1`",
            ),
            ("v = CASE END", "CASE needs a WHEN in `v = CASE END`"),
            ("v = a AND", "unexpected end of `v = a AND`"),
            ("v = end", "unexpected `end` in `v = end`"),
        ] {
            assert_eq!(parse_columns(text).expect_err(text), want);
        }
        let deep = format!("v = {}a{}", "(".repeat(40), ")".repeat(40));
        let e = parse_columns(&deep).expect_err("deep");
        assert!(e.contains("nested too deeply"), "{e}");
        let long = format!("v = a{}", " + a".repeat(300));
        let e = parse_columns(&long).expect_err("long");
        assert!(e.contains("too complex"), "{e}");
        let minus = format!("v = {}a", "-".repeat(300));
        assert!(parse_columns(&minus).is_err());
    }

    #[test]
    fn where_has_precedence_and_null_tests() {
        let e = parse_where("a = 1 OR b >= 2 AND NOT c IS NULL").expect("ok");
        assert_eq!(
            e,
            Expr::Or(
                Box::new(Expr::Cmp(col("a"), CmpOp::Eq, num("1"))),
                Box::new(Expr::And(
                    Box::new(Expr::Cmp(col("b"), CmpOp::Ge, num("2"))),
                    Box::new(Expr::Not(Box::new(Expr::IsNull(col("c"), false))))
                ))
            )
        );
        let e = parse_where("(a <> 'x') and b is not null").expect("ok");
        assert_eq!(
            e,
            Expr::And(
                Box::new(Expr::Cmp(
                    col("a"),
                    CmpOp::Ne,
                    Box::new(Expr::Lit(Lit::Str("x".into())))
                )),
                Box::new(Expr::IsNull(col("b"), true))
            )
        );
        let e = parse_where("k not in (1, -2)").expect("ok");
        assert_eq!(e, Expr::In(col("k"), vec![*num("1"), *num("-2")], true));
        let e = parse_where("year(d) = 2024").expect("function");
        assert_eq!(
            e,
            Expr::Cmp(
                Box::new(Expr::Call(Func::Year, vec![Expr::Col("d".into())])),
                CmpOp::Eq,
                num("2024")
            )
        );
        for bad in [
            "",
            "a =",
            "a = 1 AND",
            "(a = 1",
            "a == 1 b",
            "f(a) = 1",
            "a ! 1",
            "a IS 1",
            "a = 1 +",
        ] {
            assert!(parse_where(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn arithmetic_is_exact_and_sql_like() {
        assert_eq!(ok("1 + 2 * 3"), "7");
        assert_eq!(ok("(1 + 2) * 3"), "9");
        assert_eq!(ok("-2 - -3"), "1");
        assert_eq!(ok("- (2 + 3)"), "-5");
        assert_eq!(ok("7 % 3"), "1");
        assert_eq!(ok("-7 % 3"), "-1", "the sign of the dividend, as MySQL");
        assert_eq!(ok("7 MOD 3"), "1");
        assert_eq!(ok("7 DIV 2"), "3");
        assert_eq!(ok("-7 DIV 2"), "-3");
        assert_eq!(ok("5 / 2"), "2.5", "int / int is a DOUBLE");
        assert_eq!(ok("1.10 + 2.5"), "3.60");
        assert_eq!(ok("1.5 * 1.5"), "2.25");
        assert_eq!(ok("1.00 / 3"), "0.33333333");
        assert_eq!(ok("2.5 / 0.5"), "5.0000000");
        assert_eq!(ok("5.5 % 2"), "1.5");
        assert_eq!(ok("7.5 DIV 2"), "3");
        assert_eq!(ok("1e3 + 1"), "1001");
        assert_eq!(ok("0.5e1 * 2"), "10");
        // Division by zero is NULL, as in StarRocks.
        for z in [
            "1 / 0",
            "1 % 0",
            "1 DIV 0",
            "1.5 / 0.0",
            "1e0 / 0",
            "1 / '0'",
        ] {
            assert_eq!(ok(z), "NULL", "{z}");
        }
        // NULL in, NULL out.
        assert_eq!(ev("a + 1", &[None]).expect("null"), "NULL");
        assert_eq!(ok("NULL * 2"), "NULL");
        // Text fields are read as numbers.
        assert_eq!(ev("a * 100", &[Some(" 12 ")]).expect("text"), "1200");
        assert_eq!(
            ev("a + b", &[Some("1.25"), Some("2")]).expect("text"),
            "3.25"
        );
        let e = err("a * 100", &[Some("abc")]);
        assert_eq!(e, "'abc' is not a number (an operand of *)");
        let e = err("a + 1", &[Some("2024-01-01")]);
        assert!(e.contains("is not a number"), "{e}");
        // Overflow of 128-bit integers is an error, not a wrong number.
        let big = "170141183460469231731687303715884105727";
        let e = err(&format!("{big} + 1"), &[]);
        assert!(e.starts_with("overflow: "), "{e}");
        let e = err(&format!("-{big} - 2"), &[]);
        assert!(e.starts_with("overflow: "), "{e}");
        let e = err(&format!("{big} * 2"), &[]);
        assert!(e.contains("does not fit in 128 bits"), "{e}");
        let e = err(&format!("(-{big} - 1) DIV -1"), &[]);
        assert!(e.starts_with("overflow: "), "{e}");
        assert_eq!(ok(&format!("(-{big} - 1) % -1")), "0");
        let e = err("9999999999999999999999999999999999999.9 + 1", &[]);
        assert!(e.contains("overflow"), "{e}");
        let e = err("1e308 * 10", &[]);
        assert!(e.contains("out of range for DOUBLE"), "{e}");
        // Typed results.
        assert_eq!(eval_value("2 * 3", &[]), Ok(Value::Int(6)));
        assert_eq!(eval_value("1.5 + 1", &[]), Ok(Value::Decimal(25, 1)));
        assert_eq!(eval_value("3 / 2", &[]), Ok(Value::Float(1.5)));
    }

    #[test]
    fn conditions_and_null_functions() {
        assert_eq!(ok("if(1 > 0, 'y', 'n')"), "y");
        assert_eq!(ok("if(NULL, 'y', 'n')"), "n");
        assert_eq!(
            ev("if(a >= 10 AND a < 20, 'teen', 'other')", &[Some("12")]).expect("if"),
            "teen"
        );
        assert_eq!(
            ev("if(a = 'x' OR b IS NULL, 1, 0)", &[Some("y"), None]).expect("if"),
            "1"
        );
        assert_eq!(ev("if(a IN (1, 2), 1, 0)", &[Some("2")]).expect("in"), "1");
        assert_eq!(
            ev("if(a NOT IN (1, 2), 1, 0)", &[Some("3")]).expect("in"),
            "1"
        );
        assert_eq!(ok("ifnull(NULL, 5)"), "5");
        assert_eq!(ok("ifnull(4, 5)"), "4");
        assert_eq!(ok("coalesce(NULL, NULL, 'z', 'w')"), "z");
        assert_eq!(ok("coalesce(NULL)"), "NULL");
        assert_eq!(ok("nullif(3, 3)"), "NULL");
        assert_eq!(ok("nullif(3, 4)"), "3");
        assert_eq!(ev("nullif(a, '')", &[Some("")]).expect("nullif"), "NULL");
        assert_eq!(ok("CASE WHEN 1 = 2 THEN 'a' WHEN 2 = 2 THEN 'b' END"), "b");
        assert_eq!(ok("CASE 3 WHEN 1 THEN 'a' ELSE 'z' END"), "z");
        assert_eq!(ok("CASE 3 WHEN 1 THEN 'a' END"), "NULL");
        assert_eq!(ok("1 = 1 AND NULL"), "NULL");
        assert_eq!(ok("1 = 2 AND NULL"), "0");
        assert_eq!(ok("NOT (1 = 2)"), "1");
        // Only the branch taken is computed.
        assert!(ev("if(a IS NULL, 0, a * 2)", &[Some("x")]).is_err());
        assert_eq!(
            ev("if(a = 'x', 0, a * 2)", &[Some("x")]).expect("lazy"),
            "0"
        );
    }

    #[test]
    fn string_functions() {
        assert_eq!(ok("concat('a', 'b', 1, 2.50)"), "ab12.50");
        assert_eq!(ok("concat('a', NULL)"), "NULL");
        assert_eq!(ok("concat_ws('-', 'a', NULL, 'b')"), "a-b");
        assert_eq!(ok("concat_ws(NULL, 'a')"), "NULL");
        assert_eq!(ok("concat_ws(',', NULL)"), "");
        // substr: 1-based, negative from the end, 0 is empty.
        assert_eq!(ok("substr('Quadratically', 5)"), "ratically");
        assert_eq!(ok("substring('Quadratically', 5, 6)"), "ratica");
        assert_eq!(ok("substr('Sakila', -3)"), "ila");
        assert_eq!(ok("substr('Sakila', -5, 3)"), "aki");
        assert_eq!(ok("substr('Sakila', 0)"), "");
        assert_eq!(ok("substr('Sakila', 7)"), "");
        assert_eq!(ok("substr('Sakila', -7)"), "");
        assert_eq!(ok("substr('Sakila', 2, 0)"), "");
        assert_eq!(ok("substr('Sakila', 2, 100)"), "akila");
        assert_eq!(ok("substr('héllo', 2, 3)"), "éll", "characters, not bytes");
        assert_eq!(ok("substr(NULL, 1)"), "NULL");
        assert_eq!(ok("substr('abc', NULL)"), "NULL");
        assert_eq!(ok("left('abcdef', 2)"), "ab");
        assert_eq!(ok("right('abcdef', 2)"), "ef");
        assert_eq!(ok("right('ab', 5)"), "ab");
        assert_eq!(ok("upper('aBé')"), "ABÉ");
        assert_eq!(ok("lower('AbC')"), "abc");
        assert_eq!(ok("concat('[', trim('  a b  '), ']')"), "[a b]");
        assert_eq!(ok("concat('[', ltrim('  a  '), ']')"), "[a  ]");
        assert_eq!(ok("concat('[', rtrim('  a  '), ']')"), "[  a]");
        assert_eq!(ok("concat('[', trim('   '), ']')"), "[]");
        assert_eq!(ok("length('héllo')"), "6", "bytes");
        assert_eq!(ok("char_length('héllo')"), "5");
        assert_eq!(ok("length(NULL)"), "NULL");
        assert_eq!(ok("replace('a.b.c', '.', '-')"), "a-b-c");
        assert_eq!(ok("replace('abc', '', 'x')"), "abc");
        assert_eq!(ok("replace('abc', NULL, 'x')"), "NULL");
        assert_eq!(ok("split_part('a,b,c', ',', 2)"), "b");
        assert_eq!(ok("split_part('a,b,c', ',', -1)"), "c");
        assert_eq!(ok("split_part('a,b,c', ',', 4)"), "NULL");
        // A borrowed field stays borrowed through trim/substr (no copy per row).
        let fields = [Some("  xyz  ")];
        let e = parse_where("substr(trim(a), 2)").expect("parse");
        let node = Node::compile(&e, &mut |_: &str| Ok(Node::Field(0)), 0).expect("compile");
        match node.eval(&fields, &[]) {
            Ok(Value::Str(Cow::Borrowed(s))) => assert_eq!(s, "yz"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn numeric_functions() {
        assert_eq!(ok("abs(-3)"), "3");
        assert_eq!(ok("abs(-3.25)"), "3.25");
        assert_eq!(ok("floor(2.7)"), "2");
        assert_eq!(ok("floor(-2.1)"), "-3");
        assert_eq!(ok("ceil(2.1)"), "3");
        assert_eq!(ok("ceiling(-2.7)"), "-2");
        assert_eq!(ok("floor(5)"), "5");
        assert_eq!(ok("round(2.5)"), "3");
        assert_eq!(ok("round(-2.5)"), "-3");
        assert_eq!(ok("round(1.2345, 2)"), "1.23");
        assert_eq!(ok("round(1.235, 2)"), "1.24");
        assert_eq!(ok("round(1249.6, -2)"), "1200");
        assert_eq!(ok("round(1250, -2)"), "1300");
        assert_eq!(ok("round(2.5e0)"), "3");
        assert_eq!(ok("abs(NULL)"), "NULL");
        let e = err("abs(a)", &[Some("x")]);
        assert_eq!(e, "'x' is not a number (the argument of abs)");
    }

    #[test]
    fn date_functions() {
        let d = [Some("2024-02-29 13:04:05")];
        assert_eq!(ev("year(a)", &d).expect("year"), "2024");
        assert_eq!(ev("month(a)", &d).expect("month"), "2");
        assert_eq!(ev("day(a)", &d).expect("day"), "29");
        assert_eq!(ev("hour(a)", &d).expect("hour"), "13");
        assert_eq!(ev("minute(a)", &d).expect("minute"), "4");
        assert_eq!(ev("second(a)", &d).expect("second"), "5");
        assert_eq!(ok("year('2024-03-01')"), "2024");
        assert_eq!(ok("hour('2024-03-01')"), "0");
        assert_eq!(ok("year(20240301)"), "2024");
        assert_eq!(ok("year(NULL)"), "NULL");
        assert_eq!(ok("to_date('2024-03-01 10:00:00')"), "2024-03-01");
        let e = err("year(a)", &[Some("garbage")]);
        assert!(
            e.starts_with("year: 'garbage' is not a date or datetime"),
            "{e}"
        );
        let e = err("month(a)", &[Some("2023-02-29")]);
        assert!(e.contains("day 29 does not exist in 2023-02"), "{e}");

        // str_to_date with MySQL specifiers.
        for (s, f, want) in [
            ("2024/03/07", "%Y/%m/%d", "2024-03-07 00:00:00"),
            ("2024/3/7", "%Y/%c/%e", "2024-03-07 00:00:00"),
            (
                "07.03.24 13:05:09",
                "%d.%m.%y %H:%i:%s",
                "2024-03-07 13:05:09",
            ),
            ("07.03.85", "%d.%m.%y", "1985-03-07 00:00:00"),
            ("20240307 01:02:03", "%Y%m%d %T", "2024-03-07 01:02:03"),
            (
                "2024-03-07 01:02:03.5",
                "%Y-%m-%d %H:%i:%s.%f",
                "2024-03-07 01:02:03.500000",
            ),
            (
                "March 7, 2024 02:03:04 PM",
                "%M %e, %Y %r",
                "2024-03-07 14:03:04",
            ),
            (
                "Mar 7 2024 12:00 AM",
                "%b %e %Y %h:%i %p",
                "2024-03-07 00:00:00",
            ),
            ("Thu, 07 Mar 2024", "%a, %d %b %Y", "2024-03-07 00:00:00"),
            ("2024-067", "%Y-%j", "2024-03-07 00:00:00"),
            ("7th of March 2024", "%D of %M %Y", "2024-03-07 00:00:00"),
            ("100%2024-01-02", "100%%%Y-%m-%d", "2024-01-02 00:00:00"),
            ("  2024-01-02 trailing", "%Y-%m-%d", "2024-01-02 00:00:00"),
        ] {
            let got = ev("str_to_date(a, b)", &[Some(s), Some(f)])
                .unwrap_or_else(|e| panic!("{s} by {f}: {e}"));
            assert_eq!(got, want, "{s} by {f}");
        }
        for (s, f, why) in [
            (
                "garbage",
                "%Y/%m/%d",
                "'garbage' does not match the format '%Y/%m/%d' (expected a year for %Y at position 1)",
            ),
            (
                "2024/13/01",
                "%Y/%m/%d",
                "'2024/13/01' read by '%Y/%m/%d' is not a date: month 13 does not exist",
            ),
            (
                "2023/02/29",
                "%Y/%m/%d",
                "'2023/02/29' read by '%Y/%m/%d' is not a date: day 29 does not exist in 2023-02",
            ),
            (
                "2024-01-02",
                "%Y/%m/%d",
                "'2024-01-02' does not match the format '%Y/%m/%d' (expected '/' at position 5)",
            ),
            (
                "2024/01",
                "%Y/%m/%d",
                "'2024/01' does not match the format '%Y/%m/%d' (expected '/' at position 8)",
            ),
            (
                "2024 25:00",
                "%Y %H:%i",
                "'2024 25:00' read by '%Y %H:%i' is not a date: time 25:00:00 does not exist",
            ),
            (
                "13:00 PM",
                "%h:%i %p",
                "'13:00 PM' read by '%h:%i %p' is not a date: hour 13 is not on a 12-hour clock",
            ),
        ] {
            let e = err("str_to_date(a, b)", &[Some(s), Some(f)]);
            assert_eq!(e, format!("str_to_date: {why}"), "{s} by {f}");
        }
        assert_eq!(ok("str_to_date(NULL, '%Y')"), "NULL");
        assert_eq!(ok("str_to_date('2024', NULL)"), "NULL");
        // A constant format with a specifier Tessera lacks is refused when compiled.
        let e = ev("str_to_date(a, '%Y %Q')", &[Some("x")]).expect_err("spec");
        assert!(
            e.starts_with("str_to_date: the format specifier %Q in '%Y %Q' is not supported"),
            "{e}"
        );
        let e = ev("date_format(a, '%X')", &[Some("2024-01-01")]).expect_err("spec");
        assert!(e.starts_with("date_format: the format specifier %X"), "{e}");

        // date_format.
        let t = [Some("2024-03-07 14:05:09.000123")];
        for (f, want) in [
            ("%Y-%m-%d %H:%i:%s", "2024-03-07 14:05:09"),
            ("%y/%c/%e %k", "24/3/7 14"),
            ("%T | %r", "14:05:09 | 02:05:09 PM"),
            ("%h %I %l %p", "02 02 2 PM"),
            ("%W %a %M %b %D %j %w", "Thursday Thu March Mar 7th 067 4"),
            ("%f %S %%", "000123 09 %"),
            ("%U %u", "09 10"),
            ("100%", "100%"),
            ("%q!", "q!"),
        ] {
            let got =
                ev("date_format(a, b)", &[t[0], Some(f)]).unwrap_or_else(|e| panic!("{f}: {e}"));
            assert_eq!(got, want, "{f}");
        }
        assert_eq!(ok("date_format('2024-01-01', '%D %D')"), "1st 1st");
        assert_eq!(ok("date_format('2024-01-02', '%D')"), "2nd");
        assert_eq!(ok("date_format('2024-01-13', '%D')"), "13th");
        assert_eq!(ok("date_format('2024-01-23', '%D')"), "23rd");
        assert_eq!(ok("date_format(NULL, '%Y')"), "NULL");
        assert_eq!(
            ok("date_format(str_to_date('31/12/1999', '%d/%m/%Y'), '%Y%m%d')"),
            "19991231"
        );
        // now() is the load's instant (given to compile), the same for every row.
        assert_eq!(ok("now()"), "2023-11-14 22:13:20");
        assert_eq!(ok("current_timestamp()"), "2023-11-14 22:13:20");
    }

    #[test]
    fn casts() {
        assert_eq!(eval_value("cast('12' AS INT)", &[]), Ok(Value::Int(12)));
        assert_eq!(eval_value("cast(2.7 AS INT)", &[]), Ok(Value::Int(2)));
        assert_eq!(eval_value("cast(-2.7 AS BIGINT)", &[]), Ok(Value::Int(-2)));
        assert_eq!(
            eval_value("cast(1.005 AS DECIMAL(5, 2))", &[]),
            Ok(Value::Decimal(101, 2))
        );
        assert_eq!(eval_value("cast(3 AS DOUBLE)", &[]), Ok(Value::Float(3.0)));
        assert_eq!(
            eval_value("cast('2024-01-02' AS DATE)", &[]),
            Ok(Value::Date(19_724))
        );
        assert_eq!(
            ok("cast('2024-01-02 03:04:05' AS DATETIME)"),
            "2024-01-02 03:04:05"
        );
        assert_eq!(
            ok("cast(cast('2024-01-02 03:04:05' AS DATETIME) AS DATE)"),
            "2024-01-02"
        );
        assert_eq!(ok("cast(cast('2024-01-02' AS DATE) AS INT)"), "20240102");
        assert_eq!(ok("cast(12.50 AS VARCHAR)"), "12.50");
        assert_eq!(
            ok("cast('toolong' AS VARCHAR(2))"),
            "toolong",
            "the column checks lengths"
        );
        assert_eq!(ok("cast(NULL AS INT)"), "NULL");
        assert_eq!(ok("cast(1 AS BOOLEAN)"), "1");
        assert_eq!(ok("cast(7 AS SIGNED INTEGER)"), "7");
        let e = err("cast(a AS INT)", &[Some("abc")]);
        assert_eq!(e, "cast: 'abc' is not a valid INT");
        let e = err("cast(a AS TINYINT)", &[Some("300")]);
        assert!(e.contains("out of range for TINYINT"), "{e}");
        let e = err("cast(a * 1 AS TINYINT)", &[Some("300")]);
        assert_eq!(e, "cast: 300 is out of range for TINYINT (-128..127)");
        let e = err("cast(a AS DATE)", &[Some("2024-02-30")]);
        assert!(e.contains("not a valid DATE"), "{e}");
    }

    #[test]
    fn constants_fold_and_errors_wait_for_rows() {
        let fold = |text: &str| {
            let e = parse_where(text).expect("parse");
            Node::compile(&e, &mut |_: &str| Ok(Node::Field(0)), 0).expect("compile")
        };
        assert!(matches!(fold("concat('a', upper('b'))"), Node::Const(Value::Str(s)) if s == "aB"));
        assert!(matches!(fold("1 + 2 * 3"), Node::Const(Value::Int(7))));
        assert!(matches!(
            fold("concat(a, 'x')"),
            Node::Call(Func::Concat, _)
        ));
        // A constant that cannot be computed is left for the rows, which report it.
        assert!(matches!(
            fold("if(a = 1, 0, cast('x' AS INT))"),
            Node::Call(Func::If, _)
        ));
        assert!(matches!(fold("cast('x' AS INT)"), Node::Cast(..)));
    }
}
