//! TLS of the listeners marked `"tls": true`: the server certificate and key (PEM), loaded
//! once at start-up into a rustls configuration that every TLS connection shares.
//!
//! Client certificates are not requested (Amelie does not verify them), so `tls_ca` and
//! `tls_capath` play no part on the server side.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use amelie_common::Error;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// The server side of TLS: a certificate chain and its private key. Cheap to clone (one
/// `Arc`).
#[derive(Clone)]
pub struct TlsServer {
    acceptor: TlsAcceptor,
}

impl fmt::Debug for TlsServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TlsServer")
    }
}

fn read_file(what: &str, path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| Error::io(format!("{what} '{}': {e}", path.display())))
}

impl TlsServer {
    /// Loads the certificate chain (`cert`, PEM, the server's certificate first) and its
    /// private key (`key`, PEM: PKCS#8, PKCS#1 or SEC1).
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<TlsServer, Error> {
        let cert_pem = read_file("tls_cert", cert)?;
        let key_pem = read_file("tls_key", key)?;
        Self::from_pem(&cert_pem, &key_pem).map_err(|e| {
            // name the file the problem is in
            let file = if e.msg().starts_with("tls_key") {
                key
            } else {
                cert
            };
            let (what, why) = e.msg().split_once(": ").unwrap_or(("tls", e.msg()));
            Error::with_kind(e.kind(), format!("{what} '{}': {why}", file.display()))
        })
    }

    /// [`TlsServer::from_pem_files`] over the files' contents. Errors start with `tls_cert: `
    /// or `tls_key: `.
    pub fn from_pem(cert: &[u8], key: &[u8]) -> Result<TlsServer, Error> {
        let chain = CertificateDer::pem_slice_iter(cert)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::syntax(format!("tls_cert: {e}")))?;
        if chain.is_empty() {
            return Err(Error::syntax("tls_cert: no certificate found"));
        }
        let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| match e {
            rustls::pki_types::pem::Error::NoItemsFound => {
                Error::syntax("tls_key: no private key found")
            }
            e => Error::syntax(format!("tls_key: {e}")),
        })?;
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::internal(format!("tls: {e}")))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            // a key that does not match the certificate, or one rustls cannot use
            .map_err(|e| Error::syntax(format!("tls_key: {e}")))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsServer {
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }

    pub(crate) fn acceptor(&self) -> &TlsAcceptor {
        &self.acceptor
    }
}

/// The crypto of rustls: *ring* (docs/decisions.md, "TLS on rustls"). rustls 0.23.48
/// deprecates it for lacking post-quantum key exchange, which only its aws-lc-rs provider
/// has; we keep *ring* for its much lighter build until that matters.
#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn self_signed() -> (String, String) {
        let rcgen::CertifiedKey { cert, signing_key } =
            rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        (cert.pem(), signing_key.serialize_pem())
    }

    #[test]
    fn loads_a_certificate_and_its_key() {
        let (cert, key) = self_signed();
        TlsServer::from_pem(cert.as_bytes(), key.as_bytes()).unwrap();
    }

    #[test]
    fn bad_material_is_an_error_value() {
        let (cert, key) = self_signed();
        let (_, other_key) = self_signed();
        let msg = |r: Result<TlsServer, Error>| r.unwrap_err().msg().to_string();
        assert_eq!(
            msg(TlsServer::from_pem(b"", key.as_bytes())),
            "tls_cert: no certificate found"
        );
        assert_eq!(
            msg(TlsServer::from_pem(cert.as_bytes(), b"garbage")),
            "tls_key: no private key found"
        );
        // a certificate where the key should be
        assert_eq!(
            msg(TlsServer::from_pem(cert.as_bytes(), cert.as_bytes())),
            "tls_key: no private key found"
        );
        // a broken PEM section
        let broken = cert.replace("-----END CERTIFICATE-----", "");
        assert!(
            msg(TlsServer::from_pem(broken.as_bytes(), key.as_bytes())).starts_with("tls_cert: ")
        );
        // the key of another certificate
        let e = msg(TlsServer::from_pem(cert.as_bytes(), other_key.as_bytes()));
        assert!(e.starts_with("tls_key: "), "{e}");
    }

    #[test]
    fn missing_files_name_the_file() {
        let e = TlsServer::from_pem_files(
            Path::new("/nonexistent/cert.pem"),
            Path::new("/nonexistent/key.pem"),
        )
        .unwrap_err();
        assert_eq!(e.kind(), amelie_common::ErrorKind::Io);
        assert!(
            e.msg().starts_with("tls_cert '/nonexistent/cert.pem': "),
            "{e}"
        );
        let dir = std::env::temp_dir().join(format!("amelie-http-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (cert, _) = self_signed();
        let (cert_path, key_path) = (dir.join("c.pem"), dir.join("k.pem"));
        std::fs::write(&cert_path, cert).unwrap();
        std::fs::write(&key_path, "nothing").unwrap();
        let e = TlsServer::from_pem_files(&cert_path, &key_path).unwrap_err();
        assert_eq!(
            e.msg(),
            format!("tls_key '{}': no private key found", key_path.display())
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
