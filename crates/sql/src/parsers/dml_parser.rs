//! `INSERT` (StarRocks' `PARTITION (...)` and `WITH LABEL` are cut out of the
//! token stream, the rest is parsed by sqlparser), `EXPLAIN`, and
//! `DESC[RIBE]` (table description or, before a query, EXPLAIN).

use sqlparser::ast::Statement as SqlStatement;
use sqlparser::tokenizer::Token;

use crate::error::ParseError;
use crate::parser::{ParserContext, Result};
use crate::statement::Statement;
use crate::statements::dml::{ExplainLevel, Insert};

impl ParserContext {
    fn peek_query_start(&self) -> bool {
        self.peek_token_is(&Token::LParen)
            || self.peek_word("SELECT")
            || self.peek_word("WITH")
            || self.peek_word("VALUES")
    }

    /// `EXPLAIN [LOGICAL|VERBOSE|COSTS|ANALYZE] stmt`, `DESC[RIBE] t [ALL]`,
    /// `DESC[RIBE] query`.
    pub(crate) fn parse_describe_or_explain(&mut self) -> Result<Statement> {
        let explain = self.parse_word("EXPLAIN");
        if !explain {
            let _ = self.parse_one_of_words(&["DESC", "DESCRIBE"]);
            if !self.peek_query_start() && !self.peek_word("INSERT") {
                let name = self.parse_table_name()?;
                let all = self.parse_word("ALL");
                return Ok(Statement::Describe { name, all });
            }
        }
        let level = if explain {
            match self.parse_one_of_words(&["LOGICAL", "VERBOSE", "COSTS", "ANALYZE"]) {
                Some("LOGICAL") => ExplainLevel::Logical,
                Some("VERBOSE") => ExplainLevel::Verbose,
                Some("COSTS") => ExplainLevel::Costs,
                Some(_) => ExplainLevel::Analyze,
                None => ExplainLevel::Normal,
            }
        } else {
            ExplainLevel::Normal
        };
        let statement = if self.peek_word("INSERT") {
            self.parse_insert()?
        } else if self.peek_query_start() {
            self.parse_query_statement()?
        } else {
            return Err(self.expected("a query or INSERT after EXPLAIN"));
        };
        Ok(Statement::Explain {
            level,
            statement: Box::new(statement),
        })
    }

    /// `INSERT [IGNORE] {INTO|OVERWRITE} [TABLE] t [PARTITION (p, ...)] [WITH LABEL l] ...`
    pub(crate) fn parse_insert(&mut self) -> Result<Statement> {
        let head_start = self.parser.index();
        // Walk the head to find where the StarRocks-only clauses sit.
        self.expect_word("INSERT", "")?;
        let _ = self.parse_word("IGNORE");
        let _ = self.parse_word("OVERWRITE");
        let _ = self.parse_word("INTO");
        let _ = self.parse_word("TABLE");
        self.parse_table_name()?;
        let cut_start = self.parser.index();
        let partitions = self.parse_opt_partition_names()?;
        // `WITH LABEL l`, but not a CTE named `label` (`WITH label AS (...)`).
        let is_label = self.peek_word("WITH")
            && self.peek_nth_word(1, "LABEL")
            && !self.peek_nth_word(2, "AS")
            && self.parser.peek_nth_token_ref(2).token != Token::LParen;
        let label = if is_label {
            self.parser.next_token();
            self.parser.next_token();
            Some(self.parse_label()?)
        } else {
            None
        };
        let cut_end = self.parser.index();

        let mut tokens = self
            .tokens
            .get(head_start..cut_start)
            .unwrap_or(&[])
            .to_vec();
        tokens.extend_from_slice(self.tokens.get(cut_end..).unwrap_or(&[]));
        let clause_at = self
            .tokens
            .get(cut_start..cut_end)
            .and_then(|ts| ts.iter().find(|t| !matches!(t.token, Token::Whitespace(_))))
            .map(|t| t.span.start);
        self.reset_tokens(tokens);

        let inner = match self.parser.parse_statement()? {
            SqlStatement::Insert(ins) => ins,
            other => return Ok(Statement::Other(Box::new(other))),
        };
        if label.is_some() || !partitions.is_empty() {
            let at = clause_at.unwrap_or(sqlparser::tokenizer::Location { line: 0, column: 0 });
            if Insert::display_prefix(&inner).is_none() {
                return Err(ParseError::new(
                    "PARTITION / WITH LABEL cannot be used with this form of INSERT",
                    at,
                ));
            }
            if !partitions.is_empty() && inner.partitioned.is_some() {
                return Err(ParseError::new("PARTITION is given twice in INSERT", at));
            }
        }
        Ok(Statement::Insert(Insert {
            label,
            partitions,
            inner: Box::new(SqlStatement::Insert(inner)),
        }))
    }

    /// The label after `WITH LABEL`: an identifier or a quoted string.
    fn parse_label(&mut self) -> Result<String> {
        match &self.parser.peek_token_ref().token {
            Token::Word(_) => self.parse_ident("a label after WITH LABEL"),
            _ => self.parse_string("a label after WITH LABEL"),
        }
    }
}
