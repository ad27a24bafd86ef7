//! Regular expressions: a small backtracking engine with the PCRE features the dialect
//! uses (classes, groups, named groups, backreferences, lazy/greedy repeats, `\b \w \d \s`,
//! lookahead, conditionals `(?(1)..|..)`, `\K`), and the regexp_* functions.

use super::{def, str_arg, Ctx, Def};
use amelie_common::{Error, Json, Result, Value};

pub const DEFS: &[Def] = &[
    def("regexp_like", 2, 2, true, regexp_like),
    def("regexp_substr", 2, 2, true, regexp_substr),
    def("regexp_match", 2, 2, true, regexp_match),
    def("regexp_replace", 3, 3, true, regexp_replace),
];

#[derive(Debug, Clone)]
enum Node {
    Char(u8),
    Any,
    Class(Vec<(u8, u8)>, bool),
    Start,
    End,
    WordB(bool),
    Group(Box<Node>, Option<usize>),
    Alt(Vec<Node>),
    Concat(Vec<Node>),
    Repeat(Box<Node>, usize, usize, bool),
    Backref(usize),
    Cond(usize, Box<Node>, Box<Node>),
    Look(Box<Node>, bool),
    Keep,
}

struct Parser<'a> {
    p: &'a [u8],
    i: usize,
    ngroups: usize,
    names: Vec<(String, usize)>,
}

fn err() -> Error {
    Error::new("regexp: failed to compile pattern")
}

fn word_class() -> Vec<(u8, u8)> {
    vec![(b'a', b'z'), (b'A', b'Z'), (b'0', b'9'), (b'_', b'_')]
}
fn space_class() -> Vec<(u8, u8)> {
    vec![(b' ', b' '), (b'\t', b'\r')]
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.p.get(self.i).copied()
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn alt(&mut self) -> Result<Node> {
        let mut alts = vec![self.concat()?];
        while self.eat(b'|') {
            alts.push(self.concat()?);
        }
        Ok(if alts.len() == 1 {
            alts.pop().unwrap_or(Node::Concat(vec![]))
        } else {
            Node::Alt(alts)
        })
    }
    fn concat(&mut self) -> Result<Node> {
        let mut items = Vec::new();
        while let Some(c) = self.peek() {
            if c == b'|' || c == b')' {
                break;
            }
            let atom = self.atom()?;
            items.push(self.quant(atom)?);
        }
        Ok(Node::Concat(items))
    }
    fn num(&mut self) -> Option<usize> {
        let s = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        std::str::from_utf8(&self.p[s..self.i]).ok()?.parse().ok()
    }
    fn quant(&mut self, atom: Node) -> Result<Node> {
        let (min, max) = match self.peek() {
            Some(b'*') => (0, usize::MAX),
            Some(b'+') => (1, usize::MAX),
            Some(b'?') => (0, 1),
            Some(b'{') => {
                let save = self.i;
                self.i += 1;
                let Some(a) = self.num() else {
                    self.i = save;
                    return Ok(atom);
                };
                let b = if self.eat(b',') {
                    self.num().unwrap_or(usize::MAX)
                } else {
                    a
                };
                if !self.eat(b'}') {
                    self.i = save;
                    return Ok(atom);
                }
                self.i -= 1;
                (a, b)
            }
            _ => return Ok(atom),
        };
        self.i += 1;
        let greedy = !self.eat(b'?');
        self.eat(b'+');
        Ok(Node::Repeat(Box::new(atom), min, max, greedy))
    }
    fn name(&mut self, end: u8) -> Result<String> {
        let s = self.i;
        while self.peek().is_some_and(|c| c != end) {
            self.i += 1;
        }
        let n = String::from_utf8_lossy(&self.p[s..self.i]).into_owned();
        if !self.eat(end) {
            return Err(err());
        }
        Ok(n)
    }
    fn group_body(&mut self, idx: Option<usize>) -> Result<Node> {
        let inner = self.alt()?;
        if !self.eat(b')') {
            return Err(err());
        }
        Ok(Node::Group(Box::new(inner), idx))
    }
    fn atom(&mut self) -> Result<Node> {
        let c = self.peek().ok_or_else(err)?;
        self.i += 1;
        Ok(match c {
            b'.' => Node::Any,
            b'^' => Node::Start,
            b'$' => Node::End,
            b'[' => self.class()?,
            b'\\' => self.escape(false)?,
            b'(' => {
                if self.eat(b'?') {
                    match self.peek() {
                        Some(b':') => {
                            self.i += 1;
                            self.group_body(None)?
                        }
                        Some(b'=') | Some(b'!') => {
                            let neg = self.peek() == Some(b'!');
                            self.i += 1;
                            let inner = self.alt()?;
                            if !self.eat(b')') {
                                return Err(err());
                            }
                            Node::Look(Box::new(inner), neg)
                        }
                        Some(b'<') | Some(b'\'') => {
                            let end = if self.peek() == Some(b'<') {
                                b'>'
                            } else {
                                b'\''
                            };
                            self.i += 1;
                            let n = self.name(end)?;
                            self.ngroups += 1;
                            let idx = self.ngroups;
                            self.names.push((n, idx));
                            self.group_body(Some(idx))?
                        }
                        Some(b'P') => {
                            self.i += 1;
                            if self.eat(b'<') {
                                let n = self.name(b'>')?;
                                self.ngroups += 1;
                                let idx = self.ngroups;
                                self.names.push((n, idx));
                                self.group_body(Some(idx))?
                            } else if self.eat(b'=') {
                                let n = self.name(b')')?;
                                let idx = self
                                    .names
                                    .iter()
                                    .find(|(x, _)| *x == n)
                                    .map(|(_, i)| *i)
                                    .ok_or_else(err)?;
                                Node::Backref(idx)
                            } else {
                                return Err(err());
                            }
                        }
                        Some(b'(') => {
                            self.i += 1;
                            let idx = self.num().ok_or_else(err)?;
                            if !self.eat(b')') {
                                return Err(err());
                            }
                            let yes = self.concat()?;
                            let no = if self.eat(b'|') {
                                self.concat()?
                            } else {
                                Node::Concat(vec![])
                            };
                            if !self.eat(b')') {
                                return Err(err());
                            }
                            Node::Cond(idx, Box::new(yes), Box::new(no))
                        }
                        _ => return Err(err()),
                    }
                } else {
                    self.ngroups += 1;
                    let idx = self.ngroups;
                    self.group_body(Some(idx))?
                }
            }
            c => Node::Char(c),
        })
    }
    fn escape(&mut self, in_class: bool) -> Result<Node> {
        let c = self.peek().ok_or_else(err)?;
        self.i += 1;
        Ok(match c {
            b'd' => Node::Class(vec![(b'0', b'9')], false),
            b'D' => Node::Class(vec![(b'0', b'9')], true),
            b'w' => Node::Class(word_class(), false),
            b'W' => Node::Class(word_class(), true),
            b's' => Node::Class(space_class(), false),
            b'S' => Node::Class(space_class(), true),
            b'b' if !in_class => Node::WordB(true),
            b'B' if !in_class => Node::WordB(false),
            b'K' if !in_class => Node::Keep,
            b'A' if !in_class => Node::Start,
            b'z' | b'Z' if !in_class => Node::End,
            b'n' => Node::Char(b'\n'),
            b't' => Node::Char(b'\t'),
            b'r' => Node::Char(b'\r'),
            b'1'..=b'9' if !in_class => Node::Backref((c - b'0') as usize),
            c => Node::Char(c),
        })
    }
    fn class(&mut self) -> Result<Node> {
        let neg = self.eat(b'^');
        let mut ranges = Vec::new();
        let mut first = true;
        loop {
            let c = self.peek().ok_or_else(err)?;
            if c == b']' && !first {
                self.i += 1;
                break;
            }
            first = false;
            self.i += 1;
            let lo = if c == b'\\' {
                match self.escape(true)? {
                    Node::Char(x) => x,
                    Node::Class(r, false) => {
                        ranges.extend(r);
                        continue;
                    }
                    _ => return Err(err()),
                }
            } else {
                c
            };
            if self.peek() == Some(b'-') && self.p.get(self.i + 1).is_some_and(|x| *x != b']') {
                self.i += 1;
                let hi = self.peek().ok_or_else(err)?;
                self.i += 1;
                ranges.push((lo, hi));
            } else {
                ranges.push((lo, lo));
            }
        }
        Ok(Node::Class(ranges, neg))
    }
}

/// A match: start (after `\\K`), end and the capture spans (0 = whole match).
pub type Match = (usize, usize, Vec<Option<(usize, usize)>>);

/// A compiled regular expression.
pub struct Regex {
    root: Node,
    ngroups: usize,
}

struct State {
    caps: Vec<Option<(usize, usize)>>,
    keep: usize,
    steps: usize,
    depth: usize,
    depth_limit: usize,
    /// A limit was hit: the result is an error, not "no match".
    exhausted: bool,
}

const STEP_LIMIT: usize = 5_000_000;
/// Matching recurses once per matched atom; this bounds the stack it may use on the
/// caller's thread (short inputs) and on a dedicated big-stack thread (long inputs).
const DEPTH_LIMIT: usize = 1000;
const BIG_DEPTH_LIMIT: usize = 200_000;
const BIG_STACK: usize = 256 << 20;
/// Inputs longer than this are matched on a dedicated thread with a big stack.
const SHORT_INPUT: usize = 512;

fn is_word(s: &[u8], i: usize) -> bool {
    s.get(i)
        .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

impl Regex {
    pub fn new(pattern: &str) -> Result<Regex> {
        let mut p = Parser {
            p: pattern.as_bytes(),
            i: 0,
            ngroups: 0,
            names: vec![],
        };
        let root = p.alt()?;
        if p.i != p.p.len() {
            return Err(err());
        }
        Ok(Regex {
            root,
            ngroups: p.ngroups,
        })
    }

    /// First match at or after `from`: (keep start, end, captures).
    pub fn find_at(&self, s: &[u8], from: usize) -> Result<Option<Match>> {
        if s.len().saturating_sub(from) <= SHORT_INPUT {
            return self.find_limited(s, from, DEPTH_LIMIT);
        }
        std::thread::scope(|scope| {
            std::thread::Builder::new()
                .stack_size(BIG_STACK)
                .spawn_scoped(scope, || self.find_limited(s, from, BIG_DEPTH_LIMIT))
                .map_err(|_| Error::new("regexp: failed to start matching"))?
                .join()
                .map_err(|_| Error::new("regexp: matching failed"))?
        })
    }

    fn find_limited(&self, s: &[u8], from: usize, depth_limit: usize) -> Result<Option<Match>> {
        let mut steps = 0;
        for start in from..=s.len() {
            let mut st = State {
                caps: vec![None; self.ngroups + 1],
                keep: start,
                steps,
                depth: 0,
                depth_limit,
                exhausted: false,
            };
            let mut end = None;
            let found = m(&self.root, s, start, &mut st, &mut |p, _| {
                end = Some(p);
                true
            });
            if st.exhausted {
                return Err(Error::new("regexp: match limit exceeded"));
            }
            steps = st.steps;
            if let (true, Some(e)) = (found, end) {
                st.caps[0] = Some((st.keep, e));
                return Ok(Some((st.keep, e, st.caps)));
            }
        }
        Ok(None)
    }
}

type K<'a> = &'a mut dyn FnMut(usize, &mut State) -> bool;

fn m(n: &Node, s: &[u8], pos: usize, st: &mut State, k: K) -> bool {
    st.steps += 1;
    if st.exhausted || st.steps > STEP_LIMIT || st.depth >= st.depth_limit {
        st.exhausted = true;
        return false;
    }
    st.depth += 1;
    let r = step(n, s, pos, st, k);
    st.depth -= 1;
    r
}

fn step(n: &Node, s: &[u8], pos: usize, st: &mut State, k: K) -> bool {
    match n {
        Node::Char(c) => s.get(pos) == Some(c) && k(pos + 1, st),
        Node::Any => s.get(pos).is_some_and(|c| *c != b'\n') && k(pos + 1, st),
        Node::Class(r, neg) => match s.get(pos) {
            Some(c) => (r.iter().any(|(lo, hi)| lo <= c && c <= hi) != *neg) && k(pos + 1, st),
            None => false,
        },
        Node::Start => pos == 0 && k(pos, st),
        Node::End => pos == s.len() && k(pos, st),
        Node::WordB(want) => {
            let b = pos > 0 && is_word(s, pos - 1);
            ((b != is_word(s, pos)) == *want) && k(pos, st)
        }
        Node::Keep => {
            let old = st.keep;
            st.keep = pos;
            if k(pos, st) {
                return true;
            }
            st.keep = old;
            false
        }
        Node::Group(inner, idx) => match idx {
            None => m(inner, s, pos, st, k),
            Some(i) => {
                let i = *i;
                m(inner, s, pos, st, &mut |p, st: &mut State| {
                    let old = st.caps[i];
                    st.caps[i] = Some((pos, p));
                    if k(p, st) {
                        return true;
                    }
                    st.caps[i] = old;
                    false
                })
            }
        },
        Node::Alt(alts) => alts.iter().any(|a| m(a, s, pos, st, k)),
        Node::Concat(items) => seq(items, s, pos, st, k),
        Node::Repeat(inner, min, max, greedy) => rep(inner, *min, *max, *greedy, 0, s, pos, st, k),
        Node::Backref(i) => match st.caps.get(*i).copied().flatten() {
            Some((a, b)) => {
                let len = b - a;
                s.get(pos..pos + len) == s.get(a..b) && k(pos + len, st)
            }
            None => false,
        },
        Node::Cond(i, yes, no) => {
            if st.caps.get(*i).copied().flatten().is_some() {
                m(yes, s, pos, st, k)
            } else {
                m(no, s, pos, st, k)
            }
        }
        Node::Look(inner, neg) => {
            let saved = st.caps.clone();
            let found = m(inner, s, pos, st, &mut |_, _| true);
            if *neg {
                st.caps = saved;
            }
            if found == *neg {
                return false;
            }
            k(pos, st)
        }
    }
}

fn seq(items: &[Node], s: &[u8], pos: usize, st: &mut State, k: K) -> bool {
    match items.split_first() {
        None => k(pos, st),
        Some((first, rest)) => m(first, s, pos, st, &mut |p, st: &mut State| {
            seq(rest, s, p, st, k)
        }),
    }
}

// the two orders of `||` are the point (greedy vs lazy), not duplicate branches
#[allow(clippy::too_many_arguments, clippy::if_same_then_else)]
fn rep(
    n: &Node,
    min: usize,
    max: usize,
    greedy: bool,
    count: usize,
    s: &[u8],
    pos: usize,
    st: &mut State,
    k: K,
) -> bool {
    let more = |st: &mut State, k: K| {
        count < max
            && m(n, s, pos, st, &mut |p, st: &mut State| {
                if p == pos && count >= min {
                    return false;
                }
                rep(n, min, max, greedy, count + 1, s, p, st, k)
            })
    };
    if greedy {
        more(st, k) || (count >= min && k(pos, st))
    } else {
        (count >= min && k(pos, st)) || more(st, k)
    }
}

fn text(s: &[u8], a: usize, b: usize) -> String {
    String::from_utf8_lossy(&s[a..b]).into_owned()
}

/// Compiles the pattern argument; the last few patterns are cached per thread so that a
/// per-row call does not recompile.
fn compile(f: &str, a: &[Value]) -> Result<std::rc::Rc<Regex>> {
    use std::cell::RefCell;
    use std::rc::Rc;
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
        if c.len() >= 16 {
            c.remove(0);
        }
        c.push((p.to_string(), re.clone()));
    });
    Ok(re)
}

fn regexp_like(_: &Ctx, a: &[Value]) -> Result<Value> {
    let s = str_arg("regexp_like", a, 0)?.as_bytes();
    let re = compile("regexp_like", a)?;
    Ok(Value::Bool(re.find_at(s, 0)?.is_some()))
}

fn regexp_substr(_: &Ctx, a: &[Value]) -> Result<Value> {
    let s = str_arg("regexp_substr", a, 0)?.as_bytes();
    let re = compile("regexp_substr", a)?;
    Ok(match re.find_at(s, 0)? {
        Some((x, y, _)) => Value::Str(text(s, x, y).into()),
        None => Value::Null,
    })
}

fn regexp_match(_: &Ctx, a: &[Value]) -> Result<Value> {
    let s = str_arg("regexp_match", a, 0)?.as_bytes();
    let re = compile("regexp_match", a)?;
    Ok(match re.find_at(s, 0)? {
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

fn regexp_replace(_: &Ctx, a: &[Value]) -> Result<Value> {
    let s = str_arg("regexp_replace", a, 0)?.as_bytes();
    let re = compile("regexp_replace", a)?;
    let with = str_arg("regexp_replace", a, 2)?;
    let mut out = Vec::new();
    let mut pos = 0;
    while pos <= s.len() {
        match re.find_at(s, pos)? {
            Some((x, y, _)) => {
                out.extend_from_slice(&s[pos..x]);
                out.extend_from_slice(with.as_bytes());
                if y == x {
                    if let Some(c) = s.get(y) {
                        out.push(*c);
                    }
                    pos = y + 1;
                } else {
                    pos = y;
                }
            }
            None => {
                out.extend_from_slice(&s[pos..]);
                break;
            }
        }
    }
    Ok(Value::Str(
        String::from_utf8_lossy(&out).into_owned().into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(s: &str, p: &str) -> Option<String> {
        let re = Regex::new(p).unwrap();
        re.find_at(s.as_bytes(), 0)
            .unwrap()
            .map(|(a, b, _)| s[a..b].to_string())
    }

    #[test]
    fn features() {
        assert_eq!(sub("a(123)b", "([(])?[0-9]+(?(1)[)])").unwrap(), "(123)");
        assert_eq!(sub("aaa123", "[a-z]*\\K[0-9]*").unwrap(), "123");
        assert_eq!(sub("ab1", "[a-z](?![a-z])").unwrap(), "b");
        assert_eq!(sub("---abcd---xyz---", "\\b\\w{3}\\b").unwrap(), "xyz");
        assert_eq!(sub("/* c */ x", "/[*].*?[*]/").unwrap(), "/* c */");
        assert!(sub(
            "<a href=\"../\">Up</a>",
            "<(?<tag>[a-z][a-z0-9]*)[^>]*>[^<]*</(?P=tag)>"
        )
        .is_some());
        assert!(Regex::new("(").is_err());
        // long inputs run on a big stack; too deep a match is an error, not an overflow
        let r = std::thread::Builder::new()
            .stack_size(1 << 20)
            .spawn(|| {
                let re = Regex::new("a*b").unwrap();
                let mid = format!("{}b", "a".repeat(5_000));
                let long = "a".repeat(1_000);
                (
                    re.find_at(mid.as_bytes(), 0).unwrap().map(|m| m.1),
                    re.find_limited(long.as_bytes(), 0, 100).is_err(),
                    re.find_at(b"aab", 0).unwrap().map(|m| m.1),
                )
            })
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(r, (Some(5_001), true, Some(3)));
    }
}
