//! What test suites of this crate and of the crates above share (the
//! `test-support` feature): running every test at every SIMD level.

use crate::{simd_level, SimdLevel, SIMD_ENV};

/// Reruns the calling test binary once at each other SIMD level this CPU has
/// (skipping the test named `this_test`, which calls this), fails if any run
/// fails, and reports on the terminal which levels ran: a test suite's way to
/// check every kernel path on one machine.
///
/// # Panics
/// When a rerun fails or cannot start.
pub fn rerun_tests_at_other_levels(this_test: &str) {
    use std::io::Write;
    let exe = std::env::current_exe().expect("the test binary's path");
    let here = simd_level();
    let mut report = vec![format!("{here} (this run)")];
    for level in SimdLevel::supported().into_iter().filter(|l| *l != here) {
        let out = std::process::Command::new(&exe)
            .env(SIMD_ENV, level.name())
            .args(["--skip", this_test])
            .output()
            .expect("rerun the test binary");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "the tests failed at SIMD level {level}:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let result = stdout
            .lines()
            .rfind(|l| l.starts_with("test result:"))
            .unwrap_or("no result line");
        report.push(format!("{level} ({result})"));
    }
    let name = exe.file_stem().map(|s| s.to_string_lossy().into_owned());
    // Straight to stderr: libtest captures only the print macros, and this
    // line is the suite's statement of what it covered.
    let _ = writeln!(
        std::io::stderr(),
        "{}: SIMD levels tested: {}",
        name.unwrap_or_default(),
        report.join(", ")
    );
}
