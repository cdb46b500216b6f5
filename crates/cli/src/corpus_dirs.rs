//! Where `charrnn` looks for a corpus named by a relative path: the
//! binary's policy, which the libraries take as a list of folders.

use std::path::{Path, PathBuf};

/// Environment variable naming the folder where corpora are looked up first.
pub const DATA_DIR_ENV: &str = "CHARRNN_DATA_DIR";

/// The folders a relative corpus path is looked up in, in order:
/// `$CHARRNN_DATA_DIR` when set, `data/` (where `cargo xtask fetch-data` puts
/// the standard corpora), `config_dir` (the config file's folder), then the
/// working folder.
pub fn corpus_dirs(config_dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os(DATA_DIR_ENV)
        .map(PathBuf::from)
        .into_iter()
        .collect();
    dirs.push(PathBuf::from("data"));
    // A config in the working folder names it once, as the working folder.
    if !matches!(config_dir.to_str(), Some("" | ".")) {
        dirs.push(config_dir.to_path_buf());
    }
    dirs.push(PathBuf::new());
    dirs
}
