//! Tessera's foundation: what every other crate shares and that needs no runtime.
//!
//! - [`status`]: the stable [`StatusCode`] of every user-visible error and its single mapping
//!   to MySQL error numbers.
//! - [`error`]: the [`Error`] type (a code plus a message).
//! - [`config`]: StarRocks-style `key = value` files and the typed `fe.conf`/`be.conf` keys.
//! - [`net`]: `host:port` parsing and `priority_networks` address selection.
//! - [`clock`]: wall-clock time with an optional offset, so tests can skew a node's clock.
//! - [`metrics`]: the Prometheus registry of a node and the name of every metric it exports.
//!
//! This crate must not depend on tokio, arrow, datafusion or tonic.

pub mod clock;
pub mod config;
pub mod error;
pub mod load;
pub mod metrics;
pub mod net;
pub mod schema;
pub mod status;
pub mod tls;

pub use error::Error;
pub use error::Result;
pub use status::StatusCode;

/// Tessera's version string, as shown in `SHOW FRONTENDS` and `@@version_comment`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
