//! The project's corpora: which they are, and where a checkout finds them.

use std::path::{Path, PathBuf};

/// The corpora this project trains, tests and benchmarks on.
pub const STANDARD_CORPORA: [&str; 2] = ["jinpingmei.txt", "tinyshakespeare.txt"];

/// The `charrnn` binary's variable for the folder it looks in first
/// (`crates/cli/src/corpus_dirs.rs`); xtask sets it for the binaries it runs.
pub const DATA_DIR_ENV: &str = "CHARRNN_DATA_DIR";

/// Where a checkout keeps its corpora, in the order they are looked up:
/// `$CHARRNN_DATA_DIR` when set, the checkout's `data/` (where `fetch-data`
/// puts them), then `../shared/data` beside the checkout (the development
/// machines' copy).
pub fn standard_data_dirs(checkout: &Path) -> Vec<PathBuf> {
    data_dirs(std::env::var_os(DATA_DIR_ENV).map(PathBuf::from), checkout)
}

fn data_dirs(env_dir: Option<PathBuf>, checkout: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = env_dir.into_iter().collect();
    dirs.push(checkout.join("data"));
    dirs.push(checkout.join("../shared/data"));
    dirs
}

/// The first of [`standard_data_dirs`] that holds every standard corpus; else
/// the folders looked in.
pub fn find_standard_data_dir(checkout: &Path) -> Result<PathBuf, Vec<PathBuf>> {
    first_with_corpora(standard_data_dirs(checkout))
}

fn first_with_corpora(dirs: Vec<PathBuf>) -> Result<PathBuf, Vec<PathBuf>> {
    dirs.iter()
        .find(|dir| STANDARD_CORPORA.iter().all(|c| dir.join(c).is_file()))
        .cloned()
        .ok_or(dirs)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh clone has no `../shared`: the corpora are found in `data/` once
    /// `fetch-data` has written them there (simulated here), and
    /// `$CHARRNN_DATA_DIR` comes first.
    #[test]
    fn standard_corpora_are_found_in_the_env_dir_then_data() {
        let clone = tempfile::tempdir().unwrap();
        let dirs = data_dirs(None, clone.path());
        assert_eq!(dirs[0], clone.path().join("data"));
        assert_eq!(first_with_corpora(dirs.clone()), Err(dirs.clone()));
        let write_corpora = |dir: &Path| {
            std::fs::create_dir_all(dir).unwrap();
            for name in STANDARD_CORPORA {
                std::fs::write(dir.join(name), "text").unwrap();
            }
        };
        write_corpora(&clone.path().join("data"));
        assert_eq!(first_with_corpora(dirs), Ok(clone.path().join("data")));
        let elsewhere = tempfile::tempdir().unwrap();
        write_corpora(elsewhere.path());
        let dirs = data_dirs(Some(elsewhere.path().to_path_buf()), clone.path());
        assert_eq!(first_with_corpora(dirs), Ok(elsewhere.path().to_path_buf()));
    }
}
