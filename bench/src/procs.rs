//! Child processes the bench starts: every PID goes to a pid file (so `bench/run.sh` can
//! stop them by PID if the bench dies) and every child is killed and reaped on drop.

use std::fs::File;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::path::PathBuf;
use std::process::Child;
use std::process::ChildStdin;
use std::process::ChildStdout;
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
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err));
        Self::spawn_cmd(name, cmd, log, pid_file)
    }

    /// Spawns `cmd` with its stdin and stdout piped to us (stderr appended to `log`) and
    /// records its PID in `pid_file`: for a helper process driven over its stdin.
    pub fn spawn_piped(
        name: &str,
        cmd: &mut Command,
        log: &Path,
        pid_file: &Path,
    ) -> anyhow::Result<(Proc, ChildStdin, ChildStdout)> {
        let err = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("open {}", log.display()))?;
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(err));
        let mut p = Self::spawn_cmd(name, cmd, log, pid_file)?;
        let child = p.child.as_mut().context("no child")?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            anyhow::bail!("{name}: no stdin/stdout pipe");
        };
        Ok((p, stdin, stdout))
    }

    fn spawn_cmd(
        name: &str,
        cmd: &mut Command,
        log: &Path,
        pid_file: &Path,
    ) -> anyhow::Result<Proc> {
        let child = cmd
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

    /// Waits (polling) until the process exits, at most `timeout`; SIGKILLs it then.
    pub fn wait(
        &mut self,
        timeout: std::time::Duration,
    ) -> anyhow::Result<std::process::ExitStatus> {
        let child = self
            .child
            .as_mut()
            .with_context(|| format!("{} is not running", self.name))?;
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(st) = child.try_wait()? {
                self.child = None;
                return Ok(st);
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                self.child = None;
                anyhow::bail!("{} still ran after {timeout:?}: killed", self.name);
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
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

/// Resident memory of a process from `/proc/<pid>/status`, in KiB.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mem {
    /// `VmRSS`: resident now.
    pub rss_kb: u64,
    /// `VmHWM`: the largest resident size over the process's lifetime.
    pub hwm_kb: u64,
}

/// `VmRSS` and `VmHWM` of `pid`, if it runs.
pub fn mem(pid: u32) -> Option<Mem> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
    };
    Some(Mem {
        rss_kb: field("VmRSS:")?,
        hwm_kb: field("VmHWM:")?,
    })
}

/// Samples `VmRSS` of some processes on its own thread until stopped: the peak during a
/// window, whatever the processes did before it (unlike `VmHWM`).
pub struct RssSampler {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<Vec<(u32, u64)>>,
}

impl RssSampler {
    /// Starts sampling `pids` every `every`.
    pub fn start(pids: Vec<u32>, every: std::time::Duration) -> RssSampler {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut peak: Vec<(u32, u64)> = pids.iter().map(|&p| (p, 0)).collect();
            loop {
                for (pid, max) in peak.iter_mut() {
                    if let Some(m) = mem(*pid) {
                        *max = (*max).max(m.rss_kb);
                    }
                }
                if flag.load(std::sync::atomic::Ordering::Relaxed) {
                    return peak;
                }
                std::thread::sleep(every);
            }
        });
        RssSampler { stop, thread }
    }

    /// Stops (after one last sample) and returns the peak `VmRSS` (KiB) of each PID.
    pub fn finish(self) -> Vec<(u32, u64)> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}
