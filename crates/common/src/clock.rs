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

/// Days since 1970-01-01 of a civil date (inverse of [`civil_from_days`]).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses `YYYY-MM-DD` into days since the epoch, checking the calendar.
pub fn parse_date(s: &str) -> Option<i64> {
    let mut it = s.trim().splitn(3, '-');
    let y: i64 = it.next()?.parse().ok()?;
    let m: u32 = it.next()?.parse().ok()?;
    let d: u32 = it.next()?.parse().ok()?;
    if !(1..=9999).contains(&y) || !(1..=12).contains(&m) || d == 0 {
        return None;
    }
    let days = days_from_civil(y, m, d);
    // Round-trip to reject 2023-02-30 and friends.
    (civil_from_days(days) == (y, m, d)).then_some(days)
}

/// Parses `YYYY-MM-DD[ HH:MM:SS]` into seconds since the epoch.
pub fn parse_datetime(s: &str) -> Option<i64> {
    let s = s.trim();
    let (date, time) = match s.split_once([' ', 'T']) {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let days = parse_date(date)?;
    let secs = match time {
        None => 0,
        Some(t) => {
            let mut it = t.splitn(3, ':');
            let h: i64 = it.next()?.parse().ok()?;
            let mi: i64 = it.next()?.parse().ok()?;
            let se: i64 = it.next().unwrap_or("0").parse().ok()?;
            if !(0..24).contains(&h) || !(0..60).contains(&mi) || !(0..60).contains(&se) {
                return None;
            }
            h * 3600 + mi * 60 + se
        }
    };
    Some(days * 86_400 + secs)
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_round_trip() {
        assert_eq!(super::parse_date("1970-01-01"), Some(0));
        assert_eq!(super::parse_date("2000-03-01"), Some(11_017));
        assert_eq!(super::parse_date("2023-02-30"), None);
        assert_eq!(super::parse_date("2024-13-01"), None);
        assert_eq!(super::parse_date("x"), None);
        assert_eq!(super::parse_datetime("1970-01-02 00:00:01"), Some(86_401));
        assert_eq!(super::parse_datetime("1970-01-02 24:00:00"), None);
        for d in [-1000, 0, 1, 10_000, 20_000] {
            let (y, m, dd) = super::civil_from_days(d);
            assert_eq!(super::days_from_civil(y, m, dd), d);
        }
    }

    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_ms(0), "\\N");
        assert_eq!(format_ms(1_584_965_098_874), "2020-03-23 12:04:58");
        assert_eq!(format_ms(951_782_400_000), "2000-02-29 00:00:00");
    }
}
