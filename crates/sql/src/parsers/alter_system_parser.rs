//! `ALTER SYSTEM ...` (spec 1.6, 2.1) and `CANCEL DECOMMISSION BACKEND`.

use crate::parser::{ParserContext, Result};
use crate::statement::Statement;
use crate::statements::system::AlterSystemOp;

impl ParserContext {
    /// After `ALTER SYSTEM`.
    pub(crate) fn parse_alter_system_op(&mut self) -> Result<Statement> {
        let op = if self.parse_word("ADD") {
            match self.parse_one_of_words(&["FOLLOWER", "OBSERVER", "BACKEND"]) {
                Some("FOLLOWER") => {
                    AlterSystemOp::AddFollower(self.parse_hosts("ALTER SYSTEM ADD FOLLOWER")?)
                }
                Some("OBSERVER") => {
                    AlterSystemOp::AddObserver(self.parse_hosts("ALTER SYSTEM ADD OBSERVER")?)
                }
                Some(_) => AlterSystemOp::AddBackend(self.parse_hosts("ALTER SYSTEM ADD BACKEND")?),
                None => {
                    return Err(
                        self.expected("FOLLOWER, OBSERVER or BACKEND after ALTER SYSTEM ADD")
                    );
                }
            }
        } else if self.parse_word("DROP") {
            match self.parse_one_of_words(&["FOLLOWER", "OBSERVER", "BACKEND"]) {
                Some("FOLLOWER") => {
                    AlterSystemOp::DropFollower(self.parse_hosts("ALTER SYSTEM DROP FOLLOWER")?)
                }
                Some("OBSERVER") => {
                    AlterSystemOp::DropObserver(self.parse_hosts("ALTER SYSTEM DROP OBSERVER")?)
                }
                Some(_) => {
                    let hosts = self.parse_hosts("ALTER SYSTEM DROP BACKEND")?;
                    let force = self.parse_word("FORCE");
                    AlterSystemOp::DropBackend { hosts, force }
                }
                None => {
                    return Err(
                        self.expected("FOLLOWER, OBSERVER or BACKEND after ALTER SYSTEM DROP")
                    );
                }
            }
        } else if self.parse_word("DROPP") {
            // StarRocks' legacy spelling of a forced drop.
            self.expect_word("BACKEND", " after ALTER SYSTEM DROPP")?;
            let hosts = self.parse_hosts("ALTER SYSTEM DROPP BACKEND")?;
            let _ = self.parse_word("FORCE");
            AlterSystemOp::DropBackend { hosts, force: true }
        } else if self.parse_word("DECOMMISSION") {
            self.expect_word("BACKEND", " after ALTER SYSTEM DECOMMISSION")?;
            AlterSystemOp::DecommissionBackend(
                self.parse_hosts("ALTER SYSTEM DECOMMISSION BACKEND")?,
            )
        } else if self.parse_word("MODIFY") {
            let frontend = match self.parse_one_of_words(&["FRONTEND", "BACKEND"]) {
                Some(w) => w == "FRONTEND",
                None => {
                    return Err(self.expected("FRONTEND or BACKEND after ALTER SYSTEM MODIFY"));
                }
            };
            self.expect_word("HOST", " after ALTER SYSTEM MODIFY FRONTEND|BACKEND")?;
            let from = self.parse_string("a host string after HOST")?;
            self.expect_word("TO", " after the old host")?;
            let to = self.parse_string("a host string after TO")?;
            if frontend {
                AlterSystemOp::ModifyFrontendHost { from, to }
            } else {
                AlterSystemOp::ModifyBackendHost { from, to }
            }
        } else if self.parse_word("CREATE") {
            self.expect_word("IMAGE", " after ALTER SYSTEM CREATE")?;
            AlterSystemOp::CreateImage
        } else {
            return Err(
                self.expected("ADD, DROP, DECOMMISSION, MODIFY or CREATE IMAGE after ALTER SYSTEM")
            );
        };
        Ok(Statement::AlterSystem(op))
    }

    /// After `CANCEL DECOMMISSION`.
    pub(crate) fn parse_cancel_decommission(&mut self) -> Result<Statement> {
        self.expect_word("BACKEND", " after CANCEL DECOMMISSION")?;
        Ok(Statement::AlterSystem(
            AlterSystemOp::CancelDecommissionBackend(
                self.parse_hosts("CANCEL DECOMMISSION BACKEND")?,
            ),
        ))
    }

    /// `"host:port"[, ...]`, kept raw.
    fn parse_hosts(&mut self, context: &str) -> Result<Vec<String>> {
        let what = format!("a \"host:port\" string after {context}");
        self.comma_separated(|p| p.parse_string(&what))
    }
}
