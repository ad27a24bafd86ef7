//! Parser tests: statement forms, precedence, lexical rules, error texts, robustness.

use crate::ast::*;
use crate::parse;
use amelie_common::{ColumnType, ErrorKind, Json};

fn ok(sql: &str) -> Request {
    match parse(sql) {
        Ok(r) => r,
        Err(e) => panic!("{sql:?} failed: {e}"),
    }
}

/// The message of a request that must fail to parse (shared with the modules' own tests).
pub(crate) fn err(sql: &str) -> String {
    match parse(sql) {
        Ok(r) => panic!("{sql:?} parsed: {r:?}"),
        Err(e) => e.msg().to_string(),
    }
}

/// The one statement of a request that must parse (shared with the modules' own tests).
pub(crate) fn one(sql: &str) -> Stmt {
    let mut r = ok(sql);
    assert_eq!(r.stmts.len(), 1, "{sql}");
    r.stmts.pop().unwrap()
}

fn select(sql: &str) -> Select {
    match one(sql) {
        Stmt::Select(s) => *s,
        s => panic!("not a select: {s:?}"),
    }
}

/// The single select item expression of `select <e>`.
fn expr(e: &str) -> Expr {
    let mut s = select(&format!("select {e}"));
    assert_eq!(s.items.len(), 1, "{e}");
    match s.items.pop().unwrap() {
        SelectItem::Expr { expr, alias: None } => expr,
        item => panic!("unexpected item {item:?}"),
    }
}

/// Compact s-expression form of an expression, for precedence tests.
fn sx(e: &Expr) -> String {
    match e {
        Expr::Param(p) => format!("${}", p.ord()),
        Expr::Null => "null".into(),
        Expr::Bool(b) => b.to_string(),
        Expr::Int(v) => v.to_string(),
        Expr::Double(v) => format!("{v:?}"),
        Expr::String(s) => format!("'{s}'"),
        Expr::Timestamp(s) => format!("ts'{s}'"),
        Expr::Interval(s) => format!("iv'{s}'"),
        Expr::CurrentTimestamp => "now".into(),
        Expr::JsonLiteral(j) => format!("json{{{j:?}}}"),
        Expr::Array(v) => format!("[{}]", v.iter().map(sx).collect::<Vec<_>>().join(" ")),
        Expr::Object(v) => format!(
            "{{{}}}",
            v.iter()
                .map(|(k, v)| format!("{}:{}", sx(k), sx(v)))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        Expr::Name(p) => p.join("."),
        Expr::Default => "default".into(),
        Expr::Unary { op, expr } => format!("({op:?} {})", sx(expr)),
        Expr::Binary { op, left, right } => format!("({op:?} {} {})", sx(left), sx(right)),
        Expr::IsNull { expr, negated } => {
            format!(
                "({} {})",
                if *negated { "IsNotNull" } else { "IsNull" },
                sx(expr)
            )
        }
        Expr::Between {
            expr,
            low,
            high,
            negated,
        } => format!(
            "({}Between {} {} {})",
            if *negated { "Not" } else { "" },
            sx(expr),
            sx(low),
            sx(high)
        ),
        Expr::In {
            expr,
            list,
            negated,
        } => format!(
            "({}In {} [{}])",
            if *negated { "Not" } else { "" },
            sx(expr),
            list.iter().map(sx).collect::<Vec<_>>().join(" ")
        ),
        Expr::Function { schema, name, args } => format!(
            "{}{name}({})",
            schema.as_ref().map(|s| format!("{s}.")).unwrap_or_default(),
            args.iter().map(sx).collect::<Vec<_>>().join(" ")
        ),
        Expr::Aggregate {
            func,
            arg,
            distinct,
        } => format!(
            "{func:?}({}{})",
            if *distinct { "distinct " } else { "" },
            arg.as_ref().map(|a| sx(a)).unwrap_or_else(|| "*".into())
        ),
        Expr::Index { expr, index } => format!("{}[{}]", sx(expr), sx(index)),
        Expr::Field { expr, name } => format!("{}->{name}", sx(expr)),
        Expr::Case {
            operand,
            whens,
            else_,
        } => format!(
            "(case{}{}{})",
            operand
                .as_ref()
                .map(|o| format!(" {}", sx(o)))
                .unwrap_or_default(),
            whens
                .iter()
                .map(|(w, t)| format!(" when {} then {}", sx(w), sx(t)))
                .collect::<String>(),
            else_
                .as_ref()
                .map(|e| format!(" else {}", sx(e)))
                .unwrap_or_default()
        ),
        Expr::Subquery(_) => "(subquery)".into(),
        Expr::Exists(_) => "(exists)".into(),
        Expr::Lambda { seed, expr } => format!("(Lambda {} {})", sx(seed), sx(expr)),
        Expr::AnyAll {
            left,
            op,
            all,
            right,
        } => format!(
            "({op:?}{} {} {})",
            if *all { "All" } else { "Any" },
            sx(left),
            sx(right)
        ),
    }
}

fn sxe(e: &str) -> String {
    sx(&expr(e))
}

fn name(schema: Option<&str>, name: &str) -> ObjectName {
    ObjectName {
        schema: schema.map(Into::into),
        name: name.into(),
    }
}

fn s(v: &str) -> String {
    v.to_string()
}

// ---------------------------------------------------------------------------------------------
// Request structure

#[test]
fn request_framing() {
    assert_eq!(
        ok(""),
        Request {
            explain: false,
            stmts: vec![],
            ..Request::default()
        }
    );
    assert_eq!(
        ok("  ;; ; "),
        Request {
            explain: false,
            stmts: vec![],
            ..Request::default()
        }
    );
    assert_eq!(ok("begin commit").stmts.len(), 0);
    assert_eq!(ok("begin; commit").stmts.len(), 0);
    assert_eq!(ok("BEGIN; COMMIT;").stmts.len(), 0);
    assert_eq!(ok("begin select 1; commit").stmts.len(), 1);
    assert_eq!(ok("begin; select 1; select 2; commit;").stmts.len(), 2);
    assert_eq!(ok("select 1; select 2;").stmts.len(), 2);
    assert_eq!(ok("select 1;;select 2").stmts.len(), 2);
    let r = ok("explain select 1");
    assert!(r.explain);
    assert_eq!(r.stmts.len(), 1);
    assert!(ok("explain begin select 1; commit").explain);

    assert_eq!(err("begin"), "COMMIT expected at the end of transaction");
    assert_eq!(
        err("begin; select 1"),
        "COMMIT expected at the end of transaction"
    );
    assert_eq!(err("commit"), "unexpected COMMIT operation");
    assert_eq!(err("select 1; commit"), "unexpected COMMIT operation");
    assert_eq!(err("select 1; begin"), "unexpected BEGIN operation");
    assert_eq!(err("begin begin"), "unexpected BEGIN operation");
    assert_eq!(
        err("begin commit select 1"),
        "unexpected statement after COMMIT"
    );
    assert_eq!(
        err("begin; commit; select 1"),
        "unexpected statement after COMMIT"
    );
    // a statement ends with `;` or the end of the request, also before COMMIT
    assert_eq!(
        err("begin select 1 commit"),
        "unexpected token at the end of statement"
    );
    assert_eq!(
        err("begin; select 1 commit;"),
        "unexpected token at the end of statement"
    );
    assert_eq!(err("explain"), "EXPLAIN without command");
    assert_eq!(err("explain ;"), "EXPLAIN without command");
    assert_eq!(err("junk"), "unexpected statement");
    assert_eq!(err("1"), "unexpected statement");
    assert_eq!(
        err("select 1 select 2"),
        "unexpected token at the end of statement"
    );
}

#[test]
fn utility_must_be_alone() {
    let msg = "CTE and multi-statement utility commands are not supported";
    assert_eq!(err("create table t (id int primary key); select 1"), msg);
    assert_eq!(err("select 1; drop table t"), msg);
    assert_eq!(err("drop table a; drop table b"), msg);
    assert_eq!(ok("begin; drop table t; commit").stmts.len(), 1);
    assert_eq!(ok("create table t (id int primary key);").stmts.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Lexical rules

#[test]
fn minus_rule() {
    assert_eq!(expr("-1"), Expr::Int(-1));
    assert_eq!(expr("-1.5"), Expr::Double(-1.5));
    assert_eq!(sxe("- 1"), "(Neg 1)");
    assert_eq!(sxe("2 - 1"), "(Sub 2 1)");
    assert_eq!(sxe("a - 1"), "(Sub a 1)");
    assert_eq!(sxe("a-b"), "(Sub a b)");
    assert_eq!(sxe("a - -1"), "(Sub a -1)");
    assert_eq!(sxe("-a"), "(Neg a)");
    for sql in ["select 2-1", "select a-1", "select a -1", "select 1 -1"] {
        assert_eq!(
            err(sql),
            "unexpected token at the end of statement",
            "{sql}"
        );
    }
    assert_eq!(
        select("select * from t where id=-1").filter.map(|e| sx(&e)),
        Some(s("(Eq id -1)"))
    );
}

#[test]
fn numbers() {
    assert_eq!(expr("18446744073709551615"), Expr::Int(-1));
    assert_eq!(expr("9223372036854775807"), Expr::Int(i64::MAX));
    assert_eq!(expr("-9223372036854775807"), Expr::Int(-i64::MAX));
    assert_eq!(expr("4294967295"), Expr::Int(4294967295));
    assert_eq!(expr("1.0"), Expr::Double(1.0));
    assert_eq!(expr("1e3"), Expr::Double(1000.0));
    assert_eq!(expr("2.5E-1"), Expr::Double(0.25));
    assert_eq!(expr("0"), Expr::Int(0));
}

#[test]
fn strings_both_quotes() {
    assert_eq!(expr("'hello world'"), Expr::String(s("hello world")));
    assert_eq!(expr("\"hello world\""), Expr::String(s("hello world")));
    assert_eq!(expr("''"), Expr::String(s("")));
    assert_eq!(expr("\"\""), Expr::String(s("")));
    assert_eq!(expr(r#""a\"b""#), Expr::String(s("a\"b")));
    assert_eq!(expr(r#"'a\'b'"#), Expr::String(s("a'b")));
    assert_eq!(expr(r"'\\%'"), Expr::String(s("\\%")));
    assert_eq!(expr(r"'a\nb'"), Expr::String(s("a\nb")));
    assert_eq!(err("select 'abc"), "unterminated string");
    assert_eq!(err("select \"abc"), "unterminated string");
    assert_eq!(err("select 'abc\\'"), "unterminated string");
    // No '' doubling: two adjacent strings.
    assert_eq!(
        err("select 'a''b'"),
        "unexpected token at the end of statement"
    );
    // The tokenizer error is reported where Amelie's lazy lexer would see it.
    assert_eq!(
        err("select 1 2 'abc"),
        "unexpected token at the end of statement"
    );
    // No quoted identifiers.
    assert_eq!(err("select * from \"t\""), "FROM target name expected");
}

#[test]
fn keywords_and_identifiers() {
    assert_eq!(
        ok("SELECT 1 FROM T WHERE X = 1"),
        ok("select 1 from T where X = 1")
    );
    let sel = select("select Abc, aBC from MyTable");
    assert_eq!(sel.from[0].table, name(None, "MyTable"));
    assert_eq!(
        sel.items,
        vec![
            SelectItem::Expr {
                expr: Expr::Name(vec![s("Abc")]),
                alias: None
            },
            SelectItem::Expr {
                expr: Expr::Name(vec![s("aBC")]),
                alias: None
            },
        ]
    );
    assert_eq!(expr("_select"), Expr::Name(vec![s("_select")]));
    assert_eq!(expr("a$b"), Expr::Name(vec![s("a$b")]));
    assert_eq!(expr("NULL"), Expr::Null);
    assert_eq!(expr("True"), Expr::Bool(true));
    assert_eq!(expr("false"), Expr::Bool(false));
    assert_eq!(expr("current_timestamp"), Expr::CurrentTimestamp);
    assert_eq!(ok("select 1 -- comment\n").stmts.len(), 1);
}

#[test]
fn compound_names() {
    assert_eq!(expr("t.id"), Expr::Name(vec![s("t"), s("id")]));
    assert_eq!(expr("a.b.c"), Expr::Name(vec![s("a"), s("b"), s("c")]));
    assert_eq!(
        expr("excluded.id"),
        Expr::Name(vec![s("excluded"), s("id")])
    );
    assert_eq!(expr("t.select"), Expr::Name(vec![s("t"), s("select")]));
    assert_eq!(
        expr("system.config().directory"),
        expr("system.config() . directory")
    );
    assert_eq!(
        sxe("system.config().directory"),
        "system.config()->directory"
    );
    assert_eq!(sxe("a . b"), "a.b");
    assert_eq!(
        select("select t.*, s.t.*, * from t").items,
        vec![
            SelectItem::QualifiedWildcard(s("t")),
            SelectItem::QualifiedWildcard(s("s.t")),
            SelectItem::Wildcard
        ]
    );
    assert_eq!(
        err("select t.* + 1"),
        "unexpected token at the end of statement"
    );
    assert_eq!(err("select 1 + t.*"), "bad expression");
}

// ---------------------------------------------------------------------------------------------
// Expressions

#[test]
fn precedence() {
    let cases = [
        ("1 + 2 * 3", "(Add 1 (Mul 2 3))"),
        ("1 * 2 + 3", "(Add (Mul 1 2) 3)"),
        ("1 - 2 - 3", "(Sub (Sub 1 2) 3)"),
        ("8 / 2 / 2", "(Div (Div 8 2) 2)"),
        ("a or b and c", "(Or a (And b c))"),
        ("a and b or c", "(Or (And a b) c)"),
        ("a = 1 and b = 2", "(And (Eq a 1) (Eq b 2))"),
        ("a = b < c", "(Eq a (Lt b c))"),
        ("a < b = c", "(Eq (Lt a b) c)"),
        ("a <> b", "(NotEq a b)"),
        ("a <= b", "(LtEq a b)"),
        ("a >= b", "(GtEq a b)"),
        ("a > b", "(Gt a b)"),
        ("a < b | c", "(Lt a (BitOr b c))"),
        ("a | b ^ c", "(BitOr a (BitXor b c))"),
        ("a ^ b & c", "(BitXor a (BitAnd b c))"),
        ("a & b << c", "(BitAnd a (Shl b c))"),
        ("a >> b + c", "(Shr a (Add b c))"),
        ("a || b || c", "(Concat (Concat a b) c)"),
        ("a + b || c", "(Concat (Add a b) c)"),
        ("a + b % c", "(Add a (Mod b c))"),
        ("- a * b", "(Mul (Neg a) b)"),
        ("~a + 1", "(Add (BitNot a) 1)"),
        ("not a = b", "(Eq (Not a) b)"),
        ("not a and b", "(And (Not a) b)"),
        ("not not a", "(Not (Not a))"),
        ("- - a", "(Neg (Neg a))"),
        ("-a::int", "(Neg int(a))"),
        ("a::int + 1", "(Add int(a) 1)"),
        ("(1 + 2) * 3", "(Mul (Add 1 2) 3)"),
        ("a like 'x%' and b", "(And (Like a 'x%') b)"),
        ("a not like 'x'", "(NotLike a 'x')"),
        ("a = b like c", "(Like (Eq a b) c)"),
        ("a like b || c", "(Like a (Concat b c))"),
        ("a is null", "(IsNull a)"),
        ("a is not null", "(IsNotNull a)"),
        ("a = 1 is null", "(IsNull (Eq a 1))"),
        ("a + 1 is not null or b", "(Or (IsNotNull (Add a 1)) b)"),
        ("a between 1 and 10", "(Between a 1 10)"),
        (
            "a not between 1 and 10 and b",
            "(And (NotBetween a 1 10) b)",
        ),
        ("a + 1 between -1 and 'z'", "(Between (Add a 1) -1 'z')"),
        (
            "a between timestamp '2020-01-01' and interval '1 day'",
            "(Between a ts'2020-01-01' iv'1 day')",
        ),
        ("a in (1, 2, b + 1)", "(In a [1 2 (Add b 1)])"),
        ("a not in ()", "(NotIn a [])"),
        ("a in (select 1)", "(In a [(subquery)])"),
        ("a < b in (1)", "(In (Lt a b) [1])"),
        ("a = b in (1)", "(Eq a (In b [1]))"),
        ("ts at timezone 'UTC'", "at_timezone(ts 'UTC')"),
        ("a = ts at timezone 'UTC'", "(Eq a at_timezone(ts 'UTC'))"),
        ("1 = 1 = true", "(Eq (Eq 1 1) true)"),
    ];
    for (input, want) in cases {
        assert_eq!(sxe(input), want, "{input}");
    }
}

#[test]
fn postfix() {
    let cases = [
        ("a[0]", "a[0]"),
        ("a[0][1]", "a[0][1]"),
        ("a.b[0].c", "a.b[0]->c"),
        ("{\"id\":48}.id", "json{Object([(\"id\", Int(48))])}->id"),
        (
            "{\"a\": {\"b\": 1}}.a.b",
            "json{Object([(\"a\", Object([(\"b\", Int(1))]))])}->a->b",
        ),
        ("[1,2].'0'", "json{Array([Int(1), Int(2)])}->0"),
        ("a.'key'", "a->key"),
        ("x::int", "int(x)"),
        ("x::int()", "int(x)"),
        ("x::f(1, 2)", "f(x 1 2)"),
        (
            "x::public.set('a', 1)::unset('b')",
            "unset(public.set(x 'a' 1) 'b')",
        ),
        ("x::vector[1]", "vector(x)[1]"),
        ("'1'::timestamp", "timestamp('1')"),
        ("1::type::length", "length(type(1))"),
        ("x :: string", "string(x)"),
        ("x::set", "set(x)"),
        ("x::like('%a%')", "like(x '%a%')"),
        ("(a + 1)::string", "string((Add a 1))"),
        ("f(a)[0]", "f(a)[0]"),
        ("[null][0]", "json{Array([Null])}[0]"),
    ];
    for (input, want) in cases {
        assert_eq!(sxe(input), want, "{input}");
    }
    assert_eq!(err("select 1::"), "bad '::' expression");
    assert_eq!(err("select 1::()"), "bad '::' expression");
    assert_eq!(err("select 1::[]()"), "bad '::' expression");
    assert_eq!(
        err("select 1 :: schema.name.name()"),
        "schema.name.name(): bad function call"
    );
    assert_eq!(
        err("select 1::schema.name.name"),
        "schema.name.name(): bad function call"
    );
    assert_eq!(err("select [[1,2,3], 5, [7]].0"), "bad '.' expression");
    assert_eq!(err("select {\"a\": 1}.0"), "bad '.' expression");
    assert_eq!(err("select a."), "bad '.' expression");
    assert_eq!(err("select 1[]"), "bad expression");
    assert_eq!(err("select [][]"), "bad expression");
    assert_eq!(err("select a[1"), "expected ']'");
}

#[test]
fn literals_and_constructors() {
    assert_eq!(
        expr("timestamp '2024-01-01 00:00:00'"),
        Expr::Timestamp(s("2024-01-01 00:00:00"))
    );
    assert_eq!(
        expr("TIMESTAMP \"2024-01-01\""),
        Expr::Timestamp(s("2024-01-01"))
    );
    assert_eq!(expr("interval '1 hour'"), Expr::Interval(s("1 hour")));
    assert_eq!(sxe("timestamp('x', 'UTC')"), "timestamp('x' 'UTC')");
    assert_eq!(sxe("interval('1 day')"), "interval('1 day')");
    assert_eq!(expr("[]"), Expr::JsonLiteral(Json::Array(vec![])));
    assert_eq!(expr("{}"), Expr::JsonLiteral(Json::Object(vec![])));
    assert_eq!(
        expr("[1, -2, 1.5, 'a', \"b\", null, true, [], {}]"),
        Expr::JsonLiteral(Json::Array(vec![
            Json::Int(1),
            Json::Int(-2),
            Json::Double(1.5),
            Json::String(s("a")),
            Json::String(s("b")),
            Json::Null,
            Json::Bool(true),
            Json::Array(vec![]),
            Json::Object(vec![]),
        ]))
    );
    assert_eq!(
        expr("{\"a\": 1, 'b': [timestamp '2024-07-29 18:40:19', interval '1 week 2 weeks']}"),
        Expr::JsonLiteral(Json::Object(vec![
            (s("a"), Json::Int(1)),
            (
                s("b"),
                Json::Array(vec![
                    Json::String(s("2024-07-29 18:40:19")),
                    Json::String(s("1 week 2 weeks"))
                ])
            ),
        ]))
    );
    // Non-constant constructors stay expressions.
    assert_eq!(sxe("[1, a, 2 + 3]"), "[1 a (Add 2 3)]");
    assert_eq!(
        sxe("[[1,2,3]::vector]"),
        "[vector(json{Array([Int(1), Int(2), Int(3)])})]"
    );
    assert_eq!(sxe("{\"a\": a, \"b\": 1}"), "{'a':a 'b':1}");
    assert_eq!(sxe("{a: 1}"), "{a:1}");
    assert_eq!(sxe("[current_timestamp]"), "[now]");
    assert_eq!(sxe("[ select 123 ]"), "[(subquery)]");
    assert_eq!(sxe("{\"id\": select 1, 2 }"), "{'id':(subquery)}");
    assert_eq!(
        sxe("vector [1.0, 2]"),
        "vector(json{Array([Double(1.0), Int(2)])})"
    );
    assert_eq!(err("select {\"a\"}"), "{}: {name <:>} expected");
    assert_eq!(err("select {\"a\""), "{}: {name <:>} expected");
    assert_eq!(err("select {\"a\": 0, \"b\"}"), "{}: {name <:>} expected");
    assert_eq!(err("select {\"a\":"), "bad expression");
    assert_eq!(err("select {\"a\":}"), "bad expression");
    assert_eq!(err("select {\"a\":,}"), "bad expression");
    assert_eq!(err("select {\"a\": 0, \"b\":}"), "bad expression");
    assert_eq!(err("select [1,"), "bad expression");
    assert_eq!(err("select [1"), "expected ']'");
}

#[test]
fn functions_and_aggregates() {
    assert_eq!(sxe("now()"), "now()");
    assert_eq!(sxe("f(1, a, 'x')"), "f(1 a 'x')");
    assert_eq!(sxe("system.config()"), "system.config()");
    assert_eq!(
        sxe("public.json_import(public.string([1]))"),
        "public.json_import(public.string(json{Array([Int(1)])}))"
    );
    assert_eq!(sxe("set({}, 'a', 1)"), "set(json{Object([])} 'a' 1)");
    assert_eq!(sxe("replace('a', 'b', 'c')"), "replace('a' 'b' 'c')");
    assert_eq!(sxe("error('x')"), "error('x')");
    assert_eq!(sxe("random()"), "random()");
    assert_eq!(sxe("serial('public', 't')"), "serial('public' 't')");
    assert_eq!(sxe("unset({}, 'a')"), "unset(json{Object([])} 'a')");
    assert_eq!(sxe("extract(year from ts)"), "extract('year' ts)");
    assert_eq!(sxe("extract('year', ts)"), "extract('year' ts)");
    assert_eq!(
        sxe("EXTRACT('min' FROM INTERVAL '1 hour')"),
        "extract('min' iv'1 hour')"
    );
    assert_eq!(sxe("EXTRACT(min FROM x)"), "extract('min' x)");
    assert_eq!(sxe("TIMESTAMP('x')"), "timestamp('x')");
    assert_eq!(sxe("x::TIMESTAMP::Foo::SET(1)"), "set(Foo(timestamp(x)) 1)");
    assert_eq!(sxe("VECTOR [1]"), "vector(json{Array([Int(1)])})");
    assert_eq!(expr("SELF"), Expr::Name(vec![s("self")]));
    assert_eq!(sxe("Now()"), "Now()");
    assert_eq!(sxe("count(*)"), "Count(*)");
    assert_eq!(sxe("COUNT(distinct a)"), "Count(distinct a)");
    assert_eq!(
        sxe("sum(a + 1) / count(a)"),
        "(Div Sum((Add a 1)) Count(a))"
    );
    assert_eq!(sxe("avg(a)"), "Avg(a)");
    assert_eq!(sxe("min(a)"), "Min(a)");
    assert_eq!(sxe("max(a)"), "Max(a)");
    assert_eq!(err("select a.b.c(1)"), "a.b.c(): bad function call");
    assert_eq!(err("select f(1"), "expected ')'");
    assert_eq!(err("select f(1,"), "bad expression");
    assert_eq!(
        err("select like('hello, world', 'hello%world')"),
        "bad expression"
    );
    assert_eq!(err("select count"), "bad expression");
    assert_eq!(err("select sum(*)"), "bad expression");
}

#[test]
fn case_exists_subquery() {
    assert_eq!(
        sxe("case when a then 1 else 2 end"),
        "(case when a then 1 else 2)"
    );
    assert_eq!(
        sxe("case a when 1 then 'x' when 2 then 'y' end"),
        "(case a when 1 then 'x' when 2 then 'y')"
    );
    assert_eq!(sxe("case else 1 end"), "(case else 1)");
    assert_eq!(sxe("exists (select 1)"), "(exists)");
    assert_eq!(sxe("not exists (select 1 from t)"), "(Not (exists))");
    assert_eq!(sxe("(select 1) + 1"), "(Add (subquery) 1)");
    assert_eq!(
        sxe("(select id from t where id = 1)::type"),
        "type((subquery))"
    );

    let cases = [
        ("select case", "bad expression"),
        ("select case end", "CASE <WHEN|ELSE> expected"),
        ("select case else", "bad expression"),
        ("select case else end", "bad expression"),
        ("select case 1", "CASE <expr> expected"),
        ("select case 1 then", "CASE <expr> expected"),
        ("select case when 1 then 1", "CASE <expr> expected"),
        ("select case when 1", "CASE WHEN expr <THEN> expected"),
        (
            "select case when 1=0 then 1 when 1=3 when 1=1 then 2 end",
            "CASE WHEN expr <THEN> expected",
        ),
        (
            "select case 1 when 1 then 1 else 3 else 4 end",
            "CASE ELSE redefined",
        ),
        ("select exists", "EXISTS <(> expected"),
        ("select exists 1", "EXISTS <(> expected"),
        ("select exists (", "EXISTS (<SELECT> expected"),
        ("select exists ()", "EXISTS (<SELECT> expected"),
        ("select exists (1)", "EXISTS (<SELECT> expected"),
        ("select exists (select 1", "expected ')'"),
        ("select (1", "expected ')'"),
        ("select (select 1", "expected ')'"),
    ];
    for (sql, want) in cases {
        assert_eq!(err(sql), want, "{sql}");
    }
}

#[test]
fn operator_errors() {
    let cases = [
        ("select", "bad expression"),
        ("select,", "bad expression"),
        ("select from", "bad expression"),
        ("select 1 and", "bad expression"),
        ("select 1 or", "bad expression"),
        ("select and", "bad expression"),
        ("select or", "bad expression"),
        ("select not", "bad expression"),
        ("select not []", "bad expression"),
        ("select not like", "bad expression"),
        ("select like", "bad expression"),
        ("select like 1", "bad expression"),
        ("select 1 like", "bad expression"),
        ("select in", "bad expression"),
        ("select is", "bad expression"),
        ("select 1 * where false", "bad expression"),
        ("select ->", "bad expression"),
        ("select 1 is", "bad expression"),
        ("select 1 is not", "bad expression"),
        ("select 1 is 1", "IS [NOT] <NULL> expected"),
        ("select 1 is not 1", "IS [NOT] <NULL> expected"),
        ("select 1 in", "IN <(> expected"),
        ("select 1 in [", "IN <(> expected"),
        ("select 1 in true", "IN <(> expected"),
        ("select 1 in (", "bad expression"),
        ("select 1 in (1", "expected ')'"),
        ("select 1 between", "error BETWEEN const value expected"),
        ("select 1 between and", "error BETWEEN const value expected"),
        (
            "select 1 between 0 and",
            "error BETWEEN const value expected",
        ),
        (
            "select 1 between a and 1",
            "error BETWEEN const value expected",
        ),
        ("select 1 between 0", "BETWEEN expr <AND> expected"),
        ("select 1 between 0 1", "BETWEEN expr <AND> expected"),
        ("select 1 between 0 or", "BETWEEN expr <AND> expected"),
        (
            "select null null",
            "unexpected token at the end of statement",
        ),
        ("select null 1", "unexpected token at the end of statement"),
        ("select 1 != 2", "unexpected token at the end of statement"),
        ("select 1 == 2", "unexpected token at the end of statement"),
        ("select $1", "bad expression"),
        ("select `a`", "bad expression"),
        ("select 1 /* comment */", "bad expression"),
        ("select é", "bad expression"),
        // HAVING only after GROUP BY
        (
            "select count(*) from t having count(*) > 0",
            "unexpected token at the end of statement",
        ),
        (
            "select 1 having 1 > 0",
            "unexpected token at the end of statement",
        ),
        (
            "select a from t group by a order by a having count(*) > 0",
            "unexpected token at the end of statement",
        ),
    ];
    for (sql, want) in cases {
        assert_eq!(err(sql), want, "{sql}");
    }
}

// ---------------------------------------------------------------------------------------------
// SELECT

#[test]
fn select_distinct_on() {
    let sel = select("select distinct on (a, b + 1) a, c from t");
    assert!(sel.distinct);
    assert_eq!(sel.distinct_on.len(), 2);
    assert_eq!(sel.distinct_on[0], Expr::Name(vec![s("a")]));
    assert_eq!(sel.items.len(), 2);
    assert!(select("select distinct a from t").distinct_on.is_empty());
    // without DISTINCT, `on` is not a clause
    assert!(!err("select on (a) from t").is_empty());
    assert!(err("select distinct on a from t").contains("DISTINCT ON <(> expected"));
    assert!(err("select distinct on (a from t").contains("DISTINCT ON (<)> expected"));
    assert!(!err("select distinct on () a from t").is_empty());
}

#[test]
fn select_full() {
    let sel = select(
        "select distinct a, b as x, c y, count(*) format 'json-obj' from public.t as t1, u u1, v \
         where a > 1 group by a, b having count(*) > 1 order by a, b desc, c asc limit 10 offset 5",
    );
    assert!(sel.distinct);
    assert_eq!(sel.items.len(), 4);
    assert_eq!(
        sel.items[1],
        SelectItem::Expr {
            expr: Expr::Name(vec![s("b")]),
            alias: Some(s("x"))
        }
    );
    assert_eq!(
        sel.items[2],
        SelectItem::Expr {
            expr: Expr::Name(vec![s("c")]),
            alias: Some(s("y"))
        }
    );
    assert_eq!(sel.format.as_deref(), Some("json-obj"));
    assert_eq!(
        sel.from,
        vec![
            FromItem {
                table: name(Some("public"), "t"),
                alias: Some(s("t1")),
                subquery: None,
                use_index: None,
                function: None
            },
            FromItem {
                table: name(None, "u"),
                alias: Some(s("u1")),
                subquery: None,
                use_index: None,
                function: None
            },
            FromItem {
                table: name(None, "v"),
                alias: None,
                subquery: None,
                use_index: None,
                function: None
            },
        ]
    );
    assert_eq!(sel.filter.as_ref().map(sx), Some(s("(Gt a 1)")));
    assert_eq!(
        sel.group_by.iter().map(sx).collect::<Vec<_>>(),
        vec!["a", "b"]
    );
    assert_eq!(sel.having.as_ref().map(sx), Some(s("(Gt Count(*) 1)")));
    assert_eq!(
        sel.order_by
            .iter()
            .map(|o| (sx(&o.expr), o.asc))
            .collect::<Vec<_>>(),
        vec![(s("a"), true), (s("b"), false), (s("c"), true)]
    );
    assert_eq!(sel.limit, Some(Expr::Int(10)));
    assert_eq!(sel.offset, Some(Expr::Int(5)));

    let sel = select("select 1");
    assert!(!sel.distinct && sel.from.is_empty() && sel.format.is_none());
    let sel = select("select * format \"json-pretty\" from t alias where x");
    assert_eq!(sel.items, vec![SelectItem::Wildcard]);
    assert_eq!(sel.format.as_deref(), Some("json-pretty"));
    assert_eq!(sel.from[0].alias.as_deref(), Some("alias"));
    assert_eq!(
        select("select 1 as count").items[0],
        SelectItem::Expr {
            expr: Expr::Int(1),
            alias: Some(s("count"))
        }
    );
    assert_eq!(
        select("select *, *").items,
        vec![SelectItem::Wildcard, SelectItem::Wildcard]
    );
    assert_eq!(
        select("select a from t limit 1 + 1").limit.as_ref().map(sx),
        Some(s("(Add 1 1)"))
    );
}

#[test]
fn select_errors() {
    let cases = [
        ("select 1 from", "FROM target name expected"),
        ("select 1 from \"test\"", "FROM target name expected"),
        ("select 1 from 1 where", "FROM target name expected"),
        ("select 1 from a.b.c", "FROM target name expected"),
        ("select 1 format", "FORMAT <string> expected"),
        ("select 1 format json", "FORMAT <string> expected"),
        ("select 1 from t group", "GROUP <BY> expected"),
        ("select 1 from t group a", "GROUP <BY> expected"),
        ("select 1 from t order", "ORDER <BY> expected"),
        ("select 1 from t order a", "ORDER <BY> expected"),
        ("select 1 from t where", "bad expression"),
        ("select 1 from t limit", "bad expression"),
        ("select 1 as", "AS <label> expected"),
        ("select 1 from t as", "AS <label> expected"),
        (
            "select 1 from t where a b",
            "unexpected token at the end of statement",
        ),
        (
            "select 1 from t junk junk",
            "unexpected token at the end of statement",
        ),
        (
            "select 1 format 'json' format 'json'",
            "unexpected token at the end of statement",
        ),
    ];
    for (sql, want) in cases {
        assert_eq!(err(sql), want, "{sql}");
    }
}

// ---------------------------------------------------------------------------------------------
// DML

#[test]
fn insert_values() {
    let Stmt::Insert(ins) = one(
        "insert into t values (1, -2, 1.5, 'a', \"b\", null, true, false, default, [1, \"x\"], \
         {\"a\": 'x'}, timestamp '2024-01-01', interval '1 day', current_timestamp, vector [1.0])",
    ) else {
        panic!()
    };
    assert_eq!(ins.table, name(None, "t"));
    assert_eq!(ins.columns, None);
    assert!(ins.on_conflict.is_none() && ins.returning.is_none());
    let InsertSource::Values(rows) = ins.source else {
        panic!()
    };
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0],
        vec![
            Expr::Int(1),
            Expr::Int(-2),
            Expr::Double(1.5),
            Expr::String(s("a")),
            Expr::String(s("b")),
            Expr::Null,
            Expr::Bool(true),
            Expr::Bool(false),
            Expr::Default,
            Expr::JsonLiteral(Json::Array(vec![Json::Int(1), Json::String(s("x"))])),
            Expr::JsonLiteral(Json::Object(vec![(s("a"), Json::String(s("x")))])),
            Expr::Timestamp(s("2024-01-01")),
            Expr::Interval(s("1 day")),
            Expr::CurrentTimestamp,
            Expr::Function {
                schema: None,
                name: s("vector"),
                args: vec![Expr::JsonLiteral(Json::Array(vec![Json::Double(1.0)]))]
            },
        ]
    );

    let Stmt::Insert(ins) = one("insert into s.t (a, b) values (1, 2), (3, 4),(5,6)") else {
        panic!()
    };
    assert_eq!(ins.table, name(Some("s"), "t"));
    assert_eq!(ins.columns, Some(vec![s("a"), s("b")]));
    assert_eq!(
        ins.source,
        InsertSource::Values(vec![
            vec![Expr::Int(1), Expr::Int(2)],
            vec![Expr::Int(3), Expr::Int(4)],
            vec![Expr::Int(5), Expr::Int(6)],
        ])
    );
    // Empty lists, optional commas between values, rows of different widths (compiler checks).
    let Stmt::Insert(ins) = one("insert into t () values (), ()") else {
        panic!()
    };
    assert_eq!(ins.columns, Some(vec![]));
    assert_eq!(ins.source, InsertSource::Values(vec![vec![], vec![]]));
    let Stmt::Insert(ins) = one("insert into t values (1 2 'x'), (1)") else {
        panic!()
    };
    assert_eq!(
        ins.source,
        InsertSource::Values(vec![
            vec![Expr::Int(1), Expr::Int(2), Expr::String(s("x"))],
            vec![Expr::Int(1)]
        ])
    );
}

#[test]
fn insert_generate_select_conflict_returning() {
    let Stmt::Insert(ins) = one("insert into t generate 10") else {
        panic!()
    };
    assert_eq!(ins.source, InsertSource::Generate(10));
    let Stmt::Insert(ins) = one("insert into t generate 0") else {
        panic!()
    };
    assert_eq!(ins.source, InsertSource::Generate(0));
    assert_eq!(
        err("insert into t generate -1"),
        "GENERATE <count> must not be negative"
    );
    assert_eq!(
        err("insert into t generate -9223372036854775808"),
        "GENERATE <count> must not be negative"
    );

    let Stmt::Insert(ins) =
        one("insert into t select a, b from u where a > 0 on conflict do nothing")
    else {
        panic!()
    };
    let InsertSource::Select(sel) = &ins.source else {
        panic!()
    };
    assert_eq!(sel.from[0].table, name(None, "u"));
    assert_eq!(ins.on_conflict, Some(OnConflict::Nothing));

    for (sql, want) in [
        (
            "insert into t values (1) on conflict do nothing",
            OnConflict::Nothing,
        ),
        (
            "insert into t values (1) on conflict do error",
            OnConflict::Error,
        ),
        (
            "insert into t values (1) ON CONFLICT DO RESOLVE",
            OnConflict::Resolve,
        ),
    ] {
        let Stmt::Insert(ins) = one(sql) else {
            panic!()
        };
        assert_eq!(ins.on_conflict, Some(want), "{sql}");
    }

    let Stmt::Insert(ins) = one(
        "insert into t values (1, 2) on conflict do update set data = data + excluded.data, \
         doc.a.b = 1, x = default where id > 0 returning *, id as k format 'json-obj'",
    ) else {
        panic!()
    };
    let Some(OnConflict::Update { set, filter }) = ins.on_conflict else {
        panic!()
    };
    assert_eq!(set.len(), 3);
    assert_eq!(set[0].column, "data");
    assert!(set[0].path.is_empty());
    assert_eq!(
        set[0].value.as_ref().map(sx),
        Some(s("(Add data excluded.data)"))
    );
    assert_eq!(set[1].column, "doc");
    assert_eq!(set[1].path, vec![s("a"), s("b")]);
    assert_eq!(set[2].value, None);
    assert_eq!(filter.as_ref().map(sx), Some(s("(Gt id 0)")));
    let returning = ins.returning.unwrap();
    assert_eq!(returning.items.len(), 2);
    assert_eq!(returning.items[0], SelectItem::Wildcard);
    assert_eq!(returning.format.as_deref(), Some("json-obj"));

    let Stmt::Insert(ins) = one("insert into t values (1),(2),(3) returning *") else {
        panic!()
    };
    assert_eq!(
        ins.returning,
        Some(Returning {
            items: vec![SelectItem::Wildcard],
            format: None
        })
    );
}

#[test]
fn insert_errors() {
    let cases = [
        ("insert", "INSERT <INTO> expected"),
        ("insert junk", "INSERT <INTO> expected"),
        ("insert into", "FROM target name expected"),
        ("insert into \"name\"", "FROM target name expected"),
        ("insert into 1", "FROM target name expected"),
        ("insert into test", "INSERT INTO <VALUES | SELECT> expected"),
        (
            "insert into test 1",
            "INSERT INTO <VALUES | SELECT> expected",
        ),
        ("insert into test values", "expected '('"),
        ("insert into test values 1", "expected '('"),
        ("insert into test values (1),", "expected '('"),
        ("insert into test values(123", "expected ')'"),
        ("insert into test values(123 +", "expected ')'"),
        ("insert into test values(1 + 1)", "expected ')'"),
        ("insert into test values(a)", "bad expression"),
        (
            "insert into test values(1, 0) 123",
            "unexpected token at the end of statement",
        ),
        (
            "insert into test (id, data) values (123, 123, 123)",
            "expected ')'",
        ),
        ("insert into test (id) values (1), (1 2)", "expected ')'"),
        ("insert into test () values (1)", "expected ')'"),
        (
            "insert into test (id) select 1",
            "INSERT SELECT using column list is not supported",
        ),
        ("insert into test generate", "GENERATE <count> expected"),
        (
            "insert into test generate \"10\"",
            "GENERATE <count> expected",
        ),
        (
            "insert into test values(1, 0) ON",
            "INSERT VALUES ON <CONFLICT> expected",
        ),
        (
            "insert into test values(1, 0) ON 123",
            "INSERT VALUES ON <CONFLICT> expected",
        ),
        (
            "insert into test values(1, 0) on conflict",
            "INSERT VALUES ON CONFLICT <DO> expected",
        ),
        (
            "insert into test values(1, 0) on conflict 123",
            "INSERT VALUES ON CONFLICT <DO> expected",
        ),
        (
            "insert into test values(1, 0) on conflict do",
            "INSERT VALUES ON CONFLICT DO <NOTHING | ERROR | UPDATE | RESOLVE> expected",
        ),
        (
            "insert into test values(1, 0) on conflict do 123",
            "INSERT VALUES ON CONFLICT DO <NOTHING | ERROR | UPDATE | RESOLVE> expected",
        ),
        (
            "insert into test values(1, 0) on conflict do update",
            "UPDATE <SET> expected",
        ),
        (
            "insert into test values(1, 0) on conflict do update set",
            "UPDATE name SET <name> expected",
        ),
        (
            "insert into test values(1, 0) on conflict do update set 123",
            "UPDATE name SET <name> expected",
        ),
        (
            "insert into test values(1, 0) on conflict do update set path",
            "UPDATE name SET column <=> expected",
        ),
        (
            "insert into test values(1, 0) on conflict do update set path =",
            "bad expression",
        ),
        ("insert into test values(1) returning", "bad expression"),
        (
            "insert into test values(1) returning * format",
            "FORMAT <string> expected",
        ),
    ];
    for (sql, want) in cases {
        assert_eq!(err(sql), want, "{sql}");
    }
}

#[test]
fn update_delete() {
    let Stmt::Update(upd) = one(
        "update public.t as x set a = a + 1, b = default, c.d.e = 'v' where id = 1 returning a",
    ) else {
        panic!()
    };
    assert_eq!(upd.table, name(Some("public"), "t"));
    assert_eq!(upd.alias.as_deref(), Some("x"));
    assert_eq!(upd.set.len(), 3);
    assert_eq!(
        upd.set[1],
        Assignment {
            column: s("b"),
            path: vec![],
            value: None
        }
    );
    assert_eq!(
        upd.set[2],
        Assignment {
            column: s("c"),
            path: vec![s("d"), s("e")],
            value: Some(Expr::String(s("v")))
        }
    );
    assert_eq!(upd.filter.as_ref().map(sx), Some(s("(Eq id 1)")));
    assert_eq!(upd.returning.as_ref().map(|r| r.items.len()), Some(1));

    let Stmt::Update(upd) = one("update t set a = 1") else {
        panic!()
    };
    assert!(upd.alias.is_none() && upd.filter.is_none() && upd.returning.is_none());
    let Stmt::Update(upd) = one("update t x set a = 1") else {
        panic!()
    };
    assert_eq!(upd.alias.as_deref(), Some("x"));

    let Stmt::Delete(del) = one("delete from t") else {
        panic!()
    };
    assert_eq!(
        del,
        Delete {
            table: name(None, "t"),
            alias: None,
            filter: None,
            returning: None
        }
    );
    let Stmt::Delete(del) = one("delete from s.t x where x.id > 1 returning * format 'json'")
    else {
        panic!()
    };
    assert_eq!(del.table, name(Some("s"), "t"));
    assert_eq!(del.alias.as_deref(), Some("x"));
    assert_eq!(del.filter.as_ref().map(sx), Some(s("(Gt x.id 1)")));
    assert_eq!(del.returning.unwrap().format.as_deref(), Some("json"));

    let cases = [
        ("update", "FROM target name expected"),
        ("update;", "FROM target name expected"),
        ("update 1;", "FROM target name expected"),
        ("update \"name\"", "FROM target name expected"),
        ("update test", "UPDATE <SET> expected"),
        ("update test path", "UPDATE <SET> expected"),
        ("update test \"path\"", "UPDATE <SET> expected"),
        ("update test 1", "UPDATE <SET> expected"),
        (
            "update test set path",
            "UPDATE name SET column <=> expected",
        ),
        (
            "update test set path /",
            "UPDATE name SET column <=> expected",
        ),
        ("update test set path =", "bad expression"),
        ("update test set 1 = 1", "UPDATE name SET <name> expected"),
        ("update test set a = 1,", "UPDATE name SET <name> expected"),
        (
            "update test set data.nested.list = default",
            "UPDATE DEFAULT cannot be used this way",
        ),
        (
            "update test set id = id expr",
            "unexpected token at the end of statement",
        ),
        ("delete", "DELETE <FROM> expected"),
        ("delete 1", "DELETE <FROM> expected"),
        ("delete junk", "DELETE <FROM> expected"),
        ("delete from", "FROM target name expected"),
        ("delete from \"name\"", "FROM target name expected"),
        ("delete from 1", "FROM target name expected"),
        ("delete from t where", "bad expression"),
        (
            "delete from t x y",
            "unexpected token at the end of statement",
        ),
    ];
    for (sql, want) in cases {
        assert_eq!(err(sql), want, "{sql}");
    }
}

// ---------------------------------------------------------------------------------------------
// DDL

#[test]
fn create_table() {
    let Stmt::CreateTable(ct) = one(
        "create unlogged shared table if not exists s.t (id int primary key serial, \
         name text not null default 'x', doc json default {\"a\": [1]}, r int64 random (100), \
         q i32 random, d double default 1, ts timestamp, v vector, iv interval) with (type = 'hash')",
    ) else {
        panic!()
    };
    assert!(ct.if_not_exists && ct.shared && ct.unlogged);
    assert_eq!(ct.name, name(Some("s"), "t"));
    assert_eq!(ct.primary_key, vec![s("id")]);
    assert_eq!(ct.index_type.as_deref(), Some("hash"));
    let c = &ct.columns;
    assert_eq!(c.len(), 9);
    assert_eq!(
        c[0],
        ColumnDef {
            name: s("id"),
            ty: ColumnType::Int32,
            not_null: true,
            default: None,
            serial: true,
            random: None,
            primary_key: true,
            stored: None,
            resolved: None,
        }
    );
    assert_eq!(c[1].ty, ColumnType::Text);
    assert!(c[1].not_null && !c[1].primary_key);
    assert_eq!(c[1].default, Some(Expr::String(s("x"))));
    assert_eq!(
        c[2].default,
        Some(Expr::JsonLiteral(Json::Object(vec![(
            s("a"),
            Json::Array(vec![Json::Int(1)])
        )])))
    );
    assert_eq!(c[3].random, Some(Some(100)));
    assert_eq!(c[3].ty, ColumnType::Int64);
    assert_eq!(c[4].random, Some(None));
    assert_eq!(c[5].default, Some(Expr::Double(1.0)));
    assert_eq!(c[6].ty, ColumnType::Timestamp);
    assert_eq!(c[7].ty, ColumnType::Vector);
    assert_eq!(c[8].ty, ColumnType::Interval);

    let Stmt::CreateTable(ct) = one("create table t (a int, b text, c int, primary key (c, a))")
    else {
        panic!()
    };
    assert!(!ct.if_not_exists && !ct.shared && !ct.unlogged && ct.index_type.is_none());
    assert_eq!(ct.name, name(None, "t"));
    assert_eq!(ct.primary_key, vec![s("c"), s("a")]);
    assert!(ct.columns[0].primary_key && ct.columns[0].not_null);
    assert!(!ct.columns[1].primary_key && !ct.columns[1].not_null);
    assert!(ct.columns[2].primary_key && ct.columns[2].not_null);

    let Stmt::CreateTable(ct) =
        one("create distributed table t (id int primary key, primary key(id, id))")
    else {
        panic!()
    };
    assert!(!ct.shared);
    assert_eq!(ct.primary_key, vec![s("id")]);
    let Stmt::CreateTable(ct) = one("CREATE TABLE t (Id INT PRIMARY KEY) WITH (TYPE = 'Tree')")
    else {
        panic!()
    };
    assert_eq!(ct.columns[0].name, "Id");
    assert_eq!(ct.index_type.as_deref(), Some("tree"));
    let Stmt::CreateTable(ct) =
        one("create table t (id int default -1 primary key, d int default null)")
    else {
        panic!()
    };
    assert_eq!(ct.columns[0].default, Some(Expr::Int(-1)));
    assert_eq!(ct.columns[1].default, Some(Expr::Null));
}

#[test]
fn create_table_errors() {
    let cases = [
        (
            "create",
            "CREATE <USER|REPLICA|NODE|SCHEMA|TABLE|INDEX> expected",
        ),
        (
            "create junk",
            "CREATE <USER|REPLICA|NODE|SCHEMA|TABLE|INDEX> expected",
        ),
        ("create unique", "CREATE UNIQUE <INDEX> expected"),
        ("create unique table", "CREATE UNIQUE <INDEX> expected"),
        ("create table", "CREATE TABLE <name> expected"),
        ("create table \"junk_name\"", "CREATE TABLE <name> expected"),
        ("create table if", "IF <NOT> EXISTS expected"),
        ("create table if not", "IF NOT <EXISTS> expected"),
        ("create table if not exists", "CREATE TABLE <name> expected"),
        ("create table 1234", "CREATE TABLE <name> expected"),
        (
            "create table if not exists 1234",
            "CREATE TABLE <name> expected",
        ),
        ("create table test(", "(<name> expected"),
        ("create table test(0", "(<name> expected"),
        ("create table test(\"123\"", "(<name> expected"),
        ("create table test(name", "name <> unrecognized column type"),
        (
            "create table test(name junk_type",
            "name <junk_type> unrecognized column type",
        ),
        (
            "create table if not exists test(name junk_type",
            "name <junk_type> unrecognized column type",
        ),
        (
            "create table test(name int",
            "CREATE TABLE name (name type <,)> expected",
        ),
        ("create table test(name int,", "(<name> expected"),
        ("create table test(name int,)", "(<name> expected"),
        (
            "create table test(name int) junk",
            "primary key is not defined",
        ),
        ("create table test()", "(<name> expected"),
        ("create table test(id int, id int)", "<id> column redefined"),
        ("create table test(id int)", "primary key is not defined"),
        ("create table test(primary)", "PRIMARY <KEY> expected"),
        ("create table test(primary key(", "KEY (<name> expected"),
        ("create table test(primary key()", "KEY (<name> expected"),
        ("create table test(primary key())", "KEY (<name> expected"),
        (
            "create table test(primary key(abc))",
            "<abc> column does not exists",
        ),
        (
            "create table test(id int, primary key())",
            "KEY (<name> expected",
        ),
        (
            "create table test(id int, primary key(id, ))",
            "KEY (<name> expected",
        ),
        (
            "create table test(primary key(id), id int)",
            "<id> column does not exists",
        ),
        (
            "create table test(id int, primary key(idd))",
            "<idd> column does not exists",
        ),
        (
            "create table test(id int primary key primary key)",
            "PRIMARY KEY defined twice",
        ),
        (
            "create table test(id json primary key)",
            "<id> column key can be text, int32, int64 or timestamp",
        ),
        (
            "create table test(id json, primary key(id))",
            "<id> column key can be text, int32, int64 or timestamp",
        ),
        (
            "create table test (id int primary key, data int default 1 + 1)",
            "column <data> DEFAULT value must be a const and match the column type <int>",
        ),
        (
            "create table test (id int primary key, data vector default 1)",
            "DEFAULT for column <data> is not supported",
        ),
        (
            "create table test (id int primary key, data timestamp default 1)",
            "DEFAULT for column <data> is not supported",
        ),
        (
            "create table test (id int primary key, data interval default 1)",
            "DEFAULT for column <data> is not supported",
        ),
        (
            "create table test (id int primary key, data int default 'string')",
            "column <data> DEFAULT value must be a const and match the column type <int>",
        ),
        (
            "create table test (id int primary key, data int default 3.4)",
            "column <data> DEFAULT value must be a const and match the column type <int>",
        ),
        (
            "create table test (id int primary key, data string default 1)",
            "column <data> DEFAULT value must be a const and match the column type <string>",
        ),
        (
            "create shared table test (id int primary key, data int not)",
            "NOT <NULL> expected",
        ),
        (
            "create table test (id string serial primary key)",
            "SERIAL column <id> must be int or int64",
        ),
        (
            "create table test (id int primary key) with",
            "WITH <(> expected",
        ),
        (
            "create table test (id int primary key) with (",
            "WITH (<name> expected",
        ),
        (
            "create table test (id int primary key) with (,",
            "WITH (<name> expected",
        ),
        (
            "create table test (id int primary key) with (abc",
            "WITH: <abc> unrecognized parameter",
        ),
        (
            "create table test (id int primary key) with (abc = \"\")",
            "WITH: <abc> unrecognized parameter",
        ),
        (
            "create table test (id int primary key) with (abc = 10)",
            "WITH: <abc> unrecognized parameter",
        ),
        (
            "create table test (id int primary key) with (type = 1",
            "WITH (type = <string>) expected",
        ),
        (
            "create table test (id int primary key) with (type = 'type'",
            "WITH: unknown primary index type",
        ),
        (
            "create table test (id int primary key) with (type = 'tree',",
            "WITH (<name> expected",
        ),
        (
            "create table test (id int primary key) x",
            "unexpected token at the end of statement",
        ),
    ];
    for (sql, want) in cases {
        assert_eq!(err(sql), want, "{sql}");
    }
}

#[test]
fn drop_table() {
    assert_eq!(
        one("drop table t"),
        Stmt::DropTable {
            if_exists: false,
            name: name(None, "t")
        }
    );
    assert_eq!(
        one("DROP TABLE IF EXISTS s.t"),
        Stmt::DropTable {
            if_exists: true,
            name: name(Some("s"), "t")
        }
    );
    let cases = [
        (
            "drop",
            "DROP <USER|REPLICA|NODE|SCHEMA|TABLE|INDEX> expected",
        ),
        (
            "drop 1",
            "DROP <USER|REPLICA|NODE|SCHEMA|TABLE|INDEX> expected",
        ),
        ("drop table", "DROP TABLE <name> expected"),
        ("drop table \"name\"", "DROP TABLE <name> expected"),
        ("drop table if", "IF <EXISTS> expected"),
        ("drop table if not", "IF <EXISTS> expected"),
        ("drop table if exists", "DROP TABLE <name> expected"),
        (
            "drop table name junk",
            "unexpected token at the end of statement",
        ),
    ];
    for (sql, want) in cases {
        assert_eq!(err(sql), want, "{sql}");
    }
}

// ---------------------------------------------------------------------------------------------
// Robustness

/// Tiny deterministic PRNG (xorshift64*), to avoid a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const VALID: &[&str] = &[
    "create unlogged shared table if not exists s.t (id int primary key serial, name text not null default 'x', doc json default {\"a\": [1, -2.5]}, r int64 random (100)) with (type = 'hash')",
    "create table t (a int, b text, primary key (a, b))",
    "drop table if exists public.t",
    "insert into t (a, b) values (1, 'x'), (-2, \"y\"), (default, null) on conflict do update set b = excluded.b || 'z', doc.a = [1] where a > 0 returning *, a as k format 'json-obj'",
    "insert into t generate 100",
    "insert into t select * from u on conflict do nothing",
    "explain begin; select distinct a, t.*, count(*), sum(b + 1) format 'json' from public.t as x, u where a between -1 and 10 and b not in (1, 2, select 3) or not c like 'x%' group by a having count(*) > 1 order by a desc, b limit 10 offset 2; commit;",
    "select case when a is not null then a::int::string else 'n' end, exists (select 1), (select 1), {\"a\": [1, {\"b\": a}]}.a[0].b, extract(year from ts), ts at timezone 'UTC', ~a << 2 >> 1 & 3 ^ 4 | 5 % 6 / 7 * 8",
    "update t x set a = a + 1, b.c.d = 'e' where id = 1 returning a",
    "delete from t where id in (1, 2) returning *",
    "select timestamp '2024-01-01' + interval '1 day', vector [1.0, 2], current_timestamp",
];

#[test]
fn never_panics_on_prefixes() {
    for sql in VALID {
        assert!(parse(sql).is_ok(), "{sql}: {:?}", parse(sql));
        for (i, _) in sql.char_indices() {
            let _ = parse(&sql[..i]);
            let _ = parse(&sql[i..]);
        }
    }
}

#[test]
fn never_panics_on_garbage() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    // Random bytes (lossily decoded) ...
    for _ in 0..3000 {
        let len = rng.below(64);
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let _ = parse(&String::from_utf8_lossy(&bytes));
    }
    // ... random printable ASCII with a bias towards SQL punctuation ...
    let charset = b"abcxyz019 _.,;:()[]{}'\"\\-+*/%<>=!|&^~$@#?`\n\t";
    for _ in 0..5000 {
        let len = rng.below(40);
        let s: String = (0..len)
            .map(|_| charset[rng.below(charset.len())] as char)
            .collect();
        let _ = parse(&s);
    }
    // ... and random sequences of dialect tokens.
    let vocab: Vec<&str> = VALID.iter().flat_map(|s| s.split_whitespace()).collect();
    let extra = [
        "select",
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        ",",
        ";",
        "::",
        ".",
        "-",
        "-1",
        "'s'",
        "\"s\"",
        "not",
        "null",
        "is",
        "in",
        "between",
        "and",
        "case",
        "when",
        "then",
        "else",
        "end",
        "exists",
        "from",
        "where",
        "insert",
        "into",
        "values",
        "update",
        "set",
        "delete",
        "create",
        "table",
        "drop",
        "begin",
        "commit",
        "explain",
        "primary",
        "key",
        "with",
        "default",
        "on",
        "conflict",
        "do",
        "returning",
        "format",
        "count(*)",
        "t.*",
        "a.b",
        "1.5",
        ":",
        "=",
        "*",
    ];
    for _ in 0..20000 {
        let len = rng.below(16);
        let mut s = String::new();
        for _ in 0..len {
            let t = if rng.below(2) == 0 {
                vocab[rng.below(vocab.len())]
            } else {
                extra[rng.below(extra.len())]
            };
            s.push_str(t);
            if rng.below(4) != 0 {
                s.push(' ');
            }
        }
        let _ = parse(&s);
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    for (open, close) in [
        ("(", ")"),
        ("[", "]"),
        ("- ", ""),
        ("~", ""),
        ("not ", ""),
        ("{'a': ", "}"),
        ("(select ", ")"),
        ("a[", "]"),
    ] {
        let depth = 100_000;
        let sql = format!("select {}1{}", open.repeat(depth), close.repeat(depth));
        assert!(parse(&sql).is_err(), "{open}");
        // Moderate nesting is fine.
        let sql = format!("select {}1{}", open.repeat(50), close.repeat(50));
        assert!(parse(&sql).is_ok(), "{open}: {:?}", parse(&sql));
    }
    // Long flat chains build a deep left spine: bounded too (and not a crash while dropping).
    for (item, n_ok) in [
        (" + 1", 400),
        ("::f", 400),
        ("[0]", 400),
        (".'a'", 400),
        (" or a is null", 200),
    ] {
        let sql = format!("select x{}", item.repeat(n_ok));
        assert!(parse(&sql).is_ok(), "{item}");
        let sql = format!("select x{}", item.repeat(100_000));
        assert_eq!(
            parse(&sql).unwrap_err().msg(),
            "expression is too deeply nested",
            "{item}"
        );
    }
    // A truncated long chain fails with the truncation error without overflowing on drop.
    let sql = format!("select 1{} +", " + 1".repeat(400));
    assert_eq!(err(&sql), "bad expression");
    // Wide is fine, up to the list limit (constant arrays: any width).
    let most = crate::parser::MAX_LIST;
    let sql = format!("select [{}]", vec!["1 + 1"; most].join(", "));
    assert!(parse(&sql).is_ok());
    let sql = format!("select [{}]", vec!["1"; 100_000].join(", "));
    assert!(parse(&sql).is_ok());
    let sql = format!("select 1 in ({})", vec!["a"; most].join(", "));
    assert!(parse(&sql).is_ok());
    let sql = format!("select 1 in ({})", vec!["a"; 100_000].join(", "));
    assert!(parse(&sql).is_err());
}

/// Height of an expression tree, computed without recursion.
fn height(root: &Expr) -> usize {
    fn select_exprs<'a>(s: &'a Select, out: &mut Vec<&'a Expr>) {
        for item in &s.items {
            if let SelectItem::Expr { expr, .. } = item {
                out.push(expr);
            }
        }
        out.extend(
            s.filter
                .iter()
                .chain(&s.group_by)
                .chain(&s.having)
                .chain(&s.limit)
                .chain(&s.offset),
        );
        out.extend(s.order_by.iter().map(|o| &o.expr));
    }
    let mut max = 0;
    let mut stack = vec![(root, 1)];
    while let Some((e, d)) = stack.pop() {
        max = max.max(d);
        let mut children: Vec<&Expr> = Vec::new();
        match e {
            Expr::Array(v) | Expr::In { list: v, .. } | Expr::Function { args: v, .. } => {
                children.extend(v)
            }
            Expr::Object(v) => children.extend(v.iter().flat_map(|(k, v)| [k, v])),
            Expr::Unary { expr, .. } | Expr::IsNull { expr, .. } | Expr::Field { expr, .. } => {
                children.push(expr)
            }
            Expr::Binary { left, right, .. } => children.extend([&**left, &**right]),
            Expr::Index { expr, index } => children.extend([&**expr, &**index]),
            Expr::Between {
                expr, low, high, ..
            } => children.extend([&**expr, &**low, &**high]),
            Expr::Aggregate { arg, .. } => children.extend(arg.as_deref()),
            Expr::Case {
                operand,
                whens,
                else_,
            } => {
                children.extend(operand.as_deref());
                children.extend(whens.iter().flat_map(|(w, t)| [w, t]));
                children.extend(else_.as_deref());
            }
            Expr::Subquery(s) | Expr::Exists(s) => select_exprs(s, &mut children),
            _ => {}
        }
        if let Expr::In { expr, .. } = e {
            children.push(expr);
        }
        stack.extend(children.into_iter().map(|c| (c, d + 1)));
    }
    max
}

#[test]
fn heights_are_bounded() {
    /// A random valid expression with about `budget` nodes.
    fn gen(rng: &mut Rng, budget: &mut i32, out: &mut String) {
        *budget -= 1;
        if *budget <= 0 {
            out.push_str(["1", "a", "'s'", "t.c", "null"][rng.below(5)]);
            return;
        }
        match rng.below(12) {
            0..=3 => {
                // Left-deep chains are the interesting case.
                gen(rng, budget, out);
                for _ in 0..rng.below(8) {
                    out.push_str([" + ", " or ", " = ", " || ", " * "][rng.below(5)]);
                    gen(rng, budget, out);
                }
            }
            4 => {
                out.push_str(["- ", "not ", "~"][rng.below(3)]);
                if out.ends_with("not ") {
                    // Amelie rejects `not [..]`.
                    out.push('(');
                    gen(rng, budget, out);
                    out.push(')');
                } else {
                    gen(rng, budget, out);
                }
            }
            5 => {
                out.push('(');
                gen(rng, budget, out);
                out.push(')');
                out.push_str(["::f", "[0]", ".x", "::g(1)", ""][rng.below(5)]);
            }
            6 => {
                out.push_str("f(");
                gen(rng, budget, out);
                out.push_str(", ");
                gen(rng, budget, out);
                out.push(')');
            }
            7 => {
                out.push('[');
                gen(rng, budget, out);
                out.push(']');
            }
            8 => {
                gen(rng, budget, out);
                out.push_str(" in (");
                gen(rng, budget, out);
                out.push(')');
            }
            9 => {
                out.push_str("case when ");
                gen(rng, budget, out);
                out.push_str(" then ");
                gen(rng, budget, out);
                out.push_str(" end");
            }
            10 => {
                out.push_str("(select ");
                gen(rng, budget, out);
                out.push_str(" from t where ");
                gen(rng, budget, out);
                out.push(')');
            }
            _ => {
                gen(rng, budget, out);
                out.push_str(" is not null");
            }
        }
    }
    let mut rng = Rng(42);
    let mut checked = 0;
    let mut rejected = 0;
    for _ in 0..2_000 {
        let mut budget = 1 + rng.below(400) as i32;
        let mut sql = String::from("select ");
        gen(&mut rng, &mut budget, &mut sql);
        match parse(&sql) {
            Ok(r) => {
                let Stmt::Select(s) = &r.stmts[0] else {
                    panic!()
                };
                let SelectItem::Expr { expr, .. } = &s.items[0] else {
                    panic!()
                };
                assert!(height(expr) <= 512, "{sql}");
                checked += 1;
            }
            Err(e) => {
                assert_eq!(e.msg(), "expression is too deeply nested", "{sql}");
                rejected += 1;
            }
        }
    }
    assert!(checked > 1000, "{checked} {rejected}");
    // Exact bound on a known shape.
    let sql = format!("select 1{}", " + 1".repeat(511));
    assert_eq!(height(&expr(&sql[7..])), 512);
    assert!(parse(&format!("select 1{}", " + 1".repeat(512))).is_err());
}

#[test]
fn any_all_lambda_and_from_subquery() {
    match expr("1 >= any([1, 2])") {
        Expr::AnyAll { op, all, .. } => {
            assert_eq!(op, BinaryOp::GtEq);
            assert!(!all);
        }
        other => panic!("unexpected {other:?}"),
    }
    match expr("1 = all(select 1)") {
        Expr::AnyAll { all, right, .. } => {
            assert!(all);
            assert!(matches!(*right, Expr::Subquery(_)));
        }
        other => panic!("unexpected {other:?}"),
    }
    match expr("1 + 2 -> self + 1") {
        Expr::Lambda { seed, expr } => {
            assert!(matches!(*seed, Expr::Binary { .. }));
            assert!(matches!(*expr, Expr::Binary { .. }));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(err("select 1 ->"), "bad expression");
    let sel = select("select * from (select 1) t");
    assert_eq!(sel.from.len(), 1);
    assert!(sel.from[0].subquery.is_some());
    assert_eq!(sel.from[0].alias.as_deref(), Some("t"));
}

#[test]
fn with_blocks() {
    let Stmt::With { ctes, main } = one("with a (x, y) as (select 1, 2), b as (select 3) select 1")
    else {
        panic!("WITH expected");
    };
    assert_eq!(ctes.len(), 2);
    assert_eq!(ctes[0].columns, vec![s("x"), s("y")]);
    assert!(main.is_some());
    let Stmt::With { main, .. } = one("with a as (select 1)") else {
        panic!("WITH expected");
    };
    assert!(main.is_none());
    assert_eq!(err("with a select 1"), "WITH name <AS> expected");
}

#[test]
fn generated_columns() {
    let req = crate::parse(
        "create table t (id int primary key, a int generated always as (id*2) stored, \
         b int default 1 as (f(b, 'x') + t.a) resolved)",
    )
    .unwrap();
    let Stmt::CreateTable(ct) = &req.stmts[0] else {
        panic!("create table expected");
    };
    assert_eq!(ct.columns[1].stored.as_deref(), Some("id * 2"));
    assert_eq!(ct.columns[2].resolved.as_deref(), Some("f(b, 'x') + t.a"));
    assert!(crate::parse("create table t (id int primary key, a int as (1))").is_err());
    assert!(
        crate::parse("create table t (id int primary key, a int generated as (1) stored)").is_err()
    );
    // the text parses back to the same expression
    let e = crate::parse_expr("[1, 2.5][0] :: string || 'a\\'b'").unwrap();
    let req =
        crate::parse("alter table t set column a as ([1, 2.5][0] :: string || 'a\\'b') stored")
            .unwrap();
    let Stmt::AlterTable { op, .. } = &req.stmts[0] else {
        panic!("alter table expected");
    };
    let AlterTableOp::SetGenerated {
        value: Some(text), ..
    } = op
    else {
        panic!("set generated expected");
    };
    assert_eq!(crate::parse_expr(text).unwrap(), e);
    let req =
        crate::parse("create table t (id int primary key, a int as (-1 - -a * f(-2)) stored)")
            .unwrap();
    let Stmt::CreateTable(ct) = &req.stmts[0] else {
        panic!("create table expected");
    };
    assert_eq!(ct.columns[1].stored.as_deref(), Some("-1 - -a * f(-2)"));
    assert!(crate::parse_expr("1 +").is_err());
    assert!(crate::parse_expr("1 2").is_err());
}

#[test]
fn join_syntax() {
    let sel = select("select * from a join b on a.id = b.id inner join c using (id) where a.x");
    assert_eq!(sel.from.len(), 3);
    assert!(matches!(
        sel.filter,
        Some(Expr::Binary {
            op: BinaryOp::And,
            ..
        })
    ));
    assert_eq!(
        err("select * from a left outer join b on true"),
        "outer joins currently are not supported"
    );
    assert_eq!(
        err("select * from a join b"),
        "JOIN <ON> or <USING> expected"
    );
}

#[test]
fn checkpoint_stmt() {
    use crate::ast::Stmt;
    let r = crate::parse("checkpoint").unwrap();
    assert!(matches!(r.stmts[0], Stmt::Checkpoint { workers: None }));
    let r = crate::parse("CHECKPOINT WORKERS 4").unwrap();
    assert!(matches!(r.stmts[0], Stmt::Checkpoint { workers: Some(4) }));
    assert!(crate::parse("checkpoint workers 0").is_err());
    assert!(crate::parse("checkpoint workers").is_err());
    assert!(crate::parse("checkpoint foo").is_err());
}

// Params mode (the program cache)

fn params(sql: &str) -> Request {
    match crate::parse_params(sql) {
        Ok(r) => r,
        Err(e) => panic!("{sql:?} failed: {e}"),
    }
}

#[test]
fn params_replace_expression_literals() {
    use amelie_common::Value;
    let r = params("update t set v = v + -5 where id = 7; select 'x', 1.5 from t");
    assert_eq!(
        r.params,
        vec![
            Value::Int(-5),
            Value::Int(7),
            Value::str("x"),
            Value::Double(1.5)
        ]
    );
    assert_eq!(r.baked, vec![false; 4]);
    let Stmt::Update(u) = &r.stmts[0] else {
        panic!("not an update")
    };
    assert_eq!(sx(u.filter.as_ref().unwrap()), "(Eq id $1)");
    // the same request parsed plainly has the literals themselves
    let plain = ok("update t set v = v + -5 where id = 7");
    let Stmt::Update(u) = &plain.stmts[0] else {
        panic!("not an update")
    };
    assert_eq!(sx(u.filter.as_ref().unwrap()), "(Eq id 7)");
    assert!(plain.params.is_empty() && plain.baked.is_empty());
}

#[test]
fn params_the_parser_uses_are_baked() {
    // GENERATE count, FORMAT name, folded JSON constants, typed literals, field names
    let r = params("insert into t generate 500");
    assert_eq!(r.baked, vec![true]);
    let r = params("select 1 format 'json-obj'");
    assert_eq!(r.baked, vec![false, true]);
    let r = params("select [1, 'a'], {'k': 2}, [x, 3]");
    assert_eq!(r.baked, vec![true, true, true, true, false]);
    let Stmt::Select(s) = &r.stmts[0] else {
        panic!("not a select")
    };
    let SelectItem::Expr { expr, .. } = &s.items[0] else {
        panic!("not an expression")
    };
    assert!(matches!(expr, Expr::JsonLiteral(_)));
    let r = params("select timestamp '2024-01-01', x.'f' from t limit 3");
    assert_eq!(r.baked, vec![true, true, false]);
    // INSERT VALUES items stay parameters
    let r = params("insert into t values (1, 'a'), (2, \"b\")");
    assert_eq!(r.baked, vec![false; 4]);
}

#[test]
fn names_lists_and_statements_are_bounded() {
    let name = |n: usize| vec!["a"; n].join(".");
    let max = crate::lexer::MAX_NAME_PARTS;
    ok(&format!("select {}", name(max)));
    ok(&format!("update t set {} = 1", name(max)));
    for sql in [
        format!("select {}", name(max + 1)),
        format!("select {{\"a\": 1}}.{}", name(60_000)),
        format!("update t set {} = 1", name(20_000)),
        format!("select 1 from t where {} = 1", name(max + 1)),
    ] {
        assert_eq!(err(&sql), "expression is too deeply nested");
    }
    let list = |n: usize| vec!["x"; n].join(", ");
    let most = crate::parser::MAX_LIST;
    ok(&format!("select {}", list(most)));
    ok(&format!("select f({})", list(most)));
    ok(&format!("select 1 where x in ({})", list(most)));
    // a constant array is one literal, of any length
    ok(&format!("select [{}]", vec!["1"; most * 2].join(", ")));
    let too_many = format!("too many items in one list (the limit is {most})");
    for sql in [
        format!("select {}", list(most + 1)),
        format!("select f({})", list(most + 1)),
        format!("select 1 where x in ({})", list(most + 1)),
        format!("select [{}]", list(most + 1)),
        format!("select 1 group by {}", list(most + 1)),
        format!("select 1 order by {}", list(most + 1)),
    ] {
        assert_eq!(err(&sql), too_many);
    }
    let most = crate::parser::MAX_STATEMENTS;
    assert_eq!(ok(&"select 1;".repeat(most)).stmts.len(), most);
    assert_eq!(
        err(&"select 1;".repeat(most + 1)),
        format!("too many statements in one request (the limit is {most})")
    );
}

#[test]
fn error_kinds() {
    let kind = |sql: &str| parse(sql).expect_err(sql).kind();
    assert_eq!(kind("select 1 + t.*"), ErrorKind::BadExpression);
    assert_eq!(kind("select 1 +"), ErrorKind::BadExpression);
    assert_eq!(kind("select )"), ErrorKind::BadExpression);
    assert_eq!(kind("selec 1"), ErrorKind::Syntax);
    assert_eq!(kind("select 'abc"), ErrorKind::Syntax);
    assert_eq!(
        kind("select 1 from t left join u on true"),
        ErrorKind::Unsupported
    );
    assert_eq!(kind("create table t (a int, a int)"), ErrorKind::Syntax);
    assert_eq!(
        kind(&"select 1;".repeat(crate::parser::MAX_STATEMENTS + 1)),
        ErrorKind::LimitReached
    );
    assert_eq!(
        kind(&format!("select {}1{}", "(".repeat(5000), ")".repeat(5000))),
        ErrorKind::LimitReached
    );
    assert_eq!(
        kind("create table t (a int, primary key (b))"),
        ErrorKind::NotFound
    );
}

#[test]
fn use_index_names_the_primary_index() {
    let sel = select("select * from t use index (primary)");
    assert_eq!(sel.from[0].use_index.as_deref(), Some("primary"));
    let sel = select("select * from t use index (i)");
    assert_eq!(sel.from[0].use_index.as_deref(), Some("i"));
    assert_eq!(
        err("select * from t use index (select)"),
        "USE INDEX (<name> expected"
    );
}
