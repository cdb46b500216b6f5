//! The portable kernels: each [`LstmKernels`](super::LstmKernels) default,
//! written with burn tensor operations, for any backend.

use burn::tensor::activation::log_softmax;
use burn::tensor::activation::sigmoid;
use burn::tensor::backend::Backend;
use burn::tensor::ops::{FloatTensor, IntTensor};
use burn::tensor::{
    Distribution, IndexingUpdateOp, Int, Shape, Tensor, TensorMetadata, TensorPrimitive,
};

use super::{AdamStep, LstmCache, LstmSequence};

/// The portable Adam update from burn tensor operations (see
/// [`LstmKernels::adam_step`](crate::LstmKernels::adam_step)), the same operations as burn's `Adam`.
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
/// [`LstmKernels::draw_dropout_mask`](crate::LstmKernels::draw_dropout_mask)).
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

/// The portable affine map (see [`LstmKernels::affine_forward`](crate::LstmKernels::affine_forward)).
pub fn portable_affine<B: Backend>(
    x: FloatTensor<B>,
    w: FloatTensor<B>,
    b: FloatTensor<B>,
) -> FloatTensor<B> {
    let b: Tensor<B, 1> = wrap(b);
    unwrap(wrap::<B, 2>(x).matmul(wrap(w)).add(b.unsqueeze::<2>()))
}

/// The portable gradients of the affine map (see [`LstmKernels::affine_backward`](crate::LstmKernels::affine_backward)).
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
/// [`LstmKernels::cross_entropy_with_grad`](crate::LstmKernels::cross_entropy_with_grad)).
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

pub(super) fn unwrap<B: Backend, const D: usize>(t: Tensor<B, D>) -> FloatTensor<B> {
    t.into_primitive().tensor()
}

/// The portable forward recurrence, built from burn tensor operations: what every
/// backend runs unless it overrides [`LstmBackend`](crate::LstmBackend). Public so that a backend's
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

pub(super) fn recurrence<B: Backend>(
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
