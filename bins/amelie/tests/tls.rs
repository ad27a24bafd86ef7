//! End-to-end TLS: the real `amelie-server` with an HTTPS listener on 127.0.0.1 (a CA and a
//! server certificate made at test time with rcgen, kept in the repository's `certs/`), and
//! the real `amelie` client in pipe mode: the right CA works, no CA or a wrong one fails
//! with a clear error and exit status 1, plain HTTP on the TLS port fails with a hint (the
//! console client, import and top), and the server serves on afterwards; `amelie bench`
//! runs over TLS; a hot backup over HTTPS starts as a TLS server of its own. Also the
//! start-up error of a TLS listener without a certificate.
//!
//! The harness (starting and stopping the server, running `amelie`) is `common/mod.rs`.

mod common;

use std::fs;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use common::{amelie_cmd, free_port, pki, run, server_cmd, Run, Server, TempDir};

/// Runs `amelie <args>` with `stdin` piped in, `AMELIE_HOME` set to `home` and the
/// platform's trusted certificates (for a client given no CA) from `system_ca`.
fn amelie(home: &Path, system_ca: &Path, args: &[&str], stdin: &str) -> Run {
    let mut cmd = amelie_cmd(home, args);
    cmd.env("SSL_CERT_FILE", system_ca)
        .env_remove("SSL_CERT_DIR");
    run(cmd, stdin.as_bytes())
}

#[test]
fn https_listener_with_the_amelie_client() {
    let tmp = TempDir::new("tls-https");
    let repo = tmp.0.join("repo");
    let home = tmp.0.join("home");
    let good = pki("amelie test CA");
    let other = pki("another CA");

    // init makes <repo>/certs; the certificate goes there and is named relative to the
    // repository
    let init = server_cmd("init", &repo, &[], &tmp.0.join("init.stderr"))
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

    // amelie bench over TLS: the load generator's connections use the same configuration
    let run = amelie(
        &home,
        &wrong_ca,
        &[
            "bench",
            &https,
            &ca_opt,
            "--type=import",
            "--time=1",
            "--threads=1",
            "--clients=2",
            "--batch=50",
        ],
        "",
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let total: u64 = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("transactions: "))
        .unwrap_or_else(|| panic!("{}", run.stdout))
        .parse()
        .unwrap();
    assert!(total > 0, "{}", run.stdout);
    // with a wrong CA every connection fails, and says why
    let run = amelie(
        &home,
        &ca,
        &[
            "bench",
            &https,
            &format!("--tls_ca={}", wrong_ca.display()),
            "--type=insert",
            "--time=1",
        ],
        "",
    );
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stderr.contains("tls: invalid peer certificate"),
        "{}",
        run.stderr
    );

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
    run.expect(0, "[2]\n");

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

    // plain HTTP on the TLS port: the console client, import and top say what is wrong
    let plain = format!("--uri=http://127.0.0.1:{port}");
    let hint = "request: connection closed by the server before a reply \
                (is it a TLS port? use an https:// uri)";
    let run = amelie(&home, &wrong_ca, &[&plain], "select 1");
    run.expect_err(&format!("error: {hint}\n"));
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    let run = amelie(
        &home,
        &wrong_ca,
        &["import", &plain, "--format=csv", "t"],
        "3, 'three'\n",
    );
    run.expect_err(&format!("error: stdin:1: {hint}\n"));
    let run = amelie(&home, &wrong_ca, &["top", &plain], "");
    run.expect_err(&format!("error: {hint}\n"));
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
    run.expect(0, "[\"two\"]\n");
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
    let tmp = TempDir::new("tls-nocert");
    let repo = tmp.0.join("repo");
    let port = free_port();
    let listen = format!(r#"--listen=[{{"host": "127.0.0.1", "port": {port}, "tls": true}}]"#);
    let stderr = tmp.0.join("start.stderr");
    // `amelie-server start` with `options` fails: what it said
    let start_fails = |options: &[String]| {
        let status = server_cmd("start", &repo, options, &stderr)
            .status()
            .unwrap();
        assert!(!status.success());
        fs::read_to_string(&stderr).unwrap()
    };
    let text = start_fails(std::slice::from_ref(&listen));
    assert!(
        text.contains("error: server: listen[] <tls> requires a valid server certificate\n"),
        "{text}"
    );
    // a certificate file that is not there
    let text = start_fails(&[
        listen,
        "--tls_cert=certs/none.pem".to_string(),
        "--tls_key=certs/none.key".to_string(),
    ]);
    assert!(
        text.contains(
            "error: server: listen[] <tls> requires a valid server certificate (tls_cert '"
        ),
        "{text}"
    );
}
