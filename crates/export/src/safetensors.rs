//! `model.safetensors`: every tensor under a documented name (see the
//! README), little-endian f32, and the manifest in the file's own metadata.

use std::collections::HashMap;

use ::safetensors::tensor::{Dtype, TensorView};
use charrnn_sample::Weights;

use crate::{ExportError, MANIFEST};

/// The weights file's name.
pub(crate) const FILE: &str = "model.safetensors";

/// Each tensor's name and shape, in the order of [`Weights`].
pub(crate) fn named(weights: &Weights) -> Vec<(String, Vec<usize>, &[f32])> {
    let (v, e, h) = (weights.vocab_size, weights.embed_size, weights.hidden_size);
    let mut tensors = vec![("embedding".to_string(), vec![v, e], &weights.embedding[..])];
    for (l, layer) in weights.layers.iter().enumerate() {
        let input = weights.input_size(l);
        tensors.push((format!("lstm.{l}.w_ih"), vec![input, 4 * h], &layer.w_ih));
        tensors.push((format!("lstm.{l}.w_hh"), vec![h, 4 * h], &layer.w_hh));
        tensors.push((format!("lstm.{l}.bias"), vec![4 * h], &layer.bias));
    }
    tensors.push(("output.weight".into(), vec![h, v], &weights.output_weight));
    tensors.push(("output.bias".into(), vec![v], &weights.output_bias));
    tensors
}

/// The file's bytes, with `manifest` (the manifest's JSON) in its metadata.
pub(crate) fn encode(weights: &Weights, manifest: &str) -> Result<Vec<u8>, ExportError> {
    let named = named(weights);
    let bytes: Vec<Vec<u8>> = named.iter().map(|(_, _, data)| le_bytes(data)).collect();
    let encode_error = |e: ::safetensors::SafeTensorError| ExportError::Encode {
        format: "safetensors",
        message: e.to_string(),
    };
    let views = named
        .iter()
        .zip(&bytes)
        .map(|((name, shape, _), bytes)| {
            TensorView::new(Dtype::F32, shape.clone(), bytes).map(|view| (name.clone(), view))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(encode_error)?;
    let metadata = HashMap::from([(MANIFEST.to_string(), manifest.to_string())]);
    ::safetensors::serialize(views, Some(metadata)).map_err(encode_error)
}

/// `values` as little-endian bytes.
pub(crate) fn le_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}
