//! The nemesis: faults injected into a running cluster, each undone by [`Nemesis::recover`].

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use rand::Rng;
use rand::rngs::StdRng;

use crate::Cluster;
use crate::HTTP_PORT;
use crate::http_get;
use crate::http_request;

/// A kind of fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    /// The hosts split into two random halves.
    PartitionHalves,
    /// The leader FE cut off from every other host.
    IsolateLeader,
    /// Packets from one FE to another (the leader, half the time) dropped, the other way
    /// delivered.
    OneWay,
    /// Two groups that cannot talk, and one FE that talks to both.
    Bridge,
    /// `kill -9` of a frontend (the leader, half the time), restarted at recovery.
    KillFe,
    /// `kill -9` of a backend, restarted at recovery.
    KillBe,
    /// SIGSTOP of the leader FE, SIGCONT at recovery.
    PauseLeader,
    /// SIGSTOP of a backend, SIGCONT at recovery.
    PauseBe,
    /// A frontend's or backend's clock moved by up to ±30 s while it runs.
    ClockSkew,
    /// A backend's storage filled to the last byte.
    DiskFull,
    /// A membership change: a frontend other than the leader dropped (and added back, with a
    /// wiped meta_dir, at recovery), or a backend decommissioned (its decommission cancelled
    /// at recovery, or, once it was dropped, the backend added back with empty storage).
    Membership,
}

impl Fault {
    /// Every fault.
    pub const ALL: [Fault; 11] = [
        Fault::PartitionHalves,
        Fault::IsolateLeader,
        Fault::OneWay,
        Fault::Bridge,
        Fault::KillFe,
        Fault::KillBe,
        Fault::PauseLeader,
        Fault::PauseBe,
        Fault::ClockSkew,
        Fault::DiskFull,
        Fault::Membership,
    ];

    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Fault::PartitionHalves => "partition-halves",
            Fault::IsolateLeader => "isolate-leader",
            Fault::OneWay => "one-way",
            Fault::Bridge => "bridge",
            Fault::KillFe => "kill-fe",
            Fault::KillBe => "kill-be",
            Fault::PauseLeader => "pause-leader",
            Fault::PauseBe => "pause-be",
            Fault::ClockSkew => "clock-skew",
            Fault::DiskFull => "disk-full",
            Fault::Membership => "membership",
        }
    }
}

/// The nemesis: what it broke, so that [`Nemesis::recover`] can undo it.
pub struct Nemesis {
    /// Frontends (ids) and backends.
    pub frontends: Vec<u8>,
    /// Backends.
    pub backends: Vec<u8>,
    killed_fe: BTreeSet<u8>,
    killed_be: BTreeSet<u8>,
    paused_fe: BTreeSet<u8>,
    paused_be: BTreeSet<u8>,
    /// Nodes whose clock was moved: (address, HTTP port).
    skewed: BTreeSet<(String, u16)>,
    fillers: Vec<PathBuf>,
    /// Frontends dropped from the cluster (to add back), with their role.
    dropped_fe: Vec<(u8, &'static str)>,
    /// Backends being decommissioned.
    decommissioned: BTreeSet<u8>,
    /// How many frontends are followers (the rest are observers).
    followers: u8,
}

impl Nemesis {
    /// A nemesis for frontends `1..=frontends` (the first `followers` of them followers) and
    /// backends `1..=backends`.
    pub fn new(frontends: u8, followers: u8, backends: u8) -> Nemesis {
        Nemesis {
            frontends: (1..=frontends).collect(),
            backends: (1..=backends).collect(),
            killed_fe: BTreeSet::new(),
            killed_be: BTreeSet::new(),
            paused_fe: BTreeSet::new(),
            paused_be: BTreeSet::new(),
            skewed: BTreeSet::new(),
            fillers: Vec::new(),
            dropped_fe: Vec::new(),
            decommissioned: BTreeSet::new(),
            followers,
        }
    }

    /// Runs `sql` on any frontend that answers, for up to 30 s; `Err` with the last error.
    fn admin(&self, c: &Cluster, sql: &str) -> Result<(), String> {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let mut last = String::new();
        while std::time::Instant::now() < deadline {
            for &i in &self.frontends {
                if self.dropped_fe.iter().any(|(d, _)| *d == i) {
                    continue;
                }
                match c.sql(i, sql) {
                    Ok(_) => return Ok(()),
                    // A refusal (not a lost connection) is final.
                    Err(e) if e.code != 0 && !e.message.contains("leader") => {
                        return Err(e.to_string());
                    }
                    Err(e) => last = e.to_string(),
                }
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        Err(last)
    }

    /// The frontend that says it leads, if one answers.
    pub fn leader(&self, c: &Cluster) -> Option<u8> {
        self.frontends.iter().copied().find(|&i| {
            http_get(
                &c.fe_ip(i),
                HTTP_PORT,
                "/api/health",
                Duration::from_millis(500),
            )
            .and_then(|(_, body)| serde_json::from_str::<serde_json::Value>(&body).ok())
            .is_some_and(|j| j["is_leader"] == true)
        })
    }

    fn hosts(&self) -> Vec<String> {
        self.frontends
            .iter()
            .map(|i| format!("fe{i}"))
            .chain(self.backends.iter().map(|i| format!("be{i}")))
            .collect()
    }

    /// Injects `fault`; returns what it did, for the log.
    pub fn inject(&mut self, c: &mut Cluster, fault: Fault, rng: &mut StdRng) -> String {
        let pick = |v: &[u8], rng: &mut StdRng| v[rng.random_range(0..v.len())];
        match fault {
            Fault::PartitionHalves => {
                let mut hosts = self.hosts();
                shuffle(&mut hosts, rng);
                let cut = rng.random_range(1..hosts.len());
                let (a, b) = hosts.split_at(cut);
                let groups = vec![a.to_vec(), b.to_vec()];
                c.net()
                    .partition(&groups)
                    .unwrap_or_else(|e| panic!("partition: {e}"));
                format!("partition {:?} | {:?}", groups[0], groups[1])
            }
            Fault::IsolateLeader => {
                let l = self.leader(c).unwrap_or_else(|| pick(&self.frontends, rng));
                c.net()
                    .isolate(&format!("fe{l}"))
                    .unwrap_or_else(|e| panic!("isolate: {e}"));
                format!("isolate fe{l} (leader)")
            }
            Fault::OneWay => {
                let from = if rng.random_bool(0.5) {
                    self.leader(c).unwrap_or_else(|| pick(&self.frontends, rng))
                } else {
                    pick(&self.frontends, rng)
                };
                let others: Vec<u8> = self
                    .frontends
                    .iter()
                    .copied()
                    .filter(|&i| i != from)
                    .collect();
                let mut blocked = Vec::new();
                for to in others {
                    if rng.random_bool(0.7) {
                        c.net()
                            .block(&format!("fe{from}"), &format!("fe{to}"))
                            .unwrap_or_else(|e| panic!("block: {e}"));
                        blocked.push(format!("fe{to}"));
                    }
                }
                format!("one-way: fe{from} -> {blocked:?} dropped")
            }
            Fault::Bridge => {
                let mut hosts = self.hosts();
                shuffle(&mut hosts, rng);
                let fes: Vec<String> = hosts
                    .iter()
                    .filter(|h| h.starts_with("fe"))
                    .cloned()
                    .collect();
                let bridge = fes[0].clone();
                let rest: Vec<String> = hosts.into_iter().filter(|h| *h != bridge).collect();
                let mid = rest.len() / 2;
                let groups = vec![rest[..mid].to_vec(), rest[mid..].to_vec()];
                c.net()
                    .partition(&groups)
                    .unwrap_or_else(|e| panic!("partition: {e}"));
                format!("bridge {bridge} between {:?} | {:?}", groups[0], groups[1])
            }
            Fault::KillFe => {
                let i = if rng.random_bool(0.5) {
                    self.leader(c).unwrap_or_else(|| pick(&self.frontends, rng))
                } else {
                    pick(&self.frontends, rng)
                };
                c.kill(i);
                self.killed_fe.insert(i);
                format!("kill -9 fe{i}")
            }
            Fault::KillBe => {
                let i = pick(&self.backends, rng);
                c.kill_be(i);
                self.killed_be.insert(i);
                format!("kill -9 be{i}")
            }
            Fault::PauseLeader => {
                let i = self.leader(c).unwrap_or_else(|| pick(&self.frontends, rng));
                c.signal(i, "STOP");
                self.paused_fe.insert(i);
                format!("SIGSTOP fe{i} (leader)")
            }
            Fault::PauseBe => {
                let i = pick(&self.backends, rng);
                if let Some(pid) = c.be_pid(i) {
                    let _ = std::process::Command::new("kill")
                        .args(["-STOP", &pid.to_string()])
                        .status();
                }
                self.paused_be.insert(i);
                format!("SIGSTOP be{i}")
            }
            Fault::ClockSkew => {
                let ms: i64 = rng.random_range(-30_000..=30_000);
                let (host, ip, port) = if rng.random_bool(0.5) {
                    let i = pick(&self.frontends, rng);
                    (format!("fe{i}"), c.fe_ip(i), HTTP_PORT)
                } else {
                    let i = pick(&self.backends, rng);
                    (format!("be{i}"), c.be_ip(i), crate::BE_HTTP_PORT)
                };
                set_clock(&ip, port, ms);
                self.skewed.insert((ip, port));
                format!("clock of {host} moved by {ms} ms")
            }
            Fault::DiskFull => {
                let i = pick(&self.backends, rng);
                let filler = c.be_dir(i).join("storage").join("chaos-filler");
                let written = fill(&filler);
                self.fillers.push(filler);
                format!("disk of be{i} filled ({} MiB)", written >> 20)
            }
            Fault::Membership => {
                if rng.random_bool(0.5) {
                    let leader = self.leader(c);
                    let candidates: Vec<u8> = self
                        .frontends
                        .iter()
                        .copied()
                        .filter(|&i| Some(i) != leader && i != 1)
                        .collect();
                    let i = pick(&candidates, rng);
                    let role = if i <= self.followers {
                        "FOLLOWER"
                    } else {
                        "OBSERVER"
                    };
                    let sql = format!("ALTER SYSTEM DROP {role} \"{}:9010\"", c.fe_ip(i));
                    match self.admin(c, &sql) {
                        Ok(()) => {
                            // A dropped frontend stops by itself; make sure, then wipe it.
                            let deadline = std::time::Instant::now() + Duration::from_secs(20);
                            while c.is_running(i) && std::time::Instant::now() < deadline {
                                std::thread::sleep(Duration::from_millis(100));
                            }
                            c.kill(i);
                            let _ = std::fs::remove_dir_all(c.node_dir(i).join("meta"));
                            self.dropped_fe.push((i, role));
                            format!("{sql} (meta_dir wiped)")
                        }
                        Err(e) => format!("{sql} refused: {e}"),
                    }
                } else {
                    let i = pick(&self.backends, rng);
                    let sql = format!("ALTER SYSTEM DECOMMISSION BACKEND \"{}:9050\"", c.be_ip(i));
                    match self.admin(c, &sql) {
                        Ok(()) => {
                            self.decommissioned.insert(i);
                            sql
                        }
                        Err(e) => format!("{sql} refused: {e}"),
                    }
                }
            }
        }
    }

    /// Undoes every fault: heals the network, resumes paused processes, restarts killed ones,
    /// resets clocks and frees the disks.
    pub fn recover(&mut self, c: &mut Cluster) {
        c.net().heal().unwrap_or_else(|e| panic!("heal: {e}"));
        for i in std::mem::take(&mut self.paused_fe) {
            c.signal(i, "CONT");
        }
        for i in std::mem::take(&mut self.paused_be) {
            if let Some(pid) = c.be_pid(i) {
                let _ = std::process::Command::new("kill")
                    .args(["-CONT", &pid.to_string()])
                    .status();
            }
        }
        for f in std::mem::take(&mut self.fillers) {
            let _ = std::fs::remove_file(f);
        }
        for (ip, port) in std::mem::take(&mut self.skewed) {
            set_clock(&ip, port, 0);
        }
        for i in std::mem::take(&mut self.killed_be) {
            c.start_be(i);
        }
        for i in std::mem::take(&mut self.killed_fe) {
            c.start_fe(i, None);
        }
        for i in std::mem::take(&mut self.decommissioned) {
            let addr = format!("\"{}:9050\"", c.be_ip(i));
            // Still in the cluster: cancel. Dropped already: add it back as a new, empty
            // backend (a replacement machine).
            let ip = c.be_ip(i);
            let listed = || {
                crate::wait_until(Duration::from_secs(60), "SHOW BACKENDS", || {
                    self.frontends.iter().find_map(|&f| {
                        let rows = c.sql(f, "SHOW BACKENDS").ok()?;
                        Some(rows.maps().iter().any(|m| m.get("IP") == Some(&ip)))
                    })
                })
            };
            let mut present = listed();
            if present
                && self
                    .admin(c, &format!("CANCEL DECOMMISSION BACKEND {addr}"))
                    .is_err()
            {
                // Refused: its decommission finished between the check and the cancel, and
                // the leader is dropping it. Wait until it is gone, then add it back.
                let deadline = std::time::Instant::now() + Duration::from_secs(60);
                while present && std::time::Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(300));
                    present = listed();
                }
            }
            if !present {
                c.kill_be(i);
                let storage = c.be_dir(i).join("storage");
                if let Ok(entries) = std::fs::read_dir(&storage) {
                    for e in entries.flatten() {
                        let p = e.path();
                        let _ = if p.is_dir() {
                            std::fs::remove_dir_all(&p)
                        } else {
                            std::fs::remove_file(&p)
                        };
                    }
                }
                c.start_be(i);
                if let Err(e) = self.admin(c, &format!("ALTER SYSTEM ADD BACKEND {addr}")) {
                    panic!("cannot add backend {i} back: {e}");
                }
            }
        }
        for (i, role) in std::mem::take(&mut self.dropped_fe) {
            let sql = format!("ALTER SYSTEM ADD {role} \"{}:9010\"", c.fe_ip(i));
            if let Err(e) = self.admin(c, &sql) {
                panic!("cannot add frontend {i} back: {e}");
            }
            let helper = self.leader(c).unwrap_or(1);
            c.start_fe(i, Some(helper));
        }
    }
}

fn set_clock(ip: &str, port: u16, ms: i64) {
    // A node that does not answer (paused, killed) keeps its clock (a restart resets it).
    let _ = http_request(
        "POST",
        ip,
        port,
        &format!("/api/_debug/clock_offset?ms={ms}"),
        Duration::from_secs(2),
    );
}

/// Writes zeros to `path` until the file system is full; returns the bytes written.
fn fill(path: &PathBuf) -> u64 {
    let Ok(mut f) = std::fs::File::create(path) else {
        return 0;
    };
    let chunk = vec![0u8; 1 << 20];
    let mut written = 0u64;
    while f.write_all(&chunk).is_ok() {
        written += chunk.len() as u64;
    }
    // The last partial chunk: fill the remaining bytes one KiB at a time.
    let small = vec![0u8; 1024];
    while f.write_all(&small).is_ok() {
        written += small.len() as u64;
    }
    written
}

fn shuffle<T>(v: &mut [T], rng: &mut StdRng) {
    for i in (1..v.len()).rev() {
        let j = rng.random_range(0..=i);
        v.swap(i, j);
    }
}
