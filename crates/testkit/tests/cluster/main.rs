//! Multi-process cluster tests: real `tessera fe` and `tessera be` processes on 127.0.0.1, .2,
//! ... with StarRocks's ports, driven through the `mysql` client.
//!
//! Each test starts its own cluster, which takes the machine-wide testkit lock, so tests run
//! one at a time whatever the runner does. Build the binary first: `cargo build -p tessera`.

mod backend_process;
mod backends;
mod bad_input;
mod chaos;
mod clients;
mod console;
mod corruption;
mod docs;
mod failover;
mod forward;
mod journal;
mod limits;
mod loads;
mod membership;
mod metrics;
mod node_auth;
mod playground;
mod privileges;
mod queries;
mod repair;
mod scripts;
mod show;
mod sql_files;
mod tls;

use std::time::Duration;

/// Generous bound for cluster-level waits on a loaded 2-core machine.
pub const WAIT: Duration = Duration::from_secs(30);

/// Logs a test phase (shown with --nocapture and on failure).
#[macro_export]
macro_rules! phase {
    ($($t:tt)*) => { eprintln!("[phase] {}", format!($($t)*)) };
}
