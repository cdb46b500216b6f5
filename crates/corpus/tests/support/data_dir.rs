//! The folder holding the shared corpora, for the tests of every crate
//! (included with `#[path]`; `CARGO_MANIFEST_DIR` is then the including crate's,
//! which sits in `crates/`, like this one).

use std::path::{Path, PathBuf};

/// `$CHARRNN_DATA_DIR`, or `../shared/data` beside the checkout. Tests that need
/// a corpus fail, loudly, when it is missing.
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
