//! TLS on the MySQL port: CLIENT_SSL in the greeting, the SSLRequest upgrade
//! (sequence ids continuing over TLS), `require_secure_transport`, and an
//! SSLRequest to a server without a certificate. Certificates are made with
//! the `openssl` CLI; the clients are rustls (driven by hand, byte by byte)
//! and the MariaDB `mysql` CLI.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tessera_mysql::{ServerConfig, scramble_native_password};

use crate::client::{
    CLIENT_DEPRECATE_EOF, CLIENT_PLUGIN_AUTH, CLIENT_PLUGIN_AUTH_LENENC, CLIENT_PROTOCOL_41,
    CLIENT_SECURE_CONNECTION, CLIENT_SSL, COM_QUERY, Login, RawClient, Response, frame, lenenc_str,
    parse_err,
};
use crate::support::{bounded, start};

struct Pki {
    _dir: tempfile::TempDir,
    ca: String,
    cert: String,
    key: String,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the openssl CLI (scripts/test.sh installs it)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA and a server certificate it signed, for 127.0.0.1.
fn pki() -> Pki {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut args = vec!["req", "-x509"];
    args.extend(ec);
    args.extend([
        "-days",
        "2",
        "-subj",
        "/CN=test ca",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    openssl(d, &args);
    let mut args = vec!["req"];
    args.extend(ec);
    args.extend([
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    openssl(d, &args);
    std::fs::write(d.join("ext.cnf"), "subjectAltName=IP:127.0.0.1\n").expect("ext file");
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
            "-out",
            "server.pem",
        ],
    );
    let p = |f: &str| d.join(f).display().to_string();
    Pki {
        ca: p("ca.pem"),
        cert: p("server.pem"),
        key: p("server.key"),
        _dir: dir,
    }
}

fn server_tls(pki: &Pki) -> Arc<rustls::ServerConfig> {
    let certs = CertificateDer::pem_file_iter(&pki.cert)
        .expect("cert file")
        .collect::<Result<Vec<_>, _>>()
        .expect("certs");
    let key = PrivateKeyDer::from_pem_file(&pki.key).expect("key");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .expect("server config");
    Arc::new(config)
}

fn client_tls(pki: &Pki) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(&pki.ca).expect("ca file") {
        roots.add(c.expect("ca cert")).expect("root");
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    Arc::new(config)
}

fn tls_config(pki: &Pki, require: bool) -> ServerConfig {
    ServerConfig {
        tls: Some(server_tls(pki)),
        require_secure_transport: require,
        ..ServerConfig::default()
    }
}

/// Reads one packet from a blocking stream; checks its sequence id.
fn read_packet(s: &mut impl Read, seq: u8) -> Vec<u8> {
    let mut head = [0u8; 4];
    s.read_exact(&mut head).expect("packet header");
    assert_eq!(head[3], seq, "sequence id");
    let len = usize::from(head[0]) | usize::from(head[1]) << 8 | usize::from(head[2]) << 16;
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).expect("packet body");
    body
}

const CAPS: u32 = CLIENT_PROTOCOL_41
    | CLIENT_SECURE_CONNECTION
    | CLIENT_PLUGIN_AUTH
    | CLIENT_PLUGIN_AUTH_LENENC
    | CLIENT_DEPRECATE_EOF
    | CLIENT_SSL;

fn ssl_request() -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(&CAPS.to_le_bytes());
    p.extend_from_slice(&(16u32 << 20).to_le_bytes());
    p.push(45);
    p.extend_from_slice(&[0; 23]);
    p
}

/// Logs in over TLS by hand with a blocking socket: greeting, SSLRequest
/// (seq 1) sent in the same write as the TLS ClientHello, the handshake,
/// the HandshakeResponse over TLS (seq 2), OK (seq 3), then one query.
/// Returns the answer to `SELECT cipher()`.
fn tls_login_and_query(addr: SocketAddr, client: Arc<rustls::ClientConfig>) -> Vec<u8> {
    let mut sock = std::net::TcpStream::connect(addr).expect("connect");
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let greeting = read_packet(&mut sock, 0);
    // Capabilities: low half after version, id, 8 scramble bytes, filler.
    let nul = greeting[1..].iter().position(|&b| b == 0).expect("version") + 1;
    let at = nul + 1 + 4 + 8 + 1;
    let low = u32::from(u16::from_le_bytes([greeting[at], greeting[at + 1]]));
    let high = u32::from(u16::from_le_bytes([greeting[at + 5], greeting[at + 6]]));
    assert_ne!((low | high << 16) & CLIENT_SSL, 0, "CLIENT_SSL advertised");
    let mut scramble = [0u8; 20];
    scramble[..8].copy_from_slice(&greeting[nul + 5..nul + 13]);
    let rest = at + 2 + 1 + 2 + 2 + 1 + 10;
    scramble[8..].copy_from_slice(&greeting[rest..rest + 12]);

    let name = ServerName::try_from("127.0.0.1").expect("name");
    let mut tls = rustls::ClientConnection::new(client, name).expect("client conn");
    let mut first = frame(1, &ssl_request());
    let mut hello = Vec::new();
    tls.write_tls(&mut hello).expect("client hello");
    assert!(!hello.is_empty());
    first.extend_from_slice(&hello);
    sock.write_all(&first).expect("SSLRequest + ClientHello");
    let mut s = rustls::Stream::new(&mut tls, &mut sock);

    let mut p = ssl_request();
    p.extend_from_slice(b"u1\0");
    lenenc_str(&mut p, &scramble_native_password(&scramble, "p1"));
    p.extend_from_slice(b"mysql_native_password\0");
    s.write_all(&frame(2, &p)).expect("handshake response");
    let ok = read_packet(&mut s, 3);
    assert_eq!(ok[0], 0x00, "login over TLS: {:?}", parse_err(&ok));

    s.write_all(&frame(0, b"\x03select cipher()"))
        .expect("query");
    let count = read_packet(&mut s, 1);
    assert_eq!(count, vec![1]);
    let _def = read_packet(&mut s, 2);
    let row = read_packet(&mut s, 3);
    let end = read_packet(&mut s, 4);
    assert_eq!(end[0], 0xFE);
    row
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_login_with_the_handshake_in_the_same_segment() {
    bounded(async {
        let pki = self::pki();
        let server = start(tls_config(&pki, false)).await;
        let client = client_tls(&pki);
        let addr = server.addr;
        let row = tokio::task::spawn_blocking(move || tls_login_and_query(addr, client))
            .await
            .expect("client thread");
        // One lenenc text cell: the TLS version and the cipher the handler saw.
        let text = String::from_utf8_lossy(&row[1..]).into_owned();
        assert!(text.starts_with("TLSv1.3 TLS_"), "{text}");

        // Plain logins still work when TLS is not forced.
        let (_c, greeting, answer) = RawClient::login(addr, &Login::default()).await;
        assert_ne!(greeting.capabilities & CLIENT_SSL, 0);
        assert!(matches!(answer, Response::Ok { .. }), "{answer:?}");
        let mut c = RawClient::login_ok(addr, &Login::default()).await;
        c.command(COM_QUERY, b"select cipher()").await;
        let r = c.read_response(false).await;
        assert_eq!(r.rows(), &vec![vec![crate::client::Cell::Null]]);
    })
    .await;
}

#[tokio::test]
async fn forced_secure_transport_refuses_plain_logins() {
    bounded(async {
        let pki = self::pki();
        let server = start(tls_config(&pki, true)).await;
        let (_c, _, answer) = RawClient::login(server.addr, &Login::default()).await;
        let Response::Err { code, message, .. } = answer else {
            panic!("plain login accepted: {answer:?}");
        };
        assert_eq!(code, 3159);
        assert!(message.contains("ssl_force_secure_transport"), "{message}");
        // TLS logins are accepted.
        let client = client_tls(&pki);
        let addr = server.addr;
        tokio::task::spawn_blocking(move || tls_login_and_query(addr, client))
            .await
            .expect("client thread");
    })
    .await;
}

#[tokio::test]
async fn ssl_request_without_a_certificate_is_refused() {
    bounded(async {
        let server = start(ServerConfig::default()).await;
        let mut c = RawClient::connect(server.addr).await;
        let greeting = c.read_greeting().await;
        assert_eq!(greeting.capabilities & CLIENT_SSL, 0);
        c.seq = 1;
        c.write_packet(&ssl_request()).await;
        let reply = c.read_packet().await;
        let Response::Err { code, message, .. } = parse_err(&reply) else {
            panic!("expected an error");
        };
        assert_eq!(code, 1043);
        assert!(message.contains("TLS is not enabled"), "{message}");
        assert!(c.closed_by_server().await);
    })
    .await;
}

#[tokio::test]
async fn garbage_instead_of_a_tls_handshake_ends_only_that_connection() {
    bounded(async {
        let pki = self::pki();
        let server = start(tls_config(&pki, false)).await;
        let mut c = RawClient::connect(server.addr).await;
        c.read_greeting().await;
        c.seq = 1;
        c.write_packet(&ssl_request()).await;
        use tokio::io::AsyncWriteExt;
        c.stream
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("write");
        assert!(
            c.closed_by_server().await,
            "server kept a broken TLS session"
        );
        // The server still serves.
        RawClient::login_ok(server.addr, &Login::default()).await;
    })
    .await;
}

async fn mysql_cli(addr: SocketAddr, args: &[&str]) -> (Option<i32>, String, String) {
    let port = addr.port().to_string();
    let mut cmd = tokio::process::Command::new("mysql");
    cmd.args(["--no-defaults", "-h", "127.0.0.1", "-P", &port, "--batch"])
        .args(["--connect-timeout=10"])
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(30), cmd.output())
        .await
        .expect("mysql CLI timed out")
        .expect("run the mysql CLI (scripts/test.sh installs mariadb-client)");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The MariaDB 10.11 CLI has no `--ssl-mode`; `--ssl --ssl-ca --ssl-verify-server-cert` is
/// its REQUIRED-and-verified.
#[tokio::test]
async fn mysql_cli_over_tls() {
    bounded(async {
        let pki = self::pki();
        let server = start(tls_config(&pki, true)).await;
        let ca = format!("--ssl-ca={}", pki.ca);
        let (code, out, err) = mysql_cli(
            server.addr,
            &[
                "--ssl",
                &ca,
                "--ssl-verify-server-cert",
                "-u",
                "u1",
                "-pp1",
                "-e",
                "select cipher()",
            ],
        )
        .await;
        assert_eq!(code, Some(0), "{err}");
        assert!(out.starts_with("cipher()\nTLSv1."), "{out}");
        let (code, _, err) =
            mysql_cli(server.addr, &["--skip-ssl", "-u", "root", "-e", "select 1"]).await;
        assert_eq!(code, Some(1));
        assert!(
            err.contains("ERROR 3159") && err.contains("insecure transport"),
            "{err}"
        );
        // A CA that did not sign the server's certificate: the client refuses.
        let other = self::pki();
        let ca = format!("--ssl-ca={}", other.ca);
        let (code, _, err) = mysql_cli(
            server.addr,
            &[
                "--ssl",
                &ca,
                "--ssl-verify-server-cert",
                "-u",
                "root",
                "-e",
                "select 1",
            ],
        )
        .await;
        assert_ne!(code, Some(0), "verified against the wrong CA: {err}");
    })
    .await;
}
