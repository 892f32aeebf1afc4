//! The one load-generating client both systems get: a connection that performs one
//! replicated write per call.
//!
//! - Tessera: `CREATE DATABASE bench_<n>` over MySQL, one raft entry acknowledged after a
//!   majority fsynced it.
//! - etcd: `POST /v3/kv/put` of a new 16 B key with a 100 B value over the v3 JSON gateway.

use std::sync::OnceLock;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;

use crate::http::HttpConn;

/// Where to send writes.
#[derive(Clone, Debug)]
pub enum Target {
    /// An etcd member's client URL (`ip:port`).
    Etcd(String),
    /// A Tessera FE's MySQL port (`ip:port`).
    Tessera(String),
}

impl Target {
    /// The `ip:port` written to.
    pub fn addr(&self) -> &str {
        match self {
            Target::Etcd(a) | Target::Tessera(a) => a,
        }
    }
}

/// An open client connection.
pub enum Conn {
    /// HTTP/1.1 keep-alive to etcd's gateway.
    Etcd(HttpConn),
    /// A MySQL session on an FE.
    Tessera(mysql::client::Client),
}

static SEQ: AtomicU64 = AtomicU64::new(0);

/// A process-wide unique, increasing number for keys and database names.
pub fn next_seq() -> u64 {
    SEQ.fetch_add(1, Ordering::Relaxed)
}

fn etcd_value_b64() -> &'static str {
    static V: OnceLock<String> = OnceLock::new();
    V.get_or_init(|| base64::engine::general_purpose::STANDARD.encode([b'v'; 100]))
}

/// Formats a MySQL client error.
pub fn mysql_err(e: mysql::client::ClientError) -> anyhow::Error {
    anyhow::anyhow!("mysql error {} ({}): {}", e.code, e.sql_state, e.message)
}

/// A failed write.
#[derive(Debug)]
pub struct WriteError {
    /// What went wrong.
    pub message: String,
    /// The server answered with an error: the connection is still usable.
    pub conn_ok: bool,
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl Conn {
    /// Opens a connection (bounded by `timeout`).
    pub async fn connect(target: &Target, timeout: Duration) -> anyhow::Result<Conn> {
        match target {
            Target::Etcd(addr) => {
                let c = tokio::time::timeout(timeout, HttpConn::connect(addr))
                    .await
                    .map_err(|_| anyhow::anyhow!("connect {addr}: timed out"))??;
                Ok(Conn::Etcd(c))
            }
            Target::Tessera(addr) => {
                let c = mysql::client::Client::connect_timeout(addr, "root", "", None, timeout)
                    .await
                    .map_err(mysql_err)?;
                Ok(Conn::Tessera(c))
            }
        }
    }

    /// Performs one replicated write; returns once it is acknowledged.
    pub async fn write(&mut self) -> Result<(), WriteError> {
        let n = next_seq();
        match self {
            Conn::Etcd(c) => {
                let key = format!("k{n:015}");
                let body = format!(
                    "{{\"key\":\"{}\",\"value\":\"{}\"}}",
                    base64::engine::general_purpose::STANDARD.encode(key.as_bytes()),
                    etcd_value_b64()
                );
                let (status, resp) = c
                    .call("/v3/kv/put", Some(Bytes::from(body)))
                    .await
                    .map_err(|e| WriteError {
                        message: format!("{e:#}"),
                        conn_ok: false,
                    })?;
                if status != 200 {
                    return Err(WriteError {
                        message: format!(
                            "etcd put: HTTP {status}: {}",
                            String::from_utf8_lossy(&resp)
                        ),
                        conn_ok: true,
                    });
                }
                Ok(())
            }
            Conn::Tessera(c) => match c.query(&format!("CREATE DATABASE bench_{n}")).await {
                Ok(_) => Ok(()),
                Err(e) => Err(WriteError {
                    // Server errors are 1000..=1999 and 3000+; 2000..=2999 (and 0) are the
                    // client's own (I/O, protocol): then the connection is gone.
                    conn_ok: e.code != 0 && !(2000..3000).contains(&e.code),
                    message: format!("mysql error {} ({}): {}", e.code, e.sql_state, e.message),
                }),
            },
        }
    }
}
