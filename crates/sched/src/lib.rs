//! Pure decision engines: plain views in, decisions out, no I/O.
//!
//! - [`placement`]: which backends receive the replicas of new tablets.
//! - [`health`]: a tablet's health status and repair priority (StarRocks's tablet checker
//!   rules), and whether an unhealthy tablet has waited long enough to be queued.
//! - [`repair`]: how a queued tablet is repaired: the destination backend of a new copy, the
//!   source replica to clone from, the lagging replica to repair in place, the redundant
//!   replica to drop, and the clone task timeout.
//!
//! This crate must not depend on `meta`, tokio, tonic or datafusion: the FE builds its views.

#![warn(missing_docs)]

pub mod health;
pub mod placement;
pub mod repair;
