//! Every input in `tests/fuzz/<target>/` once failed a fuzz target; each must now pass.

use amelie_fuzz::{regression_dir, runner, TARGETS};

#[test]
fn fuzz_regressions_pass() {
    let mut failures = Vec::new();
    let mut n = 0;
    for t in TARGETS {
        let Ok(dir) = std::fs::read_dir(regression_dir(t)) else {
            continue;
        };
        let mut files: Vec<_> = dir.flatten().map(|e| e.path()).collect();
        files.sort();
        n += files.len();
        failures.extend(runner::replay(t, &files));
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(n > 0, "no regression inputs found");
}
