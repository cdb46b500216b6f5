#![doc = include_str!("../README.md")]
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod manifest;
mod onnx;
mod read;
mod safetensors;
mod web;

use std::path::{Path, PathBuf};

use charrnn_corpus::Vocab;
use charrnn_sample::{SampleOptions, Weights, WeightsError};

pub use manifest::{Manifest, ModelShape, MANIFEST, VERSION};
pub use read::{read_safetensors, ReadError};
pub use web::WebEngine;

/// What an export holds: the weights, the vocabulary, and the sampling
/// options the run uses by default (the web page starts from them).
#[derive(Clone, Copy, Debug)]
pub struct Model<'a> {
    /// The weights.
    pub weights: &'a Weights,
    /// The vocabulary: character `i` has id `i`.
    pub vocab: &'a Vocab,
    /// The run's `[sample]` section.
    pub sample: &'a SampleOptions,
}

/// A format a model is exported to.
#[derive(Clone, Copy, Debug)]
pub enum Format {
    /// `model.safetensors`: every tensor by name, for PyTorch or numpy.
    Safetensors,
    /// `model.onnx`: a graph from character ids and states to logits and
    /// states, for onnxruntime and every other ONNX runtime.
    Onnx,
    /// A folder a static file server serves: `index.html`, the engine
    /// compiled to WebAssembly (given here: it is built apart, for another
    /// target) and the model as `model.safetensors`; the page writes in the
    /// visitor's browser.
    Web(WebEngine),
}

impl Format {
    /// The name the command line and the manifest use.
    pub fn name(self) -> &'static str {
        match self {
            Format::Safetensors => "safetensors",
            Format::Onnx => "onnx",
            Format::Web(_) => "web",
        }
    }

    /// The weights file this format writes beside the manifest.
    pub fn file_name(self) -> &'static str {
        match self {
            Format::Safetensors | Format::Web(_) => safetensors::FILE,
            Format::Onnx => onnx::FILE,
        }
    }
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The output folder is there already.
    #[error("{} exists already", path.display())]
    Exists {
        /// The folder.
        path: PathBuf,
    },
    /// The weights' sizes do not fit together.
    #[error(transparent)]
    Weights(#[from] WeightsError),
    /// The vocabulary is not the model's.
    #[error("the vocabulary has {vocab} characters, the model {model}")]
    VocabSize {
        /// Characters in the vocabulary.
        vocab: usize,
        /// The model's vocabulary size.
        model: usize,
    },
    /// The format's encoder refused the model.
    #[error("cannot encode the model as {format}: {message}")]
    Encode {
        /// The format's name.
        format: &'static str,
        /// The encoder's words.
        message: String,
    },
    /// Writing the folder failed.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The folder.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
}

/// The files of `format`'s export of `model`: names and contents. The
/// manifest ([`MANIFEST`]) is always among them.
pub fn files(format: Format, model: &Model) -> Result<Vec<(&'static str, Vec<u8>)>, ExportError> {
    let Model { weights, vocab, .. } = *model;
    weights.check()?;
    if vocab.len() != weights.vocab_size {
        return Err(ExportError::VocabSize {
            vocab: vocab.len(),
            model: weights.vocab_size,
        });
    }
    // The same text beside the weights and inside them.
    let manifest = Manifest::new(format, model).to_json();
    let weights_file = match format {
        Format::Safetensors | Format::Web(_) => safetensors::encode(weights, &manifest)?,
        Format::Onnx => onnx::encode(weights, &manifest),
    };
    let mut files = vec![
        (format.file_name(), weights_file),
        (MANIFEST, manifest.into_bytes()),
    ];
    if let Format::Web(engine) = format {
        files.extend(web::page_files(engine));
    }
    Ok(files)
}

/// Writes `format`'s export of `model` into a new folder `out`, whole or not
/// at all. A folder already at `out` is refused unless `overwrite`, and then
/// replaced only once the new one is whole.
pub fn export(
    format: Format,
    model: &Model,
    out: &Path,
    overwrite: bool,
) -> Result<(), ExportError> {
    if out.exists() && !overwrite {
        return Err(ExportError::Exists {
            path: out.to_path_buf(),
        });
    }
    let files = files(format, model)?;
    let io_error = |source| ExportError::Write {
        path: out.to_path_buf(),
        source,
    };
    charrnn_fs::replace_dir(
        out,
        |dir| {
            files
                .iter()
                .try_for_each(|(name, bytes)| charrnn_fs::write_synced(&dir.join(name), bytes))
                .map_err(io_error)
        },
        io_error,
    )
}
