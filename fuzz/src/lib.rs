//! Shared pieces of the fuzz targets: a MySQL session served from bytes in memory.
//!
//! [`serve`] runs the real connection loop (`mysql::serve_connection`: greeting, handshake
//! response, command phase) against a stream whose input is the fuzzer's bytes and whose output
//! is thrown away, with a [`Handler`] that accepts every login and answers every query with a
//! small result set. Whatever the bytes, the loop must end (the input runs out) without a panic.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use mysql::{
    Column, ColumnType, ErrorInfo, Handler, HandshakeInfo, OkInfo, QueryOutcome, ResultSet,
    ServerConfig, Value,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The client's side of the connection: reads come from `input` at most `chunk` bytes at a
/// time (so packets also arrive split); writes are counted and dropped.
struct Script {
    input: Vec<u8>,
    pos: usize,
    chunk: usize,
    written: usize,
}

impl AsyncRead for Script {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = (self.input.len() - self.pos)
            .min(buf.remaining())
            .min(self.chunk);
        let from = self.pos;
        buf.put_slice(&self.input[from..from + n]);
        self.pos += n;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Script {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.written += buf.len();
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Accepts every login except user `deny`; answers a query with one row: the SQL text, its
/// length and a few typed cells (so the text and binary row encodings both run).
struct Echo;

impl Handler for Echo {
    type Session = ();

    async fn authenticate(&self, info: HandshakeInfo<'_>) -> Result<(), ErrorInfo> {
        if info.user == "deny" {
            return Err(ErrorInfo::new(1045, "28000", "Access denied"));
        }
        Ok(())
    }

    async fn query(&self, _: &mut (), sql: &str) -> Vec<Result<QueryOutcome, ErrorInfo>> {
        if sql.starts_with("ok") {
            return vec![Ok(QueryOutcome::Ok(OkInfo::default()))];
        }
        if sql.starts_with("err") {
            return vec![Err(ErrorInfo::new(1064, "42000", sql))];
        }
        let columns = vec![
            Column::new("sql", ColumnType::VarString),
            Column::new("len", ColumnType::LongLong),
            Column::new("half", ColumnType::Double),
            Column::new("day", ColumnType::Date),
            Column::new("nothing", ColumnType::Long),
        ];
        let len = sql.len() as i64;
        let rows = vec![vec![
            Value::Text(sql.to_owned()),
            Value::Int(len),
            Value::Double(len as f64 / 2.0),
            Value::Date {
                year: 2026,
                month: 11,
                day: 23,
            },
            Value::Null,
        ]];
        vec![Ok(QueryOutcome::ResultSet(ResultSet { columns, rows }))]
    }

    async fn init_db(&self, _: &mut (), db: &str) -> Result<(), ErrorInfo> {
        if db.is_empty() {
            return Err(ErrorInfo::new(1046, "3D000", "No database selected"));
        }
        Ok(())
    }

    async fn close(&self, _: ()) {}
}

thread_local! {
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap_or_else(|e| panic!("a tokio runtime for the fuzz target: {e}"));
}

/// Serves one connection whose client sends `input` (read `chunk` bytes at a time), with a
/// `max_packet_bytes` limit. Returns what the server wrote, in bytes.
pub fn serve(input: Vec<u8>, chunk: usize, max_packet_bytes: usize) -> usize {
    let config = ServerConfig {
        max_packet_bytes,
        ..ServerConfig::default()
    };
    let mut stream = Script {
        input,
        pos: 0,
        chunk: chunk.max(1),
        written: 0,
    };
    let peer = SocketAddr::from((Ipv4Addr::LOCALHOST, 40_000));
    RUNTIME.with(|rt| {
        // Ok or Err both end the connection; neither may panic.
        let _ = rt.block_on(mysql::serve_connection(
            Arc::new(Echo),
            &mut stream,
            7,
            peer,
            &config,
        ));
    });
    stream.written
}

/// Frames `payload` as one MySQL packet with sequence id `seq` (payload < 16 MiB).
pub fn packet(out: &mut Vec<u8>, seq: u8, payload: &[u8]) {
    let len = payload.len().min(0xFF_FFFE);
    out.extend_from_slice(&[len as u8, (len >> 8) as u8, (len >> 16) as u8, seq]);
    out.extend_from_slice(&payload[..len]);
}

/// Capability bits of a HandshakeResponse41.
pub mod caps {
    /// CLIENT_CONNECT_WITH_DB.
    pub const CONNECT_WITH_DB: u32 = 1 << 3;
    /// CLIENT_PROTOCOL_41.
    pub const PROTOCOL_41: u32 = 1 << 9;
    /// CLIENT_SECURE_CONNECTION.
    pub const SECURE_CONNECTION: u32 = 1 << 15;
    /// CLIENT_MULTI_STATEMENTS.
    pub const MULTI_STATEMENTS: u32 = 1 << 16;
    /// CLIENT_PLUGIN_AUTH.
    pub const PLUGIN_AUTH: u32 = 1 << 19;
    /// CLIENT_CONNECT_ATTRS.
    pub const CONNECT_ATTRS: u32 = 1 << 20;
    /// CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA.
    pub const PLUGIN_AUTH_LENENC: u32 = 1 << 21;
    /// CLIENT_DEPRECATE_EOF.
    pub const DEPRECATE_EOF: u32 = 1 << 24;
}

/// A HandshakeResponse41 payload as the `mysql` CLI sends it: user `root`, no password,
/// database `db`, plugin mysql_native_password, one connection attribute; `extra` capability
/// bits added.
pub fn handshake_response(extra: u32) -> Vec<u8> {
    let caps = caps::PROTOCOL_41
        | caps::SECURE_CONNECTION
        | caps::CONNECT_WITH_DB
        | caps::PLUGIN_AUTH
        | caps::CONNECT_ATTRS
        | caps::PLUGIN_AUTH_LENENC
        | extra;
    let mut p = Vec::new();
    p.extend_from_slice(&caps.to_le_bytes());
    p.extend_from_slice(&(16u32 << 20).to_le_bytes());
    p.push(33);
    p.extend_from_slice(&[0; 23]);
    p.extend_from_slice(b"root\0");
    p.push(0); // lenenc auth response: empty
    p.extend_from_slice(b"db\0");
    p.extend_from_slice(b"mysql_native_password\0");
    let attrs = b"\x0c_client_name\x08libmysql";
    p.push(attrs.len() as u8);
    p.extend_from_slice(attrs);
    p
}

/// The command phase of `mysql_command`'s input: `[len][payload]...`, each payload a command
/// packet with sequence id 0 (a length byte of 255 takes the rest of the input).
pub fn command_packets(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some((&len, rest)) = data.split_first() {
        let n = if len == 255 {
            rest.len()
        } else {
            usize::from(len).min(rest.len())
        };
        packet(&mut out, 0, &rest[..n]);
        data = &rest[n..];
    }
    out
}
