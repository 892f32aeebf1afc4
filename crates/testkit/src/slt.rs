//! Runs `tests/sql/**/*.slt` files (the sqllogictest format) against a live cluster.
//!
//! Each file gets its own MySQL connection (our client, so `USE db` holds across statements)
//! and should create and drop its own database. Expected errors are matched against
//! `ERROR <code> (<state>): <message>`.

use std::path::Path;
use std::path::PathBuf;
use std::time::Duration;

use sqllogictest::DBOutput;
use sqllogictest::DefaultColumnType;

/// An error from the server or the connection.
#[derive(Debug)]
pub struct SltError(pub String);

impl std::fmt::Display for SltError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SltError {}

/// One MySQL connection as a sqllogictest database.
pub struct MysqlDb {
    runtime: tokio::runtime::Runtime,
    client: Option<mysql::client::Client>,
}

impl MysqlDb {
    /// Connects to `addr` (`ip:port`) as root.
    pub fn connect(addr: &str) -> Result<MysqlDb, SltError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| SltError(e.to_string()))?;
        let client = runtime
            .block_on(mysql::client::Client::connect_timeout(
                addr,
                "root",
                "",
                None,
                Duration::from_secs(10),
            ))
            .map_err(|e| SltError(e.to_string()))?;
        Ok(MysqlDb {
            runtime,
            client: Some(client),
        })
    }
}

impl sqllogictest::DB for MysqlDb {
    type Error = SltError;
    type ColumnType = DefaultColumnType;

    fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, SltError> {
        let client = self
            .client
            .as_mut()
            .ok_or_else(|| SltError("connection closed".into()))?;
        let r = self
            .runtime
            .block_on(async {
                tokio::time::timeout(Duration::from_secs(120), client.query(sql)).await
            })
            .map_err(|_| SltError("statement timed out after 120 s".into()))?
            .map_err(|e| SltError(e.to_string()))?;
        if r.columns.is_empty() {
            return Ok(DBOutput::StatementComplete(r.affected_rows));
        }
        Ok(DBOutput::Rows {
            types: vec![DefaultColumnType::Any; r.columns.len()],
            rows: r
                .rows
                .into_iter()
                .map(|row| {
                    row.into_iter()
                        .map(|v| match v {
                            None => "NULL".to_string(),
                            // sqllogictest's spelling of an empty string.
                            Some(s) if s.is_empty() => "(empty)".to_string(),
                            Some(s) => s,
                        })
                        .collect()
                })
                .collect(),
        })
    }

    fn shutdown(&mut self) {
        if let Some(c) = self.client.take() {
            self.runtime.block_on(c.close());
        }
    }
}

/// Every `.slt` file under `dir`, sorted.
pub fn slt_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "slt") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Runs every file against `addr`; returns one error message per failing file.
pub fn run_files(addr: &str, files: &[PathBuf]) -> Vec<String> {
    let mut failures = Vec::new();
    for f in files {
        let addr = addr.to_string();
        let mut runner = sqllogictest::Runner::new(move || {
            let addr = addr.clone();
            async move { MysqlDb::connect(&addr) }
        });
        runner.with_column_validator(sqllogictest::default_column_validator);
        if let Err(e) = runner.run_file(f) {
            failures.push(format!("{}:\n{}", f.display(), e.display(false)));
        }
    }
    failures
}
