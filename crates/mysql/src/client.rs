//! A small async MySQL client: enough for tools and tests to talk to an FE
//! (or any MySQL-compatible server) over the text protocol.
//!
//! ```text
//! connect:  TCP (TCP_NODELAY) -> HandshakeV10 -> HandshakeResponse41
//!           -> [AuthSwitchRequest -> auth data]* -> OK | ERR
//! query:    COM_QUERY -> OK | ERR | LOCAL INFILE request (declined)
//!           | column count, column definitions, [EOF], text rows, EOF/OK
//! ```
//!
//! Only `mysql_native_password` is spoken (AuthSwitchRequest to it is
//! followed; a switch to any other plugin fails cleanly). Capabilities sent:
//! PROTOCOL_41, SECURE_CONNECTION, PLUGIN_AUTH, LONG_PASSWORD, TRANSACTIONS,
//! DEPRECATE_EOF (when the server offers it) and CONNECT_WITH_DB (when a
//! database is given). Multi-statements are not enabled.
//!
//! Server input is never trusted: every length is bounds-checked, a packet
//! may not exceed [`MAX_PACKET_BYTES`], a result set may not exceed
//! [`MAX_RESULT_BYTES`] in total nor [`MAX_COLUMNS`] columns, and malformed
//! input becomes a [`ClientError`] with code 0. After an I/O or protocol
//! error, or when a command future was dropped half way (e.g. by a timeout),
//! the connection is out of step with the server and every later call fails
//! at once; open a new [`Client`].

use std::fmt;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::auth::{NATIVE_PASSWORD_PLUGIN, scramble_native_password};
use crate::handshake::caps;
use crate::packet::{PacketError, PacketReader, write_packet};
use crate::resultset::SERVER_MORE_RESULTS_EXISTS;
use crate::wire::{Malformed, Reader, put_null_terminated};

/// Largest (joined) packet payload accepted from the server.
pub const MAX_PACKET_BYTES: usize = 64 << 20;

/// Largest total size of the rows of one query's results.
pub const MAX_RESULT_BYTES: usize = 256 << 20;

/// Most columns accepted in one result set (MySQL's own table limit).
pub const MAX_COLUMNS: u64 = 4096;

/// How long [`Client::connect`] waits for the connection and the login.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// How many AuthSwitchRequests one login may go through.
const MAX_AUTH_ROUNDS: usize = 4;

/// How long [`Client::close`] tries to deliver COM_QUIT.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// `max_packet_size` announced to the server.
const ANNOUNCED_MAX_PACKET: u32 = 16 << 20;

/// utf8mb4_general_ci.
const CHARSET_UTF8MB4: u8 = 45;

const COM_QUIT: u8 = 0x01;
const COM_INIT_DB: u8 = 0x02;
const COM_QUERY: u8 = 0x03;
const COM_PING: u8 = 0x0e;

/// SQLSTATE used for I/O failures ("communication link failure").
const STATE_IO: &str = "08S01";
/// SQLSTATE used for protocol errors and client-side refusals.
const STATE_GENERAL: &str = "HY000";

/// An error reply from the server (`code` is its MySQL errno) or a failure
/// on the client side (`code` 0: I/O, timeout, malformed server input).
#[derive(Debug, Clone)]
pub struct ClientError {
    /// MySQL error number (e.g. 1045); 0 for I/O or protocol errors.
    pub code: u16,
    /// Five-character SQLSTATE.
    pub sql_state: String,
    /// Message text.
    pub message: String,
}

impl ClientError {
    fn io(message: impl Into<String>) -> Self {
        Self {
            code: 0,
            sql_state: STATE_IO.to_owned(),
            message: message.into(),
        }
    }

    fn protocol(message: impl Into<String>) -> Self {
        Self {
            code: 0,
            sql_state: STATE_GENERAL.to_owned(),
            message: message.into(),
        }
    }

    fn malformed(what: &str) -> Self {
        Self::protocol(format!("malformed {what} from the server"))
    }

    fn from_packet(e: PacketError) -> Self {
        match e {
            PacketError::Io(e) => Self::io(format!("connection failed: {e}")),
            PacketError::Closed | PacketError::Truncated => {
                Self::io("connection closed by the server")
            }
            PacketError::TooLarge { size, .. } => Self::protocol(format!(
                "server packet of {size} bytes exceeds the client limit of {MAX_PACKET_BYTES}"
            )),
            PacketError::OutOfOrder { expected, got } => Self::protocol(format!(
                "server packet out of order (sequence id {got}, expected {expected})"
            )),
        }
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.code == 0 {
            f.write_str(&self.message)
        } else {
            write!(
                f,
                "ERROR {} ({}): {}",
                self.code, self.sql_state, self.message
            )
        }
    }
}

impl std::error::Error for ClientError {}

/// What one COM_QUERY produced: the columns and rows of a result set (text
/// form, NULL as `None`), or the affected row count of an OK.
#[derive(Debug, Clone, Default)]
pub struct QueryResult {
    /// Column names (labels, as `AS` sets them).
    pub columns: Vec<String>,
    /// Rows, one cell per column.
    pub rows: Vec<Vec<Option<String>>>,
    /// Rows changed by a statement that returned no result set.
    pub affected_rows: u64,
}

/// One connection to a MySQL-protocol server.
pub struct Client {
    stream: TcpStream,
    reader: PacketReader,
    out: Vec<u8>,
    /// Sequence id of the next packet in the current exchange.
    seq: u8,
    /// Capabilities in effect (what we sent, which the server offered).
    caps: u32,
    /// Set while an exchange is in progress and left set when one fails
    /// half way: the stream is then out of step and unusable.
    broken: bool,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("peer", &self.stream.peer_addr().ok())
            .field("broken", &self.broken)
            .finish()
    }
}

/// A parsed OK packet (only what callers need).
struct OkPacket {
    affected_rows: u64,
    status: u16,
}

/// The first packet of a command's response, classified.
enum Reply {
    Ok(OkPacket),
    Err(ClientError),
    Other(bytes::Bytes),
}

impl Client {
    /// Connects and logs in, giving up after [`DEFAULT_CONNECT_TIMEOUT`].
    pub async fn connect(
        addr: &str,
        user: &str,
        password: &str,
        database: Option<&str>,
    ) -> Result<Client, ClientError> {
        Self::connect_timeout(addr, user, password, database, DEFAULT_CONNECT_TIMEOUT).await
    }

    /// Connects and logs in; the TCP connect and the whole login together
    /// take at most `timeout`.
    pub async fn connect_timeout(
        addr: &str,
        user: &str,
        password: &str,
        database: Option<&str>,
        timeout: Duration,
    ) -> Result<Client, ClientError> {
        match tokio::time::timeout(timeout, Self::connect_inner(addr, user, password, database))
            .await
        {
            Ok(result) => result,
            Err(_) => Err(ClientError::io(format!(
                "connecting to {addr} timed out after {timeout:?}"
            ))),
        }
    }

    async fn connect_inner(
        addr: &str,
        user: &str,
        password: &str,
        database: Option<&str>,
    ) -> Result<Client, ClientError> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| ClientError::io(format!("cannot connect to {addr}: {e}")))?;
        stream
            .set_nodelay(true)
            .map_err(|e| ClientError::io(format!("cannot set TCP_NODELAY: {e}")))?;
        let mut client = Client {
            stream,
            reader: PacketReader::new(MAX_PACKET_BYTES),
            out: Vec::new(),
            seq: 0,
            caps: 0,
            broken: true,
        };
        client.login(user, password, database).await?;
        client.broken = false;
        if let Some(db) = database
            && client.caps & caps::CONNECT_WITH_DB == 0
        {
            // The server cannot take the database in the handshake.
            client.init_db(db).await?;
        }
        Ok(client)
    }

    async fn login(
        &mut self,
        user: &str,
        password: &str,
        database: Option<&str>,
    ) -> Result<(), ClientError> {
        let greeting = self.read().await?;
        if greeting.first() == Some(&0xFF) {
            // E.g. "Too many connections", sent instead of a greeting.
            return Err(parse_err(&greeting));
        }
        let greeting = parse_greeting(&greeting).map_err(|_| ClientError::malformed("greeting"))?;
        if greeting.capabilities & caps::PROTOCOL_41 == 0 {
            return Err(ClientError::protocol(
                "the server does not speak protocol 4.1",
            ));
        }
        let mut wanted = caps::PROTOCOL_41
            | caps::SECURE_CONNECTION
            | caps::PLUGIN_AUTH
            | caps::LONG_PASSWORD
            | caps::TRANSACTIONS
            | caps::DEPRECATE_EOF;
        if database.is_some() {
            wanted |= caps::CONNECT_WITH_DB;
        }
        self.caps = wanted & greeting.capabilities;
        // The scramble answer is always mysql_native_password; a server whose
        // default plugin differs switches us (or not) in its reply.
        let auth = match &greeting.scramble {
            Some(s) => scramble_native_password(s, password),
            None if password.is_empty() => Vec::new(),
            None => {
                return Err(ClientError::protocol(
                    "the server sent no 20-byte challenge for mysql_native_password",
                ));
            }
        };
        let auth_len = u8::try_from(auth.len())
            .map_err(|_| ClientError::protocol("auth response too long"))?;
        let mut p = Vec::with_capacity(64 + user.len());
        p.extend_from_slice(&self.caps.to_le_bytes());
        p.extend_from_slice(&ANNOUNCED_MAX_PACKET.to_le_bytes());
        p.push(CHARSET_UTF8MB4);
        p.extend_from_slice(&[0; 23]);
        put_null_terminated(&mut p, &without_nul(user));
        if self.caps & caps::SECURE_CONNECTION != 0 {
            p.push(auth_len);
            p.extend_from_slice(&auth);
        } else {
            // Pre-4.1 style NUL-terminated auth data cannot carry arbitrary
            // bytes; such servers only work with an empty password.
            if !auth.is_empty() {
                return Err(ClientError::protocol(
                    "the server does not support secure password authentication",
                ));
            }
            p.push(0);
        }
        if self.caps & caps::CONNECT_WITH_DB != 0
            && let Some(db) = database
        {
            put_null_terminated(&mut p, &without_nul(db));
        }
        if self.caps & caps::PLUGIN_AUTH != 0 {
            put_null_terminated(&mut p, NATIVE_PASSWORD_PLUGIN.as_bytes());
        }
        self.send(&p);
        self.flush().await?;

        for _ in 0..MAX_AUTH_ROUNDS {
            let reply = self.read().await?;
            match reply.first() {
                Some(0x00) => return Ok(()),
                Some(0xFF) => return Err(parse_err(&reply)),
                Some(0xFE) => {
                    let scramble = parse_auth_switch(&reply)?;
                    let auth = scramble_native_password(&scramble, password);
                    self.send(&auth);
                    self.flush().await?;
                }
                Some(0x01) => {
                    return Err(ClientError::protocol(
                        "the server asked for more authentication data \
                         (only mysql_native_password is supported)",
                    ));
                }
                _ => return Err(ClientError::malformed("login reply")),
            }
        }
        Err(ClientError::protocol(
            "too many authentication switches from the server",
        ))
    }

    /// Runs one statement with COM_QUERY (text protocol).
    ///
    /// A statement that produces a result set fills `columns` and `rows`; an
    /// OK fills `affected_rows`. Should the server send several results, all
    /// are read: rows are those of the last result set and `affected_rows`
    /// is the sum. An ERR reply becomes an error with the server's code, and
    /// the connection stays usable.
    pub async fn query(&mut self, sql: &str) -> Result<QueryResult, ClientError> {
        self.begin()?;
        let mut payload = Vec::with_capacity(1 + sql.len());
        payload.push(COM_QUERY);
        payload.extend_from_slice(sql.as_bytes());
        self.send(&payload);
        self.flush().await?;
        let mut result = QueryResult::default();
        let mut budget = MAX_RESULT_BYTES;
        loop {
            let status = match self.read_reply().await? {
                Reply::Ok(ok) => {
                    result.affected_rows = result.affected_rows.saturating_add(ok.affected_rows);
                    ok.status
                }
                Reply::Err(e) => {
                    self.broken = false;
                    return Err(e);
                }
                Reply::Other(first) if first.first() == Some(&0xFB) => {
                    // LOCAL INFILE request: decline with an empty packet; the
                    // server then answers with OK or (usually) ERR.
                    self.send(&[]);
                    self.flush().await?;
                    continue;
                }
                Reply::Other(first) => {
                    let (columns, rows, status) = self.read_result_set(&first, &mut budget).await?;
                    result.columns = columns;
                    result.rows = rows;
                    status
                }
            };
            if status & SERVER_MORE_RESULTS_EXISTS == 0 {
                break;
            }
        }
        self.broken = false;
        Ok(result)
    }

    /// Checks the connection with COM_PING.
    pub async fn ping(&mut self) -> Result<(), ClientError> {
        self.simple_command(COM_PING, b"").await
    }

    /// Says goodbye with COM_QUIT (best effort, briefly bounded) and closes.
    pub async fn close(mut self) {
        if self.broken {
            return;
        }
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
            self.seq = 0;
            self.send(&[COM_QUIT]);
            if self.flush().await.is_ok() {
                let _ = self.stream.shutdown().await;
            }
        })
        .await;
    }

    /// COM_INIT_DB, for servers that cannot take the database at login.
    async fn init_db(&mut self, db: &str) -> Result<(), ClientError> {
        self.simple_command(COM_INIT_DB, db.as_bytes()).await
    }

    /// A command whose reply is OK or ERR.
    async fn simple_command(&mut self, command: u8, body: &[u8]) -> Result<(), ClientError> {
        self.begin()?;
        let mut payload = Vec::with_capacity(1 + body.len());
        payload.push(command);
        payload.extend_from_slice(body);
        self.send(&payload);
        self.flush().await?;
        match self.read_reply().await? {
            Reply::Ok(_) => {
                self.broken = false;
                Ok(())
            }
            Reply::Err(e) => {
                self.broken = false;
                Err(e)
            }
            Reply::Other(_) => Err(ClientError::malformed("reply")),
        }
    }

    /// Starts a command exchange; refuses when an earlier one left the
    /// stream out of step.
    fn begin(&mut self) -> Result<(), ClientError> {
        if self.broken {
            return Err(ClientError::io(
                "the connection is unusable after an earlier error; reconnect",
            ));
        }
        self.broken = true;
        self.seq = 0;
        Ok(())
    }

    fn send(&mut self, payload: &[u8]) {
        write_packet(&mut self.out, payload, &mut self.seq);
    }

    async fn flush(&mut self) -> Result<(), ClientError> {
        let result = self.stream.write_all(&self.out).await;
        self.out.clear();
        result.map_err(|e| ClientError::io(format!("cannot send to the server: {e}")))
    }

    async fn read(&mut self) -> Result<bytes::Bytes, ClientError> {
        let packet = self
            .reader
            .read(&mut self.stream, self.seq)
            .await
            .map_err(ClientError::from_packet)?;
        self.seq = packet.seq.wrapping_add(1);
        Ok(packet.payload)
    }

    async fn read_reply(&mut self) -> Result<Reply, ClientError> {
        let p = self.read().await?;
        Ok(match p.first() {
            Some(0x00) => Reply::Ok(parse_ok(&p).map_err(|_| ClientError::malformed("OK packet"))?),
            Some(0xFF) => Reply::Err(parse_err(&p)),
            Some(_) => Reply::Other(p),
            None => return Err(ClientError::malformed("empty reply")),
        })
    }

    /// Reads a text result set whose first packet (the column count) is
    /// `first`; returns columns, rows and the final status flags.
    async fn read_result_set(
        &mut self,
        first: &[u8],
        budget: &mut usize,
    ) -> Result<(Vec<String>, Vec<Vec<Option<String>>>, u16), ClientError> {
        let mut r = Reader::new(first);
        let count = r
            .lenenc_int()
            .map_err(|_| ClientError::malformed("column count"))?;
        if count == 0 || count > MAX_COLUMNS {
            return Err(ClientError::protocol(format!(
                "server announced {count} columns (limit {MAX_COLUMNS})"
            )));
        }
        let count = count as usize;
        let mut columns = Vec::with_capacity(count);
        for _ in 0..count {
            let p = self.read().await?;
            charge(budget, p.len(), 1)?;
            columns.push(parse_column_name(&p).map_err(|_| ClientError::malformed("column"))?);
        }
        let deprecate_eof = self.caps & caps::DEPRECATE_EOF != 0;
        if !deprecate_eof {
            let p = self.read().await?;
            if !is_eof(&p, false) {
                return Err(ClientError::malformed("end of column definitions"));
            }
        }
        let mut rows = Vec::new();
        loop {
            let p = self.read().await?;
            if is_eof(&p, deprecate_eof) {
                let status = parse_eof_status(&p, deprecate_eof)
                    .map_err(|_| ClientError::malformed("end of rows"))?;
                return Ok((columns, rows, status));
            }
            if p.first() == Some(&0xFF) {
                // The statement failed while streaming rows; the exchange is
                // over and the connection usable.
                self.broken = false;
                return Err(parse_err(&p));
            }
            charge(budget, p.len(), count)?;
            let row = parse_text_row(&p, count).map_err(|_| ClientError::malformed("row"))?;
            rows.push(row);
        }
    }
}

/// Counts `n` bytes of payload holding `cells` cells against the
/// result-size budget.
fn charge(budget: &mut usize, n: usize, cells: usize) -> Result<(), ClientError> {
    // Every cell also costs its `Option<String>` header in memory, so a row
    // of many tiny cells is charged what it really takes.
    let cost = cells
        .saturating_mul(std::mem::size_of::<Option<String>>())
        .saturating_add(n);
    *budget = budget.checked_sub(cost).ok_or_else(|| {
        ClientError::protocol(format!(
            "result larger than the client limit of {MAX_RESULT_BYTES} bytes"
        ))
    })?;
    Ok(())
}

fn without_nul(s: &str) -> Vec<u8> {
    s.bytes().filter(|&b| b != 0).collect()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// What the client needs from HandshakeV10.
struct Greeting {
    capabilities: u32,
    /// The 20-byte challenge, when the server sent one of that size.
    scramble: Option<[u8; 20]>,
}

fn parse_greeting(p: &[u8]) -> Result<Greeting, Malformed> {
    let mut r = Reader::new(p);
    if r.u8()? != 10 {
        return Err(Malformed);
    }
    r.null_terminated()?; // server version
    r.u32()?; // connection id
    let part1 = r.bytes(8)?;
    r.u8()?; // filler
    let mut capabilities = u32::from(r.u16()?);
    let mut part2: &[u8] = &[];
    if !r.is_empty() {
        r.u8()?; // charset
        r.u16()?; // status
        capabilities |= u32::from(r.u16()?) << 16;
        let auth_len = usize::from(r.u8()?);
        r.bytes(10)?; // reserved
        if capabilities & caps::SECURE_CONNECTION != 0 {
            // At least 13 bytes (12 of challenge and a NUL) follow.
            let n = auth_len.saturating_sub(8).max(13).min(r.remaining());
            part2 = r.bytes(n)?;
        }
        // The plugin name (if any) does not matter: we always answer with
        // mysql_native_password and follow a switch.
    }
    let mut challenge = part1.to_vec();
    challenge.extend_from_slice(part2);
    while challenge.last() == Some(&0) && challenge.len() > 20 {
        challenge.pop();
    }
    let scramble = <[u8; 20]>::try_from(challenge.as_slice()).ok();
    Ok(Greeting {
        capabilities,
        scramble,
    })
}

/// The new challenge of an AuthSwitchRequest to mysql_native_password.
fn parse_auth_switch(p: &[u8]) -> Result<[u8; 20], ClientError> {
    let mut r = Reader::new(p);
    let _ = r.u8();
    if r.is_empty() {
        return Err(ClientError::protocol(
            "the server asked for the old (pre-4.1) password scheme, which is not supported",
        ));
    }
    let plugin = r.null_terminated_or_rest();
    if plugin != NATIVE_PASSWORD_PLUGIN.as_bytes() {
        return Err(ClientError::protocol(format!(
            "the server asked for authentication plugin '{}'; \
             only mysql_native_password is supported",
            text(plugin)
        )));
    }
    let data = r.rest();
    data.get(..20)
        .and_then(|d| <[u8; 20]>::try_from(d).ok())
        .ok_or_else(|| ClientError::malformed("auth switch request"))
}

fn parse_ok(p: &[u8]) -> Result<OkPacket, Malformed> {
    let mut r = Reader::new(p);
    r.u8()?; // header: 0x00, or 0xFE at the end of rows
    let affected_rows = r.lenenc_int()?;
    r.lenenc_int()?; // last insert id
    let status = if r.remaining() >= 2 { r.u16()? } else { 0 };
    Ok(OkPacket {
        affected_rows,
        status,
    })
}

/// Turns an ERR packet into an error; a mangled one still yields an error.
fn parse_err(p: &[u8]) -> ClientError {
    let mut r = Reader::new(p);
    let _ = r.u8();
    let Ok(code) = r.u16() else {
        return ClientError::malformed("error packet");
    };
    let mut sql_state = STATE_GENERAL.to_owned();
    if r.peek() == Some(b'#') && r.remaining() >= 6 {
        let _ = r.u8();
        if let Ok(state) = r.bytes(5) {
            sql_state = text(state);
        }
    }
    ClientError {
        code,
        sql_state,
        message: text(r.rest()),
    }
}

/// True for the packet that ends rows (or column definitions): an EOF
/// packet, or an OK with a 0xFE header under CLIENT_DEPRECATE_EOF. A row
/// can start with 0xFE only when its first cell is at least 16 MiB long.
fn is_eof(p: &[u8], deprecate_eof: bool) -> bool {
    let limit = if deprecate_eof { 0xFF_FFFF } else { 9 };
    p.first() == Some(&0xFE) && p.len() < limit
}

fn parse_eof_status(p: &[u8], deprecate_eof: bool) -> Result<u16, Malformed> {
    if deprecate_eof {
        return Ok(parse_ok(p)?.status);
    }
    let mut r = Reader::new(p);
    r.u8()?;
    if r.remaining() < 4 {
        return Ok(0);
    }
    r.u16()?; // warnings
    r.u16()
}

fn parse_column_name(p: &[u8]) -> Result<String, Malformed> {
    let mut r = Reader::new(p);
    r.lenenc_bytes()?; // catalog
    r.lenenc_bytes()?; // schema
    r.lenenc_bytes()?; // table
    r.lenenc_bytes()?; // org_table
    Ok(text(r.lenenc_bytes()?))
}

fn parse_text_row(p: &[u8], columns: usize) -> Result<Vec<Option<String>>, Malformed> {
    let mut r = Reader::new(p);
    let mut row = Vec::with_capacity(columns);
    for _ in 0..columns {
        if r.peek() == Some(0xFB) {
            r.u8()?;
            row.push(None);
        } else {
            row.push(Some(text(r.lenenc_bytes()?)));
        }
    }
    if !r.is_empty() {
        return Err(Malformed);
    }
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{put_lenenc_bytes, put_lenenc_int};

    #[test]
    fn greeting_from_our_server_parses() {
        let scramble = *b"ABCDEFGHIJKLMNOPQRST";
        let p = crate::handshake::initial_handshake(
            "5.1.0",
            3,
            &scramble,
            2,
            crate::handshake::SERVER_CAPABILITIES,
        );
        let g = parse_greeting(&p).expect("parses");
        assert_eq!(g.scramble, Some(scramble));
        assert_eq!(g.capabilities, crate::handshake::SERVER_CAPABILITIES);
        // Every truncation fails or parses, never panics.
        for n in 0..p.len() {
            let _ = parse_greeting(&p[..n]);
        }
    }

    #[test]
    fn err_packets() {
        let e = parse_err(b"\xff\x15\x04#28000Access denied");
        assert_eq!(
            (e.code, e.sql_state.as_str(), e.message.as_str()),
            (1045, "28000", "Access denied")
        );
        assert_eq!(e.to_string(), "ERROR 1045 (28000): Access denied");
        let e = parse_err(b"\xff\x01\x00no state");
        assert_eq!((e.code, e.sql_state.as_str()), (1, "HY000"));
        assert_eq!(e.message, "no state");
        assert_eq!(parse_err(b"\xff\x01").code, 0);
        assert_eq!(parse_err(b"").code, 0);
    }

    #[test]
    fn rows_and_nulls() {
        let mut p = Vec::new();
        put_lenenc_bytes(&mut p, b"a");
        p.push(0xFB);
        put_lenenc_bytes(&mut p, b"");
        assert_eq!(
            parse_text_row(&p, 3),
            Ok(vec![Some("a".into()), None, Some(String::new())])
        );
        assert_eq!(parse_text_row(&p, 4), Err(Malformed));
        assert_eq!(parse_text_row(&p, 2), Err(Malformed));
        // A length running past the end is malformed, not a panic.
        let mut lying = Vec::new();
        put_lenenc_int(&mut lying, 1 << 40);
        assert_eq!(parse_text_row(&lying, 1), Err(Malformed));
    }

    #[test]
    fn eof_detection() {
        assert!(is_eof(&[0xFE, 0, 0, 2, 0], false));
        assert!(is_eof(&[0xFE, 0, 0, 2, 0, 0, 0], true));
        assert!(!is_eof(&[0xFE; 9], false));
        assert!(!is_eof(&[1, b'x'], true));
        assert_eq!(parse_eof_status(&[0xFE, 0, 0, 8, 0], false), Ok(8));
        assert_eq!(parse_eof_status(&[0xFE, 0, 0, 8, 0, 0, 0], true), Ok(8));
    }

    #[test]
    fn auth_switch() {
        let p = crate::handshake::auth_switch_request(b"ABCDEFGHIJKLMNOPQRST");
        assert_eq!(
            parse_auth_switch(&p).expect("native"),
            *b"ABCDEFGHIJKLMNOPQRST"
        );
        assert!(parse_auth_switch(b"\xfe").is_err());
        assert!(parse_auth_switch(b"\xfecaching_sha2_password\0abc").is_err());
        assert!(parse_auth_switch(b"\xfemysql_native_password\0short").is_err());
    }
}
