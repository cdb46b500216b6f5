//! A right-hand side packed once for many products (recurrent weights,
//! many streams' generation steps), and the products on it.

use crate::dispatch::{gemm_raw, PARALLEL_WORK};
#[cfg(target_arch = "x86_64")]
use crate::dispatch::{kernel_matmul, packs_panels, view};
#[cfg(target_arch = "x86_64")]
use crate::kernel;
use crate::matmul::gemm_crate;
use crate::{gemv, Mat, Output, SharedMut};

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
pub(crate) unsafe fn packed_columns(
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
// Elsewhere than x86 every packed operand is plain.
#[cfg_attr(not(target_arch = "x86_64"), allow(irrefutable_let_patterns))]
pub(crate) unsafe fn packed_columns_by_rows(
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
pub(crate) fn tile_columns(b: &PackedRhs) -> usize {
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
pub(crate) fn packed_dims(a: &Mat, b: &PackedRhs) -> [usize; 3] {
    let (k, n) = b.dims();
    assert_eq!(
        a.cols, k,
        "a {}×{} matrix times a {k}×{n} one",
        a.rows, a.cols
    );
    [a.rows, k, n]
}

pub(crate) fn packed_product(
    dst: &mut [f32],
    a: Mat,
    b: &PackedRhs,
    output: Output,
    parallel: bool,
) {
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
