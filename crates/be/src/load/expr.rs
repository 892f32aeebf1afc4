//! The `columns` and `where` headers of a Stream Load: a small expression language.
//!
//! ```text
//! columns := item (',' item)*           item := name | name '=' (literal | name)
//! where   := or                         or   := and (OR and)*
//! and     := not (AND not)*             not  := NOT not | pred
//! pred    := operand (cmp operand | IS [NOT] NULL | [NOT] IN '(' operand, ... ')')?
//! operand := literal | name | '(' or ')'
//! cmp     := = | != | <> | < | <= | > | >=
//! literal := number | 'string' | "string" | NULL | TRUE | FALSE
//! ```
//! Names are case-insensitive and may be quoted with backticks.

use std::fmt;

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
    pub fn holds(self, o: std::cmp::Ordering) -> bool {
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
}

/// One item of the `columns` header.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnItem {
    /// The column (a table column, or a name for a source field only used by others).
    pub name: String,
    /// `name = expr`: the expression (a literal or another item's name).
    pub expr: Option<Expr>,
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
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
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
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
            b'=' => {
                out.push(Tok::Op("="));
                i += if b.get(i + 1) == Some(&b'=') { 2 } else { 1 };
            }
            b'!' if b.get(i + 1) == Some(&b'=') => {
                out.push(Tok::Op("!="));
                i += 2;
            }
            b'<' => match b.get(i + 1) {
                Some(b'=') => {
                    out.push(Tok::Op("<="));
                    i += 2;
                }
                Some(b'>') => {
                    out.push(Tok::Op("!="));
                    i += 2;
                }
                _ => {
                    out.push(Tok::Op("<"));
                    i += 1;
                }
            },
            b'>' => {
                if b.get(i + 1) == Some(&b'=') {
                    out.push(Tok::Op(">="));
                    i += 2;
                } else {
                    out.push(Tok::Op(">"));
                    i += 1;
                }
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
                out.push(Tok::Ident(s[i + 1..i + 1 + end].to_string()));
                i += end + 2;
            }
            b'0'..=b'9' | b'.' | b'-' | b'+' => {
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

struct Parser<'a> {
    toks: Vec<Tok>,
    pos: usize,
    text: &'a str,
}

impl Parser<'_> {
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

    fn or(&mut self) -> Result<Expr, String> {
        let mut e = self.and()?;
        while self.eat_keyword("OR") {
            e = Expr::Or(Box::new(e), Box::new(self.and()?));
        }
        Ok(e)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut e = self.not()?;
        while self.eat_keyword("AND") {
            e = Expr::And(Box::new(e), Box::new(self.not()?));
        }
        Ok(e)
    }

    fn not(&mut self) -> Result<Expr, String> {
        if self.eat_keyword("NOT") {
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.pred()
    }

    fn pred(&mut self) -> Result<Expr, String> {
        let left = self.operand()?;
        if let Some(Tok::Op(op)) = self.peek().cloned() {
            self.pos += 1;
            let op = match op {
                "=" => CmpOp::Eq,
                "!=" => CmpOp::Ne,
                "<" => CmpOp::Lt,
                "<=" => CmpOp::Le,
                ">" => CmpOp::Gt,
                _ => CmpOp::Ge,
            };
            let right = self.operand()?;
            return Ok(Expr::Cmp(Box::new(left), op, Box::new(right)));
        }
        if self.eat_keyword("IS") {
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
            self.expect(Tok::LParen)?;
            let mut list = vec![self.operand()?];
            while self.peek() == Some(&Tok::Comma) {
                self.pos += 1;
                list.push(self.operand()?);
            }
            self.expect(Tok::RParen)?;
            return Ok(Expr::In(Box::new(left), list, negated));
        }
        Ok(left)
    }

    fn operand(&mut self) -> Result<Expr, String> {
        let Some(t) = self.peek().cloned() else {
            return Err(format!("unexpected end of `{}`", self.text));
        };
        self.pos += 1;
        match t {
            Tok::Num(n) => Ok(Expr::Lit(Lit::Number(n))),
            Tok::Str(s) => Ok(Expr::Lit(Lit::Str(s))),
            Tok::Ident(s) if s.eq_ignore_ascii_case("NULL") => Ok(Expr::Lit(Lit::Null)),
            Tok::Ident(s) if s.eq_ignore_ascii_case("TRUE") => Ok(Expr::Lit(Lit::Bool(true))),
            Tok::Ident(s) if s.eq_ignore_ascii_case("FALSE") => Ok(Expr::Lit(Lit::Bool(false))),
            Tok::Ident(s)
                if ["AND", "OR", "NOT", "IS", "IN"]
                    .iter()
                    .any(|k| s.eq_ignore_ascii_case(k)) =>
            {
                Err(format!("unexpected `{s}` in `{}`", self.text))
            }
            Tok::Ident(s) => {
                if self.peek() == Some(&Tok::LParen) {
                    return Err(format!(
                        "functions such as `{s}(...)` are not supported in `{}`",
                        self.text
                    ));
                }
                Ok(Expr::Col(s))
            }
            Tok::LParen => {
                let e = self.or()?;
                self.expect(Tok::RParen)?;
                Ok(e)
            }
            other => Err(format!("unexpected `{other}` in `{}`", self.text)),
        }
    }
}

/// Parses a `where` header.
pub fn parse_where(text: &str) -> Result<Expr, String> {
    let toks = tokenize(text)?;
    if toks.is_empty() {
        return Err("the where header is empty".into());
    }
    let mut p = Parser { toks, pos: 0, text };
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
        let toks = tokenize(item).map_err(|e| {
            if item.contains('=') {
                format!(
                    "the expression of `{item}` is not supported ({e}): a column may be set to a \
                     literal or to another column's name"
                )
            } else {
                e
            }
        })?;
        let name = match toks.first() {
            Some(Tok::Ident(n)) => n.clone(),
            _ => return Err(format!("`{item}` does not start with a column name")),
        };
        let expr = match toks.get(1) {
            None => None,
            Some(Tok::Op("=")) => {
                let mut p = Parser {
                    toks: toks[2..].to_vec(),
                    pos: 0,
                    text: item,
                };
                let e = p.or()?;
                if p.peek().is_some() || !matches!(e, Expr::Lit(_) | Expr::Col(_)) {
                    return Err(format!(
                        "the expression of `{item}` is not supported: a column may be set to a \
                         literal or to another column's name"
                    ));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn col(s: &str) -> Box<Expr> {
        Box::new(Expr::Col(s.into()))
    }

    fn num(s: &str) -> Box<Expr> {
        Box::new(Expr::Lit(Lit::Number(s.into())))
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
        for bad in [
            "a, , b",
            "a b",
            "c1 = tmp * 100",
            "c = now()",
            "a, A",
            "= 1",
            "a = 'x",
        ] {
            assert!(parse_columns(bad).is_err(), "{bad}");
        }
        let e = parse_columns("c1 = tmp * 100").expect_err("arith");
        assert!(e.contains("not supported"), "{e}");
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
        let e = parse_where("k not in (1, 2)").expect("ok");
        assert_eq!(e, Expr::In(col("k"), vec![*num("1"), *num("2")], true));
        for bad in [
            "",
            "a =",
            "a = 1 AND",
            "(a = 1",
            "a == 1 b",
            "f(a) = 1",
            "a ! 1",
            "a IS 1",
        ] {
            assert!(parse_where(bad).is_err(), "{bad}");
        }
    }
}
