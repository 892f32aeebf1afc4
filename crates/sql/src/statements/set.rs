//! `SET ...` (MySQL session statements sent by clients and drivers).

use std::fmt;

use sqlparser::ast::Expr;

use super::Str;
use super::account::UserIdentity;

/// Scope of a system variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VarScope {
    /// `SESSION`, `LOCAL`, `@@session.`, `@@local.`, `@@` or no scope at all.
    Session,
    /// `GLOBAL` or `@@global.`
    Global,
}

impl fmt::Display for VarScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VarScope::Session => "SESSION",
            VarScope::Global => "GLOBAL",
        })
    }
}

/// The right-hand side of `SET var = ...`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
// Built once per statement; boxing the big variant would only add indirection.
#[allow(clippy::large_enum_variant)]
pub enum SetValue {
    /// `DEFAULT` (reset to the global/default value).
    Default,
    /// Any expression. Bare words (`ON`, `utf8`) arrive as `Expr::Identifier`.
    Expr(Expr),
}

impl fmt::Display for SetValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetValue::Default => f.write_str("DEFAULT"),
            SetValue::Expr(e) => write!(f, "{e}"),
        }
    }
}

/// The new password of `SET PASSWORD`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PasswordValue {
    /// `PASSWORD('plain')`: the FE hashes it.
    Plain(String),
    /// `'*6BB4837EB74329105EE4568DDA7DC67ED2CA2AD9'`: already hashed.
    Hashed(String),
}

impl fmt::Display for PasswordValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PasswordValue::Plain(p) => write!(f, "PASSWORD({})", Str(p)),
            PasswordValue::Hashed(h) => write!(f, "{}", Str(h)),
        }
    }
}

/// Isolation levels of `SET TRANSACTION ISOLATION LEVEL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IsolationLevel {
    /// `READ UNCOMMITTED`
    ReadUncommitted,
    /// `READ COMMITTED`
    ReadCommitted,
    /// `REPEATABLE READ`
    RepeatableRead,
    /// `SERIALIZABLE`
    Serializable,
}

impl fmt::Display for IsolationLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IsolationLevel::ReadUncommitted => "READ UNCOMMITTED",
            IsolationLevel::ReadCommitted => "READ COMMITTED",
            IsolationLevel::RepeatableRead => "REPEATABLE READ",
            IsolationLevel::Serializable => "SERIALIZABLE",
        })
    }
}

/// One characteristic of `SET TRANSACTION`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransactionMode {
    /// `ISOLATION LEVEL ...`
    IsolationLevel(IsolationLevel),
    /// `READ ONLY`
    ReadOnly,
    /// `READ WRITE`
    ReadWrite,
}

impl fmt::Display for TransactionMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransactionMode::IsolationLevel(l) => write!(f, "ISOLATION LEVEL {l}"),
            TransactionMode::ReadOnly => f.write_str("READ ONLY"),
            TransactionMode::ReadWrite => f.write_str("READ WRITE"),
        }
    }
}

/// One item of a `SET` statement.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SetItem {
    /// `[GLOBAL|SESSION|LOCAL] var = value`, `@@[global.|session.|local.]var = value`.
    /// `name` is kept as written; system variable names are case-insensitive.
    Variable {
        /// Session unless GLOBAL was given.
        scope: VarScope,
        /// Variable name, without `@@` or scope prefix.
        name: String,
        /// New value.
        value: SetValue,
    },
    /// `@user_var = expr` (`name` without the `@`).
    UserVariable {
        /// Variable name without `@`.
        name: String,
        /// New value.
        value: Expr,
    },
    /// `NAMES charset [COLLATE collation]`; `charset` is `None` for `NAMES DEFAULT`.
    Names {
        /// Character set, `None` = DEFAULT.
        charset: Option<String>,
        /// Collation.
        collation: Option<String>,
    },
    /// `CHARACTER SET x` / `CHARSET x`; `None` for DEFAULT.
    CharacterSet(Option<String>),
    /// `PASSWORD [FOR user] = PASSWORD('x') | 'hash'`
    Password {
        /// Whose password (`None` = the current user).
        user: Option<UserIdentity>,
        /// The new password.
        password: PasswordValue,
    },
    /// `[GLOBAL|SESSION] TRANSACTION mode[, ...]` (accepted and ignored by the FE).
    Transaction {
        /// Scope as written (`None` = next transaction only).
        scope: Option<VarScope>,
        /// Characteristics.
        modes: Vec<TransactionMode>,
    },
}

impl fmt::Display for SetItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetItem::Variable { scope, name, value } => {
                if *scope == VarScope::Global {
                    f.write_str("GLOBAL ")?;
                }
                write!(f, "{} = {value}", super::Ident(name))
            }
            SetItem::UserVariable { name, value } => write!(f, "@{name} = {value}"),
            SetItem::Names { charset, collation } => {
                match charset {
                    Some(c) => write!(f, "NAMES {}", Str(c))?,
                    None => f.write_str("NAMES DEFAULT")?,
                }
                if let Some(c) = collation {
                    write!(f, " COLLATE {}", Str(c))?;
                }
                Ok(())
            }
            SetItem::CharacterSet(c) => match c {
                Some(c) => write!(f, "CHARACTER SET {}", Str(c)),
                None => f.write_str("CHARACTER SET DEFAULT"),
            },
            SetItem::Password { user, password } => {
                f.write_str("PASSWORD")?;
                if let Some(u) = user {
                    write!(f, " FOR {u}")?;
                }
                write!(f, " = {password}")
            }
            SetItem::Transaction { scope, modes } => {
                if let Some(s) = scope {
                    write!(f, "{s} ")?;
                }
                write!(f, "TRANSACTION {}", super::Comma(modes))
            }
        }
    }
}
