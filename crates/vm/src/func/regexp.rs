//! The regexp_* functions on PCRE2, as in Amelie: the `pcre2` crate over the PCRE2 C library
//! (its bundled source, built and linked statically by `pcre2-sys`, see `.cargo/config.toml`).
//! Patterns are compiled in UTF mode (`.` is one character), JIT-compiled when the platform
//! supports it, and matched under explicit resource limits so that a pathological pattern ends
//! with an error instead of running away.

use super::{def, str_arg, Ctx, Def};
use amelie_common::{Error, Json, Result, Value};
use pcre2::bytes::{CaptureLocations, Regex as Pcre2, RegexBuilder};
use std::cell::RefCell;
use std::rc::Rc;

pub const DEFS: &[Def] = &[
    def("regexp_like", 2, 2, true, regexp_like),
    def("regexp_substr", 2, 2, true, regexp_substr),
    def("regexp_match", 2, 2, true, regexp_match),
    def("regexp_replace", 3, 3, true, regexp_replace),
];

/// PCRE2's match limit (its default, made explicit): calls of the internal match function
/// (interpreter) or backtracking steps (JIT) per match attempt.
const MATCH_LIMIT: u32 = 10_000_000;
/// Heap the interpreter may use for its backtracking frames, in KiB (256 MiB). PCRE2's own
/// default is 20 GB.
const HEAP_LIMIT_KIB: u32 = 256 * 1024;
/// Nesting depth of the interpreter's backtracking (bounded by the heap limit anyway).
const DEPTH_LIMIT: u32 = 1_000_000;
/// The JIT's stack: matching that needs more ends with an error.
const JIT_STACK: usize = 8 << 20;
/// Compiled patterns kept per thread.
const CACHE_SIZE: usize = 16;

/// The PCRE2 error codes of a resource limit (pcre2.h).
const PCRE2_ERROR_JIT_STACKLIMIT: i32 = -46;
const PCRE2_ERROR_MATCHLIMIT: i32 = -47;
const PCRE2_ERROR_NOMEMORY: i32 = -48;
const PCRE2_ERROR_DEPTHLIMIT: i32 = -53;
const PCRE2_ERROR_HEAPLIMIT: i32 = -63;

fn compile_err() -> Error {
    Error::syntax("regexp: failed to compile pattern")
}

fn match_err(e: &pcre2::Error) -> Error {
    match e.code() {
        PCRE2_ERROR_JIT_STACKLIMIT
        | PCRE2_ERROR_MATCHLIMIT
        | PCRE2_ERROR_NOMEMORY
        | PCRE2_ERROR_DEPTHLIMIT
        | PCRE2_ERROR_HEAPLIMIT => Error::limit_reached("regexp: match limit exceeded"),
        _ => Error::new("regexp: matching failed"),
    }
}

/// The pattern with our limits as PCRE2 start-of-pattern items (`(*LIMIT_MATCH=n)` …; the
/// crate has no match-context setters). A limit given in the pattern replaces an earlier one,
/// so ours go after the pattern's own leading option items, each the lower of ours and the
/// pattern's: a pattern can lower a limit but not raise it.
fn limited(pattern: &str) -> String {
    let mut limits = [
        ("LIMIT_MATCH", MATCH_LIMIT),
        ("LIMIT_HEAP", HEAP_LIMIT_KIB),
        ("LIMIT_DEPTH", DEPTH_LIMIT),
    ];
    let mut end = 0;
    while let Some(len) = option_item(&pattern[end..]) {
        let body = &pattern[end + 2..end + len - 1];
        if let Some((name, v)) = body.split_once('=') {
            for (limit, value) in limits.iter_mut() {
                if *limit == name {
                    *value = v.parse().map_or(*value, |v: u32| v.min(*value));
                }
            }
        }
        end += len;
    }
    let mut out = String::with_capacity(pattern.len() + 80);
    out.push_str(&pattern[..end]);
    for (limit, value) in limits {
        out.push_str(&format!("(*{limit}={value})"));
    }
    out.push_str(&pattern[end..]);
    out
}

/// Length of a leading start-of-pattern option item such as `(*UTF)` or `(*LIMIT_HEAP=10)`;
/// None for anything else, including the backtracking verbs (`(*FAIL)`, `(*COMMIT)`, …).
fn option_item(p: &str) -> Option<usize> {
    let rest = p.strip_prefix("(*")?;
    let close = rest.find(')')?;
    let body = &rest[..close];
    let name = body.split('=').next().unwrap_or("");
    let well_formed = !name.is_empty()
        && body
            .bytes()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_' || c == b'=');
    let verb = matches!(
        name,
        "ACCEPT" | "FAIL" | "F" | "COMMIT" | "PRUNE" | "SKIP" | "THEN" | "MARK"
    );
    (well_formed && !verb).then_some(close + 3)
}

/// A compiled pattern.
pub struct Regex {
    re: Pcre2,
}

/// A match: start (after `\K`), end and the capture spans (0 = whole match).
type Match = (usize, usize, Vec<Option<(usize, usize)>>);

impl Regex {
    pub fn new(pattern: &str) -> Result<Regex> {
        let re = RegexBuilder::new()
            .utf(true)
            .jit_if_available(true)
            .max_jit_stack_size(Some(JIT_STACK))
            .build(&limited(pattern))
            .map_err(|_| compile_err())?;
        Ok(Regex { re })
    }

    fn is_match(&self, s: &str) -> Result<bool> {
        self.re.is_match(s.as_bytes()).map_err(|e| match_err(&e))
    }

    /// First match at or after byte `from` (a character boundary, at most `s.len()`).
    fn find_at(&self, s: &str, from: usize) -> Result<Option<(usize, usize)>> {
        Ok(self
            .re
            .find_at(s.as_bytes(), from)
            .map_err(|e| match_err(&e))?
            .map(|m| (m.start(), m.end())))
    }

    /// First match with its capture groups.
    fn captures(&self, s: &str) -> Result<Option<Match>> {
        let mut locs: CaptureLocations = self.re.capture_locations();
        let Some(m) = self
            .re
            .captures_read(&mut locs, s.as_bytes())
            .map_err(|e| match_err(&e))?
        else {
            return Ok(None);
        };
        let caps = (0..locs.len()).map(|i| locs.get(i)).collect();
        Ok(Some((m.start(), m.end(), caps)))
    }
}

/// Text of a match. PCRE2 in UTF mode reports character boundaries with start <= end (`\K`
/// in a lookaround, which could break that, is a compile error by default).
fn text(s: &str, a: usize, b: usize) -> String {
    s.get(a..b).unwrap_or("").to_string()
}

/// Compiles the pattern argument. The last [`CACHE_SIZE`] patterns are kept per thread, so a
/// constant pattern (or a call site's repeated one) is compiled once, not per row.
fn compile(f: &str, a: &[Value]) -> Result<Rc<Regex>> {
    thread_local! {
        static CACHE: RefCell<Vec<(String, Rc<Regex>)>> = const { RefCell::new(Vec::new()) };
    }
    let p = str_arg(f, a, 1)?;
    if let Some(re) = CACHE.with(|c| {
        c.borrow()
            .iter()
            .find(|(k, _)| k == p)
            .map(|(_, r)| r.clone())
    }) {
        return Ok(re);
    }
    let re = Rc::new(Regex::new(p)?);
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= CACHE_SIZE {
            c.remove(0);
        }
        c.push((p.to_string(), re.clone()));
    });
    Ok(re)
}

fn regexp_like(_: &Ctx, a: &[Value]) -> Result<Value> {
    let s = str_arg("regexp_like", a, 0)?;
    let re = compile("regexp_like", a)?;
    Ok(Value::Bool(re.is_match(s)?))
}

fn regexp_substr(_: &Ctx, a: &[Value]) -> Result<Value> {
    let s = str_arg("regexp_substr", a, 0)?;
    let re = compile("regexp_substr", a)?;
    Ok(match re.find_at(s, 0)? {
        Some((x, y)) => Value::Str(text(s, x, y).into()),
        None => Value::Null,
    })
}

fn regexp_match(_: &Ctx, a: &[Value]) -> Result<Value> {
    let s = str_arg("regexp_match", a, 0)?;
    let re = compile("regexp_match", a)?;
    Ok(match re.captures(s)? {
        Some((_, _, caps)) => Value::Json(Box::new(Json::Array(
            caps.iter()
                .map(|c| match c {
                    Some((x, y)) => Json::String(text(s, *x, *y)),
                    None => Json::Null,
                })
                .collect(),
        ))),
        None => Value::Null,
    })
}

/// Every match replaced by `with` (taken literally). After an empty match the next
/// character is copied and the search resumes after it.
fn regexp_replace(_: &Ctx, a: &[Value]) -> Result<Value> {
    let s = str_arg("regexp_replace", a, 0)?;
    let re = compile("regexp_replace", a)?;
    let with = str_arg("regexp_replace", a, 2)?;
    let mut out = String::with_capacity(s.len());
    let mut pos = 0;
    while pos <= s.len() {
        match re.find_at(s, pos)? {
            Some((x, y)) => {
                let (Some(before), Some(after)) = (s.get(pos..x), s.get(y..)) else {
                    return Err(Error::new("regexp: matching failed"));
                };
                out.push_str(before);
                out.push_str(with);
                if y > x {
                    pos = y;
                } else {
                    match after.chars().next() {
                        Some(c) => {
                            out.push(c);
                            pos = y + c.len_utf8();
                        }
                        None => break,
                    }
                }
            }
            None => {
                out.push_str(&s[pos..]);
                break;
            }
        }
    }
    Ok(Value::Str(out.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Ctx {
        Ctx {
            now: 0,
            tz: amelie_common::Tz::UTC,
        }
    }

    fn strs(v: &[&str]) -> Vec<Value> {
        v.iter().map(|s| Value::Str((*s).into())).collect()
    }

    fn like(s: &str, p: &str) -> bool {
        match regexp_like(&ctx(), &strs(&[s, p])) {
            Ok(Value::Bool(b)) => b,
            other => panic!("regexp_like({s:?}, {p:?}): {other:?}"),
        }
    }

    fn sub(s: &str, p: &str) -> Option<String> {
        match regexp_substr(&ctx(), &strs(&[s, p])) {
            Ok(Value::Str(m)) => Some(m.to_string()),
            Ok(Value::Null) => None,
            other => panic!("regexp_substr({s:?}, {p:?}): {other:?}"),
        }
    }

    fn replace(s: &str, p: &str, with: &str) -> String {
        match regexp_replace(&ctx(), &strs(&[s, p, with])) {
            Ok(Value::Str(m)) => m.to_string(),
            other => panic!("regexp_replace({s:?}, {p:?}): {other:?}"),
        }
    }

    fn err(s: &str, p: &str) -> String {
        match regexp_like(&ctx(), &strs(&[s, p])) {
            Err(e) => e.to_string(),
            other => panic!("regexp_like({s:?}, {p:?}) should fail: {other:?}"),
        }
    }

    const COMPILE_ERR: &str = "regexp: failed to compile pattern";
    const LIMIT_ERR: &str = "regexp: match limit exceeded";

    #[test]
    fn features() {
        assert_eq!(sub("a(123)b", "([(])?[0-9]+(?(1)[)])").unwrap(), "(123)");
        assert_eq!(sub("aaa123", "[a-z]*\\K[0-9]*").unwrap(), "123");
        assert_eq!(sub("ab1", "[a-z](?![a-z])").unwrap(), "b");
        assert_eq!(sub("---abcd---xyz---", "\\b\\w{3}\\b").unwrap(), "xyz");
        assert_eq!(sub("/* c */ x", "/[*].*?[*]/").unwrap(), "/* c */");
        assert!(like(
            "<a href=\"../\">Up</a>",
            "<(?<tag>[a-z][a-z0-9]*)[^>]*>[^<]*</(?P=tag)>"
        ));
        assert_eq!(err("x", "("), COMPILE_ERR);
        // long inputs match on the caller's thread, without a deep native recursion
        let mid = format!("{}b", "a".repeat(100_000));
        assert_eq!(sub(&mid, "a*b").map(|m| m.len()), Some(100_001));
        assert_eq!(sub(&mid, "(a|c)*b").map(|m| m.len()), Some(100_001));
        assert_eq!(sub("aab", "a*b").unwrap(), "aab");
    }

    #[test]
    fn functions() {
        let m = regexp_match(
            &ctx(),
            &strs(&["foobarbequebazilbarfbonk", "(b[^b]+)(b[^b]+)"]),
        );
        assert_eq!(
            m.unwrap(),
            Value::Json(Box::new(Json::Array(vec![
                Json::String("barbeque".into()),
                Json::String("bar".into()),
                Json::String("beque".into()),
            ])))
        );
        // an unset group is null
        let m = regexp_match(&ctx(), &strs(&["b", "(a)?b"]));
        assert_eq!(
            m.unwrap(),
            Value::Json(Box::new(Json::Array(vec![
                Json::String("b".into()),
                Json::Null
            ])))
        );
        assert_eq!(
            regexp_match(&ctx(), &strs(&["x", "a"])).unwrap(),
            Value::Null
        );
        assert_eq!(replace("ABCAB", "(A)", "_"), "_BC_B");
        assert_eq!(
            replace("/* Comment1 */ i+= 1; /* Comment2 */", "/[*].*?[*]/", ""),
            " i+= 1; "
        );
        // empty matches step over whole characters; the replacement is literal
        assert_eq!(replace("hé", "x*", "-"), "-h-é-");
        assert_eq!(replace("ab", "b", "$0\\1"), "a$0\\1");
        assert_eq!(sub("x", "").unwrap(), "");
    }

    #[test]
    fn lookbehind() {
        assert_eq!(sub("ab", "(?<=a)b").unwrap(), "b");
    }

    #[test]
    fn negative_lookbehind() {
        assert!(!like("ab", "(?<!a)b"));
        assert!(like("cb", "(?<!a)b"));
    }

    #[test]
    fn inline_caseless() {
        assert_eq!(sub("xABC", "(?i)abc").unwrap(), "ABC");
    }

    #[test]
    fn atomic_group() {
        assert!(!like("abc", "(?>ab|a)bc"));
        assert!(like("abbc", "(?>ab|a)bc"));
    }

    #[test]
    fn negated_class_escape_in_class() {
        assert_eq!(sub("a b", "[\\W]").unwrap(), " ");
    }

    #[test]
    fn possessive_repeat() {
        assert!(!like("aaab", "a*+ab"));
    }

    #[test]
    fn dot_is_one_character() {
        assert!(like("héllo", "h.llo"));
        assert_eq!(sub("日本語", "^.").unwrap(), "日");
    }

    #[test]
    fn hex_escape() {
        assert_eq!(sub("xAy", "\\x41").unwrap(), "A");
    }

    #[test]
    fn g_backreference() {
        assert_eq!(sub("xaay", "(a)\\g1").unwrap(), "aa");
    }

    #[test]
    fn k_backreference() {
        assert_eq!(sub("xaay", "(?<x>a)\\k<x>").unwrap(), "aa");
    }

    #[test]
    fn quoted_literal() {
        assert_eq!(sub("a+b", "\\Q+\\E").unwrap(), "+");
    }

    #[test]
    fn dollar_before_final_newline() {
        assert_eq!(sub("123\n", "\\d+$").unwrap(), "123");
    }

    #[test]
    fn invalid_patterns() {
        for p in ["a{2,1}", "*a", "[z-a]", "x**"] {
            assert_eq!(err("a", p), COMPILE_ERR, "{p}");
        }
    }

    #[test]
    fn posix_class() {
        assert_eq!(sub("1a", "[[:alpha:]]").unwrap(), "a");
    }

    #[test]
    fn named_backreference() {
        assert!(like("aa", "(?<n>a)\\k<n>"));
        assert!(!like("ab", "(?<n>a)\\k<n>"));
    }

    #[test]
    fn nested_alternation_repeat_is_no_match() {
        assert!(!like(&"a".repeat(40), "(a|aa)*b"));
    }

    #[test]
    fn pathological_pattern_hits_the_limit() {
        let s = format!("{}zy", "x".repeat(40));
        assert_eq!(err(&s, "^(x+x+)+y"), LIMIT_ERR);
        // a limit in the pattern cannot raise ours
        assert_eq!(err(&s, "(*LIMIT_MATCH=4000000000)^(x+x+)+y"), LIMIT_ERR);
        // but a pattern's own lower limit and other leading options still work
        let short = format!("{}zy", "x".repeat(12));
        assert!(!like(&short, "^(x+x+)+y"));
        assert_eq!(err(&short, "(*LIMIT_MATCH=10)(*UTF)^(x+x+)+y"), LIMIT_ERR);
        assert!(like("ab", "(*UCP)(*NO_JIT)b"));
        assert!(!like("ab", "(*FAIL)|c"));
    }

    #[test]
    fn limited_pattern() {
        let l = limited("(*UTF)(*FAIL)a");
        assert!(l.starts_with("(*UTF)(*LIMIT_MATCH=10000000)"), "{l}");
        assert!(l.ends_with(")(*FAIL)a"), "{l}");
        let l = limited("(*LIMIT_HEAP=5)(*LIMIT_MATCH=99999999999)x");
        assert!(
            l.contains(")(*LIMIT_MATCH=10000000)(*LIMIT_HEAP=5)(*LIMIT_DEPTH="),
            "{l}"
        );
        assert_eq!(option_item("(*LIMIT_HEAP=10)x"), Some(16));
        assert_eq!(option_item("(*pla:a)"), None);
        assert_eq!(option_item("(*MARK:a)"), None);
        assert_eq!(option_item("(*"), None);
    }

    #[test]
    fn cache_reuses_compiled_patterns() {
        let a = compile("regexp_like", &strs(&["x", "cached+"])).unwrap();
        let b = compile("regexp_like", &strs(&["y", "cached+"])).unwrap();
        assert!(Rc::ptr_eq(&a, &b));
    }
}
