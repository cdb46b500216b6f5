//! The folder holding the standard corpora, for the tests of every crate
//! (included with `#[path]`; `CARGO_MANIFEST_DIR` is then the including crate's,
//! which sits in `crates/`, like this one).

use std::path::{Path, PathBuf};

/// The first of `$CHARRNN_DATA_DIR`, the checkout's `data/` and
/// `../shared/data` that holds the corpora. Tests that need them fail, loudly,
/// when none does.
pub fn data_dir() -> PathBuf {
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    charrnn_corpus::find_standard_data_dir(&checkout).unwrap_or_else(|tried| {
        let tried: Vec<String> = tried.iter().map(|d| d.display().to_string()).collect();
        panic!(
            "the corpora ({}) are in none of {}: run `cargo xtask fetch-data`, or `cargo xtask test`, which fetches them first",
            charrnn_corpus::STANDARD_CORPORA.join(", "),
            tried.join(", ")
        )
    })
}
