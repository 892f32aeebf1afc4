//! [`ParserContext`]: tokenizes with sqlparser's MySQL dialect, splits the
//! token stream at `;`, and parses each statement: StarRocks statements with the
//! hand-written parsers in [`crate::parsers`], everything else with sqlparser's
//! own `parse_statement`. Also holds the small helpers the family parsers share.

use std::panic::{AssertUnwindSafe, catch_unwind};

use sqlparser::ast::{OrderByExpr, Statement as SqlStatement};
use sqlparser::dialect::MySqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Location, Span, Token, TokenWithSpan, Tokenizer};

use crate::error::ParseError;
use crate::statement::Statement;
use crate::statements::{Limit, ShowFilter, TableName};

/// The dialect everything is tokenized and parsed with.
static DIALECT: MySqlDialect = MySqlDialect {};

/// Nesting limit handed to sqlparser (its default). Deeper input (e.g. 10000
/// `(`) is a [`ParseError`], never a stack overflow.
pub const RECURSION_LIMIT: usize = 50;

/// Result type of the parsers.
pub type Result<T> = std::result::Result<T, ParseError>;

/// Parser state for one statement: a sqlparser [`Parser`] over the statement's
/// tokens (ending in an `EOF` token placed where the statement ends, so
/// "found: EOF" errors have a position).
pub struct ParserContext {
    /// The wrapped sqlparser parser; family parsers call its helpers directly.
    pub(crate) parser: Parser<'static>,
    /// The statement's tokens, for parsers that must re-parse an edited stream
    /// (INSERT with StarRocks clauses).
    pub(crate) tokens: Vec<TokenWithSpan>,
}

impl ParserContext {
    /// Parses `sql` into statements. Statements are separated by `;`; empty
    /// ones (`;;`, trailing `;`, comment-only) are skipped, so an empty or
    /// blank input gives an empty vector.
    pub fn parse_statements(sql: &str) -> Result<Vec<Statement>> {
        // Last line of defence for "never panic": a bug in a parser (ours or
        // sqlparser's) must become a syntax error, not kill the connection.
        match catch_unwind(AssertUnwindSafe(|| Self::parse_statements_inner(sql))) {
            Ok(r) => r,
            Err(_) => Err(ParseError {
                message: "internal error while parsing the statement".to_string(),
                line: 0,
                column: 0,
            }),
        }
    }

    /// Parses `sql`, which must hold exactly one statement (a trailing `;` is fine).
    pub fn parse_statement(sql: &str) -> Result<Statement> {
        let mut stmts = Self::parse_statements(sql)?;
        match stmts.len() {
            1 => Ok(stmts.remove(0)),
            0 => Err(ParseError {
                message: "Expected: a SQL statement, found: EOF".to_string(),
                line: 1,
                column: 1,
            }),
            n => Err(ParseError {
                message: format!("Expected: exactly one statement, found: {n} statements"),
                line: 0,
                column: 0,
            }),
        }
    }

    fn parse_statements_inner(sql: &str) -> Result<Vec<Statement>> {
        let tokens = Tokenizer::new(&DIALECT, sql)
            .with_unescape(true)
            .tokenize_with_location()?;
        let mut out = Vec::new();
        for chunk in split_statements(tokens) {
            refuse_brackets(&chunk)?;
            let mut ctx = ParserContext::new(chunk);
            out.push(ctx.parse_one()?);
        }
        Ok(out)
    }

    fn new(tokens: Vec<TokenWithSpan>) -> Self {
        ParserContext {
            parser: new_parser(tokens.clone()),
            tokens,
        }
    }

    /// Replaces the parser with one over `tokens` (an edited copy of this
    /// statement's tokens, still ending in EOF).
    pub(crate) fn reset_tokens(&mut self, tokens: Vec<TokenWithSpan>) {
        self.parser = new_parser(tokens);
    }
}

/// Refuses a `[` anywhere but right after `VALUES` (a range partition's `[(lower), (upper))`).
/// Tessera has no arrays, and sqlparser's subscript parsing backtracks exponentially on
/// nested `(` with dotted names before a `[`: a 245-byte statement took minutes of CPU
/// (found by fuzzing, `fuzz/regressions/sql_parser`). Refused before sqlparser sees it.
fn refuse_brackets(tokens: &[TokenWithSpan]) -> Result<()> {
    let mut prev: Option<&Token> = None;
    for t in tokens {
        if matches!(t.token, Token::Whitespace(_)) {
            continue;
        }
        if t.token == Token::LBracket {
            let after_values = matches!(
                prev,
                Some(Token::Word(w)) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("VALUES")
            );
            if !after_values {
                return Err(ParseError {
                    message: "'[' is only allowed in a range partition's bounds \
                              (VALUES [(lower), (upper))): arrays and subscripts are not \
                              supported"
                        .to_string(),
                    line: t.span.start.line,
                    column: t.span.start.column,
                });
            }
        }
        prev = Some(&t.token);
    }
    Ok(())
}

fn new_parser(tokens: Vec<TokenWithSpan>) -> Parser<'static> {
    Parser::new(&DIALECT)
        .with_recursion_limit(RECURSION_LIMIT)
        .with_tokens_with_locations(tokens)
}

/// Splits at `;` tokens (strings and comments are single tokens, so a `;`
/// token is always a separator) and drops statements with no real token.
fn split_statements(tokens: Vec<TokenWithSpan>) -> Vec<Vec<TokenWithSpan>> {
    let end = tokens
        .last()
        .map(|t| t.span.end)
        .unwrap_or(Location { line: 1, column: 1 });
    let mut out = Vec::new();
    let mut cur = Vec::new();
    for t in tokens {
        if t.token == Token::SemiColon {
            let at = t.span.start;
            push_statement(&mut out, std::mem::take(&mut cur), at);
        } else {
            cur.push(t);
        }
    }
    push_statement(&mut out, cur, end);
    out
}

fn push_statement(
    out: &mut Vec<Vec<TokenWithSpan>>,
    mut tokens: Vec<TokenWithSpan>,
    end: Location,
) {
    if tokens
        .iter()
        .all(|t| matches!(t.token, Token::Whitespace(_)))
    {
        return;
    }
    tokens.push(TokenWithSpan::new(Token::EOF, Span::new(end, end)));
    out.push(tokens);
}

impl ParserContext {
    /// Parses one statement and checks that nothing follows it.
    fn parse_one(&mut self) -> Result<Statement> {
        let result = self.dispatch().and_then(|stmt| {
            self.expect_end()?;
            Ok(stmt)
        });
        result.map_err(|mut e| {
            if !e.has_location() {
                let at = self.parser.peek_token_ref().span.start;
                e.line = at.line;
                e.column = at.column;
            }
            e
        })
    }

    /// Picks the parser from the first word(s).
    fn dispatch(&mut self) -> Result<Statement> {
        let first = match &self.parser.peek_token_ref().token {
            Token::LParen => return self.parse_query_statement(),
            Token::Word(w) if w.quote_style.is_none() => w.value.to_ascii_uppercase(),
            _ => return self.parse_with_sqlparser(),
        };
        match first.as_str() {
            "SELECT" | "WITH" | "VALUES" => self.parse_query_statement(),
            "CREATE" => self.parse_create(),
            "DROP" => self.parse_drop(),
            "ALTER" => self.parse_alter(),
            "SHOW" => self.parse_show(),
            "ADMIN" => self.parse_admin(),
            "SET" => self.parse_set(),
            "USE" => self.parse_use(),
            "KILL" => self.parse_kill(),
            "BEGIN" | "START" | "COMMIT" | "ROLLBACK" => self.parse_transaction_control(),
            "CANCEL" => self.parse_cancel(),
            "DESC" | "DESCRIBE" | "EXPLAIN" => self.parse_describe_or_explain(),
            "INSERT" => self.parse_insert(),
            "GRANT" | "REVOKE" => self.parse_grant_revoke(),
            _ => self.parse_with_sqlparser(),
        }
    }

    /// `SELECT` / `WITH` / `VALUES` / `(`.
    pub(crate) fn parse_query_statement(&mut self) -> Result<Statement> {
        Ok(Statement::Query(self.parser.parse_query()?))
    }

    /// Hands the statement to sqlparser and wraps the result.
    pub(crate) fn parse_with_sqlparser(&mut self) -> Result<Statement> {
        Ok(match self.parser.parse_statement()? {
            SqlStatement::Query(q) => Statement::Query(q),
            other => Statement::Other(Box::new(other)),
        })
    }

    /// Errors unless the statement is complete.
    pub(crate) fn expect_end(&self) -> Result<()> {
        if self.parser.peek_token_ref().token == Token::EOF {
            Ok(())
        } else {
            Err(self.expected("end of statement"))
        }
    }

    // ----- error helpers -----

    /// `Expected: {what}, found: {next token}` at the next token.
    pub(crate) fn expected(&self, what: &str) -> ParseError {
        let t = self.parser.peek_token_ref();
        ParseError::new(
            format!("Expected: {what}, found: {}", t.token),
            t.span.start,
        )
    }

    // ----- word helpers (case-insensitive, unquoted words only; works for
    // sqlparser keywords and for StarRocks words sqlparser doesn't know) -----

    /// The `n`th upcoming token (whitespace skipped) is the unquoted word `word`.
    pub(crate) fn peek_nth_word(&self, n: usize, word: &str) -> bool {
        matches!(&self.parser.peek_nth_token_ref(n).token,
            Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word))
    }

    /// The next token is the unquoted word `word`.
    pub(crate) fn peek_word(&self, word: &str) -> bool {
        self.peek_nth_word(0, word)
    }

    /// Consumes `word` if it is next.
    pub(crate) fn parse_word(&mut self, word: &str) -> bool {
        if self.peek_word(word) {
            self.parser.next_token();
            true
        } else {
            false
        }
    }

    /// Consumes the whole sequence `words` if it is next; otherwise nothing.
    pub(crate) fn parse_words(&mut self, words: &[&str]) -> bool {
        if words
            .iter()
            .enumerate()
            .all(|(i, w)| self.peek_nth_word(i, w))
        {
            for _ in words {
                self.parser.next_token();
            }
            true
        } else {
            false
        }
    }

    /// Consumes and returns the first of `words` that is next.
    pub(crate) fn parse_one_of_words(&mut self, words: &[&'static str]) -> Option<&'static str> {
        let found = words.iter().copied().find(|w| self.peek_word(w))?;
        self.parser.next_token();
        Some(found)
    }

    /// Consumes `word` or fails with `Expected: {word}{context}`.
    pub(crate) fn expect_word(&mut self, word: &str, context: &str) -> Result<()> {
        if self.parse_word(word) {
            Ok(())
        } else {
            Err(self.expected(&format!("{word}{context}")))
        }
    }

    /// Consumes `token` if it is next.
    pub(crate) fn consume(&mut self, token: &Token) -> bool {
        self.parser.consume_token(token)
    }

    /// Consumes `token` or fails with `Expected: {what}`.
    pub(crate) fn expect_token(&mut self, token: &Token, what: &str) -> Result<()> {
        if self.consume(token) {
            Ok(())
        } else {
            Err(self.expected(what))
        }
    }

    // ----- value helpers -----

    /// An identifier: an unquoted word or a backtick-quoted one (backticks
    /// stripped, case kept). Quoted strings are not identifiers.
    pub(crate) fn parse_ident(&mut self, what: &str) -> Result<String> {
        match &self.parser.peek_token_ref().token {
            Token::Word(w) => {
                let v = w.value.clone();
                self.parser.next_token();
                Ok(v)
            }
            _ => Err(self.expected(what)),
        }
    }

    /// `[db.]table`.
    pub(crate) fn parse_table_name(&mut self) -> Result<TableName> {
        let first = self.parse_ident("table name")?;
        if self.consume(&Token::Period) {
            let table = self.parse_ident("table name after '.'")?;
            Ok(TableName::qualified(first, table))
        } else {
            Ok(TableName::new(first))
        }
    }

    /// `(a, b, ...)` of identifiers.
    pub(crate) fn parse_parenthesized_idents(&mut self, what: &str) -> Result<Vec<String>> {
        self.expect_token(&Token::LParen, &format!("'(' before {what}"))?;
        let list = self.comma_separated(|p| p.parse_ident(what))?;
        self.expect_token(&Token::RParen, "')'")?;
        Ok(list)
    }

    /// A `'single'` or `"double"` quoted string.
    pub(crate) fn parse_string(&mut self, what: &str) -> Result<String> {
        match &self.parser.peek_token_ref().token {
            Token::SingleQuotedString(s) | Token::DoubleQuotedString(s) => {
                let v = s.clone();
                self.parser.next_token();
                Ok(v)
            }
            _ => Err(self.expected(what)),
        }
    }

    /// A quoted string, a (possibly negative) number, or a bare word; returns its text.
    pub(crate) fn parse_value_text(&mut self, what: &str) -> Result<String> {
        let negative = matches!(self.parser.peek_token_ref().token, Token::Minus)
            && matches!(self.parser.peek_nth_token_ref(1).token, Token::Number(..));
        if negative {
            self.parser.next_token();
        }
        let text = match &self.parser.peek_token_ref().token {
            Token::Number(n, _) => {
                if negative {
                    format!("-{n}")
                } else {
                    n.clone()
                }
            }
            Token::SingleQuotedString(s) | Token::DoubleQuotedString(s) => s.clone(),
            Token::Word(w) => w.value.clone(),
            _ => return Err(self.expected(what)),
        };
        self.parser.next_token();
        Ok(text)
    }

    /// An unsigned integer literal.
    pub(crate) fn parse_u64(&mut self, what: &str) -> Result<u64> {
        if let Token::Number(n, _) = &self.parser.peek_token_ref().token
            && let Ok(v) = n.parse::<u64>()
        {
            self.parser.next_token();
            return Ok(v);
        }
        Err(self.expected(what))
    }

    /// An unsigned integer literal that fits in `u32`.
    pub(crate) fn parse_u32(&mut self, what: &str) -> Result<u32> {
        if let Token::Number(n, _) = &self.parser.peek_token_ref().token
            && let Ok(v) = n.parse::<u32>()
        {
            self.parser.next_token();
            return Ok(v);
        }
        Err(self.expected(what))
    }

    /// `("k" = "v", ...)`; keys and values may be quoted strings, numbers or words.
    /// An empty list `()` is allowed.
    pub(crate) fn parse_kv_list(&mut self) -> Result<Vec<(String, String)>> {
        self.expect_token(&Token::LParen, "'(' before the property list")?;
        if self.consume(&Token::RParen) {
            return Ok(Vec::new());
        }
        let items = self.comma_separated(|p| {
            let k = p.parse_value_text("a property name string")?;
            p.expect_token(&Token::Eq, "'=' after the property name")?;
            let v = p.parse_value_text("a property value")?;
            Ok((k, v))
        })?;
        self.expect_token(&Token::RParen, "',' or ')' in the property list")?;
        Ok(items)
    }

    /// `f (, f)*`
    pub(crate) fn comma_separated<T>(
        &mut self,
        mut f: impl FnMut(&mut Self) -> Result<T>,
    ) -> Result<Vec<T>> {
        let mut items = vec![f(self)?];
        while self.consume(&Token::Comma) {
            items.push(f(self)?);
        }
        Ok(items)
    }

    /// Optional `LIKE 'pattern'` or `WHERE expr`.
    pub(crate) fn parse_show_filter(&mut self) -> Result<Option<ShowFilter>> {
        if self.parse_word("LIKE") {
            Ok(Some(ShowFilter::Like(
                self.parse_string("a pattern string after LIKE")?,
            )))
        } else if self.parse_word("WHERE") {
            Ok(Some(ShowFilter::Where(self.parser.parse_expr()?)))
        } else {
            Ok(None)
        }
    }

    /// Optional `FROM db` / `IN db`.
    pub(crate) fn parse_opt_from_db(&mut self) -> Result<Option<String>> {
        if self.parse_one_of_words(&["FROM", "IN"]).is_some() {
            Ok(Some(self.parse_ident("database name")?))
        } else {
            Ok(None)
        }
    }

    /// Optional `WHERE expr`.
    pub(crate) fn parse_opt_where(&mut self) -> Result<Option<sqlparser::ast::Expr>> {
        if self.parse_word("WHERE") {
            Ok(Some(self.parser.parse_expr()?))
        } else {
            Ok(None)
        }
    }

    /// Optional `ORDER BY expr [ASC|DESC], ...`.
    pub(crate) fn parse_opt_order_by(&mut self) -> Result<Vec<OrderByExpr>> {
        if self.parse_words(&["ORDER", "BY"]) {
            Ok(self
                .parser
                .parse_comma_separated(Parser::parse_order_by_expr)?)
        } else {
            Ok(Vec::new())
        }
    }

    /// Optional `LIMIT n`, `LIMIT offset, n` or `LIMIT n OFFSET offset`.
    pub(crate) fn parse_opt_limit(&mut self) -> Result<Option<Limit>> {
        if !self.parse_word("LIMIT") {
            return Ok(None);
        }
        let first = self.parse_u64("a row count after LIMIT")?;
        if self.consume(&Token::Comma) {
            let count = self.parse_u64("a row count after LIMIT offset,")?;
            Ok(Some(Limit {
                offset: Some(first),
                count,
            }))
        } else if self.parse_word("OFFSET") {
            let offset = self.parse_u64("a row count after OFFSET")?;
            Ok(Some(Limit {
                offset: Some(offset),
                count: first,
            }))
        } else {
            Ok(Some(Limit {
                offset: None,
                count: first,
            }))
        }
    }

    /// Optional `PARTITION (p, ...)` / `PARTITIONS (p, ...)` / `PARTITION p`.
    pub(crate) fn parse_opt_partition_names(&mut self) -> Result<Vec<String>> {
        if self
            .parse_one_of_words(&["PARTITION", "PARTITIONS"])
            .is_none()
        {
            return Ok(Vec::new());
        }
        if self.peek_token_is(&Token::LParen) {
            self.parse_parenthesized_idents("partition name")
        } else {
            Ok(vec![self.parse_ident("partition name")?])
        }
    }

    /// The next token equals `token`.
    pub(crate) fn peek_token_is(&self, token: &Token) -> bool {
        &self.parser.peek_token_ref().token == token
    }
}

#[cfg(test)]
mod tests {
    use super::ParserContext;

    #[test]
    fn brackets_outside_partition_bounds_are_refused() {
        // The fuzz input that kept sqlparser busy for minutes: refused at its first `[`,
        // before sqlparser parses anything.
        let slow = include_bytes!("../../../fuzz/regressions/sql_parser/nested-parentheses-slow");
        let e = ParserContext::parse_statements(&String::from_utf8_lossy(slow))
            .expect_err("the fuzz input is no statement");
        assert!(e.message.contains("'[' is only allowed"), "{e:?}");
        assert_eq!((e.line, e.column), (1, 31), "{e:?}");
        for sql in [
            "SELECT a[1] FROM t",
            "SELECT (a.b.c[ (a.b.c[ (a.b.c[",
            "INSERT INTO t VALUES ([1])",
            "SELECT [1, 2]",
        ] {
            let e = ParserContext::parse_statements(sql).expect_err(sql);
            assert!(e.message.contains("'[' is only allowed"), "{sql}: {e:?}");
        }
        // A range partition's bounds still parse; a `[` in a string or a comment is no token.
        for sql in [
            "ALTER TABLE t ADD PARTITION p1 VALUES [(\"2024-01-01\"), (\"2024-02-01\"))",
            "SELECT '[' FROM t /* [ */",
        ] {
            ParserContext::parse_statements(sql).unwrap_or_else(|e| panic!("{sql}: {e:?}"));
        }
    }
}
