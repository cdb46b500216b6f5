//! A plain-Rust LSTM forward pass for one stream, one character at a time.

use burn::tensor::backend::Backend;
use burn::tensor::Tensor;
use charrnn_model::CharRnn;

struct Layer {
    input: usize,
    /// `[input, 4*hidden]`, row-major.
    w_ih: Vec<f32>,
    /// `[hidden, 4*hidden]`, row-major.
    w_hh: Vec<f32>,
    bias: Vec<f32>,
}

/// The model's weights in plain memory, and the state of one stream.
pub struct Engine {
    vocab_size: usize,
    embed_size: usize,
    hidden: usize,
    /// `[vocab, embed]`.
    embedding: Vec<f32>,
    layers: Vec<Layer>,
    /// `[hidden, vocab]`.
    w_out: Vec<f32>,
    b_out: Vec<f32>,
    h: Vec<Vec<f32>>,
    c: Vec<Vec<f32>>,
    z: Vec<f32>,
    logits: Vec<f32>,
}

fn to_vec<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .to_vec::<f32>()
        .expect("converted to f32 above")
}

/// `out += x · W` for `W` `[x.len(), out.len()]` row-major: one pass over `W`, in
/// rows, which the compiler vectorises.
#[inline]
fn add_vec_mat(out: &mut [f32], x: &[f32], w: &[f32]) {
    let n = out.len();
    for (k, &a) in x.iter().enumerate() {
        if a == 0.0 {
            continue;
        }
        let row = &w[k * n..(k + 1) * n];
        for (o, &wv) in out.iter_mut().zip(row) {
            *o += a * wv;
        }
    }
}

#[inline]
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

impl Engine {
    /// Copies the weights of `model` (on any backend) into plain memory.
    pub fn from_model<B: Backend>(model: &CharRnn<B>) -> Self {
        let config = model.config();
        let layers: Vec<Layer> = model
            .layers
            .iter()
            .map(|l| Layer {
                input: l.input_size(),
                w_ih: to_vec(l.w_ih.val()),
                w_hh: to_vec(l.w_hh.val()),
                bias: to_vec(l.bias.val()),
            })
            .collect();
        let hidden = config.hidden_size;
        let b_out = match &model.output.bias {
            Some(b) => to_vec(b.val()),
            None => vec![0.0; config.vocab_size],
        };
        Self {
            vocab_size: config.vocab_size,
            embed_size: config.embed_size,
            hidden,
            embedding: to_vec(model.embedding.weight.val()),
            w_out: to_vec(model.output.weight.val()),
            b_out,
            h: vec![vec![0.0; hidden]; layers.len()],
            c: vec![vec![0.0; hidden]; layers.len()],
            layers,
            z: vec![0.0; 4 * hidden],
            logits: vec![0.0; config.vocab_size],
        }
    }

    /// Vocabulary size.
    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    /// Zeroes the recurrent state.
    pub fn reset(&mut self) {
        for v in self.h.iter_mut().chain(self.c.iter_mut()) {
            v.fill(0.0);
        }
    }

    /// Feeds character `id` and returns the logits of the next character.
    /// Panics if `id` is not below the vocabulary size.
    pub fn step(&mut self, id: u32) -> &[f32] {
        let id = id as usize;
        assert!(id < self.vocab_size, "character id {id} out of range");
        let hidden = self.hidden;
        for l in 0..self.layers.len() {
            let layer = &self.layers[l];
            let (below, rest) = self.h.split_at_mut(l);
            let x: &[f32] = match below.last() {
                Some(h_below) => h_below,
                None => &self.embedding[id * self.embed_size..(id + 1) * self.embed_size],
            };
            debug_assert_eq!(x.len(), layer.input);
            self.z.copy_from_slice(&layer.bias);
            add_vec_mat(&mut self.z, x, &layer.w_ih);
            let h = &mut rest[0];
            add_vec_mat(&mut self.z, h, &layer.w_hh);
            let c = &mut self.c[l];
            let (i, rest_z) = self.z.split_at(hidden);
            let (f, rest_z) = rest_z.split_at(hidden);
            let (o, g) = rest_z.split_at(hidden);
            for j in 0..hidden {
                c[j] = sigmoid(f[j]) * c[j] + sigmoid(i[j]) * g[j].tanh();
                h[j] = sigmoid(o[j]) * c[j].tanh();
            }
        }
        self.logits.copy_from_slice(&self.b_out);
        let top = self.h.last().expect("a model has at least one layer");
        add_vec_mat(&mut self.logits, top, &self.w_out);
        &self.logits
    }
}
