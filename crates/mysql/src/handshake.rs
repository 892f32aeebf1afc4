//! Connection phase: the server's HandshakeV10 greeting, the client's
//! HandshakeResponse41 (or an SSLRequest), and the AuthSwitchRequest used to
//! move clients that default to another plugin onto `mysql_native_password`.

use crate::auth::NATIVE_PASSWORD_PLUGIN;
use crate::wire::{Malformed, Reader, put_null_terminated};

/// Capability flags (`CLIENT_*`).
pub(crate) mod caps {
    pub(crate) const LONG_PASSWORD: u32 = 1;
    pub(crate) const FOUND_ROWS: u32 = 1 << 1;
    pub(crate) const LONG_FLAG: u32 = 1 << 2;
    pub(crate) const CONNECT_WITH_DB: u32 = 1 << 3;
    pub(crate) const PROTOCOL_41: u32 = 1 << 9;
    pub(crate) const SSL: u32 = 1 << 11;
    pub(crate) const TRANSACTIONS: u32 = 1 << 13;
    pub(crate) const SECURE_CONNECTION: u32 = 1 << 15;
    pub(crate) const MULTI_STATEMENTS: u32 = 1 << 16;
    pub(crate) const MULTI_RESULTS: u32 = 1 << 17;
    pub(crate) const PS_MULTI_RESULTS: u32 = 1 << 18;
    pub(crate) const PLUGIN_AUTH: u32 = 1 << 19;
    pub(crate) const CONNECT_ATTRS: u32 = 1 << 20;
    pub(crate) const PLUGIN_AUTH_LENENC_CLIENT_DATA: u32 = 1 << 21;
    pub(crate) const DEPRECATE_EOF: u32 = 1 << 24;
}

/// What this server advertises without TLS; with a certificate configured it
/// adds CLIENT_SSL (see [`server_capabilities`]).
pub(crate) const SERVER_CAPABILITIES: u32 = caps::LONG_PASSWORD
    | caps::FOUND_ROWS
    | caps::LONG_FLAG
    | caps::CONNECT_WITH_DB
    | caps::PROTOCOL_41
    | caps::TRANSACTIONS
    | caps::SECURE_CONNECTION
    | caps::MULTI_STATEMENTS
    | caps::MULTI_RESULTS
    | caps::PS_MULTI_RESULTS
    | caps::PLUGIN_AUTH
    | caps::CONNECT_ATTRS
    | caps::PLUGIN_AUTH_LENENC_CLIENT_DATA
    | caps::DEPRECATE_EOF;

/// The capabilities of a server with (`tls`) or without a certificate.
pub(crate) fn server_capabilities(tls: bool) -> u32 {
    if tls {
        SERVER_CAPABILITIES | caps::SSL
    } else {
        SERVER_CAPABILITIES
    }
}

/// Default collation announced in the greeting: utf8mb4_general_ci.
const SERVER_CHARSET: u8 = 45;

/// Builds the HandshakeV10 greeting.
pub(crate) fn initial_handshake(
    server_version: &str,
    connection_id: u32,
    scramble: &[u8; 20],
    status: u16,
    capabilities: u32,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(80 + server_version.len());
    out.push(10); // protocol version
    // The version is NUL-terminated, so an embedded NUL must not get through.
    let version: Vec<u8> = server_version.bytes().filter(|&b| b != 0).collect();
    put_null_terminated(&mut out, &version);
    out.extend_from_slice(&connection_id.to_le_bytes());
    out.extend_from_slice(&scramble[..8]);
    out.push(0); // filler
    out.extend_from_slice(&(capabilities as u16).to_le_bytes());
    out.push(SERVER_CHARSET);
    out.extend_from_slice(&status.to_le_bytes());
    out.extend_from_slice(&((capabilities >> 16) as u16).to_le_bytes());
    out.push(21); // length of the whole auth data, including its trailing NUL
    out.extend_from_slice(&[0; 10]); // reserved
    out.extend_from_slice(&scramble[8..]);
    out.push(0);
    put_null_terminated(&mut out, NATIVE_PASSWORD_PLUGIN.as_bytes());
    out
}

/// AuthSwitchRequest asking the client to answer `scramble` with
/// mysql_native_password.
pub(crate) fn auth_switch_request(scramble: &[u8; 20]) -> Vec<u8> {
    let mut out = vec![0xFE];
    put_null_terminated(&mut out, NATIVE_PASSWORD_PLUGIN.as_bytes());
    out.extend_from_slice(scramble);
    out.push(0);
    out
}

/// A parsed HandshakeResponse41.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct HandshakeResponse {
    /// Capabilities exactly as the client sent them.
    pub(crate) capabilities: u32,
    pub(crate) max_packet_size: u32,
    pub(crate) charset: u8,
    pub(crate) user: String,
    pub(crate) auth_response: Vec<u8>,
    pub(crate) database: Option<String>,
    pub(crate) auth_plugin: Option<String>,
    pub(crate) attributes: Vec<(String, String)>,
}

/// The first packet a client sends after the greeting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ClientHello {
    /// A pre-4.1 client; we do not speak its protocol.
    Legacy,
    /// The client wants TLS before sending credentials: the TLS handshake
    /// follows, then the HandshakeResponse over TLS.
    SslRequest { capabilities: u32 },
    /// Credentials in the clear channel.
    Response(HandshakeResponse),
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Parses the client's reply to the greeting.
pub(crate) fn parse_client_hello(payload: &[u8]) -> Result<ClientHello, Malformed> {
    let mut r = Reader::new(payload);
    // The 4.1 flag sits in the low 16 bits, which both formats start with.
    if r.clone().u16()? as u32 & caps::PROTOCOL_41 == 0 {
        return Ok(ClientHello::Legacy);
    }
    let capabilities = r.u32()?;
    let max_packet_size = r.u32()?;
    let charset = r.u8()?;
    r.bytes(23)?; // filler (MariaDB puts extended capabilities here)
    if r.is_empty() {
        return if capabilities & caps::SSL != 0 {
            Ok(ClientHello::SslRequest { capabilities })
        } else {
            Err(Malformed)
        };
    }
    let user = text(r.null_terminated()?);
    let auth_response = if capabilities & caps::PLUGIN_AUTH_LENENC_CLIENT_DATA != 0 {
        r.lenenc_bytes()?
    } else if capabilities & caps::SECURE_CONNECTION != 0 {
        let n = r.u8()?;
        r.bytes(usize::from(n))?
    } else {
        r.null_terminated()?
    }
    .to_vec();
    let mut database = None;
    if capabilities & caps::CONNECT_WITH_DB != 0 && !r.is_empty() {
        let db = r.null_terminated_or_rest();
        if !db.is_empty() {
            database = Some(text(db));
        }
    }
    let mut auth_plugin = None;
    if capabilities & caps::PLUGIN_AUTH != 0 && !r.is_empty() {
        let plugin = r.null_terminated_or_rest();
        if !plugin.is_empty() {
            auth_plugin = Some(text(plugin));
        }
    }
    let mut attributes = Vec::new();
    if capabilities & caps::CONNECT_ATTRS != 0 && !r.is_empty() {
        // Attributes are informational only: a malformed block is dropped
        // (keeping what parsed) instead of refusing the login.
        if let Ok(block) = r.lenenc_bytes() {
            let mut a = Reader::new(block);
            while !a.is_empty() {
                let (Ok(k), Ok(v)) = (a.lenenc_bytes(), a.lenenc_bytes()) else {
                    break;
                };
                attributes.push((text(k), text(v)));
            }
        }
    }
    Ok(ClientHello::Response(HandshakeResponse {
        capabilities,
        max_packet_size,
        charset,
        user,
        auth_response,
        database,
        auth_plugin,
        attributes,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{put_lenenc_bytes, put_lenenc_int};

    #[test]
    fn greeting_layout() {
        let scramble = *b"ABCDEFGHIJKLMNOPQRST";
        let p = initial_handshake("5.1.0", 7, &scramble, 2, server_capabilities(false));
        let mut r = Reader::new(&p);
        assert_eq!(r.u8(), Ok(10));
        assert_eq!(r.null_terminated(), Ok(&b"5.1.0"[..]));
        assert_eq!(r.u32(), Ok(7));
        assert_eq!(r.bytes(8), Ok(&b"ABCDEFGH"[..]));
        assert_eq!(r.u8(), Ok(0));
        let low = r.u16().expect("caps low");
        assert_eq!(r.u8(), Ok(45));
        assert_eq!(r.u16(), Ok(2));
        let high = r.u16().expect("caps high");
        let caps_all = u32::from(low) | u32::from(high) << 16;
        assert_eq!(caps_all, SERVER_CAPABILITIES);
        assert_eq!(
            caps_all & caps::SSL,
            0,
            "TLS is advertised only with a certificate"
        );
        let p = initial_handshake("5.1.0", 7, &scramble, 2, server_capabilities(true));
        let mut r = Reader::new(&p);
        r.bytes(1 + 6 + 4 + 8 + 1).expect("head");
        let low = r.u16().expect("caps low");
        r.bytes(3).expect("charset, status");
        let high = r.u16().expect("caps high");
        assert_eq!(
            u32::from(low) | u32::from(high) << 16,
            SERVER_CAPABILITIES | caps::SSL
        );
        assert_eq!(r.u8(), Ok(21));
        assert_eq!(r.bytes(10), Ok(&[0u8; 10][..]));
        assert_eq!(r.null_terminated(), Ok(&b"IJKLMNOPQRST"[..]));
        assert_eq!(r.null_terminated(), Ok(&b"mysql_native_password"[..]));
        assert!(r.is_empty());
    }

    #[test]
    fn auth_switch_layout() {
        let p = auth_switch_request(b"ABCDEFGHIJKLMNOPQRST");
        assert_eq!(
            p,
            b"\xfemysql_native_password\0ABCDEFGHIJKLMNOPQRST\0".to_vec()
        );
    }

    fn response_bytes(caps: u32, user: &str, auth: &[u8], db: Option<&str>) -> Vec<u8> {
        let mut p = Vec::new();
        p.extend_from_slice(&caps.to_le_bytes());
        p.extend_from_slice(&(16u32 << 20).to_le_bytes());
        p.push(45);
        p.extend_from_slice(&[0; 23]);
        put_null_terminated(&mut p, user.as_bytes());
        if caps & caps::PLUGIN_AUTH_LENENC_CLIENT_DATA != 0 {
            put_lenenc_bytes(&mut p, auth);
        } else {
            p.push(auth.len() as u8);
            p.extend_from_slice(auth);
        }
        if let Some(db) = db {
            put_null_terminated(&mut p, db.as_bytes());
        }
        p
    }

    #[test]
    fn full_response_with_attributes() {
        let c = caps::PROTOCOL_41
            | caps::SECURE_CONNECTION
            | caps::PLUGIN_AUTH
            | caps::PLUGIN_AUTH_LENENC_CLIENT_DATA
            | caps::CONNECT_WITH_DB
            | caps::CONNECT_ATTRS;
        let mut p = response_bytes(c, "u1", &[1; 20], Some("db1"));
        put_null_terminated(&mut p, b"caching_sha2_password");
        let mut attrs = Vec::new();
        put_lenenc_bytes(&mut attrs, b"_client_name");
        put_lenenc_bytes(&mut attrs, b"libmysql");
        put_lenenc_bytes(&mut attrs, b"_pid");
        put_lenenc_bytes(&mut attrs, b"42");
        put_lenenc_int(&mut p, attrs.len() as u64);
        p.extend_from_slice(&attrs);
        let Ok(ClientHello::Response(r)) = parse_client_hello(&p) else {
            panic!("expected a response");
        };
        assert_eq!(r.capabilities, c);
        assert_eq!(r.charset, 45);
        assert_eq!(r.user, "u1");
        assert_eq!(r.auth_response, vec![1; 20]);
        assert_eq!(r.database.as_deref(), Some("db1"));
        assert_eq!(r.auth_plugin.as_deref(), Some("caching_sha2_password"));
        assert_eq!(
            r.attributes,
            vec![
                ("_client_name".to_owned(), "libmysql".to_owned()),
                ("_pid".to_owned(), "42".to_owned())
            ]
        );
    }

    #[test]
    fn minimal_response_one_byte_auth_length() {
        let c = caps::PROTOCOL_41 | caps::SECURE_CONNECTION;
        let p = response_bytes(c, "root", b"", None);
        let Ok(ClientHello::Response(r)) = parse_client_hello(&p) else {
            panic!("expected a response");
        };
        assert_eq!(r.user, "root");
        assert!(r.auth_response.is_empty());
        assert_eq!(r.database, None);
        assert_eq!(r.auth_plugin, None);
    }

    #[test]
    fn database_without_trailing_nul() {
        let c = caps::PROTOCOL_41 | caps::SECURE_CONNECTION | caps::CONNECT_WITH_DB;
        let mut p = response_bytes(c, "root", b"", None);
        p.extend_from_slice(b"db");
        let Ok(ClientHello::Response(r)) = parse_client_hello(&p) else {
            panic!("expected a response");
        };
        assert_eq!(r.database.as_deref(), Some("db"));
    }

    #[test]
    fn ssl_request_and_legacy() {
        let c = caps::PROTOCOL_41 | caps::SSL;
        let mut p = Vec::new();
        p.extend_from_slice(&c.to_le_bytes());
        p.extend_from_slice(&[0; 4]);
        p.push(45);
        p.extend_from_slice(&[0; 23]);
        assert_eq!(
            parse_client_hello(&p),
            Ok(ClientHello::SslRequest { capabilities: c })
        );
        assert_eq!(
            parse_client_hello(&[0x05, 0x00, 0, 0, 0]),
            Ok(ClientHello::Legacy)
        );
    }

    #[test]
    fn malformed_responses() {
        let c = caps::PROTOCOL_41 | caps::SECURE_CONNECTION | caps::PLUGIN_AUTH_LENENC_CLIENT_DATA;
        let full = response_bytes(c, "root", &[9; 20], None);
        // Every truncation of a response without optional tails must fail
        // cleanly (never panic), except the complete one.
        for n in 0..full.len() {
            assert!(parse_client_hello(&full[..n]).is_err(), "prefix {n} parsed");
        }
        assert!(parse_client_hello(&full).is_ok());
        // Auth length pointing past the end.
        let mut lying = response_bytes(c, "root", b"", None);
        lying.pop();
        lying.push(200);
        assert_eq!(parse_client_hello(&lying), Err(Malformed));
        assert_eq!(parse_client_hello(b"\x00\x02garbage"), Err(Malformed));
    }
}
