//! The LSTM recurrence on burn's CPU backend (Flex) as plain loops over memory.
//!
//! Each step is one GEMM (`h · W_hh`, accumulated into that step's slice of the
//! input projection) and one fused pass that applies the gate activations and
//! updates `c` and `h` in place: no tensor is allocated inside the loop, unlike
//! the generic path, which issues about fifteen tensor operations per step.

use burn::backend::Flex;
use burn::tensor::ops::{FloatTensor, IntTensor};
use burn::tensor::{Int, Tensor, TensorData, TensorPrimitive};
use charrnn_cpu::{matmul, sigmoid, tanh};
use rayon::prelude::*;

use crate::backend::{LstmBackend, LstmCache, LstmSequence};

/// Rows of work below which a gate pass stays on one thread.
const PARALLEL_ELEMENTS: usize = 16 * 1024;

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

fn write<const D: usize>(data: Vec<f32>, dims: [usize; D]) -> FloatTensor<Flex> {
    let device = Default::default();
    Tensor::<Flex, D>::from_data(TensorData::new(data, dims), &device)
        .into_primitive()
        .tensor()
}

/// One batch row of a step: its gate pre-activations `[4H]`, then its new cell
/// and hidden state `[H]` each.
type StepRow<'a> = (&'a mut [f32], (&'a mut [f32], &'a mut [f32]));

struct Forward {
    /// `[T, B, 4H]`: the input projection, turned in place into gate activations.
    gates: Vec<f32>,
    /// `[T + 1, B, H]`: cell states, the initial one first.
    cells: Vec<f32>,
    /// `[T + 1, B, H]`: hidden states, the initial one first.
    hidden: Vec<f32>,
    dims: [usize; 3],
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
    for t in 0..seq_len {
        let z = &mut gates[t * batch * four_h..(t + 1) * batch * four_h];
        let (h_prev, h_next) = hidden.split_at_mut((t + 1) * bh);
        let h_prev = &h_prev[t * bh..];
        matmul(
            z,
            h_prev,
            w_hh,
            batch,
            hidden_size,
            four_h,
            false,
            false,
            true,
        );
        let (c_prev, c_next) = cells.split_at_mut((t + 1) * bh);
        let c_prev = &c_prev[t * bh..];
        let c_next = &mut c_next[..bh];
        let h_next = &mut h_next[..bh];
        // One row of the batch at a time: z row is [i | f | o | g].
        let mut rows: Vec<StepRow> = z
            .chunks_mut(four_h)
            .zip(
                c_next
                    .chunks_mut(hidden_size)
                    .zip(h_next.chunks_mut(hidden_size)),
            )
            .collect();
        let step = |b: usize, (zr, (cr, hr)): &mut StepRow| {
            let cp = &c_prev[b * hidden_size..(b + 1) * hidden_size];
            for j in 0..hidden_size {
                let i = sigmoid(zr[j]);
                let f = sigmoid(zr[hidden_size + j]);
                let o = sigmoid(zr[2 * hidden_size + j]);
                let g = tanh(zr[3 * hidden_size + j]);
                let c = f * cp[j] + i * g;
                cr[j] = c;
                hr[j] = o * tanh(c);
                zr[j] = i;
                zr[hidden_size + j] = f;
                zr[2 * hidden_size + j] = o;
                zr[3 * hidden_size + j] = g;
            }
        };
        if bh >= PARALLEL_ELEMENTS {
            rows.par_iter_mut()
                .enumerate()
                .for_each(|(b, r)| step(b, r));
        } else {
            rows.iter_mut().enumerate().for_each(|(b, r)| step(b, r));
        }
    }
    Forward {
        gates,
        cells,
        hidden,
        dims,
    }
}

impl Forward {
    fn outputs(&self) -> LstmSequence<Flex> {
        let [seq_len, batch, four_h] = self.dims;
        let h = four_h / 4;
        let bh = batch * h;
        LstmSequence {
            hidden_seq: write(self.hidden[bh..].to_vec(), [seq_len, batch, h]),
            hidden: write(self.hidden[seq_len * bh..].to_vec(), [batch, h]),
            cell: write(self.cells[seq_len * bh..].to_vec(), [batch, h]),
        }
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
            let t = t as usize;
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let target = row[t] - max;
            let mut sum = 0.0f32;
            if grad {
                for x in row.iter_mut() {
                    *x = (*x - max).exp();
                    sum += *x;
                }
                let k = scale / sum;
                for x in row.iter_mut() {
                    *x *= k;
                }
                row[t] -= scale;
            } else {
                sum = row.iter().map(|&x| (x - max).exp()).sum();
            }
            f64::from(sum.ln() - target)
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

impl LstmBackend for Flex {
    fn cross_entropy(logits: FloatTensor<Self>, targets: IntTensor<Self>) -> FloatTensor<Self> {
        let (mut data, [_, vocab]) = read::<2>(logits);
        let loss = cross_entropy_rows(&mut data, vocab, &read_ids(targets), false);
        write(vec![loss as f32], [1])
    }

    fn cross_entropy_with_grad(
        logits: FloatTensor<Self>,
        targets: IntTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let (mut data, dims) = read::<2>(logits);
        let loss = cross_entropy_rows(&mut data, dims[1], &read_ids(targets), true);
        (write(vec![loss as f32], [1]), write(data, dims))
    }

    fn lstm_sequence(
        x_proj: FloatTensor<Self>,
        w_hh: FloatTensor<Self>,
        h0: FloatTensor<Self>,
        c0: FloatTensor<Self>,
    ) -> LstmSequence<Self> {
        let (w, _) = read::<2>(w_hh);
        forward(x_proj, &w, h0, c0).outputs()
    }

    fn lstm_sequence_cached(
        x_proj: FloatTensor<Self>,
        w_hh: FloatTensor<Self>,
        h0: FloatTensor<Self>,
        c0: FloatTensor<Self>,
    ) -> (LstmSequence<Self>, LstmCache<Self>) {
        let (w, w_dims) = read::<2>(w_hh);
        let fwd = forward(x_proj, &w, h0, c0);
        let out = fwd.outputs();
        let [seq_len, batch, four_h] = fwd.dims;
        let h = four_h / 4;
        let bh = batch * h;
        let cache = LstmCache {
            hidden_in: write(fwd.hidden[..seq_len * bh].to_vec(), [seq_len, batch, h]),
            cells: write(fwd.cells, [seq_len + 1, batch, h]),
            gates: write(fwd.gates, fwd.dims),
            w_hh: write(w, w_dims),
        };
        (out, cache)
    }

    fn lstm_sequence_backward(
        cache: LstmCache<Self>,
        grad_hidden_seq: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let (mut dz, dims) = read::<3>(cache.gates);
        let (cells, _) = read::<3>(cache.cells);
        let (hidden_in, _) = read::<3>(cache.hidden_in);
        let (w_hh, _) = read::<2>(cache.w_hh);
        let (grad_hs, _) = read::<3>(grad_hidden_seq);
        let [seq_len, batch, four_h] = dims;
        let h = four_h / 4;
        let bh = batch * h;
        let mut dh_next = vec![0.0f32; bh];
        let mut dc_next = vec![0.0f32; bh];
        for t in (0..seq_len).rev() {
            // dz[t] holds the gate activations on entry and their gradient on exit.
            let z = &mut dz[t * batch * four_h..(t + 1) * batch * four_h];
            let c_prev = &cells[t * bh..(t + 1) * bh];
            let c_now = &cells[(t + 1) * bh..(t + 2) * bh];
            let g_out = &grad_hs[t * bh..(t + 1) * bh];
            let dh_in = &dh_next;
            let step = |b: usize, (zr, dcr): (&mut [f32], &mut [f32])| {
                for j in 0..h {
                    let k = b * h + j;
                    let (i, f, o, g) = (zr[j], zr[h + j], zr[2 * h + j], zr[3 * h + j]);
                    let tc = tanh(c_now[k]);
                    let dh = g_out[k] + dh_in[k];
                    let d_o = dh * tc;
                    let dc = dcr[j] + dh * o * (1.0 - tc * tc);
                    dcr[j] = dc * f;
                    zr[j] = dc * g * i * (1.0 - i);
                    zr[h + j] = dc * c_prev[k] * f * (1.0 - f);
                    zr[2 * h + j] = d_o * o * (1.0 - o);
                    zr[3 * h + j] = dc * i * (1.0 - g * g);
                }
            };
            let pairs = z.chunks_mut(four_h).zip(dc_next.chunks_mut(h));
            if bh >= PARALLEL_ELEMENTS {
                pairs.enumerate().par_bridge().for_each(|(b, p)| step(b, p));
            } else {
                pairs.enumerate().for_each(|(b, p)| step(b, p));
            }
            // dh_{t-1} = dz_t · W_hhᵀ
            matmul(&mut dh_next, z, &w_hh, batch, four_h, h, false, true, false);
        }
        // dW_hh = Σ_t h_{t-1}ᵀ · dz_t, one GEMM over all steps.
        let mut dw = vec![0.0f32; h * four_h];
        matmul(
            &mut dw,
            &hidden_in,
            &dz,
            h,
            seq_len * batch,
            four_h,
            true,
            false,
            false,
        );
        (write(dz, dims), write(dw, [h, four_h]))
    }
}
