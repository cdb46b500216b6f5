//! Vectorised activations: the LSTM cell (forward and backward) and a scaled
//! softmax, over an `exp` that the compiler turns into SIMD code.
//!
//! Each loop is written once, branch-free, and compiled three times (AVX-512,
//! AVX2+FMA, baseline; see `multiversion!`); the widest the CPU supports is
//! picked at run time.
//! `libm`'s `expf` is a scalar call, which keeps these loops from vectorising.

/// `e^x` to within 2 ulp for `x` in `[-87, 88]` (clamped outside), without
/// branches or calls so that loops over it vectorise.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split in two so that `n * LN2_HI` is exact.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding 1.5 * 2^23 rounds to an integer in the low mantissa bits.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let shifted = x * LOG2E + ROUND;
    let n = shifted - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    // Cephes' minimax polynomial for e^r on [-ln2/2, ln2/2].
    let mut p = 1.987_569_2e-4;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let y = p * r * r + r + 1.0;
    let n = shifted.to_bits() as i32 - ROUND.to_bits() as i32;
    y * f32::from_bits(((n + 127) << 23) as u32)
}

/// The logistic function.
#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// `tanh` through the logistic function: one `exp` instead of two.
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    2.0 * sigmoid(2.0 * x) - 1.0
}

multiversion! {
    /// One LSTM step for one row: `z` holds the gate pre-activations
    /// `[i | f | o | g]` (each `c.len()` wide) and is overwritten with their
    /// activations; `c` is the previous cell state and becomes the new one;
    /// `h` receives the new hidden state.
    pub fn lstm_cell(z: &mut [f32], c: &mut [f32], h: &mut [f32]) -> () {
        let n = c.len();
        assert!(z.len() == 4 * n && h.len() == n);
        let (i, rest) = z.split_at_mut(n);
        let (f, rest) = rest.split_at_mut(n);
        let (o, g) = rest.split_at_mut(n);
        for j in 0..n {
            let (ij, fj, oj, gj) = (sigmoid(i[j]), sigmoid(f[j]), sigmoid(o[j]), tanh(g[j]));
            let cj = fj * c[j] + ij * gj;
            c[j] = cj;
            h[j] = oj * tanh(cj);
            (i[j], f[j], o[j], g[j]) = (ij, fj, oj, gj);
        }
    }
}

multiversion! {
    /// Back-propagates one row of one LSTM step. `act` holds the gate
    /// activations `[i | f | o | g]` on entry and the gradient of the loss
    /// with respect to their pre-activations on exit; `c_prev` and `c` are the
    /// cell states before and after the step; the gradient of the hidden state
    /// is `dh_out + dh_next` (from the layer above and from the next step);
    /// `dc` holds the gradient of `c` from the next step on entry and that of
    /// `c_prev` on exit.
    pub fn lstm_cell_backward(
        act: &mut [f32],
        c_prev: &[f32],
        c: &[f32],
        dh_out: &[f32],
        dh_next: &[f32],
        dc: &mut [f32]
    ) -> () {
        let n = c.len();
        assert!(act.len() == 4 * n && c_prev.len() == n && dh_out.len() == n);
        assert!(dh_next.len() == n && dc.len() == n);
        let (i, rest) = act.split_at_mut(n);
        let (f, rest) = rest.split_at_mut(n);
        let (o, g) = rest.split_at_mut(n);
        for j in 0..n {
            let (ij, fj, oj, gj) = (i[j], f[j], o[j], g[j]);
            let tc = tanh(c[j]);
            let dh = dh_out[j] + dh_next[j];
            let dcj = dc[j] + dh * oj * (1.0 - tc * tc);
            dc[j] = dcj * fj;
            i[j] = dcj * gj * ij * (1.0 - ij);
            f[j] = dcj * c_prev[j] * fj * (1.0 - fj);
            o[j] = dh * tc * oj * (1.0 - oj);
            g[j] = dcj * ij * (1.0 - gj * gj);
        }
    }
}

multiversion! {
    /// Replaces `row` by `scale * softmax(row)` and returns `log Σ e^row`
    /// (so the cross-entropy of class `t` is the return value minus the
    /// original `row[t]`).
    pub fn softmax(row: &mut [f32], scale: f32) -> f32 {
        // Sixteen running maxima and sums: lanes of one vector.
        let mut lanes = [f32::NEG_INFINITY; 16];
        let mut chunks = row.chunks_exact(16);
        for chunk in &mut chunks {
            for (m, &x) in lanes.iter_mut().zip(chunk) {
                *m = if x > *m { x } else { *m };
            }
        }
        let max = chunks
            .remainder()
            .iter()
            .chain(&lanes)
            .fold(f32::NEG_INFINITY, |m, &x| if x > m { x } else { m });
        let mut sums = [0.0f32; 16];
        let mut chunks = row.chunks_exact_mut(16);
        for chunk in &mut chunks {
            for (s, x) in sums.iter_mut().zip(chunk) {
                *x = exp(*x - max);
                *s += *x;
            }
        }
        let mut sum: f32 = sums.iter().sum();
        for x in chunks.into_remainder() {
            *x = exp(*x - max);
            sum += *x;
        }
        let k = scale / sum;
        for x in row.iter_mut() {
            *x *= k;
        }
        max + sum.ln()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_within_two_ulp_of_libm() {
        let mut x = -87.0f32;
        while x <= 88.0 {
            let (got, want) = (exp(x), x.exp());
            assert!(
                ((got - want) / want).abs() < 2.5e-7,
                "exp({x}) = {got}, libm says {want}"
            );
            x += 0.0137;
        }
        assert_eq!(exp(0.0), 1.0);
        assert!(exp(-1000.0) > 0.0 && exp(-1000.0) < 1e-37);
        assert!(exp(1000.0).is_finite());
    }

    #[test]
    fn activations() {
        assert!((sigmoid(0.0) - 0.5).abs() < 1e-7);
        for x in [-30.0f32, -5.0, -0.3, 0.0, 0.7, 4.0, 30.0] {
            assert!((tanh(x) - x.tanh()).abs() < 1e-6, "tanh({x})");
            assert!((sigmoid(x) - 1.0 / (1.0 + (-x).exp())).abs() < 1e-6);
        }
    }

    fn wave(n: usize, k: f32) -> Vec<f32> {
        (0..n).map(|j| (j as f32 * k).sin() * 3.0).collect()
    }

    #[test]
    fn lstm_cell_matches_the_equations() {
        let n = 37;
        let z0 = wave(4 * n, 0.37);
        let c0 = wave(n, 0.91);
        let (mut z, mut c, mut h) = (z0.clone(), c0.clone(), vec![0.0; n]);
        lstm_cell(&mut z, &mut c, &mut h);
        let s = |x: f32| 1.0 / (1.0 + (-x).exp());
        for j in 0..n {
            let (i, f, o, g) = (
                s(z0[j]),
                s(z0[n + j]),
                s(z0[2 * n + j]),
                z0[3 * n + j].tanh(),
            );
            let cj = f * c0[j] + i * g;
            assert!((c[j] - cj).abs() < 1e-5 && (h[j] - o * cj.tanh()).abs() < 1e-5);
            assert!((z[j] - i).abs() < 1e-6 && (z[3 * n + j] - g).abs() < 1e-6);
        }
    }

    #[test]
    fn lstm_cell_backward_matches_finite_differences() {
        // Loss = Σ w_h·h + w_c·c over one step; compare the analytic
        // gradients of the pre-activations and of c_prev with central
        // differences (in f64 through the f32 kernel, so tolerances are loose).
        let n = 5;
        let z0 = wave(4 * n, 0.53);
        let c0 = wave(n, 0.29);
        let (w_h, w_c) = (wave(n, 1.3), wave(n, 0.7));
        let loss = |z: &[f32], c_prev: &[f32]| -> f64 {
            let (mut z, mut c, mut h) = (z.to_vec(), c_prev.to_vec(), vec![0.0; n]);
            lstm_cell(&mut z, &mut c, &mut h);
            (0..n)
                .map(|j| f64::from(w_h[j] * h[j] + w_c[j] * c[j]))
                .sum()
        };
        let mut act = z0.clone();
        let (mut c, mut h) = (c0.clone(), vec![0.0; n]);
        lstm_cell(&mut act, &mut c, &mut h);
        let mut dc = w_c.clone();
        lstm_cell_backward(&mut act, &c0, &c, &w_h, &vec![0.0; n], &mut dc);
        let eps = 1e-2f32;
        for k in 0..4 * n {
            let (mut up, mut down) = (z0.clone(), z0.clone());
            up[k] += eps;
            down[k] -= eps;
            let numeric = (loss(&up, &c0) - loss(&down, &c0)) / (2.0 * f64::from(eps));
            assert!(
                (numeric - f64::from(act[k])).abs() < 2e-3,
                "dz[{k}]: {numeric} vs {}",
                act[k]
            );
        }
        for j in 0..n {
            let (mut up, mut down) = (c0.clone(), c0.clone());
            up[j] += eps;
            down[j] -= eps;
            let numeric = (loss(&z0, &up) - loss(&z0, &down)) / (2.0 * f64::from(eps));
            assert!(
                (numeric - f64::from(dc[j])).abs() < 2e-3,
                "dc[{j}]: {numeric} vs {}",
                dc[j]
            );
        }
    }

    #[test]
    fn softmax_is_scaled_probabilities_and_returns_log_sum_exp() {
        for len in [1, 15, 16, 17, 4339] {
            let x = wave(len, 0.77);
            let mut row = x.clone();
            let lse = softmax(&mut row, 0.5);
            let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let sum: f64 = x.iter().map(|&v| f64::from(v - max).exp()).sum();
            let want_lse = f64::from(max) + sum.ln();
            assert!((f64::from(lse) - want_lse).abs() < 1e-5, "len {len}");
            for (p, &v) in row.iter().zip(&x) {
                let want = 0.5 * (f64::from(v) - want_lse).exp();
                assert!((f64::from(*p) - want).abs() < 1e-6);
            }
        }
    }
}
