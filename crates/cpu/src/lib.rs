//! CPU arithmetic shared by charrnn's training kernels and its sampler: a
//! row-major GEMM and the gate activations.
//!
//! The GEMM is charrnn's own packed kernel (`kernel.rs`; BENCHMARKS.md) on
//! AVX-512, and on AVX2 + FMA for a right-hand side packed once
//! ([`PackedRhs`]: recurrent steps, many streams' generation steps); the
//! `gemm` crate serves the other products and vector-matrix products. Large
//! products are split across rayon's threads.
//! [`simd_level`] says which instructions run, and `CHARRNN_SIMD` narrows them
//! (see [`SimdLevel`]).
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

/// Compiles `$body` (a function of slices) for AVX-512, AVX2+FMA and the
/// baseline, and defines `pub fn $name` that runs the best one this CPU has.
macro_rules! multiversion {
    ($(#[$doc:meta])* pub fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty $body:block) => {
        $(#[$doc])*
        pub fn $name($($arg: $ty),*) -> $ret {
            #[inline(always)]
            fn portable($($arg: $ty),*) -> $ret $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                unsafe fn v4($($arg: $ty),*) -> $ret {
                    portable($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn v3($($arg: $ty),*) -> $ret {
                    portable($($arg),*)
                }
                match crate::simd_level() {
                    // SAFETY: `simd_level` never names instructions the CPU lacks.
                    crate::SimdLevel::Avx512 => return unsafe { v4($($arg),*) },
                    // SAFETY: as above.
                    crate::SimdLevel::Avx2 => return unsafe { v3($($arg),*) },
                    crate::SimdLevel::Baseline => {}
                }
            }
            portable($($arg),*)
        }
    };
}

mod activations;
#[cfg(test)]
mod every_size;
mod gemv;
#[cfg(target_arch = "x86_64")]
mod kernel;
mod order;
mod simd;
mod team;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;

pub use activations::{exp, lstm_cell, lstm_cell_backward, sigmoid, softmax, tanh};
pub use gemv::{Bf16, Weight};
pub use simd::{simd_level, SimdError, SimdLevel, SIMD_ENV};
pub use team::Team;

/// A buffer that parallel tasks write in disjoint parts.
#[derive(Clone, Copy)]
pub struct SharedMut<'a> {
    ptr: *mut f32,
    len: usize,
    _buffer: std::marker::PhantomData<&'a mut [f32]>,
}

// SAFETY: tasks reach the buffer only through `SharedMut::part`, whose
// contract keeps their parts disjoint.
unsafe impl Send for SharedMut<'_> {}
// SAFETY: as for Send.
unsafe impl Sync for SharedMut<'_> {}

impl<'a> SharedMut<'a> {
    /// Shares `buffer` for the lifetime of its borrow.
    pub fn new(buffer: &'a mut [f32]) -> Self {
        Self {
            ptr: buffer.as_mut_ptr(),
            len: buffer.len(),
            _buffer: std::marker::PhantomData,
        }
    }

    /// Elements `start..start + len` of the buffer. Panics if they are not
    /// inside it (an end past `usize::MAX` included).
    ///
    /// # Safety
    /// No other slice of these elements may be alive at the same time.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn part(&self, start: usize, len: usize) -> &'a mut [f32] {
        let inside = start.checked_add(len).is_some_and(|end| end <= self.len);
        assert!(
            inside,
            "part {start}+{len} outside the shared buffer of {}",
            self.len
        );
        // SAFETY: inside the buffer (asserted), which outlives 'a; exclusive
        // by the caller's contract.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(start), len) }
    }
}

use rayon::prelude::*;

/// A matrix operand held in a slice: `rows × cols`, stored row-major, or
/// stored as its transpose (`cols × rows` row-major) when made with
/// [`Mat::transposed`].
#[derive(Clone, Copy, Debug)]
pub struct Mat<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    transposed: bool,
}

impl<'a> Mat<'a> {
    /// The `rows × cols` matrix stored row-major in `data`.
    ///
    /// # Panics
    /// When `data` is shorter than `rows * cols`.
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self::checked(data, rows, cols, false)
    }

    /// The `rows × cols` matrix whose transpose (`cols × rows`) is stored
    /// row-major in `data`.
    ///
    /// # Panics
    /// When `data` is shorter than `rows * cols`.
    pub fn transposed(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self::checked(data, rows, cols, true)
    }

    fn checked(data: &'a [f32], rows: usize, cols: usize, transposed: bool) -> Self {
        assert!(
            data.len() >= rows * cols,
            "a {rows}×{cols} matrix needs {} values, the slice has {}",
            rows * cols,
            data.len()
        );
        Self {
            data,
            rows,
            cols,
            transposed,
        }
    }

    /// `(rows, cols)` of the matrix (not of its storage).
    pub fn dims(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }
}

/// What a product does with its destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// `dst = a · b`.
    Overwrite,
    /// `dst += a · b`.
    Accumulate,
}

impl Output {
    fn accumulates(self) -> bool {
        self == Output::Accumulate
    }
}

/// `[m, k, n]` of the product `a · b`.
///
/// # Panics
/// When the inner dimensions differ.
fn product_dims(a: &Mat, b: &Mat) -> [usize; 3] {
    assert_eq!(
        a.cols, b.rows,
        "a {}×{} matrix times a {}×{} one",
        a.rows, a.cols, b.rows, b.cols
    );
    [a.rows, a.cols, b.cols]
}

/// Products with fewer multiply-adds than this stay on one thread.
const PARALLEL_WORK: usize = 1 << 18;

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
fn gemm_crate(
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

/// A right-hand side `B` (`k × n`) prepared once for many products `A · B`,
/// such as the recurrent weights of an LSTM, multiplied once per time step.
pub struct PackedRhs {
    inner: Packed,
}

enum Packed {
    #[cfg(target_arch = "x86_64")]
    Panels(kernel::PackedB),
    /// Row-major `k × n`, for the `gemm` crate.
    Plain { data: Vec<f32>, k: usize, n: usize },
}

impl PackedRhs {
    /// Prepares `b` (`k × n`).
    pub fn new(b: Mat) -> Self {
        let (k, n) = b.dims();
        let (b, b_t) = (b.data, b.transposed);
        #[cfg(target_arch = "x86_64")]
        if packs_panels() {
            // SAFETY: `Mat` holds the k×n operand, so every element is readable.
            let packed = unsafe { kernel::pack(view(b, k, n, b_t), k, n) };
            return Self {
                inner: Packed::Panels(packed),
            };
        }
        let data = if b_t {
            let mut t = vec![0.0; k * n];
            for (j, row) in b.chunks_exact(k).take(n).enumerate() {
                for (p, &x) in row.iter().enumerate() {
                    t[p * n + j] = x;
                }
            }
            t
        } else {
            b[..k * n].to_vec()
        };
        Self {
            inner: Packed::Plain { data, k, n },
        }
    }

    /// `(k, n)`: the shape of `B`.
    pub fn dims(&self) -> (usize, usize) {
        match &self.inner {
            #[cfg(target_arch = "x86_64")]
            Packed::Panels(p) => (p.k(), p.n()),
            Packed::Plain { k, n, .. } => (*k, *n),
        }
    }
}

/// `dst (m×n) = a (m×k) · b`, or `dst +=` that, with `b` prepared by
/// [`PackedRhs::new`].
pub fn matmul_packed(dst: &mut [f32], a: Mat, b: &PackedRhs, output: Output) {
    packed_product(dst, a, b, output, true);
}

/// [`matmul_packed`] on the calling thread only: for callers that already
/// split their work across threads (an LSTM's batch rows, say).
pub fn matmul_packed_in_thread(dst: &mut [f32], a: Mat, b: &PackedRhs, output: Output) {
    packed_product(dst, a, b, output, false);
}

/// Columns `cols` of `dst (m×n) = [dst +] a (m×k) · b`, `dst` row-major with
/// `n` columns and shared with callers that write its other columns, on the
/// calling thread.
///
/// # Safety
/// No one else may read or write these columns of `dst`'s first `m` rows
/// meanwhile.
unsafe fn packed_columns(
    dst: SharedMut,
    a: Mat,
    b: &PackedRhs,
    output: Output,
    cols: std::ops::Range<usize>,
) {
    let [m, k, n] = packed_dims(&a, b);
    assert!(dst.len >= m * n && cols.end <= n);
    if cols.is_empty() {
        return;
    }
    let accumulate = output.accumulates();
    match &b.inner {
        #[cfg(target_arch = "x86_64")]
        Packed::Panels(packed) => {
            let a = view(a.data, m, k, a.transposed);
            let start = kernel::Start::from(accumulate);
            // SAFETY: panels are only packed where AVX2 and FMA are present; the
            // assertions keep both operands and these columns in bounds, and
            // the caller keeps them ours.
            unsafe {
                let rhs = kernel::Rhs::Packed(packed);
                kernel::gemm(dst.ptr, n, a, rhs, k, (0, m), (cols.start, cols.end), start)
            }
        }
        Packed::Plain { data, .. } => {
            let (a_cs, a_rs) = if a.transposed { (m, 1) } else { (1, k) };
            assert!(a.data.len() >= m * k && data.len() >= k * n);
            // SAFETY: as above; the offsets and strides stay inside `dst`'s
            // first m rows, `a` and `b`.
            unsafe {
                gemm_raw(
                    [m, k, cols.len()],
                    (dst.ptr.add(cols.start), n as isize),
                    accumulate,
                    (a.data.as_ptr(), a_cs as isize, a_rs as isize),
                    (data.as_ptr().add(cols.start), 1, n as isize),
                    gemm::Parallelism::None,
                )
            }
        }
    }
}

/// [`packed_columns`], with every row summed as [`gemv::vec_mat`] sums it
/// alone: panels already are; a plain right-hand side (the baseline level)
/// is multiplied row by row.
///
/// # Safety
/// As for [`packed_columns`].
unsafe fn packed_columns_by_rows(
    dst: SharedMut,
    a: Mat,
    b: &PackedRhs,
    output: Output,
    cols: std::ops::Range<usize>,
) {
    let Packed::Plain { data, .. } = &b.inner else {
        // SAFETY: the caller's guarantees are packed_columns'.
        return unsafe { packed_columns(dst, a, b, output, cols) };
    };
    let [m, k, n] = packed_dims(&a, b);
    let mut row = vec![0.0; if a.transposed { k } else { 0 }];
    for i in 0..m {
        let x = if a.transposed {
            row.iter_mut()
                .enumerate()
                .for_each(|(p, x)| *x = a.data[p * m + i]);
            &row[..]
        } else {
            &a.data[i * k..(i + 1) * k]
        };
        // SAFETY: these columns of row i are ours (the caller's guarantee).
        let y = unsafe { dst.part(i * n + cols.start, cols.len()) };
        gemv::vec_mat(y, x, &data[cols.start..], n, output.accumulates());
    }
}

/// Columns per tile of the kernel that multiplies by `b`: the unit in which a
/// product's columns are split between threads.
fn tile_columns(b: &PackedRhs) -> usize {
    match &b.inner {
        #[cfg(target_arch = "x86_64")]
        Packed::Panels(_) => kernel::NR,
        Packed::Plain { .. } => 16,
    }
}

/// `[m, k, n]` of the product `a · b`, `b` packed.
///
/// # Panics
/// When the inner dimensions differ.
fn packed_dims(a: &Mat, b: &PackedRhs) -> [usize; 3] {
    let (k, n) = b.dims();
    assert_eq!(
        a.cols, k,
        "a {}×{} matrix times a {k}×{n} one",
        a.rows, a.cols
    );
    [a.rows, k, n]
}

fn packed_product(dst: &mut [f32], a: Mat, b: &PackedRhs, output: Output, parallel: bool) {
    let [m, k, n] = packed_dims(&a, b);
    if !parallel {
        // SAFETY: `dst` is borrowed whole, so all its columns are ours.
        return unsafe { packed_columns(SharedMut::new(dst), a, b, output, 0..n) };
    }
    let (a_t, a) = (a.transposed, a.data);
    let accumulate = output.accumulates();
    assert!(dst.len() >= m * n);
    match &b.inner {
        #[cfg(target_arch = "x86_64")]
        Packed::Panels(packed) => {
            let rhs = kernel::Rhs::Packed(packed);
            let a = view(a, m, k, a_t);
            let (c, start) = (dst.as_mut_ptr(), kernel::Start::from(accumulate));
            // SAFETY: panels are only packed where AVX2 and FMA are present; the
            // assertion keeps the view of `a` inside its slice.
            unsafe { kernel_matmul(c, a, rhs, [m, k, n], start) };
        }
        Packed::Plain { data, .. } => {
            let parallel = m * k * n >= PARALLEL_WORK;
            gemm_crate(dst, a, data, [m, k, n], (a_t, false), accumulate, parallel);
        }
    }
}

/// Whether a product with `m` rows of an unpacked `B` runs on charrnn's
/// kernel: on AVX-512, with a few rows to fill its 8-row tiles (a
/// vector-matrix product is bound by memory, where the `gemm` crate's path is
/// as good). On AVX2 the `gemm` crate, which packs as it goes, is as fast on
/// a training step's large products (BENCHMARKS.md).
#[cfg(target_arch = "x86_64")]
fn use_kernel(m: usize) -> bool {
    m >= 4 && simd_level() == SimdLevel::Avx512
}

/// Whether [`PackedRhs`] packs panels for charrnn's kernel: on AVX-512 and on
/// AVX2 + FMA, where a `B` packed once makes the kernel 1.5–2.5× the `gemm`
/// crate on the products of a few dozen rows (an LSTM's recurrent step, many
/// streams' generation step).
#[cfg(target_arch = "x86_64")]
fn packs_panels() -> bool {
    simd_level() != SimdLevel::Baseline
}

/// The view of a row-major `rows × cols` operand (stored transposed when `t`).
#[cfg(target_arch = "x86_64")]
fn view(x: &[f32], rows: usize, cols: usize, t: bool) -> kernel::View {
    let (rs, cs) = if t { (1, rows) } else { (cols, 1) };
    kernel::View {
        ptr: x.as_ptr(),
        rs,
        cs,
    }
}

/// `dst (m×n) = start + a · b` on charrnn's kernel, from operands stored
/// row-major (or transposed, per `a_t` / `b_t`) in their slices.
///
/// # Safety
/// AVX2 and FMA must be present, `a` and `b` must hold their operands, and
/// `dst` must point at `m * n` writable floats.
#[cfg(target_arch = "x86_64")]
unsafe fn kernel_strided(
    dst: *mut f32,
    a: &[f32],
    b: &[f32],
    [m, k, n]: [usize; 3],
    (a_t, b_t): (bool, bool),
    start: kernel::Start,
) {
    let b = kernel::Rhs::Strided(view(b, k, n, b_t));
    // SAFETY: the caller's guarantees.
    unsafe { kernel_matmul(dst, view(a, m, k, a_t), b, [m, k, n], start) }
}

/// Splits the product across rayon's threads (when it is large enough), by
/// columns when `C` is wide and by rows when it is tall, in whole tiles.
///
/// # Safety
/// AVX2 and FMA must be present and the views must lie inside their slices.
#[cfg(target_arch = "x86_64")]
unsafe fn kernel_matmul(
    dst: *mut f32,
    a: kernel::View,
    b: kernel::Rhs<'_>,
    [m, k, n]: [usize; 3],
    start: kernel::Start,
) {
    struct Dst(*mut f32);
    // SAFETY: each thread writes its own rows or columns of `dst`.
    unsafe impl Sync for Dst {}
    impl Dst {
        fn ptr(&self) -> *mut f32 {
            self.0
        }
    }
    let c = Dst(dst);
    let threads = if m * k * n >= PARALLEL_WORK {
        rayon::current_num_threads().max(1)
    } else {
        1
    };
    let run = |rows: (usize, usize), cols: (usize, usize)| {
        // SAFETY: the caller's guarantees; `rows × cols` is this task's own part.
        unsafe { kernel::gemm(c.ptr(), n, a, b, k, rows, cols, start) }
    };
    if threads == 1 {
        run((0, m), (0, n));
    } else if n >= m {
        let chunk = n.div_ceil(threads).div_ceil(kernel::NR) * kernel::NR;
        (0..n.div_ceil(chunk))
            .into_par_iter()
            .for_each(|t| run((0, m), (t * chunk, ((t + 1) * chunk).min(n))));
    } else {
        let rows = kernel::tile_rows();
        let chunk = m.div_ceil(threads).div_ceil(rows) * rows;
        (0..m.div_ceil(chunk))
            .into_par_iter()
            .for_each(|t| run((t * chunk, ((t + 1) * chunk).min(m)), (0, n)));
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
    // SAFETY: the caller's guarantees are gemm's.
    unsafe {
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
        )
    };
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
fn vec_mat(dst: &mut [f32], x: &[f32], b: &[f32], k: usize, n: usize, accumulate: bool) {
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
fn column_block(n: usize, parts: usize) -> usize {
    n.div_ceil(parts.max(1)).div_ceil(16) * 16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_at_every_simd_level() {
        crate::testing::rerun_tests_at_other_levels("kernels_at_every_simd_level");
    }

    /// The product by its definition, row by row (reading `b` along its
    /// rows, so that products of thousands of columns stay quick, under
    /// valgrind too).
    pub(crate) fn naive(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
        let mut out = vec![0.0; m * n];
        for (row, x) in out.chunks_exact_mut(n.max(1)).zip(a.chunks_exact(k.max(1))) {
            for (p, &x) in x.iter().enumerate().take(k) {
                for (o, &w) in row.iter_mut().zip(&b[p * n..(p + 1) * n]) {
                    *o += x * w;
                }
            }
        }
        out
    }

    /// The `rows × cols` operand in `data`, stored transposed when `t`.
    fn mat(data: &[f32], rows: usize, cols: usize, t: bool) -> Mat<'_> {
        if t {
            Mat::transposed(data, rows, cols)
        } else {
            Mat::new(data, rows, cols)
        }
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

    pub(crate) fn operands(m: usize, k: usize, n: usize) -> (Vec<f32>, Vec<f32>) {
        let a = (0..m * k)
            .map(|i| ((i * 7 % 13) as f32 - 6.0) / 5.0)
            .collect();
        let b = (0..k * n)
            .map(|i| ((i * 5 % 11) as f32 - 5.0) / 4.0)
            .collect();
        (a, b)
    }

    pub(crate) fn assert_close(got: &[f32], want: &[f32], k: usize, offset: f32, what: &str) {
        for (i, (d, w)) in got.iter().zip(want).enumerate() {
            let w = w + offset;
            assert!(
                (d - w).abs() < 1e-4 * (1.0 + k as f32 + w.abs()),
                "{what}: element {i} is {d}, expected {w}"
            );
        }
    }

    /// Shapes with ragged edges in every dimension and more than one packed
    /// block along each (the AVX-512 kernel blocks 256 rows, up to 512 deep, 4096
    /// columns, in 8×48 tiles), plus vector-matrix products.
    const SHAPES: [(usize, usize, usize); 8] = [
        (1, 7, 5),
        (3, 4, 9),
        (64, 80, 96),
        (37, 300, 70),
        (260, 520, 45),
        (9, 40, 4200),
        (1, 300, 1000),
        (1, 512, 4339),
    ];

    #[test]
    fn matmul_matches_the_definition_in_every_layout() {
        for (m, k, n) in SHAPES {
            let (a, b) = operands(m, k, n);
            let want = naive(&a, &b, m, k, n);
            let (at, bt) = (transpose(&a, m, k), transpose(&b, k, n));
            for (a_t, b_t) in [(false, false), (true, false), (false, true), (true, true)] {
                let lhs = if a_t { &at } else { &a };
                let rhs = if b_t { &bt } else { &b };
                let what = format!("{m}x{k}x{n} a_t={a_t} b_t={b_t}");
                let mut dst = vec![1.0; m * n];
                let (a, b) = (mat(lhs, m, k, a_t), mat(rhs, k, n, b_t));
                matmul(&mut dst, a, b, Output::Accumulate);
                assert_close(&dst, &want, k, 1.0, &what);
                matmul(&mut dst, a, b, Output::Overwrite);
                assert_close(&dst, &want, k, 0.0, &what);
            }
        }
    }

    #[test]
    fn product_writes_a_new_matrix_with_or_without_a_bias() {
        for (m, k, n) in SHAPES.into_iter().chain([(16, 0, 9)]) {
            let (a, b) = operands(m, k, n);
            let want = naive(&a, &b, m, k, n);
            let bt = transpose(&b, k, n);
            let bias: Vec<f32> = (0..n).map(|j| (j % 7) as f32 - 3.0).collect();
            for b_t in [false, true] {
                let rhs = if b_t { &bt } else { &b };
                let what = format!("product {m}x{k}x{n} b_t={b_t}");
                let plain = product(Mat::new(&a, m, k), mat(rhs, k, n, b_t), None);
                assert_eq!(plain.len(), m * n, "{what}");
                assert_close(&plain, &want, k, 0.0, &what);
                let affine = product(Mat::new(&a, m, k), mat(rhs, k, n, b_t), Some(&bias));
                let shifted: Vec<f32> = want
                    .iter()
                    .enumerate()
                    .map(|(i, w)| w + bias[i % n.max(1)])
                    .collect();
                assert_close(&affine, &shifted, k, 0.0, &what);
            }
        }
    }

    #[test]
    fn packed_rhs_gives_the_same_products() {
        for (m, k, n) in SHAPES {
            let (a, b) = operands(m, k, n);
            let want = naive(&a, &b, m, k, n);
            let at = transpose(&a, m, k);
            for b_t in [false, true] {
                let bt = transpose(&b, k, n);
                let packed = PackedRhs::new(mat(if b_t { &bt } else { &b }, k, n, b_t));
                assert_eq!(packed.dims(), (k, n));
                for a_t in [false, true] {
                    let lhs = if a_t { &at } else { &a };
                    let what = format!("packed {m}x{k}x{n} a_t={a_t} b_t={b_t}");
                    let mut dst = vec![1.0; m * n];
                    let lhs = mat(lhs, m, k, a_t);
                    matmul_packed(&mut dst, lhs, &packed, Output::Accumulate);
                    assert_close(&dst, &want, k, 1.0, &what);
                    matmul_packed(&mut dst, lhs, &packed, Output::Overwrite);
                    assert_close(&dst, &want, k, 0.0, &what);
                }
            }
        }
    }
}
