//! Helpers shared by the `charrnn` binary's tests.

use std::path::{Path, PathBuf};

/// The folder holding the shared corpora (`$CHARRNN_DATA_DIR`, default
/// `../shared/data`). Tests that need a corpus fail, loudly, when it is missing.
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

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}
