//! Helpers shared by the `charrnn` binary's tests.

use std::path::{Path, PathBuf};

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

// Only the test binaries that run wgpu use it.
#[allow(dead_code)]
#[path = "../../../model/tests/support/vulkan.rs"]
pub mod gpu;
