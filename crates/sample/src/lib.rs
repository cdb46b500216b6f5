//! Text generation from a trained [`charrnn_model::CharRnn`].
//!
//! Generating one character at a time is bound by per-operation overhead and by
//! reading the weights, not by arithmetic, so this crate copies the weights out of
//! burn once into a plain-Rust [`Engine`] with preallocated buffers, and each
//! character is one pass over the weights. It runs on the CPU whatever device the
//! model was trained on.
//!
//! Sampling follows the seed notebook's `pick_top_n`: keep the `top_n` most likely
//! characters, renormalise, draw. `top_n = 1` is greedy; `temperature` sharpens
//! (< 1) or flattens (> 1) the distribution first.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod engine;
mod generate;
mod limits;
mod options;
mod streams;

pub use engine::Engine;
pub use generate::{Draws, Generator};
pub use limits::Limits;
pub use options::{check_against, SampleError, SampleOptions, SampleOverrides};
pub use streams::{Event, StopReason, Streams};
