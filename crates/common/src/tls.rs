//! TLS material named by the `ssl_*` config keys (docs/security.md, "TLS"): PEM files turned
//! into rustls server and client configs, on the `ring` provider.
//!
//! Every failure names the config key and the file, because it stops the node from starting:
//! a missing or unreadable file, a file without a certificate or key in it, a key that does not
//! belong to the certificate.

use std::path::Path;
use std::sync::Arc;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;

use crate::error::Error;
use crate::error::Result;

/// The crypto provider every TLS config of the process uses.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Makes `ring` the process's default rustls provider (what an HTTP client built without a
/// TLS config of its own uses; reqwest panics without one). Call before building any HTTP
/// client; later calls do nothing.
pub fn install_default_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Err: another thread installed one first, which is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

fn read_file(key: &str, path: &str) -> Result<Vec<u8>> {
    std::fs::read(Path::new(path))
        .map_err(|e| Error::invalid(format!("{key} = {path}: cannot read the file: {e}")))
}

/// The certificates of a PEM file (at least one).
pub fn load_certs(key: &str, path: &str) -> Result<Vec<CertificateDer<'static>>> {
    let pem = read_file(key, path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::invalid(format!("{key} = {path}: not a PEM certificate file: {e}")))?;
    if certs.is_empty() {
        return Err(Error::invalid(format!(
            "{key} = {path}: the file holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
        )));
    }
    Ok(certs)
}

/// The private key of a PEM file (PKCS#8, PKCS#1 or SEC1).
pub fn load_key(key: &str, path: &str) -> Result<PrivateKeyDer<'static>> {
    let pem = read_file(key, path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
        Error::invalid(format!(
            "{key} = {path}: no PEM private key in the file (-----BEGIN PRIVATE KEY-----, \
             RSA PRIVATE KEY or EC PRIVATE KEY): {e}"
        ))
    })
}

/// The server side: `ssl_certificate_path` (chain, leaf first) and `ssl_private_key_path`.
/// Checks that the key belongs to the certificate.
pub fn server_config(cert_path: &str, key_path: &str) -> Result<Arc<rustls::ServerConfig>> {
    if cert_path.is_empty() || key_path.is_empty() {
        return Err(Error::invalid(
            "TLS needs both ssl_certificate_path and ssl_private_key_path (PEM files)",
        ));
    }
    let certs = load_certs("ssl_certificate_path", cert_path)?;
    let key = load_key("ssl_private_key_path", key_path)?;
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::internal(format!("TLS protocol versions: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            Error::invalid(format!(
                "ssl_private_key_path = {key_path} does not fit ssl_certificate_path = \
                 {cert_path}: {e}"
            ))
        })?;
    Ok(Arc::new(config))
}

/// The client side, for one node calling another node's HTTPS port: trusts the certificates of
/// `ca_path` (key `ssl_ca_path`) or, when that is empty, those of `cert_path` (the node's own
/// `ssl_certificate_path`: enough when every node serves the same certificate, or when that
/// file ends with the CA that signed it).
pub fn client_config(ca_path: &str, cert_path: &str) -> Result<Arc<rustls::ClientConfig>> {
    let (key, path) = if ca_path.is_empty() {
        ("ssl_certificate_path", cert_path)
    } else {
        ("ssl_ca_path", ca_path)
    };
    if path.is_empty() {
        return Err(Error::invalid(
            "an HTTPS client needs ssl_ca_path or ssl_certificate_path to know which \
             certificates to trust",
        ));
    }
    trusting(key, path)
}

/// A client config that trusts exactly the certificates of the PEM file `path` (named `key`
/// in errors).
pub fn trusting(key: &str, path: &str) -> Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in load_certs(key, path)? {
        roots
            .add(cert)
            .map_err(|e| Error::invalid(format!("{key} = {path}: unusable certificate: {e}")))?;
    }
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::internal(format!("TLS protocol versions: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A server config for an HTTP port: like [`server_config`], offering HTTP/1.1 by ALPN.
pub fn http_server_config(cert_path: &str, key_path: &str) -> Result<Arc<rustls::ServerConfig>> {
    let mut config = Arc::unwrap_or_clone(server_config(cert_path, key_path)?);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// How long a client may take over its TLS handshake on an HTTPS port.
const HANDSHAKE_TIME: std::time::Duration = std::time::Duration::from_secs(10);

/// Most TLS handshakes in progress at once on one HTTPS port; more connections wait in the
/// kernel's accept queue.
const MAX_HANDSHAKES: usize = 256;

/// What a client that speaks plain HTTP to an HTTPS port gets back.
const PLAIN_HTTP_REPLY: &[u8] = b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n\
Connection: close\r\nContent-Length: 56\r\n\r\nThis port serves HTTPS; use https:// instead of http://\n";

/// An HTTPS port for `axum::serve`: accepts TCP connections and runs each TLS handshake in
/// a task of its own (bounded in time), so a slow or silent client never holds up accepting;
/// finished handshakes come out of [`axum::serve::Listener::accept`]. A connection that
/// starts with plain HTTP instead of a TLS record gets a 400 saying so, in plain HTTP.
pub struct TlsListener {
    local: std::net::SocketAddr,
    ready: tokio::sync::mpsc::Receiver<(
        tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
        std::net::SocketAddr,
    )>,
    accept_task: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    /// Starts accepting on `listener`; `port_name` (`http_port`) goes into log lines.
    pub fn new(
        listener: tokio::net::TcpListener,
        config: Arc<rustls::ServerConfig>,
        port_name: &'static str,
    ) -> std::io::Result<Self> {
        let local = listener.local_addr()?;
        let (tx, ready) = tokio::sync::mpsc::channel(64);
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        let permits = Arc::new(tokio::sync::Semaphore::new(MAX_HANDSHAKES));
        let accept_task = tokio::spawn(async move {
            loop {
                let Ok(permit) = permits.clone().acquire_owned().await else {
                    return;
                };
                let (stream, peer) = match listener.accept().await {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(%e, port = port_name, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                if tx.is_closed() {
                    return;
                }
                let _ = stream.set_nodelay(true);
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    let _permit = permit;
                    let handshake = async {
                        if !starts_with_tls(&stream).await {
                            refuse_plain_http(stream).await;
                            return None;
                        }
                        match acceptor.accept(stream).await {
                            Ok(s) => Some(s),
                            Err(e) => {
                                tracing::debug!(%peer, %e, port = port_name, "TLS handshake failed");
                                None
                            }
                        }
                    };
                    match tokio::time::timeout(HANDSHAKE_TIME, handshake).await {
                        Ok(Some(s)) => {
                            let _ = tx.send((s, peer)).await;
                        }
                        Ok(None) => {}
                        Err(_) => {
                            tracing::debug!(%peer, port = port_name, "TLS handshake timed out")
                        }
                    }
                });
            }
        });
        Ok(TlsListener {
            local,
            ready,
            accept_task,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accept_task.abort();
    }
}

/// Whether the first byte is a TLS handshake record (0x16); false when the client sends
/// something else first (plain HTTP) or closes.
async fn starts_with_tls(stream: &tokio::net::TcpStream) -> bool {
    let mut first = [0u8; 1];
    matches!(stream.peek(&mut first).await, Ok(1) if first[0] == 0x16)
}

async fn refuse_plain_http(mut stream: tokio::net::TcpStream) {
    use tokio::io::AsyncReadExt;
    use tokio::io::AsyncWriteExt;
    // Read (some of) the request first, so closing does not reset the connection under
    // the reply.
    let mut sink = [0u8; 4096];
    let _ = tokio::time::timeout(
        std::time::Duration::from_millis(200),
        stream.read(&mut sink),
    )
    .await;
    let _ = stream.write_all(PLAIN_HTTP_REPLY).await;
    let _ = stream.shutdown().await;
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(c) => c,
            // The accept task ended (the runtime is shutting down): nothing more comes.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed certificate and its key, made with the openssl CLI in `dir`.
    fn openssl_pair(dir: &Path, name: &str) -> (String, String) {
        let cert = dir.join(format!("{name}.crt"));
        let key = dir.join(format!("{name}.key"));
        let out = std::process::Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
            ])
            .args(["-nodes", "-days", "2", "-subj", "/CN=localhost"])
            .args(["-addext", "subjectAltName=IP:127.0.0.1"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .expect("the openssl CLI (scripts/test.sh installs it)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (cert.display().to_string(), key.display().to_string())
    }

    #[test]
    fn a_key_of_another_certificate_is_refused() {
        let dir = tempfile::tempdir().expect("test setup");
        let (cert_a, key_a) = openssl_pair(dir.path(), "a");
        let (cert_b, key_b) = openssl_pair(dir.path(), "b");
        server_config(&cert_a, &key_a).expect("test setup");
        http_server_config(&cert_b, &key_b).expect("test setup");
        client_config("", &cert_a).expect("test setup");
        client_config(&cert_b, "").expect("test setup");
        let e = server_config(&cert_a, &key_b).expect_err("must fail");
        assert!(
            e.message
                .contains(&format!("ssl_private_key_path = {key_b} does not fit"))
                && e.message.contains(&cert_a),
            "{}",
            e.message
        );
        // Certificate and key swapped.
        let e = server_config(&key_a, &cert_a).expect_err("must fail");
        assert!(e.message.contains("ssl_certificate_path"), "{}", e.message);
    }

    #[test]
    fn missing_files_name_the_key_and_the_file() {
        let e =
            server_config("/nonexistent/cert.pem", "/nonexistent/key.pem").expect_err("must fail");
        assert!(e.message.contains("ssl_certificate_path"), "{}", e.message);
        assert!(e.message.contains("/nonexistent/cert.pem"), "{}", e.message);
        let e = server_config("", "").expect_err("must fail");
        assert!(e.message.contains("ssl_private_key_path"), "{}", e.message);
        let e = client_config("/nonexistent/ca.pem", "").expect_err("must fail");
        assert!(
            e.message.contains("ssl_ca_path = /nonexistent/ca.pem"),
            "{}",
            e.message
        );
    }

    #[test]
    fn garbage_is_not_a_certificate() {
        let dir = tempfile::tempdir().expect("test setup");
        let cert = dir.path().join("cert.pem");
        std::fs::write(&cert, "hello\n").expect("test setup");
        let p = cert.to_str().expect("test setup");
        let e = load_certs("ssl_certificate_path", p).expect_err("must fail");
        assert!(e.message.contains("no PEM certificate"), "{}", e.message);
        let e = load_key("ssl_private_key_path", p).expect_err("must fail");
        assert!(e.message.contains("ssl_private_key_path"), "{}", e.message);
    }
}
