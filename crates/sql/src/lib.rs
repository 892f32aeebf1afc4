//! # tessera-sql: the SQL front end of Tessera
//!
//! Turns SQL text into an AST; it owns nothing else. **AST only: no
//! DataFusion, no catalog, no I/O** — name resolution, type checking, planning
//! and execution happen in the FE, which consumes [`Statement`].
//!
//! ## What it accepts
//! StarRocks' SQL as users type it: queries and DML through sqlparser's MySQL
//! dialect (not forked — wrapped, GreptimeDB-style), plus hand-written parsers
//! for StarRocks statements (ALTER SYSTEM, SHOW FRONTENDS/BACKENDS/PROC/TABLET,
//! ADMIN ..., CREATE TABLE with keys/partitions/buckets/properties, ...) and the
//! MySQL session statements clients send (SET, SHOW VARIABLES, KILL, ...).
//!
//! ## Crate map
//! - [`parse_statements`] / [`parse_statement`]: the entry points.
//! - [`parser`]: [`ParserContext`] — tokenizes, splits at `;`, dispatches on
//!   the first word(s), and the helpers the family parsers share.
//! - `parsers/` (private): one file per statement family (`alter_system_parser`,
//!   `show_parser`, `admin_parser`, `create_parser`, `drop_parser`,
//!   `alter_table_parser`, `set_parser`, `account_parser`, `dml_parser`,
//!   `misc_parser`), each adding methods to [`ParserContext`].
//! - [`statement`]: the [`Statement`] enum.
//! - [`statements`]: AST types per family (`system`, `set`, `table`,
//!   `alter_table`, `show`, `admin`, `account`, `dml`) and shared pieces
//!   ([`TableName`], [`ShowFilter`], [`Limit`]).
//! - [`error`]: [`ParseError`] (message + line/column; the FE maps it to
//!   MySQL error 1064).
//!
//! ## Rules
//! - Every AST type implements `Display`, printing SQL that parses back to an
//!   equal AST (tested for every form).
//! - Identifiers keep their case (StarRocks db/table names are case-sensitive);
//!   backticks are stripped. Strings may use `'single'` or `"double"` quotes.
//! - Never panics, whatever the input; deep nesting is cut off by sqlparser's
//!   recursion limit ([`parser::RECURSION_LIMIT`]) and reported as a [`ParseError`].

pub mod error;
pub mod parser;
mod parsers;
pub mod statement;
pub mod statements;

pub use error::ParseError;
pub use parser::ParserContext;
pub use statement::Statement;
pub use statements::account::{GrantObject, Grantee, Privilege, UserAuth, UserIdentity};
pub use statements::admin::ReplicaStatusFilter;
pub use statements::alter_table::AlterTableOp;
pub use statements::dml::{ExplainLevel, Insert};
pub use statements::set::{
    IsolationLevel, PasswordValue, SetItem, SetValue, TransactionMode, VarScope,
};
pub use statements::show::ShowTablet;
pub use statements::system::AlterSystemOp;
pub use statements::table::{
    AggType, ColumnDef, ColumnTypeDef, CreateTable, DecimalKind, DefaultValue, DistributionDesc,
    KeysDesc, KeysType, PartitionBound, PartitionDef, PartitionDesc, PartitionEvery,
    PartitionValues, SinglePartition,
};
pub use statements::{Limit, ShowFilter, TableName};

/// Re-export of the sqlparser version the AST embeds (`Expr`, `Query`, ...),
/// so users need not name it in their own manifests.
pub use sqlparser;

/// Parses `sql` into statements (separated by `;`; empty statements skipped).
pub fn parse_statements(sql: &str) -> Result<Vec<Statement>, ParseError> {
    ParserContext::parse_statements(sql)
}

/// Parses `sql`, which must hold exactly one statement (a trailing `;` is fine).
pub fn parse_statement(sql: &str) -> Result<Statement, ParseError> {
    ParserContext::parse_statement(sql)
}
