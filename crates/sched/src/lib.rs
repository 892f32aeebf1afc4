//! Pure decision engines: plain views in, decisions out, no I/O.
//!
//! - [`placement`]: which backends receive the replicas of new tablets.
//!
//! This crate must not depend on `meta`, tokio, tonic or datafusion: the FE builds its views.

pub mod placement;
