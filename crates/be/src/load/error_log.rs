//! Rows a load filtered, with why: kept in a file under the first storage root and served by
//! `GET /api/_load_error_log?file=<name>` (the response's ErrorURL).

use std::path::Path;
use std::path::PathBuf;
use std::time::Duration;
use std::time::SystemTime;

/// Lines kept per load; later filtered rows are only counted.
pub const MAX_LINES: usize = 5000;
/// Bytes of a row shown per line.
const MAX_ROW_BYTES: usize = 1024;
/// Error logs older than this are removed when a new one is written.
const KEEP: Duration = Duration::from_secs(48 * 3600);
/// The directory name under the first storage root.
pub const DIR: &str = "error_log";

/// The filtered rows of one load.
#[derive(Default)]
pub struct ErrorLog {
    lines: Vec<String>,
    omitted: u64,
}

impl ErrorLog {
    /// Records a filtered row.
    pub fn push(&mut self, reason: &str, raw: &[u8]) {
        if self.lines.len() >= MAX_LINES {
            self.omitted += 1;
            return;
        }
        let mut end = raw.len().min(MAX_ROW_BYTES);
        let text = loop {
            match std::str::from_utf8(&raw[..end]) {
                Ok(s) => break s.to_string(),
                Err(e) if e.valid_up_to() > 0 && e.error_len().is_none() => end = e.valid_up_to(),
                Err(_) => break String::from_utf8_lossy(&raw[..end]).into_owned(),
            }
        };
        let more = if end < raw.len() {
            format!(" ... ({} bytes)", raw.len())
        } else {
            String::new()
        };
        self.lines.push(format!(
            "Error: {reason}. Row: {}{more}",
            text.escape_debug()
        ));
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Writes the log as `<dir>/<name>`.
    pub fn write(&self, dir: &Path, name: &str) -> std::io::Result<PathBuf> {
        std::fs::create_dir_all(dir)?;
        remove_old(dir);
        let mut text = self.lines.join("\n");
        text.push('\n');
        if self.omitted > 0 {
            text.push_str(&format!(
                "... {} more filtered rows are not shown (at most {MAX_LINES} are kept)\n",
                self.omitted
            ));
        }
        let path = dir.join(name);
        if let Err(e) = std::fs::write(&path, text) {
            // A full disk: no half-written log stays behind.
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
        Ok(path)
    }
}

fn remove_old(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let now = SystemTime::now();
    for e in entries.flatten() {
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| now.duration_since(t).ok())
            .is_some_and(|age| age > KEEP);
        if old && valid_name(&e.file_name().to_string_lossy()) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// A name this backend gives error logs: `error_log_` and then letters, digits, `_`.
pub fn valid_name(name: &str) -> bool {
    name.starts_with("error_log_")
        && name.len() <= 128
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A new log's name.
pub fn new_name(txn_id: i64) -> String {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("error_log_{}_{nanos:x}", txn_id.max(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_capped_and_names_checked() {
        let mut log = ErrorLog::default();
        for i in 0..MAX_LINES + 3 {
            log.push("bad", format!("row{i}").as_bytes());
        }
        log.push("long", &vec![b'x'; 5000]);
        let dir = tempfile::tempdir().expect("tempdir");
        let name = new_name(7);
        assert!(valid_name(&name), "{name}");
        let path = log.write(dir.path(), &name).expect("write");
        let text = std::fs::read_to_string(path).expect("read");
        assert_eq!(text.lines().count(), MAX_LINES + 1);
        assert!(text.starts_with("Error: bad. Row: row0\n"), "{text:.60}");
        assert!(text.ends_with("... 4 more filtered rows are not shown (at most 5000 are kept)\n"));
        for bad in [
            "../x",
            "error_log_../../etc",
            "error_log_a/b",
            "x",
            "error_log_a.b",
            "",
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
        let mut log = ErrorLog::default();
        log.push("long", &vec![b'y'; 5000]);
        log.push("tab", b"a\tb\xff");
        let path = log.write(dir.path(), "error_log_2").expect("write");
        let text = std::fs::read_to_string(path).expect("read");
        assert!(text.contains("... (5000 bytes)"), "{text:.100}");
        assert!(text.contains("Row: a\\tb\u{fffd}"), "{text}");
    }
}
