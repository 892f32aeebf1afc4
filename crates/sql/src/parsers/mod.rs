//! Hand-written parsers for StarRocks statements, one file per family. Each
//! adds methods to [`crate::parser::ParserContext`] and reuses sqlparser's
//! helpers (`parse_expr`, `parse_query`, `parse_order_by_expr`, ...) through
//! its `parser` field. Words that are not sqlparser keywords are matched as
//! words, case-insensitively.

mod account_parser;
mod admin_parser;
mod alter_system_parser;
mod alter_table_parser;
mod create_parser;
mod dml_parser;
mod drop_parser;
mod misc_parser;
mod set_parser;
mod show_parser;
