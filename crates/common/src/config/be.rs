//! `be.conf`: the backend's config keys, with StarRocks's names and defaults.

use std::path::Path;
use std::path::PathBuf;

use crate::config::fe::home_of_conf;
use crate::error::Error;
use crate::error::Result;

crate::define_config! {
    /// The backend's configuration (`be.conf`).
    pub struct BeConfig {
        /// Port of the backend service: agent tasks from the leader FE (create/drop tablet, ...).
        be_port: i32 = "9060", mutable = false;
        /// Port that receives the leader FE's heartbeats; identifies a BE in ALTER SYSTEM ADD BACKEND.
        heartbeat_service_port: i32 = "9050", mutable = false;
        /// HTTP port: health, Stream Load, snapshot downloads.
        be_http_port: i32 = "8040", mutable = false;
        /// Serve HTTPS instead of HTTP on be_http_port, with ssl_certificate_path and ssl_private_key_path.
        enable_https: bool = "false", mutable = false;
        /// PEM certificate chain (leaf first) for HTTPS on be_http_port.
        ssl_certificate_path: String = "", mutable = false;
        /// PEM private key (PKCS#8, PKCS#1 or SEC1) of ssl_certificate_path.
        ssl_private_key_path: String = "", mutable = false;
        /// Port for BE-to-BE traffic (tablet writes, replication).
        brpc_port: i32 = "8060", mutable = false;
        /// Semicolon-separated CIDRs; the node advertises (and listens on) the first local address inside one of them.
        priority_networks: String = "", mutable = false;
        /// Data directories separated by `;`, each optionally followed by `,medium:hdd` or `,medium:ssd`.
        storage_root_path: String = "${STARROCKS_HOME}/storage", mutable = false;
        /// Directory of the backend log (bin/start_be.sh writes be.log there).
        sys_log_dir: String = "${STARROCKS_HOME}/log", mutable = false;
        /// Log level: FATAL, ERROR, WARN, INFO, DEBUG (TRACE also accepted).
        sys_log_level: String = "INFO", mutable = false;
        /// Seconds between full tablet reports to the leader FE when the FE's heartbeat names no interval.
        report_tablet_interval_seconds: i32 = "60", mutable = false;
        /// Seconds a measured data size per storage root is reused in heartbeats and reports (free space is read fresh).
        report_disk_state_interval_seconds: i32 = "60", mutable = false;
        /// Flood stage: a storage root whose usage reaches this percentage while its free space is at most storage_flood_stage_left_capacity_bytes refuses loads, clones and compactions (DiskFull) until space is freed.
        storage_flood_stage_usage_percent: i32 = "95", mutable = false;
        /// Flood stage: the free bytes at or below which a storage root that has also reached storage_flood_stage_usage_percent refuses writes.
        storage_flood_stage_left_capacity_bytes: i64 = "1073741824", mutable = false;
        /// Largest Stream Load body this backend accepts, in MB.
        streaming_load_max_mb: i64 = "102400", mutable = false;
        /// A load into a tablet with more visible versions (rowsets) than this is refused ("too many versions") until compaction merges them.
        tablet_max_versions: i64 = "1000", mutable = false;
        /// Seconds between checks for tablets that need a cumulative compaction (merging the recent small rowsets).
        cumulative_compaction_check_interval_seconds: i64 = "1", mutable = false;
        /// Cumulative compaction runs on a tablet once this many singleton rowsets (one load each) lie above its cumulative point.
        min_cumulative_compaction_num_singleton_deltas: i64 = "5", mutable = false;
        /// Most rowsets one cumulative compaction merges.
        max_cumulative_compaction_num_singleton_deltas: i64 = "1000", mutable = false;
        /// Seconds between checks for tablets that need a base compaction (merging the base rowset with the ones below the cumulative point).
        base_compaction_check_interval_seconds: i64 = "60", mutable = false;
        /// Base compaction runs on a tablet once this many rowsets lie between its base rowset and its cumulative point.
        min_base_compaction_num_singleton_deltas: i64 = "5", mutable = false;
        /// Base compaction also runs when at least one such rowset exists and the last base compaction is this many seconds old.
        base_compaction_interval_seconds_since_last_operation: i64 = "86400", mutable = false;
        /// Most compactions running at once on this backend; -1: cumulative_compaction_num_threads_per_disk plus base_compaction_num_threads_per_disk per storage root; 0 turns compaction off.
        max_compaction_concurrency: i32 = "-1", mutable = false;
        /// Cumulative compactions running at once per storage root.
        cumulative_compaction_num_threads_per_disk: i32 = "1", mutable = false;
        /// Base compactions running at once per storage root.
        base_compaction_num_threads_per_disk: i32 = "1", mutable = false;
        /// Seconds the rowsets a compaction replaced stay readable (for queries at older versions); they are removed after that once no query reads them.
        tablet_rowset_stale_sweep_time_sec: i64 = "1800", mutable = false;
        /// Memory for decoded column data of rowset files, kept for later queries: bytes, a size with K, M, G or T, or a percentage of physical memory.
        storage_page_cache_limit: String = "20%", mutable = false;
        /// Turns the cache of decoded column data off: every query decodes the files it reads.
        disable_storage_page_cache: bool = "false", mutable = false;
        /// Test-only: offset (ms) added to this node's clock, to simulate clock skew.
        debug_clock_offset_ms: i64 = "0", mutable = false;
        /// Test-only: allows POST /api/_debug/clock_offset?ms=N, which moves this node's clock while it runs (the fault-injection suite's clock skew). Never on a production cluster.
        debug_enable_fault_injection: bool = "false", mutable = false;
    }
}

/// The bytes a `storage_page_cache_limit` value stands for on a machine with `physical`
/// bytes of memory: `1073741824`, `512M`, `2G`, `20%`.
pub fn parse_cache_limit(value: &str, physical: u64) -> Result<u64> {
    let v = value.trim();
    let bad = || {
        Error::invalid(format!(
            "storage_page_cache_limit: '{value}' is not a size (like 2G, 512M or 1073741824) or \
             a percentage of physical memory (like 20%)"
        ))
    };
    if let Some(pct) = v.strip_suffix('%') {
        let pct: f64 = pct.trim().parse().map_err(|_| bad())?;
        if !(0.0..=100.0).contains(&pct) {
            return Err(Error::invalid(format!(
                "storage_page_cache_limit: {pct}% is not between 0% and 100%"
            )));
        }
        return Ok((physical as f64 * pct / 100.0) as u64);
    }
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (digits, unit) = v.split_at(split);
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let shift = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" => 10,
        "M" | "MB" => 20,
        "G" | "GB" => 30,
        "T" | "TB" => 40,
        _ => return Err(bad()),
    };
    n.checked_mul(1u64 << shift).ok_or_else(bad)
}

/// Physical memory in bytes (`/proc/meminfo`), or `None` where it cannot be read.
pub fn physical_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The storage medium a root path declares (accepted for StarRocks compatibility; Tessera does
/// not place tablets by medium).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorageMedium {
    /// Spinning disk (StarRocks's default).
    Hdd,
    /// Solid-state disk.
    Ssd,
}

/// One entry of `storage_root_path`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageRootPath {
    /// The directory.
    pub path: PathBuf,
    /// The declared medium, if any.
    pub medium: Option<StorageMedium>,
}

/// Parses a `storage_root_path` value: `dir[,medium:hdd|ssd]` entries separated by `;`.
pub fn parse_storage_root_path(value: &str) -> Result<Vec<StorageRootPath>> {
    let mut roots: Vec<StorageRootPath> = Vec::new();
    for entry in value.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let mut parts = entry.split(',').map(str::trim);
        let dir = parts.next().unwrap_or_default();
        if dir.is_empty() {
            return Err(Error::invalid(format!(
                "storage_root_path: the entry '{entry}' has no directory"
            )));
        }
        let mut medium = None;
        for prop in parts.filter(|p| !p.is_empty()) {
            let (k, v) = prop.split_once(':').unwrap_or((prop, ""));
            if !k.trim().eq_ignore_ascii_case("medium") {
                return Err(Error::invalid(format!(
                    "storage_root_path: unknown property '{prop}' in '{entry}' (only \
                     medium:hdd or medium:ssd is accepted)"
                )));
            }
            medium = Some(match v.trim().to_ascii_lowercase().as_str() {
                "hdd" => StorageMedium::Hdd,
                "ssd" => StorageMedium::Ssd,
                _ => {
                    return Err(Error::invalid(format!(
                        "storage_root_path: medium must be hdd or ssd, got '{}' in '{entry}'",
                        v.trim()
                    )));
                }
            });
        }
        let path = PathBuf::from(dir);
        if roots.iter().any(|r| r.path == path) {
            return Err(Error::invalid(format!(
                "storage_root_path lists {dir} twice"
            )));
        }
        roots.push(StorageRootPath { path, medium });
    }
    if roots.is_empty() {
        return Err(Error::invalid(
            "storage_root_path is empty: set at least one data directory",
        ));
    }
    Ok(roots)
}

impl BeConfig {
    /// Loads `path`, expands `${STARROCKS_HOME}` and checks the values; returns warnings too.
    pub fn load(path: &Path) -> Result<(BeConfig, Vec<String>)> {
        let home = home_of_conf(path);
        let mut config = BeConfig::default();
        let warnings = crate::config::load_into(&mut config, path, &home)?;
        config.expand_home(&home);
        config.validate()?;
        Ok((config, warnings))
    }

    /// Expands `${STARROCKS_HOME}` left in path defaults.
    pub fn expand_home(&mut self, home: &Path) {
        self.storage_root_path = crate::config::expand_home(&self.storage_root_path, home);
        self.sys_log_dir = crate::config::expand_home(&self.sys_log_dir, home);
    }

    /// TLS for be_http_port: `None` unless enable_https. Reads and checks the PEM files; an
    /// error names the key and the file (the node does not start).
    pub fn http_tls(&self) -> Result<Option<std::sync::Arc<rustls::ServerConfig>>> {
        if !self.enable_https {
            return Ok(None);
        }
        crate::tls::http_server_config(&self.ssl_certificate_path, &self.ssl_private_key_path)
            .map(Some)
            .map_err(|e| Error::new(e.code, format!("enable_https = true: {}", e.message)))
    }

    /// Bytes the cache of decoded column data may hold (0 when it is disabled).
    pub fn page_cache_bytes(&self) -> Result<u64> {
        let limit = parse_cache_limit(
            &self.storage_page_cache_limit,
            physical_memory().unwrap_or(0),
        )?;
        Ok(if self.disable_storage_page_cache {
            0
        } else {
            limit
        })
    }

    /// Checks values and the relations between them.
    pub fn validate(&self) -> Result<()> {
        let ports = self.ports();
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
        parse_storage_root_path(&self.storage_root_path)?;
        self.page_cache_bytes()?;
        if self.report_tablet_interval_seconds < 1 {
            return Err(Error::invalid(
                "report_tablet_interval_seconds must be at least 1",
            ));
        }
        if self.report_disk_state_interval_seconds < 1 {
            return Err(Error::invalid(
                "report_disk_state_interval_seconds must be at least 1",
            ));
        }
        if !(0..=100).contains(&self.storage_flood_stage_usage_percent) {
            return Err(Error::invalid(format!(
                "storage_flood_stage_usage_percent = {}: it must be between 0 and 100",
                self.storage_flood_stage_usage_percent
            )));
        }
        if self.storage_flood_stage_left_capacity_bytes < 0 {
            return Err(Error::invalid(format!(
                "storage_flood_stage_left_capacity_bytes = {} is negative",
                self.storage_flood_stage_left_capacity_bytes
            )));
        }
        if self.streaming_load_max_mb < 1 {
            return Err(Error::invalid("streaming_load_max_mb must be at least 1"));
        }
        for (name, value) in [
            ("tablet_max_versions", self.tablet_max_versions),
            (
                "cumulative_compaction_check_interval_seconds",
                self.cumulative_compaction_check_interval_seconds,
            ),
            (
                "min_cumulative_compaction_num_singleton_deltas",
                self.min_cumulative_compaction_num_singleton_deltas,
            ),
            (
                "base_compaction_check_interval_seconds",
                self.base_compaction_check_interval_seconds,
            ),
            (
                "min_base_compaction_num_singleton_deltas",
                self.min_base_compaction_num_singleton_deltas,
            ),
            (
                "cumulative_compaction_num_threads_per_disk",
                i64::from(self.cumulative_compaction_num_threads_per_disk),
            ),
            (
                "base_compaction_num_threads_per_disk",
                i64::from(self.base_compaction_num_threads_per_disk),
            ),
        ] {
            if value < 1 {
                return Err(Error::invalid(format!(
                    "{name} = {value}: it must be at least 1"
                )));
            }
        }
        if self.max_cumulative_compaction_num_singleton_deltas
            < self.min_cumulative_compaction_num_singleton_deltas
        {
            return Err(Error::invalid(format!(
                "max_cumulative_compaction_num_singleton_deltas ({}) is below \
                 min_cumulative_compaction_num_singleton_deltas ({})",
                self.max_cumulative_compaction_num_singleton_deltas,
                self.min_cumulative_compaction_num_singleton_deltas
            )));
        }
        if self.max_compaction_concurrency < -1 {
            return Err(Error::invalid(format!(
                "max_compaction_concurrency = {}: use -1 (per-disk threads), 0 (off) or a \
                 positive number",
                self.max_compaction_concurrency
            )));
        }
        for (name, value) in [
            (
                "base_compaction_interval_seconds_since_last_operation",
                self.base_compaction_interval_seconds_since_last_operation,
            ),
            (
                "tablet_rowset_stale_sweep_time_sec",
                self.tablet_rowset_stale_sweep_time_sec,
            ),
        ] {
            if value < 0 {
                return Err(Error::invalid(format!("{name} = {value} is negative")));
            }
        }
        crate::net::parse_cidr_list(&self.priority_networks)?;
        Ok(())
    }

    /// The four ports with their key names, in the order they are bound.
    pub fn ports(&self) -> [(&'static str, i32); 4] {
        [
            ("heartbeat_service_port", self.heartbeat_service_port),
            ("be_port", self.be_port),
            ("be_http_port", self.be_http_port),
            ("brpc_port", self.brpc_port),
        ]
    }

    /// The data directories.
    pub fn storage_roots(&self) -> Result<Vec<StorageRootPath>> {
        parse_storage_root_path(&self.storage_root_path)
    }
}

/// The sample `conf/be.conf` shipped in the repo: every key with its default, commented out
/// except the ones a deployment sets, and what each is for.
pub fn sample_conf() -> String {
    let mut s = String::from(
        "# Tessera backend configuration (StarRocks be.conf keys).\n\
         # Lines are `key = value`; ${STARROCKS_HOME} (or ${TESSERA_HOME}) is the directory above conf/.\n\
         # Keys are read at start-up. docs/config.md lists every key.\n\
         # This file is generated: see crates/common/src/config/be.rs.\n\n",
    );
    for k in BeConfig::KEYS {
        if k.name.starts_with("debug_") {
            continue;
        }
        s.push_str(&format!("# {}\n", k.comment.trim()));
        let active = matches!(k.name, "storage_root_path" | "sys_log_dir");
        let prefix = if active { "" } else { "# " };
        s.push_str(&format!("{prefix}{} = {}\n\n", k.name, k.default));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_starrocks_ports() {
        let c = BeConfig::default();
        assert_eq!(
            (
                c.be_port,
                c.heartbeat_service_port,
                c.be_http_port,
                c.brpc_port
            ),
            (9060, 9050, 8040, 8060)
        );
        assert_eq!(c.report_tablet_interval_seconds, 60);
        c.validate().expect("defaults are valid");
    }

    #[test]
    fn storage_root_path_accepts_media_and_refuses_nonsense() {
        let roots = parse_storage_root_path("/a/b ; /c,medium:SSD;/d,medium:hdd;").expect("ok");
        assert_eq!(roots.len(), 3);
        assert_eq!(roots[0].path, PathBuf::from("/a/b"));
        assert_eq!(roots[0].medium, None);
        assert_eq!(roots[1].medium, Some(StorageMedium::Ssd));
        assert_eq!(roots[2].medium, Some(StorageMedium::Hdd));
        for bad in [
            "",
            " ; ",
            "/a,medium:tape",
            "/a,capacity:10",
            "/a;/a",
            ",medium:ssd",
        ] {
            let err = parse_storage_root_path(bad).expect_err(bad);
            assert!(
                err.message.contains("storage_root_path"),
                "{bad}: {}",
                err.message
            );
        }
    }

    #[test]
    fn bad_value_names_file_and_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("be.conf");
        std::fs::write(&path, "# x\n\nbe_port = ninety\n").expect("write");
        let err = BeConfig::load(&path).expect_err("bad value");
        assert!(err.message.contains("be.conf:3"), "{}", err.message);
        assert!(err.message.contains("be_port"), "{}", err.message);
    }

    #[test]
    fn duplicate_ports_and_bad_intervals_are_refused() {
        let c = BeConfig {
            brpc_port: 9050,
            ..BeConfig::default()
        };
        let err = c.validate().expect_err("duplicate");
        assert!(
            err.message.contains("heartbeat_service_port"),
            "{}",
            err.message
        );
        let c = BeConfig {
            report_tablet_interval_seconds: 0,
            ..BeConfig::default()
        };
        assert!(c.validate().is_err());
    }

    #[test]
    fn compaction_keys_have_starrocks_defaults_and_are_checked() {
        let c = BeConfig::default();
        assert_eq!(
            (
                c.tablet_max_versions,
                c.cumulative_compaction_check_interval_seconds,
                c.min_cumulative_compaction_num_singleton_deltas,
                c.max_cumulative_compaction_num_singleton_deltas,
                c.base_compaction_check_interval_seconds,
                c.min_base_compaction_num_singleton_deltas,
                c.base_compaction_interval_seconds_since_last_operation,
                c.tablet_rowset_stale_sweep_time_sec,
            ),
            (1000, 1, 5, 1000, 60, 5, 86_400, 1800)
        );
        assert_eq!(c.max_compaction_concurrency, -1);
        let bad = [
            BeConfig {
                tablet_max_versions: 0,
                ..BeConfig::default()
            },
            BeConfig {
                min_cumulative_compaction_num_singleton_deltas: 10,
                max_cumulative_compaction_num_singleton_deltas: 9,
                ..BeConfig::default()
            },
            BeConfig {
                max_compaction_concurrency: -2,
                ..BeConfig::default()
            },
            BeConfig {
                tablet_rowset_stale_sweep_time_sec: -1,
                ..BeConfig::default()
            },
        ];
        for c in bad {
            assert!(c.validate().is_err(), "{c:?}");
        }
        let off = BeConfig {
            max_compaction_concurrency: 0,
            tablet_rowset_stale_sweep_time_sec: 0,
            ..BeConfig::default()
        };
        off.validate()
            .expect("compaction off and immediate sweeps are allowed");
    }

    #[test]
    fn flood_stage_keys_have_starrocks_defaults_and_are_checked() {
        let c = BeConfig::default();
        assert_eq!(
            (
                c.storage_flood_stage_usage_percent,
                c.storage_flood_stage_left_capacity_bytes
            ),
            (95, 1_073_741_824)
        );
        let bad = [
            (
                BeConfig {
                    storage_flood_stage_usage_percent: 101,
                    ..BeConfig::default()
                },
                "storage_flood_stage_usage_percent",
            ),
            (
                BeConfig {
                    storage_flood_stage_usage_percent: -1,
                    ..BeConfig::default()
                },
                "storage_flood_stage_usage_percent",
            ),
            (
                BeConfig {
                    storage_flood_stage_left_capacity_bytes: -1,
                    ..BeConfig::default()
                },
                "storage_flood_stage_left_capacity_bytes",
            ),
        ];
        for (c, key) in bad {
            let e = c.validate().err().map(|e| e.message).unwrap_or_default();
            assert!(e.contains(key), "{key}: {e}");
        }
        let always = BeConfig {
            storage_flood_stage_usage_percent: 0,
            storage_flood_stage_left_capacity_bytes: i64::MAX,
            ..BeConfig::default()
        };
        always.validate().expect("the extremes are allowed");
    }

    #[test]
    fn loads_with_home_and_unknown_keys() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("conf")).expect("mkdir");
        let path = dir.path().join("conf/be.conf");
        std::fs::write(
            &path,
            "JAVA_OPTS = x\nbe_port = 9061\nstorage_root_path = ${STARROCKS_HOME}/s1;${STARROCKS_HOME}/s2,medium:ssd\n",
        )
        .expect("write");
        let (c, warnings) = BeConfig::load(&path).expect("loads");
        assert_eq!(c.be_port, 9061);
        assert_eq!(warnings.len(), 1);
        if std::env::var("STARROCKS_HOME").is_err() {
            let roots = c.storage_roots().expect("roots");
            assert_eq!(roots.len(), 2);
            assert!(roots[0].path.ends_with("s1"), "{roots:?}");
            assert!(c.sys_log_dir.ends_with("/log"));
        }
    }

    #[test]
    fn cache_limits_are_sizes_or_percentages() {
        let gib = 1u64 << 30;
        assert_eq!(parse_cache_limit("20%", 10 * gib).ok(), Some(2 * gib));
        assert_eq!(parse_cache_limit(" 0% ", 10 * gib).ok(), Some(0));
        assert_eq!(parse_cache_limit("2G", 0).ok(), Some(2 * gib));
        assert_eq!(parse_cache_limit("512m", 0).ok(), Some(512 << 20));
        assert_eq!(parse_cache_limit("64KB", 0).ok(), Some(64 << 10));
        assert_eq!(parse_cache_limit("1048576", 0).ok(), Some(1 << 20));
        for bad in ["", "G", "2X", "-1", "120%", "x%", "99999999999999T", "1.5G"] {
            let e = parse_cache_limit(bad, gib).err();
            assert!(
                e.as_ref()
                    .is_some_and(|e| e.message.contains("storage_page_cache_limit")),
                "{bad}: {e:?}"
            );
        }
        assert!(physical_memory().is_some_and(|m| m > 0));
        // A bad value stops the backend at start with the key named; disabling wins.
        let c = BeConfig {
            storage_page_cache_limit: "lots".into(),
            ..BeConfig::default()
        };
        let e = c.validate().err().map(|e| e.message).unwrap_or_default();
        assert!(e.contains("storage_page_cache_limit"), "{e}");
        let c = BeConfig {
            storage_page_cache_limit: "1G".into(),
            disable_storage_page_cache: true,
            ..BeConfig::default()
        };
        assert_eq!(c.page_cache_bytes().ok(), Some(0));
    }
}

#[cfg(test)]
mod generated_files {
    use super::*;

    #[test]
    fn sample_conf_is_current_and_loads_to_the_defaults() {
        let rel = "conf/be.conf";
        let repo = std::path::PathBuf::from(
            std::env::var_os("CARGO_MANIFEST_DIR")
                .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
        )
        .join("../..");
        let expected_text = sample_conf();
        if std::env::var("UPDATE_GENERATED").is_ok() {
            std::fs::write(repo.join(rel), &expected_text).expect("write generated file");
        } else {
            let actual = std::fs::read_to_string(repo.join(rel)).unwrap_or_default();
            assert_eq!(
                actual, expected_text,
                "{rel} is stale: run `UPDATE_GENERATED=1 cargo test -p tessera-common`"
            );
        }
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("conf")).expect("mkdir");
        let path = dir.path().join("conf/be.conf");
        std::fs::write(&path, sample_conf()).expect("write");
        let (loaded, warnings) = BeConfig::load(&path).expect("the sample loads");
        assert!(warnings.is_empty(), "{warnings:?}");
        let mut expected = BeConfig::default();
        expected.expand_home(&home_of_conf(&path));
        assert_eq!(loaded, expected);
    }
}
