//! A model's weights in plain memory, in the layout the engine and the
//! exporters read: what a trained `CharRnn` is, without burn.

#[cfg(feature = "burn")]
use burn::tensor::{backend::Backend, Tensor};
#[cfg(feature = "burn")]
use charrnn_model::CharRnn;

/// One LSTM layer's weights. The gate blocks of every `4*hidden` axis are in
/// charrnn's order: input, forget, output, cell candidate (`i, f, o, g`).
#[derive(Clone, Debug, PartialEq)]
pub struct LayerWeights {
    /// `[input, 4*hidden]`, row-major: the input's weights (the embedding
    /// width for the first layer, `hidden` above it).
    pub w_ih: Vec<f32>,
    /// `[hidden, 4*hidden]`, row-major: the recurrent weights.
    pub w_hh: Vec<f32>,
    /// `[4*hidden]`: the one bias of the gates.
    pub bias: Vec<f32>,
}

/// A character model's weights: embedding → LSTM layers → linear.
#[derive(Clone, Debug, PartialEq)]
pub struct Weights {
    /// Distinct characters.
    pub vocab_size: usize,
    /// Width of a character's embedding.
    pub embed_size: usize,
    /// Hidden units per layer.
    pub hidden_size: usize,
    /// `[vocab, embed]`, row-major.
    pub embedding: Vec<f32>,
    /// The LSTM layers, bottom first (at least one).
    pub layers: Vec<LayerWeights>,
    /// `[hidden, vocab]`, row-major.
    pub output_weight: Vec<f32>,
    /// `[vocab]`.
    pub output_bias: Vec<f32>,
}

impl Weights {
    /// Copies the weights of `model` (on any backend) into plain memory.
    #[cfg(feature = "burn")]
    pub fn from_model<B: Backend>(model: &CharRnn<B>) -> Self {
        let config = model.config();
        let output_bias = match &model.output.bias {
            Some(b) => to_vec(b.val()),
            None => vec![0.0; config.vocab_size],
        };
        Self {
            vocab_size: config.vocab_size,
            embed_size: config.embed_size,
            hidden_size: config.hidden_size,
            embedding: to_vec(model.embedding.weight.val()),
            layers: model
                .layers
                .iter()
                .map(|l| LayerWeights {
                    w_ih: to_vec(l.w_ih.val()),
                    w_hh: to_vec(l.w_hh.val()),
                    bias: to_vec(l.bias.val()),
                })
                .collect(),
            output_weight: to_vec(model.output.weight.val()),
            output_bias,
        }
    }

    /// The width of layer `l`'s input: the embedding's for the first layer,
    /// the hidden layer's above it.
    pub fn input_size(&self, l: usize) -> usize {
        if l == 0 {
            self.embed_size
        } else {
            self.hidden_size
        }
    }

    /// Every tensor's length matches the sizes, and there is a layer: the
    /// check a loader of weights from outside (a file, a page) makes first.
    pub fn check(&self) -> Result<(), WeightsError> {
        let (v, e, h) = (self.vocab_size, self.embed_size, self.hidden_size);
        if v == 0 || e == 0 || h == 0 || self.layers.is_empty() {
            return Err(WeightsError::Empty);
        }
        let mut expect = vec![
            ("embedding", self.embedding.len(), v * e),
            ("output_weight", self.output_weight.len(), h * v),
            ("output_bias", self.output_bias.len(), v),
        ];
        for (l, layer) in self.layers.iter().enumerate() {
            expect.push(("w_ih", layer.w_ih.len(), self.input_size(l) * 4 * h));
            expect.push(("w_hh", layer.w_hh.len(), h * 4 * h));
            expect.push(("bias", layer.bias.len(), 4 * h));
        }
        match expect.into_iter().find(|(_, got, want)| got != want) {
            Some((tensor, got, want)) => Err(WeightsError::Length { tensor, got, want }),
            None => Ok(()),
        }
    }
}

/// Weights whose sizes do not fit together.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum WeightsError {
    /// A size is zero, or there is no layer.
    #[error("the model has a zero size or no LSTM layer")]
    Empty,
    /// A tensor's length is not what the sizes make it.
    #[error("tensor {tensor} has {got} values where the model's sizes make {want}")]
    Length {
        /// The tensor's name.
        tensor: &'static str,
        /// Its length.
        got: usize,
        /// The length the sizes make.
        want: usize,
    },
}

#[cfg(feature = "burn")]
fn to_vec<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .to_vec::<f32>()
        .expect("converted to f32 above")
}
