//! CPU arithmetic shared by charrnn's training kernels and its sampler: a
//! row-major GEMM over the `gemm` crate (SIMD picked at run time, AVX2 or
//! AVX-512, threads through rayon for large products) and the gate activations.
#![warn(missing_docs)]

/// `dst (m×n) = [dst +] a (m×k) · b (k×n)`, all row-major; `a_t`/`b_t` read the
/// operand transposed (its stored shape is then k×m / n×k).
#[allow(clippy::too_many_arguments)]
pub fn matmul(
    dst: &mut [f32],
    a: &[f32],
    b: &[f32],
    m: usize,
    k: usize,
    n: usize,
    a_t: bool,
    b_t: bool,
    accumulate: bool,
) {
    assert!(dst.len() >= m * n && a.len() >= m * k && b.len() >= k * n);
    if m == 1 && !b_t && k * n >= PARALLEL_VEC_MAT {
        vec_mat_parallel(&mut dst[..n], &a[..k], b, k, n, accumulate);
        return;
    }
    // (column stride, row stride) of each operand.
    let (a_cs, a_rs) = if a_t {
        (m as isize, 1)
    } else {
        (1, k as isize)
    };
    let (b_cs, b_rs) = if b_t {
        (k as isize, 1)
    } else {
        (1, n as isize)
    };
    let parallelism = if m * n * k >= 1 << 18 {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: the assertion above keeps every index gemm computes from these
    // strides inside the three slices, and `dst` does not alias `a` or `b`.
    unsafe {
        gemm_raw(
            [m, k, n],
            (dst.as_mut_ptr(), n as isize),
            accumulate,
            (a.as_ptr(), a_cs, a_rs),
            (b.as_ptr(), b_cs, b_rs),
            parallelism,
        );
    }
}

/// `gemm::gemm` with `dst = [dst +] a · b` (no scaling, no conjugation);
/// `dst` has unit column stride. Operands are `(pointer, column stride, row
/// stride)`.
///
/// # Safety
/// Every element gemm reaches through the shapes and strides must lie inside
/// the memory behind each pointer, and `dst` must not overlap `a` or `b`.
unsafe fn gemm_raw(
    [m, k, n]: [usize; 3],
    (dst, dst_rs): (*mut f32, isize),
    accumulate: bool,
    (a, a_cs, a_rs): (*const f32, isize, isize),
    (b, b_cs, b_rs): (*const f32, isize, isize),
    parallelism: gemm::Parallelism,
) {
    gemm::gemm(
        m,
        n,
        k,
        dst,
        1,
        dst_rs,
        accumulate,
        a,
        a_cs,
        a_rs,
        b,
        b_cs,
        b_rs,
        1.0,
        1.0,
        false,
        false,
        false,
        parallelism,
    );
}

/// Products `1×k · k×n` at least this large are split across threads by columns
/// (gemm runs a vector-matrix product on one thread).
const PARALLEL_VEC_MAT: usize = 1 << 20;

/// `dst (n) = [dst +] x (k) · b (k×n)`, the columns split into one block per
/// rayon thread: generation at batch 1 is bound by reading the weights, and each
/// core brings its own bandwidth.
fn vec_mat_parallel(dst: &mut [f32], x: &[f32], b: &[f32], k: usize, n: usize, accumulate: bool) {
    use rayon::prelude::*;
    let threads = rayon::current_num_threads().max(1);
    // Blocks of whole cache lines.
    let block = n.div_ceil(threads).div_ceil(16) * 16;
    dst.par_chunks_mut(block).enumerate().for_each(|(i, out)| {
        let col = i * block;
        let width = out.len();
        debug_assert!((k - 1) * n + col + width <= b.len());
        // SAFETY: rows of `b` are `n` apart and this block reads columns
        // `col..col + width` of each, all inside `b` (asserted by the caller:
        // `b.len() >= k * n`); `out` is this block's own part of `dst`.
        unsafe {
            gemm_raw(
                [1, k, width],
                (out.as_mut_ptr(), width as isize),
                accumulate,
                (x.as_ptr(), 1, k as isize),
                (b.as_ptr().add(col), 1, n as isize),
                gemm::Parallelism::None,
            );
        }
    });
}

/// The logistic function.
#[inline]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// `tanh` through the logistic function: one `exp` instead of two.
#[inline]
pub fn tanh(x: f32) -> f32 {
    2.0 * sigmoid(2.0 * x) - 1.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
        let mut out = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        out
    }

    fn transpose(x: &[f32], rows: usize, cols: usize) -> Vec<f32> {
        let mut t = vec![0.0; x.len()];
        for r in 0..rows {
            for c in 0..cols {
                t[c * rows + r] = x[r * cols + c];
            }
        }
        t
    }

    #[test]
    fn matmul_matches_the_definition_in_every_layout() {
        for (m, k, n) in [
            (1, 7, 5),
            (3, 4, 9),
            (64, 80, 96),
            (1, 300, 1000),
            (1, 512, 4339),
        ] {
            let a: Vec<f32> = (0..m * k)
                .map(|i| ((i * 7 % 13) as f32 - 6.0) / 5.0)
                .collect();
            let b: Vec<f32> = (0..k * n)
                .map(|i| ((i * 5 % 11) as f32 - 5.0) / 4.0)
                .collect();
            let want = naive(&a, &b, m, k, n);
            let (at, bt) = (transpose(&a, m, k), transpose(&b, k, n));
            for (a_t, b_t) in [(false, false), (true, false), (false, true), (true, true)] {
                let lhs = if a_t { &at } else { &a };
                let rhs = if b_t { &bt } else { &b };
                let mut dst = vec![1.0; m * n];
                matmul(&mut dst, lhs, rhs, m, k, n, a_t, b_t, true);
                for (d, w) in dst.iter().zip(&want) {
                    assert!(
                        (d - (w + 1.0)).abs() < 1e-4 * (1.0 + k as f32 + w.abs()),
                        "{m}x{k}x{n} {a_t} {b_t}: {d} vs {}",
                        w + 1.0
                    );
                }
                matmul(&mut dst, lhs, rhs, m, k, n, a_t, b_t, false);
                for (d, w) in dst.iter().zip(&want) {
                    assert!((d - w).abs() < 1e-4 * (1.0 + k as f32 + w.abs()));
                }
            }
        }
    }

    #[test]
    fn activations() {
        assert!((sigmoid(0.0) - 0.5).abs() < 1e-7);
        for x in [-5.0f32, -0.3, 0.0, 0.7, 4.0] {
            assert!((tanh(x) - x.tanh()).abs() < 1e-6);
        }
    }
}
