//! `ADMIN ...`: FE config and replica management (spec 5.10).

use sqlparser::tokenizer::Token;

use crate::parser::{ParserContext, Result};
use crate::statement::Statement;
use crate::statements::admin::ReplicaStatusFilter;

impl ParserContext {
    /// `ADMIN ...`
    pub(crate) fn parse_admin(&mut self) -> Result<Statement> {
        self.expect_word("ADMIN", "")?;
        if self.parse_words(&["SET", "FRONTEND", "CONFIG"]) {
            let items = self.parse_kv_list()?;
            return Ok(Statement::AdminSetFrontendConfig { items });
        }
        if self.parse_words(&["SET", "REPLICA", "STATUS"]) {
            self.expect_word("PROPERTIES", " after ADMIN SET REPLICA STATUS")?;
            let properties = self.parse_kv_list()?;
            return Ok(Statement::AdminSetReplicaStatus { properties });
        }
        if self.parse_words(&["SHOW", "FRONTEND", "CONFIG"]) {
            let like = if self.parse_word("LIKE") {
                Some(self.parse_string("a pattern string after LIKE")?)
            } else {
                None
            };
            return Ok(Statement::AdminShowFrontendConfig { like });
        }
        if self.parse_words(&["SHOW", "REPLICA", "STATUS"]) {
            self.expect_word("FROM", " after ADMIN SHOW REPLICA STATUS")?;
            let table = self.parse_table_name()?;
            let partitions = self.parse_opt_partition_names()?;
            let status_filter = if self.parse_word("WHERE") {
                self.expect_word("STATUS", " after ADMIN SHOW REPLICA STATUS ... WHERE")?;
                let negated = if self.consume(&Token::Eq) {
                    false
                } else if self.consume(&Token::Neq) {
                    true
                } else {
                    return Err(self.expected("'=' or '!=' after STATUS"));
                };
                let status = self.parse_value_text("a status string ('OK', 'DEAD', ...)")?;
                Some(ReplicaStatusFilter { negated, status })
            } else {
                None
            };
            return Ok(Statement::AdminShowReplicaStatus {
                table,
                partitions,
                status_filter,
            });
        }
        if self.parse_words(&["SHOW", "REPLICA", "DISTRIBUTION"]) {
            self.expect_word("FROM", " after ADMIN SHOW REPLICA DISTRIBUTION")?;
            let table = self.parse_table_name()?;
            let partitions = self.parse_opt_partition_names()?;
            return Ok(Statement::AdminShowReplicaDistribution { table, partitions });
        }
        if self.parse_words(&["REPAIR", "TABLE"]) {
            let table = self.parse_table_name()?;
            let partitions = self.parse_opt_partition_names()?;
            return Ok(Statement::AdminRepairTable { table, partitions });
        }
        if self.parse_words(&["CANCEL", "REPAIR", "TABLE"]) {
            let table = self.parse_table_name()?;
            let partitions = self.parse_opt_partition_names()?;
            return Ok(Statement::AdminCancelRepairTable { table, partitions });
        }
        Err(self.expected(
            "SET FRONTEND CONFIG, SHOW FRONTEND CONFIG, SHOW REPLICA STATUS, \
             SHOW REPLICA DISTRIBUTION, REPAIR TABLE, CANCEL REPAIR TABLE or \
             SET REPLICA STATUS after ADMIN",
        ))
    }
}
