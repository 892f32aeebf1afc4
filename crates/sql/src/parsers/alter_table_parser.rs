//! `ALTER ...` dispatch and `ALTER TABLE t <op>`; other ALTERs go to sqlparser.

use crate::parser::{ParserContext, Result};
use crate::statement::Statement;
use crate::statements::alter_table::AlterTableOp;

impl ParserContext {
    /// `ALTER ...`
    pub(crate) fn parse_alter(&mut self) -> Result<Statement> {
        if self.peek_nth_word(1, "SYSTEM") {
            self.parser.next_token();
            self.parser.next_token();
            return self.parse_alter_system_op();
        }
        if self.peek_nth_word(1, "USER") {
            self.parser.next_token();
            self.parser.next_token();
            return self.parse_alter_user_body();
        }
        if self.peek_nth_word(1, "TABLE") {
            self.parser.next_token();
            self.parser.next_token();
            let name = self.parse_table_name()?;
            let op = self.parse_alter_table_op()?;
            return Ok(Statement::AlterTable { name, op });
        }
        self.parse_with_sqlparser()
    }

    fn parse_alter_table_op(&mut self) -> Result<AlterTableOp> {
        if self.parse_word("SET") {
            return Ok(AlterTableOp::SetProperties(self.parse_kv_list()?));
        }
        if self.parse_words(&["ADD", "PARTITION"]) {
            let partition = self.parse_single_partition_body()?;
            let distribution = self.parse_opt_distribution()?;
            return Ok(AlterTableOp::AddPartition {
                partition,
                distribution,
            });
        }
        if self.parse_words(&["DROP", "PARTITION"]) {
            let if_exists = self.parse_words(&["IF", "EXISTS"]);
            let name = self.parse_ident("a partition name")?;
            let force = self.parse_word("FORCE");
            return Ok(AlterTableOp::DropPartition {
                name,
                if_exists,
                force,
            });
        }
        Err(self.expected("SET (...), ADD PARTITION or DROP PARTITION after ALTER TABLE <table>"))
    }
}
