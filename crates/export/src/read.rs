//! Reading a safetensors export back into the engine's [`Weights`] and its
//! vocabulary: what the web page does with the file it downloads, so every
//! way the file can be wrong is one clear error, never a panic.

use ::safetensors::tensor::{Dtype, SafeTensors};
use charrnn_corpus::Vocab;
use charrnn_sample::{LayerWeights, Weights, WeightsError};

use crate::{Manifest, MANIFEST, VERSION};

/// Why a file is not a model this engine can run.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Not a safetensors file, or cut short.
    #[error("not a whole safetensors file ({0}): was it truncated?")]
    NotSafetensors(String),
    /// A safetensors file, but not a charrnn export.
    #[error("the file has no charrnn manifest: it is not a charrnn export")]
    NoManifest,
    /// A charrnn export of a later layout, or a damaged manifest.
    #[error("the file's charrnn manifest cannot be read: {0}")]
    BadManifest(String),
    /// A tensor the model needs is missing or of the wrong type or shape.
    #[error("tensor {name}: {problem}")]
    Tensor {
        /// The tensor's name.
        name: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The tensors' sizes do not fit together.
    #[error(transparent)]
    Weights(#[from] WeightsError),
}

/// The weights and vocabulary of a `model.safetensors` that
/// [`crate::export`] wrote.
pub fn read_safetensors(bytes: &[u8]) -> Result<(Weights, Vocab), ReadError> {
    let not_safetensors =
        |e: ::safetensors::SafeTensorError| ReadError::NotSafetensors(e.to_string());
    let (_, metadata) = SafeTensors::read_metadata(bytes).map_err(not_safetensors)?;
    let manifest = metadata
        .metadata()
        .as_ref()
        .and_then(|m| m.get(MANIFEST))
        .ok_or(ReadError::NoManifest)?;
    let manifest: Manifest =
        serde_json::from_str(manifest).map_err(|e| ReadError::BadManifest(e.to_string()))?;
    if manifest.charrnn_export > VERSION {
        return Err(ReadError::BadManifest(format!(
            "layout {} is newer than this reader's {VERSION}",
            manifest.charrnn_export
        )));
    }
    let vocab = vocab_of(&manifest)?;
    let tensors = SafeTensors::deserialize(bytes).map_err(not_safetensors)?;
    let shape = &manifest.model;
    let (v, e, h) = (shape.vocab_size, shape.embed_size, shape.hidden_size);
    let read = |name: &str, dims: &[usize]| read_f32(&tensors, name, dims);
    let embedding = read("embedding", &[v, e])?;
    let layers = (0..shape.num_layers)
        .map(|l| {
            let input = if l == 0 { e } else { h };
            Ok(LayerWeights {
                w_ih: read(&format!("lstm.{l}.w_ih"), &[input, 4 * h])?,
                w_hh: read(&format!("lstm.{l}.w_hh"), &[h, 4 * h])?,
                bias: read(&format!("lstm.{l}.bias"), &[4 * h])?,
            })
        })
        .collect::<Result<_, ReadError>>()?;
    let weights = Weights {
        vocab_size: v,
        embed_size: e,
        hidden_size: h,
        embedding,
        layers,
        output_weight: read("output.weight", &[h, v])?,
        output_bias: read("output.bias", &[v])?,
    };
    weights.check()?;
    if vocab.len() != v {
        return Err(ReadError::BadManifest(format!(
            "{} characters for a model of {v}",
            vocab.len()
        )));
    }
    Ok((weights, vocab))
}

fn vocab_of(manifest: &Manifest) -> Result<Vocab, ReadError> {
    let chars = manifest
        .vocab
        .iter()
        .map(|s| {
            let mut chars = s.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => Ok(c),
                _ => Err(ReadError::BadManifest(format!(
                    "vocabulary entry {s:?} is not one character"
                ))),
            }
        })
        .collect::<Result<Vec<char>, _>>()?;
    Vocab::in_id_order(chars)
        .map_err(|c| ReadError::BadManifest(format!("character {c:?} is listed twice")))
}

fn read_f32(tensors: &SafeTensors, name: &str, dims: &[usize]) -> Result<Vec<f32>, ReadError> {
    let problem = |problem: String| ReadError::Tensor {
        name: name.into(),
        problem,
    };
    let view = tensors
        .tensor(name)
        .map_err(|_| problem("missing".into()))?;
    if view.dtype() != Dtype::F32 || view.shape() != dims {
        return Err(problem(format!(
            "{:?} {:?} where the manifest's sizes make F32 {dims:?}",
            view.dtype(),
            view.shape()
        )));
    }
    Ok(view
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}
