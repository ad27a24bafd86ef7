//! Import bodies (`POST /<schema>/<table>` with `text/csv`, `application/jsonl` or
//! `application/json`, spec §1.5).
//!
//! Like Amelie, this is not a CSV or JSON parser: the body is read with the SQL lexer and every
//! value is an INSERT VALUES literal ([`Parser::value`]). Newlines are plain whitespace, so rows
//! are recognised by counting columns:
//!
//! * `text/csv`: `v1, v2, ...` per row, a comma between values, none between rows;
//! * `application/jsonl`: a sequence of `[v, ...]` or `{"col": v, ...}` rows;
//! * `application/json`: `[ row, row, ... ]`.

use crate::ast::Expr;
use crate::lexer::{Tok, P};
use crate::parser::Parser;
use amelie_common::{Error, ErrorKind, Result};

/// The body format, chosen by the request's `Content-Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportFormat {
    Csv,
    Json,
    Jsonl,
}

impl ImportFormat {
    /// The format of a `Content-Type` (parameters such as `; charset=utf-8` are ignored).
    pub fn from_content_type(content_type: &str) -> Option<ImportFormat> {
        let ty = content_type.split(';').next().unwrap_or("").trim();
        if ty.eq_ignore_ascii_case("text/csv") {
            Some(ImportFormat::Csv)
        } else if ty.eq_ignore_ascii_case("application/json") {
            Some(ImportFormat::Json)
        } else if ty.eq_ignore_ascii_case("application/jsonl") {
            Some(ImportFormat::Jsonl)
        } else {
            None
        }
    }
}

/// One table column as the import sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImportColumn<'a> {
    pub name: &'a str,
    /// The type name used in `column <c> value expected to be '<type>'`.
    pub ty: &'a str,
}

/// What to expect in an import body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImportSpec<'a> {
    pub format: ImportFormat,
    /// All columns of the table, in table order.
    pub columns: &'a [ImportColumn<'a>],
    /// `?columns=`: the ordinals (into `columns`) a CSV or array row gives values for; `None`
    /// means every column.
    pub list: Option<&'a [usize]>,
}

/// One row of an import body.
#[derive(Clone, Debug, PartialEq)]
pub enum ImportRow {
    /// One value per listed column (per table column without a list).
    Values(Vec<Expr>),
    /// `(column ordinal, value)` pairs of an object row, in the order written.
    Object(Vec<(usize, Expr)>),
}

const MSG_COLUMNS: &str = "incorrect number of columns in the row";

/// Parses an import body into rows of literals. An empty body has no rows. Never panics;
/// errors carry Amelie's texts.
pub fn parse_import(body: &str, spec: ImportSpec) -> Result<Vec<ImportRow>> {
    let mut p = Parser::new(body);
    let mut rows = Vec::new();
    // an empty body (nothing but whitespace: an empty CSV line is no row) is no rows in every
    // format, also CSV with an empty column list, which is refused only when there is a row
    if at_eof(&p) {
        return Ok(rows);
    }
    if spec.format == ImportFormat::Csv && spec.list.is_some_and(|l| l.is_empty()) {
        return Err(Error::unsupported(
            "CSV import with empty column list is not supported",
        ));
    }
    match spec.format {
        ImportFormat::Csv => {
            while !at_eof(&p) {
                rows.push(ImportRow::Values(p.import_values(spec)?));
                if p.is_p(P::Comma) {
                    return p.fail(MSG_COLUMNS);
                }
            }
        }
        ImportFormat::Jsonl => {
            while !at_eof(&p) {
                rows.push(p.json_row(spec)?);
            }
        }
        ImportFormat::Json => {
            if !p.accept_p(P::LBracket) {
                return p.fail("[ expected");
            }
            loop {
                rows.push(p.json_row(spec)?);
                if p.accept_p(P::Comma) {
                    continue;
                }
                if p.accept_p(P::RBracket) {
                    break;
                }
                return p.fail("] expected");
            }
            if !at_eof(&p) {
                return p.fail("eof expected");
            }
        }
    }
    Ok(rows)
}

fn at_eof(p: &Parser) -> bool {
    matches!(p.peek(), Tok::Eof)
}

impl Parser {
    /// `v1, v2, ...`: one value per listed column, commas between them.
    fn import_values(&mut self, spec: ImportSpec) -> Result<Vec<Expr>> {
        let all: Vec<usize>;
        let list = match spec.list {
            Some(list) => list,
            None => {
                all = (0..spec.columns.len()).collect();
                &all
            }
        };
        let mut row = Vec::with_capacity(list.len());
        for (i, &c) in list.iter().enumerate() {
            if i > 0 && !self.accept_p(P::Comma) {
                return self.fail(MSG_COLUMNS);
            }
            row.push(self.import_value(spec.columns.get(c))?);
        }
        Ok(row)
    }

    /// `[v, ...]` or `{"col": v, ...}`.
    fn json_row(&mut self, spec: ImportSpec) -> Result<ImportRow> {
        match self.peek() {
            Tok::P(P::LBracket) => {
                self.advance();
                let row = self.import_values(spec)?;
                if !self.accept_p(P::RBracket) {
                    return self.fail(MSG_COLUMNS);
                }
                Ok(ImportRow::Values(row))
            }
            Tok::P(P::LBrace) => match spec.list {
                // the whole object is the value of the one listed column
                Some(&[c]) => Ok(ImportRow::Values(vec![
                    self.import_value(spec.columns.get(c))?
                ])),
                Some([]) => {
                    self.advance();
                    if !self.accept_p(P::RBrace) {
                        return self.fail("} expected");
                    }
                    Ok(ImportRow::Values(Vec::new()))
                }
                Some(_) => self.fail("JSON column list must have zero or one value"),
                None => {
                    self.advance();
                    let members = self.import_object(spec.columns)?;
                    if !self.accept_p(P::RBrace) {
                        return self.fail("} expected");
                    }
                    Ok(ImportRow::Object(members))
                }
            },
            _ => self.fail("json object or array expected"),
        }
    }

    /// `"col": v, ...` after the `{`: keys must be column names, each at most once.
    fn import_object(&mut self, columns: &[ImportColumn]) -> Result<Vec<(usize, Expr)>> {
        let mut members: Vec<(usize, Expr)> = Vec::new();
        while let Tok::Str(key) = self.peek() {
            let key = key.clone();
            self.advance();
            if !self.accept_p(P::Colon) {
                return self.fail("{\"key\"<:> expected");
            }
            let Some(c) = columns.iter().position(|col| col.name == key) else {
                return self.fail_kind(
                    ErrorKind::NotFound,
                    format!("column '{key}' does not exists"),
                );
            };
            if members.iter().any(|(m, _)| *m == c) {
                return self.fail(format!("column <{key}> value is redefined"));
            }
            members.push((c, self.import_value(columns.get(c))?));
            if !self.accept_p(P::Comma) {
                break;
            }
        }
        Ok(members)
    }

    /// One INSERT VALUES literal for `column`; each value starts a fresh expression tree.
    /// Anything else is reported like Amelie does, against the column.
    fn import_value(&mut self, column: Option<&ImportColumn>) -> Result<Expr> {
        self.h = 0;
        self.max_h = 0;
        match self.value() {
            Err(e) if e.kind() == ErrorKind::BadExpression => match column {
                Some(col) => Err(Error::type_error(format!(
                    "column <{}> value expected to be '{}'",
                    col.name, col.ty
                ))),
                None => Err(e),
            },
            r => r,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use amelie_common::Json;

    const COLS: [ImportColumn; 3] = [
        ImportColumn {
            name: "id",
            ty: "int",
        },
        ImportColumn {
            name: "name",
            ty: "string",
        },
        ImportColumn {
            name: "data",
            ty: "json",
        },
    ];

    fn spec(format: ImportFormat, list: Option<&'static [usize]>) -> ImportSpec<'static> {
        ImportSpec {
            format,
            columns: &COLS,
            list,
        }
    }

    fn err(body: &str, s: ImportSpec) -> String {
        parse_import(body, s).unwrap_err().msg().to_string()
    }

    fn values(rows: Vec<ImportRow>) -> Vec<Vec<Expr>> {
        rows.into_iter()
            .map(|r| match r {
                ImportRow::Values(v) => v,
                ImportRow::Object(_) => panic!("object row"),
            })
            .collect()
    }

    #[test]
    fn content_types() {
        use ImportFormat as F;
        assert_eq!(F::from_content_type("text/csv"), Some(F::Csv));
        assert_eq!(
            F::from_content_type("application/json; charset=utf-8"),
            Some(F::Json)
        );
        assert_eq!(F::from_content_type("application/jsonl"), Some(F::Jsonl));
        assert_eq!(F::from_content_type("text/plain"), None);
    }

    #[test]
    fn csv_rows_by_counting_columns() {
        let s = spec(ImportFormat::Csv, Some(&[0, 1]));
        let rows = parse_import("1, 'a'\n-2,\"b\" 3, null\n", s).unwrap();
        assert_eq!(
            values(rows),
            vec![
                vec![Expr::Int(1), Expr::String("a".into())],
                vec![Expr::Int(-2), Expr::String("b".into())],
                vec![Expr::Int(3), Expr::Null],
            ]
        );
        assert!(parse_import("", s).unwrap().is_empty());
        let all = spec(ImportFormat::Csv, None);
        assert_eq!(values(parse_import("1, 'a', [1]", all).unwrap()).len(), 1);
    }

    #[test]
    fn csv_errors() {
        let s = spec(ImportFormat::Csv, Some(&[0, 1]));
        assert_eq!(err("1, 2, 3\n", s), MSG_COLUMNS);
        assert_eq!(err("1, 2\n3\n", s), MSG_COLUMNS);
        assert_eq!(err("1, 'x\n", s), "unterminated string");
        assert_eq!(err("x, 'y'\n", s), "column <id> value expected to be 'int'");
        assert_eq!(
            err("1, y\n", s),
            "column <name> value expected to be 'string'"
        );
        // an empty column list: no rows are fine, a row is not
        for body in ["", "\n", " \n\n "] {
            let rows = parse_import(body, spec(ImportFormat::Csv, Some(&[]))).unwrap();
            assert!(rows.is_empty(), "{body:?}");
        }
        assert_eq!(
            err("1", spec(ImportFormat::Csv, Some(&[]))),
            "CSV import with empty column list is not supported"
        );
    }

    #[test]
    fn jsonl_arrays_and_objects() {
        let rows = parse_import(
            "[1, 'a', [1,2]]\n{\"data\": {\"x\": 1}, 'id': 2,}\n{}",
            spec(ImportFormat::Jsonl, None),
        )
        .unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(
            rows[0],
            ImportRow::Values(vec![
                Expr::Int(1),
                Expr::String("a".into()),
                Expr::JsonLiteral(Json::Array(vec![Json::Int(1), Json::Int(2)]))
            ])
        );
        assert_eq!(
            rows[1],
            ImportRow::Object(vec![
                (
                    2,
                    Expr::JsonLiteral(Json::Object(vec![("x".into(), Json::Int(1))]))
                ),
                (0, Expr::Int(2)),
            ])
        );
        assert_eq!(rows[2], ImportRow::Object(vec![]));
    }

    #[test]
    fn object_errors() {
        let s = spec(ImportFormat::Jsonl, None);
        assert_eq!(err("{\"id\" 1}", s), "{\"key\"<:> expected");
        assert_eq!(err("{\"nope\": 1}", s), "column 'nope' does not exists");
        assert_eq!(
            err("{\"id\": 1, \"id\": 2}", s),
            "column <id> value is redefined"
        );
        assert_eq!(err("{\"id\": 1 \"name\": 'x'}", s), "} expected");
        assert_eq!(err("{1: 2}", s), "} expected");
    }

    #[test]
    fn json_document() {
        let s = spec(ImportFormat::Json, Some(&[0]));
        assert_eq!(values(parse_import("[[1], [2]]", s).unwrap()).len(), 2);
        let empty = spec(ImportFormat::Json, Some(&[]));
        assert_eq!(
            values(parse_import("[[], [], {}]", empty).unwrap()),
            vec![vec![], vec![], vec![]]
        );
        assert_eq!(err("[]", s), "json object or array expected");
        assert_eq!(err("[1]", s), "json object or array expected");
        assert_eq!(err("[[1]", s), "] expected");
        assert_eq!(err("[[1]] [2]", s), "eof expected");
        assert_eq!(err("{[1]}", s), "[ expected");
        assert_eq!(err("[[1, 2]]", s), MSG_COLUMNS);
        assert_eq!(err("[[]]", s), "column <id> value expected to be 'int'");
        let two = spec(ImportFormat::Json, None);
        assert_eq!(err("[[1]]", two), MSG_COLUMNS);
        assert_eq!(
            err("[1] 2", spec(ImportFormat::Jsonl, Some(&[0]))),
            "json object or array expected"
        );
    }

    #[test]
    fn object_with_column_list() {
        let whole = spec(ImportFormat::Jsonl, Some(&[2]));
        assert_eq!(
            parse_import("{\"a\": 1}", whole).unwrap(),
            vec![ImportRow::Values(vec![Expr::JsonLiteral(Json::Object(
                vec![("a".into(), Json::Int(1))]
            ))])]
        );
        assert_eq!(
            err("{\"a\": 1}", spec(ImportFormat::Jsonl, Some(&[0, 2]))),
            "JSON column list must have zero or one value"
        );
        assert_eq!(
            err("{\"id\": 1}", spec(ImportFormat::Jsonl, Some(&[]))),
            "} expected"
        );
    }

    /// The client cuts bodies into batches at the row boundaries of
    /// `amelie_common::import_rows`: parsing every row alone must give the rows of the whole
    /// body, and an open string there is the lexer's `unterminated string`.
    #[test]
    fn client_row_boundaries_agree_with_the_lexer() {
        use amelie_common::import_rows::{split_rows, Unclosed};
        let csv = spec(ImportFormat::Csv, None);
        let jsonl = spec(ImportFormat::Jsonl, None);
        let cases = [
            (
                "1, 'a', [1]\n2, \"b\nc\", {\"x\": 1}\r\n\r\n3,'d\\'e', null",
                csv,
            ),
            (
                "-- head 'x\n-1, 'a', [1, -- 'y\n2]\n4, 'it\\'s', \"\"\n",
                csv,
            ),
            ("5, '-- no comment', '/* nor this'\n6, '}', '['", csv),
            (
                "[1, 'a', [1]]\n{\"id\": 2,\n\"data\": {\"y\":\n[1]}}\n\n{}\n",
                jsonl,
            ),
            ("{'id': 3, 'name': '\n{'}\n[4, null, \"]\"]", jsonl),
        ];
        for (body, s) in cases {
            let whole = parse_import(body, s).unwrap_or_else(|e| panic!("{body:?}: {e}"));
            let mut each = Vec::new();
            for (range, _) in split_rows(body.as_bytes(), 1).unwrap() {
                let rows = parse_import(&body[range.clone()], s).unwrap();
                assert_eq!(rows.len(), 1, "{:?}", &body[range]);
                each.extend(rows);
            }
            assert_eq!(each, whole, "{body:?}");
        }
        for body in ["1, 'a\n", "1, \"a\\\"\n"] {
            assert_eq!(err(body, csv), "unterminated string");
            let e = split_rows(body.as_bytes(), 1).unwrap_err();
            assert_eq!(
                (e.what, e.to_string().as_str()),
                (Unclosed::String, "unterminated string")
            );
        }
    }

    #[test]
    fn deep_nesting_is_an_error() {
        let body = format!("[{}]", "[".repeat(100_000));
        assert!(parse_import(&body, spec(ImportFormat::Jsonl, Some(&[2]))).is_err());
    }
}
