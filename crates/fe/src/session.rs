//! A client session: its user, database, variables and the journal id it has seen.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use common::Error;
use common::Result;
use common::StatusCode;

/// How reads on this session are ordered against writes (Tessera's `read_consistency`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadConsistency {
    /// Read-your-writes on this session (StarRocks's behaviour): a read waits until this FE
    /// has replayed the session's last write.
    Session,
    /// Linearizable: a read waits for the leader's read index, so it sees every write
    /// acknowledged anywhere before it started.
    Linearizable,
}

/// Most distinct join keys `runtime_join_filter_push_down_limit` may allow.
pub const MAX_RUNTIME_FILTER_KEYS: u64 = 10_000_000;

/// One session variable's definition.
pub struct VarDef {
    /// Name.
    pub name: &'static str,
    /// Default value.
    pub default: &'static str,
    /// Whether the value is numeric (affects how SELECT @@x answers).
    pub numeric: bool,
}

/// The session variables Tessera knows, with StarRocks's defaults. Clients ask for many of
/// them on connect.
pub const VARIABLES: &[VarDef] = &[
    VarDef {
        name: "auto_increment_increment",
        default: "1",
        numeric: true,
    },
    VarDef {
        name: "autocommit",
        default: "1",
        numeric: true,
    },
    VarDef {
        name: "character_set_client",
        default: "utf8",
        numeric: false,
    },
    VarDef {
        name: "character_set_connection",
        default: "utf8",
        numeric: false,
    },
    VarDef {
        name: "character_set_database",
        default: "utf8",
        numeric: false,
    },
    VarDef {
        name: "character_set_results",
        default: "utf8",
        numeric: false,
    },
    VarDef {
        name: "character_set_server",
        default: "utf8",
        numeric: false,
    },
    VarDef {
        name: "collation_connection",
        default: "utf8_general_ci",
        numeric: false,
    },
    VarDef {
        name: "collation_database",
        default: "utf8_general_ci",
        numeric: false,
    },
    VarDef {
        name: "collation_server",
        default: "utf8_general_ci",
        numeric: false,
    },
    VarDef {
        name: "exec_mem_limit",
        default: "2147483648",
        numeric: true,
    },
    VarDef {
        name: "forward_to_leader",
        default: "false",
        numeric: false,
    },
    VarDef {
        name: "init_connect",
        default: "",
        numeric: false,
    },
    VarDef {
        name: "interactive_timeout",
        default: "3600",
        numeric: true,
    },
    VarDef {
        name: "language",
        default: "/tessera/share/english/",
        numeric: false,
    },
    VarDef {
        name: "license",
        default: "Apache License 2.0",
        numeric: false,
    },
    VarDef {
        name: "lower_case_table_names",
        default: "0",
        numeric: true,
    },
    VarDef {
        name: "max_allowed_packet",
        default: "33554432",
        numeric: true,
    },
    VarDef {
        name: "net_buffer_length",
        default: "16384",
        numeric: true,
    },
    VarDef {
        name: "net_read_timeout",
        default: "60",
        numeric: true,
    },
    VarDef {
        name: "net_write_timeout",
        default: "60",
        numeric: true,
    },
    VarDef {
        name: "performance_schema",
        default: "0",
        numeric: true,
    },
    VarDef {
        name: "query_cache_size",
        default: "0",
        numeric: true,
    },
    VarDef {
        name: "query_cache_type",
        default: "0",
        numeric: true,
    },
    VarDef {
        name: "query_mem_limit",
        default: "0",
        numeric: true,
    },
    VarDef {
        name: "query_timeout",
        default: "300",
        numeric: true,
    },
    VarDef {
        name: "read_consistency",
        default: "session",
        numeric: false,
    },
    VarDef {
        name: "runtime_join_filter_push_down_limit",
        default: "20000",
        numeric: true,
    },
    VarDef {
        name: "sql_mode",
        default: "ONLY_FULL_GROUP_BY",
        numeric: false,
    },
    VarDef {
        name: "sql_safe_updates",
        default: "0",
        numeric: true,
    },
    VarDef {
        name: "sql_select_limit",
        default: "18446744073709551615",
        numeric: true,
    },
    VarDef {
        name: "system_time_zone",
        default: "UTC",
        numeric: false,
    },
    VarDef {
        name: "time_zone",
        default: "UTC",
        numeric: false,
    },
    VarDef {
        name: "transaction_isolation",
        default: "REPEATABLE-READ",
        numeric: false,
    },
    VarDef {
        name: "transaction_read_only",
        default: "0",
        numeric: true,
    },
    VarDef {
        name: "tx_isolation",
        default: "REPEATABLE-READ",
        numeric: false,
    },
    VarDef {
        name: "tx_read_only",
        default: "0",
        numeric: true,
    },
    VarDef {
        name: "version",
        default: "",
        numeric: false,
    },
    VarDef {
        name: "version_comment",
        default: "",
        numeric: false,
    },
    VarDef {
        name: "wait_timeout",
        default: "28800",
        numeric: true,
    },
];

/// Looks up a variable definition (case-insensitive).
pub fn var_def(name: &str) -> Option<&'static VarDef> {
    let lower = name.to_ascii_lowercase();
    VARIABLES.iter().find(|v| v.name == lower)
}

/// A client session.
#[derive(Clone, Debug)]
pub struct Session {
    /// The MySQL connection id.
    pub connection_id: u32,
    /// The authenticated user.
    pub user: String,
    /// The host pattern of the account the login matched (`'user'@'host'`).
    pub host: String,
    /// Where the client connected from.
    pub peer: Option<SocketAddr>,
    /// The current database.
    pub database: Option<String>,
    /// The highest journal id of a write this session made (or read, when linearizable).
    pub last_journal_id: u64,
    /// Session variables set by the client (lower-case names).
    pub vars: BTreeMap<String, String>,
    /// User variables (`SET @x = ...`), lower-case names without `@`.
    pub user_vars: BTreeMap<String, String>,
    /// The TLS session when the client connected with TLS (`Ssl_cipher`, `Ssl_version`).
    pub tls: Option<mysql::TlsSession>,
}

impl Session {
    /// A new session.
    pub fn new(connection_id: u32, user: &str, peer: Option<SocketAddr>) -> Self {
        Session {
            connection_id,
            user: user.to_string(),
            host: "%".to_string(),
            peer,
            database: None,
            last_journal_id: 0,
            vars: BTreeMap::new(),
            user_vars: BTreeMap::new(),
            tls: None,
        }
    }

    /// The value of a session variable (set value or default), if known.
    pub fn var(&self, name: &str) -> Option<String> {
        let lower = name.to_ascii_lowercase();
        if let Some(v) = self.vars.get(&lower) {
            return Some(v.clone());
        }
        var_def(&lower).map(|d| d.default.to_string())
    }

    /// Sets a session variable, validating the ones Tessera acts on.
    pub fn set_var(&mut self, name: &str, value: &str) -> Result<()> {
        let lower = name.to_ascii_lowercase();
        let Some(def) = var_def(&lower) else {
            return Err(Error::new(
                StatusCode::UnknownVariable,
                format!("Unknown system variable '{name}'"),
            ));
        };
        let value = match lower.as_str() {
            "read_consistency" => match value.to_ascii_lowercase().as_str() {
                "session" | "linearizable" => value.to_ascii_lowercase(),
                _ => {
                    return Err(Error::invalid(format!(
                        "Variable 'read_consistency' can't be set to the value of '{value}' \
                         (expected 'session' or 'linearizable')"
                    )));
                }
            },
            "exec_mem_limit" | "query_mem_limit" => match value.parse::<u64>() {
                Ok(v) if lower != "exec_mem_limit" || v >= 1024 * 1024 => v.to_string(),
                _ => {
                    return Err(Error::invalid(format!(
                        "Variable '{name}' can't be set to the value of '{value}' (bytes; \
                         exec_mem_limit at least 1048576, query_mem_limit 0 = use \
                         exec_mem_limit)"
                    )));
                }
            },
            "max_allowed_packet" => {
                return Err(Error::invalid(
                    "SESSION variable 'max_allowed_packet' is read-only: set max_allowed_packet \
                     in fe.conf or with ADMIN SET FRONTEND CONFIG (new connections take it)",
                ));
            }
            "query_timeout" => match value.parse::<u64>() {
                Ok(v) if (1..=259_200).contains(&v) => v.to_string(),
                _ => {
                    return Err(Error::invalid(format!(
                        "Variable 'query_timeout' can't be set to the value of '{value}' \
                         (seconds, 1..259200)"
                    )));
                }
            },
            "runtime_join_filter_push_down_limit" => match value.parse::<u64>() {
                Ok(v) if v <= MAX_RUNTIME_FILTER_KEYS => v.to_string(),
                _ => {
                    return Err(Error::invalid(format!(
                        "Variable 'runtime_join_filter_push_down_limit' can't be set to the \
                         value of '{value}' (distinct join keys, 0..{MAX_RUNTIME_FILTER_KEYS}; \
                         0 = send only their bounds)"
                    )));
                }
            },
            "autocommit" => match value.to_ascii_lowercase().as_str() {
                "1" | "on" | "true" => "1".to_string(),
                "0" | "off" | "false" => "0".to_string(),
                _ => {
                    return Err(Error::invalid(format!(
                        "Variable 'autocommit' can't be set to the value of '{value}'"
                    )));
                }
            },
            _ if def.numeric => {
                if value.parse::<i128>().is_err() {
                    return Err(Error::invalid(format!(
                        "Incorrect argument type to variable '{name}': '{value}' is not a number"
                    )));
                }
                value.to_string()
            }
            _ => value.to_string(),
        };
        self.vars.insert(lower, value);
        Ok(())
    }

    /// The session's read consistency.
    pub fn read_consistency(&self) -> ReadConsistency {
        match self.var("read_consistency").as_deref() {
            Some("linearizable") => ReadConsistency::Linearizable,
            _ => ReadConsistency::Session,
        }
    }

    /// The memory one query may use on this FE, in bytes: `query_mem_limit` if set (not 0),
    /// else `exec_mem_limit`.
    pub fn query_mem_limit(&self) -> u64 {
        let q = self
            .var("query_mem_limit")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0u64);
        if q > 0 {
            return q;
        }
        self.var("exec_mem_limit")
            .and_then(|v| v.parse().ok())
            .unwrap_or(2_147_483_648)
    }

    /// `runtime_join_filter_push_down_limit`: the most distinct keys a hash join sends to
    /// the backends scanning its probe side (more: only the keys' bounds).
    pub fn runtime_filter_max_keys(&self) -> usize {
        self.var("runtime_join_filter_push_down_limit")
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(20_000, |v| {
                usize::try_from(v.min(MAX_RUNTIME_FILTER_KEYS)).unwrap_or(0)
            })
    }

    /// `query_timeout` in seconds.
    pub fn query_timeout_secs(&self) -> u64 {
        self.var("query_timeout")
            .and_then(|v| v.parse().ok())
            .unwrap_or(300)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_validate() {
        let mut s = Session::new(1, "root", None);
        assert_eq!(s.read_consistency(), ReadConsistency::Session);
        s.set_var("READ_CONSISTENCY", "Linearizable").expect("ok");
        assert_eq!(s.read_consistency(), ReadConsistency::Linearizable);
        assert!(s.set_var("read_consistency", "eventual").is_err());
        assert_eq!(s.runtime_filter_max_keys(), 20_000);
        s.set_var("runtime_join_filter_push_down_limit", "250000")
            .expect("ok");
        assert_eq!(s.runtime_filter_max_keys(), 250_000);
        for bad in ["-1", "x", "10000001"] {
            let e = s
                .set_var("runtime_join_filter_push_down_limit", bad)
                .expect_err(bad);
            assert!(e.message.contains("distinct join keys"), "{}", e.message);
        }
        assert_eq!(s.runtime_filter_max_keys(), 250_000);
        assert!(s.set_var("query_timeout", "0").is_err());
        s.set_var("query_timeout", "5").expect("ok");
        assert_eq!(s.query_timeout_secs(), 5);
        let err = s.set_var("no_such_var", "1").expect_err("unknown");
        assert_eq!(err.code, StatusCode::UnknownVariable);
        assert!(s.set_var("wait_timeout", "abc").is_err());
        s.set_var("autocommit", "OFF").expect("ok");
        assert_eq!(s.var("autocommit").as_deref(), Some("0"));
    }
}
