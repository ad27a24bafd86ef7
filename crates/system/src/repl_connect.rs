//! How the primary reaches a replica (spec §2.13): the replica's `uri` parsed, a TCP
//! connection, and TLS over it when the replica is an HTTPS one. The WAL streamer
//! ([`crate::stream`]) speaks HTTP/1.1 over what [`connect`] returns.
//!
//! **The uri.** `[http[s]://]host[:port][/...]`: the port defaults to 3485, an IPv6 address
//! is written in brackets, a path is ignored. Whether the connection speaks TLS:
//!
//! - `https://host:port`: TLS;
//! - `http://host:port`: plain HTTP; with a `tls_*` option set it is refused
//!   ([`MSG_PLAIN_WITH_TLS`]) rather than sent in the clear against what the options ask;
//! - `host:port` (the form of spec §2.13, which lists the `tls_*` options with it): TLS when a
//!   `tls_*` option is set, plain HTTP otherwise.
//!
//! **TLS.** The client side is `amelie_http::TlsClient`, shared with the `amelie` client
//! (decision 35): rustls with *ring*; the certificates of `tls_ca` and of the files of
//! `tls_capath` are trusted, else the platform's (`SSL_CERT_FILE`, `SSL_CERT_DIR`, else the
//! system store); `tls_cert` and `tls_key` are the client certificate (both or neither); the
//! replica's certificate must name the uri's host (a DNS name or an IP address). The paths are
//! relative to the repository unless absolute or starting with `./` or `../`, as the
//! server's own `tls_cert` and `tls_key`. The files are read at every connection attempt, so a
//! corrected file is picked up at the next retry. Every failure is an error value: the
//! streamer logs it, shows the replica disconnected and tries again after
//! `repl_reconnect_ms`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use amelie_common::{Error, Result};
use amelie_executor::ReplicaDef;
use amelie_http::{TlsClient, TlsClientFiles};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

/// The port of a replica uri without one (Amelie's default).
pub const DEFAULT_PORT: u16 = 3485;

/// Error text (after `replication: replica uri '<uri>': `) of an `http://` uri whose
/// replica has `tls_*` options.
pub const MSG_PLAIN_WITH_TLS: &str =
    "http:// is plain HTTP but tls_* options are set (use https://)";

/// Where a replica is, parsed from its definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicaTarget {
    /// Without brackets for an IPv6 address.
    pub host: String,
    pub port: u16,
    /// Speak TLS.
    pub tls: bool,
}

impl ReplicaTarget {
    /// `host:port` (`[v6]:port`): the `Host` header and the name in error texts.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// The `tls_*` options of `def` as files: `""` is not set; a relative path is relative to
/// `repo` unless it starts with `./` or `../`.
pub fn tls_files(def: &ReplicaDef, repo: &Path) -> TlsClientFiles {
    let path = |text: &str| (!text.is_empty()).then(|| crate::server::tls_path(repo, text));
    TlsClientFiles {
        ca: path(&def.tls_ca),
        capath: path(&def.tls_capath),
        cert: path(&def.tls_cert),
        key: path(&def.tls_key),
    }
}

/// Parses the `uri` of `def` (see the module documentation); `tls_options`: a `tls_*`
/// option is set.
pub fn parse_target(uri: &str, tls_options: bool) -> Result<ReplicaTarget> {
    let bad =
        |why: &str| Error::type_error(format!("replication: invalid replica uri '{uri}': {why}"));
    let text = uri.trim();
    let (tls, rest) = if let Some(r) = text.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = text.strip_prefix("http://") {
        if tls_options {
            return Err(Error::unsupported(format!(
                "replication: replica uri '{uri}': {MSG_PLAIN_WITH_TLS}"
            )));
        }
        (false, r)
    } else if text.contains("://") {
        return Err(bad("unsupported scheme"));
    } else {
        (tls_options, text)
    };
    let authority = rest.split('/').next().unwrap_or(rest);
    if authority.contains('@') {
        return Err(bad("a user is not expected (use token)"));
    }
    let (host, port) = amelie_http::split_authority(authority).map_err(bad)?;
    if host.is_empty() {
        return Err(bad("host is not defined"));
    }
    let port = match port {
        Some(p) => p.parse().map_err(|_| bad("invalid port"))?,
        None => DEFAULT_PORT,
    };
    Ok(ReplicaTarget {
        host: host.to_string(),
        port,
        tls,
    })
}

/// The byte stream to a replica: TCP, or TLS over TCP.
pub trait ReplicaStream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> ReplicaStream for T {}

/// An open connection to a replica, ready for hyper's HTTP/1.1 client.
pub struct ReplicaConn {
    pub io: TokioIo<Box<dyn ReplicaStream>>,
    /// `host:port`, for the `Host` header and error texts.
    pub authority: String,
    pub tls: bool,
}

/// Connects to the replica of `def`: the uri parsed, the TLS configuration built (files
/// relative to `repo`), then TCP and the TLS handshake, all within `timeout`.
pub async fn connect(def: &ReplicaDef, repo: &Path, timeout: Duration) -> Result<ReplicaConn> {
    let files = tls_files(def, repo);
    let target = parse_target(&def.uri, files.any())?;
    let authority = target.authority();
    let tls = if target.tls {
        let client = TlsClient::new(&files, &target.host)
            .map_err(|e| Error::with_kind(e.kind(), format!("replication: {}", e.msg())))?;
        Some(client)
    } else {
        None
    };
    let io_err =
        |what: &str, e: std::io::Error| Error::io(format!("replication: {authority}: {what}{e}"));
    let run = async {
        let tcp = tokio::net::TcpStream::connect((target.host.as_str(), target.port))
            .await
            .map_err(|e| io_err("", e))?;
        let _ = tcp.set_nodelay(true);
        let stream: Box<dyn ReplicaStream> = match &tls {
            Some(client) => Box::new(
                client
                    .connect(tcp)
                    .await
                    .map_err(|e| io_err("tls handshake: ", e))?,
            ),
            None => Box::new(tcp),
        };
        Ok::<_, Error>(stream)
    };
    let stream = tokio::time::timeout(timeout, run)
        .await
        .map_err(|_| Error::io(format!("replication: {authority}: connect timed out")))??;
    Ok(ReplicaConn {
        io: TokioIo::new(stream),
        authority,
        tls: target.tls,
    })
}

/// The repository of a server whose WAL directory is `wal_dir` (`<repo>/wal`).
pub fn repo_of(wal_dir: &Path) -> PathBuf {
    wal_dir.parent().unwrap_or(wal_dir).to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;
    use amelie_common::ErrorKind;

    fn target(host: &str, port: u16, tls: bool) -> ReplicaTarget {
        ReplicaTarget {
            host: host.into(),
            port,
            tls,
        }
    }

    #[test]
    fn replica_uris() {
        let t = |uri: &str, tls_options: bool| parse_target(uri, tls_options).unwrap();
        assert_eq!(t("127.0.0.1:3485", false), target("127.0.0.1", 3485, false));
        assert_eq!(t("http://h:1/", false), target("h", 1, false));
        assert_eq!(t("http://h:1/any/path", false), target("h", 1, false));
        assert_eq!(t("https://h:1", false), target("h", 1, true));
        assert_eq!(t("https://h:1", true), target("h", 1, true));
        assert_eq!(
            t(" https://db.example ", false),
            target("db.example", 3485, true)
        );
        assert_eq!(t("[::1]:9", false), target("::1", 9, false));
        assert_eq!(t("https://[::1]", false), target("::1", 3485, true));
        assert_eq!(t("https://[::1]:9", false).authority(), "[::1]:9");
        assert_eq!(t("h:1", false).authority(), "h:1");
        // a bare host:port speaks TLS when a tls_* option is set
        assert_eq!(t("h:1", true), target("h", 1, true));

        let err = |uri: &str, tls_options: bool| parse_target(uri, tls_options).unwrap_err();
        let e = err("http://h:1", true);
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert_eq!(
            e.msg(),
            format!("replication: replica uri 'http://h:1': {MSG_PLAIN_WITH_TLS}")
        );
        for (uri, why) in [
            ("", "host is not defined"),
            ("https://", "host is not defined"),
            (":1", "host is not defined"),
            ("ftp://h:1", "unsupported scheme"),
            ("h:port", "invalid port"),
            ("h:70000", "invalid port"),
            ("[::1", "']' expected"),
            ("[::1]9", "':' expected"),
            ("bob@h:1", "a user is not expected (use token)"),
        ] {
            let e = err(uri, false);
            assert_eq!(e.kind(), ErrorKind::Type, "{uri}");
            assert_eq!(
                e.msg(),
                format!("replication: invalid replica uri '{uri}': {why}")
            );
        }
    }

    #[test]
    fn tls_files_are_relative_to_the_repository() {
        let def = ReplicaDef {
            tls_ca: "certs/ca.pem".into(),
            tls_capath: "/etc/ssl/certs".into(),
            tls_cert: "./c.pem".into(),
            ..ReplicaDef::default()
        };
        let f = tls_files(&def, Path::new("/r"));
        assert_eq!(f.ca.as_deref(), Some(Path::new("/r/certs/ca.pem")));
        assert_eq!(f.capath.as_deref(), Some(Path::new("/etc/ssl/certs")));
        assert_eq!(f.cert.as_deref(), Some(Path::new("./c.pem")));
        assert_eq!(f.key, None);
        assert!(f.any());
        assert!(!tls_files(&ReplicaDef::default(), Path::new("/r")).any());
        assert_eq!(repo_of(Path::new("/r/wal")), Path::new("/r"));
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    /// A bad TLS option is an error of its kind, before any connection is tried.
    #[test]
    fn tls_option_errors_are_values() {
        let dir = std::env::temp_dir().join(format!("amelie-repl-connect-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("empty.pem"), "no certificate").unwrap();
        let def = |uri: &str, ca: &str, key: &str| ReplicaDef {
            id: "r".into(),
            uri: uri.into(),
            tls_ca: ca.into(),
            tls_key: key.into(),
            ..ReplicaDef::default()
        };
        let rt = rt();
        let fail = |d: ReplicaDef| {
            rt.block_on(connect(&d, &dir, Duration::from_secs(5)))
                .err()
                .expect("an error")
        };
        // the port is never reached: the options fail first
        let e = fail(def("https://127.0.0.1:1", "missing.pem", ""));
        assert_eq!(e.kind(), ErrorKind::Io);
        assert!(
            e.msg().starts_with(&format!(
                "replication: tls_ca '{}': ",
                dir.join("missing.pem").display()
            )),
            "{e}"
        );
        let e = fail(def("127.0.0.1:1", "empty.pem", ""));
        assert_eq!(e.kind(), ErrorKind::Syntax);
        assert_eq!(
            e.msg(),
            format!(
                "replication: tls_ca '{}': no certificate found",
                dir.join("empty.pem").display()
            )
        );
        let e = fail(def("https://127.0.0.1:1", "", "k.pem"));
        assert_eq!(e.msg(), "replication: tls_key requires tls_cert");
        let e = fail(def("http://127.0.0.1:1", "empty.pem", ""));
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A replica that does not speak TLS (here: one that closes at once) fails the handshake
    /// with an IO error naming it.
    #[test]
    fn a_failed_handshake_is_an_io_error() {
        let rt = rt();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        rt.spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                drop(s);
            }
        });
        let dir = std::env::temp_dir().join(format!("amelie-repl-hs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let rcgen::CertifiedKey { cert, .. } =
            rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        std::fs::write(dir.join("ca.pem"), cert.pem()).unwrap();
        let d = ReplicaDef {
            id: "r".into(),
            uri: format!("https://127.0.0.1:{port}"),
            tls_ca: "ca.pem".into(),
            ..ReplicaDef::default()
        };
        let e = rt
            .block_on(connect(&d, &dir, Duration::from_secs(5)))
            .err()
            .expect("an error");
        assert_eq!(e.kind(), ErrorKind::Io);
        assert!(
            e.msg()
                .starts_with(&format!("replication: 127.0.0.1:{port}: tls handshake: ")),
            "{e}"
        );
        // plain HTTP connects (what is spoken over it is the streamer's business)
        let d = ReplicaDef {
            uri: format!("127.0.0.1:{port}"),
            tls_ca: String::new(),
            ..d
        };
        let c = rt
            .block_on(connect(&d, &dir, Duration::from_secs(5)))
            .unwrap();
        assert!(!c.tls);
        assert_eq!(c.authority, format!("127.0.0.1:{port}"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
