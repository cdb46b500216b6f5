//! Helpers shared by the `charrnn` binary's tests.

use std::path::{Path, PathBuf};

#[path = "../../../corpus/tests/support/data_dir.rs"]
mod data_dir;
pub use data_dir::data_dir;

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

// Only the test binaries that run wgpu use it.
#[allow(dead_code)]
#[path = "../../../model/tests/support/vulkan.rs"]
pub mod gpu;
