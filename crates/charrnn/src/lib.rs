//! charrnn: character-level LSTM language models on burn.
//!
//! This crate re-exports the layers, each usable on its own:
//!
//! | layer | crate | job |
//! |---|---|---|
//! | [`corpus`] | `charrnn-corpus` | vocabulary, encoding, loading text |
//! | [`cpu`] | `charrnn-cpu` | CPU GEMM and gate activations |
//! | [`batch`] | `charrnn-batch` | truncated-BPTT batches of a token stream |
//! | [`model`] | `charrnn-model` | the burn model and its fused LSTM |
//! | [`sample`] | `charrnn-sample` | fast text generation |
//! | [`train`] | `charrnn-train` | configs, training loop, checkpoints |
//! | [`plot`] | `charrnn-plot` | loss curves as PNG and SVG |

#![warn(missing_docs)]

pub use charrnn_batch as batch;
pub use charrnn_corpus as corpus;
pub use charrnn_cpu as cpu;
pub use charrnn_model as model;
pub use charrnn_plot as plot;
pub use charrnn_sample as sample;
pub use charrnn_train as train;
