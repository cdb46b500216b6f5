//! The LSTM recurrence as a burn backend extension, in two traits:
//! [`LstmKernels`], what a backend implements (each method with a portable
//! default of burn tensor operations), and [`LstmBackend`], what the model
//! calls, which every kernel backend has and which [`burn::backend::Autodiff`]
//! implements by recording each operation as one graph node: the whole
//! recurrence of a layer is one node whose backward is truncated BPTT written
//! out by hand (one big weight-gradient GEMM at the end instead of one per step).
//!
//! The loss is fused the same way: [`LstmBackend::cross_entropy`] computes the mean
//! softmax cross-entropy of the logits and, under autodiff, keeps its gradient
//! (`softmax - one_hot`, scaled), so the largest tensors of a step (`[batch *
//! seq_len, vocab]`) are touched once forward and once backward, not by the ten or
//! so elementwise operations of `log_softmax` + `gather` and their backward.
//!
//! Gate order in the fused `4*hidden` axis is input, forget, output, cell
//! (`i, f, o, g`): the three sigmoid gates are contiguous, so each step applies one
//! sigmoid and one tanh.

use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::Autodiff;
use burn::tensor::activation::log_softmax;
use burn::tensor::activation::sigmoid;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::ops::{FloatTensor, IntTensor};
use burn::tensor::{
    Distribution, IndexingUpdateOp, Int, Shape, Tensor, TensorMetadata, TensorPrimitive,
};

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
/// these directly: it calls [`LstmBackend`], which runs them on a plain
/// backend and records each as one graph node under [`Autodiff`]. The
/// optimizer calls [`LstmKernels::adam_step`].
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

    /// The recurrence, keeping what [`LstmKernels::lstm_backward`] needs.
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
/// [`LstmKernels`] backend has it (running its kernels), and so has
/// [`Autodiff`] over one (recording each operation as one graph node whose
/// backward runs the kernels' backward).
pub trait LstmBackend: Backend {
    /// Runs one layer's recurrence over a sequence.
    fn lstm_sequence(
        x_proj: FloatTensor<Self>,
        w_hh: FloatTensor<Self>,
        h0: FloatTensor<Self>,
        c0: FloatTensor<Self>,
    ) -> LstmSequence<Self>;

    /// The affine map `x · w + b` (see [`LstmKernels::affine_forward`]).
    fn affine(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        b: FloatTensor<Self>,
    ) -> FloatTensor<Self>;

    /// Mean softmax cross-entropy (nats) of `logits` `[n, vocab]` against class
    /// ids `targets` `[n]`, as a `[1]` tensor.
    fn cross_entropy(logits: FloatTensor<Self>, targets: IntTensor<Self>) -> FloatTensor<Self>;

    /// An inverted-dropout mask (see [`LstmKernels::draw_dropout_mask`]).
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

/// The hyperparameters of one [`LstmKernels::adam_step`].
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

/// The portable Adam update from burn tensor operations (see
/// [`LstmKernels::adam_step`]), the same operations as burn's `Adam`.
pub fn portable_adam_step<B: Backend>(
    param: FloatTensor<B>,
    grad: FloatTensor<B>,
    moments: Option<(FloatTensor<B>, FloatTensor<B>)>,
    step: &AdamStep,
) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
    let grad: Tensor<B, 1> = flat(grad);
    let shape = param.shape();
    let (b1, b2) = (step.beta_1 as f64, step.beta_2 as f64);
    let first = grad.clone().mul_scalar(1.0 - b1);
    let second = grad.square().mul_scalar(1.0 - b2);
    let (m, v) = match moments {
        Some((m, v)) => (
            flat::<B>(m).mul_scalar(b1).add(first),
            flat::<B>(v).mul_scalar(b2).add(second),
        ),
        None => (first, second),
    };
    let (a, b) = step.factors();
    let update = m
        .clone()
        .mul_scalar(a)
        .div(v.clone().sqrt().add_scalar(b))
        .mul_scalar(step.lr);
    let param = flat::<B>(param).sub(update);
    let back = |t: Tensor<B, 1>| B::float_reshape(unwrap(t), shape.clone());
    (back(param), back(m), back(v))
}

/// Any tensor as a flat `[n]` tensor.
fn flat<B: Backend>(t: FloatTensor<B>) -> Tensor<B, 1> {
    let n = t.shape().num_elements();
    wrap(B::float_reshape(t, Shape::new([n])))
}

/// The portable dropout mask, drawn from the backend's generator (see
/// [`LstmKernels::draw_dropout_mask`]).
pub fn portable_dropout_mask<B: Backend>(
    shape: Shape,
    prob: f64,
    device: &burn::tensor::Device<B>,
) -> FloatTensor<B> {
    let keep = 1.0 - prob;
    let bits = B::float_random(
        shape,
        Distribution::Bernoulli(keep),
        device,
        burn::tensor::FloatDType::F32,
    );
    B::float_div_scalar(bits, keep.into())
}

/// The portable affine map (see [`LstmKernels::affine_forward`]).
pub fn portable_affine<B: Backend>(
    x: FloatTensor<B>,
    w: FloatTensor<B>,
    b: FloatTensor<B>,
) -> FloatTensor<B> {
    let b: Tensor<B, 1> = wrap(b);
    unwrap(wrap::<B, 2>(x).matmul(wrap(w)).add(b.unsqueeze::<2>()))
}

/// The portable gradients of the affine map (see [`LstmKernels::affine_backward`]).
pub fn portable_affine_backward<B: Backend>(
    x: FloatTensor<B>,
    w: FloatTensor<B>,
    dy: FloatTensor<B>,
) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
    let (x, w, dy): (Tensor<B, 2>, Tensor<B, 2>, Tensor<B, 2>) = (wrap(x), wrap(w), wrap(dy));
    let output = dy.dims()[1];
    let dx = dy.clone().matmul(w.transpose());
    let dw = x.transpose().matmul(dy.clone());
    let db = dy.sum_dim(0).reshape([output]);
    (unwrap(dx), unwrap(dw), unwrap(db))
}

/// The portable fused loss, from burn tensor operations (see
/// [`LstmKernels::cross_entropy_with_grad`]).
pub fn portable_cross_entropy_with_grad<B: Backend>(
    logits: FloatTensor<B>,
    targets: IntTensor<B>,
) -> (FloatTensor<B>, FloatTensor<B>) {
    let logits: Tensor<B, 2> = wrap(logits);
    let [n, _] = logits.dims();
    let targets = Tensor::<B, 1, Int>::from_primitive(targets).reshape([n, 1]);
    let log_probs = log_softmax(logits, 1);
    let loss = log_probs.clone().gather(1, targets.clone()).mean().neg();
    let device = log_probs.device();
    let grad = log_probs
        .exp()
        .scatter(
            1,
            targets,
            Tensor::full([n, 1], -1.0, &device),
            IndexingUpdateOp::Add,
        )
        .div_scalar(n as f64);
    (unwrap(loss), unwrap(grad))
}

pub(crate) fn wrap<B: Backend, const D: usize>(t: FloatTensor<B>) -> Tensor<B, D> {
    Tensor::from_primitive(TensorPrimitive::Float(t))
}

fn unwrap<B: Backend, const D: usize>(t: Tensor<B, D>) -> FloatTensor<B> {
    t.into_primitive().tensor()
}

/// The portable forward recurrence, built from burn tensor operations: what every
/// backend runs unless it overrides [`LstmBackend`]. Public so that a backend's
/// own kernel can be tested against it.
pub fn portable_lstm_sequence<B: Backend>(
    x_proj: FloatTensor<B>,
    w_hh: FloatTensor<B>,
    h0: FloatTensor<B>,
    c0: FloatTensor<B>,
) -> (LstmSequence<B>, LstmCache<B>) {
    let (out, cache) = recurrence::<B>(x_proj, w_hh, h0, c0, true);
    (out, cache.expect("cache was requested"))
}

fn recurrence<B: Backend>(
    x_proj: FloatTensor<B>,
    w_hh: FloatTensor<B>,
    h0: FloatTensor<B>,
    c0: FloatTensor<B>,
    keep_cache: bool,
) -> (LstmSequence<B>, Option<LstmCache<B>>) {
    let x_proj: Tensor<B, 3> = wrap(x_proj);
    let w_hh: Tensor<B, 2> = wrap(w_hh);
    let mut h: Tensor<B, 2> = wrap(h0);
    let mut c: Tensor<B, 2> = wrap(c0);
    let [seq_len, batch, four_h] = x_proj.dims();
    let hidden = four_h / 4;
    assert!(seq_len > 0, "an LSTM sequence needs at least one step");

    let h_init = h.clone();
    let mut hs = Vec::with_capacity(seq_len);
    let mut gates = Vec::with_capacity(if keep_cache { seq_len } else { 0 });
    let mut cells = Vec::with_capacity(if keep_cache { seq_len + 1 } else { 0 });
    if keep_cache {
        cells.push(c.clone());
    }
    for t in 0..seq_len {
        let z = x_proj
            .clone()
            .narrow(0, t, 1)
            .reshape([batch, four_h])
            .add(h.clone().matmul(w_hh.clone()));
        let sig = sigmoid(z.clone().slice([0..batch, 0..3 * hidden]));
        let g = z.slice([0..batch, 3 * hidden..four_h]).tanh();
        let i = sig.clone().slice([0..batch, 0..hidden]);
        let f = sig.clone().slice([0..batch, hidden..2 * hidden]);
        let o = sig.clone().slice([0..batch, 2 * hidden..3 * hidden]);
        c = f * c + i * g.clone();
        h = o * c.clone().tanh();
        if keep_cache {
            gates.push(Tensor::cat(vec![sig, g], 1));
            cells.push(c.clone());
        }
        hs.push(h.clone());
    }

    let cache = keep_cache.then(|| {
        let hidden_in = std::iter::once(h_init)
            .chain(hs[..seq_len - 1].iter().cloned())
            .collect();
        LstmCache {
            gates: unwrap(Tensor::stack::<3>(gates, 0)),
            cells: unwrap(Tensor::stack::<3>(cells, 0)),
            hidden_in: unwrap(Tensor::stack::<3>(hidden_in, 0)),
            w_hh: unwrap(w_hh),
        }
    });
    let hidden_seq = Tensor::stack::<3>(hs, 0);
    (
        LstmSequence {
            hidden_seq: unwrap(hidden_seq),
            hidden: unwrap(h),
            cell: unwrap(c),
        },
        cache,
    )
}

/// The portable backward recurrence (truncated BPTT over the cached sequence),
/// built from burn tensor operations; returns the gradients of `x_proj` and `w_hh`.
pub fn portable_lstm_sequence_backward<B: Backend>(
    cache: LstmCache<B>,
    grad_hidden_seq: FloatTensor<B>,
) -> (FloatTensor<B>, FloatTensor<B>) {
    let gates: Tensor<B, 3> = wrap(cache.gates);
    let cells: Tensor<B, 3> = wrap(cache.cells);
    let hidden_in: Tensor<B, 3> = wrap(cache.hidden_in);
    let w_hh: Tensor<B, 2> = wrap(cache.w_hh);
    let grad_hs: Tensor<B, 3> = wrap(grad_hidden_seq);
    let [seq_len, batch, four_h] = gates.dims();
    let hidden = four_h / 4;
    let step = |x: &Tensor<B, 3>, t: usize, width: usize| {
        x.clone().narrow(0, t, 1).reshape([batch, width])
    };
    let cols =
        |x: &Tensor<B, 2>, k: usize| x.clone().slice([0..batch, k * hidden..(k + 1) * hidden]);

    let w_hh_t = w_hh.transpose();
    let device = gates.device();
    let mut dh_next = Tensor::<B, 2>::zeros([batch, hidden], &device);
    let mut dc_next = Tensor::<B, 2>::zeros([batch, hidden], &device);
    let mut dz_steps = Vec::with_capacity(seq_len);
    for t in (0..seq_len).rev() {
        let act = step(&gates, t, four_h);
        let (i, f, o, g) = (cols(&act, 0), cols(&act, 1), cols(&act, 2), cols(&act, 3));
        let c = step(&cells, t + 1, hidden);
        let c_prev = step(&cells, t, hidden);
        let tanh_c = c.tanh();
        let dh = step(&grad_hs, t, hidden) + dh_next;
        let d_o = dh.clone() * tanh_c.clone();
        let dc = dc_next + dh * o.clone() * (tanh_c.powi_scalar(2).neg() + 1.0);
        let d_i = dc.clone() * g.clone();
        let d_g = dc.clone() * i.clone();
        let d_f = dc.clone() * c_prev;
        dc_next = dc * f.clone();
        // Derivatives of the activations, expressed through their outputs.
        let dz_i = d_i * i.clone() * (i.neg() + 1.0);
        let dz_f = d_f * f.clone() * (f.neg() + 1.0);
        let dz_o = d_o * o.clone() * (o.neg() + 1.0);
        let dz_g = d_g * (g.powi_scalar(2).neg() + 1.0);
        let dz = Tensor::cat(vec![dz_i, dz_f, dz_o, dz_g], 1);
        dh_next = dz.clone().matmul(w_hh_t.clone());
        dz_steps.push(dz);
    }
    dz_steps.reverse();
    let grad_x_proj = Tensor::stack::<3>(dz_steps, 0);
    // dW_hh = sum_t h_{t-1}^T dz_t, as one GEMM over all steps.
    let grad_w_hh = hidden_in
        .reshape([seq_len * batch, hidden])
        .transpose()
        .matmul(grad_x_proj.clone().reshape([seq_len * batch, four_h]));
    (unwrap(grad_x_proj), unwrap(grad_w_hh))
}

#[derive(Debug)]
struct LstmSequenceBackward;

impl<B: LstmKernels> Backward<B, 2> for LstmSequenceBackward {
    type State = LstmCache<B>;

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad_hidden_seq = grads.consume::<B>(&ops.node);
        let (grad_x_proj, grad_w_hh) = B::lstm_backward(ops.state, grad_hidden_seq);
        let [x_proj_node, w_hh_node] = ops.parents;
        if let Some(node) = x_proj_node {
            grads.register::<B>(node.id, grad_x_proj);
        }
        if let Some(node) = w_hh_node {
            grads.register::<B>(node.id, grad_w_hh);
        }
    }
}

/// Under autodiff the whole recurrence is one graph node.
impl<B: LstmKernels, C: CheckpointStrategy> LstmBackend for Autodiff<B, C> {
    fn lstm_sequence(
        x_proj: FloatTensor<Self>,
        w_hh: FloatTensor<Self>,
        h0: FloatTensor<Self>,
        c0: FloatTensor<Self>,
    ) -> LstmSequence<Self> {
        let h0 = Self::inner(h0);
        let c0 = Self::inner(c0);
        let prep = LstmSequenceBackward
            .prepare::<C>([x_proj.node.clone(), w_hh.node.clone()])
            .compute_bound()
            .stateful();
        let (hidden_seq, last) = match prep {
            OpsKind::Tracked(prep) => {
                let (out, cache) = B::lstm_forward_cached(x_proj.primitive, w_hh.primitive, h0, c0);
                (prep.finish(cache, out.hidden_seq), (out.hidden, out.cell))
            }
            OpsKind::UnTracked(prep) => {
                let out = B::lstm_forward(x_proj.primitive, w_hh.primitive, h0, c0);
                (prep.finish(out.hidden_seq), (out.hidden, out.cell))
            }
        };
        LstmSequence {
            hidden_seq,
            hidden: Self::from_inner(last.0),
            cell: Self::from_inner(last.1),
        }
    }

    fn affine(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        b: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let prep = AffineBackward
            .prepare::<C>([x.node.clone(), w.node.clone(), b.node.clone()])
            .compute_bound()
            .stateful();
        match prep {
            OpsKind::Tracked(prep) => {
                let out = B::affine_forward(x.primitive.clone(), w.primitive.clone(), b.primitive);
                prep.finish((x.primitive, w.primitive), out)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(B::affine_forward(x.primitive, w.primitive, b.primitive))
            }
        }
    }

    fn cross_entropy(logits: FloatTensor<Self>, targets: IntTensor<Self>) -> FloatTensor<Self> {
        tracked_cross_entropy::<B, C>(logits, targets)
    }

    /// The inner backend's mask, as a constant of the graph.
    fn dropout_mask(
        shape: Shape,
        prob: f64,
        seed: u64,
        device: &burn::tensor::Device<Self>,
    ) -> FloatTensor<Self> {
        Self::from_inner(B::draw_dropout_mask(shape, prob, seed, device))
    }
}

#[derive(Debug)]
struct AffineBackward;

impl<B: LstmKernels> Backward<B, 3> for AffineBackward {
    /// The input and the weights.
    type State = (FloatTensor<B>, FloatTensor<B>);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let dy = grads.consume::<B>(&ops.node);
        let (x, w) = ops.state;
        let (dx, dw, db) = B::affine_backward(x, w, dy);
        for (node, grad) in ops.parents.into_iter().zip([dx, dw, db]) {
            if let Some(node) = node {
                grads.register::<B>(node.id, grad);
            }
        }
    }
}

#[derive(Debug)]
struct CrossEntropyBackward;

impl<B: LstmKernels> Backward<B, 1> for CrossEntropyBackward {
    /// The gradient of the loss with respect to the logits.
    type State = FloatTensor<B>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let seed = grads.consume::<B>(&ops.node);
        let [logits_node] = ops.parents;
        if let Some(node) = logits_node {
            grads.register::<B>(node.id, B::scale_loss_grad(ops.state, seed));
        }
    }
}

/// The fused loss as one autodiff node whose saved state is its own gradient.
fn tracked_cross_entropy<B: LstmKernels, C: CheckpointStrategy>(
    logits: FloatTensor<Autodiff<B, C>>,
    targets: IntTensor<Autodiff<B, C>>,
) -> FloatTensor<Autodiff<B, C>> {
    let prep = CrossEntropyBackward
        .prepare::<C>([logits.node.clone()])
        .compute_bound()
        .stateful();
    match prep {
        OpsKind::Tracked(prep) => {
            let (loss, grad) = B::cross_entropy_with_grad(logits.primitive, targets);
            prep.finish(grad, loss)
        }
        OpsKind::UnTracked(prep) => {
            prep.finish(B::cross_entropy_forward(logits.primitive, targets))
        }
    }
}
