//! Disk space: telling a full disk from other I/O errors, and StarRocks's flood stage.
//!
//! A write that fails because the file system is out of space (ENOSPC) or the user's quota is
//! used up (EDQUOT) fails with [`StatusCode::DiskFull`] and a message naming the storage root
//! ("disk full on storage root <path>: ..."), whatever was being written: a load's rowset file,
//! a clone's files, a compaction's output or the tablet metadata store. The writer removes what
//! it wrote, so nothing half-written is left behind and nothing the metadata names is
//! incomplete.
//!
//! Before a load, a clone or a compaction writes into a root, the root's capacity is checked
//! against the flood stage (StarRocks's `DataDir::capacity_limit_reached`): a root whose usage
//! (counting the bytes about to be written) is at least `storage_flood_stage_usage_percent`
//! *and* whose free space (minus those bytes) is at most
//! `storage_flood_stage_left_capacity_bytes` refuses the write at once, with the same
//! [`StatusCode::DiskFull`]. Reads are never refused.

use std::fmt;
use std::io;
use std::path::Path;

use common::Error;
use common::StatusCode;

/// The flood stage thresholds (be.conf's `storage_flood_stage_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FloodStage {
    /// Usage percentage at or above which a root may be at its flood stage
    /// (`storage_flood_stage_usage_percent`, 0..=100).
    pub usage_percent: i64,
    /// Free bytes at or below which a root may be at its flood stage
    /// (`storage_flood_stage_left_capacity_bytes`).
    pub left_capacity_bytes: i64,
}

impl Default for FloodStage {
    /// StarRocks's defaults: 95 % and 1 GiB.
    fn default() -> Self {
        FloodStage {
            usage_percent: 95,
            left_capacity_bytes: 1 << 30,
        }
    }
}

impl FloodStage {
    /// Whether a root of `total` bytes with `available` free is at its flood stage once
    /// `incoming` more bytes are written. An unknown capacity (`total` 0) never is.
    pub fn reached(&self, total: i64, available: i64, incoming: i64) -> bool {
        if total <= 0 {
            return false;
        }
        let incoming = incoming.max(0);
        let used = total.saturating_sub(available).saturating_add(incoming);
        let left = available.saturating_sub(incoming);
        // used / total >= percent / 100, in integers.
        i128::from(used) * 100 >= i128::from(self.usage_percent) * i128::from(total)
            && left <= self.left_capacity_bytes
    }

    /// The refusal of a write into `root` at its flood stage.
    pub(crate) fn refusal(&self, root: &Path, total: i64, available: i64, incoming: i64) -> Error {
        let used_pct = if total > 0 {
            (total.saturating_sub(available)) as f64 * 100.0 / total as f64
        } else {
            0.0
        };
        let needs = if incoming > 0 {
            format!("; the write needs {} more", bytes(incoming))
        } else {
            String::new()
        };
        disk_full(
            root,
            format!(
                "it is at its flood stage: {used_pct:.1}% used (the limit is \
                 storage_flood_stage_usage_percent = {}%) and {} free of {} (the limit is \
                 storage_flood_stage_left_capacity_bytes = {}){needs}. The write is refused \
                 until space is freed",
                self.usage_percent,
                bytes(available),
                bytes(total),
                self.left_capacity_bytes
            ),
        )
    }
}

/// A byte count for people: `123 B`, `4.5 MB`, `1.2 GB`.
fn bytes(n: i64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v.abs() >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// Whether an I/O error means the file system is out of space (ENOSPC) or the quota is used up
/// (EDQUOT).
pub(crate) fn is_disk_full(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    )
}

/// Whether an error, or any error it wraps (an I/O error inside a Parquet error, ...), is
/// [`is_disk_full`].
pub(crate) fn chain_is_disk_full(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(e);
    // Bounded: a chain is short, and a cycle must not hang a failing write.
    for _ in 0..16 {
        let Some(err) = current else {
            return false;
        };
        if let Some(io) = err.downcast_ref::<io::Error>() {
            if is_disk_full(io) {
                return true;
            }
            if let Some(inner) = io.get_ref() {
                let inner: &(dyn std::error::Error + 'static) = inner;
                if chain_is_disk_full(inner) {
                    return true;
                }
            }
        }
        current = err.source();
    }
    false
}

/// [`StatusCode::DiskFull`] for storage root `root`.
pub(crate) fn disk_full(root: &Path, detail: impl fmt::Display) -> Error {
    Error::new(
        StatusCode::DiskFull,
        format!("disk full on storage root {}: {detail}", root.display()),
    )
}

/// The error of a write into storage root `root` that failed with `e`:
/// [`StatusCode::DiskFull`] when the disk is full, else [`StatusCode::Io`].
pub(crate) fn write_error(root: &Path, what: impl fmt::Display, e: io::Error) -> Error {
    if is_disk_full(&e) {
        disk_full(root, format!("{what}: {e}"))
    } else {
        Error::io(what, e)
    }
}

/// Whether an error's text carries the OS error of a full disk: some errors keep only the
/// text of the I/O error they wrap (Parquet's "fail to get inner writer: ...").
fn text_is_disk_full(text: &str) -> bool {
    [rustix::io::Errno::NOSPC, rustix::io::Errno::DQUOT]
        .iter()
        .any(|e| text.contains(&format!("(os error {})", e.raw_os_error())))
}

/// [`write_error`] for a Parquet writer's error.
pub(crate) fn parquet_write_error(
    root: &Path,
    what: impl fmt::Display,
    e: parquet::errors::ParquetError,
) -> Error {
    if chain_is_disk_full(&e) || text_is_disk_full(&e.to_string()) {
        disk_full(root, format!("{what}: {e}"))
    } else {
        Error::new(StatusCode::Io, format!("{what}: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flood_stage_needs_both_limits() {
        let f = FloodStage {
            usage_percent: 95,
            left_capacity_bytes: 100,
        };
        // 96 % used and 40 bytes free: both limits reached.
        assert!(f.reached(1000, 40, 0));
        // 96 % used but 400 bytes free (a larger disk): not at the flood stage.
        assert!(!f.reached(10_000, 400, 0));
        // Plenty of room.
        assert!(!f.reached(1000, 500, 0));
        // The incoming bytes count: 90 % used + 60 incoming = 96 %, 40 left.
        assert!(!f.reached(1000, 100, 0));
        assert!(f.reached(1000, 100, 60));
        // Unknown capacity never refuses.
        assert!(!f.reached(0, 0, 0));
        // Percent 0 and a huge byte limit: every disk.
        let always = FloodStage {
            usage_percent: 0,
            left_capacity_bytes: i64::MAX,
        };
        assert!(always.reached(1 << 40, 1 << 39, 0));
        assert!(always.reached(1, 1, 0));
        // The defaults are StarRocks's.
        assert_eq!(
            FloodStage::default(),
            FloodStage {
                usage_percent: 95,
                left_capacity_bytes: 1_073_741_824
            }
        );
    }

    #[test]
    fn full_disks_are_told_apart_and_named() {
        let full = io::Error::from(io::ErrorKind::StorageFull);
        let quota = io::Error::from(io::ErrorKind::QuotaExceeded);
        let other = io::Error::from(io::ErrorKind::PermissionDenied);
        assert!(is_disk_full(&full) && is_disk_full(&quota) && !is_disk_full(&other));
        // The OS numbers map to those kinds.
        assert!(is_disk_full(&io::Error::from_raw_os_error(
            rustix::io::Errno::NOSPC.raw_os_error()
        )));
        assert!(is_disk_full(&io::Error::from_raw_os_error(
            rustix::io::Errno::DQUOT.raw_os_error()
        )));
        // Wrapped: in an io::Error, in a Parquet error.
        let wrapped = io::Error::other(io::Error::from(io::ErrorKind::StorageFull));
        assert!(chain_is_disk_full(&wrapped));
        let pq = parquet::errors::ParquetError::from(io::Error::from(io::ErrorKind::StorageFull));
        let e = parquet_write_error(Path::new("/r"), "write x", pq);
        assert_eq!(e.code, StatusCode::DiskFull);
        assert!(
            e.message
                .starts_with("disk full on storage root /r: write x"),
            "{}",
            e.message
        );
        let pq = parquet::errors::ParquetError::General(format!(
            "fail to get inner writer: {:?}",
            io::Error::from_raw_os_error(rustix::io::Errno::NOSPC.raw_os_error()).to_string()
        ));
        let e = parquet_write_error(Path::new("/r"), "finish", pq);
        assert_eq!(e.code, StatusCode::DiskFull, "{}", e.message);
        let e = write_error(Path::new("/r"), "write y", other);
        assert_eq!(e.code, StatusCode::Io);
        let f = FloodStage::default();
        let e = f.refusal(Path::new("/r"), 10 << 30, 512 << 20, 0);
        assert_eq!(e.code, StatusCode::DiskFull);
        assert!(
            e.message.contains("flood stage: 95.0% used")
                && e.message.contains("512.0 MB free of 10.0 GB"),
            "{}",
            e.message
        );
    }
}
