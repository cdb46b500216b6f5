//! The LSTM recurrence on burn's CPU backend (Flex) as plain loops over memory.
//!
//! Each step is one GEMM (`h · W_hh`, accumulated into that step's slice of the
//! input projection) and one fused pass that applies the gate activations and
//! updates `c` and `h` in place: no tensor is allocated inside the loop, unlike
//! the generic path, which issues about fifteen tensor operations per step.
//! Batch rows never interact in the recurrence, so each thread runs the whole
//! sequence for its own rows, with no synchronisation per step.

use burn::backend::Flex;
use burn::tensor::ops::{FloatTensor, IntTensor};
use burn::tensor::{DType, Int, Tensor, TensorData, TensorPrimitive};
use burn_flex::FlexTensor;
use charrnn_cpu::{
    lstm_cell, lstm_cell_backward, matmul, matmul_packed_in_thread, product, softmax, Mat, Output,
    PackedRhs, SharedMut,
};
use rayon::prelude::*;

use crate::backend::{AdamStep, LstmCache, LstmKernels, LstmSequence};
use crate::{splitmix64, GOLDEN_GAMMA};

fn read<const D: usize>(t: FloatTensor<Flex>) -> (Vec<f32>, [usize; D]) {
    let t = Tensor::<Flex, D>::from_primitive(TensorPrimitive::Float(t));
    let dims = t.dims();
    let data = t
        .into_data()
        .convert::<f32>()
        .into_vec::<f32>()
        .expect("converted to f32");
    (data, dims)
}

/// `t` as contiguous `f32` storage: the tensor itself, not a copy, when it
/// already is, even as a view into a larger buffer (weights held by the model
/// are shared, so [`read`] would copy them).
fn contiguous(t: FloatTensor<Flex>) -> FlexTensor {
    if t.dtype() == DType::F32 && t.layout().contiguous_offsets().is_some() {
        t
    } else if t.dtype() == DType::F32 {
        t.to_contiguous()
    } else {
        FlexTensor::from_data(t.into_data().convert::<f32>())
    }
}

/// The elements of a tensor from [`contiguous`].
fn values(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>().expect("a contiguous f32 tensor")
}

/// `t` as a contiguous `f32` tensor whose storage is exactly its elements, to
/// update in place: the tensor itself when it already is one (its storage is
/// then copied on write only if something else still shares it).
fn exclusive(t: FloatTensor<Flex>) -> FlexTensor {
    // `to_contiguous` shares the storage when it already fits exactly; the
    // temporary it was called on is dropped here, leaving the previous owners.
    contiguous(t).to_contiguous()
}

fn dims<const D: usize>(t: &FlexTensor) -> [usize; D] {
    t.layout().shape().dims::<D>()
}

fn write<const D: usize>(data: Vec<f32>, dims: [usize; D]) -> FloatTensor<Flex> {
    let device = Default::default();
    Tensor::<Flex, D>::from_data(TensorData::new(data, dims), &device)
        .into_primitive()
        .tensor()
}

struct Forward {
    /// `[T, B, 4H]`: the input projection, turned in place into gate activations.
    gates: Vec<f32>,
    /// `[T + 1, B, H]`: cell states, the initial one first.
    cells: Vec<f32>,
    /// `[T + 1, B, H]`: hidden states, the initial one first.
    hidden: Vec<f32>,
    dims: [usize; 3],
}

/// Runs `f` on groups of batch rows, one group per thread, in parallel.
///
/// The rows of a batch never interact in the recurrence, so each thread runs
/// the whole sequence for its rows with no synchronisation per step; groups
/// are whole 8-row tiles of the GEMM kernel.
fn for_row_groups(batch: usize, f: impl Fn(std::ops::Range<usize>) + Sync) {
    let threads = rayon::current_num_threads().max(1);
    let group = batch.div_ceil(threads).next_multiple_of(8);
    if group >= batch {
        return f(0..batch);
    }
    (0..batch.div_ceil(group))
        .into_par_iter()
        .for_each(|g| f(g * group..((g + 1) * group).min(batch)));
}

fn forward(
    x_proj: FloatTensor<Flex>,
    w_hh: &[f32],
    h0: FloatTensor<Flex>,
    c0: FloatTensor<Flex>,
) -> Forward {
    let (mut gates, dims) = read::<3>(x_proj);
    let [seq_len, batch, four_h] = dims;
    let hidden_size = four_h / 4;
    let bh = batch * hidden_size;
    let mut cells = vec![0.0; (seq_len + 1) * bh];
    let mut hidden = vec![0.0; (seq_len + 1) * bh];
    cells[..bh].copy_from_slice(&read::<2>(c0).0);
    hidden[..bh].copy_from_slice(&read::<2>(h0).0);
    // Packed once, multiplied once per step.
    let w_hh = PackedRhs::new(Mat::new(w_hh, hidden_size, four_h));
    let (z_all, c_all, h_all) = (
        SharedMut::new(&mut gates),
        SharedMut::new(&mut cells),
        SharedMut::new(&mut hidden),
    );
    for_row_groups(batch, |rows| {
        let m = rows.len();
        let (zs, hs) = (rows.start * four_h, rows.start * hidden_size);
        for t in 0..seq_len {
            // SAFETY: rows `rows` of steps t and t + 1 belong to this task alone.
            let (z, c_prev, c, h_prev, h) = unsafe {
                (
                    z_all.part(t * batch * four_h + zs, m * four_h),
                    c_all.part(t * bh + hs, m * hidden_size),
                    c_all.part((t + 1) * bh + hs, m * hidden_size),
                    h_all.part(t * bh + hs, m * hidden_size),
                    h_all.part((t + 1) * bh + hs, m * hidden_size),
                )
            };
            let h_prev = Mat::new(h_prev, m, hidden_size);
            matmul_packed_in_thread(z, h_prev, &w_hh, Output::Accumulate);
            // The cell update runs in place on a copy of the previous state.
            c.copy_from_slice(c_prev);
            for ((z, c), h) in z
                .chunks_mut(four_h)
                .zip(c.chunks_mut(hidden_size))
                .zip(h.chunks_mut(hidden_size))
            {
                lstm_cell(z, c, h);
            }
        }
    });
    Forward {
        gates,
        cells,
        hidden,
        dims,
    }
}

impl Forward {
    /// Splits the run into the layer's outputs and what the backward pass
    /// keeps. The output sequence and the hidden state entering each step are
    /// two views of one buffer of hidden states, not copies; the final state is
    /// copied, so that carrying it to the next batch does not pin the buffer.
    fn finish(self, w_hh: FlexTensor) -> (LstmSequence<Flex>, LstmCache<Flex>) {
        let [seq_len, batch, four_h] = self.dims;
        let h = four_h / 4;
        let last = |x: &[f32]| write(x[seq_len * batch * h..].to_vec(), [batch, h]);
        let (hidden, cell) = (last(&self.hidden), last(&self.cells));
        let all_hidden =
            FlexTensor::from_data(TensorData::new(self.hidden, [seq_len + 1, batch, h]));
        let out = LstmSequence {
            hidden_seq: all_hidden.narrow(0, 1, seq_len),
            hidden,
            cell,
        };
        let cache = LstmCache {
            hidden_in: all_hidden.narrow(0, 0, seq_len),
            cells: write(self.cells, [seq_len + 1, batch, h]),
            gates: write(self.gates, self.dims),
            w_hh,
        };
        (out, cache)
    }
}

/// Mean cross-entropy of the rows of `logits` (`[n, vocab]`, row-major) against
/// `targets`; when `grad` is set the logits are overwritten with the gradient of
/// the mean, `(softmax - one_hot) / n`. Rows run in parallel.
fn cross_entropy_rows(logits: &mut [f32], vocab: usize, targets: &[i64], grad: bool) -> f64 {
    let n = targets.len();
    let scale = 1.0 / n as f32;
    let total: f64 = logits
        .par_chunks_mut(vocab)
        .zip(targets.par_iter())
        .with_min_len(16)
        .map(|(row, &t)| {
            let target = row[t as usize];
            let log_sum_exp = softmax(row, scale);
            if grad {
                row[t as usize] -= scale;
            }
            f64::from(log_sum_exp - target)
        })
        .sum();
    total / n as f64
}

fn read_ids(targets: IntTensor<Flex>) -> Vec<i64> {
    Tensor::<Flex, 1, Int>::from_primitive(targets)
        .into_data()
        .iter::<i64>()
        .collect()
}

impl LstmKernels for Flex {
    /// A counter-based mask: element `i` keeps when the hash of `(seed, i)`
    /// falls below `1 - prob`, so the mask is the same however the threads
    /// split it, and costs a few instructions per element.
    fn draw_dropout_mask(
        shape: burn::tensor::Shape,
        prob: f64,
        seed: u64,
        _device: &burn_flex::FlexDevice,
    ) -> FloatTensor<Self> {
        const CHUNK: usize = 1 << 14;
        let keep = 1.0 - prob;
        let threshold = (keep * (1u64 << 32) as f64) as u64;
        let scale = (1.0 / keep) as f32;
        let key = splitmix64(seed);
        let mut mask = vec![0.0f32; shape.num_elements()];
        mask.par_chunks_mut(CHUNK)
            .enumerate()
            .for_each(|(c, chunk)| {
                for (i, m) in chunk.iter_mut().enumerate() {
                    let index = (c * CHUNK + i) as u64;
                    let draw = splitmix64(key ^ index.wrapping_mul(GOLDEN_GAMMA)) >> 32;
                    *m = if draw < threshold { scale } else { 0.0 };
                }
            });
        FlexTensor::from_data(TensorData::new(mask, shape))
    }

    fn affine_forward(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        b: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let (x, w, b) = (contiguous(x), contiguous(w), contiguous(b));
        let [n, input] = dims(&x);
        let output = dims::<2>(&w)[1];
        let (x, w, b) = (values(&x), values(&w), values(&b));
        write(
            product(Mat::new(x, n, input), Mat::new(w, input, output), Some(b)),
            [n, output],
        )
    }

    fn affine_backward(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        dy: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let (x, w, dy) = (contiguous(x), contiguous(w), contiguous(dy));
        let [n, input] = dims(&x);
        let output = dims::<2>(&w)[1];
        let (x, w, dy) = (values(&x), values(&w), values(&dy));
        let dy_mat = Mat::new(dy, n, output);
        let dx = product(dy_mat, Mat::transposed(w, output, input), None);
        let dw = product(Mat::transposed(x, input, n), dy_mat, None);
        // db = 1ᵀ · dy: a vector-matrix product, split across the cores.
        let mut db = vec![0.0; output];
        let ones = vec![1.0; n];
        matmul(&mut db, Mat::new(&ones, 1, n), dy_mat, Output::Overwrite);
        (
            write(dx, [n, input]),
            write(dw, [input, output]),
            write(db, [output]),
        )
    }

    /// One pass over the four arrays, split across threads, updating the
    /// parameter and the moments in place; the same `f32` operations in the
    /// same order as [`portable_adam_step`](crate::portable_adam_step).
    fn adam_step(
        param: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        moments: Option<(FloatTensor<Self>, FloatTensor<Self>)>,
        step: &AdamStep,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        const CHUNK: usize = 1 << 14;
        let grad = contiguous(grad);
        let mut param = exclusive(param);
        let shape = param.layout().shape().clone();
        let (mut m, mut v) = match moments {
            Some((m, v)) => (exclusive(m), exclusive(v)),
            None => (
                FlexTensor::zeros(shape.clone(), DType::F32),
                FlexTensor::zeros(shape, DType::F32),
            ),
        };
        let (a, b) = step.factors();
        let (b1, b2, lr) = (step.beta_1, step.beta_2, step.lr as f32);
        let (c1, c2) = (1.0 - b1, 1.0 - b2);
        /// Matching chunks of the parameter, the two moments and the gradient.
        type Chunks<'a> = (((&'a mut [f32], &'a mut [f32]), &'a mut [f32]), &'a [f32]);
        let update = |(((p, m), v), g): Chunks| {
            for (((p, m), v), &g) in p.iter_mut().zip(m).zip(v).zip(g) {
                *m = *m * b1 + g * c1;
                *v = *v * b2 + g * g * c2;
                *p -= *m * a / (v.sqrt() + b) * lr;
            }
        };
        let (p_all, g_all) = (param.storage_mut::<f32>(), values(&grad));
        let (m_all, v_all) = (m.storage_mut::<f32>(), v.storage_mut::<f32>());
        if p_all.len() <= CHUNK {
            update((((p_all, m_all), v_all), g_all));
        } else {
            p_all
                .par_chunks_mut(CHUNK)
                .zip(m_all.par_chunks_mut(CHUNK))
                .zip(v_all.par_chunks_mut(CHUNK))
                .zip(g_all.par_chunks(CHUNK))
                .for_each(update);
        }
        (param, m, v)
    }

    fn cross_entropy_forward(
        logits: FloatTensor<Self>,
        targets: IntTensor<Self>,
    ) -> FloatTensor<Self> {
        let (mut data, [_, vocab]) = read::<2>(logits);
        let loss = cross_entropy_rows(&mut data, vocab, &read_ids(targets), false);
        write(vec![loss as f32], [1])
    }

    /// Reads the seed (free on the CPU) and skips the pass when it is 1, as
    /// `loss.backward()` seeds it: scaling the step's largest tensor by 1 was
    /// one more serial pass over it.
    fn scale_loss_grad(grad: FloatTensor<Self>, seed: FloatTensor<Self>) -> FloatTensor<Self> {
        let (seed, _) = read::<1>(seed);
        if seed[0] == 1.0 {
            grad
        } else {
            let grad = Tensor::<Flex, 2>::from_primitive(TensorPrimitive::Float(grad));
            grad.mul_scalar(seed[0]).into_primitive().tensor()
        }
    }

    fn cross_entropy_with_grad(
        logits: FloatTensor<Self>,
        targets: IntTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let (mut data, dims) = read::<2>(logits);
        let loss = cross_entropy_rows(&mut data, dims[1], &read_ids(targets), true);
        (write(vec![loss as f32], [1]), write(data, dims))
    }

    fn lstm_forward(
        x_proj: FloatTensor<Self>,
        w_hh: FloatTensor<Self>,
        h0: FloatTensor<Self>,
        c0: FloatTensor<Self>,
    ) -> LstmSequence<Self> {
        let w = contiguous(w_hh);
        forward(x_proj, values(&w), h0, c0).finish(w).0
    }

    fn lstm_forward_cached(
        x_proj: FloatTensor<Self>,
        w_hh: FloatTensor<Self>,
        h0: FloatTensor<Self>,
        c0: FloatTensor<Self>,
    ) -> (LstmSequence<Self>, LstmCache<Self>) {
        let w = contiguous(w_hh);
        forward(x_proj, values(&w), h0, c0).finish(w)
    }

    fn lstm_backward(
        cache: LstmCache<Self>,
        grad_hidden_seq: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let (mut dz, dims) = read::<3>(cache.gates);
        // Read in place: the hidden states are a view of the forward buffer.
        let (cells, hidden_in) = (contiguous(cache.cells), contiguous(cache.hidden_in));
        let (w_hh, grad_hs) = (contiguous(cache.w_hh), contiguous(grad_hidden_seq));
        let (cells, hidden_in) = (values(&cells), values(&hidden_in));
        let (w_hh, grad_hs) = (values(&w_hh), values(&grad_hs));
        let [seq_len, batch, four_h] = dims;
        let h = four_h / 4;
        let bh = batch * h;
        let w_hh_t = PackedRhs::new(Mat::transposed(w_hh, four_h, h));
        let dz_all = SharedMut::new(&mut dz);
        for_row_groups(batch, |rows| {
            let m = rows.len();
            let (zs, hs) = (rows.start * four_h, rows.start * h);
            let mut dh_next = vec![0.0f32; m * h];
            let mut dc = vec![0.0f32; m * h];
            for t in (0..seq_len).rev() {
                // dz[t] holds the gate activations on entry and their gradient
                // on exit. SAFETY: rows `rows` of step t belong to this task.
                let z = unsafe { dz_all.part(t * batch * four_h + zs, m * four_h) };
                let at = |step: usize| step * bh + hs..step * bh + hs + m * h;
                let (c_prev, c_now, g_out) = (&cells[at(t)], &cells[at(t + 1)], &grad_hs[at(t)]);
                for (b, (z, dc)) in z.chunks_mut(four_h).zip(dc.chunks_mut(h)).enumerate() {
                    let row = b * h..(b + 1) * h;
                    lstm_cell_backward(
                        z,
                        &c_prev[row.clone()],
                        &c_now[row.clone()],
                        &g_out[row.clone()],
                        &dh_next[row],
                        dc,
                    );
                }
                // dh_{t-1} = dz_t · W_hhᵀ
                let dz_t = Mat::new(z, m, four_h);
                matmul_packed_in_thread(&mut dh_next, dz_t, &w_hh_t, Output::Overwrite);
            }
        });
        // dW_hh = Σ_t h_{t-1}ᵀ · dz_t, one GEMM over all steps.
        let mut dw = vec![0.0f32; h * four_h];
        let rows = seq_len * batch;
        let (h_in, dz_rows) = (
            Mat::transposed(hidden_in, h, rows),
            Mat::new(&dz, rows, four_h),
        );
        matmul(&mut dw, h_in, dz_rows, Output::Overwrite);
        (write(dz, dims), write(dw, [h, four_h]))
    }
}
