//! The LSTM cell, forward and backward, one time step per launch.
// `#[cube(launch)]` generates an undocumented launch module per kernel; each
// kernel itself is documented.
#![allow(missing_docs)]

use cubecl::prelude::*;

/// The logistic function, through one `exp` (which saturates cleanly at both ends).
#[cube]
fn sigmoid<F: Float>(x: F) -> F {
    F::new(1.0) / (F::new(1.0) + F::exp(F::new(0.0) - x))
}

/// `tanh` through the logistic function: finite for every input, on every
/// runtime (a native `tanh` may overflow to NaN for large inputs).
#[cube]
fn tanh<F: Float>(x: F) -> F {
    F::new(2.0) * sigmoid::<F>(F::new(2.0) * x) - F::new(1.0)
}

/// One LSTM time step, one unit per `(row, unit)` of the `batch × units` state.
///
/// Reads the step's input projection `x_proj[step]` (`[seq, batch, 4·units]`),
/// the recurrent product `hw = h_{step-1} · W_hh` (`[batch, 4·units]`) and the
/// previous cell state `cells[step]`; writes the gate activations
/// `gates[step]` (`[seq, batch, 4·units]`), the new cell state
/// `cells[step + 1]` and hidden state `hidden[step + 1]` (both
/// `[seq + 1, batch, units]`), and the hidden state again into `h_out`
/// (`[batch, units]`), the next step's GEMM operand. Every tensor is read
/// through its strides (a runtime may pad rows).
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn lstm_cell_forward<F: Float>(
    x_proj: &Tensor<F>,
    hw: &Tensor<F>,
    gates: &mut Tensor<F>,
    cells: &mut Tensor<F>,
    hidden: &mut Tensor<F>,
    h_out: &mut Tensor<F>,
    step: usize,
    batch: usize,
    units: usize,
) {
    let pos = ABSOLUTE_POS;
    if pos >= batch * units {
        terminate!();
    }
    let b = pos / units;
    let j = pos % units;
    let x = step * x_proj.stride(0) + b * x_proj.stride(1);
    let xs = x_proj.stride(2);
    let r = b * hw.stride(0);
    let rs = hw.stride(1);
    let i = sigmoid::<F>(x_proj[x + j * xs] + hw[r + j * rs]);
    let f = sigmoid::<F>(x_proj[x + (units + j) * xs] + hw[r + (units + j) * rs]);
    let o = sigmoid::<F>(x_proj[x + (2 * units + j) * xs] + hw[r + (2 * units + j) * rs]);
    let g = tanh::<F>(x_proj[x + (3 * units + j) * xs] + hw[r + (3 * units + j) * rs]);
    let prev = step * cells.stride(0) + b * cells.stride(1) + j * cells.stride(2);
    let c = f * cells[prev] + i * g;
    let h = o * tanh::<F>(c);
    let z = step * gates.stride(0) + b * gates.stride(1);
    let zs = gates.stride(2);
    gates[z + j * zs] = i;
    gates[z + (units + j) * zs] = f;
    gates[z + (2 * units + j) * zs] = o;
    gates[z + (3 * units + j) * zs] = g;
    cells[prev + cells.stride(0)] = c;
    hidden[(step + 1) * hidden.stride(0) + b * hidden.stride(1) + j * hidden.stride(2)] = h;
    h_out[b * h_out.stride(0) + j * h_out.stride(1)] = h;
}

/// One step of the LSTM's backward pass through time, one unit per
/// `(row, unit)`.
///
/// Reads the step's gate activations `gates[step]` and cell states
/// `cells[step]`, `cells[step + 1]` (layouts as in [`lstm_cell_forward()`]), the
/// gradient reaching this step's output `grad_hidden[step]` (`[seq, batch,
/// units]`), the gradient flowing back from the next step through the
/// recurrent weights, `dh_next = dz_{step+1} · W_hhᵀ` (`[batch, units]`), and
/// the next step's cell gradient `dc` (`[batch, units]`), which it replaces by
/// this step's. Writes the gate pre-activation gradients into `dz[step]`
/// (`[seq, batch, 4·units]`) and again into `dz_out` (`[batch, 4·units]`),
/// the operand of the next (earlier) step's GEMM.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn lstm_cell_backward<F: Float>(
    gates: &Tensor<F>,
    cells: &Tensor<F>,
    grad_hidden: &Tensor<F>,
    dh_next: &Tensor<F>,
    dc: &mut Tensor<F>,
    dz: &mut Tensor<F>,
    dz_out: &mut Tensor<F>,
    step: usize,
    batch: usize,
    units: usize,
) {
    let pos = ABSOLUTE_POS;
    if pos >= batch * units {
        terminate!();
    }
    let b = pos / units;
    let j = pos % units;
    let one = F::new(1.0);
    let z = step * gates.stride(0) + b * gates.stride(1);
    let zs = gates.stride(2);
    let i = gates[z + j * zs];
    let f = gates[z + (units + j) * zs];
    let o = gates[z + (2 * units + j) * zs];
    let g = gates[z + (3 * units + j) * zs];
    let prev = step * cells.stride(0) + b * cells.stride(1) + j * cells.stride(2);
    let c_prev = cells[prev];
    let tanh_c = tanh::<F>(cells[prev + cells.stride(0)]);
    let out = step * grad_hidden.stride(0) + b * grad_hidden.stride(1) + j * grad_hidden.stride(2);
    let dh = grad_hidden[out] + dh_next[b * dh_next.stride(0) + j * dh_next.stride(1)];
    let state = b * dc.stride(0) + j * dc.stride(1);
    let dc_here = dc[state] + dh * o * (one - tanh_c * tanh_c);
    dc[state] = dc_here * f;
    // Derivatives of the activations, through their outputs.
    let dz_i = dc_here * g * i * (one - i);
    let dz_f = dc_here * c_prev * f * (one - f);
    let dz_o = dh * tanh_c * o * (one - o);
    let dz_g = dc_here * i * (one - g * g);
    let d = step * dz.stride(0) + b * dz.stride(1);
    let ds = dz.stride(2);
    dz[d + j * ds] = dz_i;
    dz[d + (units + j) * ds] = dz_f;
    dz[d + (2 * units + j) * ds] = dz_o;
    dz[d + (3 * units + j) * ds] = dz_g;
    let e = b * dz_out.stride(0);
    let es = dz_out.stride(1);
    dz_out[e + j * es] = dz_i;
    dz_out[e + (units + j) * es] = dz_f;
    dz_out[e + (2 * units + j) * es] = dz_o;
    dz_out[e + (3 * units + j) * es] = dz_g;
}
