//! Shared helpers for the training tests.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use charrnn_train::{RunConfig, TrainOptions};

#[path = "../../../corpus/tests/support/small_text.rs"]
mod small_text;
// Not every test binary uses both.
#[allow(unused_imports)]
pub use small_text::{small_text, small_text_override};

/// The smoke config, pointed at the tests' small text and at `out_dir`.
pub fn smoke_config(out_dir: &Path, overrides: &[&str]) -> RunConfig {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/smoke.toml");
    let mut o: Vec<String> = vec![
        small_text_override(),
        format!("train.out_dir={:?}", out_dir.display().to_string()),
    ];
    o.extend(overrides.iter().map(|s| s.to_string()));
    RunConfig::load(&path, &o).expect("smoke config parses")
}

/// Options for training on the CPU, resuming from `resume` when given.
#[allow(dead_code)] // Not every test binary trains.
pub fn options(resume: Option<&Path>) -> TrainOptions {
    TrainOptions {
        resume: resume.map(Path::to_path_buf),
        corpus_dirs: vec![".".into()],
        ..Default::default()
    }
}

/// burn's CPU backend keeps one random generator per process (`Backend::seed`),
/// so two trainings running at once in the same test process would draw each
/// other's dropout masks. Tests that train hold this lock.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}
