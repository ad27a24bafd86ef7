//! The client side of TLS (`https://` URIs): which certificates to trust (`tls_ca`,
//! `tls_capath`, else the platform's), the client certificate (`tls_cert`, `tls_key`) and the
//! name the server's certificate must carry (`tls_server`, else the URI's host).

use amelie_common::Result;
use amelie_http::TlsClientFiles;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::remote::Remote;

/// How to open TLS over a TCP connection to one server: `amelie_http::TlsClient` (shared
/// with the server's replication, decision 35) built from a [`Remote`]'s options.
#[derive(Clone, Debug)]
pub struct TlsClient(amelie_http::TlsClient);

/// A `tls_*` option as a path (as given: a client has no repository); `""`: not set.
fn path(option: &str) -> Option<std::path::PathBuf> {
    (!option.is_empty()).then(|| option.into())
}

impl TlsClient {
    /// TLS to `host` (the URI's host) with the options of `remote`.
    pub fn new(remote: &Remote, host: &str) -> Result<TlsClient> {
        let files = TlsClientFiles {
            ca: path(&remote.tls_ca),
            capath: path(&remote.tls_capath),
            cert: path(&remote.tls_cert),
            key: path(&remote.tls_key),
        };
        let name = if remote.tls_server.is_empty() {
            host
        } else {
            remote.tls_server.as_str()
        };
        amelie_http::TlsClient::new(&files, name).map(TlsClient)
    }

    /// The TLS handshake over `stream`.
    pub async fn connect(&self, stream: TcpStream) -> std::io::Result<TlsStream<TcpStream>> {
        self.0.connect(stream).await
    }

    /// The same configuration for the load generator's connections (`amelie bench`).
    pub fn load_options(&self) -> amelie_loadgen::TlsOptions {
        amelie_loadgen::TlsOptions {
            config: self.0.config().clone(),
            server_name: self.0.server_name().clone(),
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
        assert_eq!(
            format!("{ok:?}"),
            "TlsClient(TlsClient(DnsName(\"localhost\")))"
        );
        // an IP address is a name too; tls_server wins over the host
        TlsClient::new(&r, "127.0.0.1").unwrap();
        r.tls_server = "db.example".into();
        assert_eq!(
            format!("{:?}", TlsClient::new(&r, "127.0.0.1").unwrap()),
            "TlsClient(TlsClient(DnsName(\"db.example\")))"
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
