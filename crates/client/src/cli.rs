//! The `amelie` command line (spec §4.1): `client` (the default), `login`, `logout`,
//! `import`, `top`, `bench`, `backup`, `--version`, `--help`.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use amelie_common::{Error, Result};

use crate::conn::{BlockingClient, Reply};
use crate::import;
use crate::login::Home;
use crate::remote::{Args, Remote, REPO_SOCKET};
use crate::split::{needs_more, Splitter};

/// The version `--version` prints.
pub const VERSION: &str = "1.0.0";

const USAGE: &str = "\
usage: amelie [command] [login | <repository path>] [options]

commands:
  client [login | path] [options]   the console client (the default command):
                                    reads SQL from the terminal, or from a pipe
                                    (split into statements at ';')
  login <name> [options]            save connection options as a login
  logout <name>                     delete a saved login
  import [login | path] [options] [--format=auto|csv|jsonl] [--clients=12]
         [--batch=500] [schema.]table [files...]
                                    bulk import of CSV or JSONL files (or of
                                    standard input, with --format) in batches
                                    of rows over several connections
  top [login | path] [options]      a live view of SHOW STATUS (q quits);
                                    --interval=<ms> (1000), --count=<refreshes>,
                                    --once (one frame as text, also when not a tty)
  bench [login | path] [options] [--type=tpcb|insert|upsert|import|resolved]
        [--threads=4] [--clients=12] [--time=10] [--scale=1] [--batch=500]
        [--init=true] [--unlogged=false]
                                    Amelie's benchmarks in schema __bench:
                                    transactions and writes each second, totals
                                    at the end (--init=false: reuse the tables)
  backup <dir> [login | path] [options]
                                    copy a running server into a new
                                    repository <dir> (a hot backup: the
                                    server keeps working); --debug=0 is quiet
  -v, --version                     print the version
  -h, --help                        print this help

A first argument starting with '.' or '/' is a repository: the client connects
to its unix socket <path>/amelie.sock. Any other name is a saved login.

options (--name=value, or --json='{\"name\": value, ...}'):
  --uri=[http[s]://][user[:secret]@]host[:port]  server address (port 3485;
                                               https: TLS)
  --path=<socket file or repository>           unix socket
  --user=<name> --secret=<secret>              sign a token with the secret
  --token=<token>                              a token from CREATE TOKEN
  --tls_ca=<file> --tls_capath=<dir>           certificates to trust (PEM; default:
                                               the system's)
  --tls_cert=<file> --tls_key=<file>           client certificate and key (PEM)
  --tls_server=<name>                          name the server certificate must
                                               have (default: the uri's host)
  --name, --debug

files: $AMELIE_HOME (default ~/.amelie)/login and /history
";

/// A parsed command line.
#[derive(Debug, PartialEq)]
enum Cmd {
    Version,
    Help,
    Client(Args),
    Login(Args),
    Logout(Args),
    Top(Args),
    Import(Args),
    Bench(Args),
    Backup(Args),
}

fn parse_cmd(args: &[String]) -> Result<Cmd> {
    let (cmd, rest) = match args.split_first() {
        Some((cmd, rest)) => (cmd.as_str(), rest),
        None => ("client", args),
    };
    Ok(match cmd {
        "-v" | "--version" | "version" => Cmd::Version,
        "-h" | "--help" | "help" => Cmd::Help,
        "client" => Cmd::Client(Args::parse(rest)?),
        "login" => Cmd::Login(Args::parse(rest)?),
        "logout" => Cmd::Logout(Args::parse(rest)?),
        "top" => Cmd::Top(Args::parse(rest)?),
        "import" => Cmd::Import(Args::parse(rest)?),
        "bench" => Cmd::Bench(Args::parse(rest)?),
        "backup" => Cmd::Backup(Args::parse(rest)?),
        "init" | "start" | "stop" => {
            return Err(Error::unsupported(format!(
                "'{cmd}' is a command of amelie-server"
            )))
        }
        // `amelie <login | path> [options]`, `amelie --uri=...`
        _ => Cmd::Client(Args::parse(args)?),
    })
}

/// Entry point of the binary (`args` without the program name); returns the exit code.
pub fn main(args: Vec<String>) -> i32 {
    let result = match parse_cmd(&args) {
        Ok(Cmd::Version) => {
            println!("{VERSION}");
            Ok(0)
        }
        Ok(Cmd::Help) => {
            print!("{USAGE}");
            Ok(0)
        }
        Ok(Cmd::Client(args)) => client(args),
        Ok(Cmd::Login(args)) => login(args).map(|_| 0),
        Ok(Cmd::Logout(args)) => logout(args).map(|_| 0),
        Ok(Cmd::Top(args)) => top(args).map(|_| 0),
        Ok(Cmd::Import(args)) => import(args),
        Ok(Cmd::Bench(args)) => bench(args),
        Ok(Cmd::Backup(args)) => backup(args).map(|_| 0),
        Err(e) => Err(e),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

/// The remote a client command names: a repository path or a saved login (the first
/// positional argument), then the options on top.
fn resolve_remote(home: &Home, args: &mut Args) -> Result<Remote> {
    let options = args.take_options(Remote::is_option);
    args.check_no_options()?;
    let mut positional = args.positional.iter();
    let mut remote = match positional.next() {
        Some(p) if p.starts_with('.') || p.starts_with('/') => Remote {
            path: Path::new(p).join(REPO_SOCKET).display().to_string(),
            ..Remote::new()
        },
        Some(name) => home.login(name)?,
        None => Remote::new(),
    };
    if let Some(extra) = positional.next() {
        return Err(Error::syntax(format!("unexpected argument '{extra}'")));
    }
    remote.apply(&options)?;
    Ok(remote)
}

/// `amelie top [login | path] [options]`: see [`crate::top`].
fn top(mut args: Args) -> Result<()> {
    let opts = crate::top::TopOptions::from_options(
        &args.take_options(crate::top::TopOptions::is_option),
    )?;
    let home = Home::from_env()?;
    let remote = resolve_remote(&home, &mut args)?;
    let mut client = BlockingClient::new(&remote)?;
    client.connect()?;
    crate::top::run(&mut client, remote.display_name(), &opts)
}

/// `amelie bench [login | path] [options]`: see [`crate::bench`]. Returns the exit code: 1
/// when no transaction committed or any request failed (the failures go to stderr).
fn bench(mut args: Args) -> Result<i32> {
    let opts = crate::bench::BenchOptions::from_options(
        &args.take_options(crate::bench::BenchOptions::is_option),
    )?;
    let home = Home::from_env()?;
    let remote = resolve_remote(&home, &mut args)?;
    let outcome = crate::bench::run(&remote, &opts, &mut std::io::stdout().lock())?;
    let failures = crate::bench::failures(&outcome.stats);
    for line in &failures {
        eprintln!("{line}");
    }
    if outcome.transactions == 0 {
        eprintln!("error: bench: no transaction committed");
    }
    Ok(i32::from(
        outcome.transactions == 0 || !outcome.stats.errors.is_empty(),
    ))
}

/// `amelie import [login | path] [options] [schema.]table [files...]`. The first positional
/// argument is the remote when it starts with `.` or `/` or names a saved login and more
/// arguments follow; otherwise it is the table. Returns the exit code: 1 on any error.
fn import(mut args: Args) -> Result<i32> {
    let home = Home::from_env()?;
    let import_options = args.take_options(import::is_option);
    let options = args.take_options(Remote::is_option);
    args.check_no_options()?;
    let mut positional = args.positional.as_slice();
    let mut remote = match positional {
        [p, _, ..] if p.starts_with('.') || p.starts_with('/') => {
            positional = &positional[1..];
            Remote {
                path: Path::new(p).join(REPO_SOCKET).display().to_string(),
                ..Remote::new()
            }
        }
        [name, _, ..] if home.logins()?.iter().any(|r| &r.name == name) => {
            positional = &positional[1..];
            home.login(name)?
        }
        _ => Remote::new(),
    };
    remote.apply(&options)?;
    let Some((table, files)) = positional.split_first() else {
        return Err(Error::syntax("import: [schema.]table is missing"));
    };
    let opts = import::ImportOptions::new(&import_options, table, files)?;
    let summary = import::run(&remote, &opts, remote.debug)?;
    Ok(import::report(
        &summary,
        !remote.debug,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    ))
}

/// `amelie backup <dir> [login | path] [options]`: see [`crate::backup`]. The summary
/// line goes to stdout unless `--debug=0`.
fn backup(mut args: Args) -> Result<()> {
    let home = Home::from_env()?;
    if args.positional.is_empty() {
        return Err(Error::syntax("backup: <dir> is missing"));
    }
    let dir = args.positional.remove(0);
    let remote = resolve_remote(&home, &mut args)?;
    let dir = Path::new(&dir);
    let summary = crate::backup::run(&remote, dir, remote.debug)?;
    if remote.debug {
        println!("{}", crate::backup::report(dir, &summary));
    }
    Ok(())
}

/// `amelie login <name> [options]`: saves (or replaces) a login.
fn login(mut args: Args) -> Result<()> {
    let home = Home::from_env()?;
    let options = args.take_options(Remote::is_option);
    args.check_no_options()?;
    let (name, rest) = args
        .positional
        .split_first()
        .ok_or_else(|| Error::syntax("login: <name> is missing"))?;
    let mut remote = Remote::new();
    match rest {
        [] => {}
        [p] if p.starts_with('.') || p.starts_with('/') => {
            remote.path = Path::new(p).join(REPO_SOCKET).display().to_string();
        }
        [extra, ..] => return Err(Error::syntax(format!("unexpected argument '{extra}'"))),
    }
    remote.apply(&options)?;
    remote.name = name.clone();
    // the login must say where to connect
    remote.target()?;
    home.save_login(&remote)
}

/// `amelie logout <name>`: deletes a login.
fn logout(args: Args) -> Result<()> {
    args.check_no_options()?;
    let home = Home::from_env()?;
    match args.positional.as_slice() {
        [name] => home.remove_login(name),
        [] => Err(Error::syntax("logout: <name> is missing")),
        [_, extra, ..] => Err(Error::syntax(format!("unexpected argument '{extra}'"))),
    }
}

/// What the console prints for a reply: the body of anything but 204, `403 Forbidden` for
/// a 403 (which has no body).
fn reply_text(reply: &Reply) -> Option<String> {
    match reply.status {
        204 => None,
        403 => Some("403 Forbidden".to_string()),
        _ if reply.body.is_empty() => Some(format!("{} (no body)", reply.status)),
        _ => Some(reply.body.clone()),
    }
}

fn print_reply(out: &mut impl Write, reply: &Reply) -> std::io::Result<()> {
    if let Some(text) = reply_text(reply) {
        out.write_all(text.as_bytes())?;
        if !text.ends_with('\n') {
            out.write_all(b"\n")?;
        }
        out.flush()?;
    }
    Ok(())
}

/// `amelie [client] [login | path] [options]`: the console on a terminal, else pipe mode.
/// Returns the exit code: 1 when a statement failed in pipe mode.
fn client(mut args: Args) -> Result<i32> {
    let home = Home::from_env()?;
    let remote = resolve_remote(&home, &mut args)?;
    let mut client = BlockingClient::new(&remote)?;
    client.connect()?;
    if std::io::stdin().is_terminal() {
        console(&home, &remote, &mut client)?;
        Ok(0)
    } else {
        let stdin = std::io::stdin();
        pipe(
            &mut stdin.lock(),
            &mut std::io::stdout().lock(),
            &mut client,
        )
    }
}

/// Pipe mode: every statement (or `BEGIN ... COMMIT` block) of `input` is one request.
/// Returns 1 when any of them failed. A lost connection ends the run.
fn pipe(
    input: &mut impl BufRead,
    out: &mut impl Write,
    client: &mut BlockingClient,
) -> Result<i32> {
    let mut splitter = Splitter::new();
    let mut failed = false;
    let mut line = String::new();
    let io = |e: std::io::Error| Error::io(format!("output: {e}"));
    loop {
        line.clear();
        let n = input
            .read_line(&mut line)
            .map_err(|e| Error::io(format!("input: {e}")))?;
        let requests = if n == 0 {
            splitter.finish()
        } else {
            splitter.feed(&line)
        };
        for sql in requests {
            let reply = client.sql(&sql)?;
            failed |= !reply.is_success();
            print_reply(out, &reply).map_err(io)?;
        }
        if n == 0 {
            return Ok(i32::from(failed));
        }
    }
}

/// The console: a line editor with history; lines are collected until the text is
/// complete (no open string or `BEGIN` block), then sent as one request.
fn console(home: &Home, remote: &Remote, client: &mut BlockingClient) -> Result<()> {
    use rustyline::error::ReadlineError;
    let mut editor =
        rustyline::DefaultEditor::new().map_err(|e| Error::io(format!("console: {e}")))?;
    let history = home.history_path();
    let _ = editor.load_history(&history);
    let name = remote.display_name();
    let prompt = format!("{name}> ");
    let more = format!("{}> ", "-".repeat(name.chars().count().max(1)));
    let mut text = String::new();
    let mut stdout = std::io::stdout();
    loop {
        let line = match editor.readline(if text.is_empty() { &prompt } else { &more }) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => {
                text.clear();
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(Error::io(format!("console: {e}"))),
        };
        if text.is_empty() && line.trim().is_empty() {
            continue;
        }
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&line);
        if needs_more(&text) {
            continue;
        }
        let sql = std::mem::take(&mut text);
        let _ = editor.add_history_entry(sql.as_str());
        match client.sql(&sql) {
            Ok(reply) => {
                let _ = print_reply(&mut stdout, &reply);
            }
            Err(e) => eprintln!("error: {e}"),
        }
    }
    if home.create().is_ok() {
        let _ = editor.save_history(&history);
        let _ = std::fs::set_permissions(
            &history,
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn commands() {
        assert_eq!(parse_cmd(&args(&["-v"])).unwrap(), Cmd::Version);
        assert_eq!(parse_cmd(&args(&["--help"])).unwrap(), Cmd::Help);
        assert_eq!(parse_cmd(&args(&[])).unwrap(), Cmd::Client(Args::default()));
        let Cmd::Client(a) = parse_cmd(&args(&["./repo", "--token=t"])).unwrap() else {
            panic!()
        };
        assert_eq!(a.positional, vec!["./repo"]);
        let Cmd::Client(a) = parse_cmd(&args(&["client", "x"])).unwrap() else {
            panic!()
        };
        assert_eq!(a.positional, vec!["x"]);
        assert!(matches!(
            parse_cmd(&args(&["login", "x"])).unwrap(),
            Cmd::Login(_)
        ));
        assert!(matches!(
            parse_cmd(&args(&["logout", "x"])).unwrap(),
            Cmd::Logout(_)
        ));
        assert!(matches!(
            parse_cmd(&args(&["bench", "--type=tpcb"])).unwrap(),
            Cmd::Bench(_)
        ));
        let Cmd::Backup(a) = parse_cmd(&args(&["backup", "d", "--json={\"uri\": \"h\"}"])).unwrap()
        else {
            panic!()
        };
        assert_eq!(a.positional, vec!["d"]);
        assert!(parse_cmd(&args(&["start", "x"])).is_err());
        assert!(parse_cmd(&args(&["client", "--json=1"])).is_err());
    }

    #[test]
    fn remotes_from_paths_logins_and_options() {
        let dir = std::env::temp_dir().join(format!("amelie-client-cli-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let home = Home { dir: dir.clone() };
        let mut a = Args::parse(&args(&["./repo", "--token=t"])).unwrap();
        let r = resolve_remote(&home, &mut a).unwrap();
        assert_eq!(r.path, "./repo/amelie.sock");
        assert_eq!(r.token, "t");
        let mut a = Args::parse(&args(&["nope"])).unwrap();
        assert_eq!(
            resolve_remote(&home, &mut a).unwrap_err().msg(),
            "login: login name 'nope' not found"
        );
        let mut saved = Remote::new();
        saved.name = "x".into();
        saved.uri = "h:1".into();
        home.save_login(&saved).unwrap();
        let mut a = Args::parse(&args(&["x", "--uri=h:2"])).unwrap();
        let r = resolve_remote(&home, &mut a).unwrap();
        assert_eq!((r.name.as_str(), r.uri.as_str()), ("x", "h:2"));
        let mut a = Args::parse(&args(&["x", "y"])).unwrap();
        assert!(resolve_remote(&home, &mut a).is_err());
        let mut a = Args::parse(&args(&["--clients=3"])).unwrap();
        assert_eq!(
            resolve_remote(&home, &mut a).unwrap_err().msg(),
            "option 'clients' is not found"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn replies_as_printed() {
        let r = |status, body: &str| Reply {
            status,
            body: body.into(),
        };
        assert_eq!(reply_text(&r(204, "")), None);
        assert_eq!(reply_text(&r(200, "[1]")).as_deref(), Some("[1]"));
        assert_eq!(
            reply_text(&r(400, "{\"msg\": \"x\"}")).as_deref(),
            Some("{\"msg\": \"x\"}")
        );
        assert_eq!(reply_text(&r(403, "")).as_deref(), Some("403 Forbidden"));
        let mut out = Vec::new();
        print_reply(&mut out, &r(200, "[1]")).unwrap();
        print_reply(&mut out, &r(204, "")).unwrap();
        print_reply(&mut out, &r(200, "[2]\n")).unwrap();
        assert_eq!(out, b"[1]\n[2]\n");
    }
}
