#![doc = include_str!("../README.md")]
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
