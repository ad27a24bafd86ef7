//! The client side of TLS, shared by every Amelie client: the `amelie` command line
//! (`amelie_client`, `https://` URIs) and the primary's WAL streaming to `https://` replicas
//! (`amelie_system::repl_tls`). It reads the trusted certificates (`tls_ca`, the files of
//! `tls_capath`, else the platform's), the client certificate (`tls_cert`, `tls_key`) and
//! builds one rustls configuration for the name the server's certificate must carry
//! (decision 35 in docs/decisions.md).
//!
//! Paths are opened as given: the caller resolves them (the command line uses them as typed,
//! the server relative to its repository). Every error names the option and the file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use amelie_common::{Error, Result};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// The files of a TLS client; `None`: option not given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsClientFiles {
    /// `tls_ca`: a PEM file of certificates to trust.
    pub ca: Option<PathBuf>,
    /// `tls_capath`: a directory whose PEM files hold certificates to trust.
    pub capath: Option<PathBuf>,
    /// `tls_cert`: the client's certificate chain (PEM), with `key`.
    pub cert: Option<PathBuf>,
    /// `tls_key`: the client certificate's private key (PEM), with `cert`.
    pub key: Option<PathBuf>,
}

impl TlsClientFiles {
    /// Any option given.
    pub fn any(&self) -> bool {
        self.ca.is_some() || self.capath.is_some() || self.cert.is_some() || self.key.is_some()
    }
}

/// How to open TLS over a TCP connection to one server: a rustls configuration and the name
/// to verify. Cheap to clone (one `Arc`).
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

/// The crypto of rustls: *ring*, as on the server (see [`crate::TlsServer`], decision 27).
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
fn roots(files: &TlsClientFiles) -> Result<rustls::RootCertStore> {
    let mut roots = rustls::RootCertStore::empty();
    if let Some(path) = &files.ca {
        for c in some_pem_certs("tls_ca", path)? {
            roots
                .add(c)
                .map_err(|e| Error::syntax(format!("tls_ca '{}': {e}", path.display())))?;
        }
    }
    if let Some(dir) = &files.capath {
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
    if files.ca.is_none() && files.capath.is_none() {
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
    /// TLS with the files of `files` to a server whose certificate must name `server_name`
    /// (a DNS name or an IP address; for the command line `tls_server`, else the URI's host).
    /// Reads every file now.
    pub fn new(files: &TlsClientFiles, server_name: &str) -> Result<TlsClient> {
        let name = ServerName::try_from(server_name.to_string()).map_err(|_| {
            Error::syntax(format!("tls_server '{server_name}': invalid server name"))
        })?;
        // a client certificate needs both halves (checked before any file is read)
        match (&files.cert, &files.key) {
            (Some(_), None) => return Err(Error::not_found("tls_cert requires tls_key")),
            (None, Some(_)) => return Err(Error::not_found("tls_key requires tls_cert")),
            _ => {}
        }
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::internal(format!("tls: {e}")))?
            .with_root_certificates(roots(files)?);
        let mut config = match (&files.cert, &files.key) {
            (Some(cert), Some(key_path)) => {
                let chain = some_pem_certs("tls_cert", cert)?;
                let key = PrivateKeyDer::from_pem_slice(&read_file("tls_key", key_path)?)
                    .map_err(|e| Error::syntax(format!("tls_key '{}': {e}", key_path.display())))?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| Error::syntax(format!("tls_key '{}': {e}", key_path.display())))?
            }
            _ => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
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

    /// The rustls configuration (for connections made elsewhere, such as the load
    /// generator's).
    pub fn config(&self) -> &Arc<rustls::ClientConfig> {
        &self.config
    }

    /// The name the server's certificate must carry.
    pub fn server_name(&self) -> &ServerName<'static> {
        &self.name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(tag: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("amelie-http-tlsc-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn self_signed() -> (String, String) {
        let rcgen::CertifiedKey { cert, signing_key } =
            rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        (cert.pem(), signing_key.serialize_pem())
    }

    fn err(files: &TlsClientFiles) -> Error {
        TlsClient::new(files, "localhost").unwrap_err()
    }

    #[test]
    fn files_are_checked() {
        let dir = tmp("files");
        let (cert, key) = self_signed();
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, &cert).unwrap();
        let key_file = dir.join("key.pem");
        std::fs::write(&key_file, &key).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "nothing here").unwrap();

        let mut f = TlsClientFiles {
            ca: Some(ca.clone()),
            ..TlsClientFiles::default()
        };
        assert!(f.any());
        assert!(!TlsClientFiles::default().any());
        let ok = TlsClient::new(&f, "localhost").unwrap();
        assert_eq!(format!("{ok:?}"), "TlsClient(DnsName(\"localhost\"))");
        assert_eq!(ok.config().alpn_protocols, vec![b"http/1.1".to_vec()]);
        // an IP address is a name too
        let ip = TlsClient::new(&f, "127.0.0.1").unwrap();
        assert!(matches!(ip.server_name(), ServerName::IpAddress(_)));
        let e = TlsClient::new(&f, "bad name!").unwrap_err();
        assert_eq!(e.kind(), amelie_common::ErrorKind::Syntax);
        assert_eq!(e.msg(), "tls_server 'bad name!': invalid server name");

        // a client certificate needs both halves
        f.cert = Some(ca.clone());
        assert_eq!(err(&f).msg(), "tls_cert requires tls_key");
        f.key = Some(key_file.clone());
        TlsClient::new(&f, "localhost").unwrap();
        // a key that is not one
        f.key = Some(empty.clone());
        let e = err(&f);
        assert_eq!(e.kind(), amelie_common::ErrorKind::Syntax);
        assert!(
            e.msg()
                .starts_with(&format!("tls_key '{}': ", empty.display())),
            "{e}"
        );
        // an unreadable key
        f.key = Some(dir.join("missing.key"));
        let e = err(&f);
        assert_eq!(e.kind(), amelie_common::ErrorKind::Io);
        assert!(e.msg().starts_with("tls_key '"), "{e}");
        f.cert = None;
        f.key = Some(key_file.clone());
        assert_eq!(err(&f).msg(), "tls_key requires tls_cert");
        f.key = None;

        f.ca = Some(empty.clone());
        let e = err(&f);
        assert_eq!(e.kind(), amelie_common::ErrorKind::Syntax);
        assert_eq!(
            e.msg(),
            format!("tls_ca '{}': no certificate found", empty.display())
        );
        f.ca = Some("/nonexistent/ca.pem".into());
        let e = err(&f);
        assert_eq!(e.kind(), amelie_common::ErrorKind::Io);
        assert!(e.msg().starts_with("tls_ca '/nonexistent/ca.pem': "));

        // a directory: certificates in any of its files, other files passed over
        f.ca = None;
        f.capath = Some(dir.clone());
        TlsClient::new(&f, "localhost").unwrap();
        let none = tmp("none");
        std::fs::write(none.join("x"), "x").unwrap();
        f.capath = Some(none.clone());
        let e = err(&f);
        assert_eq!(e.kind(), amelie_common::ErrorKind::NotFound);
        assert_eq!(
            e.msg(),
            format!("tls_capath '{}': no certificate found", none.display())
        );
        f.capath = Some("/nonexistent/dir".into());
        assert_eq!(err(&f).kind(), amelie_common::ErrorKind::Io);
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_dir_all(&none);
    }
}
