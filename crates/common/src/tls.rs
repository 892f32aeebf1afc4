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
