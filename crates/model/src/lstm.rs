//! The fused-gate LSTM layer.

use burn::module::{Initializer, Module, Param};
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorPrimitive};

use crate::backend::LstmBackend;

/// One LSTM layer with its four gates fused into `4*hidden`-wide weights.
///
/// Gate order along the fused axis is input, forget, output, cell (`i, f, o, g`).
#[derive(Module, Debug)]
pub struct FusedLstm<B: Backend> {
    /// Input weights `[input, 4*hidden]`.
    pub w_ih: Param<Tensor<B, 2>>,
    /// Recurrent weights `[hidden, 4*hidden]`.
    pub w_hh: Param<Tensor<B, 2>>,
    /// Bias `[4*hidden]` (one bias: PyTorch's `b_ih + b_hh`).
    pub bias: Param<Tensor<B, 1>>,
}

impl<B: Backend> FusedLstm<B> {
    /// A layer initialised like PyTorch's `nn.LSTM`: uniform in `±1/sqrt(hidden)`.
    pub fn new(input: usize, hidden: usize, device: &B::Device) -> Self {
        let bound = 1.0 / (hidden as f64).sqrt();
        let init = Initializer::Uniform {
            min: -bound,
            max: bound,
        };
        Self {
            w_ih: init.init([input, 4 * hidden], device),
            w_hh: init.init([hidden, 4 * hidden], device),
            bias: init.init([4 * hidden], device),
        }
    }

    /// Hidden size.
    pub fn hidden_size(&self) -> usize {
        self.w_hh.dims()[0]
    }
}

impl<B: LstmBackend> FusedLstm<B> {
    /// Runs the layer over `input` `[seq_len, batch, input]` from state `(h0, c0)`,
    /// each `[batch, hidden]`. Returns the hidden sequence `[seq_len, batch, hidden]`
    /// and the final `(h, c)`, which are detached from the autodiff graph.
    pub fn forward(
        &self,
        input: Tensor<B, 3>,
        h0: Tensor<B, 2>,
        c0: Tensor<B, 2>,
    ) -> (Tensor<B, 3>, Tensor<B, 2>, Tensor<B, 2>) {
        self.recur(self.project(input), h0, c0)
    }

    /// The input projection plus bias of `input` `[seq_len, batch, input]`:
    /// `[seq_len, batch, 4*hidden]`, one GEMM for the whole sequence.
    pub fn project(&self, input: Tensor<B, 3>) -> Tensor<B, 3> {
        let [seq_len, batch, input_size] = input.dims();
        let rows = input.reshape([seq_len * batch, input_size]);
        self.project_rows(rows)
            .reshape([seq_len, batch, 4 * self.hidden_size()])
    }

    /// The input projection plus bias of `rows` `[n, input]`: `[n, 4*hidden]`.
    pub fn project_rows(&self, rows: Tensor<B, 2>) -> Tensor<B, 2> {
        float(B::affine(
            rows.into_primitive().tensor(),
            self.w_ih.val().into_primitive().tensor(),
            self.bias.val().into_primitive().tensor(),
        ))
    }

    /// The recurrence over an input projection from [`FusedLstm::project`].
    pub fn recur(
        &self,
        x_proj: Tensor<B, 3>,
        h0: Tensor<B, 2>,
        c0: Tensor<B, 2>,
    ) -> (Tensor<B, 3>, Tensor<B, 2>, Tensor<B, 2>) {
        let out = B::lstm_sequence(
            x_proj.into_primitive().tensor(),
            self.w_hh.val().into_primitive().tensor(),
            h0.into_primitive().tensor(),
            c0.into_primitive().tensor(),
        );
        (float(out.hidden_seq), float(out.hidden), float(out.cell))
    }
}

fn float<B: Backend, const D: usize>(t: burn::tensor::ops::FloatTensor<B>) -> Tensor<B, D> {
    Tensor::from_primitive(TensorPrimitive::Float(t))
}
