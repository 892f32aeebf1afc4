//! `fe.conf`: the frontend's config keys, with StarRocks's names and defaults.

use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;

use crate::error::Error;
use crate::error::Result;

crate::define_config! {
    /// The frontend's configuration (`fe.conf`).
    pub struct FeConfig {
        /// Directory of the journal, checkpoint images and the VERSION/ROLE files.
        meta_dir: String = "${STARROCKS_HOME}/meta", mutable = false;
        /// Directory of the frontend log (bin/start_fe.sh --daemon writes fe.log there).
        sys_log_dir: String = "${STARROCKS_HOME}/log", mutable = false;
        /// Log level: FATAL, ERROR, WARN, INFO, DEBUG (TRACE also accepted).
        sys_log_level: String = "INFO", mutable = false;
        /// Port of the replicated journal (raft) and FE-to-FE internal RPC; identifies an FE.
        edit_log_port: i32 = "9010", mutable = false;
        /// HTTP port: health, metrics, web pages, Stream Load entry.
        http_port: i32 = "8030", mutable = false;
        /// RPC port for backends (load transactions, reports); statements forwarded between frontends use edit_log_port.
        rpc_port: i32 = "9020", mutable = false;
        /// MySQL protocol port.
        query_port: i32 = "9030", mutable = false;
        /// PEM certificate chain (leaf first) for TLS on query_port, and on http_port with enable_https; empty: no TLS. StarRocks's FE takes a Java keystore (ssl_keystore_location) instead.
        ssl_certificate_path: String = "", mutable = false;
        /// PEM private key (PKCS#8, PKCS#1 or SEC1) of ssl_certificate_path.
        ssl_private_key_path: String = "", mutable = false;
        /// Refuse MySQL logins that did not start TLS first (needs ssl_certificate_path).
        ssl_force_secure_transport: bool = "false", mutable = false;
        /// Serve HTTPS instead of HTTP on http_port, with ssl_certificate_path and ssl_private_key_path.
        enable_https: bool = "false", mutable = false;
        /// PEM CA certificates trusted when this node calls a backend's HTTPS port (INSERT); empty: the certificates in ssl_certificate_path.
        ssl_ca_path: String = "", mutable = false;
        /// Semicolon-separated CIDRs; the node advertises (and listens on) the first local address inside one of them.
        priority_networks: String = "", mutable = false;
        /// Pins the advertised address (overrides priority_networks).
        frontend_address: String = "", mutable = false;
        /// Cluster id to create on first start (-1: random); a stored id that differs refuses to start.
        cluster_id: i32 = "-1", mutable = false;
        /// Seconds between the leader's heartbeats to FEs (also the heartbeat RPC timeout).
        heartbeat_timeout_second: i32 = "5", mutable = true;
        /// Consecutive failed heartbeats tolerated before a node is shown as not alive.
        heartbeat_retry_times: i32 = "3", mutable = true;
        /// Largest clock difference (ms) to the leader a frontend may have to join and be alive.
        max_bdbje_clock_delta_ms: i64 = "5000", mutable = false;
        /// Milliseconds between raft heartbeats from the leader.
        raft_heartbeat_interval_ms: i64 = "150", mutable = false;
        /// A follower that hears no leader for this many ms (randomized up to twice) starts an election.
        raft_election_timeout_ms: i64 = "1000", mutable = false;
        /// Seconds a journal write waits for a quorum of followers before failing.
        bdbje_replica_ack_timeout_second: i32 = "10", mutable = true;
        /// A checkpoint image is written (and the log purged) every this many journal entries.
        edit_log_roll_num: i64 = "50000", mutable = false;
        /// Timeout (ms) of one RPC to another frontend, e.g. a forwarded statement.
        thrift_rpc_timeout_ms: i32 = "10000", mutable = true;
        /// replication_num of a new table that does not set it.
        default_replication_num: i32 = "3", mutable = true;
        /// Seconds CREATE TABLE waits for one backend to create one tablet replica.
        tablet_create_timeout_second: i32 = "10", mutable = true;
        /// Upper bound (seconds) of the whole replica creation of one CREATE TABLE.
        max_create_table_timeout_second: i32 = "600", mutable = true;
        /// Seconds a dropped table stays in the recycle bin before its replicas are erased.
        catalog_trash_expire_second: i64 = "86400", mutable = true;
        /// Seconds a backend may hold a tablet the catalog does not know before it is dropped.
        tablet_report_drop_tablet_delay_sec: i32 = "120", mutable = true;
        /// Remove a decommissioned backend once it holds no replica.
        drop_backend_after_decommission: bool = "true", mutable = true;
        /// Default timeout (seconds) of a Stream Load without a timeout header.
        stream_load_default_timeout_second: i32 = "600", mutable = true;
        /// Largest timeout (seconds) a load may ask for.
        max_stream_load_timeout_second: i32 = "259200", mutable = true;
        /// Timeout (seconds) of an INSERT.
        insert_load_default_timeout_second: i32 = "3600", mutable = true;
        /// Most unfinished load transactions per database.
        max_running_txn_num_per_db: i32 = "1000", mutable = true;
        /// Seconds a finished load's label stays taken.
        label_keep_max_second: i64 = "259200", mutable = true;
        /// Most finished loads remembered per database (older labels become reusable).
        label_keep_max_num: i32 = "1000", mutable = true;
        /// Milliseconds a publish waits for every replica before settling for a quorum.
        quorum_publish_wait_time_ms: i64 = "5000", mutable = true;
        /// Seconds between the leader's tablet checker passes (every tablet's health).
        tablet_sched_checker_interval_seconds: i64 = "20", mutable = true;
        /// Clone slots per storage root of a backend: concurrent clones it takes part in (2..64).
        tablet_sched_slot_num_per_path: i32 = "8", mutable = true;
        /// The checker adds no tablets while this many are pending or running.
        tablet_sched_max_scheduling_tablets: i32 = "10000", mutable = true;
        /// A non-urgent unhealthy tablet is repaired after this many seconds (x1 HIGH, x2 NORMAL, x3 LOW).
        tablet_sched_repair_delay_factor_second: i64 = "60", mutable = true;
        /// A pending repair not scheduled for this long (ms) gets a higher priority.
        tablet_sched_max_not_being_scheduled_interval_ms: i64 = "900000", mutable = true;
        /// Shortest clone timeout (seconds); the timeout grows with the tablet's size at 5 MB/s.
        tablet_sched_min_clone_task_timeout_sec: i64 = "180", mutable = true;
        /// Longest clone timeout (seconds).
        tablet_sched_max_clone_task_timeout_sec: i64 = "7200", mutable = true;
        /// Seconds a dead backend's replicas still count before they are rebuilt elsewhere.
        tablet_sched_be_down_tolerate_time_s: i64 = "900", mutable = true;
        /// Seconds between two full clones of one tablet.
        tablet_sched_consecutive_full_clone_delay_sec: i64 = "180", mutable = true;
        /// Drop redundant replicas at once instead of waiting for the loads that may use them.
        tablet_sched_always_force_decommission_replica: bool = "false", mutable = true;
        /// Most MB per second one backend receives by clone (0: no limit); beyond StarRocks.
        tablet_sched_clone_rate_limit_mb_per_sec: i64 = "0", mutable = true;
        /// Repairs remembered in SHOW PROC '/tablet_scheduler/history'.
        tablet_sched_history_num: i32 = "1000", mutable = true;
        /// No new replica goes to a storage root fuller than this percentage.
        storage_usage_soft_limit_percent: i32 = "90", mutable = true;
        /// Version string in the MySQL handshake and @@version.
        mysql_server_version: String = "5.1.0", mutable = true;
        /// Maximum number of MySQL connections to this FE.
        qe_max_connection: i32 = "4096", mutable = false;
        /// Largest MySQL command (one statement, with its parameters) a client may send, in bytes; a bigger one is refused with error 1153 and the connection closed. Also what @@max_allowed_packet shows.
        max_allowed_packet: i64 = "33554432", mutable = true;
        /// Most columns a table may have (CREATE TABLE).
        max_column_number_per_table: i32 = "10000", mutable = true;
        /// Most partitions a table may have (CREATE TABLE, ALTER TABLE ADD PARTITION).
        max_partition_number_per_table: i32 = "100000", mutable = true;
        /// Most partitions one statement may create (a CREATE TABLE's partition list).
        max_partitions_in_one_batch: i32 = "4096", mutable = true;
        /// Most buckets (tablets) a partition may have.
        max_bucket_number_per_partition: i32 = "1024", mutable = true;
        /// Most tablets a table may have over all its partitions; beyond StarRocks.
        max_tablet_number_per_table: i32 = "100000", mutable = true;
        /// Longest load label (Stream Load, INSERT WITH LABEL), in characters; beyond StarRocks (which fixes 128).
        label_max_length: i32 = "128", mutable = true;
        /// Longest database, table, column, partition or user name, in characters; beyond StarRocks (which fixes 256 for databases).
        max_identifier_length: i32 = "256", mutable = true;
        /// shared_nothing: data lives on the backends' local disks.
        run_mode: String = "shared_nothing", mutable = false;
        /// Benchmark-only: allows POST /api/_debug/synthetic_table (catalog-only tablets; never on a cluster with data).
        debug_enable_synthetic_tables: bool = "false", mutable = false;
        /// Test-only: offset (ms) added to this node's clock, to simulate clock skew.
        debug_clock_offset_ms: i64 = "0", mutable = false;
        /// Test-only: allows POST /api/_debug/clock_offset?ms=N, which moves this node's clock while it runs (the fault-injection suite's clock skew). Never on a production cluster.
        debug_enable_fault_injection: bool = "false", mutable = false;
    }
}

impl FeConfig {
    /// Loads `path`, expands `${STARROCKS_HOME}` and checks the values; returns warnings too.
    pub fn load(path: &Path) -> Result<(FeConfig, Vec<String>)> {
        let home = home_of_conf(path);
        let mut config = FeConfig::default();
        let warnings = crate::config::load_into(&mut config, path, &home)?;
        config.meta_dir = crate::config::expand_home(&config.meta_dir, &home);
        config.sys_log_dir = crate::config::expand_home(&config.sys_log_dir, &home);
        config.validate()?;
        Ok((config, warnings))
    }

    /// Checks values and the relations between them.
    pub fn validate(&self) -> Result<()> {
        let ports = [
            ("edit_log_port", self.edit_log_port),
            ("http_port", self.http_port),
            ("rpc_port", self.rpc_port),
            ("query_port", self.query_port),
        ];
        for (name, port) in ports {
            if !(1..=65535).contains(&port) {
                return Err(Error::invalid(format!(
                    "{name} = {port} is not a TCP port (1..65535)"
                )));
            }
        }
        for (i, (a, pa)) in ports.iter().enumerate() {
            for (b, pb) in &ports[i + 1..] {
                if pa == pb {
                    return Err(Error::invalid(format!(
                        "{a} and {b} are both {pa}; each port must differ"
                    )));
                }
            }
        }
        if self.meta_dir.trim().is_empty() {
            return Err(Error::invalid("meta_dir is empty"));
        }
        if self.heartbeat_timeout_second < 1 {
            return Err(Error::invalid(
                "heartbeat_timeout_second must be at least 1",
            ));
        }
        if self.heartbeat_retry_times < 0 {
            return Err(Error::invalid("heartbeat_retry_times must not be negative"));
        }
        if self.raft_heartbeat_interval_ms < 10 {
            return Err(Error::invalid(
                "raft_heartbeat_interval_ms must be at least 10",
            ));
        }
        // A follower must hear several heartbeats per election timeout, or a slow tick starts
        // needless elections.
        if self.raft_election_timeout_ms < 3 * self.raft_heartbeat_interval_ms {
            return Err(Error::invalid(format!(
                "raft_election_timeout_ms ({}) must be at least 3 x raft_heartbeat_interval_ms ({})",
                self.raft_election_timeout_ms, self.raft_heartbeat_interval_ms
            )));
        }
        if self.bdbje_replica_ack_timeout_second < 1 {
            return Err(Error::invalid(
                "bdbje_replica_ack_timeout_second must be at least 1",
            ));
        }
        if self.edit_log_roll_num < 100 {
            return Err(Error::invalid("edit_log_roll_num must be at least 100"));
        }
        if self.thrift_rpc_timeout_ms < 100 {
            return Err(Error::invalid("thrift_rpc_timeout_ms must be at least 100"));
        }
        if self.max_bdbje_clock_delta_ms < 0 {
            return Err(Error::invalid(
                "max_bdbje_clock_delta_ms must not be negative",
            ));
        }
        if !(1..=32767).contains(&self.default_replication_num) {
            return Err(Error::invalid(
                "default_replication_num must be between 1 and 32767",
            ));
        }
        if self.tablet_create_timeout_second < 1 || self.max_create_table_timeout_second < 1 {
            return Err(Error::invalid(
                "tablet_create_timeout_second and max_create_table_timeout_second must be at least 1",
            ));
        }
        if self.catalog_trash_expire_second < 0 || self.tablet_report_drop_tablet_delay_sec < 0 {
            return Err(Error::invalid(
                "catalog_trash_expire_second and tablet_report_drop_tablet_delay_sec must not be negative",
            ));
        }
        if self.tablet_sched_checker_interval_seconds < 1 {
            return Err(Error::invalid(
                "tablet_sched_checker_interval_seconds must be at least 1",
            ));
        }
        if !(1..=64).contains(&self.tablet_sched_slot_num_per_path) {
            return Err(Error::invalid(
                "tablet_sched_slot_num_per_path must be between 1 and 64",
            ));
        }
        if self.tablet_sched_min_clone_task_timeout_sec < 1
            || self.tablet_sched_max_clone_task_timeout_sec
                < self.tablet_sched_min_clone_task_timeout_sec
        {
            return Err(Error::invalid(
                "tablet_sched_min_clone_task_timeout_sec must be at least 1 and not above \
                 tablet_sched_max_clone_task_timeout_sec",
            ));
        }
        let non_negative = [
            (
                "tablet_sched_max_scheduling_tablets",
                i64::from(self.tablet_sched_max_scheduling_tablets),
            ),
            (
                "tablet_sched_repair_delay_factor_second",
                self.tablet_sched_repair_delay_factor_second,
            ),
            (
                "tablet_sched_max_not_being_scheduled_interval_ms",
                self.tablet_sched_max_not_being_scheduled_interval_ms,
            ),
            (
                "tablet_sched_be_down_tolerate_time_s",
                self.tablet_sched_be_down_tolerate_time_s,
            ),
            (
                "tablet_sched_consecutive_full_clone_delay_sec",
                self.tablet_sched_consecutive_full_clone_delay_sec,
            ),
            (
                "tablet_sched_clone_rate_limit_mb_per_sec",
                self.tablet_sched_clone_rate_limit_mb_per_sec,
            ),
            (
                "tablet_sched_history_num",
                i64::from(self.tablet_sched_history_num),
            ),
        ];
        for (name, v) in non_negative {
            if v < 0 {
                return Err(Error::invalid(format!("{name} must not be negative")));
            }
        }
        if !(1..=100).contains(&self.storage_usage_soft_limit_percent) {
            return Err(Error::invalid(
                "storage_usage_soft_limit_percent must be between 1 and 100",
            ));
        }
        let at_least_one = [
            ("qe_max_connection", i64::from(self.qe_max_connection)),
            (
                "max_column_number_per_table",
                i64::from(self.max_column_number_per_table),
            ),
            (
                "max_partition_number_per_table",
                i64::from(self.max_partition_number_per_table),
            ),
            (
                "max_partitions_in_one_batch",
                i64::from(self.max_partitions_in_one_batch),
            ),
            (
                "max_bucket_number_per_partition",
                i64::from(self.max_bucket_number_per_partition),
            ),
            (
                "max_tablet_number_per_table",
                i64::from(self.max_tablet_number_per_table),
            ),
            ("label_max_length", i64::from(self.label_max_length)),
            (
                "max_identifier_length",
                i64::from(self.max_identifier_length),
            ),
        ];
        for (name, v) in at_least_one {
            if v < 1 {
                return Err(Error::invalid(format!("{name} must be at least 1")));
            }
        }
        // MySQL's own bounds of max_allowed_packet: 1 KiB to 1 GiB.
        if !(1024..=1 << 30).contains(&self.max_allowed_packet) {
            return Err(Error::invalid(
                "max_allowed_packet must be between 1024 and 1073741824 bytes",
            ));
        }
        if self.cluster_id < -1 || self.cluster_id == 0 {
            return Err(Error::invalid(
                "cluster_id must be -1 (generate) or a positive integer",
            ));
        }
        if self.run_mode != "shared_nothing" {
            return Err(Error::invalid(format!(
                "run_mode '{}' is not supported: Tessera runs shared_nothing",
                self.run_mode
            )));
        }
        crate::net::parse_cidr_list(&self.priority_networks)?;
        Ok(())
    }

    /// TLS for query_port: `None` without ssl_certificate_path. Reads and checks the files; an
    /// error names the key and the file (the node does not start).
    pub fn mysql_tls(&self) -> Result<Option<Arc<rustls::ServerConfig>>> {
        if self.ssl_certificate_path.is_empty() && self.ssl_private_key_path.is_empty() {
            if self.ssl_force_secure_transport {
                return Err(Error::invalid(
                    "ssl_force_secure_transport = true needs ssl_certificate_path and \
                     ssl_private_key_path (PEM files) for TLS on query_port",
                ));
            }
            return Ok(None);
        }
        crate::tls::server_config(&self.ssl_certificate_path, &self.ssl_private_key_path).map(Some)
    }

    /// TLS for http_port: `None` unless enable_https.
    pub fn http_tls(&self) -> Result<Option<Arc<rustls::ServerConfig>>> {
        if !self.enable_https {
            return Ok(None);
        }
        crate::tls::http_server_config(&self.ssl_certificate_path, &self.ssl_private_key_path)
            .map(Some)
            .map_err(|e| Error::new(e.code, format!("enable_https = true: {}", e.message)))
    }

    /// What this node trusts when it calls an HTTPS port: `None` when neither ssl_ca_path
    /// nor ssl_certificate_path is set.
    pub fn https_client_tls(&self) -> Result<Option<Arc<rustls::ClientConfig>>> {
        if self.ssl_ca_path.is_empty() && self.ssl_certificate_path.is_empty() {
            return Ok(None);
        }
        crate::tls::client_config(&self.ssl_ca_path, &self.ssl_certificate_path).map(Some)
    }

    /// The meta directory as a path.
    pub fn meta_path(&self) -> PathBuf {
        PathBuf::from(&self.meta_dir)
    }
}

/// `STARROCKS_HOME` for a config file: the parent of the directory that holds it
/// (`<home>/conf/fe.conf`).
pub fn home_of_conf(path: &Path) -> PathBuf {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    abs.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_starrocks_ports() {
        let c = FeConfig::default();
        assert_eq!(
            (c.edit_log_port, c.http_port, c.rpc_port, c.query_port),
            (9010, 8030, 9020, 9030)
        );
        c.validate().expect("defaults are valid");
    }

    #[test]
    fn loads_a_file_with_unknown_keys_and_home() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("conf")).expect("mkdir");
        let path = dir.path().join("conf/fe.conf");
        std::fs::write(
            &path,
            "LOG_DIR = ${STARROCKS_HOME}/log\nJAVA_OPTS=\"-Xmx1g\"\nhttp_port = 8031\nsys_log_dir = ${LOG_DIR}\n",
        )
        .expect("write");
        let (c, warnings) = FeConfig::load(&path).expect("loads");
        assert_eq!(c.http_port, 8031);
        assert_eq!(warnings.len(), 2);
        if std::env::var("STARROCKS_HOME").is_err() {
            assert!(c.meta_dir.ends_with("/meta"));
            assert!(c.sys_log_dir.ends_with("/log"));
        }
    }

    #[test]
    fn bad_value_names_file_and_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("fe.conf");
        std::fs::write(&path, "# x\nhttp_port = eighty\n").expect("write");
        let err = FeConfig::load(&path).expect_err("bad value");
        assert!(err.message.contains("fe.conf:2"), "{}", err.message);
        assert!(err.message.contains("http_port"), "{}", err.message);
    }

    #[test]
    fn duplicate_ports_are_refused() {
        let c = FeConfig {
            http_port: 9030,
            ..FeConfig::default()
        };
        let err = c.validate().expect_err("duplicate");
        assert!(err.message.contains("query_port"), "{}", err.message);
    }

    #[test]
    fn set_rejects_unknown_key_and_bad_type() {
        let mut c = FeConfig::default();
        assert!(c.set("no_such_key", "1").is_err());
        assert!(c.set("heartbeat_retry_times", "x").is_err());
        c.set("heartbeat_retry_times", "7").expect("sets");
        assert_eq!(c.get("heartbeat_retry_times").as_deref(), Some("7"));
    }
}

/// The sample `conf/fe.conf` shipped in the repo: every key with its default, commented out
/// except the ones a deployment sets, and what each is for.
pub fn sample_conf() -> String {
    let mut s = String::from(
        "# Tessera frontend configuration (StarRocks fe.conf keys).\n\
         # Lines are `key = value`; ${STARROCKS_HOME} (or ${TESSERA_HOME}) is the directory above conf/.\n\
         # Mutable keys can also be changed cluster-wide at run time with\n\
         #   ADMIN SET FRONTEND CONFIG (\"key\" = \"value\");\n\
         # docs/config.md lists every key. This file is generated: see crates/common/src/config/fe.rs.\n\n",
    );
    for k in FeConfig::KEYS {
        if k.name.starts_with("debug_") {
            continue;
        }
        s.push_str(&format!("# {}\n", k.comment.trim()));
        let active = matches!(k.name, "meta_dir" | "sys_log_dir");
        let prefix = if active { "" } else { "# " };
        s.push_str(&format!("{prefix}{} = {}\n\n", k.name, k.default));
    }
    s
}

/// `docs/config.md`, generated from the key list.
pub fn config_doc() -> String {
    format!(
        "# Configuration\n\nGenerated from `crates/common/src/config/fe.rs` and `be.rs`; do not \
         edit by hand (run `UPDATE_GENERATED=1 cargo test -p tessera-common` after changing a \
         key).\n\n\
         Keys keep StarRocks's names and defaults where StarRocks has them. Mutable keys can be \
         changed at run time with `ADMIN SET FRONTEND CONFIG`; unlike StarRocks, the change is \
         journaled, so it applies to every frontend and survives restarts.\n\n{}\n\
         `be.conf` keys are read when the backend starts.\n\n{}",
        crate::config::markdown_table("fe.conf", FeConfig::KEYS),
        crate::config::markdown_table("be.conf", crate::config::be::BeConfig::KEYS)
    )
}

#[cfg(test)]
mod generated_files {
    use super::*;

    fn check(rel: &str, expected: &str) {
        let path = std::path::PathBuf::from(
            std::env::var_os("CARGO_MANIFEST_DIR")
                .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
        )
        .join("../..")
        .join(rel);
        if std::env::var("UPDATE_GENERATED").is_ok() {
            std::fs::write(&path, expected).expect("write generated file");
            return;
        }
        let actual = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(
            actual, expected,
            "{rel} is stale: run `UPDATE_GENERATED=1 cargo test -p tessera-common`"
        );
    }

    #[test]
    fn sample_conf_is_current_and_loads_to_the_defaults() {
        check("conf/fe.conf", &sample_conf());
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("conf")).expect("mkdir");
        let path = dir.path().join("conf/fe.conf");
        std::fs::write(&path, sample_conf()).expect("write");
        let (loaded, warnings) = FeConfig::load(&path).expect("the sample loads");
        assert!(warnings.is_empty(), "{warnings:?}");
        let mut expected = FeConfig::default();
        let home = home_of_conf(&path);
        expected.meta_dir = crate::config::expand_home(&expected.meta_dir, &home);
        expected.sys_log_dir = crate::config::expand_home(&expected.sys_log_dir, &home);
        assert_eq!(loaded, expected);
    }

    #[test]
    fn config_doc_is_current() {
        check("docs/config.md", &config_doc());
    }
}
