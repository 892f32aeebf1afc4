//! Users and privileges: `CREATE/DROP USER`, `GRANT`, `REVOKE`, `SHOW GRANTS`.

use std::fmt;

use super::{Ident, Str, TableName};

/// `'user'@'host'`. A missing host is `%` (any host), as in MySQL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserIdentity {
    /// User name.
    pub user: String,
    /// Host pattern.
    pub host: String,
}

impl UserIdentity {
    /// `'user'@'host'`
    pub fn new(user: impl Into<String>, host: impl Into<String>) -> Self {
        UserIdentity {
            user: user.into(),
            host: host.into(),
        }
    }
}

impl fmt::Display for UserIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", Str(&self.user), Str(&self.host))
    }
}

/// `IDENTIFIED BY ...` of `CREATE USER`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UserAuth {
    /// `IDENTIFIED BY 'plain'`
    Password(String),
    /// `IDENTIFIED BY PASSWORD 'hash'`
    HashedPassword(String),
}

impl fmt::Display for UserAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UserAuth::Password(p) => write!(f, "IDENTIFIED BY {}", Str(p)),
            UserAuth::HashedPassword(p) => write!(f, "IDENTIFIED BY PASSWORD {}", Str(p)),
        }
    }
}

/// A privilege name. The StarRocks 2.x spellings (`SELECT_PRIV`, `NODE_PRIV`, ...)
/// are accepted and mean the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Privilege {
    /// `ALL [PRIVILEGES]`
    All,
    /// `NODE`: cluster membership (ALTER SYSTEM).
    Node,
    /// `OPERATOR`: cluster operations.
    Operator,
    /// `ADMIN`
    Admin,
    /// `GRANT`
    Grant,
    /// `SELECT`
    Select,
    /// `INSERT`
    Insert,
    /// `LOAD`
    Load,
    /// `ALTER`
    Alter,
    /// `CREATE`
    Create,
    /// `DROP`
    Drop,
    /// `DELETE`
    Delete,
    /// `UPDATE`
    Update,
    /// `USAGE`
    Usage,
}

impl Privilege {
    /// All privileges with their canonical names.
    pub const ALL_NAMES: &'static [(&'static str, Privilege)] = &[
        ("ALL", Privilege::All),
        ("NODE", Privilege::Node),
        ("OPERATOR", Privilege::Operator),
        ("ADMIN", Privilege::Admin),
        ("GRANT", Privilege::Grant),
        ("SELECT", Privilege::Select),
        ("INSERT", Privilege::Insert),
        ("LOAD", Privilege::Load),
        ("ALTER", Privilege::Alter),
        ("CREATE", Privilege::Create),
        ("DROP", Privilege::Drop),
        ("DELETE", Privilege::Delete),
        ("UPDATE", Privilege::Update),
        ("USAGE", Privilege::Usage),
    ];

    /// Looks a privilege up by name (case-insensitive; `_PRIV` suffix allowed).
    pub fn from_name(name: &str) -> Option<Privilege> {
        let upper = name.to_ascii_uppercase();
        let base = upper.strip_suffix("_PRIV").unwrap_or(&upper);
        Self::ALL_NAMES
            .iter()
            .find(|(n, _)| *n == base)
            .map(|(_, p)| *p)
    }

    /// Canonical name.
    pub fn name(self) -> &'static str {
        Self::ALL_NAMES
            .iter()
            .find(|(_, p)| *p == self)
            .map(|(n, _)| *n)
            .unwrap_or("ALL")
    }
}

impl fmt::Display for Privilege {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a privilege is granted on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GrantObject {
    /// `*.*`
    Global,
    /// `db.*`
    Database(String),
    /// `db.tbl` or `tbl` (current database).
    Table(TableName),
}

impl fmt::Display for GrantObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GrantObject::Global => f.write_str("*.*"),
            GrantObject::Database(db) => write!(f, "{}.*", Ident(db)),
            GrantObject::Table(t) => write!(f, "{t}"),
        }
    }
}

/// Who receives (or loses) privileges.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Grantee {
    /// `[USER] 'u'@'h'`
    User(UserIdentity),
    /// `ROLE r`
    Role(String),
}

impl fmt::Display for Grantee {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Grantee::User(u) => write!(f, "{u}"),
            Grantee::Role(r) => write!(f, "ROLE {}", Ident(r)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn privilege_names() {
        assert_eq!(Privilege::from_name("select_priv"), Some(Privilege::Select));
        assert_eq!(Privilege::from_name("Node"), Some(Privilege::Node));
        assert_eq!(Privilege::from_name("bogus"), None);
        for (n, p) in Privilege::ALL_NAMES {
            assert_eq!(p.name(), *n);
        }
    }
}
