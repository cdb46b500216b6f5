//! The LSTM recurrence as a burn backend extension, in two traits:
//! [`LstmKernels`](crate::LstmKernels), what a backend implements (each method with a portable
//! default of burn tensor operations), and [`LstmBackend`](crate::LstmBackend), what the model
//! calls, which every kernel backend has and which [`burn::backend::Autodiff`]
//! implements by recording each operation as one graph node: the whole
//! recurrence of a layer is one node whose backward is truncated BPTT written
//! out by hand (one big weight-gradient GEMM at the end instead of one per step).
//!
//! The loss is fused the same way: [`LstmBackend::cross_entropy`](crate::LstmBackend::cross_entropy) computes the mean
//! softmax cross-entropy of the logits and, under autodiff, keeps its gradient
//! (`softmax - one_hot`, scaled), so the largest tensors of a step (`[batch *
//! seq_len, vocab]`) are touched once forward and once backward, not by the ten or
//! so elementwise operations of `log_softmax` + `gather` and their backward.
//!
//! Gate order in the fused `4*hidden` axis is input, forget, output, cell
//! (`i, f, o, g`): the three sigmoid gates are contiguous, so each step applies one
//! sigmoid and one tanh.

use burn::tensor::backend::Backend;
use burn::tensor::ops::{FloatTensor, IntTensor};
use burn::tensor::{Shape, Tensor};

mod autodiff;
mod portable;

pub(crate) use portable::wrap;
pub use portable::{
    portable_adam_step, portable_affine, portable_affine_backward,
    portable_cross_entropy_with_grad, portable_dropout_mask, portable_lstm_sequence,
    portable_lstm_sequence_backward,
};
use portable::{recurrence, unwrap};

/// The outputs of one layer's recurrence over a sequence.
#[derive(Debug)]
pub struct LstmSequence<B: Backend> {
    /// Hidden state at every step, `[seq_len, batch, hidden]`.
    pub hidden_seq: FloatTensor<B>,
    /// Hidden state after the last step, `[batch, hidden]` (never tracked by autodiff).
    pub hidden: FloatTensor<B>,
    /// Cell state after the last step, `[batch, hidden]` (never tracked by autodiff).
    pub cell: FloatTensor<B>,
}

/// What the backward pass needs from the forward pass.
#[derive(Debug, Clone)]
pub struct LstmCache<B: Backend> {
    /// Gate activations `[seq_len, batch, 4*hidden]` (sigmoid of i, f, o; tanh of g).
    pub gates: FloatTensor<B>,
    /// Cell states `[seq_len + 1, batch, hidden]`, the initial state first.
    pub cells: FloatTensor<B>,
    /// Hidden state entering each step, `[seq_len, batch, hidden]`.
    pub hidden_in: FloatTensor<B>,
    /// The recurrent weights `[hidden, 4*hidden]`.
    pub w_hh: FloatTensor<B>,
}

/// The kernels of a backend: **the one trait to implement to add a backend**.
///
/// Every method has a portable default made of burn tensor operations, so an
/// empty `impl LstmKernels for MyBackend {}` works; override a method with a
/// faster kernel, and test it against the `portable_*` function of the same
/// name (the Flex and cube kernels' tests show how). The model never calls
/// these directly: it calls [`LstmBackend`](crate::LstmBackend), which runs them on a plain
/// backend and records each as one graph node under [`Autodiff`](burn::backend::Autodiff). The
/// optimizer calls [`LstmKernels::adam_step`](crate::LstmKernels::adam_step).
///
/// Shapes: `x_proj` is the input projection plus bias, `[seq_len, batch,
/// 4*hidden]`; `w_hh` is `[hidden, 4*hidden]`; `h0` and `c0` are `[batch,
/// hidden]`. Gradients never flow into `h0` and `c0`: training carries state
/// across batches detached (truncated BPTT).
pub trait LstmKernels: Backend {
    /// The recurrence over a sequence, for inference.
    fn lstm_forward(
        x_proj: FloatTensor<Self>,
        w_hh: FloatTensor<Self>,
        h0: FloatTensor<Self>,
        c0: FloatTensor<Self>,
    ) -> LstmSequence<Self> {
        recurrence::<Self>(x_proj, w_hh, h0, c0, false).0
    }

    /// The recurrence, keeping what [`LstmKernels::lstm_backward`](crate::LstmKernels::lstm_backward) needs.
    fn lstm_forward_cached(
        x_proj: FloatTensor<Self>,
        w_hh: FloatTensor<Self>,
        h0: FloatTensor<Self>,
        c0: FloatTensor<Self>,
    ) -> (LstmSequence<Self>, LstmCache<Self>) {
        portable_lstm_sequence::<Self>(x_proj, w_hh, h0, c0)
    }

    /// Back-propagates `grad_hidden_seq` (`[seq_len, batch, hidden]`) through the
    /// recurrence; returns the gradients of `x_proj` and `w_hh`.
    fn lstm_backward(
        cache: LstmCache<Self>,
        grad_hidden_seq: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        portable_lstm_sequence_backward::<Self>(cache, grad_hidden_seq)
    }

    /// The affine map `x · w + b` of `x` `[n, input]` by `w` `[input, output]`
    /// and `b` `[output]`.
    fn affine_forward(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        b: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        portable_affine::<Self>(x, w, b)
    }

    /// The gradients `(dx, dw, db)` of the affine map for the gradient `dy`
    /// `[n, output]` of its result.
    fn affine_backward(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        dy: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        portable_affine_backward::<Self>(x, w, dy)
    }

    /// The mean softmax cross-entropy (nats) of `logits` `[n, vocab]` against
    /// class ids `targets` `[n]`, as a `[1]` tensor, without its gradient
    /// (evaluation).
    fn cross_entropy_forward(
        logits: FloatTensor<Self>,
        targets: IntTensor<Self>,
    ) -> FloatTensor<Self> {
        Self::cross_entropy_with_grad(logits, targets).0
    }

    /// The mean softmax cross-entropy (nats) of `logits` `[n, vocab]` against
    /// class ids `targets` `[n]`, as a `[1]` tensor, and its gradient with
    /// respect to `logits`, `(softmax(logits) - one_hot(targets)) / n`.
    fn cross_entropy_with_grad(
        logits: FloatTensor<Self>,
        targets: IntTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        portable_cross_entropy_with_grad::<Self>(logits, targets)
    }

    /// The saved loss gradient `grad` (`[n, vocab]`) times the backward seed
    /// `seed` (`[1]`, the gradient reaching the loss). Portably a broadcast
    /// product that leaves the seed on the device, with no synchronisation.
    fn scale_loss_grad(grad: FloatTensor<Self>, seed: FloatTensor<Self>) -> FloatTensor<Self> {
        let (grad, seed): (Tensor<Self, 2>, Tensor<Self, 1>) = (wrap(grad), wrap(seed));
        unwrap(grad * seed.reshape([1, 1]))
    }

    /// An inverted-dropout mask of `shape`: each element `1 / (1 - prob)` with
    /// probability `1 - prob`, else 0. `seed` picks the mask; a backend may
    /// draw from its own generator instead (the portable version does, which
    /// the trainer reseeds every step).
    fn draw_dropout_mask(
        shape: Shape,
        prob: f64,
        seed: u64,
        device: &burn::tensor::Device<Self>,
    ) -> FloatTensor<Self> {
        let _ = seed;
        portable_dropout_mask::<Self>(shape, prob, device)
    }

    /// One Adam update of one parameter tensor, fused (the optimizer's op,
    /// not the model's): returns the new parameter and the new first and
    /// second moments (`moments` is `None` before the first step, as if both
    /// were zero). The arithmetic is burn's `Adam`, so its optimizer state
    /// stays interchangeable.
    fn adam_step(
        param: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        moments: Option<(FloatTensor<Self>, FloatTensor<Self>)>,
        step: &AdamStep,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        portable_adam_step::<Self>(param, grad, moments, step)
    }
}

/// The operations the model calls. Nobody implements this by hand: every
/// [`LstmKernels`](crate::LstmKernels) backend has it (running its kernels), and so has
/// [`Autodiff`](burn::backend::Autodiff) over one (recording each operation as one graph node whose
/// backward runs the kernels' backward).
pub trait LstmBackend: Backend {
    /// Runs one layer's recurrence over a sequence.
    fn lstm_sequence(
        x_proj: FloatTensor<Self>,
        w_hh: FloatTensor<Self>,
        h0: FloatTensor<Self>,
        c0: FloatTensor<Self>,
    ) -> LstmSequence<Self>;

    /// The affine map `x · w + b` (see [`LstmKernels::affine_forward`](crate::LstmKernels::affine_forward)).
    fn affine(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        b: FloatTensor<Self>,
    ) -> FloatTensor<Self>;

    /// Mean softmax cross-entropy (nats) of `logits` `[n, vocab]` against class
    /// ids `targets` `[n]`, as a `[1]` tensor.
    fn cross_entropy(logits: FloatTensor<Self>, targets: IntTensor<Self>) -> FloatTensor<Self>;

    /// An inverted-dropout mask (see [`LstmKernels::draw_dropout_mask`](crate::LstmKernels::draw_dropout_mask)).
    fn dropout_mask(
        shape: Shape,
        prob: f64,
        seed: u64,
        device: &burn::tensor::Device<Self>,
    ) -> FloatTensor<Self>;
}

/// A plain backend runs its kernels.
impl<B: LstmKernels> LstmBackend for B {
    fn lstm_sequence(
        x_proj: FloatTensor<Self>,
        w_hh: FloatTensor<Self>,
        h0: FloatTensor<Self>,
        c0: FloatTensor<Self>,
    ) -> LstmSequence<Self> {
        B::lstm_forward(x_proj, w_hh, h0, c0)
    }

    fn affine(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        b: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        B::affine_forward(x, w, b)
    }

    fn cross_entropy(logits: FloatTensor<Self>, targets: IntTensor<Self>) -> FloatTensor<Self> {
        B::cross_entropy_forward(logits, targets)
    }

    fn dropout_mask(
        shape: Shape,
        prob: f64,
        seed: u64,
        device: &burn::tensor::Device<Self>,
    ) -> FloatTensor<Self> {
        B::draw_dropout_mask(shape, prob, seed, device)
    }
}

/// The hyperparameters of one [`LstmKernels::adam_step`](crate::LstmKernels::adam_step).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamStep {
    /// Learning rate.
    pub lr: f64,
    /// Decay of the first moment.
    pub beta_1: f32,
    /// Decay of the second moment.
    pub beta_2: f32,
    /// Added to the root of the (bias-corrected) second moment.
    pub epsilon: f32,
    /// The number of this step, from 1.
    pub time: usize,
}

impl AdamStep {
    /// The two scalars of the update `p -= lr * m * a / (sqrt(v) + b)`, the
    /// bias corrections folded in exactly as burn's `Adam` folds them:
    /// `a = sqrt(1 - beta_2^t) / (1 - beta_1^t)`, `b = epsilon * sqrt(1 - beta_2^t)`.
    pub fn factors(&self) -> (f32, f32) {
        let t = self.time as i32;
        let bias_correction2_sqrt = (1.0 - self.beta_2.powi(t)).sqrt();
        (
            bias_correction2_sqrt / (1.0 - self.beta_1.powi(t)),
            self.epsilon * bias_correction2_sqrt,
        )
    }
}
