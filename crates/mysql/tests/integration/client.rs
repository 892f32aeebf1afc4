//! A deliberately independent, minimal MySQL client used to poke at the
//! server byte by byte. It shares no code with the crate except the public
//! `scramble_native_password`.

use std::net::SocketAddr;

use tessera_mysql::scramble_native_password;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const CLIENT_LONG_PASSWORD: u32 = 1;
pub const CLIENT_CONNECT_WITH_DB: u32 = 8;
pub const CLIENT_PROTOCOL_41: u32 = 1 << 9;
pub const CLIENT_SSL: u32 = 1 << 11;
pub const CLIENT_TRANSACTIONS: u32 = 1 << 13;
pub const CLIENT_SECURE_CONNECTION: u32 = 1 << 15;
pub const CLIENT_MULTI_STATEMENTS: u32 = 1 << 16;
pub const CLIENT_MULTI_RESULTS: u32 = 1 << 17;
pub const CLIENT_PLUGIN_AUTH: u32 = 1 << 19;
pub const CLIENT_CONNECT_ATTRS: u32 = 1 << 20;
pub const CLIENT_PLUGIN_AUTH_LENENC: u32 = 1 << 21;
pub const CLIENT_DEPRECATE_EOF: u32 = 1 << 24;

pub const COM_QUIT: u8 = 0x01;
pub const COM_INIT_DB: u8 = 0x02;
pub const COM_QUERY: u8 = 0x03;
pub const COM_FIELD_LIST: u8 = 0x04;
pub const COM_STATISTICS: u8 = 0x09;
pub const COM_PING: u8 = 0x0e;
pub const COM_STMT_PREPARE: u8 = 0x16;
pub const COM_STMT_EXECUTE: u8 = 0x17;
pub const COM_STMT_SEND_LONG_DATA: u8 = 0x18;
pub const COM_STMT_CLOSE: u8 = 0x19;
pub const COM_STMT_RESET: u8 = 0x1a;
pub const COM_SET_OPTION: u8 = 0x1b;
pub const COM_RESET_CONNECTION: u8 = 0x1f;

pub const MORE_RESULTS: u16 = 0x0008;

/// Frames a payload (splitting at 0xFFFFFF) starting at `seq`.
pub fn frame(seq: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 8);
    let mut seq = seq;
    let mut rest = payload;
    loop {
        let n = rest.len().min(0xFF_FFFF);
        out.extend_from_slice(&(n as u32).to_le_bytes()[..3]);
        out.push(seq);
        seq = seq.wrapping_add(1);
        out.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        if n < 0xFF_FFFF {
            return out;
        }
    }
}

/// A command packet: command byte + body, sequence 0.
pub fn command_packet(cmd: u8, body: &[u8]) -> Vec<u8> {
    let mut payload = vec![cmd];
    payload.extend_from_slice(body);
    frame(0, &payload)
}

pub fn lenenc_int(out: &mut Vec<u8>, v: u64) {
    match v {
        0..=250 => out.push(v as u8),
        251..=0xFFFF => {
            out.push(0xFC);
            out.extend_from_slice(&(v as u16).to_le_bytes());
        }
        0x1_0000..=0xFF_FFFF => {
            out.push(0xFD);
            out.extend_from_slice(&(v as u32).to_le_bytes()[..3]);
        }
        _ => {
            out.push(0xFE);
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
}

pub fn lenenc_str(out: &mut Vec<u8>, s: &[u8]) {
    lenenc_int(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// Cursor over a payload; panics on truncation (these are tests).
pub struct Cur<'a> {
    pub b: &'a [u8],
    pub pos: usize,
}

impl<'a> Cur<'a> {
    pub fn new(b: &'a [u8]) -> Self {
        Self { b, pos: 0 }
    }
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        s
    }
    pub fn u8(&mut self) -> u8 {
        self.take(1)[0]
    }
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.take(2).try_into().expect("2 bytes"))
    }
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take(4).try_into().expect("4 bytes"))
    }
    pub fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take(8).try_into().expect("8 bytes"))
    }
    pub fn lenenc(&mut self) -> u64 {
        match self.u8() {
            0xFC => u64::from(self.u16()),
            0xFD => {
                let b = self.take(3);
                u64::from(b[0]) | u64::from(b[1]) << 8 | u64::from(b[2]) << 16
            }
            0xFE => self.u64(),
            b => u64::from(b),
        }
    }
    pub fn lenenc_str(&mut self) -> &'a [u8] {
        let n = self.lenenc() as usize;
        self.take(n)
    }
    pub fn cstr(&mut self) -> &'a [u8] {
        let end = self.b[self.pos..]
            .iter()
            .position(|&c| c == 0)
            .expect("NUL terminator");
        let s = &self.b[self.pos..self.pos + end];
        self.pos += end + 1;
        s
    }
    pub fn rest(&mut self) -> &'a [u8] {
        let s = &self.b[self.pos..];
        self.pos = self.b.len();
        s
    }
    pub fn done(&self) -> bool {
        self.pos == self.b.len()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ColumnInfo {
    pub schema: String,
    pub table: String,
    pub name: String,
    pub charset: u16,
    pub length: u32,
    pub column_type: u8,
    pub flags: u16,
    pub decimals: u8,
}

/// A decoded cell.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Null,
    /// Text-protocol cell, or a string-typed binary cell.
    Bytes(Vec<u8>),
    Int(i64),
    UInt(u64),
    F32(f32),
    F64(f64),
    /// year, month, day, hour, minute, second, micros
    DateTime(u16, u8, u8, u8, u8, u8, u32),
    /// negative, days, hour, minute, second, micros
    Time(bool, u32, u8, u8, u8, u32),
}

impl Cell {
    pub fn text(s: &str) -> Cell {
        Cell::Bytes(s.as_bytes().to_vec())
    }
}

#[derive(Debug, PartialEq)]
pub enum Response {
    Ok {
        affected_rows: u64,
        last_insert_id: u64,
        status: u16,
        warnings: u16,
        info: String,
    },
    Err {
        code: u16,
        state: String,
        message: String,
    },
    Rows {
        columns: Vec<ColumnInfo>,
        rows: Vec<Vec<Cell>>,
        status: u16,
    },
}

impl Response {
    pub fn status(&self) -> u16 {
        match self {
            Response::Ok { status, .. } | Response::Rows { status, .. } => *status,
            Response::Err { .. } => 0,
        }
    }
    pub fn err_code(&self) -> Option<u16> {
        match self {
            Response::Err { code, .. } => Some(*code),
            _ => None,
        }
    }
    /// Rows of a result set; panics otherwise.
    pub fn rows(&self) -> &Vec<Vec<Cell>> {
        match self {
            Response::Rows { rows, .. } => rows,
            other => panic!("expected rows, got {other:?}"),
        }
    }
    pub fn columns(&self) -> &Vec<ColumnInfo> {
        match self {
            Response::Rows { columns, .. } => columns,
            other => panic!("expected rows, got {other:?}"),
        }
    }
}

pub fn parse_ok(p: &[u8]) -> Response {
    let mut c = Cur::new(p);
    c.u8();
    let affected_rows = c.lenenc();
    let last_insert_id = c.lenenc();
    let status = c.u16();
    let warnings = c.u16();
    // Info is a lenenc string, present only when non-empty.
    let info = if c.done() {
        String::new()
    } else {
        String::from_utf8_lossy(c.lenenc_str()).into_owned()
    };
    assert!(c.done(), "trailing bytes in OK packet");
    Response::Ok {
        affected_rows,
        last_insert_id,
        status,
        warnings,
        info,
    }
}

pub fn parse_err(p: &[u8]) -> Response {
    let mut c = Cur::new(p);
    assert_eq!(c.u8(), 0xFF);
    let code = c.u16();
    assert_eq!(c.u8(), b'#', "ERR without SQL state marker");
    let state = String::from_utf8_lossy(c.take(5)).into_owned();
    let message = String::from_utf8_lossy(c.rest()).into_owned();
    Response::Err {
        code,
        state,
        message,
    }
}

fn parse_column(p: &[u8]) -> ColumnInfo {
    let mut c = Cur::new(p);
    assert_eq!(c.lenenc_str(), b"def");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let schema = text(c.lenenc_str());
    let table = text(c.lenenc_str());
    let _org_table = c.lenenc_str();
    let name = text(c.lenenc_str());
    let _org_name = c.lenenc_str();
    assert_eq!(c.lenenc(), 0x0C);
    let charset = c.u16();
    let length = c.u32();
    let column_type = c.u8();
    let flags = c.u16();
    let decimals = c.u8();
    assert_eq!(c.take(2), &[0, 0]);
    assert!(c.done());
    ColumnInfo {
        schema,
        table,
        name,
        charset,
        length,
        column_type,
        flags,
        decimals,
    }
}

fn parse_text_row(p: &[u8], n: usize) -> Vec<Cell> {
    let mut c = Cur::new(p);
    let mut row = Vec::new();
    for _ in 0..n {
        if c.b[c.pos] == 0xFB {
            c.u8();
            row.push(Cell::Null);
        } else {
            row.push(Cell::Bytes(c.lenenc_str().to_vec()));
        }
    }
    assert!(c.done(), "trailing bytes in text row");
    row
}

fn parse_binary_row(p: &[u8], columns: &[ColumnInfo]) -> Vec<Cell> {
    let mut c = Cur::new(p);
    assert_eq!(c.u8(), 0, "binary row header");
    let bitmap = c.take((columns.len() + 9) / 8).to_vec();
    let mut row = Vec::new();
    for (i, col) in columns.iter().enumerate() {
        let bit = i + 2;
        if bitmap[bit / 8] & (1 << (bit % 8)) != 0 {
            row.push(Cell::Null);
            continue;
        }
        let unsigned = col.flags & 32 != 0;
        let cell = match col.column_type {
            0x01 => {
                let v = c.u8();
                if unsigned {
                    Cell::UInt(v.into())
                } else {
                    Cell::Int((v as i8).into())
                }
            }
            0x02 | 0x0d => {
                let v = c.u16();
                if unsigned {
                    Cell::UInt(v.into())
                } else {
                    Cell::Int((v as i16).into())
                }
            }
            0x03 | 0x09 => {
                let v = c.u32();
                if unsigned {
                    Cell::UInt(v.into())
                } else {
                    Cell::Int((v as i32).into())
                }
            }
            0x08 => {
                let v = c.u64();
                if unsigned {
                    Cell::UInt(v)
                } else {
                    Cell::Int(v as i64)
                }
            }
            0x04 => Cell::F32(f32::from_bits(c.u32())),
            0x05 => Cell::F64(f64::from_bits(c.u64())),
            0x07 | 0x0a | 0x0c => {
                let len = c.u8();
                let (mut y, mut mo, mut d, mut h, mut mi, mut s, mut us) = (0, 0, 0, 0, 0, 0, 0);
                if len >= 4 {
                    y = c.u16();
                    mo = c.u8();
                    d = c.u8();
                }
                if len >= 7 {
                    h = c.u8();
                    mi = c.u8();
                    s = c.u8();
                }
                if len == 11 {
                    us = c.u32();
                }
                assert!(matches!(len, 0 | 4 | 7 | 11), "bad date length {len}");
                Cell::DateTime(y, mo, d, h, mi, s, us)
            }
            0x0b => {
                let len = c.u8();
                if len == 0 {
                    Cell::Time(false, 0, 0, 0, 0, 0)
                } else {
                    let neg = c.u8() != 0;
                    let days = c.u32();
                    let (h, m, s) = (c.u8(), c.u8(), c.u8());
                    let us = if len == 12 { c.u32() } else { 0 };
                    Cell::Time(neg, days, h, m, s, us)
                }
            }
            _ => Cell::Bytes(c.lenenc_str().to_vec()),
        };
        row.push(cell);
    }
    assert!(c.done(), "trailing bytes in binary row");
    row
}

pub struct RawClient {
    pub stream: TcpStream,
    buf: Vec<u8>,
    /// Sequence id expected for the next packet read.
    pub seq: u8,
    pub capabilities: u32,
}

pub struct Greeting {
    pub server_version: String,
    pub connection_id: u32,
    pub scramble: [u8; 20],
    pub capabilities: u32,
    pub charset: u8,
    pub status: u16,
    pub plugin: String,
}

/// Options for logging in.
pub struct Login<'a> {
    pub user: &'a str,
    pub password: &'a str,
    pub database: Option<&'a str>,
    /// Plugin the client claims to use; anything but mysql_native_password
    /// makes the server switch us over.
    pub plugin: &'a str,
    pub capabilities: u32,
}

impl Default for Login<'_> {
    fn default() -> Self {
        Self {
            user: "root",
            password: "",
            database: None,
            plugin: "mysql_native_password",
            capabilities: CLIENT_LONG_PASSWORD
                | CLIENT_PROTOCOL_41
                | CLIENT_TRANSACTIONS
                | CLIENT_SECURE_CONNECTION
                | CLIENT_MULTI_STATEMENTS
                | CLIENT_MULTI_RESULTS
                | CLIENT_PLUGIN_AUTH
                | CLIENT_CONNECT_ATTRS
                | CLIENT_PLUGIN_AUTH_LENENC
                | CLIENT_DEPRECATE_EOF,
        }
    }
}

impl RawClient {
    pub async fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Self {
            stream,
            buf: Vec::new(),
            seq: 0,
            capabilities: 0,
        }
    }

    /// Reads one physical packet: `None` at a clean EOF.
    async fn read_physical(&mut self) -> Option<(u8, Vec<u8>)> {
        loop {
            if self.buf.len() >= 4 {
                let len = usize::from(self.buf[0])
                    | usize::from(self.buf[1]) << 8
                    | usize::from(self.buf[2]) << 16;
                if self.buf.len() >= 4 + len {
                    let seq = self.buf[3];
                    let payload = self.buf[4..4 + len].to_vec();
                    self.buf.drain(..4 + len);
                    return Some((seq, payload));
                }
            }
            let mut chunk = vec![0u8; 256 * 1024];
            match self.stream.read(&mut chunk).await {
                Ok(0) | Err(_) => {
                    assert!(self.buf.is_empty(), "EOF inside a packet");
                    return None;
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Reads one logical packet (joining 0xFFFFFF chunks) and checks its
    /// sequence id; `None` at EOF.
    pub async fn try_read_packet(&mut self) -> Option<Vec<u8>> {
        let mut payload = Vec::new();
        loop {
            let (seq, chunk) = self.read_physical().await?;
            assert_eq!(seq, self.seq, "server sequence id");
            self.seq = seq.wrapping_add(1);
            let full = chunk.len() == 0xFF_FFFF;
            payload.extend_from_slice(&chunk);
            if !full {
                return Some(payload);
            }
        }
    }

    pub async fn read_packet(&mut self) -> Vec<u8> {
        self.try_read_packet()
            .await
            .expect("server closed the connection")
    }

    /// Sends a payload continuing the current sequence.
    pub async fn write_packet(&mut self, payload: &[u8]) {
        let bytes = frame(self.seq, payload);
        // A payload of n bytes takes n / 0xFFFFFF + 1 physical packets.
        self.seq = self.seq.wrapping_add((payload.len() / 0xFF_FFFF + 1) as u8);
        self.stream.write_all(&bytes).await.expect("write");
    }

    /// Sends a command (sequence restarts at 0).
    pub async fn command(&mut self, cmd: u8, body: &[u8]) {
        self.seq = 0;
        let mut payload = vec![cmd];
        payload.extend_from_slice(body);
        self.write_packet(&payload).await;
    }

    /// Reads whatever is left until the server closes; true if it did.
    pub async fn closed_by_server(&mut self) -> bool {
        let mut sink = [0u8; 4096];
        let wait = async {
            loop {
                match self.stream.read(&mut sink).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(10), wait)
            .await
            .is_ok()
    }

    pub async fn read_greeting(&mut self) -> Greeting {
        self.seq = 0;
        let p = self.read_packet().await;
        let mut c = Cur::new(&p);
        assert_eq!(c.u8(), 10, "protocol version");
        let server_version = String::from_utf8_lossy(c.cstr()).into_owned();
        let connection_id = c.u32();
        let mut scramble = [0u8; 20];
        scramble[..8].copy_from_slice(c.take(8));
        assert_eq!(c.u8(), 0);
        let low = u32::from(c.u16());
        let charset = c.u8();
        let status = c.u16();
        let high = u32::from(c.u16());
        let auth_len = c.u8();
        assert_eq!(auth_len, 21);
        assert_eq!(c.take(10), &[0; 10]);
        scramble[8..].copy_from_slice(c.take(12));
        assert_eq!(c.u8(), 0);
        let plugin = String::from_utf8_lossy(c.cstr()).into_owned();
        assert!(c.done());
        Greeting {
            server_version,
            connection_id,
            scramble,
            capabilities: low | high << 16,
            charset,
            status,
            plugin,
        }
    }

    /// Full login; returns the greeting and the server's final answer.
    pub async fn login(addr: SocketAddr, login: &Login<'_>) -> (Self, Greeting, Response) {
        let mut client = Self::connect(addr).await;
        let greeting = client.read_greeting().await;
        let caps = login.capabilities
            | if login.database.is_some() {
                CLIENT_CONNECT_WITH_DB
            } else {
                0
            };
        client.capabilities = caps;
        let mut p = Vec::new();
        p.extend_from_slice(&caps.to_le_bytes());
        p.extend_from_slice(&(16u32 << 20).to_le_bytes());
        p.push(45);
        p.extend_from_slice(&[0; 23]);
        p.extend_from_slice(login.user.as_bytes());
        p.push(0);
        let auth = if login.plugin == "mysql_native_password" {
            scramble_native_password(&greeting.scramble, login.password)
        } else {
            vec![0x55; 32] // what another plugin might send; must be ignored
        };
        lenenc_str(&mut p, &auth);
        if let Some(db) = login.database {
            p.extend_from_slice(db.as_bytes());
            p.push(0);
        }
        p.extend_from_slice(login.plugin.as_bytes());
        p.push(0);
        let mut attrs = Vec::new();
        lenenc_str(&mut attrs, b"_client_name");
        lenenc_str(&mut attrs, b"raw-test");
        lenenc_str(&mut p, &attrs);
        client.write_packet(&p).await;
        let mut reply = client.read_packet().await;
        if reply[0] == 0xFE {
            // AuthSwitchRequest.
            let mut c = Cur::new(&reply);
            c.u8();
            assert_eq!(c.cstr(), b"mysql_native_password");
            let data = c.rest();
            assert_eq!(data.len(), 21, "scramble + NUL");
            assert_eq!(
                &data[..20],
                &greeting.scramble,
                "switch must reuse the scramble"
            );
            let mut scramble = [0u8; 20];
            scramble.copy_from_slice(&data[..20]);
            let response = scramble_native_password(&scramble, login.password);
            client.write_packet(&response).await;
            reply = client.read_packet().await;
        }
        let answer = match reply[0] {
            0x00 => parse_ok(&reply),
            0xFF => parse_err(&reply),
            b => panic!("unexpected login reply header {b:#x}"),
        };
        (client, greeting, answer)
    }

    /// Login that must succeed.
    pub async fn login_ok(addr: SocketAddr, login: &Login<'_>) -> Self {
        let (client, _, answer) = Self::login(addr, login).await;
        assert!(
            matches!(answer, Response::Ok { .. }),
            "login failed: {answer:?}"
        );
        client
    }

    pub fn deprecate_eof(&self) -> bool {
        self.capabilities & CLIENT_DEPRECATE_EOF != 0
    }

    /// Reads one response (OK, ERR or a result set) to a command.
    pub async fn read_response(&mut self, binary: bool) -> Response {
        let first = self.read_packet().await;
        match first[0] {
            0x00 => return parse_ok(&first),
            0xFF => return parse_err(&first),
            _ => {}
        }
        let n = Cur::new(&first).lenenc() as usize;
        let mut columns = Vec::new();
        for _ in 0..n {
            columns.push(parse_column(&self.read_packet().await));
        }
        if !self.deprecate_eof() {
            let eof = self.read_packet().await;
            assert_eq!(eof[0], 0xFE);
            assert_eq!(eof.len(), 5);
        }
        let mut rows = Vec::new();
        loop {
            let p = self.read_packet().await;
            if p[0] == 0xFE && p.len() < 0xFF_FFFF {
                let status = if self.deprecate_eof() {
                    assert!(p.len() >= 7, "OK-style terminator expected");
                    match parse_ok(&p) {
                        Response::Ok { status, .. } => status,
                        _ => unreachable!(),
                    }
                } else {
                    assert_eq!(p.len(), 5, "classic EOF expected");
                    u16::from_le_bytes([p[3], p[4]])
                };
                return Response::Rows {
                    columns,
                    rows,
                    status,
                };
            }
            if p[0] == 0xFF {
                return parse_err(&p);
            }
            rows.push(if binary {
                parse_binary_row(&p, &columns)
            } else {
                parse_text_row(&p, columns.len())
            });
        }
    }

    /// Runs a text query and returns all its results.
    pub async fn query_all(&mut self, sql: &str) -> Vec<Response> {
        self.command(COM_QUERY, sql.as_bytes()).await;
        self.read_all(false).await
    }

    /// Runs a text query with a single result.
    pub async fn query(&mut self, sql: &str) -> Response {
        let mut all = self.query_all(sql).await;
        assert_eq!(all.len(), 1, "expected one result: {all:?}");
        all.remove(0)
    }

    /// Reads results while SERVER_MORE_RESULTS_EXISTS is set.
    pub async fn read_all(&mut self, binary: bool) -> Vec<Response> {
        let mut out = Vec::new();
        loop {
            let r = self.read_response(binary).await;
            let more = r.status() & MORE_RESULTS != 0;
            out.push(r);
            if !more {
                return out;
            }
        }
    }

    /// COM_STMT_PREPARE; returns (statement id, columns, params).
    pub async fn prepare(&mut self, sql: &str) -> Result<(u32, u16, u16), Response> {
        self.command(COM_STMT_PREPARE, sql.as_bytes()).await;
        let p = self.read_packet().await;
        if p[0] == 0xFF {
            return Err(parse_err(&p));
        }
        let mut c = Cur::new(&p);
        assert_eq!(c.u8(), 0);
        let id = c.u32();
        let columns = c.u16();
        let params = c.u16();
        assert_eq!(c.u8(), 0);
        let _warnings = c.u16();
        for _ in 0..params {
            let def = parse_column(&self.read_packet().await);
            assert_eq!(def.name, "?");
        }
        if params > 0 && !self.deprecate_eof() {
            assert_eq!(self.read_packet().await[0], 0xFE);
        }
        for _ in 0..columns {
            self.read_packet().await;
        }
        Ok((id, columns, params))
    }
}

/// One parameter for COM_STMT_EXECUTE.
pub enum Param {
    Null,
    /// type code, unsigned flag, raw value bytes
    Typed(u8, bool, Vec<u8>),
}

/// Builds a COM_STMT_EXECUTE body.
pub fn execute_body(id: u32, params: &[Param], send_types: bool) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&id.to_le_bytes());
    b.push(0); // CURSOR_TYPE_NO_CURSOR
    b.extend_from_slice(&1u32.to_le_bytes());
    if params.is_empty() {
        return b;
    }
    let mut bitmap = vec![0u8; params.len().div_ceil(8)];
    for (i, p) in params.iter().enumerate() {
        if matches!(p, Param::Null) {
            bitmap[i / 8] |= 1 << (i % 8);
        }
    }
    b.extend_from_slice(&bitmap);
    b.push(u8::from(send_types));
    if send_types {
        for p in params {
            match p {
                Param::Null => b.extend_from_slice(&[0x06, 0]),
                Param::Typed(t, unsigned, _) => {
                    b.extend_from_slice(&[*t, if *unsigned { 0x80 } else { 0 }]);
                }
            }
        }
    }
    for p in params {
        if let Param::Typed(_, _, v) = p {
            b.extend_from_slice(v);
        }
    }
    b
}

pub fn lenenc_value(s: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    lenenc_str(&mut v, s);
    v
}
