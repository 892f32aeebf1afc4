//! `ALTER SYSTEM ...` and `CANCEL DECOMMISSION BACKEND` (spec 1.6, 2.1).

use std::fmt;

use super::{DqStr, DqStrList};

/// One cluster-membership operation. Host strings (`"host:port"` or, for
/// MODIFY ... HOST, a bare host) are kept exactly as written; validating them
/// is the FE's job.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AlterSystemOp {
    /// `ALTER SYSTEM ADD FOLLOWER "h:edit_log_port"[, ...]`
    AddFollower(Vec<String>),
    /// `ALTER SYSTEM ADD OBSERVER "h:edit_log_port"[, ...]`
    AddObserver(Vec<String>),
    /// `ALTER SYSTEM DROP FOLLOWER "h:edit_log_port"[, ...]`
    DropFollower(Vec<String>),
    /// `ALTER SYSTEM DROP OBSERVER "h:edit_log_port"[, ...]`
    DropObserver(Vec<String>),
    /// `ALTER SYSTEM ADD BACKEND "h:heartbeat_port"[, ...]`
    AddBackend(Vec<String>),
    /// `ALTER SYSTEM DROP BACKEND "h:p"[, ...] [FORCE]`; the legacy spelling
    /// `ALTER SYSTEM DROPP BACKEND ...` means `force = true`.
    DropBackend {
        /// The BEs to drop.
        hosts: Vec<String>,
        /// Drop even if that loses the only replica of some tablet.
        force: bool,
    },
    /// `ALTER SYSTEM DECOMMISSION BACKEND "h:p"[, ...]`
    DecommissionBackend(Vec<String>),
    /// `CANCEL DECOMMISSION BACKEND "h:p"[, ...]` (no ALTER SYSTEM prefix).
    CancelDecommissionBackend(Vec<String>),
    /// `ALTER SYSTEM MODIFY FRONTEND HOST "old" TO "new"`
    ModifyFrontendHost {
        /// Current host.
        from: String,
        /// New host (FQDN).
        to: String,
    },
    /// `ALTER SYSTEM MODIFY BACKEND HOST "old" TO "new"`
    ModifyBackendHost {
        /// Current host.
        from: String,
        /// New host (FQDN).
        to: String,
    },
    /// `ALTER SYSTEM CREATE IMAGE`
    CreateImage,
}

impl fmt::Display for AlterSystemOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AlterSystemOp::AddFollower(h) => {
                write!(f, "ALTER SYSTEM ADD FOLLOWER {}", DqStrList(h))
            }
            AlterSystemOp::AddObserver(h) => {
                write!(f, "ALTER SYSTEM ADD OBSERVER {}", DqStrList(h))
            }
            AlterSystemOp::DropFollower(h) => {
                write!(f, "ALTER SYSTEM DROP FOLLOWER {}", DqStrList(h))
            }
            AlterSystemOp::DropObserver(h) => {
                write!(f, "ALTER SYSTEM DROP OBSERVER {}", DqStrList(h))
            }
            AlterSystemOp::AddBackend(h) => write!(f, "ALTER SYSTEM ADD BACKEND {}", DqStrList(h)),
            AlterSystemOp::DropBackend { hosts, force } => {
                write!(f, "ALTER SYSTEM DROP BACKEND {}", DqStrList(hosts))?;
                if *force {
                    f.write_str(" FORCE")?;
                }
                Ok(())
            }
            AlterSystemOp::DecommissionBackend(h) => {
                write!(f, "ALTER SYSTEM DECOMMISSION BACKEND {}", DqStrList(h))
            }
            AlterSystemOp::CancelDecommissionBackend(h) => {
                write!(f, "CANCEL DECOMMISSION BACKEND {}", DqStrList(h))
            }
            AlterSystemOp::ModifyFrontendHost { from, to } => write!(
                f,
                "ALTER SYSTEM MODIFY FRONTEND HOST {} TO {}",
                DqStr(from),
                DqStr(to)
            ),
            AlterSystemOp::ModifyBackendHost { from, to } => write!(
                f,
                "ALTER SYSTEM MODIFY BACKEND HOST {} TO {}",
                DqStr(from),
                DqStr(to)
            ),
            AlterSystemOp::CreateImage => f.write_str("ALTER SYSTEM CREATE IMAGE"),
        }
    }
}
