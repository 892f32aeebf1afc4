//! Pieces of the `ADMIN ...` statements (spec 5.10).

use std::fmt;

use super::Str;

/// `WHERE STATUS = 'OK'` / `WHERE STATUS != 'DEAD'` of `ADMIN SHOW REPLICA STATUS`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReplicaStatusFilter {
    /// `!=` (or `<>`) instead of `=`.
    pub negated: bool,
    /// The status as written (`OK`, `DEAD`, `VERSION_ERROR`, `SCHEMA_ERROR`, `MISSING`);
    /// the FE validates it.
    pub status: String,
}

impl fmt::Display for ReplicaStatusFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = if self.negated { "!=" } else { "=" };
        write!(f, "WHERE STATUS {op} {}", Str(&self.status))
    }
}
