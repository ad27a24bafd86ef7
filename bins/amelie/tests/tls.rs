//! End-to-end TLS: the real `amelie-server` with an HTTPS listener on 127.0.0.1 (a CA and a
//! server certificate made at test time with rcgen, kept in the repository's `certs/`), and
//! the real `amelie` client in pipe mode: the right CA works, no CA or a wrong one fails
//! with a clear error and exit status 1, plain HTTP on the TLS port fails, and the server
//! serves on afterwards; a hot backup over HTTPS starts as a TLS server of its own. Also the
//! start-up error of a TLS listener without a certificate.
//!
//! The server binary is the one Cargo builds next to `amelie` (`cargo test --workspace`
//! builds it; alone, run `cargo build -p amelie-server` first).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use amelie_client::{BlockingClient, Remote};

const AMELIE: &str = env!("CARGO_BIN_EXE_amelie");

fn server_bin() -> PathBuf {
    let path = Path::new(AMELIE).with_file_name("amelie-server");
    assert!(
        path.is_file(),
        "{} is missing: run `cargo build -p amelie-server` (cargo test --workspace builds it)",
        path.display()
    );
    path
}

static DIRS: AtomicUsize = AtomicUsize::new(0);

/// A fresh directory under the system temp dir, removed on drop unless the test failed.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let n = DIRS.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!("amtls-{tag}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("keeping {}", self.0.display());
        } else {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A CA (PEM) and a certificate it signed for `localhost` and 127.0.0.1, with its key.
struct Pki {
    ca: String,
    cert: String,
    key: String,
}

fn pki(ca_name: &str) -> Pki {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, ca_name);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    Pki {
        ca: ca.pem(),
        cert: cert.pem(),
        key: key.serialize_pem(),
    }
}

fn server_cmd(repo: &Path, args: &[String], stderr: &Path) -> Command {
    let mut cmd = Command::new(server_bin());
    cmd.args(args)
        .args([
            "--backends=1",
            "--frontends=1",
            "--log_to_stdout=false",
            "--timezone_default=UTC",
        ])
        .current_dir(repo.parent().unwrap())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fs::File::create(stderr).unwrap());
    cmd
}

struct Server {
    repo: PathBuf,
    child: Option<Child>,
}

impl Server {
    /// Starts `amelie-server start <repo>` with `options` and waits until `select 1`
    /// answers over the repository's unix socket.
    fn start(repo: &Path, options: &[String]) -> Server {
        let stderr = repo.with_extension("stderr");
        let mut args = vec!["start".to_string(), repo.display().to_string()];
        args.extend_from_slice(options);
        let child = server_cmd(repo, &args, &stderr).spawn().unwrap();
        let mut server = Server {
            repo: repo.to_path_buf(),
            child: Some(child),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = server.child.as_mut().unwrap().try_wait().unwrap() {
                server.child = None;
                panic!(
                    "amelie-server exited with {status}: {}",
                    fs::read_to_string(&stderr).unwrap_or_default()
                );
            }
            if server.sql("select 1").as_deref() == Some("[1]") {
                return server;
            }
            assert!(Instant::now() < deadline, "amelie-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A request over the unix socket: the 200 body, or None.
    fn sql(&self, sql: &str) -> Option<String> {
        let remote = Remote {
            path: self.repo.join("amelie.sock").display().to_string(),
            ..Remote::new()
        };
        let reply = BlockingClient::new(&remote).ok()?.sql(sql).ok()?;
        (reply.status == 200 || reply.status == 204).then_some(reply.body)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill").arg(c.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while c.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `amelie <args>` with `stdin` piped in, `AMELIE_HOME` set to `home` and the
/// platform's trusted certificates (for a client given no CA) from `system_ca`.
fn amelie(home: &Path, system_ca: &Path, args: &[&str], stdin: &str) -> Run {
    let mut child = Command::new(AMELIE)
        .args(args)
        .env("AMELIE_HOME", home)
        .env("SSL_CERT_FILE", system_ca)
        .env_remove("SSL_CERT_DIR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).unwrap();
    drop(input);
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn https_listener_with_the_amelie_client() {
    let tmp = TempDir::new("https");
    let repo = tmp.0.join("repo");
    let home = tmp.0.join("home");
    let good = pki("amelie test CA");
    let other = pki("another CA");

    // init makes <repo>/certs; the certificate goes there and is named relative to the
    // repository
    let init = server_cmd(
        &repo,
        &["init".to_string(), repo.display().to_string()],
        &tmp.0.join("init.stderr"),
    )
    .status()
    .unwrap();
    assert!(init.success());
    fs::write(repo.join("certs/server.pem"), &good.cert).unwrap();
    fs::write(repo.join("certs/server.key"), &good.key).unwrap();
    let ca = tmp.0.join("ca.pem");
    fs::write(&ca, &good.ca).unwrap();
    let wrong_ca = tmp.0.join("wrong.pem");
    fs::write(&wrong_ca, &other.ca).unwrap();

    let port = free_port();
    let server = Server::start(
        &repo,
        &[
            "--tls_cert=certs/server.pem".to_string(),
            "--tls_key=certs/server.key".to_string(),
            format!(r#"--listen=[{{"host": "127.0.0.1", "port": {port}, "tls": true}}]"#),
        ],
    );
    // the listener is saved with its tls flag
    let saved = fs::read_to_string(repo.join("config.json")).unwrap();
    assert!(saved.contains("\"tls\": true"), "{saved}");

    let https = format!("--uri=https://127.0.0.1:{port}");
    let ca_opt = format!("--tls_ca={}", ca.display());
    let script = "create table t (id int primary key, v text);\n\
                  insert into t values (1, 'one'), (2, 'two');\n\
                  select v from t order by id;\n";
    let run = amelie(&home, &wrong_ca, &[&https, &ca_opt], script);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{}", run.stdout);
    assert_eq!(run.stdout, "[\"one\", \"two\"]\n");

    // the CA in a directory, and the certificate's other name via tls_server
    let capath = tmp.0.join("cas");
    fs::create_dir_all(&capath).unwrap();
    fs::write(capath.join("ca.pem"), &good.ca).unwrap();
    fs::write(capath.join("README"), "not a certificate").unwrap();
    let run = amelie(
        &home,
        &wrong_ca,
        &[
            &https,
            &format!("--tls_capath={}", capath.display()),
            "--tls_server=localhost",
        ],
        "select count(*) from t",
    );
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "[2]\n"),
        "{}",
        run.stderr
    );

    // no CA: the platform's certificates do not include ours
    let run = amelie(&home, &wrong_ca, &[&https], "select 1");
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.starts_with(&format!(
            "error: connect to 127.0.0.1:{port}: tls: invalid peer certificate"
        )),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "{}", run.stdout);

    // a wrong CA
    let run = amelie(
        &home,
        &ca,
        &[&https, &format!("--tls_ca={}", wrong_ca.display())],
        "select 1",
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains(": tls: invalid peer certificate"),
        "{}",
        run.stderr
    );

    // a name the certificate does not carry
    let run = amelie(
        &home,
        &wrong_ca,
        &[&https, &ca_opt, "--tls_server=db.example.com"],
        "select 1",
    );
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("not valid for name"), "{}", run.stderr);

    // plain HTTP on the TLS port
    let run = amelie(
        &home,
        &wrong_ca,
        &[&format!("--uri=http://127.0.0.1:{port}")],
        "select 1",
    );
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stderr.starts_with("error: "), "{}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    // a raw plain request gets no HTTP reply, only a closed connection
    {
        use std::io::Read;
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(
            b"POST / HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 8\r\n\r\nselect 1",
        )
        .unwrap();
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got);
        assert!(!got.starts_with(b"HTTP/"), "{got:?}");
    }

    // and the server serves on, over TLS and over its socket
    let run = amelie(
        &home,
        &wrong_ca,
        &[&https, &ca_opt],
        "select v from t where id = 2",
    );
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "[\"two\"]\n"),
        "{}",
        run.stderr
    );
    assert_eq!(server.sql("select count(*) from t").as_deref(), Some("[2]"));

    // a hot backup over HTTPS copies certs/ too (the key readable by the owner only): the
    // copy starts with its own TLS listener on the copied certificate
    let copy = tmp.0.join("copy");
    let run = amelie(
        &home,
        &wrong_ca,
        &[
            "backup",
            copy.to_str().unwrap(),
            &https,
            &ca_opt,
            "--debug=0",
        ],
        "",
    );
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{}", run.stdout);
    for f in ["server.pem", "server.key"] {
        assert_eq!(
            fs::read(copy.join("certs").join(f)).unwrap(),
            fs::read(repo.join("certs").join(f)).unwrap()
        );
    }
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(copy.join("certs/server.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let copy_port = free_port();
    let copy_server = Server::start(
        &copy,
        &[format!(
            r#"--listen=[{{"host": "127.0.0.1", "port": {copy_port}, "tls": true}}]"#
        )],
    );
    assert_eq!(
        copy_server.sql("select count(*) from t").as_deref(),
        Some("[2]")
    );
    let run = amelie(
        &home,
        &wrong_ca,
        &[&format!("--uri=https://127.0.0.1:{copy_port}"), &ca_opt],
        "select v from t order by id",
    );
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "[\"one\", \"two\"]\n"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_tls_listener_without_a_certificate_does_not_start() {
    let tmp = TempDir::new("nocert");
    let repo = tmp.0.join("repo");
    let port = free_port();
    let listen = format!(r#"--listen=[{{"host": "127.0.0.1", "port": {port}, "tls": true}}]"#);
    let stderr = tmp.0.join("start.stderr");
    let args = [
        "start".to_string(),
        repo.display().to_string(),
        listen.clone(),
    ];
    let status = server_cmd(&repo, &args, &stderr).status().unwrap();
    assert!(!status.success());
    let text = fs::read_to_string(&stderr).unwrap();
    assert!(
        text.contains("error: server: listen[] <tls> requires a valid server certificate\n"),
        "{text}"
    );
    // a certificate file that is not there
    let args = [
        "start".to_string(),
        repo.display().to_string(),
        listen,
        "--tls_cert=certs/none.pem".to_string(),
        "--tls_key=certs/none.key".to_string(),
    ];
    let status = server_cmd(&repo, &args, &stderr).status().unwrap();
    assert!(!status.success());
    let text = fs::read_to_string(&stderr).unwrap();
    assert!(
        text.contains(
            "error: server: listen[] <tls> requires a valid server certificate (tls_cert '"
        ),
        "{text}"
    );
}
