//! The single error type of the crate.

use std::fmt;

use sqlparser::parser::ParserError;
use sqlparser::tokenizer::{Location, TokenizerError};

/// A syntax error, with the 1-based position of the offending token.
///
/// `line`/`column` are 0 only when no position is known. The FE turns this into
/// MySQL error 1064 (`ER_PARSE_ERROR`), using [`fmt::Display`] for the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ParseError {
    /// What went wrong, without the position (e.g.
    /// `Expected: FOLLOWER, OBSERVER or BACKEND after ALTER SYSTEM ADD, found: FOLLWER`).
    pub message: String,
    /// 1-based line of the offending token (0 = unknown).
    pub line: u64,
    /// 1-based column of the offending token (0 = unknown).
    pub column: u64,
}

impl ParseError {
    /// Builds an error at a position.
    pub fn new(message: impl Into<String>, location: Location) -> Self {
        ParseError {
            message: message.into(),
            line: location.line,
            column: location.column,
        }
    }

    /// True if the position is known.
    pub fn has_location(&self) -> bool {
        self.line > 0
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.has_location() {
            write!(
                f,
                "{} at line {}, column {}",
                self.message, self.line, self.column
            )
        } else {
            f.write_str(&self.message)
        }
    }
}

/// The message used when sqlparser's recursion limit trips.
pub(crate) const TOO_DEEP: &str = "SQL statement is too deeply nested";

impl From<ParserError> for ParseError {
    fn from(e: ParserError) -> Self {
        match e {
            ParserError::TokenizerError(s) | ParserError::ParserError(s) => split_location(&s),
            ParserError::RecursionLimitExceeded => ParseError {
                message: TOO_DEEP.to_string(),
                line: 0,
                column: 0,
            },
        }
    }
}

impl From<TokenizerError> for ParseError {
    fn from(e: TokenizerError) -> Self {
        ParseError::new(e.message, e.location)
    }
}

/// sqlparser appends `" at Line: L, Column: C"` to its messages; take it apart.
fn split_location(s: &str) -> ParseError {
    const MARK: &str = " at Line: ";
    if let Some(pos) = s.rfind(MARK) {
        let tail = &s[pos + MARK.len()..];
        if let Some((line, column)) = tail.split_once(", Column: ")
            && let (Ok(line), Ok(column)) = (line.trim().parse(), column.trim().parse())
        {
            return ParseError {
                message: s[..pos].to_string(),
                line,
                column,
            };
        }
    }
    ParseError {
        message: s.to_string(),
        line: 0,
        column: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_sqlparser_location() {
        let e: ParseError = ParserError::ParserError(
            "Expected: an expression, found: EOF at Line: 3, Column: 14".into(),
        )
        .into();
        assert_eq!(e.message, "Expected: an expression, found: EOF");
        assert_eq!((e.line, e.column), (3, 14));
        assert_eq!(
            e.to_string(),
            "Expected: an expression, found: EOF at line 3, column 14"
        );
    }

    #[test]
    fn keeps_message_without_location() {
        let e: ParseError = ParserError::ParserError("boom".into()).into();
        assert_eq!(e.message, "boom");
        assert!(!e.has_location());
        assert_eq!(e.to_string(), "boom");
    }
}
