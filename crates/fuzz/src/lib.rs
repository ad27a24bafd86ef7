//! Fuzzing on stable Rust (issue 13): targets taking arbitrary bytes, structured generators of
//! mostly valid inputs, a byte-level mutator over a seed corpus, and the runner used by
//! `cargo xtask fuzz` (see `docs/fuzzing.md`).
//!
//! There is no coverage feedback (that needs nightly sanitizer coverage): inputs come from
//! the generators, which know the dialect, and from mutations of seeds and earlier inputs.
//! Each target asserts no panic; the runner adds a per-input time bound (watchdog) and a
//! memory bound (counting allocator, [`alloc`]). A crash the runner cannot catch (stack
//! overflow, abort) ends the process; the input it was running is always on disk first.

pub mod alloc;
pub mod gen;
pub mod mutate;
pub mod rng;
pub mod runner;
pub mod server;
pub mod targets;

use rng::Rng;
use std::path::{Path, PathBuf};

/// Options shared by generators and the runner.
#[derive(Clone, Debug)]
pub struct Opts {
    /// Deepest nesting the generators and mutators produce (brackets, paths, JSON).
    pub max_depth: usize,
    /// Longest input in bytes.
    pub max_len: usize,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            max_depth: 20_000,
            max_len: 64 * 1024,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Sql,
    Json,
    Import,
    Http,
    Wal,
}

pub const TARGETS: [Target; 5] = [
    Target::Sql,
    Target::Json,
    Target::Import,
    Target::Http,
    Target::Wal,
];

/// The workspace root (this crate lives in `<root>/crates/fuzz`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `tests/fuzz/<target>/`: inputs that once failed, replayed by `cargo test`.
pub fn regression_dir(t: Target) -> PathBuf {
    root().join("tests").join("fuzz").join(t.name())
}

impl Target {
    pub fn name(self) -> &'static str {
        match self {
            Target::Sql => "sql",
            Target::Json => "json",
            Target::Import => "import",
            Target::Http => "http",
            Target::Wal => "wal",
        }
    }

    pub fn parse(s: &str) -> Option<Target> {
        TARGETS.into_iter().find(|t| t.name() == s)
    }

    /// Runs one input; a failed check panics.
    pub fn run(self, data: &[u8]) {
        match self {
            Target::Sql => targets::sql(data),
            Target::Json => targets::json(data),
            Target::Import => targets::import(data),
            Target::Http => targets::http(data),
            Target::Wal => targets::wal(data),
        }
    }

    /// A new structured input.
    pub fn generate(self, rng: &mut Rng, opts: &Opts) -> Vec<u8> {
        let d = opts.max_depth;
        match self {
            Target::Sql => gen::sql_request(rng, d).into_bytes(),
            Target::Json => {
                let depth = rng.size(d.min(24)).min(d);
                gen::json_text(rng, depth).into_bytes()
            }
            Target::Import => {
                let f = rng.below(3);
                let mut out = vec![f as u8, rng.byte()];
                let name = ["csv", "json", "jsonl"][f];
                let cols = 1 + rng.below(5);
                out.extend_from_slice(gen::import_body(rng, name, cols, d).as_bytes());
                out
            }
            Target::Http => gen::http_request(rng, d),
            Target::Wal => Vec::new(), // mutations of the seed repository only
        }
    }

    /// A mutation of `input` (`other` is a second corpus entry for splices).
    pub fn mutate(self, rng: &mut Rng, input: &[u8], other: &[u8], opts: &Opts) -> Vec<u8> {
        let dict: &[&str] = match self {
            Target::Sql | Target::Http => gen::SQL_DICT,
            Target::Json | Target::Import => &[
                "[", "]", "{", "}", ",", ":", "\"", "'", "null", "true", "1e5", "-", "\\u", "\\",
                "\n",
            ],
            Target::Wal => return gen::mutate_repo(rng, input, other, opts),
        };
        if self == Target::Import && input.len() >= 2 && !rng.one_in(8) {
            // keep the format and column-list bytes; mutate the body
            let mut out = input[..2].to_vec();
            out.extend(mutate::mutate(
                rng,
                &input[2..],
                other.get(2..).unwrap_or_default(),
                dict,
                opts.max_depth,
                opts.max_len,
            ));
            return out;
        }
        mutate::mutate(rng, input, other, dict, opts.max_depth, opts.max_len)
    }

    /// The seed corpus: built-in examples, this repository's SQL transcripts (for `sql` and
    /// `http`), Amelie's conformance transcripts when `../shared/conformance` is there, and
    /// the regression inputs of `tests/fuzz/<target>/`.
    pub fn seeds(self, opts: &Opts) -> Vec<Vec<u8>> {
        let mut out: Vec<Vec<u8>> = match self {
            Target::Sql => sql_statements().into_iter().map(String::into_bytes).collect(),
            Target::Json => [
                "{\"a\": [1, 2.5, -3e10, \"x\\n\", null, true, {}], 'b': {'c': []}}",
                "[[[[]]], {\"\": \"\\u00e9\\ud83d\\ude00\"}]",
                "9223372036854775807",
                "-0.0",
            ]
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .collect(),
            Target::Import => [
                &b"\x00\x04 1, 2, 'x', {\"a\": 1}, '2024-01-01 00:00:00'\n2, 3, null, [1], null"[..],
                b"\x01\x04[[1, 2, \"x\", {}, null], {\"id\": 2, \"j\": [1, {\"a\": 2}]}]",
                b"\x02\x02{\"id\": 1}\n[4, {\"j\": 1}]\n",
            ]
            .iter()
            .map(|s| s.to_vec())
            .collect(),
            Target::Http => {
                let mut v: Vec<Vec<u8>> = Vec::new();
                for s in sql_statements().into_iter().take(400) {
                    v.push(gen::http_wrap("POST", "/", "text/plain", s.as_bytes(), true));
                }
                v.push(gen::http_wrap("POST", "/public/t", "text/csv", b"1, 2, 'x', {}, null", true));
                v.push(gen::http_wrap("POST", "/public/t?columns=id,j", "application/jsonl", b"[1, {\"a\": 1}]", true));
                v
            }
            Target::Wal => vec![gen::seed_repo(opts)],
        };
        if let Ok(dir) = std::fs::read_dir(regression_dir(self)) {
            let mut files: Vec<PathBuf> = dir.flatten().map(|e| e.path()).collect();
            files.sort();
            out.extend(files.iter().filter_map(|p| std::fs::read(p).ok()));
        }
        if self != Target::Wal {
            out.retain(|s| s.len() <= opts.max_len);
        }
        out
    }
}

/// Statements of `tests/sql/**/*.sqlt` (`> ` lines) and, when present, of Amelie's
/// conformance tests in `../shared/conformance/amelie` (read in place, never copied).
pub fn sql_statements() -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![
        root().join("tests/sql"),
        root().join("../shared/conformance/amelie"),
    ];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
            let Ok(text) = std::fs::read_to_string(&p) else {
                continue;
            };
            for line in text.lines() {
                let stmt = match ext {
                    "sqlt" => line.strip_prefix("> "),
                    "test" => {
                        let first = line.split_whitespace().next().unwrap_or("");
                        let harness = [
                            "open",
                            "connect",
                            "close",
                            "disconnect",
                            "unlink",
                            "restart",
                            "backup",
                            "#",
                        ];
                        (!line.is_empty() && !harness.iter().any(|h| first.starts_with(h)))
                            .then_some(line)
                    }
                    _ => None,
                };
                if let Some(s) = stmt {
                    out.push(s.to_string());
                }
            }
        }
    }
    out
}
