#![doc = include_str!("../README.md")]
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod engine;
mod generate;
mod limits;
mod options;
mod streams;
mod weights;

pub use engine::Engine;
pub use generate::{Draws, Generator};
pub use limits::Limits;
pub use options::{check_against, SampleError, SampleOptions, SampleOverrides};
pub use streams::{Event, StopReason, Streams};
pub use weights::{LayerWeights, Weights, WeightsError};
