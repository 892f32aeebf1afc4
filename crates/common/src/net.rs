//! Addresses: `host:port` strings and the `priority_networks` choice of a node's address.
//!
//! A StarRocks node listens on, and advertises, exactly one IP. `priority_networks` is a
//! `;`-separated list of CIDRs; the node takes the first local address inside one of them (in
//! the order the CIDRs are written). Unlike StarRocks, which only warns, a node whose addresses
//! match none of the CIDRs refuses to start: advertising the wrong address splits a cluster in
//! ways that are hard to see.
//!
//! Loopback: every address of 127.0.0.0/8 is local on Linux even though only 127.0.0.1 is
//! assigned to `lo`, so a CIDR inside the loopback network selects its own first address. That
//! is what lets several nodes share one machine with the same ports (127.0.0.1, .2, .3, ...),
//! one "machine" per address, as the playground and the tests do.

use std::fmt;
use std::net::IpAddr;
use std::net::Ipv4Addr;

use crate::error::Error;
use crate::error::Result;

/// A `host:port` pair as written in `ALTER SYSTEM` statements and `--helper`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostPort {
    /// An IP address or host name.
    pub host: String,
    /// The TCP port.
    pub port: u16,
}

impl HostPort {
    /// Creates a pair.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        HostPort {
            host: host.into(),
            port,
        }
    }

    /// Parses `host:port`; the error explains what is wrong.
    pub fn parse(s: &str) -> Result<HostPort> {
        let s = s.trim();
        let Some((host, port)) = s.rsplit_once(':') else {
            return Err(Error::invalid(format!(
                "invalid address '{s}': expected host:port, e.g. 192.168.1.10:9010"
            )));
        };
        let host = host.trim();
        if host.is_empty() {
            return Err(Error::invalid(format!(
                "invalid address '{s}': the host is empty"
            )));
        }
        if host.contains(':') || host.contains(char::is_whitespace) {
            return Err(Error::invalid(format!(
                "invalid address '{s}': '{host}' is not a host name or IPv4 address"
            )));
        }
        if !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_')
        {
            return Err(Error::invalid(format!(
                "invalid address '{s}': '{host}' is not a host name or IPv4 address"
            )));
        }
        let port: u16 = match port.trim().parse::<u32>() {
            Ok(p) if (1..=65535).contains(&p) => p as u16,
            _ => {
                return Err(Error::invalid(format!(
                    "invalid address '{s}': '{port}' is not a port (1..65535)"
                )));
            }
        };
        Ok(HostPort::new(host, port))
    }
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// An IPv4 network in CIDR notation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    /// The network address (host bits cleared).
    pub network: Ipv4Addr,
    /// Prefix length, 0..=32.
    pub prefix: u8,
}

impl Cidr {
    /// Parses `a.b.c.d/n` (a bare address means /32).
    pub fn parse(s: &str) -> Result<Cidr> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, p),
            None => (s, "32"),
        };
        let addr: Ipv4Addr = addr.trim().parse().map_err(|_| {
            Error::invalid(format!(
                "invalid CIDR '{s}' in priority_networks: '{addr}' is not an IPv4 address"
            ))
        })?;
        let prefix: u8 = match prefix.trim().parse::<u8>() {
            Ok(p) if p <= 32 => p,
            _ => {
                return Err(Error::invalid(format!(
                    "invalid CIDR '{s}' in priority_networks: prefix must be 0..32"
                )));
            }
        };
        let mask = Self::mask(prefix);
        Ok(Cidr {
            network: Ipv4Addr::from(u32::from(addr) & mask),
            prefix,
        })
    }

    fn mask(prefix: u8) -> u32 {
        if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(prefix))
        }
    }

    /// Whether `ip` is inside this network.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & Self::mask(self.prefix) == u32::from(self.network)
    }

    /// Whether this whole network lies inside `other`.
    pub fn is_within(&self, other: &Cidr) -> bool {
        self.prefix >= other.prefix && other.contains(self.network)
    }

    /// The first usable address: the network address itself for /31 and /32, else network+1.
    pub fn first_host(&self) -> Ipv4Addr {
        if self.prefix >= 31 {
            self.network
        } else {
            Ipv4Addr::from(u32::from(self.network) + 1)
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// Parses a `priority_networks` value: CIDRs separated by `;` (`,` also accepted).
pub fn parse_cidr_list(s: &str) -> Result<Vec<Cidr>> {
    s.split([';', ','])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(Cidr::parse)
        .collect()
}

/// One IPv4 address of a local interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalAddr {
    /// The interface name.
    pub interface: String,
    /// The address.
    pub ip: Ipv4Addr,
    /// Whether it is a loopback interface.
    pub is_loopback: bool,
}

/// Lists this machine's IPv4 interface addresses.
pub fn local_ipv4_addrs() -> Result<Vec<LocalAddr>> {
    let ifaces =
        if_addrs::get_if_addrs().map_err(|e| Error::io("list the network interfaces", e))?;
    Ok(ifaces
        .into_iter()
        .filter_map(|i| match i.ip() {
            IpAddr::V4(ip) => Some(LocalAddr {
                is_loopback: i.is_loopback(),
                interface: i.name,
                ip,
            }),
            IpAddr::V6(_) => None,
        })
        .collect())
}

/// Chooses the address a node advertises and listens on.
///
/// `pinned` (`frontend_address`) wins when set. Otherwise the first address (in CIDR order)
/// inside `priority_networks`; with no CIDRs, the first non-loopback IPv4 address, or
/// 127.0.0.1 when there is none.
pub fn choose_address(
    priority_networks: &str,
    pinned: &str,
    locals: &[LocalAddr],
) -> Result<Ipv4Addr> {
    if !pinned.trim().is_empty() {
        return pinned.trim().parse().map_err(|_| {
            Error::invalid(format!(
                "frontend_address '{pinned}' is not an IPv4 address"
            ))
        });
    }
    let cidrs = parse_cidr_list(priority_networks)?;
    if cidrs.is_empty() {
        return Ok(locals
            .iter()
            .find(|a| !a.is_loopback)
            .map(|a| a.ip)
            .unwrap_or(Ipv4Addr::LOCALHOST));
    }
    let loopback_net = Cidr {
        network: Ipv4Addr::new(127, 0, 0, 0),
        prefix: 8,
    };
    let has_loopback = locals.iter().any(|a| a.is_loopback);
    for cidr in &cidrs {
        if let Some(a) = locals.iter().find(|a| cidr.contains(a.ip)) {
            return Ok(a.ip);
        }
        if has_loopback && cidr.is_within(&loopback_net) {
            return Ok(cidr.first_host());
        }
    }
    let have: Vec<String> = locals
        .iter()
        .map(|a| format!("{} ({})", a.ip, a.interface))
        .collect();
    Err(Error::invalid(format!(
        "priority_networks = '{priority_networks}' matches none of this machine's addresses [{}]; \
         set it to a CIDR that contains the address other nodes should use",
        have.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn locals() -> Vec<LocalAddr> {
        vec![
            LocalAddr {
                interface: "lo".into(),
                ip: Ipv4Addr::LOCALHOST,
                is_loopback: true,
            },
            LocalAddr {
                interface: "docker0".into(),
                ip: Ipv4Addr::new(172, 17, 0, 1),
                is_loopback: false,
            },
            LocalAddr {
                interface: "eth0".into(),
                ip: Ipv4Addr::new(192, 168, 1, 7),
                is_loopback: false,
            },
        ]
    }

    #[test]
    fn host_port_parses_and_explains() {
        assert_eq!(
            HostPort::parse(" 127.0.0.2:9010 ").expect("ok"),
            HostPort::new("127.0.0.2", 9010)
        );
        for bad in ["127.0.0.2", ":9010", "h:0", "h:70000", "h:x", "a b:1", "h:"] {
            let err = HostPort::parse(bad).expect_err(bad);
            assert!(
                err.message.contains("invalid address"),
                "{bad}: {}",
                err.message
            );
        }
    }

    #[test]
    fn cidr_parsing() {
        let c = Cidr::parse("192.168.1.77/24").expect("ok");
        assert_eq!(c.to_string(), "192.168.1.0/24");
        assert!(c.contains(Ipv4Addr::new(192, 168, 1, 200)));
        assert!(!c.contains(Ipv4Addr::new(192, 168, 2, 1)));
        assert!(Cidr::parse("1.2.3.4/33").is_err());
        assert!(Cidr::parse("1.2.3/8").is_err());
        assert_eq!(
            parse_cidr_list("10.0.0.0/8; 192.168.0.0/16")
                .expect("ok")
                .len(),
            2
        );
        assert_eq!(parse_cidr_list("").expect("ok").len(), 0);
    }

    #[test]
    fn chooses_by_priority_networks() {
        let l = locals();
        assert_eq!(
            choose_address("192.168.1.0/24", "", &l).expect("ok"),
            Ipv4Addr::new(192, 168, 1, 7)
        );
        // CIDR order decides, not interface order.
        assert_eq!(
            choose_address("192.168.0.0/16;172.17.0.0/16", "", &l).expect("ok"),
            Ipv4Addr::new(192, 168, 1, 7)
        );
        assert_eq!(
            choose_address("", "", &l).expect("ok"),
            Ipv4Addr::new(172, 17, 0, 1)
        );
        assert_eq!(
            choose_address("", "10.1.1.1", &l).expect("ok"),
            Ipv4Addr::new(10, 1, 1, 1)
        );
    }

    #[test]
    fn loopback_cidr_selects_its_own_address() {
        let l = locals();
        assert_eq!(
            choose_address("127.0.0.3/32", "", &l).expect("ok"),
            Ipv4Addr::new(127, 0, 0, 3)
        );
        assert_eq!(
            choose_address("127.0.0.0/8", "", &l).expect("ok"),
            Ipv4Addr::LOCALHOST
        );
    }

    #[test]
    fn no_match_refuses_with_the_addresses_it_has() {
        let err = choose_address("10.9.0.0/16", "", &locals()).expect_err("no match");
        assert!(err.message.contains("matches none"), "{}", err.message);
        assert!(
            err.message.contains("192.168.1.7 (eth0)"),
            "{}",
            err.message
        );
    }
}
