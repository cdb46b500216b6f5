//! Products on unpacked operands: the dispatch between this crate's kernel
//! and the `gemm` crate, the vector-matrix product split by columns, `dot`.

use rayon::prelude::*;

use crate::dispatch::{gemm_raw, PARALLEL_WORK};
#[cfg(target_arch = "x86_64")]
use crate::dispatch::{kernel_strided, use_kernel};
#[cfg(target_arch = "x86_64")]
use crate::kernel;
use crate::mat::product_dims;
use crate::{gemv, Mat, Output};

/// `dst (m×n) = a (m×k) · b (k×n)`, or `dst +=` that, with `dst` row-major.
pub fn matmul(dst: &mut [f32], a: Mat, b: Mat, output: Output) {
    let [m, k, n] = product_dims(&a, &b);
    assert!(dst.len() >= m * n);
    let accumulate = output.accumulates();
    let (a_t, b_t) = (a.transposed, b.transposed);
    let (a, b) = (a.data, b.data);
    #[cfg(target_arch = "x86_64")]
    if use_kernel(m) {
        let start = kernel::Start::from(accumulate);
        // SAFETY: AVX-512F is present, and `Mat` and the assertion keep both
        // operands and the m×n result inside their slices.
        unsafe { kernel_strided(dst.as_mut_ptr(), a, b, [m, k, n], (a_t, b_t), start) };
        return;
    }
    if m == 1 && !b_t {
        return vec_mat(&mut dst[..n], &a[..k], &b[..k * n], k, n, accumulate);
    }
    let parallel = m * n * k >= PARALLEL_WORK;
    gemm_crate(dst, a, b, [m, k, n], (a_t, b_t), accumulate, parallel);
}

/// The product through the `gemm` crate (CPUs without AVX-512, and the
/// remaining shapes); the caller has checked the slices hold their operands.
pub(crate) fn gemm_crate(
    dst: &mut [f32],
    a: &[f32],
    b: &[f32],
    [m, k, n]: [usize; 3],
    (a_t, b_t): (bool, bool),
    accumulate: bool,
    parallel: bool,
) {
    assert!(dst.len() >= m * n && a.len() >= m * k && b.len() >= k * n);
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
    let parallelism = if parallel {
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

/// A new `m × n` matrix `a · b`, plus `bias` (`n` values) on every row when
/// given (an affine map). On the AVX-512 path the result is written once: no
/// zero fill or bias rows first, a serial pass over the whole output.
pub fn product(a: Mat, b: Mat, bias: Option<&[f32]>) -> Vec<f32> {
    // Elsewhere than x86 the depth goes to the `gemm` crate inside `a` and `b`.
    #[cfg_attr(not(target_arch = "x86_64"), allow(unused_variables))]
    let [m, k, n] = product_dims(&a, &b);
    assert!(bias.is_none_or(|b| b.len() >= n));
    #[cfg(target_arch = "x86_64")]
    if use_kernel(m) && k > 0 {
        let start = bias.map_or(kernel::Start::Zero, |b| kernel::Start::Bias(b.as_ptr()));
        let mut out = Vec::with_capacity(m * n);
        let (a_t, b_t) = (a.transposed, b.transposed);
        // SAFETY: AVX-512F is present and `Mat` keeps the views inside their
        // slices. Starting from zero or a bias, the GEMM (k > 0) writes every
        // element of the m×n output before it reads any, so all of it is
        // initialised when the length is set.
        unsafe {
            kernel_strided(
                out.as_mut_ptr(),
                a.data,
                b.data,
                [m, k, n],
                (a_t, b_t),
                start,
            );
            out.set_len(m * n);
        }
        return out;
    }
    let (mut out, output) = match bias {
        Some(bias) => (bias[..n].repeat(m), Output::Accumulate),
        None => (vec![0.0; m * n], Output::Overwrite),
    };
    matmul(&mut out, a, b, output);
    out
}

/// `start + Σ x[p]·w[p]`, summed in the order of every product of this crate:
/// bit for bit column `j` of `[start +] x · B` when `w` is column `j` of `B`
/// (the engine's exact logits of the few characters a bound leaves in play).
///
/// # Panics
/// When `w` is shorter than `x`.
pub fn dot(start: f32, x: &[f32], w: &[f32]) -> f32 {
    assert!(
        w.len() >= x.len(),
        "{} weights for {} inputs",
        w.len(),
        x.len()
    );
    let mut y = [start];
    gemv::vec_mat(&mut y, x, w, 1, true);
    y[0]
}

/// Products `1×k · k×n` at least this large (1 MiB of weights) are split
/// across threads by columns.
const PARALLEL_VEC_MAT: usize = 1 << 18;

/// `dst (n) = [dst +] x (k) · b (k×n)`, the columns split into one block per
/// rayon thread when the product is large: generation at batch 1 is bound by
/// reading the weights, and each core brings its own bandwidth.
pub(crate) fn vec_mat(dst: &mut [f32], x: &[f32], b: &[f32], k: usize, n: usize, accumulate: bool) {
    if k * n < PARALLEL_VEC_MAT {
        return gemv::vec_mat(dst, x, b, n, accumulate);
    }
    let block = column_block(n, rayon::current_num_threads());
    dst.par_chunks_mut(block)
        .enumerate()
        .for_each(|(i, out)| gemv::vec_mat(out, x, &b[i * block..], n, accumulate));
}

/// Columns per part when `n` columns are split into `parts`: whole cache
/// lines (16 floats), so no two parts write the same line.
pub(crate) fn column_block(n: usize, parts: usize) -> usize {
    n.div_ceil(parts.max(1)).div_ceil(16) * 16
}
