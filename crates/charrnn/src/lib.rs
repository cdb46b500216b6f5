#![doc = include_str!("../README.md")]
#![warn(missing_docs)]
#![forbid(unsafe_code)]

/// The burn version the layers are built on, for naming backends and devices.
pub use burn;
pub use charrnn_batch as batch;
pub use charrnn_corpus as corpus;
pub use charrnn_cpu as cpu;
pub use charrnn_export as export;
pub use charrnn_fs as fs;
#[cfg(any(feature = "wgpu", feature = "cuda"))]
pub use charrnn_gpu as gpu;
pub use charrnn_model as model;
pub use charrnn_plot as plot;
pub use charrnn_sample as sample;
#[cfg(feature = "serve")]
pub use charrnn_serve as serve;
pub use charrnn_tokens as tokens;
pub use charrnn_train as train;
