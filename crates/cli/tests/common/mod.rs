//! Helpers shared by the `charrnn` binary's tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

// Not every test binary uses both.
#[allow(dead_code)]
#[path = "../../../corpus/tests/support/small_text.rs"]
mod small_text;
#[allow(unused_imports)]
pub use small_text::{small_text, small_text_override};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `charrnn train` arguments: the smoke config on the small play, `steps`
/// steps on `device`, into `run`; a test adds its own after them.
#[allow(dead_code)]
pub fn smoke_training_args(device: &str, run: &Path, steps: u64) -> Vec<String> {
    let config = repo().join("configs/smoke.toml");
    let out_dir = format!("train.out_dir={:?}", run.display().to_string());
    let max_steps = format!("train.max_steps={steps}");
    [
        "train",
        "--config",
        &config.display().to_string(),
        "--device",
        device,
    ]
    .iter()
    .map(|s| s.to_string())
    .chain(["--set".into(), small_text_override()])
    .chain(["--set".into(), out_dir, "--set".into(), max_steps])
    .collect()
}

/// The arguments as `&str`s, as `Command::args` and the tests' helpers take them.
#[allow(dead_code)]
pub fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

// Only the test binaries that run wgpu use it.
#[allow(dead_code)]
#[path = "../../../model/tests/support/vulkan.rs"]
pub mod gpu;

/// Waits until `ready` says yes, checking every 20 ms; after `seconds`
/// fails, saying what it waited for (and `context()`, e.g. the screen so far).
#[allow(dead_code)]
pub fn wait_for(
    what: &str,
    seconds: u64,
    mut ready: impl FnMut() -> bool,
    context: impl Fn() -> String,
) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    while !ready() {
        assert!(
            std::time::Instant::now() < deadline,
            "waited {seconds} s for {what}; {}",
            context()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A random seed for a test, from `CHARRNN_TEST_SEED` or the clock, printed
/// so that a failure can be replayed.
#[allow(dead_code)]
pub fn test_seed(test: &str) -> u64 {
    let seed = std::env::var("CHARRNN_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("{test}: seed {seed} (CHARRNN_TEST_SEED={seed} replays it)");
    seed | 1
}

/// `charrnn ARGS` in `cwd`, its output captured.
#[allow(dead_code)]
pub fn charrnn(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_charrnn"))
        .args(args)
        .current_dir(cwd)
        .env_remove("RUST_LOG")
        .output()
        .expect("charrnn runs")
}

#[allow(dead_code)]
/// Asserts a clean failure: exit code 1, one `error:` line naming `needle`.
pub fn assert_fails(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "expected one error line, got: {stderr}");
    assert!(
        errors[0].contains(needle),
        "{needle:?} not in {:?}",
        errors[0]
    );
}

#[allow(dead_code)]
/// Trains the smoke config into `dir` once per test that needs a run.
pub fn smoke_run(dir: &Path) -> PathBuf {
    let run = dir.join("run");
    let args = smoke_training_args("auto", &run, 10);
    let out = charrnn(&strs(&args), dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "training failed: {stderr}");
    assert!(
        stderr.contains("device: cpu"),
        "auto should say it picked the CPU: {stderr}"
    );
    run
}

/// The names in folder `dir`, sorted.
#[allow(dead_code)]
pub fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// `charrnn export --run RUN --format FORMAT --out OUT MORE...`.
#[allow(dead_code)]
pub fn export(run: &Path, format: &str, out: &Path, more: &[&str]) -> std::process::Output {
    let (run, out) = (run.display().to_string(), out.display().to_string());
    let args = [
        &["export", "--run", &run, "--format", format, "--out", &out],
        more,
    ]
    .concat();
    charrnn(&args, Path::new("."))
}
