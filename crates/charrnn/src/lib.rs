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
//!
//! A library user's first lines: a vocabulary and batches from a text, a
//! model on burn's CPU backend, and text from it (untrained here, so it is
//! noise; [`train::train`] trains one from a [`train::RunConfig`]).
//!
//! ```
//! use charrnn::burn::backend::Flex;
//! use charrnn::{batch::Batcher, corpus::Vocab, model::CharRnnConfig};
//! use charrnn::sample::{Engine, Generator, SampleOptions};
//!
//! let text = "to be, or not to be, that is the question: ".repeat(4);
//! let vocab = Vocab::from_text(&text);
//! let ids = vocab.encode(&text)?;
//! let batches = Batcher::new(&ids, 2, 16)?; // 2 streams of 16 steps
//! let config = CharRnnConfig { vocab_size: vocab.len(), embed_size: 8, hidden_size: 16, num_layers: 1, dropout: 0.0 };
//! let model = config.init::<Flex>(&Default::default());
//! let mut generator = Generator::new(Engine::from_model(&model), vocab)?;
//! let options = SampleOptions { prime: "to be".into(), length: 20, ..Default::default() };
//! let sample = generator.generate(&options, |_| {})?;
//! assert_eq!((batches.num_batches(), sample.chars().count()), (5, 20));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]
#![forbid(unsafe_code)]

/// The burn version the layers are built on, for naming backends and devices.
pub use burn;
pub use charrnn_batch as batch;
pub use charrnn_corpus as corpus;
pub use charrnn_cpu as cpu;
pub use charrnn_model as model;
pub use charrnn_plot as plot;
pub use charrnn_sample as sample;
#[cfg(feature = "serve")]
pub use charrnn_serve as serve;
pub use charrnn_tokens as tokens;
pub use charrnn_train as train;
