//! The whole character model: embedding, stacked fused LSTM layers, output
//! layer.

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorPrimitive};
pub use charrnn_corpus::InvalidValue;
use serde::{Deserialize, Serialize};

use crate::backend::LstmBackend;
use crate::lstm::FusedLstm;

/// The shape of a [`CharRnn`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CharRnnConfig {
    /// Number of distinct characters.
    pub vocab_size: usize,
    /// Width of the character embedding.
    pub embed_size: usize,
    /// Hidden units per LSTM layer.
    pub hidden_size: usize,
    /// Stacked LSTM layers.
    pub num_layers: usize,
    /// Probability of zeroing an activation after each LSTM layer (training only).
    pub dropout: f64,
}

/// The parameters of a [`CharRnn`], by part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamCounts {
    /// The embedding table, `vocab × embed`.
    pub embedding: usize,
    /// The LSTM layers' weights and biases.
    pub recurrent: usize,
    /// The output layer's weights and bias, `(hidden + 1) × vocab`.
    pub output: usize,
}

/// The most distinct characters a vocabulary can hold: every Unicode scalar value.
pub const MAX_VOCAB: usize = 0x11_0000;
/// The widest embedding or hidden layer a config may ask for.
pub const MAX_WIDTH: usize = 1 << 20;
/// The most LSTM layers a config may ask for.
pub const MAX_LAYERS: usize = 1024;

impl CharRnnConfig {
    /// Checks that every size is positive and within its cap, and that dropout
    /// lies in `[0, 1)`.
    pub fn validate(&self) -> Result<(), InvalidValue> {
        let positive = "a whole number greater than 0";
        for (key, value) in [
            ("vocab_size", self.vocab_size),
            ("embed_size", self.embed_size),
            ("hidden_size", self.hidden_size),
            ("num_layers", self.num_layers),
        ] {
            if value == 0 {
                return Err(InvalidValue::new(key, value, positive));
            }
        }
        // Caps far above any model that trains, so that sizes typed with a
        // digit too many are refused and `num_params` cannot overflow.
        for (key, value, cap) in [
            ("vocab_size", self.vocab_size, MAX_VOCAB),
            ("embed_size", self.embed_size, MAX_WIDTH),
            ("hidden_size", self.hidden_size, MAX_WIDTH),
            ("num_layers", self.num_layers, MAX_LAYERS),
        ] {
            if value > cap {
                return Err(InvalidValue::new(key, value, format!("at most {cap}")));
            }
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(InvalidValue::new(
                "dropout",
                self.dropout,
                "in [0, 1) (the probability of dropping; keep_prob 0.5 is dropout 0.5)",
            ));
        }
        Ok(())
    }

    /// Parameters in the model (weights and biases).
    ///
    /// Does not overflow for any config that passes [`Self::validate`].
    pub fn num_params(&self) -> usize {
        let p = self.param_counts();
        p.embedding + p.recurrent + p.output
    }

    /// Parameters of each part of the model.
    pub fn param_counts(&self) -> ParamCounts {
        let (v, e, h) = (self.vocab_size, self.embed_size, self.hidden_size);
        let lstm = |input: usize| input * 4 * h + h * 4 * h + 4 * h;
        ParamCounts {
            embedding: v * e,
            recurrent: lstm(e) + (self.num_layers - 1) * lstm(h),
            output: h * v + v,
        }
    }

    /// Builds a freshly initialised model on `device`.
    pub fn init<B: Backend>(&self, device: &B::Device) -> CharRnn<B> {
        let layers = (0..self.num_layers)
            .map(|l| {
                let input = if l == 0 {
                    self.embed_size
                } else {
                    self.hidden_size
                };
                FusedLstm::new(input, self.hidden_size, device)
            })
            .collect();
        CharRnn {
            embedding: EmbeddingConfig::new(self.vocab_size, self.embed_size).init(device),
            layers,
            dropout: DropoutConfig::new(self.dropout).init(),
            output: LinearConfig::new(self.hidden_size, self.vocab_size).init(device),
        }
    }
}

/// The recurrent state of one layer.
#[derive(Debug, Clone)]
pub struct LayerState<B: Backend> {
    /// Hidden state `[batch, hidden]`.
    pub hidden: Tensor<B, 2>,
    /// Cell state `[batch, hidden]`.
    pub cell: Tensor<B, 2>,
}

/// The recurrent state of every layer, carried from batch to batch.
#[derive(Debug, Clone)]
pub struct ModelState<B: Backend> {
    /// One state per layer, bottom first.
    pub layers: Vec<LayerState<B>>,
}

impl<B: Backend> ModelState<B> {
    /// The all-zero state for `batch` streams.
    pub fn zeros(config: &CharRnnConfig, batch: usize, device: &B::Device) -> Self {
        let zeros = || Tensor::zeros([batch, config.hidden_size], device);
        Self {
            layers: (0..config.num_layers)
                .map(|_| LayerState {
                    hidden: zeros(),
                    cell: zeros(),
                })
                .collect(),
        }
    }

    /// The same state cut off from any autodiff graph.
    pub fn detach(self) -> Self {
        Self {
            layers: self
                .layers
                .into_iter()
                .map(|s| LayerState {
                    hidden: s.hidden.detach(),
                    cell: s.cell.detach(),
                })
                .collect(),
        }
    }
}

/// A character-level language model: embedding → stacked LSTM → linear.
#[derive(Module, Debug)]
pub struct CharRnn<B: Backend> {
    /// Character embedding `[vocab, embed]`.
    pub embedding: Embedding<B>,
    /// The LSTM layers, bottom first.
    pub layers: Vec<FusedLstm<B>>,
    /// Dropout after every LSTM layer (active only under autodiff).
    pub dropout: Dropout,
    /// Output layer `[hidden, vocab]`.
    pub output: Linear<B>,
}

impl<B: Backend> CharRnn<B> {
    /// The configuration this model has (its dropout included).
    pub fn config(&self) -> CharRnnConfig {
        let [vocab_size, embed_size] = self.embedding.weight.dims();
        CharRnnConfig {
            vocab_size,
            embed_size,
            hidden_size: self.layers[0].hidden_size(),
            num_layers: self.layers.len(),
            dropout: self.dropout.prob,
        }
    }

    /// This model with `trained`'s weights wherever `trained` has them: its
    /// LSTM layers whole, and the embedding and output rows of its vocabulary,
    /// which must be this model's first ids (a vocabulary that only grew).
    /// Characters `trained` never saw keep this model's fresh rows. Both must
    /// have the same embedding, hidden and layer sizes.
    pub fn with_weights_of(mut self, trained: CharRnn<B>) -> Self {
        let [known, embed] = trained.embedding.weight.dims();
        let hidden = trained.layers[0].hidden_size();
        // Leaves again after the copy, so the optimizer sees plain parameters.
        let leaf = |t: Tensor<B, 2>| t.detach().require_grad();
        let rows = trained.embedding.weight.val();
        self.embedding.weight = self
            .embedding
            .weight
            .map(|fresh| leaf(fresh.slice_assign([0..known, 0..embed], rows)));
        let columns = trained.output.weight.val();
        self.output.weight = self
            .output
            .weight
            .map(|fresh| leaf(fresh.slice_assign([0..hidden, 0..known], columns)));
        // burn takes one range per dimension: `[0..known]` is the 1-D slice.
        #[allow(clippy::single_range_in_vec_init)]
        if let (Some(fresh), Some(bias)) = (self.output.bias.take(), &trained.output.bias) {
            let bias = bias.val();
            self.output.bias =
                Some(fresh.map(|f| f.slice_assign([0..known], bias).detach().require_grad()));
        }
        self.layers = trained.layers;
        self
    }
}

impl<B: LstmBackend> CharRnn<B> {
    /// Runs the model on ids `[batch, seq_len]` from `state`, without dropout
    /// (evaluation, generation; see [`CharRnn::forward_train`]).
    ///
    /// Returns logits `[seq_len * batch, vocab]` in time-major rows
    /// (`row = t * batch + b`) and the state after the last step (detached).
    pub fn forward(
        &self,
        ids: Tensor<B, 2, Int>,
        state: ModelState<B>,
    ) -> (Tensor<B, 2>, ModelState<B>) {
        let fold = self.folds_embedding(&ids);
        self.forward_with(ids, state, fold, None)
    }

    /// [`CharRnn::forward`] for training: dropout after each layer, its masks
    /// a function of `dropout_seed` (a different seed per step) and the layer.
    /// The seed comes from the host, so drawing masks never waits on the device.
    pub fn forward_train(
        &self,
        ids: Tensor<B, 2, Int>,
        state: ModelState<B>,
        dropout_seed: u64,
    ) -> (Tensor<B, 2>, ModelState<B>) {
        let fold = self.folds_embedding(&ids);
        self.forward_with(ids, state, fold, Some(dropout_seed))
    }

    /// Whether a batch of `ids` holds more characters than the vocabulary, so
    /// that folding the embedding saves work.
    fn folds_embedding(&self, ids: &Tensor<B, 2, Int>) -> bool {
        let [batch, seq_len] = ids.dims();
        batch * seq_len > self.embedding.weight.dims()[0]
    }

    /// [`CharRnn::forward`], folding the embedding into the first layer's
    /// input projection or not. Folded, the first layer reads rows of the
    /// `[vocab, 4*hidden]` table `E · W_ih + b` instead of projecting every
    /// character's embedding: the same numbers up to rounding, and fewer
    /// multiply-adds whenever a batch holds more characters than the vocabulary
    /// (the seed config: 12,800 against 4,339, about a ninth of a training step).
    /// With `dropout_seed`, dropout follows each layer (training).
    pub fn forward_with(
        &self,
        ids: Tensor<B, 2, Int>,
        state: ModelState<B>,
        fold_embedding: bool,
        dropout_seed: Option<u64>,
    ) -> (Tensor<B, 2>, ModelState<B>) {
        let [batch, seq_len] = ids.dims();
        let ids = ids.transpose();
        let first = &self.layers[0];
        let mut first_proj = Some(if fold_embedding {
            let table = first.project_rows(self.embedding.weight.val());
            let four_h = table.dims()[1];
            table
                .select(0, ids.reshape([seq_len * batch]))
                .reshape([seq_len, batch, four_h])
        } else {
            first.project(self.embedding.forward(ids))
        });
        let mut layers = Vec::with_capacity(self.layers.len());
        let mut x = None;
        for (l, (layer, s)) in self.layers.iter().zip(state.layers).enumerate() {
            let x_proj = match x.take() {
                Some(x) => layer.project(x),
                None => first_proj
                    .take()
                    .expect("only the first layer has no input"),
            };
            let (seq, hidden, cell) = layer.recur(x_proj, s.hidden, s.cell);
            layers.push(LayerState { hidden, cell });
            let layer_seed = dropout_seed.map(|seed| {
                crate::splitmix64(seed ^ (l as u64 + 1).wrapping_mul(crate::GOLDEN_GAMMA))
            });
            x = Some(self.drop(seq, layer_seed));
        }
        let x = x.expect("a model has at least one layer");
        let hidden = x.dims()[2];
        let x = x.reshape([seq_len * batch, hidden]);
        let logits = match &self.output.bias {
            Some(bias) => Tensor::from_primitive(TensorPrimitive::Float(B::affine(
                x.into_primitive().tensor(),
                self.output.weight.val().into_primitive().tensor(),
                bias.val().into_primitive().tensor(),
            ))),
            None => self.output.forward(x),
        };
        (logits, ModelState { layers })
    }

    /// Inverted dropout with the mask from the backend's
    /// [`LstmBackend::dropout_mask`] for `seed`; none without a seed.
    fn drop<const D: usize>(&self, x: Tensor<B, D>, seed: Option<u64>) -> Tensor<B, D> {
        let Some(seed) = seed.filter(|_| self.dropout.prob > 0.0) else {
            return x;
        };
        let device = x.device();
        let mask = B::dropout_mask(x.shape(), self.dropout.prob, seed, &device);
        x * Tensor::from_primitive(TensorPrimitive::Float(mask))
    }

    /// Mean cross-entropy (nats per character) of `logits` from
    /// [`CharRnn::forward`] against `targets` `[batch, seq_len]`.
    pub fn loss(&self, logits: Tensor<B, 2>, targets: Tensor<B, 2, Int>) -> Tensor<B, 1> {
        let [batch, seq_len] = targets.dims();
        let n = batch * seq_len;
        let targets = targets.transpose().reshape([n]);
        Tensor::from_primitive(TensorPrimitive::Float(B::cross_entropy(
            logits.into_primitive().tensor(),
            targets.into_primitive(),
        )))
    }
}
