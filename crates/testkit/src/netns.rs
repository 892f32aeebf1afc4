//! Test hosts in network namespaces: one namespace per node, joined by a bridge with no
//! uplink, and faults on the links between them (partitions, one-way loss) with nftables.
//!
//! Layout (all names start with `tsr-`, so a crashed run's leftovers are recognised and removed):
//! - `tsr-br` holds the bridge `br0` (address `.254`): the clients' side. A test thread that
//!   calls [`Net::enter_clients`] makes its sockets, and the processes it starts, live there.
//! - `tsr-<host>` holds one node: `eth0` on the bridge with the node's address, and `lo`.
//!
//! Nothing here touches the machine's own network namespace: the veth pairs are created
//! directly inside the namespaces, and the addresses exist only inside them. Needs root
//! (`ip netns`), Debian's `iproute2` and `nftables`.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::process::Command;
use std::process::Stdio;

/// The first three octets of the hosts' addresses inside the namespaces.
pub const SUBNET: &str = "10.213.0";
/// The clients' address (on the bridge).
pub const CLIENT_OCTET: u8 = 254;
const PREFIX: &str = "tsr-";
const BRIDGE_NS: &str = "tsr-br";

/// Runs a command, returning its stderr as the error when it fails.
fn run(args: &[&str]) -> Result<String, String> {
    run_with_input(args, None)
}

fn run_with_input(args: &[&str], input: Option<&str>) -> Result<String, String> {
    let mut cmd = Command::new(args[0]);
    cmd.args(&args[1..])
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", args[0]))?;
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin
            .write_all(text.as_bytes())
            .map_err(|e| format!("cannot write to {}: {e}", args[0]))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("{} failed: {e}", args[0]))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "`{}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Why namespaces cannot be used here, or `None` when they can.
pub fn unavailable() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    #[allow(unsafe_code)]
    let uid = unsafe { libc::geteuid() };
    if uid != 0 {
        return Some("network namespaces need root".into());
    }
    for tool in ["ip", "nft"] {
        if run(&["sh", "-c", &format!("command -v {tool}")]).is_err() {
            return Some(format!(
                "`{tool}` is missing (apt-get install iproute2 nftables)"
            ));
        }
    }
    None
}

/// Kills every process in a namespace and deletes it.
fn remove_namespace(name: &str) {
    if let Ok(pids) = run(&["ip", "netns", "pids", name]) {
        for pid in pids.split_whitespace() {
            let _ = run(&["kill", "-KILL", pid]);
        }
    }
    let _ = run(&["ip", "netns", "delete", name]);
}

/// Removes the namespaces a crashed earlier run left behind.
pub fn remove_leftovers() {
    if let Ok(list) = run(&["ip", "netns", "list"]) {
        for line in list.lines() {
            if let Some(name) = line.split_whitespace().next()
                && name.starts_with(PREFIX)
            {
                remove_namespace(name);
            }
        }
    }
}

/// The test network: a bridge namespace and one namespace per host.
pub struct Net {
    /// Host name (e.g. `fe1`) → last octet of its address.
    hosts: BTreeMap<String, u8>,
    /// Blocked directions: packets from the first host are dropped on arrival at the second.
    blocked: BTreeSet<(String, String)>,
    /// The namespace the creating thread was in, to go back to on drop.
    original: Option<File>,
}

impl Net {
    /// Creates the bridge and one namespace per `(host, octet)`; removes leftovers first.
    pub fn create(hosts: &[(&str, u8)]) -> Result<Net, String> {
        if let Some(why) = unavailable() {
            return Err(why);
        }
        remove_leftovers();
        let mut net = Net {
            hosts: BTreeMap::new(),
            blocked: BTreeSet::new(),
            original: None,
        };
        run(&["ip", "netns", "add", BRIDGE_NS])?;
        run(&["ip", "-n", BRIDGE_NS, "link", "set", "lo", "up"])?;
        run(&[
            "ip", "-n", BRIDGE_NS, "link", "add", "br0", "type", "bridge",
        ])?;
        run(&[
            "ip",
            "-n",
            BRIDGE_NS,
            "addr",
            "add",
            &format!("{SUBNET}.{CLIENT_OCTET}/24"),
            "dev",
            "br0",
        ])?;
        run(&["ip", "-n", BRIDGE_NS, "link", "set", "br0", "up"])?;
        for (host, octet) in hosts {
            net.add_host(host, *octet)?;
        }
        Ok(net)
    }

    fn add_host(&mut self, host: &str, octet: u8) -> Result<(), String> {
        let ns = format!("{PREFIX}{host}");
        let veth = format!("v-{host}");
        run(&["ip", "netns", "add", &ns])?;
        run(&["ip", "-n", &ns, "link", "set", "lo", "up"])?;
        run(&[
            "ip", "-n", BRIDGE_NS, "link", "add", &veth, "type", "veth", "peer", "name", "eth0",
            "netns", &ns,
        ])?;
        run(&["ip", "-n", BRIDGE_NS, "link", "set", &veth, "master", "br0"])?;
        run(&["ip", "-n", BRIDGE_NS, "link", "set", &veth, "up"])?;
        run(&[
            "ip",
            "-n",
            &ns,
            "addr",
            "add",
            &format!("{SUBNET}.{octet}/24"),
            "dev",
            "eth0",
        ])?;
        run(&["ip", "-n", &ns, "link", "set", "eth0", "up"])?;
        self.hosts.insert(host.to_string(), octet);
        Ok(())
    }

    /// The address of `host`.
    pub fn addr(&self, host: &str) -> String {
        let octet = self
            .hosts
            .get(host)
            .unwrap_or_else(|| panic!("no host {host} in the test network"));
        format!("{SUBNET}.{octet}")
    }

    /// The hosts, by name.
    pub fn hosts(&self) -> Vec<String> {
        self.hosts.keys().cloned().collect()
    }

    /// The namespace file of `host`, for `setns` (e.g. in a child's `pre_exec`).
    pub fn namespace_file(&self, host: &str) -> Result<File, String> {
        let path = format!("/run/netns/{PREFIX}{host}");
        File::open(&path).map_err(|e| format!("cannot open {path}: {e}"))
    }

    /// Moves the calling thread (and the threads and processes it starts afterwards) into the
    /// clients' namespace; the thread goes back where it was when the `Net` is dropped.
    pub fn enter_clients(&mut self) -> Result<(), String> {
        if self.original.is_none() {
            self.original = Some(
                File::open("/proc/thread-self/ns/net")
                    .map_err(|e| format!("cannot open this thread's namespace: {e}"))?,
            );
        }
        let path = format!("/run/netns/{BRIDGE_NS}");
        let f = File::open(&path).map_err(|e| format!("cannot open {path}: {e}"))?;
        setns(&f)
    }

    /// Drops packets from `from` arriving at `to` (one direction only).
    pub fn block(&mut self, from: &str, to: &str) -> Result<(), String> {
        self.blocked.insert((from.to_string(), to.to_string()));
        self.apply(to)
    }

    /// Cuts every link between the groups (both directions); hosts in no group keep theirs.
    pub fn partition(&mut self, groups: &[Vec<String>]) -> Result<(), String> {
        let mut touched = BTreeSet::new();
        for (gi, a) in groups.iter().enumerate() {
            for (gj, b) in groups.iter().enumerate() {
                if gi == gj {
                    continue;
                }
                for x in a {
                    for y in b {
                        self.blocked.insert((x.clone(), y.clone()));
                        touched.insert(y.clone());
                    }
                }
            }
        }
        for h in touched {
            self.apply(&h)?;
        }
        Ok(())
    }

    /// Cuts `host` off from every other host (the clients still reach it).
    pub fn isolate(&mut self, host: &str) -> Result<(), String> {
        let others: Vec<String> = self.hosts.keys().filter(|h| *h != host).cloned().collect();
        self.partition(&[vec![host.to_string()], others])
    }

    /// Restores every link.
    pub fn heal(&mut self) -> Result<(), String> {
        let touched: BTreeSet<String> = self.blocked.iter().map(|(_, to)| to.clone()).collect();
        self.blocked.clear();
        for h in touched {
            self.apply(&h)?;
        }
        Ok(())
    }

    /// The blocked directions, as `from->to`.
    pub fn blocked(&self) -> Vec<String> {
        self.blocked
            .iter()
            .map(|(a, b)| format!("{a}->{b}"))
            .collect()
    }

    /// Rewrites `host`'s input filter from the blocked set.
    fn apply(&self, host: &str) -> Result<(), String> {
        let sources: Vec<String> = self
            .blocked
            .iter()
            .filter(|(_, to)| to == host)
            .map(|(from, _)| self.addr(from))
            .collect();
        let mut rules = String::from("flush ruleset\n");
        if !sources.is_empty() {
            rules.push_str(&format!(
                "table inet tessera {{\n  chain input {{\n    type filter hook input priority 0; \
                 policy accept;\n    ip saddr {{ {} }} drop\n  }}\n}}\n",
                sources.join(", ")
            ));
        }
        let ns = format!("{PREFIX}{host}");
        run_with_input(
            &["ip", "netns", "exec", &ns, "nft", "-f", "-"],
            Some(&rules),
        )
        .map(|_| ())
    }
}

/// `setns(fd, CLONE_NEWNET)` for the calling thread.
pub fn setns(f: &File) -> Result<(), String> {
    // SAFETY: the fd is a valid open namespace file for the duration of the call; setns only
    // changes the calling thread's network namespace.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc != 0 {
        return Err(format!("setns failed: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

impl Drop for Net {
    fn drop(&mut self) {
        if let Some(f) = self.original.take() {
            let _ = setns(&f);
        }
        for host in self.hosts.keys() {
            remove_namespace(&format!("{PREFIX}{host}"));
        }
        remove_namespace(BRIDGE_NS);
    }
}
