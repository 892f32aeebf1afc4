//! `SHOW ...`: MySQL client statements and StarRocks cluster/tablet/load views.

use sqlparser::tokenizer::Token;

use crate::parser::{ParserContext, Result};
use crate::statement::Statement;
use crate::statements::show::ShowTablet;

impl ParserContext {
    /// `SHOW ...`
    pub(crate) fn parse_show(&mut self) -> Result<Statement> {
        self.expect_word("SHOW", "")?;

        if self.parse_one_of_words(&["DATABASES", "SCHEMAS"]).is_some() {
            return Ok(Statement::ShowDatabases {
                filter: self.parse_show_filter()?,
            });
        }
        if self.parse_word("FRONTENDS") {
            return Ok(Statement::ShowFrontends);
        }
        if self.parse_word("BACKENDS") {
            return Ok(Statement::ShowBackends);
        }
        if self.parse_word("PROC") {
            let path =
                self.parse_string("a proc path string (e.g. '/frontends') after SHOW PROC")?;
            return Ok(Statement::ShowProc { path });
        }

        // [GLOBAL|SESSION|LOCAL] VARIABLES|STATUS
        let scope = self.parse_one_of_words(&["GLOBAL", "SESSION", "LOCAL"]);
        if scope.is_some() || self.peek_word("VARIABLES") || self.peek_word("STATUS") {
            let global = scope == Some("GLOBAL");
            return match self.parse_one_of_words(&["VARIABLES", "STATUS"]) {
                Some("VARIABLES") => Ok(Statement::ShowVariables {
                    global,
                    filter: self.parse_show_filter()?,
                }),
                Some(_) => Ok(Statement::ShowStatus {
                    global,
                    filter: self.parse_show_filter()?,
                }),
                None => Err(self.expected("VARIABLES or STATUS")),
            };
        }

        // [FULL] PROCESSLIST | TABLES | COLUMNS
        let full = self.parse_word("FULL");
        if self.parse_word("PROCESSLIST") {
            return Ok(Statement::ShowProcesslist { full });
        }
        if self.parse_word("TABLES") {
            let database = self.parse_opt_from_db()?;
            let filter = self.parse_show_filter()?;
            return Ok(Statement::ShowTables {
                database,
                full,
                filter,
            });
        }
        if self.parse_one_of_words(&["COLUMNS", "FIELDS"]).is_some() {
            if self.parse_one_of_words(&["FROM", "IN"]).is_none() {
                return Err(self.expected("FROM or IN after SHOW COLUMNS"));
            }
            let table = self.parse_table_name()?;
            let database = self.parse_opt_from_db()?;
            let filter = self.parse_show_filter()?;
            return Ok(Statement::ShowColumns {
                full,
                table,
                database,
                filter,
            });
        }
        if full {
            return Err(self.expected("PROCESSLIST, TABLES or COLUMNS after SHOW FULL"));
        }

        if self.parse_word("WARNINGS") {
            return Ok(Statement::ShowWarnings);
        }
        if self.parse_word("ERRORS") {
            return Ok(Statement::ShowErrors);
        }
        if self.parse_word("CHARSET") || self.parse_words(&["CHARACTER", "SET"]) {
            return Ok(Statement::ShowCharset {
                filter: self.parse_show_filter()?,
            });
        }
        if self.parse_word("COLLATION") {
            return Ok(Statement::ShowCollation {
                filter: self.parse_show_filter()?,
            });
        }
        if self.parse_word("ENGINES") || self.parse_words(&["STORAGE", "ENGINES"]) {
            return Ok(Statement::ShowEngines);
        }
        if self.parse_word("CREATE") {
            return match self.parse_one_of_words(&["TABLE", "DATABASE", "SCHEMA"]) {
                Some("TABLE") => Ok(Statement::ShowCreateTable {
                    name: self.parse_table_name()?,
                }),
                Some(_) => Ok(Statement::ShowCreateDatabase {
                    name: self.parse_ident("database name")?,
                }),
                None => Err(self.expected("TABLE or DATABASE after SHOW CREATE")),
            };
        }
        if self.parse_words(&["TABLE", "STATUS"]) {
            let database = self.parse_opt_from_db()?;
            let filter = self.parse_show_filter()?;
            return Ok(Statement::ShowTableStatus { database, filter });
        }
        if self.parse_one_of_words(&["TABLET", "TABLETS"]).is_some() {
            return self.parse_show_tablet();
        }
        if self.parse_word("TRANSACTION") {
            let database = self.parse_opt_from_db()?;
            self.expect_word("WHERE", " after SHOW TRANSACTION")?;
            self.expect_word("ID", " after SHOW TRANSACTION ... WHERE")?;
            self.expect_token(&Token::Eq, "'=' after ID")?;
            let id = self.parse_u64("a transaction id")?;
            return Ok(Statement::ShowTransaction { database, id });
        }
        if self.parse_word("LOAD") {
            let database = self.parse_opt_from_db()?;
            let filter = self.parse_opt_where()?;
            let order_by = self.parse_opt_order_by()?;
            let limit = self.parse_opt_limit()?;
            return Ok(Statement::ShowLoad {
                database,
                filter,
                order_by,
                limit,
            });
        }
        if self.parse_word("DATA") {
            let table = if self.parse_word("FROM") {
                Some(self.parse_table_name()?)
            } else {
                None
            };
            return Ok(Statement::ShowData { table });
        }
        let all = self.parse_word("ALL");
        if self.parse_word("GRANTS") {
            let user = if self.parse_word("FOR") {
                Some(self.parse_user_identity()?)
            } else {
                None
            };
            return Ok(Statement::ShowGrants { all, user });
        }
        if all {
            return Err(self.expected("GRANTS after SHOW ALL"));
        }
        Err(self.expected(
            "DATABASES, TABLES, COLUMNS, VARIABLES, STATUS, PROCESSLIST, FRONTENDS, BACKENDS, \
             PROC, TABLET, LOAD, TRANSACTION, DATA, GRANTS, WARNINGS, ... after SHOW",
        ))
    }

    /// After `SHOW TABLET`.
    fn parse_show_tablet(&mut self) -> Result<Statement> {
        if !self.parse_word("FROM") {
            let id = self.parse_u64("a tablet id or FROM after SHOW TABLET")?;
            return Ok(Statement::ShowTablet(ShowTablet::ById(id)));
        }
        let table = self.parse_table_name()?;
        let partitions = self.parse_opt_partition_names()?;
        let filter = self.parse_opt_where()?;
        let order_by = self.parse_opt_order_by()?;
        let limit = self.parse_opt_limit()?;
        Ok(Statement::ShowTablet(ShowTablet::FromTable {
            table,
            partitions,
            filter,
            order_by,
            limit,
        }))
    }
}
