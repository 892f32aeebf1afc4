//! CPU accounting from /proc: how much CPU the systems under test, the bench client and
//! everything else ("foreign" load) used during a measurement window, in % of one core.
//!
//! Per-process figures (utime + stime of every /proc/<pid>/stat, kernel threads included):
//! a process that started inside the window counts in full, one that exited inside it is not
//! seen. A run whose foreign load exceeds [`FOREIGN_LIMIT_PCT`] is flagged as disturbed.

use std::collections::HashMap;
use std::collections::HashSet;
use std::sync::OnceLock;
use std::time::Instant;

/// Above this much foreign CPU (% of one core) a figure is flagged as taken under load.
pub const FOREIGN_LIMIT_PCT: f64 = 10.0;

/// CPU ticks of every process at one instant.
#[derive(Clone, Debug)]
pub struct Snapshot {
    at: Instant,
    ticks: HashMap<u32, u64>,
}

/// CPU used during a window, in % of one core.
#[derive(Clone, Copy, Debug, Default)]
pub struct Usage {
    /// Processes that are neither the systems under test nor the bench client.
    pub foreign_pct: f64,
    /// The systems under test (all their server processes).
    pub servers_pct: f64,
    /// The bench process itself (load generator).
    pub client_pct: f64,
}

impl Usage {
    /// True when the foreign load was above the limit.
    pub fn disturbed(&self) -> bool {
        self.foreign_pct > FOREIGN_LIMIT_PCT
    }

    /// Field-wise maximum (for a summary over several windows).
    pub fn max(self, o: Usage) -> Usage {
        Usage {
            foreign_pct: self.foreign_pct.max(o.foreign_pct),
            servers_pct: self.servers_pct.max(o.servers_pct),
            client_pct: self.client_pct.max(o.client_pct),
        }
    }
}

fn clk_tck() -> f64 {
    static TCK: OnceLock<f64> = OnceLock::new();
    *TCK.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|v| *v > 0.0)
            .unwrap_or(100.0)
    })
}

fn proc_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain spaces: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state); utime is field 14, stime field 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Reads every process's CPU ticks.
pub fn snapshot() -> Snapshot {
    let mut ticks = HashMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some(t) = proc_ticks(pid) {
                ticks.insert(pid, t);
            }
        }
    }
    Snapshot {
        at: Instant::now(),
        ticks,
    }
}

/// CPU used between `a` and `b`; `servers` are the PIDs of the systems under test (any PID
/// that belonged to them during the window). The bench process is the client.
pub fn usage(a: &Snapshot, b: &Snapshot, servers: &HashSet<u32>) -> Usage {
    let secs = b.at.duration_since(a.at).as_secs_f64().max(1e-6);
    let me = std::process::id();
    let (mut foreign, mut srv, mut client) = (0u64, 0u64, 0u64);
    for (pid, &t1) in &b.ticks {
        let t0 = a.ticks.get(pid).copied().unwrap_or(0);
        let d = t1.saturating_sub(t0);
        if *pid == me {
            client += d;
        } else if servers.contains(pid) {
            srv += d;
        } else {
            foreign += d;
        }
    }
    let pct = |ticks: u64| ticks as f64 / clk_tck() / secs * 100.0;
    Usage {
        foreign_pct: pct(foreign),
        servers_pct: pct(srv),
        client_pct: pct(client),
    }
}

/// The 1-minute load average.
pub fn loadavg1() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(f64::NAN)
}
