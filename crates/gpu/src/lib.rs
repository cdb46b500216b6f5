//! GPU kernels for charrnn, written once in [cubecl](https://github.com/tracel-ai/cubecl)
//! and compiled for whichever runtime launches them: CUDA, or wgpu (Vulkan,
//! Metal, DirectX, and Mesa's software Vulkan, lavapipe, in the tests).
//!
//! This crate knows tensors as flat, contiguous arrays and nothing of models:
//! `charrnn-model` wires the kernels into burn's cube backends. Every kernel is
//! elementwise (one unit per output element, [`launch_dims`]), with no shared
//! memory, plane (warp) or tensor-core instructions, so every runtime runs
//! every kernel, software ones included.
//!
//! Layouts follow the LSTM recurrence of `charrnn-model`: gates are fused along
//! the last axis in the order input, forget, output, cell (`i, f, o, g`), and
//! sequences are time-major (`[seq_len, batch, features]`).
#![warn(missing_docs)]
#![forbid(unsafe_code)]

use cubecl::prelude::*;

mod lstm;

pub use lstm::{lstm_cell_backward, lstm_cell_forward};

/// The cube count and shape for an elementwise kernel over `elements` units.
pub fn launch_dims<R: Runtime>(client: &ComputeClient<R>, elements: usize) -> (CubeCount, CubeDim) {
    let dim = CubeDim::new(client, elements);
    let count = cubecl::calculate_cube_count_elemwise(client, elements, dim);
    (count, dim)
}
