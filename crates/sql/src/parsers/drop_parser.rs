//! `DROP DATABASE|SCHEMA`, `DROP TABLE`, `DROP USER`; other DROPs go to sqlparser.

use crate::parser::{ParserContext, Result};
use crate::statement::Statement;

impl ParserContext {
    /// `DROP ...`
    pub(crate) fn parse_drop(&mut self) -> Result<Statement> {
        if self.peek_nth_word(1, "DATABASE") || self.peek_nth_word(1, "SCHEMA") {
            self.parser.next_token();
            self.parser.next_token();
            let if_exists = self.parse_words(&["IF", "EXISTS"]);
            let name = self.parse_ident("database name")?;
            let force = self.parse_word("FORCE");
            return Ok(Statement::DropDatabase {
                name,
                if_exists,
                force,
            });
        }
        if self.peek_nth_word(1, "TABLE") {
            self.parser.next_token();
            self.parser.next_token();
            let if_exists = self.parse_words(&["IF", "EXISTS"]);
            let name = self.parse_table_name()?;
            let force = self.parse_word("FORCE");
            return Ok(Statement::DropTable {
                name,
                if_exists,
                force,
            });
        }
        if self.peek_nth_word(1, "USER") {
            self.parser.next_token();
            self.parser.next_token();
            return self.parse_drop_user_body();
        }
        self.parse_with_sqlparser()
    }
}
