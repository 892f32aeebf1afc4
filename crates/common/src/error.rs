//! The error type shared by the workspace: a [`StatusCode`] plus a message for people.

use std::fmt;

use serde::Deserialize;
use serde::Serialize;

use crate::status::StatusCode;

/// An error with a stable code. Serializable so it can cross RPC boundaries intact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Error {
    /// The stable category.
    pub code: StatusCode,
    /// What happened and, where possible, what to do about it.
    pub message: String,
}

/// Result alias with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Creates an error with a code and a message.
    pub fn new(code: StatusCode, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
        }
    }

    /// A bug in Tessera; the message says so.
    pub fn internal(message: impl fmt::Display) -> Self {
        Error::new(
            StatusCode::Internal,
            format!("internal error (a bug in Tessera, please report it): {message}"),
        )
    }

    /// A malformed argument.
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::new(StatusCode::InvalidArgument, message)
    }

    /// A local file error, with what was being done.
    pub fn io(what: impl fmt::Display, err: std::io::Error) -> Self {
        Error::new(StatusCode::Io, format!("{what}: {err}"))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}
