//! The command-line options the server (`amelie-server`) and the client (`amelie`) share:
//! `--name=value`, `--name` alone (`true`) and `--json={...}` (each member an option), read
//! left to right so that a later option wins.

use crate::{Error, Result};
use serde_json::Value;

/// `(name, value)` option assignments in the order given.
pub type Options = Vec<(String, Value)>;

/// Splits `args` into options, in order. An argument not starting with `--` goes to
/// `positional` (which may refuse it); `--name=text` gets the value `value(name, text)`,
/// `--name` alone `true`, and `--json={...}` is its members. `--` or `--=x` alone is
/// `unexpected argument '<arg>'`; `--json` that is not an object, `option 'json': json
/// object expected`. Names are not checked here.
pub fn parse_options(
    args: &[String],
    mut positional: impl FnMut(&str) -> Result<()>,
    value: impl Fn(&str, &str) -> Value,
) -> Result<Options> {
    let mut out = Options::new();
    for arg in args {
        let Some(body) = arg.strip_prefix("--") else {
            positional(arg)?;
            continue;
        };
        let (name, text) = match body.split_once('=') {
            Some((name, text)) => (name, Some(text)),
            None => (body, None),
        };
        if name.is_empty() {
            return Err(Error::syntax(format!("unexpected argument '{arg}'")));
        }
        if name == "json" {
            let parsed: Value = serde_json::from_str(text.unwrap_or(""))
                .map_err(|_| Error::type_error("option 'json': json object expected"))?;
            let Value::Object(map) = parsed else {
                return Err(Error::type_error("option 'json': json object expected"));
            };
            out.extend(map);
            continue;
        }
        let value = match text {
            None => Value::Bool(true),
            Some(text) => value(name, text),
        };
        out.push((name.to_string(), value));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(list: &[&str]) -> Result<(Vec<String>, Options)> {
        let args: Vec<String> = list.iter().map(|s| s.to_string()).collect();
        let mut rest = Vec::new();
        let options = parse_options(
            &args,
            |a| {
                rest.push(a.to_string());
                Ok(())
            },
            |name, text| json!(format!("{name}:{text}")),
        )?;
        Ok((rest, options))
    }

    #[test]
    fn options_in_order() {
        let (rest, options) = parse(&[
            "a",
            "--x=1",
            "--flag",
            r#"--json={"y": 2, "x": "s"}"#,
            "b",
            "--x=a=b",
        ])
        .unwrap();
        assert_eq!(rest, ["a", "b"]);
        assert_eq!(
            options,
            [
                ("x".to_string(), json!("x:1")),
                ("flag".to_string(), json!(true)),
                ("x".to_string(), json!("s")),
                ("y".to_string(), json!(2)),
                ("x".to_string(), json!("x:a=b")),
            ]
        );
    }

    #[test]
    fn errors() {
        let msg = |list: &[&str]| parse(list).unwrap_err().msg().to_string();
        assert_eq!(msg(&["--=x"]), "unexpected argument '--=x'");
        assert_eq!(msg(&["--"]), "unexpected argument '--'");
        for bad in ["--json=[1]", "--json", "--json={"] {
            assert_eq!(msg(&[bad]), "option 'json': json object expected");
        }
        let refused = parse_options(
            &["x".to_string()],
            |a| Err(Error::syntax(format!("no '{a}'"))),
            |_, t| json!(t),
        );
        assert_eq!(refused.unwrap_err().msg(), "no 'x'");
    }
}
