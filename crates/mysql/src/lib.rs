//! Server side of the MySQL client/server protocol, as Tessera's FE speaks it
//! so that MySQL clients (the `mysql` CLI, JDBC, PyMySQL, Go's driver …) can
//! talk to it the way they talk to StarRocks; plus a small async [`client`]
//! for tools (the playground) and tests.
//!
//! The crate is a codec plus a connection loop; it knows nothing about SQL
//! beyond finding `?` placeholders and `;` separators. The FE implements
//! [`Handler`] (authentication, running statements) and calls
//! [`serve_connection`] for each accepted socket.
//!
//! What it covers:
//! - the packet layer (3-byte length + sequence id, payloads split at
//!   16 MiB, pipelined input, a hard cap on incoming payload size) in
//!   `packet`;
//! - HandshakeV10 / HandshakeResponse41 and AuthSwitchRequest in `handshake`,
//!   `mysql_native_password` in [`verify_native_password`] and friends;
//! - the text protocol for COM_QUERY and the binary protocol for prepared
//!   statements, which are implemented here by substituting quoted literals
//!   for the placeholders (`prepared`), so the handler only ever sees SQL text;
//! - COM_INIT_DB, COM_PING, COM_QUIT, COM_FIELD_LIST, COM_STATISTICS,
//!   COM_RESET_CONNECTION, COM_SET_OPTION and the COM_STMT_* family;
//!   anything else gets ERR 1047 and the connection stays usable.
//!
//! It is written from the protocol documentation rather than on top of an
//! existing crate: the published `opensrv-mysql` has a use-after-free with
//! pipelined packets, and the protocol surface we need is small. Input is
//! never trusted: every length is bounds-checked before use, nothing is
//! allocated from a length the client claims beyond the configured maximum,
//! and malformed input yields an error reply or closes that one connection.
//!
//! TLS: with a rustls server config in [`ServerConfig::tls`] the greeting
//! advertises CLIENT_SSL; a client that answers with an SSLRequest gets a TLS
//! handshake and then sends its HandshakeResponse (sequence ids continuing)
//! and everything after over TLS. Plain clients still log in unless
//! [`ServerConfig::require_secure_transport`] is set.

mod auth;
pub mod client;
mod handshake;
mod packet;
mod prepared;
mod resultset;
mod server;
mod tls;
mod value;
mod wire;

pub use auth::{native_password_hash, scramble_native_password, verify_native_password};
pub use resultset::{ErrorInfo, OkInfo, QueryOutcome, ResultSet};
pub use server::{Handler, HandshakeInfo, ServerConfig, serve_connection};
pub use tls::TlsSession;
pub use value::{Column, ColumnType, Value, column_flags};
