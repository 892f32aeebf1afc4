//! Child processes the bench starts: every PID goes to a pid file (so `bench/run.sh` can
//! stop them by PID if the bench dies) and every child is killed and reaped on drop.

use std::fs::File;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::path::PathBuf;
use std::process::Child;
use std::process::Command;
use std::process::Stdio;
use std::time::Instant;

use anyhow::Context;

/// One running server process.
pub struct Proc {
    /// A short name for messages, e.g. `etcd m1` or `fe 127.0.0.2`.
    pub name: String,
    /// Where its stdout and stderr go.
    pub log: PathBuf,
    child: Option<Child>,
}

impl Proc {
    /// Spawns `cmd` with stdout/stderr appended to `log` and records its PID in `pid_file`.
    pub fn spawn(
        name: &str,
        cmd: &mut Command,
        log: &Path,
        pid_file: &Path,
    ) -> anyhow::Result<Proc> {
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("open {}", log.display()))?;
        let err = out.try_clone()?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .with_context(|| format!("spawn {name}: {cmd:?}"))?;
        let mut pids = OpenOptions::new()
            .create(true)
            .append(true)
            .open(pid_file)
            .with_context(|| format!("open {}", pid_file.display()))?;
        writeln!(pids, "{}", child.id())?;
        Ok(Proc {
            name: name.to_string(),
            log: log.to_path_buf(),
            child: Some(child),
        })
    }

    /// The PID while the process runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// True while the process has not exited (an exited, unreaped child is a zombie).
    pub fn alive(&self) -> bool {
        let Some(pid) = self.pid() else {
            return false;
        };
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(stat) => stat
                .rfind(')')
                .and_then(|i| stat[i + 1..].split_whitespace().next())
                .is_some_and(|state| state != "Z" && state != "X"),
            Err(_) => false,
        }
    }

    /// Sends SIGKILL and returns the instant taken just before the signal; reaps the child.
    pub fn sigkill(&mut self) -> anyhow::Result<Instant> {
        let mut child = self
            .child
            .take()
            .with_context(|| format!("{} is not running", self.name))?;
        let at = Instant::now();
        child
            .kill()
            .with_context(|| format!("kill {}", self.name))?;
        let _ = child.wait();
        Ok(at)
    }

    /// The last `n` lines of the log, for error messages.
    pub fn log_tail(&self, n: usize) -> String {
        log_tail(&self.log, n)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The last `n` lines of a file.
pub fn log_tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Creates (truncates) the pid file.
pub fn init_pid_file(path: &Path) -> anyhow::Result<()> {
    File::create(path).with_context(|| format!("create {}", path.display()))?;
    Ok(())
}
