//! Wall-clock time in milliseconds, with a per-process offset for clock-skew tests.
//!
//! Everything that compares clocks between nodes (the FE heartbeat's skew check, StartTime,
//! LastHeartbeat) reads time through [`now_ms`], so `debug_clock_offset_ms` in a node's config
//! skews exactly what another node would see on a machine whose clock is wrong.

use std::sync::atomic::AtomicI64;
use std::sync::atomic::Ordering;
use std::time::SystemTime;
use std::time::UNIX_EPOCH;

static OFFSET_MS: AtomicI64 = AtomicI64::new(0);

/// Sets the offset added to this process's clock.
pub fn set_offset_ms(offset: i64) {
    OFFSET_MS.store(offset, Ordering::Relaxed);
}

/// Milliseconds since the Unix epoch, plus the configured offset.
pub fn now_ms() -> i64 {
    let real = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    real + OFFSET_MS.load(Ordering::Relaxed)
}

/// Formats epoch milliseconds as `yyyy-MM-dd HH:mm:ss` in UTC, StarRocks's SHOW time format;
/// `\N` when unset (<= 0).
pub fn format_ms(ms: i64) -> String {
    if ms <= 0 {
        return "\\N".to_string();
    }
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Converts days since 1970-01-01 to a (year, month, day) civil date.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_ms(0), "\\N");
        assert_eq!(format_ms(1_584_965_098_874), "2020-03-23 12:04:58");
        assert_eq!(format_ms(951_782_400_000), "2000-02-29 00:00:00");
    }
}
