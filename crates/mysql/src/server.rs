//! The connection state machine: greeting, authentication, then the command
//! loop, talking to the FE through [`Handler`].

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::auth::{NATIVE_PASSWORD_PLUGIN, generate_scramble};
use crate::handshake::{self, ClientHello, HandshakeResponse, caps};
use crate::packet::{PacketError, PacketReader, write_packet};
use crate::prepared::{Statements, scan_sql};
use crate::resultset::{
    ErrorInfo, OkInfo, QueryOutcome, ResultSet, SERVER_MORE_RESULTS_EXISTS,
    SERVER_STATUS_AUTOCOMMIT, binary_row, column_definition, end_of_rows, eof_packet, err_packet,
    ok_packet, text_row,
};
use crate::tls::{Prefixed, Stream, TlsSession};
use crate::value::{Column, ColumnType, column_flags};
use crate::wire::{Reader, put_lenenc_int};

/// Server-wide protocol settings.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Version string in the greeting. StarRocks reports a MySQL-shaped
    /// version, and some clients parse it, so keep the `x.y.z` shape.
    pub server_version: String,
    /// Largest incoming payload accepted. A bigger one is refused with
    /// ER_NET_PACKET_TOO_LARGE (1153) before it is buffered, and the
    /// connection is closed.
    pub max_packet_bytes: usize,
    /// Certificate and key for TLS: with it the greeting advertises
    /// CLIENT_SSL and a client may upgrade with an SSLRequest; without it an
    /// SSLRequest is refused.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Refuse logins that did not upgrade to TLS first (StarRocks's
    /// `ssl_force_secure_transport`).
    pub require_secure_transport: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            server_version: "5.1.0".to_owned(),
            max_packet_bytes: 64 << 20,
            tls: None,
            require_secure_transport: false,
        }
    }
}

/// What the client presented at login, handed to [`Handler::authenticate`].
#[derive(Clone, Copy, Debug)]
pub struct HandshakeInfo<'a> {
    /// Id announced in the greeting (what `CONNECTION_ID()` should return).
    pub connection_id: u32,
    /// User name.
    pub user: &'a str,
    /// Initial database (`mysql -D db`); the handler applies it.
    pub database: Option<&'a str>,
    /// The challenge the client answered.
    pub scramble: &'a [u8; 20],
    /// The client's mysql_native_password response (empty for no password).
    pub auth_response: &'a [u8],
    /// Client address.
    pub peer: SocketAddr,
    /// Connection attributes (`_client_name`, `program_name`, …).
    pub client_attributes: &'a [(String, String)],
    /// The TLS session when the client upgraded with an SSLRequest.
    pub tls: Option<&'a TlsSession>,
}

/// The FE side of a connection. All futures must be `Send` so connections can
/// run on a multi-threaded runtime.
pub trait Handler: Send + Sync + 'static {
    /// Per-connection state (user, current database, session variables …).
    type Session: Send + 'static;

    /// Checks credentials (typically with
    /// [`verify_native_password`](crate::verify_native_password)), applies
    /// `info.database` and creates the session. An `Err` is sent to the
    /// client (e.g. 1045 Access denied) and the connection closed.
    fn authenticate(
        &self,
        info: HandshakeInfo<'_>,
    ) -> impl Future<Output = Result<Self::Session, ErrorInfo>> + Send;

    /// Runs one COM_QUERY. `sql` may hold several statements when the client
    /// enabled multi-statements (the codec refuses multi-statement text
    /// otherwise, without calling this). Returns one outcome per executed
    /// statement, stopping at the first error. For COM_STMT_EXECUTE this
    /// receives the statement with its parameters substituted as literals.
    fn query(
        &self,
        session: &mut Self::Session,
        sql: &str,
    ) -> impl Future<Output = Vec<Result<QueryOutcome, ErrorInfo>>> + Send;

    /// COM_INIT_DB (`USE db` sent as a protocol command).
    fn init_db(
        &self,
        session: &mut Self::Session,
        db: &str,
    ) -> impl Future<Output = Result<(), ErrorInfo>> + Send;

    /// COM_RESET_CONNECTION: reset session state (variables, temporary
    /// state) but keep the user and current database. Prepared statements
    /// are dropped by the codec. The default does nothing.
    fn reset_connection(&self, session: &mut Self::Session) -> impl Future<Output = ()> + Send {
        let _ = session;
        async {}
    }

    /// Called once when an authenticated connection ends, for any reason
    /// (unless the `serve_connection` future itself is dropped).
    fn close(&self, session: Self::Session) -> impl Future<Output = ()> + Send;
}

// Command bytes.
const COM_QUIT: u8 = 0x01;
const COM_INIT_DB: u8 = 0x02;
const COM_QUERY: u8 = 0x03;
const COM_FIELD_LIST: u8 = 0x04;
const COM_STATISTICS: u8 = 0x09;
const COM_PING: u8 = 0x0e;
const COM_STMT_PREPARE: u8 = 0x16;
const COM_STMT_EXECUTE: u8 = 0x17;
const COM_STMT_SEND_LONG_DATA: u8 = 0x18;
const COM_STMT_CLOSE: u8 = 0x19;
const COM_STMT_RESET: u8 = 0x1a;
const COM_SET_OPTION: u8 = 0x1b;
const COM_RESET_CONNECTION: u8 = 0x1f;

/// Flush buffered output once it grows past this, so large result sets
/// stream instead of piling up in memory.
const FLUSH_THRESHOLD: usize = 256 * 1024;

/// After a fatal protocol error, how long and how much we keep reading (and
/// discarding) so the client sees our ERR packet instead of a reset.
const DRAIN_TIME: Duration = Duration::from_millis(200);
const DRAIN_BYTES: usize = 1 << 20;

/// How long a client may take over the TLS handshake after its SSLRequest.
const TLS_HANDSHAKE_TIME: Duration = Duration::from_secs(10);

fn invalid_data(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_owned())
}

/// The stream plus framing state.
struct Conn<S> {
    stream: Stream<S>,
    reader: PacketReader,
    out: Vec<u8>,
    /// Sequence id of the next packet in the current exchange.
    seq: u8,
    /// Negotiated capabilities (client ∩ server).
    caps: u32,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    fn deprecate_eof(&self) -> bool {
        self.caps & caps::DEPRECATE_EOF != 0
    }

    /// Reads the next packet of the current exchange.
    async fn read(&mut self) -> Result<bytes::Bytes, PacketError> {
        let packet = self.reader.read(&mut self.stream, self.seq).await?;
        self.seq = packet.seq.wrapping_add(1);
        Ok(packet.payload)
    }

    async fn send(&mut self, payload: &[u8]) -> io::Result<()> {
        write_packet(&mut self.out, payload, &mut self.seq);
        if self.out.len() >= FLUSH_THRESHOLD {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> io::Result<()> {
        if !self.out.is_empty() {
            self.stream.write_all(&self.out).await?;
            self.out.clear();
        }
        self.stream.flush().await
    }

    async fn send_error(&mut self, err: &ErrorInfo) -> io::Result<()> {
        self.send(&err_packet(err)).await
    }

    async fn send_ok(&mut self, ok: &OkInfo, status: u16) -> io::Result<()> {
        self.send(&ok_packet(ok, status, 0)).await
    }

    /// Sends a fatal error, then closes our side gracefully: shut down
    /// writing and briefly drain input, because closing a socket with unread
    /// data makes the kernel send a reset that can destroy the ERR packet.
    async fn fail(&mut self, err: &ErrorInfo) {
        let sent = async {
            self.send_error(err).await?;
            self.flush().await?;
            self.stream.shutdown().await
        }
        .await;
        if sent.is_err() {
            return;
        }
        let mut sink = [0u8; 8192];
        let mut drained = 0;
        let _ = tokio::time::timeout(DRAIN_TIME, async {
            while drained < DRAIN_BYTES {
                match self.stream.read(&mut sink).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => drained += n,
                }
            }
        })
        .await;
    }

    /// Turns a failed read into the reply (if any) and the connection result.
    async fn read_failed(&mut self, e: PacketError) -> io::Result<()> {
        match e {
            PacketError::Closed => Ok(()),
            PacketError::Truncated => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed in the middle of a packet",
            )),
            PacketError::Io(e) => Err(e),
            PacketError::TooLarge { seq, size } => {
                tracing::debug!(size, "refusing oversized packet");
                self.seq = seq.wrapping_add(1);
                self.fail(&ErrorInfo::new(
                    1153,
                    "08S01",
                    "Got a packet bigger than 'max_allowed_packet' bytes",
                ))
                .await;
                Err(invalid_data("packet larger than max_packet_bytes"))
            }
            PacketError::OutOfOrder { expected, got } => {
                tracing::debug!(expected, got, "packet out of order");
                self.seq = got.wrapping_add(1);
                self.fail(&ErrorInfo::new(1156, "08S01", "Got packets out of order"))
                    .await;
                Err(invalid_data("packet sequence out of order"))
            }
        }
    }
}

/// Serves one accepted connection until the client quits or the stream
/// closes. Returns `Ok` for an orderly end (COM_QUIT, close between commands,
/// failed login) and `Err` for I/O failures and protocol violations.
pub async fn serve_connection<H, S>(
    handler: Arc<H>,
    stream: S,
    connection_id: u32,
    peer: SocketAddr,
    config: &ServerConfig,
) -> io::Result<()>
where
    H: Handler,
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let mut conn = Conn {
        stream: Stream::Plain(stream),
        reader: PacketReader::new(config.max_packet_bytes),
        out: Vec::new(),
        seq: 0,
        caps: 0,
    };
    let scramble = generate_scramble();
    let greeting = handshake::initial_handshake(
        &config.server_version,
        connection_id,
        &scramble,
        SERVER_STATUS_AUTOCOMMIT,
        handshake::server_capabilities(config.tls.is_some()),
    );
    conn.send(&greeting).await?;
    conn.flush().await?;

    let Some(login) = read_login(&mut conn, &scramble, config).await? else {
        return Ok(());
    };
    let info = HandshakeInfo {
        connection_id,
        user: &login.response.user,
        database: login.response.database.as_deref(),
        scramble: &scramble,
        auth_response: &login.auth_response,
        peer,
        client_attributes: &login.response.attributes,
        tls: login.tls.as_ref(),
    };
    let mut session = match handler.authenticate(info).await {
        Ok(session) => session,
        Err(err) => {
            tracing::debug!(user = %login.response.user, %peer, code = err.code, "login refused");
            conn.fail(&err).await;
            return Ok(());
        }
    };
    let result = match conn
        .send_ok(&OkInfo::default(), SERVER_STATUS_AUTOCOMMIT)
        .await
    {
        Ok(()) => command_loop(handler.as_ref(), &mut conn, &mut session, config).await,
        Err(e) => Err(e),
    };
    handler.close(session).await;
    result
}

struct Login {
    response: HandshakeResponse,
    auth_response: Vec<u8>,
    tls: Option<TlsSession>,
}

/// Reads the handshake response (switching the client to
/// mysql_native_password if needed). `None` means an error was already sent
/// and the connection should end quietly.
async fn read_login<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    scramble: &[u8; 20],
    config: &ServerConfig,
) -> io::Result<Option<Login>> {
    let payload = match conn.read().await {
        Ok(p) => p,
        Err(e) => return conn.read_failed(e).await.map(|()| None),
    };
    let mut hello = handshake::parse_client_hello(&payload);
    let mut tls = None;
    if let Ok(ClientHello::SslRequest { .. }) = hello {
        let Some(server_tls) = config.tls.clone() else {
            // We did not advertise CLIENT_SSL; a client that asks anyway
            // gets a clear answer in the clear.
            conn.fail(&ErrorInfo::new(
                1043,
                "08S01",
                "SSL connection error: TLS is not enabled on this server (it has no \
                 ssl_certificate_path); connect without TLS",
            ))
            .await;
            return Ok(None);
        };
        let Stream::Plain(inner) = std::mem::replace(&mut conn.stream, Stream::Upgrading) else {
            return Err(invalid_data("second SSLRequest"));
        };
        // Bytes that came right behind the SSLRequest are the start of the
        // TLS handshake, and go to TLS, never to the MySQL protocol.
        let plain = Prefixed {
            prefix: conn.reader.take_buffered(),
            inner,
        };
        let acceptor = tokio_rustls::TlsAcceptor::from(server_tls);
        let upgraded = match tokio::time::timeout(TLS_HANDSHAKE_TIME, acceptor.accept(plain)).await
        {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("TLS handshake failed: {e}"),
                ));
            }
            Err(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "TLS handshake took too long",
                ));
            }
        };
        tls = Some(TlsSession::of(&upgraded));
        conn.stream = Stream::Tls(Box::new(upgraded));
        // The HandshakeResponse follows over TLS; its sequence id continues
        // after the SSLRequest's.
        let payload = match conn.read().await {
            Ok(p) => p,
            Err(e) => return conn.read_failed(e).await.map(|()| None),
        };
        hello = match handshake::parse_client_hello(&payload) {
            Ok(ClientHello::SslRequest { .. }) => Err(crate::wire::Malformed),
            other => other,
        };
    }
    let response = match hello {
        Ok(ClientHello::Response(r)) if tls.is_none() && config.require_secure_transport => {
            tracing::debug!(user = %r.user, "plain login refused: secure transport required");
            conn.fail(&ErrorInfo::new(
                3159,
                "HY000",
                "Connections using insecure transport are prohibited while \
                 ssl_force_secure_transport = true; connect with TLS (mysql --ssl)",
            ))
            .await;
            return Ok(None);
        }
        Ok(ClientHello::Response(r)) => r,
        Ok(ClientHello::Legacy) => {
            conn.fail(&ErrorInfo::new(
                1251,
                "08004",
                "Client does not support authentication protocol requested by server; consider upgrading MySQL client",
            ))
            .await;
            return Ok(None);
        }
        Ok(ClientHello::SslRequest { .. }) => {
            conn.fail(&ErrorInfo::new(1043, "08S01", "Bad handshake"))
                .await;
            return Err(invalid_data("unexpected SSLRequest"));
        }
        Err(_) => {
            conn.fail(&ErrorInfo::new(1043, "08S01", "Bad handshake"))
                .await;
            return Err(invalid_data("malformed handshake response"));
        }
    };
    conn.caps = response.capabilities & handshake::server_capabilities(tls.is_some());

    let wants_switch = response.capabilities & caps::PLUGIN_AUTH != 0
        && response
            .auth_plugin
            .as_deref()
            .is_some_and(|p| p != NATIVE_PASSWORD_PLUGIN);
    let auth_response = if wants_switch {
        conn.send(&handshake::auth_switch_request(scramble)).await?;
        conn.flush().await?;
        match conn.read().await {
            Ok(p) => p.to_vec(),
            Err(e) => return conn.read_failed(e).await.map(|()| None),
        }
    } else {
        response.auth_response.clone()
    };
    Ok(Some(Login {
        response,
        auth_response,
        tls,
    }))
}

/// Per-connection command-phase state.
struct State {
    statements: Statements,
    multi_statements: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Text,
    Binary,
}

async fn command_loop<H: Handler, S: AsyncRead + AsyncWrite + Unpin>(
    handler: &H,
    conn: &mut Conn<S>,
    session: &mut H::Session,
    config: &ServerConfig,
) -> io::Result<()> {
    let mut state = State {
        // Long data may add up to one maximum packet per connection, and the
        // SQL text of open statements to four.
        statements: Statements::new(
            config.max_packet_bytes,
            config.max_packet_bytes.saturating_mul(4),
        ),
        multi_statements: conn.caps & caps::MULTI_STATEMENTS != 0,
    };
    loop {
        conn.flush().await?;
        // Every command starts a new exchange at sequence id 0.
        conn.seq = 0;
        let payload = match conn.read().await {
            Ok(p) => p,
            Err(e) => return conn.read_failed(e).await,
        };
        let Some((&command, body)) = payload.split_first() else {
            conn.send_error(&ErrorInfo::new(
                1835,
                "HY000",
                "Malformed communication packet.",
            ))
            .await?;
            continue;
        };
        match command {
            COM_QUIT => return Ok(()),
            COM_PING => {
                conn.send_ok(&OkInfo::default(), SERVER_STATUS_AUTOCOMMIT)
                    .await?
            }
            COM_QUERY => {
                let Some(sql) = utf8_or_reply(conn, body).await? else {
                    continue;
                };
                if !state.multi_statements && scan_sql(sql).multiple_statements {
                    conn.send_error(&ErrorInfo::new(
                        1064,
                        "42000",
                        "You have an error in your SQL syntax; multi-statements are not enabled for this connection",
                    ))
                    .await?;
                    continue;
                }
                let outcomes = handler.query(session, sql).await;
                send_outcomes(conn, outcomes, Protocol::Text).await?;
            }
            COM_INIT_DB => {
                let Some(db) = utf8_or_reply(conn, body).await? else {
                    continue;
                };
                match handler.init_db(session, db).await {
                    Ok(()) => {
                        conn.send_ok(&OkInfo::default(), SERVER_STATUS_AUTOCOMMIT)
                            .await?
                    }
                    Err(e) => conn.send_error(&e).await?,
                }
            }
            COM_FIELD_LIST => {
                // Column lists are not served this way; an empty list keeps
                // old clients' table-name completion working.
                let end = end_of_rows(conn.deprecate_eof(), SERVER_STATUS_AUTOCOMMIT);
                conn.send(&end).await?;
            }
            COM_STATISTICS => {
                // A human-readable line, not an OK packet.
                conn.send(b"Uptime: 0  Threads: 1  Questions: 0  Slow queries: 0  Opens: 0  Flush tables: 0  Open tables: 0  Queries per second avg: 0.000")
                    .await?;
            }
            COM_SET_OPTION => match Reader::new(body).u16() {
                Ok(option @ (0 | 1)) => {
                    state.multi_statements = option == 0;
                    let reply = if conn.deprecate_eof() {
                        ok_packet(&OkInfo::default(), SERVER_STATUS_AUTOCOMMIT, 0xFE)
                    } else {
                        eof_packet(0, SERVER_STATUS_AUTOCOMMIT)
                    };
                    conn.send(&reply).await?;
                }
                _ => {
                    conn.send_error(&ErrorInfo::new(1047, "08S01", "Unknown command"))
                        .await?
                }
            },
            COM_RESET_CONNECTION => {
                state.statements.clear();
                handler.reset_connection(session).await;
                conn.send_ok(&OkInfo::default(), SERVER_STATUS_AUTOCOMMIT)
                    .await?;
            }
            COM_STMT_PREPARE => {
                let Some(sql) = utf8_or_reply(conn, body).await? else {
                    continue;
                };
                match state.statements.prepare(sql) {
                    Ok((id, params)) => send_prepare_ok(conn, id, params).await?,
                    Err(e) => conn.send_error(&e).await?,
                }
            }
            COM_STMT_EXECUTE => match state.statements.execute(body) {
                Ok(sql) => {
                    let outcomes = handler.query(session, &sql).await;
                    send_outcomes(conn, outcomes, Protocol::Binary).await?;
                }
                Err(e) => conn.send_error(&e).await?,
            },
            // These two never get a reply.
            COM_STMT_SEND_LONG_DATA => state.statements.send_long_data(body),
            COM_STMT_CLOSE => state.statements.close(body),
            COM_STMT_RESET => match state.statements.reset(body) {
                Ok(()) => {
                    conn.send_ok(&OkInfo::default(), SERVER_STATUS_AUTOCOMMIT)
                        .await?
                }
                Err(e) => conn.send_error(&e).await?,
            },
            other => {
                tracing::debug!(command = other, "unknown command");
                conn.send_error(&ErrorInfo::new(1047, "08S01", "Unknown command"))
                    .await?;
            }
        }
    }
}

/// The body as UTF-8, or an error reply and `None`.
async fn utf8_or_reply<'a, S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    body: &'a [u8],
) -> io::Result<Option<&'a str>> {
    match std::str::from_utf8(body) {
        Ok(s) => Ok(Some(s)),
        Err(_) => {
            conn.send_error(&ErrorInfo::new(
                1300,
                "HY000",
                "Invalid utf8mb4 character string",
            ))
            .await?;
            Ok(None)
        }
    }
}

/// COM_STMT_PREPARE_OK, then one definition per parameter. Result columns
/// are reported as 0: they are only known once the substituted SQL runs, and
/// clients take the metadata that comes with the EXECUTE result.
async fn send_prepare_ok<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    id: u32,
    params: u16,
) -> io::Result<()> {
    let mut p = vec![0x00];
    p.extend_from_slice(&id.to_le_bytes());
    p.extend_from_slice(&0u16.to_le_bytes()); // columns
    p.extend_from_slice(&params.to_le_bytes());
    p.push(0); // reserved
    p.extend_from_slice(&0u16.to_le_bytes()); // warnings
    conn.send(&p).await?;
    if params > 0 {
        let mut param = Column::new("?", ColumnType::VarString);
        param.flags = column_flags::BINARY;
        param.column_length = 0;
        let def = column_definition(&param);
        for _ in 0..params {
            conn.send(&def).await?;
        }
        if !conn.deprecate_eof() {
            conn.send(&eof_packet(0, SERVER_STATUS_AUTOCOMMIT)).await?;
        }
    }
    Ok(())
}

/// Sends the outcomes of one query: each but the last flagged
/// SERVER_MORE_RESULTS_EXISTS; an error ends the sequence.
async fn send_outcomes<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    outcomes: Vec<Result<QueryOutcome, ErrorInfo>>,
    protocol: Protocol,
) -> io::Result<()> {
    if outcomes.is_empty() {
        return conn
            .send_error(&ErrorInfo::new(1065, "42000", "Query was empty"))
            .await;
    }
    let count = outcomes.len();
    for (i, outcome) in outcomes.into_iter().enumerate() {
        let more = i + 1 < count;
        let status = SERVER_STATUS_AUTOCOMMIT | if more { SERVER_MORE_RESULTS_EXISTS } else { 0 };
        match outcome {
            Ok(QueryOutcome::Ok(ok)) => conn.send_ok(&ok, status).await?,
            Ok(QueryOutcome::ResultSet(rs)) => send_result_set(conn, &rs, status, protocol).await?,
            Err(e) => return conn.send_error(&e).await,
        }
    }
    Ok(())
}

async fn send_result_set<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    rs: &ResultSet,
    status: u16,
    protocol: Protocol,
) -> io::Result<()> {
    if rs.columns.is_empty() {
        // A column count of 0 would read as an OK packet anyway; say so.
        return conn.send_ok(&OkInfo::default(), status).await;
    }
    let mut count = Vec::with_capacity(9);
    put_lenenc_int(&mut count, rs.columns.len() as u64);
    conn.send(&count).await?;
    for column in &rs.columns {
        conn.send(&column_definition(column)).await?;
    }
    if !conn.deprecate_eof() {
        conn.send(&eof_packet(0, status)).await?;
    }
    for row in &rs.rows {
        let payload = match protocol {
            Protocol::Text => text_row(&rs.columns, row),
            Protocol::Binary => binary_row(&rs.columns, row),
        };
        conn.send(&payload).await?;
    }
    conn.send(&end_of_rows(conn.deprecate_eof(), status)).await
}
