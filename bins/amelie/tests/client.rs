//! End-to-end tests of the `amelie` binary against the real `amelie-server`: pipe mode over
//! the repository's unix socket and over TCP with a token or a user and secret (an `auth`
//! listener), extra unix socket listeners, stale socket files, logins and their file mode.
//!
//! The harness (starting and stopping the server, running `amelie`) is `common/mod.rs`.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;

use common::{amelie, free_port, tcp, Server, TempDir};

#[test]
fn pipe_mode_over_the_repository_socket() {
    let tmp = TempDir::new("pipe");
    let repo = tmp.0.join("repo");
    let mut server = Server::start_listen(&repo, &format!("[{}]", tcp(free_port(), false)));
    let mode = fs::metadata(server.socket()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    assert!(repo.join("certs").is_dir());

    let input = "create table t (id int primary key, v text);\n\
                 insert into t values (1, 'a;b'); -- a comment; not a statement\n\
                 select v from t;\n\
                 select nope;\n\
                 begin;\n\
                 insert into t values (2, 'x');\n\
                 insert into t values (3, 'y');\n\
                 commit;\n\
                 select count(*) from t";
    let run = amelie(&tmp.0, &[repo.to_str().unwrap()], input);
    assert_eq!(
        run.stdout, "[\"a;b\"]\n{\"msg\": \"<nope> column not found\"}\n[3]\n",
        "stderr: {}",
        run.stderr
    );
    assert_eq!(run.code, 1, "a statement failed");

    // all well: exit 0; `client` and `--path` name the same socket
    let run = amelie(
        &tmp.0,
        &["client", &format!("--path={}", server.socket().display())],
        "select 1; select 2",
    );
    run.expect(0, "[1]\n[2]\n");

    server.stop();
    assert!(
        !server.socket().exists(),
        "the socket file is removed at shutdown"
    );
    let run = amelie(&tmp.0, &[repo.to_str().unwrap()], "select 1");
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.starts_with("error: connect to "),
        "{}",
        run.stderr
    );
}

#[test]
fn a_stale_socket_does_not_prevent_start() {
    let tmp = TempDir::new("stale");
    let repo = tmp.0.join("repo");
    let listen = format!("[{}]", tcp(free_port(), false));
    let mut server = Server::start_listen(&repo, &listen);
    server.sql("create table t (id int primary key)").unwrap();
    server.kill();
    assert!(server.socket().exists(), "kill -9 leaves the socket file");
    let mut server = Server::start_listen(&repo, &listen);
    assert_eq!(server.sql("select count(*) from t").as_deref(), Some("[0]"));
    server.stop();
}

#[test]
fn tcp_with_tokens_and_user_secret() {
    let tmp = TempDir::new("auth");
    let repo = tmp.0.join("repo");
    let port = free_port();
    let mut server = Server::start_listen(&repo, &format!("[{}]", tcp(port, true)));
    server.sql("create user ann secret 'pw'").unwrap();
    let token = server.sql("create token ann").unwrap();
    let token: Vec<String> = serde_json::from_str(&token).unwrap();
    let uri = format!("--uri=127.0.0.1:{port}");

    // no token on an auth listener
    let run = amelie(&tmp.0, &[&uri], "select 1");
    run.expect(1, "403 Forbidden\n");
    // a token
    let run = amelie(
        &tmp.0,
        &[&uri, &format!("--token={}", token[0])],
        "select 1;\nselect 2;",
    );
    run.expect(0, "[1]\n[2]\n");
    // a token the client signs from the user and secret, as options and in the uri
    let run = amelie(&tmp.0, &[&uri, "--user=ann", "--secret=pw"], "select 3");
    run.expect(0, "[3]\n");
    let run = amelie(
        &tmp.0,
        &[&format!(
            "--json={{\"uri\": \"http://ann:pw@127.0.0.1:{port}\"}}"
        )],
        "select 4",
    );
    run.expect(0, "[4]\n");
    // a wrong secret: every statement is refused
    let run = amelie(
        &tmp.0,
        &[&uri, "--user=ann", "--secret=no"],
        "select 1; select 2",
    );
    run.expect(1, "403 Forbidden\n403 Forbidden\n");
    // the repository socket needs no token
    assert_eq!(server.sql("select 5").as_deref(), Some("[5]"));
    server.stop();
}

#[test]
fn listeners_on_unix_paths() {
    let tmp = TempDir::new("paths");
    let repo = tmp.0.join("repo");
    let abs = tmp.0.join("abs.sock");
    let listen = format!(
        r#"[{{"path": "rel.sock", "path_mode": "0755"}}, {{"path": "{}", "auth": true}}]"#,
        abs.display()
    );
    let mut server = Server::start_listen(&repo, &listen);
    let rel = repo.join("rel.sock");
    assert_eq!(
        fs::metadata(&rel).unwrap().permissions().mode() & 0o777,
        0o755
    );
    assert_eq!(
        fs::metadata(&abs).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let path = format!("--path={}", rel.display());
    let run = amelie(&tmp.0, &[&path], "select 1");
    run.expect(0, "[1]\n");
    let path = format!("--path={}", abs.display());
    let run = amelie(&tmp.0, &[&path], "select 1");
    run.expect(1, "403 Forbidden\n");
    server.sql("create user u secret 's'").unwrap();
    let run = amelie(&tmp.0, &[&path, "--user=u", "--secret=s"], "select 1");
    run.expect(0, "[1]\n");
    server.stop();
    assert!(!rel.exists() && !abs.exists());
}

#[test]
fn login_and_logout() {
    let tmp = TempDir::new("login");
    let home = tmp.0.join("home");
    let repo = tmp.0.join("repo");
    let mut server = Server::start_listen(&repo, "null");
    let run = amelie(&home, &["login", "local", repo.to_str().unwrap()], "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let file = home.join("login");
    assert_eq!(
        fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let run = amelie(
        &home,
        &["login", "remote", "--uri=127.0.0.1:1", "--secret=x"],
        "",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let saved: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(saved.as_array().map(Vec::len), Some(2));

    let run = amelie(&home, &["local"], "select 1");
    run.expect(0, "[1]\n");
    let run = amelie(&home, &["logout", "local"], "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let run = amelie(&home, &["local"], "select 1");
    run.expect_err("error: login: login name 'local' not found\n");
    let run = amelie(&home, &["logout", "local"], "");
    assert_eq!(run.code, 1);
    let run = amelie(&home, &["login", "nowhere"], "");
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("uri or path is not defined"),
        "{}",
        run.stderr
    );
    server.stop();
}

#[test]
fn version_help_and_commands_without_arguments() {
    let tmp = TempDir::new("cli");
    for v in ["-v", "--version"] {
        let run = amelie(&tmp.0, &[v], "");
        run.expect(0, "1.0.0\n");
    }
    let run = amelie(&tmp.0, &["--help"], "");
    assert_eq!(run.code, 0);
    assert!(run.stdout.starts_with("usage: amelie"), "{}", run.stdout);
    // import is built (tests/import.rs); without a table it says so
    let run = amelie(&tmp.0, &["import"], "");
    run.expect_err("error: import: [schema.]table is missing\n");
    // backup is built (tests/backup.rs); without a directory it says so
    let run = amelie(&tmp.0, &["backup"], "");
    run.expect_err("error: backup: <dir> is missing\n");
    // bench is built (tests/bench.rs); without a server it says so
    let run = amelie(&tmp.0, &["bench"], "");
    run.expect_err("error: remote: uri or path is not defined\n");
    let run = amelie(&tmp.0, &["--uri=x", "--nope=1"], "");
    run.expect_err("error: option 'nope' is not found\n");
    // TLS options are checked before connecting (tests/tls.rs connects over TLS)
    let run = amelie(
        &tmp.0,
        &["--uri=https://localhost:1", "--tls_cert=c.pem"],
        "",
    );
    run.expect_err("error: tls_cert requires tls_key\n");
}
