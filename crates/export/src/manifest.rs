//! `charrnn.json`, written beside every export's weights: the vocabulary, the
//! model's shape and how to read the tensors.

use charrnn_sample::SampleOptions;
use serde::{Deserialize, Serialize};

use crate::{Format, Model};

/// The manifest's file name.
pub const MANIFEST: &str = "charrnn.json";

/// The manifest layout's version; bump it with any change to what an export
/// holds.
pub const VERSION: u32 = 1;

/// What an export says of itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`VERSION`].
    pub charrnn_export: u32,
    /// The format's name (`safetensors`, `onnx`).
    pub format: String,
    /// The weights file beside the manifest.
    pub weights: String,
    /// The model's sizes.
    pub model: ModelShape,
    /// The gate blocks' order along every `4*hidden` axis: `ifog`, input,
    /// forget, output, cell candidate.
    pub gate_order: String,
    /// The vocabulary: character `i` has id `i`.
    pub vocab: Vec<String>,
    /// The run's sampling options (`prime`, `length`, `top_n`, …).
    pub sample: SampleOptions,
}

/// A model's sizes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelShape {
    /// Distinct characters.
    pub vocab_size: usize,
    /// Width of a character's embedding.
    pub embed_size: usize,
    /// Hidden units per LSTM layer.
    pub hidden_size: usize,
    /// LSTM layers.
    pub num_layers: usize,
}

impl Manifest {
    /// The manifest of `format`'s export of `model`.
    pub fn new(format: Format, model: &Model) -> Self {
        let Model {
            weights,
            vocab,
            sample,
        } = *model;
        Self {
            charrnn_export: VERSION,
            format: format.name().into(),
            weights: format.file_name().into(),
            model: ModelShape {
                vocab_size: weights.vocab_size,
                embed_size: weights.embed_size,
                hidden_size: weights.hidden_size,
                num_layers: weights.layers.len(),
            },
            gate_order: "ifog".into(),
            vocab: vocab.chars().iter().map(char::to_string).collect(),
            sample: sample.clone(),
        }
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a manifest serialises")
    }
}
