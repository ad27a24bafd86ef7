//! Server configuration: the persistent variables of `config.json` and the option parser shared
//! by the command line (`--name=value`, `--json={...}`) and the config file.
//!
//! Variable names, types and order follow the configuration table of the original server.
//! The E (state) variables such as `lsn` or `directory` are not owned by [`Config`]; the server
//! supplies them through [`RuntimeVars`] when it builds the `SHOW ALL` listing.

use amelie_common::{err, Error, ErrorKind, Result};
use serde_json::Value;

/// Version string reported by `--version`, `SHOW version` and `SHOW ALL`.
pub const VERSION: &str = "1.0.0";

/// Default `limit_memory`: 1 GiB per request and thread.
pub const DEFAULT_LIMIT_MEMORY: u64 = 1 << 30;

/// Default `limit_memory_total`: a quarter of the machine's memory, at least 1 GiB.
pub fn default_limit_memory_total() -> u64 {
    let total = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map(|kb| kb.saturating_mul(1024))
        .unwrap_or(4 << 30);
    (total / 4).max(1 << 30)
}

/// Default `limit_time`: a request may run for a minute.
pub const DEFAULT_LIMIT_TIME_MS: u64 = 60_000;

/// Default TCP port of a listener.
pub const DEFAULT_PORT: u16 = 3485;

/// Default `limit_connections`: open HTTP connections over all frontends.
pub const DEFAULT_LIMIT_CONNECTIONS: u64 = 10_000;
/// Default `idle_timeout_ms`: an idle keep-alive connection is closed after a minute.
pub const DEFAULT_IDLE_TIMEOUT_MS: u64 = 60_000;
/// Default `header_timeout_ms` and `body_timeout_ms`.
pub const DEFAULT_READ_TIMEOUT_MS: u64 = 30_000;
/// Smallest `wal_rotate_wm` a start option accepts (a value from an older `config.json` is
/// raised to it when used).
pub const MIN_WAL_ROTATE_WM: u64 = 1024;
/// Smallest `wal_rotate_wm` `SET` accepts: 1 MiB.
pub const MIN_WAL_ROTATE_WM_SET: u64 = 1024 * 1024;

/// Type of a configuration variable; decides the type-check error text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VarType {
    Bool,
    Int,
    String,
    Json,
}

/// Static description of one configuration variable owned by [`Config`].
#[derive(Clone, Copy, Debug)]
pub struct VarDef {
    pub name: &'static str,
    pub ty: VarType,
    /// Settable at runtime with `SET` (flag R).
    pub runtime: bool,
    /// Settable from the command line / `--json` (flag C without Y).
    pub option: bool,
    /// Hidden from `SHOW ALL` (flag H).
    pub hidden: bool,
    /// Must not be 0 (flag Z).
    pub nonzero: bool,
}

const fn var(name: &'static str, ty: VarType) -> VarDef {
    VarDef {
        name,
        ty,
        runtime: false,
        option: true,
        hidden: false,
        nonzero: false,
    }
}

const fn rvar(name: &'static str, ty: VarType) -> VarDef {
    VarDef {
        runtime: true,
        ..var(name, ty)
    }
}

/// Variables owned by [`Config`], in definition order. All of them are stored in `config.json`.
/// (`backends` is stored too so that a restart knows how many backends were bootstrapped.)
/// `replicas` and `users` are system state: only loaded from `config.json`, never options.
pub const VARS: &[VarDef] = &[
    var("uuid", VarType::String),
    var("timezone_default", VarType::String),
    rvar("format", VarType::String),
    var("log_enable", VarType::Bool),
    var("log_to_file", VarType::Bool),
    var("log_to_stdout", VarType::Bool),
    rvar("log_connections", VarType::Bool),
    rvar("log_options", VarType::Bool),
    var("tls_capath", VarType::String),
    var("tls_ca", VarType::String),
    var("tls_cert", VarType::String),
    var("tls_key", VarType::String),
    var("listen", VarType::Json),
    rvar("limit_send", VarType::Int),
    rvar("limit_recv", VarType::Int),
    rvar("limit_write", VarType::Int),
    VarDef {
        nonzero: true,
        ..var("frontends", VarType::Int)
    },
    var("backends", VarType::Int),
    rvar("wal_rotate_wm", VarType::Int),
    var("wal_sync_on_rotate", VarType::Bool),
    var("wal_sync_on_write", VarType::Bool),
    var("repl", VarType::Bool),
    var("repl_primary", VarType::String),
    rvar("repl_reconnect_ms", VarType::Int),
    rvar("checkpoint_interval", VarType::String),
    var("checkpoint_workers", VarType::Int),
    // our own limits (not in the original's listing, so hidden from `SHOW ALL` and
    // `system.config()`; settable like the others)
    VarDef {
        hidden: true,
        ..rvar("limit_memory", VarType::Int)
    },
    VarDef {
        hidden: true,
        ..rvar("limit_memory_total", VarType::Int)
    },
    VarDef {
        hidden: true,
        ..rvar("limit_time", VarType::Int)
    },
    // connection limits: our own, not in the original's listing, so hidden from `SHOW ALL`
    // and `system.config()`; start options only
    VarDef {
        hidden: true,
        ..var("limit_connections", VarType::Int)
    },
    VarDef {
        hidden: true,
        ..var("idle_timeout_ms", VarType::Int)
    },
    VarDef {
        hidden: true,
        ..var("header_timeout_ms", VarType::Int)
    },
    VarDef {
        hidden: true,
        ..var("body_timeout_ms", VarType::Int)
    },
    // `GET /metrics` (our own, hidden from `SHOW ALL`; a start option)
    VarDef {
        hidden: true,
        ..var("metrics", VarType::Bool)
    },
    VarDef {
        option: false,
        hidden: true,
        ..var("replicas", VarType::Json)
    },
    VarDef {
        option: false,
        hidden: true,
        ..var("users", VarType::Json)
    },
];

/// Looks up a variable owned by [`Config`].
pub fn var_def(name: &str) -> Option<&'static VarDef> {
    VARS.iter().find(|v| v.name == name)
}

/// The test variables (flags E H R): settable with `SET` and shown by `SHOW <name>`, but
/// neither listed by `SHOW ALL` / `system.config()` nor stored in `config.json` (a restart
/// resets them). They exist to exercise `SET`'s type rules.
pub const TEST_VARS: &[(&str, VarType)] = &[
    ("test_bool", VarType::Bool),
    ("test_int", VarType::Int),
    ("test_string", VarType::String),
    ("test_json", VarType::Json),
];

/// The error of `SET name TO value` when the value does not fit the variable's type:
/// `SET '<name>': bool value expected` (`integer`, `string`); a JSON variable cannot be set at
/// all (`SET '<name>': variable cannot be changed`).
pub fn set_type_error(name: &str, ty: VarType) -> Error {
    match ty {
        VarType::Bool => err!(Type, "SET '{name}': bool value expected"),
        VarType::Int => err!(Type, "SET '{name}': integer value expected"),
        VarType::String => err!(Type, "SET '{name}': string value expected"),
        VarType::Json => err!(Unsupported, "SET '{name}': variable cannot be changed"),
    }
}

/// Whether a `SET` value (`true`/`false`, a non-negative integer or a string) fits a
/// variable of type `ty`; no value fits a JSON variable.
pub fn set_value_fits(ty: VarType, value: &amelie_common::Value) -> bool {
    use amelie_common::Value as V;
    matches!(
        (ty, value),
        (VarType::Bool, V::Bool(_)) | (VarType::Int, V::Int(0..)) | (VarType::String, V::Str(_))
    )
}

/// The values of the [`TEST_VARS`] (defaults `false`, `0`, `""`, `null`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TestVars {
    pub test_bool: bool,
    pub test_int: i64,
    pub test_string: String,
    pub test_json: Value,
}

impl TestVars {
    /// The type of test variable `name` (None: not one).
    pub fn type_of(name: &str) -> Option<VarType> {
        TEST_VARS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
    }

    /// The value of test variable `name`.
    pub fn get(&self, name: &str) -> Option<Value> {
        Some(match name {
            "test_bool" => self.test_bool.into(),
            "test_int" => self.test_int.into(),
            "test_string" => Value::String(self.test_string.clone()),
            "test_json" => self.test_json.clone(),
            _ => return None,
        })
    }

    /// `SET name TO value` on a test variable (type-checked like any `SET`).
    pub fn set(&mut self, name: &str, value: &amelie_common::Value) -> Result<()> {
        use amelie_common::Value as V;
        let ty = Self::type_of(name)
            .ok_or_else(|| err!(NotFound, "SET '{name}': variable not found"))?;
        if !set_value_fits(ty, value) {
            return Err(set_type_error(name, ty));
        }
        match value {
            V::Bool(b) => self.test_bool = *b,
            V::Int(i) => self.test_int = *i,
            V::Str(x) => self.test_string = x.to_string(),
            _ => return Err(set_type_error(name, ty)),
        }
        Ok(())
    }
}

/// One element of the `listen` array: a TCP `host`/`port`, or a unix socket `path`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenAddr {
    /// Host as configured; `"*"` means every interface (see [`ListenAddr::bind_host`]).
    /// Empty for a unix socket listener.
    pub host: String,
    pub port: u16,
    /// A unix socket file (relative to the repository unless absolute); when set, the
    /// listener is that socket and `host`/`port` are not used.
    pub path: Option<String>,
    /// Permission bits of the socket file as octal digits (`"0700"`, the default).
    pub path_mode: Option<String>,
    /// `"auth": true`: every request must carry a valid `Authorization: Bearer <JWT>`.
    pub auth: bool,
    /// `"tls": true`: the listener speaks HTTPS with `tls_cert` and `tls_key`.
    pub tls: bool,
}

impl serde::Serialize for ListenAddr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        if let Some(path) = &self.path {
            if !self.host.is_empty() {
                map.serialize_entry("host", &self.host)?;
            }
            map.serialize_entry("path", path)?;
            if let Some(mode) = &self.path_mode {
                map.serialize_entry("path_mode", mode)?;
            }
        } else {
            map.serialize_entry("host", &self.host)?;
            map.serialize_entry("port", &self.port)?;
        }
        if self.tls {
            map.serialize_entry("tls", &true)?;
        }
        if self.auth {
            map.serialize_entry("auth", &true)?;
        }
        map.end()
    }
}

impl ListenAddr {
    /// The host to bind: `"*"` becomes `0.0.0.0`.
    pub fn bind_host(&self) -> &str {
        if self.host == "*" {
            "0.0.0.0"
        } else {
            &self.host
        }
    }

    /// `host:port` suitable for `TcpListener::bind` (IPv6 literals are bracketed).
    pub fn bind_addr(&self) -> String {
        let host = self.bind_host();
        if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]:{}", self.port)
        } else {
            format!("{host}:{}", self.port)
        }
    }

    /// The socket file's permission bits: `path_mode` read as octal, else 0700.
    pub fn socket_mode(&self) -> u32 {
        self.path_mode
            .as_deref()
            .and_then(parse_mode)
            .unwrap_or(0o700)
    }
}

/// Octal permission bits (`"0700"`, `"755"`): at most 0o777.
fn parse_mode(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return None;
    }
    u32::from_str_radix(text, 8).ok().filter(|m| *m <= 0o777)
}

/// E (state) variables supplied by the running server for `SHOW ALL`.
#[derive(Clone, Debug, Default)]
pub struct RuntimeVars {
    pub directory: String,
    /// Session time zone (defaults to `timezone_default`).
    pub timezone: String,
    pub checkpoint: u64,
    pub read_only: bool,
    pub lsn: u64,
    pub psn: u64,
}

/// The persistent configuration (`config.json` plus command-line overrides).
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub uuid: String,
    pub timezone_default: String,
    pub format: String,
    pub log_enable: bool,
    pub log_to_file: bool,
    pub log_to_stdout: bool,
    pub log_connections: bool,
    pub log_options: bool,
    pub tls_capath: String,
    pub tls_ca: String,
    pub tls_cert: String,
    pub tls_key: String,
    /// Empty when `listen` is `null` or `[]` (no TCP listeners).
    pub listen: Vec<ListenAddr>,
    pub limit_send: u64,
    pub limit_recv: u64,
    pub limit_write: u64,
    pub frontends: usize,
    pub backends: usize,
    pub wal_rotate_wm: u64,
    pub wal_sync_on_rotate: bool,
    pub wal_sync_on_write: bool,
    pub repl: bool,
    pub repl_primary: String,
    pub repl_reconnect_ms: u64,
    pub checkpoint_interval: String,
    pub checkpoint_workers: u64,
    /// Bytes a request may keep in row sets, outputs and changes, per thread (0: no limit).
    pub limit_memory: u64,
    /// Bytes all running requests may keep together (0: no limit).
    pub limit_memory_total: u64,
    /// Milliseconds a request may run (0: no limit).
    pub limit_time: u64,
    /// Cap on open HTTP connections (0: none); hidden.
    pub limit_connections: u64,
    /// Idle keep-alive connections are closed after this many milliseconds (0: never); hidden.
    pub idle_timeout_ms: u64,
    /// A started request head must arrive within this many milliseconds; hidden.
    pub header_timeout_ms: u64,
    /// Longest pause within a request body, in milliseconds; hidden.
    pub body_timeout_ms: u64,
    /// Serve `GET /metrics` (Prometheus text format); hidden.
    pub metrics: bool,
    /// Persisted replica definitions (hidden; only loaded from `config.json`).
    pub replicas: Value,
    /// Persisted users (hidden and secret; only loaded from `config.json`).
    pub users: Value,
}

fn cpu_count() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

impl Default for Config {
    /// Defaults for a new repository; `uuid` is empty (generated at bootstrap).
    fn default() -> Self {
        let cpus = cpu_count();
        Config {
            uuid: String::new(),
            timezone_default: "UTC".into(),
            format: "json-pretty".into(),
            log_enable: true,
            log_to_file: true,
            log_to_stdout: true,
            log_connections: true,
            log_options: true,
            tls_capath: String::new(),
            tls_ca: String::new(),
            tls_cert: String::new(),
            tls_key: String::new(),
            listen: vec![ListenAddr {
                host: "127.0.0.1".into(),
                port: DEFAULT_PORT,
                path: None,
                path_mode: None,
                auth: false,
                tls: false,
            }],
            limit_send: 3_145_728,
            limit_recv: 1_048_576,
            limit_write: 0,
            frontends: cpus,
            backends: cpus,
            wal_rotate_wm: 104_857_600,
            wal_sync_on_rotate: true,
            wal_sync_on_write: false,
            repl: false,
            repl_primary: String::new(),
            repl_reconnect_ms: 3000,
            checkpoint_interval: "5 min".into(),
            checkpoint_workers: 3,
            limit_memory: DEFAULT_LIMIT_MEMORY,
            limit_memory_total: default_limit_memory_total(),
            limit_time: DEFAULT_LIMIT_TIME_MS,
            limit_connections: DEFAULT_LIMIT_CONNECTIONS,
            idle_timeout_ms: DEFAULT_IDLE_TIMEOUT_MS,
            header_timeout_ms: DEFAULT_READ_TIMEOUT_MS,
            body_timeout_ms: DEFAULT_READ_TIMEOUT_MS,
            metrics: false,
            replicas: Value::Array(Vec::new()),
            users: Value::Array(Vec::new()),
        }
    }
}

/// An ordered list of `(name, value)` option assignments, as given on the command line.
pub type Options = amelie_common::cli::Options;

/// Parses `--name=value` / `--json={...}` arguments left to right
/// ([`amelie_common::cli::parse_options`]; an argument that is not an option is an error).
/// Values are JSON when they parse as JSON, plain strings otherwise; `--name` alone means
/// `true`. Names are not checked here (see [`Config::apply_options`]).
pub fn parse_options(args: &[String]) -> Result<Options> {
    amelie_common::cli::parse_options(
        args,
        |arg| Err(Error::syntax(format!("unexpected argument '{arg}'"))),
        cli_value,
    )
}

/// The JSON value of a `--name=text` flag: JSON if it parses; for string variables a text that
/// parses as a non-string JSON value (e.g. `--repl_primary=123`) is kept as plain text.
fn cli_value(name: &str, text: &str) -> Value {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::String(s)) => Value::String(s),
        Ok(v) => match var_def(name) {
            Some(def) if def.ty == VarType::String => Value::String(text.to_string()),
            _ => v,
        },
        Err(_) => Value::String(text.to_string()),
    }
}

/// True for the canonical `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` hex form.
pub fn is_valid_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// A bad option value: where it was given (`option 'name'`, `server`) and what is wrong. As
/// an [`Error`] it reads `<where>: <problem>` (the command line, `--json`, `config.json`);
/// `SET` answers with the problem alone, the option being named in the statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionError {
    place: Option<String>,
    problem: String,
    kind: ErrorKind,
}

impl OptionError {
    /// A problem with the value of option `name`.
    fn of(name: &str, problem: impl Into<String>) -> OptionError {
        OptionError {
            place: Some(format!("option '{name}'")),
            problem: problem.into(),
            kind: ErrorKind::Type,
        }
    }

    /// An error that names its option in its own words (`option 'x' is not found`).
    fn whole(kind: ErrorKind, msg: impl Into<String>) -> OptionError {
        OptionError {
            place: None,
            problem: msg.into(),
            kind,
        }
    }

    /// What is wrong, without where.
    pub fn problem(&self) -> &str {
        &self.problem
    }

    /// The kind of the problem (an unknown option, a bad value, ...).
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
}

impl From<OptionError> for Error {
    fn from(e: OptionError) -> Error {
        match e.place {
            Some(place) => Error::with_kind(e.kind, format!("{place}: {}", e.problem)),
            None => Error::with_kind(e.kind, e.problem),
        }
    }
}

fn type_error(name: &str, ty: VarType) -> OptionError {
    let what = match ty {
        VarType::Bool => "bool",
        VarType::Int => "integer",
        VarType::String => "string",
        VarType::Json => "json",
    };
    OptionError::of(name, format!("{what} value expected"))
}

fn listen_error(msg: &str) -> OptionError {
    OptionError {
        place: Some("server".into()),
        problem: format!("listen[] {msg}"),
        kind: ErrorKind::Type,
    }
}

/// Parses the `listen` JSON: `null` or an array of objects with `host` and `port` (TCP) or
/// `path` and `path_mode` (a unix socket), and `auth` and `tls`.
pub fn parse_listen(value: &Value) -> std::result::Result<Vec<ListenAddr>, OptionError> {
    let items = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        _ => return Err(type_error("listen", VarType::Json)),
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let Value::Object(map) = item else {
            return Err(listen_error("object expected"));
        };
        let mut host = None;
        let mut port = DEFAULT_PORT;
        let mut path = None;
        let mut path_mode = None;
        let mut auth = false;
        let mut tls = false;
        for (key, v) in map {
            match key.as_str() {
                "host" => match v {
                    Value::String(s) if !s.is_empty() => host = Some(s.clone()),
                    _ => return Err(listen_error("<host> must be a string")),
                },
                "port" => {
                    port = v
                        .as_u64()
                        .and_then(|p| u16::try_from(p).ok())
                        .ok_or_else(|| listen_error("<port> must be an integer (0..65535)"))?;
                }
                "path" => match v {
                    Value::String(s) if !s.is_empty() => path = Some(s.clone()),
                    _ => return Err(listen_error("<path> must be a string")),
                },
                "path_mode" => match v {
                    Value::String(s) if parse_mode(s).is_some() => path_mode = Some(s.clone()),
                    _ => {
                        return Err(listen_error(
                            "<path_mode> must be a string of octal digits (\"0700\")",
                        ))
                    }
                },
                "auth" => {
                    auth = v
                        .as_bool()
                        .ok_or_else(|| listen_error("<auth> must be a bool"))?;
                }
                "tls" => {
                    tls = v
                        .as_bool()
                        .ok_or_else(|| listen_error("<tls> must be a bool"))?;
                }
                other => return Err(listen_error(&format!("unknown option '{other}'"))),
            }
        }
        if path.is_none() && path_mode.is_some() {
            return Err(listen_error("<path_mode> requires <path>"));
        }
        let host = match (host, &path) {
            (Some(host), _) => host,
            (None, Some(_)) => String::new(),
            (None, None) => return Err(listen_error("<host> is not defined")),
        };
        out.push(ListenAddr {
            host,
            port,
            path,
            path_mode,
            auth,
            tls,
        });
    }
    Ok(out)
}

impl Config {
    /// Applies options in order (a later assignment of the same name wins). Only C variables are
    /// accepted: unknown names fail with `option '<name>' is not found`.
    pub fn apply_options(&mut self, options: &[(String, Value)]) -> Result<()> {
        for (name, value) in options {
            self.set_option(name, value)?;
        }
        Ok(())
    }

    /// Sets one C variable from a command-line / `--json` option (type-checked).
    pub fn set_option(
        &mut self,
        name: &str,
        value: &Value,
    ) -> std::result::Result<(), OptionError> {
        match var_def(name) {
            Some(def) if def.option => {
                self.set_var(def, value)?;
                self.check_option(name)
            }
            Some(_) => Err(OptionError::whole(
                ErrorKind::Unsupported,
                format!("option '{name}' cannot be set from the command line"),
            )),
            None => Err(OptionError::whole(
                ErrorKind::NotFound,
                format!("option '{name}' is not found"),
            )),
        }
    }

    /// Value checks of options (not applied to `config.json`, so that a file written by an
    /// older version still loads; see the uses of the values instead).
    fn check_option(&self, name: &str) -> std::result::Result<(), OptionError> {
        let at_least = |v: u64, min: u64| {
            if v < min {
                return Err(OptionError::of(
                    name,
                    format!("value must be at least {min}"),
                ));
            }
            Ok(())
        };
        match name {
            "wal_rotate_wm" => at_least(self.wal_rotate_wm, MIN_WAL_ROTATE_WM),
            "header_timeout_ms" => at_least(self.header_timeout_ms, 1),
            "body_timeout_ms" => at_least(self.body_timeout_ms, 1),
            _ => Ok(()),
        }
    }

    /// Parses `config.json` text; variables missing from the file keep their defaults.
    pub fn from_json(text: &str) -> Result<Config> {
        let parsed: Value = serde_json::from_str(text)
            .map_err(|e| Error::syntax(format!("config: json parse error ({e})")))?;
        let Value::Object(map) = parsed else {
            return Err(Error::type_error("config: json object expected"));
        };
        let mut config = Config::default();
        for (name, value) in &map {
            let def =
                var_def(name).ok_or_else(|| err!(NotFound, "option '{name}' is not found"))?;
            config.set_var(def, value)?;
        }
        Ok(config)
    }

    fn set_var(&mut self, def: &VarDef, value: &Value) -> std::result::Result<(), OptionError> {
        let name = def.name;
        match def.ty {
            VarType::Bool => {
                let v = value.as_bool().ok_or_else(|| type_error(name, def.ty))?;
                *self.bool_mut(name).expect("bool variable") = v;
            }
            VarType::Int => {
                let v = value.as_u64().ok_or_else(|| type_error(name, def.ty))?;
                if def.nonzero && v == 0 {
                    return Err(OptionError::of(name, "value cannot be zero"));
                }
                match name {
                    "frontends" => self.frontends = to_usize(name, v)?,
                    "backends" => self.backends = to_usize(name, v)?,
                    _ => *self.int_mut(name).expect("int variable") = v,
                }
            }
            VarType::String => {
                let v = value.as_str().ok_or_else(|| type_error(name, def.ty))?;
                if name == "uuid" && !v.is_empty() && !is_valid_uuid(v) {
                    return Err(OptionError::of("uuid", format!("invalid uuid '{v}'")));
                }
                *self.string_mut(name).expect("string variable") = v.to_string();
            }
            VarType::Json => match name {
                "listen" => self.listen = parse_listen(value)?,
                "replicas" => self.replicas = value.clone(),
                "users" => self.users = value.clone(),
                _ => unreachable!("json variable {name}"),
            },
        }
        Ok(())
    }

    fn bool_mut(&mut self, name: &str) -> Option<&mut bool> {
        Some(match name {
            "log_enable" => &mut self.log_enable,
            "log_to_file" => &mut self.log_to_file,
            "log_to_stdout" => &mut self.log_to_stdout,
            "log_connections" => &mut self.log_connections,
            "log_options" => &mut self.log_options,
            "wal_sync_on_rotate" => &mut self.wal_sync_on_rotate,
            "wal_sync_on_write" => &mut self.wal_sync_on_write,
            "repl" => &mut self.repl,
            "metrics" => &mut self.metrics,
            _ => return None,
        })
    }

    fn int_mut(&mut self, name: &str) -> Option<&mut u64> {
        Some(match name {
            "limit_send" => &mut self.limit_send,
            "limit_recv" => &mut self.limit_recv,
            "limit_write" => &mut self.limit_write,
            "wal_rotate_wm" => &mut self.wal_rotate_wm,
            "repl_reconnect_ms" => &mut self.repl_reconnect_ms,
            "checkpoint_workers" => &mut self.checkpoint_workers,
            "limit_memory" => &mut self.limit_memory,
            "limit_memory_total" => &mut self.limit_memory_total,
            "limit_time" => &mut self.limit_time,
            "limit_connections" => &mut self.limit_connections,
            "idle_timeout_ms" => &mut self.idle_timeout_ms,
            "header_timeout_ms" => &mut self.header_timeout_ms,
            "body_timeout_ms" => &mut self.body_timeout_ms,
            _ => return None,
        })
    }

    fn string_mut(&mut self, name: &str) -> Option<&mut String> {
        Some(match name {
            "uuid" => &mut self.uuid,
            "timezone_default" => &mut self.timezone_default,
            "format" => &mut self.format,
            "tls_capath" => &mut self.tls_capath,
            "tls_ca" => &mut self.tls_ca,
            "tls_cert" => &mut self.tls_cert,
            "tls_key" => &mut self.tls_key,
            "repl_primary" => &mut self.repl_primary,
            "checkpoint_interval" => &mut self.checkpoint_interval,
            _ => return None,
        })
    }

    /// The value of a variable owned by [`Config`] (including hidden ones), or `None`.
    pub fn get(&self, name: &str) -> Option<Value> {
        let s = |v: &String| Value::String(v.clone());
        Some(match name {
            "uuid" => s(&self.uuid),
            "timezone_default" => s(&self.timezone_default),
            "format" => s(&self.format),
            "log_enable" => self.log_enable.into(),
            "log_to_file" => self.log_to_file.into(),
            "log_to_stdout" => self.log_to_stdout.into(),
            "log_connections" => self.log_connections.into(),
            "log_options" => self.log_options.into(),
            "tls_capath" => s(&self.tls_capath),
            "tls_ca" => s(&self.tls_ca),
            "tls_cert" => s(&self.tls_cert),
            "tls_key" => s(&self.tls_key),
            "listen" => serde_json::to_value(&self.listen).expect("listen serializes"),
            "limit_send" => self.limit_send.into(),
            "limit_recv" => self.limit_recv.into(),
            "limit_write" => self.limit_write.into(),
            "frontends" => (self.frontends as u64).into(),
            "backends" => (self.backends as u64).into(),
            "wal_rotate_wm" => self.wal_rotate_wm.into(),
            "wal_sync_on_rotate" => self.wal_sync_on_rotate.into(),
            "wal_sync_on_write" => self.wal_sync_on_write.into(),
            "repl" => self.repl.into(),
            "repl_primary" => s(&self.repl_primary),
            "repl_reconnect_ms" => self.repl_reconnect_ms.into(),
            "checkpoint_interval" => s(&self.checkpoint_interval),
            "checkpoint_workers" => self.checkpoint_workers.into(),
            "limit_memory" => self.limit_memory.into(),
            "limit_memory_total" => self.limit_memory_total.into(),
            "limit_time" => self.limit_time.into(),
            "limit_connections" => self.limit_connections.into(),
            "idle_timeout_ms" => self.idle_timeout_ms.into(),
            "header_timeout_ms" => self.header_timeout_ms.into(),
            "body_timeout_ms" => self.body_timeout_ms.into(),
            "metrics" => self.metrics.into(),
            "replicas" => self.replicas.clone(),
            "users" => self.users.clone(),
            _ => return None,
        })
    }

    /// Visible (non-hidden) variables owned by [`Config`], in definition order.
    /// Used for printing the options at start (`log_options`).
    pub fn show_all(&self) -> Vec<(&'static str, Value)> {
        VARS.iter()
            .filter(|d| !d.hidden)
            .map(|d| (d.name, self.get(d.name).expect("known variable")))
            .collect()
    }

    /// The complete `SHOW ALL` / `system.config()` listing in definition order: the config
    /// variables plus the state variables `version`, `directory`, `timezone`, `checkpoint`,
    /// `read_only`, `lsn`, `psn` taken from `rt`.
    pub fn show_all_with(&self, rt: &RuntimeVars) -> Vec<(&'static str, Value)> {
        let mut out = vec![
            ("version", Value::from(VERSION)),
            ("uuid", Value::from(self.uuid.clone())),
            ("directory", Value::from(rt.directory.clone())),
            ("timezone", Value::from(rt.timezone.clone())),
        ];
        out.extend(self.show_all().into_iter().filter(|(n, _)| *n != "uuid"));
        out.push(("checkpoint", rt.checkpoint.into()));
        out.push(("read_only", rt.read_only.into()));
        out.push(("lsn", rt.lsn.into()));
        out.push(("psn", rt.psn.into()));
        out
    }

    /// The content of `config.json`: every stored variable in definition order, pretty-printed
    /// (two-space indentation, trailing newline).
    pub fn to_json_pretty(&self) -> String {
        let mut out = String::from("{\n");
        for (i, def) in VARS.iter().enumerate() {
            let value = self.get(def.name).expect("known variable");
            let text = serde_json::to_string_pretty(&value).expect("value serializes");
            let name = serde_json::to_string(def.name).expect("name serializes");
            out.push_str("  ");
            out.push_str(&name);
            out.push_str(": ");
            out.push_str(&text.replace('\n', "\n  "));
            if i + 1 < VARS.len() {
                out.push(',');
            }
            out.push('\n');
        }
        out.push_str("}\n");
        out
    }
}

fn to_usize(name: &str, v: u64) -> std::result::Result<usize, OptionError> {
    usize::try_from(v).map_err(|_| type_error(name, VarType::Int))
}

#[cfg(test)]
mod tests;
