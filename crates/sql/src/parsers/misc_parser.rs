//! Small statements: `USE`, `KILL`, `BEGIN`/`START TRANSACTION`/`COMMIT`/`ROLLBACK`,
//! and the `CANCEL ...` dispatch (`CANCEL LOAD` lives here).

use sqlparser::tokenizer::Token;

use crate::parser::{ParserContext, Result};
use crate::statement::Statement;

impl ParserContext {
    /// `USE [catalog.]db`
    pub(crate) fn parse_use(&mut self) -> Result<Statement> {
        self.expect_word("USE", "")?;
        let first = self.parse_ident("database name after USE")?;
        if self.consume(&Token::Period) {
            let database = self.parse_ident("database name after 'catalog.'")?;
            Ok(Statement::Use {
                catalog: Some(first),
                database,
            })
        } else {
            Ok(Statement::Use {
                catalog: None,
                database: first,
            })
        }
    }

    /// `KILL [CONNECTION|QUERY] id`
    pub(crate) fn parse_kill(&mut self) -> Result<Statement> {
        self.expect_word("KILL", "")?;
        let query_only = self.parse_one_of_words(&["CONNECTION", "QUERY"]) == Some("QUERY");
        let connection_id = self.parse_u64("a connection id after KILL")?;
        Ok(Statement::Kill {
            query_only,
            connection_id,
        })
    }

    /// `BEGIN [WORK]`, `START TRANSACTION [WITH CONSISTENT SNAPSHOT]`,
    /// `COMMIT [WORK]`, `ROLLBACK [WORK]`.
    pub(crate) fn parse_transaction_control(&mut self) -> Result<Statement> {
        let stmt = if self.parse_word("BEGIN") {
            let _ = self.parse_word("WORK");
            Statement::Begin
        } else if self.parse_word("START") {
            self.expect_word("TRANSACTION", " after START")?;
            let _ = self.parse_words(&["WITH", "CONSISTENT", "SNAPSHOT"]);
            Statement::Begin
        } else if self.parse_word("COMMIT") {
            let _ = self.parse_word("WORK");
            Statement::Commit
        } else {
            self.expect_word("ROLLBACK", "")?;
            let _ = self.parse_word("WORK");
            Statement::Rollback
        };
        Ok(stmt)
    }

    /// `CANCEL DECOMMISSION BACKEND ...` or `CANCEL LOAD [FROM db] WHERE LABEL = 'l'`.
    pub(crate) fn parse_cancel(&mut self) -> Result<Statement> {
        self.expect_word("CANCEL", "")?;
        if self.parse_word("DECOMMISSION") {
            return self.parse_cancel_decommission();
        }
        if !self.parse_word("LOAD") {
            return Err(self.expected("DECOMMISSION or LOAD after CANCEL"));
        }
        let database = self.parse_opt_from_db()?;
        self.expect_word("WHERE", " after CANCEL LOAD")?;
        self.expect_word("LABEL", " after CANCEL LOAD ... WHERE")?;
        self.expect_token(&Token::Eq, "'=' after LABEL")?;
        let label = self.parse_value_text("a label string")?;
        Ok(Statement::CancelLoad { database, label })
    }
}
