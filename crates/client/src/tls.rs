//! The client side of TLS (`https://` URIs): which certificates to trust (`tls_ca`,
//! `tls_capath`, else the platform's), the client certificate (`tls_cert`, `tls_key`) and the
//! name the server's certificate must carry (`tls_server`, else the URI's host).

use std::path::Path;
use std::sync::Arc;

use amelie_common::{Error, Result};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::remote::Remote;

/// How to open TLS over a TCP connection to one server.
#[derive(Clone)]
pub struct TlsClient {
    config: Arc<rustls::ClientConfig>,
    name: ServerName<'static>,
}

impl std::fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TlsClient({:?})", self.name)
    }
}

/// The crypto of rustls: *ring*, as on the server (see `amelie_http::TlsServer`).
#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read_file(what: &str, path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io(format!("{what} '{}': {e}", path.display())))
}

/// The certificates of a PEM file (none when it holds none).
fn pem_certs(what: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let pem = read_file(what, path)?;
    CertificateDer::pem_slice_iter(&pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::syntax(format!("{what} '{}': {e}", path.display())))
}

/// The certificates of a PEM file that must hold one at least.
fn some_pem_certs(what: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let certs = pem_certs(what, path)?;
    if certs.is_empty() {
        return Err(Error::syntax(format!(
            "{what} '{}': no certificate found",
            path.display()
        )));
    }
    Ok(certs)
}

/// The certificates to trust: those of `tls_ca` (a PEM file) and of every PEM file in
/// `tls_capath` (files that hold no certificate are passed over); when neither is set, the
/// platform's (`rustls-native-certs`: `SSL_CERT_FILE`, `SSL_CERT_DIR`, else the system
/// store).
fn roots(remote: &Remote) -> Result<rustls::RootCertStore> {
    let mut roots = rustls::RootCertStore::empty();
    if !remote.tls_ca.is_empty() {
        let path = Path::new(&remote.tls_ca);
        for c in some_pem_certs("tls_ca", path)? {
            roots
                .add(c)
                .map_err(|e| Error::syntax(format!("tls_ca '{}': {e}", path.display())))?;
        }
    }
    if !remote.tls_capath.is_empty() {
        let dir = Path::new(&remote.tls_capath);
        let entries = std::fs::read_dir(dir)
            .map_err(|e| Error::io(format!("tls_capath '{}': {e}", dir.display())))?;
        let mut found = 0;
        for entry in entries.flatten() {
            let path = entry.path();
            if !path.is_file() {
                continue;
            }
            // other files (keys, hashes, notes) are no error
            if let Ok(certs) = pem_certs("tls_capath", &path) {
                let (added, _) = roots.add_parsable_certificates(certs);
                found += added;
            }
        }
        if found == 0 {
            return Err(Error::not_found(format!(
                "tls_capath '{}': no certificate found",
                dir.display()
            )));
        }
    }
    if remote.tls_ca.is_empty() && remote.tls_capath.is_empty() {
        let native = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(native.certs);
        if roots.is_empty() {
            return Err(Error::not_found(
                "tls: no trusted certificates found on this system (set tls_ca or tls_capath)",
            ));
        }
    }
    Ok(roots)
}

impl TlsClient {
    /// TLS to `host` (the URI's host) with the options of `remote`.
    pub fn new(remote: &Remote, host: &str) -> Result<TlsClient> {
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::internal(format!("tls: {e}")))?
            .with_root_certificates(roots(remote)?);
        let mut config = match (remote.tls_cert.is_empty(), remote.tls_key.is_empty()) {
            (true, true) => builder.with_no_client_auth(),
            (false, true) => return Err(Error::not_found("tls_cert requires tls_key")),
            (true, false) => return Err(Error::not_found("tls_key requires tls_cert")),
            (false, false) => {
                let chain = some_pem_certs("tls_cert", Path::new(&remote.tls_cert))?;
                let key_path = Path::new(&remote.tls_key);
                let key = PrivateKeyDer::from_pem_slice(&read_file("tls_key", key_path)?)
                    .map_err(|e| Error::syntax(format!("tls_key '{}': {e}", key_path.display())))?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| Error::syntax(format!("tls_key '{}': {e}", key_path.display())))?
            }
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let name = if remote.tls_server.is_empty() {
            host
        } else {
            remote.tls_server.as_str()
        };
        let name = ServerName::try_from(name.to_string())
            .map_err(|_| Error::syntax(format!("tls_server '{name}': invalid server name")))?;
        Ok(TlsClient {
            config: Arc::new(config),
            name,
        })
    }

    /// The TLS handshake over `stream`.
    pub async fn connect(&self, stream: TcpStream) -> std::io::Result<TlsStream<TcpStream>> {
        TlsConnector::from(self.config.clone())
            .connect(self.name.clone(), stream)
            .await
    }

    /// The same configuration for the load generator's connections (`amelie bench`).
    pub fn load_options(&self) -> amelie_loadgen::TlsOptions {
        amelie_loadgen::TlsOptions {
            config: self.config.clone(),
            server_name: self.name.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(tag: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("amelie-client-tls-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn self_signed() -> (String, String) {
        let rcgen::CertifiedKey { cert, signing_key } =
            rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        (cert.pem(), signing_key.serialize_pem())
    }

    fn err(remote: &Remote) -> String {
        TlsClient::new(remote, "localhost")
            .unwrap_err()
            .msg()
            .to_string()
    }

    #[test]
    fn options_are_checked() {
        let dir = tmp("opts");
        let (cert, key) = self_signed();
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, &cert).unwrap();
        let key_file = dir.join("key.pem");
        std::fs::write(&key_file, &key).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "nothing here").unwrap();

        let mut r = Remote::new();
        r.tls_ca = ca.display().to_string();
        let ok = TlsClient::new(&r, "localhost").unwrap();
        assert_eq!(format!("{ok:?}"), "TlsClient(DnsName(\"localhost\"))");
        // an IP address is a name too; tls_server wins over the host
        TlsClient::new(&r, "127.0.0.1").unwrap();
        r.tls_server = "db.example".into();
        assert_eq!(
            format!("{:?}", TlsClient::new(&r, "127.0.0.1").unwrap()),
            "TlsClient(DnsName(\"db.example\"))"
        );
        r.tls_server = "bad name!".into();
        assert_eq!(err(&r), "tls_server 'bad name!': invalid server name");
        r.tls_server.clear();

        // a client certificate needs both halves
        r.tls_cert = ca.display().to_string();
        assert_eq!(err(&r), "tls_cert requires tls_key");
        r.tls_key = key_file.display().to_string();
        TlsClient::new(&r, "localhost").unwrap();
        r.tls_cert.clear();
        assert_eq!(err(&r), "tls_key requires tls_cert");
        r.tls_key.clear();

        r.tls_ca = empty.display().to_string();
        assert_eq!(
            err(&r),
            format!("tls_ca '{}': no certificate found", empty.display())
        );
        r.tls_ca = "/nonexistent/ca.pem".into();
        assert!(err(&r).starts_with("tls_ca '/nonexistent/ca.pem': "));

        // a directory: certificates in any of its files, other files passed over
        r.tls_ca.clear();
        r.tls_capath = dir.display().to_string();
        TlsClient::new(&r, "localhost").unwrap();
        let none = tmp("none");
        std::fs::write(none.join("x"), "x").unwrap();
        r.tls_capath = none.display().to_string();
        assert_eq!(
            err(&r),
            format!("tls_capath '{}': no certificate found", none.display())
        );
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_dir_all(&none);
    }
}
