//! Shared helpers for the training tests.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use charrnn_train::RunConfig;

/// The folder holding the shared corpora. Tests that need a corpus fail, loudly,
/// when it is missing.
pub fn data_dir() -> PathBuf {
    let dir = std::env::var_os("CHARRNN_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    assert!(
        dir.join("tinyshakespeare.txt").is_file(),
        "corpus tinyshakespeare.txt not found in {}: set CHARRNN_DATA_DIR to the folder holding the corpora",
        dir.display()
    );
    dir
}

/// The smoke config, pointed at an absolute corpus path and `out_dir`.
pub fn smoke_config(out_dir: &Path, overrides: &[&str]) -> RunConfig {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/smoke.toml");
    let mut o: Vec<String> = vec![
        format!(
            "data.corpus={:?}",
            data_dir().join("tinyshakespeare.txt").display().to_string()
        ),
        format!("train.out_dir={:?}", out_dir.display().to_string()),
    ];
    o.extend(overrides.iter().map(|s| s.to_string()));
    RunConfig::load(&path, &o).expect("smoke config parses")
}

/// burn's CPU backend keeps one random generator per process (`Backend::seed`),
/// so two trainings running at once in the same test process would draw each
/// other's dropout masks. Tests that train hold this lock.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}
