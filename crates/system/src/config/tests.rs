//! Tests of `config.rs`: option parsing, `config.json`, SET and SHOW of the variables.

use super::*;
use serde_json::json;

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn apply(list: &[&str]) -> Result<Config> {
    let mut c = Config::default();
    c.apply_options(&parse_options(&args(list))?)?;
    Ok(c)
}

fn err(list: &[&str]) -> String {
    apply(list).unwrap_err().msg().to_string()
}

#[test]
fn defaults() {
    let c = Config::default();
    assert_eq!(c.uuid, "");
    assert_eq!(c.timezone_default, "UTC");
    assert_eq!(c.format, "json-pretty");
    assert_eq!(
        c.listen,
        vec![ListenAddr {
            host: "127.0.0.1".into(),
            port: 3485,
            path: None,
            path_mode: None,
            auth: false,
            tls: false,
        }]
    );
    assert!(c.frontends >= 1);
    assert_eq!(c.backends, c.frontends);
    assert_eq!(c.wal_rotate_wm, 104857600);
    assert!(c.wal_sync_on_rotate && !c.wal_sync_on_write);
    assert_eq!(
        (c.limit_recv, c.limit_send, c.limit_write),
        (1048576, 3145728, 0)
    );
    assert_eq!(c.checkpoint_interval, "5 min");
    assert_eq!(c.checkpoint_workers, 3);
    assert_eq!(c.repl_reconnect_ms, 3000);
}

#[test]
fn flags_are_typed_json_or_text() {
    let c = apply(&[
        "--frontends=2",
        "--backends=0",
        "--log_to_stdout=false",
        "--timezone_default=Europe/Berlin",
        "--checkpoint_interval=10 min",
        "--format=\"json\"",
        "--repl_primary=123",
        "--repl",
    ])
    .unwrap();
    assert_eq!(c.frontends, 2);
    assert_eq!(c.backends, 0);
    assert!(!c.log_to_stdout);
    assert_eq!(c.timezone_default, "Europe/Berlin");
    assert_eq!(c.checkpoint_interval, "10 min");
    assert_eq!(c.format, "json");
    assert_eq!(c.repl_primary, "123");
    assert!(c.repl);
}

#[test]
fn json_option() {
    let c = apply(&[r#"--json={"frontends": 3, "wal_sync_on_write": true, "format": "json"}"#])
        .unwrap();
    assert_eq!(c.frontends, 3);
    assert!(c.wal_sync_on_write);
    assert_eq!(c.format, "json");
    assert_eq!(err(&["--json=[1]"]), "option 'json': json object expected");
    assert_eq!(err(&["--json={bad"]), "option 'json': json object expected");
}

#[test]
fn later_wins() {
    let c = apply(&["--frontends=2", r#"--json={"frontends": 5}"#]).unwrap();
    assert_eq!(c.frontends, 5);
    let c = apply(&[r#"--json={"frontends": 5}"#, "--frontends=2"]).unwrap();
    assert_eq!(c.frontends, 2);
    let c = apply(&["--limit_write=1", "--limit_write=7"]).unwrap();
    assert_eq!(c.limit_write, 7);
}

#[test]
fn option_errors_keep_place_and_problem_apart() {
    let mut c = Config::default();
    let e = c
        .set_option("uuid", &json!("xyz"))
        .expect_err("invalid uuid");
    assert_eq!(e.problem(), "invalid uuid 'xyz'");
    assert_eq!(Error::from(e).msg(), "option 'uuid': invalid uuid 'xyz'");
    let e = c.set_option("nope", &json!(1)).expect_err("unknown");
    assert_eq!(e.problem(), "option 'nope' is not found");
    assert_eq!(Error::from(e).msg(), "option 'nope' is not found");
    let e = c
        .set_option("listen", &json!([{"host": "h", "x": 1}]))
        .expect_err("bad listen");
    assert_eq!(e.problem(), "listen[] unknown option 'x'");
    assert_eq!(Error::from(e).msg(), "server: listen[] unknown option 'x'");
    let e = c
        .set_option("wal_rotate_wm", &json!(1))
        .expect_err("too small");
    assert_eq!(
        e.problem(),
        format!("value must be at least {MIN_WAL_ROTATE_WM}")
    );
}

#[test]
fn option_error_kinds() {
    let kind = |a: &[&str]| apply(a).unwrap_err().kind();
    assert_eq!(kind(&["--nope=1"]), ErrorKind::NotFound);
    assert_eq!(kind(&["--frontends=abc"]), ErrorKind::Type);
    assert_eq!(kind(&[r#"--json={"users": []}"#]), ErrorKind::Unsupported);
    let e = Config::default()
        .set_option("wal_rotate_wm", &json!(1))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Type);
    assert_eq!(Error::from(e).kind(), ErrorKind::Type);
    assert_eq!(
        Config::from_json(r#"{"nope": 1}"#).unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        Config::from_json("{").unwrap_err().kind(),
        ErrorKind::Syntax
    );
}

#[test]
fn unknown_and_type_errors() {
    assert_eq!(err(&["--nope=1"]), "option 'nope' is not found");
    assert_eq!(
        err(&[r#"--json={"nope": 1}"#]),
        "option 'nope' is not found"
    );
    assert_eq!(
        err(&["--frontends=abc"]),
        "option 'frontends': integer value expected"
    );
    assert_eq!(
        err(&["--frontends=-1"]),
        "option 'frontends': integer value expected"
    );
    assert_eq!(
        err(&["--frontends=1.5"]),
        "option 'frontends': integer value expected"
    );
    assert_eq!(
        err(&["--log_enable=1"]),
        "option 'log_enable': bool value expected"
    );
    assert_eq!(
        err(&[r#"--json={"format": 1}"#]),
        "option 'format': string value expected"
    );
    assert_eq!(
        err(&["--listen=abc"]),
        "option 'listen': json value expected"
    );
    assert_eq!(
        err(&["--frontends=0"]),
        "option 'frontends': value cannot be zero"
    );
    assert_eq!(err(&["--uuid=xyz"]), "option 'uuid': invalid uuid 'xyz'");
    assert_eq!(
        err(&[r#"--json={"users": []}"#]),
        "option 'users' cannot be set from the command line"
    );
    assert_eq!(
        parse_options(&args(&["start"])).unwrap_err().msg(),
        "unexpected argument 'start'"
    );
}

#[test]
fn listen_parsing() {
    let c =
        apply(&[r#"--listen=[{"host": "*", "port": 3480}, {"host": "::1", "port": 1}]"#]).unwrap();
    assert_eq!(c.listen.len(), 2);
    assert_eq!(c.listen[0].host, "*");
    assert_eq!(c.listen[0].bind_addr(), "0.0.0.0:3480");
    assert_eq!(c.listen[1].bind_addr(), "[::1]:1");
    let c = apply(&[r#"--json={"listen": null}"#]).unwrap();
    assert!(c.listen.is_empty());
    let c = apply(&[r#"--listen=[{"host": "localhost"}]"#]).unwrap();
    assert_eq!(c.listen[0].port, DEFAULT_PORT);
    assert!(!c.listen[0].auth);
    let c = apply(&[r#"--listen=[{"host": "a", "port": 1, "auth": true}]"#]).unwrap();
    assert!(c.listen[0].auth);
    assert!(c.to_json_pretty().contains("\"auth\": true"));
    assert_eq!(
        err(&[r#"--listen=[{"host": "a", "auth": 1}]"#]),
        "server: listen[] <auth> must be a bool"
    );
    assert!(!c.listen[0].tls);
    let c = apply(&[r#"--listen=[{"host": "a", "port": 1, "tls": true, "auth": true}]"#]).unwrap();
    assert!(c.listen[0].tls && c.listen[0].auth);
    assert_eq!(
        serde_json::to_string(&c.listen).unwrap(),
        r#"[{"host":"a","port":1,"tls":true,"auth":true}]"#
    );
    // persisted: read back from config.json text
    let text = format!("--listen={}", serde_json::to_string(&c.listen).unwrap());
    let again = apply(&[text.as_str()]).unwrap();
    assert_eq!(again.listen, c.listen);
    assert_eq!(
        err(&[r#"--listen=[{"host": "a", "tls": "yes"}]"#]),
        "server: listen[] <tls> must be a bool"
    );
    assert_eq!(
        err(&[r#"--listen=[{"host": "a", "port": 1, "tlx": true}]"#]),
        "server: listen[] unknown option 'tlx'"
    );
    assert_eq!(
        err(&[r#"--listen=[{"host": "a", "port": 70000}]"#]),
        "server: listen[] <port> must be an integer (0..65535)"
    );
    assert_eq!(
        err(&[r#"--listen=[{"port": 1}]"#]),
        "server: listen[] <host> is not defined"
    );
    assert_eq!(err(&["--listen=[1]"]), "server: listen[] object expected");
}

#[test]
fn listen_unix_paths() {
    let c = apply(&[
        r#"--listen=[{"path": "x.sock"}, {"path": "/tmp/y.sock", "path_mode": "0755", "auth": true}]"#,
    ])
    .unwrap();
    assert_eq!(c.listen[0].path.as_deref(), Some("x.sock"));
    assert_eq!(c.listen[0].socket_mode(), 0o700);
    assert_eq!(c.listen[1].socket_mode(), 0o755);
    assert!(c.listen[1].auth);
    let text = serde_json::to_string(&c.listen).unwrap();
    assert_eq!(
        text,
        r#"[{"path":"x.sock"},{"path":"/tmp/y.sock","path_mode":"0755","auth":true}]"#
    );
    assert_eq!(
        parse_listen(&serde_json::from_str(&text).unwrap()).unwrap(),
        c.listen
    );
    for (bad, msg) in [
        (r#"[{"path": 1}]"#, "<path> must be a string"),
        (
            r#"[{"path": "a", "path_mode": "0800"}]"#,
            "<path_mode> must be",
        ),
        (
            r#"[{"path": "a", "path_mode": 448}]"#,
            "<path_mode> must be",
        ),
        (
            r#"[{"host": "a", "path_mode": "0700"}]"#,
            "<path_mode> requires <path>",
        ),
    ] {
        let e = err(&[&format!("--listen={bad}")]);
        assert!(e.contains(msg), "{bad}: {e}");
    }
}

#[test]
fn config_json_round_trip() {
    let mut c = apply(&[
        "--uuid=0b7f7a52-8a3c-4c6f-9a3e-2f1d0c9b8a7e",
        r#"--listen=[{"host": "*", "port": 3480}]"#,
        "--backends=3",
        "--format=json-obj",
    ])
    .unwrap();
    c.users = json!([{"name": "test", "secret": "x"}]);
    let text = c.to_json_pretty();
    assert!(text.starts_with("{\n  \"uuid\": \"0b7f7a52-"));
    assert!(text.contains("  \"listen\": [\n    {\n      \"host\": \"*\",\n"));
    assert!(text.ends_with("}\n"));
    let parsed: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(parsed["backends"], json!(3));
    let back = Config::from_json(&text).unwrap();
    assert_eq!(back, c);
    // Missing keys keep defaults; unknown keys are rejected.
    let partial = Config::from_json(r#"{"frontends": 4}"#).unwrap();
    assert_eq!(partial.frontends, 4);
    assert_eq!(partial.format, "json-pretty");
    assert_eq!(
        Config::from_json(r#"{"nope": 4}"#).unwrap_err().msg(),
        "option 'nope' is not found"
    );
    assert!(Config::from_json("[").is_err());
}

#[test]
fn show_all_order() {
    let c = Config::default();
    let names: Vec<_> = c.show_all().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names.first(), Some(&"uuid"));
    assert!(!names.contains(&"users") && !names.contains(&"replicas"));
    let rt = RuntimeVars {
        directory: "/tmp/x".into(),
        timezone: "UTC".into(),
        ..Default::default()
    };
    let all = c.show_all_with(&rt);
    let names: Vec<_> = all.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        &names[..5],
        &[
            "version",
            "uuid",
            "directory",
            "timezone",
            "timezone_default"
        ]
    );
    assert_eq!(
        &names[names.len() - 4..],
        &["checkpoint", "read_only", "lsn", "psn"]
    );
    assert_eq!(all[0].1, json!("1.0.0"));
}

#[test]
fn connection_limits_are_hidden_options() {
    let c = Config::default();
    assert_eq!(c.limit_connections, 10_000);
    assert_eq!(c.idle_timeout_ms, 60_000);
    assert_eq!((c.header_timeout_ms, c.body_timeout_ms), (30_000, 30_000));
    let names: Vec<_> = c.show_all().into_iter().map(|(n, _)| n).collect();
    for hidden in [
        "limit_connections",
        "idle_timeout_ms",
        "header_timeout_ms",
        "body_timeout_ms",
    ] {
        assert!(!names.contains(&hidden), "{hidden}");
    }
    let c = apply(&[
        "--limit_connections=5",
        "--idle_timeout_ms=0",
        "--header_timeout_ms=100",
        "--body_timeout_ms=200",
    ])
    .unwrap();
    assert_eq!(
        (
            c.limit_connections,
            c.idle_timeout_ms,
            c.header_timeout_ms,
            c.body_timeout_ms
        ),
        (5, 0, 100, 200)
    );
    assert_eq!(Config::from_json(&c.to_json_pretty()).unwrap(), c);
    assert_eq!(
        err(&["--header_timeout_ms=0"]),
        "option 'header_timeout_ms': value must be at least 1"
    );
}

#[test]
fn wal_rotate_wm_floor() {
    assert_eq!(
        err(&["--wal_rotate_wm=0"]),
        "option 'wal_rotate_wm': value must be at least 1024"
    );
    assert_eq!(
        apply(&["--wal_rotate_wm=1024"]).unwrap().wal_rotate_wm,
        1024
    );
    // an old config.json still loads
    assert_eq!(
        Config::from_json(r#"{"wal_rotate_wm": 0}"#)
            .unwrap()
            .wal_rotate_wm,
        0
    );
}

#[test]
fn test_variables() {
    use amelie_common::Value as V;
    let mut t = TestVars::default();
    assert_eq!(t.get("test_bool"), Some(json!(false)));
    assert_eq!(t.get("test_int"), Some(json!(0)));
    assert_eq!(t.get("test_string"), Some(json!("")));
    assert_eq!(t.get("test_json"), Some(Value::Null));
    assert_eq!(t.get("test_other"), None);
    t.set("test_bool", &V::Bool(true)).unwrap();
    t.set("test_int", &V::Int(1234)).unwrap();
    t.set("test_string", &V::str("hello")).unwrap();
    assert_eq!(
        (t.get("test_bool"), t.get("test_int"), t.get("test_string")),
        (Some(json!(true)), Some(json!(1234)), Some(json!("hello")))
    );
    let msg = |t: &mut TestVars, name: &str, v: V| t.set(name, &v).unwrap_err().to_string();
    assert_eq!(
        msg(&mut t, "test_bool", V::Int(1)),
        "SET 'test_bool': bool value expected"
    );
    assert_eq!(
        msg(&mut t, "test_int", V::str("1")),
        "SET 'test_int': integer value expected"
    );
    assert_eq!(
        msg(&mut t, "test_int", V::Int(-1)),
        "SET 'test_int': integer value expected"
    );
    assert_eq!(
        msg(&mut t, "test_string", V::Int(1)),
        "SET 'test_string': string value expected"
    );
    assert_eq!(
        msg(&mut t, "test_json", V::Int(1)),
        "SET 'test_json': variable cannot be changed"
    );
    assert_eq!(t.get("test_int"), Some(json!(1234)));
    // never listed nor stored
    let c = Config::default();
    let all = c.show_all_with(&RuntimeVars::default());
    assert!(all.iter().all(|(n, _)| !n.starts_with("test_")));
    assert!(!c.to_json_pretty().contains("test_"));
}

#[test]
fn uuid_generation() {
    let a = amelie_common::random::uuid_v4();
    let b = amelie_common::random::uuid_v4();
    assert!(is_valid_uuid(&a), "{a}");
    assert_ne!(a, b);
    assert_eq!(&a[14..15], "4");
    assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"));
}
