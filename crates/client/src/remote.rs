//! Connection options (`Remote`, spec §4.1): what to connect to and how to authenticate,
//! from `--name=value` options, `--json={...}`, a saved login or a repository path.

use std::path::{Path, PathBuf};

use amelie_common::{Error, Result};
use serde_json::{Map, Value};

/// Default TCP port of a server.
pub const DEFAULT_PORT: u16 = 3485;

/// The name of the unix socket a server creates in its repository.
pub const REPO_SOCKET: &str = "amelie.sock";

/// The option names of a [`Remote`], in the order they are saved.
pub const REMOTE_OPTIONS: &[&str] = &[
    "name",
    "uri",
    "user",
    "secret",
    "token",
    "path",
    "tls_capath",
    "tls_ca",
    "tls_cert",
    "tls_key",
    "tls_server",
    "debug",
];

/// Connection options. Empty strings mean "not set". The `tls_*` options apply to an
/// `https://` URI (see [`crate::tls`]); over a unix socket they are not used.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Remote {
    /// The login name (set by `amelie login <name>` and when a login is used).
    pub name: String,
    /// `[http[s]://][user[:secret]@]host[:port]`.
    pub uri: String,
    pub user: String,
    /// The user's secret: with `user`, the client signs a token itself.
    pub secret: String,
    /// A token (`CREATE TOKEN`), sent as `Authorization: Bearer <token>`.
    pub token: String,
    /// A unix socket file, or a directory holding `amelie.sock` (a repository).
    pub path: String,
    // tls_* paths are used as given (no repo here), unlike the server's (amelie_system tls_path).
    pub tls_capath: String,
    pub tls_ca: String,
    pub tls_cert: String,
    pub tls_key: String,
    pub tls_server: String,
    /// Report progress (`--debug=0` silences the commands that report any).
    pub debug: bool,
}

/// One `--name=value` option of a command line (`--name` alone is `true`).
#[derive(Clone, Debug, PartialEq)]
pub struct Opt {
    pub name: String,
    pub value: Value,
}

/// A command line split into positional arguments and options (in order; a later option
/// wins). `--json={"a": 1, "b": "x"}` is the options `a` and `b`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Args {
    pub positional: Vec<String>,
    pub options: Vec<Opt>,
}

impl Args {
    /// Splits `args` ([`amelie_common::cli::parse_options`]). An argument starting with
    /// `--` is an option (its value a string); everything else is positional.
    pub fn parse(args: &[String]) -> Result<Args> {
        let mut positional = Vec::new();
        let options = amelie_common::cli::parse_options(
            args,
            |arg| {
                positional.push(arg.to_string());
                Ok(())
            },
            |_, text| Value::String(text.to_string()),
        )?;
        Ok(Args {
            positional,
            options: options
                .into_iter()
                .map(|(name, value)| Opt { name, value })
                .collect(),
        })
    }

    /// Takes out the options that `keep` accepts, leaving the others.
    pub fn take_options(&mut self, keep: impl Fn(&str) -> bool) -> Vec<Opt> {
        let (taken, rest) = std::mem::take(&mut self.options)
            .into_iter()
            .partition(|o| keep(&o.name));
        self.options = rest;
        taken
    }

    /// An error naming the first option left, if any: every command calls it once it has
    /// taken the options it knows.
    pub fn check_no_options(&self) -> Result<()> {
        match self.options.first() {
            Some(o) => Err(Error::not_found(format!(
                "option '{}' is not found",
                o.name
            ))),
            None => Ok(()),
        }
    }
}

fn text_of(name: &str, value: &Value) -> Result<String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(Error::type_error(format!(
            "option '{name}': string value expected"
        ))),
    }
}

fn bool_of(name: &str, value: &Value) -> Result<bool> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::Number(n) if n.as_u64() == Some(0) => Ok(false),
        Value::Number(n) if n.as_u64() == Some(1) => Ok(true),
        Value::String(s) => match s.as_str() {
            "true" | "1" | "on" | "yes" => Ok(true),
            "false" | "0" | "off" | "no" => Ok(false),
            _ => Err(Error::type_error(format!(
                "option '{name}': bool value expected"
            ))),
        },
        _ => Err(Error::type_error(format!(
            "option '{name}': bool value expected"
        ))),
    }
}

/// Where to connect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Tcp { host: String, port: u16 },
    Unix(PathBuf),
}

/// A parsed `uri` option.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Uri {
    pub tls: bool,
    pub user: Option<String>,
    pub secret: Option<String>,
    /// Without brackets for an IPv6 address.
    pub host: String,
    pub port: u16,
}

/// Parses `[http[s]://][user[:secret]@]host[:port]` (a trailing `/` is allowed; IPv6
/// addresses in brackets; the default port is 3485).
pub fn parse_uri(text: &str) -> Result<Uri> {
    let bad = |why: &str| Error::syntax(format!("uri '{text}': {why}"));
    let mut uri = Uri {
        port: DEFAULT_PORT,
        ..Uri::default()
    };
    let mut rest = text.trim();
    if let Some(r) = rest.strip_prefix("https://") {
        uri.tls = true;
        rest = r;
    } else if let Some(r) = rest.strip_prefix("http://") {
        rest = r;
    } else if rest.contains("://") {
        return Err(bad("unsupported scheme"));
    }
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains('/') || rest.contains('?') {
        return Err(bad("a path is not expected"));
    }
    let hostport = match rest.rsplit_once('@') {
        Some((auth, hostport)) => {
            let (user, secret) = match auth.split_once(':') {
                Some((u, s)) => (u, Some(s)),
                None => (auth, None),
            };
            if user.is_empty() {
                return Err(bad("user name is empty"));
            }
            uri.user = Some(user.to_string());
            uri.secret = secret.map(str::to_string);
            hostport
        }
        None => rest,
    };
    let (host, port) = amelie_http::split_authority(hostport).map_err(bad)?;
    if host.is_empty() {
        return Err(bad("host is not defined"));
    }
    uri.host = host.to_string();
    if let Some(p) = port {
        uri.port = p.parse().map_err(|_| bad("invalid port"))?;
    }
    Ok(uri)
}

impl Remote {
    /// The defaults: nothing set, `debug` on.
    pub fn new() -> Remote {
        Remote {
            debug: true,
            ..Remote::default()
        }
    }

    fn field(&mut self, name: &str) -> Option<&mut String> {
        Some(match name {
            "name" => &mut self.name,
            "uri" => &mut self.uri,
            "user" => &mut self.user,
            "secret" => &mut self.secret,
            "token" => &mut self.token,
            "path" => &mut self.path,
            "tls_capath" => &mut self.tls_capath,
            "tls_ca" => &mut self.tls_ca,
            "tls_cert" => &mut self.tls_cert,
            "tls_key" => &mut self.tls_key,
            "tls_server" => &mut self.tls_server,
            _ => return None,
        })
    }

    /// Sets one option; unknown names fail with `option '<name>' is not found`.
    pub fn set(&mut self, name: &str, value: &Value) -> Result<()> {
        if name == "debug" {
            self.debug = bool_of(name, value)?;
            return Ok(());
        }
        let text = text_of(name, value)?;
        let field = self
            .field(name)
            .ok_or_else(|| Error::not_found(format!("option '{name}' is not found")))?;
        *field = text;
        Ok(())
    }

    /// Applies options in order.
    pub fn apply(&mut self, options: &[Opt]) -> Result<()> {
        for o in options {
            self.set(&o.name, &o.value)?;
        }
        Ok(())
    }

    /// Is `name` one of the options of a remote?
    pub fn is_option(name: &str) -> bool {
        REMOTE_OPTIONS.contains(&name)
    }

    /// The options that are set, as a JSON object (the form of a saved login).
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        let mut me = self.clone();
        for name in REMOTE_OPTIONS {
            if *name == "debug" {
                if !self.debug {
                    map.insert("debug".into(), Value::Bool(false));
                }
                continue;
            }
            if let Some(v) = me.field(name).filter(|v| !v.is_empty()) {
                map.insert(name.to_string(), Value::String(v.clone()));
            }
        }
        Value::Object(map)
    }

    /// A remote from its JSON object form.
    pub fn from_json(value: &Value) -> Result<Remote> {
        let Value::Object(map) = value else {
            return Err(Error::type_error("login: json object expected"));
        };
        let mut r = Remote::new();
        for (name, v) in map {
            r.set(name, v)?;
        }
        Ok(r)
    }

    /// Where to connect: `path` (a socket file, or a directory holding `amelie.sock`) over
    /// `uri`.
    pub fn target(&self) -> Result<Target> {
        if !self.path.is_empty() {
            let path = Path::new(&self.path);
            let path = if path.is_dir() {
                path.join(REPO_SOCKET)
            } else {
                path.to_path_buf()
            };
            return Ok(Target::Unix(path));
        }
        if self.uri.is_empty() {
            return Err(Error::not_found("remote: uri or path is not defined"));
        }
        let uri = parse_uri(&self.uri)?;
        Ok(Target::Tcp {
            host: uri.host,
            port: uri.port,
        })
    }

    /// Does the connection speak TLS: an `https://` uri, and no unix socket `path`.
    pub fn uses_tls(&self) -> bool {
        self.path.is_empty() && parse_uri(&self.uri).is_ok_and(|u| u.tls)
    }

    /// The user and secret to sign a token with: the options, else the `uri`'s
    /// `user:secret@`.
    pub fn credentials(&self) -> Option<(String, String)> {
        let from_uri = parse_uri(&self.uri).ok();
        let user = if !self.user.is_empty() {
            self.user.clone()
        } else {
            from_uri.as_ref()?.user.clone()?
        };
        let secret = if !self.secret.is_empty() {
            self.secret.clone()
        } else {
            from_uri?.secret?
        };
        Some((user, secret))
    }

    /// The bearer token to send: `token`, else one signed from the user and secret, valid
    /// for a year from `now` (seconds).
    pub fn bearer(&self, now: i64) -> Option<String> {
        if !self.token.is_empty() {
            return Some(self.token.clone());
        }
        let (user, secret) = self.credentials()?;
        Some(amelie_common::token::make_token(
            &user,
            &secret,
            now,
            now + amelie_common::token::CLIENT_TOKEN_SECS,
        ))
    }

    /// What the console prompt shows: the login name, else the path, else the uri.
    pub fn display_name(&self) -> &str {
        if !self.name.is_empty() {
            &self.name
        } else if !self.path.is_empty() {
            &self.path
        } else {
            &self.uri
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn uri_forms() {
        let u = parse_uri("localhost").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.tls), ("localhost", 3485, false));
        let u = parse_uri("http://ann:pw@127.0.0.1:1234/").unwrap();
        assert_eq!(u.user.as_deref(), Some("ann"));
        assert_eq!(u.secret.as_deref(), Some("pw"));
        assert_eq!((u.host.as_str(), u.port), ("127.0.0.1", 1234));
        let u = parse_uri("https://bob@[::1]").unwrap();
        assert!(u.tls);
        assert_eq!(u.user.as_deref(), Some("bob"));
        assert_eq!(u.secret, None);
        assert_eq!((u.host.as_str(), u.port), ("::1", 3485));
        let u = parse_uri("[::1]:9").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 9));
        for bad in [
            "",
            "ftp://x",
            "x:70000",
            "x:abc",
            "@x",
            "[::1",
            "[::1]x",
            "http://x/y",
            ":1",
        ] {
            assert!(parse_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn options_and_json() {
        let mut a = Args::parse(&args(&[
            "name",
            "--uri=localhost:1",
            "--json={\"user\": \"u\", \"debug\": false, \"uri\": \"h\"}",
            "--debug",
            "--clients=4",
        ]))
        .unwrap();
        assert_eq!(a.positional, vec!["name"]);
        let opts = a.take_options(Remote::is_option);
        assert_eq!(a.options.len(), 1);
        assert_eq!(
            a.check_no_options().unwrap_err().msg(),
            "option 'clients' is not found"
        );
        let mut r = Remote::new();
        r.apply(&opts).unwrap();
        assert_eq!(r.uri, "h");
        assert_eq!(r.user, "u");
        assert!(r.debug);
        assert!(Args::parse(&args(&["--json=[1]"])).is_err());
        assert!(Args::parse(&args(&["--=x"])).is_err());
        assert_eq!(
            r.set("nope", &json!("x")).unwrap_err().msg(),
            "option 'nope' is not found"
        );
        assert!(r.set("uri", &json!([1])).is_err());
        assert!(r.set("debug", &json!("maybe")).is_err());
        r.set("debug", &json!("0")).unwrap();
        assert!(!r.debug);
    }

    #[test]
    fn json_round_trip() {
        let mut r = Remote::new();
        r.name = "x".into();
        r.uri = "localhost".into();
        r.tls_ca = "ca.pem".into();
        r.debug = false;
        let j = r.to_json();
        assert_eq!(
            j,
            json!({"name": "x", "uri": "localhost", "tls_ca": "ca.pem", "debug": false})
        );
        assert_eq!(Remote::from_json(&j).unwrap(), r);
        assert!(Remote::from_json(&json!([])).is_err());
    }

    #[test]
    fn targets_and_tokens() {
        let mut r = Remote::new();
        assert!(r.target().is_err());
        r.uri = "https://h".into();
        assert!(r.uses_tls());
        assert_eq!(
            r.target().unwrap(),
            Target::Tcp {
                host: "h".into(),
                port: 3485
            }
        );
        r.uri = "u:s@h:7".into();
        assert_eq!(
            r.target().unwrap(),
            Target::Tcp {
                host: "h".into(),
                port: 7
            }
        );
        assert_eq!(r.credentials(), Some(("u".into(), "s".into())));
        let t = r.bearer(100).unwrap();
        assert_eq!(
            t,
            amelie_common::token::make_token("u", "s", 100, 100 + 31_536_000)
        );
        r.token = "tok".into();
        assert_eq!(r.bearer(1).as_deref(), Some("tok"));
        assert!(!r.uses_tls());
        r.path = "/no/such/file.sock".into();
        assert_eq!(
            r.target().unwrap(),
            Target::Unix("/no/such/file.sock".into())
        );
        let dir = std::env::temp_dir();
        r.path = dir.display().to_string();
        assert_eq!(r.target().unwrap(), Target::Unix(dir.join(REPO_SOCKET)));
        let plain = Remote {
            uri: "h".into(),
            user: "u".into(),
            ..Remote::new()
        };
        assert_eq!(plain.bearer(1), None);
        assert_eq!(plain.display_name(), "h");
    }
}
